"""Subnetworks from Delta ECv / per-sample contrasts, common subnetworks, pathway enrichment.

Construction of a subnetwork from a set of selected edges (e.g. the top x% by Delta ECv):
the selected edges are kept, and two selected edges are *linked at distance 1 through the basal
network* when a basal-network edge joins an endpoint of one to an endpoint of the other; such
linker edges are added (``selected=False``).  Components are the weakly connected components of
the result.

Common subnetwork of a group: the edges selected (per-sample top x% by |contrast|) in at least
``min_fraction`` of the group's samples, linked the same way.  For every other sample the
fraction of each component's selected edges that the sample's own selection contains is reported
(a component is "contained" when the fraction >= ``contain_threshold``).

Enrichment: one-sided hypergeometric test of the subnetwork's nodes against each gene set
(universe = network variables that are in at least one gene set, unless given), BH-adjusted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import hypergeom

from .ecv import bh_fdr
from .results import EcvResult, Subnetwork


def read_gmt(path) -> dict:
    """Parse a GMT file (name<TAB>description<TAB>gene...) -> {name: set(symbols)}."""
    sets = {}
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3:
                if line.strip():
                    raise ValueError(f"{path}: line {lineno}: expected name, description and genes")
                continue
            sets[parts[0]] = {g for g in parts[2:] if g}
    return sets


def _components(edges: list[tuple]) -> list[set]:
    parent = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
    comps = {}
    for x in list(parent):
        comps.setdefault(find(x), set()).add(x)
    return sorted(comps.values(), key=lambda c: (-len(c), sorted(c)[0]))


def link_edges(selected: pd.DataFrame, basal: pd.DataFrame) -> pd.DataFrame:
    """Selected edges + basal edges joining endpoints of two different selected edges."""
    sel = selected[["source", "target"]].copy()
    sel["selected"] = True
    node_edges = {}
    for e, (s, t) in enumerate(zip(sel["source"], sel["target"])):
        node_edges.setdefault(s, set()).add(e)
        node_edges.setdefault(t, set()).add(e)
    chosen = set(zip(sel["source"], sel["target"]))
    link = []
    for s, t in zip(basal["source"], basal["target"]):
        if (s, t) in chosen or s not in node_edges or t not in node_edges:
            continue
        # the basal edge must join two *different* selected edges
        if node_edges[s] - node_edges[t] or node_edges[t] - node_edges[s]:
            link.append((s, t))
    out = pd.concat([sel, pd.DataFrame({"source": [a for a, _ in link], "target": [b for _, b in link], "selected": False})],
                    ignore_index=True)
    return out


def build_subnetwork(name: str, selected: pd.DataFrame, basal: pd.DataFrame, gene_sets: dict | None = None,
                     universe: set | None = None, meta: dict | None = None) -> Subnetwork:
    edges = link_edges(selected, basal)
    extra = [c for c in selected.columns if c not in ("source", "target", "selected")]
    if extra:
        edges = edges.merge(selected[["source", "target"] + extra], on=["source", "target"], how="left")
    comps = _components(list(zip(edges["source"], edges["target"])))
    sub = Subnetwork(name=name, edges=edges, components=comps, meta=dict(meta or {}))
    if gene_sets:
        all_nodes = set(basal["source"]) | set(basal["target"])
        sub.enrichment = enrichment(sub.nodes, gene_sets, universe=universe or all_nodes)
    return sub


def top_fraction(values: np.ndarray, fraction: float) -> np.ndarray:
    """Boolean mask of the top ``fraction`` of ``values`` (at least one)."""
    m = len(values)
    k = max(1, int(np.ceil(fraction * m)))
    idx = np.argsort(-values, kind="stable")[:k]
    mask = np.zeros(m, dtype=bool)
    mask[idx] = True
    return mask


def delta_subnetwork(ecv: EcvResult, basal: pd.DataFrame, top: float = 0.05, max_q: float | None = None,
                     gene_sets: dict | None = None, universe: set | None = None) -> Subnetwork:
    """Subnetwork of the top ``top`` fraction of edges by Delta ECv (optionally also q <= max_q)."""
    if ecv.delta is None:
        raise ValueError("Delta ECv not computed (pass groups to compute_ecv)")
    mask = top_fraction(ecv.delta, top)
    if max_q is not None and ecv.qvalue is not None:
        mask &= ecv.qvalue <= max_q
    df = ecv.to_frame()[mask]
    return build_subnetwork(f"delta:{ecv.group_a}-vs-{ecv.group_b}", df, basal, gene_sets, universe,
                            meta={"top": top, "max_q": max_q, "n_selected": int(mask.sum())})


def sample_selections(ecv: EcvResult, top: float = 0.05) -> np.ndarray:
    """(m, n) boolean: for each sample, its top ``top`` fraction of edges by |contrast|."""
    if ecv.contrast is None:
        raise ValueError("per-sample contrasts not computed (pass contrast_reference to compute_ecv)")
    C = np.abs(ecv.contrast)
    sel = np.zeros(C.shape, dtype=bool)
    k = max(1, int(np.ceil(top * C.shape[0])))
    idx = np.argpartition(-C, kth=min(k, C.shape[0] - 1) - 1 if C.shape[0] > 1 else 0, axis=0)[:k]
    np.put_along_axis(sel, idx, True, axis=0)
    return sel


def sample_subnetworks(ecv: EcvResult, basal: pd.DataFrame, top: float = 0.05, samples: list | None = None) -> list:
    sel = sample_selections(ecv, top)
    out = []
    for s, name in enumerate(ecv.samples):
        if samples is not None and name not in samples:
            continue
        df = ecv.edges[sel[:, s]].copy()
        df["contrast"] = ecv.contrast[sel[:, s], s]
        out.append(build_subnetwork(f"sample:{name}", df, basal, meta={"top": top}))
    return out


def common_subnetwork(ecv: EcvResult, basal: pd.DataFrame, group, top: float = 0.05, min_fraction: float = 0.5,
                      contain_threshold: float = 1.0, gene_sets: dict | None = None) -> Subnetwork:
    """Common subnetwork of ``group`` and, for every other sample, which components it contains."""
    sel = sample_selections(ecv, top)
    g = np.asarray(ecv.groups, dtype=object)
    ing = g == group
    if not ing.any():
        raise ValueError(f"no sample has group label {group!r}")
    freq = sel[:, ing].mean(axis=1)
    mask = freq >= min_fraction
    df = ecv.edges[mask].copy()
    df["group_frequency"] = freq[mask]
    sub = build_subnetwork(f"common:{group}", df, basal, gene_sets,
                           meta={"top": top, "min_fraction": min_fraction, "n_selected": int(mask.sum())})
    # containment of each component's selected edges by each sample outside the group
    key = {e: r for r, e in enumerate(zip(ecv.edges["source"], ecv.edges["target"]))}
    comp_rows = []
    sel_edges = sub.edges[sub.edges["selected"]]
    for c, nodes in enumerate(sub.components):
        rows = [key[(s, t)] for s, t in zip(sel_edges["source"], sel_edges["target"]) if s in nodes]
        comp_rows.append(np.array(rows, dtype=np.int64))
    recs = []
    for s in np.where(~ing)[0]:
        for c, rows in enumerate(comp_rows):
            if len(rows) == 0:
                continue
            frac = float(sel[rows, s].mean())
            recs.append({"sample": ecv.samples[s], "group": g[s], "component": c, "n_edges": len(rows),
                         "fraction": frac, "contained": frac >= contain_threshold})
    sub.containment = pd.DataFrame(recs, columns=["sample", "group", "component", "n_edges", "fraction", "contained"])
    return sub


def enrichment(nodes: set, gene_sets: dict, universe: set | None = None, min_size: int = 3) -> pd.DataFrame:
    """Hypergeometric over-representation of ``nodes`` in each gene set; BH q-values."""
    all_genes = set().union(*gene_sets.values()) if gene_sets else set()
    U = set(universe) & all_genes if universe is not None else all_genes
    hits = set(nodes) & U
    N, n = len(U), len(hits)
    recs = []
    for name, gs in gene_sets.items():
        K_set = gs & U
        if len(K_set) < min_size or n == 0:
            continue
        k = len(hits & K_set)
        p = hypergeom.sf(k - 1, N, len(K_set), n) if k > 0 else 1.0
        recs.append({"gene_set": name, "overlap": k, "set_size": len(K_set), "query_size": n, "universe": N,
                     "genes": ",".join(sorted(hits & K_set)), "pvalue": float(p)})
    df = pd.DataFrame(recs, columns=["gene_set", "overlap", "set_size", "query_size", "universe", "genes", "pvalue"])
    if len(df):
        df["qvalue"] = bh_fdr(df["pvalue"].to_numpy())
        df = df.sort_values("pvalue", kind="stable").reset_index(drop=True)
    else:
        df["qvalue"] = []
    return df
