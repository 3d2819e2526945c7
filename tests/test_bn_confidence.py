"""Honest uncertainty in the Bayesian-network results (no Neo4j needed).

* edge confidence is the true bootstrap / MCMC frequency (0.0 when no replicate has the edge,
  NaN when no confidence was computed), with per-edge R-hat / ESS from MCMC;
* knockdown probabilities and intervals carry parameter uncertainty even on a single DAG, with
  Monte Carlo standard errors, and a single DAG is flagged;
* the network's diagnostics travel with the knockdown / ECv results and their overlays;
* per-sample contrasts are leave-one-out for the reference group's own samples;
* fold changes are converted with the data's scale; ``bn simulate`` states the scale it uses.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from targetkg.models.bn import api
from targetkg.models.bn.ecv import compute_ecv, reference_contrast
from targetkg.models.bn.fit import fit_dag
from targetkg.models.bn.intervention import resolve_level, simulate_knockdown
from targetkg.models.bn.learn import _to_frame, learn_structure
from targetkg.models.bn.overlay import _props, build_overlay


def _chain(n, p, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    X[:, 1] += 0.6 * X[:, 0]
    X[:, 2] += 0.5 * X[:, 1]
    return X


def _freq(net, i, j):
    return float(np.mean([i in d[j] for d in net.samples]))


# ------------------------------------------------------------------------------ 1. edge confidence
def test_bootstrap_posterior_is_the_true_frequency_including_zero():
    """The audit's case (seed 1: V1 -> V4 in the point estimate, in no bootstrap replicate) is now
    reported with posterior 0.0, and every edge's posterior equals its replicate frequency."""
    p = 12
    v = [f"V{i}" for i in range(p)]
    net = learn_structure(_chain(60, p, 1), v, score="bic", k=5, confidence="bootstrap", n_bootstrap=5, seed=1)
    assert len(net.samples) == 5
    post = {(r.source, r.target): r.posterior for r in net.edges.itertuples()}
    for (s, t), pv in post.items():
        assert pv == pytest.approx(_freq(net, v.index(s), v.index(t)))
    assert post[("V1", "V4")] == 0.0  # was 1.0 before the fix
    assert "bootstrap frequency" in net.meta["posterior"]
    # the overlay keeps the 0.0 (not dropped, not 1.0)
    content = build_overlay(net, "basal_network")
    e = next(e for e in content["edges"] if (e["source"], e["target"]) == ("V1", "V4"))
    assert _props(e)["posterior"] == 0.0
    # confident edges the point estimate lacks are listed
    miss = net.meta["confident_edges_not_in_estimate"]
    assert miss["n"] == sum(1 for i in range(p) for j in range(p) if i != j and _freq(net, i, j) >= 0.5
                            and i not in net.parents[j])


def test_no_confidence_means_nan_posterior_not_one():
    net = learn_structure(_chain(100, 5, 0), [f"V{i}" for i in range(5)], score="bge", k=4, confidence="none")
    assert len(net.edges) > 0 and net.edges["posterior"].isna().all()
    assert net.meta["posterior"].startswith("none")
    assert "confident_edges_not_in_estimate" not in net.meta
    for e in build_overlay(net, "basal_network")["edges"]:
        assert "posterior" not in _props(e)  # no fake confidence reaches Neo4j


def test_to_frame_defaults_missing_edges_to_zero():
    X = _chain(80, 3, 2)
    parents = [set(), {0}, {1}]
    df, _ = _to_frame(X, ["a", "b", "c"], parents, {(0, 1): 0.7}, "bge", None, 10)
    assert df.set_index("target").loc["b", "posterior"] == 0.7
    assert df.set_index("target").loc["c", "posterior"] == 0.0
    df, _ = _to_frame(X, ["a", "b", "c"], parents, None, "bge", None, 10)
    assert df["posterior"].isna().all()


def test_mcmc_posterior_zero_and_per_edge_rhat_ess():
    X = _chain(200, 5, 3)
    v = [f"V{i}" for i in range(5)]
    net = learn_structure(X, v, score="bge", k=4, confidence="mcmc",
                          mcmc=dict(n_chains=3, n_steps=3000, thin=10), seed=0)
    assert {"rhat", "ess"} <= set(net.edges.columns)
    assert net.edges["posterior"].between(0, 1).all()
    varying = net.edges["posterior"].between(1e-9, 1 - 1e-9)
    # an indicator that changed has an R-hat and an ESS; one that never changed has neither
    assert net.edges.loc[varying, "ess"].notna().all() and (net.edges.loc[varying, "ess"] > 0).all()
    assert net.edges.loc[~varying, "rhat"].isna().all()
    assert net.meta["mcmc"]["n_dag_samples"] == len(net.samples)
    # the overlay edges carry the per-edge diagnostics
    content = build_overlay(net, "basal_network")
    if varying.any():
        assert any("ess" in _props(e) for e in content["edges"])
    # McmcResult: every candidate pair is reported, 0.0 included
    from targetkg.models.bn.mcmc import structure_mcmc
    from targetkg.models.bn.scores import Scorer
    from targetkg.models.bn.screening import screen
    from targetkg.models.bn.fit import standardise

    Z, _, _ = standardise(X)
    cands = screen(Z, k=4, method="correlation")
    mc = structure_mcmc(Scorer(Z, kind="bge"), cands, n_chains=2, n_steps=1000, thin=10)
    probs = mc.edge_probabilities()
    n_cand = int((mc.candidates >= 0).sum())
    assert len(probs) == n_cand and any(pv == 0.0 for pv in probs.values())
    assert set(mc.edge_diagnostics()) == set(probs)


# ------------------------------------------------------------------------------ 2. knockdown uncertainty
def _weak(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    X[:, 1] += 0.15 * X[:, 0]  # weak effect: its sign is uncertain at n = 40
    X[:, 2] += 0.6 * X[:, 1]
    return X


def test_single_dag_parameter_uncertainty_gives_intervals_and_flag():
    X = _weak()
    dag = [[], [0], [1]]
    with pytest.warns(UserWarning, match="single DAG"):
        r = simulate_knockdown(X, [dag], {0: float(X[:, 0].mean() - 1.0)}, kind="linear", n_draws=100, seed=0)
    assert r.meta["single_dag"] and "warning" in r.meta
    assert r.n_param_draws == r.meta["n_param_draws"] >= 100 and r.deltas.shape == (r.n_param_draws, 3)
    assert (r.upper[1:] - r.lower[1:] > 0).all()  # no zero-width intervals
    assert 0.0 < r.p_down[1] < 1.0  # the weak effect's sign is not certain
    # Monte Carlo standard error (binomial over the independent parameter draws)
    N = r.deltas.shape[0]
    np.testing.assert_allclose(r.p_down_mcse, np.sqrt(r.p_down * (1 - r.p_down) / N))
    assert {"p_down_mcse", "p_up_mcse"} <= set(r.to_frame().columns)
    # explicit n_param_draws; without parameter uncertainty one draw (and zero-width intervals)
    r5 = simulate_knockdown(X, [dag], {0: 0.0}, kind="linear", n_draws=50, n_param_draws=5, seed=0)
    assert r5.deltas.shape == (5, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r0 = simulate_knockdown(X, [dag], {0: 0.0}, kind="linear", method="closed_form", parameter_uncertainty=False)
    assert r0.n_param_draws == 1 and np.allclose(r0.upper, r0.lower)
    with pytest.raises(ValueError):
        simulate_knockdown(X, [dag], {0: 0.0}, n_param_draws=0)


def test_several_dags_clustered_mcse():
    X = _weak(200, 1)
    dags = [[[], [0], [1]], [[], [0], [0]], [[1], [], [1]]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # several DAGs: no single-DAG warning
        r = simulate_knockdown(X, dags, {0: -1.0}, kind="linear", method="closed_form", n_param_draws=30, seed=2)
    assert r.deltas.shape == (90, 3) and not r.meta["single_dag"]
    per = (r.deltas < -1e-12).reshape(3, 30, 3).mean(axis=1)
    want = np.maximum(per.std(axis=0, ddof=1) / np.sqrt(3), np.sqrt(r.p_down * (1 - r.p_down) / 90))
    np.testing.assert_allclose(r.p_down_mcse, want)
    assert r.p_down_mcse[2] > np.sqrt(r.p_down[2] * (1 - r.p_down[2]) / 90)  # DAGs disagree on x2


# ------------------------------------------------------------------------------ 3. diagnostics travel
def test_network_diagnostics_in_knockdown_and_ecv_meta_and_overlays():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    X[:, 1] += 0.8 * X[:, 0]
    X[:, 2] += 0.7 * X[:, 1]
    df = pd.DataFrame(X, columns=list("ABCDE"), index=[f"s{i}" for i in range(200)])
    net = api.learn(df, score="bge", k=4, confidence="mcmc", mcmc=dict(n_chains=2, n_steps=2000, thin=10))
    kd = api.simulate(net, df, target="A", log_fold_change=-1, scale="log2", n_draws=50)
    nd = kd.meta["network"]
    assert nd["confidence"] == "mcmc" and nd["n_dag_samples"] == len(net.samples)
    assert nd["mcmc"]["rhat_max"] == net.meta["mcmc"]["rhat_max"] and "ess_median" in nd["mcmc"]
    params = build_overlay(kd, "knockdown_simulation", network=net)["meta"]
    assert params["network"]["mcmc"]["rhat_max"] == net.meta["mcmc"]["rhat_max"]
    assert "p_mcse_max" in params and params["n_param_draws"] == kd.n_param_draws
    g = np.array(["x"] * 100 + ["y"] * 100)
    res = api.ecv(net, df, groups=g, n_permutations=99)
    assert res.meta["network"]["mcmc"]["ess_min"] == net.meta["mcmc"]["ess_min"]
    sub = api.subnetworks(res, net, mode="delta", top=0.5)
    meta = build_overlay(sub, "delta_ecv_subnetwork", network=net, ecv_result=res)["meta"]
    assert meta["network"]["confidence"] == "mcmc"
    json.dumps(_props({"params": meta["network"]}), default=str)  # serialisable
    # point estimate only: flagged
    net0 = api.learn(df, score="bge", k=4)
    with pytest.warns(UserWarning):
        kd0 = api.simulate(net0, df, target="A", value=-2.0, n_draws=20, n_param_draws=10)
    assert kd0.meta["single_dag"] and "point estimate" in kd0.meta["network"]["warnings"]


# ------------------------------------------------------------------------------ 4. leave-one-out contrast
def test_reference_contrast_is_leave_one_out():
    rng = np.random.default_rng(5)
    V = rng.normal(size=(4, 12)) * [[1.0], [2.0], [0.5], [3.0]]
    ref = np.array([True] * 7 + [False] * 5)
    C = reference_contrast(V, ref)
    for s in range(12):
        others = ref.copy()
        others[s] = False  # a reference sample is compared with the other reference samples
        R = V[:, others]
        np.testing.assert_allclose(C[:, s], (V[:, s] - R.mean(axis=1)) / R.std(axis=1, ddof=1), rtol=1e-10)
    with pytest.raises(ValueError):
        reference_contrast(V, np.array([True, True] + [False] * 10))
    # through compute_ecv
    X = _chain(60, 3, 7)
    fm = fit_dag(X, [set(), {0}, {1}], kind="linear")
    g = np.array(["a"] * 30 + ["b"] * 30)
    res = compute_ecv(fm, X, ["x", "y", "z"], groups=g, n_permutations=0, contrast_reference="b")
    np.testing.assert_allclose(res.contrast, reference_contrast(res.values, g == "b"), rtol=1e-5, atol=1e-5)
    assert "leave-one-out" in res.meta["contrast"]["reference_samples"]


# ------------------------------------------------------------------------------ 5. levels and the CLI
def test_resolve_level_converts_with_the_scale():
    x = np.array([6.0, 8.0, 10.0])  # mean 8
    assert resolve_level(x, fold_change=0.5, scale="log2") == pytest.approx(7.0)
    assert resolve_level(x, fold_change=0.5, scale="ln") == pytest.approx(8 + math.log(0.5))
    assert resolve_level(x, fold_change=0.5, scale="log10") == pytest.approx(8 + math.log10(0.5))
    assert resolve_level(x, fold_change=0.5, scale="linear") == pytest.approx(4.0)
    assert resolve_level(x, log_fold_change=-1, scale="log2") == pytest.approx(7.0)
    assert resolve_level(x, log_fold_change=-1, scale="ln") == pytest.approx(8 - math.log(2))
    assert resolve_level(x, log_fold_change=-1, scale="linear") == pytest.approx(4.0)
    assert resolve_level(x, value=3.0, scale="ln") == 3.0
    with pytest.raises(ValueError):
        resolve_level(x, fold_change=0.0, scale="log2")
    with pytest.raises(ValueError):
        resolve_level(x, fold_change=0.5, scale="log3")
    with pytest.raises(ValueError):
        resolve_level(x)


def test_cli_simulate_states_scale_and_default_level(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from targetkg.models.bn.cli import bn_app, save_network
    from targetkg.settings import reload_settings

    monkeypatch.setenv("TARGETKG_HOME", str(tmp_path / "home"))
    reload_settings()
    try:
        X = np.exp(_chain(80, 4, 9)) * 10  # linear-scale data
        df = pd.DataFrame(X, columns=["G1", "G2", "G3", "G4"], index=[f"s{i}" for i in range(80)])
        mpath = tmp_path / "m.csv"
        df.to_csv(mpath)
        net = api.learn(df, score="bge", k=3, confidence="bootstrap", n_bootstrap=5)
        folder = tmp_path / "home" / "bn" / "r1"
        save_network(net, folder)
        run = {"run_id": "r1", "matrix": str(mpath), "drop": [], "metadata": None, "scale": "linear"}
        (folder / "run.json").write_text(json.dumps(run))
        r = CliRunner()
        out = r.invoke(bn_app, ["simulate", "r1", "--target", "G1", "--fold-change", "0.5", "--no-write",
                                "--method", "closed_form"])
        assert out.exit_code == 0, out.output
        assert "linear (recorded in the run)" in out.output
        kd = pd.read_csv(folder / "knockdown_G1.tsv", sep="\t")
        assert {"p_down_mcse", "lower_90"} <= set(kd.columns)
        # the level is mean x 0.5 on linear data
        assert f"level {df['G1'].mean() * 0.5:.4g}" in out.output
        # no scale recorded -> assumed log2, said so; no level -> the default is stated
        run.pop("scale")
        (folder / "run.json").write_text(json.dumps(run))
        out = r.invoke(bn_app, ["simulate", "r1", "--target", "G1", "--no-write", "--n-draws", "20"])
        assert out.exit_code == 0, out.output
        assert "no knockdown level given" in out.output and "ASSUMED" in out.output
        out = r.invoke(bn_app, ["simulate", "r1", "--target", "G1", "--no-write", "--scale", "log7",
                                "--log-fold-change", "-1"])
        assert out.exit_code != 0
    finally:
        monkeypatch.undo()
        reload_settings()
