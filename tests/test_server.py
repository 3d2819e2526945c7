"""The managed Neo4j against the real server: lifecycle, persistence, Browser, clear errors."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from neo4j import GraphDatabase

from conftest import cli_env, targetkg_cmd
from targetkg.graph.connection import Neo4jUnavailable, driver
from targetkg.graph.server import ManagedNeo4j, ServerError
from targetkg.settings import Settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([*targetkg_cmd(), *args], capture_output=True, text=True, env=cli_env(**env), timeout=600)


def test_roundtrip_restart_keeps_data(neo4j, settings):
    """start → Cypher round trip through the official driver → stop → start → data still there."""
    assert settings.managed, "this test exercises the managed server"
    server = ManagedNeo4j(settings)
    with GraphDatabase.driver(settings.bolt_uri, auth=("neo4j", settings.password())) as drv:
        drv.execute_query("MERGE (m:RestartProbe {id: 'probe'}) SET m.value = 42")
        recs, _, _ = drv.execute_query("MATCH (m:RestartProbe {id: 'probe'}) RETURN m.value AS v")
        assert recs[0]["v"] == 42
    assert "stopped" in server.stop()
    assert server.running_pid() is None
    res = server.start()
    assert not res.already_running
    assert res.seconds < 60, f"start took {res.seconds:.1f}s"
    from targetkg.graph.connection import close_all

    close_all()
    with GraphDatabase.driver(settings.bolt_uri, auth=("neo4j", settings.password())) as drv:
        recs, _, _ = drv.execute_query("MATCH (m:RestartProbe {id: 'probe'}) RETURN m.value AS v")
        assert recs[0]["v"] == 42
        drv.execute_query("MATCH (m:RestartProbe) DELETE m")


def test_second_start_is_a_noop_with_clear_message(neo4j):
    proc = run_cli("neo4j", "start")
    assert proc.returncode == 0, proc.stderr
    assert "already running" in proc.stdout


def test_status_prints_password_and_file_is_private(neo4j, settings):
    proc = run_cli("neo4j", "status", "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["running"] is True and info["password"] == settings.password()
    mode = stat.S_IMODE(os.stat(settings.password_file).st_mode)
    assert mode == 0o600, oct(mode)


def test_browser_answers_on_http(neo4j, settings):
    resp = httpx.get(f"{settings.http_url}/browser/", timeout=10)
    assert resp.status_code == 200
    assert "neo4j" in resp.text.lower()
    root = httpx.get(settings.http_url + "/", timeout=10).json()
    assert root["neo4j_version"] == settings.neo4j_version and root["neo4j_edition"] == "community"


def test_listens_on_loopback_only(neo4j, settings):
    conf = (settings.instance_dir / "conf" / "neo4j.conf").read_text()
    assert f"server.bolt.listen_address=127.0.0.1:{settings.bolt_port}" in conf
    assert "server.default_listen_address=127.0.0.1" in conf


def test_apoc_is_loaded(neo4j, settings):
    recs, _, _ = neo4j.execute_query("RETURN apoc.version() AS v", database_=settings.neo4j_database)
    assert recs[0]["v"] == settings.apoc_version


def test_wrong_password_gives_clear_error(neo4j, settings):
    wrong = Settings(neo4j_uri=settings.bolt_uri, neo4j_password="not-the-password")
    with pytest.raises(Neo4jUnavailable, match="wrong password"):
        driver(wrong)


@pytest.mark.parametrize("scheme", ["bolt", "neo4j"])
def test_uri_pointing_at_nothing_fails_fast(scheme):
    port = _free_port()
    s = Settings(neo4j_uri=f"{scheme}://127.0.0.1:{port}", neo4j_password="x", connect_timeout_s=3)
    t0 = time.monotonic()
    with pytest.raises(Neo4jUnavailable, match="cannot reach Neo4j"):
        driver(s)
    assert time.monotonic() - t0 < 15


def test_cli_with_neo4j_uri_at_nothing_fails_fast():
    port = _free_port()
    t0 = time.monotonic()
    proc = run_cli("stats", NEO4J_URI=f"bolt://127.0.0.1:{port}", NEO4J_PASSWORD="x")
    assert proc.returncode == 1
    assert "cannot reach Neo4j" in proc.stderr
    assert time.monotonic() - t0 < 20


def _second_instance(tmp_path: Path, settings: Settings, **overrides) -> ManagedNeo4j:
    s = Settings(home=tmp_path / "home", cache_dir=settings.cache_dir, bolt_port=overrides.get("bolt_port", _free_port()),
                 http_port=overrides.get("http_port", _free_port()))
    return ManagedNeo4j(s)


def test_stale_pid_file_gives_clear_error(neo4j, settings, tmp_path):
    other = _second_instance(tmp_path, settings)
    other.run_dir.mkdir(parents=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    other.pid_file.write_text(f"{dead.pid}\n")
    with pytest.raises(ServerError, match="stale pid file"):
        other.start()
    assert "stale" in other.stop()
    assert not other.pid_file.exists()


def test_port_already_taken_gives_clear_error(neo4j, settings, tmp_path):
    other = _second_instance(tmp_path, settings, bolt_port=settings.bolt_port)
    with pytest.raises(ServerError, match=rf"port {settings.bolt_port} .* already in use"):
        other.start()


def test_stats_json_has_counts(neo4j):
    proc = run_cli("stats", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    recs, _, _ = neo4j.execute_query("CALL () { MATCH (n) RETURN count(n) AS nodes } "
                                     "CALL () { MATCH ()-[r]->() RETURN count(r) AS rels } RETURN nodes, rels")
    assert data["nodes"] == recs[0]["nodes"] and data["relationships"] == recs[0]["rels"]
    labels, _, _ = neo4j.execute_query("MATCH (n) UNWIND labels(n) AS l RETURN l, count(*) AS c")
    assert {r["l"]: r["c"] for r in labels} == {k: v for k, v in dict(data["labels"]).items() if v}
    for key in ("types", "constraints", "sources"):
        assert key in data
