"""Exact score-maximising DAG search for small networks (dynamic programming over variable subsets).

Silander & Myllymäki (2006): the best DAG over a variable set W has some sink j whose parents are
the best parent set of j inside W \\ {j}, so

    F(W) = max_{j in W}  F(W \\ {j}) + bps_j(W \\ {j}),     bps_j(U) = max_{pa ⊆ U} score(j, pa)

is computed for all 2^p subsets, and the optimal DAG is read back from the sinks.  The same
decomposable scores, candidate-parent sets, ``max_parents`` limit and structure prior as the hill
climber are used, so the result is the global optimum of exactly what hill climbing approximates.
Time and memory grow with 2^p (p * 2^p table entries), so it is meant for up to about 20
variables (Sachs 2005: 11 phospho-proteins; small clinical panels); beyond ``max_vars`` it
refuses with a clear error instead of exhausting memory.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from .scores import Scorer
from .screening import Candidates
from .search import HillClimbResult, StructurePrior

MAX_EXACT_VARS = 20


def _best_parent_sets(local: np.ndarray, c: int) -> tuple[np.ndarray, np.ndarray]:
    """best[m], arg[m] = the best-scoring subset of the candidate mask m (superset propagation)."""
    best = local.copy()
    arg = np.arange(len(local), dtype=np.int64)
    masks = np.arange(len(local), dtype=np.int64)
    for b in range(c):
        bit = np.int64(1) << b
        idx = masks[(masks & bit) != 0]
        sub = idx ^ bit
        better = best[sub] > best[idx]
        best[idx[better]] = best[sub[better]]
        arg[idx[better]] = arg[sub[better]]
    return best, arg


def exact_search(
    scorer: Scorer,
    candidates: Candidates,
    max_parents: int = 5,
    prior: StructurePrior | None = None,
    max_vars: int = MAX_EXACT_VARS,
    progress=None,
) -> HillClimbResult:
    """The highest-scoring DAG (score + structure prior) with parents drawn from the candidate sets.

    Returns a :class:`HillClimbResult` (``iterations`` = number of family scores evaluated) so it
    can stand in for :func:`.search.hill_climb` anywhere."""
    p = scorer.n_vars
    if p > max_vars:
        raise ValueError(f"exact search over {p} variables needs {p} x 2^{p} table entries; it is limited to "
                         f"{max_vars} variables (use search='hill_climb', or raise max_vars if memory allows)")
    prior = prior or StructurePrior()
    cand = [sorted(int(i) for i in c if int(i) != j) for j, c in enumerate(candidates.parents)]
    full = np.int64((1 << p) - 1)
    all_masks = np.arange(1 << p, dtype=np.int64)
    bps_val = np.empty((p, 1 << p))
    bps_arg = np.empty((p, 1 << p), dtype=np.int64)  # best parent set as a mask over cand[j]
    n_scored = 0
    for j in range(p):
        c = len(cand[j])
        local = np.full(1 << c, -np.inf)
        for size in range(min(max_parents, c) + 1):
            for combo in combinations(range(c), size):
                pa = [cand[j][s] for s in combo]
                m = sum(1 << s for s in combo)
                local[m] = scorer.score(j, pa) + sum(prior.edge(i, j) for i in pa)
                n_scored += 1
        best, arg = _best_parent_sets(local, c)
        proj = np.zeros(1 << p, dtype=np.int64)  # a subset of all variables -> its part inside cand[j]
        for s, i in enumerate(cand[j]):
            proj |= ((all_masks >> i) & 1) << s
        bps_val[j] = best[proj]
        bps_arg[j] = arg[proj]
        if progress is not None:
            progress(j + 1, p)
    F = np.full(1 << p, -np.inf)
    F[0] = 0.0
    sink = np.full(1 << p, -1, dtype=np.int64)
    popcount = np.zeros(1 << p, dtype=np.int64)
    for b in range(p):
        popcount += (all_masks >> b) & 1
    for size in range(1, p + 1):  # subsets of one size depend only on the size below
        W = all_masks[popcount == size]
        best_here = np.full(len(W), -np.inf)
        arg_here = np.full(len(W), -1, dtype=np.int64)
        for j in range(p):
            has = (W >> j) & 1 == 1
            Wj = W[has]
            rest = Wj ^ (np.int64(1) << j)
            v = F[rest] + bps_val[j, rest]
            cur = best_here[has]
            better = v > cur
            best_here[np.flatnonzero(has)[better]] = v[better]
            arg_here[np.flatnonzero(has)[better]] = j
        F[W] = best_here
        sink[W] = arg_here
    parents: list[set] = [set() for _ in range(p)]
    W = full
    while W:
        j = int(sink[W])
        W = W ^ (np.int64(1) << j)
        m = int(bps_arg[j, W])
        parents[j] = {cand[j][s] for s in range(len(cand[j])) if (m >> s) & 1}
    return HillClimbResult(parents=parents, score=float(F[full]), iterations=n_scored, restarts=0)
