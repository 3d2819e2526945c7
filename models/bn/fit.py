"""Parameter fitting for a fixed DAG: linear-Gaussian or BNRC spline regressions per node.

Everything is fitted on the standardised data (z = (x - mean) / sd over all samples) and
converted back to the original units where results are reported.  Each node's regression is
``z_j = intercept_j + sum_k term_jk(z_k) + eps_j``, eps_j ~ N(0, sigma_j^2), with every term
centred over the samples (linear: b_jk z_k; spline: the constrained B-spline term), so the
per-parent terms are exactly the Edge Contribution values (ECv) and they sum, with the intercept,
to the fitted value.  Samples in which node j was intervened on are left out of j's fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .scores import DEFAULT_BETAS, SplineBasis, spline_fit


@dataclass
class NodeFit:
    parents: np.ndarray
    intercept: float
    coef: np.ndarray  # linear: (q,); spline: (q * (M-1),)
    sigma2: float
    coef_cov: np.ndarray | None = None  # posterior covariance of (intercept, coef)
    beta: float = 0.0


@dataclass
class FittedModel:
    kind: str  # "linear" | "spline"
    mean: np.ndarray
    sd: np.ndarray
    nodes: list  # NodeFit per variable
    basis: SplineBasis | None = None
    Z_train: np.ndarray | None = field(default=None, repr=False)  # standardised fitting data
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def p(self):
        return len(self.mean)

    def term(self, j: int, a: int, zk: np.ndarray, coef=None) -> np.ndarray:
        """Contribution of parent number ``a`` of node j at standardised parent values zk."""
        nf = self.nodes[j]
        c = nf.coef if coef is None else coef
        if self.kind == "linear":
            return c[a] * zk
        Mm1 = self.basis.M - 1
        v = int(nf.parents[a])
        return self.basis.design(v, zk) @ c[a * Mm1 : (a + 1) * Mm1]

    def terms(self, j: int, Z: np.ndarray, in_sample: bool = False) -> np.ndarray:
        """(n, q) matrix of per-parent terms of node j at the standardised data Z (n x p).

        ``in_sample``: Z is the fitting data, so the stored spline design is reused."""
        nf = self.nodes[j]
        out = np.empty((Z.shape[0], len(nf.parents)))
        if in_sample and self.kind == "spline":
            Mm1 = self.basis.M - 1
            for a, v in enumerate(nf.parents):
                out[:, a] = self.basis.BZ[int(v)] @ nf.coef[a * Mm1 : (a + 1) * Mm1]
            return out
        for a, v in enumerate(nf.parents):
            out[:, a] = self.term(j, a, Z[:, int(v)])
        return out

    def is_training(self, Z: np.ndarray) -> bool:
        return self.Z_train is not None and Z.shape == self.Z_train.shape and np.array_equal(Z, self.Z_train)

    def topological_order(self) -> list[int]:
        return topological_order([self.nodes[j].parents for j in range(self.p)])


def topological_order(parents_of) -> list[int]:
    """Kahn's algorithm over per-node parent collections; a clear error on a directed cycle."""
    p = len(parents_of)
    indeg = np.array([len(pa) for pa in parents_of])
    children = [[] for _ in range(p)]
    for j, pa in enumerate(parents_of):
        for i in pa:
            children[int(i)].append(j)
    order = [j for j in range(p) if indeg[j] == 0]
    h = 0
    while h < len(order):
        u = order[h]
        h += 1
        for v in children[u]:
            indeg[v] -= 1
            if indeg[v] == 0:
                order.append(v)
    if len(order) != p:
        raise ValueError("the network has a directed cycle")
    return order


def standardise(X: np.ndarray):
    mean = X.mean(axis=0)
    sd = X.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    return (X - mean) / sd, mean, sd


def _fit_linear_node(Z, rows, j, parents):
    D = np.column_stack([np.ones(len(rows))] + [Z[rows, i] for i in parents])
    y = Z[rows, j]
    G = D.T @ D + 1e-9 * np.eye(D.shape[1])
    b = np.linalg.solve(G, D.T @ y)
    res = y - D @ b
    s2 = max(float(res @ res) / len(rows), 1e-12)
    cov = s2 * np.linalg.inv(G)
    return NodeFit(np.asarray(parents, dtype=np.int64), float(b[0]), b[1:], s2, cov)


def fit_dag(
    X: np.ndarray,
    parents: list,
    kind: str = "linear",
    inter: np.ndarray | None = None,
    spline_M: int = 10,
    betas: np.ndarray | None = None,
    basis: SplineBasis | None = None,
    cache: dict | None = None,
    standardised: tuple | None = None,
) -> FittedModel:
    """Fit every node's regression on its parents (see module docstring).

    ``cache`` (dict) lets repeated calls over many DAG samples reuse family fits.
    """
    if kind in ("bic", "bge", "bdeu", "gaussian"):
        kind = "linear"
    if kind not in ("linear", "spline"):
        raise ValueError(f"unknown model kind {kind!r} (linear | spline)")
    X = np.asarray(X, dtype=np.float64)
    n, p = X.shape
    Z, mean, sd = standardised if standardised is not None else standardise(X)
    if inter is None:
        inter = np.zeros((n, p), dtype=bool)
    inter = np.ascontiguousarray(inter, dtype=np.bool_)
    cache = {} if cache is None else cache
    if kind == "spline" and basis is None:
        basis = SplineBasis.build(Z, spline_M)
    betas = DEFAULT_BETAS if betas is None else np.asarray(betas, dtype=float)
    nodes = []
    for j in range(p):
        pa = np.array(sorted(int(i) for i in parents[j]), dtype=np.int64)
        key = (kind, j, tuple(pa))
        nf = cache.get(key)
        if nf is None:
            rows = np.where(~inter[:, j])[0]
            if kind == "linear":
                nf = _fit_linear_node(Z, rows, j, pa)
            else:
                sc, coef, s2, beta = spline_fit(Z, inter, j, pa, basis.BZ, basis.Kt, basis.logdetK, betas)
                cov = None
                if len(pa):
                    from .scores import _spline_design

                    D = _spline_design(basis.BZ, rows, pa)
                    Mm1 = basis.M - 1
                    P = np.zeros((D.shape[1], D.shape[1]))
                    for a, v in enumerate(pa):
                        P[1 + a * Mm1 : 1 + (a + 1) * Mm1, 1 + a * Mm1 : 1 + (a + 1) * Mm1] = len(rows) * beta * basis.Kt[v]
                    cov = s2 * np.linalg.inv(D.T @ D + P + 1e-9 * np.eye(D.shape[1]))
                nf = NodeFit(pa, float(coef[0]), np.asarray(coef[1:]), float(s2), cov, float(beta))
            cache[key] = nf
        nodes.append(nf)
    return FittedModel(kind, mean, sd, nodes, basis, Z_train=Z)
