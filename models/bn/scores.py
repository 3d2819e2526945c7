"""Local (family) scores for Bayesian-network structure learning, compiled with numba.

Four decomposable scores, all "higher is better" log-scale quantities for one node j and a
parent set Pa (a structure score is the sum of the family scores plus a structure prior):

* ``bic``  -- linear-Gaussian regression of x_j on its parents (with intercept), BIC:
  ``-n/2 log(RSS/n) - n/2 (1 + log 2 pi) - (q + 2)/2 log n``.
* ``bge``  -- Bayesian Gaussian equivalent score (Geiger & Heckerman 2002) in the corrected form
  of Kuipers, Moffa & Heckerman (2014): ``log p(d^{Pa u j}) - log p(d^{Pa})`` with a
  normal-Wishart prior (alpha_mu = 1, alpha_w = p + alpha_mu + 1, T0 = t I).
* ``spline`` -- the nonparametric regression score of BNRC (Imoto et al. 2002, 2003):
  x_j = mu + sum_k m_k(x_k) + eps, every m_k a cubic B-spline with ``M`` basis functions on
  equally spaced knots over the parent's range, penalised by a second-difference penalty
  (prior gamma_k ~ N(0, (n lambda_k K)^-1)), eps ~ N(0, sigma^2).  The marginal likelihood is
  Laplace-approximated at the joint mode of (mu, gamma, sigma^2) exactly as in BNRC
  (``log f + log pi + r/2 log 2 pi - 1/2 log |H|``, H the full Hessian including the
  gamma/sigma^2 cross term); the smoothing hyper-parameter beta = lambda sigma^2 is chosen per
  family from a grid by maximising the approximated marginal likelihood (BNRC does the same).
  Identifiability: every m_k is constrained to mean zero over the samples (basis reparametrised
  through the null space of the column means, as in mgcv), the constant is the free intercept mu.
* ``bdeu`` -- Bayesian Dirichlet equivalent uniform score (Heckerman, Geiger & Chickering 1995) on
  the data discretised into ``bins`` equal-frequency levels per variable (:func:`discretise`;
  default 3 = low / medium / high as in Sachs et al. 2005), imaginary sample size ``iss``
  (default 1, bnlearn's default): ``sum_cfg [lgamma(a/q) - lgamma(a/q + N_cfg)
  + sum_k lgamma(a/(q r) + N_cfg,k) - lgamma(a/(q r))]``.  Captures non-monotone and
  mixture dependencies that the Gaussian scores miss (Sachs' flow data are such a mixture).

Variables are standardised before scoring (the spline score's un-penalised linear directions make
raw scale matter otherwise).  Interventions are handled in the usual way (Cooper & Yoo 1999;
Hauser & Buehlmann 2012, the GIES score; bnlearn's "mbde"): samples in which node j was set by
intervention are left out of j's family score (and only of j's), for every score kind.  Such
samples still count in the families of j's children, where the intervened x_j is an observed
parent value -- which is what makes the direction of j's edges identifiable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numba import njit

SCORE_KINDS = {"bic": 0, "bge": 1, "spline": 2, "bdeu": 3}
LOG2PI = math.log(2.0 * math.pi)


# --------------------------------------------------------------------------------------
# B-spline basis
# --------------------------------------------------------------------------------------


@njit(cache=True)
def _bspline_row(x, lo, hi, M, out):
    """Cubic B-spline basis (M functions, equally spaced knots on [lo, hi]) at x -> out[M].

    Outside [lo, hi] the value is clamped (callers that need extrapolation do it linearly).
    """
    nint = M - 3
    h = (hi - lo) / nint
    if h <= 0:
        for m in range(M):
            out[m] = 0.0
        out[0] = 1.0
        return
    t = (x - lo) / h
    t = max(t, 0.0)
    if t > nint:
        t = float(nint)
    i = int(math.floor(t))
    if i >= nint:
        i = nint - 1
    u = t - i
    for m in range(M):
        out[m] = 0.0
    # uniform cubic B-spline pieces; knot span i influences basis i..i+3
    u2 = u * u
    u3 = u2 * u
    out[i] = (1.0 - 3.0 * u + 3.0 * u2 - u3) / 6.0
    out[i + 1] = (4.0 - 6.0 * u2 + 3.0 * u3) / 6.0
    out[i + 2] = (1.0 + 3.0 * u + 3.0 * u2 - 3.0 * u3) / 6.0
    out[i + 3] = u3 / 6.0


@njit(cache=True)
def bspline_matrix(x, lo, hi, M):
    n = x.shape[0]
    B = np.zeros((n, M))
    row = np.zeros(M)
    for s in range(n):
        _bspline_row(x[s], lo, hi, M, row)
        for m in range(M):
            B[s, m] = row[m]
    return B


def second_difference_penalty(M: int) -> np.ndarray:
    D = np.diff(np.eye(M), n=2, axis=0)
    return D.T @ D


@dataclass
class SplineBasis:
    """Per-variable constrained spline design: BZ[v] = B_v Z_v (n x (M-1)), penalties, knots."""

    M: int
    lo: np.ndarray  # (p,)
    hi: np.ndarray  # (p,)
    Z: np.ndarray  # (p, M, M-1)
    BZ: np.ndarray  # (p, n, M-1)
    Kt: np.ndarray  # (p, M-1, M-1)  = Z' K Z
    logdetK: np.ndarray  # (p,) log pseudo-determinant of Kt (rank M-2)

    @classmethod
    def build(cls, X: np.ndarray, M: int = 10) -> SplineBasis:
        if M < 5:
            raise ValueError("spline basis needs M >= 5 basis functions")
        n, p = X.shape
        K = second_difference_penalty(M)
        lo = X.min(axis=0).astype(float)
        hi = X.max(axis=0).astype(float)
        Z = np.empty((p, M, M - 1))
        BZ = np.empty((p, n, M - 1))
        Kt = np.empty((p, M - 1, M - 1))
        logdet = np.empty(p)
        for v in range(p):
            B = bspline_matrix(np.ascontiguousarray(X[:, v], dtype=np.float64), lo[v], hi[v], M)
            c = B.mean(axis=0)
            # orthonormal basis of the null space of c' (sum-to-zero over the samples)
            q, _ = np.linalg.qr(np.column_stack([c, np.eye(M)[:, : M - 1]]))
            Zv = q[:, 1:M]
            Z[v] = Zv
            BZ[v] = B @ Zv
            Kt[v] = Zv.T @ K @ Zv
            ev = np.linalg.eigvalsh(Kt[v])
            ev = np.sort(ev)[::-1][: M - 2]
            logdet[v] = float(np.sum(np.log(np.maximum(ev, 1e-300))))
        return cls(M, lo, hi, Z, np.ascontiguousarray(BZ), Kt, logdet)

    def design(self, v: int, x: np.ndarray, extrapolate: bool = True) -> np.ndarray:
        """Constrained basis of variable v at new values x (linear extrapolation outside range)."""
        x = np.asarray(x, dtype=np.float64)
        lo, hi, M = self.lo[v], self.hi[v], self.M
        B = bspline_matrix(np.clip(x, lo, hi), lo, hi, M) @ self.Z[v]
        if extrapolate and hi > lo:
            eps = (hi - lo) * 1e-4
            for edge, sign in ((lo, -1.0), (hi, 1.0)):
                m = (x < lo) if sign < 0 else (x > hi)
                if m.any():
                    inner = edge - sign * eps
                    b0 = bspline_matrix(np.array([edge]), lo, hi, M) @ self.Z[v]
                    b1 = bspline_matrix(np.array([inner]), lo, hi, M) @ self.Z[v]
                    slope = (b0 - b1) / (sign * eps)
                    B[m] = b0 + (x[m] - edge)[:, None] * slope
        return B


# --------------------------------------------------------------------------------------
# small dense linear algebra helpers (numba)
# --------------------------------------------------------------------------------------


@njit(cache=True)
def _chol_logdet_solve(A, b):
    """Cholesky of SPD A (copied); returns (ok, logdet, A^-1 b, L)."""
    d = A.shape[0]
    L = np.zeros((d, d))
    for i in range(d):
        for j in range(i + 1):
            s = A[i, j]
            for k in range(j):
                s -= L[i, k] * L[j, k]
            if i == j:
                if s <= 1e-12 * max(1.0, abs(A[i, i])):
                    return False, 0.0, b.copy(), L
                L[i, i] = math.sqrt(s)
            else:
                L[i, j] = s / L[j, j]
    logdet = 0.0
    for i in range(d):
        logdet += 2.0 * math.log(L[i, i])
    x = _chol_solve(L, b)
    return True, logdet, x, L


@njit(cache=True)
def _chol_solve(L, b):
    d = L.shape[0]
    y = np.empty(d)
    for i in range(d):
        s = b[i]
        for k in range(i):
            s -= L[i, k] * y[k]
        y[i] = s / L[i, i]
    x = np.empty(d)
    for i in range(d - 1, -1, -1):
        s = y[i]
        for k in range(i + 1, d):
            s -= L[k, i] * x[k]
        x[i] = s / L[i, i]
    return x


@njit(cache=True)
def _rows_for(inter, j):
    n = inter.shape[0]
    cnt = 0
    for s in range(n):
        if not inter[s, j]:
            cnt += 1
    rows = np.empty(cnt, dtype=np.int64)
    c = 0
    for s in range(n):
        if not inter[s, j]:
            rows[c] = s
            c += 1
    return rows


# --------------------------------------------------------------------------------------
# scores
# --------------------------------------------------------------------------------------


@njit(cache=True)
def _gram_linear(X, rows, j, parents):
    """Gram matrix of [1, X_pa] and cross products with x_j over the given rows."""
    q = parents.shape[0]
    d = q + 1
    G = np.zeros((d, d))
    g = np.zeros(d)
    yy = 0.0
    z = np.empty(d)
    for r in range(rows.shape[0]):
        s = rows[r]
        z[0] = 1.0
        for a in range(q):
            z[a + 1] = X[s, parents[a]]
        y = X[s, j]
        yy += y * y
        for a in range(d):
            g[a] += z[a] * y
            for b in range(a + 1):
                G[a, b] += z[a] * z[b]
    for a in range(d):
        for b in range(a):
            G[b, a] = G[a, b]
    return G, g, yy


@njit(cache=True)
def bic_score(X, inter, j, parents):
    rows = _rows_for(inter, j)
    n = rows.shape[0]
    G, g, yy = _gram_linear(X, rows, j, parents)
    d = G.shape[0]
    for a in range(d):
        G[a, a] += 1e-10
    ok, ld, beta, L = _chol_logdet_solve(G, g)
    if not ok:
        return -1e300
    rss = yy
    for a in range(d):
        rss -= beta[a] * g[a]
    rss = max(rss, 1e-12 * n)
    q = parents.shape[0]
    return -0.5 * n * math.log(rss / n) - 0.5 * n * (1.0 + LOG2PI) - 0.5 * (q + 2) * math.log(n)


@njit(cache=True)
def _lmvgamma(a, l):
    out = l * (l - 1) / 4.0 * math.log(math.pi)
    for i in range(1, l + 1):
        out += math.lgamma(a + (1.0 - i) / 2.0)
    return out


@njit(cache=True)
def _bge_set(X, rows, vars_, am, aw_minus_p, t):
    """log p(d^Y) for the variable set Y (Kuipers et al. 2014, eq. 2), prior mean 0."""
    l = vars_.shape[0]
    N = rows.shape[0]
    if l == 0:
        return 0.0
    mean = np.zeros(l)
    for r in range(N):
        s = rows[r]
        for a in range(l):
            mean[a] += X[s, vars_[a]]
    for a in range(l):
        mean[a] /= N
    R = np.zeros((l, l))
    for r in range(N):
        s = rows[r]
        for a in range(l):
            da = X[s, vars_[a]] - mean[a]
            for b in range(a + 1):
                R[a, b] += da * (X[s, vars_[b]] - mean[b])
    c = N * am / (N + am)
    for a in range(l):
        for b in range(a + 1):
            R[a, b] += c * mean[a] * mean[b]
            if a == b:
                R[a, b] += t
            R[b, a] = R[a, b]
    ok, ld, _, _ = _chol_logdet_solve(R, np.zeros(l))
    if not ok:
        return -1e300
    awl = aw_minus_p + l
    return (
        0.5 * l * math.log(am / (N + am))
        + _lmvgamma((N + awl) / 2.0, l)
        - _lmvgamma(awl / 2.0, l)
        - 0.5 * l * N * math.log(math.pi)
        + 0.5 * awl * l * math.log(t)
        - 0.5 * (N + awl) * ld
    )


@njit(cache=True)
def bge_score(X, inter, j, parents, am, aw_minus_p):
    rows = _rows_for(inter, j)
    t = am * (aw_minus_p - 1.0) / (am + 1.0)
    q = parents.shape[0]
    full = np.empty(q + 1, dtype=np.int64)
    for a in range(q):
        full[a] = parents[a]
    full[q] = j
    return _bge_set(X, rows, full, am, aw_minus_p, t) - _bge_set(X, rows, parents, am, aw_minus_p, t)


@njit(cache=True)
def _spline_design(BZ, rows, parents):
    q = parents.shape[0]
    Mm1 = BZ.shape[2]
    n = rows.shape[0]
    d = 1 + q * Mm1
    D = np.empty((n, d))
    for r in range(n):
        s = rows[r]
        D[r, 0] = 1.0
        for a in range(q):
            v = parents[a]
            for m in range(Mm1):
                D[r, 1 + a * Mm1 + m] = BZ[v, s, m]
    return D


@njit(cache=True)
def spline_fit(X, inter, j, parents, BZ, Kt, logdetK, betas):
    """Fit the BNRC spline regression of x_j on its parents; return the best grid point.

    Returns (score, coef[1 + q(M-1)], sigma2, beta).  coef[0] is the intercept.
    """
    rows = _rows_for(inter, j)
    n = rows.shape[0]
    q = parents.shape[0]
    Mm1 = BZ.shape[2]
    rK = Mm1 - 1  # rank of the penalty (M - 2)
    y = np.empty(n)
    for r in range(n):
        y[r] = X[rows[r], j]
    if q == 0:
        mu = y.mean()
        rss = 0.0
        for r in range(n):
            rss += (y[r] - mu) ** 2
        s2 = max(rss / n, 1e-12)
        logf = -0.5 * n * (LOG2PI + math.log(s2)) - 0.5 * n
        # theta = (mu, sigma2); H = diag(n / s2, n / (2 s2^2))
        logH = math.log(n / s2) + math.log(n / (2.0 * s2 * s2))
        coef = np.empty(1)
        coef[0] = mu
        return logf + LOG2PI - 0.5 * logH, coef, s2, 0.0
    D = _spline_design(BZ, rows, parents)
    d = D.shape[1]
    G = D.T @ D
    Dy = D.T @ y
    yy = 0.0
    for r in range(n):
        yy += y[r] * y[r]
    best = -1e300
    best_coef = np.zeros(d)
    best_s2 = 1.0
    best_beta = 0.0
    P = np.zeros((d, d))
    for bi in range(betas.shape[0]):
        beta = betas[bi]
        for a in range(d):
            for b in range(d):
                P[a, b] = 0.0
        for k in range(q):
            v = parents[k]
            off = 1 + k * Mm1
            for a in range(Mm1):
                for b in range(Mm1):
                    P[off + a, off + b] = n * beta * Kt[v, a, b]
        A = G + P
        for a in range(d):
            A[a, a] += 1e-9
        ok, logdetA, coef, L = _chol_logdet_solve(A, Dy)
        if not ok:
            continue
        res = y - D @ coef
        rss = 0.0
        for r in range(n):
            rss += res[r] * res[r]
        s2 = max(rss / n, 1e-12)
        lam = beta / s2
        logf = -0.5 * n * (LOG2PI + math.log(s2)) - 0.5 * n
        logpi = 0.0
        for k in range(q):
            v = parents[k]
            off = 1 + k * Mm1
            quad = 0.0
            for a in range(Mm1):
                for b in range(Mm1):
                    quad += coef[off + a] * Kt[v, a, b] * coef[off + b]
            logpi += -0.5 * rK * (LOG2PI - math.log(n * lam)) + 0.5 * logdetK[v] - 0.5 * n * lam * quad
        # Hessian of the negative log joint at the mode: [[A/s2, c], [c', n/(2 s2^2)]], c = P coef / s2^2
        Pc = P @ coef
        w = _chol_solve(L, Pc)
        cAc = 0.0
        for a in range(d):
            cAc += Pc[a] * w[a]
        schur = n / (2.0 * s2 * s2) - cAc / (s2 * s2 * s2)
        if schur <= 0.0:
            schur = n / (2.0 * s2 * s2)
        logH = logdetA - d * math.log(s2) + math.log(schur)
        r_dim = d + 1
        sc = logf + logpi + 0.5 * r_dim * LOG2PI - 0.5 * logH
        if sc > best:
            best = sc
            best_coef = coef.copy()
            best_s2 = s2
            best_beta = beta
    return best, best_coef, best_s2, best_beta


@njit(cache=True)
def bdeu_score(C, inter, j, parents, iss):
    """BDeu family score of j | parents on integer level codes C (stored as float, 0..r_v - 1).

    r_v = max code + 1 over all samples (so levels are the same in every family); rows where j
    was intervened on are left out (Cooper & Yoo 1999)."""
    rows = _rows_for(inter, j)
    n_all = C.shape[0]
    q = parents.shape[0]
    rj = 0
    for s in range(n_all):
        c = int(C[s, j]) + 1
        rj = max(rj, c)
    mult = np.ones(q, dtype=np.int64)
    ncfg = 1
    for a in range(q):
        rv = 0
        for s in range(n_all):
            c = int(C[s, parents[a]]) + 1
            rv = max(rv, c)
        mult[a] = ncfg
        ncfg *= rv
    counts = np.zeros((ncfg, rj))
    for r in range(rows.shape[0]):
        s = rows[r]
        cfg = 0
        for a in range(q):
            cfg += int(C[s, parents[a]]) * mult[a]
        counts[cfg, int(C[s, j])] += 1.0
    a_q = iss / ncfg
    a_qk = iss / (ncfg * rj)
    lg_aq = math.lgamma(a_q)
    lg_aqk = math.lgamma(a_qk)
    out = 0.0
    for cfg in range(ncfg):
        tot = 0.0
        for k in range(rj):
            nk = counts[cfg, k]
            if nk > 0:
                out += math.lgamma(a_qk + nk) - lg_aqk
                tot += nk
        if tot > 0:
            out += lg_aq - math.lgamma(a_q + tot)
    return out


def discretise(X: np.ndarray, bins: int = 3) -> np.ndarray:
    """Equal-frequency discretisation of every column into ``bins`` levels (codes 0..bins-1, float).

    Based on average ranks over *all* samples (observational and interventional pooled, so that a
    level means the same in every condition); tied values always share a level."""
    from scipy.stats import rankdata

    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    R = np.apply_along_axis(rankdata, 0, X)  # 1..n, ties averaged
    C = np.floor((R - 0.5) / n * bins)
    return np.clip(C, 0, bins - 1).astype(np.float64)


@njit(cache=True)
def family_score(kind, X, inter, j, parents, BZ, Kt, logdetK, betas, am, aw_minus_p):
    if kind == 0:
        return bic_score(X, inter, j, parents)
    elif kind == 1:
        return bge_score(X, inter, j, parents, am, aw_minus_p)
    elif kind == 3:
        return bdeu_score(X, inter, j, parents, am)  # X = level codes, am = imaginary sample size
    else:
        sc, _, _, _ = spline_fit(X, inter, j, parents, BZ, Kt, logdetK, betas)
        return sc


# --------------------------------------------------------------------------------------
# Python-side scorer object
# --------------------------------------------------------------------------------------

DEFAULT_BETAS = np.exp(np.linspace(math.log(1e-4), math.log(10.0), 8))


@dataclass
class Scorer:
    """A decomposable score over a (standardised) data matrix with an optional intervention mask.

    ``score(j, parents)`` is cached; ``prior`` adds a log structure-prior term per edge
    (``edge_penalty`` for every edge, ``prior_edges[(i, j)]`` as an additive bonus in nats).
    For ``kind="bdeu"`` the data are discretised on construction (:func:`discretise`, ``bins``
    levels) unless ``discrete=True`` says X already holds integer level codes; ``iss`` is the
    imaginary sample size.
    """

    X: np.ndarray
    kind: str = "bge"
    inter: np.ndarray | None = None
    spline_M: int = 10
    betas: np.ndarray = field(default_factory=lambda: DEFAULT_BETAS.copy())
    bge_am: float = 1.0
    bge_aw_minus_p: float = 2.0
    basis: SplineBasis | None = None
    bins: int = 3
    iss: float = 1.0
    discrete: bool = False
    _cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        if self.kind not in SCORE_KINDS:
            raise ValueError(f"unknown score {self.kind!r}; choose one of {sorted(SCORE_KINDS)}")
        self.X = np.ascontiguousarray(self.X, dtype=np.float64)
        n, p = self.X.shape
        if self.inter is None:
            self.inter = np.zeros((n, p), dtype=np.bool_)
        self.inter = np.ascontiguousarray(self.inter, dtype=np.bool_)
        if self.inter.shape != (n, p):
            raise ValueError(f"intervention mask has shape {self.inter.shape}, data {self.X.shape}")
        self._kind = SCORE_KINDS[self.kind]
        if self._kind == 3:
            if not self.discrete:
                self.X = np.ascontiguousarray(discretise(self.X, self.bins))
            self.bge_am = float(self.iss)  # passed to the compiled score in the "am" slot
        if self._kind == 2:
            if self.basis is None:
                self.basis = SplineBasis.build(self.X, self.spline_M)
            self._BZ, self._Kt, self._ld = self.basis.BZ, self.basis.Kt, self.basis.logdetK
        else:
            self._BZ = np.zeros((1, 1, 1))
            self._Kt = np.zeros((1, 1, 1))
            self._ld = np.zeros(1)
        self.betas = np.ascontiguousarray(self.betas, dtype=np.float64)

    @property
    def n_vars(self) -> int:
        return self.X.shape[1]

    def args(self):
        """Positional arguments of :func:`family_score` after (kind, ...)."""
        return (
            self._kind,
            self.X,
            self.inter,
            self._BZ,
            self._Kt,
            self._ld,
            self.betas,
            float(self.bge_am),
            float(self.bge_aw_minus_p),
        )

    def score(self, j: int, parents) -> float:
        key = (j, frozenset(parents))
        v = self._cache.get(key)
        if v is None:
            pa = np.array(sorted(parents), dtype=np.int64)
            v = float(
                family_score(
                    self._kind, self.X, self.inter, j, pa, self._BZ, self._Kt, self._ld,
                    self.betas, float(self.bge_am), float(self.bge_aw_minus_p),
                )
            )
            self._cache[key] = v
        return v

    def total(self, parents_of) -> float:
        return sum(self.score(j, pa) for j, pa in enumerate(parents_of))
