"""`targetkg ingest literature --from FILE`: abstracts -> Publication, entity nodes, aggregated
text-mined edges and their Evidence payloads, in the project's adapter record format.

Records (`targetkg.ingest.model`):

* ``Node(label="Publication", id="PMID:…", name=title, props={"title", "year"})``, one per abstract;
* ``Node`` for every grounded endpoint of an edge (Gene NCBIGene:/HGNC:, Drug DRUGBANK:,
  SmallMolecule CHEBI:/MESH:, Disease DOID:/MESH:) with its MeSH/ChEBI xrefs, so an edge never
  dangles even when no other source has the node. Its ``name`` is the KB's canonical name of the
  concept (not the mention: "OB", "K" and "ALL" are abbreviations in one abstract), and the
  mention strings of the file are its ``synonyms``;
* one ``Edge`` per (subject, predicate, object) over the whole input: ``agent_type:
  text_mining_agent``, ``knowledge_level: knowledge_assertion``, ``evidence`` (the PMIDs),
  ``props = {evidence_count, pmids, max_probability, mean_probability, relation_types,
  model_version, source_file, direction?}``;
* ``EvidenceRecord``s (INDRA-style, one per sentence that supports an edge in an abstract):
  ``{id, sentence, pmid, probability, model_version, subject, predicate, object,
  subject_label, object_label, relation_type, relation_types}``. The relation extractor merges
  its predictions per (subject, predicate, object) and abstract (`relations.merge_relations`:
  CID and BioRED's Positive_Correlation are both CONTRIBUTES_TO), so each sentence is one
  Evidence with the highest probability and every relation type that stated it
  (``relation_types``; ``relation_type`` is the first of them). Evidence ids are a digest of
  (model version, pmid, subject, predicate, object, sentence index), so a re-run writes the same
  ids, and a new model version writes new ones. ``evidence_count`` is the number of distinct
  evidence ids. The writer (`GraphWriter.write_evidence`) replaces all evidence of the loaded
  PMIDs (whatever model version wrote it) and recomputes the edges' totals from the Evidence
  nodes, so totals add up over files.

Edges are aggregated in memory over one input file (for PubMed, a baseline shard of ~30k
abstracts); `aggregate` merges the partial aggregates of several workers or shards.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
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
    evidence_ids: set[str] = field(default_factory=set)
    types: set[str] = field(default_factory=set)
    directions: set[str] = field(default_factory=set)

    @property
    def evidence_count(self) -> int:
        """Distinct Evidence ids (= the Evidence nodes the writer makes for this edge)."""
        return len(self.evidence_ids)

    def add(self, pmid: str, probability: float, evidence_ids: Iterable[str], rtypes: Iterable[str],
            directions: Iterable[str] = ()) -> None:
        self.pmids[pmid] = max(probability, self.pmids.get(pmid, 0.0))
        self.evidence_ids.update(evidence_ids)
        self.types.update(rtypes)
        self.directions.update(directions)

    def merge(self, other: "EdgeAggregate") -> None:
        for k, v in other.pmids.items():
            self.pmids[k] = max(v, self.pmids.get(k, 0.0))
        self.evidence_ids |= other.evidence_ids
        self.types |= other.types
        self.directions |= other.directions


@dataclass(slots=True)
class LiteratureEvidence(EvidenceRecord):
    """An EvidenceRecord with every relation type that stated the sentence (merged predictions)."""

    relation_types: tuple[str, ...] = ()

    @property
    def props(self) -> dict[str, Any]:
        props = EvidenceRecord.props.fget(self)
        props["relation_types"] = list(self.relation_types or (self.relation_type,))
        return props


def evidence_id(model_version: str, pmid: str, subject: str, predicate: str, obj: str, sent: int) -> str:
    h = hashlib.sha1(f"{model_version}|{pmid}|{subject}|{predicate}|{obj}|{sent}".encode()).hexdigest()[:20]
    return f"EVIDENCE:{h}"


def publication_node(doc: ExtractedDocument) -> Node:
    props: dict[str, Any] = {"title": doc.title}
    if doc.year is not None:
        props["year"] = doc.year
    return Node(id=doc.id, label="Publication", name=doc.title or doc.id, props=props)


def canonical_names(kb) -> "Callable[[str, str | None], str | None]":
    """name(graph CURIE, KB concept id): the KB's canonical name of the node (its own entry, as
    for DrugBank ids, else the linked concept's), or None when the KB has neither."""
    entities = getattr(kb, "cui_to_entity", None) or {}

    def name(curie: str, concept: str | None) -> str | None:
        for cid in (curie, concept):
            ent = entities.get(cid) if cid else None
            if ent is not None and getattr(ent, "canonical_name", None):
                return ent.canonical_name
        return None

    return name


def pipeline_kb(pipeline):
    """The linker KB of a LiteraturePipeline (None for pipelines without grounding)."""
    nlp = getattr(pipeline, "nlp", None)
    for name in ("targetkg_grounding",):
        if nlp is not None and nlp.has_pipe(name):
            return getattr(nlp.get_pipe(name), "kb", None)
    return None


def aggregate(docs: Iterable[ExtractedDocument], model_version: str, kb=None
              ) -> tuple[dict, list[EvidenceRecord], dict, list[Node]]:
    """(edges, evidence, entity nodes, publications) of extracted documents.

    `kb`: the linker KB, for canonical node names (without it, the most frequent mention)."""
    from .relations import DIRECTION

    canonical = canonical_names(kb)
    edges: dict[tuple[str, str, str], EdgeAggregate] = {}
    evidence: dict[str, LiteratureEvidence] = {}
    node_info: dict[str, dict] = {}
    pubs: list[Node] = []
    for doc in docs:
        pubs.append(publication_node(doc))
        xrefs: dict[str, set[str]] = {}
        mentions: dict[str, set[str]] = {}
        for e in doc.entities:
            if e.curie:
                xrefs.setdefault(e.curie, set()).update(e.xrefs)
                mentions.setdefault(e.curie, set()).add(e.text)
        for r in doc.relations:
            key = (r.subject, r.predicate, r.object)
            agg = edges.get(key)
            if agg is None:
                agg = edges[key] = EdgeAggregate(r.subject, r.subject_label, r.predicate, r.object, r.object_label)
            rtypes = tuple(t for t in r.type.split("|") if t)
            ids = []
            for ev in r.evidence:
                eid = evidence_id(model_version, doc.id, r.subject, r.predicate, r.object, ev.sent)
                ids.append(eid)
                old = evidence.get(eid)
                if old is not None:  # merged upstream; kept safe for relations from elsewhere
                    types = tuple(sorted(set(old.relation_types) | set(rtypes)))
                    if ev.probability > old.probability:
                        old.probability, old.sentence = ev.probability, ev.sentence
                    old.relation_types, old.relation_type = types, types[0]
                    continue
                evidence[eid] = LiteratureEvidence(
                    id=eid, pmid=doc.id, sentence=ev.sentence, probability=ev.probability, model_version=model_version,
                    subject=r.subject, subject_label=r.subject_label, predicate=r.predicate, object=r.object,
                    object_label=r.object_label, relation_type=rtypes[0] if rtypes else r.type, sentence_index=ev.sent,
                    relation_types=rtypes)
            dirs = [DIRECTION[t] for t in rtypes if t in DIRECTION] if r.predicate == "AFFECTS" else []
            agg.add(doc.id, r.probability, ids, rtypes, dirs)
            for curie, label, concept, fallback in ((r.subject, r.subject_label, r.subject_concept, r.subject_name),
                                                    (r.object, r.object_label, r.object_concept, r.object_name)):
                info = node_info.get(curie)
                if info is None:
                    info = node_info[curie] = {"label": label, "name": canonical(curie, concept) or fallback,
                                               "xrefs": set(), "synonyms": set()}
                info["xrefs"].update(xrefs.get(curie, ()))
                info["synonyms"].update(mentions.get(curie, ()))
                if fallback:
                    info["synonyms"].add(fallback)
    nodes = {}
    for curie, info in node_info.items():
        name = info["name"] or next(iter(sorted(info["synonyms"])), None)
        nodes[curie] = Node(id=curie, label=info["label"], name=name, xrefs=tuple(sorted(info["xrefs"])),
                            synonyms=tuple(sorted(x for x in info["synonyms"] if x != name)))
    return edges, list(evidence.values()), nodes, pubs


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
        self._publications: list[str] | None = None
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
        edges, evidence, nodes, pubs = aggregate(self.extracted(), self.model_version, kb=pipeline_kb(self.pipeline))
        self._evidence = evidence
        self._publications = [p.id for p in pubs]
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

    def publications(self) -> list[str]:
        """The Publication ids of the run (every abstract read, with or without relations): the
        writer replaces their evidence as a whole (`GraphWriter.write_evidence(publications=…)`)."""
        if self._publications is None:
            for _ in self.records():
                pass
        return list(self._publications or [])
