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

    # --- pseudonymised samples only (keyed by cohort + raw id); the group lives on FOR_SAMPLE
    sample_ids = {r[0] for r in drv.execute_query("MATCH (s:Sample) RETURN s.id").records}
    assert sample_ids == {pseudonymise(s, KEY, "GSE10072") for s in df.index}
    assert sample_ids.isdisjoint({pseudonymise(s, KEY) for s in df.index})
    assert _count(drv, "MATCH (s:Sample) WHERE s.group IS NOT NULL RETURN count(s)") == 0
    assert _count(drv, "MATCH (s:Sample) WHERE s.cohort <> 'targetkg.cohort:gse10072' RETURN count(s)") == 0
    got = {(r["id"], r["g"]) for r in drv.execute_query(
        "MATCH (:Overlay {id: 'gse10072-delta'})-[f:FOR_SAMPLE]->(s:Sample) RETURN s.id AS id, f.group AS g").records}
    assert got == {(pseudonymise(s, KEY, "GSE10072"), groups[s]) for s in df.index}
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
                            "RETURN s.id AS id, f.group AS g, f.own AS own").records
    assert [(r["id"], r["g"], r["own"]) for r in own] == [(pseudonymise(raw, KEY, "GSE10072"), "tumor", True)]
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


def _cli_learn(runner, tmp_path, matrix, labels, run_id: str, *extra: str) -> None:
    """`targetkg bn learn` on the GSE10072 matrix (genes mapped through a gene-map file, cohort GSE10072)."""
    from targetkg.models.bn.cli import bn_app

    gm = tmp_path / "genes.tsv"
    gm.write_text("".join(f"{s}\t{c}\n" for s, c in CURIE.items()))
    out = runner.invoke(bn_app, ["learn", str(matrix), "--metadata", str(labels), "--group-column", "condition",
                                 "--drop", "condition", "--run-id", run_id, "--cohort", "GSE10072", "--no-vocabulary",
                                 "--gene-map", str(gm), *extra])
    assert out.exit_code == 0, out.output


def test_cli_learn_ecv_simulate_overlay(empty_db, settings, tmp_path):
    from targetkg.models.bn.cli import bn_app
    from typer.testing import CliRunner

    _write_genes(empty_db, with_curated_edge=False)
    path, _, _ = _matrix()
    r = CliRunner()
    _cli_learn(r, tmp_path, path, path.parent / "labels.tsv", "clitest", "--write-overlay")
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
    from targetkg.models.bn.cli import bn_app
    from typer.testing import CliRunner

    path, _, _ = _matrix()
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


# ------------------------------------------------------------------------------ audit: samples per cohort
def test_samples_are_per_cohort_and_groups_per_overlay(empty_db, settings):
    """Two cohorts that both call their samples S001... get different Sample nodes; a second grouping of
    the same cohort does not change the groups of the first overlay (groups live on FOR_SAMPLE)."""
    from targetkg.models.bn import learn
    from targetkg.models.bn.overlay import delete_overlay, pseudonymise, write_overlay
    from targetkg.service import queries

    drv, db = empty_db, settings.neo4j_database
    _write_genes(drv, with_curated_edge=False)
    _, df, _ = _matrix()
    net = learn(df[["PER1", "PER2", "PER3", "CRY2"]], score="bge", symbol_to_curie=CURIE)
    raw = [f"S{i:03d}" for i in range(1, 7)]
    cond = dict(zip(raw, ["ipf", "ipf", "ipf", "control", "control", "control"]))
    resp = dict(zip(raw, ["good", "poor", "good", "poor", "good", "poor"]))

    def for_sample(oid):
        return {(r["id"], r["g"]) for r in drv.execute_query(
            "MATCH (:Overlay {id: $o})-[f:FOR_SAMPLE]->(s:Sample) RETURN s.id AS id, f.group AS g", o=oid).records}

    write_overlay(drv, db, net, "basal_network", "a-cond", cohort="Cohort A", samples=cond, pseudonym_key_=KEY)
    write_overlay(drv, db, net, "basal_network", "b-cond", cohort="Cohort B", samples=cond, pseudonym_key_=KEY)
    assert _count(drv, "MATCH (s:Sample) RETURN count(s)") == 12  # same raw ids, two cohorts: no sharing
    a_ids = {pseudonymise(s, KEY, "Cohort A") for s in raw}
    b_ids = {pseudonymise(s, KEY, "targetkg.cohort:cohort_b") for s in raw}  # the name and the id hash alike
    assert not a_ids & b_ids
    assert for_sample("a-cond") == {(pseudonymise(s, KEY, "Cohort A"), g) for s, g in cond.items()}
    assert {r[0] for r in drv.execute_query("MATCH (:Overlay {id: 'b-cond'})-->(s:Sample) RETURN s.id").records} == b_ids

    # a second grouping of cohort A: same Sample nodes, the first overlay keeps its groups
    write_overlay(drv, db, net, "basal_network", "a-resp", cohort="Cohort A", samples=resp, pseudonym_key_=KEY)
    assert _count(drv, "MATCH (s:Sample) RETURN count(s)") == 12
    assert for_sample("a-cond") == {(pseudonymise(s, KEY, "Cohort A"), g) for s, g in cond.items()}
    assert for_sample("a-resp") == {(pseudonymise(s, KEY, "Cohort A"), g) for s, g in resp.items()}
    assert _count(drv, "MATCH (s:Sample) WHERE s.group IS NOT NULL RETURN count(s)") == 0
    (listed,) = queries.overlays(drv, db, overlay="a-resp")
    assert listed["groups"] == {"good": 3, "poor": 3} and listed["samples"] == 6

    # idempotent: the same overlay written again gives the same graph
    def shape():
        return (_count(drv, "MATCH (n) RETURN count(n)"), _count(drv, "MATCH ()-[r]->() RETURN count(r)"),
                for_sample("a-cond"), for_sample("a-resp"), for_sample("b-cond"))

    before = shape()
    assert write_overlay(drv, db, net, "basal_network", "a-resp", cohort="Cohort A", samples=resp,
                         pseudonym_key_=KEY)["replaced"]
    assert shape() == before

    # deletable by id: a cohort's samples go with the last overlay that uses them
    assert delete_overlay(drv, db, "a-resp")["orphan_nodes"] == 0  # still used by a-cond
    assert for_sample("a-cond") == {(pseudonymise(s, KEY, "Cohort A"), g) for s, g in cond.items()}
    delete_overlay(drv, db, "a-cond")
    assert {r[0] for r in drv.execute_query("MATCH (s:Sample) RETURN s.id").records} == b_ids
    delete_overlay(drv, db, "b-cond")
    assert _count(drv, "MATCH (n) WHERE n:Sample OR n:Cohort OR n:Overlay RETURN count(n)") == 0


# ------------------------------------------------------------------------------ audit: warehouse pathways
PATHWAYS = {  # pathway -> (name, member symbols); TP53 is in the warehouse but not measured
    "REACT:R-HSA-0000001": ("Circadian core loop", ["ARNTL", "CLOCK", "NPAS2", "CRY1", "CRY2", "PER1", "PER2", "PER3"]),
    "REACT:R-HSA-0000002": ("Clock output", ["NR1D1", "NR1D2", "DBP", "TEF", "TP53"]),
    "PATHWAYCOMMONS:pc-small": ("Too small", ["PER1", "PER2"]),
}


def _write_pathways(drv):
    from targetkg.graph.writer import GraphWriter
    from targetkg.ingest.model import Edge, Node, Provenance

    w = GraphWriter(drv, release="qa", progress=False)
    recs = [Node("NCBIGene:7157", "Gene", "TP53")]
    for pid, (name, members) in PATHWAYS.items():
        recs.append(Node(pid, "Pathway", name))
        recs += [Edge(CURIE.get(g, "NCBIGene:7157"), "Gene", "PARTICIPATES_IN", pid, "Pathway", "test") for g in members]
    w.write(recs, Provenance("infores:reactome", "1"))


def test_enrichment_against_warehouse_pathways(empty_db, settings, tmp_path):
    from scipy.stats import hypergeom
    from targetkg.models.bn import ecv, learn
    from targetkg.models.bn.overlay import delete_overlay, write_overlay
    from targetkg.models.bn.subnet import (
        delta_subnetwork,
        gmt_gene_sets,
        measured_universe,
        warehouse_gene_sets,
    )
    from targetkg.service import queries

    drv, db = empty_db, settings.neo4j_database
    _write_genes(drv, with_curated_edge=False)
    _write_pathways(drv)
    _, df, groups = _matrix()
    net = learn(df, score="bge", symbol_to_curie=CURIE, seed=0)
    sets, names = warehouse_gene_sets(drv, db, net.variable_info, min_size=3)
    want = {pid: set(m) - {"TP53"} for pid, (_, m) in PATHWAYS.items() if len(m) >= 3}
    assert sets == want and names["REACT:R-HSA-0000002"] == "Clock output"
    universe = measured_universe(net.variables, net.variable_info)
    assert universe == set(GENES)  # every measured variable, not only those on a basal edge

    res = ecv(net, df, groups=groups.to_numpy(), group_a="tumor", group_b="non-tumor", n_permutations=100)
    sub = delta_subnetwork(res, net.edges[["source", "target"]], top=0.25, gene_sets=sets, universe=universe,
                           gene_set_names=names)
    enr = sub.enrichment.set_index("gene_set")
    assert set(enr.index) == set(want) and (enr["universe"] == 12).all()
    for pid, members in want.items():
        k = len(sub.nodes & members)
        assert enr.loc[pid, "overlap"] == k and enr.loc[pid, "name"] == names[pid]
        p = hypergeom.sf(k - 1, 12, len(members), len(sub.nodes)) if k else 1.0
        assert enr.loc[pid, "pvalue"] == pytest.approx(p)

    # the same gene sets from a GMT file (members by symbol or CURIE)
    gmt = tmp_path / "sets.gmt"
    gmt.write_text("core\tCircadian core loop\t" + "\t".join(CURIE[g] for g in PATHWAYS["REACT:R-HSA-0000001"][1]) + "\n"
                   "out\tClock output\tNR1D1\tNR1D2\tDBP\tTEF\tTP53\n")
    gsets, gnames = gmt_gene_sets(gmt, net.variable_info, net.variables)
    assert gsets == {"core": want["REACT:R-HSA-0000001"], "out": want["REACT:R-HSA-0000002"]} and gnames["out"] == "Clock output"

    # stored on the overlay: params.enrichment and the queryable o.enriched_pathways
    write_overlay(drv, db, sub, "delta_ecv_subnetwork", "enr-delta", cohort="GSE10072", samples=groups, network=net,
                  ecv_result=res, pseudonym_key_=KEY)
    rec = drv.execute_query("MATCH (o:Overlay {id: 'enr-delta'}) RETURN o.enriched_pathways AS ids, "
                            "o.enriched_pathway_q AS q, o.params AS params").records[0]
    stored = json.loads(rec["params"])["enrichment"]
    top = sub.enrichment.sort_values("pvalue", kind="stable")
    assert rec["ids"] == [x["id"] for x in stored] == list(top["gene_set"])
    assert rec["q"] == pytest.approx(list(top["qvalue"]))
    assert stored[0].keys() >= {"id", "name", "overlap", "set_size", "p", "q"}
    hit = drv.execute_query("MATCH (o:Overlay) WHERE $p IN o.enriched_pathways RETURN collect(o.id) AS ids",
                            p="REACT:R-HSA-0000001").records[0]["ids"]
    assert hit == ["enr-delta"]
    (listed,) = queries.overlays(drv, db, overlay="enr-delta")
    assert listed["enrichment"] == stored and listed["groups"] == groups.value_counts().sort_index().to_dict()

    # the library's "overlays of a gene": a text-mined relationship is not a curated one
    from targetkg.graph.writer import GraphWriter
    from targetkg.ingest.model import Edge, Provenance

    s, t = net.edges[["source", "target"]].iloc[0]
    GraphWriter(drv, release="qa", progress=False).write(
        [Edge(CURIE[s], "Gene", "INTERACTS_WITH", CURIE[t], "Gene", "Bind")],
        Provenance("infores:targetkg-literature", "1", agent_type="text_mining_agent"))
    write_overlay(drv, db, net, "basal_network", "enr-basal", pseudonym_key_=KEY)
    text = (OVERLAYS / "overlays_for_gene.cypher").read_text()
    rows = {r["overlay"]: r for r in drv.execute_query(text.rstrip().rstrip(";"), gene=CURIE[s]).records}
    assert rows["enr-basal"]["overlay_edges"] >= 1 and rows["enr-basal"]["partners_with_curated_edge"] == 0
    delete_overlay(drv, db, "enr-basal")
    delete_overlay(drv, db, "enr-delta")


def test_overlay_library_excludes_what_the_api_excludes():
    from targetkg.service.queries import NOT_CURATED

    for name in ("overlays_for_gene.cypher", "overlay_edges_at_predicted_targets.cypher"):
        text = (OVERLAYS / name).read_text()
        listed = re.search(r"NOT type\(k\) IN \[([^\]]*)\]", text).group(1)
        assert set(re.findall(r"'(\w+)'", listed)) == set(NOT_CURATED), name
        assert "'text_mining_agent'" in text, name


def test_cli_ecv_pooled_fit_and_enrichment(empty_db, settings, tmp_path):
    """`bn ecv` refits on all samples of the run (a third group included) and stores the enrichment."""
    from targetkg.models.bn import ecv
    from targetkg.models.bn.cli import bn_app, load_network
    from typer.testing import CliRunner

    _write_genes(empty_db, with_curated_edge=False)
    _write_pathways(empty_db)
    path, df, groups = _matrix()
    labels = groups.copy()
    labels.iloc[::5] = "other"  # a third group: in the pooled fit, not in the comparison
    lab = tmp_path / "labels.tsv"
    labels.rename_axis("sample").rename("condition").to_frame().to_csv(lab, sep="\t")
    r = CliRunner()
    _cli_learn(r, tmp_path, path, lab, "pooled", "--confidence", "none")
    out = r.invoke(bn_app, ["ecv", "pooled", "--group-a", "tumor", "--group-b", "non-tumor", "--top", "0.25",
                            "--n-permutations", "50"])
    assert out.exit_code == 0, out.output
    assert f"{len(df)} pooled samples" in out.output
    folder = settings.home / "bn" / "pooled"
    got = pd.read_csv(folder / "ecv_tumor_vs_non-tumor.tsv", sep="\t")
    net = load_network(folder)
    pooled = ecv(net, df, groups=labels.to_numpy(), group_a="tumor", group_b="non-tumor", n_permutations=50).to_frame()
    keep = labels.isin(["tumor", "non-tumor"])
    subset = ecv(net, df[keep], groups=labels[keep].to_numpy(), group_a="tumor", group_b="non-tumor",
                 n_permutations=50).to_frame()
    assert got["mean_a"].to_numpy() == pytest.approx(pooled["mean_a"].to_numpy(), rel=1e-5)
    assert got["mean_a"].to_numpy() != pytest.approx(subset["mean_a"].to_numpy(), rel=1e-5)
    enr = pd.read_csv(folder / "enrichment_tumor_vs_non-tumor.tsv", sep="\t")
    assert set(enr["gene_set"]) <= {"REACT:R-HSA-0000001", "REACT:R-HSA-0000002"} and (enr["universe"] == 12).all()
    rec = empty_db.execute_query("MATCH (o:Overlay {id: 'pooled-delta-tumor-vs-non-tumor'}) "
                                 "RETURN o.enriched_pathways AS ids, o.params AS params").records[0]
    params = json.loads(rec["params"])
    assert rec["ids"] == [x["id"] for x in params["enrichment"]] and params["enrichment_source"] == "warehouse"
    assert params["pooled_samples"] == len(df)
    # --no-enrichment, and a GMT file instead of the warehouse
    out = r.invoke(bn_app, ["ecv", "pooled", "--group-a", "tumor", "--group-b", "non-tumor", "--n-permutations", "20",
                            "--no-enrichment", "--overlay-id", "pooled-noenr"])
    assert out.exit_code == 0, out.output
    assert empty_db.execute_query("MATCH (o:Overlay {id: 'pooled-noenr'}) RETURN o.enriched_pathways AS x").records[0]["x"] is None
    gmt = tmp_path / "sets.gmt"
    gmt.write_text("out\tClock output\tNR1D1\tNR1D2\tDBP\tTEF\n")
    out = r.invoke(bn_app, ["ecv", "pooled", "--group-a", "tumor", "--group-b", "non-tumor", "--n-permutations", "20",
                            "--gmt", str(gmt), "--top", "0.5", "--no-write"])
    assert out.exit_code == 0, out.output
    assert list(pd.read_csv(folder / "enrichment_tumor_vs_non-tumor.tsv", sep="\t")["gene_set"]) == ["out"]


def test_cli_ecv_reference_samples_and_common(empty_db, settings, tmp_path):
    """`bn ecv --reference/--samples/--common`: per-sample and common subnetworks as overlays, containment TSV."""
    from targetkg.models.bn.cli import bn_app
    from typer.testing import CliRunner

    _write_genes(empty_db, with_curated_edge=False)
    path, df, groups = _matrix()
    raw = [groups[groups == "tumor"].index[0], groups[groups == "non-tumor"].index[0]]
    r = CliRunner()
    _cli_learn(r, tmp_path, path, path.parent / "labels.tsv", "contrasts", "--write-overlay", "--confidence", "none")
    # --samples without --reference is a usage error
    out = r.invoke(bn_app, ["ecv", "contrasts", "--group-a", "tumor", "--group-b", "non-tumor", "--samples", raw[0]])
    assert out.exit_code == 2
    out = r.invoke(bn_app, ["ecv", "contrasts", "--group-a", "tumor", "--group-b", "non-tumor", "--top", "0.25",
                            "--n-permutations", "50", "--no-enrichment", "--reference", "non-tumor",
                            "--samples", ",".join(raw), "--common", "tumor", "--min-fraction", "0.3"])
    assert out.exit_code == 0, out.output
    assert "common tumor" in out.output and "containment" in out.output
    folder = settings.home / "bn" / "contrasts"
    contrast = pd.read_csv(folder / "contrast_non-tumor.tsv", sep="\t")
    assert list(contrast.columns[2:]) == list(df.index)
    # one sample_subnetwork overlay per sample, linked to exactly its own pseudonymised sample
    recs = empty_db.execute_query(
        "MATCH (o:Overlay {kind: 'sample_subnetwork'}) OPTIONAL MATCH (o)-[f:FOR_SAMPLE]->(s:Sample) "
        "RETURN o.id AS id, o.params AS params, collect({id: s.id, own: f.own, group: f.group}) AS samples").records
    assert len(recs) == 2
    for rec in recs:
        assert rec["id"].startswith("contrasts-sample-")
        assert len(rec["samples"]) == 1 and rec["samples"][0]["own"] is True
        sid = rec["samples"][0]["id"]
        assert sid.startswith("targetkg.sample:") and rec["id"] == "contrasts-sample-" + sid.split(":", 1)[1]
        params = json.loads(rec["params"])
        assert params["reference"] == "non-tumor" and params["sample"] == sid
        assert not any(g in rec["id"] or g in rec["params"] for g in groups.index)
        assert _count(empty_db, "MATCH ()-[e:OVERLAY_EDGE {overlay_id: $id}]->() RETURN count(e)", id=rec["id"]) > 0
    assert sorted(r_["samples"][0]["group"] for r_ in recs) == ["non-tumor", "tumor"]
    assert _count(empty_db, "MATCH (s:Sample) WHERE s.id STARTS WITH 'GSM' RETURN count(s)") == 0
    # the common subnetwork of the tumours: a subset of the basal network, containment in params
    common = _overlay_edges(empty_db, "contrasts-common-tumor")
    basal = _overlay_edges(empty_db, "contrasts-basal")
    assert common and set(common) <= set(basal)
    rec = empty_db.execute_query("MATCH (o:Overlay {id: 'contrasts-common-tumor'}) "
                                 "RETURN o.kind AS kind, o.method AS method, o.params AS params").records[0]
    assert rec["kind"] == "delta_ecv_subnetwork" and rec["method"] == "bn:common_subnetwork"
    params = json.loads(rec["params"])
    assert params["common"] is True and params["common_group"] == "tumor" and params["min_fraction"] == 0.3
    assert params["containment"] and all(0 <= c["fraction_of_other_samples_containing"] <= 1
                                         for c in params["containment"])
    # containment: one row per sample outside the group
    table = pd.read_csv(folder / "containment_tumor.tsv", sep="\t")
    others = groups[groups != "tumor"]
    assert len(table) == len(others) and set(table["sample"]) == set(others.index)
    assert table["pseudonym"].str.startswith("targetkg.sample:").all()
    assert (table["n_contained"] <= table["n_components"]).all()
    assert table["n_components"].iloc[0] == len(params["containment"])
    # deletable by id
    for oid in [r_["id"] for r_ in recs] + ["contrasts-common-tumor"]:
        out = r.invoke(bn_app, ["overlay", "delete", oid])
        assert out.exit_code == 0, out.output
    assert _count(empty_db, "MATCH (o:Overlay) WHERE o.kind = 'sample_subnetwork' OR o.id = 'contrasts-common-tumor' "
                            "RETURN count(o)") == 0
    assert _count(empty_db, "MATCH ()-[e:OVERLAY_EDGE]->() WHERE e.overlay_id STARTS WITH 'contrasts-sample-' "
                            "OR e.overlay_id = 'contrasts-common-tumor' RETURN count(e)") == 0
    assert _count(empty_db, "MATCH (o:Overlay {id: 'contrasts-basal'}) RETURN count(o)") == 1
