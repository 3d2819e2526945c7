"""Pathway Commons (PC2) downloads: extended SIF, plain SIF, GMT gene sets and pathways.txt.

File kinds (recognised by name, then by header):
  *.gmt, *.gmt.gz          `URI<TAB>name: …; datasource: …; organism: …; idtype: …<TAB>member…`
                           -> Pathway nodes, member PARTICIPATES_IN Pathway
  pathways.txt(.gz)        two sections: `PATHWAY_URI DISPLAY_NAME DIRECT_SUB_PATHWAY_URIS
                           ALL_SUB_PATHWAY_URIS`, blank line, `PATHWAY_URI DATASOURCE DISPLAY_NAME
                           ALL_NAMES NUM_DIRECT_COMPONENT_OR_STEP_PROCESSES`
                           -> Pathway nodes, direct sub-pathway PART_OF parent
  *.txt(.gz) with header   extended SIF: edge section (`PARTICIPANT_A INTERACTION_TYPE
  PARTICIPANT_A …          PARTICIPANT_B INTERACTION_DATA_SOURCE INTERACTION_PUBMED_ID PATHWAY_NAMES
                           [MEDIATOR_IDS]`), blank line, node section (`PARTICIPANT
                           PARTICIPANT_TYPE PARTICIPANT_NAME UNIFICATION_XREF [RELATIONSHIP_XREF]`)
  *.sif(.gz)               plain SIF: `A<TAB>type<TAB>B`, no header
BioPAX is read by `biopax.py`.

Streaming: a full PC release is GBs, and its node section comes after the edges. So a
participant is resolved from its form when the edge is read: `CHEBI:n` is a SmallMolecule, an
HGNC-symbol-shaped id is a Gene (NCBIGene via the GeneVocabulary; `HGNC.SYMBOL:x` with
unmapped=True when HGNC does not know it). Its node is yielded right before its first edge
(the writer MATCHes edge endpoints). Node-section rows then yield the same node again with
names, xrefs and PC's participant types. Only participants that are neither (older PC files
name small molecules, e.g. "glucose") wait for the node section; just their edges are held.

SIF edges are rule-derived by paxtools from BioPAX, so they carry knowledge_level
`logical_entailment` and agent_type `automated_agent`; gene sets and the pathway hierarchy keep
the source default (knowledge_assertion by manual curation in the original databases).
"""

from __future__ import annotations

import gzip
import io
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO
from urllib.parse import unquote, urlsplit

import bioregistry

from .biopax import gene_node
from .identifiers import CurieError, GeneRecord, GeneVocabulary, curie, normalize_prefix
from .model import BadLines, Edge, InputError, Node, Provenance, Record

# --------------------------------------------------------------------------------------
# SIF interaction types (paxtools SIFEnum, PC2 v8–v14) -> schema
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SifType:
    predicate: str  # schema relationship type
    aspect: str | None = None  # Biolink object_aspect_qualifier of the controlled participant
    flip: bool = False  # the graph edge runs B -> A ("A consumption-controlled-by B": B regulates A)


SIF_TYPES: dict[str, SifType] = {
    # "First protein controls a reaction that changes the state of the second protein."
    "controls-state-change-of": SifType("REGULATES", "molecular_modification"),
    "controls-phosphorylation-of": SifType("REGULATES", "phosphorylation"),
    "controls-transport-of": SifType("REGULATES", "transport"),
    "controls-expression-of": SifType("REGULATES", "expression"),
    # "controls a reaction that degrades the second protein" (paxtools SIFEnum, PC v9+)
    "controls-degradation-of": SifType("REGULATES", "degradation"),
    "controls-transport-of-chemical": SifType("REGULATES", "transport"),
    # "The protein is controlling a reaction of which the small molecule is an output."
    "controls-production-of": SifType("REGULATES", "synthesis"),
    # "The small molecule is consumed by a reaction that is controlled by a protein."
    "consumption-controlled-by": SifType("REGULATES", "metabolic_processing", flip=True),
    "chemical-affects": SifType("AFFECTS"),
    "catalysis-precedes": SifType("PRECEDES"),
    "in-complex-with": SifType("IN_COMPLEX_WITH"),
    "interacts-with": SifType("INTERACTS_WITH"),
    # "participants or controllers of the same interaction": association only
    "neighbor-of": SifType("RELATED_TO"),
    "reacts-with": SifType("CHEMICALLY_INTERACTS_WITH"),
    # "input to a reaction that produces the other small molecule"
    "used-to-produce": SifType("DERIVES_INTO"),
}

SIF_EDGE_COLUMNS = ("PARTICIPANT_A", "INTERACTION_TYPE", "PARTICIPANT_B", "INTERACTION_DATA_SOURCE",
                    "INTERACTION_PUBMED_ID", "PATHWAY_NAMES", "MEDIATOR_IDS")
SIF_NODE_COLUMNS = ("PARTICIPANT", "PARTICIPANT_TYPE", "PARTICIPANT_NAME", "UNIFICATION_XREF", "RELATIONSHIP_XREF")
PLAIN_SIF_COLUMNS = SIF_EDGE_COLUMNS[:3]
PATHWAYS_COLUMNS = ("PATHWAY_URI", "DISPLAY_NAME", "DIRECT_SUB_PATHWAY_URIS", "ALL_SUB_PATHWAY_URIS")
PATHWAYS_INFO_COLUMNS = ("PATHWAY_URI", "DATASOURCE", "DISPLAY_NAME", "ALL_NAMES", "NUM_DIRECT_COMPONENT_OR_STEP_PROCESSES")
GMT_COLUMNS = ("URI", "description", "members")

SIF_PROVENANCE = {"knowledge_level": "logical_entailment", "agent_type": "automated_agent"}
GMT_PREDICATE = "gene_set_member"  # source_predicate of GMT membership edges
SUB_PATHWAY_PREDICATE = "DIRECT_SUB_PATHWAY_URIS"

# HGNC approved symbols: upper-case letters, digits, '-', '_' (bioregistry's hgnc.symbol
# pattern) with a lower-case "orf" in open reading frames (C1orf112). Names of small molecules
# in older PC files ("glucose", "3-phosphoglyceric acid") do not match.
_SYMBOL = re.compile(r"[A-Z0-9][A-Z0-9_-]*(?:orf[0-9]+[A-Z0-9_-]*)?@?")
_CHEBI = re.compile(r"CHEBI:(\d+)", re.IGNORECASE)
_UNIPROT = re.compile(r"[OPQ][0-9][A-Z0-9]{3}[0-9]|[A-NR-Z][0-9](?:[A-Z][A-Z0-9]{2}[0-9]){1,2}")
_IDENTIFIERS_ORG = re.compile(r"https?://identifiers\.org/([^/:]+)[/:](.+)")
_GMT_KEYS = re.compile(r"(?:^|;\s*)(name|datasource|organism|idtype):\s?")
_QUOTED = re.compile(r'"([^"]*)"')
_PC_VERSION = re.compile(r"PathwayCommons(\d+)")

# PC database names that bioregistry does not resolve itself.
_XREF_DB_ALIASES = {"uniprot knowledgebase": "uniprot", "cas registry number": "cas"}
_GENE_TYPES = {"ProteinReference", "DnaReference", "RnaReference", "DnaRegionReference", "RnaRegionReference"}


@lru_cache(maxsize=65536)
def pathway_curie(uri: str) -> str | None:
    """A pathway URI as a CURIE: bioregistry-known prefixes (identifiers.org/reactome/R-HSA-1 ->
    REACT:R-HSA-1, smpdb, kegg.pathway, panther.pathway, wikipathways, ...), else the PC2 URI's
    last path segment under PATHWAYCOMMONS. None when it is not a usable URI."""
    uri = uri.strip()
    m = _IDENTIFIERS_ORG.fullmatch(uri)
    if m:
        local = unquote(m.group(2))
        try:
            value = curie(m.group(1), local)
        except CurieError:
            value = None
        if value is not None:
            prefix = bioregistry.normalize_prefix(m.group(1))
            if prefix is None or bioregistry.is_valid_identifier(prefix, local) is not False:
                return value
            # a part of a database's pathway, not one of its ids (PC gives WikiPathways' groups
            # as identifiers.org/wikipathways/WP384/b9d89): WIKIPATHWAYS:WP384/b9d89 would be an
            # invalid CURIE, so it becomes a Pathway Commons entity named after the path
            return f"PATHWAYCOMMONS:{local.replace('/', '_')}"
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    last = unquote(parts.path.rstrip("/").rpartition("/")[2])
    if parts.netloc.endswith("pathwaycommons.org") or parts.netloc == "purl.org":
        return f"PATHWAYCOMMONS:{last}" if last else None
    prefix, local = bioregistry.parse_iri(uri)  # slow for unknown URIs, hence last
    if prefix and local:
        try:
            return curie(prefix, local)
        except CurieError:
            return None
    return None


@lru_cache(maxsize=4096)
def _xref_prefix(db: str) -> str | None:
    key = db.strip().lower()
    try:
        return normalize_prefix(_XREF_DB_ALIASES.get(key, key))
    except CurieError:
        return None


def normalize_xref(value: str) -> str | None:
    """PC's `db:id` xref ("ncbi gene:8896", "hgnc:HGNC:29629", "chebi:CHEBI:75303") as a CURIE."""
    db, sep, local = value.partition(":")
    if not sep or not local.strip():
        return None
    prefix = _xref_prefix(db)
    if prefix is None:
        return None
    local = local.strip()
    head, sep2, tail = local.partition(":")
    if sep2 and head.upper() == prefix.upper():
        local = tail
    return f"{prefix}:{local}"


def _open_bytes(path: Path) -> IO[bytes]:
    # Iterating a BufferedReader over GzipFile reads lines in C; GzipFile's own iteration
    # goes through a Python-level readline per line (about twice as slow).
    if path.name.endswith(".gz"):
        return io.BufferedReader(gzip.GzipFile(path, "rb"))
    return open(path, "rb")


def _split(cell: str) -> list[str]:
    """A `;`-separated cell ("IntAct;BioGRID", "http://…;http://…;" with a trailing ';')."""
    if not cell:
        return []
    return [x for x in cell.strip().split(";") if x]


def _column_error(path: Path, line_no: int, columns: tuple[str, ...], found: int, text: str) -> InputError:
    if found < len(columns):
        return InputError(path, line_no, columns[found],
                          f"missing column: expected {len(columns)} tab-separated columns, found {found}", text)
    return InputError(path, line_no, columns[-1],
                      f"{found - len(columns)} extra column(s): expected {len(columns)}, found {found}", text)


@dataclass(slots=True)
class _Participant:
    id: str
    label: str


@dataclass(slots=True)
class _PendingEdge:
    """An extended-SIF edge waiting for the node section to identify a named participant."""

    line_no: int
    text: str
    a: str
    kind: str
    b: str
    props: dict
    evidence: tuple[str, ...]


class PathwayCommonsAdapter:
    name = "pathwaycommons"
    infores = "infores:pathway-commons"

    def __init__(self, directory_or_files: Path | str | Iterable[Path | str], genes: GeneVocabulary | None = None,
                 bad_lines: BadLines | None = None, version: str | None = None):
        if isinstance(directory_or_files, (str, Path)):
            given = [Path(directory_or_files)]
        else:
            given = [Path(p) for p in directory_or_files]
        self.genes = genes
        self.bad_lines = bad_lines if bad_lines is not None else BadLines()
        self.inputs: list[tuple[Path, str]] = []  # (file, kind) in reading order
        for p in given:
            if p.is_dir():
                for f in sorted(p.iterdir()):
                    kind = self._kind(f) if f.is_file() else None
                    if kind:
                        self.inputs.append((f, kind))
            else:
                kind = self._kind(p)
                if kind is None:
                    raise InputError(p, None, None, "not a Pathway Commons SIF, extended SIF, GMT, pathways.txt or BioPAX (.owl) file")
                self.inputs.append((p, kind))
        # Gene sets first, then the hierarchy, then SIF (its nodes are the least complete).
        order = {"gmt": 0, "pathways": 1, "extsif": 2, "sif": 3, "biopax": 4}
        self.inputs.sort(key=lambda fk: order[fk[1]])
        if version is None:
            found = {m.group(1) for f, _ in self.inputs if (m := _PC_VERSION.search(f.name))}
            version = f"PC{found.pop()}" if len(found) == 1 else "unknown"
        self.version = version

    # --- contract -----------------------------------------------------------------------
    def provenance(self) -> Provenance:
        return Provenance(infores=self.infores, version=self.version)

    def files(self) -> list[Path]:
        return [f for f, _ in self.inputs]

    def records(self) -> Iterator[Record]:
        self._known: dict[str, _Participant] = {}  # participant/member string -> graph node
        self._emitted: set[str] = set()  # node ids already yielded
        memberships: set[tuple[str, str]] = set()  # GMT (member, pathway) across files
        for path, kind in self.inputs:
            if kind == "gmt":
                yield from self._gmt(path, memberships)
            elif kind == "pathways":
                yield from self._pathways(path)
            elif kind == "biopax":
                # PC's BioPAX goes through the same rdflib reader as Reactome's, with PC provenance.
                from targetkg.ingest.biopax import BioPAXAdapter

                yield from BioPAXAdapter([path], self.infores, self.version, self.genes, self.bad_lines).records()
            else:
                yield from self._sif(path, extended=(kind == "extsif"))

    def expected_counts(self) -> dict[str, int]:
        """Counts read off the files: data rows per file (`rows:`, `members:`, `node_rows:`),
        SIF rows per interaction type (`interaction:`), the SIF edges per schema type as distinct
        (subject, type, object) triples (several interaction types map to one type, and a pair
        may be listed in several files: the graph has one edge for them), distinct pathways, and
        GMT memberships as distinct (gene, pathway) pairs: HGNC has
        merged some symbols a set lists separately (RPL9P8 and RPL9P9 are one gene now), and
        a pathway in several GMT files is one set of edges."""
        out: Counter[str] = Counter()
        pathways: set[str] = set()
        memberships: set[tuple[str, str]] = set()
        biopax_counts: Counter[str] = Counter()
        # predicate -> hashes of (subject, object): a full PC SIF has millions of rows, and a
        # 64-bit hash per edge keeps this small (a collision, ~1e-7 at 2M edges, undercounts by one)
        sif_edges: dict[str, set[int]] = {}
        for path, kind in self.inputs:
            if kind == "gmt":
                for _, text in self._lines(path, report=False):
                    cols = text.split("\t")
                    pathway_id = pathway_curie(cols[0]) if len(cols) >= 2 else None
                    if pathway_id is None:
                        continue
                    out[f"rows:{path.name}"] += 1
                    pathways.add(pathway_id)
                    idtype = _gmt_description(cols[1]).get("idtype", self._default_idtype(path)).lower()
                    for member in cols[2:]:
                        out[f"members:{path.name}"] += bool(member.strip())
                        found = self._member_id(member.strip(), idtype) if member.strip() else None
                        if found is not None:
                            memberships.add((found[0].id, pathway_id))
            elif kind == "pathways":
                section = 0
                for _, text in self._lines(path, report=False):
                    cols = text.split("\t")
                    if not text.strip() or cols[0] == "PATHWAY_URI":
                        section += cols[0] == "PATHWAY_URI"
                        continue
                    out[f"rows:{path.name}"] += 1
                    if section == 1 and (pathway_id := pathway_curie(cols[0])):
                        pathways.add(pathway_id)
                        subs = set(_split(cols[2])) if len(cols) > 2 else set()
                        out["edges:PART_OF"] += len(subs)
            elif kind == "biopax":
                from targetkg.ingest.biopax import BioPAXAdapter

                biopax_counts.update(
                    BioPAXAdapter([path], self.infores, self.version, self.genes, BadLines(skip=True)).expected_counts()
                )
            else:
                in_nodes = False
                named: dict[str, _Participant | None] = {}  # participant name -> node-section identity
                rows: list[tuple[str, str, str]] = []  # edge rows naming a participant: after the node section
                for line_no, text in self._lines(path, report=False):
                    if kind == "extsif" and line_no == 1:
                        continue
                    if not text.strip():
                        in_nodes = kind == "extsif"
                        continue
                    if in_nodes:
                        if not text.startswith("PARTICIPANT\t"):
                            out[f"node_rows:{path.name}"] += 1
                            cols = text.split("\t")
                            if len(cols) >= 4 and cols[0].strip():
                                unification = [x for x in (normalize_xref(v) for v in _split(cols[3])) if x]
                                named[cols[0].strip()] = self._identify(_split(cols[1]), unification,
                                                                        cols[4] if len(cols) > 4 else "")
                        continue
                    out[f"rows:{path.name}"] += 1
                    cols = text.split("\t")
                    itype = cols[1] if len(cols) >= 3 else ""
                    out[f"interaction:{itype}"] += 1
                    if itype.strip() in SIF_TYPES and cols[0].strip() and cols[2].strip():
                        row = (cols[0].strip(), itype.strip(), cols[2].strip())
                        if not self._count_sif_edge(row, {}, sif_edges):
                            rows.append(row)
                for row in rows:
                    self._count_sif_edge(row, named, sif_edges)
        for predicate, keys in sif_edges.items():
            out[f"edges:{predicate}"] += len(keys)
        out["edges:PARTICIPATES_IN"] += len(memberships)
        out["nodes:Pathway"] = len(pathways)
        out.update(biopax_counts)  # BioPAX counts add to the flat-file ones (Counter.update adds)
        out["edges"] = sum(v for k, v in out.items() if k.startswith("edges:"))
        return dict(out)

    def _count_sif_edge(self, row: tuple[str, str, str], named: dict[str, _Participant | None],
                        edges: dict[str, set[int]]) -> bool:
        """Add the graph edge of a SIF row to `edges` (one per subject, predicate and object, as
        the writer merges them: PC lists a pair once per interaction type, and controls-state-change-of
        and controls-expression-of are both REGULATES; a pair may also be in several files).
        False if a participant is not identified (yet)."""
        a, itype, b = row
        pa, pb = self._count_participant(a, named), self._count_participant(b, named)
        if pa is None or pb is None:
            return False
        spec = SIF_TYPES[itype]
        s, o = (pb, pa) if spec.flip else (pa, pb)
        if (s.label, spec.predicate, o.label) in _allowed():
            edges.setdefault(spec.predicate, set()).add(hash((s.id, o.id)))
        return True

    def _count_participant(self, value: str, named: dict[str, _Participant | None]) -> _Participant | None:
        """A SIF participant's graph node as `records()` resolves it, without side effects: by its
        form (ChEBI id, HGNC symbol), else as the node section identifies it; None if neither."""
        if value[:6].upper() == "CHEBI:":
            m = _CHEBI.fullmatch(value)
            return _Participant(f"CHEBI:{m.group(1)}", "SmallMolecule") if m else None
        if _SYMBOL.fullmatch(value):
            rec = self.genes.by_any_symbol(value) if self.genes else None
            return _Participant(rec.curie if rec else f"HGNC.SYMBOL:{value}", "Gene")
        return named.get(value)

    # --- files --------------------------------------------------------------------------
    @staticmethod
    def _kind(path: Path) -> str | None:
        name = path.name.lower()
        base = name[:-3] if name.endswith(".gz") else name
        if base.endswith(".gmt"):
            return "gmt"
        if base.endswith(".owl"):
            return "biopax"
        if base.endswith(".sif") or base.endswith(".txt"):
            if base == "pathways.txt":
                return "pathways"
            try:
                with (gzip.open(path, "rb") if name.endswith(".gz") else open(path, "rb")) as fh:
                    head = fh.readline(4096)
            except (OSError, EOFError, zlib.error):
                head = b""  # unreadable: let the reader report it with its line
            if head.startswith(b"PARTICIPANT_A\t"):
                return "extsif"
            if head.startswith(b"PATHWAY_URI\t"):
                return "pathways"
            if base.endswith(".sif"):
                return "sif"
            return "extsif" if not head else None
        return None

    def _lines(self, path: Path, report: bool = True) -> Iterator[tuple[int, str]]:
        """(line number, text without line break); undecodable lines and a truncated gzip are
        reported as bad lines."""
        line_no = 0
        try:
            with _open_bytes(path) as fh:
                for line_no, raw in enumerate(fh, start=1):
                    try:
                        text = raw.decode("utf-8")
                    except UnicodeDecodeError as exc:
                        if report:
                            shown = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                            reason = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
                            self.bad_lines.report(InputError(path, line_no, None, reason, shown))
                        continue
                    yield line_no, text.rstrip("\r\n")
        except (EOFError, OSError, zlib.error) as exc:
            if report:
                self.bad_lines.report(InputError(path, line_no + 1, None, f"unreadable: truncated or corrupt gzip ({exc})"))

    # --- participants -------------------------------------------------------------------
    def _gene(self, symbol: str) -> tuple[_Participant, Node]:
        rec: GeneRecord | None = self.genes.by_any_symbol(symbol) if self.genes else None
        if rec is not None:
            return _Participant(rec.curie, "Gene"), gene_node(rec)
        node_id = f"HGNC.SYMBOL:{symbol}"
        return _Participant(node_id, "Gene"), Node(node_id, "Gene", symbol, props={"unmapped": True})

    def _gene_record(self, node_id: str) -> GeneRecord | None:
        if self.genes is None:
            return None
        prefix, _, local = node_id.partition(":")
        if prefix == "NCBIGene":
            return self.genes.by_entrez.get(local)
        return self.genes.by_hgnc.get(node_id) if prefix == "HGNC" else None

    def _by_form(self, value: str) -> tuple[_Participant, Node] | None:
        """A participant whose id tells what it is; None for names (wait for the node section).
        Raises CurieError for a CHEBI id that is not numeric."""
        if value[:6].upper() == "CHEBI:":
            m = _CHEBI.fullmatch(value)
            if not m:
                raise CurieError(f"malformed ChEBI id {value!r}")
            node_id = f"CHEBI:{m.group(1)}"
            return _Participant(node_id, "SmallMolecule"), Node(node_id, "SmallMolecule")
        if _SYMBOL.fullmatch(value):
            return self._gene(value)
        return None

    def _resolve(self, value: str) -> tuple[_Participant | None, Node | None]:
        """(participant, node to yield before its first edge or None). (None, None): a name."""
        known = self._known.get(value)
        if known is not None:
            return known, None
        found = self._by_form(value)
        if found is None:
            return None, None
        part, node = found
        self._known[value] = part
        if part.id in self._emitted:
            return part, None
        self._emitted.add(part.id)
        return part, node

    # --- extended / plain SIF -----------------------------------------------------------
    def _sif(self, path: Path, extended: bool) -> Iterator[Record]:
        columns: tuple[str, ...] = PLAIN_SIF_COLUMNS
        node_columns: tuple[str, ...] = ()
        section = "edges" if not extended else "header"
        pending: list[_PendingEdge] = []
        for line_no, text in self._lines(path):
            if section == "header":
                header = tuple(text.split("\t"))
                if header not in (SIF_EDGE_COLUMNS, SIF_EDGE_COLUMNS[:6]):
                    expected = " ".join(SIF_EDGE_COLUMNS[:6]) + " [MEDIATOR_IDS]"
                    self.bad_lines.report(InputError(path, line_no, "header", f"expected the extended SIF edge header {expected}", text))
                    return
                columns, section = header, "edges"
                continue
            if not text.strip():
                if extended and section == "edges":
                    section = "node_header"
                continue
            if section == "edges":
                yield from self._sif_edge(path, line_no, text, columns, pending)
            elif section == "node_header":
                header = tuple(text.split("\t"))
                if header not in (SIF_NODE_COLUMNS, SIF_NODE_COLUMNS[:4]):
                    self.bad_lines.report(InputError(path, line_no, "header",
                                                     "expected the extended SIF node header " + " ".join(SIF_NODE_COLUMNS), text))
                    break
                node_columns, section = header, "nodes"
            else:
                node = self._sif_node(path, line_no, text, node_columns)
                if node is not None:
                    yield node
        # Edges with named participants: the node section has been read.
        for p in pending:
            yield from self._finish_pending(path, p)

    def _sif_edge(self, path: Path, line_no: int, text: str, columns: tuple[str, ...],
                  pending: list[_PendingEdge]) -> Iterator[Record]:
        cols = text.split("\t")
        if len(cols) != len(columns):
            self.bad_lines.report(_column_error(path, line_no, columns, len(cols), text))
            return
        a, itype, b = cols[0].strip(), cols[1].strip(), cols[2].strip()
        if itype not in SIF_TYPES:
            self.bad_lines.report(InputError(path, line_no, "INTERACTION_TYPE",
                                             f"unknown Pathway Commons interaction type {itype!r}", text))
            return
        for field, value in (("PARTICIPANT_A", a), ("PARTICIPANT_B", b)):
            if not value:
                self.bad_lines.report(InputError(path, line_no, field, "empty participant", text))
                return
        props: dict = {"source_file": path.name, **SIF_PROVENANCE}
        evidence: tuple[str, ...] = ()
        if len(cols) > 3:
            props["data_sources"] = _split(cols[3])
            pmids, other = [], []
            for ref in _split(cols[4]):
                (pmids if ref.isdigit() else other).append(ref)
            evidence = tuple(f"PMID:{p}" for p in pmids)
            if other:  # e.g. IntAct's "unassigned1272" placeholders
                props["other_publication_ids"] = other
            if names := _split(cols[5]):
                props["pathway_names"] = names
            if len(cols) > 6 and (mediators := _split(cols[6])):
                props["mediator_ids"] = mediators
        if aspect := SIF_TYPES[itype].aspect:
            props["object_aspect_qualifier"] = aspect
        resolved = []
        for field, value in (("PARTICIPANT_A", a), ("PARTICIPANT_B", b)):
            try:
                resolved.append(self._resolve(value))
            except CurieError as exc:
                self.bad_lines.report(InputError(path, line_no, field, str(exc), text))
                return
        (pa, na), (pb, nb) = resolved
        # a node is yielded once, when first resolved, whatever becomes of this edge
        if na is not None:
            yield na
        if nb is not None:
            yield nb
        if pa is None or pb is None:
            pending.append(_PendingEdge(line_no, text, a, itype, b, props, evidence))
            return
        edge = self._sif_make_edge(path, line_no, text, pa, itype, pb, props, evidence)
        if edge is not None:
            yield edge

    def _sif_make_edge(self, path: Path, line_no: int, text: str, pa: _Participant, itype: str, pb: _Participant,
                       props: dict, evidence: tuple[str, ...]) -> Edge | None:
        spec = SIF_TYPES[itype]
        s, o = (pb, pa) if spec.flip else (pa, pb)
        if (s.label, spec.predicate, o.label) not in _allowed():
            reason = f"schema does not allow ({s.label})-[:{spec.predicate}]->({o.label}) for {itype}"
            self.bad_lines.report(InputError(path, line_no, "INTERACTION_TYPE", reason, text))
            return None
        return Edge(s.id, s.label, spec.predicate, o.id, o.label, itype, evidence, props)

    def _finish_pending(self, path: Path, p: _PendingEdge) -> Iterator[Record]:
        parts = []
        for field, value in (("PARTICIPANT_A", p.a), ("PARTICIPANT_B", p.b)):
            part, node = self._resolve(value)
            if part is None:
                self.bad_lines.report(InputError(path, p.line_no, field,
                                                 f"participant {value!r} is neither an HGNC symbol nor a CHEBI id, "
                                                 "and the node section does not identify it", p.text))
                return
            if node is not None:
                yield node
            parts.append(part)
        edge = self._sif_make_edge(path, p.line_no, p.text, parts[0], p.kind, parts[1], p.props, p.evidence)
        if edge is not None:
            yield edge

    def _sif_node(self, path: Path, line_no: int, text: str, columns: tuple[str, ...]) -> Node | None:
        """A node-section row: identifies named participants, enriches all of them."""
        cols = text.split("\t")
        if len(cols) != len(columns):
            self.bad_lines.report(_column_error(path, line_no, columns, len(cols), text))
            return None
        participant, types, names = cols[0].strip(), _split(cols[1]), _split(cols[2])
        unification = [x for x in (normalize_xref(v) for v in _split(cols[3])) if x]
        if not participant:
            self.bad_lines.report(InputError(path, line_no, "PARTICIPANT", "empty participant", text))
            return None
        try:
            part, _ = self._resolve(participant)
        except CurieError as exc:
            self.bad_lines.report(InputError(path, line_no, "PARTICIPANT", str(exc), text))
            return None
        if part is None:
            part = self._identify(types, unification, cols[4] if len(cols) > 4 else "")
            if part is None:
                reason = f"no ChEBI or gene identifier for participant {participant!r} ({cols[1]})"
                self.bad_lines.report(InputError(path, line_no, "UNIFICATION_XREF", reason, text))
                return None
            self._known[participant] = part
        self._emitted.add(part.id)
        props = {"pc_participant_types": types}
        if part.label == "Gene":
            rec = self._gene_record(part.id)
            node = gene_node(rec) if rec is not None else Node(part.id, "Gene", participant)
            node.synonyms = tuple(dict.fromkeys(node.synonyms + tuple(n for n in names if n != node.name)))
        else:
            # CHEBI participants are named in PARTICIPANT_NAME; older files use the name as id
            name = (names[0] if names else None) if _CHEBI.fullmatch(participant) else participant
            node = Node(part.id, part.label, name, tuple(n for n in names if n != name))
        node.xrefs = tuple(dict.fromkeys(node.xrefs + tuple(x for x in unification if x != part.id)))
        if part.id.startswith("HGNC.SYMBOL:"):
            props["unmapped"] = True
        node.props.update(props)
        return node

    def _identify(self, types: list[str], unification: list[str], relationship: str) -> _Participant | None:
        """Graph node of a named participant from its node-section row."""
        if "SmallMoleculeReference" in types:
            chebi = sorted((int(x[6:]) for x in unification if x.startswith("CHEBI:") and x[6:].isdigit()))
            # Several ChEBI unification ids = one entry's primary + secondary ids; PC does not
            # say which is primary, so take the lowest, as biopax.py does.
            return _Participant(f"CHEBI:{chebi[0]}", "SmallMolecule") if chebi else None
        if _GENE_TYPES.intersection(types):
            xrefs = unification + [x for x in (normalize_xref(v) for v in _split(relationship)) if x]
            for x in xrefs:
                if x.startswith("HGNC.SYMBOL:"):
                    return self._gene(x.partition(":")[2])[0]
            if self.genes:
                for x in xrefs:
                    rec = None
                    if x.startswith("NCBIGene:"):
                        rec = self.genes.by_entrez.get(x.partition(":")[2])
                    elif x.startswith("HGNC:"):
                        rec = self.genes.by_hgnc.get(x)
                    if rec is not None:
                        return _Participant(rec.curie, "Gene")
        return None

    # --- GMT ----------------------------------------------------------------------------
    @staticmethod
    def _default_idtype(path: Path) -> str:
        return "uniprot" if ".uniprot." in path.name.lower() else "hgnc symbol"

    def _gmt(self, path: Path, memberships: set[tuple[str, str]]) -> Iterator[Record]:
        default_idtype = self._default_idtype(path)
        for line_no, text in self._lines(path):
            if not text.strip():
                continue
            cols = text.split("\t")
            if len(cols) < 2:
                self.bad_lines.report(_column_error(path, line_no, GMT_COLUMNS[:2], len(cols), text))
                continue
            uri, description, members = cols[0].strip(), cols[1], cols[2:]
            pathway_id = pathway_curie(uri)
            if pathway_id is None:
                self.bad_lines.report(InputError(path, line_no, "URI", f"not a pathway URI: {uri!r}", text))
                continue
            meta = _gmt_description(description)
            idtype = meta.get("idtype", default_idtype).lower()
            if idtype not in ("hgnc symbol", "hgnc", "uniprot", "ncbi gene", "entrez gene"):
                self.bad_lines.report(InputError(path, line_no, "description", f"unsupported idtype {idtype!r}", text))
                continue
            props: dict = {"uri": uri}
            if "datasource" in meta:
                props["datasource"] = meta["datasource"].lower()
            if organism := meta.get("organism"):
                props["organism"] = f"NCBITaxon:{organism}" if organism.isdigit() else organism
            self._emitted.add(pathway_id)
            yield Node(pathway_id, "Pathway", meta.get("name") or None, props=props)
            edge_props = {"source_file": path.name}
            if "datasource" in props:
                edge_props["datasource"] = props["datasource"]
            for member in members:
                member = member.strip()
                if not member:
                    continue
                found = self._member(member, idtype)
                if found is None:
                    self.bad_lines.report(InputError(path, line_no, "members", f"malformed {idtype} member {member!r}", text))
                    continue
                part, node = found
                key = (part.id, pathway_id)
                if key in memberships:
                    continue
                memberships.add(key)
                if node is not None:
                    yield node
                yield Edge(part.id, part.label, "PARTICIPATES_IN", pathway_id, "Pathway", GMT_PREDICATE, (), edge_props.copy())

    def _member_id(self, member: str, idtype: str) -> tuple[_Participant, GeneRecord | None] | None:
        """Graph node of a gene-set member (None if malformed for its idtype)."""
        if idtype.startswith("hgnc"):
            if not _SYMBOL.fullmatch(member):
                return None
            rec = self.genes.by_any_symbol(member) if self.genes else None
            return _Participant(rec.curie if rec else f"HGNC.SYMBOL:{member}", "Gene"), rec
        if idtype == "uniprot":
            return (_Participant(f"UniProtKB:{member}", "Protein"), None) if _UNIPROT.fullmatch(member) else None
        if not member.isdigit():
            return None
        rec = self.genes.by_entrez.get(member) if self.genes else None
        return _Participant(f"NCBIGene:{member}", "Gene"), rec

    def _member(self, member: str, idtype: str) -> tuple[_Participant, Node | None] | None:
        key = f"{idtype}\t{member}"
        known = self._known.get(key)
        if known is not None:
            return known, None
        found = self._member_id(member, idtype)
        if found is None:
            return None
        part, rec = found
        self._known[key] = part
        if part.id in self._emitted:
            return part, None
        self._emitted.add(part.id)
        if rec is not None:
            return part, gene_node(rec)
        props = {"unmapped": True} if part.id.startswith("HGNC.SYMBOL:") else {}
        return part, Node(part.id, part.label, member if part.label == "Gene" else None, props=props)

    # --- pathways.txt -------------------------------------------------------------------
    def _pathways(self, path: Path) -> Iterator[Record]:
        columns: tuple[str, ...] | None = None
        for line_no, text in self._lines(path):
            if not text.strip():
                columns = None  # a new section with its own header follows
                continue
            if columns is None:
                header = tuple(text.split("\t"))
                if header in (PATHWAYS_COLUMNS, PATHWAYS_INFO_COLUMNS):
                    columns = header
                else:
                    expected = " ".join(PATHWAYS_COLUMNS) + " or " + " ".join(PATHWAYS_INFO_COLUMNS)
                    self.bad_lines.report(InputError(path, line_no, "header", f"expected {expected}", text))
                    return
                continue
            cols = text.split("\t")
            # PC writes a trailing tab after the last column in some rows.
            if len(cols) == len(columns) + 1 and not cols[-1]:
                cols.pop()
            if len(cols) != len(columns):
                self.bad_lines.report(_column_error(path, line_no, columns, len(cols), text))
                continue
            pathway_id = pathway_curie(cols[0])
            if pathway_id is None:
                self.bad_lines.report(InputError(path, line_no, "PATHWAY_URI", f"not a pathway URI: {cols[0]!r}", text))
                continue
            if columns == PATHWAYS_COLUMNS:
                yield from self._pathway_row(path, line_no, text, pathway_id, cols)
            else:
                yield self._pathway_info_row(path, line_no, pathway_id, cols)

    def _pathway_row(self, path: Path, line_no: int, text: str, pathway_id: str, cols: list[str]) -> Iterator[Record]:
        self._emitted.add(pathway_id)
        yield Node(pathway_id, "Pathway", cols[1].strip() or None, props={"uri": cols[0].strip()})
        children: list[str] = []
        for sub in dict.fromkeys(_split(cols[2])):
            child = pathway_curie(sub)
            if child is None:
                self.bad_lines.report(InputError(path, line_no, "DIRECT_SUB_PATHWAY_URIS", f"not a pathway URI: {sub!r}", text))
                continue
            children.append(child)
        for child in children:
            if child not in self._emitted:  # the child's own row (later) gives its name
                self._emitted.add(child)
                yield Node(child, "Pathway")
            yield Edge(child, "Pathway", "PART_OF", pathway_id, "Pathway", SUB_PATHWAY_PREDICATE, (),
                       {"source_file": path.name})

    def _pathway_info_row(self, path: Path, line_no: int, pathway_id: str, cols: list[str]) -> Node:
        name = cols[2].strip() or None
        names = [n.strip() for n in _QUOTED.findall(cols[3])]
        props: dict = {"uri": cols[0].strip(), "datasource": cols[1].strip().lower()}
        if cols[4].strip().isdigit():
            props["num_direct_components"] = int(cols[4])
        self._emitted.add(pathway_id)
        return Node(pathway_id, "Pathway", name, tuple(dict.fromkeys(n for n in names if n and n != name)), props=props)


def _gmt_description(description: str) -> dict[str, str]:
    """`name: X; datasource: reactome; organism: 9606; idtype: hgnc symbol` -> dict. Names may
    themselves contain '; ', so the text is cut only before the known keys."""
    parts = _GMT_KEYS.split(description.strip())
    if len(parts) < 3 or parts[0].strip():
        return {"name": description.strip()} if description.strip() else {}
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}


@lru_cache(maxsize=1)
def _allowed() -> frozenset[tuple[str, str, str]]:
    from targetkg.graph.schema import load_schema

    schema = load_schema()
    return frozenset((s, r.type, o) for r in schema.relationships.values() for s in r.subject for o in r.object)
