"""Evaluation: AUROC / AUPR of edge rankings, structural Hamming distance, knockdown labels.

AUPR is the average precision of the full ranking (sum over positives of precision at that
positive's rank, ties resolved pessimistically-optimistically by averaging as in scikit-learn);
it is close to, but not identical with, the DREAM4 scoring script's interpolated AUPR.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata


def auroc(y: np.ndarray, s: np.ndarray) -> float:
    y = np.asarray(y, dtype=bool)
    npos, nneg = y.sum(), (~y).sum()
    if npos == 0 or nneg == 0:
        return float("nan")
    r = rankdata(s)
    return float((r[y].sum() - npos * (npos + 1) / 2) / (npos * nneg))


def aupr(y: np.ndarray, s: np.ndarray) -> float:
    """Average precision with tied scores grouped (scikit-learn's definition)."""
    y = np.asarray(y, dtype=bool)
    s = np.asarray(s, dtype=float)
    if y.sum() == 0:
        return float("nan")
    order = np.argsort(-s, kind="stable")
    ys, ss = y[order], s[order]
    distinct = np.r_[np.where(np.diff(ss))[0], len(ss) - 1]
    tp = np.cumsum(ys)[distinct]
    fp = (distinct + 1) - tp
    prec = tp / (tp + fp)
    rec = tp / y.sum()
    rec_prev = np.r_[0.0, rec[:-1]]
    return float(np.sum((rec - rec_prev) * prec))


def score_edges(scores: np.ndarray, variables: list, gold: pd.DataFrame) -> dict:
    """AUROC/AUPR of a p x p score matrix (i -> j) against a DREAM-style gold standard."""
    idx = {v: a for a, v in enumerate(variables)}
    s = np.array([scores[idx[a], idx[b]] for a, b in zip(gold["source"], gold["target"])])
    y = gold["edge"].to_numpy().astype(bool)
    return {"auroc": auroc(y, s), "aupr": aupr(y, s), "n_true": int(y.sum()), "n_pairs": len(y)}


def shd(pred: set, true: set, reversal_cost: int = 1) -> int:
    """Structural Hamming distance between directed edge sets (a reversed edge costs 1 by default)."""
    pred = set(pred)
    true = set(true)
    extra = {e for e in pred if e not in true}
    missing = {e for e in true if e not in pred}
    rev = {e for e in extra if (e[1], e[0]) in missing}
    return len(extra - rev) + len(missing - {(b, a) for a, b in rev}) + reversal_cost * len(rev)


def knockdown_labels(x_kd: np.ndarray, baseline: np.ndarray, scale: np.ndarray, z: float = 3.0, min_abs: float = 0.02):
    """Down/up labels of one perturbation profile against a baseline (wild type or robust LOO).

    A gene is down (up) when (x - baseline) < -max(z * scale, min_abs) (> + ...).
    """
    d = np.asarray(x_kd) - np.asarray(baseline)
    thr = np.maximum(z * np.asarray(scale), min_abs)
    return d < -thr, d > thr, d


def robust_loo_baseline(M: np.ndarray, k: int):
    """Median and 1.4826*MAD of every column over all rows except row k."""
    others = np.delete(M, k, axis=0)
    med = np.median(others, axis=0)
    mad = 1.4826 * np.median(np.abs(others - med), axis=0)
    return med, mad
