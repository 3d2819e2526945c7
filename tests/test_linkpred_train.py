"""Link prediction end to end on the real warehouse: train (tiny), evaluate against the baselines
on a degree-aware evaluation, write back with a ModelRun, explanations, idempotent re-write, delete."""

from __future__ import annotations

import json

import pytest
from targetkg.models.linkpred import api

REL = ["DIRECTLY_PHYSICALLY_INTERACTS_WITH", "GENE_ASSOCIATED_WITH_CONDITION", "SIMILAR_TO", "MEMBER_OF", "TREATS"]
_runs: dict = {}


@pytest.fixture()
def gcn_run(warehouse, settings):
    """A short R-GCN/DistMult run holding out whole drugs (split_mode=head), trained once."""
    if "gcn" not in _runs:
        _runs["gcn"] = api.train(model="gcn", relations=["TREATS"], epochs=15, seed=0, export_relations=REL,
                                 split_mode="head", params={"dim": 32, "edges_per_epoch": 20000}, settings=settings)
    return _runs["gcn"]


def _run(settings, run_id):
    return json.loads((api.runs_dir(settings) / run_id / "run.json").read_text())


def test_gcn_beats_degree_on_new_drugs(gcn_run, settings):
    run = _run(settings, gcn_run)
    m = run["metrics"]["TREATS"]
    assert set(m) == {"gcn", "degree", "pathcount"}  # baselines always reported beside the model
    assert run["split"]["mode"] == "head" and run["split"]["test"] > 50
    for name in m:
        for key in ("mrr", "hits_at_1", "hits_at_3", "hits_at_10", "auroc_sampled", "auprc_sampled",
                    "auroc_degree_matched", "auroc_all", "auprc_all"):
            assert 0.0 <= m[name][key] <= 1.0
        assert list(m[name]["enrichment"]) == [str(x) for x in range(1, 11)]
    # a degree-only prior cannot separate degree-matched negatives; the trained model can
    assert m["degree"]["auroc_degree_matched"] < 0.62
    assert m["gcn"]["auroc_degree_matched"] > m["degree"]["auroc_degree_matched"] + 0.05
    assert m["pathcount"]["auroc_degree_matched"] > m["degree"]["auroc_degree_matched"]
    assert run["release"] and run["code_version"] and run["params"]["dim"] == 32
    # convergence bookkeeping: early stopping on the validation edges, time and epochs to the best epoch
    g = m["gcn"]
    assert g["converge_epochs"] in run["training"]["validation_epochs"] and g["epochs_run"] <= 15
    assert 0 < g["epoch_s"] and 0 < g["converge_s"] <= run["timings"]["gcn_train_s"] + 1e-6
    assert set(run["validation_metrics"]["TREATS"]) == {"gcn", "degree", "pathcount"}
    plots = api.runs_dir(settings) / gcn_run / "plots"
    for kind in ("roc", "pr", "enrichment"):
        assert (plots / f"{kind}_gcn_TREATS.png").stat().st_size > 1000


def test_kge_by_name_pykeen(warehouse, settings):
    rid = api.train(model="distmult", relations=["TREATS"], epochs=2, seed=1, export_relations=REL,
                    split_mode="random", params={"embedding_dim": 16, "es_frequency": 1, "es_patience": 2},
                    settings=settings, baselines=False)
    run = _run(settings, rid)
    m = run["metrics"]["TREATS"]["distmult"]
    assert 0 <= m["pykeen"]["mrr"] <= 1 and 0 <= m["mrr"] <= 1  # PyKEEN's own filtered evaluator, and ours
    assert run["split"]["mode"] == "random" and len(run["losses"]) == 2
    # PyKEEN's early stopper ran on the validation TREATS edges after every epoch, with the shared
    # evaluation's MRR (the one model selection uses) as its metric
    tr_info = run["training"]
    assert len(tr_info["validation_mrr"]) == 2
    assert tr_info["best_validation"] in tr_info["validation_mrr"]
    # the best epoch's weights were restored: the run's own validation figure is the stopper's best
    assert run["validation_metrics"]["TREATS"]["distmult"]["mrr"] == pytest.approx(tr_info["best_validation"])
    assert m["converge_epochs"] == tr_info["best_epoch"] in (1, 2) and m["epochs_run"] == 2
    assert 0 < m["epoch_s"] <= m["converge_s"] and run["params"]["loss"] == "SoftplusLoss"
    assert run["validation_metrics"]["TREATS"]["distmult"]["n_test"] == run["split"]["valid"]
    with pytest.raises(ValueError):
        api.train(model="nosuchmodel", relations=["TREATS"], epochs=1, export_relations=REL, settings=settings)


def test_write_back_explain_rewrite_delete(gcn_run, warehouse, settings):
    db = settings.neo4j_database
    q = lambda c, **p: warehouse.execute_query(c, database_=db, **p)[0]
    n_treats = q("MATCH ()-[r:TREATS]->() RETURN count(r) AS n")[0]["n"]
    out = api.predict(gcn_run, "TREATS", top_k=5, write=True, settings=settings)
    assert out["written"] == out["n"] and out["n"] >= 5 * 1000
    recs = q("MATCH (a:Drug)-[p:PREDICTED_TREATS {run_id: $r}]->(b:Disease) RETURN p ORDER BY p.score DESC", r=gcn_run)
    assert len(recs) == out["n"]
    p = recs[0]["p"]
    for key in ("score", "probability", "rank", "model", "run_id", "release", "known"):
        assert p[key] is not None, key
    assert p["agent_type"] == "computational_model" and p["knowledge_level"] == "prediction" and p["model"] == "gcn"
    assert 0.0 <= p["probability"] <= 1.0 and 1 <= p["rank"] <= 5
    known = q("MATCH (a)-[p:PREDICTED_TREATS {run_id: $r}]->(b) RETURN p.known AS k, exists((a)-[:TREATS]->(b)) AS e",
              r=gcn_run)
    assert all(r["k"] == r["e"] for r in known)
    mr = q("MATCH (m:ModelRun {id: $r}) OPTIONAL MATCH (m)-[l:PREDICTED_FOR]->(d:Drug) "
           "RETURN m, count(l) AS n", r=gcn_run)
    assert len(mr) == 1 and mr[0]["n"] == out["n"] // 5
    assert json.loads(mr[0]["m"]["metrics"])["TREATS"]["gcn"]["mrr"] >= 0
    for key in ("model", "params", "release", "created_at"):
        assert mr[0]["m"][key]
    # explanations: one Cypher query / one API call returns the top paths with contributions
    ex = q("MATCH (a)-[p:PREDICTED_TREATS {run_id: $r}]->(b) WHERE size(p.explanation_paths) > 0 "
           "RETURN a.id AS a, b.id AS b, p.explanation_paths AS paths, p.explanation_contributions AS c LIMIT 1",
           r=gcn_run)
    assert ex and len(ex[0]["paths"]) == len(ex[0]["c"]) > 0
    assert ex[0]["paths"][0].startswith(ex[0]["a"]) and ex[0]["paths"][0].endswith(ex[0]["b"])
    api_ex = api.explanations(gcn_run, ex[0]["a"], ex[0]["b"], settings=settings)
    assert api_ex[0]["paths"] == ex[0]["paths"]
    # idempotent re-write: same edges, no duplicates
    before = q("MATCH ()-[p:PREDICTED_TREATS {run_id: $r}]->() RETURN count(p) AS n", r=gcn_run)[0]["n"]
    api.predict(gcn_run, "TREATS", top_k=5, write=True, settings=settings, explain_top=1)
    after = q("MATCH (a)-[p:PREDICTED_TREATS {run_id: $r}]->(b) RETURN count(p) AS n, count(DISTINCT [a.id, b.id]) AS d",
              r=gcn_run)[0]
    assert after["n"] == before == after["d"]
    assert q("MATCH (m:ModelRun {id: $r}) RETURN count(m) AS n", r=gcn_run)[0]["n"] == 1
    # delete: only the run's edges go; curated edges stay
    api.delete_run(gcn_run, settings=settings)
    assert q("MATCH ()-[p:PREDICTED_TREATS {run_id: $r}]->() RETURN count(p) AS n", r=gcn_run)[0]["n"] == 0
    assert q("MATCH (m:ModelRun {id: $r}) RETURN count(m) AS n", r=gcn_run)[0]["n"] == 0
    assert q("MATCH ()-[r:TREATS]->() RETURN count(r) AS n")[0]["n"] == n_treats


def test_cli_writes_back_the_best_model_on_the_validation_edges(warehouse, settings, tmp_path):
    """`targetkg train --write-model best` writes the model or baseline with the best validation MRR."""
    import re
    import subprocess

    from conftest import cli_env, targetkg_cmd

    cfg = tmp_path / "lp.json"
    cfg.write_text(json.dumps({"export_relations": REL}))
    proc = subprocess.run([*targetkg_cmd(), "train", "--model", "degree", "--epochs", "0", "--predict-top-k", "3",
                           "--write-model", "best", "--config", str(cfg)], capture_output=True, text=True,
                          env=cli_env(COLUMNS="250"), timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    trained = re.search(r"run (\S+) saved", proc.stdout).group(1)
    chosen = re.search(r"-> writing (\w+)", proc.stdout).group(1)
    written = re.search(r"wrote TREATS predictions of run (\S+):", proc.stdout).group(1)
    valid = _run(settings, trained)["validation_metrics"]["TREATS"]
    assert chosen == max(valid, key=lambda name: valid[name]["mrr"])
    try:
        assert _run(settings, written)["model"] == chosen
        recs, _, _ = warehouse.execute_query(
            "MATCH (m:ModelRun {id: $run})-[:PREDICTED_FOR]->(d:Drug)-[p:PREDICTED_TREATS {run_id: $run}]->() "
            "RETURN count(DISTINCT d) AS drugs, count(p) AS n, max(p.rank) AS max_rank", run=written)
        assert recs[0]["n"] > 0 and recs[0]["max_rank"] == 3
    finally:
        api.delete_run(written, settings=settings)


def test_predicted_targets_per_disease_feed_the_target_ranking(warehouse, settings):
    """Gene -> disease predictions kept per object (the best genes for each disease), written with
    rank_of='object', listed by GET /predictions and counted in /diseases/{id}/targets."""
    from fastapi.testclient import TestClient
    from targetkg.service.app import create_app

    db = settings.neo4j_database
    run_id = api.train(model="degree", relations=["GENE_ASSOCIATED_WITH_CONDITION"], epochs=0, seed=0,
                       export_relations=REL, split_mode="tail", baselines=False, settings=settings)
    try:
        out = api.predict(run_id, "GENE_ASSOCIATED_WITH_CONDITION", top_k=3, write=True, settings=settings,
                          explain_top=1, per="object")
        by_disease: dict = {}
        for row in out["predictions"]:
            by_disease.setdefault(row["o"], []).append(row)
        assert out["per"] == "object" and out["written"] == out["n"] == 3 * len(by_disease) > 100
        for rows in by_disease.values():
            assert [r["rank"] for r in rows] == [1, 2, 3]
            assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
        recs, _, _ = warehouse.execute_query(
            "MATCH (g:Gene)-[p:PREDICTED_ASSOCIATED_WITH {run_id: $r}]->(d:Disease) "
            "RETURN d.id AS d, collect(p.rank) AS ranks, collect(DISTINCT p.rank_of) AS rank_of", r=run_id, database_=db)
        assert len(recs) == len(by_disease)
        assert all(sorted(r["ranks"]) == [1, 2, 3] and r["rank_of"] == ["object"] for r in recs)
        disease = next(r["o"] for r in out["predictions"] if not r["known"])
        genes = {r["s"]: r for r in out["predictions"] if r["o"] == disease}
        with TestClient(create_app()) as client:
            preds = client.get("/predictions", params={"run": run_id, "object": disease}).json()["predictions"]
            assert {p["subject"] for p in preds} == set(genes) and {p["rank_of"] for p in preds} == {"object"}
            targets = client.get(f"/diseases/{disease}/targets", params={"limit": 1000}).json()["targets"]
        predicted = {t["gene"]: t["components"]["predicted"] for t in targets if t["components"]["predicted"] > 0}
        assert set(genes) <= set(predicted)  # a predicted target of the disease is ranked with its prediction
        with pytest.raises(ValueError, match="per must be"):
            api.predict(run_id, "GENE_ASSOCIATED_WITH_CONDITION", top_k=3, write=False, settings=settings, per="gene")
    finally:
        api.delete_run(run_id, settings=settings)


def test_cli_refuses_a_bad_prediction_option_before_training(settings):
    import subprocess

    from conftest import cli_env, targetkg_cmd

    before = set(api.runs_dir(settings).glob("*")) if api.runs_dir(settings).exists() else set()
    proc = subprocess.run([*targetkg_cmd(), "train", "--model", "degree", "--epochs", "0", "--predict-top-k", "3",
                           "--predict-per", "gene"], capture_output=True, text=True, env=cli_env(COLUMNS="250"),
                          timeout=300)
    assert proc.returncode == 1 and "--predict-per must be 'subject' or 'object', not 'gene'" in proc.stderr
    after = set(api.runs_dir(settings).glob("*")) if api.runs_dir(settings).exists() else set()
    assert after == before  # nothing was trained
