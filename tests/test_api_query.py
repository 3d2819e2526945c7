"""POST /query: read-only user Cypher behind an API key, refused before execution when it could write."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from targetkg.service.app import create_app
from targetkg.service.readonly import RefusedQuery, check_cypher

KEY = "test-key-123"

WRITES = [
    "CREATE (n:Pwned {id: 'x'}) RETURN n",
    "MERGE (n:Pwned {id: 'x'}) RETURN n",
    "MATCH (d:Disease {id: 'DOID:363'}) SET d.pwned = true RETURN d",
    "MATCH (d:Disease {id: 'DOID:363'}) SET d:Pwned",
    "MATCH (n:Pwned) DELETE n",
    "MATCH (d:Disease {id: 'DOID:363'}) DETACH DELETE d",
    "MATCH (d:Disease {id: 'DOID:363'}) REMOVE d.name",
    "MATCH (d:Disease {id: 'DOID:363'}) REMOVE d:Disease",
    "LOAD CSV FROM 'file:///etc/passwd' AS line RETURN line",
    "CALL dbms.components() YIELD name RETURN name",
    "CALL dbms.security.createUser('pwned', 'pwned', false)",
    "CALL apoc.periodic.iterate('MATCH (d:Disease) RETURN d', 'SET d.pwned = true', {batchSize: 10})",
    "CALL apoc.periodic.commit('MATCH (d:Disease) SET d.pwned = true RETURN 0')",
    "MATCH (d:Disease) CALL (d) { SET d.pwned = true } IN TRANSACTIONS OF 10 ROWS",
    "CALL apoc.create.node(['Pwned'], {id: 'x'})",
    "CALL apoc.refactor.rename.label('Disease', 'Pwned')",
    "CALL db.createLabel('Pwned')",
    "RETURN apoc.cypher.runFirstColumnSingle('CREATE (n:Pwned) RETURN n', {}) AS x",
    "MATCH (n:Disease) RETURN n LIMIT 1; CREATE (:Pwned)",
    "MATCH (n:Disease) RETURN n LIMIT 1 ;\nMATCH (d:Disease) DETACH DELETE d;",
    "match (n:Disease) with n limit 1 create (m:Pwned)",
    "MATCH (d:Disease) FOREACH (x IN [1] | CREATE (:Pwned))",
    "CREATE/* sneaky */(:Pwned)",
    "CREATE INDEX pwned FOR (n:Pwned) ON (n.id)",
    "DROP INDEX entity_names",
    "SHOW USERS",
    "USE system CREATE USER pwned SET PASSWORD 'pwnedpwned'",
    "CALL `dbms`.`components`()",
]


@pytest.fixture()
def api(warehouse, monkeypatch):
    monkeypatch.setenv("TARGETKG_API_KEYS", f"other-key,{KEY}")
    with TestClient(create_app()) as client:
        yield client


def _fingerprint(drv):
    recs, _, _ = drv.execute_query(
        "CALL () { MATCH (n) RETURN count(n) AS nodes } CALL () { MATCH ()-[r]->() RETURN count(r) AS rels } "
        "CALL db.labels() YIELD label WITH nodes, rels, collect(label) AS labels "
        "OPTIONAL MATCH (d:Disease {id: 'DOID:363'}) "
        "RETURN nodes, rels, labels, properties(d) AS d, COUNT { (d)--() } AS degree")
    fp = recs[0].data()
    fp["labels"] = sorted(fp["labels"])
    users, _, _ = drv.execute_query("SHOW USERS YIELD user RETURN collect(user) AS u", database_="system")
    fp["users"] = sorted(users[0]["u"])
    return fp


def test_read_query_runs_with_parameters(api):
    resp = api.post("/query", headers={"X-API-Key": KEY},
                    json={"cypher": "MATCH (d:Disease {id: $id}) RETURN d.name AS name, d AS node", "params": {"id": "DOID:363"}})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["columns"] == ["name", "node"]
    assert body["rows"][0]["name"] == "uterine cancer" and body["rows"][0]["node"]["labels"] == ["Disease"]
    assert body["release"] and resp.headers["X-TargetKG-Release"] == body["release"]
    bearer = api.post("/query", headers={"Authorization": f"Bearer {KEY}"},
                      json={"cypher": "CALL db.labels() YIELD label RETURN label;"})
    assert bearer.status_code == 200 and bearer.json()["row_count"] > 0


def test_row_limit_truncates(api):
    resp = api.post("/query", headers={"X-API-Key": KEY}, json={"cypher": "MATCH (g:Gene) RETURN g.id AS id", "limit": 7})
    body = resp.json()
    assert body["row_count"] == 7 and body["truncated"] is True


def test_api_key_required(api, monkeypatch):
    q = {"cypher": "RETURN 1 AS x"}
    for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"}):
        resp = api.post("/query", json=q, headers=headers)
        assert resp.status_code == 401, headers
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert resp.json()["title"] == "Unauthorized" and "API key" in resp.json()["detail"]
    monkeypatch.setenv("TARGETKG_API_KEYS", "")
    resp = api.post("/query", json=q, headers={"X-API-Key": KEY})
    assert resp.status_code == 401 and "TARGETKG_API_KEYS" in resp.json()["detail"]


def test_every_write_attempt_is_refused_and_the_graph_is_unchanged(api, warehouse):
    before = _fingerprint(warehouse)
    for cypher in WRITES:
        resp = api.post("/query", headers={"X-API-Key": KEY}, json={"cypher": cypher})
        assert resp.status_code == 403, (cypher, resp.status_code, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert resp.json()["detail"], cypher
    assert _fingerprint(warehouse) == before


def test_guard_keeps_keywords_in_strings_and_comments():
    assert check_cypher("MATCH (n:Gene {name: 'CREATE'}) RETURN n.name // DELETE me;") .startswith("MATCH")
    assert check_cypher("MATCH (n) WHERE n.name = 'a;b' RETURN n.settings, n.created;").endswith("n.created")
    assert check_cypher("CALL { MATCH (n) RETURN count(n) AS c } RETURN c")
    with pytest.raises(RefusedQuery, match="one statement"):
        check_cypher("RETURN 1; RETURN 2")


# data writes the lexical guard refuses; with the guard switched off, the server-side layers must
# still refuse every one of them
DATA_WRITES = [
    "CREATE (n:Pwned {id: 'x'}) RETURN n",
    "MERGE (n:Pwned {id: 'x'}) RETURN n",
    "MATCH (d:Disease {id: 'DOID:363'}) SET d.pwned = true RETURN d",
    "MATCH (d:Disease {id: 'DOID:363'}) SET d:Pwned",
    "MATCH (d:Disease {id: 'DOID:363'}) DETACH DELETE d",
    "MATCH (d:Disease {id: 'DOID:363'}) REMOVE d.name",
    "MATCH (d:Disease) FOREACH (x IN [1] | CREATE (:Pwned))",
    "CALL apoc.create.node(['Pwned'], {id: 'x'})",
    "RETURN apoc.cypher.runFirstColumnSingle('CREATE (n:Pwned) RETURN n', {}) AS x",
]


def test_plan_check_and_read_transaction_refuse_writes_the_lexer_misses(api, warehouse, monkeypatch):
    """Behind the lexical guard: the query plan must be read-only (EXPLAIN), and the query then runs
    in a READ transaction. With the guard switched off, every data write is still refused (403) and
    the graph is unchanged; plain writes are stopped by the plan check itself."""
    from targetkg.service import readonly

    monkeypatch.setattr(readonly, "check_cypher", lambda cypher: cypher.strip().rstrip(";"))
    before = _fingerprint(warehouse)
    by_plan = 0
    for cypher in DATA_WRITES:
        resp = api.post("/query", headers={"X-API-Key": KEY}, json={"cypher": cypher})
        assert resp.status_code == 403, (cypher, resp.status_code, resp.text)
        by_plan += "plan is not read-only" in resp.json()["detail"]
    assert by_plan >= 7  # everything but the APOC procedure/function, whose plans may look read-only
    assert _fingerprint(warehouse) == before
    read = api.post("/query", headers={"X-API-Key": KEY}, json={"cypher": "MATCH (n:Disease) RETURN count(n) AS c"})
    assert read.status_code == 200 and read.json()["rows"][0]["c"] > 0


def test_query_past_the_timeout_is_cut_and_reported(api, monkeypatch):
    monkeypatch.setenv("TARGETKG_QUERY_TIMEOUT_S", "1")
    slow = "MATCH (a:Gene), (b:Gene) WHERE a.name < b.name RETURN count(*) AS c"
    import time

    t0 = time.monotonic()
    resp = api.post("/query", headers={"X-API-Key": KEY}, json={"cypher": slow, "timeout_s": 60})
    assert time.monotonic() - t0 < 15
    assert resp.status_code == 504, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert "timeout" in resp.json()["detail"]


def test_syntax_error_is_a_problem(api):
    resp = api.post("/query", headers={"X-API-Key": KEY}, json={"cypher": "MATCH (n RETURN n"})
    assert resp.status_code == 400
    assert "SyntaxError" in resp.json()["detail"]
