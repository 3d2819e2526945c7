"""Greedy hill climbing over DAGs restricted to candidate parents.

Moves: add, delete and reverse an edge; every move keeps the graph acyclic and respects
``max_parents``.  The family scores are cached (:class:`~.scores.Scorer`), the move deltas of a
node are recomputed only when its parent set changed, so one iteration costs O(k) new family
scores.  A soft structure prior adds ``edge_penalty`` (usually <= 0) per edge and
``prior_weight`` for edges listed in ``prior_edges`` (e.g. interactions from the warehouse).
A positive move that would close a cycle is dropped from the move list until one of its
endpoints' parent sets changes (then its delta is recomputed) -- the usual cheap approximation.
Optional random restarts perturb the local optimum (random deletions/reversals) and keep the best.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .scores import Scorer
from .screening import Candidates


@dataclass
class StructurePrior:
    edge_penalty: float = 0.0
    prior_edges: dict | None = None  # (i, j) -> bonus in nats

    def edge(self, i: int, j: int) -> float:
        b = self.edge_penalty
        if self.prior_edges:
            b += self.prior_edges.get((i, j), 0.0)
        return b


def has_path(children: list[set], src: int, dst: int, skip: tuple[int, int] | None = None) -> bool:
    """Is there a directed path src -> ... -> dst (optionally ignoring the edge ``skip``)?"""
    if src == dst:
        return True
    stack = [src]
    seen = {src}
    while stack:
        u = stack.pop()
        for v in children[u]:
            if skip is not None and u == skip[0] and v == skip[1]:
                continue
            if v == dst:
                return True
            if v not in seen:
                seen.add(v)
                stack.append(v)
    return False


@dataclass
class HillClimbResult:
    parents: list[set]
    score: float
    iterations: int
    restarts: int


def hill_climb(
    scorer: Scorer,
    candidates: Candidates,
    max_parents: int = 5,
    prior: StructurePrior | None = None,
    start: list[set] | None = None,
    max_iter: int = 100000,
    restarts: int = 0,
    perturb: int = 10,
    seed: int = 0,
    tol: float = 1e-9,
) -> HillClimbResult:
    p = scorer.n_vars
    prior = prior or StructurePrior()
    rng = np.random.default_rng(seed)
    cand = candidates.parents
    cand_set = [set(int(i) for i in c) for c in cand]

    def climb(parents: list[set]):
        children = [set() for _ in range(p)]
        for j, pa in enumerate(parents):
            for i in pa:
                children[i].add(j)
        pos_toggle: list[list] = [[] for _ in range(p)]  # positive add/delete moves of node j
        pos_rev: dict = {}  # (i, j) -> delta of reversing i -> j (only if positive)

        def node_deltas(j):
            base = scorer.score(j, parents[j])
            out = []
            for i in cand[j]:
                i = int(i)
                if i in parents[j]:
                    v = scorer.score(j, parents[j] - {i}) - base - prior.edge(i, j)
                elif j not in parents[i] and len(parents[j]) < max_parents:
                    v = scorer.score(j, parents[j] | {i}) - base + prior.edge(i, j)
                else:
                    continue
                if v > tol:
                    out.append((v, "t", i, j))
            pos_toggle[j] = out

        def rev_delta(i, j):  # reverse existing i -> j into j -> i
            pos_rev.pop((i, j), None)
            if j not in cand_set[i] or len(parents[i]) >= max_parents:
                return
            v = (
                scorer.score(j, parents[j] - {i})
                - scorer.score(j, parents[j])
                + scorer.score(i, parents[i] | {j})
                - scorer.score(i, parents[i])
                - prior.edge(i, j)
                + prior.edge(j, i)
            )
            if v > tol:
                pos_rev[(i, j)] = v

        for j in range(p):
            node_deltas(j)
        for j in range(p):
            for i in parents[j]:
                rev_delta(i, j)
        it = 0
        while it < max_iter:
            it += 1
            applied = None
            while applied is None:
                best_t = max((m for lst in pos_toggle for m in lst), default=None, key=lambda m: m[0])
                best_r = max(pos_rev.items(), default=None, key=lambda kv: kv[1])
                if best_t is None and best_r is None:
                    break
                if best_r is not None and (best_t is None or best_r[1] > best_t[0]):
                    (i, j), v = best_r
                    if has_path(children, i, j, skip=(i, j)):
                        # blocked by a cycle: dropped until node i or j changes (then recomputed)
                        pos_rev.pop((i, j), None)
                        continue
                    parents[j].discard(i)
                    children[i].discard(j)
                    parents[i].add(j)
                    children[j].add(i)
                    pos_rev.pop((i, j), None)
                else:
                    v, _, i, j = best_t
                    if i in parents[j]:
                        parents[j].discard(i)
                        children[i].discard(j)
                        pos_rev.pop((i, j), None)
                    else:
                        if has_path(children, j, i):
                            pos_toggle[j] = [m for m in pos_toggle[j] if m[2] != i]
                            continue
                        parents[j].add(i)
                        children[i].add(j)
                applied = (i, j)
            if applied is None:
                break
            for c in applied:
                node_deltas(c)
                for a in parents[c]:
                    rev_delta(a, c)
                for b in children[c]:
                    rev_delta(c, b)
        return parents, it

    def total(parents):
        s = 0.0
        for j, pa in enumerate(parents):
            s += scorer.score(j, pa) + sum(prior.edge(i, j) for i in pa)
        return s

    parents = [set(s) for s in start] if start is not None else [set() for _ in range(p)]
    parents, iters = climb(parents)
    best = ([set(s) for s in parents], total(parents))
    for r in range(restarts):
        cur = [set(s) for s in best[0]]
        edges = [(i, j) for j, pa in enumerate(cur) for i in pa]
        if not edges:
            break
        ch = [set() for _ in range(p)]
        for j2, pa in enumerate(cur):
            for i2 in pa:
                ch[i2].add(j2)
        for e in rng.permutation(len(edges))[:perturb]:
            i, j = edges[e]
            cur[j].discard(i)
            ch[i].discard(j)
            # reverse instead of delete when allowed and acyclic (escapes wrongly oriented v-structures)
            if rng.random() < 0.5 and j in cand_set[i] and len(cur[i]) < max_parents and not has_path(ch, i, j):
                cur[i].add(j)
                ch[j].add(i)
        cur, it2 = climb(cur)
        iters += it2
        sc = total(cur)
        if sc > best[1] + tol:
            best = ([set(s) for s in cur], sc)
    return HillClimbResult(parents=best[0], score=best[1], iterations=iters, restarts=restarts)


def significance_prune(
    X: np.ndarray,
    parents: list,
    inter: np.ndarray | None = None,
    alpha: float = 1e-3,
    kind: str = "spline",
    spline_M: int = 10,
) -> tuple[list[set], dict]:
    """CAM-style pruning of a DAG (Buehlmann, Peters & Ernest 2014, Ann. Stat., section 3.3).

    For every node j and every parent i, an F-test of the nested additive regressions
    ``x_j ~ 1 + sum_{k in Pa(j)} f_k(x_k)`` vs the same without i, on the samples in which j was
    not intervened on; i is dropped when the p-value exceeds ``alpha`` (all parents of j are
    tested against the full parent set, as in CAM).  ``kind="spline"``: every f_k is an
    unpenalised regression spline in the (sum-to-zero) cubic B-spline basis of the BNRC score
    (``spline_M - 1`` columns per parent); ``kind="linear"``: f_k is linear.  The default
    ``alpha = 1e-3`` is CAM's default cutoff, fixed a priori.  X is standardised here.

    Returns (pruned parent sets, {(i, j): p-value} for every tested edge).
    """
    from scipy.stats import f as fdist

    from .fit import standardise
    from .scores import SplineBasis

    Z, _, _ = standardise(np.asarray(X, dtype=np.float64))
    n, p = Z.shape
    basis = SplineBasis.build(Z, spline_M) if kind == "spline" else None
    if kind not in ("spline", "linear"):
        raise ValueError(f"unknown pruning model {kind!r} (spline | linear)")
    inter = np.zeros((n, p), dtype=bool) if inter is None else np.asarray(inter, dtype=bool)
    out, pvals = [], {}
    for j in range(p):
        pa = sorted(int(i) for i in parents[j])
        keep = set(pa)
        if not pa:
            out.append(keep)
            continue
        rows = np.where(~inter[:, j])[0]
        y = Z[rows, j]

        def design(ps):
            cols = [np.ones((len(rows), 1))]
            for i in ps:
                cols.append(basis.BZ[i][rows] if kind == "spline" else Z[rows, i][:, None])
            return np.hstack(cols)

        def rss_rank(D):
            b, _, rank, _ = np.linalg.lstsq(D, y, rcond=None)
            r = y - D @ b
            return float(r @ r), int(rank)

        r1, d1 = rss_rank(design(pa))
        for i in pa:
            r0, d0 = rss_rank(design([a for a in pa if a != i]))
            df1, df2 = d1 - d0, len(rows) - d1
            if df1 <= 0 or df2 <= 0 or r1 <= 0:
                pv = 1.0 if df1 <= 0 else 0.0
            else:
                F = max(r0 - r1, 0.0) / df1 / (r1 / df2)
                pv = float(fdist.sf(F, df1, df2))
            pvals[(i, j)] = pv
            if pv > alpha:
                keep.discard(i)
        out.append(keep)
    return out, pvals


def cam_search(
    X: np.ndarray,
    inter: np.ndarray | None = None,
    max_parents: int | None = None,
    spline_M: int = 10,
    candidates: list | None = None,
) -> list[set]:
    """CAM's greedy search (Buehlmann, Peters & Ernest 2014, Ann. Stat., section 3.2, "IncEdge").

    Additive Gaussian SEM ``x_j = sum_{k in Pa(j)} f_k(x_k) + e_j``; the node score is
    ``-log var(residuals)`` of a regression spline fit (the basis of :func:`significance_prune`,
    ``spline_M - 1`` columns per parent) on the samples in which j was not intervened on. From the
    empty graph, the edge with the largest score gain that keeps the graph acyclic is added, and
    only the changed node's gains are recomputed, until no edge can be added (``max_parents``
    defaults to CAM's ``min(p - 1, round(n / 20))``). The result is dense (in-sample gains are
    positive): what it decides is the causal order; :func:`significance_prune` then selects the
    parents, as CAM does. ``candidates``: optional parent candidates per node (CAM's preliminary
    neighbourhood selection); default all other variables.
    """
    from .fit import standardise
    from .scores import SplineBasis

    Z, _, _ = standardise(np.asarray(X, dtype=np.float64))
    n, p = Z.shape
    basis = SplineBasis.build(Z, spline_M)
    inter = np.zeros((n, p), dtype=bool) if inter is None else np.asarray(inter, dtype=bool)
    max_parents = min(p - 1, max(1, round(n / 20))) if max_parents is None else max_parents
    cand = [set(range(p)) - {j} if candidates is None else set(candidates[j]) - {j} for j in range(p)]
    rows = [np.where(~inter[:, j])[0] for j in range(p)]

    def node_score(j: int, pa) -> float:
        y = Z[rows[j], j]
        D = np.hstack([np.ones((len(rows[j]), 1))] + [basis.BZ[i][rows[j]] for i in sorted(pa)])
        b, *_ = np.linalg.lstsq(D, y, rcond=None)
        r = y - D @ b
        return -float(np.log(max(r @ r / len(y), 1e-300)))

    parents: list[set] = [set() for _ in range(p)]
    children: list[set] = [set() for _ in range(p)]
    current = [node_score(j, ()) for j in range(p)]
    gain = np.full((p, p), -np.inf)  # gain[i, j]: adding i -> j

    def refresh(j: int) -> None:
        gain[:, j] = -np.inf
        if len(parents[j]) >= max_parents:
            return
        for i in cand[j] - parents[j]:
            gain[i, j] = node_score(j, parents[j] | {i}) - current[j]

    for j in range(p):
        refresh(j)
    while np.isfinite(gain).any():
        i, j = np.unravel_index(int(np.argmax(gain)), gain.shape)
        i, j = int(i), int(j)
        if has_path(children, j, i):  # i -> j would close a cycle (j already reaches i): never again
            gain[i, j] = -np.inf
            continue
        parents[j].add(i)
        children[i].add(j)
        current[j] = node_score(j, parents[j])
        refresh(j)
        gain[j, i] = -np.inf  # the reverse edge would be a 2-cycle
    return parents
