"""Hetionet v1.0 adapter on the real shared files (no Neo4j)."""

from __future__ import annotations

import csv
import gzip
import os
from collections import Counter
from pathlib import Path

import pytest

from targetkg.graph.schema import load_schema
from targetkg.ingest.hetionet import KIND_LABEL, METAEDGES, HetionetAdapter
from targetkg.ingest.model import BadLines, Edge, InputError, Node


def data_dir() -> Path:
    return Path(os.environ.get("TARGETKG_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))


HETIONET = data_dir() / "hetionet"
SAMPLE_ONLY = {"AeG", "CcSE", "GpBP", "GpCC", "GpMF", "GpPW", "DpS", "PCiC"}



def official_table(name: str, key: str, value: str) -> dict[str, int]:
    with open(HETIONET / name, encoding="utf-8", newline="") as fh:
        return {row[key]: int(row[value]) for row in csv.DictReader(fh, delimiter="\t")}


def sample_counts() -> Counter[str]:
    with gzip.open(HETIONET / "edges-5k.sif.gz", "rt", encoding="utf-8") as fh:
        next(fh)
        return Counter(line.split("\t")[1] for line in fh if line.strip())


@pytest.fixture(scope="module")
def full_run():
    """One pass over everything the adapter yields, summarised (800k edges are not kept)."""
    adapter = HetionetAdapter(HETIONET)
    schema = load_schema()
    allowed = {(s, r.type, o) for r in schema.relationships.values() for s in r.subject for o in r.object}
    nodes: dict[str, Node] = {}
    per_label: Counter[str] = Counter()
    per_metaedge: Counter[str] = Counter()
    per_type: Counter[str] = Counter()
    keys: set[tuple[str, str, str, str]] = set()
    duplicates, not_allowed, dangling, no_file, wrong_labels = 0, set(), 0, 0, 0
    picked: dict[tuple[str, str, str], Edge] = {}
    pcic: list[Edge] = []
    wanted = {
        ("DRUGBANK:DB00997", "TREATS", "DOID:363"),
        ("NCBIGene:801", "INTERACTS_WITH", "NCBIGene:7428"),
        ("NCBIGene:3439", "GENE_ASSOCIATED_WITH_CONDITION", "DOID:263"),
        ("DRUGBANK:DB01069", "SIMILAR_TO", "DRUGBANK:DB00777"),
        ("NCBIGene:56647", "REGULATES", "NCBIGene:6596"),
    }
    for rec in adapter.records():
        if isinstance(rec, Node):
            assert rec.id not in nodes, f"node {rec.id} yielded twice"
            nodes[rec.id] = rec
            per_label[rec.label] += 1
            continue
        per_metaedge[rec.source_predicate] += 1
        per_type[rec.predicate] += 1
        key = (rec.subject, rec.predicate, rec.object, rec.source_predicate)
        if key in keys:
            duplicates += 1
        keys.add(key)
        if (rec.subject_label, rec.predicate, rec.object_label) not in allowed:
            not_allowed.add((rec.subject_label, rec.predicate, rec.object_label))
        s, o = nodes.get(rec.subject), nodes.get(rec.object)
        if s is None or o is None:
            dangling += 1
        elif s.label != rec.subject_label or o.label != rec.object_label:
            wrong_labels += 1
        if "source_file" not in rec.props:
            no_file += 1
        if key[:3] in wanted:
            picked[key[:3]] = rec
        if rec.source_predicate == "PCiC":
            pcic.append(rec)
    return {
        "adapter": adapter, "nodes": nodes, "per_label": per_label, "per_metaedge": per_metaedge,
        "per_type": per_type, "duplicates": duplicates, "not_allowed": not_allowed, "dangling": dangling,
        "wrong_labels": wrong_labels, "no_file": no_file, "picked": picked, "pcic": pcic,
        "edges": len(keys) + duplicates,
    }


def test_node_counts_match_metanodes(full_run):
    official = official_table("metanodes.tsv", "metanode", "nodes")
    assert len(full_run["nodes"]) == 47_031 == sum(official.values())
    assert dict(full_run["per_label"]) == {KIND_LABEL[k]: n for k, n in official.items()}


def test_node_ids_and_labels_follow_schema(full_run):
    schema = load_schema()
    for node in full_run["nodes"].values():
        prefix = node.id.split(":", 1)[0]
        assert prefix in schema.node(node.label).prefixes, node
        assert node.props["hetionet_id"].split("::", 1)[0] in KIND_LABEL
    nodes = full_run["nodes"]
    assert nodes["NCBIGene:1017"].name == "CDK2" and nodes["NCBIGene:1017"].label == "Gene"
    assert nodes["DRUGBANK:DB00997"].label == "Drug" and nodes["DRUGBANK:DB00997"].name == "Doxorubicin"
    assert nodes["DOID:363"].label == "Disease"
    wp = nodes["WIKIPATHWAYS:WP206"]
    assert wp.props == {"hetionet_id": "Pathway::WP206_r68882", "wikipathways_revision": "68882"}
    assert nodes["PC7:10399"].props["hetionet_id"] == "Pathway::PC7_10399"
    assert nodes["PC7:10399"].name == "a4b7 Integrin signaling"
    assert nodes["NDFRT:N0000000069"].label == "PharmacologicClass"
    assert nodes["UMLS:C0000729"].label == "SideEffect"
    assert nodes["MESH:D000006"].label == "Symptom"
    assert nodes["GO:0044712"].label == "BiologicalProcess"


def test_edge_counts_match_official_and_sample_counts(full_run):
    official = official_table("metaedges.tsv", "abbreviation", "edges")
    sample = sample_counts()
    got = full_run["per_metaedge"]
    assert set(got) == set(METAEDGES) == set(official)
    for abbrev in METAEDGES:
        want = sample[abbrev] if abbrev in SAMPLE_ONLY else official[abbrev]
        assert got[abbrev] == want, abbrev
    full_total = sum(n for a, n in official.items() if a not in SAMPLE_ONLY)
    assert full_total == 765_796
    assert full_run["edges"] == 765_796 + sum(sample[a] for a in SAMPLE_ONLY) == 800_182


def test_expected_counts_equal_what_is_yielded(full_run):
    expected = full_run["adapter"].expected_counts()
    assert expected["edges"] == full_run["edges"]
    assert expected["nodes"] == len(full_run["nodes"])
    for abbrev, n in full_run["per_metaedge"].items():
        assert expected[f"metaedge:{abbrev}"] == n
    for rel_type, n in full_run["per_type"].items():
        assert expected[f"edges:{rel_type}"] == n
    for label, n in full_run["per_label"].items():
        assert expected[f"nodes:{label}"] == n


def test_every_edge_is_schema_valid_unique_and_attached(full_run):
    assert full_run["not_allowed"] == set()
    assert full_run["duplicates"] == 0, "an edge came from both a full file and the sample"
    assert full_run["dangling"] == 0
    assert full_run["wrong_labels"] == 0
    assert full_run["no_file"] == 0


def test_known_facts(full_run):
    picked = full_run["picked"]
    ctd = picked[("DRUGBANK:DB00997", "TREATS", "DOID:363")]  # doxorubicin treats hepatocellular carcinoma
    assert ctd.source_predicate == "CtD"
    assert ctd.props["hetionet_metaedge"] == "Compound - treats - Disease"
    assert ctd.props["source_file"] == "Compound_Treats_Disease.tsv.gz"
    assert "agent_type" not in ctd.props  # curated: the source default (manual_agent)
    gig = picked[("NCBIGene:801", "INTERACTS_WITH", "NCBIGene:7428")]
    assert gig.source_predicate == "GiG"
    dag = picked[("NCBIGene:3439", "GENE_ASSOCIATED_WITH_CONDITION", "DOID:263")]  # drawn gene -> disease
    assert dag.source_predicate == "DaG" and dag.subject_label == "Gene"
    crc = picked[("DRUGBANK:DB01069", "SIMILAR_TO", "DRUGBANK:DB00777")]  # from the misspelt file name
    assert crc.props["source_file"] == "Compound_Resembles_Compund.tsv.gz"
    assert crc.props["agent_type"] == "computational_model"
    grg = picked[("NCBIGene:56647", "REGULATES", "NCBIGene:6596")]
    assert grg.source_predicate == "Gr>G"
    assert grg.props["hetionet_metaedge"] == "Gene > regulates > Gene"
    assert grg.props["knowledge_level"] == "statistical_association"


def test_sample_metaedges_come_from_the_sample_and_flip_pcic(full_run):
    sources = {s.path.name: s for s in full_run["adapter"].edge_sources}
    assert len(sources) == 17
    assert sources["edges-5k.sif.gz"].metaedges == SAMPLE_ONLY
    assert not sources["edges-5k.sif.gz"].complete
    with gzip.open(HETIONET / "edges-5k.sif.gz", "rt", encoding="utf-8") as fh:
        first_pcic = next(line.rstrip("\r\n").split("\t") for line in fh if "\tPCiC\t" in line)
    klass, compound = first_pcic[0].split("::")[1], first_pcic[2].split("::")[1]
    edges = full_run["pcic"]
    assert len(edges) == 1029
    first = edges[0]
    assert (first.subject, first.predicate, first.object) == (f"DRUGBANK:{compound}", "MEMBER_OF", f"NDFRT:{klass}")
    assert (first.subject_label, first.object_label) == ("Drug", "PharmacologicClass")
    assert first.props["source_file"] == "edges-5k.sif.gz"


def test_complete_edge_file_wins_when_present(tmp_path):
    """After `targetkg fetch hetionet` the folder has the complete SIF: every metaedge comes from it."""
    d = tmp_path / "het"
    d.mkdir()
    (d / "hetionet-v1.0-nodes.tsv").symlink_to(HETIONET / "hetionet-v1.0-nodes.tsv")
    (d / "hetionet-v1.0-edges.sif.gz").symlink_to(HETIONET / "edges-5k.sif.gz")  # same format
    (d / "full_by_metaedge").symlink_to(HETIONET / "full_by_metaedge")
    adapter = HetionetAdapter(d)
    assert [(s.path.name, s.complete, len(s.metaedges)) for s in adapter.edge_sources] == [
        ("hetionet-v1.0-edges.sif.gz", True, 24)]
    per_metaedge = Counter(r.source_predicate for r in adapter.records() if isinstance(r, Edge))
    assert per_metaedge == sample_counts()
    # without metaedges.tsv in the folder, the built-in official counts are used
    assert adapter.expected_counts()["edges"] == 2_250_197


# --- malformed input ------------------------------------------------------------------


def _mini(tmp_path: Path, nodes: str, pair_files: dict[str, str] | None = None, sample: str | None = None) -> Path:
    d = tmp_path / "het"
    d.mkdir()
    (d / "hetionet-v1.0-nodes.tsv").write_text(nodes, encoding="utf-8")
    if pair_files:
        (d / "full_by_metaedge").mkdir()
        for name, text in pair_files.items():
            with gzip.open(d / "full_by_metaedge" / name, "wt", encoding="utf-8") as fh:
                fh.write(text)
    if sample is not None:
        with gzip.open(d / "edges-5k.sif.gz", "wt", encoding="utf-8") as fh:
            fh.write(sample)
    return d


NODES = (
    "id\tname\tkind\n"
    "Compound::DB00997\tDoxorubicin\tCompound\n"
    "Disease::DOID:363\tliver cancer\tDisease\n"
    "Gene::1017\tCDK2\tGene\n"
    "Pharmacologic Class::N0000000069\tCalcium Channel Antagonists\tPharmacologic Class\n"
)


def test_dangling_edge_names_file_line_and_field(tmp_path):
    d = _mini(tmp_path, NODES, {
        "Compound_Treats_Disease.tsv.gz": ":START_ID(Compound)\t:END_ID(Disease)\nDB00997\tDOID:363\nDB00997\tDOID:9999\n",
    })
    with pytest.raises(InputError) as err:
        list(HetionetAdapter(d).records())
    e = err.value
    assert e.file.endswith("Compound_Treats_Disease.tsv.gz") and e.line == 3 and e.field == ":END_ID(Disease)"
    assert "dangling" in str(e) and "Compound_Treats_Disease.tsv.gz:3" in str(e) and "END_ID" in str(e)


def test_skip_mode_collects_rejects_and_goes_on(tmp_path):
    d = _mini(
        tmp_path,
        NODES + "Gene::notanumber\tX\tGene\nDisease::DOID:4\tdisease\n",
        {"Compound_Treats_Disease.tsv.gz": ":START_ID(Compound)\t:END_ID(Disease)\nDB00001\tDOID:363\nDB00997\tDOID:363\n"},
        "source\tmetaedge\ttarget\n"
        "Pharmacologic Class::N0000000069\tPCiC\tCompound::DB00997\n"
        "Pharmacologic Class::N0000000069\tPCiC\n"
        "Compound::DB00997\tCtD\tDisease::DOID:363\n"  # CtD comes from the full file: ignored here
        "Gene::1017\tXyZ\tGene::1017\n",
    )
    bad = BadLines(skip=True)
    records = list(HetionetAdapter(d, bad).records())
    edges = [r for r in records if isinstance(r, Edge)]
    assert [(e.subject, e.predicate, e.object) for e in edges] == [
        ("DRUGBANK:DB00997", "TREATS", "DOID:363"),
        ("DRUGBANK:DB00997", "MEMBER_OF", "NDFRT:N0000000069"),
    ]
    rejects = {(Path(r["file"]).name, r["line"], r["field"]) for r in bad.rejected}
    assert rejects == {
        ("hetionet-v1.0-nodes.tsv", 6, "id"),
        ("hetionet-v1.0-nodes.tsv", 7, "kind"),
        ("Compound_Treats_Disease.tsv.gz", 2, ":START_ID(Compound)"),
        ("edges-5k.sif.gz", 3, "target"),
        ("edges-5k.sif.gz", 5, "metaedge"),
    }


def test_truncated_gzip_is_reported(tmp_path):
    body = ":START_ID(Gene)\t:END_ID(Gene)\n" + "1017\t1017\n" * 20000
    d = _mini(tmp_path, NODES, {"Gene_Interacts_Gene.tsv.gz": body})
    path = d / "full_by_metaedge" / "Gene_Interacts_Gene.tsv.gz"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    bad = BadLines(skip=True)
    edges = [r for r in HetionetAdapter(d, bad).records() if isinstance(r, Edge)]
    assert 0 < len(edges) < 20000
    assert len(bad.rejected) == 1
    assert bad.rejected[0]["file"].endswith("Gene_Interacts_Gene.tsv.gz") and "gzip" in bad.rejected[0]["reason"]
    with pytest.raises(InputError, match="Gene_Interacts_Gene.tsv.gz"):
        list(HetionetAdapter(d).records())


def test_unknown_full_file_is_refused(tmp_path):
    d = _mini(tmp_path, NODES, {"Compound_Eats_Disease.tsv.gz": ":START_ID(Compound)\t:END_ID(Disease)\nDB00997\tDOID:363\n"})
    with pytest.raises(InputError, match="no Hetionet metaedge Compound - eats - Disease"):
        HetionetAdapter(d)
