"""Hetionet v1.0 (Himmelstein et al., eLife 2017): 47,031 nodes of 11 kinds, 24 metaedges.

Inputs (one directory, as in `shared/data/hetionet/` or a `targetkg fetch hetionet` folder):
  hetionet-v1.0-nodes.tsv          id<TAB>name<TAB>kind, ids like `Gene::1017`, `Compound::DB00997`
  hetionet-v1.0-edges.sif.gz       all 2,250,197 edges (source<TAB>metaedge<TAB>target), when present
  full_by_metaedge/*.tsv.gz        complete edge lists of single metaedges, header
                                   `:START_ID(Kind)<TAB>:END_ID(Kind)` and bare ids
  edges-5k.sif.gz                  upstream sample, up to 5,000 edges per metaedge
  metaedges.tsv / metanodes.tsv    the official counts (optional; built-in copies are used otherwise)

Each metaedge is read from exactly one file, best first: the complete SIF, else its
full_by_metaedge file, else the 5k sample. So no edge is yielded twice, and the expected
counts say which metaedges are complete.

The edge loop is the hot path (the writer benchmark streams ~800k edges through it): lines are
read as bytes and looked up in per-kind `bytes -> CURIE` dicts, so a valid line is never decoded.
"""

from __future__ import annotations

import gzip
import io
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .identifiers import normalize_prefix
from .model import BadLines, Edge, InputError, Node, Provenance, Record

NODES_FILE = "hetionet-v1.0-nodes.tsv"
FULL_EDGES_FILE = "hetionet-v1.0-edges.sif.gz"
SAMPLE_EDGES_FILE = "edges-5k.sif.gz"
FULL_BY_METAEDGE_DIR = "full_by_metaedge"

# kind -> schema label
KIND_LABEL = {
    "Gene": "Gene",
    "Compound": "Drug",
    "Disease": "Disease",
    "Anatomy": "Anatomy",
    "Biological Process": "BiologicalProcess",
    "Cellular Component": "CellularComponent",
    "Molecular Function": "MolecularActivity",
    "Pathway": "Pathway",
    "Pharmacologic Class": "PharmacologicClass",
    "Side Effect": "SideEffect",
    "Symptom": "Symptom",
}

# kind -> (bioregistry prefix, pattern of the Hetionet local id). Ids that already carry their
# prefix (DOID:, UBERON:, GO:) keep it; the others get one.
_KIND_ID = {
    "Gene": ("ncbigene", re.compile(r"\d+")),
    "Compound": ("drugbank", re.compile(r"DB\d{5}")),
    "Disease": ("doid", re.compile(r"DOID:\d+")),
    "Anatomy": ("uberon", re.compile(r"UBERON:\d+")),
    "Biological Process": ("go", re.compile(r"GO:\d{7}")),
    "Cellular Component": ("go", re.compile(r"GO:\d{7}")),
    "Molecular Function": ("go", re.compile(r"GO:\d{7}")),
    "Pharmacologic Class": ("ndfrt", re.compile(r"N\d{10}")),
    "Side Effect": ("umls", re.compile(r"C\d{7}")),
    "Symptom": ("mesh", re.compile(r"D\d{6,9}")),
}
_WIKIPATHWAYS_ID = re.compile(r"(WP\d+)_r(\d+)")
_PC7_ID = re.compile(r"PC7_(\d+)")
# Hetionet's "PC7_<n>" pathways are its own numbering of Pathway Commons v7 gene sets.
# bioregistry has no prefix for them (its `pathwaycommons` prefix is PC1's numeric record ids,
# another namespace), so they get the project-local prefix PC7 declared in schema.yaml.
PC7_PREFIX = "PC7"


@dataclass(frozen=True, slots=True)
class Metaedge:
    abbrev: str  # "CtD"
    source_kind: str
    verb: str
    target_kind: str
    predicate: str  # schema relationship type
    official_count: int  # describe/edges/metaedges.tsv
    flip: bool = False  # draw the edge target -> source in the graph
    knowledge_level: str | None = None  # None: the source default (knowledge_assertion)
    agent_type: str | None = None  # None: the source default (manual_agent)

    @property
    def name(self) -> str:
        sep = " > " if self.abbrev == "Gr>G" else " - "
        return f"{self.source_kind}{sep}{self.verb}{sep}{self.target_kind}"


_STAT, _OBS, _PRED = "statistical_association", "observation", "prediction"
_PIPELINE, _TEXT, _MODEL, _AUTO = "data_analysis_pipeline", "text_mining_agent", "computational_model", "automated_agent"

# How each metaedge was built (Himmelstein et al. 2017, Table 1 / hetio/hetionet README):
# expression edges come from differential-expression pipelines (Bgee, LINCS L1000, STARGEO),
# DlA/DpS/DrD from MEDLINE co-occurrence, GcG from evolutionary rate covariation, CrC from
# ECFP fingerprint similarity, CcSE from SIDER (text-mined drug labels). Curated ones (CtD,
# CpD from PharmacotherapyDB; CbG; GiG; GO and pathway membership; PCiC) keep the default.
METAEDGES: dict[str, Metaedge] = {
    m.abbrev: m
    for m in (
        Metaedge("AdG", "Anatomy", "downregulates", "Gene", "DECREASES_EXPRESSION_OF", 102240, False, _STAT, _PIPELINE),
        Metaedge("AeG", "Anatomy", "expresses", "Gene", "EXPRESSES", 526407, False, _OBS, _PIPELINE),
        Metaedge("AuG", "Anatomy", "upregulates", "Gene", "INCREASES_EXPRESSION_OF", 97848, False, _STAT, _PIPELINE),
        Metaedge("CbG", "Compound", "binds", "Gene", "DIRECTLY_PHYSICALLY_INTERACTS_WITH", 11571),
        Metaedge("CcSE", "Compound", "causes", "Side Effect", "HAS_SIDE_EFFECT", 138944, False, None, _TEXT),
        Metaedge("CdG", "Compound", "downregulates", "Gene", "DECREASES_EXPRESSION_OF", 21102, False, _STAT, _PIPELINE),
        Metaedge("CpD", "Compound", "palliates", "Disease", "AMELIORATES", 390),
        Metaedge("CrC", "Compound", "resembles", "Compound", "SIMILAR_TO", 6486, False, _PRED, _MODEL),
        Metaedge("CtD", "Compound", "treats", "Disease", "TREATS", 755),
        Metaedge("CuG", "Compound", "upregulates", "Gene", "INCREASES_EXPRESSION_OF", 18756, False, _STAT, _PIPELINE),
        # DaG unites curated (GWAS Catalog, DisGeNET) and text-mined (DISEASES, DOAF) sources;
        # the per-edge source is not in these files, hence the generic automated agent.
        Metaedge("DaG", "Disease", "associates", "Gene", "GENE_ASSOCIATED_WITH_CONDITION", 12623, True, None, _AUTO),
        Metaedge("DdG", "Disease", "downregulates", "Gene", "DECREASES_EXPRESSION_OF", 7623, False, _STAT, _PIPELINE),
        Metaedge("DlA", "Disease", "localizes", "Anatomy", "DISEASE_HAS_LOCATION", 3602, False, _STAT, _TEXT),
        Metaedge("DpS", "Disease", "presents", "Symptom", "HAS_PHENOTYPE", 3357, False, _STAT, _TEXT),
        Metaedge("DrD", "Disease", "resembles", "Disease", "SIMILAR_TO", 543, False, _STAT, _TEXT),
        Metaedge("DuG", "Disease", "upregulates", "Gene", "INCREASES_EXPRESSION_OF", 7731, False, _STAT, _PIPELINE),
        Metaedge("GcG", "Gene", "covaries", "Gene", "COEXPRESSED_WITH", 61690, False, _STAT, _PIPELINE),
        Metaedge("GiG", "Gene", "interacts", "Gene", "INTERACTS_WITH", 147164),
        Metaedge("GpBP", "Gene", "participates", "Biological Process", "PARTICIPATES_IN", 559504),
        Metaedge("GpCC", "Gene", "participates", "Cellular Component", "LOCATED_IN", 73566),
        Metaedge("GpMF", "Gene", "participates", "Molecular Function", "ENABLES", 97222),
        Metaedge("GpPW", "Gene", "participates", "Pathway", "PARTICIPATES_IN", 84372),
        Metaedge("Gr>G", "Gene", "regulates", "Gene", "REGULATES", 265672, False, _STAT, _PIPELINE),
        Metaedge("PCiC", "Pharmacologic Class", "includes", "Compound", "MEMBER_OF", 1029, True),
    )
}
_METAEDGE_BY_TRIPLE = {(m.source_kind, m.verb, m.target_kind): m for m in METAEDGES.values()}

# describe/nodes/metanodes.tsv
OFFICIAL_NODE_COUNTS = {
    "Anatomy": 402,
    "Biological Process": 11381,
    "Cellular Component": 1391,
    "Compound": 1552,
    "Disease": 137,
    "Gene": 20945,
    "Molecular Function": 2884,
    "Pathway": 1822,
    "Pharmacologic Class": 345,
    "Side Effect": 5734,
    "Symptom": 438,
}

_HEADER_KIND = re.compile(r":(?:START|END)_ID\((.+)\)")


@dataclass(frozen=True, slots=True)
class _EdgeSource:
    """One edge file and the metaedges read from it."""

    path: Path
    metaedges: frozenset[str]
    complete: bool  # every edge of these metaedges (False for the 5k sample)
    fmt: str  # "sif" (source, metaedge, target with Kind:: ids) or "pair" (bare ids, one metaedge)


_NODE_COLUMNS = ("id", "name", "kind")
_SIF_COLUMNS = ("source", "metaedge", "target")


def _column_error(path: Path, line_no: int, columns: tuple[str, ...], found: int, text: str) -> InputError:
    if found < len(columns):
        return InputError(path, line_no, columns[found],
                          f"missing column: expected {len(columns)} tab-separated columns, found {found}", text)
    return InputError(path, line_no, columns[-1],
                      f"{found - len(columns)} extra column(s): expected {len(columns)}, found {found}", text)


def _open_bytes(path: Path) -> IO[bytes]:
    # Iterating a BufferedReader over GzipFile reads lines in C; GzipFile's own iteration
    # goes through a Python-level readline per line (about twice as slow).
    if path.suffix == ".gz":
        return io.BufferedReader(gzip.GzipFile(path, "rb"))
    return open(path, "rb")


def _show(raw: bytes) -> str:
    return raw.rstrip(b"\r\n").decode("utf-8", errors="replace")


class HetionetAdapter:
    name = "hetionet"
    infores = "infores:hetionet"

    def __init__(self, directory: Path | str, bad_lines: BadLines | None = None, version: str = "v1.0"):
        self.directory = Path(directory)
        self.bad_lines = bad_lines if bad_lines is not None else BadLines()
        self.version = version
        nodes = self.directory / NODES_FILE
        if not nodes.is_file() and (self.directory / (NODES_FILE + ".gz")).is_file():
            nodes = self.directory / (NODES_FILE + ".gz")
        if not nodes.is_file():
            raise InputError(nodes, None, None, "Hetionet nodes file not found")
        self.nodes_file = nodes
        self.edge_sources = self._plan_edge_sources()

    # --- contract -----------------------------------------------------------------------
    def provenance(self) -> Provenance:
        return Provenance(infores=self.infores, version=self.version,
                          knowledge_level="knowledge_assertion", agent_type="manual_agent")

    def files(self) -> list[Path]:
        return [self.nodes_file] + [s.path for s in self.edge_sources]

    def records(self) -> Iterator[Record]:
        """All nodes first (they define the id map), then the edges of every metaedge once."""
        id_maps: dict[str, dict[bytes, str]] = {kind: {} for kind in KIND_LABEL}
        yield from self._nodes(id_maps)
        for source in self.edge_sources:
            if source.fmt == "pair":
                yield from self._pair_edges(source, id_maps)
            else:
                yield from self._sif_edges(source, id_maps)

    def expected_counts(self) -> dict[str, int]:
        """Counts as Hetionet states them (metanodes/metaedges tables) for what is complete,
        and the sample's own row counts for metaedges only available as a sample."""
        node_counts = self._official_table("metanodes.tsv", "metanode", "nodes") or OFFICIAL_NODE_COUNTS
        edge_counts = self._official_table("metaedges.tsv", "abbreviation", "edges") or {
            m.abbrev: m.official_count for m in METAEDGES.values()
        }
        out: dict[str, int] = {"nodes": sum(node_counts.values())}
        for kind, n in node_counts.items():
            key = f"nodes:{KIND_LABEL[kind]}"
            out[key] = out.get(key, 0) + n
        per_metaedge: dict[str, int] = {}
        for source in self.edge_sources:
            if source.complete:
                for abbrev in source.metaedges:
                    per_metaedge[abbrev] = edge_counts[abbrev]
            else:
                per_metaedge.update(self._count_sample(source))
        for abbrev in sorted(per_metaedge):
            n = per_metaedge[abbrev]
            out[f"metaedge:{abbrev}"] = n
            key = f"edges:{METAEDGES[abbrev].predicate}"
            out[key] = out.get(key, 0) + n
        out["edges"] = sum(per_metaedge.values())
        return out

    # --- which file provides which metaedge ---------------------------------------------
    def _plan_edge_sources(self) -> list[_EdgeSource]:
        full_sif = self.directory / FULL_EDGES_FILE
        if full_sif.is_file():
            return [_EdgeSource(full_sif, frozenset(METAEDGES), True, "sif")]
        sources: list[_EdgeSource] = []
        covered: set[str] = set()
        folder = self.directory / FULL_BY_METAEDGE_DIR
        for path in sorted(folder.glob("*.tsv*")) if folder.is_dir() else []:
            metaedge = self._metaedge_of_pair_file(path)
            if metaedge.abbrev in covered:
                raise InputError(path, 1, None, f"a second full edge file for metaedge {metaedge.abbrev}")
            covered.add(metaedge.abbrev)
            sources.append(_EdgeSource(path, frozenset([metaedge.abbrev]), True, "pair"))
        rest = frozenset(METAEDGES) - covered
        sample = self.directory / SAMPLE_EDGES_FILE
        if rest and sample.is_file():
            sources.append(_EdgeSource(sample, rest, False, "sif"))
        return sources

    @staticmethod
    def _metaedge_of_pair_file(path: Path) -> Metaedge:
        """`Compound_Treats_Disease.tsv.gz` with header `:START_ID(Compound)	:END_ID(Disease)`.

        Kinds come from the header (file names have spaces removed and one is misspelt,
        `Compound_Resembles_Compund`); the verb comes from the file name."""
        try:
            with _open_bytes(path) as fh:
                header = _show(fh.readline())
        except (EOFError, OSError, zlib.error) as exc:
            raise InputError(path, 1, "header", f"unreadable (truncated or corrupt gzip?): {exc}") from exc
        cols = header.split("\t")
        kinds = [_HEADER_KIND.fullmatch(c) for c in cols]
        if len(cols) != 2 or not all(kinds):
            raise InputError(path, 1, "header", "expected `:START_ID(Kind)<TAB>:END_ID(Kind)`", header)
        parts = path.name.split(".")[0].split("_")
        verb = parts[1].lower() if len(parts) == 3 else ""
        key = (kinds[0].group(1), verb, kinds[1].group(1))  # type: ignore[union-attr]
        if key not in _METAEDGE_BY_TRIPLE:
            raise InputError(path, 1, "header", f"no Hetionet metaedge {key[0]} - {verb or '?'} - {key[2]}", header)
        return _METAEDGE_BY_TRIPLE[key]

    # --- nodes --------------------------------------------------------------------------
    def _nodes(self, id_maps: dict[str, dict[bytes, str]]) -> Iterator[Node]:
        path = self.nodes_file
        prefixes = {kind: normalize_prefix(p) for kind, (p, _) in _KIND_ID.items()}
        wikipathways = normalize_prefix("wikipathways")
        seen: set[str] = set()
        with _open_bytes(path) as fh:
            header = _show(fh.readline())
            if tuple(header.split("\t")) != _NODE_COLUMNS:
                self.bad_lines.report(InputError(path, 1, "header", "expected `id<TAB>name<TAB>kind`", header))
                return
            for line_no, raw in enumerate(fh, start=2):
                try:
                    text = raw.rstrip(b"\r\n").decode("utf-8")
                except UnicodeDecodeError as exc:
                    self.bad_lines.report(InputError(path, line_no, None, f"not UTF-8 ({exc.reason})", _show(raw)))
                    continue
                if not text.strip():
                    continue
                cols = text.split("\t")
                if len(cols) != 3:
                    self.bad_lines.report(_column_error(path, line_no, _NODE_COLUMNS, len(cols), text))
                    continue
                hetionet_id, name, kind = cols
                if kind not in KIND_LABEL:
                    self.bad_lines.report(InputError(path, line_no, "kind", f"unknown Hetionet kind {kind!r}", text))
                    continue
                id_kind, sep, local = hetionet_id.partition("::")
                if not sep or id_kind != kind:
                    self.bad_lines.report(InputError(path, line_no, "id", f"id does not start with '{kind}::'", text))
                    continue
                props: dict[str, object] = {"hetionet_id": hetionet_id}
                if kind == "Pathway":
                    wp, pc7 = _WIKIPATHWAYS_ID.fullmatch(local), _PC7_ID.fullmatch(local)
                    if wp:
                        curie = f"{wikipathways}:{wp.group(1)}"
                        props["wikipathways_revision"] = wp.group(2)
                    elif pc7:
                        curie = f"{PC7_PREFIX}:{pc7.group(1)}"
                    else:
                        curie = ""
                else:
                    prefix_key, pattern = _KIND_ID[kind]
                    curie = ""
                    if pattern.fullmatch(local):
                        # DOID:/UBERON:/GO: ids already carry their prefix
                        curie = f"{prefixes[kind]}:{local.partition(':')[2] or local}"
                if not curie:
                    self.bad_lines.report(InputError(path, line_no, "id", f"malformed {kind} identifier {local!r}", text))
                    continue
                if curie in seen:
                    self.bad_lines.report(InputError(path, line_no, "id", f"duplicate node {curie}", text))
                    continue
                seen.add(curie)
                id_maps[kind][local.encode("utf-8")] = curie
                yield Node(id=curie, label=KIND_LABEL[kind], name=name or None, props=props)

    # --- edges --------------------------------------------------------------------------
    def _edge_props(self, metaedge: Metaedge, path: Path) -> dict[str, object]:
        props: dict[str, object] = {"source_file": path.name, "hetionet_metaedge": metaedge.name}
        if metaedge.knowledge_level:
            props["knowledge_level"] = metaedge.knowledge_level
        if metaedge.agent_type:
            props["agent_type"] = metaedge.agent_type
        return props

    def _pair_edges(self, source: _EdgeSource, id_maps: dict[str, dict[bytes, str]]) -> Iterator[Edge]:
        (abbrev,) = source.metaedges
        m = METAEDGES[abbrev]
        path = source.path
        src_map, dst_map = id_maps[m.source_kind], id_maps[m.target_kind]
        src_label, dst_label = KIND_LABEL[m.source_kind], KIND_LABEL[m.target_kind]
        predicate = m.predicate
        template = self._edge_props(m, path)
        fields = (f":START_ID({m.source_kind})", f":END_ID({m.target_kind})")
        with _open_bytes(path) as fh:
            fh.readline()  # header, checked when the file was planned
            line_no = 1
            try:
                for line_no, raw in enumerate(fh, start=2):
                    a, _, b = raw.rstrip(b"\r\n").partition(b"\t")
                    s = src_map.get(a)
                    o = dst_map.get(b)
                    if s is None or o is None:
                        self._report_pair(path, line_no, raw, s, o, fields, m)
                        continue
                    if m.flip:
                        yield Edge(o, dst_label, predicate, s, src_label, abbrev, (), template.copy())
                    else:
                        yield Edge(s, src_label, predicate, o, dst_label, abbrev, (), template.copy())
            except (EOFError, OSError, zlib.error) as exc:
                self.bad_lines.report(InputError(path, line_no + 1, None, f"unreadable (truncated or corrupt gzip?): {exc}"))

    def _report_pair(self, path: Path, line_no: int, raw: bytes, s: str | None, o: str | None,
                     fields: tuple[str, str], m: Metaedge) -> None:
        text = _show(raw)
        if not text.strip():
            return  # blank line (e.g. a trailing one)
        cols = text.split("\t")
        if len(cols) != 2:
            err = _column_error(path, line_no, fields, len(cols), text)
        else:
            side = 0 if s is None else 1
            kind = m.source_kind if side == 0 else m.target_kind
            err = InputError(path, line_no, fields[side], f"dangling edge: no {kind} node {cols[side]!r} in {NODES_FILE}", text)
        self.bad_lines.report(err)

    def _sif_edges(self, source: _EdgeSource, id_maps: dict[str, dict[bytes, str]]) -> Iterator[Edge]:
        """source<TAB>metaedge<TAB>target with `Kind::id` ids; only `source.metaedges` are kept."""
        path = source.path
        wanted = {abbrev.encode(): METAEDGES[abbrev] for abbrev in source.metaedges}
        templates = {m.abbrev: self._edge_props(m, path) for m in wanted.values()}
        known = {m.abbrev.encode() for m in METAEDGES.values()}
        with _open_bytes(path) as fh:
            header = _show(fh.readline())
            if tuple(header.split("\t")) != _SIF_COLUMNS:
                self.bad_lines.report(InputError(path, 1, "header", "expected `source<TAB>metaedge<TAB>target`", header))
                return
            line_no = 1
            try:
                for line_no, raw in enumerate(fh, start=2):
                    cols = raw.rstrip(b"\r\n").split(b"\t")
                    if len(cols) != 3:
                        if not raw.strip():
                            continue
                        self.bad_lines.report(_column_error(path, line_no, _SIF_COLUMNS, len(cols), _show(raw)))
                        continue
                    a, abbrev_b, b = cols
                    m = wanted.get(abbrev_b)
                    if m is None:
                        if abbrev_b not in known:
                            self.bad_lines.report(InputError(path, line_no, "metaedge", "unknown Hetionet metaedge", _show(raw)))
                        continue  # read from a complete file instead
                    s = self._lookup(a, m.source_kind, id_maps)
                    o = self._lookup(b, m.target_kind, id_maps)
                    if s is None or o is None:
                        field, value, kind = ("source", a, m.source_kind) if s is None else ("target", b, m.target_kind)
                        self.bad_lines.report(InputError(
                            path, line_no, field, f"dangling edge: no {kind} node {_show(value)!r} in {NODES_FILE}", _show(raw)))
                        continue
                    sl, ol = KIND_LABEL[m.source_kind], KIND_LABEL[m.target_kind]
                    props = templates[m.abbrev].copy()
                    if m.flip:
                        yield Edge(o, ol, m.predicate, s, sl, m.abbrev, (), props)
                    else:
                        yield Edge(s, sl, m.predicate, o, ol, m.abbrev, (), props)
            except (EOFError, OSError, zlib.error) as exc:
                self.bad_lines.report(InputError(path, line_no + 1, None, f"unreadable (truncated or corrupt gzip?): {exc}"))

    @staticmethod
    def _lookup(value: bytes, kind: str, id_maps: dict[str, dict[bytes, str]]) -> str | None:
        head, sep, local = value.partition(b"::")
        if not sep or head != kind.encode():
            return None
        return id_maps[kind].get(local)

    # --- counts -------------------------------------------------------------------------
    def _official_table(self, name: str, key_col: str, count_col: str) -> dict[str, int] | None:
        path = self.directory / name
        if not path.is_file():
            return None
        lines = path.read_text(encoding="utf-8").splitlines()
        header = lines[0].split("\t")
        k, c = header.index(key_col), header.index(count_col)
        return {cols[k]: int(cols[c]) for cols in (line.split("\t") for line in lines[1:] if line.strip())}

    @staticmethod
    def _count_sample(source: _EdgeSource) -> dict[str, int]:
        counts: Counter[str] = Counter()
        with _open_bytes(source.path) as fh:
            fh.readline()
            for raw in fh:
                cols = raw.split(b"\t")
                if len(cols) == 3:
                    counts[cols[1].decode("utf-8", errors="replace")] += 1
        return {abbrev: counts.get(abbrev, 0) for abbrev in source.metaedges}
