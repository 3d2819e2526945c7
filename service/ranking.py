"""Scoring: merge the evidence components into one ranked list (pure Python, tested directly)."""

from __future__ import annotations

import math
from typing import Any

# Weights of the component scores in the combined score (a weighted mean over the selected components).
WEIGHTS = {"association": 0.4, "drug": 0.3, "pathway": 0.2, "predicted": 0.1}
COMPONENTS = tuple(WEIGHTS)


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


def attach_paths(targets: list[dict[str, Any]], max_paths: int = 5) -> list[dict[str, Any]]:
    """Copies of ranked targets (from rank_targets) with their top evidence paths, best first. The
    paths are kept on the ranked target (`_paths`), so a materialised ranking builds each once."""
    if not targets:
        return []
    ctx = targets[0]["_context"]
    d_id, d_name = ctx["disease"]["id"], ctx["disease"].get("name")
    todo = [t for t in targets if t.get("_paths", (None,))[0] != max_paths]
    lazy = [t["gene"] for t in todo if "pathway" in t["_rows"] and t["_rows"]["pathway"].get("paths") is None]
    lazy_paths = ctx["pathway_paths"](lazy) if lazy and ctx["pathway_paths"] else {}
    for t in todo:
        rows, found = t["_rows"], []
        if (r := rows.get("association")) is not None:
            found.append({"kind": "association", "weight": 1.0, "sources": r["sources"], "nodes": [
                {"id": r["gene"], "name": r["symbol"]}, {"id": d_id, "name": d_name}],
                "relationships": ["GENE_ASSOCIATED_WITH_CONDITION"], "note": None})
        if (r := rows.get("drug")) is not None:
            for dr in r["drugs"][:3]:
                found.append({"kind": "drug", "weight": 0.5, "sources": sorted({dr["treats_source"], dr["binds_source"]} - {None}),
                              "nodes": [{"id": dr["drug"], "name": dr["drug_name"]}, {"id": r["gene"], "name": r["symbol"]},
                                        {"id": d_id, "name": d_name}],
                              "relationships": ["DIRECTLY_PHYSICALLY_INTERACTS_WITH (drug→gene)", "TREATS (drug→disease)"],
                              "note": None})
        if (r := rows.get("pathway")) is not None:
            pw_paths = r["paths"] if r.get("paths") is not None else lazy_paths.get(r["gene"], [])
            for p in pw_paths[:3]:
                found.append({"kind": "pathway", "weight": p["weight"], "sources": [],
                              "nodes": [{"id": r["gene"], "name": r["symbol"]}, {"id": p["pathway"], "name": p["pathway_name"]},
                                        {"id": p["via"][0], "name": None}, {"id": d_id, "name": d_name}],
                              "relationships": ["PARTICIPATES_IN", "PARTICIPATES_IN", "GENE_ASSOCIATED_WITH_CONDITION"],
                              "note": f"{len(p['via'])} disease gene(s) in a pathway of {p['size']} genes"})
        if (r := rows.get("predicted")) is not None:
            for pr in r["predictions"]:
                found.append({"kind": "predicted", "weight": float(pr.get("score") or 0.0), "sources": [pr.get("model")],
                              "nodes": [{"id": r["gene"], "name": r["symbol"]}, {"id": d_id, "name": d_name}],
                              "relationships": [pr["type"]], "note": None})
        found.sort(key=lambda p: -p["weight"])
        t["_paths"] = (max_paths, found[:max_paths])
    return [{"gene": t["gene"], "symbol": t["symbol"], "components": dict(t["components"]), "score": t["score"],
             "known": t["known"], "rank": t["rank"], "paths": t["_paths"][1]} for t in targets]


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
