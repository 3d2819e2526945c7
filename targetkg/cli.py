"""The `targetkg` command line (typer)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from targetkg.settings import get_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="TargetKG: a Neo4j warehouse for drug-target discovery.")
neo4j_app = typer.Typer(no_args_is_help=True, help="Run the managed Neo4j server (ignored when NEO4J_URI is set).")
app.add_typer(neo4j_app, name="neo4j")
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def _server():
    from targetkg.graph.server import ManagedNeo4j

    return ManagedNeo4j(get_settings())


def _external_note() -> bool:
    s = get_settings()
    if not s.managed:
        console.print(f"NEO4J_URI is set: using the server at [bold]{s.neo4j_uri}[/] (nothing to manage here).")
        return True
    return False


# ---------------------------------------------------------------------------------- neo4j
@neo4j_app.command("install")
def neo4j_install(force: bool = typer.Option(False, help="Re-fetch the jars even if cached.")):
    """Fetch Neo4j Community, Browser and APOC from Maven Central into the cache."""
    from targetkg.graph.server import ServerError

    try:
        runtime = _server().install(force=force, echo=console.print)
    except ServerError as exc:
        fail(str(exc))
    console.print(f"Neo4j runtime ready in {runtime}")


@neo4j_app.command("start")
def neo4j_start():
    """Start the managed server and wait until a Cypher query answers."""
    if _external_note():
        from targetkg.graph.connection import Neo4jUnavailable, driver

        try:
            driver()
        except Neo4jUnavailable as exc:
            fail(str(exc))
        console.print("It answers.")
        return
    from targetkg.graph.server import ServerError

    srv = _server()
    try:
        res = srv.start(echo=console.print)
    except ServerError as exc:
        fail(str(exc))
    s = get_settings()
    if res.already_running:
        console.print(f"Neo4j is already running (pid {res.pid}) at bolt://{s.listen_address}:{s.bolt_port}; nothing to do.")
    else:
        console.print(
            f"Neo4j {s.neo4j_version} started in {res.seconds:.1f}s (pid {res.pid}): "
            f"bolt://{s.listen_address}:{s.bolt_port}, Browser {s.http_url}/browser/"
        )


@neo4j_app.command("stop")
def neo4j_stop():
    """Stop the managed server cleanly."""
    if _external_note():
        return
    console.print(_server().stop())


@neo4j_app.command("status")
def neo4j_status(as_json: bool = typer.Option(False, "--json", help="Print JSON.")):
    """Show whether the server runs, where, and its credentials."""
    s = get_settings()
    if not s.managed:
        info = {"managed": False, "uri": s.neo4j_uri, "user": s.neo4j_user, "database": s.neo4j_database}
        from targetkg.graph.connection import Neo4jUnavailable, driver

        try:
            driver()
            info["running"] = True
        except Neo4jUnavailable as exc:
            info["running"] = False
            info["problem"] = str(exc)
    else:
        info = _server().status()
    if as_json:
        print(json.dumps(info, indent=2))
        return
    for k, v in info.items():
        console.print(f"{k:>14}: {v}", highlight=False)


@neo4j_app.command("logs")
def neo4j_logs(lines: int = typer.Option(50, "-n", help="How many lines."),
               name: str = typer.Option("neo4j.log", help="neo4j.log, debug.log, console.log, ...")):
    """Print the end of the managed server's log."""
    if _external_note():
        return
    print(_server().tail_logs(lines, name))


@neo4j_app.command("reset")
def neo4j_reset(yes: bool = typer.Option(False, "--yes", help="Really delete the data.")):
    """Delete the managed instance (data, logs, password); cached jars stay."""
    if _external_note():
        return
    if not yes:
        fail("this deletes all data of the managed instance; repeat with --yes")
    from targetkg.graph.server import ServerError

    try:
        _server().reset()
    except ServerError as exc:
        fail(str(exc))
    console.print("Managed instance removed.")


# ---------------------------------------------------------------------------------- stats
@app.command("stats")
def stats(as_json: bool = typer.Option(False, "--json", help="Print JSON.")):
    """Counts per label and relationship type, constraints, sources loaded."""
    from targetkg.graph.connection import Neo4jUnavailable, driver
    from targetkg.graph.stats import collect

    s = get_settings()
    try:
        data = collect(driver(), s.neo4j_database)
    except Neo4jUnavailable as exc:
        fail(str(exc))
    if as_json:
        print(json.dumps(data, indent=2, default=str))
        return
    console.print(f"[bold]{data['nodes']:,}[/] nodes, [bold]{data['relationships']:,}[/] relationships"
                  + (f", release {data['release']}" if data["release"] else ""))
    for title, counts in (("label", data["labels"]), ("relationship type", data["types"])):
        if counts:
            t = Table(title=None)
            t.add_column(title)
            t.add_column("count", justify="right")
            for k, v in sorted(counts.items(), key=lambda kv: -kv[1]):
                t.add_row(k, f"{v:,}")
            console.print(t)
    console.print(f"constraints: {len(data['constraints'])}, indexes: {len(data['indexes'])}")
    if data["sources"]:
        t = Table()
        for col in ("source", "version", "nodes", "edges", "loaded_at"):
            t.add_column(col)
        for src in data["sources"]:
            t.add_row(src["id"], str(src["version"]), f"{src['nodes'] or 0:,}", f"{src['edges'] or 0:,}", str(src["loaded_at"]))
        console.print(t)
    else:
        console.print("no sources loaded yet (`targetkg build`)")


@app.command("schema")
def schema_docs(output: Optional[Path] = typer.Option(None, "-o", help="Write Markdown here instead of stdout.")):
    """Print the warehouse schema (labels, types, provenance) as Markdown."""
    from targetkg.graph.schema import load_schema

    text = load_schema().markdown()
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        print(text)


# ---------------------------------------------------------------------------------- ingest
def _print_report(rep) -> None:
    console.print(
        f"[bold]{rep.source}[/] {rep.version}: {rep.nodes:,} node rows, {rep.edges:,} edges in {rep.seconds:.1f}s "
        f"({rep.edges_per_s:,.0f} edges/s)", highlight=False)
    if rep.rejected:
        console.print(f"  {rep.rejected} malformed lines skipped; details in {rep.reject_file}", highlight=False)
    if rep.dangling:
        console.print(f"  [red]{rep.dangling} edges referenced missing nodes[/], e.g. {rep.dangling_examples[:3]}")


@app.command("ingest")
def ingest_cmd(
    source: str = typer.Argument(..., help="hetionet | reactome | pathwaycommons"),
    from_dir: Optional[Path] = typer.Option(None, "--from", help="Folder with the source's files (default: $TARGETKG_DATA/<source>)."),
    skip_bad_lines: bool = typer.Option(False, "--skip-bad-lines", help="Reject malformed lines to a file instead of stopping."),
    reject_file: Optional[Path] = typer.Option(None, help="Where rejected lines go (JSONL)."),
    release: Optional[str] = typer.Option(None, help="Release id stamped on every edge (default: today)."),
    batch_size: int = typer.Option(10_000, help="Rows per transaction."),
    workers: Optional[int] = typer.Option(None, help="Concurrent edge-writing transactions (default 2; a fresh load CREATEs without locking, so 2 workers use 2 server cores)."),
):
    """Load one source into Neo4j (idempotent: running it twice gives the same graph).

    `literature` takes a file (PubMed XML, PubTator, JSONL/text) in --from and runs the NLP pipeline."""
    from targetkg.graph.connection import Neo4jUnavailable
    if reject_file is not None and not skip_bad_lines:
        # strict mode rejects nothing: the file would stay empty (and an old one be deleted)
        fail("--reject-file is used with --skip-bad-lines only; without it the first malformed line stops the load")
    if source == "literature":
        if from_dir is None:
            fail("ingest literature needs --from FILE (PubMed/MEDLINE XML, PubTator or JSONL)")
        _ingest_literature(from_dir, release, skip_bad_lines=skip_bad_lines, reject_file=reject_file,
                           batch_size=batch_size, workers=workers)
        return
    from targetkg.ingest.model import InputError
    from targetkg.ingest.pipeline import ingest

    try:
        rep = ingest(source, from_dir, release=release, skip_bad_lines=skip_bad_lines, reject_file=reject_file,
                     batch_size=batch_size, workers=workers, progress=sys.stderr.isatty())
    except InputError as exc:
        fail(f"{exc}\n(everything loaded before this line is committed; fix the file or use --skip-bad-lines)")
    except (Neo4jUnavailable, FileNotFoundError, KeyError) as exc:
        fail(str(exc).strip('"'))
    _print_report(rep)
    if rep.dangling:
        raise typer.Exit(1)


def _ingest_literature(path: Path, release: str | None, skip_bad_lines: bool = False, reject_file: Path | None = None,
                       batch_size: int = 10_000, workers: int | None = None) -> None:
    """`ingest literature --from FILE`: the NLP pipeline, then nodes/edges, Evidence and the Source.

    Malformed lines follow the ingest rules (strict, or --skip-bad-lines into --reject-file);
    bad input, a missing file or a folder stop with one `file:line: field …` message, exit 1."""
    from targetkg.graph.connection import Neo4jUnavailable, driver
    from targetkg.graph.writer import GraphWriter
    from targetkg.ingest.model import BadLines, InputError
    from targetkg.ingest.pipeline import default_release, record_literature_source
    from targetkg.nlp.api import literature_adapter
    from targetkg.nlp.readers import check_file

    s = get_settings()
    release = release or s.release or default_release()
    try:
        check_file(path)
        if skip_bad_lines and reject_file is None:
            reject_file = s.home / "rejects" / f"literature-{release}.jsonl"
        if reject_file is not None and reject_file.exists():
            reject_file.unlink()  # the reject file describes this run only
        bad = BadLines(skip=skip_bad_lines, reject_file=reject_file)
        adapter = literature_adapter(path, bad_lines=bad)
        writer = GraphWriter(driver(s), s.neo4j_database, release=release, batch_size=batch_size, workers=workers,
                             progress=sys.stderr.isatty())
        writer.ensure_schema()
        prov = adapter.provenance()
        stats = writer.write(adapter.records(), prov, desc="literature")
        evidence = adapter.evidence()
        n_evidence = writer.write_evidence(evidence, publications=adapter.publications(), source=prov.infores,
                                           model_version=adapter.model_version)
        source = record_literature_source(driver(s), s.neo4j_database, prov.infores, adapter.model_version, path,
                                          release, rejected=bad.count)
    except InputError as exc:
        fail(f"{exc}\n(everything loaded before this line is committed; fix the file or use --skip-bad-lines)")
    except (Neo4jUnavailable, FileNotFoundError, IsADirectoryError, ValueError) as exc:
        fail(str(exc).strip('"'))
    refresh = getattr(writer, "last_refresh", {}) or {}
    console.print(f"literature {adapter.model_version}: {stats.nodes:,} node rows, {stats.edges:,} edges, "
                  f"{n_evidence:,} evidence sentences from {path} (source {prov.infores}: {len(source['files'])} "
                  f"file(s), {source['edges']:,} edges; {refresh.get('refreshed', 0):,} edge totals recomputed from "
                  f"their evidence, {refresh.get('deleted', 0):,} edges without evidence removed)")
    if bad.count:
        console.print(f"  {bad.count} malformed lines skipped; details in {reject_file}", highlight=False)
    if stats.dangling or n_evidence < len(evidence):
        examples = f" ({'; '.join(stats.dangling_examples[:3])})" if stats.dangling_examples else ""
        fail(f"{stats.dangling:,} edges and {len(evidence) - n_evidence:,} evidence sentences were not written: "
             f"an endpoint or publication is missing{examples}")


@app.command("build")
def build_cmd(
    from_dir: Optional[Path] = typer.Option(None, "--from", help="Folder with one subfolder per source (default: $TARGETKG_DATA)."),
    sources: Optional[str] = typer.Option(None, help="Comma-separated subset of sources."),
    bulk: bool = typer.Option(False, "--bulk", help="Fresh build through neo4j-admin import (managed server only)."),
    fresh: bool = typer.Option(False, "--fresh", help="Empty the database first (online path)."),
    skip_bad_lines: bool = typer.Option(False, "--skip-bad-lines"),
    release: Optional[str] = typer.Option(None, help="Release id (default: today)."),
):
    """Build the warehouse from all sources, check the quality gates, write the release manifest."""
    from targetkg.graph.connection import Neo4jUnavailable
    from targetkg.graph.quality import QualityGateError
    from targetkg.ingest.model import InputError
    from targetkg.ingest.pipeline import build

    names = [x.strip() for x in sources.split(",")] if sources else None
    try:
        rep = build(names, from_dir, bulk=bulk, release=release, skip_bad_lines=skip_bad_lines, fresh=fresh,
                    progress=sys.stderr.isatty(), echo=console.print)
    except QualityGateError as exc:
        fail(str(exc))
    except InputError as exc:
        fail(f"{exc}\n(everything loaded before this line is committed; fix the file or use --skip-bad-lines)")
    except Exception as exc:  # server/bulk errors carry their own explanation
        from targetkg.graph.server import ServerError

        if isinstance(exc, (Neo4jUnavailable, ServerError, FileNotFoundError, KeyError)):
            fail(str(exc))
        raise
    for g in rep.gates:
        console.print(f"  {'[green]✓[/]' if g['passed'] else '[red]✗[/]'} {g['gate']}: {g['detail']}", highlight=False)
    console.print(f"Release [bold]{rep.release}[/] built ({rep.mode}) in {rep.seconds:.1f}s; manifest {rep.manifest}")


@app.command("fetch")
def fetch_cmd(
    source: str = typer.Argument(..., help="reactome | pathwaycommons | hetionet | list"),
    dest: Optional[Path] = typer.Option(None, help="Target folder (default: the cache)."),
    from_dir: Optional[Path] = typer.Option(None, "--from", help="Use local files instead of downloading (checksums still verified)."),
    base_url: Optional[str] = typer.Option(None, help="Mirror base URL (files fetched from <base-url>/<name>)."),
    force: bool = typer.Option(False, help="Download again even if cached."),
    optional: bool = typer.Option(False, "--include-optional", help="Also fetch optional (large) files."),
):
    """Download pinned official releases into the cache, verifying checksums."""
    from targetkg.ingest.fetch import FetchError, catalogue_table, fetch

    if source == "list":
        t = Table()
        rows = catalogue_table()
        for col in rows[0]:
            t.add_column(col)
        for row in rows:
            t.add_row(*[str(v) for v in row.values()])
        console.print(t)
        return
    try:
        res = fetch(source, dest=dest, base_url=base_url, from_dir=from_dir, force=force,
                    include_optional=optional, progress=sys.stderr.isatty())
    except (FetchError, KeyError, ValueError) as exc:
        fail(str(exc))
    for f in res.files:
        console.print(f"  {f.name}: {f.status} ({f.size:,} bytes, sha256 {f.sha256[:12]}…)", highlight=False)
    console.print(f"manifest: {res.manifest}")


from targetkg.models.bn.cli import bn_app  # noqa: E402  (light: the BN library loads on first use)

app.add_typer(bn_app, name="bn", help="Bayesian networks on omics: learn, ΔECv subnetworks, knockdown simulation, overlays.")

release_app = typer.Typer(no_args_is_help=True, help="Release artefacts (KGX export, manifest).")
app.add_typer(release_app, name="release")


@release_app.command("export")
def release_export(out: Path = typer.Option(..., "--out", help="Folder for nodes.jsonl, edges.jsonl, manifest.json.")):
    """Write the graph as KGX JSONL plus the release manifest, so it outlives a Neo4j version."""
    from targetkg.graph.connection import Neo4jUnavailable
    from targetkg.graph.export_kgx import export_kgx

    try:
        res = export_kgx(out, echo=console.print)
    except Neo4jUnavailable as exc:
        fail(str(exc))
    console.print(f"{res['nodes']:,} nodes and {res['edges']:,} edges written to {out}")


# ---------------------------------------------------------------------------------- models
@app.command("train")
def train_cmd(
    model: str = typer.Option("rgcn", help="rgcn | rotate | transe | distmult | complex | ... (PyKEEN by name) | degree | pathcount"),
    relations: str = typer.Option("TREATS", help="Target relations, comma-separated (held out and evaluated)."),
    epochs: int = typer.Option(5, help="Maximum training epochs (KGE and R-GCN stop early when the validation MRR stops improving)."),
    seed: int = typer.Option(0, help="Random seed (split and model)."),
    split: str = typer.Option("head", help="head: hold out whole drugs; tail: whole diseases; random."),
    config: Optional[Path] = typer.Option(None, help="YAML/JSON file with any train() argument (wins over options)."),
    predict_top_k: int = typer.Option(0, help="Then write the top K predictions per subject of every target relation (0: don't)."),
    predict_per: str = typer.Option("subject", help="With --predict-top-k: top K per 'subject' (a drug's best diseases) or "
                                    "per 'object' (a disease's best genes: predicted targets)."),
    write_model: str = typer.Option("trained", help="With --predict-top-k: 'trained' writes this model's predictions; "
                                    "'best' writes those of the model or baseline with the best validation MRR "
                                    "(never chosen on the test edges)."),
):
    """Run one link-prediction experiment (export → split → train → evaluate, baselines beside it)."""
    from targetkg.graph.connection import Neo4jUnavailable
    from targetkg.models.linkpred.api import load_run, train

    if write_model not in ("trained", "best"):  # checked before the training they would waste
        fail(f"--write-model must be 'trained' or 'best', not {write_model!r}")
    if predict_per not in ("subject", "object"):
        fail(f"--predict-per must be 'subject' or 'object', not {predict_per!r}")
    try:
        run_id = train(model=model, relations=relations, epochs=epochs, seed=seed, split_mode=split,
                       config=str(config) if config else None)
    except (Neo4jUnavailable, ValueError) as exc:  # e.g. an unknown model or a PREDICTED_* export
        fail(str(exc))
    run = load_run(run_id)[0]
    console.print(f"run [bold]{run_id}[/] saved; metrics:")
    print(json.dumps(run.get("metrics", {}), indent=2, default=str)[:4000])
    if predict_top_k:
        from targetkg.models.linkpred.api import predict

        # the run's own target relations: a --config file's `relations` win over --relations
        targets = list(run["relations"])
        write_run = run_id
        if write_model == "best":
            valid = run.get("validation_metrics", {}).get(targets[0], {}) or {}
            scored = {name: m["mrr"] for name, m in valid.items() if m and m.get("mrr") == m.get("mrr")}
            best = max(scored, key=scored.get) if scored else run["model"]
            console.print(f"validation MRR on {targets[0]}: "
                          + ", ".join(f"{k} {v:.3f}" for k, v in sorted(scored.items(), key=lambda kv: -kv[1]))
                          + f" -> writing [bold]{best}[/]")
            if best != run["model"]:  # a baseline won: give it its own run on the same split
                # the config's other settings (export, split, seed, params) still apply, but not its
                # `model`, which would otherwise win over the chosen one and retrain the loser
                from targetkg.models.linkpred.api import _load_config

                cfg = {**_load_config(str(config) if config else None), "model": best}
                write_run = train(model=best, relations=relations, epochs=0, seed=seed, split_mode=split,
                                  baselines=False, config=cfg)
        for relation in targets:
            res = predict(write_run, relation=relation, top_k=predict_top_k, write=True, per=predict_per)
            console.print(f"wrote {relation} predictions of run {write_run}: "
                          + ", ".join(f"{k}={v}" for k, v in res.items() if isinstance(v, (int, float, str))))


@app.command("predict")
def predict_cmd(
    run: str = typer.Option(..., "--run", help="Run id from `targetkg train`."),
    relation: str = typer.Option("TREATS", help="The curated type predicted: TREATS | DIRECTLY_PHYSICALLY_INTERACTS_WITH | GENE_ASSOCIATED_WITH_CONDITION."),
    top_k: int = typer.Option(100, help="Predictions kept per subject (or per object, with --per object)."),
    per: str = typer.Option("subject", help="'subject': top K per subject (a drug's best diseases); 'object': per object "
                            "(a disease's best genes)."),
    write: bool = typer.Option(False, "--write", help="Write PREDICTED_* edges and the ModelRun node to Neo4j."),
    explain_top: Optional[int] = typer.Option(None, help="Explain only the first N predictions of each subject (or object) (default: every prediction gets its top paths and contributions)."),
    detail_top: Optional[int] = typer.Option(10, help="The first N predictions of each subject also get explanation_json (metapaths, node ids)."),
):
    """Score candidates in batches, keep top-k per subject or object, optionally write them back with explanations."""
    from targetkg.graph.connection import Neo4jUnavailable
    from targetkg.models.linkpred.api import predict

    try:
        res = predict(run, relation=relation, top_k=top_k, write=write, explain_top=explain_top, per=per,
                      detail_top=detail_top)
    except ValueError as exc:
        fail(str(exc))
    except Neo4jUnavailable as exc:
        fail(str(exc))
    print(json.dumps({k: v for k, v in res.items() if not isinstance(v, list)}, indent=2, default=str))


nlp_app = typer.Typer(no_args_is_help=True, help="The literature pipeline (spaCy/scispaCy): train, evaluate.")
app.add_typer(nlp_app, name="nlp")


@nlp_app.command("train-ner")
def nlp_train_ner(output: Optional[Path] = typer.Option(None, help="Model folder (default: the profile's folder in the cache)."),
                  max_minutes: Optional[float] = typer.Option(None, help="Training budget; the best epoch so far is kept."),
                  if_missing: bool = typer.Option(False, "--if-missing", help="Do not retrain a model that exists (a single "
                                                  "model without a span filter or its held-out documents still gets them)."),
                  profile: Optional[str] = typer.Option(None, help="fast (width 64, depth 2; the default; with its "
                                                        "span filter BC5CDR dev F1 0.856), medium (width 64, depth 4), "
                                                        "accurate (width 128, depth 4: 1.5x slower) or ensemble (the three "
                                                        "vote on each span: F1 0.855 without filter, 2.6x slower; trains "
                                                        "the members not yet trained). "
                                                        "Pick one at run time with TARGETKG_NLP_NER_PROFILE."),
                  width: Optional[int] = typer.Option(None, help="tok2vec width (overrides the profile); the NER's cost grows with its square."),
                  depth: Optional[int] = typer.Option(None, help="CNN layers of the tok2vec (overrides the profile)."),
                  span_filter: bool = typer.Option(True, "--span-filter/--no-span-filter",
                                                   help="Stack the span filter on a single model (2 more NER trainings "
                                                   "on halves of the data; BC5CDR dev F1 +0.017 for the fast profile). "
                                                   "With --if-missing, a present model without one gets it.")):
    """Train the NER model on the BC5CDR and BioRED training splits (cached outside the repo)."""
    from targetkg.nlp.api import train_ner, train_span_filter
    from targetkg.nlp.config import nlp_settings, profile_folder
    from targetkg.nlp.ensemble import is_ensemble
    from targetkg.nlp.span_filter import HELDOUT_FILE, span_filter_file, training_record

    settings = nlp_settings()
    profile = profile or settings.ner_profile
    try:
        target = output or settings.ner_dir(profile_folder(profile))
    except ValueError as exc:
        fail(f"--profile: {exc}")
    budget = max_minutes * 60 if max_minutes else None
    if if_missing and (target / "config.cfg").is_file():
        console.print(f"NER model present: {target}")
        own = training_record(target) is not None  # not an installed model or an ensemble
        if span_filter and own and (span_filter_file(target) is None or not (target / HELDOUT_FILE).is_file()):
            console.print("stacking its span filter (it has none yet, or no held-out documents for the relation models)")
            try:
                console.print(train_span_filter(target, max_seconds=budget))
            except ValueError as exc:
                fail(str(exc))
        return
    extra = {"depth": depth} if depth else {}
    try:  # an ensemble profile always trains only its members that are missing
        result = train_ner(output=output, max_seconds=budget, width=width, profile=profile,
                           span_filter=span_filter, **extra)
    except ValueError as exc:
        fail(str(exc))
    if is_ensemble(target):
        console.print(f"NER ensemble ready: {target} (trained now: {', '.join(result) or 'none, all members present'})")
    else:
        console.print(result)


@nlp_app.command("train-relations")
def nlp_train_relations(output: Optional[Path] = typer.Option(None, help="Model file (default: the cache)."),
                        if_missing: bool = typer.Option(False, "--if-missing", help="Do nothing if the model already exists "
                                                        "(unless it lacks the NER model's held-out documents that exist now)."),
                        ner_model: Optional[Path] = typer.Option(None, help="NER model folder whose span-filter stacking "
                                                                 "held-out documents the CID model also trains on "
                                                                 "(default: the configured profile's).")):
    """Train the relation classifiers (BC5CDR chemical-induced disease, BioRED pairs) on the training splits."""
    from targetkg.nlp.api import default_heldout_ner_dir, train_relations
    from targetkg.nlp.config import nlp_settings
    from targetkg.nlp.relations import RelationExtractor
    from targetkg.nlp.span_filter import HELDOUT_FILE

    target = output or nlp_settings().relation_path()
    if if_missing and target.is_file():
        heldout_dir = default_heldout_ner_dir(ner_model)
        try:
            trained_with = RelationExtractor.load(target).training.get("heldout_documents", 0)
        except Exception:  # noqa: BLE001  (kept as it is; loading it reports the problem)
            trained_with = None
        if trained_with != 0 or heldout_dir is None or not (heldout_dir / HELDOUT_FILE).is_file():
            console.print(f"relation model present: {target}")
            return
        console.print(f"relation model present but trained without the held-out documents in {heldout_dir}; retraining")
    try:
        console.print(train_relations(output=output, ner_model=ner_model))
    except ValueError as exc:
        fail(str(exc))


@nlp_app.command("evaluate")
def nlp_evaluate(corpus: Optional[str] = typer.Option(None, help="bc5cdr | biored"),
                 split: str = typer.Option("dev", help="dev | train"),
                 pubtator: Optional[Path] = typer.Option(None, help="Any PubTator file instead of a corpus."),
                 as_json: bool = typer.Option(False, "--json", help="Only the JSON line.")):
    """NER P/R/F1 per type, grounding accuracy, relation P/R/F1; last line is one JSON object."""
    from targetkg.ingest.model import InputError
    from targetkg.nlp.api import evaluate, format_report

    try:
        if pubtator is not None:
            from targetkg.nlp.readers import check_file

            check_file(pubtator)
        elif corpus is None:
            fail("nlp evaluate needs --corpus bc5cdr|biored or --pubtator FILE")
        result = evaluate(corpus=corpus, split=split, pubtator=pubtator)
    except InputError as exc:
        fail(f"{exc}\n(fix the PubTator file: title/abstract lines, then tab-separated mentions and relations)")
    except (FileNotFoundError, IsADirectoryError, ValueError) as exc:
        fail(str(exc).strip('"'))
    if not as_json:
        print(format_report(result))
    print(json.dumps(result, default=str))


bloom_app = typer.Typer(no_args_is_help=True, help="The Neo4j Bloom perspective.")
app.add_typer(bloom_app, name="bloom")


@bloom_app.command("export")
def bloom_export(output: Path = typer.Option(Path("cypher/bloom/targetkg-perspective.json"), "-o",
                                             help="Where to write the perspective JSON (import it in Bloom).")):
    """Generate the Bloom perspective from the schema (categories, styling, search phrases)."""
    from targetkg.graph.bloom import write_perspective

    console.print(f"Bloom perspective written to {write_perspective(output)}")


def _port_in_use(host: str, port: int) -> str | None:
    """Why `host:port` cannot be listened on (e.g. "Address already in use"), or None when it can."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return str(exc)
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind(address)
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


@app.command("serve")
def serve(host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
          port: int = typer.Option(8000, help="Port."),
          workers: int = typer.Option(1, help="Worker processes."),
          check_port: bool = typer.Option(False, "--check-port",
                                          help="Only check that the port is free (exit 1 if not), e.g. before a long build.")):
    """Serve the hypothesis API (OpenAPI docs at /docs)."""
    problem = _port_in_use(host, port)
    if problem:
        # `make up` checks this before its half-hour build, not only when it finally serves
        console.print(f"[red]error:[/red] cannot serve the API on {host}:{port}: {problem}. Stop what listens "
                      f"there (an earlier `make up`'s API?) or choose another port (--port, or TARGETKG_API_PORT "
                      f"for `make up`).")
        raise typer.Exit(1)
    if check_port:
        return
    import uvicorn

    uvicorn.run("targetkg.service.app:app", host=host, port=port, workers=workers, log_level="info")


def main() -> None:  # pragma: no cover
    import pydantic

    try:
        app()
    except pydantic.ValidationError as exc:  # a TARGETKG_* environment variable with a bad value
        print(f"error: invalid setting ({exc.title}):", file=sys.stderr)
        for err in exc.errors():
            field = ".".join(str(x) for x in err["loc"])
            prefix = {"NLPSettings": "TARGETKG_NLP_", "Settings": "TARGETKG_"}.get(exc.title, "")
            print(f"  {prefix}{field.upper()}={err.get('input')!r}: {err['msg']}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":  # pragma: no cover
    main()
