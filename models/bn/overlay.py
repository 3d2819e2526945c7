"""Bayesian-network results as *overlays* in the Neo4j warehouse.

An overlay is one analysis result laid over the curated graph, kept apart from it:

    (:Overlay {id, kind, method, params, created_at, release, n_nodes, n_edges})
    (:Overlay)-[:INCLUDES {variable, ...effects}]->(:Gene | :ClinicalVariable)
    (:Overlay)-[:FOR_COHORT]->(:Cohort {id, name})
    (:Overlay)-[:FOR_SAMPLE {group, own}]->(:Sample {id, cohort})   -- pseudonymised ids only
    (a)-[:OVERLAY_EDGE {overlay_id, weight, posterior, ecv, delta_ecv, p_value, q_value, direction, ...}]->(b)

``kind`` is one of :data:`KINDS`. Overlay edges have their own relationship type
(``OVERLAY_EDGE``), never a curated or predicted one, and carry the ``overlay_id``; queries on the
curated graph never see them unless they ask for them. Gene variables are matched to existing
``Gene`` nodes by the CURIE of :func:`.data.map_variables`; other variables become
``(:ClinicalVariable {id: 'targetkg.clinical:<slug>'})`` nodes (created on demand, shared).

``direction`` on an edge: ``positive``/``negative`` = sign of the fitted effect (basal and
knockdown overlays, linker edges); ``up``/``down`` = ECv higher/lower in group A than in group B
(selected edges of a Delta-ECv subnetwork) or in the sample than in the reference (per-sample
subnetworks).

Writing is idempotent and atomic: one transaction deletes an existing overlay of the same id and
writes the new one (all Cypher parameterised, rows batched with UNWIND). :func:`delete_overlay`
removes only that overlay's node and edges, plus Sample / Cohort / ClinicalVariable nodes no other
overlay uses any more.

Sample ids are pseudonymised before they reach the graph: ``targetkg.sample:`` + the first 16 hex
digits of HMAC-SHA256(key, cohort id + U+001F + raw id) (no cohort: the empty string). The key is
``$TARGETKG_PSEUDONYM_KEY`` or a random key created once in ``<TARGETKG_HOME>/bn/pseudonym.key``
(mode 0600); without the key the mapping cannot be reversed or recomputed. Because the cohort
is part of the hash, two cohorts that both call a sample ``S001`` get two different Sample nodes.

A sample's *group* (tumour / non-tumour, responder / non-responder, ...) belongs to one analysis,
not to the sample: the same cohort may be grouped by several columns. It is therefore stored on
the overlay's ``FOR_SAMPLE`` relationship (``f.group``), never on the shared ``Sample`` node, so a
second grouping of a cohort cannot rewrite the groups of earlier overlays. The Sample node holds
only its id, category and ``cohort`` (the cohort id its pseudonym was computed with; fixed by
the id itself, so it can never be overwritten inconsistently).

A Delta-ECv overlay whose subnetwork has a pathway enrichment (``Subnetwork.enrichment``, see
:mod:`.subnet`) keeps its top pathways: ``params.enrichment`` (list of {id, name, overlap,
set_size, p, q, genes}) and, to query them in Cypher, the parallel lists ``o.enriched_pathways``
(ids) and ``o.enriched_pathway_q`` (q-values) on the Overlay node.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import re
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .data import map_variables
from .results import KnockdownResult, Network, Subnetwork

KINDS = ("basal_network", "delta_ecv_subnetwork", "sample_subnetwork", "knockdown_simulation")
EDGE_TYPE = "OVERLAY_EDGE"
VARIABLE_LABELS = ("Gene", "ClinicalVariable")
SAMPLE_PREFIX = "targetkg.sample:"
COHORT_PREFIX = "targetkg.cohort:"
BATCH = 5000
TOP_PATHWAYS = 20  # enriched pathways kept on a subnetwork overlay
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,199}$")

CATEGORY = {
    "Overlay": ["biolink:InformationContentEntity"],
    "Cohort": ["biolink:Cohort"],
    "Sample": ["biolink:MaterialSample"],
    "ClinicalVariable": ["biolink:ClinicalAttribute"],
}

DDL = [
    "CREATE CONSTRAINT overlay_id IF NOT EXISTS FOR (n:Overlay) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT cohort_id IF NOT EXISTS FOR (n:Cohort) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT sample_id IF NOT EXISTS FOR (n:Sample) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT clinicalvariable_id IF NOT EXISTS FOR (n:ClinicalVariable) REQUIRE n.id IS UNIQUE",
    "CREATE INDEX overlay_edge_overlay_id IF NOT EXISTS FOR ()-[r:OVERLAY_EDGE]-() ON (r.overlay_id)",
    "CREATE INDEX overlay_kind IF NOT EXISTS FOR (n:Overlay) ON (n.kind)",
]


class OverlayError(ValueError):
    """An overlay cannot be written as asked (the message says why)."""


# ------------------------------------------------------------------------------ pseudonyms
def pseudonym_key(home: Path | None = None) -> bytes:
    """The secret key of the sample pseudonyms ($TARGETKG_PSEUDONYM_KEY or a key file, created once)."""
    env = os.environ.get("TARGETKG_PSEUDONYM_KEY")
    if env:
        return env.encode()
    if home is None:
        from targetkg.settings import get_settings

        home = get_settings().home
    path = Path(home) / "bn" / "pseudonym.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def pseudonymise(sample_id: str, key: bytes, cohort: str | None = None) -> str:
    """``targetkg.sample:<16 hex>`` of HMAC(key, cohort + U+001F + raw id); ``cohort`` is the cohort
    *id* (as written: ``targetkg.cohort:...``; a bare name is normalised the same way). Ids that
    already are pseudonyms are returned unchanged."""
    s = str(sample_id)
    if s.startswith(SAMPLE_PREFIX):
        return s
    c = _cohort_row(cohort)["id"] if cohort is not None else ""
    msg = (c + "\x1f" + s).encode()
    return SAMPLE_PREFIX + hmac.new(key, msg, hashlib.sha256).hexdigest()[:16]


def _samples_table(samples, key: bytes | None, cohort: str | None = None) -> list[dict]:
    """samples: {raw_id: group} | Series(group, index=id) | DataFrame with a 'group' column | [ids]."""
    if samples is None:
        return []
    if isinstance(samples, pd.DataFrame):
        col = "group" if "group" in samples.columns else (samples.columns[0] if len(samples.columns) else None)
        pairs = [(i, samples.loc[i, col] if col is not None else None) for i in samples.index]
    elif isinstance(samples, (pd.Series, dict)):
        pairs = list(samples.items())
    else:
        pairs = [(s, None) for s in samples]
    rows, seen = [], set()
    for raw, group in pairs:
        if key is None and not str(raw).startswith(SAMPLE_PREFIX):
            raise OverlayError(f"sample id {raw!r} is not pseudonymised and no key was given")
        pid = pseudonymise(raw, key, cohort) if key is not None else str(raw)
        if pid in seen:
            continue
        seen.add(pid)
        rows.append({"id": pid, "group": None if group is None or (isinstance(group, float) and math.isnan(group)) else str(group),
                     "raw": str(raw)})
    return rows


# ------------------------------------------------------------------------------ helpers
def _clean(v):
    """JSON/Neo4j-safe scalar (numpy -> python, NaN -> None)."""
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(v, np.ndarray):
        return [_clean(x) for x in v.tolist()]
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if v is None or isinstance(v, (str, int)):
        return v
    return str(v)


def _props(d: dict) -> dict:
    return {k: c for k, v in d.items() if (c := _clean(v)) is not None}


def _sign(x) -> str | None:
    x = _clean(x)
    if x is None or x == 0:
        return None
    return "positive" if x > 0 else "negative"


def _cohort_row(cohort) -> dict | None:
    if cohort is None:
        return None
    if isinstance(cohort, dict):
        cid, name = str(cohort["id"]), str(cohort.get("name") or cohort["id"])
    elif isinstance(cohort, (tuple, list)):
        cid, name = str(cohort[0]), str(cohort[1] if len(cohort) > 1 else cohort[0])
    else:
        cid = name = str(cohort)
    if ":" not in cid:
        cid = COHORT_PREFIX + re.sub(r"[^A-Za-z0-9_.-]+", "_", cid).strip("_").lower()
    return {"id": cid, "name": name}


def _variable_map(names: Iterable[str], *sources) -> dict[str, tuple[str, str]]:
    """variable -> (label, curie), from the first ``variable_info`` found, else map_variables."""
    info = None
    for src in sources:
        if isinstance(src, pd.DataFrame):
            info = src
            break
        vi = getattr(src, "variable_info", None)
        if isinstance(vi, pd.DataFrame):
            info = vi
            break
    names = [str(n) for n in names]
    if info is None:
        info = map_variables(names)
    out = {str(r.variable): (str(r.label), str(r.curie)) for r in info.itertuples(index=False)}
    missing = [n for n in names if n not in out]
    if missing:
        extra = map_variables(missing)
        out.update({str(r.variable): (str(r.label), str(r.curie)) for r in extra.itertuples(index=False)})
    bad = {lab for lab, _ in out.values()} - set(VARIABLE_LABELS)
    if bad:
        raise OverlayError(f"variable labels {sorted(bad)} are not among {VARIABLE_LABELS}")
    return out


def _network_edge_props(network: Network | None) -> dict[tuple[str, str], dict]:
    if network is None:
        return {}
    # posterior: NaN (no confidence computed) is dropped by _props -> no property; rhat/ess: MCMC per edge
    cols = [c for c in ("weight", "posterior", "rhat", "ess") if c in network.edges.columns]
    return {(str(r["source"]), str(r["target"])): {c: r[c] for c in cols} for _, r in network.edges.iterrows()}


def _descendants(edges: pd.DataFrame, roots: Iterable[str]) -> set[str]:
    children: dict[str, set] = {}
    for s, t in zip(edges["source"].astype(str), edges["target"].astype(str)):
        children.setdefault(s, set()).add(t)
    seen, stack = set(), list(roots)
    while stack:
        v = stack.pop()
        for c in children.get(v, ()):
            if c not in seen:
                seen.add(c)
                stack.append(c)
    return seen


def top_pathways(enrichment: pd.DataFrame | None, n: int = TOP_PATHWAYS) -> list[dict]:
    """The ``n`` best rows of a :func:`.subnet.enrichment` table (by p): {id, name, overlap, set_size, p, q, genes}."""
    if enrichment is None or not len(enrichment):
        return []
    df = enrichment.sort_values("pvalue", kind="stable").head(n)
    has_name = "name" in df.columns
    return [_clean({"id": r["gene_set"], "name": (r["name"] if has_name else None) or r["gene_set"],
                    "overlap": int(r["overlap"]), "set_size": int(r["set_size"]), "p": r["pvalue"], "q": r["qvalue"],
                    "genes": r["genes"]})
            for _, r in df.iterrows()]


# ------------------------------------------------------------------------------ building rows
def build_overlay(result, kind: str, *, network: Network | None = None, variable_info: pd.DataFrame | None = None,
                  ecv_result=None) -> dict:
    """The overlay's content (no database): {'edges': [...], 'nodes': {variable: props}, 'meta', 'sample'}.

    result / kind: Network + basal_network; Subnetwork + delta_ecv_subnetwork | sample_subnetwork;
    KnockdownResult + knockdown_simulation (needs ``network``: the overlay edges are the network's
    edges from the targets to their descendants, the nodes carry the simulated effects).
    """
    if kind not in KINDS:
        raise OverlayError(f"kind must be one of {KINDS}, not {kind!r}")
    edges: list[dict] = []
    nodes: dict[str, dict] = {}
    meta: dict[str, Any] = {}
    sample = None
    if kind == "basal_network":
        if not isinstance(result, Network):
            raise OverlayError("a basal_network overlay needs a Network")
        network = network or result
        for _, r in result.edges.iterrows():
            edges.append({"source": str(r["source"]), "target": str(r["target"]), "weight": r.get("weight"),
                          "posterior": r.get("posterior"), "rhat": r.get("rhat"), "ess": r.get("ess"),
                          "direction": _sign(r.get("weight"))})
        for v in result.variables:
            nodes[str(v)] = {}
        meta = {"score": result.score, **{k: v for k, v in result.meta.items() if k != "input_report"}}
    elif kind in ("delta_ecv_subnetwork", "sample_subnetwork"):
        if not isinstance(result, Subnetwork):
            raise OverlayError(f"a {kind} overlay needs a Subnetwork")
        weights = _network_edge_props(network)
        df = result.edges
        if kind == "sample_subnetwork":
            if not result.name.startswith("sample:"):
                raise OverlayError(f"not a per-sample subnetwork: {result.name!r}")
            sample = result.name[len("sample:"):]
        ecv_row = {}
        if ecv_result is not None and sample is not None and sample in ecv_result.samples:
            col = ecv_result.samples.index(sample)
            ecv_row = {(str(s), str(t)): ecv_result.values[e, col]
                       for e, (s, t) in enumerate(zip(ecv_result.edges["source"], ecv_result.edges["target"]))}
        for _, r in df.iterrows():
            s, t = str(r["source"]), str(r["target"])
            e = {"source": s, "target": t, "selected": bool(r.get("selected", True)), **weights.get((s, t), {})}
            if "delta" in df.columns:
                e.update({"delta_ecv": r.get("delta"), "mean_ecv_a": r.get("mean_a"), "mean_ecv_b": r.get("mean_b"),
                          "p_value": r.get("pvalue"), "q_value": r.get("qvalue")})
            if "contrast" in df.columns:
                e["contrast"] = r.get("contrast")
            if (s, t) in ecv_row:
                e["ecv"] = ecv_row[(s, t)]
            ma, mb, c = _clean(r.get("mean_a")), _clean(r.get("mean_b")), _clean(r.get("contrast"))
            if e["selected"] and ma is not None and mb is not None and ma != mb:
                e["direction"] = "up" if ma > mb else "down"
            elif e["selected"] and c is not None and c != 0:
                e["direction"] = "up" if c > 0 else "down"
            else:
                e["direction"] = _sign(e.get("weight"))
            edges.append(e)
        for comp, members in enumerate(result.components):
            for v in members:
                nodes[str(v)] = {"component": comp}
        meta = {"subnetwork": result.name if kind != "sample_subnetwork" else "sample", **result.meta}
        if ecv_result is not None and kind == "delta_ecv_subnetwork":
            meta.update({"group_a": ecv_result.group_a, "group_b": ecv_result.group_b,
                         **{k: v for k, v in ecv_result.meta.items() if not isinstance(v, (list, np.ndarray))}})
        top_pw = top_pathways(result.enrichment)
        if top_pw:
            meta["enrichment"] = top_pw
    else:  # knockdown_simulation
        if not isinstance(result, KnockdownResult):
            raise OverlayError("a knockdown_simulation overlay needs a KnockdownResult")
        if network is None:
            raise OverlayError("a knockdown_simulation overlay needs network= (its edges come from the network)")
        targets = [str(t) for t in result.targets]
        keep = set(targets) | _descendants(network.edges, targets)
        weights = _network_edge_props(network)
        for (s, t), w in weights.items():
            if s in keep and t in keep:
                edges.append({"source": s, "target": t, **w, "direction": _sign(w.get("weight"))})
        q = int(round(result.interval * 100))
        for i, v in enumerate(result.variables):
            v = str(v)
            if v not in keep:
                continue
            nodes[v] = {"is_target": v in targets, "level": result.targets.get(v), "mean_delta": result.mean_delta[i],
                        "p_down": result.p_down[i], "p_up": result.p_up[i], f"lower_{q}": result.lower[i],
                        f"upper_{q}": result.upper[i]}
        meta = {"targets": {str(k): v for k, v in result.targets.items()}, "n_dags": result.n_dags,
                "method": result.method, "interval": result.interval, **result.meta}
    for e in edges:
        nodes.setdefault(e["source"], {})
        nodes.setdefault(e["target"], {})
    return {"edges": edges, "nodes": nodes, "meta": meta, "sample": sample}


# ------------------------------------------------------------------------------ Neo4j
def ensure_overlay_schema(driver, database: str = "neo4j") -> None:
    with driver.session(database=database) as s:
        for stmt in DDL:
            s.run(stmt).consume()


def _batches(rows: list, size: int = BATCH):
    for i in range(0, len(rows), size):
        yield rows[i:i + size]


def _delete_in_tx(tx, overlay_id: str) -> dict:
    n_edges = tx.run(f"MATCH ()-[r:{EDGE_TYPE} {{overlay_id: $id}}]->() DELETE r RETURN count(r) AS c",
                     id=overlay_id).single()["c"]
    rec = tx.run(
        "MATCH (o:Overlay {id: $id}) OPTIONAL MATCH (o)-[]->(m) "
        "WHERE m:Sample OR m:Cohort OR m:ClinicalVariable "
        "RETURN count(DISTINCT o) AS o, collect(DISTINCT elementId(m)) AS cand", id=overlay_id).single()
    tx.run("MATCH (o:Overlay {id: $id}) DETACH DELETE o", id=overlay_id).consume()
    orphans = 0
    if rec["cand"]:
        orphans = tx.run("UNWIND $cand AS eid MATCH (m) WHERE elementId(m) = eid AND NOT EXISTS { (m)--() } "
                         "DELETE m RETURN count(m) AS c", cand=rec["cand"]).single()["c"]
    return {"overlays": rec["o"], "edges": n_edges, "orphan_nodes": orphans}


def delete_overlay(driver, database: str, overlay_id: str) -> dict:
    """Delete one overlay (its node, INCLUDES/FOR_* links and OVERLAY_EDGEs) in one transaction.

    Returns counts {'overlays', 'edges', 'orphan_nodes'}; 'overlays' is 0 when no such id exists.
    """
    with driver.session(database=database) as s:
        return s.execute_write(_delete_in_tx, str(overlay_id))


def write_overlay(driver, database: str, network_or_result, kind: str, overlay_id: str, *, cohort=None,
                  samples=None, release: str | None = None, method: str | None = None, params: dict | None = None,
                  network: Network | None = None, variable_info: pd.DataFrame | None = None, ecv_result=None,
                  pseudonym_key_: bytes | None = None, missing: str = "error", batch_size: int = BATCH) -> dict:
    """Write (or atomically replace) overlay ``overlay_id``; returns a summary dict.

    cohort: an id / (id, name) / {'id', 'name'}; samples: {raw sample id: group}, a Series of groups
    indexed by sample id, or a list of ids -- pseudonymised with the key (ids already of the form
    ``targetkg.sample:...`` are kept). The overlay is linked to every sample (FOR_SAMPLE); a
    per-sample subnetwork also to its own sample. missing: "error" (default) when a gene variable
    has no Gene node, or "skip" (its edges are left out and listed in the overlay's ``skipped``).
    """
    overlay_id = str(overlay_id)
    if not _ID_RE.match(overlay_id):
        raise OverlayError(f"invalid overlay id {overlay_id!r} (letters, digits and _.:@+- only)")
    if missing not in ("error", "skip"):
        raise OverlayError("missing must be 'error' or 'skip'")
    content = build_overlay(network_or_result, kind, network=network, variable_info=variable_info, ecv_result=ecv_result)
    vmap = _variable_map(content["nodes"].keys(), variable_info, network_or_result, network)
    key = pseudonym_key_ if pseudonym_key_ is not None else pseudonym_key()
    cohort_row = _cohort_row(cohort)
    cohort_id = cohort_row["id"] if cohort_row else None
    sample_rows = _samples_table(samples, key, cohort_id)
    if content["sample"] is not None:
        own_group = None  # the own sample's group in the ECv run (on its FOR_SAMPLE, like every group)
        if ecv_result is not None and ecv_result.groups is not None and content["sample"] in ecv_result.samples:
            own_group = ecv_result.groups[ecv_result.samples.index(content["sample"])]
        sample_rows += [r for r in _samples_table({content["sample"]: own_group}, key, cohort_id)
                        if r["id"] not in {x["id"] for x in sample_rows}]
    own_sample = pseudonymise(content["sample"], key, cohort_id) if content["sample"] is not None else None
    method = method or {"basal_network": f"bn:{getattr(network_or_result, 'score', '')}",
                        "delta_ecv_subnetwork": "bn:delta_ecv", "sample_subnetwork": "bn:sample_contrast",
                        "knockdown_simulation": "bn:graph_surgery"}[kind]
    params_json = json.dumps(_clean({**content["meta"], **(params or {})}), sort_keys=True, default=str)
    for r in sample_rows:  # never let a raw sample id reach the graph
        if r["raw"] != r["id"] and len(r["raw"]) >= 4 and r["raw"] in params_json:
            params_json = params_json.replace(r["raw"], r["id"])
    created = datetime.now(UTC).isoformat(timespec="seconds")

    ensure_overlay_schema(driver, database)

    def work(tx):
        deleted = _delete_in_tx(tx, overlay_id)
        tx.run("CREATE (o:Overlay {id: $id}) SET o += $props, o.category = $cat", id=overlay_id, cat=CATEGORY["Overlay"],
               props=_props({"kind": kind, "method": method, "params": params_json, "created_at": created,
                             "release": release or "dev"})).consume()
        # nodes: genes must exist, clinical variables are merged
        genes = sorted({c for lab, c in (vmap[v] for v in content["nodes"]) if lab == "Gene"})
        found = set()
        for b in _batches(genes, batch_size):
            found |= {r["id"] for r in tx.run("UNWIND $ids AS id MATCH (g:Gene {id: id}) RETURN g.id AS id", ids=b)}
        absent = [v for v in content["nodes"] if vmap[v][0] == "Gene" and vmap[v][1] not in found]
        if absent and missing == "error":
            raise OverlayError(f"{len(absent)} gene variable(s) have no Gene node in the graph, e.g. "
                               f"{[(v, vmap[v][1]) for v in absent[:5]]} (pass missing='skip' to leave them out)")
        skip = set(absent)
        clin = [{"id": vmap[v][1], "name": v} for v in content["nodes"] if vmap[v][0] == "ClinicalVariable"]
        for b in _batches(clin, batch_size):
            tx.run("UNWIND $rows AS r MERGE (c:ClinicalVariable {id: r.id}) "
                   "ON CREATE SET c.name = r.name, c.category = $cat",
                   rows=b, cat=CATEGORY["ClinicalVariable"]).consume()
        # INCLUDES, per label
        inc = {lab: [] for lab in VARIABLE_LABELS}
        for v, props in content["nodes"].items():
            if v in skip:
                continue
            lab, curie = vmap[v]
            inc[lab].append({"id": curie, "props": _props({"variable": v, **props})})
        for lab, rows in inc.items():
            for b in _batches(rows, batch_size):
                tx.run(f"MATCH (o:Overlay {{id: $oid}}) UNWIND $rows AS r MATCH (n:{lab} {{id: r.id}}) "
                       "CREATE (o)-[i:INCLUDES]->(n) SET i = r.props", oid=overlay_id, rows=b).consume()
        # edges, per (source label, target label)
        groups: dict[tuple[str, str], list] = {}
        n_edges = 0
        for e in content["edges"]:
            if e["source"] in skip or e["target"] in skip:
                continue
            (ls, cs), (lt, ct) = vmap[e["source"]], vmap[e["target"]]
            props = _props({k: v for k, v in e.items() if k not in ("source", "target")})
            props.update({"overlay_id": overlay_id, "source_variable": e["source"], "target_variable": e["target"]})
            groups.setdefault((ls, lt), []).append({"s": cs, "t": ct, "props": props})
        for (ls, lt), rows in groups.items():
            for b in _batches(rows, batch_size):
                n_edges += tx.run(f"UNWIND $rows AS r MATCH (a:{ls} {{id: r.s}}) MATCH (b:{lt} {{id: r.t}}) "
                                  f"CREATE (a)-[e:{EDGE_TYPE}]->(b) SET e = r.props RETURN count(e) AS c",
                                  rows=b).single()["c"]
        if cohort_row:
            tx.run("MERGE (c:Cohort {id: $id}) ON CREATE SET c.category = $cat SET c.name = $name "
                   "WITH c MATCH (o:Overlay {id: $oid}) CREATE (o)-[:FOR_COHORT]->(c)",
                   id=cohort_row["id"], name=cohort_row["name"], oid=overlay_id, cat=CATEGORY["Cohort"]).consume()
        # the group is the analysis' label of the sample: on FOR_SAMPLE, never on the shared Sample node
        for b in _batches([{"id": r["id"], "group": r["group"]} for r in sample_rows], batch_size):
            tx.run("MATCH (o:Overlay {id: $oid}) UNWIND $rows AS r MERGE (s:Sample {id: r.id}) "
                   "ON CREATE SET s.category = $cat, s.cohort = $cohort "
                   "CREATE (o)-[f:FOR_SAMPLE]->(s) SET f.own = (r.id = $own), f.group = r.group",
                   oid=overlay_id, rows=b, cat=CATEGORY["Sample"], own=own_sample, cohort=cohort_id).consume()
        n_nodes = sum(len(r) for r in inc.values())
        tx.run("MATCH (o:Overlay {id: $id}) SET o.n_nodes = $n, o.n_edges = $m, o.skipped = $skipped",
               id=overlay_id, n=n_nodes, m=n_edges, skipped=sorted(skip)).consume()
        top_pw = content["meta"].get("enrichment") or []
        if top_pw:  # queryable in Cypher: WHERE 'R-HSA-...' IN o.enriched_pathways
            tx.run("MATCH (o:Overlay {id: $id}) SET o.enriched_pathways = $ids, o.enriched_pathway_q = $q",
                   id=overlay_id, ids=[str(r["id"]) for r in top_pw],
                   q=[float(r["q"]) if _clean(r.get("q")) is not None else 1.0 for r in top_pw]).consume()
        return {"id": overlay_id, "kind": kind, "nodes": n_nodes, "edges": n_edges, "samples": len(sample_rows),
                "cohort": cohort_row["id"] if cohort_row else None, "skipped": sorted(skip),
                "replaced": bool(deleted["overlays"])}

    with driver.session(database=database) as s:
        return s.execute_write(work)


def list_overlays(driver, database: str = "neo4j", kind: str | None = None, cohort: str | None = None) -> list[dict]:
    """All overlays (newest first): id, kind, method, created_at, release, cohort, counts, params (dict)."""
    recs, _, _ = driver.execute_query(
        "MATCH (o:Overlay) WHERE $kind IS NULL OR o.kind = $kind "
        "OPTIONAL MATCH (o)-[:FOR_COHORT]->(c:Cohort) "
        "WITH o, c WHERE $cohort IS NULL OR c.id = $cohort OR c.name = $cohort "
        "RETURN o.id AS id, o.kind AS kind, o.method AS method, o.created_at AS created_at, o.release AS release, "
        "c.id AS cohort, o.n_nodes AS nodes, o.n_edges AS edges, "
        "COUNT { (o)-[:FOR_SAMPLE]->() } AS samples, o.params AS params "
        "ORDER BY o.created_at DESC, o.id",
        kind=kind, cohort=cohort, database_=database)
    out = []
    for r in recs:
        d = r.data()
        d["params"] = json.loads(d["params"]) if d["params"] else {}
        out.append(d)
    return out
