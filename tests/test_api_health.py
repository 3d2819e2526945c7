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
