"""The records every adapter yields (BioCypher-style): typed nodes and edges with provenance.

An adapter knows its file format and nothing of Neo4j: it yields `Node` and `Edge` objects
whose `label`/`predicate` are names declared in `targetkg.graph.schema` (schema.yaml). The
writer turns them into Cypher; the bulk path into import CSVs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, Union


@dataclass(slots=True)
class Node:
    id: str  # normalised CURIE, e.g. "NCBIGene:1017"
    label: str  # schema label, e.g. "Gene"
    name: str | None = None
    synonyms: tuple[str, ...] = ()
    xrefs: tuple[str, ...] = ()
    props: dict[str, Any] = field(default_factory=dict)  # extra, scalar or list-of-scalar values


@dataclass(slots=True)
class Edge:
    subject: str  # CURIE of the subject node
    subject_label: str
    predicate: str  # schema relationship type, e.g. "PARTICIPATES_IN"
    object: str
    object_label: str
    source_predicate: str  # the source's own relation name, e.g. "CtD" or "in-complex-with"
    evidence: tuple[str, ...] = ()  # ids / PMIDs given by the source ("PMID:123")
    props: dict[str, Any] = field(default_factory=dict)


Record = Union[Node, Edge]


@dataclass(slots=True)
class EvidenceRecord:
    """One sentence that supports an edge (INDRA-style): the writer makes it an
    ``(:Evidence {id, sentence, pmid, probability, model_version, ...})`` node linked to the edge's
    subject (HAS_SUBJECT), object (HAS_OBJECT) and publication (FROM_PUBLICATION)."""

    id: str  # stable digest, so a re-run writes the same node
    pmid: str  # "PMID:123"; the Publication node must exist
    sentence: str
    probability: float
    model_version: str  # evidence of one version is replaced as a whole
    subject: str
    subject_label: str
    predicate: str  # the supported edge's type
    object: str
    object_label: str
    relation_type: str  # the extractor's own relation name, e.g. "CID" or "Positive_Correlation"
    sentence_index: int

    @property
    def props(self) -> dict[str, Any]:
        return {"sentence": self.sentence, "pmid": self.pmid, "probability": self.probability,
                "model_version": self.model_version, "predicate": self.predicate, "relation_type": self.relation_type,
                "sentence_index": self.sentence_index}


@dataclass(slots=True)
class SourceFile:
    """One input file, as an adapter reports it (for provenance and the release manifest)."""

    path: Path
    sha256: str | None = None


@dataclass(slots=True)
class Provenance:
    """Source-level provenance that the writer stamps on every edge of the source."""

    infores: str  # primary_knowledge_source, e.g. "infores:reactome"
    version: str  # source_version
    knowledge_level: str = "knowledge_assertion"
    agent_type: str = "manual_agent"


class Adapter(Protocol):
    """A source: a small generator of nodes and edges plus its provenance."""

    name: str  # CLI name, e.g. "reactome"

    def provenance(self) -> Provenance: ...

    def files(self) -> list[Path]: ...

    def records(self) -> Iterator[Record]:
        """Stream nodes and edges. Each edge's `props` includes `source_file`."""
        ...


class InputError(ValueError):
    """Bad input: always names the file, the line (1-based) and the field."""

    def __init__(self, file: Path | str, line: int | None, field_name: str | None, reason: str, text: str | None = None):
        self.file = str(file)
        self.line = line
        self.field = field_name
        self.reason = reason
        self.text = text
        where = self.file + (f":{line}" if line is not None else "")
        what = f" field {field_name!r}" if field_name else ""
        super().__init__(f"{where}:{what} {reason}".replace(": ", ": ", 1))

    def reject_row(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "field": self.field, "reason": self.reason, "text": self.text}


class BadLines:
    """What an adapter does with a malformed line: raise (default) or reject and go on.

    Adapters call `bad_lines.report(InputError(...))` for every malformed line and skip the
    line when it returns. In strict mode it raises, so the first bad line stops the load with
    a clear error; everything already committed stays committed.
    """

    def __init__(self, skip: bool = False, reject_file: Path | None = None):
        self.skip = skip
        self.reject_file = reject_file
        self.rejected: list[dict[str, Any]] = []

    def report(self, error: InputError) -> None:
        if not self.skip:
            raise error
        self.rejected.append(error.reject_row())
        if self.reject_file is not None:
            import json

            self.reject_file.parent.mkdir(parents=True, exist_ok=True)
            with self.reject_file.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(error.reject_row(), ensure_ascii=False) + "\n")

    @property
    def count(self) -> int:
        return len(self.rejected)
