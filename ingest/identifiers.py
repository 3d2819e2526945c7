"""CURIE normalisation and gene identifier mapping.

Prefix synonyms ("Entrez", "EntrezGene", "ncbigene", "UniProt", "ChEBI", "REACT", ...) are
resolved by bioregistry; the warehouse then writes each prefix in the casing the Biolink model
uses (NCBIGene, UniProtKB, CHEBI, DRUGBANK, MESH, REACT, ...), so ids look like the ones
analysts know from Biolink/Translator tools.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import bioregistry

# bioregistry key -> the prefix spelling used in the graph (Biolink model's casing).
BIOLINK_PREFIX = {
    "ncbigene": "NCBIGene",
    "hgnc": "HGNC",
    "hgnc.symbol": "HGNC.SYMBOL",
    "uniprot": "UniProtKB",
    "reactome": "REACT",
    "chebi": "CHEBI",
    "drugbank": "DRUGBANK",
    "doid": "DOID",
    "mesh": "MESH",
    "uberon": "UBERON",
    "go": "GO",
    "umls": "UMLS",
    "ndfrt": "NDFRT",
    "wikipathways": "WIKIPATHWAYS",
    "kegg.pathway": "KEGG.PATHWAY",
    "pubmed": "PMID",
    "ensembl": "ENSEMBL",
    "mondo": "MONDO",
    "pubchem.compound": "PUBCHEM.COMPOUND",
    "complexportal": "COMPLEXPORTAL",
    "pathwaycommons": "PATHWAYCOMMONS",
    "infores": "infores",
}


class CurieError(ValueError):
    pass


@lru_cache(maxsize=4096)
def normalize_prefix(prefix: str) -> str:
    """Map any known spelling of a prefix to the graph's spelling ("Entrez" -> "NCBIGene")."""
    key = bioregistry.normalize_prefix(prefix)
    if key is None:
        raise CurieError(f"unknown identifier prefix {prefix!r} (not in bioregistry)")
    return BIOLINK_PREFIX.get(key) or bioregistry.get_preferred_prefix(key) or key.upper()


def curie(prefix: str, local_id: str) -> str:
    """Build a normalised CURIE; strips a repeated prefix ("CHEBI:CHEBI:15377" -> "CHEBI:15377")."""
    local_id = local_id.strip()
    if not local_id:
        raise CurieError(f"empty local identifier for prefix {prefix!r}")
    norm = normalize_prefix(prefix)
    head, sep, tail = local_id.partition(":")
    if sep and head and bioregistry.normalize_prefix(head) == bioregistry.normalize_prefix(prefix):
        local_id = tail
    return f"{norm}:{local_id}"


def normalize_curie(value: str) -> str:
    """Normalise a CURIE string: "uniprot:P04637" -> "UniProtKB:P04637"."""
    prefix, sep, local_id = value.partition(":")
    if not sep:
        raise CurieError(f"not a CURIE (no prefix): {value!r}")
    return curie(prefix, local_id)


# --------------------------------------------------------------------------------------
# Genes: HGNC symbols, aliases, previous symbols, UniProt -> NCBIGene
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GeneRecord:
    hgnc_id: str  # "HGNC:5"
    symbol: str
    name: str
    entrez: str | None  # "1"
    uniprot: tuple[str, ...]
    ensembl: str | None
    aliases: tuple[str, ...]
    previous: tuple[str, ...]
    locus_type: str

    @property
    def curie(self) -> str:
        """Canonical gene node id: NCBIGene when HGNC knows the Entrez id, else HGNC."""
        return f"NCBIGene:{self.entrez}" if self.entrez else self.hgnc_id

    @property
    def xrefs(self) -> tuple[str, ...]:
        out = [self.hgnc_id]
        if self.ensembl:
            out.append(f"ENSEMBL:{self.ensembl}")
        out += [f"UniProtKB:{u}" for u in self.uniprot]
        return tuple(out)


class GeneVocabulary:
    """HGNC's approved genes (the `hgnc_entries.tsv` table of HGNC's custom download).

    Lookup order for a symbol: approved symbol, then previous symbols, then aliases; a
    previous symbol or alias that points to several genes is ambiguous and not resolved.
    """

    def __init__(self, records: list[GeneRecord]):
        self.records = records
        self.by_hgnc = {r.hgnc_id: r for r in records}
        self.by_entrez = {r.entrez: r for r in records if r.entrez}
        self.by_symbol = {r.symbol.upper(): r for r in records}
        prev: dict[str, set[str]] = defaultdict(set)
        alias: dict[str, set[str]] = defaultdict(set)
        uni: dict[str, set[str]] = defaultdict(set)
        for r in records:
            for p in r.previous:
                prev[p.upper()].add(r.hgnc_id)
            for a in r.aliases:
                alias[a.upper()].add(r.hgnc_id)
            for u in r.uniprot:
                uni[u].add(r.hgnc_id)
        self._prev = prev
        self._alias = alias
        self._uniprot = uni

    @classmethod
    def from_tsv(cls, path: Path) -> "GeneVocabulary":
        def split(v: str) -> tuple[str, ...]:
            return tuple(x.strip() for x in v.split(",") if x.strip())

        records = []
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh, delimiter="\t")
            for row in reader:
                if row.get("Status", "Approved") != "Approved":
                    continue
                records.append(
                    GeneRecord(
                        hgnc_id=row["HGNC ID"],
                        symbol=row["Approved symbol"],
                        name=row["Approved name"],
                        entrez=(row.get("NCBI Gene ID(supplied by NCBI)") or "").strip() or None,
                        uniprot=split(row.get("UniProt ID(supplied by UniProt)") or ""),
                        ensembl=(row.get("Ensembl gene ID") or "").strip() or None,
                        aliases=split(row.get("Alias symbols") or ""),
                        previous=split(row.get("Previous symbols") or ""),
                        locus_type=row.get("Locus type") or "",
                    )
                )
        return cls(records)

    def _unique(self, ids: set[str] | None) -> GeneRecord | None:
        if ids and len(ids) == 1:
            return self.by_hgnc[next(iter(ids))]
        return None

    def by_any_symbol(self, symbol: str) -> GeneRecord | None:
        """Approved symbol, else a unique previous symbol, else a unique alias.

        Case matters beyond the approved symbol: gene sets also list pathogen genes whose
        names collide with human aliases only when case is ignored (HIV `tat` vs TAT, HSV
        `UL16` vs the RPL10 alias `uL16`), so a case-only match is refused.
        """
        query = symbol.strip()
        if not query:
            return None
        key = query.upper()
        record = self.by_symbol.get(key)
        if record is not None and (record.symbol == query or query[0].isupper() or query[0].isdigit()):
            return record
        for table in (self._prev, self._alias):
            record = self._unique(table.get(key))
            if record is not None and (query in record.previous or query in record.aliases):
                return record
        return None

    def by_uniprot(self, accession: str) -> GeneRecord | None:
        return self._unique(self._uniprot.get(accession.split("-")[0]))
