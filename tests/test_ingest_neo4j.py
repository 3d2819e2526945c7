"""Ingest into the real Neo4j: provenance, idempotency, kill-and-resume, bad input, gates, bulk, export."""

from __future__ import annotations

import gzip
import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import TEST_RELEASE, cli_env, graph_checksum, shared_data, targetkg_cmd
from targetkg.graph import quality
from targetkg.graph.writer import GraphWriter
from targetkg.ingest.model import Edge, Node, Provenance

PROVENANCE = ("primary_knowledge_source", "source_version", "source_file", "source_predicate",
              "knowledge_level", "agent_type", "evidence", "release")


def q(drv, cypher, **params):
    recs, _, _ = drv.execute_query(cypher, params)
    return [r.data() for r in recs]


def test_warehouse_has_every_source_with_provenance(warehouse, settings):
    sources = {r["id"]: r for r in q(warehouse, "MATCH (s:Source) RETURN s.id AS id, s.version AS v, s.sha256 AS sha, s.edges AS edges")}
    assert set(sources) == {"infores:hetionet", "infores:reactome", "infores:pathway-commons"}
    assert all(len(s["sha"][0]) == 64 and s["edges"] > 0 for s in sources.values())
    # a known Hetionet CtD edge (doxorubicin treats ... as in the source file)
    edge = q(warehouse, "MATCH (d:Drug {id: 'DRUGBANK:DB00997'})-[r:TREATS]->(x:Disease {id: 'DOID:363'}) RETURN properties(r) AS p")
    assert len(edge) == 1
    props = edge[0]["p"]
    for key in PROVENANCE:
        assert key in props, key
    assert props["primary_knowledge_source"] == "infores:hetionet" and props["source_predicate"] == ["CtD"]
    assert props["release"] == TEST_RELEASE
    # every edge of the warehouse carries provenance
    missing = q(warehouse, "MATCH ()-[r]->() WHERE r.primary_knowledge_source IS NULL OR r.release IS NULL "
                           "OR r.source_version IS NULL OR r.agent_type IS NULL RETURN count(r) AS c")[0]["c"]
    assert missing == 0


def test_known_reactome_facts(warehouse):
    parent = q(warehouse, "MATCH (:Pathway {id: 'REACT:R-HSA-201451'})-[r:PART_OF]->(p:Pathway) "
                          "RETURN p.name AS name, r.primary_knowledge_source AS src")
    # Reactome states the hierarchy, and Pathway Commons (pathways.txt) restates it: two sources, two edges
    assert {(r["name"], r["src"]) for r in parent} == {("Signaling by TGFB family members", "infores:reactome"),
                                                       ("Signaling by TGFB family members", "infores:pathway-commons")}
    genes = {r["g"] for r in q(warehouse, "MATCH (g:Gene)-[:PARTICIPATES_IN {primary_knowledge_source: 'infores:reactome'}]"
                                          "->(:Pathway {id: 'REACT:R-HSA-201451'}) RETURN g.name AS g")}
    assert {"SMAD1", "BMPR2", "NOG"} <= genes
    # the same gene node is shared by Hetionet and Reactome (NCBIGene ids)
    smad1 = q(warehouse, "MATCH (g:Gene {name: 'SMAD1'}) RETURN g.id AS id, g.sources AS sources")
    assert len(smad1) == 1 and smad1[0]["id"] == "NCBIGene:4086"
    assert {"infores:hetionet", "infores:reactome"} <= set(smad1[0]["sources"])


def test_schema_constraints_and_fulltext(warehouse):
    from targetkg.graph.schema import load_schema

    names = {r["name"] for r in q(warehouse, "SHOW CONSTRAINTS YIELD name RETURN name")}
    for label in load_schema().nodes:
        assert f"{label.lower()}_id" in names
    hits = q(warehouse, "CALL db.index.fulltext.queryNodes('entity_names', $q) YIELD node, score "
                        "RETURN node.id AS id LIMIT 5", q="\"Signaling by BMP\"")
    assert any(h["id"] == "REACT:R-HSA-201451" for h in hits)


def test_manifest_written(warehouse, settings):
    manifest = json.loads((settings.home / "releases" / TEST_RELEASE / "manifest.json").read_text())
    assert manifest["counts"]["types"]["TREATS"] >= 755
    assert all(g["passed"] for g in manifest["quality_gates"])
    assert {s["source"] for s in manifest["sources"]} == {"hetionet", "reactome", "pathwaycommons"}


def _ingest_cli(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([*targetkg_cmd(), "ingest", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=cli_env(), **kw)


def test_rerun_is_idempotent(empty_db, settings):
    from targetkg.ingest.pipeline import ingest

    ingest("reactome", release="r1", progress=False, settings=settings)
    first = graph_checksum(empty_db)
    ingest("reactome", release="r1", progress=False, settings=settings)
    assert graph_checksum(empty_db) == first
    assert first[1] > 140_000


def test_kill_and_resume_gives_the_same_graph(empty_db, settings):
    from targetkg.graph.admin import clear_database
    from targetkg.ingest.pipeline import ingest

    ingest("reactome", release="kr", batch_size=2000, progress=False, settings=settings)
    reference = graph_checksum(empty_db)
    clear_database(empty_db)
    killed_with_partial = 0
    for delay in (4.0, 7.0, 10.0):
        proc = _ingest_cli("reactome", "--release", "kr", "--batch-size", "2000")
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        partial = graph_checksum(empty_db)
        if partial != reference:
            killed_with_partial += 1
    assert killed_with_partial >= 1, "no kill landed mid-ingest; the test proves nothing"
    done = _ingest_cli("reactome", "--release", "kr", "--batch-size", "2000")
    out, err = done.communicate(timeout=600)
    assert done.returncode == 0, err
    assert graph_checksum(empty_db) == reference


def _bad_reactome_dir(tmp_path: Path, bad_line_no: int) -> Path:
    src = shared_data() / "reactome"
    d = tmp_path / "reactome"
    d.mkdir()
    lines = (src / "ReactomePathways.txt").read_text(encoding="utf-8").splitlines(keepends=True)
    lines.insert(bad_line_no - 1, "R-HSA-9999999\tonly two columns\n")
    (d / "ReactomePathways.txt").write_text("".join(lines), encoding="utf-8")
    shutil.copy(src / "ReactomePathwaysRelation.txt", d)
    shutil.copy(src / "ReactomePathways.gmt", d)
    return d


def test_malformed_line_names_file_line_field_and_keeps_what_was_committed(empty_db, tmp_path):
    d = _bad_reactome_dir(tmp_path, bad_line_no=15000)
    proc = _ingest_cli("reactome", "--from", str(d), "--batch-size", "500")
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 1
    assert "ReactomePathways.txt:15000" in err and "species" in err.replace("\n", " "), err
    committed = q(empty_db, "MATCH (p:Pathway) RETURN count(p) AS c")[0]["c"]
    assert committed >= 500, "batches committed before the bad line must stay"

    reject = tmp_path / "rejects.jsonl"
    proc = _ingest_cli("reactome", "--from", str(d), "--skip-bad-lines", "--reject-file", str(reject))
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert "1 malformed lines skipped" in out
    row = json.loads(reject.read_text().splitlines()[0])
    assert row["line"] == 15000 and row["file"].endswith("ReactomePathways.txt")
    assert q(empty_db, "MATCH (p:Pathway) RETURN count(p) AS c")[0]["c"] == 2848


def test_truncated_gzip_is_reported_with_file(empty_db, tmp_path):
    d = _bad_reactome_dir(tmp_path, bad_line_no=1)
    (d / "ReactomePathways.txt").unlink()
    data = gzip.compress((shared_data() / "reactome" / "ReactomePathways.txt").read_bytes())
    (d / "ReactomePathways.txt.gz").write_bytes(data[: len(data) // 2])
    proc = _ingest_cli("reactome", "--from", str(d))
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 1
    assert "ReactomePathways.txt.gz" in err


def test_quality_gate_fails_on_dangling_edge(empty_db, settings):
    from targetkg.ingest.pipeline import SourceReport

    writer = GraphWriter(empty_db, release="qa", progress=False)
    writer.ensure_schema()
    records = [
        Node("NCBIGene:1", "Gene", "A1BG"),
        Node("DOID:1", "Disease", "disease"),
        Edge("NCBIGene:1", "Gene", "GENE_ASSOCIATED_WITH_CONDITION", "DOID:1", "Disease", "test", props={"source_file": "t"}),
        Edge("NCBIGene:2", "Gene", "GENE_ASSOCIATED_WITH_CONDITION", "DOID:1", "Disease", "test", props={"source_file": "t"}),
    ]
    stats = writer.write(records, Provenance("infores:test", "1"))
    assert stats.edges == 1 and stats.dangling == 1
    assert "no node Gene NCBIGene:2" in stats.dangling_examples[0]
    rep = SourceReport("test", "infores:test", "1", [], stats.nodes, stats.edges, stats.dangling,
                       stats.dangling_examples, 0, None, stats.seconds, {}, {},
                       expected={"edges:GENE_ASSOCIATED_WITH_CONDITION": 2})
    failed = [g for g in quality.check(empty_db, settings.neo4j_database, [rep]) if not g["passed"]]
    assert {g["gate"] for g in failed} == {"no dangling edges", "test: counts reach the source's own counts"}


def test_fresh_load_creates_and_gives_the_graph_merge_gives(empty_db):
    """The CREATE path of a fresh load: repeated edges (in one batch and across batches, two
    workers) end up as one edge with the same set-unions, in the same order, as MERGE makes."""
    from targetkg.graph.admin import clear_database

    genes = [Node(f"NCBIGene:{i}", "Gene", f"G{i}") for i in range(1, 41)]
    edges = []
    for k in range(300):
        s, o = 1 + k % 40, 1 + (7 * k + 3) % 40
        if s != o:
            edges.append(Edge(f"NCBIGene:{s}", "Gene", "INTERACTS_WITH", f"NCBIGene:{o}", "Gene", f"rel{k % 3}",
                              evidence=(f"PMID:{k % 5}",), props={"source_file": f"f{k % 2}.tsv", "score": k % 4}))
    distinct = len({(e.subject, e.object) for e in edges})
    assert distinct < len(edges)  # the data repeats edges, or the test proves nothing
    prov = Provenance("infores:test", "1")

    def load(force_merge: bool):
        clear_database(empty_db)
        writer = GraphWriter(empty_db, release="qa", progress=False, batch_size=37, workers=2)
        writer.ensure_schema()
        if force_merge:
            writer._type_has_edges = lambda rel_type, source: True
        stats = writer.write(genes + edges, prov)
        return stats, graph_checksum(empty_db)

    created, fresh_sum = load(force_merge=False)
    assert created.created == distinct and created.edges == len(edges)
    merged, merge_sum = load(force_merge=True)
    assert merged.created == 0
    assert fresh_sum == merge_sum and fresh_sum[1] == distinct
    # a second run on the loaded graph MERGEs everything and changes nothing
    rerun = GraphWriter(empty_db, release="qa", progress=False, batch_size=37, workers=2).write(genes + edges, prov)
    assert rerun.created == 0 and graph_checksum(empty_db) == merge_sum
    first = edges[0]
    same = [e.source_predicate for e in edges if (e.subject, e.object) == (first.subject, first.object)]
    got = q(empty_db, "MATCH (:Gene {id: $s})-[r:INTERACTS_WITH]->(:Gene {id: $o}) RETURN r.source_predicate AS sp",
            s=first.subject, o=first.object)
    assert got == [{"sp": list(dict.fromkeys(same))}]


def test_schema_rejects_an_edge_it_does_not_declare(empty_db):
    writer = GraphWriter(empty_db, release="qa", progress=False)
    with pytest.raises(ValueError, match="schema does not allow"):
        writer.write([Edge("DOID:1", "Disease", "TREATS", "DOID:2", "Disease", "x")], Provenance("infores:test", "1"))


def test_bulk_build_gives_the_same_graph_as_online(warehouse, settings, tmp_path, monkeypatch):
    """neo4j-admin import of the same sources yields exactly the online writer's graph."""
    from targetkg.graph.connection import driver
    from targetkg.graph.server import ManagedNeo4j
    from targetkg.graph.stats import collect
    from targetkg.ingest.pipeline import build

    online = collect(warehouse, settings.neo4j_database)
    online_checksum = graph_checksum(warehouse)
    report_file = ManagedNeo4j(settings).logs_dir / "import.report"
    report_file.unlink(missing_ok=True)
    monkeypatch.chdir(tmp_path)
    report = build(release=TEST_RELEASE, bulk=True, progress=False, settings=settings, echo=lambda *a, **k: None)
    assert all(g["passed"] for g in report.gates)
    assert report_file.exists() and not list(tmp_path.iterdir()), "the importer's report belongs in the instance's logs"
    bulk = collect(driver(settings), settings.neo4j_database)
    assert bulk["labels"] == online["labels"]
    assert bulk["types"] == online["types"]
    assert set(bulk["constraints"]) == set(online["constraints"])
    assert graph_checksum(driver(settings)) == online_checksum, "bulk and online builds differ in some property"


def test_release_export_writes_kgx(warehouse, tmp_path):
    proc = subprocess.run([*targetkg_cmd(), "release", "export", "--out", str(tmp_path)], capture_output=True,
                          text=True, env=cli_env(), timeout=900)
    assert proc.returncode == 0, proc.stderr
    n_nodes = q(warehouse, "MATCH (n) WHERE n.id IS NOT NULL RETURN count(n) AS c")[0]["c"]
    n_edges = q(warehouse, "MATCH (a)-[r]->(b) WHERE a.id IS NOT NULL AND b.id IS NOT NULL RETURN count(r) AS c")[0]["c"]
    with open(tmp_path / "edges.jsonl") as fh:
        first = json.loads(fh.readline())
        assert 1 + sum(1 for _ in fh) == n_edges
    assert sum(1 for _ in open(tmp_path / "nodes.jsonl")) == n_nodes
    assert first["predicate"].startswith("biolink:") and first["primary_knowledge_source"].startswith("infores:")
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["kgx"]["edges"] == n_edges


def test_bulk_csvs_ask_for_multiline_parsing_only_when_a_value_has_a_line_break(tmp_path):
    """The importer parses in parallel only without --multiline-fields; a name with a line break must turn it on."""
    from targetkg.graph.bulk import BulkAggregator
    from targetkg.graph.writer import WriteStats

    def aggregate(name: str) -> BulkAggregator:
        agg = BulkAggregator("qa")
        agg.add([Node("DOID:1", "Disease", name), Node("DOID:2", "Disease", "b"),
                 Edge("NCBIGene:1", "Gene", "GENE_ASSOCIATED_WITH_CONDITION", "DOID:1", "Disease", "DaG"),
                 Node("NCBIGene:1", "Gene", "A1BG")], Provenance("infores:test", "1"), WriteStats())
        return agg

    plain = aggregate("plain name")
    plain.write_csvs(tmp_path / "plain")
    assert plain.multiline_fields is False
    broken = aggregate("a name\nover two lines")
    broken.write_csvs(tmp_path / "broken")
    assert broken.multiline_fields is True


def test_literature_source_lists_each_abstract_file_once(empty_db, settings):
    """`ingest literature` records one (:Source) for all abstract files; re-loading a file keeps one entry."""
    from targetkg.ingest.pipeline import record_literature_source

    db = settings.neo4j_database
    a, b = shared_data() / "biored" / "Dev.PubTator", shared_data() / "bc5cdr" / "CDR_DevelopmentSet.PubTator.txt"
    empty_db.execute_query("CREATE (:Publication {id: 'PMID:1'}), (:Publication {id: 'PMID:2'})", database_=db)
    record_literature_source(empty_db, db, "infores:targetkg-literature", "ner-1+rel-1", a, "qa")
    record_literature_source(empty_db, db, "infores:targetkg-literature", "ner-1+rel-1", b, "qa")
    src = record_literature_source(empty_db, db, "infores:targetkg-literature", "ner-1+rel-2", a, "qa")
    assert src["files"] == [b.name, a.name] and src["nodes"] == 2 and src["edges"] == 0
    rec = q(empty_db, "MATCH (s:Source {id: 'infores:targetkg-literature'}) RETURN s")[0]["s"]
    assert len(rec["sha256"]) == 2 and rec["version"] == "ner-1+rel-2" and rec["release"] == "qa"
