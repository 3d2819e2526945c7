"""Baselines that every evaluation reports beside the learned models.

- :class:`DegreeScorer`: a degree-only prior. score(h, t) = log(1 + deg_r(h)) + log(1 + deg_r(t))
  with the training degree in the target relation r, plus a small tie-break on the total degree.
- :class:`PathCountScorer`: Rephetio-style metapath features. Degree-weighted path counts
  (DWPC, damping w = 0.4) for every metapath of length 2..``max_length`` from the subject label
  to the object label in the *training* graph, combined by a logistic regression fitted on the
  training edges of r against sampled non-edges. The target relation only appears in length-2
  metapaths (a walk c-r-d-x-d that backtracks over the edge itself would leak the label).
  ``explain`` returns the top paths of a pair with their contribution to the score.

Every scorer implements ``score_block(rel, heads, tails) -> (len(heads), len(tails))`` float32.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from targetkg.graph.export import Triples


class Scorer:
    name = "scorer"

    def score_block(self, rel: int, heads: np.ndarray, tails: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def no_evidence_score(self, rel: int) -> float | None:
        """The score of a pair the model has no evidence about (None: every pair has some)."""
        return None

    def score_pairs(self, rel: int, heads: np.ndarray, tails: np.ndarray, batch: int = 4096) -> np.ndarray:
        """Scores of individual (head, tail) pairs (via blocks over unique heads)."""
        out = np.empty(len(heads), dtype=np.float32)
        uh, inv = np.unique(heads, return_inverse=True)
        ut, tinv = np.unique(tails, return_inverse=True)
        for s in range(0, len(uh), 256):
            blk = self.score_block(rel, uh[s:s + 256], ut)
            m = (inv >= s) & (inv < s + 256)
            out[m] = blk[inv[m] - s, tinv[m]]
        return out


def _degrees(n: int, rows: np.ndarray):
    d_all = np.bincount(rows[:, 0], minlength=n) + np.bincount(rows[:, 2], minlength=n)
    return d_all.astype(np.float64)


class DegreeScorer(Scorer):
    name = "degree"

    def __init__(self, tr: Triples, train: np.ndarray):
        n = tr.num_entities
        self.deg_all = np.log1p(_degrees(n, train))
        self.deg_rel = {}
        for rid in range(tr.num_relations):
            rows = train[train[:, 1] == rid]
            self.deg_rel[rid] = (np.log1p(np.bincount(rows[:, 0], minlength=n)),
                                 np.log1p(np.bincount(rows[:, 2], minlength=n)))

    def score_block(self, rel, heads, tails):
        dh, dt = self.deg_rel[rel]
        h = dh[heads] + 0.01 * self.deg_all[heads]
        t = dt[tails] + 0.01 * self.deg_all[tails]
        return (h[:, None] + t[None, :]).astype(np.float32)


# --- path counts --------------------------------------------------------------------------
class _MetaEdge:
    """One (label, relation, label) edge type in one direction, degree-weighted."""

    def __init__(self, src_label, rel_name, dst_label, forward, A: sp.csr_matrix, w: float):
        self.src_label, self.rel_name, self.dst_label, self.forward = src_label, rel_name, dst_label, forward
        self.A = A  # 0/1 adjacency src -> dst (global indices), csr
        dout = np.asarray(A.sum(axis=1)).ravel()
        din = np.asarray(A.sum(axis=0)).ravel()
        with np.errstate(divide="ignore"):
            a = np.where(dout > 0, dout ** -w, 0.0)
            b = np.where(din > 0, din ** -w, 0.0)
        self.W = (sp.diags(a) @ A @ sp.diags(b)).tocsr().astype(np.float64)

    def csc(self) -> sp.csc_matrix:
        if getattr(self, "_csc", None) is None:
            self._csc = self.W.tocsc()
        return self._csc

    def abbrev(self) -> str:
        arrow = "->" if self.forward else "<-"
        return f"{self.src_label}-{self.rel_name}{arrow}{self.dst_label}"


class PathCountScorer(Scorer):
    name = "pathcount"

    def __init__(self, tr: Triples, train: np.ndarray, targets: list[str], max_length: int = 3,
                 w: float = 0.4, seed: int = 0, max_metapaths: int = 60, neg_ratio: int = 5):
        self.tr = tr
        self.w = w
        n = tr.num_entities
        lab = tr.label_array()
        self.entity_labels = lab
        hl, tl = lab[train[:, 0]], lab[train[:, 2]]
        self.edges: list[_MetaEdge] = []
        for key in sorted({(a, int(r), b) for a, r, b in zip(hl, train[:, 1], tl)}):
            a, r, b = key
            m = (hl == a) & (tl == b) & (train[:, 1] == r)
            rows = train[m]
            A = sp.csr_matrix((np.ones(len(rows)), (rows[:, 0], rows[:, 2])), shape=(n, n))
            A.data[:] = 1.0
            self.edges.append(_MetaEdge(a, tr.relations[r], b, True, A, w))
            if a != b or True:
                self.edges.append(_MetaEdge(b, tr.relations[r], a, False, A.T.tocsr(), w))
        self.models: dict[int, dict] = {}
        rng = np.random.default_rng(seed)
        for target in targets:
            rid = tr.relation_id(target)
            rows = train[train[:, 1] == rid]
            if len(rows) == 0:
                continue
            s_label, o_label = lab[rows[0, 0]], lab[rows[0, 2]]
            mps = self._metapaths(s_label, o_label, target, max_length)[:max_metapaths]
            heads = np.flatnonzero(lab == s_label)
            tails = np.flatnonzero(lab == o_label)
            model = {"metapaths": mps, "heads": heads, "tails": tails}
            self.models[rid] = model
            # Fit: training positives vs sampled non-edges of the same label pair.
            pos = rows[:, [0, 2]]
            known = set(map(tuple, pos.tolist()))
            neg = []
            while len(neg) < neg_ratio * len(pos):
                h = rng.choice(heads, 4 * len(pos))
                t = rng.choice(tails, 4 * len(pos))
                neg.extend((a, b) for a, b in zip(h.tolist(), t.tolist()) if (a, b) not in known)
            neg = np.asarray(neg[: neg_ratio * len(pos)])
            X_raw = self._features(mps, np.concatenate([pos[:, 0], neg[:, 0]]), np.concatenate([pos[:, 1], neg[:, 1]]))
            scale = X_raw.mean(axis=0)
            scale[scale == 0] = 1.0
            model["scale"] = scale
            X = np.log1p(X_raw / scale)
            y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
            from sklearn.linear_model import LogisticRegression

            lr = LogisticRegression(C=1.0, max_iter=2000)
            lr.fit(X, y)
            model["coef"] = lr.coef_.ravel()
            model["intercept"] = float(lr.intercept_[0])

    # -- metapaths --
    def _metapaths(self, s_label, o_label, target, max_length):
        out = []

        def rec(label, path):
            if path and label == o_label and len(path) >= 2:
                out.append(list(path))
            if len(path) == max_length:
                return
            for i, e in enumerate(self.edges):
                if e.src_label != label:
                    continue
                if e.rel_name == target and max_length > 2 and len(path) >= 0 and self._too_long_with_target(path, e, max_length):
                    continue
                rec(e.dst_label, path + [i])

        rec(s_label, [])
        # target relation only in length-2 metapaths
        out = [p for p in out if len(p) == 2 or all(self.edges[i].rel_name != target for i in p)]
        out = [p for p in out if not (len(p) == 2 and all(self.edges[i].rel_name == target for i in p))]
        return sorted(out, key=lambda p: (len(p), [self.edges[i].abbrev() for i in p]))

    @staticmethod
    def _too_long_with_target(path, e, max_length):
        return len(path) >= 2

    def metapath_names(self, rel: int) -> list[str]:
        return [" / ".join(self.edges[i].abbrev() for i in p) for p in self.models[rel]["metapaths"]]

    def _dwpc_block(self, mp, heads, tails) -> np.ndarray:
        M = self.edges[mp[0]].W[heads]
        for i in mp[1:-1]:
            M = M @ self.edges[i].W
        last = self.edges[mp[-1]].W[:, tails]
        M = M @ last
        return M.toarray() if sp.issparse(M) else np.asarray(M)

    def _features(self, mps, heads, tails) -> np.ndarray:
        # pairs: compute per unique head block
        X = np.zeros((len(heads), len(mps)))
        uh, inv = np.unique(heads, return_inverse=True)
        ut, tinv = np.unique(tails, return_inverse=True)
        for s in range(0, len(uh), 512):
            m = (inv >= s) & (inv < s + 512)
            for j, mp in enumerate(mps):
                blk = self._dwpc_block(mp, uh[s:s + 512], ut)
                X[m, j] = blk[inv[m] - s, tinv[m]]
        return X

    def no_evidence_score(self, rel: int) -> float | None:
        """No path of any metapath joins the pair: the score is the intercept (as float32, like
        `score_block`), and its rank among such pairs is arbitrary."""
        return float(np.float32(self.models[rel]["intercept"]))

    def score_block(self, rel, heads, tails):
        model = self.models[rel]
        out = np.full((len(heads), len(tails)), model["intercept"])
        for j, mp in enumerate(model["metapaths"]):
            if model["coef"][j] == 0:
                continue
            out += model["coef"][j] * np.log1p(self._dwpc_block(mp, heads, tails) / model["scale"][j])
        return out.astype(np.float32)

    # -- explanations --
    def _backward(self, es: list, tail: int) -> tuple[list, list]:
        """Per step k of a metapath, for every node v: the summed weight of the paths from v to
        ``tail`` along steps k.. (``back``; back[0][head] is the pair's DWPC) and the weight of the
        best single one (``best``, a max-product pass), which bounds any partial path through v."""
        last = es[-1].csc()  # a CSR column slice scans the whole matrix
        v = np.zeros(last.shape[0])
        lo, hi = last.indptr[tail], last.indptr[tail + 1]
        v[last.indices[lo:hi]] = last.data[lo:hi]
        back, best = [None] * len(es), [None] * len(es)
        back[-1] = best[-1] = v
        for k in range(len(es) - 2, -1, -1):
            W = es[k].W
            back[k] = W @ back[k + 1]
            prod = W.data * best[k + 1][W.indices]
            rows = np.flatnonzero(np.diff(W.indptr))
            b = np.zeros(W.shape[0])
            if len(rows):
                b[rows] = np.maximum.reduceat(prod, W.indptr[rows])
            best[k] = b
        return back, best

    def explain(self, rel: int, head: int, tail: int, top: int = 5) -> list[dict]:
        """Top supporting paths of one pair (see :meth:`explain_many`)."""
        return self.explain_many(rel, np.asarray([head]), tail, top=top)[0]

    def explain_many(self, rel: int, heads, tail: int, top: int = 5, max_frontier: int = 2_000_000) -> list[list[dict]]:
        """The ``top`` supporting paths of each pair (head, ``tail``): nodes (entity indices),
        relation names and directions, and contribution = the metapath's term in the score, shared
        among its paths in proportion to their degree-weighted path weight. Paths are walks, as the
        score counts them (a matrix product), so the contributions of all of a metapath's paths sum
        to its term; a walk may pass the tail itself (drug -ameliorates-> the disease -similar->
        another -similar-> the disease: the score rests on the drug already palliating it).
        All heads of one tail are walked together, step by step, keeping for each head the
        ``top`` partial paths with the best completion (``_backward``'s max-product pass, an exact
        bound): the result is the true top, not a sample of the paths."""
        model = self.models[rel]
        heads = np.asarray(heads, dtype=np.int64)
        per_mp = []  # (metapath index, pair, contribution, nodes) of each metapath's top paths
        for j, mp in enumerate(model["metapaths"]):
            coef = model["coef"][j]
            if coef <= 0:
                continue
            es = [self.edges[i] for i in mp]
            back, best = self._backward(es, tail)
            total = back[0][heads]
            live = np.flatnonzero(total > 0)
            if not len(live):
                continue
            term = coef * np.log1p(total / model["scale"][j])
            pair, w, nodes = self._walk(es, best, heads, live, tail, top, max_frontier)
            per_mp.append((j, pair, term[pair] * w / total[pair], nodes))
        found: list[list[dict]] = [[] for _ in heads]
        if not per_mp:
            return found
        # the overall top per pair, across metapaths, before any dict is built
        pair = np.concatenate([p for _, p, _, _ in per_mp])
        share = np.concatenate([c for _, _, c, _ in per_mp])
        which = np.concatenate([np.full(len(p), m) for m, (_, p, _, _) in enumerate(per_mp)])
        row = np.concatenate([np.arange(len(p)) for _, p, _, _ in per_mp])
        order = np.lexsort((-share, pair))
        pair, share, which, row = pair[order], share[order], which[order], row[order]
        keep = (np.arange(len(pair)) - np.searchsorted(pair, pair, side="left")) < top
        names = {}
        for p, c, m, r in zip(pair[keep].tolist(), share[keep].tolist(), which[keep].tolist(), row[keep].tolist()):
            j, _, _, nodes = per_mp[m]
            if j not in names:
                es = [self.edges[i] for i in model["metapaths"][j]]
                names[j] = (" / ".join(e.abbrev() for e in es), [e.rel_name for e in es], [e.forward for e in es])
            name, relations, forward = names[j]
            found[p].append({"metapath": name, "nodes": nodes[r].tolist(), "relations": relations,
                             "forward": forward, "contribution": float(c)})
        return found

    @staticmethod
    def _walk(es, best, heads, pairs, tail, keep_n, max_frontier):
        """Expand the partial paths of ``pairs`` (indices into ``heads``) along the metapath,
        pruned per pair to the ``keep_n`` best bounds; the complete paths: (pair, weight, nodes),
        at most ``keep_n`` per pair. A step expands its frontier in slices of at most about
        ``max_frontier`` neighbours, so a hub (a side effect of a thousand drugs) stays cheap."""
        pair, w, nodes = pairs, np.ones(len(pairs)), heads[pairs][:, None]
        for k, e in enumerate(es):
            W = e.W
            final = k == len(es) - 1
            starts = W.indptr[nodes[:, -1]]
            cnt = W.indptr[nodes[:, -1] + 1] - starts
            ends = np.cumsum(cnt)
            cuts = [0] + np.searchsorted(ends, np.arange(max_frontier, int(ends[-1]) if len(ends) else 0,
                                                        max_frontier), side="right").tolist() + [len(cnt)]
            parts = []
            for lo, hi in zip(cuts[:-1], cuts[1:]):
                if hi <= lo:
                    continue
                c = cnt[lo:hi]
                src = lo + np.repeat(np.arange(hi - lo), c)
                pos = starts[src] + np.arange(int(c.sum())) - np.repeat(np.cumsum(c) - c, c)
                nxt = W.indices[pos]
                ok = (nxt == tail) if final else (best[k + 1][nxt] > 0)
                parts.append((src[ok], nxt[ok], w[src[ok]] * W.data[pos[ok]]))
            src = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
            nxt = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
            w = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0)
            pair, nodes = pair[src], np.column_stack([nodes[src], nxt])
            bound = w if final else w * best[k + 1][nxt]
            order = np.lexsort((-bound, pair))
            pair, w, nodes = pair[order], w[order], nodes[order]
            rank = np.arange(len(pair)) - np.searchsorted(pair, pair, side="left")
            keep = rank < keep_n
            pair, w, nodes = pair[keep], w[keep], nodes[keep]
        return pair, w, nodes
