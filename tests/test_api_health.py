"""GET /health runs a real Cypher query against the real Neo4j."""

from __future__ import annotations

from fastapi.testclient import TestClient
from targetkg.service.app import create_app

from targetkg.settings import Settings


def test_health_reports_counts_from_neo4j(neo4j):
    with TestClient(create_app()) as client:
        resp = client.get("/health")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["status"] == "ok"
    recs, _, _ = neo4j.execute_query("MATCH (n) RETURN count(n) AS c")
    assert body["nodes"] == recs[0]["c"]


def test_health_says_503_when_neo4j_is_unreachable(monkeypatch):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr("targetkg.service.app.get_settings",
                        lambda: Settings(neo4j_uri=f"bolt://127.0.0.1:{port}", neo4j_password="x", connect_timeout_s=2))
    with TestClient(create_app()) as client:
        resp = client.get("/health")
    assert resp.status_code == 503
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert "cannot reach Neo4j" in resp.json()["detail"]


def test_serve_refuses_a_taken_port_before_anything_else():
    """`make up` runs `serve --check-port` first: a port already listened on (an earlier `make up`'s
    API) stops the job in a second with a clear message, not after the half-hour build."""
    import socket

    from typer.testing import CliRunner

    from targetkg.cli import app

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        res = CliRunner().invoke(app, ["serve", "--check-port", "--host", "127.0.0.1", "--port", str(port)])
        assert res.exit_code == 1, res.output
        assert f"127.0.0.1:{port}" in res.output and "TARGETKG_API_PORT" in res.output
        assert "in use" in res.output.lower()
    # free again: the check passes and serves nothing
    res = CliRunner().invoke(app, ["serve", "--check-port", "--host", "127.0.0.1", "--port", str(port)])
    assert res.exit_code == 0, res.output
    assert res.output == ""
