"""The warehouse schema, loaded once from `schema.yaml`.

Everything that needs to know labels, relationship types, constraints or indexes asks this
module: the writer, the bulk importer, the quality gates, `targetkg schema docs` and (later)
the Bloom perspective generator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class NodeType:
    label: str
    category: tuple[str, ...]
    prefixes: tuple[str, ...]
    color: str
    internal: bool = False
    overlay: bool = False  # patient overlays: kept out of release exports


@dataclass(frozen=True)
class RelType:
    type: str
    predicate: str
    subject: tuple[str, ...]
    object: tuple[str, ...]
    qualifiers: dict[str, str] = field(default_factory=dict)
    overlay: bool = False
    predicted: bool = False  # model output (PREDICTED_*): scored, written by model runs


@dataclass(frozen=True)
class Schema:
    version: int
    nodes: dict[str, NodeType]
    relationships: dict[str, RelType]
    edge_provenance: tuple[str, ...]
    fulltext: dict[str, Any]
    node_indexes: tuple[tuple[str, str], ...]
    rel_indexes: tuple[str, ...]
    predicted_rel_indexes: tuple[str, ...] = ()

    # --- validation -------------------------------------------------------------------
    def node(self, label: str) -> NodeType:
        try:
            return self.nodes[label]
        except KeyError:
            raise KeyError(f"unknown node label {label!r}; declared labels: {', '.join(sorted(self.nodes))}") from None

    def rel(self, rel_type: str) -> RelType:
        try:
            return self.relationships[rel_type]
        except KeyError:
            raise KeyError(
                f"unknown relationship type {rel_type!r}; declared types: {', '.join(sorted(self.relationships))}"
            ) from None

    def check_edge(self, subject_label: str, rel_type: str, object_label: str) -> None:
        rel = self.rel(rel_type)
        if subject_label not in rel.subject or object_label not in rel.object:
            raise ValueError(
                f"schema does not allow ({subject_label})-[:{rel_type}]->({object_label}); "
                f"allowed subjects {list(rel.subject)}, objects {list(rel.object)}"
            )

    # --- DDL --------------------------------------------------------------------------
    def constraint_statements(self) -> list[str]:
        return [
            f"CREATE CONSTRAINT {label.lower()}_id IF NOT EXISTS FOR (n:{label}) REQUIRE n.id IS UNIQUE"
            for label in self.nodes
        ]

    def index_statements(self) -> list[str]:
        out = []
        for label, prop in self.node_indexes:
            out.append(f"CREATE INDEX {label.lower()}_{prop} IF NOT EXISTS FOR (n:{label}) ON (n.{prop})")
        for rel_type in self.relationships:
            for prop in self.rel_indexes:
                out.append(
                    f"CREATE INDEX rel_{rel_type.lower()}_{prop} IF NOT EXISTS FOR ()-[r:{rel_type}]-() ON (r.{prop})"
                )
            if self.relationships[rel_type].predicted:
                for prop in self.predicted_rel_indexes:
                    out.append(
                        f"CREATE INDEX rel_{rel_type.lower()}_{prop} IF NOT EXISTS FOR ()-[r:{rel_type}]-() ON (r.{prop})"
                    )
        ft = self.fulltext
        labels = "|".join(ft["labels"])
        props = ", ".join(f"n.{p}" for p in ft["properties"])
        out.append(f"CREATE FULLTEXT INDEX {ft['name']} IF NOT EXISTS FOR (n:{labels}) ON EACH [{props}]")
        return out

    def ddl(self) -> list[str]:
        return self.constraint_statements() + self.index_statements()

    def overlay_labels(self) -> list[str]:
        return [n.label for n in self.nodes.values() if n.overlay]

    def overlay_types(self) -> list[str]:
        return [r.type for r in self.relationships.values() if r.overlay]

    def public_labels(self) -> list[str]:
        return [n.label for n in self.nodes.values() if not n.internal]

    # --- docs -------------------------------------------------------------------------
    def markdown(self) -> str:
        lines = ["# TargetKG schema", "", f"Schema version {self.version}.", "", "## Node labels", ""]
        lines += ["| label | Biolink category | id prefixes |", "|---|---|---|"]
        for n in self.nodes.values():
            lines.append(f"| `{n.label}` | {', '.join(n.category)} | {', '.join(n.prefixes)} |")
        lines += ["", "## Relationship types", "", "| type | Biolink predicate | subject → object |", "|---|---|---|"]
        for r in self.relationships.values():
            q = "".join(f" ({k}={v})" for k, v in r.qualifiers.items())
            lines.append(f"| `{r.type}` | {r.predicate}{q} | {', '.join(r.subject)} → {', '.join(r.object)} |")
        lines += ["", "Every edge carries: " + ", ".join(f"`{p}`" for p in self.edge_provenance) + "."]
        return "\n".join(lines) + "\n"


def _parse(doc: dict[str, Any]) -> Schema:
    nodes: dict[str, NodeType] = {}
    for label, spec in doc["nodes"].items():
        if not _IDENT.match(label):
            raise ValueError(f"schema.yaml: node label {label!r} is not a valid Cypher identifier")
        nodes[label] = NodeType(
            label=label,
            category=tuple(spec["category"]),
            prefixes=tuple(spec.get("prefixes", ())),
            color=spec.get("color", "#A5ABB6"),
            internal=bool(spec.get("internal", False)),
            overlay=bool(spec.get("overlay", False)),
        )
    rels: dict[str, RelType] = {}
    for rel_type, spec in doc["relationships"].items():
        if not _IDENT.match(rel_type):
            raise ValueError(f"schema.yaml: relationship type {rel_type!r} is not a valid Cypher identifier")
        for side in ("subject", "object"):
            unknown = [lab for lab in spec[side] if lab not in nodes]
            if unknown:
                raise ValueError(f"schema.yaml: {rel_type}.{side} names undeclared labels {unknown}")
        rels[rel_type] = RelType(
            type=rel_type,
            predicate=spec["predicate"],
            subject=tuple(spec["subject"]),
            object=tuple(spec["object"]),
            qualifiers=dict(spec.get("qualifiers", {})),
            overlay=bool(spec.get("overlay", False)),
            predicted=bool(spec.get("predicted", False)),
        )
    idx = doc.get("indexes", {})
    return Schema(
        version=int(doc["version"]),
        nodes=nodes,
        relationships=rels,
        edge_provenance=tuple(doc["edge_provenance"]),
        fulltext=idx["fulltext"],
        node_indexes=tuple(tuple(x) for x in idx.get("node_properties", [])),
        rel_indexes=tuple(x[0] for x in idx.get("relationship_properties", [])),
        predicted_rel_indexes=tuple(x[0] for x in idx.get("predicted_relationship_properties", [])),
    )


@lru_cache(maxsize=1)
def load_schema() -> Schema:
    text = resources.files("targetkg.graph").joinpath("schema.yaml").read_text(encoding="utf-8")
    return _parse(yaml.safe_load(text))

