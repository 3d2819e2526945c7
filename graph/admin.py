"""Maintenance operations on the database (used by tests, benchmarks and `targetkg build --fresh`)."""

from __future__ import annotations

from neo4j import Driver


def clear_database(drv: Driver, database: str = "neo4j", drop_schema: bool = False) -> None:
    """Delete every node and relationship in batches (bounded transaction memory)."""
    with drv.session(database=database) as session:
        # Implicit transactions: CALL … IN TRANSACTIONS commits every batch on its own.
        # Relationships first, so that a batch of hub nodes never drags 100k+ edges into one
        # transaction (that exceeds the transaction memory pool).
        session.run("MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 20000 ROWS").consume()
        session.run("MATCH (n) CALL (n) { DELETE n } IN TRANSACTIONS OF 20000 ROWS").consume()
        if drop_schema:
            for rec in list(session.run("SHOW CONSTRAINTS YIELD name RETURN name")):
                session.run(f"DROP CONSTRAINT `{rec['name']}` IF EXISTS").consume()
            for rec in list(session.run("SHOW INDEXES YIELD name, type WHERE type <> 'LOOKUP' RETURN name")):
                session.run(f"DROP INDEX `{rec['name']}` IF EXISTS").consume()
