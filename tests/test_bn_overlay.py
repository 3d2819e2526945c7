"""Bayesian-network overlays in a real Neo4j, on the real GSE10072 lung-cancer clock-gene matrix."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from conftest import shared_data

GENES = {"ARNTL": 406, "NPAS2": 4862, "CLOCK": 9575, "CRY1": 1407, "CRY2": 1408, "NR1D1": 9572, "NR1D2": 9975,
         "PER1": 5187, "PER2": 8864, "PER3": 8863, "DBP": 1628, "TEF": 7008}
CURIE = {s: f"NCBIGene:{n}" for s, n in GENES.items()}
KEY = b"test-pseudonym-key"
OVERLAYS = Path(__file__).resolve().parent.parent / "cypher" / "overlays"
_PARAM = re.compile(r"^//.*:param (\w+) => '([^']*)'", re.MULTILINE)


def _matrix():
    path = shared_data() / "expression" / "GSE10072" / "GSE10072_clock_genes.csv"
    df = pd.read_csv(path, index_col=0)
    groups = df.pop("condition").astype(str)
    return path, df.astype(float), groups


def _write_genes(drv, with_curated_edge: bool = True):
    from targetkg.graph.writer import GraphWriter
    from targetkg.ingest.model import Edge, Node, Provenance

    w = GraphWriter(drv, release="qa", progress=False)
    w.ensure_schema()
    recs = [Node(c, "Gene", s) for s, c in CURIE.items()]
    if with_curated_edge:
        recs.append(Edge(CURIE["PER1"], "Gene", "INTERACTS_WITH", CURIE["CRY2"], "Gene", "test",
                         props={"source_file": "t"}))
    w.write(recs, Provenance("infores:test", "1"))


def _count(drv, q, **p):
    return drv.execute_query(q, **p).records[0][0]


def _overlay_edges(drv, oid):
    recs = drv.execute_query(
        "MATCH (a)-[e:OVERLAY_EDGE {overlay_id: $id}]->(b) RETURN a.id AS s, b.id AS t, properties(e) AS p", id=oid).records
    return {(r["s"], r["t"]): r["p"] for r in recs}


def test_overlays_on_gse10072(empty_db, settings):
    from targetkg.models.bn import ecv, learn, simulate, subnetworks
    from targetkg.models.bn.overlay import (
        delete_overlay,
        list_overlays,
        pseudonymise,
        write_overlay,
    )

    drv, db = empty_db, settings.neo4j_database
    _write_genes(drv)
    _, df, groups = _matrix()
    net = learn(df, score="bge", confidence="bootstrap", n_bootstrap=20, symbol_to_curie=CURIE, seed=0)
    assert set(net.variable_info["curie"]) == set(CURIE.values())
    res = ecv(net, df, groups=groups.to_numpy(), group_a="tumor", group_b="non-tumor", n_permutations=500)
    sub = subnetworks(res, net, mode="delta", top=0.25)

    # --- basal network
    s1 = write_overlay(drv, db, net, "basal_network", "gse10072-basal", cohort="GSE10072", samples=groups,
                       release="test", pseudonym_key_=KEY)
    assert s1["edges"] == len(net.edges) and s1["nodes"] == 12 and s1["samples"] == 107 and not s1["replaced"]
    edges = _overlay_edges(drv, "gse10072-basal")
    want = {(CURIE[s], CURIE[t]): (w, p) for s, t, w, p in net.edges[["source", "target", "weight", "posterior"]].itertuples(index=False)}
    assert set(edges) == set(want)
    for k, p in edges.items():
        assert p["weight"] == pytest.approx(want[k][0]) and p["posterior"] == pytest.approx(want[k][1])
        assert p["direction"] == ("positive" if want[k][0] > 0 else "negative")
    assert _count(drv, "MATCH (:Overlay {id: 'gse10072-basal'})-[:INCLUDES]->(g:Gene) RETURN count(g)") == 12

    # --- Delta ECv subnetwork (tumor vs non-tumor)
    s2 = write_overlay(drv, db, sub, "delta_ecv_subnetwork", "gse10072-delta", cohort="GSE10072", samples=groups,
                       network=net, ecv_result=res, release="test", pseudonym_key_=KEY, params={"top": 0.25})
    assert s2["edges"] == len(sub.edges)
    edges = _overlay_edges(drv, "gse10072-delta")
    frame = res.to_frame().set_index(["source", "target"])
    for (s, t, sel) in sub.edges[["source", "target", "selected"]].itertuples(index=False):
        p = edges[(CURIE[s], CURIE[t])]
        assert p["selected"] == bool(sel) and p["source_variable"] == s and p["target_variable"] == t
        if sel:
            row = frame.loc[(s, t)]
            assert p["delta_ecv"] == pytest.approx(row["delta"]) and p["q_value"] == pytest.approx(row["qvalue"])
            assert p["p_value"] == pytest.approx(row["pvalue"])
            assert p["direction"] == ("up" if row["mean_a"] > row["mean_b"] else "down")
    o = [x for x in list_overlays(drv, db) if x["id"] == "gse10072-delta"][0]
    assert o["kind"] == "delta_ecv_subnetwork" and o["cohort"] == "targetkg.cohort:gse10072"
    assert o["params"]["group_a"] == "tumor" and o["params"]["top"] == 0.25 and o["samples"] == 107

    # --- pseudonymised samples only
    sample_ids = {r[0] for r in drv.execute_query("MATCH (s:Sample) RETURN s.id, s.group").records}
    assert sample_ids == {pseudonymise(s, KEY) for s in df.index}
    assert {r[0] for r in drv.execute_query("MATCH (s:Sample) RETURN DISTINCT s.group").records} == {"tumor", "non-tumor"}
    everything = drv.execute_query("MATCH (n) OPTIONAL MATCH (n)-[r]->() RETURN properties(n) AS n, "
                                   "collect(properties(r)) AS r").records
    assert "GSM" not in repr([(r["n"], r["r"]) for r in everything])  # no raw GEO sample id anywhere

    # --- idempotent re-write: same counts, replaced in place
    before = (_count(drv, "MATCH (n) RETURN count(n)"), _count(drv, "MATCH ()-[r]->() RETURN count(r)"))
    s2b = write_overlay(drv, db, sub, "delta_ecv_subnetwork", "gse10072-delta", cohort="GSE10072", samples=groups,
                        network=net, ecv_result=res, release="test", pseudonym_key_=KEY, params={"top": 0.25})
    assert s2b["replaced"] and s2b["edges"] == s2["edges"]
    assert (_count(drv, "MATCH (n) RETURN count(n)"), _count(drv, "MATCH ()-[r]->() RETURN count(r)")) == before
    assert _count(drv, "MATCH (o:Overlay {id: 'gse10072-delta'}) RETURN count(o)") == 1

    # --- per-sample subnetwork of one tumour sample (contrast against the non-tumour samples)
    res_c = ecv(net, df, groups=groups.to_numpy(), group_a="tumor", group_b="non-tumor", n_permutations=10,
                contrast_reference="non-tumor")
    raw = next(s for s in df.index if groups[s] == "tumor")
    (ssub,) = subnetworks(res_c, net, mode="samples", top=0.2, samples=[raw])
    s4 = write_overlay(drv, db, ssub, "sample_subnetwork", "gse10072-sample1", cohort="GSE10072", network=net,
                       ecv_result=res_c, pseudonym_key_=KEY)
    assert s4["samples"] == 1 and s4["edges"] == len(ssub.edges)
    own = drv.execute_query("MATCH (:Overlay {id: 'gse10072-sample1'})-[f:FOR_SAMPLE]->(s:Sample) "
                            "RETURN s.id AS id, s.group AS g, f.own AS own").records
    assert [(r["id"], r["g"], r["own"]) for r in own] == [(pseudonymise(raw, KEY), "tumor", True)]
    col = res_c.samples.index(raw)
    ecv_of = {(s, t): res_c.values[e, col] for e, (s, t) in enumerate(zip(res_c.edges["source"], res_c.edges["target"]))}
    for (s, t, sel) in ssub.edges[["source", "target", "selected"]].itertuples(index=False):
        p = _overlay_edges(drv, "gse10072-sample1")[(CURIE[s], CURIE[t])]
        assert p["ecv"] == pytest.approx(ecv_of[(s, t)], rel=1e-5)
        if sel:
            assert p["direction"] in ("up", "down") and "contrast" in p
    delete_overlay(drv, db, "gse10072-sample1")

    # --- knockdown simulation of PER1
    kd = simulate(net, df, target="PER1", log_fold_change=-1.0, n_draws=100)
    s3 = write_overlay(drv, db, kd, "knockdown_simulation", "gse10072-kd-per1", cohort="GSE10072", network=net,
                       release="test", pseudonym_key_=KEY)
    inc = {r["id"]: r["p"] for r in drv.execute_query(
        "MATCH (:Overlay {id: 'gse10072-kd-per1'})-[i:INCLUDES]->(g:Gene) RETURN g.id AS id, properties(i) AS p").records}
    assert inc[CURIE["PER1"]]["is_target"] is True and inc[CURIE["PER1"]]["mean_delta"] < 0
    assert s3["nodes"] == len(inc) >= 1
    for (s, t) in _overlay_edges(drv, "gse10072-kd-per1"):
        assert s in inc and t in inc

    # --- overlay queries of the library (the one about predicted targets needs predictions: it runs in
    # test_api_edges_overlays.py, next to the API's answer to the same question)
    for f in sorted(OVERLAYS.glob("*.cypher")):
        if f.name == "overlay_edges_at_predicted_targets.cypher":
            continue
        text = f.read_text()
        assert text.startswith("// Question:") and "// Parameters:" in text and "// Example:" in text
        rows = drv.execute_query(text.rstrip().rstrip(";"), dict(_PARAM.findall(text))).records
        assert rows, f"{f.name} returned no rows"

    # --- delete one overlay: the others and the curated edge stay
    n_basal = _count(drv, "MATCH ()-[e:OVERLAY_EDGE {overlay_id: 'gse10072-basal'}]->() RETURN count(e)")
    n_kd = _count(drv, "MATCH ()-[e:OVERLAY_EDGE {overlay_id: 'gse10072-kd-per1'}]->() RETURN count(e)")
    d = delete_overlay(drv, db, "gse10072-delta")
    assert d == {"overlays": 1, "edges": s2["edges"], "orphan_nodes": 0}  # samples/cohort still used by the basal overlay
    assert _count(drv, "MATCH ()-[e:OVERLAY_EDGE {overlay_id: 'gse10072-delta'}]->() RETURN count(e)") == 0
    assert _count(drv, "MATCH ()-[e:OVERLAY_EDGE {overlay_id: 'gse10072-basal'}]->() RETURN count(e)") == n_basal
    assert _count(drv, "MATCH ()-[e:OVERLAY_EDGE {overlay_id: 'gse10072-kd-per1'}]->() RETURN count(e)") == n_kd
    assert _count(drv, "MATCH (:Gene)-[e:INTERACTS_WITH]->(:Gene) RETURN count(e)") == 1
    assert _count(drv, "MATCH (g:Gene) RETURN count(g)") == 12
    assert {o["id"] for o in list_overlays(drv, db)} == {"gse10072-basal", "gse10072-kd-per1"}
    assert delete_overlay(drv, db, "gse10072-delta")["overlays"] == 0
    # deleting the last users of the samples removes the now unused Sample nodes, never genes
    delete_overlay(drv, db, "gse10072-basal")
    assert _count(drv, "MATCH (s:Sample) RETURN count(s)") == 0
    assert _count(drv, "MATCH (c:Cohort) RETURN count(c)") == 1  # still used by the knockdown overlay
    assert _count(drv, "MATCH (g:Gene) RETURN count(g)") == 12


def test_clinical_variables_and_missing_genes(empty_db, settings):
    import numpy as np
    from targetkg.models.bn import learn
    from targetkg.models.bn.overlay import OverlayError, delete_overlay, write_overlay

    drv, db = empty_db, settings.neo4j_database
    _write_genes(drv, with_curated_edge=False)
    _, df, groups = _matrix()
    df = df[["PER1", "PER2", "PER3", "CRY2"]].copy()
    df["Tumour stage"] = (groups == "tumor").astype(float) + np.random.default_rng(0).normal(0, 0.1, len(df))
    df["FAKEGENE"] = df["PER1"] * 0.5 + np.random.default_rng(1).normal(0, 0.2, len(df))
    mapping = {s: CURIE[s] for s in ("PER1", "PER2", "PER3", "CRY2")} | {"FAKEGENE": "NCBIGene:999999999"}
    net = learn(df, score="bge", symbol_to_curie=mapping)
    with pytest.raises(OverlayError, match="no Gene node"):
        write_overlay(drv, db, net, "basal_network", "clin", pseudonym_key_=KEY)
    assert _count(drv, "MATCH (o:Overlay) RETURN count(o)") == 0  # nothing half-written
    s = write_overlay(drv, db, net, "basal_network", "clin", pseudonym_key_=KEY, missing="skip",
                      samples=list(df.index)[:5])
    assert s["skipped"] == ["FAKEGENE"] and s["nodes"] == 5
    assert _count(drv, "MATCH (c:ClinicalVariable {id: 'targetkg.clinical:tumour_stage'}) RETURN count(c)") == 1
    delete_overlay(drv, db, "clin")
    assert _count(drv, "MATCH (n) WHERE n:ClinicalVariable OR n:Sample OR n:Overlay RETURN count(n)") == 0


def test_cli_learn_ecv_simulate_overlay(empty_db, settings, tmp_path):
    from targetkg.models.bn.cli import bn_app
    from typer.testing import CliRunner

    _write_genes(empty_db, with_curated_edge=False)
    path, _, _ = _matrix()
    gm = tmp_path / "genes.tsv"
    gm.write_text("".join(f"{s}\t{c}\n" for s, c in CURIE.items()))
    labels = path.parent / "labels.tsv"
    r = CliRunner()
    out = r.invoke(bn_app, ["learn", str(path), "--metadata", str(labels), "--group-column", "condition",
                            "--drop", "condition", "--run-id", "clitest", "--cohort", "GSE10072", "--no-vocabulary",
                            "--gene-map", str(gm), "--write-overlay"])
    assert out.exit_code == 0, out.output
    assert (settings.home / "bn" / "clitest" / "network.json").exists()
    out = r.invoke(bn_app, ["ecv", "clitest", "--group-a", "tumor", "--group-b", "non-tumor", "--top", "0.2",
                            "--n-permutations", "200"])
    assert out.exit_code == 0, out.output
    out = r.invoke(bn_app, ["simulate", "clitest", "--target", "PER1", "--n-draws", "50"])
    assert out.exit_code == 0, out.output
    out = r.invoke(bn_app, ["overlay", "list", "--json"])
    assert out.exit_code == 0, out.output
    rows = {o["id"]: o for o in json.loads(out.output)}
    assert set(rows) == {"clitest-basal", "clitest-delta-tumor-vs-non-tumor", "clitest-kd-PER1"}
    assert rows["clitest-basal"]["samples"] == 107
    out = r.invoke(bn_app, ["overlay", "delete", "clitest-basal"])
    assert out.exit_code == 0, out.output
    out = r.invoke(bn_app, ["overlay", "delete", "clitest-basal"])
    assert out.exit_code == 1


def test_warehouse_priors_from_curated_relationships(empty_db, settings):
    """Curated gene-gene relationships (and those of the genes' protein products) become soft
    priors; symmetric predicates both ways, directed ones one way; text-mined edges only on request."""
    from targetkg.graph.writer import GraphWriter
    from targetkg.ingest.model import Edge, Node, Provenance
    from targetkg.models.bn.data import map_variables
    from targetkg.models.bn.priors import warehouse_prior_edges

    drv, db = empty_db, settings.neo4j_database
    _write_genes(drv)  # PER1 -INTERACTS_WITH-> CRY2 (curated)
    w = GraphWriter(drv, release="qa", progress=False)
    w.write([Node("UniProtKB:O15516", "Protein", "CLOCK protein"),
             Edge("UniProtKB:O15516", "Protein", "GENE_PRODUCT_OF", CURIE["CLOCK"], "Gene", "hgnc_uniprot_mapping"),
             Edge(CURIE["ARNTL"], "Gene", "REGULATES", "UniProtKB:O15516", "Protein", "controls-state-change-of"),
             Edge(CURIE["NR1D1"], "Gene", "PRECEDES", CURIE["DBP"], "Gene", "test")],
            Provenance("infores:pathway-commons", "12"))
    w.write([Edge(CURIE["PER2"], "Gene", "INTERACTS_WITH", CURIE["TEF"], "Gene", "Bind")],
            Provenance("infores:targetkg-literature", "1", agent_type="text_mining_agent"))

    info = map_variables(list(GENES) + ["bmi"], symbol_to_curie=CURIE)
    pri = warehouse_prior_edges(drv, db, info)
    assert set(pri.edges) == {("PER1", "CRY2"), ("CRY2", "PER1"), ("ARNTL", "CLOCK")}
    assert pri.genes == 12 and pri.summary()["relationships_by_type"] == {"INTERACTS_WITH": 1, "REGULATES": 1}
    row = pri.support[pri.support["type"] == "REGULATES"].iloc[0]
    assert (row["source"], row["target"], row["sources"]) == ("ARNTL", "CLOCK", ["infores:pathway-commons"])
    with_text = warehouse_prior_edges(drv, db, info, text_mined=True)
    assert {("PER2", "TEF"), ("TEF", "PER2")} <= set(with_text.edges)
    assert set(warehouse_prior_edges(drv, db, info, ["precedes"]).edges) == {("NR1D1", "DBP")}
    with pytest.raises(ValueError, match="PREDICTED_TARGETS"):
        warehouse_prior_edges(drv, db, info, ["PREDICTED_TARGETS"])

    # the CLI reads them, learns with them and records which relationships informed the run
    from typer.testing import CliRunner

    from targetkg.models.bn.cli import bn_app

    path, df, _ = _matrix()
    out = CliRunner().invoke(bn_app, ["learn", str(path), "--drop", "condition", "--run-id", "priors", "--confidence", "none",
                                      "--warehouse-priors", "--prior-weight", "1000"])
    assert out.exit_code == 0, out.output
    assert "3 prior edges among 12 genes" in out.output
    folder = settings.home / "bn" / "priors"
    run = json.loads((folder / "run.json").read_text())
    assert run["warehouse_priors"]["prior_edges"] == 3 and run["warehouse_priors"]["weight"] == 1000
    edges = pd.read_csv(folder / "edges.tsv", sep="\t")
    found = set(zip(edges["source"], edges["target"]))
    assert ("ARNTL", "CLOCK") in found and ({("PER1", "CRY2"), ("CRY2", "PER1")} & found)  # a huge bonus wins
    assert (folder / "prior_edges.tsv").read_text().count("\n") == 3  # header + 2 relationships
