"""The Neo4j Bloom perspective, generated from the schema (`targetkg bloom export`).

One category per public label (caption `name`, the schema's colour), relationship types with
rule-based styling by `score` on the PREDICTED_* types, search phrases ("templates") for the
analysts' questions with parameter suggestions, and internal types hidden. The structure
follows Bloom's perspective export (categories, labels, relationshipTypes, palette,
templates, hidden types).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from targetkg.graph.schema import Schema, load_schema

PERSPECTIVE_VERSION = "2.10"  # the Bloom perspective format this file follows
FIXED_TIME = 0  # generated files stay byte-identical across runs (no wall-clock stamps)

# Search phrases: (phrase, Cypher returning paths, [(param, suggestion label, suggestion property)])
SEARCH_PHRASES: list[tuple[str, str, list[tuple[str, str, str]]]] = [
    (
        "predicted targets for $disease",
        "MATCH (dis:Disease) WHERE toLower(dis.name) = toLower($disease) "
        "MATCH p = (g:Gene)-[r:PREDICTED_ASSOCIATED_WITH|GENE_ASSOCIATED_WITH_CONDITION]->(dis) "
        "RETURN p ORDER BY coalesce(r.score, 0.0) DESC LIMIT 100",
        [("disease", "Disease", "name")],
    ),
    (
        "drugs that target $gene",
        "MATCH (g:Gene) WHERE toLower(g.name) = toLower($gene) "
        "MATCH p = (d:Drug)-[r:DIRECTLY_PHYSICALLY_INTERACTS_WITH|PREDICTED_TARGETS]->(g) "
        "RETURN p ORDER BY coalesce(r.score, 1.0) DESC LIMIT 100",
        [("gene", "Gene", "name")],
    ),
    (
        "evidence between $drug and $disease",
        "MATCH (d:Drug) WHERE toLower(d.name) = toLower($drug) "
        "MATCH (dis:Disease) WHERE toLower(dis.name) = toLower($disease) "
        "MATCH p = allShortestPaths((d)-[:DIRECTLY_PHYSICALLY_INTERACTS_WITH|TREATS|PREDICTED_TREATS|"
        "GENE_ASSOCIATED_WITH_CONDITION|PARTICIPATES_IN|INTERACTS_WITH*..4]-(dis)) "
        "RETURN p LIMIT 25",
        [("drug", "Drug", "name"), ("disease", "Disease", "name")],
    ),
    (
        "drugs for $disease",
        "MATCH (dis:Disease) WHERE toLower(dis.name) = toLower($disease) "
        "MATCH p = (d:Drug)-[:TREATS|AMELIORATES|PREDICTED_TREATS]->(dis) RETURN p LIMIT 100",
        [("disease", "Disease", "name")],
    ),
    (
        "pathways of $gene",
        "MATCH (g:Gene) WHERE toLower(g.name) = toLower($gene) "
        "MATCH p = (g)-[:PARTICIPATES_IN]->(:Pathway) RETURN p LIMIT 100",
        [("gene", "Gene", "name")],
    ),
]

# Structural types an analyst does not want drawn by default.
HIDDEN_TYPES = ("INCLUDES", "FOR_SAMPLE", "FOR_COHORT", "GENE_PRODUCT_OF", "PREDICTED_FOR", "HAS_SUBJECT", "HAS_OBJECT", "FROM_PUBLICATION")

# Score ramp for predicted edges: pale (low score) to strong (high score), thin to thick.
SCORE_COLORS = ["#FDE0DD", "#FA9FB5", "#C51B8A"]
SCORE_SIZES = [1, 2, 4]


def _stable_id(*parts: str) -> str:
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]


def perspective(schema: Schema | None = None, name: str = "TargetKG") -> dict[str, Any]:
    schema = schema or load_schema()
    categories = []
    for i, node in enumerate(n for n in schema.nodes.values() if not n.internal):
        categories.append({
            "id": i + 1,
            "name": node.label,
            "color": node.color,
            "size": 1,
            "icon": "no-icon",
            "labels": [node.label],
            "properties": [
                {"name": "name", "exclude": False, "isCaption": True, "dataType": "string"},
                {"name": "id", "exclude": False, "isCaption": False, "dataType": "string"},
                {"name": "category", "exclude": False, "isCaption": False, "dataType": "array"},
                {"name": "synonyms", "exclude": False, "isCaption": False, "dataType": "array"},
            ],
            "hiddenLabels": [],
            "caption": ["name"],
            "textSize": 1,
            "textAlign": "top",
            "styleRules": [],
            "createdAt": FIXED_TIME,
            "lastEditedAt": FIXED_TIME,
        })
    relationship_types = []
    for rel in schema.relationships.values():
        entry: dict[str, Any] = {
            "name": rel.type,
            "id": rel.type,
            "color": "#A5ABB6",
            "size": 1,
            "properties": [
                {"name": "primary_knowledge_source", "exclude": False, "isCaption": False, "dataType": "string"},
                {"name": "source_predicate", "exclude": False, "isCaption": False, "dataType": "array"},
                # text-mined edges share types with curated ones (TREATS, ...): the agent tells them apart
                {"name": "agent_type", "exclude": False, "isCaption": False, "dataType": "string"},
                {"name": "evidence_count", "exclude": False, "isCaption": False, "dataType": "number"},
            ],
            "styleRules": [],
        }
        if rel.predicted:
            entry["color"] = SCORE_COLORS[-1]
            entry["properties"].insert(0, {"name": "score", "exclude": False, "isCaption": True, "dataType": "number"})
            entry["styleRules"].append({
                "id": _stable_id(rel.type, "score"),
                "type": "range",
                "basedOn": "score",
                "dataType": "number",
                "condition": "between",
                "minValue": 0.0,
                "maxValue": 1.0,
                "applyColor": True,
                "colors": SCORE_COLORS,
                "applySize": True,
                "sizes": SCORE_SIZES,
                "applyCaption": True,
                "disabled": False,
            })
        relationship_types.append(entry)
    templates = []
    for phrase, cypher, params in SEARCH_PHRASES:
        templates.append({
            "id": "tmpl:" + _stable_id(phrase),
            "name": phrase,
            "text": phrase,
            "cypher": cypher,
            "hasCypher": True,
            "params": [
                {"name": f"${p}", "dataType": "String", "suggestionLabel": label, "suggestionProp": prop,
                 "cypher": None}
                for p, label, prop in params
            ],
            "createdAt": FIXED_TIME,
        })
    palette = sorted({c["color"] for c in categories} | set(SCORE_COLORS))
    return {
        "name": name,
        "id": _stable_id(name, str(schema.version)),
        "version": PERSPECTIVE_VERSION,
        "categories": categories,
        "categoryIndex": len(categories),
        "relationshipTypes": relationship_types,
        "palette": {"colors": palette, "currentIndex": len(categories) % max(1, len(palette))},
        "hiddenRelationshipTypes": [{"name": t, "id": t} for t in HIDDEN_TYPES if t in schema.relationships],
        "hiddenCategories": [],
        "hideUncategorisedData": False,
        "templates": templates,
        "parentPerspectiveId": None,
        "createdAt": FIXED_TIME,
        "lastEditedAt": FIXED_TIME,
    }


def write_perspective(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(perspective(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out
