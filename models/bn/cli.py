"""`targetkg bn ...`: learn networks, Delta ECv subnetworks and knockdown simulations, write them as overlays.

    targetkg bn learn expr.csv --metadata labels.tsv --group-column condition --drop condition \
        --cohort GSE10072 --run-id gse10072 --write-overlay
    targetkg bn ecv gse10072 --group-a tumor --group-b non-tumor --top 0.2
    targetkg bn simulate gse10072 --target PER1 --log-fold-change -1
    targetkg bn overlay list
    targetkg bn overlay delete gse10072-delta

A run folder ``<TARGETKG_HOME>/bn/<run_id>/`` keeps the network (network.json + edges.tsv +
variables.tsv) and the inputs' paths (run.json), so ``ecv`` and ``simulate`` only need the run id.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from targetkg.settings import get_settings

from .priors import DEFAULT_PRIOR_TYPES

bn_app = typer.Typer(no_args_is_help=True, help="Bayesian networks: learn, Delta ECv, knockdown simulation, overlays.")
overlay_app = typer.Typer(no_args_is_help=True, help="Overlays in Neo4j: list, delete.")
bn_app.add_typer(overlay_app, name="overlay")
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


# ------------------------------------------------------------------------------ run folders
def run_dir(run_id: str) -> Path:
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", run_id):
        _fail(f"invalid run id {run_id!r} (letters, digits, _ . - only)")
    return get_settings().home / "bn" / run_id


def _json_default(o):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def save_network(net, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    net.edges.to_csv(folder / "edges.tsv", sep="\t", index=False)
    if net.variable_info is not None:
        net.variable_info.to_csv(folder / "variables.tsv", sep="\t", index=False)
    doc = {"variables": net.variables, "parents": [list(map(int, p)) for p in net.parents], "score": net.score,
           "meta": net.meta, "samples": [[list(map(int, p)) for p in dag] for dag in net.samples] if net.samples else None}
    (folder / "network.json").write_text(json.dumps(doc, default=_json_default, indent=1))


def load_network(folder: Path):
    import pandas as pd

    from .results import Network

    doc = json.loads((folder / "network.json").read_text())
    edges = pd.read_csv(folder / "edges.tsv", sep="\t", dtype={"source": str, "target": str})
    vi = pd.read_csv(folder / "variables.tsv", sep="\t", dtype=str) if (folder / "variables.tsv").exists() else None
    return Network(variables=doc["variables"], edges=edges, parents=doc["parents"], score=doc["score"], meta=doc["meta"],
                   samples=doc["samples"], variable_info=vi)


def _read_data(matrix: Path, drop: list[str]):
    import pandas as pd

    from .data import load_matrix

    if not drop:
        return load_matrix(matrix).data
    sep = "," if matrix.suffix.lower() == ".csv" else "\t"
    df = pd.read_csv(matrix, sep=sep, index_col=0)
    missing = [c for c in drop if c not in df.columns]
    if missing:
        _fail(f"{matrix}: no column(s) {missing} to drop")
    df = df.drop(columns=drop)
    df.index = df.index.astype(str)
    return df.astype(float)


def _groups(run: dict, samples: list[str]):
    from .data import load_metadata

    if not run.get("metadata"):
        return None
    md = load_metadata(run["metadata"], group_column=run.get("group_column"))
    col = run.get("group_column") or md.columns[0]
    absent = [s for s in samples if s not in md.index]
    if absent:
        _fail(f"{run['metadata']}: no metadata for sample(s) {absent[:5]}")
    return md.loc[samples, col].astype(str)


def _gene_map(gene_map: Path | None, vocabulary: bool):
    import pandas as pd

    sym = None
    if gene_map is not None:
        gm = pd.read_csv(gene_map, sep="\t", header=None, dtype=str, comment="#")
        sym = dict(zip(gm[0], gm[1]))
    vocab = None
    if vocabulary:
        try:
            from targetkg.ingest.identifiers import GeneVocabulary
            from targetkg.ingest.vocab import hgnc_table

            vocab = GeneVocabulary.from_tsv(hgnc_table(get_settings()))
        except Exception as exc:  # noqa: BLE001 -- no vocabulary: genes need CURIE names or --gene-map
            err.print(f"[yellow]warning:[/] no HGNC vocabulary ({exc}); genes are mapped by --gene-map / CURIE names only")
    return sym, vocab


def _driver():
    from targetkg.graph.connection import Neo4jUnavailable, driver

    try:
        return driver(get_settings())
    except Neo4jUnavailable as exc:
        _fail(str(exc))


def _write(result, kind: str, overlay_id: str, run: dict, net, **kw) -> None:
    from .overlay import OverlayError, write_overlay

    s = get_settings()
    try:
        summary = write_overlay(_driver(), s.neo4j_database, result, kind, overlay_id, cohort=run.get("cohort"),
                                release=run.get("release"), network=net, **kw)
    except OverlayError as exc:
        _fail(str(exc))
    console.print(f"overlay [bold]{summary['id']}[/] ({kind}): {summary['nodes']} nodes, {summary['edges']} edges, "
                  f"{summary['samples']} samples" + (" (replaced)" if summary["replaced"] else ""))


def _load_run(run_id: str):
    folder = run_dir(run_id)
    if not (folder / "run.json").exists():
        _fail(f"no run {run_id!r} in {folder.parent} (run `targetkg bn learn ... --run-id {run_id}` first)")
    run = json.loads((folder / "run.json").read_text())
    return folder, run, load_network(folder)


# ------------------------------------------------------------------------------ commands
@bn_app.command("learn")
def learn_cmd(
    matrix: Path = typer.Argument(..., exists=True, dir_okay=False, help="Expression matrix (TSV/CSV/Parquet)."),
    metadata: Path | None = typer.Option(None, exists=True, dir_okay=False, help="Sample metadata (first column: sample id)."),
    group_column: str | None = typer.Option(None, help="Metadata column with the group label."),
    drop: list[str] = typer.Option([], help="Non-numeric matrix column(s) to ignore (repeatable), e.g. condition."),
    run_id: str | None = typer.Option(None, help="Run folder name (default: <matrix stem>-<UTC time>)."),
    cohort: str | None = typer.Option(None, help="Cohort name for the overlays (default: the matrix stem)."),
    score: str = typer.Option("bge", help="bge | bic | spline | bdeu"),
    screening: str = typer.Option("correlation", help="correlation | mi | trees | none"),
    confidence: str = typer.Option("bootstrap", help="none | bootstrap | mcmc | nnsr"),
    n_bootstrap: int = typer.Option(20),
    max_parents: int = typer.Option(5),
    seed: int = typer.Option(0),
    gene_map: Path | None = typer.Option(None, exists=True, dir_okay=False, help="TSV: variable<TAB>CURIE."),
    vocabulary: bool = typer.Option(True, help="Map gene symbols with the HGNC vocabulary."),
    write_overlay_: bool = typer.Option(False, "--write-overlay", help="Write the basal network as an overlay."),
    overlay_id: str | None = typer.Option(None, help="Overlay id (default: <run_id>-basal)."),
    release: str | None = typer.Option(None, help="Release stamped on the overlay."),
    warehouse_priors: bool = typer.Option(False, "--warehouse-priors",
                                          help="Soft priors: the warehouse's curated relationships between the variables' genes."),
    prior_types: str = typer.Option(",".join(DEFAULT_PRIOR_TYPES), help="Relationship types used as priors (comma-separated)."),
    prior_weight: float = typer.Option(2.0, help="Score bonus (nats) per prior edge."),
    prior_text_mined: bool = typer.Option(False, "--prior-text-mined", help="Also text-mined edges as priors."),
):
    """Learn a network from a matrix and save it to <home>/bn/<run_id>."""
    from .api import learn
    from .data import map_variables

    df = _read_data(matrix, drop)
    run_id = run_id or f"{matrix.stem}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}"
    folder = run_dir(run_id)
    sym, vocab = _gene_map(gene_map, vocabulary)
    priors = None
    if warehouse_priors:
        from .priors import warehouse_prior_edges

        info = map_variables([str(c) for c in df.columns], vocabulary=vocab, symbol_to_curie=sym)
        try:
            priors = warehouse_prior_edges(_driver(), get_settings().neo4j_database, info, prior_types.split(","),
                                           text_mined=prior_text_mined)
        except ValueError as exc:
            _fail(str(exc))
        summary = priors.summary()
        console.print(f"warehouse priors: {summary['prior_edges']} prior edges among {summary['genes']} genes "
                      f"({summary['relationships_by_type'] or 'no relationships of ' + ', '.join(summary['types'])})")
    try:
        net = learn(df, score=score, screening=screening, confidence=confidence, n_bootstrap=n_bootstrap,
                    max_parents=max_parents, seed=seed, symbol_to_curie=sym, vocabulary=vocab,
                    prior_edges=priors.edges if priors else None, prior_weight=prior_weight)
    except ValueError as exc:
        _fail(str(exc))
    if priors is not None:
        net.meta["warehouse_priors"] = {**priors.summary(), "weight": prior_weight, "text_mined": prior_text_mined}
    save_network(net, folder)
    if priors is not None:  # which curated relationships informed the run, with their sources
        priors.support.assign(sources=priors.support["sources"].map("|".join)).to_csv(
            folder / "prior_edges.tsv", sep="\t", index=False)
    run = {"run_id": run_id, "matrix": str(matrix.resolve()), "drop": drop,
           "metadata": str(metadata.resolve()) if metadata else None, "group_column": group_column,
           "cohort": cohort or matrix.stem, "release": release,
           "warehouse_priors": net.meta.get("warehouse_priors")}
    (folder / "run.json").write_text(json.dumps(run, indent=1))
    console.print(f"network: {len(net.variables)} variables, {len(net.edges)} edges -> {folder}")
    if write_overlay_:
        samples = _groups(run, list(df.index)) if metadata else list(df.index)
        _write(net, "basal_network", overlay_id or f"{run_id}-basal", run, net, samples=samples)


@bn_app.command("ecv")
def ecv_cmd(
    run_id: str = typer.Argument(..., help="A run of `bn learn`."),
    group_a: str = typer.Option(..., help="Group label A (e.g. tumor)."),
    group_b: str = typer.Option(..., help="Group label B (e.g. non-tumor)."),
    top: float = typer.Option(0.05, help="Fraction of edges kept by Delta ECv."),
    max_q: float | None = typer.Option(None, help="Also require q <= this."),
    n_permutations: int = typer.Option(1000),
    seed: int = typer.Option(0),
    overlay_id: str | None = typer.Option(None, help="Overlay id (default: <run_id>-delta-<A>-vs-<B>)."),
    write: bool = typer.Option(True, help="Write the subnetwork overlay to Neo4j."),
):
    """Delta ECv between two groups -> delta_ecv_subnetwork overlay (and ecv.tsv in the run folder)."""
    from .api import ecv, subnetworks

    folder, run, net = _load_run(run_id)
    df = _read_data(Path(run["matrix"]), run.get("drop") or [])
    groups = _groups(run, list(df.index))
    if groups is None:
        _fail(f"run {run_id!r} has no metadata: learn it with --metadata/--group-column")
    keep = groups.isin([group_a, group_b]).to_numpy()
    if not keep.any():
        _fail(f"no sample has group {group_a!r} or {group_b!r} (groups: {sorted(set(groups))})")
    df, groups = df[keep], groups[keep]
    try:
        res = ecv(net, df, groups=groups.to_numpy(), group_a=group_a, group_b=group_b,
                  n_permutations=n_permutations, seed=seed)
        sub = subnetworks(res, net, mode="delta", top=top, max_q=max_q)
    except ValueError as exc:
        _fail(str(exc))
    res.to_frame().to_csv(folder / f"ecv_{group_a}_vs_{group_b}.tsv", sep="\t", index=False)
    sub.to_frame().to_csv(folder / f"subnetwork_{group_a}_vs_{group_b}.tsv", sep="\t", index=False)
    console.print(f"Delta ECv: {len(res.edges)} edges, subnetwork {len(sub.edges)} edges ({sub.meta['n_selected']} selected)")
    if write:
        oid = overlay_id or re.sub(r"[^A-Za-z0-9_.:@+-]", "_", f"{run_id}-delta-{group_a}-vs-{group_b}")
        _write(sub, "delta_ecv_subnetwork", oid, run, net, samples=groups, ecv_result=res,
               params={"run_id": run_id, "top": top, "max_q": max_q, "n_permutations": n_permutations})


@bn_app.command("simulate")
def simulate_cmd(
    run_id: str = typer.Argument(..., help="A run of `bn learn`."),
    target: str = typer.Option(..., help="Variable to knock down."),
    log_fold_change: float | None = typer.Option(None, help="log2 fold change (e.g. -1)."),
    fold_change: float | None = typer.Option(None),
    value: float | None = typer.Option(None, help="Level in data units."),
    knockout: bool = typer.Option(False),
    n_draws: int = typer.Option(200),
    seed: int = typer.Option(0),
    overlay_id: str | None = typer.Option(None, help="Overlay id (default: <run_id>-kd-<target>)."),
    write: bool = typer.Option(True, help="Write the knockdown_simulation overlay to Neo4j."),
):
    """Knockdown of one variable -> knockdown_simulation overlay (and knockdown_<target>.tsv)."""
    from .api import simulate

    if log_fold_change is None and fold_change is None and value is None and not knockout:
        log_fold_change = -1.0
    folder, run, net = _load_run(run_id)
    df = _read_data(Path(run["matrix"]), run.get("drop") or [])
    try:
        kd = simulate(net, df, target=target, log_fold_change=log_fold_change, fold_change=fold_change, value=value,
                      knockout=knockout, n_draws=n_draws, seed=seed)
    except ValueError as exc:
        _fail(str(exc))
    kd.to_frame().to_csv(folder / f"knockdown_{target}.tsv", sep="\t", index=False)
    console.print(f"knockdown of {target}: {int((kd.p_down >= 0.5).sum())} variables down, {int((kd.p_up >= 0.5).sum())} up "
                  f"(P >= 0.5, {kd.n_dags} DAGs)")
    if write:
        oid = overlay_id or re.sub(r"[^A-Za-z0-9_.:@+-]", "_", f"{run_id}-kd-{target}")
        samples = _groups(run, list(df.index)) if run.get("metadata") else list(df.index)
        _write(kd, "knockdown_simulation", oid, run, net, samples=samples,
               params={"run_id": run_id, "target": target, "log_fold_change": log_fold_change, "fold_change": fold_change,
                       "value": value, "knockout": knockout, "n_draws": n_draws, "seed": seed})


@overlay_app.command("list")
def overlay_list(kind: str | None = typer.Option(None, help="Only this kind."),
                 cohort: str | None = typer.Option(None, help="Only this cohort (id or name)."),
                 as_json: bool = typer.Option(False, "--json", help="Print JSON.")):
    """List the overlays in the graph."""
    from .overlay import list_overlays

    rows = list_overlays(_driver(), get_settings().neo4j_database, kind=kind, cohort=cohort)
    if as_json:
        print(json.dumps(rows, indent=1, default=str))
        return
    t = Table("id", "kind", "method", "cohort", "nodes", "edges", "samples", "created_at", "release")
    for r in rows:
        t.add_row(*(str(r[k]) if r[k] is not None else "" for k in
                    ("id", "kind", "method", "cohort", "nodes", "edges", "samples", "created_at", "release")))
    console.print(t)


@overlay_app.command("delete")
def overlay_delete(overlay_id: str = typer.Argument(..., help="Overlay id.")):
    """Delete one overlay (only its own nodes and edges)."""
    from .overlay import delete_overlay

    res = delete_overlay(_driver(), get_settings().neo4j_database, overlay_id)
    if not res["overlays"]:
        _fail(f"no overlay {overlay_id!r}")
    console.print(f"deleted overlay {overlay_id}: {res['edges']} edges, {res['orphan_nodes']} unused nodes")
