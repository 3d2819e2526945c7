"""`targetkg ingest literature --from FILE`: abstracts -> Publication, entity nodes, aggregated
text-mined edges and their Evidence payloads, in the project's adapter record format.

Records (`targetkg.ingest.model`):

* ``Node(label="Publication", id="PMID:…", name=title, props={"title", "year"})``, one per abstract;
* ``Node`` for every grounded endpoint of an edge (Gene NCBIGene:/HGNC:, Drug DRUGBANK:,
  SmallMolecule CHEBI:/MESH:, Disease DOID:/MESH:) with its name and MeSH/ChEBI xrefs, so an
  edge never dangles even when no other source has the node;
* one ``Edge`` per (subject, predicate, object) over the whole input: ``agent_type:
  text_mining_agent``, ``knowledge_level: knowledge_assertion``, ``evidence`` (the PMIDs),
  ``props = {evidence_count, pmids, max_probability, mean_probability, relation_types,
  model_version, source_file, direction?}``;
* ``EvidenceRecord``s (INDRA-style, one per sentence that supports an edge in an abstract):
  ``{id, sentence, pmid, probability, model_version, subject, predicate, object,
  subject_label, object_label, relation_type}``. Evidence ids are a digest of (model version,
  pmid, subject, predicate, object, sentence index), so a re-run writes the same ids, and a new
  model version writes new ones: the writer (`GraphWriter.write_evidence`) replaces the evidence
  of that model version for the loaded PMIDs.

Edges are aggregated in memory over one input file (for PubMed, a baseline shard of ~30k
abstracts); `aggregate` merges the partial aggregates of several workers or shards.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from targetkg.ingest.model import BadLines, Edge, EvidenceRecord, Node, Provenance, Record

from .pipeline import ExtractedDocument

INFORES = "infores:targetkg-literature"
AGENT_TYPE = "text_mining_agent"
KNOWLEDGE_LEVEL = "knowledge_assertion"


@dataclass
class EdgeAggregate:
    subject: str
    subject_label: str
    predicate: str
    object: str
    object_label: str
    pmids: dict[str, float] = field(default_factory=dict)  # pmid -> best probability in that abstract
    evidence_count: int = 0
    types: set[str] = field(default_factory=set)
    directions: set[str] = field(default_factory=set)

    def add(self, pmid: str, probability: float, n_evidence: int, rtype: str, direction: str | None) -> None:
        self.pmids[pmid] = max(probability, self.pmids.get(pmid, 0.0))
        self.evidence_count += n_evidence
        self.types.add(rtype)
        if direction:
            self.directions.add(direction)

    def merge(self, other: "EdgeAggregate") -> None:
        for k, v in other.pmids.items():
            self.pmids[k] = max(v, self.pmids.get(k, 0.0))
        self.evidence_count += other.evidence_count
        self.types |= other.types
        self.directions |= other.directions


def evidence_id(model_version: str, pmid: str, subject: str, predicate: str, obj: str, sent: int) -> str:
    h = hashlib.sha1(f"{model_version}|{pmid}|{subject}|{predicate}|{obj}|{sent}".encode()).hexdigest()[:20]
    return f"EVIDENCE:{h}"


def publication_node(doc: ExtractedDocument) -> Node:
    props: dict[str, Any] = {"title": doc.title}
    if doc.year is not None:
        props["year"] = doc.year
    return Node(id=doc.id, label="Publication", name=doc.title or doc.id, props=props)


def aggregate(docs: Iterable[ExtractedDocument], model_version: str) -> tuple[dict, list[EvidenceRecord], dict, list[Node]]:
    """(edges, evidence, entity nodes, publications) of extracted documents."""
    edges: dict[tuple[str, str, str], EdgeAggregate] = {}
    evidence: list[EvidenceRecord] = []
    nodes: dict[str, Node] = {}
    pubs: list[Node] = []
    for doc in docs:
        pubs.append(publication_node(doc))
        names = {}
        xrefs: dict[str, set[str]] = {}
        for e in doc.entities:
            if e.curie:
                names.setdefault(e.curie, e.text)
                xrefs.setdefault(e.curie, set()).update(e.xrefs)
        for r in doc.relations:
            key = (r.subject, r.predicate, r.object)
            agg = edges.get(key)
            if agg is None:
                agg = edges[key] = EdgeAggregate(r.subject, r.subject_label, r.predicate, r.object, r.object_label)
            from .relations import DIRECTION

            agg.add(doc.id, r.probability, len(r.evidence), r.type, DIRECTION.get(r.type) if r.predicate == "AFFECTS" else None)
            for curie, label, name in ((r.subject, r.subject_label, r.subject_name), (r.object, r.object_label, r.object_name)):
                if curie not in nodes:
                    nodes[curie] = Node(id=curie, label=label, name=name or names.get(curie),
                                        xrefs=tuple(sorted(xrefs.get(curie, ()))))
            for ev in r.evidence:
                evidence.append(EvidenceRecord(
                    id=evidence_id(model_version, doc.id, r.subject, r.predicate, r.object, ev.sent), pmid=doc.id,
                    sentence=ev.sentence, probability=ev.probability, model_version=model_version, subject=r.subject,
                    subject_label=r.subject_label, predicate=r.predicate, object=r.object, object_label=r.object_label,
                    relation_type=r.type, sentence_index=ev.sent))
    return edges, evidence, nodes, pubs


def edge_record(agg: EdgeAggregate, model_version: str, source_file: str) -> Edge:
    probs = list(agg.pmids.values())
    props: dict[str, Any] = {
        "agent_type": AGENT_TYPE,
        "knowledge_level": KNOWLEDGE_LEVEL,
        "evidence_count": agg.evidence_count,
        "publication_count": len(agg.pmids),
        "pmids": sorted(agg.pmids),
        "max_probability": round(max(probs), 4),
        "mean_probability": round(sum(probs) / len(probs), 4),
        "relation_types": sorted(agg.types),
        "model_version": model_version,
        "source_file": source_file,
    }
    if len(agg.directions) == 1:
        props["object_direction_qualifier"] = next(iter(agg.directions))
    return Edge(subject=agg.subject, subject_label=agg.subject_label, predicate=agg.predicate, object=agg.object,
                object_label=agg.object_label, source_predicate="|".join(sorted(agg.types)),
                evidence=tuple(sorted(agg.pmids)), props=props)


class LiteratureAdapter:
    """Adapter for `targetkg ingest literature --from FILE` (PubMed XML, PubTator, JSONL, text).

    `records()` yields Publication nodes, endpoint nodes and aggregated edges; `evidence()`
    yields the Evidence payloads of the same run (computed once, kept until the next
    `records()` call). `pipeline` may be passed in (tests, benchmarks); otherwise the cached
    models are loaded.
    """

    name = "literature"

    def __init__(self, file: str | Path, model: str | Path | None = None, relation_model: str | Path | None = None,
                 fmt: str = "auto", pipeline=None, bad_lines: BadLines | None = None, batch_size: int = 64,
                 version: str | None = None):
        self.file = Path(file)
        self.fmt = fmt
        self.bad_lines = bad_lines or BadLines()
        self.batch_size = batch_size
        if pipeline is None:
            from .pipeline import LiteraturePipeline

            pipeline = LiteraturePipeline.load(ner_model=model, relation_model=relation_model)
        self.pipeline = pipeline
        self.model_version = pipeline.model_version
        self.version = version or self.model_version
        self._evidence: list[EvidenceRecord] | None = None
        self.stats: dict[str, int] = {}

    def provenance(self) -> Provenance:
        return Provenance(infores=INFORES, version=self.version, knowledge_level=KNOWLEDGE_LEVEL, agent_type=AGENT_TYPE)

    def files(self) -> list[Path]:
        return [self.file]

    def extracted(self) -> Iterator[ExtractedDocument]:
        from .readers import read_documents

        docs = read_documents(self.file, fmt=self.fmt, bad_lines=self.bad_lines)
        yield from self.pipeline.extract(docs, batch_size=self.batch_size)

    def records(self) -> Iterator[Record]:
        edges, evidence, nodes, pubs = aggregate(self.extracted(), self.model_version)
        self._evidence = evidence
        self.stats = {"publications": len(pubs), "edges": len(edges), "evidence": len(evidence), "nodes": len(nodes),
                      "rejected_lines": self.bad_lines.count}
        yield from pubs
        yield from nodes.values()
        for agg in edges.values():
            yield edge_record(agg, self.model_version, str(self.file))

    def evidence(self) -> list[EvidenceRecord]:
        if self._evidence is None:
            for _ in self.records():
                pass
        return list(self._evidence or [])
