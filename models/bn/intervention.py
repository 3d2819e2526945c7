"""Knockdown / knockout simulation by graph surgery over sampled DAGs.

For every DAG G_d (from structure MCMC, bootstrap, or a single learned network):

1. refit the parameters of G_d on the data (:func:`.fit.fit_dag`, family fits cached across DAGs);
   with ``parameter_uncertainty`` the coefficients are drawn from their Gaussian posterior
   N(coef_hat, sigma^2 (D'D + P)^-1) so the intervals carry parameter uncertainty too;
2. graph surgery do(x_k = c): the edges into k are cut and x_k is fixed at c;
3. ancestral sampling in topological order, ``n_draws`` times, with and without the
   intervention (common random numbers by default, so non-descendants of k have Delta = 0
   exactly); Delta_d(j) = mean over draws of (x_j^do - x_j^obs), in the variable's units.

With ``parameter_uncertainty`` every DAG gets ``n_param_draws`` independent parameter draws
(default: enough for >= 200 replicates in all, at least 4 per DAG), so that a single DAG still
gives probabilities and intervals that reflect parameter uncertainty.  Over all (DAG, draw)
replicates: E[Delta] (posterior mean), P(down) = P(Delta < -thr), P(up) = P(Delta > thr) with
thr = ``effect_threshold`` x sd_j, equal-tailed ``interval`` quantiles of Delta, and the Monte Carlo
standard error of P(down)/P(up) (clustered by DAG: sd of the per-DAG fractions / sqrt(n_dags),
bounded below by the binomial error; DAG samples are treated as independent, which MCMC draws
only approximately are).  One DAG only (no structure uncertainty) is flagged in ``meta`` and warned.

Linear-Gaussian fast path (``method="closed_form"``): Delta_d = total causal effect x (c - E[x_k]),
computed by propagating c - E[x_k] along the DAG in topological order (no sampling).

The knockdown level is set by ``value`` (absolute, in data units), ``fold_change`` (a ratio, e.g.
0.5) or ``log_fold_change`` (log2 units by default), converted with the data's ``scale``
(:func:`resolve_level`): "log2" / "ln" / "log10" data -> c = E[x_k] + log_base(fc); "linear"
-> c = E[x_k] x fc.  ``knockout=True`` sets c = 0 (in data units).
"""

from __future__ import annotations

import math
import warnings

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


SCALES = {"log2": 2.0, "ln": math.e, "log10": 10.0, "linear": None}


def resolve_level(x_col: np.ndarray, value=None, fold_change=None, log_fold_change=None, knockout=False,
                  scale: str | None = None, lfc_base: float = 2.0) -> float:
    """Knockdown level c in data units, relative to the sample mean m of the target.

    ``scale`` is the scale of the data: "log2" | "ln" | "log10" | "linear".  ``fold_change`` fc
    (a ratio): log data -> c = m + log_b(fc) (b the data's base), linear -> c = m x fc.
    ``log_fold_change`` lfc in base ``lfc_base`` (default log2): log data -> c = m + lfc x
    ln(lfc_base) / ln(b), linear -> c = m x lfc_base ** lfc.  ``scale=None`` (unknown; legacy
    behaviour): fc multiplies m (linear data) and lfc is added to m (log data of base lfc_base).
    """
    m = float(np.mean(x_col))
    given = sum(v is not None for v in (value, fold_change, log_fold_change)) + bool(knockout)
    if given != 1:
        raise ValueError("set exactly one of value, fold_change, log_fold_change, knockout")
    if scale is not None and scale not in SCALES:
        raise ValueError(f"scale must be one of {sorted(SCALES)}, not {scale!r}")
    if knockout:
        return 0.0
    if value is not None:
        return float(value)
    base = SCALES.get(scale) if scale is not None else None
    if fold_change is not None:
        fc = float(fold_change)
        if scale is None or scale == "linear":
            return m * fc
        if fc <= 0:
            raise ValueError(f"fold change must be > 0 on {scale} data, got {fc}")
        return m + math.log(fc) / math.log(base)
    lfc = float(log_fold_change)
    if scale is None:
        return m + lfc
    if scale == "linear":
        return m * float(lfc_base) ** lfc
    return m + lfc * math.log(lfc_base) / math.log(base)


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
    n_param_draws: int | None = None,
) -> KnockdownResult:
    """Simulate do(x_k = c_k for k in targets) over the DAGs ``dags`` (lists of parent sets).

    ``targets`` maps a variable index to its level c in data units (see :func:`resolve_level`).
    ``n_param_draws``: parameter draws per DAG (only with ``parameter_uncertainty``; default
    max(4, ceil(200 / n_dags)); without parameter uncertainty always 1).
    """
    X = np.asarray(X, dtype=float)
    n, p = X.shape
    variables = list(variables) if variables is not None else [f"X{i}" for i in range(p)]
    if method not in ("sample", "closed_form"):
        raise ValueError("method must be 'sample' or 'closed_form'")
    if method == "closed_form" and kind not in ("linear", "bic", "bge", "bdeu", "gaussian"):
        raise ValueError("the closed form exists only for the linear-Gaussian model")
    if len(dags) == 0:
        raise ValueError("no DAGs to simulate over")
    n_dags = len(dags)
    if not parameter_uncertainty:
        R = 1
    elif n_param_draws is None:
        R = max(4, math.ceil(200 / n_dags))
    else:
        R = int(n_param_draws)
        if R < 1:
            raise ValueError(f"n_param_draws must be >= 1, got {n_param_draws}")
    std = standardise(X)
    _, mean, sd = std
    do_z = {int(k): (float(c) - mean[k]) / sd[k] for k, c in targets.items()}
    rng = np.random.default_rng(seed)
    cache = {} if fit_cache is None else fit_cache
    basis = None
    deltas = np.zeros((n_dags * R, p))
    for d, parents in enumerate(dags):
        # graph surgery is implicit: intervened nodes ignore their parents in _ancestral
        model = fit_dag(X, parents, kind=kind, inter=inter, spline_M=spline_M, cache=cache, standardised=std, basis=basis)
        basis = model.basis
        order = model.topological_order()
        noise_sd = np.sqrt([nf.sigma2 for nf in model.nodes])
        for r in range(R):
            params = _draw_params(model, rng, parameter_uncertainty)
            if method == "closed_form":
                dz, _ = _closed_form(model, order, params, do_z)
            else:
                eps = rng.standard_normal((n_draws, p)) * noise_sd
                obs = _ancestral(model, order, params, eps, {})
                eps2 = eps if common_random_numbers else rng.standard_normal((n_draws, p)) * noise_sd
                dov = _ancestral(model, order, params, eps2, do_z)
                dz = (dov - obs).mean(axis=0)
            deltas[d * R + r] = dz * sd
    thr = effect_threshold * sd
    lo_q, hi_q = (1 - interval) / 2, 1 - (1 - interval) / 2
    down = deltas < -thr - 1e-12
    up = deltas > thr + 1e-12
    p_down, p_up = down.mean(axis=0), up.mean(axis=0)
    mcse_down, mcse_up = _mcse(down, n_dags, R), _mcse(up, n_dags, R)
    meta = {"n_dags": n_dags, "n_param_draws": R, "n_replicates": n_dags * R,
            "parameter_uncertainty": bool(parameter_uncertainty), "single_dag": n_dags == 1,
            "p_mcse_max": float(max(mcse_down.max(initial=0.0), mcse_up.max(initial=0.0))),
            "mcse_method": "clustered by DAG, >= binomial" if n_dags > 1 else "binomial over parameter draws"}
    if n_dags == 1:
        msg = ("knockdown simulated on a single DAG: P(down)/P(up) and intervals ignore structure uncertainty "
               "(learn with confidence='bootstrap' or 'mcmc' for DAG samples)"
               + ("" if parameter_uncertainty else " and parameter uncertainty (parameter_uncertainty=False)"))
        meta["warning"] = msg
        warnings.warn(msg, stacklevel=2)
    return KnockdownResult(
        variables=variables,
        targets={variables[k]: float(c) for k, c in targets.items()},
        mean_delta=deltas.mean(axis=0),
        p_down=p_down,
        p_up=p_up,
        lower=np.quantile(deltas, lo_q, axis=0),
        upper=np.quantile(deltas, hi_q, axis=0),
        interval=interval,
        n_dags=n_dags,
        method=method,
        deltas=deltas,
        meta=meta,
        p_down_mcse=mcse_down,
        p_up_mcse=mcse_up,
        n_param_draws=R,
    )


def _mcse(hit: np.ndarray, n_dags: int, R: int) -> np.ndarray:
    """Monte Carlo standard error of hit.mean(axis=0) for (n_dags * R, p) indicators, DAG-major.

    Replicates of one DAG share its structure, so the error is clustered by DAG: sd of the per-DAG
    fractions / sqrt(n_dags); it is bounded below by the binomial error sqrt(P(1-P)/N), which is
    also the only estimate available for a single DAG.
    """
    P = hit.mean(axis=0)
    N = hit.shape[0]
    binom = np.sqrt(P * (1 - P) / N)
    if n_dags < 2:
        return binom
    per_dag = hit.reshape(n_dags, R, -1).mean(axis=1)
    clustered = per_dag.std(axis=0, ddof=1) / np.sqrt(n_dags)
    return np.maximum(clustered, binom)


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
