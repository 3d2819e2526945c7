"""Ordering-based search: hill climbing over node orders instead of DAGs (Teyssier & Koller 2005).

Given a node order, the best DAG consistent with it is found node by node: each node takes the
best-scoring parent set among its candidates that precede it.  Each node keeps at most
``max_candidates`` candidates (its initial parents and its strongest screening candidates); all
their subsets up to ``max_parents`` are scored once up front (:func:`.exact.local_scores`), and a
superset propagation turns that into a lookup table "best subset of this mask".  The local search
takes each node in turn to its best position in the order (an insertion move; all positions are
evaluated in one left/right slide, O(p) per node) when that improves the score, and sweeps until
no node moves; random perturbations of the best order followed by the same local search
("iterated local search") try to leave the local optimum.

Why: greedy DAG hill climbing commits early to edge directions; when a later v-structure shows a
direction was wrong it can only compensate with extra covering edges, since reversing the edge
alone lowers the score.  Moving a node in the order re-optimises all affected parent sets at
once.  Started from the topological order of the hill-climbing DAG, the result scores at least as
well as that DAG (the DAG is consistent with its own order and each node gets its best allowed
parent set), which is how :func:`.learn.optimise_structure` uses it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .exact import _best_parent_sets, local_scores
from .fit import topological_order
from .scores import Scorer
from .screening import Candidates
from .search import HillClimbResult, StructurePrior

MAX_ORDER_CANDIDATES = 10  # per node: all subsets up to max_parents are scored, 638 for 5 of 10
MAX_ORDER_PARENTS = 16  # 2^16 table entries per node


@njit(cache=True)
def _bit(candmat, j, i):
    """Position of i in j's candidate list, -1 if it is not a candidate of j."""
    for s in range(candmat.shape[1]):
        c = candmat[j, s]
        if c < 0:
            return -1
        if c == i:
            return s
    return -1


@njit(cache=True)
def _allowed_masks(order, candmat):
    p = order.shape[0]
    pos = np.empty(p, dtype=np.int64)
    for t in range(p):
        pos[order[t]] = t
    allowed = np.zeros(p, dtype=np.int64)
    for j in range(p):
        for s in range(candmat.shape[1]):
            i = candmat[j, s]
            if i < 0:
                break
            if pos[i] < pos[j]:
                allowed[j] |= np.int64(1) << s
    return allowed


@njit(cache=True)
def _order_score(allowed, best):
    total = 0.0
    for j in range(allowed.shape[0]):
        total += best[j, allowed[j]]
    return total


@njit(cache=True)
def _insertion_search(order, best, candmat, max_sweeps):
    """Local search with insertion moves, in place on ``order``; returns (allowed, moves made)."""
    p = order.shape[0]
    pos = np.empty(p, dtype=np.int64)
    for t in range(p):
        pos[order[t]] = t
    allowed = _allowed_masks(order, candmat)
    moves = 0
    for _sweep in range(max_sweeps):
        improved = False
        for j in range(p):
            s = pos[j]
            best_delta = 1e-9
            best_t = s
            # slide j to the left: j loses each passed node u as a possible parent, u gains j
            delta = 0.0
            mj = allowed[j]
            for t in range(s - 1, -1, -1):
                u = order[t]
                b = _bit(candmat, j, u)
                if b >= 0:
                    new = mj & ~(np.int64(1) << b)
                    delta += best[j, new] - best[j, mj]
                    mj = new
                b = _bit(candmat, u, j)
                if b >= 0:
                    delta += best[u, allowed[u] | (np.int64(1) << b)] - best[u, allowed[u]]
                if delta > best_delta:
                    best_delta = delta
                    best_t = t
            # slide j to the right: j gains each passed node, which loses j
            delta = 0.0
            mj = allowed[j]
            for t in range(s + 1, p):
                u = order[t]
                b = _bit(candmat, j, u)
                if b >= 0:
                    new = mj | (np.int64(1) << b)
                    delta += best[j, new] - best[j, mj]
                    mj = new
                b = _bit(candmat, u, j)
                if b >= 0:
                    delta += best[u, allowed[u] & ~(np.int64(1) << b)] - best[u, allowed[u]]
                if delta > best_delta:
                    best_delta = delta
                    best_t = t
            if best_t == s:
                continue
            # apply: move j from position s to position best_t, update the passed nodes' masks
            if best_t < s:
                for t in range(s, best_t, -1):
                    u = order[t - 1]
                    order[t] = u
                    pos[u] = t
                    b = _bit(candmat, u, j)
                    if b >= 0:
                        allowed[u] |= np.int64(1) << b
            else:
                for t in range(s, best_t):
                    u = order[t + 1]
                    order[t] = u
                    pos[u] = t
                    b = _bit(candmat, u, j)
                    if b >= 0:
                        allowed[u] &= ~(np.int64(1) << b)
            order[best_t] = j
            pos[j] = best_t
            m = np.int64(0)
            for s2 in range(candmat.shape[1]):
                i = candmat[j, s2]
                if i < 0:
                    break
                if pos[i] < best_t:
                    m |= np.int64(1) << s2
            allowed[j] = m
            moves += 1
            improved = True
        if not improved:
            break
    return allowed, moves


def order_search(
    scorer: Scorer,
    candidates: Candidates,
    max_parents: int = 5,
    prior: StructurePrior | None = None,
    init_parents: list[set] | None = None,
    restarts: int = 10,
    seed: int = 0,
    max_sweeps: int = 100,
    max_candidates: int = MAX_ORDER_CANDIDATES,
) -> HillClimbResult:
    """Best DAG found by ordering-based search (see module docstring).

    ``init_parents``: start from this DAG's topological order (default: a random order), so the
    result scores at least as well as that DAG under the same limit and prior.  Each node keeps
    its initial parents plus its strongest screening candidates, ``max_candidates`` in all (at
    least ``max_parents``; the symmetric screening can give a node up to 2k candidates).
    ``restarts``: perturbations of the best order (a random tenth of the nodes, at least two,
    moved to random positions), each followed by local search; the best order wins.
    Returns a :class:`HillClimbResult` (``iterations`` = insertion moves made)."""
    p = scorer.n_vars
    if max_parents > MAX_ORDER_PARENTS:
        raise ValueError(f"ordering-based search scores every parent set of up to max_parents candidates; "
                         f"max_parents = {max_parents} exceeds its limit of {MAX_ORDER_PARENTS} "
                         "(use search='hill_climb')")
    max_candidates = max(max_candidates, max_parents)  # never fewer candidates than allowed parents
    cand = []
    for j, c in enumerate(candidates.parents):
        keep = sorted(init_parents[j]) if init_parents is not None else []
        keep += [int(i) for i in c if int(i) != j and int(i) not in keep]  # candidates come strongest first
        cand.append(sorted(keep[:max_candidates]))
    cmax = max((len(c) for c in cand), default=0)
    best = np.full((p, 1 << cmax), -np.inf)
    arg = np.zeros((p, 1 << cmax), dtype=np.int64)
    candmat = -np.ones((p, max(cmax, 1)), dtype=np.int64)
    for j in range(p):
        c = len(cand[j])
        b, a = _best_parent_sets(local_scores(scorer, j, cand[j], max_parents, prior or StructurePrior()), c)
        best[j, : 1 << c] = b
        arg[j, : 1 << c] = a
        candmat[j, :c] = cand[j]
    rng = np.random.default_rng(seed)
    if init_parents is not None:
        order = np.array(topological_order(init_parents), dtype=np.int64)
    else:
        order = rng.permutation(p).astype(np.int64)
    allowed, moves = _insertion_search(order, best, candmat, max_sweeps)
    best_order, best_allowed, best_score = order.copy(), allowed, _order_score(allowed, best)
    for _ in range(restarts):
        order = best_order.copy()
        for j in rng.choice(p, size=min(p, max(2, p // 10)), replace=False):
            order = np.insert(order[order != j], rng.integers(0, p), j)
        allowed, m = _insertion_search(order, best, candmat, max_sweeps)
        moves += m
        score = _order_score(allowed, best)
        if score > best_score + 1e-9:
            best_order, best_allowed, best_score = order.copy(), allowed, score
    parents = []
    for j in range(p):
        m = int(arg[j, best_allowed[j]])
        parents.append({cand[j][s] for s in range(len(cand[j])) if (m >> s) & 1})
    return HillClimbResult(parents=parents, score=float(best_score), iterations=int(moves), restarts=restarts)
