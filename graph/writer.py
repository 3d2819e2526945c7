"""The one writer: streams adapter records into Neo4j with batched `UNWIND … MERGE`.

It knows Neo4j and the schema, nothing of file formats. Every write is idempotent:
- nodes are merged on their constrained `id` per label; names keep the first source's value,
  synonyms/xrefs/sources are set-unions;
- edges are merged on (subject, type, object, primary_knowledge_source); `source_predicate`
  and `evidence` are set-unions, so two source relations that map to one Biolink predicate
  end up on one edge, and re-running (or resuming after a crash) changes nothing.
Node batches are always flushed before edge batches, so an edge never waits for its nodes.

Fresh loads skip MERGE: when the graph holds no edge of a type from this source yet (checked
once per type and `write` call), the first occurrence of each (subject, type, object) in the
run is CREATEd and later occurrences are MERGEd into it. The result is the same graph; CREATE
needs neither the existence check nor MERGE's node locks, so two workers write side by side
without deadlocks (bench/ingest.py, Hetionet on 2 cores: 12-14k rels/s with one MERGE worker,
28-31k with two CREATE workers). A re-run, or a resume after a crash, finds the type non-empty and MERGEs.
This assumes one writer per source at a time (two processes loading the same source at once
could both CREATE an edge).
"""

from __future__ import annotations

import random
import re
import threading
import time
import zlib
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from neo4j import Driver
from neo4j.exceptions import TransientError
from tqdm import tqdm

from targetkg.graph.schema import Schema, load_schema
from targetkg.ingest.model import Edge, EvidenceRecord, InputError, Node, Provenance

# The literature's source (nlp/adapter.py INFORES): its edges' totals are recomputed from Evidence.
LITERATURE_SOURCE = "infores:targetkg-literature"

# Set-union of two lists that keeps first-seen order (deterministic across re-runs/resumes).
_UNION = "coalesce({old}, []) + [x IN coalesce({new}, []) WHERE NOT x IN coalesce({old}, [])]"


def _set_props(var: str, keys: tuple[str, ...]) -> str:
    # Explicit keys instead of `+= row.props`: the planner can then see that no property it
    # reads is overwritten, and drops the Eager operator that would buffer every batch.
    return "".join(f",\n    {var}.{k} = row.props.{k}" for k in keys)


def node_cypher(label: str, prop_keys: tuple[str, ...] = ()) -> str:
    return f"""
UNWIND $rows AS row
MERGE (n:{label} {{id: row.id}})
ON CREATE SET n.category = $category
SET n.name = coalesce(n.name, row.name),
    n.synonyms = {_UNION.format(old="n.synonyms", new="row.synonyms")},
    n.xrefs = {_UNION.format(old="n.xrefs", new="row.xrefs")},
    n.sources = {_UNION.format(old="n.sources", new="[$source]")}{_set_props("n", prop_keys)}
"""


def _edge_defaults(prop_keys: tuple[str, ...]) -> tuple[str, str, tuple[str, ...]]:
    """knowledge_level / agent_type: a source may override its default per edge (props)."""
    kl = "coalesce(row.props.knowledge_level, $knowledge_level)"
    at = "coalesce(row.props.agent_type, $agent_type)"
    return kl, at, tuple(k for k in prop_keys if k not in ("knowledge_level", "agent_type"))


def edge_cypher(subject_label: str, rel_type: str, object_label: str, prop_keys: tuple[str, ...] = ()) -> str:
    kl, at, keys = _edge_defaults(prop_keys)
    # A new edge gets its lists as they are (no property reads); only an existing edge pays
    # for the set-union with what it already has.
    return f"""
UNWIND $rows AS row
MATCH (a:{subject_label} {{id: row.s}})
MATCH (b:{object_label} {{id: row.o}})
MERGE (a)-[r:{rel_type} {{primary_knowledge_source: $source}}]->(b)
ON CREATE SET r.source_predicate = [row.sp], r.evidence = row.ev
ON MATCH SET r.source_predicate = {_UNION.format(old="r.source_predicate", new="[row.sp]")},
    r.evidence = {_UNION.format(old="r.evidence", new="row.ev")}
SET r.source_version = $version,
    r.release = $release,
    r.knowledge_level = {kl},
    r.agent_type = {at},
    r.source_file = row.file{_set_props("r", keys)}
RETURN count(r) AS written
"""


def edge_create_cypher(subject_label: str, rel_type: str, object_label: str, prop_keys: tuple[str, ...] = ()) -> str:
    """CREATE for an edge that provably does not exist yet; sets what `edge_cypher` sets on create."""
    kl, at, keys = _edge_defaults(prop_keys)
    # All properties inline in CREATE: written once with the relationship, not added after it.
    extra = "".join(f", {k}: row.props.{k}" for k in keys)
    return f"""
UNWIND $rows AS row
MATCH (a:{subject_label} {{id: row.s}})
MATCH (b:{object_label} {{id: row.o}})
CREATE (a)-[r:{rel_type} {{primary_knowledge_source: $source, source_predicate: [row.sp], evidence: row.ev,
    source_version: $version, release: $release, knowledge_level: {kl}, agent_type: {at},
    source_file: row.file{extra}}}]->(b)
RETURN count(r) AS written
"""


# How many concurrent edge transactions a writer runs by default: one per core of a small server.
DEFAULT_WORKERS = 2


@dataclass
class WriteStats:
    nodes: int = 0
    edges: int = 0
    dangling: int = 0
    dangling_examples: list[str] = field(default_factory=list)
    seconds: float = 0.0
    per_label: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    per_type: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    created: int = 0  # edges written by the CREATE path of a fresh load (the rest were MERGEd)

    @property
    def edges_per_s(self) -> float:
        return self.edges / self.seconds if self.seconds else 0.0


class SchemaViolation(ValueError):
    pass


class GraphWriter:
    """Batched, idempotent writes of `Node`/`Edge` records for one source at a time.

    With `workers` > 1, edge batches run on that many threads. Rows are routed to a worker by
    their subject, so all rows of one edge go through one worker in file order: list unions
    come out in the same order on every run, whatever the timing. CREATE batches (fresh loads,
    see the module notes) do not deadlock; MERGE batches of two workers sometimes do on hub
    nodes, and are retried (see `_run`).
    """

    def __init__(self, drv: Driver, database: str = "neo4j", release: str = "dev",
                 batch_size: int = 10_000, workers: int | None = None, progress: bool = True,
                 schema: Schema | None = None):
        self.drv = drv
        self.database = database
        self.release = release
        self.batch_size = batch_size
        self.workers = max(1, DEFAULT_WORKERS if workers is None else workers)
        self.progress = progress
        self.schema = schema or load_schema()
        self._allowed = {
            (s, t, o) for t, rel in self.schema.relationships.items() for s in rel.subject for o in rel.object
        }
        self._cypher: dict[tuple, str] = {}

    # ------------------------------------------------------------------ schema DDL
    def ensure_schema(self) -> None:
        """Uniqueness constraints, range and full-text indexes (IF NOT EXISTS: idempotent)."""
        with self.drv.session(database=self.database) as session:
            for stmt in self.schema.ddl():
                session.run(stmt).consume()
            session.run("CALL db.awaitIndexes(300)").consume()

    # ------------------------------------------------------------------ writes
    def _run(self, cypher: str, params: dict[str, Any], retry_cypher: str | None = None,
             quiet: bool = False) -> list[dict]:
        """One transaction per batch: a crash loses at most the open batches, which a re-run redoes.

        Concurrent edge batches can deadlock on shared (hub) nodes; Neo4j aborts one of them
        with a transient error and, since the batch is idempotent, we simply run it again
        after a short randomised pause (the driver's own retry starts at a full second).
        `retry_cypher` replaces `cypher` on a retry: a CREATE batch is retried as MERGE, since
        after a lost connection we cannot know whether its commit went through.  `quiet` turns off the
        server's notifications for a query that names property keys a fresh store does not have yet.
        """
        options = {"notifications_min_severity": "OFF"} if quiet else {}
        for attempt in range(60):
            try:
                with self.drv.session(database=self.database, **options) as session, session.begin_transaction() as tx:
                    q = cypher if attempt == 0 or retry_cypher is None else retry_cypher
                    out = [r.data() for r in tx.run(q, params)]
                    tx.commit()
                    return out
            except TransientError:
                if attempt == 59:
                    raise
                time.sleep(random.uniform(0.01, 0.05) * (1 + attempt))
        raise AssertionError("unreachable")

    def _query(self, kind: str, key: tuple, prop_keys: tuple[str, ...]) -> str:
        ck = (kind, key, prop_keys)
        q = self._cypher.get(ck)
        if q is None:
            bad = [k for k in prop_keys if not _PROP_KEY.match(k)]
            if bad:
                raise ValueError(f"property names {bad} are not valid Cypher identifiers")
            build = {"node": node_cypher, "edge": edge_cypher, "edge_create": edge_create_cypher}[kind]
            q = self._cypher[ck] = build(*key, prop_keys)
        return q

    def _type_has_edges(self, rel_type: str, source: str) -> bool:
        """Does the graph hold any `rel_type` edge from `source`? (Scans that type's edges once.)"""
        # On an empty store the property key does not exist yet and the server would warn about a
        # possible typo (UnknownPropertyKeyWarning) on every fresh build: not useful to the user.
        with self.drv.session(database=self.database, notifications_min_severity="OFF") as session:
            records = session.run(
                f"MATCH ()-[r:{rel_type}]->() WHERE r.primary_knowledge_source = $source RETURN 1 AS hit LIMIT 1",
                {"source": source}).values()
        return bool(records)

    def write(self, records: Iterable[Node | Edge], provenance: Provenance, total: int | None = None,
              desc: str = "") -> WriteStats:
        stats = WriteStats()
        nodes: dict[str, list[dict]] = defaultdict(list)
        # per worker: ((subject_label, type, object_label), mode) -> rows, mode "create" | "merge";
        # a flush submits them in insertion order, so an edge's CREATE precedes its MERGEs.
        edges: list[dict[tuple, list[dict]]] = [defaultdict(list) for _ in range(self.workers)]
        fresh: dict[str, bool] = {}  # relationship type -> no edge of it from this source existed at the start
        created: set[int] = set()  # hashes of (key, subject, object) CREATEd in this run (a collision only means MERGE)
        pending_nodes = 0
        pending_edges = [0] * self.workers
        base = {
            "source": provenance.infores,
            "version": provenance.version,
            "release": self.release,
            "knowledge_level": provenance.knowledge_level,
            "agent_type": provenance.agent_type,
        }
        t0 = time.monotonic()
        bar = tqdm(total=total, desc=desc or provenance.infores, unit="rec", unit_scale=True,
                   disable=not self.progress, mininterval=1.0, smoothing=0.1)
        pools = [ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"edge-writer-{i}") for i in range(self.workers)]
        in_flight: list[list[Future]] = [[] for _ in range(self.workers)]
        lock = threading.Lock()

        def flush_nodes() -> None:
            nonlocal pending_nodes
            for label, rows in nodes.items():
                if not rows:
                    continue
                category = list(self.schema.nodes[label].category)
                for group_keys, group in _group_by_prop_keys(rows).items():
                    q = self._query("node", (label,), group_keys)
                    for i in range(0, len(group), self.batch_size):
                        self._run(q, {"rows": group[i:i + self.batch_size], "category": category,
                                      "source": provenance.infores})
                stats.nodes += len(rows)
                stats.per_label[label] += len(rows)
            nodes.clear()
            pending_nodes = 0

        def write_edge_batch(key: tuple[str, str, str], mode: str, rows: list[dict]) -> None:
            for group_keys, group in _group_by_prop_keys(rows).items():
                merge_q = self._query("edge", key, group_keys)
                if mode == "create":
                    result = self._run(self._query("edge_create", key, group_keys), {"rows": group, **base}, merge_q)
                else:
                    result = self._run(merge_q, {"rows": group, **base})
                written = result[0]["written"] if result else 0
                with lock:
                    stats.edges += written
                    stats.per_type[key[1]] += written
                    if mode == "create":
                        stats.created += written
                if written < len(group):
                    self._record_dangling(key, group, stats, lock)

        def flush_edges(worker: int) -> None:
            flush_nodes()  # an edge's endpoints must be committed before the edge is matched
            futures = in_flight[worker]
            while len(futures) >= 2:  # bound memory: at most two batches queued per worker
                futures.pop(0).result()
            # CREATE groups before MERGE groups: a batch can open with MERGE rows of edges created
            # in an earlier batch, so the (key, "merge") group may be older than (key, "create");
            # a later repeat of an edge first seen in this batch sits in that MERGE group, and
            # running it before the CREATE would make the edge twice. Every MERGE row of the
            # batch is a repeat of an edge CREATEd in this batch or before, so this order is safe.
            for (key, mode), rows in sorted(edges[worker].items(), key=lambda item: item[0][1] != "create"):
                if rows:
                    futures.append(pools[worker].submit(write_edge_batch, key, mode, rows))
            edges[worker] = defaultdict(list)
            pending_edges[worker] = 0

        try:
            for rec in records:
                if isinstance(rec, Edge):
                    key = (rec.subject_label, rec.predicate, rec.object_label)
                    if key not in self._allowed:
                        self.schema.check_edge(*key)  # raises with the allowed labels
                    props = dict(rec.props)
                    file = props.pop("source_file", None)
                    worker = zlib.crc32(rec.subject.encode()) % self.workers if self.workers > 1 else 0
                    if rec.predicate not in fresh:
                        fresh[rec.predicate] = not self._type_has_edges(rec.predicate, provenance.infores)
                    mode = "merge"
                    if fresh[rec.predicate]:
                        h = hash((key, rec.subject, rec.object))
                        if h not in created:
                            created.add(h)
                            mode = "create"
                    edges[worker][(key, mode)].append({"s": rec.subject, "o": rec.object, "sp": rec.source_predicate,
                                                       "ev": list(rec.evidence), "file": file, "props": props})
                    pending_edges[worker] += 1
                    if pending_edges[worker] >= self.batch_size:
                        flush_edges(worker)
                elif isinstance(rec, Node):
                    if rec.label not in self.schema.nodes:
                        self.schema.node(rec.label)  # raises with the declared labels
                    nodes[rec.label].append({"id": rec.id, "name": rec.name, "synonyms": list(rec.synonyms),
                                             "xrefs": list(rec.xrefs), "props": rec.props})
                    pending_nodes += 1
                    if pending_nodes >= self.batch_size:
                        flush_nodes()
                else:
                    raise TypeError(f"adapter yielded {type(rec).__name__}, expected Node or Edge")
                bar.update(1)
        except InputError:
            # Bad input stops the load (strict mode), but everything read before the bad line is
            # valid: commit it, so "everything before this line is committed" holds and a resume
            # after fixing the file has less to redo. Only the adapter raises InputError.
            for w in range(self.workers):
                flush_edges(w)
            for futures in in_flight:
                for f in futures:
                    f.result()
            raise
        else:
            for w in range(self.workers):
                flush_edges(w)
            for futures in in_flight:
                for f in futures:
                    f.result()
        finally:
            for pool in pools:
                pool.shutdown(wait=True, cancel_futures=True)
            bar.close()
        stats.seconds = time.monotonic() - t0
        return stats

    def write_evidence(self, evidence: Iterable[EvidenceRecord], publications: Iterable[str] | None = None,
                       source: str = LITERATURE_SOURCE, model_version: str | None = None) -> int:
        """Evidence sentences as ``(:Evidence)`` nodes linked to their edge's subject, object and
        Publication (which `write` must have loaded first). Returns how many were written; a
        record whose endpoint or publication is missing is not.

        Replacement: all Evidence of the loaded publications (`publications`: every abstract of the
        file, with or without relations; default: the PMIDs of `evidence`) is deleted first,
        whatever model version wrote it, so a publication's evidence always comes from the
        model that loaded it last. A re-loaded abstract that now yields nothing loses its old
        sentences; other publications keep theirs.

        Aggregates: every text-mined edge of `source` whose evidence changed (before or after)
        gets its totals recomputed from its Evidence nodes (`refresh_literature_edges`), so files
        loaded one after another add up, and an edge left without evidence is deleted. Running
        it twice gives the same graph."""
        evidence = list(evidence)
        rows_by_labels: dict[tuple[str, str], list[dict]] = defaultdict(list)
        pmids = set(publications) if publications is not None else set()
        versions: set[str] = set()
        for ev in evidence:
            for label in (ev.subject_label, ev.object_label):
                if ("Evidence", "HAS_SUBJECT", label) not in self._allowed:
                    raise SchemaViolation(f"evidence {ev.id}: {label!r} cannot be an evidence endpoint "
                                          f"(schema.yaml HAS_SUBJECT/HAS_OBJECT)")
            pmids.add(ev.pmid)
            versions.add(ev.model_version)
            rows_by_labels[(ev.subject_label, ev.object_label)].append(
                {"id": ev.id, "s": ev.subject, "o": ev.object, "pmid": ev.pmid, "props": ev.props})
        if model_version is None and len(versions) == 1:
            model_version = next(iter(versions))
        pmid_list = sorted(pmids)
        touched = self._literature_edges_of(pmid_list, source)
        for i in range(0, len(pmid_list), self.batch_size):
            self._run("UNWIND $pmids AS pmid MATCH (e:Evidence {pmid: pmid}) DETACH DELETE e",
                      {"pmids": pmid_list[i:i + self.batch_size]})
        written = 0
        for (s_label, o_label), rows in rows_by_labels.items():
            cypher = (f"UNWIND $rows AS row MATCH (s:{s_label} {{id: row.s}}) MATCH (o:{o_label} {{id: row.o}}) "
                      "MATCH (p:Publication {id: row.pmid}) "
                      "MERGE (e:Evidence {id: row.id}) SET e += row.props "
                      "MERGE (e)-[:HAS_SUBJECT]->(s) MERGE (e)-[:HAS_OBJECT]->(o) MERGE (e)-[:FROM_PUBLICATION]->(p) "
                      "RETURN count(e) AS n")
            for i in range(0, len(rows), self.batch_size):
                written += self._run(cypher, {"rows": rows[i:i + self.batch_size]})[0]["n"]
        touched |= self._literature_edges_of(pmid_list, source)
        self.last_refresh = self.refresh_literature_edges(sorted(touched), model_version)
        return written

    def _literature_edges_of(self, pmids: list[str], source: str) -> set[str]:
        """elementIds of the text-mined edges of `source` that Evidence of `pmids` supports."""
        out: set[str] = set()
        for i in range(0, len(pmids), self.batch_size):
            rows = self._run(
                "UNWIND $pmids AS pmid MATCH (e:Evidence {pmid: pmid}) "
                "MATCH (e)-[:HAS_SUBJECT]->(s), (e)-[:HAS_OBJECT]->(o) "
                "MATCH (s)-[r]->(o) WHERE type(r) = e.predicate AND r.primary_knowledge_source = $source "
                "RETURN collect(DISTINCT elementId(r)) AS ids",
                {"pmids": pmids[i:i + self.batch_size], "source": source},
                quiet=True)  # before the first literature load no Evidence has `predicate`: no typo warning
            out.update(rows[0]["ids"])
        return out

    def refresh_literature_edges(self, edge_ids: list[str], model_version: str | None = None) -> dict[str, int]:
        """Recompute text-mined edges' totals from their Evidence nodes (matched by subject,
        object and predicate): ``evidence_count`` (Evidence nodes), ``evidence``/``pmids`` (distinct
        PMIDs, sorted), ``publication_count``, ``max_probability``/``mean_probability`` (over the
        per-PMID best probability, rounded to 4 places), ``relation_types`` and
        ``source_predicate`` (the relation types), ``model_versions`` (those of the evidence),
        ``model_version`` (`model_version` when the evidence has it, else the last of them) and,
        for AFFECTS, ``object_direction_qualifier`` when all evidence agrees on a direction. Edges
        left with no evidence are deleted. Deterministic, so running it twice changes nothing.
        Returns {"refreshed": n, "deleted": n}."""
        refreshed = deleted = 0
        cypher = """
UNWIND $ids AS rid
MATCH (s)-[r]->(o) WHERE elementId(r) = rid AND r.agent_type = 'text_mining_agent'
CALL (s, r, o) {
  OPTIONAL MATCH (s)<-[:HAS_SUBJECT]-(e:Evidence)-[:HAS_OBJECT]->(o) WHERE e.predicate = type(r)
  WITH e WHERE e IS NOT NULL
  WITH e.pmid AS pmid, max(e.probability) AS p, count(e) AS n,
       collect(coalesce(e.relation_types, [e.relation_type])) AS types, collect(e.model_version) AS versions
  ORDER BY pmid
  RETURN collect(pmid) AS pmids, collect(p) AS probs, sum(n) AS n,
         reduce(acc = [], x IN collect(types) | acc + reduce(a2 = [], y IN x | a2 + y)) AS all_types,
         reduce(acc = [], x IN collect(versions) | acc + x) AS all_versions
}
CALL (all_types) { UNWIND all_types AS t WITH DISTINCT t ORDER BY t RETURN collect(t) AS types }
CALL (all_versions) { UNWIND all_versions AS v WITH DISTINCT v ORDER BY v RETURN collect(v) AS versions }
WITH r, pmids, probs, n, types, versions,
     [t IN types WHERE t IN ['Positive_Correlation', 'Negative_Correlation'] |
        CASE t WHEN 'Positive_Correlation' THEN 'increased' ELSE 'decreased' END] AS dirs
SET r.evidence_count = n,
    r.pmids = pmids,
    r.evidence = pmids,
    r.publication_count = size(pmids),
    r.max_probability = CASE WHEN n = 0 THEN null
        ELSE round(reduce(m = 0.0, p IN probs | CASE WHEN p > m THEN p ELSE m END), 4) END,
    r.mean_probability = CASE WHEN n = 0 THEN null
        ELSE round(reduce(t = 0.0, p IN probs | t + p) / size(probs), 4) END,
    r.relation_types = types,
    r.source_predicate = CASE WHEN size(types) = 0 THEN r.source_predicate
        ELSE [reduce(j = head(types), t IN tail(types) | j + '|' + t)] END,
    r.model_versions = versions,
    r.model_version = CASE WHEN $version IN versions THEN $version ELSE last(versions) END,
    r.object_direction_qualifier = CASE WHEN type(r) = 'AFFECTS' AND size(dirs) = 1 THEN dirs[0] ELSE null END
WITH r, n
CALL (r, n) { WITH r WHERE n = 0 DELETE r RETURN count(*) AS gone }
RETURN count(*) AS refreshed, sum(gone) AS deleted
"""
        for i in range(0, len(edge_ids), self.batch_size):
            row = self._run(cypher, {"ids": edge_ids[i:i + self.batch_size], "version": model_version})[0]
            refreshed += row["refreshed"]
            deleted += row["deleted"] or 0
        return {"refreshed": refreshed, "deleted": deleted}

    def _record_dangling(self, key: tuple[str, str, str], rows: list[dict], stats: WriteStats,
                         lock: threading.Lock) -> None:
        """Find which rows of a batch had a missing endpoint (rare: only then do we look)."""
        s_label, rel_type, o_label = key
        records, _, _ = self.drv.execute_query(
            f"UNWIND $rows AS row OPTIONAL MATCH (a:{s_label} {{id: row.s}}) OPTIONAL MATCH (b:{o_label} {{id: row.o}}) "
            "WITH row, a, b WHERE a IS NULL OR b IS NULL RETURN row.s AS s, row.o AS o, a IS NULL AS no_s, b IS NULL AS no_o",
            {"rows": [{"s": r["s"], "o": r["o"]} for r in rows]},
            database_=self.database,
        )
        with lock:
            stats.dangling += len(records)
            for r in records[: max(0, 10 - len(stats.dangling_examples))]:
                missing = " and ".join(
                    x for x, m in ((f"{s_label} {r['s']}", r["no_s"]), (f"{o_label} {r['o']}", r["no_o"])) if m
                )
                stats.dangling_examples.append(f"({r['s']})-[:{rel_type}]->({r['o']}): no node {missing}")


_PROP_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _group_by_prop_keys(rows: list[dict]) -> dict[tuple[str, ...], list[dict]]:
    """Split a batch by the set of extra property keys (usually one group per batch)."""
    groups: dict[tuple[str, ...], list[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row["props"])), []).append(row)
    return groups
