"""The shared evaluation and the blocked top-k on a small synthetic graph (no Neo4j needed)."""

from __future__ import annotations

import numpy as np
from targetkg.graph.export import Triples
from targetkg.models.linkpred.api import top_k_per_head
from targetkg.models.linkpred.evaluate import calibrate, evaluate, probability
from targetkg.models.linkpred.splits import split


def _graph(seed=0):
    rng = np.random.default_rng(seed)
    drugs = [f"DRUGBANK:D{i:03d}" for i in range(40)]
    dis = [f"DOID:{i:03d}" for i in range(15)]
    ents = sorted(drugs + dis)
    lab = ["Drug" if e.startswith("DRUG") else "Disease" for e in ents]
    e2i = {e: i for i, e in enumerate(ents)}
    pairs = {(e2i[drugs[i]], e2i[dis[j]]) for i, j in zip(rng.integers(0, 40, 120), rng.integers(0, 15, 120))}
    rows = np.array(sorted((h, 0, t) for h, t in pairs), dtype=np.int64)
    return Triples(ents, lab, ["TREATS"], rows)


class Oracle:
    name = "oracle"

    def __init__(self, tr, noise=0.0, seed=0):
        self.truth = np.zeros((tr.num_entities, tr.num_entities), dtype=np.float32)
        self.truth[tr.mapped[:, 0], tr.mapped[:, 2]] = 1.0
        self.truth += noise * np.random.default_rng(seed).random(self.truth.shape).astype(np.float32)

    def score_block(self, rel, heads, tails):
        return self.truth[np.ix_(heads, tails)]

    def score_pairs(self, rel, heads, tails):
        return self.truth[heads, tails]


def test_oracle_scores_perfectly():
    tr = _graph()
    sp = split(tr, ["TREATS"], mode="random", seed=0)
    m = evaluate(Oracle(tr, noise=0.01), tr, sp, "TREATS")
    assert m["mrr"] == 1.0 and m["hits_at_1"] == 1.0
    assert m["auroc_sampled"] == 1.0 and m["auroc_all"] == 1.0 and m["auprc_all"] > 0.999
    enr = m["enrichment"]
    assert enr["10"] == 1.0 and all(enr[str(x)] <= enr[str(x + 1)] for x in range(1, 10))
    cal = calibrate(Oracle(tr, noise=0.01), tr, sp, "TREATS")
    p = probability(cal, np.array([0.0, 1.0]))
    assert p[0] < 0.5 < p[1]


def test_random_scores_near_half():
    tr = _graph(1)
    sp = split(tr, ["TREATS"], mode="head", seed=0)
    m = evaluate(_Random(), tr, sp, "TREATS")
    assert 0.2 < m["auroc_all"] < 0.8
    # the same evaluator is not constant: scores that invert the truth rank every test edge last
    inverted = Oracle(tr, noise=0.01)
    inverted.truth = -inverted.truth
    bad = evaluate(inverted, tr, sp, "TREATS")
    assert bad["auroc_all"] < 0.05 and bad["mrr"] < m["mrr"]


class _Random:
    name = "random"

    def score_block(self, rel, heads, tails):
        return np.random.default_rng(len(heads)).random((len(heads), len(tails))).astype(np.float32)


def test_blocked_top_k_equals_dense():
    tr = _graph()
    sc = Oracle(tr, noise=0.5, seed=3)
    heads = np.flatnonzero(tr.label_array() == "Drug")
    tails = np.flatnonzero(tr.label_array() == "Disease")
    H, T, S, R = top_k_per_head(sc, 0, heads, tails, k=4, block=7)
    dense = sc.score_block(0, heads, tails)
    for i, h in enumerate(heads):
        want = tails[np.argsort(-dense[i], kind="stable")[:4]]
        assert list(T[H == h]) == list(want)
        assert list(R[H == h]) == [1, 2, 3, 4]


def test_sparse_rgcn_layer_equals_rgcnconv():
    """The R-GCN's sparse-matmul layer computes what torch-geometric's RGCNConv computes."""
    import torch
    from targetkg.models.linkpred.gcn import _graph, _model_cls

    rng = np.random.default_rng(0)
    n, n_rel = 60, 3
    rows = np.unique(np.stack([rng.integers(0, n, 500), rng.integers(0, n_rel, 500), rng.integers(0, n, 500)], 1),
                     axis=0)
    cls = _model_cls()
    torch.manual_seed(0)
    a = cls(n, n_rel, 8, 2, 4, 0.0, impl="sparse")
    b = cls(n, n_rel, 8, 2, 4, 0.0, impl="pyg")
    b.emb.weight.data, b.rel.data = a.emb.weight.data.clone(), a.rel.data.clone()
    for ca, cb in zip(a.convs, b.convs):
        cb.weight.data, cb.comp.data = ca.basis.data.clone(), ca.comp.data.clone()
        cb.root.data, cb.bias.data = ca.root.data.clone(), ca.bias.data.clone()
    a.eval()
    b.eval()
    with torch.no_grad():
        za = a.encode(_graph(rows, n, n_rel, "sparse"))
        zb = b.encode(_graph(rows, n, n_rel, "pyg"))
    assert torch.allclose(za, zb, atol=1e-5)


class _Constant:
    name = "constant"

    def score_block(self, rel, heads, tails):
        return np.zeros((len(heads), len(tails)), dtype=np.float32)


def test_tied_scores_get_the_realistic_rank():
    """A model that scores every candidate alike ranks a held-out edge in the middle of the
    candidates left after filtering (realistic ties), never first (optimistic) or last."""
    tr = _graph(2)
    sp = split(tr, ["TREATS"], mode="random", seed=0)
    m = evaluate(_Constant(), tr, sp, "TREATS")
    lab = tr.label_array()
    drugs, diseases = np.flatnonzero(lab == "Drug"), np.flatnonzero(lab == "Disease")
    known = {(int(h), int(t)) for h, _, t in tr.mapped}
    ranks = []
    for h, _, t in sp.test:
        free_tails = sum((int(h), int(x)) not in known for x in diseases) + 1  # the edge itself + non-edges
        free_heads = sum((int(x), int(t)) not in known for x in drugs) + 1
        ranks += [(1 + free_tails) / 2, (1 + free_heads) / 2]
    ranks = np.asarray(ranks)
    assert np.isclose(m["mrr"], np.mean(1 / ranks)) and m["mrr"] < 0.2
    assert m["hits_at_10"] == np.mean(ranks <= 10) and m["hits_at_1"] == 0.0
    assert m["auroc_all"] == 0.5 and m["auroc_degree_matched"] == 0.5


def test_kge_early_stopping_uses_the_shared_validation():
    """PyKEEN's stopper, with the shared evaluation as its metric: the restored best weights score
    the stopper's best validation MRR; a first target without validation edges means no stopper."""
    from targetkg.models.linkpred.kge import train_kge
    from targetkg.models.linkpred.splits import Split

    tr = _graph(2)
    sp = split(tr, ["TREATS"], mode="random", seed=0)
    params = {"embedding_dim": 8, "batch_size": 64, "es_frequency": 1, "es_patience": 2, "es_delta": 0.0}
    sc, info = train_kge("distmult", tr, sp, epochs=4, seed=0, params=params, evaluate_pykeen=False)
    assert len(info["validation_mrr"]) == info["epochs_run"] >= 3
    vs = Split(sp.train, np.zeros((0, 3), dtype=np.int64), sp.valid, ["TREATS"], sp.mode, sp.seed)
    assert evaluate(sc, tr, vs, "TREATS")["mrr"] == info["best_validation"]
    # validation edges of another relation only
    tr2 = Triples(tr.entities, tr.labels, ["TREATS", "OTHER"], np.concatenate([tr.mapped, sp.valid * [1, 0, 1] + [0, 1, 0]]))
    other = tr2.mapped[tr2.mapped[:, 1] == 1]
    no_valid = Split(sp.train, other, sp.test, ["TREATS"], sp.mode, sp.seed)
    _, info = train_kge("distmult", tr2, no_valid, epochs=2, seed=0, params=params, evaluate_pykeen=False)
    assert "validation_mrr" not in info and info["epochs_run"] == 2
