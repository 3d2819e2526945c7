"""ECv / Delta ECv, subnetworks, enrichment, knockdown simulation, malformed inputs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kstest

from targetkg.models.bn import api
from targetkg.models.bn.data import MatrixFormatError, load_matrix, map_variables
from targetkg.models.bn.ecv import compute_ecv, ecv_matrix, fitted_values
from targetkg.models.bn.fit import fit_dag
from targetkg.models.bn.intervention import simulate_knockdown, single_target_effects
from targetkg.models.bn.results import Network
from targetkg.models.bn.subnet import enrichment, read_gmt

DATA = Path(os.environ.get("TARGETKG_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))

# known linear SEM: 0 -> 1 (0.8), 0 -> 2 (-0.6), 1 -> 3 (0.5), 2 -> 3 (0.7), 3 -> 4 (1.2)
PARENTS = [[], [0], [0], [1, 2], [3]]
COEF = {(0, 1): 0.8, (0, 2): -0.6, (1, 3): 0.5, (2, 3): 0.7, (3, 4): 1.2}


def _sem(n, rng, shift=None):
    X = np.zeros((n, 5))
    X[:, 0] = 2.0 + rng.normal(size=n)
    for j in range(1, 5):
        X[:, j] = 1.0 + sum(COEF[(i, j)] * X[:, i] for i in PARENTS[j]) + 0.5 * rng.normal(size=n)
    return X


@pytest.mark.parametrize("kind", ["linear", "spline"])
def test_ecv_sums_reproduce_fitted_values(kind):
    rng = np.random.default_rng(0)
    X = _sem(300, rng)
    X[:, 4] = np.tanh(X[:, 3] - X[:, 3].mean()) * 3 + 0.3 * rng.normal(size=300)
    fm = fit_dag(X, PARENTS, kind=kind)
    names = [f"V{i}" for i in range(5)]
    edges, V = ecv_matrix(fm, X, names, dtype=np.float64)
    fit = fitted_values(fm, X)
    for j in range(5):
        rows = (edges["target"] == names[j]).to_numpy()
        if not rows.any():
            continue
        np.testing.assert_allclose(fm.mean[j] + fm.sd[j] * fm.nodes[j].intercept + V[rows].sum(axis=0), fit[:, j],
                                   rtol=1e-8, atol=1e-8)
        np.testing.assert_allclose(V[rows].mean(axis=1), 0.0, atol=1e-8)  # centred
    # fitted values are good predictions
    r2 = 1 - ((X - fit) ** 2).sum(0) / ((X - X.mean(0)) ** 2).sum(0)
    assert r2[3] > 0.3 and r2[4] > 0.7
    if kind == "linear":  # ECv of 0 -> 1 is b * (x0 - mean0) with b ~ 0.8
        b = np.polyfit(X[:, 0] - X[:, 0].mean(), V[0], 1)[0]
        assert b == pytest.approx(0.8, abs=0.1)


@pytest.mark.parametrize("kind", ["linear", "spline"])
def test_delta_ecv_permutation_calibrated_under_shuffled_labels(kind):
    rng = np.random.default_rng(1)
    n, p = 120, 40
    X = rng.normal(size=(n, p))
    parents = [[] for _ in range(p)]
    for j in range(1, p):  # a chain-ish DAG with up to 3 parents
        parents[j] = list(rng.choice(j, size=min(j, 3), replace=False))
        X[:, j] += 0.3 * X[:, parents[j]].sum(axis=1)
    fm = fit_dag(X, parents, kind=kind)
    pv = []
    for rep in range(150):
        labels = rng.permutation(np.array(["a"] * 60 + ["b"] * 60))
        res = compute_ecv(fm, X, [f"V{i}" for i in range(p)], groups=labels, n_permutations=199, seed=rep)
        # one p-value per (replicate, parent): edges sharing a parent are strongly dependent
        first = ~res.edges["source"].duplicated().to_numpy()
        pv.append(res.pvalue[first])
    pv = np.concatenate(pv)
    assert abs(np.mean(pv < 0.05) - 0.05) < 0.015
    assert abs(np.mean(pv < 0.2) - 0.2) < 0.03
    assert kstest(pv, "uniform").statistic < 0.04
    # and it has power when one parent really differs between groups
    Y = X.copy()
    g = np.array(["a"] * 60 + ["b"] * 60)
    shifted = compute_ecv(fit_dag(Y + np.where(g == "a", 1.0, 0.0)[:, None] * (np.arange(p) == 0), parents, kind=kind),
                          Y + np.where(g == "a", 1.0, 0.0)[:, None] * (np.arange(p) == 0), [f"V{i}" for i in range(p)],
                          groups=g, n_permutations=400)
    src0 = (shifted.edges["source"] == "V0").to_numpy()
    assert np.mean(shifted.pvalue[src0] < 0.01) >= 0.8
    assert np.median(shifted.qvalue[src0]) < 0.05


def test_knockdown_simulation_matches_closed_form_and_true_effects():
    rng = np.random.default_rng(2)
    X = _sem(4000, rng)
    c = 0.5  # do(x1 = 0.5): true effects x3: 0.5 * (c - E[x1]); x4: 1.2 * 0.5 * (c - E[x1])
    Ex1 = 1.0 + 0.8 * 2.0
    kw = dict(dags=[PARENTS], targets={1: c}, kind="linear", parameter_uncertainty=False)
    cf = simulate_knockdown(X, method="closed_form", **kw)
    sm = simulate_knockdown(X, method="sample", n_draws=4000, common_random_numbers=False, seed=5, **kw)
    sd = X.std(0)
    np.testing.assert_allclose(sm.mean_delta, cf.mean_delta, atol=0.06 * sd.max())
    true = np.array([0.0, c - Ex1, 0.0, 0.5 * (c - Ex1), 0.6 * (c - Ex1)])
    np.testing.assert_allclose(cf.mean_delta, true, atol=0.06)
    assert cf.mean_delta[0] == 0 and cf.mean_delta[2] == 0  # graph surgery: no effect upstream / on siblings
    # with parameter uncertainty and several DAGs: probabilities and intervals
    dags = [PARENTS, [[], [0], [0], [1, 2], [3]], [[], [0], [0], [2], [3]]]
    r = simulate_knockdown(X, dags, {1: c}, kind="linear", method="sample", n_draws=300, seed=1)
    df = r.to_frame()
    assert {"mean_delta", "p_down", "p_up", "lower_90", "upper_90"} <= set(df.columns)
    assert r.p_down[4] > 0.6 and r.p_up[4] < 0.4 and r.p_down[0] == 0 and r.p_up[0] == 0
    assert (r.lower <= r.mean_delta + 1e-12).all() and (r.mean_delta <= r.upper + 1e-12).all()
    # the many-target closed form agrees with the single-target one
    eff = single_target_effects(X, [PARENTS], {1: c}, parameter_uncertainty=False)
    np.testing.assert_allclose(eff[1][0], cf.mean_delta, atol=1e-9)


def test_api_roundtrip_and_subnetworks(tmp_path):
    rng = np.random.default_rng(3)
    X = _sem(200, rng)
    g = np.array(["case"] * 100 + ["ctrl"] * 100)
    X[:100, 3] += 1.5 * (X[:100, 1] - X[:100, 1].mean())  # edge 1 -> 3 stronger in cases
    names = ["TP53", "MDM2", "CDKN1A", "BAX", "age_years"]
    df = pd.DataFrame(X, columns=names, index=[f"s{i}" for i in range(200)])
    p = tmp_path / "expr.tsv"
    df.T.to_csv(p, sep="\t")  # genes x samples on disk
    lm = load_matrix(p, sample_ids=df.index)
    assert lm.orientation == "variables x samples" and lm.data.shape == (200, 5)
    net = api.learn(lm, score="bge", k=4)
    assert isinstance(net, Network) and {"source", "target", "weight", "posterior"} <= set(net.to_frame().columns)
    info = map_variables(names, symbol_to_curie={"TP53": "NCBIGene:7157"})
    assert info.set_index("variable").loc["age_years", "label"] == "ClinicalVariable"
    res = api.ecv(net, lm, groups=g, n_permutations=200, contrast_reference="ctrl")
    assert res.values.shape == (len(net.edges), 200)
    fr = res.to_frame()
    assert {"delta", "pvalue", "qvalue"} <= set(fr.columns)
    sub = api.subnetworks(res, net, mode="delta", top=0.3,
                          gene_sets={"p53": {"TP53", "MDM2", "CDKN1A", "BAX"}, "other": {"EGFR", "KRAS", "BAX"}})
    assert sub.edges["selected"].sum() >= 1 and len(sub.components) >= 1
    assert "gene_set" in sub.enrichment.columns
    common = api.subnetworks(res, net, mode="common", group="case", top=0.4, min_fraction=0.3)
    assert len(common.containment) > 0 and set(common.containment["group"]) == {"ctrl"}
    per = api.subnetworks(res, net, mode="samples", top=0.4, samples=["s0", "s150"])
    assert len(per) == 2
    kd = api.simulate(net, lm, target="MDM2", fold_change=0.5, method="sample", n_draws=50)
    assert kd.to_frame().shape[0] == 5


def test_enrichment_with_reactome_gmt():
    sets = read_gmt(DATA / "reactome" / "ReactomePathways.gmt")
    assert len(sets) > 2000
    name = next(n for n, s in sets.items() if len(s) > 30)
    members = sorted(sets[name])[:10]
    universe = set().union(*list(sets.values())[:300]) | set(sets[name])
    res = enrichment(set(members) | {"NOT_A_GENE"}, sets, universe=universe)
    top = res.iloc[0]
    assert top["overlap"] == 10 and top["qvalue"] < 1e-3


def test_real_lung_clock_genes_ecv():
    """Tumour vs non-tumour lung (GSE10072, 107 samples): ECv for every edge and sample, ΔECv the
    absolute difference of the group means, permutation p-values with the +1 correction and BH
    q-values; the clock-gene network differs between the groups (measured: 10 of 14 edges at
    q < 0.05, PER1 -> CRY2 the largest ΔECv)."""
    from scipy.stats import false_discovery_control

    df = pd.read_csv(DATA / "expression" / "GSE10072" / "GSE10072_clock_genes.csv", index_col=0)
    groups = df.pop("condition").to_numpy()
    net = api.learn(df, score="bge", k=5)
    assert len(net.edges) >= 5
    n_perm = 200
    res = api.ecv(net, df, groups=groups, n_permutations=n_perm)
    assert res.values.shape == (len(net.edges), len(df)) and np.isfinite(res.values).all()
    a, b = groups == res.group_a, groups == res.group_b
    assert a.sum() + b.sum() == len(df)
    np.testing.assert_allclose(res.delta, np.abs(res.values[:, a].mean(axis=1) - res.values[:, b].mean(axis=1)))
    # a permutation p-value is never below 1/(B+1) and never above 1
    assert (res.pvalue >= 1 / (n_perm + 1) - 1e-12).all() and (res.pvalue <= 1).all()
    np.testing.assert_allclose(res.qvalue, false_discovery_control(res.pvalue, method="bh"))
    assert (res.qvalue < 0.05).sum() >= 3, res.to_frame()


@pytest.mark.parametrize(
    "content, match",
    [
        ("gene\ts1\ts2\ts3\nA\t1\t2\t3\nB\t4\tfoo\t6\nC\t1\t5\t2\n", r"non-numeric cell 'foo' at row 'B' \(line 3\), column 's2'"),
        ("gene\ts1\ts2\ts3\nA\t1\t2\t3\nB\t4\tNA\t6\nC\t1\t5\t2\n", r"missing at row 'B' \(line 3\), column 's2'"),
        ("gene\ts1\ts2\ts3\nA\t1\t2\t3\nB\t4\t4\t4\nC\t1\t5\t2\n", r"constant variable.*rows\): \['B'\]"),
    ],
)
def test_malformed_matrices_reported(tmp_path, content, match):
    p = tmp_path / "bad.tsv"
    p.write_text(content)
    with pytest.raises(MatrixFormatError, match=match) as e:
        load_matrix(p, orientation="variables_x_samples")
    assert str(p) in str(e.value)


def test_missing_policy_and_orientation_detection(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("sample,TP53,EGFR,KRAS\nx1,1,2,3\nx2,2,,1\nx3,3,1,2\nx4,4,2,2\n")
    lm = load_matrix(p, missing="drop_variable")
    assert lm.orientation == "samples x variables" and lm.variables == ["TP53", "KRAS"]
    assert any("dropped 1 variable" in r for r in lm.report)
