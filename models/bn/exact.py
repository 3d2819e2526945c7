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

from dataclasses import dataclass
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


def local_scores(scorer: Scorer, j: int, cand_j: list, max_parents: int, prior: StructurePrior) -> np.ndarray:
    """Score (+ prior) of every parent set of j within its candidates ``cand_j``, indexed by the set
    as a bit mask over ``cand_j``; -inf for sets above ``max_parents``."""
    c = len(cand_j)
    local = np.full(1 << c, -np.inf)
    for size in range(min(max_parents, c) + 1):
        for combo in combinations(range(c), size):
            pa = [cand_j[s] for s in combo]
            local[sum(1 << s for s in combo)] = scorer.score(j, pa) + sum(prior.edge(i, j) for i in pa)
    return local


def _tables(scorer: Scorer, candidates: Candidates, max_parents: int, prior: StructurePrior | None,
            max_vars: int, what: str):
    """Per node: local scores (+ prior) of every allowed parent set as a mask over cand[j], and the
    projection of every subset of all variables onto cand[j]."""
    p = scorer.n_vars
    if p > max_vars:
        raise ValueError(f"{what} over {p} variables needs {p} x 2^{p} table entries; it is limited to "
                         f"{max_vars} variables (use hill climbing / bootstrap or MCMC, or raise max_vars if "
                         "memory allows)")
    prior = prior or StructurePrior()
    cand = [sorted(int(i) for i in c if int(i) != j) for j, c in enumerate(candidates.parents)]
    all_masks = np.arange(1 << p, dtype=np.int64)
    locals_, projs = [], []
    for j in range(p):
        local = local_scores(scorer, j, cand[j], max_parents, prior)
        proj = np.zeros(1 << p, dtype=np.int64)  # a subset of all variables -> its part inside cand[j]
        for s, i in enumerate(cand[j]):
            proj |= ((all_masks >> i) & 1) << s
        locals_.append(local)
        projs.append(proj)
    return cand, locals_, projs, all_masks


def _popcounts(all_masks: np.ndarray, p: int) -> np.ndarray:
    pc = np.zeros(len(all_masks), dtype=np.int64)
    for b in range(p):
        pc += (all_masks >> b) & 1
    return pc


def exact_search(
    scorer: Scorer,
    candidates: Candidates,
    max_parents: int = 5,
    prior: StructurePrior | None = None,
    max_vars: int = MAX_EXACT_VARS,
) -> HillClimbResult:
    """The highest-scoring DAG (score + structure prior) with parents drawn from the candidate sets.

    Returns a :class:`HillClimbResult` (``iterations`` = number of family scores evaluated) so it
    can stand in for :func:`.search.hill_climb` anywhere."""
    p = scorer.n_vars
    cand, locals_, projs, all_masks = _tables(scorer, candidates, max_parents, prior, max_vars, "exact search")
    full = np.int64((1 << p) - 1)
    bps_val = np.empty((p, 1 << p))
    bps_arg = np.empty((p, 1 << p), dtype=np.int64)  # best parent set as a mask over cand[j]
    n_scored = 0
    for j in range(p):
        n_scored += int(np.isfinite(locals_[j]).sum())
        best, arg = _best_parent_sets(locals_[j], len(cand[j]))
        bps_val[j] = best[projs[j]]
        bps_arg[j] = arg[projs[j]]
    F = np.full(1 << p, -np.inf)
    F[0] = 0.0
    sink = np.full(1 << p, -1, dtype=np.int64)
    popcount = _popcounts(all_masks, p)
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


def _log_subset_sums(local: np.ndarray, c: int) -> np.ndarray:
    """A[m] = log sum_{pa ⊆ m} exp(local[pa]) (the zeta transform, in log space)."""
    A = local.copy()
    masks = np.arange(len(local), dtype=np.int64)
    for b in range(c):
        bit = np.int64(1) << b
        idx = masks[(masks & bit) != 0]
        A[idx] = np.logaddexp(A[idx], A[idx ^ bit])
    return A


@dataclass
class _OrderSums:
    cand: list
    locals_: list
    projs: list
    alpha: np.ndarray  # alpha[j, U] = log sum_{pa ⊆ U} exp score(j, pa)
    L: np.ndarray  # L[S]: log sum over orders of S (parents inside the predecessors)
    R: np.ndarray  # R[T]: the same for the nodes T that come after V - T
    all_masks: np.ndarray
    full: np.int64

    @property
    def log_z(self) -> float:
        return float(self.L[self.full])


def _order_sums(scorer, candidates, max_parents, prior, max_vars, what) -> _OrderSums:
    p = scorer.n_vars
    cand, locals_, projs, all_masks = _tables(scorer, candidates, max_parents, prior, max_vars, what)
    full = np.int64((1 << p) - 1)
    alpha = np.empty((p, 1 << p))
    for j in range(p):
        alpha[j] = _log_subset_sums(locals_[j], len(cand[j]))[projs[j]]
    popcount = _popcounts(all_masks, p)
    L = np.full(1 << p, -np.inf)
    L[0] = 0.0
    R = np.full(1 << p, -np.inf)
    R[0] = 0.0
    for size in range(1, p + 1):
        S = all_masks[popcount == size]
        accL = np.full(len(S), -np.inf)
        accR = np.full(len(S), -np.inf)
        for j in range(p):
            has = np.flatnonzero((S >> j) & 1)
            rest = S[has] ^ (np.int64(1) << j)
            accL[has] = np.logaddexp(accL[has], L[rest] + alpha[j, rest])
            accR[has] = np.logaddexp(accR[has], alpha[j, full ^ S[has]] + R[rest])
        L[S] = accL
        R[S] = accR
    return _OrderSums(cand, locals_, projs, alpha, L, R, all_masks, full)


def exact_edge_posteriors(
    scorer: Scorer,
    candidates: Candidates,
    max_parents: int = 5,
    prior: StructurePrior | None = None,
    max_vars: int = MAX_EXACT_VARS,
) -> tuple[np.ndarray, float]:
    """Exact posterior probabilities of every directed edge, summed over all DAGs (Koivisto & Sood
    2004; Koivisto 2006).  Returns (P, log Z) with P[i, j] = P(i -> j | data).

    The sum runs over node orders with a uniform prior on orders (the "order-modular" prior), so a
    DAG weighs in proportion to its number of topological orders -- the usual price of exactness,
    which favours graphs with fewer constraints on the order (Eaton & Murphy 2007 discuss it).
    Forward  L(S) = sum_{j in S} L(S - j) a_j(S - j),  backward  R(T) = sum_{k in T} a_k(V - T) R(T - k),
    a_j(U) = sum_{pa ⊆ U} exp score(j, pa);  P(i -> j) = sum_U L(U) b_ij(U) R(V - U - j) / L(V) with
    b_ij(U) = a_j(U) - a_j(U - i), the parent sets inside U that contain i."""
    o = _order_sums(scorer, candidates, max_parents, prior, max_vars, "exact edge posteriors")
    return _edge_posteriors(o), o.log_z


def _edge_posteriors(o: _OrderSums) -> np.ndarray:
    cand, alpha, L, R, all_masks, full = o.cand, o.alpha, o.L, o.R, o.all_masks, o.full
    p, logZ = len(cand), o.log_z
    P = np.zeros((p, p))
    for j in range(p):
        bit_j = np.int64(1) << j
        U = all_masks[(all_masks & bit_j) == 0]
        G = L[U] + R[full ^ U ^ bit_j]  # orders with exactly U before j
        for i in cand[j]:
            bit_i = np.int64(1) << i
            Ui = U[(U & bit_i) != 0]
            Gi = G[(U & bit_i) != 0]
            a_with = alpha[j, Ui]
            a_without = alpha[j, Ui ^ bit_i]
            with np.errstate(divide="ignore", invalid="ignore"):
                # log(exp(a_with) - exp(a_without)); -inf where no parent set with i fits
                b = a_with + np.log1p(-np.exp(np.minimum(a_without - a_with, 0.0)))
            b[~np.isfinite(b)] = -np.inf
            terms = Gi + b
            m = terms.max() if len(terms) else -np.inf
            P[i, j] = 0.0 if not np.isfinite(m) else float(np.exp(m + np.log(np.exp(terms - m).sum()) - logZ))
    return np.clip(P, 0.0, 1.0)


def sample_dags_exact(
    scorer: Scorer,
    candidates: Candidates,
    n_samples: int = 200,
    max_parents: int = 5,
    prior: StructurePrior | None = None,
    seed: int = 0,
    max_vars: int = MAX_EXACT_VARS,
) -> list[list[set]]:
    """Independent DAG draws from the same posterior as :func:`exact_edge_posteriors` (uniform prior
    over orders): an order is drawn sink first (sink j of W with weight L(W - j) a_j(W - j)), then
    every node's parent set among its predecessors with weight exp score.  No Markov chain, so no
    burn-in or convergence to check; the draws feed the knockdown simulation like MCMC samples."""
    o = _order_sums(scorer, candidates, max_parents, prior, max_vars, "exact DAG sampling")
    return _sample_dags(o, n_samples, seed)


def exact_posterior(
    scorer: Scorer,
    candidates: Candidates,
    n_samples: int = 200,
    max_parents: int = 5,
    prior: StructurePrior | None = None,
    seed: int = 0,
    max_vars: int = MAX_EXACT_VARS,
) -> tuple[np.ndarray, float, list[list[set]]]:
    """Edge posteriors, log Z and DAG draws from one pass of the order sums (what
    ``learn_structure(confidence="exact")`` needs; the two functions above each run it once)."""
    o = _order_sums(scorer, candidates, max_parents, prior, max_vars, "exact edge posteriors")
    return _edge_posteriors(o), o.log_z, _sample_dags(o, n_samples, seed)


def _sample_dags(o: _OrderSums, n_samples: int, seed: int) -> list[list[set]]:
    p = len(o.cand)
    rng = np.random.default_rng(seed)
    cand_masks = [np.arange(len(loc), dtype=np.int64) for loc in o.locals_]
    dags = []
    for _ in range(n_samples):
        parents: list[set] = [set() for _ in range(p)]
        W = o.full
        while W:
            members = [j for j in range(p) if (W >> j) & 1]
            logw = np.array([o.L[W ^ (np.int64(1) << j)] + o.alpha[j, W ^ (np.int64(1) << j)] for j in members])
            w = np.exp(logw - logw.max())
            j = members[int(rng.choice(len(members), p=w / w.sum()))]
            W = W ^ (np.int64(1) << j)
            allowed = o.projs[j][W]  # the predecessors that are candidate parents of j, as a mask over cand[j]
            subsets = cand_masks[j][(cand_masks[j] & ~allowed) == 0]
            loc = o.locals_[j][subsets]
            ok = np.isfinite(loc)
            subsets, loc = subsets[ok], loc[ok]
            pw = np.exp(loc - loc.max())
            m = int(subsets[int(rng.choice(len(subsets), p=pw / pw.sum()))])
            parents[j] = {o.cand[j][s] for s in range(len(o.cand[j])) if (m >> s) & 1}
        dags.append(parents)
    return dags
