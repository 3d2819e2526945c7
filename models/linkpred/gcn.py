"""A kGCN-style link predictor in torch-geometric: a relational GCN encoder (R-GCN with basis
decomposition over all relation types and their inverses, learnable node embeddings as input,
optional node features) and a DistMult decoder, trained full-graph with sampled negatives
(tails corrupted within the object's label) and a binary cross-entropy loss.

Messages only flow over *training* edges; each epoch takes every target-relation training edge
plus a random sample of the other edges as positives.
"""

from __future__ import annotations

import time

import numpy as np

DEFAULTS = {"dim": 64, "layers": 2, "bases": 8, "lr": 0.01, "num_negs": 4, "edges_per_epoch": 50000,
            "dropout": 0.1, "target_weight": 5.0}


def _model_cls():
    import torch
    from torch import nn
    from torch_geometric.nn import RGCNConv

    class RGCNDistMult(nn.Module):
        def __init__(self, n, n_rel, dim, layers, bases, dropout, features=None):
            super().__init__()
            self.emb = nn.Embedding(n, dim)
            nn.init.xavier_uniform_(self.emb.weight)
            self.feat = None
            if features is not None:
                self.register_buffer("features", torch.as_tensor(features, dtype=torch.float))
                self.feat = nn.Linear(self.features.shape[1], dim)
            self.convs = nn.ModuleList(
                [RGCNConv(dim, dim, 2 * n_rel, num_bases=min(bases, 2 * n_rel)) for _ in range(layers)])
            self.rel = nn.Parameter(torch.ones(n_rel, dim) + 0.1 * torch.randn(n_rel, dim))
            self.dropout = dropout

        def encode(self, edge_index, edge_type):
            x = self.emb.weight
            if self.feat is not None:
                x = x + self.feat(self.features)
            for i, conv in enumerate(self.convs):
                h = conv(x, edge_index, edge_type)
                if i < len(self.convs) - 1:
                    h = torch.relu(h)
                    h = nn.functional.dropout(h, self.dropout, self.training)
                x = h + x  # residual keeps the node's own embedding
            return x

        def decode(self, z, h, r, t):
            return (z[h] * self.rel[r] * z[t]).sum(-1)

    return RGCNDistMult


def train_gcn(tr, split, epochs: int, seed: int, params: dict | None = None, targets=("TREATS",),
              features=None):
    import torch

    p = {**DEFAULTS, **{k: v for k, v in (params or {}).items() if k in DEFAULTS}}
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    train = split.train
    n, n_rel = tr.num_entities, tr.num_relations
    src = np.concatenate([train[:, 0], train[:, 2]])
    dst = np.concatenate([train[:, 2], train[:, 0]])
    et = np.concatenate([train[:, 1], train[:, 1] + n_rel])
    edge_index = torch.as_tensor(np.stack([src, dst]), dtype=torch.long)
    edge_type = torch.as_tensor(et, dtype=torch.long)
    model = _model_cls()(n, n_rel, int(p["dim"]), int(p["layers"]), int(p["bases"]), float(p["dropout"]), features)
    opt = torch.optim.Adam(model.parameters(), lr=float(p["lr"]))
    lab = tr.label_array()
    by_label = {l: np.flatnonzero(lab == l) for l in set(tr.labels)}
    tids = [tr.relation_id(t) for t in targets]
    is_t = np.isin(train[:, 1], tids)
    tgt_rows, other_rows = train[is_t], train[~is_t]
    losses, times = [], []
    for ep in range(int(epochs)):
        t0 = time.time()
        model.train()
        k = min(len(other_rows), int(p["edges_per_epoch"]))
        pos = np.concatenate([tgt_rows, other_rows[rng.choice(len(other_rows), k, replace=False)]])
        w_pos = np.concatenate([np.full(len(tgt_rows), float(p["target_weight"])), np.ones(k)])
        nn_ = int(p["num_negs"])
        neg = np.repeat(pos, nn_, axis=0)
        tl = lab[neg[:, 2]]
        for l in np.unique(tl):
            m = tl == l
            neg[m, 2] = rng.choice(by_label[l], int(m.sum()))
        z = model.encode(edge_index, edge_type)
        P = torch.as_tensor(pos, dtype=torch.long)
        N = torch.as_tensor(neg, dtype=torch.long)
        sp = model.decode(z, P[:, 0], P[:, 1], P[:, 2])
        sn = model.decode(z, N[:, 0], N[:, 1], N[:, 2])
        bce = torch.nn.functional.binary_cross_entropy_with_logits
        wp = torch.as_tensor(w_pos, dtype=torch.float)
        loss = (bce(sp, torch.ones_like(sp), weight=wp, reduction="sum")
                + bce(sn, torch.zeros_like(sn), weight=wp.repeat_interleave(nn_), reduction="sum") / nn_) / wp.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        times.append(time.time() - t0)
    model.eval()
    with torch.no_grad():
        z = model.encode(edge_index, edge_type)
    sc = GCNScorer(z.numpy().astype(np.float32), model.rel.detach().numpy().astype(np.float32))
    return sc, {"train_s": float(sum(times)), "epoch_s": float(np.mean(times)) if times else 0.0,
                "losses": losses, "params": p}


class GCNScorer:
    """Scores with the trained encoder's final node embeddings (numpy; picklable)."""

    name = "gcn"

    def __init__(self, z: np.ndarray, rel: np.ndarray):
        self.z = z
        self.rel = rel

    def score_block(self, rel, heads, tails):
        return (self.z[heads] * self.rel[rel]) @ self.z[tails].T

    def score_pairs(self, rel, heads, tails):
        return np.einsum("ij,j,ij->i", self.z[heads], self.rel[rel], self.z[tails]).astype(np.float32)
