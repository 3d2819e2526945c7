"""Structure MCMC over DAGs restricted to candidate parents, with convergence diagnostics.

Proposal (symmetric, so the Metropolis-Hastings ratio is the posterior ratio): draw uniformly
one unordered candidate pair {a, b} (a in C(b) or b in C(a)); its state is "no edge",
"a -> b" or "b -> a" (only directions allowed by the candidate sets); propose uniformly one of
the *other* allowed states (add, delete or reverse).  Proposals that create a cycle or exceed
``max_parents`` are rejected (the chain stays), which keeps the target restricted to valid DAGs.
The target is exp(score(G) + log prior(G)) with the decomposable scores of :mod:`.scores`;
family scores are computed lazily inside numba and cached per (node, parent bitmask).

Several chains (different starts: the hill-climbing optimum, the empty graph, random DAGs) are
run; every ``thin`` steps the edge indicators and the log score are recorded.  Reported with every
result: split-R-hat (Gelman et al. BDA3) over the edge-indicator traces and the log-score trace,
and the multi-chain effective sample size (Stan's estimator) per edge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numba import njit, types
from numba.typed import Dict

from .scores import Scorer, family_score
from .screening import Candidates


def make_cache():
    return Dict.empty(key_type=types.UniTuple(types.int64, 2), value_type=types.float64)


@njit(cache=True)
def _fam(j, mask, cand, prior_w, cache, kind, X, inter, BZ, Kt, logdetK, betas, am, awp):
    key = (j, mask)
    if key in cache:
        return cache[key]
    k = cand.shape[1]
    cnt = 0
    for s in range(k):
        if (mask >> s) & 1:
            cnt += 1
    pa = np.empty(cnt, dtype=np.int64)
    c = 0
    pr = 0.0
    for s in range(k):
        if (mask >> s) & 1:
            pa[c] = cand[j, s]
            pr += prior_w[j, s]
            c += 1
    pa.sort()
    v = family_score(kind, X, inter, j, pa, BZ, Kt, logdetK, betas, am, awp) + pr
    cache[key] = v
    return v


@njit(cache=True)
def _reach(src, dst, masks, rev_ptr, rev_node, rev_slot, stack, seen, stamp):
    """Directed path src -> ... -> dst in the current graph?  (CSR of 'u is candidate of v')."""
    if src == dst:
        return True
    top = 0
    stack[top] = src
    top += 1
    seen[src] = stamp
    while top > 0:
        top -= 1
        u = stack[top]
        for e in range(rev_ptr[u], rev_ptr[u + 1]):
            v = rev_node[e]
            if (masks[v] >> rev_slot[e]) & 1:
                if v == dst:
                    return True
                if seen[v] != stamp:
                    seen[v] = stamp
                    stack[top] = v
                    top += 1
    return False


@njit(cache=True)
def _popcount(x):
    c = 0
    while x:
        x &= x - 1
        c += 1
    return c


@njit(cache=True)
def _run_chain(
    masks, n_steps, thin, seed, pa_, pb_, slot_ab, slot_ba, cand, prior_w, max_parents,
    rev_ptr, rev_node, rev_slot, cache, kind, X, inter, BZ, Kt, logdetK, betas, am, awp,
):
    np.random.seed(seed)
    p = cand.shape[0]
    k = cand.shape[1]
    P = pa_.shape[0]
    n_keep = n_steps // thin
    trace = np.zeros((n_keep, p * k), dtype=np.int8)
    ltrace = np.zeros(n_keep)
    stack = np.empty(p, dtype=np.int64)
    seen = np.zeros(p, dtype=np.int64)
    stamp = 0
    cur = 0.0
    for j in range(p):
        cur += _fam(j, masks[j], cand, prior_w, cache, kind, X, inter, BZ, Kt, logdetK, betas, am, awp)
    accepted = 0
    keep = 0
    for step in range(n_steps):
        e = np.random.randint(0, P)
        a = pa_[e]
        b = pb_[e]
        sab = slot_ab[e]
        sba = slot_ba[e]
        state = 0
        if sab >= 0 and (masks[b] >> sab) & 1:
            state = 1
        elif sba >= 0 and (masks[a] >> sba) & 1:
            state = 2
        # allowed states other than the current one
        opts = np.empty(2, dtype=np.int64)
        no = 0
        for s in range(3):
            if s == state:
                continue
            if s == 1 and sab < 0:
                continue
            if s == 2 and sba < 0:
                continue
            opts[no] = s
            no += 1
        if no > 0:
            new = opts[np.random.randint(0, no)]
            old_a = masks[a]
            old_b = masks[b]
            na = old_a
            nb = old_b
            if state == 1:
                nb = nb & ~(np.int64(1) << sab)
            elif state == 2:
                na = na & ~(np.int64(1) << sba)
            ok = True
            if new == 1:
                nb = nb | (np.int64(1) << sab)
                if _popcount(nb) > max_parents:
                    ok = False
            elif new == 2:
                na = na | (np.int64(1) << sba)
                if _popcount(na) > max_parents:
                    ok = False
            if ok and new != 0:
                # check acyclicity on the graph without the old edge
                ta = old_a
                tb = old_b
                if state == 1:
                    tb = old_b & ~(np.int64(1) << sab)
                elif state == 2:
                    ta = old_a & ~(np.int64(1) << sba)
                masks[a] = ta
                masks[b] = tb
                stamp += 1
                if new == 1:
                    ok = not _reach(b, a, masks, rev_ptr, rev_node, rev_slot, stack, seen, stamp)
                else:
                    ok = not _reach(a, b, masks, rev_ptr, rev_node, rev_slot, stack, seen, stamp)
                masks[a] = old_a
                masks[b] = old_b
            if ok:
                delta = 0.0
                if na != old_a:
                    delta += _fam(a, na, cand, prior_w, cache, kind, X, inter, BZ, Kt, logdetK, betas, am, awp)
                    delta -= _fam(a, old_a, cand, prior_w, cache, kind, X, inter, BZ, Kt, logdetK, betas, am, awp)
                if nb != old_b:
                    delta += _fam(b, nb, cand, prior_w, cache, kind, X, inter, BZ, Kt, logdetK, betas, am, awp)
                    delta -= _fam(b, old_b, cand, prior_w, cache, kind, X, inter, BZ, Kt, logdetK, betas, am, awp)
                if delta >= 0 or math.log(np.random.random()) < delta:
                    masks[a] = na
                    masks[b] = nb
                    cur += delta
                    accepted += 1
        if (step + 1) % thin == 0 and keep < n_keep:
            for j in range(p):
                m = masks[j]
                for s in range(k):
                    if (m >> s) & 1:
                        trace[keep, j * k + s] = 1
            ltrace[keep] = cur
            keep += 1
    return trace, ltrace, accepted


def _split_rhat(chains: np.ndarray) -> np.ndarray:
    """chains: (m, n, d) -> split-R-hat per column (nan where all draws are identical)."""
    m, n, d = chains.shape
    h = n // 2
    if h < 2:
        return np.full(d, np.nan)
    sp = np.concatenate([chains[:, :h], chains[:, h : 2 * h]], axis=0).astype(float)
    means = sp.mean(axis=1)
    W = sp.var(axis=1, ddof=1).mean(axis=0)
    B = h * means.var(axis=0, ddof=1)
    var_plus = (h - 1) / h * W + B / h
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.sqrt(var_plus / W)
    const = sp.reshape(-1, d).std(axis=0) == 0
    r[const] = np.nan
    r[(W == 0) & (B > 0)] = np.inf  # chains stuck at different values
    return r


def _ess(chains: np.ndarray) -> np.ndarray:
    """Multi-chain effective sample size (Stan/BDA3, Geyer initial positive sequence)."""
    m, n, d = chains.shape
    x = chains.astype(float)
    out = np.full(d, np.nan)
    if n < 4:
        return out
    xc = x - x.mean(axis=1, keepdims=True)
    nfft = 1 << int(math.ceil(math.log2(2 * n)))
    f = np.fft.rfft(xc, n=nfft, axis=1)
    acov = np.fft.irfft(f * np.conj(f), n=nfft, axis=1)[:, :n] / n  # (m, n, d)
    W = x.var(axis=1, ddof=1).mean(axis=0)
    B_over_n = x.mean(axis=1).var(axis=0, ddof=1) if m > 1 else np.zeros(d)
    var_plus = (n - 1) / n * W + B_over_n
    for c in range(d):
        if var_plus[c] <= 0:
            continue
        rho = 1.0 - (W[c] - acov[:, :, c].mean(axis=0)) / var_plus[c]
        rho[0] = 1.0
        s = 0.0
        t = 0
        prev = np.inf
        while t + 1 < n:
            pair = rho[t] + rho[t + 1]
            if pair < 0:
                break
            pair = min(pair, prev)
            s += pair
            prev = pair
            t += 2
        tau = -1.0 + 2.0 * s
        out[c] = m * n / max(tau, 1.0 / math.log10(max(m * n, 10)))
    return out


@dataclass
class McmcResult:
    candidates: np.ndarray  # (p, k) padded candidate parents
    posterior: np.ndarray  # (p, k) P(cand[j, s] -> j)
    samples: list  # list of DAGs: each a list of parent-index arrays
    diagnostics: dict = field(default_factory=dict)
    logscore_traces: np.ndarray | None = None
    rhat: np.ndarray | None = None  # (p, k) split-R-hat per edge indicator (nan: constant over all draws)
    ess: np.ndarray | None = None  # (p, k) multi-chain ESS per edge indicator (nan: constant over all draws)

    def edge_probabilities(self) -> dict:
        """P(i -> j) for every candidate edge, **including** 0.0 for edges never visited after
        burn-in (an absent key means "not a candidate", never "probability 1")."""
        out = {}
        p, k = self.candidates.shape
        for j in range(p):
            for s in range(k):
                i = self.candidates[j, s]
                if i >= 0:
                    out[(int(i), j)] = float(self.posterior[j, s])
        return out

    def edge_diagnostics(self) -> dict:
        """{(i, j): (rhat, ess)} per candidate edge (nan where the indicator never changed)."""
        out = {}
        if self.rhat is None or self.ess is None:
            return out
        p, k = self.candidates.shape
        for j in range(p):
            for s in range(k):
                i = self.candidates[j, s]
                if i >= 0:
                    out[(int(i), j)] = (float(self.rhat[j, s]), float(self.ess[j, s]))
        return out


def structure_mcmc(
    scorer: Scorer,
    candidates: Candidates,
    max_parents: int = 4,
    n_chains: int = 4,
    n_steps: int = 20000,
    burn_in: float = 0.5,
    thin: int = 10,
    starts: list | None = None,
    edge_prior: np.ndarray | None = None,
    edge_penalty: float = 0.0,
    prior_edges: dict | None = None,
    n_dag_samples: int = 200,
    seed: int = 0,
) -> McmcResult:
    """Run ``n_chains`` structure-MCMC chains; returns posterior edge probabilities + diagnostics.

    ``starts``: optional list of starting DAGs (lists of parent sets); missing chains start from
    the empty graph (chain 1) and from random sparse DAGs (respecting a random order).
    """
    cand = candidates.as_padded()
    p, k = cand.shape
    if k > 62:
        raise ValueError("at most 62 candidate parents per node are supported by the MCMC")
    prior_w = np.full((p, k), float(edge_penalty))
    for j in range(p):
        for s in range(k):
            i = cand[j, s]
            if i >= 0 and prior_edges:
                prior_w[j, s] += prior_edges.get((int(i), j), 0.0)
    if edge_prior is not None:
        prior_w += edge_prior
    slot = {}
    for j in range(p):
        for s in range(k):
            if cand[j, s] >= 0:
                slot[(int(cand[j, s]), j)] = s
    pairs = sorted({(min(i, j), max(i, j)) for (i, j) in slot})
    pa_ = np.array([a for a, _ in pairs], dtype=np.int64)
    pb_ = np.array([b for _, b in pairs], dtype=np.int64)
    slot_ab = np.array([slot.get((a, b), -1) for a, b in pairs], dtype=np.int64)
    slot_ba = np.array([slot.get((b, a), -1) for a, b in pairs], dtype=np.int64)
    # CSR: for u, list (v, s) with cand[v, s] == u
    lists = [[] for _ in range(p)]
    for (i, j), s in slot.items():
        lists[i].append((j, s))
    rev_ptr = np.zeros(p + 1, dtype=np.int64)
    for u in range(p):
        rev_ptr[u + 1] = rev_ptr[u] + len(lists[u])
    rev_node = np.array([v for u in range(p) for v, _ in lists[u]], dtype=np.int64)
    rev_slot = np.array([s for u in range(p) for _, s in lists[u]], dtype=np.int64)
    rng = np.random.default_rng(seed)

    def to_masks(parents):
        m = np.zeros(p, dtype=np.int64)
        for j, pa in enumerate(parents):
            for i in pa:
                s = slot.get((int(i), j))
                if s is None:
                    raise ValueError(f"start graph has edge {i}->{j} outside the candidate sets")
                m[j] |= np.int64(1) << np.int64(s)
        return m

    def random_start():
        order = rng.permutation(p)
        pos = np.empty(p, dtype=int)
        pos[order] = np.arange(p)
        parents = [set() for _ in range(p)]
        for j in range(p):
            ok = [int(i) for i in cand[j] if i >= 0 and pos[i] < pos[j]]
            rng.shuffle(ok)
            parents[j] = set(ok[: rng.integers(0, min(max_parents, 2) + 1)])
        return parents

    starts = list(starts or [])
    while len(starts) < n_chains:
        starts.append([set() for _ in range(p)] if len(starts) <= 1 else random_start())
    cache = make_cache()
    args = scorer.args()
    traces, ltraces, acc = [], [], []
    for c in range(n_chains):
        masks = to_masks(starts[c])
        tr, lt, a = _run_chain(
            masks, int(n_steps), int(thin), int(seed * 1000 + c), pa_, pb_, slot_ab, slot_ba,
            cand, prior_w, int(max_parents), rev_ptr, rev_node, rev_slot, cache, *args,
        )
        traces.append(tr)
        ltraces.append(lt)
        acc.append(a / n_steps)
    T = np.stack(traces)  # (m, n_keep, p*k)
    L = np.stack(ltraces)
    b0 = int(T.shape[1] * burn_in)
    Tk = T[:, b0:]
    post = Tk.reshape(-1, p * k).mean(axis=0).reshape(p, k)
    varying = np.where(Tk.reshape(-1, p * k).std(axis=0) > 0)[0]
    rhat = _split_rhat(Tk[:, :, varying]) if len(varying) else np.array([])
    ess = _ess(Tk[:, :, varying]) if len(varying) else np.array([])
    # edges whose chains disagree although each chain is constant
    chain_means = Tk.mean(axis=1)
    stuck = int(np.sum((chain_means.max(axis=0) - chain_means.min(axis=0)) > 0.5))
    lr = _split_rhat(L[:, b0:, None])[0] if L.shape[1] - b0 >= 4 else float("nan")
    finite = rhat[np.isfinite(rhat)]
    diag = {
        "n_chains": n_chains,
        "n_steps": int(n_steps),
        "thin": int(thin),
        "burn_in_fraction": burn_in,
        "acceptance_rate": [round(a, 4) for a in acc],
        "n_edge_indicators_varying": len(varying),
        "rhat_max": float(np.nanmax(rhat)) if len(rhat) and np.any(~np.isnan(rhat)) else float("nan"),
        "rhat_median": float(np.median(finite)) if len(finite) else float("nan"),
        "frac_rhat_gt_1_1": float(np.mean(~(rhat <= 1.1))) if len(rhat) else 0.0,
        "ess_min": float(np.nanmin(ess)) if len(ess) else float("nan"),
        "ess_median": float(np.nanmedian(ess)) if len(ess) else float("nan"),
        "n_edges_chains_disagree": stuck,
        "logscore_rhat": float(lr),
        "score_cache_size": len(cache),
    }
    # DAG samples for intervention simulation (thinned, post burn-in, all chains)
    flat = Tk.reshape(-1, p * k)
    idx = np.linspace(0, flat.shape[0] - 1, min(n_dag_samples, flat.shape[0])).astype(int)
    samples = []
    for r in idx:
        row = flat[r].reshape(p, k)
        samples.append([np.sort(cand[j][row[j] == 1]) for j in range(p)])
    # per-edge diagnostics kept (not only their summaries): nan where the indicator is constant
    rhat_pk = np.full(p * k, np.nan)
    ess_pk = np.full(p * k, np.nan)
    if len(varying):
        rhat_pk[varying] = rhat
        ess_pk[varying] = ess
    return McmcResult(candidates=cand, posterior=post, samples=samples, diagnostics=diag, logscore_traces=L,
                      rhat=rhat_pk.reshape(p, k), ess=ess_pk.reshape(p, k))
