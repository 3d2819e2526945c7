"""Case study: does the warehouse predict what a real TAZ (WWTR1) knockdown does in lung fibroblasts?

Data: GSE73555 (Noguchi et al., Sci Rep 2017), RNA-seq of HFL-1 lung fibroblasts with two
independent TAZ siRNAs vs a non-targeting control, per-gene logFC and p-value for each siRNA
($TARGETKG_DATA/knockdown/GSE73555_siTAZ_HFL1/siTAZ_HFL1_diffex.tsv.gz). No expression matrix
of these fibroblasts exists here, so no Bayesian network can be learnt *for this cell type*; the
network is the warehouse's own (the README's "where a network is available"): gene–gene
edges from Hetionet (INTERACTS_WITH, and REGULATES = LINCS L1000 knockdown/over-expression
consensus signatures from cancer cell lines) and pathway membership (Reactome, Pathway Commons).

Labels (never against the mean of other knockdowns): a gene is *down* if both siRNAs give
logFC < -LFC with p < P, *up* if both give logFC > LFC with p < P; the knocked-down gene itself
is excluded. Candidates: every measured gene with an NCBI id that is a Gene in the warehouse.
Down and up are scored separately (AUROC, AUPRC) for each predictor:

  regulates     WWTR1 -[:REGULATES]-> g in the warehouse (binary; Hetionet's LINCS signatures)
  propagation   knockdown simulated as network propagation: personalised PageRank from WWTR1
                over the gene–gene graph (INTERACTS_WITH + REGULATES, undirected, restart 0.5)
  propagation/degree  the same, divided by the gene's degree (PageRank mass grows with degree)
  distance      the graph-distance baseline: -(shortest path length) on the same graph
  pathways      the number of pathways g shares with WWTR1
  degree        the degree-only baseline (hub genes change more often in any experiment)

Run against the dev warehouse (`targetkg build`), or any NEO4J_URI. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import shortest_path
from sklearn.metrics import average_precision_score, roc_auc_score

KNOCKED = "WWTR1"
GENE_EDGES = """
MATCH (a:Gene)-[r:INTERACTS_WITH|REGULATES]->(b:Gene)
RETURN a.id AS a, b.id AS b, type(r) AS type
"""
REGULATED_BY = """
MATCH (t:Gene {id: $gene})-[:REGULATES]->(g:Gene) RETURN collect(DISTINCT g.id) AS ids
"""
SHARED_PATHWAYS = """
MATCH (t:Gene {id: $gene})-[:PARTICIPATES_IN]->(p:Pathway)<-[:PARTICIPATES_IN]-(g:Gene)
RETURN g.id AS id, count(DISTINCT p) AS shared
"""
GENE_BY_SYMBOL = "MATCH (g:Gene {name: $symbol}) RETURN g.id AS id"


def read_knockdown(path: Path) -> dict[str, dict]:
    """NCBIGene id -> {symbol, lfc1, p1, lfc2, p2}; duplicated ENSG rows (same gene) keep the first."""
    out: dict[str, dict] = {}
    with gzip.open(path, "rt", newline="") as fh:
        for line_no, row in enumerate(csv.DictReader(fh, delimiter="\t"), start=2):
            gid = row["geneID"]
            if gid in ("", "NA") or f"NCBIGene:{gid}" in out:
                continue
            try:
                vals = {k: float(row[k]) for k in ("siTAZ1_logFC", "siTAZ1_pValue", "siTAZ2_logFC", "siTAZ2_pValue")}
            except ValueError as exc:
                raise SystemExit(f"{path}:{line_no}: non-numeric fold change or p-value ({exc})") from None
            out[f"NCBIGene:{gid}"] = {"symbol": row["geneSymbol"], **vals}
    return out


def ppr(adj: sp.csr_matrix, seed: int, restart: float = 0.5, iters: int = 100) -> np.ndarray:
    deg = np.asarray(adj.sum(axis=1)).ravel()
    walk = sp.diags(1.0 / np.maximum(deg, 1.0)) @ adj  # row-stochastic
    e = np.zeros(adj.shape[0])
    e[seed] = 1.0
    x = e.copy()
    for _ in range(iters):
        nxt = restart * e + (1 - restart) * (walk.T @ x)
        if np.abs(nxt - x).sum() < 1e-10:
            return nxt
        x = nxt
    return x


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lfc", type=float, default=0.5, help="|logFC| threshold (both siRNAs)")
    ap.add_argument("--p", type=float, default=0.01, help="p-value threshold (both siRNAs)")
    args = ap.parse_args()

    from targetkg.graph.connection import driver

    from targetkg.settings import get_settings

    data = Path(os.environ.get("TARGETKG_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    kd = read_knockdown(data / "knockdown" / "GSE73555_siTAZ_HFL1" / "siTAZ_HFL1_diffex.tsv.gz")
    s = get_settings()
    drv = driver(s)
    db = s.neo4j_database
    t0 = time.time()
    target = drv.execute_query(GENE_BY_SYMBOL, symbol=KNOCKED, database_=db).records
    if not target:
        raise SystemExit(f"{KNOCKED} is not a Gene in the warehouse: run `targetkg build` first")
    target_id = target[0]["id"]
    edges = drv.execute_query(GENE_EDGES, database_=db).records
    regulated = set(drv.execute_query(REGULATED_BY, gene=target_id, database_=db).records[0]["ids"])
    shared = {r["id"]: r["shared"] for r in drv.execute_query(SHARED_PATHWAYS, gene=target_id, database_=db).records}
    t_graph = time.time() - t0

    ids = sorted({e["a"] for e in edges} | {e["b"] for e in edges} | {target_id})
    pos = {g: i for i, g in enumerate(ids)}
    rows = np.array([pos[e["a"]] for e in edges] + [pos[e["b"]] for e in edges])
    cols = np.array([pos[e["b"]] for e in edges] + [pos[e["a"]] for e in edges])
    adj = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(ids), len(ids)))
    adj.data[:] = 1.0  # parallel edges of two types count once
    seed = pos[target_id]
    prop = ppr(adj, seed)
    dist = shortest_path(adj, unweighted=True, indices=seed)
    degree = np.asarray(adj.sum(axis=1)).ravel()

    # candidates: measured genes that are in the warehouse's gene–gene graph (other than TAZ itself)
    cand = [g for g in kd if g in pos and g != target_id]
    lfc_thr, p_thr = args.lfc, args.p

    def both(g, sign):
        r = kd[g]
        return all(sign * r[f"siTAZ{i}_logFC"] > lfc_thr and r[f"siTAZ{i}_pValue"] < p_thr for i in (1, 2))

    labels = {"down": np.array([both(g, -1) for g in cand]), "up": np.array([both(g, +1) for g in cand])}
    finite_max = np.nanmax(np.where(np.isfinite(dist), dist, np.nan))
    scores = {
        "regulates": np.array([1.0 if g in regulated else 0.0 for g in cand]),
        "propagation": np.array([prop[pos[g]] for g in cand]),
        "propagation/degree": np.array([prop[pos[g]] / max(degree[pos[g]], 1.0) for g in cand]),
        "distance": np.array([-(dist[pos[g]] if np.isfinite(dist[pos[g]]) else finite_max + 1) for g in cand]),
        "pathways": np.array([float(shared.get(g, 0)) for g in cand]),
        "degree": np.array([degree[pos[g]] for g in cand]),
    }
    me = kd.get(target_id, {})
    print(f"TAZ (WWTR1, {target_id}) knockdown in HFL-1 lung fibroblasts, GSE73555: WWTR1 logFC "
          f"{me.get('siTAZ1_logFC', float('nan')):.2f} / {me.get('siTAZ2_logFC', float('nan')):.2f} (siTAZ1 / siTAZ2)")
    print(f"warehouse gene graph: {len(ids):,} genes, {adj.nnz // 2:,} undirected edges; WWTR1 regulates "
          f"{len(regulated)} genes (Hetionet/LINCS), shares pathways with {len(shared):,}; read in {t_graph:.1f} s")
    print(f"candidates {len(cand):,} measured genes in the graph; labels |logFC| > {lfc_thr} and p < {p_thr} "
          f"in both siRNAs: down {int(labels['down'].sum())}, up {int(labels['up'].sum())}")
    print(f"{'predictor':<20}{'AUROC down':>12}{'AUPRC down':>12}{'AUROC up':>10}{'AUPRC up':>10}")
    result: dict = {}
    for name, sc in scores.items():
        r = {}
        for d in ("down", "up"):
            y = labels[d]
            r[f"auroc_{d}"] = round(float(roc_auc_score(y, sc)), 4) if 0 < y.sum() < len(y) else None
            r[f"auprc_{d}"] = round(float(average_precision_score(y, sc)), 4) if y.any() else None
            r[f"prevalence_{d}"] = round(float(y.mean()), 4)
        result[name] = r
        print(f"{name:<20}{r['auroc_down']:>12}{r['auprc_down']:>12}{r['auroc_up']:>10}{r['auprc_up']:>10}")
    reg_hits = {d: int((labels[d] & (scores["regulates"] > 0)).sum()) for d in labels}
    print(f"of the {int((scores['regulates'] > 0).sum())} LINCS-regulated genes measured here: {reg_hits['down']} down, "
          f"{reg_hits['up']} up (base rates {labels['down'].mean():.3f} / {labels['up'].mean():.3f})")
    print(json.dumps({"knocked_down": KNOCKED, "candidates": len(cand), "down": int(labels["down"].sum()),
                      "up": int(labels["up"].sum()), "lfc": lfc_thr, "p": p_thr, "predictors": result,
                      "regulated_hits": reg_hits}))


if __name__ == "__main__":
    main()
