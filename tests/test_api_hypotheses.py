"""The read endpoints of the hypothesis API return real ranked data from the real test warehouse."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from targetkg.service.app import create_app

DISEASE = "DOID:363"  # uterine cancer: Hetionet has TREATS and GENE_ASSOCIATED_WITH_CONDITION edges for it
DRUG = "DRUGBANK:DB00997"  # doxorubicin


@pytest.fixture()
def api(warehouse):
    with TestClient(create_app()) as client:
        yield client


def _release(warehouse):
    recs, _, _ = warehouse.execute_query("MATCH (s:Source) RETURN max(s.release) AS r")
    return recs[0]["r"]


def test_search_is_typo_tolerant_and_finds_ids(api, warehouse):
    resp = api.get("/search", params={"q": "uterin cancr", "label": "Disease"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["hits"][0]["id"] == DISEASE
    assert body["release"] == _release(warehouse) == resp.headers["X-TargetKG-Release"]
    by_id = api.get("/search", params={"q": DISEASE}).json()
    assert by_id["hits"][0] == {**by_id["hits"][0], "id": DISEASE, "match": "id"}
    gene = api.get("/search", params={"q": "BRCA1", "label": "Gene"}).json()
    assert gene["hits"][0]["name"] == "BRCA1"


def test_search_label_filter_does_not_lose_hits_ranked_below_other_labels(api, warehouse):
    """'heart' matches hundreds of diseases, anatomy terms and side effects before the first gene:
    with label=Gene the genes must still be found (the filter runs before the limit)."""
    from targetkg.service.queries import lucene_query

    recs, _, _ = warehouse.execute_query(
        "CALL db.index.fulltext.queryNodes('entity_names', $q) YIELD node, score "
        "WITH collect(node) AS hits UNWIND range(0, size(hits) - 1) AS i WITH hits[i] AS node, i WHERE node:Gene "
        "RETURN count(node) AS genes, min(i) AS first_gene_rank", q=lucene_query("heart"))
    assert recs[0]["genes"] >= 5 and recs[0]["first_gene_rank"] >= 25, recs[0].data()  # the case being tested
    body = api.get("/search", params={"q": "heart", "label": "Gene", "limit": 5}).json()
    assert len(body["hits"]) == 5 and {h["label"] for h in body["hits"]} == {"Gene"}
    scores = [h["score"] for h in body["hits"]]
    assert scores == sorted(scores, reverse=True)


def test_search_rejects_unknown_label_as_problem(api):
    resp = api.get("/search", params={"q": "x", "label": "Nope"})
    assert resp.status_code == 400
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert "Nope" in resp.json()["detail"]


def test_entity_summarises_neighbours(api, warehouse):
    resp = api.get(f"/entities/{DISEASE}", params={"top": 3})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["label"] == "Disease" and body["name"] == "uterine cancer"
    groups = {(g["type"], g["direction"], g["label"]): g for g in body["neighbours"]}
    recs, _, _ = warehouse.execute_query(
        "MATCH (:Gene)-[r:GENE_ASSOCIATED_WITH_CONDITION]->(:Disease {id: $d}) RETURN count(r) AS c", d=DISEASE)
    assert groups[("GENE_ASSOCIATED_WITH_CONDITION", "in", "Gene")]["count"] == recs[0]["c"] > 0
    assert len(groups[("GENE_ASSOCIATED_WITH_CONDITION", "in", "Gene")]["top"]) == 3
    assert body["degree"] == sum(g["count"] for g in body["neighbours"])
    assert body["browser_url"].startswith("http://") and "browser" in body["browser_url"]


def test_unknown_entity_is_404_problem(api):
    resp = api.get("/entities/NOPE:0")
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert body["status"] == 404 and "NOPE:0" in body["detail"] and body["title"]


def test_disease_targets_are_ranked_and_evidenced(api, warehouse):
    resp = api.get(f"/diseases/{DISEASE}/targets", params={"limit": 25})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["release"] == _release(warehouse)
    targets = body["targets"]
    assert len(targets) == 25 and body["total"] > 25
    scores = [t["score"] for t in targets]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0
    assert [t["rank"] for t in targets] == list(range(1, 26))
    # the top target has curated evidence from at least two kinds (association + drug or pathway)
    top = targets[0]
    assert sum(1 for v in top["components"].values() if v > 0) >= 2
    assert top["paths"] and top["paths"][0]["nodes"][-1]["id"] == DISEASE or any(
        p["nodes"][-1]["id"] == DISEASE for p in top["paths"])
    # every associated gene of the disease is among the candidates with association = 1
    recs, _, _ = warehouse.execute_query(
        "MATCH (g:Gene)-[:GENE_ASSOCIATED_WITH_CONDITION]->(:Disease {id: $d}) RETURN collect(g.id) AS ids", d=DISEASE)
    all_known = api.get(f"/diseases/{DISEASE}/targets", params={"include": "known", "limit": 1000}).json()
    assoc = {t["gene"] for t in all_known["targets"] if t["components"]["association"] == 1.0}
    assert assoc == set(recs[0]["ids"])
    # drug evidence: targets of drugs that treat it
    recs, _, _ = warehouse.execute_query(
        "MATCH (:Disease {id: $d})<-[:TREATS]-(:Drug)-[:DIRECTLY_PHYSICALLY_INTERACTS_WITH]->(g:Gene) "
        "RETURN collect(DISTINCT g.id) AS ids", d=DISEASE)
    drug_genes = {t["gene"] for t in all_known["targets"] if t["components"]["drug"] > 0}
    assert drug_genes == set(recs[0]["ids"]) and drug_genes


def test_disease_targets_filters_and_pagination(api):
    base = {"limit": 10}
    page1 = api.get(f"/diseases/{DISEASE}/targets", params=base).json()["targets"]
    page2 = api.get(f"/diseases/{DISEASE}/targets", params={**base, "offset": 10}).json()["targets"]
    assert [t["rank"] for t in page2] == list(range(11, 21))
    assert not {t["gene"] for t in page1} & {t["gene"] for t in page2}
    novel = api.get(f"/diseases/{DISEASE}/targets", params={"include": "novel", "limit": 50}).json()["targets"]
    assert novel and all(not t["known"] and t["components"]["association"] == 0 for t in novel)
    strong = api.get(f"/diseases/{DISEASE}/targets", params={"min_score": 0.5, "limit": 1000}).json()
    assert strong["targets"] and all(t["score"] >= 0.5 for t in strong["targets"])
    only_drug = api.get(f"/diseases/{DISEASE}/targets", params={"sources": "drug", "limit": 1000}).json()
    assert only_drug["weights"] == {"drug": 0.3}
    scored = [t for t in only_drug["targets"] if t["score"] > 0]
    assert scored and all(t["components"]["drug"] > 0 for t in scored)
    bad = api.get(f"/diseases/{DISEASE}/targets", params={"sources": "astrology"})
    assert bad.status_code == 400 and bad.headers["content-type"].startswith("application/problem+json")
    invalid = api.get(f"/diseases/{DISEASE}/targets", params={"limit": 0})
    assert invalid.status_code == 422 and invalid.headers["content-type"].startswith("application/problem+json")
    assert "limit" in invalid.json()["detail"]
    missing = api.get("/diseases/DOID:0000000/targets")
    assert missing.status_code == 404 and "DOID:0000000" in missing.json()["detail"]


def test_drug_hypotheses_follow_target_pathway_disease(api, warehouse):
    resp = api.get(f"/drugs/{DRUG}/hypotheses", params={"include": "all", "limit": 200})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    hyps = body["hypotheses"]
    assert hyps and [h["score"] for h in hyps] == sorted((h["score"] for h in hyps), reverse=True)
    assert body["drug"]["name"] == "Doxorubicin"
    kinds = {p["kind"] for h in hyps for p in h["paths"]}
    assert kinds == {"target", "pathway"}
    pw = next(p for h in hyps for p in h["paths"] if p["kind"] == "pathway")
    assert pw["nodes"][0]["id"] == DRUG and len(pw["nodes"]) == 5
    # the "known" flag is the TREATS edge
    recs, _, _ = warehouse.execute_query("MATCH (:Drug {id: $d})-[:TREATS]->(x) RETURN collect(x.id) AS ids", d=DRUG)
    assert {h["disease"] for h in hyps if h["known"]} <= set(recs[0]["ids"])
    novel = api.get(f"/drugs/{DRUG}/hypotheses").json()["hypotheses"]
    assert novel and not any(h["known"] for h in novel)


def test_gene_evidence_has_provenance(api, warehouse):
    resp = api.get("/genes/ESR1/evidence")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["gene"]["name"] == "ESR1" and body["diseases"] > 0 and body["drugs"] > 0
    ev = body["evidence"]
    assert any(e["id"] == DISEASE and e["type"] == "GENE_ASSOCIATED_WITH_CONDITION" for e in ev)
    assert all(e["source"] and e["edge_release"] for e in ev)
    same = api.get(f"/genes/{body['gene']['id']}/evidence").json()
    assert len(same["evidence"]) == len(ev)
    recs, _, _ = warehouse.execute_query(
        "MATCH (g:Gene {id: $g})-[r]-(x) WHERE x:Disease OR x:Drug OR x:SmallMolecule RETURN count(r) AS c",
        g=body["gene"]["id"])
    assert len(ev) == recs[0]["c"]
    assert api.get("/genes/NOT_A_GENE_XYZ/evidence").status_code == 404
    # types: comma-separated or repeated, the same answer; an unknown type is a 422 naming it
    gid = body["gene"]["id"]
    by_type = {t: len(api.get(f"/genes/{gid}/evidence", params={"types": t}).json()["evidence"])
               for t in ("GENE_ASSOCIATED_WITH_CONDITION", "DIRECTLY_PHYSICALLY_INTERACTS_WITH")}
    assert all(by_type.values()), by_type
    both = api.get(f"/genes/{gid}/evidence", params={"types": ",".join(by_type)}).json()["evidence"]
    repeated = api.get(f"/genes/{gid}/evidence", params=[("types", t) for t in by_type]).json()["evidence"]
    assert len(both) == len(repeated) == sum(by_type.values())
    bad = api.get(f"/genes/{gid}/evidence", params={"types": "GENE_ASSOCIATED_WITH_CONDITION,NOPE"})
    assert bad.status_code == 422 and "NOPE" in bad.json()["detail"]


def test_openapi_docs_are_served(api):
    assert api.get("/docs").status_code == 200
    spec = api.get("/openapi.json").json()
    for path in ("/search", "/entities/{curie}", "/diseases/{curie}/targets", "/drugs/{curie}/hypotheses",
                 "/genes/{curie}/evidence", "/enrichment", "/query", "/health"):
        assert path in spec["paths"], path


def _predict_novel_gene(warehouse, run_id: str, model: str, probability: float, score: float | None = None) -> str:
    """Write a PREDICTED_ASSOCIATED_WITH edge with the real write-back code (a (:ModelRun), score,
    calibrated probability, rank) from a gene with no curated evidence for DISEASE."""
    from targetkg.models.linkpred.writeback import write_predictions

    from targetkg.settings import get_settings

    recs, _, _ = warehouse.execute_query(
        "MATCH (g:Gene) WHERE NOT (g)-[:GENE_ASSOCIATED_WITH_CONDITION]->(:Disease {id: $d}) "
        "AND NOT (g)<-[:DIRECTLY_PHYSICALLY_INTERACTS_WITH]-(:Drug)-[:TREATS]->(:Disease {id: $d}) "
        "AND NOT (g)-[:PARTICIPATES_IN]->() RETURN g.id AS id ORDER BY g.id LIMIT 1", d=DISEASE)
    gene = recs[0]["id"]
    run = {"run_id": run_id, "model": model, "release": "test", "created_at": "2026-11-22T00:00:00+00:00",
           "code_version": "test"}
    row = {"s": gene, "o": DISEASE, "score": probability if score is None else score, "probability": probability,
           "rank": 1, "paths": [], "contribs": [], "expl": "{}"}
    write_predictions(warehouse, get_settings().neo4j_database, run, "GENE_ASSOCIATED_WITH_CONDITION", [row],
                      "Gene", "Disease", rank_of="object")
    return gene


def _delete_run(warehouse, run_id: str) -> None:
    from targetkg.models.linkpred.writeback import delete_run_edges

    from targetkg.settings import get_settings

    delete_run_edges(warehouse, get_settings().neo4j_database, run_id)


def test_model_predictions_are_merged_into_the_ranking(api, warehouse):
    """A PREDICTED_* edge (what models/ writes: score in [0, 1], model, run_id) adds the `predicted` component."""
    from targetkg.service import app as app_module

    gene = _predict_novel_gene(warehouse, "run-1", "test-model", probability=0.9)
    app_module._cache.data.clear()
    try:
        body = api.get(f"/diseases/{DISEASE}/targets", params={"include": "novel", "limit": 1000}).json()
        hit = next(t for t in body["targets"] if t["gene"] == gene)
        assert hit["components"] == {"association": 0.0, "drug": 0.0, "pathway": 0.0, "predicted": 0.9}
        assert hit["score"] == pytest.approx(0.1 * 0.9) and not hit["known"]
        assert hit["paths"][0]["kind"] == "predicted" and hit["paths"][0]["sources"] == ["test-model"]
        only = api.get(f"/diseases/{DISEASE}/targets", params={"sources": "predicted"}).json()["targets"]
        assert only[0]["gene"] == gene and only[0]["score"] == pytest.approx(0.9)
        ev = api.get(f"/genes/{gene}/evidence").json()["evidence"]
        assert any(e["predicted"] and e["score"] == 0.9 and e["agent_type"] == "computational_model" for e in ev)
    finally:
        _delete_run(warehouse, "run-1")
        app_module._cache.data.clear()


def test_materialised_answers_follow_graph_writes(api, warehouse):
    """Answers are materialised per graph fingerprint: a write (here a model's prediction) is seen by the
    first request after the next state check (STATE_CHECK_S), without clearing anything by hand."""
    import time

    from targetkg.service import app as app_module

    params = {"include": "novel", "limit": 1000}
    first = api.get(f"/diseases/{DISEASE}/targets", params=params)
    assert first.headers["x-targetkg-release"] and any(k[0] == "targets" for k in app_module._cache.data)
    assert api.get(f"/diseases/{DISEASE}/targets", params=params).content == first.content  # served again
    gene = _predict_novel_gene(warehouse, "run-fresh", "test-fresh", probability=0.8)
    try:
        time.sleep(app_module.STATE_CHECK_S + 0.2)
        after = api.get(f"/diseases/{DISEASE}/targets", params=params).json()["targets"]
        assert any(t["gene"] == gene and t["components"]["predicted"] == 0.8 for t in after)
        # a property update (no count changes) is a committed write too
        warehouse.execute_query("MATCH ()-[r:PREDICTED_ASSOCIATED_WITH {run_id: 'run-fresh'}]-() SET r.probability = 0.6")
        time.sleep(app_module.STATE_CHECK_S + 0.2)
        after = api.get(f"/diseases/{DISEASE}/targets", params=params).json()["targets"]
        assert any(t["gene"] == gene and t["components"]["predicted"] == 0.6 for t in after)
    finally:
        _delete_run(warehouse, "run-fresh")
    time.sleep(app_module.STATE_CHECK_S + 0.2)
    gone = api.get(f"/diseases/{DISEASE}/targets", params=params).json()["targets"]
    assert not any(t["gene"] == gene for t in gone)


def test_materialisation_off_keeps_nothing(api, monkeypatch):
    """TARGETKG_API_CACHE_S=0: every request runs its queries and no answer is kept."""
    from targetkg.service import app as app_module

    monkeypatch.setenv("TARGETKG_API_CACHE_S", "0")
    monkeypatch.setattr(app_module, "_ttl", (-1e18, 0.0))  # forget the value read in the last second
    app_module._cache.clear()
    for _ in range(2):
        assert api.get(f"/diseases/{DISEASE}/targets", params={"limit": 5}).status_code == 200
        assert api.get("/search", params={"q": "breast cancer"}).status_code == 200
    assert app_module._cache_ttl() == 0.0
    assert not app_module._cache.data
    # and with the setting back on, answers are kept again (the test above would pass on a broken cache)
    monkeypatch.setenv("TARGETKG_API_CACHE_S", "60")
    monkeypatch.setattr(app_module, "_ttl", (-1e18, 0.0))
    assert api.get(f"/diseases/{DISEASE}/targets", params={"limit": 5}).status_code == 200
    assert app_module._cache.data


def test_neo4j_down_is_503_problem_on_every_endpoint(monkeypatch):
    import socket

    from targetkg.settings import Settings

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr("targetkg.service.app.get_settings",
                        lambda: Settings(neo4j_uri=f"bolt://127.0.0.1:{port}", neo4j_password="x", connect_timeout_s=2))
    with TestClient(create_app()) as client:
        for url in (f"/diseases/{DISEASE}/targets", "/search?q=x", f"/entities/{DISEASE}"):
            resp = client.get(url)
            assert resp.status_code == 503, url
            assert resp.headers["content-type"].startswith("application/problem+json")
            assert "cannot reach Neo4j" in resp.json()["detail"]


def test_pathway_index_matches_the_cypher_reference(warehouse):
    """The in-memory pathway index gives the same genes, scores and best pathway weights as the Cypher query."""
    from targetkg.service import queries
    from targetkg.service.pathway_index import IndexHolder

    from targetkg.settings import get_settings

    db = get_settings().neo4j_database
    params = {"disease": DISEASE, "min_size": 5, "max_size": 300, "pathway_limit": 100_000}
    reference = {r["gene"]: r for r in queries._read(warehouse, db, queries.DISEASE_PATHWAY_GENES, params, 120.0)}
    index = IndexHolder(check_s=0.0).get(warehouse, db)
    disease_genes = [r["gene"] for r in queries._read(warehouse, db, queries.DISEASE_ASSOCIATED_GENES, params)]
    mine = {r["gene"]: r for r in index.shared_pathway_genes(disease_genes, 5, 300, 100_000)}
    assert len(reference) > 1000 and set(mine) == set(reference)
    for gene, ref in reference.items():
        assert mine[gene]["raw"] == pytest.approx(ref["raw"], rel=1e-9)
        assert [p["weight"] for p in mine[gene]["paths"]] == pytest.approx([p["weight"] for p in ref["paths"]])
        best = mine[gene]["paths"][0]
        assert gene not in best["via"] and len(best["via"]) == min(3, round(best["weight"] * best["size"]))
    top = index.shared_pathway_genes(disease_genes, 5, 300, 50)
    assert [r["gene"] for r in top] == [g for g, _ in sorted(mine.items(), key=lambda kv: (-kv[1]["raw"],
                                                                                           index.gene_position[kv[0]]))][:50]


def test_targets_pages_equal_the_full_ranking(warehouse):
    """/targets pages from RankedTargets: on real components, the same as rank_targets filtered and paged."""
    from targetkg.service import queries, ranking

    from targetkg.settings import get_settings

    comps = queries.disease_components(warehouse, get_settings().neo4j_database, DISEASE)
    for sources in (None, ["pathway"], ["drug", "association"]):
        ranked = ranking.RankedTargets(comps["disease"], comps, sources)
        full = ranking.rank_targets(comps["disease"], comps, sources, paths=False)
        for min_score, include, offset, limit in [(0.0, "all", 0, 50), (0.0, "all", 0, 1000), (0.1, "novel", 20, 50),
                                                  (0.0, "known", 0, 30)]:
            kept = [t for t in full if t["score"] >= min_score and (include == "all" or (include == "known") == t["known"])]
            assert ranked.page(min_score, include, offset, limit) == (len(kept), ranking.attach_paths(kept[offset:offset + limit]))


def test_pathway_index_is_rebuilt_when_the_graph_changes(warehouse):
    from targetkg.service.pathway_index import IndexHolder

    from targetkg.settings import get_settings

    db = get_settings().neo4j_database
    holder = IndexHolder(check_s=0.0)
    before = holder.get(warehouse, db)
    assert holder.get(warehouse, db) is before  # unchanged graph: same index object
    warehouse.execute_query(
        "MATCH (g:Gene), (p:Pathway) WHERE NOT (g)-[:PARTICIPATES_IN]->(p) WITH g, p LIMIT 1 "
        "CREATE (g)-[r:PARTICIPATES_IN {primary_knowledge_source: 'infores:test-index'}]->(p) RETURN g.id AS g, p.id AS p")
    try:
        after = holder.get(warehouse, db)
        assert after is not before and after.members.nnz == before.members.nnz + 1
    finally:
        warehouse.execute_query("MATCH ()-[r:PARTICIPATES_IN {primary_knowledge_source: 'infores:test-index'}]->() DELETE r")


def test_a_graph_change_seen_by_the_api_rechecks_the_pathway_index(api, warehouse, monkeypatch):
    """The index re-reads its fingerprint only every 30 s on its own; when the API sees the graph change
    it must recheck at once, or answers materialised right after a load would use the old index."""
    import time

    from targetkg.service import app as app_module
    from targetkg.service.pathway_index import holder

    assert api.get(f"/diseases/{DISEASE}/targets", params={"limit": 1}).status_code == 200
    before = holder.index
    monkeypatch.setattr(holder, "check_s", 3600.0)
    warehouse.execute_query(
        "MATCH (g:Gene), (p:Pathway) WHERE NOT (g)-[:PARTICIPATES_IN]->(p) WITH g, p LIMIT 1 "
        "CREATE (g)-[r:PARTICIPATES_IN {primary_knowledge_source: 'infores:test-index'}]->(p)")
    try:
        time.sleep(app_module.STATE_CHECK_S + 0.2)
        assert api.get(f"/diseases/{DISEASE}/targets", params={"limit": 1}).status_code == 200
        assert holder.index is not before and holder.index.members.nnz == before.members.nnz + 1
    finally:
        warehouse.execute_query("MATCH ()-[r:PARTICIPATES_IN {primary_knowledge_source: 'infores:test-index'}]->() DELETE r")


def test_targets_body_conforms_to_its_response_model(api):
    """/targets serialises its body directly (no response_model pass): it must still match the documented model."""
    from targetkg.service.app import TargetsResponse

    body = api.get(f"/diseases/{DISEASE}/targets", params={"limit": 200}).json()
    parsed = TargetsResponse.model_validate(body)
    assert parsed.model_dump(mode="json") == body
    assert {p.kind for t in parsed.targets for p in t.paths} >= {"association", "drug", "pathway"}


def test_drug_pathway_index_matches_the_cypher_reference(warehouse):
    """Drug -> target -> pathway -> disease scores from the index equal the reference Cypher query's."""
    from targetkg.service import queries

    from targetkg.settings import get_settings

    db = get_settings().neo4j_database
    reference = {r["disease"]: r for r in queries.drug_components(warehouse, db, DRUG, use_index=False)["pathway"]}
    mine = {r["disease"]: r for r in queries.drug_components(warehouse, db, DRUG)["pathway"]}
    assert len(reference) > 20 and set(mine) == set(reference)
    for disease, ref in reference.items():
        assert mine[disease]["raw"] == pytest.approx(ref["raw"], rel=1e-9)
        assert mine[disease]["known"] == ref["known"]
        assert [p["weight"] for p in mine[disease]["paths"]] == pytest.approx([p["weight"] for p in ref["paths"]])
        for path in mine[disease]["paths"]:
            assert len(path["disease_genes"]) == min(3, round(path["weight"] * path["size"]))


def test_predicted_component_uses_the_calibrated_probability(api, warehouse):
    """A raw model score (an unbounded logit) must not swamp the [0, 1] components: the probability is used."""
    from targetkg.service import app as app_module

    gene = _predict_novel_gene(warehouse, "run-2", "test-logit", probability=0.3, score=6.9)
    app_module._cache.data.clear()
    try:
        body = api.get(f"/diseases/{DISEASE}/targets", params={"sources": "predicted"}).json()
        hit = next(t for t in body["targets"] if t["gene"] == gene)
        assert hit["components"]["predicted"] == pytest.approx(0.3) and hit["score"] <= 1.0
    finally:
        _delete_run(warehouse, "run-2")
        app_module._cache.data.clear()


def test_text_mined_edges_are_not_curated_evidence(api, warehouse):
    """A literature edge (agent_type text_mining_agent, written by the one writer as `ingest literature`
    writes it) between a gene and DISEASE must not make the gene a "known" target nor feed the
    association, drug or pathway components; /edges still shows it as text-mined."""
    from targetkg.graph.writer import GraphWriter
    from targetkg.ingest.model import Edge, Provenance
    from targetkg.service import app as app_module

    from targetkg.settings import get_settings

    recs, _, _ = warehouse.execute_query(
        "MATCH (g:Gene) WHERE NOT (g)-[:GENE_ASSOCIATED_WITH_CONDITION]->(:Disease {id: $d}) "
        "AND NOT (g)<-[:DIRECTLY_PHYSICALLY_INTERACTS_WITH]-(:Drug)-[:TREATS]->(:Disease {id: $d}) "
        "AND NOT (g)-[:PARTICIPATES_IN]->() RETURN g.id AS id ORDER BY g.id LIMIT 1", d=DISEASE)
    gene = recs[0]["id"]
    edge = Edge(gene, "Gene", "GENE_ASSOCIATED_WITH_CONDITION", DISEASE, "Disease", "Association",
                evidence=("PMID:1",), props={"evidence_count": 1, "pmids": ["PMID:1"], "max_probability": 0.9,
                                              "mean_probability": 0.9, "source_file": "test-literature.jsonl"})
    prov = Provenance("infores:targetkg-literature", "test", agent_type="text_mining_agent")
    GraphWriter(warehouse, get_settings().neo4j_database, release="qa", progress=False).write([edge], prov)
    app_module._cache.data.clear()
    try:
        between = api.get("/edges", params={"a": gene, "b": DISEASE}).json()
        assert [e["kind"] for e in between["edges"]] == ["text_mined"]
        for use_index in (True, False):  # the API's index path and the all-Cypher reference
            from targetkg.service import queries

            comps = queries.disease_components(warehouse, get_settings().neo4j_database, DISEASE, use_index=use_index)
            assert gene not in {r["gene"] for r in comps["association"]}
        known = api.get(f"/diseases/{DISEASE}/targets", params={"include": "known", "limit": 1000}).json()
        assert 0 < known["total"] <= 1000 and gene not in {t["gene"] for t in known["targets"]}
        only_assoc = api.get(f"/diseases/{DISEASE}/targets", params={"sources": "association", "min_score": 0.01,
                                                                     "limit": 1000}).json()
        assert 0 < only_assoc["total"] <= 1000 and gene not in {t["gene"] for t in only_assoc["targets"]}
    finally:
        warehouse.execute_query("MATCH (:Gene {id: $g})-[r:GENE_ASSOCIATED_WITH_CONDITION]->(:Disease {id: $d}) "
                                "WHERE r.agent_type = 'text_mining_agent' DELETE r", g=gene, d=DISEASE)
        app_module._cache.data.clear()
