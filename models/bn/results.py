"""Plain result objects of the Bayesian-network jobs (easy to write to files or Neo4j).

Every object has ``to_frame()`` (a pandas DataFrame, one row per edge / variable / sample) and
keeps its provenance in ``meta`` (a JSON-serialisable dict: parameters, timings, diagnostics).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass
class Network:
    """A learned network.

    ``edges``: DataFrame[source, target, weight, posterior(, rhat, ess)] -- ``weight`` is the fitted
    effect (standardised linear coefficient, or the sd of the spline term), ``posterior`` the edge
    confidence of the point-estimate edge (bootstrap / NNSR frequency or MCMC posterior
    probability; 0.0 when no replicate / draw contains it; NaN when no confidence was computed,
    ``confidence="none"`` -- ``meta["posterior"]`` says which); with MCMC, ``rhat`` and ``ess`` are
    the per-edge split-R-hat and effective sample size of the edge indicator (NaN when it never
    changed).  ``parents`` holds the point-estimate DAG (indices into ``variables``);
    ``scores`` optionally ranks all ordered pairs (p x p) for evaluation.
    """

    variables: list
    edges: pd.DataFrame
    parents: list
    score: str
    meta: dict = field(default_factory=dict)
    edge_scores: np.ndarray | None = None  # p x p ranking score of i -> j (all pairs)
    samples: list | None = None  # DAG samples (MCMC / bootstrap) for simulation
    variable_info: pd.DataFrame | None = None  # variable -> curie, kind (gene | clinical)
    score_components: dict | None = None  # name -> p x p matrix combined into edge_scores (learn_ranked)

    def to_frame(self) -> pd.DataFrame:
        return self.edges.copy()

    def index(self, name) -> int:
        return self.variables.index(name)

    def ranked_pairs(self) -> pd.DataFrame:
        """All ordered pairs ranked by ``edge_scores`` (for AUROC/AUPR evaluation)."""
        if self.edge_scores is None:
            raise ValueError("no pairwise ranking scores stored")
        p = len(self.variables)
        i, j = np.where(~np.eye(p, dtype=bool))
        df = pd.DataFrame(
            {"source": [self.variables[a] for a in i], "target": [self.variables[b] for b in j], "score": self.edge_scores[i, j]}
        )
        return df.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)


@dataclass
class EcvResult:
    """Edge Contribution values: ``values[e, s]`` for edge e = (source -> target) and sample s.

    ``delta`` = |mean_A - mean_B| per edge, ``pvalue`` from label permutations, ``qvalue``
    Benjamini-Hochberg; ``contrast[e, s]`` per-sample contrast (sample vs the reference group,
    in reference-sd units) when computed.
    """

    edges: pd.DataFrame  # source, target
    samples: list
    values: np.ndarray  # (m, n) float32
    groups: np.ndarray | None = None  # per-sample label
    group_a: object = None
    group_b: object = None
    delta: np.ndarray | None = None
    mean_a: np.ndarray | None = None
    mean_b: np.ndarray | None = None
    pvalue: np.ndarray | None = None
    qvalue: np.ndarray | None = None
    contrast: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        df = self.edges[["source", "target"]].copy()
        for name in ("mean_a", "mean_b", "delta", "pvalue", "qvalue"):
            v = getattr(self, name)
            if v is not None:
                df[name] = v
        return df

    def sample_frame(self, long: bool = False) -> pd.DataFrame:
        """Edge x sample matrix as a DataFrame (wide), or long format (edge, sample, ecv)."""
        cols = pd.MultiIndex.from_frame(self.edges[["source", "target"]])
        wide = pd.DataFrame(self.values.T, index=self.samples, columns=cols)
        if not long:
            return wide
        out = wide.stack(level=[0, 1], future_stack=True).rename("ecv").reset_index()
        return out.rename(columns={"level_0": "sample"})


@dataclass
class KnockdownResult:
    variables: list
    targets: dict  # variable -> level c (data units)
    mean_delta: np.ndarray
    p_down: np.ndarray
    p_up: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    interval: float
    n_dags: int
    method: str
    deltas: np.ndarray | None = None  # (n_dags * n_param_draws, p), DAG-major
    meta: dict = field(default_factory=dict)
    p_down_mcse: np.ndarray | None = None  # Monte Carlo standard error of p_down
    p_up_mcse: np.ndarray | None = None
    n_param_draws: int = 1  # parameter draws per DAG

    def to_frame(self) -> pd.DataFrame:
        q = int(round(self.interval * 100))
        cols = {
            "variable": self.variables,
            "mean_delta": self.mean_delta,
            "p_down": self.p_down,
            "p_up": self.p_up,
        }
        if self.p_down_mcse is not None:
            cols["p_down_mcse"] = self.p_down_mcse
        if self.p_up_mcse is not None:
            cols["p_up_mcse"] = self.p_up_mcse
        cols.update({f"lower_{q}": self.lower, f"upper_{q}": self.upper,
                     "is_target": [v in self.targets for v in self.variables]})
        return pd.DataFrame(cols)

    def down_score(self) -> np.ndarray:
        """Ranking score for 'goes down' (P(down), ties broken by the mean effect)."""
        s = np.abs(self.mean_delta).max() or 1.0
        return self.p_down - 1e-3 * self.mean_delta / s

    def up_score(self) -> np.ndarray:
        s = np.abs(self.mean_delta).max() or 1.0
        return self.p_up + 1e-3 * self.mean_delta / s


@dataclass
class Subnetwork:
    """A subnetwork: selected edges plus linker edges of the basal network, and its components."""

    name: str
    edges: pd.DataFrame  # source, target, selected (bool), + scores
    components: list  # list of sets of node names
    enrichment: pd.DataFrame | None = None
    containment: pd.DataFrame | None = None  # sample x component fraction (common subnetworks)
    meta: dict = field(default_factory=dict)

    @property
    def nodes(self) -> set:
        return set(self.edges["source"]) | set(self.edges["target"])

    def to_frame(self) -> pd.DataFrame:
        df = self.edges.copy()
        comp = {}
        for c, nodes in enumerate(self.components):
            for v in nodes:
                comp[v] = c
        df["component"] = [comp.get(s, -1) for s in df["source"]]
        df.insert(0, "subnetwork", self.name)
        return df
