"""One evaluation for every model (KGE, GCN, baselines) on the held-out edges of a relation.

For relation r with subject label S and object label O, the candidates are all (s, o) pairs
with s in S and o in O. Scores are computed in blocks of heads (never a Python list of pairs);
the block scores of the S x O candidates are kept as a float32 matrix only when it has at most
``max_dense`` cells, otherwise the evaluation refuses (ValueError) rather than subsample.

Metrics:
- filtered MRR and Hits@1/3/10 (both sides: the tail among O for (h, r, ?), the head among S for
  (?, r, t); other known edges of r are filtered);
- AUROC / AUPRC of the held-out edges against (a) uniformly sampled non-edges, (b) degree-matched
  non-edges (endpoints drawn from the held-out edges' own heads and tails, so every node appears as
  often among negatives as among positives: a degree prior cannot separate them), (c) all non-edges;
- kGCN enrichment@x%: share of held-out edges among the top x% of the candidate pairs (training
  edges excluded), x = 1..10.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)


def candidates(tr, rows_all: np.ndarray, rel: int) -> tuple[np.ndarray, np.ndarray]:
    lab = tr.label_array()
    r = rows_all[rows_all[:, 1] == rel]
    s_labels = sorted(set(lab[r[:, 0]]))
    o_labels = sorted(set(lab[r[:, 2]]))
    heads = np.flatnonzero(np.isin(lab, s_labels))
    tails = np.flatnonzero(np.isin(lab, o_labels))
    return heads, tails


def score_matrix(scorer, rel, heads, tails, block: int = 256) -> np.ndarray:
    out = np.empty((len(heads), len(tails)), dtype=np.float32)
    for s in range(0, len(heads), block):
        out[s:s + block] = scorer.score_block(rel, heads[s:s + block], tails)
    return out


def _pair_mask(pairs, hpos, tpos, shape):
    m = np.zeros(shape, dtype=bool)
    if len(pairs):
        m[hpos[pairs[:, 0]], tpos[pairs[:, 2]]] = True
    return m


def evaluate(scorer, tr, split, relation: str, seed: int = 0, max_dense: int = 60_000_000,
             plot_dir=None, model_name: str | None = None) -> dict:
    rel = tr.relation_id(relation)
    heads, tails = candidates(tr, tr.mapped, rel)
    if len(heads) * len(tails) > max_dense:
        raise ValueError(f"{relation}: {len(heads)} x {len(tails)} candidates exceed max_dense={max_dense}")
    hpos = np.full(tr.num_entities, -1)
    hpos[heads] = np.arange(len(heads))
    tpos = np.full(tr.num_entities, -1)
    tpos[tails] = np.arange(len(tails))
    sel = lambda rows: rows[rows[:, 1] == rel]
    train_r, valid_r, test_r = sel(split.train), sel(split.valid), sel(split.test)
    shape = (len(heads), len(tails))
    S = score_matrix(scorer, rel, heads, tails)
    m_train = _pair_mask(train_r, hpos, tpos, shape)
    m_valid = _pair_mask(valid_r, hpos, tpos, shape)
    m_test = _pair_mask(test_r, hpos, tpos, shape)
    known = m_train | m_valid | m_test

    # --- filtered ranks (realistic: ties count half) ---
    th, tt = hpos[test_r[:, 0]], tpos[test_r[:, 2]]
    ranks = []
    for a, b in zip(th, tt):
        s = S[a, b]
        row = S[a]
        other = known[a].copy()
        other[b] = False
        ok = ~other
        ranks.append(1 + np.sum(row[ok] > s) + 0.5 * (np.sum(row[ok] == s) - 1))
        col = S[:, b]
        other = known[:, b].copy()
        other[a] = False
        ok = ~other
        ranks.append(1 + np.sum(col[ok] > s) + 0.5 * (np.sum(col[ok] == s) - 1))
    ranks = np.asarray(ranks, dtype=float)
    out = {
        "relation": relation, "n_test": len(test_r), "n_heads": len(heads), "n_tails": len(tails),
        "mrr": float(np.mean(1.0 / ranks)) if len(ranks) else float("nan"),
        "hits_at_1": float(np.mean(ranks <= 1)), "hits_at_3": float(np.mean(ranks <= 3)),
        "hits_at_10": float(np.mean(ranks <= 10)),
    }
    pos = S[m_test]
    neg_mask = ~known
    neg_all = S[neg_mask]
    rng = np.random.default_rng(seed)
    # (a) uniform sampled negatives, 1:1
    neg_s = rng.choice(neg_all, size=min(len(neg_all), max(len(pos), 1)), replace=False)
    # (b) degree-matched: endpoints from the test edges' own heads / tails (a degree-preserving shuffle)
    nh, nt = [], []
    tries = 0
    while len(nh) < len(pos) and tries < 100:
        a = rng.choice(th, len(pos))
        b = rng.choice(tt, len(pos))
        ok = neg_mask[a, b]
        nh.extend(a[ok].tolist())
        nt.extend(b[ok].tolist())
        tries += 1
    neg_d = S[np.asarray(nh[: len(pos)], dtype=int), np.asarray(nt[: len(pos)], dtype=int)]

    def auc(p, n):
        y = np.concatenate([np.ones(len(p)), np.zeros(len(n))])
        x = np.concatenate([p, n])
        if len(p) == 0 or len(n) == 0:
            return float("nan"), float("nan")
        return float(roc_auc_score(y, x)), float(average_precision_score(y, x))

    out["auroc_sampled"], out["auprc_sampled"] = auc(pos, neg_s)
    out["auroc_degree_matched"], out["auprc_degree_matched"] = auc(pos, neg_d)
    out["auroc_all"], out["auprc_all"] = auc(pos, neg_all)
    # --- enrichment over candidate pairs (training + validation edges excluded) ---
    cand = ~(m_train | m_valid)
    cs = S[cand]
    is_test = m_test[cand]
    order = np.argsort(-cs, kind="stable")
    hits_sorted = np.cumsum(is_test[order])
    enr = {}
    for x in range(1, 11):
        k = max(1, int(np.ceil(len(cs) * x / 100)))
        enr[str(x)] = float(hits_sorted[k - 1] / max(1, is_test.sum()))
    out["enrichment"] = enr
    if plot_dir is not None:
        _plots(pos, neg_all, enr, plot_dir, f"{model_name or scorer.name}_{relation}")
    return out


def calibrate(scorer, tr, split, relation: str, seed: int = 0, max_neg: int = 20000) -> dict:
    """Platt scaling of the score on held-out edges (validation, else test) against non-edges,
    weighted to the true prevalence among the candidate pairs: p = sigmoid(a * score + b)."""
    from sklearn.linear_model import LogisticRegression

    rel = tr.relation_id(relation)
    heads, tails = candidates(tr, tr.mapped, rel)
    held = split.valid[split.valid[:, 1] == rel]
    if len(held) < 5:
        held = np.concatenate([held, split.test[split.test[:, 1] == rel]])
    known = {(int(a), int(b)) for a, _, b in tr.mapped[tr.mapped[:, 1] == rel]}
    rng = np.random.default_rng(seed)
    n_cand = len(heads) * len(tails) - len(known)
    nh = rng.choice(heads, max_neg)
    nt = rng.choice(tails, max_neg)
    keep = np.asarray([(int(a), int(b)) not in known for a, b in zip(nh, nt)])
    nh, nt = nh[keep], nt[keep]
    sp_ = scorer.score_pairs(rel, held[:, 0], held[:, 2])
    sn = scorer.score_pairs(rel, nh, nt)
    x = np.concatenate([sp_, sn])[:, None].astype(float)
    y = np.concatenate([np.ones(len(sp_)), np.zeros(len(sn))])
    w = np.concatenate([np.ones(len(sp_)), np.full(len(sn), n_cand / max(1, len(sn)))])
    lr = LogisticRegression(C=1e4, max_iter=1000)
    lr.fit(x, y, sample_weight=w)
    return {"a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0]), "n_pos": len(sp_), "n_neg": len(sn)}


def probability(cal: dict, scores: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(cal["a"] * np.asarray(scores, dtype=float) + cal["b"])))


def _plots(pos, neg, enr, plot_dir, stem):
    import matplotlib

    matplotlib.use("Agg")
    from pathlib import Path

    import matplotlib.pyplot as plt

    d = Path(plot_dir)
    d.mkdir(parents=True, exist_ok=True)
    y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    x = np.concatenate([pos, neg])
    fpr, tpr, _ = roc_curve(y, x)
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot(fpr, tpr)
    ax.plot([0, 1], [0, 1], "k--", lw=0.5)
    ax.set(xlabel="FPR", ylabel="TPR", title=f"ROC {stem}")
    fig.savefig(d / f"roc_{stem}.png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    pr, rc, _ = precision_recall_curve(y, x)
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot(rc, pr)
    ax.set(xlabel="recall", ylabel="precision", title=f"PR {stem}")
    fig.savefig(d / f"pr_{stem}.png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(4, 4))
    xs = [int(k) for k in enr]
    ax.plot(xs, [enr[k] for k in enr], "o-")
    ax.plot(xs, [k / 100 for k in xs], "k--", lw=0.5)
    ax.set(xlabel="top x% of candidate pairs", ylabel="share of held-out edges", title=f"enrichment {stem}")
    fig.savefig(d / f"enrichment_{stem}.png", dpi=80, bbox_inches="tight")
    plt.close(fig)
