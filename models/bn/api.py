"""One function per job, components picked by name (the CLI calls these).

    net = learn("expr.tsv", score="spline", screening="mi", confidence="bootstrap")
    res = ecv(net, "expr.tsv", groups=labels, group_a="tumor", group_b="normal")
    kd  = simulate(net, "expr.tsv", target="WWTR1", log_fold_change=-2.0)
    subs = subnetworks(res, net, mode="delta", top=0.05, gene_sets=read_gmt(...))

``data`` may be a path (TSV/CSV/Parquet, validated by :func:`.data.load_matrix`), a
:class:`.data.LoadedMatrix`, a samples x variables DataFrame, or an ndarray (+ ``variables``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .data import LoadedMatrix, load_matrix, map_variables
from .ecv import compute_ecv
from .fit import fit_dag
from .intervention import resolve_level, simulate_knockdown
from .learn import interventions_mask, learn_structure
from .results import EcvResult, KnockdownResult, Network
from .subnet import common_subnetwork, delta_subnetwork, sample_subnetworks

SCORES = ("bge", "bic", "spline", "bdeu")
SCREENINGS = ("correlation", "mi", "trees", "none")
CONFIDENCES = ("none", "bootstrap", "mcmc", "nnsr", "exact")


def _as_frame(data, variables=None, **load_kw) -> tuple[pd.DataFrame, list]:
    report = []
    if isinstance(data, (str, Path)):
        lm = load_matrix(data, **load_kw)
        return lm.data, lm.report
    if isinstance(data, LoadedMatrix):
        return data.data, data.report
    if isinstance(data, pd.DataFrame):
        df = data.astype(float)
    else:
        arr = np.asarray(data, dtype=float)
        cols = list(variables) if variables is not None else [f"X{i}" for i in range(arr.shape[1])]
        df = pd.DataFrame(arr, columns=cols)
    if df.isna().any().any():
        r, c = np.argwhere(df.isna().to_numpy())[0]
        raise ValueError(f"missing value at sample {df.index[r]!r}, variable {df.columns[c]!r}")
    return df, report


def _model_kind(score: str) -> str:
    return "spline" if score == "spline" else "linear"


def network_diagnostics(network: Network) -> dict:
    """The network's confidence provenance and convergence diagnostics, copied into the meta of
    every result computed from it (and so into the overlays' params): confidence method, number
    of DAG samples, MCMC R-hat/ESS summaries, bootstrap / NNSR settings, and warnings."""
    m = network.meta or {}
    out = {"score": network.score, "confidence": m.get("confidence"), "posterior": m.get("posterior"),
           "n_dag_samples": len(network.samples) if network.samples else 0, "n_edges": m.get("n_edges")}
    for key in ("mcmc", "bootstrap", "nnsr", "exact_posterior", "prune", "scale"):
        if key in m:
            out[key] = m[key]
    warn = []
    mc = m.get("mcmc")
    if isinstance(mc, dict):
        rmax, lr = mc.get("rhat_max"), mc.get("logscore_rhat")
        if isinstance(rmax, (int, float)) and rmax > 1.1:  # inf (stuck chains) counts, nan (all constant) not
            warn.append(f"edge R-hat max {rmax:.3g} > 1.1 (fraction > 1.1: {mc.get('frac_rhat_gt_1_1')})")
        if isinstance(lr, (int, float)) and lr > 1.1:
            warn.append(f"log-score R-hat {lr:.3g} > 1.1")
    if not network.samples:
        warn.append("no DAG samples (point estimate only): results ignore structure uncertainty")
    out["warnings"] = "; ".join(warn) if warn else None
    return out


def learn(
    data,
    *,
    variables=None,
    score: str = "bge",
    screening: str = "correlation",
    k: int = 10,
    max_parents: int = 5,
    confidence: str = "none",
    prior_edges=None,
    prior_weight: float = 2.0,
    edge_penalty: float = 0.0,
    interventions=None,
    n_bootstrap: int = 20,
    mcmc: dict | None = None,
    nnsr: dict | None = None,
    executor="local",
    n_workers: int | None = None,
    address: str | None = None,
    spline_M: int = 10,
    vocabulary=None,
    symbol_to_curie: dict | None = None,
    seed: int = 0,
    load: dict | None = None,
    conditions=None,
    prune_alpha: float | None = None,
    scale: str | None = None,
    search: str | None = None,
) -> Network:
    """Learn a Bayesian network (samples x variables data).

    score: "bge" | "bic" | "spline" | "bdeu";  screening: "correlation" | "mi" | "trees" | "none";
    confidence: "none" | "bootstrap" | "mcmc" | "nnsr" | "exact" (exact posterior edge
    probabilities, up to 20 variables);  executor: "local" | "process" | "dask" | "ray" (or a
    dask Client);  prior_edges: [(source, target), ...] variable names,
    soft prior bonus ``prior_weight`` nats each;  interventions: per-sample lists of intervened
    variables or an (n x p) boolean mask (Cooper & Yoo interventional score);  conditions:
    per-sample condition labels -> per-condition intercepts (``learn_structure(groups=...)``);
    prune_alpha: CAM-style significance pruning of the point estimate (e.g. 1e-3);  scale: the
    data's scale ("log2" | "ln" | "log10" | "linear"), stored in ``meta["scale"]`` and used by
    :func:`simulate` to convert fold changes into levels;  search: "hill_climb" | "order" | "exact"
    ("exact": the highest-scoring DAG by dynamic programming, up to 20 variables; "order":
    ordering-based search from the hill-climbing DAG; default: exact for bge/bic/bdeu on up to 15
    variables and with confidence "exact", order for them above that, else hill climbing).
    """
    from .intervention import SCALES

    if scale is not None and scale not in SCALES:
        raise ValueError(f"scale must be one of {sorted(SCALES)}, not {scale!r}")
    if score not in SCORES:
        raise ValueError(f"score must be one of {SCORES}, not {score!r}")
    if screening not in SCREENINGS:
        raise ValueError(f"screening must be one of {SCREENINGS}, not {screening!r}")
    if confidence not in CONFIDENCES:
        raise ValueError(f"confidence must be one of {CONFIDENCES}, not {confidence!r}")
    df, report = _as_frame(data, variables, **(load or {}))
    names = [str(c) for c in df.columns]
    inter = interventions_mask(interventions, [str(i) for i in df.index], names)
    net = learn_structure(
        df.to_numpy(), names, score=score, screening=screening, k=k, max_parents=max_parents,
        prior_edges=prior_edges, prior_weight=prior_weight, edge_penalty=edge_penalty, inter=inter,
        confidence=confidence, n_bootstrap=n_bootstrap, mcmc=mcmc, nnsr=nnsr, executor=executor,
        n_workers=n_workers, address=address, spline_M=spline_M, seed=seed,
        groups=None if conditions is None else np.asarray(conditions), prune_alpha=prune_alpha, search=search,
    )
    net.meta["input_report"] = report
    if scale is not None:
        net.meta["scale"] = scale
    net.variable_info = map_variables(names, vocabulary=vocabulary, symbol_to_curie=symbol_to_curie)
    return net


def ecv(
    network: Network,
    data,
    *,
    groups=None,
    group_a=None,
    group_b=None,
    model: str | None = None,
    n_permutations: int = 1000,
    contrast_reference=None,
    interventions=None,
    spline_M: int = 10,
    seed: int = 0,
) -> EcvResult:
    """ECv of every edge x sample (network refitted on the pooled samples), Delta ECv, p, q."""
    df, _ = _as_frame(data)
    missing = [v for v in network.variables if v not in df.columns]
    if missing:
        raise ValueError(f"variables of the network missing from the data: {missing[:10]}")
    df = df[network.variables]
    kind = model or _model_kind(network.score)
    inter = interventions_mask(interventions, [str(i) for i in df.index], network.variables)
    fm = fit_dag(df.to_numpy(), network.parents, kind=kind, inter=inter, spline_M=spline_M)
    res = compute_ecv(fm, df.to_numpy(), network.variables, samples=[str(i) for i in df.index], groups=groups,
                      group_a=group_a, group_b=group_b, n_permutations=n_permutations,
                      contrast_reference=contrast_reference, seed=seed)
    res.meta["network"] = network_diagnostics(network)
    return res


def simulate(
    network: Network,
    data,
    *,
    target=None,
    targets: dict | None = None,
    value=None,
    fold_change=None,
    log_fold_change=None,
    knockout: bool = False,
    method: str = "sample",
    model: str | None = None,
    use_samples: bool = True,
    interventions=None,
    n_draws: int = 200,
    parameter_uncertainty: bool = True,
    effect_threshold: float = 0.0,
    interval: float = 0.9,
    spline_M: int = 10,
    seed: int = 0,
    n_param_draws: int | None = None,
    scale: str | None = None,
) -> KnockdownResult:
    """Knockdown / knockout simulation do(target = c) over the network's DAG samples.

    Either ``target`` with one of value / fold_change / log_fold_change (log2 units) / knockout,
    or ``targets`` = {variable: level in data units}.  method: "sample" (ancestral sampling) or
    "closed_form" (linear-Gaussian only).  ``use_samples``: use the MCMC/bootstrap DAG samples
    stored in the network (else the point estimate only).  ``n_param_draws``: parameter draws per
    DAG (see :func:`.intervention.simulate_knockdown`).  ``scale``: the data's scale for the fold
    change conversion (default ``network.meta["scale"]``; unknown -> fold_change multiplies the
    mean and log_fold_change is added to it, recorded in ``meta["level"]``).  The network's
    diagnostics are copied into ``meta["network"]``.
    """
    df, _ = _as_frame(data)
    df = df[network.variables]
    X = df.to_numpy()
    idx = {v: a for a, v in enumerate(network.variables)}
    if targets is None:
        if target is None:
            raise ValueError("give target (+ level) or targets")
        if target not in idx:
            raise ValueError(f"unknown target {target!r}")
        scale = scale or (network.meta or {}).get("scale")
        targets = {target: resolve_level(X[:, idx[target]], value, fold_change, log_fold_change, knockout,
                                         scale=scale)}
        level_meta = {"target": target, "value": value, "fold_change": fold_change,
                      "log_fold_change_log2": log_fold_change, "knockout": knockout,
                      "scale": scale or "unspecified (fold_change x mean; log_fold_change + mean)",
                      "target_mean": float(X[:, idx[target]].mean()), "level": targets[target]}
    else:
        level_meta = {"levels": "given in data units"}
    tmap = {}
    for v, c in targets.items():
        if v not in idx:
            raise ValueError(f"unknown target {v!r}")
        tmap[idx[v]] = float(c)
    dags = network.samples if (use_samples and network.samples) else [network.parents]
    inter = interventions_mask(interventions, [str(i) for i in df.index], network.variables)
    res = simulate_knockdown(X, dags, tmap, variables=network.variables, kind=model or _model_kind(network.score),
                             method=method, inter=inter, n_draws=n_draws, parameter_uncertainty=parameter_uncertainty,
                             effect_threshold=effect_threshold, interval=interval, spline_M=spline_M, seed=seed,
                             n_param_draws=n_param_draws)
    res.meta.update({"n_dags": len(dags), "dag_source": "samples" if dags is network.samples else "point estimate",
                     "level": level_meta, "network": network_diagnostics(network)})
    return res


def subnetworks(
    ecv_result: EcvResult,
    network: Network,
    *,
    mode: str = "delta",
    top: float = 0.05,
    max_q: float | None = None,
    group=None,
    min_fraction: float = 0.5,
    contain_threshold: float = 1.0,
    gene_sets: dict | None = None,
    samples: list | None = None,
):
    """mode "delta": one Subnetwork of the top edges by Delta ECv; "samples": one per sample
    (top by |contrast|); "common": the common subnetwork of ``group`` + containment per sample."""
    basal = network.edges[["source", "target"]]
    if mode == "delta":
        return delta_subnetwork(ecv_result, basal, top=top, max_q=max_q, gene_sets=gene_sets)
    if mode == "samples":
        return sample_subnetworks(ecv_result, basal, top=top, samples=samples)
    if mode == "common":
        if group is None:
            raise ValueError("mode='common' needs group=")
        return common_subnetwork(ecv_result, basal, group, top=top, min_fraction=min_fraction,
                                 contain_threshold=contain_threshold, gene_sets=gene_sets)
    raise ValueError(f"mode must be delta | samples | common, not {mode!r}")
