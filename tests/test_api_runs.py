"""GET /runs, /runs/{id} and /predictions over predictions written by the real write-back code."""

from __future__ import annotations

import math

import pytest
from fastapi.testclient import TestClient
from targetkg.service.app import create_app

RUN_ID = "test-api-run-s0"
OTHER_RUN = "test-api-run-s1"


@pytest.fixture()
def api(warehouse):
    with TestClient(create_app()) as client:
        yield client


def _run(run_id: str, model: str, created_at: str) -> dict:
    return {"run_id": run_id, "model": model, "params": {"dim": 32, "epochs": 3}, "release": "test-release",
            "created_at": created_at, "split": {"mode": "hold_out_drugs", "seed": 0}, "code_version": "test",
            # an empty test set gives NaN metrics; the API must still answer (JSON has no NaN)
            "metrics": {"TREATS": {model: {"auroc_all": 0.81, "mrr": 0.1, "hits_at_10": 0.25},
                                   "degree": {"auroc_all": 0.8, "mrr": 0.09, "hits_at_10": 0.2},
                                   "path_count": {"auroc_all": 0.84, "mrr": float("nan"), "hits_at_10": 0.39}}},
            "epochs": 150, "relations": ["TREATS"],
            "export": {"source": "infores:hetionet", "source_version": "v1.0", "edges": 33007, "checksum": "abc"}}


@pytest.fixture()
def written_runs(warehouse):
    """Two runs of PREDICTED_TREATS edges (3 drugs x 4 diseases, one of them a curated TREATS edge)."""
    from targetkg.models.linkpred.writeback import delete_run_edges, write_predictions

    from targetkg.settings import get_settings

    recs, _, _ = warehouse.execute_query(
        "MATCH (d:Drug)-[:TREATS]->(x:Disease) WITH d, collect(x.id) AS known ORDER BY d.id LIMIT 3 "
        "RETURN d.id AS drug, known[0] AS known")
    recs2, _, _ = warehouse.execute_query("MATCH (x:Disease) RETURN x.id AS id ORDER BY x.id LIMIT 3")
    rows, truth = [], {}
    for i, rec in enumerate(recs):
        objects = [rec["known"]] + [r["id"] for r in recs2 if r["id"] != rec["known"]][:3]
        for j, obj in enumerate(objects):
            score = 10.0 - i - j * 0.5
            rows.append({"s": rec["drug"], "o": obj, "score": score, "probability": 1 / (1 + math.exp(-score / 4)),
                         "rank": j + 1, "paths": [f"{rec['drug']} -[BINDS]-> gene -> {obj}"], "contribs": [1.0],
                         "expl": "{}"})
            truth[(rec["drug"], obj)] = j == 0
    drv = warehouse
    db = get_settings().neo4j_database
    write_predictions(drv, db, _run(RUN_ID, "rgcn", "2026-11-21T09:00:00+00:00"), "TREATS", rows, "Drug", "Disease")
    write_predictions(drv, db, _run(OTHER_RUN, "rotate", "2026-11-21T10:00:00+00:00"), "TREATS", rows[:2],
                      "Drug", "Disease")
    try:
        yield rows, truth
    finally:
        delete_run_edges(drv, db, RUN_ID)
        delete_run_edges(drv, db, OTHER_RUN)


def test_runs_lists_model_runs_with_metrics(api, written_runs):
    rows, _ = written_runs
    body = api.get("/runs").json()
    ids = [r["id"] for r in body["runs"]]
    assert ids.index(OTHER_RUN) < ids.index(RUN_ID), "newest first"
    run = next(r for r in body["runs"] if r["id"] == RUN_ID)
    assert run["model"] == "rgcn" and run["predicted_types"] == ["PREDICTED_TREATS"]
    assert run["subjects"] == len({r["s"] for r in rows})
    assert run["metrics"]["TREATS"]["degree"]["auroc_all"] == 0.8
    assert run["metrics"]["TREATS"]["path_count"]["mrr"] is None  # NaN -> null
    assert run["params"] == {"dim": 32, "epochs": 3} and run["split"]["mode"] == "hold_out_drugs"
    # what it takes to reproduce the run travels with it
    assert run["relations"] == ["TREATS"] and run["epochs"] == 150
    assert run["export"] == {"source": "infores:hetionet", "source_version": "v1.0", "edges": 33007, "checksum": "abc"}
    assert body["release"] and body["total"] == len(body["runs"])
    only = api.get("/runs", params={"model": "rotate"}).json()["runs"]
    assert [r["id"] for r in only if r["id"] in (RUN_ID, OTHER_RUN)] == [OTHER_RUN]


def test_run_detail_counts_its_predictions(api, written_runs):
    rows, _ = written_runs
    body = api.get(f"/runs/{RUN_ID}").json()
    assert body["run"]["id"] == RUN_ID
    assert body["predictions"] == {"PREDICTED_TREATS": len(rows), "PREDICTED_TARGETS": 0, "PREDICTED_ASSOCIATED_WITH": 0}
    missing = api.get("/runs/no-such-run")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/problem+json")
    assert "GET /runs" in missing.json()["detail"]


def test_predictions_filter_by_run_relation_score_and_known(api, written_runs):
    rows, truth = written_runs
    body = api.get("/predictions", params={"run": RUN_ID, "limit": 1000}).json()
    assert body["total"] == len(rows) == len(body["predictions"])
    scores = [p["score"] for p in body["predictions"]]
    assert scores == sorted(scores, reverse=True)
    for p in body["predictions"]:
        assert p["run_id"] == RUN_ID and p["model"] == "rgcn" and p["type"] == "PREDICTED_TREATS"
        assert p["relation"] == "TREATS" and p["known"] == truth[(p["subject"], p["object"])]
        assert p["explanation_paths"] and p["explanation_contributions"] == [1.0] and p["subject_name"]
    # the curated relation name and the predicted type select the same edges
    same = api.get("/predictions", params={"run": RUN_ID, "relation": "TREATS"}).json()
    assert same["total"] == api.get("/predictions", params={"run": RUN_ID, "relation": "PREDICTED_TREATS"}).json()["total"]
    assert api.get("/predictions", params={"run": RUN_ID, "relation": "GENE_ASSOCIATED_WITH_CONDITION"}).json()["total"] == 0
    novel = api.get("/predictions", params={"run": RUN_ID, "include": "novel", "limit": 1000}).json()
    assert novel["total"] == sum(not k for k in truth.values()) and not any(p["known"] for p in novel["predictions"])
    high = api.get("/predictions", params={"run": RUN_ID, "min_score": 9.0}).json()
    assert high["total"] == sum(r["score"] >= 9.0 for r in rows)
    drug = rows[0]["s"]
    one = api.get("/predictions", params={"run": RUN_ID, "subject": drug}).json()
    assert one["total"] == sum(r["s"] == drug for r in rows) and {p["subject"] for p in one["predictions"]} == {drug}
    page = api.get("/predictions", params={"run": RUN_ID, "limit": 2, "offset": 2}).json()
    assert [p["score"] for p in page["predictions"]] == scores[2:4]
    both = api.get("/predictions", params={"order_by": "probability", "limit": 1000}).json()
    assert {p["run_id"] for p in both["predictions"]} >= {RUN_ID, OTHER_RUN}


def test_predictions_bad_filters_are_problems(api, written_runs):
    bad = api.get("/predictions", params={"relation": "PARTICIPATES_IN"})
    assert bad.status_code == 400 and "PREDICTED_TREATS" in bad.json()["detail"]
    assert api.get("/predictions", params={"run": "no-such-run"}).status_code == 404
    assert api.get("/predictions", params={"min_probability": 2}).status_code == 422


def test_client_runs_and_predictions(live_api, written_runs):
    from targetkg.client import Client

    rows, _ = written_runs
    with Client(live_api) as kg:
        runs = kg.runs()
        mine = runs[runs["run_id"] == RUN_ID]
        assert set(mine["evaluated"]) == {"rgcn", "degree", "path_count"}
        assert mine.loc[mine["is_run_model"], "auroc_all"].item() == 0.81
        assert kg.run(RUN_ID)["predictions"]["PREDICTED_TREATS"] == len(rows)
        preds = kg.predictions(run=RUN_ID, relation="TREATS", limit=5)
        assert len(preds) == 5 and preds.attrs["total"] == len(rows) and preds["score"].is_monotonic_decreasing
