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

Enrichment: one-sided hypergeometric test of the subnetwork's nodes against each gene set,
BH-adjusted. The universe is every *measured* variable (all variables of the fitted network,
not only those on a basal edge) that maps to a gene in at least one gene set; pass ``universe``
to use another. Gene sets are keyed by the network's variable names:

* :func:`warehouse_gene_sets` -- the warehouse's pathways (Reactome, Pathway Commons, ...:
  ``(:Gene)-[:PARTICIPATES_IN]->(:Pathway)``), read through the API's in-memory pathway index
  (:mod:`targetkg.service.pathway_index`, one query shared with the API), the variables matched
  to genes by the CURIE of the run's variable mapping (``Network.variable_info``);
* :func:`gmt_gene_sets` -- a GMT file, whose members may be symbols (= variable names) or CURIEs.
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


def _gene_variables(variable_info: pd.DataFrame) -> dict[str, list[str]]:
    """gene CURIE -> the variables mapped to it (Gene-labelled rows of a variable mapping)."""
    out: dict[str, list[str]] = {}
    if variable_info is None or not len(variable_info):
        return out
    lab = variable_info["label"].astype(str) if "label" in variable_info.columns else None
    for i, r in enumerate(variable_info.itertuples(index=False)):
        if lab is not None and lab.iloc[i] != "Gene":
            continue
        curie = getattr(r, "curie", None)
        if isinstance(curie, str) and curie:
            out.setdefault(curie, []).append(str(r.variable))
    return out


def warehouse_gene_sets(driver, database: str, variable_info: pd.DataFrame, min_size: int = 3,
                        max_size: int = 500) -> tuple[dict, dict]:
    """The warehouse's pathways as gene sets over the network's variables.

    Returns ({pathway id: set(variables)}, {pathway id: name}); a pathway is kept when it has
    between ``min_size`` and ``max_size`` genes in the warehouse and at least one of them is a
    variable (:func:`enrichment` then drops sets with fewer than its ``min_size`` in the universe). The membership comes from :data:`targetkg.service.pathway_index.holder`
    (the API's index; loaded once per process, reloaded when the graph changes)."""
    from targetkg.service.pathway_index import holder

    holder.recheck()  # a batch caller: compare the graph's fingerprint now, not after the API's 30 s
    idx = holder.get(driver, database)
    by_curie = _gene_variables(variable_info)
    cols = [(idx.gene_position[c], vs) for c, vs in by_curie.items() if c in idx.gene_position]
    if not cols:
        return {}, {}
    mt = idx.members.tocsc()  # pathways x genes
    hits: dict[int, set] = {}
    for g, vs in cols:
        for p in mt.indices[mt.indptr[g]:mt.indptr[g + 1]].tolist():
            hits.setdefault(p, set()).update(vs)
    sets, names = {}, {}
    for p, vs in sorted(hits.items()):
        if min_size <= idx.sizes[p] <= max_size:
            pid = idx.pathway_ids[p]
            sets[pid] = vs
            names[pid] = idx.pathway_names[p] or pid
    return sets, names


def gmt_gene_sets(path, variable_info: pd.DataFrame | None = None, variables=None) -> tuple[dict, dict]:
    """A GMT file as gene sets over the network's variables: a member matches a variable by name
    (symbol) or, through ``variable_info``, by CURIE. Returns ({set name: set(variables)}, {name: description})."""
    by_curie = _gene_variables(variable_info) if variable_info is not None else {}
    known = set(map(str, variables)) if variables is not None else (
        set(variable_info["variable"].astype(str)) if variable_info is not None else None)
    names = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 3:
                names[parts[0]] = parts[1] or parts[0]
    sets = {}
    for name, members in read_gmt(path).items():
        vs = set()
        for m in members:
            vs.update(by_curie.get(m, ()))
            if known is None or m in known:
                vs.add(m)
        if vs:
            sets[name] = vs
    return sets, names


def measured_universe(variables, variable_info: pd.DataFrame | None = None) -> set:
    """All measured variables that map to a gene (all variables when there is no mapping)."""
    variables = [str(v) for v in variables]
    if variable_info is None or "label" not in variable_info.columns:
        return set(variables)
    genes = {v for vs in _gene_variables(variable_info).values() for v in vs}
    return {v for v in variables if v in genes}


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
                     universe: set | None = None, meta: dict | None = None,
                     gene_set_names: dict | None = None) -> Subnetwork:
    """Selected edges linked through ``basal``; with ``gene_sets``, their enrichment against the
    ``universe`` (default: every variable in the basal network's edges *and* in ``selected`` --
    callers that know all measured variables should pass them, as :func:`delta_subnetwork` does)."""
    edges = link_edges(selected, basal)
    extra = [c for c in selected.columns if c not in ("source", "target", "selected")]
    if extra:
        edges = edges.merge(selected[["source", "target"] + extra], on=["source", "target"], how="left")
    comps = _components(list(zip(edges["source"], edges["target"])))
    sub = Subnetwork(name=name, edges=edges, components=comps, meta=dict(meta or {}))
    if gene_sets:
        if universe is None:
            universe = set(basal["source"]) | set(basal["target"]) | set(selected["source"]) | set(selected["target"])
        sub.enrichment = enrichment(sub.nodes, gene_sets, universe=universe, names=gene_set_names)
        sub.meta["enrichment_universe"] = len(set(universe) & set().union(*gene_sets.values()))
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
                     gene_sets: dict | None = None, universe: set | None = None,
                     gene_set_names: dict | None = None) -> Subnetwork:
    """Subnetwork of the top ``top`` fraction of edges by Delta ECv (optionally also q <= max_q).

    Enrichment universe (with ``gene_sets``): ``universe`` if given (e.g. :func:`measured_universe`),
    else every variable of the ECv edges and of ``basal``."""
    if ecv.delta is None:
        raise ValueError("Delta ECv not computed (pass groups to compute_ecv)")
    mask = top_fraction(ecv.delta, top)
    if max_q is not None and ecv.qvalue is not None:
        mask &= ecv.qvalue <= max_q
    df = ecv.to_frame()[mask]
    if gene_sets and universe is None:
        universe = set(ecv.edges["source"]) | set(ecv.edges["target"]) | set(basal["source"]) | set(basal["target"])
    return build_subnetwork(f"delta:{ecv.group_a}-vs-{ecv.group_b}", df, basal, gene_sets, universe,
                            meta={"top": top, "max_q": max_q, "n_selected": int(mask.sum())},
                            gene_set_names=gene_set_names)


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
                      contain_threshold: float = 1.0, gene_sets: dict | None = None, universe: set | None = None,
                      gene_set_names: dict | None = None) -> Subnetwork:
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
    if gene_sets and universe is None:
        universe = set(ecv.edges["source"]) | set(ecv.edges["target"]) | set(basal["source"]) | set(basal["target"])
    sub = build_subnetwork(f"common:{group}", df, basal, gene_sets, universe,
                           meta={"top": top, "min_fraction": min_fraction, "n_selected": int(mask.sum())},
                           gene_set_names=gene_set_names)
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


def enrichment(nodes: set, gene_sets: dict, universe: set | None = None, min_size: int = 3,
               names: dict | None = None) -> pd.DataFrame:
    """Hypergeometric over-representation of ``nodes`` in each gene set; BH q-values.

    The universe U is ``universe`` (all measured variables, for a subnetwork) restricted to the
    variables in at least one gene set (an unannotated variable can never be a hit); gene sets
    are restricted to U and kept with at least ``min_size`` members. ``names``: set id -> name
    (adds a ``name`` column)."""
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
    if names is not None:
        df.insert(1, "name", [names.get(g, g) for g in df["gene_set"]])
    if len(df):
        df["qvalue"] = bh_fdr(df["pvalue"].to_numpy())
        df = df.sort_values("pvalue", kind="stable").reset_index(drop=True)
    else:
        df["qvalue"] = []
    return df
