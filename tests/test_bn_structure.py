"""Structure learning, scores, MCMC and DREAM4 / Sachs data for targetkg.models.bn."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from targetkg.models.bn.data import (
    SACHS_TARGETS,
    dream4_paths,
    load_sachs,
    read_edge_list,
    read_gnw,
    read_gold_standard,
    sachs_design,
)
from targetkg.models.bn.evaluate import aupr, auroc, score_edges, shd
from targetkg.models.bn.learn import (
    center_groups,
    consensus_dag,
    learn_ranked,
    learn_structure,
    rank_average,
)
from targetkg.models.bn.scores import Scorer, discretise
from targetkg.models.bn.search import significance_prune

DATA = Path(os.environ.get("TARGETKG_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))


def _linear_sem(n, rng):
    # 0 -> 1, 0 -> 2, 1 -> 3, 2 -> 3, 3 -> 4, 5 -> 4 (v-structures make directions identifiable)
    X = np.zeros((n, 6))
    X[:, 0] = rng.normal(size=n)
    X[:, 5] = rng.normal(size=n)
    X[:, 1] = 0.9 * X[:, 0] + 0.5 * rng.normal(size=n)
    X[:, 2] = -0.8 * X[:, 0] + 0.5 * rng.normal(size=n)
    X[:, 3] = 0.7 * X[:, 1] + 0.7 * X[:, 2] + 0.5 * rng.normal(size=n)
    X[:, 4] = 0.8 * X[:, 3] - 0.8 * X[:, 5] + 0.5 * rng.normal(size=n)
    return X


def _nonlinear_sem(n, rng):
    X = np.zeros((n, 6))
    X[:, 0] = rng.normal(size=n)
    X[:, 5] = rng.normal(size=n)
    X[:, 1] = np.tanh(1.5 * X[:, 0]) + 0.3 * rng.normal(size=n)
    X[:, 2] = 0.8 * X[:, 0] ** 2 + 0.4 * rng.normal(size=n)
    X[:, 3] = 0.7 * X[:, 1] + 0.7 * X[:, 2] + 0.4 * rng.normal(size=n)
    X[:, 4] = np.sin(X[:, 3]) + 0.5 * X[:, 5] + 0.3 * rng.normal(size=n)
    return X


TRUE = {(0, 1), (0, 2), (1, 3), (2, 3), (3, 4), (5, 4)}
SKEL = {frozenset(e) for e in TRUE}


def _est(net):
    return {(i, j) for j, pa in enumerate(net.parents) for i in pa}


@pytest.mark.parametrize("score", ["bge", "bic"])
def test_recovers_linear_dag(score):
    X = _linear_sem(600, np.random.default_rng(0))
    net = learn_structure(X, [f"V{i}" for i in range(6)], score=score, k=5, restarts=20)
    est = _est(net)
    assert {frozenset(e) for e in est} == SKEL
    # the two v-structures orient the edges into 3 and 4
    assert {(1, 3), (2, 3), (3, 4), (5, 4)} <= est
    assert shd(est, TRUE) <= 1  # 0 - 1 / 0 - 2 may be oriented either way (one is reversible)


def test_spline_score_on_linear_data_finds_all_true_adjacencies():
    # known limitation: on linear data the spline score also adds some spurious edges
    X = _linear_sem(600, np.random.default_rng(0))
    est = _est(learn_structure(X, [f"V{i}" for i in range(6)], score="spline", k=5))
    assert SKEL <= {frozenset(e) for e in est}


def test_spline_recovers_nonlinear_dag_and_beats_gaussian():
    X = _nonlinear_sem(400, np.random.default_rng(1))
    v = [f"V{i}" for i in range(6)]
    sp = _est(learn_structure(X, v, score="spline", k=5))
    bg = _est(learn_structure(X, v, score="bge", k=5))
    assert SKEL <= {frozenset(e) for e in sp}
    assert shd(sp, TRUE) <= 2
    assert shd(sp, TRUE) < shd(bg, TRUE)  # x^2 and sin() are invisible to the linear score


def test_bge_is_score_equivalent_and_spline_prefers_true_parent():
    rng = np.random.default_rng(2)
    X = _linear_sem(300, rng)
    Z = (X - X.mean(0)) / X.std(0)
    s = Scorer(Z, kind="bge")
    assert s.score(0, []) + s.score(1, [0]) == pytest.approx(s.score(1, []) + s.score(0, [1]), abs=1e-8)
    sp = Scorer(Z, kind="spline")
    assert sp.score(3, [1, 2]) > sp.score(3, [1]) > sp.score(3, [])
    assert sp.score(1, [0]) > sp.score(1, [0, 5])  # an irrelevant parent is penalised


def test_mcmc_posterior_and_diagnostics():
    X = _linear_sem(500, np.random.default_rng(3))
    net = learn_structure(X, [f"V{i}" for i in range(6)], score="bge", k=5, confidence="mcmc",
                          mcmc=dict(n_chains=3, n_steps=40000, thin=20))
    d = net.meta["mcmc"]
    for key in ("rhat_max", "ess_median", "ess_min", "frac_rhat_gt_1_1", "logscore_rhat", "acceptance_rate"):
        assert key in d
    assert d["logscore_rhat"] < 1.2
    post = np.round(net.edge_scores, 2)  # posterior edge probabilities (+ < 1e-3 screening tie-break)
    for i, j in [(1, 3), (2, 3), (3, 4), (5, 4)]:
        assert post[i, j] > 0.8
    # adjacency posterior of true pairs is high, of non-adjacent pairs low
    S = net.edge_scores
    adj = np.round(S, 2) + np.round(S, 2).T  # i -> j and j -> i are exclusive
    assert all(adj[i, j] > 0.8 for i, j in TRUE)
    assert adj[0, 4] < 0.2 and adj[1, 5] < 0.2
    assert len(net.samples) > 10


def test_bootstrap_confidence_and_prior_edges():
    X = _linear_sem(200, np.random.default_rng(4))
    v = [f"V{i}" for i in range(6)]
    net = learn_structure(X, v, score="bge", k=5, confidence="bootstrap", n_bootstrap=8)
    assert net.edges["posterior"].between(0, 1).all()
    assert (net.edges["posterior"] >= 0.5).sum() >= 4
    # a (wrong) prior edge with a strong bonus is added; with zero weight it is not
    with_prior = learn_structure(X, v, score="bge", k=5, prior_edges=[("V5", "V1")], prior_weight=50.0)
    assert (5, 1) in _est(with_prior)
    assert (5, 1) not in _est(learn_structure(X, v, score="bge", k=5, prior_edges=[("V5", "V1")], prior_weight=0.0))


def test_dream4_size10_better_than_random():
    """DREAM4 size-10 knockouts: mean AUPR over the 5 networks must beat the random AUPR
    (= edge density, ~0.15) by at least 0.15 (absolute)."""
    ups, rnd = [], []
    for net in range(1, 6):
        P = dream4_paths(DATA, 10, net)
        X = read_gnw(P["knockouts"])
        gold = read_gold_standard(P["gold"])
        A = np.log(X.to_numpy() + 0.01)
        nw = learn_structure(A, list(X.columns), score="bge", k=9, inter=np.eye(10, dtype=bool),
                             confidence="bootstrap", n_bootstrap=10, seed=net)
        s = score_edges(nw.edge_scores, list(X.columns), gold)
        ups.append(s["aupr"])
        rnd.append(gold["edge"].mean())
    assert np.mean(ups) > np.mean(rnd) + 0.15, (ups, rnd)


def test_sachs_loads_from_original_zip():
    conds = load_sachs(DATA / "sachs2005" / "sachs.som.datasets.zip")
    assert len(conds) == 14
    sizes = {"cd3cd28": 853, "cd3cd28icam2": 902, "cd3cd28+aktinhib": 911, "pma": 913, "b2camp": 707,
             "cd3cd28icam2+ly": 927}
    for c, nrow in sizes.items():
        assert conds[c].shape == (nrow, 11)
    assert sum(len(d) for d in conds.values()) == 11672
    assert list(conds["cd3cd28"].columns)[:3] == ["praf", "pmek", "plcg"]
    true = read_edge_list(DATA / "sachs2005" / "consensus_network_cyto_full_target.csv")
    assert set(a for e in true for a in e) <= set(conds["cd3cd28"].columns)


def test_aupr_matches_definition():
    y = np.array([1, 0, 1, 0, 0], dtype=bool)
    s = np.array([0.9, 0.8, 0.7, 0.1, 0.0])
    assert aupr(y, s) == pytest.approx((1.0 + 2 / 3) / 2)


# ---------------------------------------------------------------- interventional scores (Cooper & Yoo)


def _chain(n, rng, do1=False):
    """0 -> 1 -> 2 -> 3 (linear); do1: x1 set by intervention (independent of x0)."""
    x0 = rng.normal(size=n)
    x1 = rng.normal(size=n) if do1 else 0.8 * x0 + 0.6 * rng.normal(size=n)
    x2 = 0.8 * x1 + 0.6 * rng.normal(size=n)
    x3 = -0.7 * x2 + 0.6 * rng.normal(size=n)
    return np.column_stack([x0, x1, x2, x3])


CHAIN = {(0, 1), (1, 2), (2, 3)}


@pytest.mark.parametrize("kind", ["bge", "bic", "spline", "bdeu"])
def test_interventional_score_ignores_intervened_samples_of_the_node_only(kind):
    rng = np.random.default_rng(5)
    X = np.vstack([_chain(300, rng), _chain(200, rng, do1=True)])
    inter = np.zeros(X.shape, dtype=bool)
    inter[300:, 1] = True
    Y = X.copy()
    Y[300:, 1] = rng.normal(5.0, 3.0, size=200)  # arbitrary values where node 1 was intervened on
    if kind == "bdeu":  # fixed level codes, so that only the rows (not the discretisation) change
        C, D = discretise(X), discretise(X)
        D[300:, 1] = (C[300:, 1] + 1) % 3
        a = Scorer(C, kind=kind, inter=inter, discrete=True)
        b = Scorer(D, kind=kind, inter=inter, discrete=True)
        sub = Scorer(C[:300], kind=kind, discrete=True)
    else:
        Z = (X - X.mean(0)) / X.std(0)
        W = Z.copy()
        W[300:, 1] = (Y[300:, 1] - X[:, 1].mean()) / X[:, 1].std()
        a = Scorer(Z, kind=kind, inter=inter)
        b = Scorer(W, kind=kind, inter=inter)
        sub = None
        if kind != "spline":  # the spline basis depends on the range of all samples
            sub = Scorer(np.ascontiguousarray(Z[:300]), kind=kind)
    # node 1's family ignores rows 300..499 whatever values they hold ...
    assert a.score(1, [0]) == pytest.approx(b.score(1, [0]), abs=1e-8)
    assert a.score(1, []) == pytest.approx(b.score(1, []), abs=1e-8)
    if sub is not None:  # ... and equals the score on the non-intervened rows alone
        assert a.score(1, [0]) == pytest.approx(sub.score(1, [0]), abs=1e-6)
    # ... but its children still use them (the intervened x1 is an observed parent value there)
    assert abs(a.score(2, [1]) - b.score(2, [1])) > 1e-3


@pytest.mark.parametrize("kind", ["bge", "bdeu"])
def test_interventions_orient_a_markov_equivalent_chain(kind):
    """Observationally 0-1-2-3 is a Markov equivalence class (score-equivalent scores cannot
    orient it); with do(x1) samples and the interventional score the true chain is recovered."""
    v = [f"V{i}" for i in range(4)]
    for seed in range(3):
        rng = np.random.default_rng(seed)
        Xo, Xi = _chain(400, rng), _chain(400, rng, do1=True)
        X = np.vstack([Xo, Xi])
        inter = np.zeros(X.shape, dtype=bool)
        inter[400:, 1] = True
        obs = _est(learn_structure(Xo, v, score=kind, k=3))
        itv = _est(learn_structure(X, v, score=kind, k=3, inter=inter))
        pooled = _est(learn_structure(X, v, score=kind, k=3))  # interventions ignored
        assert itv == CHAIN, (seed, itv)
        assert shd(itv, CHAIN) < shd(obs, CHAIN)
        assert shd(itv, CHAIN) < shd(pooled, CHAIN)


def test_bdeu_is_score_equivalent_and_discretise_has_equal_frequency_levels():
    rng = np.random.default_rng(8)
    X = _linear_sem(600, rng)
    C = discretise(X, 3)
    assert set(np.unique(C)) == {0.0, 1.0, 2.0}
    assert np.all(np.abs(np.bincount(C[:, 0].astype(int)) - 200) <= 1)
    s = Scorer(X, kind="bdeu")
    assert s.score(0, []) + s.score(1, [0]) == pytest.approx(s.score(1, []) + s.score(0, [1]), abs=1e-8)
    assert s.score(3, [1, 2]) > s.score(3, [1]) > s.score(3, [])
    net = learn_structure(X, [f"V{i}" for i in range(6)], score="bdeu", k=5)
    assert {frozenset(e) for e in _est(net)} >= {frozenset((3, 4)), frozenset((0, 1))}


def test_significance_prune_drops_irrelevant_parents_only():
    rng = np.random.default_rng(9)
    X = _nonlinear_sem(500, rng)
    parents = [set(), {0}, {0, 5}, {1, 2, 0}, {3, 5, 1}, set()]  # 5->2, 0->3, 1->4 are spurious
    pruned, pv = significance_prune(X, parents, alpha=1e-3)
    est = {(i, j) for j, pa in enumerate(pruned) for i in pa}
    assert est == TRUE
    assert pv[(0, 2)] < 1e-10 and pv[(5, 2)] > 1e-3
    lin, _ = significance_prune(X, parents, alpha=1e-3, kind="linear")
    assert (0, 2) not in {(i, j) for j, pa in enumerate(lin) for i in pa}  # x0^2 has no linear trend


def test_groups_centring_removes_condition_driven_dependence():
    rng = np.random.default_rng(10)
    n = 600
    g = np.repeat(["a", "b", "c"], n // 3)
    shift = {"a": (0.0, 0.0), "b": (3.0, 3.0), "c": (-3.0, -2.0)}  # conditions shift both variables
    X = rng.normal(size=(n, 3))
    X[:, 2] = 0.8 * X[:, 1] + 0.6 * rng.normal(size=n)
    for lab, (a, b) in shift.items():
        X[g == lab, 0] += a
        X[g == lab, 1] += b
        X[g == lab, 2] += 0.8 * b
    v = ["A", "B", "C"]
    pooled = {frozenset(e) for e in _est(learn_structure(X, v, score="bge", k=2))}
    within = {frozenset(e) for e in _est(learn_structure(X, v, score="bge", k=2, groups=g, prune_alpha=1e-3))}
    assert frozenset((0, 1)) in pooled  # spurious: both variables follow the condition
    assert within == {frozenset((1, 2))}
    Xc = center_groups(X, g)
    assert np.allclose([Xc[g == lab].mean(0) for lab in "abc"], 0.0)


def test_sachs_design_intervention_mask_and_groups():
    conds = load_sachs(DATA / "sachs2005" / "sachs.som.datasets.zip")
    X, inter, groups, cols = sachs_design(conds, ["cd3cd28", "cd3cd28+u0126", "b2camp"])
    assert X.shape == (853 + 799 + 707, 11) and inter.shape == X.shape
    assert np.allclose(X[:853], np.log(conds["cd3cd28"].to_numpy() + 1.0))
    assert not inter[:853].any()
    assert inter[853:1652, cols.index("pmek")].all() and inter[853:1652].sum() == 799
    assert inter[1652:, cols.index("PKA")].all() and inter[1652:].sum() == 707
    assert list(groups[[0, 853, 1652]]) == ["cd3cd28", "cd3cd28+u0126", "b2camp"]
    assert set(SACHS_TARGETS) == set(conds)


# ---------------------------------------------------------------- ranking: BN confidence + tree importance


def test_rank_average_is_scale_free():
    rng = np.random.default_rng(11)
    A = rng.random((5, 5))
    B = np.exp(20 * A)  # same order, wildly different scale
    off = ~np.eye(5, dtype=bool)
    np.testing.assert_allclose(rank_average(A), rank_average(B))
    R = rank_average(A, -A)  # opposite rankings cancel out
    assert np.allclose(R[off], R[off][0]) and np.all(np.diag(R) == 0)
    assert rank_average(A)[off].max() == pytest.approx(1.0)
    with pytest.raises(ValueError):
        rank_average(A, np.zeros((4, 4)))


def test_learn_ranked_combines_bootstrap_and_trees():
    X = _linear_sem(300, np.random.default_rng(12))
    v = [f"V{i}" for i in range(6)]
    net = learn_ranked(X, v, n_bootstrap=5, n_trees=30, seed=0, k=5)
    comp = net.score_components
    assert set(comp) == {"bn_bootstrap", "tree_importance"}
    np.testing.assert_allclose(net.edge_scores, rank_average(comp["bn_bootstrap"], comp["tree_importance"]))
    pairs = [(i, j) for i in range(6) for j in range(6) if i != j]
    y = np.array([e in TRUE for e in pairs])
    s = np.array([net.edge_scores[e] for e in pairs])
    assert auroc(y, s) > 0.8  # directed true edges ranked high
    und = [(i, j) for i in range(6) for j in range(i + 1, 6)]
    ya = np.array([frozenset(e) in SKEL for e in und])
    assert auroc(ya, np.array([max(net.edge_scores[i, j], net.edge_scores[j, i]) for i, j in und])) > 0.85
    assert net.meta["ranking"]["tree_method"] == "randomforest"


def test_pruned_bootstrap_and_consensus_dag():
    X = _nonlinear_sem(300, np.random.default_rng(13))
    v = [f"V{i}" for i in range(6)]
    net = learn_structure(X, v, score="spline", k=5, confidence="bootstrap", n_bootstrap=6, prune_alpha=1e-3,
                          tie_break="none")
    assert net.meta["prune"]["edges_after"] <= net.meta["prune"]["edges_before"]
    cons = _est_parents(consensus_dag(net.edge_scores, 0.5))
    assert {frozenset(e) for e in cons} >= {frozenset(e) for e in [(0, 1), (1, 3), (2, 3), (3, 4)]}
    assert shd(cons, TRUE) <= 3
    # majority rule, highest confidence first, no cycles
    S = np.zeros((3, 3))
    S[0, 1], S[1, 2], S[2, 0], S[1, 0] = 0.9, 0.8, 0.6, 0.1
    assert _est_parents(consensus_dag(S, 0.5)) == {(0, 1), (1, 2)}
    assert _est_parents(consensus_dag(S, 0.85)) == {(0, 1)}


def _est_parents(parents):
    return {(i, j) for j, pa in enumerate(parents) for i in pa}


def test_cam_search_and_pruning_recover_a_nonlinear_dag():
    """CAM (greedy additive-model order search, then pruning) on data from a known SEM whose every
    function is nonlinear (CAM's identifiability condition; a linear-Gaussian mechanism, as in
    _nonlinear_sem's node 3, leaves its direction open): the dense greedy graph respects the true
    order, and pruning leaves exactly the true edges."""
    from targetkg.models.bn.search import cam_search, has_path

    rng, n = np.random.default_rng(3), 1000
    X = np.zeros((n, 6))
    X[:, 0], X[:, 5] = rng.normal(size=n), rng.normal(size=n)
    X[:, 1] = np.tanh(2 * X[:, 0]) + 0.3 * rng.normal(size=n)
    X[:, 2] = 0.8 * X[:, 0] ** 2 + 0.4 * rng.normal(size=n)
    X[:, 3] = np.sin(2 * X[:, 1]) + np.tanh(X[:, 2]) + 0.3 * rng.normal(size=n)
    X[:, 4] = np.sin(2 * X[:, 3]) + 0.5 * X[:, 5] ** 2 + 0.3 * rng.normal(size=n)
    dense = cam_search(X)
    children = [set() for _ in range(6)]
    for j, pa in enumerate(dense):
        for i in pa:
            children[i].add(j)
    assert all(not has_path(children, j, i) for i, j in TRUE)  # no true edge is contradicted by the order
    pruned, _ = significance_prune(X, dense, alpha=1e-3)
    assert {(i, j) for j, pa in enumerate(pruned) for i in pa} == TRUE
