"""The bulk path for fresh builds: adapters → import CSVs → `neo4j-admin database import full`.

Records are aggregated in Python with the same rules as the online writer (nodes keyed by
label + id: first name wins, synonyms/xrefs/sources are ordered unions; edges keyed by
subject, type, object and primary knowledge source: source_predicate/evidence are ordered
unions), written as one CSV per label and per (subject label, type, object label), and
imported into the stopped managed database, which is then started and given its
constraints and indexes. Only the managed server can be bulk-loaded (the importer writes
the store files directly).
"""

from __future__ import annotations

import csv
import shutil
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from tqdm import tqdm

from targetkg.graph.schema import load_schema
from targetkg.settings import Settings

ARRAY_DELIMITER = "\x1f"  # unit separator: never part of names, ids or PMIDs


class _NodeAgg:
    __slots__ = ("name", "synonyms", "xrefs", "sources", "props")

    def __init__(self) -> None:
        self.name: str | None = None
        self.synonyms: list[str] = []
        self.xrefs: list[str] = []
        self.sources: list[str] = []
        self.props: dict[str, Any] = {}


def _union(into: list, values) -> None:
    for v in values:
        if v not in into:
            into.append(v)


def _cell_type(values: list[Any]) -> str:
    kinds = set()
    for v in values:
        if isinstance(v, bool):
            kinds.add("boolean")
        elif isinstance(v, int):
            kinds.add("long")
        elif isinstance(v, float):
            kinds.add("double")
        elif isinstance(v, (list, tuple)):
            inner = _cell_type(list(v)) if v else "string"
            kinds.add(inner.rstrip("[]") + "[]")
        else:
            kinds.add("string")
    if kinds <= {"long", "double"} and kinds:
        return "double" if "double" in kinds else "long"
    if len(kinds) == 1:
        return kinds.pop()
    return "string[]" if any(k.endswith("[]") for k in kinds) else "string"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ARRAY_DELIMITER.join(_cell(v) for v in value)
    return str(value)


class BulkAggregator:
    """Collects the records of several sources exactly as the online writer would merge them."""

    def __init__(self, release: str):
        self.release = release
        self.schema = load_schema()
        self.nodes: dict[str, dict[str, _NodeAgg]] = defaultdict(dict)
        # (s_label, type, o_label) -> {(s, o, source): edge dict}
        self.edges: dict[tuple[str, str, str], dict[tuple[str, str, str], dict[str, Any]]] = defaultdict(dict)
        self._allowed = {(s, t, o) for t, rel in self.schema.relationships.items() for s in rel.subject for o in rel.object}

    def add(self, records, provenance, stats) -> None:
        from targetkg.ingest.model import Edge, Node

        for rec in records:
            if isinstance(rec, Node):
                self.schema.node(rec.label)
                agg = self.nodes[rec.label].get(rec.id)
                if agg is None:
                    agg = self.nodes[rec.label][rec.id] = _NodeAgg()
                if agg.name is None:
                    agg.name = rec.name
                _union(agg.synonyms, rec.synonyms)
                _union(agg.xrefs, rec.xrefs)
                _union(agg.sources, (provenance.infores,))
                agg.props.update(rec.props)
                stats.nodes += 1
                stats.per_label[rec.label] += 1
            elif isinstance(rec, Edge):
                key = (rec.subject_label, rec.predicate, rec.object_label)
                if key not in self._allowed:
                    self.schema.check_edge(*key)
                props = dict(rec.props)
                file = props.pop("source_file", None)
                ekey = (rec.subject, rec.object, provenance.infores)
                edge = self.edges[key].get(ekey)
                if edge is None:
                    edge = self.edges[key][ekey] = {"source_predicate": [], "evidence": [], "props": {}}
                edge["source_version"] = provenance.version
                edge["knowledge_level"] = props.get("knowledge_level", provenance.knowledge_level)
                edge["agent_type"] = props.get("agent_type", provenance.agent_type)
                edge["source_file"] = file
                _union(edge["source_predicate"], (rec.source_predicate,))
                _union(edge["evidence"], rec.evidence)
                edge["props"].update({k: v for k, v in props.items() if k not in ("knowledge_level", "agent_type")})
                stats.per_type[rec.predicate] += 1
            else:
                raise TypeError(f"adapter yielded {type(rec).__name__}, expected Node or Edge")

    def write_csvs(self, out: Path) -> tuple[list[tuple[str, Path]], list[tuple[str, Path]], dict[str, int]]:
        """Returns (label, file) and (type, file) lists, and per-source dangling-edge counts.
        Sets `multiline_fields` if any written value contains a line break (see neo4j_admin_import)."""
        out.mkdir(parents=True, exist_ok=True)
        self.multiline_fields = False
        node_files: list[tuple[str, Path]] = []
        for label, items in self.nodes.items():
            prop_keys = sorted({k for agg in items.values() for k in agg.props})
            types = {k: _cell_type([agg.props[k] for agg in items.values() if agg.props.get(k) is not None])
                     for k in prop_keys}
            path = out / f"nodes_{label}.csv"
            category = list(self.schema.nodes[label].category)
            with open(path, "w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow([f"id:ID({label})", "name", "synonyms:string[]", "xrefs:string[]", "category:string[]",
                            "sources:string[]", *[f"{k}:{types[k]}" for k in prop_keys]])
                for node_id, agg in items.items():
                    w.writerow([node_id, _cell(agg.name), _cell(agg.synonyms), _cell(agg.xrefs), _cell(category),
                                _cell(agg.sources), *[_cell(agg.props.get(k)) for k in prop_keys]])
            node_files.append((label, path))
            self.multiline_fields |= _has_embedded_line_breaks(path, len(items) + 1)
        rel_files: list[tuple[str, Path]] = []
        dangling: dict[str, int] = defaultdict(int)
        base_cols = ["primary_knowledge_source", "source_version", "release", "knowledge_level", "agent_type",
                     "source_file", "source_predicate:string[]", "evidence:string[]"]
        for (s_label, rel_type, o_label), items in self.edges.items():
            s_ids, o_ids = self.nodes.get(s_label, {}), self.nodes.get(o_label, {})
            prop_keys = sorted({k for e in items.values() for k in e["props"]})
            types = {k: _cell_type([e["props"][k] for e in items.values() if e["props"].get(k) is not None])
                     for k in prop_keys}
            path = out / f"rels_{s_label}_{rel_type}_{o_label}.csv"
            rows = 0
            with open(path, "w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow([f":START_ID({s_label})", f":END_ID({o_label})", *base_cols,
                            *[f"{k}:{types[k]}" for k in prop_keys]])
                for (s, o, source), e in items.items():
                    if s not in s_ids or o not in o_ids:
                        dangling[source] += 1
                        continue
                    w.writerow([s, o, source, e["source_version"], self.release, e["knowledge_level"], e["agent_type"],
                                _cell(e["source_file"]), _cell(e["source_predicate"]), _cell(e["evidence"]),
                                *[_cell(e["props"].get(k)) for k in prop_keys]])
                    rows += 1
            rel_files.append((rel_type, path))
            self.multiline_fields |= _has_embedded_line_breaks(path, rows + 1)
        return node_files, rel_files, dict(dangling)


def _has_embedded_line_breaks(path: Path, lines: int) -> bool:
    """csv.writer ends each row with CRLF: any other CR or LF byte is inside a quoted value."""
    data = path.read_bytes()
    return data.count(b"\n") != lines or data.count(b"\r") != lines


def neo4j_admin_import(server, database: str, node_files: list[tuple[str, Path]],
                       rel_files: list[tuple[str, Path]], multiline_fields: bool = True) -> float:
    """`neo4j-admin database import full` into the stopped managed server; returns seconds.

    multiline_fields=False lets the importer split files into chunks and parse them in parallel
    (Neo4j's docs: multi-line fields "substantially reduce import performance"); pass the
    aggregator's `multiline_fields`, which is True only when some value holds a line break."""
    # The database name goes first: --nodes/--relationships take several files each, so a
    # trailing positional would be read as one more input file.
    args = ["database", "import", "full", database, "--overwrite-destination=true", "--array-delimiter=U+001F",
            f"--multiline-fields={'true' if multiline_fields else 'false'}", "--threads=2",
            # the importer's report (bad entries, if any) goes to the instance's logs, not the caller's cwd
            f"--report-file={server.logs_dir / 'import.report'}"]
    args += [f"--nodes={label}={path}" for label, path in node_files]
    args += [f"--relationships={rel_type}={path}" for rel_type, path in rel_files]
    t0 = time.monotonic()
    server.run_admin(*args)
    return time.monotonic() - t0


def fill_empty_lists(drv, database: str) -> None:
    """Give imported entities the empty lists the online writer stores.

    neo4j-admin import leaves an empty array cell unset, while the online writer stores
    `synonyms: []`, `xrefs: []` and `evidence: []`; without this pass the two paths would
    build different graphs (and queries that read those lists would see null).
    """
    with drv.session(database=database) as session:
        session.run(
            "MATCH (n) WHERE n.id IS NOT NULL AND n.sources IS NOT NULL AND (n.synonyms IS NULL OR n.xrefs IS NULL) "
            "CALL (n) { SET n.synonyms = coalesce(n.synonyms, []), n.xrefs = coalesce(n.xrefs, []) } "
            "IN TRANSACTIONS OF 20000 ROWS"
        ).consume()
        session.run(
            "MATCH ()-[r]->() WHERE r.primary_knowledge_source IS NOT NULL AND r.evidence IS NULL "
            "CALL (r) { SET r.evidence = [] } IN TRANSACTIONS OF 50000 ROWS"
        ).consume()


def bulk_build(names: list[str], root: Path, release: str, settings: Settings, skip_bad_lines: bool = False,
               progress: bool = True, echo=print) -> list:
    from targetkg.graph.connection import close_all, driver
    from targetkg.graph.server import ManagedNeo4j, ServerError
    from targetkg.graph.writer import GraphWriter, WriteStats
    from targetkg.ingest.model import BadLines
    from targetkg.files import sha256_file
    from targetkg.ingest.pipeline import SourceReport, make_adapter, record_source, source_spec

    if not settings.managed:
        raise ServerError("--bulk writes the store files directly and needs the managed server; "
                          "NEO4J_URI is set, so use the online path (`targetkg build` without --bulk)")
    agg = BulkAggregator(release)
    reports: list[SourceReport] = []
    for name in names:
        t0 = time.monotonic()
        reject_file = settings.home / "rejects" / f"{name}-{release}.jsonl" if skip_bad_lines else None
        if reject_file is not None and reject_file.exists():
            reject_file.unlink()
        bad = BadLines(skip=skip_bad_lines, reject_file=reject_file)
        adapter = make_adapter(name, root / source_spec(name).subdir, settings, bad)
        stats = WriteStats()
        prov = adapter.provenance()
        agg.add(tqdm(adapter.records(), desc=f"{name} (read)", unit="rec", unit_scale=True, disable=not progress),
                prov, stats)
        files = [{"name": p.name, "path": str(p), "sha256": sha256_file(p), "bytes": p.stat().st_size}
                 for p in adapter.files()]
        reports.append(SourceReport(
            source=name, infores=prov.infores, version=prov.version, files=files, nodes=stats.nodes,
            edges=sum(stats.per_type.values()), dangling=0, dangling_examples=[], rejected=bad.count,
            reject_file=str(reject_file) if reject_file and bad.count else None, seconds=time.monotonic() - t0,
            per_label=dict(stats.per_label), per_type=dict(stats.per_type), expected=adapter.expected_counts()))

    t0 = time.monotonic()
    csv_dir = settings.home / "import" / f"bulk-{release}"
    shutil.rmtree(csv_dir, ignore_errors=True)
    node_files, rel_files, dangling = agg.write_csvs(csv_dir)
    for rep in reports:
        rep.dangling = dangling.get(rep.infores, 0)
    n_edges = sum(len(v) for v in agg.edges.values()) - sum(dangling.values())
    echo(f"wrote import CSVs for {sum(len(v) for v in agg.nodes.values()):,} nodes and {n_edges:,} edges "
         f"in {time.monotonic() - t0:.1f}s")

    server = ManagedNeo4j(settings)
    close_all()
    was_running = server.running_pid() is not None
    if was_running:
        echo(server.stop())
    if not server.installed():
        server.install(echo=echo)
    server.write_config()
    server.ensure_password()
    import_s = neo4j_admin_import(server, settings.neo4j_database, node_files, rel_files, agg.multiline_fields)
    res = server.start(echo=echo)
    echo(f"neo4j-admin import: {n_edges:,} relationships in {import_s:.1f}s "
         f"({n_edges / import_s:,.0f} rels/s); server back up in {res.seconds:.1f}s")
    drv = driver(settings)
    GraphWriter(drv, settings.neo4j_database, release=release, progress=False).ensure_schema()
    fill_empty_lists(drv, settings.neo4j_database)
    for rep in reports:
        rep.seconds += import_s / max(1, len(reports))
        record_source(drv, settings.neo4j_database, rep, release)
    shutil.rmtree(csv_dir, ignore_errors=True)
    return reports
