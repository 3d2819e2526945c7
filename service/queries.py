"""The query layer: every Cypher string the API runs, parameterised, in one module."""

from __future__ import annotations

from typing import Any

from neo4j import Driver

HEALTH = """
CALL () { MATCH (n) RETURN count(n) AS nodes }
CALL () { MATCH ()-[r]->() RETURN count(r) AS relationships }
OPTIONAL MATCH (s:Source)
RETURN nodes, relationships, max(s.release) AS release,
       collect(s {.id, .version, .edges}) AS sources
"""


def health(drv: Driver, database: str, timeout_s: float = 5.0) -> dict[str, Any]:
    with drv.session(database=database, default_access_mode="READ") as session:
        rec = session.execute_read(lambda tx: tx.run(HEALTH, timeout=timeout_s).single())
    return rec.data()
