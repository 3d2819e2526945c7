"""Structure-learning pipeline: screening -> hill climbing -> edge confidence, on any executor.

Edge confidence:

* ``"bootstrap"`` -- hill climbing on ``n_bootstrap`` resamples of the samples; frequency of
  every directed edge;
* ``"mcmc"``      -- structure MCMC (:mod:`.mcmc`) started from the hill-climbing optimum;
* ``"nnsr"``      -- NNSR-style (Tamada et al. 2011) for large networks: ``n_subsets`` times, a
  random seed node plus its candidate neighbours (breadth first, up to ``subset_size`` nodes) is
  learned by hill climbing (own screening inside the subset); the frequency of i -> j is
  #(estimated) / #(i and j in the same subset).  The final DAG adds edges with frequency
  >= ``threshold`` in decreasing order, skipping those that would close a cycle;
* ``"none"``      -- the hill-climbing point estimate only.

Tasks (bootstrap replicates, subnetworks) are independent and run through :class:`Executor`:
in-process, a local process pool, a Dask cluster (``dask.distributed``) or a Ray cluster -- the
task function and its arguments are the same in every mode.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd

from .exact import MAX_EXACT_VARS, exact_posterior, exact_search
from .order import order_search
from .fit import fit_dag, standardise
from .mcmc import structure_mcmc
from .results import Network
from .scores import Scorer
from .screening import Candidates, screen
from .search import StructurePrior, has_path, hill_climb, significance_prune

# --------------------------------------------------------------------------------------
# executors
# --------------------------------------------------------------------------------------


class Executor:
    """``map(fn, arglist)`` over a backend: "local" | "process" | "dask" | "ray" (or a dask Client).

    For Dask, ``address`` connects to a running scheduler; without it a ``LocalCluster`` with
    ``n_workers`` processes is started (and closed by :meth:`close`).  Large shared arguments are
    passed once through :meth:`share` (dask ``scatter`` / ray ``put``).
    """

    def __init__(self, backend="local", n_workers: int | None = None, address: str | None = None):
        self.n_workers = n_workers or max(1, (os.cpu_count() or 1))
        self._own = None
        if not isinstance(backend, str):  # a dask.distributed.Client
            self.backend, self.client = "dask", backend
            return
        self.backend = backend
        self.client = None
        if backend == "process":
            self.client = ProcessPoolExecutor(max_workers=self.n_workers)
        elif backend == "dask":
            from dask.distributed import Client, LocalCluster

            if address:
                self.client = Client(address)
            else:
                self._own = LocalCluster(n_workers=self.n_workers, threads_per_worker=1, processes=True,
                                         dashboard_address=None)
                self.client = Client(self._own)
        elif backend == "ray":
            import ray

            if not ray.is_initialized():
                ray.init(address=address, num_cpus=None if address else self.n_workers, ignore_reinit_error=True)
            self.client = ray
        elif backend != "local":
            raise ValueError(f"unknown executor {backend!r} (local | process | dask | ray)")

    def share(self, obj):
        if self.backend == "dask":
            return self.client.scatter(obj, broadcast=True)
        if self.backend == "ray":
            return self.client.put(obj)
        return obj

    def map(self, fn, arglist: list) -> list:
        if self.backend == "local":
            return [fn(*a) for a in arglist]
        if self.backend == "process":
            futs = [self.client.submit(fn, *a) for a in arglist]
            return [f.result() for f in futs]
        if self.backend == "dask":
            futs = [self.client.submit(fn, *a, pure=False) for a in arglist]
            return self.client.gather(futs)
        ray = self.client
        rf = ray.remote(fn)
        return ray.get([rf.remote(*a) for a in arglist])

    def close(self):
        if self.backend == "process":
            self.client.shutdown()
        elif self.backend == "dask":
            if self._own is not None:
                self.client.close()
                self._own.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --------------------------------------------------------------------------------------
# tasks (top-level functions so that every backend can pickle them)
# --------------------------------------------------------------------------------------


SEARCH_METHODS = ("hill_climb", "order", "exact")
# Default search: exact for the parametric scores on up to AUTO_EXACT_VARS variables, ordering-based
# search (started from hill climbing, :mod:`.order`) above that. Decided on simulated DAGs (500
# samples, about 2 parents per node; mean SHD; bench/bn.py, section 6). 12 variables, 20 DAGs,
# hill climbing / 5 restarts / ordering-based / exact: BGe 6.95 / 5.1 / 3.75 / 3.75, BIC 8.35 /
# 5.2 / 4.9 / 4.05, BDeu 6.55 / 6.15 / 6.05 / 5.9. 50 variables, 10 DAGs, hill climbing /
# ordering-based: BGe 26.8 / 17.4, BIC 34.9 / 25.9, BDeu 31.9 / 27.2, BGe on tanh data 20.1 / 16.0.
# Neither for the spline score: on tanh DAGs its optimum is further from the truth (12 variables:
# hill climbing 16.25, ordering-based 17.65, exact 17.75; 50 variables: 88.9 against 95.0 with
# ordering-based search); the score adds spurious parents and hill climbing stops before most of them.
AUTO_EXACT_VARS = 15
AUTO_EXACT_SCORES = ("bge", "bic", "bdeu")


def resolve_search(search: str | None, n_vars: int, score: str = "bge", confidence: str = "none") -> str:
    """The search method (``None``: the default above; exact whenever ``confidence="exact"``).
    Checked up front, so a bad name or an exact search over too many variables fails before any
    bootstrap replicate runs."""
    if search is None:
        if confidence == "exact" or (score in AUTO_EXACT_SCORES and n_vars <= AUTO_EXACT_VARS):
            return "exact"
        return "order" if score in AUTO_EXACT_SCORES else "hill_climb"
    if search not in SEARCH_METHODS:
        raise ValueError(f"unknown search {search!r}; choose one of {', '.join(SEARCH_METHODS)}")
    if search == "exact" and n_vars > MAX_EXACT_VARS:
        raise ValueError(f"exact search is limited to {MAX_EXACT_VARS} variables, the data have {n_vars}; "
                         f"use search='hill_climb'")
    return search


def optimise_structure(scorer, cands, search: str, max_parents: int, prior, seed: int = 0, restarts: int = 0):
    if search == "exact":
        return exact_search(scorer, cands, max_parents=max_parents, prior=prior)
    hc = hill_climb(scorer, cands, max_parents=max_parents, prior=prior, seed=seed, restarts=restarts)
    if search == "order":  # started from the hill-climbing DAG's order: never scores below it
        return order_search(scorer, cands, max_parents=max_parents, prior=prior, init_parents=hc.parents, seed=seed)
    return hc


def _hc_task(X, inter, rows, cols, cfg, seed):
    """Screen + hill-climb on X[rows][:, cols]; returns directed edges in *global* column indices."""
    Xs = X[rows][:, cols] if cols is not None else X[rows]
    ints = (inter[rows][:, cols] if cols is not None else inter[rows]) if inter is not None else None
    Z, _, _ = standardise(Xs)
    cols_arr = np.arange(Xs.shape[1]) if cols is None else np.asarray(cols)
    local = {int(c): a for a, c in enumerate(cols_arr)}
    prior_edges = None
    if cfg.get("prior_edges"):
        prior_edges = [(local[i], local[j]) for i, j in cfg["prior_edges"] if i in local and j in local]
    if cfg.get("candidates") is not None and cols is None:
        cands = Candidates(parents=cfg["candidates"], weights=None, method="given")
    else:
        cands = screen(Z, k=cfg["k"], method=cfg["screening"], prior_edges=prior_edges, seed=seed)
    scorer = Scorer(Z, kind=cfg["score"], inter=ints, spline_M=cfg["spline_M"])
    pr = StructurePrior(cfg["edge_penalty"], {e: cfg["prior_weight"] for e in (prior_edges or [])})
    res = optimise_structure(scorer, cands, cfg.get("search", "hill_climb"), max_parents=cfg["max_parents"], prior=pr,
                             seed=seed, restarts=cfg.get("restarts", 0))
    parents = res.parents
    if cfg.get("prune_alpha") is not None:  # every replicate is pruned like the point estimate
        parents, _ = significance_prune(Z, parents, inter=ints, alpha=cfg["prune_alpha"],
                                        kind="spline" if cfg["score"] in ("spline", "bdeu") else "linear",
                                        spline_M=cfg["spline_M"])
    return [(int(cols_arr[i]), int(cols_arr[j])) for j, pa in enumerate(parents) for i in pa]


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def acyclic_from_ranked(p: int, ranked_edges: list) -> list:
    """Add edges (i, j) in the given order, skipping those that close a cycle -> parent sets."""
    parents = [set() for _ in range(p)]
    children = [set() for _ in range(p)]
    for i, j in ranked_edges:
        if i == j or i in parents[j] or has_path(children, j, i):
            continue
        parents[j].add(i)
        children[i].add(j)
    return parents


def consensus_dag(edge_scores: np.ndarray, threshold: float = 0.5) -> list[set]:
    """Model-averaged DAG: directed edges with confidence >= ``threshold`` (default 0.5, the
    majority / median-probability rule), added in decreasing confidence, skipping any that would
    close a cycle -> parent sets."""
    S = np.asarray(edge_scores, dtype=float)
    p = S.shape[0]
    ranked = sorted(((i, j) for i in range(p) for j in range(p) if i != j and S[i, j] >= threshold),
                    key=lambda e: -S[e])
    return acyclic_from_ranked(p, ranked)


def center_groups(X: np.ndarray, groups) -> np.ndarray:
    """Subtract every group's (condition's) column means: per-condition intercepts."""
    X = np.asarray(X, dtype=np.float64).copy()
    g = np.asarray(groups)
    if g.shape[0] != X.shape[0]:
        raise ValueError(f"{g.shape[0]} group labels for {X.shape[0]} samples")
    for lab in np.unique(g):
        m = g == lab
        X[m] -= X[m].mean(axis=0)
    return X


def interventions_mask(interventions, samples: list, variables: list) -> np.ndarray | None:
    """Accepts None, an (n x p) boolean array, or a list (per sample) of intervened variable names."""
    if interventions is None:
        return None
    n, p = len(samples), len(variables)
    if isinstance(interventions, np.ndarray):
        if interventions.shape != (n, p):
            raise ValueError(f"intervention mask shape {interventions.shape} != {(n, p)}")
        return interventions.astype(bool)
    idx = {v: a for a, v in enumerate(variables)}
    M = np.zeros((n, p), dtype=bool)
    if len(interventions) != n:
        raise ValueError(f"{len(interventions)} intervention entries for {n} samples")
    for s, tg in enumerate(interventions):
        for v in tg or []:
            if v not in idx:
                raise ValueError(f"intervention target {v!r} (sample {samples[s]!r}) is not a variable")
            M[s, idx[v]] = True
    return M


def edge_weights(model, parents) -> dict:
    """Effect size of every edge: linear -> standardised coefficient; spline -> sd of the term."""
    out = {}
    for j, nf in enumerate(model.nodes):
        for a, i in enumerate(nf.parents):
            if model.kind == "linear":
                out[(int(i), j)] = float(nf.coef[a])
            else:
                Mm1 = model.basis.M - 1
                t = model.basis.BZ[int(i)] @ nf.coef[a * Mm1 : (a + 1) * Mm1]
                out[(int(i), j)] = float(np.std(t))
    return out


def _to_frame(X, variables, parents, posterior: dict | None, kind, inter, spline_M, edge_diag: dict | None = None):
    """Edge table of the point estimate.  ``posterior``: {(i, j): frequency} from bootstrap / MCMC /
    NNSR -- an edge absent from the dict was in no sample and gets 0.0 (never 1.0); ``None`` means
    no confidence was computed and the column is NaN.  ``edge_diag``: {(i, j): (rhat, ess)} from
    MCMC -> extra ``rhat`` and ``ess`` columns."""
    model = fit_dag(X, parents, kind="linear" if kind in ("bic", "bge", "bdeu") else "spline", inter=inter, spline_M=spline_M)
    w = edge_weights(model, parents)
    cols = ["source", "target", "weight", "posterior"] + (["rhat", "ess"] if edge_diag is not None else [])
    rows = []
    for j, pa in enumerate(parents):
        for i in sorted(pa):
            r = {"source": variables[i], "target": variables[j], "weight": w.get((i, j), np.nan),
                 "posterior": np.nan if posterior is None else float(posterior.get((i, j), 0.0))}
            if edge_diag is not None:
                r["rhat"], r["ess"] = edge_diag.get((i, j), (np.nan, np.nan))
            rows.append(r)
    return pd.DataFrame(rows, columns=cols), model


def learn_structure(
    X: np.ndarray,
    variables: list,
    score: str = "bge",
    screening: str = "correlation",
    k: int = 10,
    max_parents: int = 5,
    prior_edges: list | None = None,
    prior_weight: float = 2.0,
    edge_penalty: float = 0.0,
    inter: np.ndarray | None = None,
    confidence: str = "none",
    n_bootstrap: int = 20,
    mcmc: dict | None = None,
    nnsr: dict | None = None,
    executor="local",
    n_workers: int | None = None,
    address: str | None = None,
    spline_M: int = 10,
    restarts: int = 0,
    seed: int = 0,
    tie_break: str = "screening",
    groups=None,
    prune_alpha: float | None = None,
    search: str | None = None,
    exact_samples: int = 200,
) -> Network:
    """Learn a DAG (and optionally edge confidences) from samples x variables data X.

    ``inter`` (n x p bool): sample s intervened on variable j -> s is left out of j's family score
    and fit (Cooper & Yoo 1999; see :mod:`.scores`).  ``groups`` (n labels, e.g. experimental
    conditions): every variable is centred within each group before scoring, i.e. each condition
    gets its own intercept in every node's mechanism (the conditions are context variables that
    may shift any node -- the conservative reading when interventions are imperfect or have
    off-target effects) and only within-condition co-variation informs the structure; without it
    pooled heterogeneous conditions make almost every pair dependent.  ``prune_alpha``: after the
    search the point-estimate DAG is pruned by :func:`.search.significance_prune` (additive spline
    F-tests for ``score="spline"``/``"bdeu"``, linear otherwise), and so is every bootstrap
    replicate (``confidence="bootstrap"``); ``None`` = no pruning.  A model-averaged DAG from the
    bootstrap frequencies: :func:`consensus_dag`.  ``search``: ``"exact"`` finds the
    highest-scoring DAG by dynamic programming (:mod:`.exact`, up to 20 variables),
    ``"hill_climb"`` the greedy local optimum, ``"order"`` ordering-based search started from it
    (:mod:`.order`); default (``None``): exact for BGe/BIC/BDeu on up to ``AUTO_EXACT_VARS``
    variables and with ``confidence="exact"``, ordering-based for them above that, hill climbing
    for the spline score (its optimum is often denser than the truth, see :mod:`.exact`).  It applies
    to the point estimate and to every bootstrap replicate and NNSR subset.  ``confidence="exact"``: exact posterior edge
    probabilities summed over all DAGs (:func:`.exact.exact_edge_posteriors`, up to 20 variables)
    and ``exact_samples`` independent DAG draws from that posterior for the simulations.
    """
    t0 = time.perf_counter()
    X = np.asarray(X, dtype=np.float64)
    n, p = X.shape
    if groups is not None:
        X = center_groups(X, groups)
    idx = {v: a for a, v in enumerate(variables)}
    pe = [(idx[a], idx[b]) for a, b in (prior_edges or []) if a in idx and b in idx]
    search = resolve_search(search, p, score, confidence)
    if confidence == "exact" and p > MAX_EXACT_VARS:
        raise ValueError(f"exact edge posteriors are limited to {MAX_EXACT_VARS} variables, the data have {p}; "
                         "use confidence='mcmc' or 'bootstrap'")
    cfg = dict(score=score, screening=screening, k=k, max_parents=max_parents, prior_edges=pe,
               prior_weight=prior_weight, edge_penalty=edge_penalty, spline_M=spline_M, restarts=restarts,
               prune_alpha=prune_alpha, search=search)
    meta = {"score": score, "screening": screening, "k": k, "max_parents": max_parents, "confidence": confidence,
            "n_samples": n, "n_variables": p, "prior_edges": len(pe), "seed": seed}
    Z, _, _ = standardise(X)
    posterior: dict = {}
    edge_diag: dict | None = None
    samples = None
    cands: Candidates | None = None
    if confidence == "nnsr":
        o = dict(subset_size=min(100, p), n_subsets=None, threshold=0.5, coverage=3)
        o.update(nnsr or {})
        cands = screen(Z, k=k, method="correlation" if screening == "trees" else screening, prior_edges=pe, seed=seed)
        rng = np.random.default_rng(seed)
        n_sub = o["n_subsets"] or int(np.ceil(o["coverage"] * p / o["subset_size"])) * 2
        subsets = []
        for _ in range(n_sub):
            seed_node = int(rng.integers(p))
            sub, frontier = [seed_node], [seed_node]
            seen = {seed_node}
            while frontier and len(sub) < o["subset_size"]:
                nxt = []
                for u in frontier:
                    nb = list(cands.parents[u])
                    rng.shuffle(nb)
                    for v in nb:
                        v = int(v)
                        if v not in seen and len(sub) < o["subset_size"]:
                            seen.add(v)
                            sub.append(v)
                            nxt.append(v)
                frontier = nxt
            while len(sub) < o["subset_size"]:  # disconnected remainder: fill at random
                v = int(rng.integers(p))
                if v not in seen:
                    seen.add(v)
                    sub.append(v)
            subsets.append(np.array(sorted(sub)))
        with Executor(executor, n_workers, address) as ex:
            Xh = ex.share(X)
            Ih = ex.share(inter) if inter is not None else None
            results = ex.map(_hc_task, [(Xh, Ih, np.arange(n), s, cfg, seed + t) for t, s in enumerate(subsets)])
        co = {}
        cnt = {}
        for s, edges in zip(subsets, results):
            for e in edges:
                cnt[e] = cnt.get(e, 0) + 1
            sset = set(int(v) for v in s)
            for e in edges:
                co[e] = 0
        # co-occurrence counts only for edges that were ever estimated (both directions)
        members = [set(int(v) for v in s) for s in subsets]
        for e in list(cnt):
            co[e] = sum(1 for m in members if e[0] in m and e[1] in m)
        posterior = {e: cnt[e] / co[e] for e in cnt}
        ranked = sorted((e for e, f in posterior.items() if f >= o["threshold"]), key=lambda e: -posterior[e])
        parents = acyclic_from_ranked(p, ranked)
        meta["nnsr"] = {**o, "n_subsets": n_sub, "mean_coverage": float(np.mean([len(s) for s in subsets]) * n_sub / p)}
    else:
        cands = screen(Z, k=k, method=screening, prior_edges=pe, seed=seed)
        scorer = Scorer(Z, kind=score, inter=inter, spline_M=spline_M)
        pr = StructurePrior(edge_penalty, {e: prior_weight for e in pe})
        hc = optimise_structure(scorer, cands, search, max_parents=max_parents, prior=pr, seed=seed, restarts=restarts)
        parents = hc.parents
        meta["search"] = {"method": search, "score": hc.score, "families_scored": len(scorer._cache)}
        if search != "exact":  # hill-climbing moves or, for "order", node moves in the order
            meta["search"]["iterations"] = hc.iterations
        if confidence == "bootstrap":
            rng = np.random.default_rng(seed)
            boots = [np.sort(rng.integers(0, n, n)) for _ in range(n_bootstrap)]
            cfg["candidates"] = cands.parents  # screening once on the full data
            with Executor(executor, n_workers, address) as ex:
                Xh = ex.share(X)
                Ih = ex.share(inter) if inter is not None else None
                results = ex.map(_hc_task, [(Xh, Ih, b, None, cfg, seed + 1 + t) for t, b in enumerate(boots)])
            for edges in results:
                for e in edges:
                    posterior[e] = posterior.get(e, 0.0) + 1.0 / n_bootstrap
            samples = [[set() for _ in range(p)] for _ in results]
            for d, edges in enumerate(results):
                for i, j in edges:
                    samples[d][j].add(i)
            meta["bootstrap"] = {"n": n_bootstrap}
        elif confidence == "mcmc":
            o = dict(n_chains=4, n_steps=20000, thin=10, burn_in=0.5, n_dag_samples=200)
            o.update(mcmc or {})
            mc = structure_mcmc(scorer, cands, max_parents=max_parents, starts=[hc.parents], edge_penalty=edge_penalty,
                                prior_edges={e: prior_weight for e in pe}, seed=seed, **o)
            posterior = mc.edge_probabilities()
            edge_diag = mc.edge_diagnostics()
            samples = [[set(int(i) for i in pa) for pa in dag] for dag in mc.samples]
            meta["mcmc"] = {**mc.diagnostics, "n_dag_samples": len(samples)}
        elif confidence == "exact":
            P, log_z, samples = exact_posterior(scorer, cands, n_samples=exact_samples, max_parents=max_parents,
                                                prior=pr, seed=seed)
            posterior = {(int(i), int(j)): float(P[i, j]) for i, j in zip(*np.nonzero(P))}
            meta["exact_posterior"] = {"log_marginal_likelihood": log_z, "prior_over_orders": "uniform (order-modular)",
                                       "n_dag_samples": len(samples)}
        elif confidence != "none":
            raise ValueError(f"unknown confidence method {confidence!r} (none | bootstrap | mcmc | nnsr | exact)")
    if prune_alpha is not None:
        before = sum(len(pa) for pa in parents)
        parents, pv = significance_prune(X, parents, inter=inter, alpha=prune_alpha,
                                         kind="spline" if score in ("spline", "bdeu") else "linear", spline_M=spline_M)
        meta["prune"] = {"alpha": prune_alpha, "edges_before": before, "edges_after": sum(len(pa) for pa in parents)}
    if groups is not None:
        meta["groups"] = len(np.unique(np.asarray(groups)))
    # ranking of all ordered pairs: confidence, ties broken by the screening strength
    S = np.zeros((p, p))
    if confidence != "none":
        for (i, j), v in posterior.items():
            S[i, j] = v
    else:
        for j, pa in enumerate(parents):
            for i in pa:
                S[i, j] = 1.0
    if tie_break == "screening" and cands is not None and cands.weights is not None:
        W = cands.weights
        S = S + 1e-3 * W / (W.max() or 1.0)
    meta["posterior"] = {
        "bootstrap": f"bootstrap frequency over {n_bootstrap} replicates (0.0 = in no replicate)",
        "mcmc": "MCMC posterior edge probability (0.0 = in no post-burn-in draw); per-edge rhat/ess columns",
        "nnsr": "NNSR frequency: #(estimated) / #(both endpoints in the same subset)",
        "exact": "exact posterior edge probability, summed over all DAGs (uniform prior over node orders)",
        "none": "none: no edge confidence computed (posterior column is NaN)",
    }.get(confidence, confidence)
    if confidence != "none":
        # confident edges that the point estimate lacks (e.g. other orientation, pruned, lost to hill climbing)
        point = {(i, j) for j, pa in enumerate(parents) for i in pa}
        missing = sorted(((e, v) for e, v in posterior.items() if v >= 0.5 and e not in point), key=lambda t: -t[1])
        meta["confident_edges_not_in_estimate"] = {
            "n": len(missing),
            "top": [[variables[i], variables[j], round(float(v), 4)] for (i, j), v in missing[:20]],
        }
    edges, model = _to_frame(X, variables, parents, None if confidence == "none" else posterior, score, inter, spline_M,
                             edge_diag=edge_diag)
    meta["seconds"] = time.perf_counter() - t0
    meta["n_edges"] = len(edges)
    return Network(variables=list(variables), edges=edges, parents=[set(s) for s in parents], score=score, meta=meta,
                   edge_scores=S, samples=samples)


# --------------------------------------------------------------------------------------
# edge ranking: Bayesian-network confidence combined with tree-ensemble importance
# --------------------------------------------------------------------------------------


def rank_average(*scores: np.ndarray, weights=None) -> np.ndarray:
    """Weighted mean of the normalised ranks (in (0, 1], over the off-diagonal pairs, ties averaged)
    of several p x p edge-score matrices; the diagonal is 0.  Rank averaging ("Borda count",
    the wisdom-of-crowds aggregation of Marbach et al. 2012, Nat. Methods) makes scores on
    different scales (bootstrap frequencies, variance reductions) commensurable."""
    from scipy.stats import rankdata

    if not scores:
        raise ValueError("no score matrices given")
    p = scores[0].shape[0]
    off = ~np.eye(p, dtype=bool)
    w = np.ones(len(scores)) if weights is None else np.asarray(weights, dtype=float)
    out = np.zeros((p, p))
    for a, S in enumerate(scores):
        if S.shape != (p, p):
            raise ValueError(f"score matrix {a} has shape {S.shape}, expected {(p, p)}")
        R = np.zeros((p, p))
        R[off] = rankdata(np.asarray(S, dtype=float)[off]) / off.sum()
        out += w[a] * R
    return out / w.sum()


def learn_ranked(
    X: np.ndarray,
    variables: list,
    X_trees: np.ndarray | None = None,
    n_bootstrap: int = 30,
    n_trees: int = 500,
    tree_method: str = "randomforest",
    max_features="sqrt",
    seed: int = 0,
    **bn_kwargs,
) -> Network:
    """Rank all ordered pairs by BN bootstrap confidence + tree-ensemble importance (rank average).

    1. :func:`learn_structure` with ``confidence="bootstrap"`` (``n_bootstrap`` resamples; the
       other settings via ``bn_kwargs``, default BGe with correlation screening k = 10) gives the
       directed edge frequency f[i, j] (ties among never-selected pairs broken by the screening
       strength);
    2. :func:`.screening.tree_importance` on ``X_trees`` (default X) gives the GENIE3 importance
       w[i, j] (defaults = GENIE3's: random forest, K = sqrt(p), unnormalised variance reduction);
    3. ``edge_scores = rank_average(f, w)`` (equal weights).

    The BN confidence is sparse (most pairs never selected), the tree importance is dense but
    cannot separate direct from indirect regulators; their ranks are complementary.  The returned
    Network keeps the BN point estimate (``parents``, ``edges``), ``edge_scores`` is the combined
    ranking, and ``meta["components"]`` holds both input matrices.
    """
    from .screening import tree_importance

    o = dict(score="bge", screening="correlation", k=10)
    o.update(bn_kwargs)
    t0 = time.perf_counter()
    net = learn_structure(X, variables, confidence="bootstrap", n_bootstrap=n_bootstrap, seed=seed, **o)
    t1 = time.perf_counter()
    W = tree_importance(X if X_trees is None else X_trees, n_estimators=n_trees, max_features=max_features, seed=seed,
                        method=tree_method, normalize=False)
    t2 = time.perf_counter()
    net.score_components = {"bn_bootstrap": net.edge_scores, "tree_importance": W}
    net.meta["ranking"] = {"method": "rank_average(bn_bootstrap, tree_importance)", "tree_method": tree_method,
                           "n_trees": n_trees, "max_features": max_features, "n_bootstrap": n_bootstrap,
                           "seconds_bn": t1 - t0, "seconds_trees": t2 - t1}
    net.edge_scores = rank_average(net.edge_scores, W)
    return net
