"""Knockdown / knockout simulation by graph surgery over sampled DAGs.

For every DAG G_d (from structure MCMC, bootstrap, or a single learned network):

1. refit the parameters of G_d on the data (:func:`.fit.fit_dag`, family fits cached across DAGs);
   with ``parameter_uncertainty`` the coefficients are drawn from their Gaussian posterior
   N(coef_hat, sigma^2 (D'D + P)^-1) so the intervals carry parameter uncertainty too;
2. graph surgery do(x_k = c): the edges into k are cut and x_k is fixed at c;
3. ancestral sampling in topological order, ``n_draws`` times, with and without the
   intervention (common random numbers by default, so non-descendants of k have Delta = 0
   exactly); Delta_d(j) = mean over draws of (x_j^do - x_j^obs), in the variable's units.

Across DAGs: E[Delta] (posterior mean), P(down) = P(Delta < -thr), P(up) = P(Delta > thr) with
thr = ``effect_threshold`` x sd_j, and equal-tailed ``interval`` quantiles of Delta_d.

Linear-Gaussian fast path (``method="closed_form"``): Delta_d = total causal effect x (c - E[x_k]),
computed by propagating c - E[x_k] along the DAG in topological order (no sampling).

The knockdown level is set by ``value`` (absolute, in data units), ``fold_change`` (c = fc x
E[x_k], linear scale) or ``log_fold_change`` (c = E[x_k] + lfc, for log-scale data, e.g. a
measured log2 fold change on log2 data).  ``knockout=True`` sets c = 0.
"""

from __future__ import annotations

import numpy as np

from .fit import FittedModel, fit_dag, standardise
from .results import KnockdownResult


def _draw_params(model: FittedModel, rng, on: bool):
    out = []
    for nf in model.nodes:
        if not on or nf.coef_cov is None or len(nf.parents) == 0:
            out.append((nf.intercept, nf.coef))
            continue
        full = np.concatenate([[nf.intercept], nf.coef])
        try:
            d = rng.multivariate_normal(full, nf.coef_cov, method="cholesky")
        except np.linalg.LinAlgError:
            d = full
        out.append((float(d[0]), d[1:]))
    return out


def _ancestral(model: FittedModel, order, params, eps, do: dict):
    """Standardised ancestral sampling with noise eps (n_draws x p); do: {k: z-value}."""
    n = eps.shape[0]
    Z = np.zeros((n, model.p))
    for j in order:
        if j in do:
            Z[:, j] = do[j]
            continue
        b0, c = params[j]
        v = b0 + eps[:, j]
        for a, i in enumerate(model.nodes[j].parents):
            v = v + model.term(j, a, Z[:, int(i)], coef=c)
        Z[:, j] = v
    return Z


def _model_means(model: FittedModel, order, params):
    """E[z] under the linear model (terms are linear so means propagate exactly)."""
    mu = np.zeros(model.p)
    for j in order:
        b0, c = params[j]
        mu[j] = b0 + sum(c[a] * mu[int(i)] for a, i in enumerate(model.nodes[j].parents))
    return mu


def _closed_form(model: FittedModel, order, params, do_z: dict):
    mu = _model_means(model, order, params)
    delta = np.zeros(model.p)
    for j in order:
        if j in do_z:
            delta[j] = do_z[j] - mu[j]
            continue
        b0, c = params[j]
        delta[j] = sum(c[a] * delta[int(i)] for a, i in enumerate(model.nodes[j].parents))
    return delta, mu


def resolve_level(x_col: np.ndarray, value=None, fold_change=None, log_fold_change=None, knockout=False) -> float:
    m = float(np.mean(x_col))
    given = sum(v is not None for v in (value, fold_change, log_fold_change)) + bool(knockout)
    if given != 1:
        raise ValueError("set exactly one of value, fold_change, log_fold_change, knockout")
    if knockout:
        return 0.0
    if value is not None:
        return float(value)
    if fold_change is not None:
        return m * float(fold_change)
    return m + float(log_fold_change)


def simulate_knockdown(
    X: np.ndarray,
    dags: list,
    targets: dict,
    variables: list | None = None,
    kind: str = "linear",
    method: str = "sample",
    inter: np.ndarray | None = None,
    n_draws: int = 200,
    parameter_uncertainty: bool = True,
    common_random_numbers: bool = True,
    effect_threshold: float = 0.0,
    interval: float = 0.9,
    spline_M: int = 10,
    seed: int = 0,
    fit_cache: dict | None = None,
) -> KnockdownResult:
    """Simulate do(x_k = c_k for k in targets) over the DAGs ``dags`` (lists of parent sets).

    ``targets`` maps a variable index to its level c in data units (see :func:`resolve_level`).
    """
    X = np.asarray(X, dtype=float)
    n, p = X.shape
    variables = list(variables) if variables is not None else [f"X{i}" for i in range(p)]
    if method not in ("sample", "closed_form"):
        raise ValueError("method must be 'sample' or 'closed_form'")
    if method == "closed_form" and kind not in ("linear", "bic", "bge", "bdeu", "gaussian"):
        raise ValueError("the closed form exists only for the linear-Gaussian model")
    std = standardise(X)
    _, mean, sd = std
    do_z = {int(k): (float(c) - mean[k]) / sd[k] for k, c in targets.items()}
    rng = np.random.default_rng(seed)
    cache = {} if fit_cache is None else fit_cache
    basis = None
    deltas = np.zeros((len(dags), p))
    for d, parents in enumerate(dags):
        # graph surgery is implicit: intervened nodes ignore their parents in _ancestral
        model = fit_dag(X, parents, kind=kind, inter=inter, spline_M=spline_M, cache=cache, standardised=std, basis=basis)
        basis = model.basis
        order = model.topological_order()
        params = _draw_params(model, rng, parameter_uncertainty)
        if method == "closed_form":
            dz, _ = _closed_form(model, order, params, do_z)
        else:
            eps = rng.standard_normal((n_draws, p)) * np.sqrt([nf.sigma2 for nf in model.nodes])
            obs = _ancestral(model, order, params, eps, {})
            eps2 = eps if common_random_numbers else rng.standard_normal((n_draws, p)) * np.sqrt(
                [nf.sigma2 for nf in model.nodes]
            )
            dov = _ancestral(model, order, params, eps2, do_z)
            dz = (dov - obs).mean(axis=0)
        deltas[d] = dz * sd
    thr = effect_threshold * sd
    lo_q, hi_q = (1 - interval) / 2, 1 - (1 - interval) / 2
    return KnockdownResult(
        variables=variables,
        targets={variables[k]: float(c) for k, c in targets.items()},
        mean_delta=deltas.mean(axis=0),
        p_down=(deltas < -thr - 1e-12).mean(axis=0),
        p_up=(deltas > thr + 1e-12).mean(axis=0),
        lower=np.quantile(deltas, lo_q, axis=0),
        upper=np.quantile(deltas, hi_q, axis=0),
        interval=interval,
        n_dags=len(dags),
        method=method,
        deltas=deltas,
    )


def single_target_effects(
    X: np.ndarray,
    dags: list,
    levels: dict,
    inter: np.ndarray | None = None,
    parameter_uncertainty: bool = True,
    seed: int = 0,
) -> dict:
    """Linear-Gaussian closed form for many *separate* single-target interventions at once.

    For every DAG the parameters are fitted (and optionally drawn) once, the total-effect matrix
    T = (I - B)^-1 (B[i, j] = standardised coefficient of i in j's equation) is formed, and
    Delta_d(j | do(x_k = c_k)) = T[k, j] (c_k - E[z_k]) sd_j.  Returns {k: deltas (n_dags, p)}.
    """
    X = np.asarray(X, dtype=float)
    n, p = X.shape
    std = standardise(X)
    _, mean, sd = std
    rng = np.random.default_rng(seed)
    cache: dict = {}
    out = {k: np.zeros((len(dags), p)) for k in levels}
    for d, parents in enumerate(dags):
        model = fit_dag(X, parents, kind="linear", inter=inter, cache=cache, standardised=std)
        order = model.topological_order()
        params = _draw_params(model, rng, parameter_uncertainty)
        B = np.zeros((p, p))
        for j, nf in enumerate(model.nodes):
            for a, i in enumerate(nf.parents):
                B[int(i), j] = params[j][1][a]
        T = np.linalg.inv(np.eye(p) - B)
        mu = _model_means(model, order, params)
        for k, c in levels.items():
            out[k][d] = T[k] * ((c - mean[k]) / sd[k] - mu[k]) * sd
    return out
