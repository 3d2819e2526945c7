"""An in-memory gene × pathway (and gene × disease) index for the API's pathway evidence.

Why: "genes that share a pathway with the disease genes" expands every member of every pathway
of every disease gene; in Cypher that is 1.5–2.5 s per disease on the full warehouse (Hetionet +
Reactome + Pathway Commons), in a sparse matrix it is a few milliseconds. The index is loaded
once through the query layer (one read of the PARTICIPATES_IN edges) and rebuilt when the
graph's fingerprint changes (release, Source load times, number of PARTICIPATES_IN edges).

The same holds for drug → target → pathway → disease hypotheses (`queries.DRUG_PATHWAY`,
0.5–2 s per drug in Cypher). The arithmetic reproduces those two queries (the references,
which the tests compare against); for /targets: for a gene g and a pathway p whose size is within bounds,
    w(g, p) = |disease genes in p other than g| / |genes in p|,   raw(g) = Σ_p w(g, p).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp


@dataclass
class PathwayIndex:
    fingerprint: Any
    gene_ids: list[str]
    gene_names: list[str | None]
    pathway_ids: list[str]
    pathway_names: list[str | None]
    members: sp.csr_matrix  # pathways × genes, 1.0 where the gene participates in the pathway
    sizes: np.ndarray  # distinct genes per pathway
    disease_ids: list[str] = ()  # diseases with associated genes (GENE_ASSOCIATED_WITH_CONDITION)
    disease_names: list[str | None] = ()
    associated: sp.csr_matrix | None = None  # genes × diseases, 1.0 where the gene is associated

    @staticmethod
    def _binary(groups: list[list[str]], pos: dict[str, int], n_cols: int) -> sp.csr_matrix:
        indptr, indices = [0], []
        for members in groups:
            indices.extend(sorted({pos[g] for g in members if g in pos}))
            indptr.append(len(indices))
        return sp.csr_matrix((np.ones(len(indices), dtype=np.float64), np.asarray(indices, dtype=np.int64),
                              np.asarray(indptr, dtype=np.int64)), shape=(len(groups), n_cols))

    @classmethod
    def from_rows(cls, fingerprint: Any, pathways: list[dict], genes: list[dict],
                  associations: list[dict] | None = None) -> PathwayIndex:
        gene_ids = [g["id"] for g in genes]
        gpos = {g: i for i, g in enumerate(gene_ids)}
        members = cls._binary([p["genes"] for p in pathways], gpos, len(gene_ids))
        associations = associations or []
        associated = cls._binary([d["genes"] for d in associations], gpos, len(gene_ids)).T.tocsr()
        return cls(fingerprint, gene_ids, [g.get("name") for g in genes], [p["id"] for p in pathways],
                   [p.get("name") for p in pathways], members, np.diff(members.indptr).astype(np.float64),
                   [d["id"] for d in associations], [d.get("name") for d in associations], associated)

    def __post_init__(self) -> None:
        self.gene_position = {g: i for i, g in enumerate(self.gene_ids)}
        self.members.sort_indices()
        self._members_t = self.members.T.tocsr()  # genes × pathways
        self._ids_sorted = all(x <= y for x, y in zip(self.gene_ids, self.gene_ids[1:]))  # as PATHWAY_GENES returns them
        self._states: dict[tuple, tuple] = {}  # recent disease states: the ranking and its page's paths share one
        self._states_lock = threading.Lock()  # worker threads compute rankings concurrently

    def drug_pathway_diseases(self, targets: list[str], min_size: int = 5, max_size: int = 300,
                              paths_per_disease: int = 5) -> list[dict]:
        """Rows shaped like `queries.DRUG_PATHWAY` (without `known`): disease, disease_name, raw, paths.
        For every (target t, pathway p ∋ t) with p's size within bounds and every disease d:
            w(t, p, d) = |genes of p associated with d| / |genes in p|,   raw(d) = Σ w(t, p, d)."""
        if self.associated is None or not len(self.disease_ids):
            return []
        pos = self.gene_position
        t = np.zeros(len(self.gene_ids))
        t[[pos[g] for g in set(targets) if g in pos]] = 1.0
        per_pathway = self.members @ t  # drug targets in each pathway = number of (t, p) pairs
        live = (self.sizes >= min_size) & (self.sizes <= max_size) & (per_pathway > 0)
        if not live.any():
            return []
        weight = np.where(live, per_pathway / np.maximum(self.sizes, 1.0), 0.0)
        raw = self.associated.T @ (self._members_t @ weight)  # Σ_p pairs_p · |p ∩ genes(d)| / size_p
        diseases = np.flatnonzero(raw > 1e-12)
        if not len(diseases):
            return []
        live_p = np.flatnonzero(live)
        sub = self.members[live_p]  # live pathways × genes
        hits = (sub @ self.associated[:, diseases]).toarray()  # live pathways × diseases: disease genes in p
        assoc_csc = self.associated.tocsc()
        t_idx = np.flatnonzero(t)
        out = []
        for j, d in enumerate(diseases.tolist()):
            w = hits[:, j] / self.sizes[live_p]
            cand = np.flatnonzero(w > 0)
            # each (target, pathway) pair is one path; best pathways first, then pathway, target order
            pairs = []
            for k in cand[np.lexsort((cand, -w[cand]))]:
                p = live_p[k]
                row = self.members.indices[self.members.indptr[p]:self.members.indptr[p + 1]]
                for tg in np.intersect1d(row, t_idx).tolist():
                    pairs.append((p, tg, float(w[k])))
                if len(pairs) >= paths_per_disease:
                    break
            d_genes = set(assoc_csc.indices[assoc_csc.indptr[d]:assoc_csc.indptr[d + 1]].tolist())
            paths = []
            for p, tg, wt in pairs[:paths_per_disease]:
                row = self.members.indices[self.members.indptr[p]:self.members.indptr[p + 1]]
                names = sorted({self.gene_names[g] or self.gene_ids[g] for g in row.tolist() if g in d_genes})
                paths.append({"target": self.gene_ids[tg], "symbol": self.gene_names[tg], "pathway": self.pathway_ids[p],
                              "pathway_name": self.pathway_names[p], "size": int(self.sizes[p]),
                              "disease_genes": names[:3], "weight": wt})
            out.append({"disease": self.disease_ids[d], "disease_name": self.disease_names[d], "raw": float(raw[d]),
                        "paths": paths})
        return out

    def _disease_state(self, disease_genes: list[str], min_size: int, max_size: int):
        key = (tuple(sorted(set(disease_genes))), min_size, max_size)
        state = self._states.get(key)
        if state is None:
            pos = self.gene_position
            a = np.zeros(len(self.gene_ids))
            a[[pos[g] for g in key[0] if g in pos]] = 1.0
            hits = self.members @ a  # disease genes per pathway
            live = (self.sizes >= min_size) & (self.sizes <= max_size) & (hits > 0)
            state = (a, hits, live)
            with self._states_lock:
                if len(self._states) >= 64:
                    self._states.pop(next(iter(self._states)), None)
                self._states[key] = state
        return state

    def shared_pathway_genes(self, disease_genes: list[str], min_size: int = 5, max_size: int = 300,
                             limit: int = 1000, paths_per_gene: int = 3, with_paths: bool = True) -> list[dict]:
        """Rows shaped like `queries.DISEASE_PATHWAY_GENES`: gene, symbol, raw, paths (best first).
        with_paths=False leaves `paths` None (get them for a page with `pathway_paths`)."""
        a, hits, live = self._disease_state(disease_genes, min_size, max_size)
        if not a.any():
            return []
        inv = np.where(live, 1.0 / np.maximum(self.sizes, 1.0), 0.0)
        # Σ_p M[p,g]·hits_p/size_p, minus the gene's own contribution when it is a disease gene itself
        raw = self._members_t @ (hits * inv) - a * (self._members_t @ inv)
        raw[np.abs(raw) < 1e-12] = 0.0
        cand = np.flatnonzero(raw > 0)
        top = cand[np.lexsort((cand, -raw[cand]))][:limit]
        paths = self._paths(a, hits, live, top, paths_per_gene) if with_paths else {}
        return [{"gene": self.gene_ids[g], "symbol": self.gene_names[g], "raw": float(raw[g]),
                 "paths": paths.get(g, []) if with_paths else None} for g in top.tolist()]

    def pathway_paths(self, disease_genes: list[str], genes: list[str], min_size: int = 5, max_size: int = 300,
                      paths_per_gene: int = 3) -> dict[str, list[dict]]:
        """The best pathways linking each of `genes` to the disease genes (gene id -> paths)."""
        a, hits, live = self._disease_state(disease_genes, min_size, max_size)
        idx = np.asarray([self.gene_position[g] for g in genes if g in self.gene_position], dtype=np.int64)
        if not a.any() or not len(idx):
            return {}
        return {self.gene_ids[g]: v for g, v in self._paths(a, hits, live, idx, paths_per_gene).items()}

    def _paths(self, a, hits, live, genes: np.ndarray, paths_per_gene: int) -> dict[int, list[dict]]:
        """All (pathway, gene) entries of the chosen genes at once, sorted by gene, -weight, pathway."""
        if not len(genes):
            return {}
        mt = self._members_t  # only the chosen genes' pathway memberships (rows of genes × pathways)
        r, c = _rows_of(mt, genes)
        sel = live[r]
        r, c = r[sel], c[sel]
        w = (hits[r] - a[c]) / self.sizes[r]
        pos_w = w > 0
        r, c, w = r[pos_w], c[pos_w], w[pos_w]
        if not len(r):
            return {}
        order = np.lexsort((r, -w, c))
        r, c, w = r[order], c[order], w[order]
        keep = _rank_in_runs(c) < paths_per_gene
        r, c, w = r[keep], c[keep], w[keep]
        # the disease genes of each pathway on a path, in one pass over those pathways' members;
        # the first 4 by id are enough: a path names 3 besides its own gene
        inside, p_of = _rows_of(self.members, np.unique(r))
        disease = a[inside] > 0
        inside, p_of = inside[disease], p_of[disease]
        if self._ids_sorted:  # member positions are sorted within a pathway, and positions follow ids
            keep = _rank_in_runs(p_of) < 4
            inside, p_of = inside[keep], p_of[keep]
        disease_members: dict[int, list[str]] = {}
        for p, i in zip(p_of.tolist(), inside.tolist()):
            disease_members.setdefault(p, []).append(self.gene_ids[i])
        if not self._ids_sorted:
            disease_members = {p: sorted(ids)[:4] for p, ids in disease_members.items()}
        paths: dict[int, list[dict]] = {}
        for p, g, wt, size in zip(r.tolist(), c.tolist(), w.tolist(), self.sizes[r].astype(np.int64).tolist()):
            gid = self.gene_ids[g]
            paths.setdefault(g, []).append({"pathway": self.pathway_ids[p], "pathway_name": self.pathway_names[p],
                                            "size": size, "via": [x for x in disease_members[p] if x != gid][:3], "weight": wt})
        return paths


def _rows_of(m: sp.csr_matrix, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(column, row) of every stored entry of the given rows of a CSR matrix, row by row."""
    starts, lens = m.indptr[rows], m.indptr[rows + 1] - m.indptr[rows]
    ends = np.cumsum(lens)
    flat = np.arange(ends[-1] if len(ends) else 0) + np.repeat(starts - (ends - lens), lens)
    return m.indices[flat].astype(np.int64), np.repeat(rows, lens)


def _rank_in_runs(keys: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each run of equal consecutive keys."""
    cut = np.flatnonzero(keys[1:] != keys[:-1]) + 1
    starts = np.concatenate(([0], cut))
    return np.arange(len(keys)) - np.repeat(starts, np.diff(np.append(starts, len(keys))))


class IndexHolder:
    """One index per process, rebuilt when the graph fingerprint changes (checked at most every `check_s`)."""

    def __init__(self, check_s: float = 30.0):
        self.check_s, self.lock, self.index, self.checked_at = check_s, threading.Lock(), None, -1e18

    def get(self, drv, database: str) -> PathwayIndex:
        import time

        from targetkg.service import queries

        with self.lock:
            now = time.monotonic()
            if self.index is not None and now - self.checked_at < self.check_s:
                return self.index
            fp = queries.pathway_fingerprint(drv, database)
            if self.index is None or self.index.fingerprint != fp:
                pathways, genes, associations = queries.pathway_membership(drv, database)
                self.index = PathwayIndex.from_rows(fp, pathways, genes, associations)
                # The index lives until the graph changes: keep its objects out of the cyclic
                # GC's full collections, which otherwise traverse them under load (p99 spikes).
                import gc

                gc.freeze()
            self.checked_at = now
            return self.index

    def recheck(self) -> None:
        """Compare the fingerprint again on the next `get` (the API calls this when it sees the graph
        change, so answers it materialises after a load never come from the index of before)."""
        with self.lock:
            self.checked_at = -1e18


holder = IndexHolder()
