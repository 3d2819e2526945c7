"""Running the pipeline over many files on many machines (all of PubMed), with Dask.

PubMed's baseline is ~1,200 gzipped XML shards of ~30k citations. The unit of work is one
shard: a worker loads the pipeline once (cached per worker process), streams the shard through
it and returns a *partial aggregate* (edges keyed by (subject, predicate, object) with their
PMIDs, probabilities and evidence counts, the evidence payloads and the publications). Partial
aggregates merge associatively (`merge_partials`), so the client - or a tree reduction - adds
them up in any order, and a failed shard is simply re-run. The same code runs on a
`dask.distributed.LocalCluster` (tests, one machine) and on any Dask cluster (SSH, Kubernetes,
SLURM via dask-jobqueue) by passing its scheduler address.

    from targetkg.nlp.distributed import run_files
    result = run_files(shards, scheduler="tcp://scheduler:8786")       # or n_workers=2 locally
    for record in result.records(): ...                                   # adapter records

See docs/nlp_design.md for sizing.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from targetkg.ingest.model import BadLines, EvidenceRecord, Node, Record

from .adapter import EdgeAggregate, aggregate, edge_record, pipeline_kb

_PIPELINES: dict[tuple, Any] = {}
_LOCK = threading.Lock()


def _pipeline(spec: dict):
    """One pipeline per worker process and spec (loaded on first use)."""
    key = tuple(sorted((k, str(v)) for k, v in spec.items()))
    with _LOCK:
        pipe = _PIPELINES.get(key)
        if pipe is None:
            from .pipeline import LiteraturePipeline

            pipe = LiteraturePipeline.load(ner_model=spec.get("ner_model"), kb_dir=spec.get("kb_dir"),
                                           relation_model=spec.get("relation_model"),
                                           with_relations=spec.get("relations", True))
            _PIPELINES[key] = pipe
    return pipe


@dataclass
class Partial:
    """What one shard contributes; `merge_partials` adds two of them."""

    edges: dict[tuple[str, str, str], EdgeAggregate] = field(default_factory=dict)
    evidence: list[EvidenceRecord] = field(default_factory=list)
    nodes: dict[str, Node] = field(default_factory=dict)
    publications: list[Node] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    documents: int = 0
    rejected: list[dict] = field(default_factory=list)
    model_version: str = ""
    workers: set[str] = field(default_factory=set)


def process_file(path: str, spec: dict | None = None, fmt: str = "auto", skip_bad_lines: bool = True) -> Partial:
    """Run the pipeline over one file; returns its partial aggregate (a Dask task)."""
    from .readers import read_documents

    spec = spec or {}
    pipe = _pipeline(spec)
    bad = BadLines(skip=skip_bad_lines)
    docs = read_documents(path, fmt=fmt, bad_lines=bad)
    extracted = pipe.extract(docs, batch_size=spec.get("batch_size", 64))
    edges, evidence, nodes, pubs = aggregate(extracted, pipe.model_version, kb=pipeline_kb(pipe))
    return Partial(edges, evidence, nodes, pubs, [str(path)], len(pubs), bad.rejected, pipe.model_version,
                   {f"{os.uname().nodename}:{os.getpid()}"})


def merge_partials(a: Partial, b: Partial) -> Partial:
    for key, agg in b.edges.items():
        mine = a.edges.get(key)
        if mine is None:
            a.edges[key] = agg
        else:
            mine.merge(agg)
    a.evidence.extend(b.evidence)
    for k, n in b.nodes.items():
        a.nodes.setdefault(k, n)
    a.publications.extend(b.publications)
    a.files.extend(b.files)
    a.documents += b.documents
    a.rejected.extend(b.rejected)
    a.model_version = a.model_version or b.model_version
    a.workers |= b.workers
    return a


@dataclass
class RunResult:
    partial: Partial

    def records(self, source_file: str = "") -> Iterator[Record]:
        p = self.partial
        yield from p.publications
        yield from p.nodes.values()
        for agg in p.edges.values():
            yield edge_record(agg, p.model_version, source_file or ",".join(p.files))

    @property
    def evidence(self) -> list[EvidenceRecord]:
        return self.partial.evidence


def run_files(files: Sequence[str | Path], scheduler: str | None = None, n_workers: int = 2,
              spec: dict | None = None, processes: bool = True, client=None) -> RunResult:
    """Process `files` on a Dask cluster (the given scheduler, else a LocalCluster of
    `n_workers` single-threaded workers) and merge the partial aggregates with a tree reduction."""
    from dask.distributed import Client, LocalCluster

    own_cluster = None
    if client is None:
        if scheduler:
            client = Client(scheduler)
        else:
            own_cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=processes,
                                       dashboard_address=None, silence_logs=40)
            client = Client(own_cluster)
    try:
        futures = client.map(process_file, [str(f) for f in files], spec=spec or {}, pure=False)
        # tree reduction on the cluster: merges run where the partials live
        while len(futures) > 1:
            nxt = [client.submit(merge_partials, futures[i], futures[i + 1], pure=False)
                   for i in range(0, len(futures) - 1, 2)]
            if len(futures) % 2:
                nxt.append(futures[-1])
            futures = nxt
        result = futures[0].result() if futures else Partial()
    finally:
        if own_cluster is not None:
            client.close()
            own_cluster.close()
    return RunResult(result)


def shard(files: Iterable[str | Path], out_dir: Path, docs_per_shard: int = 1000) -> list[Path]:
    """Split documents of (big) files into JSONL shards of `docs_per_shard` documents."""
    import json

    from .readers import read_documents

    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    fh = None
    n = 0
    for f in files:
        for d in read_documents(f):
            if fh is None or n >= docs_per_shard:
                if fh:
                    fh.close()
                paths.append(out_dir / f"shard-{len(paths):05d}.jsonl")
                fh = open(paths[-1], "w", encoding="utf-8")
                n = 0
            fh.write(json.dumps({"id": d.id, "title": d.title, "abstract": d.abstract, "year": d.year}) + "\n")
            n += 1
    if fh:
        fh.close()
    return paths
