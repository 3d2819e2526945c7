"""`targetkg stats`: what the warehouse holds, from Neo4j's count store (O(1) per label/type)."""

from __future__ import annotations

from typing import Any

from neo4j import Driver


def quote(name: str) -> str:
    """Backtick-quote a label/type name read from the database (identifiers cannot be parameters)."""
    return "`" + name.replace("`", "``") + "`"


def collect(drv: Driver, database: str) -> dict[str, Any]:
    def q(cypher: str, **params) -> list[dict]:
        records, _, _ = drv.execute_query(cypher, params, database_=database)
        return [r.data() for r in records]

    labels = sorted(r["label"] for r in q("CALL db.labels() YIELD label RETURN label"))
    types = sorted(r["relationshipType"] for r in q("CALL db.relationshipTypes() YIELD relationshipType RETURN relationshipType"))
    label_counts = {lab: q(f"MATCH (n:{quote(lab)}) RETURN count(n) AS c")[0]["c"] for lab in labels}
    type_counts = {t: q(f"MATCH ()-[r:{quote(t)}]->() RETURN count(r) AS c")[0]["c"] for t in types}
    out = {
        "nodes": q("MATCH (n) RETURN count(n) AS c")[0]["c"],
        "relationships": q("MATCH ()-[r]->() RETURN count(r) AS c")[0]["c"],
        "labels": {k: v for k, v in label_counts.items() if v},
        "types": {k: v for k, v in type_counts.items() if v},
        "constraints": sorted(r["name"] for r in q("SHOW CONSTRAINTS YIELD name RETURN name")),
        "indexes": sorted(
            r["name"] for r in q("SHOW INDEXES YIELD name, type WHERE type <> 'LOOKUP' RETURN name")
        ),
        "sources": [],
        "release": None,
    }
    if "Source" in labels:
        out["sources"] = q(
            "MATCH (s:Source) RETURN s.id AS id, s.version AS version, s.files AS files, s.loaded_at AS loaded_at, "
            "s.nodes AS nodes, s.edges AS edges, s.release AS release ORDER BY s.id"
        )
        releases = sorted({s["release"] for s in out["sources"] if s.get("release")})
        out["release"] = releases[-1] if releases else None
    return out
