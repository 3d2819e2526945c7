"""The build: sources → adapters → one writer → Neo4j, with provenance and quality gates.

`ingest(source)` loads one source through the online writer; `build()` loads every source
(or, with `bulk=True`, writes import CSVs and runs `neo4j-admin database import` on the
stopped managed server), then checks the quality gates and writes the release manifest.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from targetkg.ingest.identifiers import GeneVocabulary
from targetkg.ingest.model import BadLines, InputError
from targetkg.files import sha256_file
from targetkg.settings import Settings, get_settings


@dataclass(frozen=True)
class SourceSpec:
    name: str
    subdir: str  # folder under the data directory (TARGETKG_DATA) or the fetch cache
    factory: Callable[[Path, GeneVocabulary | None, BadLines], Any]
    needs_genes: bool = False


def _reactome(d: Path, genes: GeneVocabulary | None, bad: BadLines):
    from targetkg.ingest.reactome import ReactomeAdapter

    return ReactomeAdapter(d, genes=genes, bad_lines=bad)


def _pathwaycommons(d: Path, genes: GeneVocabulary | None, bad: BadLines):
    from targetkg.ingest.pathwaycommons import PathwayCommonsAdapter

    return PathwayCommonsAdapter(d, genes=genes, bad_lines=bad)


def _hetionet(d: Path, genes: GeneVocabulary | None, bad: BadLines):
    from targetkg.ingest.hetionet import HetionetAdapter

    return HetionetAdapter(d, bad_lines=bad)


# Build order matters only for first-wins node names: Hetionet first, so genes carry their
# approved symbols and drugs their DrugBank names.
SOURCES: dict[str, SourceSpec] = {
    "hetionet": SourceSpec("hetionet", "hetionet", _hetionet),
    "reactome": SourceSpec("reactome", "reactome", _reactome, needs_genes=True),
    "pathwaycommons": SourceSpec("pathwaycommons", "pathwaycommons", _pathwaycommons, needs_genes=True),
}


def source_spec(name: str) -> SourceSpec:
    try:
        return SOURCES[name]
    except KeyError:
        raise KeyError(f"unknown source {name!r}; known sources: {', '.join(SOURCES)}") from None


_GENES: GeneVocabulary | None = None


def gene_vocabulary(settings: Settings | None = None) -> GeneVocabulary:
    """HGNC genes (symbols, aliases, previous symbols, UniProt → NCBIGene), loaded once."""
    global _GENES
    if _GENES is None:
        from targetkg.ingest.vocab import hgnc_table

        _GENES = GeneVocabulary.from_tsv(hgnc_table(settings))
    return _GENES


def default_release() -> str:
    return dt.date.today().strftime("%Y-%m-%d")


def make_adapter(name: str, from_dir: Path | None = None, settings: Settings | None = None,
                 bad_lines: BadLines | None = None):
    settings = settings or get_settings()
    spec = source_spec(name)
    directory = Path(from_dir) if from_dir else settings.data / spec.subdir
    if not directory.exists():
        raise FileNotFoundError(
            f"no {name} data at {directory}: download it with `targetkg fetch {name}` and pass "
            f"--from, or set TARGETKG_DATA to a folder that has a {spec.subdir}/ subfolder"
        )
    genes = gene_vocabulary(settings) if spec.needs_genes else None
    return spec.factory(directory, genes, bad_lines or BadLines())


@dataclass
class SourceReport:
    source: str
    infores: str
    version: str
    files: list[dict[str, Any]]
    nodes: int
    edges: int
    dangling: int
    dangling_examples: list[str]
    rejected: int
    reject_file: str | None
    seconds: float
    per_label: dict[str, int]
    per_type: dict[str, int]
    expected: dict[str, int] = field(default_factory=dict)
    # what the graph holds from the source after the load (`record_source`); nodes/edges above
    # are the records written, which count an entity or edge once per row that gives it
    graph_nodes: int | None = None
    graph_edges: int | None = None

    @property
    def edges_per_s(self) -> float:
        return self.edges / self.seconds if self.seconds else 0.0


def record_source(drv, database: str, report: SourceReport, release: str) -> None:
    """One (:Source) node per source: version, files with checksums, counts, load time.

    ``s.nodes`` and ``s.edges`` are read back from the graph: the nodes that carry the source in
    ``n.sources`` and the edges whose ``primary_knowledge_source`` it is (what `targetkg stats`
    shows as the source's nodes and edges). The adapter's record counts differ from them: an
    entity is yielded once per row that describes it (Pathway Commons: a pathway in GMT and both
    pathways.txt sections, 123,839 node rows for 67,615 nodes) and a repeated edge once per row;
    those go to ``s.node_rows`` / ``s.edge_rows``. The report gets the graph counts as
    ``graph_nodes`` / ``graph_edges``."""
    rec = drv.execute_query(
        """
        MERGE (s:Source {id: $infores})
        ON CREATE SET s.category = ['biolink:InformationResource']
        SET s.name = $name, s.version = $version, s.files = $files, s.sha256 = $sha256,
            s.loaded_at = datetime(), s.node_rows = $nodes, s.edge_rows = $edges, s.release = $release,
            s.rejected = $rejected
        WITH s
        CALL (s) { MATCH (n) WHERE s.id IN n.sources RETURN count(n) AS nodes }
        CALL (s) { MATCH ()-[r]->() WHERE r.primary_knowledge_source = s.id RETURN count(r) AS edges }
        SET s.nodes = nodes, s.edges = edges
        RETURN nodes, edges
        """,
        {
            "infores": report.infores,
            "name": report.source,
            "version": report.version,
            "files": [f["name"] for f in report.files],
            "sha256": [f["sha256"] for f in report.files],
            "nodes": report.nodes,
            "edges": report.edges,
            "release": release,
            "rejected": report.rejected,
        },
        database_=database,
    ).records[0]
    report.graph_nodes, report.graph_edges = rec["nodes"], rec["edges"]


def record_literature_source(drv, database: str, infores: str, version: str, file: Path, release: str,
                             rejected: int = 0) -> dict:
    """The literature's (:Source): one node for all abstract files loaded into it, the model
    version, and counts read back from the graph.

    Files are keyed by their full resolved path (``s.paths``; two files named alike in different
    folders are two files), with ``s.files`` (base names), ``s.sha256`` and ``s.file_rejected``
    (malformed lines skipped in that file) in the same order; re-loading a file replaces its entry.
    ``s.rejected`` is the sum over the files. ``s.edges`` counts the source's edges, ``s.nodes``
    the literature's nodes (Publications and every node the literature loaded, i.e. with the
    source in ``n.sources``), ``s.publications`` the Publications."""
    path = Path(file).resolve()
    rec = drv.execute_query(
        """
        MERGE (s:Source {id: $infores})
        ON CREATE SET s.category = ['biolink:InformationResource'], s.files = [], s.sha256 = []
        WITH s, coalesce(s.paths, s.files, []) AS paths
        WITH s, paths, [i IN range(0, size(paths) - 1) WHERE paths[i] <> $path AND paths[i] <> $name] AS keep
        SET s.name = 'literature', s.version = $version,
            s.paths = [i IN keep | paths[i]] + [$path],
            s.files = [i IN keep | coalesce(s.files[i], paths[i])] + [$name],
            s.sha256 = [i IN keep | s.sha256[i]] + [$sha256],
            s.file_rejected = [i IN keep | coalesce(s.file_rejected[i], 0)] + [$rejected],
            s.loaded_at = datetime(), s.release = $release
        SET s.rejected = reduce(t = 0, x IN s.file_rejected | t + x)
        WITH s
        CALL (s) { MATCH ()-[r]->() WHERE r.primary_knowledge_source = s.id RETURN count(r) AS edges }
        CALL () { MATCH (p:Publication) RETURN count(p) AS publications }
        CALL (s) { MATCH (n) WHERE NOT n:Publication AND s.id IN n.sources RETURN count(n) AS entities }
        SET s.edges = edges, s.publications = publications, s.nodes = publications + entities
        RETURN s.files AS files, s.paths AS paths, s.sha256 AS sha256, s.edges AS edges, s.nodes AS nodes,
               s.publications AS publications, s.rejected AS rejected
        """,
        {"infores": infores, "version": version, "path": str(path), "name": path.name, "sha256": sha256_file(path),
         "release": release, "rejected": int(rejected)},
        database_=database,
    ).records[0]
    return dict(rec)


def ingest(name: str, from_dir: Path | None = None, release: str | None = None,
           skip_bad_lines: bool = False, reject_file: Path | None = None, batch_size: int = 10_000,
           workers: int | None = None, progress: bool = True, settings: Settings | None = None) -> SourceReport:
    """Load one source through the online writer (idempotent: a re-run changes nothing)."""
    from targetkg.graph.connection import driver
    from targetkg.graph.writer import GraphWriter

    settings = settings or get_settings()
    release = release or settings.release or default_release()
    if reject_file is not None and not skip_bad_lines:
        raise ValueError("reject_file is used with skip_bad_lines=True only (strict mode stops at the first bad line)")
    if skip_bad_lines and reject_file is None:
        reject_file = settings.home / "rejects" / f"{name}-{release}.jsonl"
    if reject_file is not None and reject_file.exists():
        reject_file.unlink()  # the reject file describes this run only
    bad = BadLines(skip=skip_bad_lines, reject_file=reject_file)
    adapter = make_adapter(name, from_dir, settings, bad)
    drv = driver(settings)
    writer = GraphWriter(drv, settings.neo4j_database, release=release, batch_size=batch_size,
                         workers=workers, progress=progress)
    writer.ensure_schema()
    prov = adapter.provenance()
    stats = writer.write(adapter.records(), prov, desc=name)
    files = [{"name": p.name, "path": str(p), "sha256": sha256_file(p), "bytes": p.stat().st_size}
             for p in adapter.files()]
    report = SourceReport(
        source=name, infores=prov.infores, version=prov.version, files=files, nodes=stats.nodes,
        edges=stats.edges, dangling=stats.dangling, dangling_examples=stats.dangling_examples,
        rejected=bad.count, reject_file=str(reject_file) if reject_file and bad.count else None,
        seconds=stats.seconds, per_label=dict(stats.per_label), per_type=dict(stats.per_type),
        expected=adapter.expected_counts(),
    )
    record_source(drv, settings.neo4j_database, report, release)
    return report


@dataclass
class BuildReport:
    release: str
    sources: list[SourceReport]
    gates: list[dict[str, Any]]
    manifest: Path | None
    seconds: float
    mode: str


def build(sources: list[str] | None = None, from_dir: Path | None = None, bulk: bool = False,
          release: str | None = None, skip_bad_lines: bool = False, progress: bool = True,
          fresh: bool = False, settings: Settings | None = None, echo=print) -> BuildReport:
    """Load every source (online writer, or the bulk importer), then gates and manifest.

    `from_dir` is a folder with one subfolder per source (the layout of TARGETKG_DATA and
    of `targetkg fetch`'s cache).
    """
    import time

    from targetkg.graph import quality
    from targetkg.graph.connection import driver

    settings = settings or get_settings()
    release = release or settings.release or default_release()
    names = sources or list(SOURCES)
    t0 = time.monotonic()
    root = Path(from_dir) if from_dir else settings.data
    if bulk:
        from targetkg.graph.bulk import bulk_build

        reports = bulk_build(names, root, release, settings=settings, skip_bad_lines=skip_bad_lines,
                             progress=progress, echo=echo)
    else:
        if fresh:
            from targetkg.graph.admin import clear_database

            clear_database(driver(settings), settings.neo4j_database)
        reports = []
        for name in names:
            rep = ingest(name, root / source_spec(name).subdir, release=release, skip_bad_lines=skip_bad_lines,
                         progress=progress, settings=settings)
            echo(f"{name}: {rep.nodes:,} node rows, {rep.edges:,} edges in {rep.seconds:.1f}s "
                 f"({rep.edges_per_s:,.0f} edges/s)" + (f", {rep.rejected} rejected lines" if rep.rejected else ""))
            reports.append(rep)
    drv = driver(settings)
    gates = quality.check(drv, settings.neo4j_database, reports)
    manifest = write_manifest(drv, settings, release, reports, gates, mode="bulk" if bulk else "online")
    report = BuildReport(release, reports, gates, manifest, time.monotonic() - t0, "bulk" if bulk else "online")
    failed = [g for g in gates if not g["passed"]]
    if failed:
        raise quality.QualityGateError(failed, manifest)
    return report


def write_manifest(drv, settings: Settings, release: str, reports: list[SourceReport],
                   gates: list[dict[str, Any]], mode: str) -> Path:
    """The release manifest: counts per label/type/source, input checksums, gate results."""
    from targetkg.graph.stats import collect

    stats = collect(drv, settings.neo4j_database)
    per_source, _, _ = drv.execute_query(
        "MATCH ()-[r]->() WHERE r.primary_knowledge_source IS NOT NULL "
        "RETURN r.primary_knowledge_source AS source, type(r) AS type, count(*) AS n ORDER BY source, type",
        database_=settings.neo4j_database,
    )
    by_source: dict[str, dict[str, int]] = {}
    for rec in per_source:
        by_source.setdefault(rec["source"], {})[rec["type"]] = rec["n"]
    manifest = {
        "release": release,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "mode": mode,
        "neo4j": {"uri": settings.bolt_uri, "database": settings.neo4j_database},
        "counts": {"nodes": stats["nodes"], "relationships": stats["relationships"],
                   "labels": stats["labels"], "types": stats["types"], "edges_by_source": by_source},
        "sources": [
            {k: v for k, v in asdict(r).items() if k not in ("dangling_examples",)} for r in reports
        ],
        "quality_gates": gates,
    }
    out = settings.home / "releases" / release / "manifest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8")
    return out


__all__ = ["SOURCES", "InputError", "build", "ingest", "make_adapter", "SourceReport", "BuildReport"]
