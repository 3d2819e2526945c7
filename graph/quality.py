"""Quality gates after a build; a failed gate fails the build loudly.

- dangling edges: edge rows whose subject or object node does not exist (the writer counts them);
- duplicate ids: one CURIE on two nodes (two labels for one entity);
- nodes without category;
- counts below the source's own count: every `nodes:<Label>` / `edges:<TYPE>` figure an
  adapter reads off its files must be reached in the graph for that source.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from neo4j import Driver

from targetkg.graph.schema import load_schema
from targetkg.graph.stats import quote


class QualityGateError(RuntimeError):
    def __init__(self, failed: list[dict[str, Any]], manifest: Path | None = None):
        self.failed = failed
        lines = [f"{len(failed)} quality gate(s) failed" + (f" (manifest: {manifest})" if manifest else "") + ":"]
        for g in failed:
            lines.append(f"  - {g['gate']}: {g['detail']}")
        super().__init__("\n".join(lines))


def _q(drv: Driver, database: str, cypher: str, **params) -> list[dict]:
    records, _, _ = drv.execute_query(cypher, params, database_=database)
    return [r.data() for r in records]


def check(drv: Driver, database: str, reports: list) -> list[dict[str, Any]]:
    schema = load_schema()
    gates: list[dict[str, Any]] = []

    dangling = sum(r.dangling for r in reports)
    examples = [e for r in reports for e in r.dangling_examples][:5]
    gates.append({"gate": "no dangling edges", "passed": dangling == 0,
                  "detail": f"{dangling} edge rows referenced missing nodes" + (f", e.g. {examples}" if examples else "")})

    dups = _q(drv, database, "MATCH (n) WHERE n.id IS NOT NULL WITH n.id AS id, collect(labels(n)) AS labels, "
                             "count(*) AS c WHERE c > 1 RETURN id, labels LIMIT 5")
    gates.append({"gate": "unique ids", "passed": not dups,
                  "detail": "no id on more than one node" if not dups else f"ids on several nodes: {dups}"})

    no_cat = _q(drv, database, "MATCH (n) WHERE n.category IS NULL RETURN n.id AS id, labels(n) AS labels LIMIT 5")
    gates.append({"gate": "every node has a category", "passed": not no_cat,
                  "detail": "ok" if not no_cat else f"nodes without category, e.g. {no_cat}"})

    for rep in reports:
        short = []
        for key, expected in sorted(rep.expected.items()):
            kind, _, name = key.partition(":")
            if kind == "nodes" and name in schema.nodes:
                actual = _q(drv, database, f"MATCH (n:{quote(name)}) WHERE $source IN n.sources RETURN count(n) AS c",
                            source=rep.infores)[0]["c"]
            elif kind == "edges" and name in schema.relationships:
                actual = _q(drv, database,
                            f"MATCH ()-[r:{quote(name)}]->() WHERE r.primary_knowledge_source = $source RETURN count(r) AS c",
                            source=rep.infores)[0]["c"]
            else:
                continue  # per-file row counts etc.: informative, not comparable to graph counts
            if actual < expected:
                short.append(f"{key}: {actual:,} in the graph < {expected:,} stated by the source")
        gates.append({"gate": f"{rep.source}: counts reach the source's own counts", "passed": not short,
                      "detail": "; ".join(short) if short else f"{len(rep.expected)} figures checked"})
    return gates
