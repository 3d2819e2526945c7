"""`targetkg release export`: the graph as KGX JSON Lines (Biolink's exchange format).

Patient overlays (schema `overlay: true`: per-sample networks, cohorts) stay out of a release.

Nodes and edges are streamed out of Neo4j (the driver fetches records in chunks), so memory
stays flat whatever the graph size. Edges get a stable id: a hash of subject, predicate,
object and primary knowledge source — the same key the writer merges on.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from targetkg.graph.connection import driver
from targetkg.graph.schema import load_schema
from targetkg.files import sha256_file
from targetkg.settings import get_settings

_NODE_RENAME = {"synonyms": "synonym", "xrefs": "xref", "sources": "provided_by"}
_EDGE_RENAME = {"evidence": "publications"}


def _jsonable(value: Any) -> Any:
    if hasattr(value, "iso_format"):
        return value.iso_format()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def export_kgx(out: Path, echo=print) -> dict[str, Any]:
    settings = get_settings()
    schema = load_schema()
    out.mkdir(parents=True, exist_ok=True)
    drv = driver(settings)
    counts = {"nodes": 0, "edges": 0}
    with drv.session(database=settings.neo4j_database, fetch_size=5000) as session:
        with open(out / "nodes.jsonl", "w", encoding="utf-8") as fh:
            for rec in session.run(
                "MATCH (n) WHERE n.id IS NOT NULL AND none(l IN labels(n) WHERE l IN $overlay_labels) "
                "RETURN labels(n) AS labels, properties(n) AS p ORDER BY n.id",
                overlay_labels=schema.overlay_labels(),
            ):
                props = {(_NODE_RENAME.get(k, k)): _jsonable(v) for k, v in rec["p"].items()}
                props.setdefault("category", [c for lab in rec["labels"] if lab in schema.nodes
                                              for c in schema.nodes[lab].category])
                fh.write(json.dumps(props, ensure_ascii=False, sort_keys=True) + "\n")
                counts["nodes"] += 1
        with open(out / "edges.jsonl", "w", encoding="utf-8") as fh:
            for rec in session.run(
                "MATCH (a)-[r]->(b) WHERE a.id IS NOT NULL AND b.id IS NOT NULL AND NOT type(r) IN $overlay_types "
                "RETURN a.id AS s, type(r) AS t, b.id AS o, properties(r) AS p ORDER BY s, t, o",
                overlay_types=schema.overlay_types(),
            ):
                rel = schema.relationships.get(rec["t"])
                props = {(_EDGE_RENAME.get(k, k)): _jsonable(v) for k, v in rec["p"].items()}
                key = f"{rec['s']}|{rec['t']}|{rec['o']}|{props.get('primary_knowledge_source', '')}"
                edge = {
                    "id": "urn:uuid:" + hashlib.sha256(key.encode()).hexdigest()[:32],
                    "subject": rec["s"],
                    "predicate": rel.predicate if rel else f"targetkg:{rec['t']}",
                    "object": rec["o"],
                    "neo4j_type": rec["t"],
                    **(rel.qualifiers if rel else {}),
                    **props,
                }
                fh.write(json.dumps(edge, ensure_ascii=False, sort_keys=True) + "\n")
                counts["edges"] += 1
    releases = sorted(settings.home.joinpath("releases").glob("*/manifest.json"))
    manifest: dict[str, Any] = json.loads(releases[-1].read_text()) if releases else {}
    manifest["kgx"] = {"nodes_file": "nodes.jsonl", "edges_file": "edges.jsonl", **counts,
                       "nodes_sha256": sha256_file(out / "nodes.jsonl"), "edges_sha256": sha256_file(out / "edges.jsonl")}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8")
    return counts

