"""Test fixtures: a real Neo4j for every test that needs one.

Unless NEO4J_URI is set, tests use a dedicated managed instance (its own data directory and
ports), so running the suite never touches a developer's warehouse. A test that needs Neo4j
and cannot reach it fails; it never skips.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Must be set before targetkg.settings is first used.
os.environ.setdefault("TARGETKG_HOME", str(Path.home() / ".local" / "share" / "targetkg-test"))
os.environ.setdefault("TARGETKG_BOLT_PORT", "17687")
os.environ.setdefault("TARGETKG_HTTP_PORT", "17474")
os.environ.setdefault("TARGETKG_HEAP", "2g")
os.environ.setdefault("TARGETKG_PAGECACHE", "1g")

from targetkg.settings import reload_settings  # noqa: E402


def shared_data() -> Path:
    return Path(os.environ.get("TARGETKG_DATA", REPO / ".." / "shared" / "data")).resolve()


def pytest_configure(config):
    """The tests read the real releases in the data directory; without it they would fail one by
    one with file errors (or, worse, a skip would hide it): stop at once and say where we looked."""
    data = shared_data()
    if not (data / "README.md").is_file():
        pytest.exit(f"shared data not found at {data} (no README.md there): set TARGETKG_DATA to the data "
                    "directory (default ../shared/data next to the checkout)", returncode=4)


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


def targetkg_cmd() -> list[str]:
    return [sys.executable, "-m", "targetkg.cli"]


@pytest.fixture(scope="session")
def settings():
    return reload_settings()


@pytest.fixture(scope="session")
def neo4j_running(settings):
    """Start the managed test instance once (a no-op when it already runs)."""
    if settings.managed:
        from targetkg.graph.server import ManagedNeo4j

        ManagedNeo4j(settings).start()
    return settings


@pytest.fixture()
def neo4j(neo4j_running):
    """A verified driver for the running Neo4j (re-created if a test restarted the server)."""
    from targetkg.graph.connection import driver

    return driver(neo4j_running)


@pytest.fixture()
def empty_db(neo4j, settings):
    from targetkg.graph.admin import clear_database

    clear_database(neo4j, settings.neo4j_database, drop_schema=True)
    return neo4j


def graph_checksum(drv, database: str = "neo4j", exclude_labels: tuple[str, ...] = ("Source",)) -> tuple[int, int, str]:
    """(nodes, relationships, sha256 over every node's and edge's labels/type and properties)."""
    digest = hashlib.sha256()
    lines = []
    with drv.session(database=database, fetch_size=10000) as s:
        for rec in s.run(
            "MATCH (n) WHERE none(l IN labels(n) WHERE l IN $ex) "
            "RETURN n.id AS id, labels(n) AS labels, properties(n) AS p",
            ex=list(exclude_labels),
        ):
            lines.append(repr((rec["id"], sorted(rec["labels"]), sorted(rec["p"].items()))))
        n_nodes = len(lines)
        for rec in s.run(
            "MATCH (a)-[r]->(b) RETURN a.id AS s, type(r) AS t, b.id AS o, properties(r) AS p"
        ):
            lines.append(repr((rec["s"], rec["t"], rec["o"], sorted(rec["p"].items()))))
    lines.sort()
    for line in lines:
        digest.update(line.encode())
    return n_nodes, len(lines) - n_nodes, digest.hexdigest()


TEST_RELEASE = "test-release"


@pytest.fixture()
def warehouse(neo4j, settings):
    """The full warehouse (all sources, online writer), built once and rebuilt only if a test emptied it."""
    from targetkg.ingest.pipeline import SOURCES, build

    recs, _, _ = neo4j.execute_query("MATCH (s:Source) RETURN s.release AS release, s.name AS name",
                                     database_=settings.neo4j_database)
    loaded = {r["name"] for r in recs if r["release"] == TEST_RELEASE}
    if loaded != set(SOURCES):
        build(release=TEST_RELEASE, fresh=True, progress=False, settings=settings, echo=lambda *a, **k: None)
    return neo4j


@pytest.fixture()
def live_api(warehouse):
    """The hypothesis API on uvicorn over a free loopback port, against the test warehouse."""
    import socket
    import threading
    import time

    import uvicorn

    from targetkg.service.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def pytest_collection_modifyitems(config, items):
    """Tests that empty the database run last, so the full warehouse is built only once."""
    destructive = [item for item in items if "empty_db" in getattr(item, "fixturenames", ())]
    if destructive:
        keep = [item for item in items if "empty_db" not in getattr(item, "fixturenames", ())]
        items[:] = keep + destructive
