"""GET /edges and GET /overlays, /overlays/{id}/edges on the test warehouse, with overlays learned from the
real GSE10072 lung expression matrix and predictions written by the real write-back code."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from targetkg.service.app import create_app
from test_bn_overlay import CURIE, KEY, _matrix

BASAL = "test-api-gse10072-basal"
DELTA = "test-api-gse10072-delta"
RUN_ID = "test-api-overlay-run"
COHORT = "GSE10072-api-test"
LIBRARY = Path(__file__).resolve().parent.parent / "cypher"


@pytest.fixture()
def api(warehouse):
    with TestClient(create_app()) as client:
        yield client


@pytest.fixture()
def overlays(warehouse, settings):
    """A basal network and a tumour vs non-tumour ΔECv subnetwork of the 12 clock genes, and gene -> disease
    predictions for two genes of the subnetwork (the first to two diseases, the second to one)."""
    from targetkg.models.bn import ecv, learn, subnetworks
    from targetkg.models.bn.overlay import delete_overlay, write_overlay
    from targetkg.models.linkpred.writeback import delete_run_edges, write_predictions

    drv, db = warehouse, settings.neo4j_database
    _, df, groups = _matrix()
    net = learn(df, score="bge", confidence="bootstrap", n_bootstrap=20, symbol_to_curie=CURIE, seed=0)
    res = ecv(net, df, groups=groups.to_numpy(), group_a="tumor", group_b="non-tumor", n_permutations=200)
    sub = subnetworks(res, net, mode="delta", top=0.25)
    write_overlay(drv, db, net, "basal_network", BASAL, cohort=COHORT, samples=groups, release="test",
                  pseudonym_key_=KEY)
    write_overlay(drv, db, sub, "delta_ecv_subnetwork", DELTA, cohort=COHORT, samples=groups, network=net,
                  ecv_result=res, release="test", pseudonym_key_=KEY, params={"top": 0.25})
    sub_edges = [(CURIE[s], CURIE[t]) for s, t in sub.edges[["source", "target"]].itertuples(index=False)]
    genes = list(dict.fromkeys(g for e in sub_edges for g in e))
    diseases = [r["id"] for r in drv.execute_query("MATCH (d:Disease) RETURN d.id AS id ORDER BY id LIMIT 2",
                                                   database_=db).records]
    predicted = {genes[0]: diseases, genes[1]: diseases[:1]}
    rows = [{"s": g, "o": d, "score": 5.0 - i, "probability": 0.9 - 0.1 * i, "rank": i + 1,
             "paths": [f"{g} -> {d}"], "contribs": [1.0], "expl": "{}"}
            for g, ds in predicted.items() for i, d in enumerate(ds)]
    run = {"run_id": RUN_ID, "model": "rgcn", "params": {}, "release": "test-release",
           "created_at": "2026-11-22T00:00:00+00:00", "split": {}, "code_version": "test", "metrics": {}}
    write_predictions(drv, db, run, "GENE_ASSOCIATED_WITH_CONDITION", rows, "Gene", "Disease")
    try:
        yield {"net": net, "sub": sub, "sub_edges": sub_edges, "predicted": predicted, "diseases": diseases}
    finally:
        delete_run_edges(drv, db, RUN_ID)
        delete_overlay(drv, db, DELTA)
        delete_overlay(drv, db, BASAL)


def test_overlays_listed_and_filtered(api, overlays):
    body = api.get("/overlays", params={"cohort": COHORT}).json()
    assert {o["id"] for o in body["overlays"]} == {BASAL, DELTA} and body["total"] == 2
    delta = next(o for o in body["overlays"] if o["id"] == DELTA)
    assert delta["kind"] == "delta_ecv_subnetwork" and delta["cohort_name"] == COHORT and delta["samples"] == 107
    assert delta["params"]["top"] == 0.25 and delta["params"]["group_a"] == "tumor"
    assert delta["edges"] == len(overlays["sub_edges"])
    kinds = api.get("/overlays", params={"cohort": COHORT, "kind": "basal_network"}).json()["overlays"]
    assert [o["id"] for o in kinds] == [BASAL]
    # the basal network holds all 12 genes; a gene outside the subnetwork is only in the basal overlay
    outside = next(c for c in CURIE.values() if c not in {g for e in overlays["sub_edges"] for g in e})
    by_gene = api.get("/overlays", params={"cohort": COHORT, "gene": outside}).json()["overlays"]
    assert [o["id"] for o in by_gene] == [BASAL]
    by_symbol = api.get("/overlays", params={"cohort": COHORT, "gene": "PER1"}).json()["overlays"]
    assert BASAL in {o["id"] for o in by_symbol}
    assert api.get("/overlays", params={"cohort": "no-such-cohort"}).json()["total"] == 0


def test_overlay_edges_that_touch_a_predicted_target(api, overlays, warehouse, settings):
    sub_edges, predicted = overlays["sub_edges"], overlays["predicted"]
    body = api.get(f"/overlays/{DELTA}/edges").json()
    assert body["total"] == len(sub_edges) and body["overlay"]["id"] == DELTA
    got = [(e["source"], e["target"]) for e in body["edges"]]
    assert sorted(got) == sorted(sub_edges)
    strength = [e["delta_ecv"] if e["delta_ecv"] is not None else abs(e["weight"]) if e["weight"] is not None
                else e["posterior"] or 0.0 for e in body["edges"]]
    assert strength == sorted(strength, reverse=True)  # strongest first
    selected = [e for e in body["edges"] if e["selected"]]
    assert selected and all(e["q_value"] is not None and e["direction"] in ("up", "down") for e in selected)

    touching = api.get(f"/overlays/{DELTA}/edges", params={"touching": "predicted_target"}).json()
    want = {e for e in sub_edges if e[0] in predicted or e[1] in predicted}
    assert {(e["source"], e["target"]) for e in touching["edges"]} == want and touching["total"] == len(want)
    for e in touching["edges"]:
        preds = e["predictions"]
        assert preds and all(p["type"] == "PREDICTED_ASSOCIATED_WITH" and p["run_id"] == RUN_ID for p in preds)
        assert {p["gene"] for p in preds} == {g for g in (e["source"], e["target"]) if g in predicted}
        assert [p["probability"] for p in preds] == sorted((p["probability"] for p in preds), reverse=True)

    # predictions for one disease only: the second disease was predicted for the first gene alone
    second = overlays["diseases"][1]
    only = api.get(f"/overlays/{DELTA}/edges", params={"touching": "predicted_target", "disease": second}).json()
    first_gene = next(iter(predicted))
    assert {(e["source"], e["target"]) for e in only["edges"]} == {e for e in sub_edges if first_gene in e}
    assert all(p["partner"] == second for e in only["edges"] for p in e["predictions"])

    # the analysts' library asks the same question in Cypher and gets the same edges
    text = (LIBRARY / "overlays" / "overlay_edges_at_predicted_targets.cypher").read_text()
    first = overlays["diseases"][0]
    rows = warehouse.execute_query(text.rstrip().rstrip(";"), {"overlay": DELTA, "disease": first},
                                   database_=settings.neo4j_database).records
    api_rows = api.get(f"/overlays/{DELTA}/edges", params={"touching": "predicted_target", "disease": first}).json()
    assert [(r["source"], r["target"]) for r in rows] == [(e["source"], e["target"]) for e in api_rows["edges"]]
    assert [sorted(r["curated_types"]) for r in rows] == [sorted(e["curated_types"]) for e in api_rows["edges"]]
    assert len(rows) == len({e for e in sub_edges if e[0] in predicted or e[1] in predicted})

    page = api.get(f"/overlays/{DELTA}/edges", params={"limit": 2, "offset": 1}).json()
    assert [(e["source"], e["target"]) for e in page["edges"]] == got[1:3] and page["total"] == len(sub_edges)


def test_overlay_edges_backed_by_curated_edges_or_novel(api, overlays, warehouse, settings):
    from targetkg.graph.schema import load_schema

    schema = load_schema()
    curated_types = [t for t, r in schema.relationships.items() if not r.overlay and not r.predicted
                     and t not in ("HAS_SUBJECT", "HAS_OBJECT", "FROM_PUBLICATION")]
    recs = warehouse.execute_query(
        "MATCH (a)-[:OVERLAY_EDGE {overlay_id: $o}]->(b) MATCH (a)-[k]-(b) WHERE type(k) IN $types "
        "RETURN a.id AS a, b.id AS b, collect(DISTINCT type(k)) AS types",
        o=BASAL, types=curated_types, database_=settings.neo4j_database).records
    backed = {(r["a"], r["b"]): set(r["types"]) for r in recs}
    assert backed, "some clock-gene edges of the basal network are curated interactions in the warehouse"
    every = api.get(f"/overlays/{BASAL}/edges").json()
    curated = api.get(f"/overlays/{BASAL}/edges", params={"touching": "curated_edge"}).json()
    novel = api.get(f"/overlays/{BASAL}/edges", params={"touching": "novel"}).json()
    assert {(e["source"], e["target"]): set(e["curated_types"]) for e in curated["edges"]} == backed
    assert all(e["curated_types"] == [] for e in novel["edges"])
    assert curated["total"] + novel["total"] == every["total"] == len(overlays["net"].edges)


def test_overlay_problems(api, overlays):
    r = api.get("/overlays/no-such-overlay/edges")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    assert "GET /overlays" in r.json()["detail"]
    r = api.get(f"/overlays/{DELTA}/edges", params={"touching": "predicted_target", "disease": "DOID:0000000000"})
    assert r.status_code == 404 and "DOID:0000000000" in r.json()["detail"]
    r = api.get(f"/overlays/{DELTA}/edges", params={"touching": "nearby"})
    assert r.status_code == 422 and "touching" in r.json()["detail"]
    r = api.get("/overlays", params={"kind": "basal"})
    assert r.status_code == 422 and "kind" in r.json()["detail"]


def test_edges_between_two_entities_with_provenance(api, overlays, warehouse, settings):
    db = settings.neo4j_database
    rec = warehouse.execute_query(
        "MATCH (c:Drug)-[t:TREATS]->(d:Disease) RETURN c.id AS c, d.id AS d, t.primary_knowledge_source AS src "
        "ORDER BY c, d LIMIT 1", database_=db).records[0]
    body = api.get("/edges", params={"a": rec["d"], "b": rec["c"]}).json()  # either direction
    assert body["a"]["id"] == rec["d"] and body["b"]["id"] == rec["c"]
    treats = [e for e in body["edges"] if e["type"] == "TREATS"]
    assert len(treats) == 1 and treats[0]["subject"] == rec["c"] and treats[0]["object"] == rec["d"]
    assert treats[0]["kind"] == "curated" and treats[0]["source"] == rec["src"] and treats[0]["sentences"] == []
    assert treats[0]["edge_release"] and treats[0]["source_version"]
    only = api.get("/edges", params={"a": rec["c"], "b": rec["d"], "types": "TREATS"}).json()["edges"]
    assert [e["type"] for e in only] == ["TREATS"]

    gene, diseases = next(iter(overlays["predicted"].items()))
    pred = api.get("/edges", params={"a": gene, "b": diseases[0]}).json()["edges"]
    p = next(e for e in pred if e["type"] == "PREDICTED_ASSOCIATED_WITH")
    assert p["kind"] == "predicted" and p["run_id"] == RUN_ID and p["probability"] == pytest.approx(0.9)
    s, t = overlays["sub_edges"][0]
    ov = [e for e in api.get("/edges", params={"a": s, "b": t}).json()["edges"] if e["type"] == "OVERLAY_EDGE"]
    assert {e["overlay_id"] for e in ov} >= {DELTA} and all(e["kind"] == "overlay" for e in ov)

    r = api.get("/edges", params={"a": rec["c"], "b": "MESH:D000000000"})
    assert r.status_code == 404 and "MESH:D000000000" in r.json()["detail"]


def test_client_edges_and_overlays(live_api, overlays):
    from targetkg.client import Client

    with Client(live_api) as kg:
        listed = kg.overlays(cohort=COHORT)
        assert set(listed["id"]) == {BASAL, DELTA} and listed.attrs["release"]
        df = kg.overlay_edges(DELTA, touching="predicted_target")
        predicted = overlays["predicted"]
        assert len(df) == df.attrs["total"] > 0 and df.attrs["overlay"]["kind"] == "delta_ecv_subnetwork"
        assert all(s in predicted or t in predicted for s, t in zip(df["source"], df["target"]))
        gene, diseases = next(iter(predicted.items()))
        edges = kg.edges(gene, diseases[0])
        assert "PREDICTED_ASSOCIATED_WITH" in set(edges["type"])
