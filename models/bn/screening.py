"""Candidate-parent screening so that structure search scales to thousands of variables.

For every variable j a set of at most ``k`` candidate parents is chosen by one of

* ``"correlation"`` -- absolute Pearson correlation (computed in blocks, O(n p^2) but with BLAS);
* ``"mi"``          -- mutual information of a rank-Gaussianised copula estimate plus a binned
  (equal-frequency) plug-in estimate, so monotone *and* non-monotone dependencies are seen;
* ``"trees"``       -- tree-ensemble importance (extremely randomised trees regressing x_j on all
  other variables, GENIE3-style; scikit-learn).

Candidate sets are symmetrised by default (i in C(j) <=> j in C(i)) so that edge reversals stay
possible, then prior edges are added.  The screening matrix (``weights``, higher = stronger) is
returned too; it is used to rank pairs that the structure search never selected.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy.stats import rankdata


@dataclass
class Candidates:
    parents: list[np.ndarray]  # per node: candidate parent indices (sorted by strength)
    weights: np.ndarray | None  # dense p x p screening score w[i, j] (i -> j); None if too large
    method: str

    def as_padded(self) -> np.ndarray:
        k = max((len(c) for c in self.parents), default=0)
        out = -np.ones((len(self.parents), max(k, 1)), dtype=np.int64)
        for j, c in enumerate(self.parents):
            out[j, : len(c)] = c
        return out


def _standardise(X):
    X = np.asarray(X, dtype=np.float64)
    sd = X.std(axis=0)
    sd[sd == 0] = 1.0
    return (X - X.mean(axis=0)) / sd


def abs_correlation(X: np.ndarray) -> np.ndarray:
    Z = _standardise(X)
    C = np.abs(Z.T @ Z) / Z.shape[0]
    np.fill_diagonal(C, 0.0)
    return C


@njit(cache=True)
def _binned_mi(codes, nb):
    n, p = codes.shape
    out = np.zeros((p, p))
    cnt = np.zeros((nb, nb))
    for a in range(p):
        for b in range(a + 1, p):
            cnt[:, :] = 0.0
            for s in range(n):
                cnt[codes[s, a], codes[s, b]] += 1.0
            mi = 0.0
            for u in range(nb):
                ru = 0.0
                for v in range(nb):
                    ru += cnt[u, v]
                for v in range(nb):
                    if cnt[u, v] > 0:
                        cv = 0.0
                        for w in range(nb):
                            cv += cnt[w, v]
                        mi += cnt[u, v] / n * np.log(cnt[u, v] * n / (ru * cv))
            out[a, b] = mi
            out[b, a] = mi
    return out


def mutual_information(X: np.ndarray, bins: int | None = None) -> np.ndarray:
    """max(Gaussian-copula MI, bias-corrected equal-frequency binned MI)."""
    n, p = X.shape
    R = np.apply_along_axis(rankdata, 0, X) / (n + 1)
    from scipy.stats import norm

    G = _standardise(norm.ppf(R))
    rho = np.clip((G.T @ G) / n, -0.999999, 0.999999)
    mi_g = -0.5 * np.log1p(-(rho**2))
    nb = bins or max(3, min(10, int(round(n ** (1 / 3)))))
    codes = np.minimum((R * nb).astype(np.int64), nb - 1)
    mi_b = _binned_mi(np.ascontiguousarray(codes), nb) - (nb - 1) ** 2 / (2.0 * n)  # Miller-Madow
    M = np.maximum(mi_g, mi_b)
    np.fill_diagonal(M, 0.0)
    return M


def tree_importance(X: np.ndarray, n_estimators: int = 300, max_features="sqrt", seed: int = 0,
                    method: str = "extratrees", normalize: bool = True) -> np.ndarray:
    """GENIE3-style importance w[i, j] of x_i for predicting x_j (scikit-learn tree ensembles).

    Every variable is standardised (as in GENIE3); x_j is regressed on all other variables by
    ``method`` = "extratrees" (Geurts et al. 2006) or "randomforest" (GENIE3's default, Huynh-Thu
    et al. 2010), ``max_features`` candidate splits per node (GENIE3: K = sqrt(p)).
    ``normalize=False`` returns GENIE3's importance (the total variance reduction of every tree,
    averaged over the trees, *not* rescaled to sum 1 per target); ``True`` returns scikit-learn's
    ``feature_importances_`` (sum 1 per target).
    """
    from sklearn.ensemble import ExtraTreesRegressor, RandomForestRegressor

    cls = {"extratrees": ExtraTreesRegressor, "randomforest": RandomForestRegressor}.get(method)
    if cls is None:
        raise ValueError(f"unknown tree method {method!r} (extratrees | randomforest)")
    Z = _standardise(X)
    n, p = Z.shape
    W = np.zeros((p, p))
    for j in range(p):
        idx = np.r_[0:j, j + 1 : p]
        et = cls(n_estimators=n_estimators, max_features=max_features, random_state=seed + j, n_jobs=1)
        et.fit(Z[:, idx], Z[:, j])
        if normalize:
            W[idx, j] = et.feature_importances_
        else:
            W[idx, j] = np.mean([t.tree_.compute_feature_importances(normalize=False) for t in et.estimators_], axis=0)
    return W


def screen(
    X: np.ndarray,
    k: int = 10,
    method: str = "correlation",
    prior_edges: list[tuple[int, int]] | None = None,
    symmetric: bool = True,
    max_candidates: int | None = None,
    seed: int = 0,
    **kw,
) -> Candidates:
    """Select candidate parents for every variable (see module docstring)."""
    n, p = X.shape
    if method in ("correlation", "corr"):
        W = abs_correlation(X)
    elif method in ("mi", "mutual_information"):
        W = mutual_information(X, **kw)
    elif method in ("trees", "tree", "genie3", "extratrees"):
        W = tree_importance(X, seed=seed, **kw)
    elif method == "none":
        W = np.ones((p, p))
        np.fill_diagonal(W, 0.0)
        k = p - 1
    else:
        raise ValueError(f"unknown screening method {method!r} (correlation | mi | trees | none)")
    k = min(k, p - 1)
    sets = [set() for _ in range(p)]
    for j in range(p):
        col = W[:, j].copy()
        col[j] = -np.inf
        top = np.argsort(-col, kind="stable")[:k]
        sets[j].update(int(i) for i in top if np.isfinite(col[i]))
    if symmetric:
        for j in range(p):
            for i in list(sets[j]):
                sets[i].add(j)
    for i, j in prior_edges or []:
        if i != j:
            sets[j].add(int(i))
            if symmetric:
                sets[i].add(int(j))
    parents = []
    cap = max_candidates or 60
    for j in range(p):
        c = np.array(sorted(sets[j], key=lambda i: -W[i, j]), dtype=np.int64)[:cap]
        parents.append(c)
    return Candidates(parents=parents, weights=W, method=method)
