"""Reactome: the pathway hierarchy and gene sets from the flat files, reactions from BioPAX.

Files read from one directory (each may also be given gzipped, as `<name>.gz`):

  ReactomePathways.txt          stable_id, name, species (no header)  -> Pathway nodes of `species`
  ReactomePathwaysRelation.txt  parent, child (no header)             -> (child)-[:PART_OF]->(parent)
  ReactomePathways.gmt          name, stable_id, gene symbols...      -> Gene nodes and
                                                                         (gene)-[:PARTICIPATES_IN]->(pathway)
  biopax/*.owl[.gz]             BioPAX Level 3 exports                -> see `biopax.py`

Only pathways of `species` are loaded, and hierarchy/gene-set rows whose pathways are not among
them are left out (the GMT is human-only, so another species gets no gene edges).

Gene symbols map to HGNC genes with `GeneVocabulary.by_any_symbol`, with one guard: the GMT also
lists pathogen genes (HIV `tat`, HSV `UL16`, M. tuberculosis `ptpA`, SARS-CoV `pp1a`) whose names
equal an HGNC symbol or alias apart from case (TAT, uL16 = RPL10, PTPA, PP1A = PPP1CA). HGNC
symbols start with a capital or a digit, so a symbol that starts lower-case only matches an
approved symbol exactly, and aliases / previous symbols only match with the same case.
Symbols that do not map become `HGNC.SYMBOL:<symbol>` Gene nodes with `unmapped: True`.

Version: the flat files carry no Reactome release number, so unless `version` is given the
adapter names the exact input, `sha256:<first 12 hex digits>` of the digest over the input
files' names and bytes (sorted by name); the same files always give the same version.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from .biopax import BioPAXAdapter, edge_key, gene_node
from .identifiers import GeneRecord, GeneVocabulary
from .model import BadLines, Edge, InputError, Node, Provenance, Record

INFORES = "infores:reactome"
PATHWAYS = "ReactomePathways.txt"
RELATIONS = "ReactomePathwaysRelation.txt"
GENE_SETS = "ReactomePathways.gmt"
STABLE_ID = re.compile(r"^R-[A-Z]{3}-\d+$")

_PATHWAY_COLUMNS = ("stable_id", "name", "species")
_RELATION_COLUMNS = ("parent", "child")
_GENE_SET_COLUMNS = ("name", "pathway_id", "genes")  # "genes" repeats to the end of the line
_MAX_REJECT_TEXT = 300


# --------------------------------------------------------------------------------------
# Reading the flat files
# --------------------------------------------------------------------------------------


def _column(columns: tuple[str, ...], index: int) -> str:
    return columns[min(index, len(columns) - 1)]


def read_rows(
    path: Path, columns: tuple[str, ...], bad_lines: BadLines, variadic: bool = False
) -> Iterator[tuple[int, list[str]]]:
    """Stream (line number, fields) of a tab-separated file, plain or gzipped.

    Blank lines are skipped. Lines with invalid UTF-8 or the wrong number of columns go to
    `bad_lines` (naming the column); a truncated/corrupt gzip is reported at the line where
    reading stopped, and the rest of the file is lost.
    """
    line_no = 0
    try:
        with gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb") as fh:
            for line_no, raw in enumerate(fh, 1):
                raw = raw.rstrip(b"\r\n")
                if not raw.strip():
                    continue
                try:
                    fields = raw.decode("utf-8").split("\t")
                except UnicodeDecodeError as exc:
                    index = raw[: exc.start].count(b"\t")
                    bad_lines.report(
                        InputError(
                            path,
                            line_no,
                            _column(columns, index),
                            f"invalid UTF-8 (byte {raw[exc.start]:#04x})",
                            raw.decode("utf-8", "replace")[:_MAX_REJECT_TEXT],
                        )
                    )
                    continue
                if len(fields) < len(columns) or (not variadic and len(fields) > len(columns)):
                    expected = f"at least {len(columns)}" if variadic else str(len(columns))
                    bad_lines.report(
                        InputError(
                            path,
                            line_no,
                            "columns",
                            f"expected {expected} tab-separated columns ({', '.join(columns)}), found {len(fields)}",
                            raw.decode("utf-8", "replace")[:_MAX_REJECT_TEXT],
                        )
                    )
                    continue
                yield line_no, fields
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        bad_lines.report(InputError(path, line_no + 1, None, f"truncated or corrupt gzip, rest of file unread ({exc})"))


def _check_ids(path: Path, line_no: int, fields: list[str], named: dict[str, str], bad_lines: BadLines) -> bool:
    """Validate Reactome stable ids; report the first bad one. `named`: column -> value."""
    for column, value in named.items():
        if not STABLE_ID.match(value):
            bad_lines.report(
                InputError(
                    path,
                    line_no,
                    column,
                    f"not a Reactome stable id (R-XXX-digits): {value!r}",
                    "\t".join(fields)[:_MAX_REJECT_TEXT],
                )
            )
            return False
    return True


def pathway_rows(path: Path, bad_lines: BadLines) -> Iterator[tuple[str, str, str]]:
    """(stable_id, name, species) of ReactomePathways.txt."""
    for line_no, fields in read_rows(path, _PATHWAY_COLUMNS, bad_lines):
        stable_id, name, species = (f.strip() for f in fields)
        if not _check_ids(path, line_no, fields, {"stable_id": stable_id}, bad_lines):
            continue
        empty = next((c for c, v in zip(_PATHWAY_COLUMNS[1:], (name, species), strict=True) if not v), None)
        if empty:
            bad_lines.report(InputError(path, line_no, empty, "empty value", "\t".join(fields)[:_MAX_REJECT_TEXT]))
            continue
        yield stable_id, name, species


def relation_rows(path: Path, bad_lines: BadLines) -> Iterator[tuple[str, str]]:
    """(parent, child) of ReactomePathwaysRelation.txt."""
    for line_no, fields in read_rows(path, _RELATION_COLUMNS, bad_lines):
        parent, child = (f.strip() for f in fields)
        if _check_ids(path, line_no, fields, {"parent": parent, "child": child}, bad_lines):
            yield parent, child


def gene_set_rows(path: Path, bad_lines: BadLines) -> Iterator[tuple[str, list[str]]]:
    """(pathway stable id, distinct gene symbols in file order) of ReactomePathways.gmt."""
    for line_no, fields in read_rows(path, _GENE_SET_COLUMNS, bad_lines, variadic=True):
        pathway_id = fields[1].strip()
        if _check_ids(path, line_no, fields, {"pathway_id": pathway_id}, bad_lines):
            yield pathway_id, list(dict.fromkeys(s.strip() for s in fields[2:] if s.strip()))


def resolve_gene_symbol(genes: GeneVocabulary, symbol: str) -> GeneRecord | None:
    """HGNC gene for a Reactome gene-set symbol (case-only matches are refused by the vocabulary)."""
    return genes.by_any_symbol(symbol)


def files_version(paths: list[Path]) -> str:
    """`sha256:<12 hex>` over the files' names and bytes, in name order."""
    digest = hashlib.sha256()
    for path in sorted(paths, key=lambda p: (p.name, str(p))):
        digest.update(path.name.encode() + b"\0")
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return f"sha256:{digest.hexdigest()[:12]}"


def _find(directory: Path, name: str) -> Path:
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"Reactome input {name} (or {name}.gz) not found in {directory}")


# --------------------------------------------------------------------------------------
# Adapter
# --------------------------------------------------------------------------------------


class ReactomeAdapter:
    """Reactome pathways, hierarchy and gene sets (flat files) plus BioPAX reactions."""

    name = "reactome"

    def __init__(
        self,
        directory: Path,
        species: str = "Homo sapiens",
        genes: GeneVocabulary | None = None,
        bad_lines: BadLines | None = None,
        include_biopax: bool = True,
        version: str | None = None,
    ):
        self.directory = Path(directory)
        self.species = species
        self.genes = genes
        self.bad_lines = bad_lines if bad_lines is not None else BadLines()
        self.pathways_file = _find(self.directory, PATHWAYS)
        self.relations_file = _find(self.directory, RELATIONS)
        self.gene_sets_file = _find(self.directory, GENE_SETS)
        biopax_dir = self.directory / "biopax"
        self.biopax_files = sorted([*biopax_dir.glob("*.owl"), *biopax_dir.glob("*.owl.gz")]) if include_biopax else []
        self._version = version
        self.stats: Counter[str] = Counter()

    # --- contract -----------------------------------------------------------------------
    @property
    def version(self) -> str:
        if self._version is None:
            self._version = files_version(self.files())
        return self._version

    def provenance(self) -> Provenance:
        return Provenance(infores=INFORES, version=self.version)

    def files(self) -> list[Path]:
        return [self.pathways_file, self.relations_file, self.gene_sets_file, *self.biopax_files]

    def _biopax(self, bad_lines: BadLines) -> BioPAXAdapter:
        return BioPAXAdapter(self.biopax_files, INFORES, self.version, self.genes, bad_lines)

    def gene(self, symbol: str, cache: dict[str, Node]) -> Node:
        """The Gene node for a gene-set symbol, memoised in `cache`."""
        node = cache.get(symbol)
        if node is None:
            record = resolve_gene_symbol(self.genes, symbol) if self.genes else None
            if record is not None:
                node = gene_node(record)
            else:
                node = Node(f"HGNC.SYMBOL:{symbol}", "Gene", symbol, props={"unmapped": True})
            cache[symbol] = node
        return node

    def records(self) -> Iterator[Record]:
        self.stats = Counter()
        gene_cache: dict[str, Node] = {}
        emitted: set[str] = set()  # node ids yielded in this run
        flat_edges: set[tuple] = set()  # edge keys yielded from the flat files

        species_ids: set[str] = set()
        for stable_id, name, species in pathway_rows(self.pathways_file, self.bad_lines):
            if species != self.species:
                continue
            if stable_id in species_ids:
                self.stats["duplicate_pathway_rows"] += 1
                continue
            species_ids.add(stable_id)
            emitted.add(f"REACT:{stable_id}")
            yield Node(f"REACT:{stable_id}", "Pathway", name, props={"species": species})

        for parent, child in relation_rows(self.relations_file, self.bad_lines):
            inside = (parent in species_ids) + (child in species_ids)
            if inside < 2:
                # One end in the species but the other unknown = a hierarchy gap worth seeing.
                self.stats["relations_with_unknown_pathway" if inside else "relations_other_species"] += 1
                continue
            edge = Edge(
                f"REACT:{child}",
                "Pathway",
                "PART_OF",
                f"REACT:{parent}",
                "Pathway",
                "hasEvent",
                props={"source_file": self.relations_file.name},
            )
            key = edge_key(edge)
            if key in flat_edges:
                self.stats["duplicate_relation_rows"] += 1
                continue
            flat_edges.add(key)
            yield edge

        for pathway_id, symbols in gene_set_rows(self.gene_sets_file, self.bad_lines):
            if pathway_id not in species_ids:
                self.stats["gene_sets_other_species"] += 1
                continue
            for symbol in symbols:
                gene = self.gene(symbol, gene_cache)
                if gene.id not in emitted:
                    emitted.add(gene.id)
                    self.stats["unmapped_gene_symbols"] += bool(gene.props.get("unmapped"))
                    yield gene
                edge = Edge(
                    gene.id,
                    "Gene",
                    "PARTICIPATES_IN",
                    f"REACT:{pathway_id}",
                    "Pathway",
                    "gene_set_member",
                    props={"source_file": self.gene_sets_file.name, "source_symbol": symbol},
                )
                key = edge_key(edge)
                if key in flat_edges:
                    # Two listed symbols for one gene (e.g. FCGR1B next to its new name FCGR1BP).
                    self.stats["gene_set_symbols_merged"] += 1
                    continue
                flat_edges.add(key)
                yield edge

        if self.biopax_files:
            biopax = self._biopax(self.bad_lines)
            for record in biopax.records():
                if isinstance(record, Node):
                    if record.id in emitted:
                        continue
                    emitted.add(record.id)
                elif edge_key(record) in flat_edges:
                    continue
                yield record
            self.stats.update({f"biopax:{k}": v for k, v in biopax.stats.items()})

    def expected_counts(self) -> dict[str, int]:
        """Counts read from the files, independent of `records()`:

        nodes:Pathway           distinct `species` rows of ReactomePathways.txt (+ BioPAX pathways)
        edges:PART_OF           distinct relation rows with both ends in `species` (+ BioPAX PART_OF)
        edges:PARTICIPATES_IN   distinct (gene, pathway) pairs of the GMT's `species` rows, genes as
                                mapped: 139,094 listed pairs, fewer where two listed symbols are one
                                HGNC gene
        plus the BioPAX files' own counts (see `BioPAXAdapter.expected_counts`). Malformed lines are
        not counted (they are not loaded either).
        """
        quiet = BadLines(skip=True)  # the load reports bad lines; counting must not repeat that
        pathways = {
            f"REACT:{sid}" for sid, _, species in pathway_rows(self.pathways_file, quiet) if species == self.species
        }
        part_of = {
            (f"REACT:{child}", "PART_OF", f"REACT:{parent}", "")
            for parent, child in relation_rows(self.relations_file, quiet)
            if f"REACT:{parent}" in pathways and f"REACT:{child}" in pathways
        }
        gene_cache: dict[str, Node] = {}
        participates = {
            (self.gene(symbol, gene_cache).id, "PARTICIPATES_IN", f"REACT:{pid}", "")
            for pid, symbols in gene_set_rows(self.gene_sets_file, quiet)
            if f"REACT:{pid}" in pathways
            for symbol in symbols
        }
        counts = {
            "nodes:Pathway": len(pathways),
            "edges:PART_OF": len(part_of),
            "edges:PARTICIPATES_IN": len(participates),
        }
        if self.biopax_files:
            nodes, edges = self._biopax(quiet).record_keys()
            counts["nodes:Pathway"] = len(pathways | nodes.pop("Pathway", set()))
            counts["edges:PART_OF"] = len(part_of | edges.pop("PART_OF", set()))
            counts["edges:PARTICIPATES_IN"] = len(participates | edges.pop("PARTICIPATES_IN", set()))
            counts.update({f"nodes:{label}": len(ids) for label, ids in sorted(nodes.items()) if label != "Gene"})
            counts.update({f"edges:{rel}": len(keys) for rel, keys in sorted(edges.items())})
        return counts
