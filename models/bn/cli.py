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


ORIENTATION_CHOICES = ("auto", "samples-by-variables", "variables-by-samples")


def _load(matrix: Path, drop: list[str] | None = None, *, orientation: str = "auto", sample_ids=None,
          id_column: str | None = None, missing: str = "error", constant: str = "error"):
    """Every CLI read of a matrix: :func:`.data.load_matrix` (orientation, non-numeric cells, missing
    values, constant variables reported with file/row/column); a bad input is a clean error."""
    from .data import MatrixFormatError, load_matrix

    if orientation not in ORIENTATION_CHOICES:
        _fail(f"--orientation must be one of {', '.join(ORIENTATION_CHOICES)}, not {orientation!r}", code=2)
    try:
        return load_matrix(matrix, orientation=orientation, sample_ids=sample_ids, drop=list(drop or []) or None,
                           id_column=id_column, missing=missing, constant=constant)
    except (MatrixFormatError, FileNotFoundError, ValueError, OSError) as exc:
        _fail(str(exc), code=2)


def _load_options(run: dict) -> dict:
    """The reading options a `bn learn` run used (run.json), to re-read its matrix the same way."""
    o = {"orientation": run.get("orientation_option") or "auto", "id_column": run.get("id_column"),
         "missing": run.get("missing") or "error", "constant": run.get("constant") or "error"}
    resolved = run.get("orientation")  # what auto detection found at learn time: reuse it
    if o["orientation"] == "auto" and resolved in ("samples x variables", "variables x samples"):
        o["orientation"] = "samples-by-variables" if resolved.startswith("samples") else "variables-by-samples"
    return o


def _read_data(matrix: Path, drop: list[str], **options):
    """samples x variables DataFrame of a matrix, validated by load_matrix (options: see :func:`_load`)."""
    return _load(matrix, drop, **options).data


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
        try:
            gm = pd.read_csv(gene_map, sep="\t", header=None, dtype=str, comment="#")
        except (ValueError, OSError) as exc:
            _fail(f"{gene_map}: {exc}", code=2)
        if gm.shape[1] < 2 or gm[1].isna().any():
            _fail(f"{gene_map}: expected two tab-separated columns, variable<TAB>CURIE", code=2)
        sym = dict(zip(gm[0].str.strip(), gm[1].str.strip()))
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


def _learn_options_check(confidence, executor, missing, constant, mcmc_chains, mcmc_steps, mcmc_thin) -> dict:
    """Validate the `bn learn` options that api.learn passes on; -> extra keyword arguments for it."""
    if executor not in ("local", "process", "dask"):
        _fail(f"--executor must be local, process or dask, not {executor!r}", code=2)
    if missing not in ("error", "drop_variable", "drop_sample", "impute_median"):
        _fail(f"--missing must be error, drop_variable, drop_sample or impute_median, not {missing!r}", code=2)
    if constant not in ("error", "drop"):
        _fail(f"--constant must be error or drop, not {constant!r}", code=2)
    mc = {k: v for k, v in (("n_chains", mcmc_chains), ("n_steps", mcmc_steps), ("thin", mcmc_thin)) if v is not None}
    if mc and confidence != "mcmc":
        _fail("--mcmc-chains/--mcmc-steps/--mcmc-thin need --confidence mcmc", code=2)
    if any(v < 1 for v in mc.values()) or mc.get("n_chains", 2) < 2:
        _fail("--mcmc-chains must be >= 2 (R-hat needs several chains); steps and thin >= 1", code=2)
    if executor != "local" and confidence not in ("bootstrap", "nnsr"):
        err.print(f"[yellow]warning:[/] --executor {executor} is only used by --confidence bootstrap or nnsr")
    return {"mcmc": mc or None, "executor": executor}


def _print_diagnostics(meta: dict) -> None:
    """Convergence / confidence diagnostics that the network's meta holds; warn when R-hat > 1.1."""
    import math

    se = meta.get("search")
    if se and se.get("method") == "exact":
        console.print(f"search: exact (the highest-scoring DAG; {se.get('families_scored')} family scores)",
                      highlight=False)
    elif se and se.get("method") == "order":
        console.print(f"search: ordering-based from the hill-climbing DAG ({se.get('iterations')} node moves, "
                      f"{se.get('families_scored')} family scores)", highlight=False)
    ep = meta.get("exact_posterior")
    if ep:
        console.print(f"exact edge posteriors over all DAGs: log marginal likelihood {ep['log_marginal_likelihood']:.2f} "
                      f"(prior over node orders: {ep['prior_over_orders']})", highlight=False)
    mc = meta.get("mcmc")
    if mc:
        def f(x):
            return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3g}"

        console.print(f"MCMC: {mc.get('n_chains')} chains x {mc.get('n_steps')} steps; R-hat max {f(mc.get('rhat_max'))}, "
                      f"median {f(mc.get('rhat_median'))} over {mc.get('n_edge_indicators_varying')} varying edge "
                      f"indicators; ESS min {f(mc.get('ess_min'))}, median {f(mc.get('ess_median'))}; "
                      f"log-score R-hat {f(mc.get('logscore_rhat'))}", highlight=False)
        rmax = mc.get("rhat_max")
        if rmax is not None and not (isinstance(rmax, float) and math.isnan(rmax)) and rmax > 1.1:
            err.print(f"[yellow]warning:[/] MCMC not converged: max R-hat {rmax:.3g} > 1.1 "
                      f"({mc.get('frac_rhat_gt_1_1', 0):.0%} of edge indicators, {mc.get('n_edges_chains_disagree', 0)} "
                      "edges where chains disagree); edge posteriors are unreliable -- run more --mcmc-steps")
    if meta.get("bootstrap"):
        console.print(f"bootstrap: {meta['bootstrap'].get('n')} replicates (edge posterior = selection frequency)")
    if meta.get("nnsr"):
        o = meta["nnsr"]
        console.print(f"NNSR: {o.get('n_subsets')} subsets of {o.get('subset_size')} variables, mean coverage "
                      f"{o.get('mean_coverage', float('nan')):.2f}", highlight=False)
    if meta.get("prune"):
        o = meta["prune"]
        console.print(f"pruning (alpha {o['alpha']}): {o['edges_before']} -> {o['edges_after']} edges")


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
    confidence: str = typer.Option("bootstrap", help="none | bootstrap | mcmc | nnsr | exact (exact posterior edge "
                                   "probabilities over all DAGs, up to 20 variables)"),
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
    orientation: str = typer.Option("auto", help="auto | samples-by-variables | variables-by-samples. auto: the "
                                    "axis holding the --metadata sample ids, else the label shapes; refuses to guess."),
    id_column: str | None = typer.Option(None, help="Column holding the row labels (default: the first column; "
                                         "Parquet: the stored index, else a non-numeric first column)."),
    missing: str = typer.Option("error", help="Missing values: error | drop_variable | drop_sample | impute_median."),
    constant: str = typer.Option("error", help="Constant variables: error | drop."),
    k: int = typer.Option(10, "-k", "--k", help="Candidate parents per variable (screening)."),
    prune_alpha: float | None = typer.Option(None, help="CAM-style significance pruning of the learned DAG (e.g. 1e-3)."),
    search: str | None = typer.Option(None, help="hill_climb | order | exact. exact: the highest-scoring DAG by "
                                      "dynamic programming (up to 20 variables); order: ordering-based search started "
                                      "from hill climbing. Default: exact for bge/bic/bdeu on up to 15 variables and "
                                      "with --confidence exact, order for them above that, hill_climb for spline."),
    executor: str = typer.Option("local", help="Parallel backend for bootstrap/NNSR: local | process | dask."),
    n_workers: int | None = typer.Option(None, help="Workers of the process pool / local Dask cluster."),
    address: str | None = typer.Option(None, help="Address of a running Dask scheduler (tcp://host:8786)."),
    mcmc_chains: int | None = typer.Option(None, help="MCMC chains (--confidence mcmc; default 4)."),
    mcmc_steps: int | None = typer.Option(None, help="MCMC steps per chain (--confidence mcmc; default 20000)."),
    mcmc_thin: int | None = typer.Option(None, help="MCMC thinning (--confidence mcmc; default 10)."),
    aliases: bool = typer.Option(False, "--aliases", help="Also map variables through unique HGNC alias symbols "
                                 "(off: aliases turn clinical names such as SEX or ALT into genes)."),
    previous_symbols: bool = typer.Option(True, help="Map through unique previous HGNC symbols."),
    clinical: list[str] = typer.Option([], help="Variable(s) that are clinical items, never genes (repeatable)."),
    scale: str | None = typer.Option(None, help="Scale of the values: log2 | ln | log10 | linear. Recorded in run.json, "
                                                "so `bn simulate` converts fold changes correctly."),
):
    """Learn a network from a matrix and save it to <home>/bn/<run_id>."""
    from .api import learn
    from .data import load_metadata, map_variables, mapping_summary

    options = _learn_options_check(confidence, executor, missing, constant, mcmc_chains, mcmc_steps, mcmc_thin)
    sample_ids = None
    if metadata is not None:
        try:
            sample_ids = list(load_metadata(metadata, group_column=group_column).index)
        except (ValueError, OSError, KeyError) as exc:
            _fail(f"{metadata}: {exc}", code=2)
    lm = _load(matrix, drop, orientation=orientation, sample_ids=sample_ids, id_column=id_column, missing=missing,
               constant=constant)
    for line in lm.report:
        console.print(f"input: {line}", highlight=False)
    df = lm.data
    run_id = run_id or f"{matrix.stem}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}"
    folder = run_dir(run_id)
    sym, vocab = _gene_map(gene_map, vocabulary)
    info = map_variables([str(c) for c in df.columns], vocabulary=vocab, symbol_to_curie=sym,
                         previous=previous_symbols, aliases=aliases, clinical=clinical)
    routes = mapping_summary(info)
    console.print("variable mapping: " + ", ".join(f"{r} {n}" for r, n in routes.items()), highlight=False)
    priors = None
    if warehouse_priors:
        from .priors import warehouse_prior_edges

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
                    max_parents=max_parents, seed=seed, symbol_to_curie=sym, vocabulary=None,
                    prior_edges=priors.edges if priors else None, prior_weight=prior_weight, k=k,
                    prune_alpha=prune_alpha, n_workers=n_workers, address=address, scale=scale, search=search,
                    **options)
    except ValueError as exc:
        _fail(str(exc))
    except Exception as exc:  # executor/cluster failures (no scheduler at --address, ...)
        if executor == "local":
            raise
        _fail(f"learning with --executor {executor} failed: {type(exc).__name__}: {exc}")
    net.meta["input_report"] = lm.report
    net.variable_info = info  # with the mapping route of every variable
    if priors is not None:
        net.meta["warehouse_priors"] = {**priors.summary(), "weight": prior_weight, "text_mined": prior_text_mined}
    save_network(net, folder)
    info.to_csv(folder / "mapping.tsv", sep="\t", index=False)
    if priors is not None:  # which curated relationships informed the run, with their sources
        priors.support.assign(sources=priors.support["sources"].map("|".join)).to_csv(
            folder / "prior_edges.tsv", sep="\t", index=False)
    run = {"run_id": run_id, "matrix": str(matrix.resolve()), "drop": drop,
           "metadata": str(metadata.resolve()) if metadata else None, "group_column": group_column,
           "cohort": cohort or matrix.stem, "release": release,
           "warehouse_priors": net.meta.get("warehouse_priors"),
           "orientation": lm.orientation, "orientation_reason": lm.orientation_reason, "orientation_option": orientation,
           "id_column": id_column, "missing": missing, "constant": constant, "input_report": lm.report, "scale": scale,
           "mapping": {"routes": routes, "aliases": aliases, "previous_symbols": previous_symbols, "clinical": clinical}}
    (folder / "run.json").write_text(json.dumps(run, indent=1))
    console.print(f"network: {len(net.variables)} variables, {len(net.edges)} edges -> {folder}")
    _print_diagnostics(net.meta)
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
    enrichment: bool = typer.Option(True, "--enrichment/--no-enrichment",
                                    help="Pathway enrichment of the subnetwork against the warehouse's pathways "
                                         "(Gene-[:PARTICIPATES_IN]->Pathway), or the --gmt file."),
    gmt: Path | None = typer.Option(None, exists=True, dir_okay=False,
                                    help="Gene sets from this GMT file (symbols or CURIEs) instead of the warehouse."),
    reference: str | None = typer.Option(None, help="Per-sample contrasts against this group (contrast_<GROUP>.tsv); "
                                                    "needed by --samples and --common."),
    samples: str | None = typer.Option(None, help="Comma-separated raw sample ids of the run: one sample_subnetwork "
                                                  "overlay each (top --top edges by |contrast|)."),
    common: str | None = typer.Option(None, help="Group whose common subnetwork is written (edges in the per-sample "
                                                 "top --top of >= --min-fraction of its samples) + containment TSV."),
    min_fraction: float = typer.Option(0.5, help="--common: fraction of the group's samples that must select an edge."),
    contain_threshold: float = typer.Option(1.0, help="--common: a sample contains a component when it selects at "
                                                      "least this fraction of the component's selected edges."),
):
    """Delta ECv between two groups -> delta_ecv_subnetwork overlay (and ecv.tsv in the run folder).

    The network is refitted on all samples of the run (pooled); the two groups are then compared.
    With --enrichment (default) the top pathways are stored on the overlay (params.enrichment,
    o.enriched_pathways) and in enrichment_<A>_vs_<B>.tsv; the universe is every measured variable
    mapped to a gene.

    With --reference R, per-sample contrasts against group R are computed as well; --samples writes
    one sample_subnetwork overlay per sample (<run>-sample-<pseudonym hex>, linked only to its own,
    pseudonymised sample); --common G writes G's common subnetwork as a delta_ecv_subnetwork overlay
    (<run>-common-<G>, method bn:common_subnetwork, params.common = true) and
    containment_<G>.tsv (one row per sample outside G: which components it contains)."""
    from .api import ecv
    from .subnet import (
        delta_subnetwork,
        gmt_gene_sets,
        measured_universe,
        warehouse_gene_sets,
    )

    folder, run, net = _load_run(run_id)
    df = _read_data(Path(run["matrix"]), run.get("drop") or [], **_load_options(run))
    groups = _groups(run, list(df.index))
    if groups is None:
        _fail(f"run {run_id!r} has no metadata: learn it with --metadata/--group-column")
    for g in (group_a, group_b, reference, common):
        if g is not None and not (groups == g).any():
            _fail(f"no sample has group {g!r} (groups: {sorted(set(groups))})")
    chosen = _contrast_options_check(reference, samples, common, min_fraction, contain_threshold, list(df.index))
    gene_sets, names, universe, source = None, None, None, None
    if enrichment or gmt is not None:
        from .data import map_variables

        info = net.variable_info if net.variable_info is not None else map_variables(list(net.variables))
        if gmt is not None:
            gene_sets, names = gmt_gene_sets(gmt, info, net.variables)
            source = gmt.name
        else:
            gene_sets, names = warehouse_gene_sets(_driver(), get_settings().neo4j_database, info)
            source = "warehouse"
        universe = measured_universe(net.variables, info)
        if not gene_sets:
            console.print(f"enrichment: no gene set ({source}) contains a variable of the network; skipped")
            gene_sets = None
    try:  # fitted on the pooled samples of the run; Delta ECv compares A and B (other labels are ignored)
        res = ecv(net, df, groups=groups.to_numpy(), group_a=group_a, group_b=group_b,
                  n_permutations=n_permutations, seed=seed, contrast_reference=reference)
        sub = delta_subnetwork(res, net.edges[["source", "target"]], top=top, max_q=max_q, gene_sets=gene_sets,
                               universe=universe, gene_set_names=names)
    except ValueError as exc:
        _fail(str(exc))
    res.to_frame().to_csv(folder / f"ecv_{group_a}_vs_{group_b}.tsv", sep="\t", index=False)
    sub.to_frame().to_csv(folder / f"subnetwork_{group_a}_vs_{group_b}.tsv", sep="\t", index=False)
    console.print(f"Delta ECv ({len(df)} pooled samples): {len(res.edges)} edges, subnetwork {len(sub.edges)} edges "
                  f"({sub.meta['n_selected']} selected)")
    if sub.enrichment is not None:
        sub.enrichment.to_csv(folder / f"enrichment_{group_a}_vs_{group_b}.tsv", sep="\t", index=False)
        best = sub.enrichment.head(3)
        console.print(f"enrichment ({source}, {len(gene_sets)} gene sets, universe {sub.meta.get('enrichment_universe')}): "
                      + ("; ".join(f"{r.get('name', r['gene_set'])} q={r['qvalue']:.3g}" for _, r in best.iterrows())
                         or "no testable gene set"), highlight=False)
    if write:
        oid = overlay_id or re.sub(r"[^A-Za-z0-9_.:@+-]", "_", f"{run_id}-delta-{group_a}-vs-{group_b}")
        _write(sub, "delta_ecv_subnetwork", oid, run, net, samples=groups, ecv_result=res,
               params={"run_id": run_id, "top": top, "max_q": max_q, "n_permutations": n_permutations,
                       "pooled_samples": len(df), "enrichment_source": source if sub.enrichment is not None else None})
        _print_subnetwork(sub, "delta", "delta")
    if reference is not None:
        _contrasts(res, net, run, run_id, folder, reference=reference, samples=chosen, common=common, top=top,
                   min_fraction=min_fraction, contain_threshold=contain_threshold, n_pooled=len(df), write=write)


def _contrast_options_check(reference, samples, common, min_fraction, contain_threshold, run_samples) -> list | None:
    """Validate `bn ecv --reference/--samples/--common`; -> the raw sample ids of --samples (or None)."""
    if (samples or common) and reference is None:
        _fail("--samples and --common need per-sample contrasts: give --reference GROUP", code=2)
    if not 0 < min_fraction <= 1 or not 0 < contain_threshold <= 1:
        _fail("--min-fraction and --contain-threshold must be in (0, 1]", code=2)
    if not samples:
        return None
    chosen = list(dict.fromkeys(s.strip() for s in samples.split(",") if s.strip()))
    known = set(map(str, run_samples))
    absent = [s for s in chosen if s not in known]
    if absent or not chosen:
        _fail(f"--samples: not sample(s) of the run: {absent[:5] or samples!r}", code=2)
    return chosen


def _pseudonymiser(run: dict):
    """raw sample id -> its pseudonym, exactly as write_overlay computes it (same key, same cohort id)."""
    from .overlay import _cohort_row, pseudonym_key, pseudonymise

    row, key = _cohort_row(run.get("cohort")), pseudonym_key()
    return lambda s: pseudonymise(str(s), key, row["id"] if row else None)


def _print_subnetwork(sub, label: str, value: str | None = None, n: int = 3) -> None:
    """One readable line: selected / linker edges, components and the strongest selected edges."""
    sel = sub.edges[sub.edges["selected"].astype(bool)] if "selected" in sub.edges.columns else sub.edges
    line = (f"  {label}: {len(sel)} selected + {len(sub.edges) - len(sel)} linker edges, {len(sub.components)} "
            f"component(s) of sizes {[len(c) for c in sub.components][:6]}")
    if value and value in sel.columns and len(sel):
        best = sel.loc[sel[value].abs().sort_values(ascending=False).index].head(n)
        line += "; strongest: " + ", ".join(f"{r['source']}->{r['target']} ({value} {r[value]:+.3g})"
                                            for _, r in best.iterrows())
    console.print(line, highlight=False)


def _containment_table(sub, res, group: str, pseud) -> tuple:
    """Wide containment table (one row per sample outside ``group``) and the per-component summary."""
    import numpy as np
    import pandas as pd

    g = np.asarray(res.groups, dtype=object).astype(str)
    long = sub.containment if sub.containment is not None else pd.DataFrame(columns=["sample", "component"])
    comps = sorted(int(c) for c in set(long["component"]))
    by_sample = {s: d for s, d in long.groupby("sample")} if len(long) else {}
    rows = []
    for i, s in enumerate(res.samples):
        if g[i] == group:
            continue
        d = by_sample.get(s)
        frac = dict(zip(d["component"], d["fraction"])) if d is not None else {}
        inside = [c for c in comps if d is not None and bool(d.loc[d["component"] == c, "contained"].any())]
        rows.append({"sample": s, "pseudonym": pseud(s), "group": g[i], "n_components": len(comps),
                     "n_contained": len(inside), "contained_components": ",".join(map(str, inside)),
                     **{f"fraction_component_{c}": float(frac.get(c, 0.0)) for c in comps}})
    table = pd.DataFrame(rows)
    summary = []
    for c in comps:
        d = long[long["component"] == c]
        summary.append({"component": c, "n_nodes": len(sub.components[c]), "n_selected_edges": int(d["n_edges"].iloc[0]),
                        "fraction_of_other_samples_containing": float(d["contained"].astype(bool).mean()),
                        "mean_edge_fraction": float(d["fraction"].mean()),
                        "containing_by_group": {str(k): float(v) for k, v in
                                                d.groupby("group")["contained"].apply(lambda x: x.astype(bool).mean()).items()}})
    return table, summary


def _contrasts(res, net, run: dict, run_id: str, folder: Path, *, reference: str, samples, common, top: float,
               min_fraction: float, contain_threshold: float, n_pooled: int, write: bool) -> None:
    """`bn ecv --reference`: contrast TSV; --samples: sample_subnetwork overlays; --common: common subnetwork."""
    import numpy as np
    import pandas as pd

    from .subnet import common_subnetwork, sample_subnetworks

    basal = net.edges[["source", "target"]]
    wide = pd.DataFrame(res.contrast, columns=res.samples)
    pd.concat([res.edges[["source", "target"]].reset_index(drop=True), wide], axis=1).to_csv(
        folder / f"contrast_{reference}.tsv", sep="\t", index=False)
    console.print(f"per-sample contrasts vs {reference!r} ({int((np.asarray(res.groups) == reference).sum())} reference "
                  f"samples, leave-one-out for their own): contrast_{reference}.tsv", highlight=False)
    pseud = _pseudonymiser(run) if (samples or common) else None
    base = {"run_id": run_id, "reference": reference, "top": top, "pooled_samples": n_pooled,
            "network": res.meta.get("network")}
    if samples:
        try:
            subs = sample_subnetworks(res, basal, top=top, samples=samples)
        except ValueError as exc:
            _fail(str(exc))
        for sub in subs:
            raw = sub.name[len("sample:"):]
            pid = pseud(raw)
            oid = f"{run_id}-sample-{pid.split(':', 1)[1]}"
            grp = str(res.groups[res.samples.index(raw)])
            if write:  # linked only to its own sample (pseudonymised by write_overlay)
                _write(sub, "sample_subnetwork", oid, run, net, ecv_result=res,
                       params={**base, "sample": pid, "sample_group": grp})
            _print_subnetwork(sub, f"sample {pid} ({grp})", "contrast")
    if common:
        try:
            sub = common_subnetwork(res, basal, common, top=top, min_fraction=min_fraction,
                                    contain_threshold=contain_threshold)
        except ValueError as exc:
            _fail(str(exc))
        table, summary = _containment_table(sub, res, common, pseud)
        path = folder / f"containment_{common}.tsv"
        table.to_csv(path, sep="\t", index=False)
        n_in = int((np.asarray(res.groups).astype(str) == common).sum())
        if write:
            oid = re.sub(r"[^A-Za-z0-9_.:@+-]", "_", f"{run_id}-common-{common}")
            _write(sub, "delta_ecv_subnetwork", oid, run, net, samples=pd.Series(np.asarray(res.groups), index=res.samples),
                   method="bn:common_subnetwork",
                   params={**base, "common": True, "common_group": common, "min_fraction": min_fraction,
                           "contain_threshold": contain_threshold, "n_group_samples": n_in,
                           "n_other_samples": len(table), "containment": summary})
        _print_subnetwork(sub, f"common {common} (>= {min_fraction:.0%} of {n_in} samples)", None)
        console.print(f"containment ({len(table)} samples outside {common!r}) -> {path.name}", highlight=False)
        for s in summary:
            by = ", ".join(f"{k} {v:.0%}" for k, v in sorted(s["containing_by_group"].items()))
            console.print(f"  component {s['component']} ({s['n_nodes']} nodes, {s['n_selected_edges']} selected edges): "
                          f"contained by {s['fraction_of_other_samples_containing']:.0%} of the other samples ({by}); "
                          f"mean fraction of its edges selected {s['mean_edge_fraction']:.2f}",
                          highlight=False)


@bn_app.command("simulate")
def simulate_cmd(
    run_id: str = typer.Argument(..., help="A run of `bn learn`."),
    target: str = typer.Option(..., help="Variable to knock down."),
    log_fold_change: float | None = typer.Option(None, help="log2 fold change (e.g. -1 = half), converted with --scale. "
                                                           "Default when no level is given: -1 (stated on the console)."),
    fold_change: float | None = typer.Option(None, help="Fold change as a ratio (e.g. 0.5), converted with --scale."),
    value: float | None = typer.Option(None, help="Level in data units (no conversion)."),
    knockout: bool = typer.Option(False, help="Level 0 in data units."),
    scale: str | None = typer.Option(None, help="Scale of the data: log2 | ln | log10 | linear (default: run.json's "
                                                "'scale', else the network's, else log2 -- stated on the console)."),
    method: str = typer.Option("sample", help="sample (ancestral sampling) | closed_form (linear-Gaussian fast path)."),
    n_draws: int = typer.Option(200),
    n_param_draws: int | None = typer.Option(None, help="Parameter draws per DAG (default: >= 200 replicates in all)."),
    seed: int = typer.Option(0),
    overlay_id: str | None = typer.Option(None, help="Overlay id (default: <run_id>-kd-<target>)."),
    write: bool = typer.Option(True, help="Write the knockdown_simulation overlay to Neo4j."),
):
    """Knockdown of one variable -> knockdown_simulation overlay (and knockdown_<target>.tsv)."""
    import warnings

    from .api import simulate
    from .intervention import SCALES

    if method not in ("sample", "closed_form"):
        _fail(f"--method must be sample or closed_form, not {method!r}")
    if log_fold_change is None and fold_change is None and value is None and not knockout:
        log_fold_change = -1.0
        err.print("[yellow]warning:[/] no knockdown level given (--log-fold-change / --fold-change / --value / "
                  "--knockout): using the default --log-fold-change -1 (half the mean expression)")
    folder, run, net = _load_run(run_id)
    recorded = run.get("scale") or (net.meta or {}).get("scale")
    if scale is None:
        scale = recorded or "log2"
        source = "recorded in the run" if recorded else "ASSUMED (no scale recorded in run.json; pass --scale)"
    else:
        source = "from --scale" + (f" (the run records {recorded!r})" if recorded and recorded != scale else "")
    if scale not in SCALES:
        _fail(f"--scale must be one of {', '.join(SCALES)}, not {scale!r}")
    if fold_change is not None or log_fold_change is not None:
        err.print(f"data scale: {scale} ({source}); "
                  + ("fold changes multiply the mean" if scale == "linear" else
                     f"fold changes are added to the mean as {scale} differences"), highlight=False)
    if knockout and scale != "linear":
        err.print(f"[yellow]warning:[/] --knockout sets the level 0 in data units, which on {scale} data is "
                  "expression 1, not absence", highlight=False)
    df = _read_data(Path(run["matrix"]), run.get("drop") or [], **_load_options(run))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            kd = simulate(net, df, target=target, log_fold_change=log_fold_change, fold_change=fold_change, value=value,
                          knockout=knockout, n_draws=n_draws, seed=seed, method=method, n_param_draws=n_param_draws,
                          scale=scale)
    except ValueError as exc:
        _fail(str(exc))
    for w in caught:
        err.print(f"[yellow]warning:[/] {w.message}", highlight=False)
    kd.to_frame().to_csv(folder / f"knockdown_{target}.tsv", sep="\t", index=False)
    lv = kd.meta.get("level", {})
    console.print(f"knockdown of {target}: level {lv.get('level', kd.targets.get(target)):.4g} in data units "
                  f"(target mean {lv.get('target_mean', float('nan')):.4g}); {int((kd.p_down >= 0.5).sum())} variables "
                  f"down, {int((kd.p_up >= 0.5).sum())} up (P >= 0.5, {kd.n_dags} DAGs x {kd.n_param_draws} parameter "
                  f"draws, Monte Carlo s.e. of P <= {kd.meta.get('p_mcse_max', float('nan')):.3f})", highlight=False)
    nd = kd.meta.get("network", {})
    if nd.get("mcmc"):
        mc = nd["mcmc"]
        console.print(f"network MCMC: R-hat max {mc.get('rhat_max')}, median {mc.get('rhat_median')}, "
                      f"ESS min {mc.get('ess_min')}, median {mc.get('ess_median')}", highlight=False)
    if nd.get("warnings"):
        err.print(f"[yellow]warning:[/] {nd['warnings']}", highlight=False)
    if write:
        oid = overlay_id or re.sub(r"[^A-Za-z0-9_.:@+-]", "_", f"{run_id}-kd-{target}")
        samples = _groups(run, list(df.index)) if run.get("metadata") else list(df.index)
        _write(kd, "knockdown_simulation", oid, run, net, samples=samples,
               params={"run_id": run_id, "target": target, "log_fold_change": log_fold_change, "fold_change": fold_change,
                       "value": value, "knockout": knockout, "n_draws": n_draws, "seed": seed, "scale": scale,
                       "scale_source": source, "method": method, "n_param_draws": kd.n_param_draws})


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
