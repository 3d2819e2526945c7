"""Write-back and experiment bookkeeping of link prediction on the real warehouse: what `known`
means, what `written` counts, the ModelRun's provenance, earlier predictions never becoming
training edges, and `targetkg train --config … --write-model best` writing what it says."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from targetkg.models.linkpred import api
from targetkg.models.linkpred.writeback import delete_run_edges, write_predictions

REL = ["DIRECTLY_PHYSICALLY_INTERACTS_WITH", "GENE_ASSOCIATED_WITH_CONDITION", "SIMILAR_TO", "MEMBER_OF", "TREATS"]
LIT = "infores:test-linkpred-literature"


def _q(drv, settings, cypher, **params):
    return drv.execute_query(cypher, database_=settings.neo4j_database, **params)[0]


def _run(run_id: str) -> dict:
    return {"run_id": run_id, "model": "rgcn", "params": {"dim": 32}, "release": "test-release",
            "created_at": "2026-11-22T00:00:00+00:00", "split": {"mode": "head", "seed": 3}, "code_version": "test",
            "metrics": {"TREATS": {"rgcn": {"mrr": 0.2}}}, "epochs": 150, "relations": ["TREATS"],
            "export": {"source": "infores:hetionet", "relations": REL, "edges": 33007, "checksum": "abc"}}


def _row(s, o, rank):
    return {"s": s, "o": o, "score": 1.0 / rank, "probability": 0.5, "rank": rank, "paths": [], "contribs": [],
            "expl": "[]"}


def test_known_means_a_curated_edge_and_written_counts_edges(warehouse, settings):
    """A pair joined only by a text-mined TREATS edge (one literature sentence) is not `known`
    (the API never counts text-mined edges as curated); `written` is the number of edges created."""
    run_id = "test-linkpred-known"
    curated = _q(warehouse, settings, "MATCH (d:Drug)-[t:TREATS]->(x:Disease) WHERE t.agent_type <> 'text_mining_agent' "
                 "RETURN d.id AS d, x.id AS x ORDER BY d, x LIMIT 1")[0]
    free = _q(warehouse, settings, "MATCH (d:Drug), (x:Disease) WHERE NOT EXISTS { (d)-[:TREATS]->(x) } "
              "RETURN d.id AS d, x.id AS x ORDER BY d, x LIMIT 2")
    mined, novel = free[0], free[1]
    _q(warehouse, settings, "MATCH (d:Drug {id: $d}), (x:Disease {id: $x}) CREATE (d)-[:TREATS {agent_type: "
       "'text_mining_agent', knowledge_level: 'knowledge_assertion', primary_knowledge_source: $src}]->(x)",
       d=mined["d"], x=mined["x"], src=LIT)
    rows = [_row(curated["d"], curated["x"], 1), _row(mined["d"], mined["x"], 1), _row(novel["d"], novel["x"], 1),
            _row("DRUGBANK:DB-not-in-the-graph", novel["x"], 1)]
    try:
        written = write_predictions(warehouse, settings.neo4j_database, _run(run_id), "TREATS", rows, "Drug", "Disease")
        got = {(r["d"], r["x"]): r["k"] for r in _q(
            warehouse, settings, "MATCH (d)-[p:PREDICTED_TREATS {run_id: $r}]->(x) RETURN d.id AS d, x.id AS x, "
            "p.known AS k", r=run_id)}
        assert got == {(curated["d"], curated["x"]): True, (mined["d"], mined["x"]): False,
                       (novel["d"], novel["x"]): False}
        assert written == len(got) == 3  # the row whose drug is not in the graph wrote nothing
        # the ModelRun holds what it takes to reproduce the run, not only the model's params
        m = _q(warehouse, settings, "MATCH (m:ModelRun {id: $r}) RETURN m", r=run_id)[0]["m"]
        assert m["epochs"] == 150 and m["relations"] == ["TREATS"]
        assert json.loads(m["export"])["checksum"] == "abc" and json.loads(m["split"])["seed"] == 3
    finally:
        delete_run_edges(warehouse, settings.neo4j_database, run_id)
        _q(warehouse, settings, "MATCH ()-[t:TREATS {primary_knowledge_source: $src}]->() DELETE t", src=LIT)


def test_written_predictions_never_become_training_edges(warehouse, settings):
    """PREDICTED_* edges copy the curated edges they rank as known (held-out ones included): a run
    exporting the whole warehouse (no source filter) must not train on an earlier run's output."""
    old_run = "test-linkpred-earlier-run"
    treats = _q(warehouse, settings, "MATCH (d:Drug)-[:TREATS]->(x:Disease) RETURN d.id AS d, x.id AS x")
    rows = [_row(r["d"], r["x"], 1) for r in treats]
    write_predictions(warehouse, settings.neo4j_database, _run(old_run), "TREATS", rows, "Drug", "Disease")
    run_id = None
    try:
        run_id = api.train(model="degree", relations=["TREATS"], epochs=0, seed=0, source=None, baselines=False,
                           settings=settings)
        _, tr, _, _ = api.load_run(run_id, settings)
        assert "TREATS" in tr.relations and "INTERACTS_WITH" in tr.relations  # the whole warehouse
        assert not [r for r in tr.relations if r.startswith("PREDICTED_")]
        assert "ModelRun" not in set(tr.labels)
        with pytest.raises(ValueError, match="model predictions"):
            api.train(model="degree", relations=["TREATS"], epochs=0, export_relations=["PREDICTED_TREATS"],
                      baselines=False, settings=settings)
    finally:
        delete_run_edges(warehouse, settings.neo4j_database, old_run)
        if run_id:
            api.delete_run(run_id, settings=settings, files=True)


def _cli_train(tmp_path, cfg: dict, *args: str):
    from conftest import cli_env, targetkg_cmd

    path = tmp_path / "lp.json"
    path.write_text(json.dumps(cfg))
    proc = subprocess.run([*targetkg_cmd(), "train", "--epochs", "0", "--predict-top-k", "3", "--write-model", "best",
                           "--config", str(path), *args], capture_output=True, text=True,
                          env=cli_env(COLUMNS="250"), timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    trained = re.search(r"run (\S+) saved", proc.stdout).group(1)
    chosen = re.search(r"-> writing (\w+)", proc.stdout).group(1)
    written = re.findall(r"wrote (\w+) predictions of run (\S+):", proc.stdout)
    return trained, chosen, written


def _valid(settings, run_id, relation):
    run = json.loads((api.runs_dir(settings) / run_id / "run.json").read_text())
    return run["validation_metrics"][relation]


def test_cli_best_model_with_a_config_naming_the_model(warehouse, settings, tmp_path):
    """The config's `model` wins over --model for the experiment, but must not replace the model
    --write-model best chose (it used to retrain the loser and write its predictions)."""
    trained, chosen, written = _cli_train(tmp_path, {"model": "degree", "export_relations": REL})
    valid = _valid(settings, trained, "TREATS")
    assert set(valid) == {"degree", "pathcount"}
    assert chosen == max(valid, key=lambda name: valid[name]["mrr"]) == "pathcount"
    [(relation, run_id)] = written
    try:
        assert relation == "TREATS"
        assert json.loads((api.runs_dir(settings) / run_id / "run.json").read_text())["model"] == chosen
        recs = _q(warehouse, settings, "MATCH ()-[p:PREDICTED_TREATS {run_id: $r}]->() RETURN collect(DISTINCT p.model) "
                  "AS models, count(p) AS n", r=run_id)
        assert recs[0]["models"] == [chosen] and recs[0]["n"] > 0
    finally:
        api.delete_run(run_id, settings=settings)


def test_cli_writes_the_configured_target_relation(warehouse, settings, tmp_path):
    """With the target relations in the config, the predictions written are of those relations,
    not of the --relations default (TREATS), and the best model is chosen on their validation edges."""
    trained, chosen, written = _cli_train(
        tmp_path, {"model": "degree", "relations": ["GENE_ASSOCIATED_WITH_CONDITION"], "split_mode": "random",
                   "export_relations": REL}, "--predict-per", "object")
    valid = _valid(settings, trained, "GENE_ASSOCIATED_WITH_CONDITION")
    assert chosen == max(valid, key=lambda name: valid[name]["mrr"])
    assert [w[0] for w in written] == ["GENE_ASSOCIATED_WITH_CONDITION"]
    run_id = written[0][1]
    try:
        counts = _q(warehouse, settings, "OPTIONAL MATCH ()-[t:PREDICTED_TREATS {run_id: $r}]->() WITH count(t) AS t "
                    "OPTIONAL MATCH ()-[a:PREDICTED_ASSOCIATED_WITH {run_id: $r}]->() "
                    "RETURN t, count(a) AS a, max(a.rank) AS max_rank", r=run_id)[0]
        assert counts["t"] == 0 and counts["a"] > 100 and counts["max_rank"] == 3
    finally:
        api.delete_run(run_id, settings=settings)


def test_run_release_is_the_release_of_the_data_it_learned_from(warehouse, settings):
    """A run on the Hetionet edges records Hetionet's release, not the newest release of any source
    (re-loading Reactome later must not re-date a model that never saw it)."""
    db = settings.neo4j_database
    het = _q(warehouse, settings, "MATCH (s:Source {id: 'infores:hetionet'}) RETURN s.release AS r, s.version AS v")[0]
    old = _q(warehouse, settings, "MATCH (s:Source {id: 'infores:reactome'}) RETURN s.release AS r")[0]["r"]
    run_id = None
    try:
        _q(warehouse, settings, "MATCH (s:Source {id: 'infores:reactome'}) SET s.release = 'test-release-reloaded-later'")
        run_id = api.train(model="degree", relations=["TREATS"], epochs=0, seed=0, export_relations=REL,
                           baselines=False, settings=settings)
        run = json.loads((api.runs_dir(settings) / run_id / "run.json").read_text())
        assert run["release"] == het["r"] != "test-release-reloaded-later"
        assert run["export"]["source"] == "infores:hetionet" and run["export"]["source_version"] == het["v"]
    finally:
        warehouse.execute_query("MATCH (s:Source {id: 'infores:reactome'}) SET s.release = $r", r=old, database_=db)
        if run_id:
            api.delete_run(run_id, settings=settings, files=True)


def test_rerunning_an_experiment_replaces_its_predictions(warehouse, settings):
    """The same experiment on the same data is the same run: training and writing it twice leaves
    one set of predictions (it used to add a second, time-stamped run beside the first); another
    seed is another run."""
    kw = {"model": "degree", "relations": ["TREATS"], "epochs": 0, "export_relations": REL, "baselines": False,
          "settings": settings}
    first = api.train(seed=5, **kw)
    again = api.train(seed=5, **kw)
    other = api.train(seed=6, **kw)
    try:
        assert first == again != other
        counts = []
        for run_id in (first, again):
            out = api.predict(run_id, "TREATS", top_k=2, write=True, settings=settings, explain_top=1)
            counts.append(_q(warehouse, settings, "MATCH ()-[p:PREDICTED_TREATS]->() WHERE p.run_id IN $ids "
                             "RETURN count(p) AS n", ids=[first, again])[0]["n"])
            assert counts[-1] == out["written"] > 0
        assert counts[0] == counts[1]
        assert _q(warehouse, settings, "MATCH (m:ModelRun) WHERE m.id IN $ids RETURN count(m) AS n",
                  ids=[first, again])[0]["n"] == 1
        # a relation the run did not hold out (no evaluation, calibration or selection) is refused
        with pytest.raises(ValueError, match="trained to predict"):
            api.predict(first, "GENE_ASSOCIATED_WITH_CONDITION", top_k=2, write=False, settings=settings)
    finally:
        for run_id in {first, again, other}:
            api.delete_run(run_id, settings=settings, files=True)


def test_run_id_names_the_data_not_the_other_types_in_the_warehouse(warehouse, settings):
    """`make up` trains on every Hetionet type and loads the literature afterwards: on the second
    `make up` the warehouse holds new relationship types (none of them Hetionet edges), the exported
    graph is the same, and so must be the run (or its predictions would be written a second time)."""
    kw = {"model": "degree", "relations": ["TREATS"], "epochs": 0, "seed": 8, "baselines": False,
          "settings": settings}
    first = api.train(**kw)
    later = None
    try:
        _q(warehouse, settings, "MATCH (d:Drug) WITH d ORDER BY d.id LIMIT 1 MATCH (x:Disease) WITH d, x "
           "ORDER BY x.id LIMIT 1 CREATE (d)-[:TEST_LINKPRED_OTHER_TYPE {primary_knowledge_source: $src}]->(x)",
           src=LIT)
        later = api.train(**kw)
        assert later == first
    finally:
        _q(warehouse, settings, "MATCH ()-[t:TEST_LINKPRED_OTHER_TYPE]->() DELETE t")
        for run_id in {first, later} - {None}:
            api.delete_run(run_id, settings=settings, files=True)


def test_pathcount_writes_no_prediction_without_evidence(warehouse, settings):
    """A pair that no path joins has the path-count model's floor score (its intercept), shared by
    thousands of pairs and ranked among them arbitrarily: it is not a prediction and is not written
    (in the development warehouse 64,677 of 153,500 written PREDICTED_TREATS had no path)."""
    run_id = api.train(model="pathcount", relations=["TREATS"], epochs=0, seed=0, export_relations=REL,
                       baselines=False, settings=settings)
    try:
        run, tr, sp, sc = api.load_run(run_id, settings)
        rel = tr.relation_id("TREATS")
        floor = sc.no_evidence_score(rel)
        heads, tails = api.candidates(tr, tr.mapped, rel)
        scores = sc.score_block(rel, heads, tails)
        per_head = (scores > floor).sum(axis=1)
        k = 100
        assert (per_head < k).any()  # some drugs have fewer than k pairs with a path
        out = api.predict(run_id, "TREATS", top_k=k, write=True, settings=settings)  # default: explain every one
        assert out["n"] == sum(min(k, int(c)) for c in per_head) > 0
        assert out["without_evidence"] == len(heads) * min(k, len(tails)) - out["n"]
        rows = out["predictions"]
        assert all(r["score"] > floor for r in rows)
        assert all(r["paths"] for r in rows)  # every written prediction has a path that explains it
        ranks = {}
        for r in rows:
            ranks.setdefault(r["s"], []).append(r["rank"])
        assert all(sorted(v) == list(range(1, len(v) + 1)) for v in ranks.values())
        assert out["written"] == out["n"]
        # stored: every written prediction has its paths and contributions; the first 10 per drug
        # also the detailed JSON
        stored = _q(warehouse, settings, "MATCH ()-[p:PREDICTED_TREATS {run_id: $r}]->() RETURN "
                    "sum(CASE WHEN size(p.explanation_paths) > 0 AND size(p.explanation_paths) = "
                    "size(p.explanation_contributions) THEN 1 ELSE 0 END) AS explained, "
                    "sum(CASE WHEN p.explanation_json <> '[]' THEN 1 ELSE 0 END) AS detailed, "
                    "sum(CASE WHEN p.explanation_json <> '[]' AND p.rank > 10 THEN 1 ELSE 0 END) AS deep", r=run_id)[0]
        assert stored["explained"] == out["n"] and stored["deep"] == 0
        assert stored["detailed"] == sum(min(10, int(c)) for c in per_head)
    finally:
        api.delete_run(run_id, settings=settings, files=True)
