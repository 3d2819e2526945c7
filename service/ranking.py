"""Scoring: merge the evidence components into one ranked list (pure Python, tested directly)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# Weights of the component scores in the combined score (a weighted mean over the selected components).
WEIGHTS = {"association": 0.4, "drug": 0.3, "pathway": 0.2, "predicted": 0.1}
COMPONENTS = tuple(WEIGHTS)
MAX_PATHS = 5  # evidence paths per ranked target


def saturate(x: float, scale: float = 1.0) -> float:
    """Map a non-negative evidence mass to [0, 1)."""
    return 1.0 - math.exp(-max(x, 0.0) / scale)


def rank_targets(disease: dict, comps: dict[str, Any], sources: list[str] | None = None,
                 paths: bool = True) -> list[dict[str, Any]]:
    """Merge the evidence components into one ranked list. With paths=False the evidence paths are
    left out (`attach_paths` adds them to the page a caller returns: building them for thousands of
    candidates costs more than the scoring). Plain lists in the hot loop: this runs per request."""
    sources = [s for s in (sources or COMPONENTS) if s in WEIGHTS]
    context = {"disease": disease, "sources": sources, "pathway_paths": comps.get("pathway_paths")}
    # gene -> [symbol, association, drug, pathway, predicted, rows by component]; one loop per
    # component (no per-row branching): the pathway component alone has up to 1,000 rows.
    cand: dict[str, list] = {}
    get, exp = cand.get, math.exp
    for kind in sources:
        for r in comps.get(kind, ()):
            g = r["gene"]
            c = get(g)
            if c is None:
                c = cand[g] = [r.get("symbol"), 0.0, 0.0, 0.0, 0.0, {}]
            c[5][kind] = r
        if kind == "association":
            for r in comps.get(kind, ()):
                cand[r["gene"]][1] = 1.0
        elif kind == "drug":
            for r in comps.get(kind, ()):
                cand[r["gene"]][2] = 1.0 - 0.5 ** len(r["drugs"])
        elif kind == "pathway":
            for r in comps.get(kind, ()):
                cand[r["gene"]][3] = 1.0 - exp(-max(r["raw"], 0.0) / 3.0)  # saturate(raw, 3)
        else:
            for r in comps.get(kind, ()):
                cand[r["gene"]][4] = float(r["score"] or 0.0)
    w1, w2, w3, w4 = (WEIGHTS[k] if k in sources else 0.0 for k in COMPONENTS)
    total_w = sum(WEIGHTS[s] for s in sources) or 1.0
    keyed = [(-round((w1 * c[1] + w2 * c[2] + w3 * c[3] + w4 * c[4]) / total_w, 6), c[0] or gene, gene, c)
             for gene, c in cand.items()]
    keyed.sort(key=lambda k: k[:3])
    out = [{"gene": gene, "symbol": c[0], "components": {"association": c[1], "drug": c[2], "pathway": c[3], "predicted": c[4]},
            "score": -neg, "known": c[1] > 0 or c[2] > 0, "rank": rank, "_rows": c[5], "_context": context}
           for rank, (neg, _, gene, c) in enumerate(keyed, 1)]
    return attach_paths(out) if paths else out


class RankedTargets:
    """The ranking of `rank_targets` (same genes, order, scores, ranks and paths) with the target
    dicts built only for the page a request returns: /targets needs every candidate's score for its
    filters and total, but a page of ~50 of the ~1,000. Scores, known flags and the order by score
    are numpy arrays; names (the tie-break) are compared only in the runs of tied scores the page
    touches. `rank_targets` stays the plain reference the tests compare this with."""

    def __init__(self, disease: dict, comps: dict[str, Any], sources: list[str] | None = None):
        sources = [s for s in (sources or COMPONENTS) if s in WEIGHTS]
        self.disease, self._pathway_paths = disease, comps.get("pathway_paths")
        self._rows = {kind: comps.get(kind, ()) for kind in dict.fromkeys(sources)}
        pos: dict[str, int] = {}  # gene -> candidate position
        at: dict[str, np.ndarray] = {}  # kind -> candidate position of each row
        for kind in sorted(self._rows, key=lambda k: -len(self._rows[k])):
            ids = [r["gene"] for r in self._rows[kind]]
            if not pos:  # the largest component (pathway: ~1,000 distinct genes) numbers its genes in one go
                pos = dict(zip(ids, range(len(ids))))
                if len(pos) == len(ids):
                    at[kind] = np.arange(len(ids))
                    continue
                pos = {}
            put = pos.setdefault
            at[kind] = np.asarray([put(g, len(pos)) for g in ids], dtype=np.int64)
        n = len(pos)
        self.genes = list(pos)
        self._row_at = {}  # kind -> candidate position -> row number (-1: none)
        vals = {kind: np.zeros(n) for kind in COMPONENTS}
        for kind, rows in self._rows.items():
            i = at[kind]
            self._row_at[kind] = row_at = np.full(n, -1, dtype=np.int64)
            row_at[i] = np.arange(len(i))
            if not len(i):
                continue
            if kind == "association":
                vals[kind][i] = 1.0
            elif kind == "drug":
                vals[kind][i] = [1.0 - 0.5 ** len(r["drugs"]) for r in rows]
            elif kind == "pathway":  # saturate(raw, 3) with math.exp, as rank_targets: numpy's exp may differ in the last bit
                x = (-np.maximum(np.asarray([r["raw"] for r in rows], dtype=np.float64), 0.0) / 3.0).tolist()
                vals[kind][i] = 1.0 - np.fromiter(map(math.exp, x), np.float64, len(x))
            else:
                vals[kind][i] = [float(r["score"] or 0.0) for r in rows]
        w1, w2, w3, w4 = (WEIGHTS[k] if k in sources else 0.0 for k in COMPONENTS)
        total_w = sum(WEIGHTS[s] for s in sources) or 1.0
        a, d, p, q = (vals[k] for k in COMPONENTS)
        self._vals = (a, d, p, q)
        self.score = _round6((w1 * a + w2 * d + w3 * p + w4 * q) / total_w)
        self.known = (a > 0) | (d > 0)
        self._order = np.argsort(-self.score, kind="stable")
        ranked = self.score[self._order]
        cut = np.flatnonzero(ranked[1:] != ranked[:-1]) + 1
        self._runs = np.concatenate(([0], cut)), np.append(cut, n)  # (starts, ends) of the runs of tied scores, in rank order
        self._built: dict[int, dict[str, Any]] = {}  # candidate position -> its target (rank and paths included)
        self._pages: dict[tuple, tuple[int, list[dict[str, Any]]]] = {}  # the last pages asked for

    def page(self, min_score: float = 0.0, include: str = "all", offset: int = 0,
             limit: int = 50) -> tuple[int, list[dict[str, Any]]]:
        """(total, targets): as `attach_paths(filtered(rank_targets(...))[offset:offset + limit])`
        where filtered keeps score >= min_score and include ("all", "known", "novel"), and total
        counts them. A target is built once, for the first page it is on (a materialised ranking
        serves the rest from memory); the targets are shared between pages, read-only."""
        key = (min_score, include, offset, limit)
        if (hit := self._pages.get(key)) is not None:
            return hit
        order, score, known = self._order, self.score, self.known
        keep = score[order] >= min_score
        if include != "all":
            keep &= known[order] == (include == "known")
        kept = np.cumsum(keep)
        total = int(kept[-1]) if len(kept) else 0
        end = min(offset + limit, total)
        targets: list[dict[str, Any]] = []
        if offset < end:
            # rank positions of the page's first and last target, widened to whole runs of tied
            # scores: the runs are in rank order, a run's own order is by name, then gene id
            starts, ends = self._runs
            first, last = int(np.searchsorted(kept, offset + 1)), int(np.searchsorted(kept, end))
            lo = int(starts[np.searchsorted(starts, first, "right") - 1])
            hi = int(ends[np.searchsorted(starts, last, "right") - 1])
            genes, cand = self.genes, order[lo:hi]
            ids = [genes[i] for i in cand.tolist()]
            names = [self._symbol(rs) or g for rs, g in zip(self._candidate_rows(cand), ids)]
            keys = sorted(zip((-score[cand]).tolist(), names, ids, range(len(ids))))
            cand = cand[[k[3] for k in keys]]
            want = score[cand] >= min_score
            if include != "all":
                want &= known[cand] == (include == "known")
            n_before = int(kept[lo - 1]) if lo else 0  # targets kept ahead of the runs
            at = np.flatnonzero(want)[offset - n_before:end - n_before]
            targets = self._targets(cand[at], (lo + 1 + at).tolist())
        if len(self._pages) >= 16:
            self._pages.pop(next(iter(self._pages)), None)
        self._pages[key] = found = (total, targets)
        return found

    def _candidate_rows(self, cand: np.ndarray) -> list[dict[str, dict]]:
        """Each candidate's rows (kind -> row), in the order the components were selected."""
        found = [(self._rows[kind], row_at[cand].tolist()) for kind, row_at in self._row_at.items()]
        return [{kind: rows[at[j]] for kind, (rows, at) in zip(self._row_at, found) if at[j] >= 0} for j in range(len(cand))]

    @staticmethod
    def _symbol(rows: dict[str, dict]) -> str | None:
        """The symbol of the first row naming the candidate (as rank_targets takes it)."""
        return next(iter(rows.values())).get("symbol")

    def _targets(self, cand: np.ndarray, ranks: list[int]) -> list[dict[str, Any]]:
        """The targets of these candidates (at these ranks), building those not built yet."""
        built = self._built
        todo = [j for j, i in enumerate(cand.tolist()) if i not in built]
        if todo:
            new = cand[todo]
            genes, idx, rows = self.genes, new.tolist(), self._candidate_rows(new)
            lazy = [genes[i] for i, rs in zip(idx, rows) if "pathway" in rs and rs["pathway"].get("paths") is None]
            lazy_paths = self._pathway_paths(lazy) if lazy and self._pathway_paths else {}
            disease_node = {"id": self.disease["id"], "name": self.disease.get("name")}
            a, d, p, q = (v[new].tolist() for v in self._vals)
            for j, (i, s, k, rs) in enumerate(zip(idx, self.score[new].tolist(), self.known[new].tolist(), rows)):
                built[i] = {"gene": genes[i], "symbol": self._symbol(rs),
                            "components": {"association": a[j], "drug": d[j], "pathway": p[j], "predicted": q[j]},
                            "score": s, "known": k, "rank": ranks[todo[j]],
                            "paths": _evidence_paths(rs, disease_node, lazy_paths, MAX_PATHS)}
        return [built[i] for i in cand.tolist()]


def _round6(x: np.ndarray) -> np.ndarray:
    """round(v, 6) of each element, exactly as Python rounds a float (half to even on its exact
    binary value): rint(v·1e6)/1e6 is the same but where v·1e6 lies next to a half (or is large),
    and those few take Python's round."""
    y = x * 1e6
    out = np.rint(y) / 1e6
    for i in np.flatnonzero(~(np.abs(y - np.floor(y) - 0.5) > 1e-6) | ~(np.abs(x) < 1e3)).tolist():
        out[i] = round(float(x[i]), 6)
    return out


def attach_paths(targets: list[dict[str, Any]], max_paths: int = MAX_PATHS) -> list[dict[str, Any]]:
    """Copies of ranked targets (from rank_targets) with their top evidence paths, best first. The
    paths are kept on the ranked target (`_paths`), so a materialised ranking builds each once."""
    if not targets:
        return []
    ctx = targets[0]["_context"]
    disease_node = {"id": ctx["disease"]["id"], "name": ctx["disease"].get("name")}
    todo = [t for t in targets if t.get("_paths", (None,))[0] != max_paths]
    lazy = [t["gene"] for t in todo if "pathway" in t["_rows"] and t["_rows"]["pathway"].get("paths") is None]
    lazy_paths = ctx["pathway_paths"](lazy) if lazy and ctx["pathway_paths"] else {}
    for t in todo:
        t["_paths"] = (max_paths, _evidence_paths(t["_rows"], disease_node, lazy_paths, max_paths))
    return [{"gene": t["gene"], "symbol": t["symbol"], "components": dict(t["components"]), "score": t["score"],
             "known": t["known"], "rank": t["rank"], "paths": t["_paths"][1]} for t in targets]


# Relationship lists of the evidence paths: shared by every path of their kind (paths are read-only).
_ASSOCIATION_RELS = ["GENE_ASSOCIATED_WITH_CONDITION"]
_DRUG_RELS = ["DIRECTLY_PHYSICALLY_INTERACTS_WITH (drug→gene)", "TREATS (drug→disease)"]
_PATHWAY_RELS = ["PARTICIPATES_IN", "PARTICIPATES_IN", "GENE_ASSOCIATED_WITH_CONDITION"]


def _evidence_paths(rows: dict[str, dict], disease_node: dict, lazy_paths: dict[str, list[dict]],
                    max_paths: int) -> list[dict[str, Any]]:
    """A target's top evidence paths from its component rows (kind -> row), best first (ties in
    kind order); pathway rows without their own `paths` take them from `lazy_paths` (gene id ->
    index paths). Only the paths kept are built; they share their node dicts (read-only)."""
    found: list[tuple[float, int, dict]] = []  # (weight, kind, its row or its item in the row)
    if (ra := rows.get("association")) is not None:
        found.append((1.0, 0, ra))
    if (rd := rows.get("drug")) is not None:
        found.extend((0.5, 1, dr) for dr in rd["drugs"][:3])
    if (rp := rows.get("pathway")) is not None:
        pw_paths = rp["paths"] if rp.get("paths") is not None else lazy_paths.get(rp["gene"], [])
        found.extend((p["weight"], 2, p) for p in pw_paths[:3])
    if (rq := rows.get("predicted")) is not None:
        found.extend((float(pr.get("score") or 0.0), 3, pr) for pr in rq["predictions"])
    found.sort(key=lambda f: -f[0])
    genes = {}  # kind -> the gene's node, as that component's row names it

    def gene(kind: int, r: dict) -> dict:
        if (node := genes.get(kind)) is None:
            node = genes[kind] = {"id": r["gene"], "name": r["symbol"]}
        return node

    out = []
    for w, kind, x in found[:max_paths]:
        if kind == 0:
            out.append({"kind": "association", "weight": w, "sources": x["sources"], "nodes": [gene(0, x), disease_node],
                        "relationships": _ASSOCIATION_RELS, "note": None})
        elif kind == 1:
            out.append({"kind": "drug", "weight": w, "sources": sorted({x["treats_source"], x["binds_source"]} - {None}),
                        "nodes": [{"id": x["drug"], "name": x["drug_name"]}, gene(1, rd), disease_node],
                        "relationships": _DRUG_RELS, "note": None})
        elif kind == 2:
            out.append({"kind": "pathway", "weight": w, "sources": [],
                        "nodes": [gene(2, rp), {"id": x["pathway"], "name": x["pathway_name"]}, {"id": x["via"][0], "name": None},
                                  disease_node],
                        "relationships": _PATHWAY_RELS, "note": f"{len(x['via'])} disease gene(s) in a pathway of {x['size']} genes"})
        else:
            out.append({"kind": "predicted", "weight": w, "sources": [x.get("model")], "nodes": [gene(3, rq), disease_node],
                        "relationships": [x["type"]], "note": None})
    return out


def rank_drug_hypotheses(drug: dict, comps: dict[str, list[dict]]) -> list[dict[str, Any]]:
    cand: dict[str, dict[str, Any]] = {}

    def get(r):
        c = cand.get(r["disease"])
        if c is None:
            c = cand[r["disease"]] = {"disease": r["disease"], "name": r["disease_name"], "known": bool(r["known"]),
                                      "components": {"target": 0.0, "pathway": 0.0}, "paths": []}
        return c

    for r in comps.get("direct", []):
        c = get(r)
        c["components"]["target"] = 1.0 - 0.5 ** len(r["targets"])
        for t in r["targets"][:3]:
            c["paths"].append({"kind": "target", "weight": 1.0, "sources": [],
                               "nodes": [{"id": drug["id"], "name": drug.get("name")}, {"id": t["target"], "name": t["symbol"]},
                                         {"id": r["disease"], "name": r["disease_name"]}],
                               "relationships": ["DIRECTLY_PHYSICALLY_INTERACTS_WITH", "GENE_ASSOCIATED_WITH_CONDITION"]})
    for r in comps.get("pathway", []):
        c = get(r)
        c["components"]["pathway"] = saturate(r["raw"])
        for p in r["paths"][:5]:
            c["paths"].append({"kind": "pathway", "weight": p["weight"], "sources": [],
                               "nodes": [{"id": drug["id"], "name": drug.get("name")}, {"id": p["target"], "name": p["symbol"]},
                                         {"id": p["pathway"], "name": p["pathway_name"]},
                                         {"id": None, "name": p["disease_genes"][0] if p["disease_genes"] else None},
                                         {"id": r["disease"], "name": r["disease_name"]}],
                               "relationships": ["DIRECTLY_PHYSICALLY_INTERACTS_WITH", "PARTICIPATES_IN", "PARTICIPATES_IN",
                                                 "GENE_ASSOCIATED_WITH_CONDITION"],
                               "note": f"{len(p['disease_genes'])} disease gene(s) ({', '.join(p['disease_genes'])}) in a pathway of {p['size']} genes"})
    out = []
    for c in cand.values():
        comp = c["components"]
        c["score"] = round(0.6 * comp["target"] + 0.4 * comp["pathway"], 6)
        c["paths"].sort(key=lambda p: -p["weight"])
        c["paths"] = c["paths"][:5]
        out.append(c)
    out.sort(key=lambda c: (-c["score"], c["name"] or c["disease"]))
    for i, c in enumerate(out, 1):
        c["rank"] = i
    return out


def benjamini_hochberg(pvalues: list[float]) -> list[float]:
    """BH-adjusted p-values (step-up, monotone, capped at 1), in input order."""
    m = len(pvalues)
    if m == 0:
        return []
    order = sorted(range(m), key=lambda i: pvalues[i])
    adj = [0.0] * m
    prev = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        prev = min(prev, pvalues[i] * m / rank)
        adj[i] = min(prev, 1.0)
    return adj


def enrichment(query: set[str], background: set[str], pathways: dict[str, tuple[str, set[str]]],
               min_size: int = 5, max_size: int = 500) -> list[dict[str, Any]]:
    """Over-representation: hypergeometric upper tail P(X >= k), X ~ Hypergeom(N, K, n), BH FDR."""
    from scipy.stats import hypergeom

    query = query & background
    N, n = len(background), len(query)
    rows = []
    for pid, (name, members) in pathways.items():
        members = members & background
        K = len(members)
        if K < min_size or K > max_size:
            continue
        hits = query & members
        k = len(hits)
        if k == 0:
            continue
        p = float(hypergeom.sf(k - 1, N, K, n))
        rows.append({"pathway": pid, "name": name, "k": k, "K": K, "n": n, "N": N,
                     "expected": K * n / N if N else 0.0, "fold": (k / (K * n / N)) if N and K and n else None,
                     "pvalue": p, "genes": sorted(hits)})
    for r, q in zip(rows, benjamini_hochberg([r["pvalue"] for r in rows])):
        r["fdr"] = q
    rows.sort(key=lambda r: (r["pvalue"], -r["k"], r["pathway"]))
    return rows
