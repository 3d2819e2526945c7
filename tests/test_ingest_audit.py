"""Ingest regressions found in an audit, on the real shared files, against the real Neo4j.

- a fresh load (CREATE path) made an edge twice when a batch opened with MERGE rows of edges
  created earlier and later repeated an edge first seen in that batch;
- bad input in strict mode lost the rows read before the bad line that were still buffered,
  though the CLI says everything before the line is committed;
- `(:Source).nodes/edges` were the adapter's record counts, not what the graph holds;
- the Pathway Commons "counts reach the source's own counts" gate counted SIF rows, so a pair
  listed twice (two files, or two interaction types of one predicate) failed a correct build.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import shared_data

PC = shared_data() / "pathwaycommons"
REACTOME = shared_data() / "reactome"


def q(drv, cypher, **params):
    recs, _, _ = drv.execute_query(cypher, params)
    return [r.data() for r in recs]


def overlapping_pc_files(root: Path) -> Path:
    """Three slices of the real 250-edge extended SIF that overlap, as per-datasource downloads of
    one release do (rows 1-150, 101-250, 201-250), each with the node section."""
    lines = (PC / "test_sifnx_250.txt").read_text(encoding="utf-8").split("\n")
    blank = lines.index("")
    header, edges, nodes = lines[0], lines[1:blank], lines[blank:]
    assert len(edges) == 250
    d = root / "pathwaycommons"
    d.mkdir(parents=True)
    for name, (a, b) in {"PathwayCommons12.a.hgnc.txt": (0, 150), "PathwayCommons12.b.hgnc.txt": (100, 250),
                         "PathwayCommons12.c.hgnc.txt": (200, 250)}.items():
        (d / name).write_text("\n".join([header, *edges[a:b], *nodes]), encoding="utf-8")
    return d


def duplicate_edges(drv) -> int:
    return q(drv, "MATCH (a)-[r]->(b) WITH a, type(r) AS t, b, r.primary_knowledge_source AS src, count(*) AS n "
                  "RETURN coalesce(sum(n - 1), 0) AS extra")[0]["extra"]


def test_fresh_load_never_creates_an_edge_twice(empty_db, settings, tmp_path):
    from conftest import graph_checksum
    from targetkg.ingest.pipeline import ingest

    batch_size = 100  # a batch then opens with repeats of edges created in the batch before
    d = overlapping_pc_files(tmp_path)
    rep = ingest("pathwaycommons", d, release="a1", batch_size=batch_size, progress=False, settings=settings)
    assert rep.edges == 350  # rows written: 150 + 150 + 50
    assert duplicate_edges(empty_db) == 0
    assert q(empty_db, "MATCH ()-[r]->() RETURN count(r) AS c")[0]["c"] == 250
    first = graph_checksum(empty_db)
    ingest("pathwaycommons", d, release="a1", batch_size=batch_size, progress=False, settings=settings)
    assert graph_checksum(empty_db) == first


def test_source_node_counts_what_the_graph_holds(empty_db, settings, tmp_path):
    from targetkg.ingest.pipeline import ingest

    d = overlapping_pc_files(tmp_path)
    rep = ingest("pathwaycommons", d, release="a1", batch_size=100, progress=False, settings=settings)
    graph_nodes = q(empty_db, "MATCH (n) WHERE 'infores:pathway-commons' IN n.sources RETURN count(n) AS c")[0]["c"]
    graph_edges = q(empty_db, "MATCH ()-[r]->() WHERE r.primary_knowledge_source = 'infores:pathway-commons' "
                              "RETURN count(r) AS c")[0]["c"]
    assert rep.nodes > graph_nodes and rep.edges > graph_edges  # the data repeats, or the test proves nothing
    src = q(empty_db, "MATCH (s:Source {id: 'infores:pathway-commons'}) RETURN s.nodes AS nodes, s.edges AS edges, "
                      "s.node_rows AS node_rows, s.edge_rows AS edge_rows")[0]
    assert (src["nodes"], src["edges"]) == (graph_nodes, graph_edges) == (rep.graph_nodes, rep.graph_edges)
    assert (src["node_rows"], src["edge_rows"]) == (rep.nodes, rep.edges)


def test_build_gate_accepts_a_pair_listed_in_several_files(empty_db, settings, tmp_path):
    from targetkg.ingest.pipeline import build

    overlapping_pc_files(tmp_path)
    rep = build(["pathwaycommons"], tmp_path, release="a1", progress=False, settings=settings, echo=lambda *a: None)
    assert all(g["passed"] for g in rep.gates), rep.gates
    expected = rep.sources[0].expected
    for rel_type in ("INTERACTS_WITH", "REGULATES", "AFFECTS"):
        got = q(empty_db, f"MATCH ()-[r:{rel_type}]->() RETURN count(r) AS c")[0]["c"]
        assert expected[f"edges:{rel_type}"] == got, rel_type


def test_bad_line_keeps_everything_read_before_it(empty_db, settings, tmp_path):
    """Strict mode, default batch size: the rows before the bad line are all committed."""
    from targetkg.ingest.model import Edge, InputError
    from targetkg.ingest.pipeline import ingest, make_adapter

    gmt = (REACTOME / "ReactomePathways.gmt").read_text(encoding="utf-8").splitlines(keepends=True)
    bad, good = tmp_path / "bad", tmp_path / "good"
    for d, lines in ((bad, gmt[:1999] + ["bad\tR-HSA-XYZ\tTP53\n"] + gmt[1999:]), (good, gmt[:1999])):
        d.mkdir()
        shutil.copy(REACTOME / "ReactomePathways.txt", d)
        shutil.copy(REACTOME / "ReactomePathwaysRelation.txt", d)
        (d / "ReactomePathways.gmt").write_text("".join(lines), encoding="utf-8")
    before = sum(isinstance(r, Edge) and r.predicate == "PARTICIPATES_IN"
                 for r in make_adapter("reactome", good, settings).records())
    assert before > 20_000  # more than one batch per worker is still buffered at the bad line
    with pytest.raises(InputError) as err:
        ingest("reactome", bad, release="a1", progress=False, settings=settings)
    assert err.value.line == 2000 and err.value.field == "pathway_id"
    assert q(empty_db, "MATCH ()-[r:PARTICIPATES_IN]->() RETURN count(r) AS c")[0]["c"] == before
    assert q(empty_db, "MATCH (p:Pathway) RETURN count(p) AS c")[0]["c"] == 2848


def test_reject_file_without_skip_mode_is_refused(tmp_path):
    """--reject-file in strict mode used to be accepted, ignored, and to delete an existing file."""
    import subprocess

    from conftest import cli_env, targetkg_cmd
    from targetkg.ingest.pipeline import ingest

    old = tmp_path / "rejects.jsonl"
    old.write_text('{"line": 1}\n')
    proc = subprocess.run([*targetkg_cmd(), "ingest", "reactome", "--reject-file", str(old)], capture_output=True,
                          text=True, env=cli_env(), timeout=120)
    assert proc.returncode == 1 and "--skip-bad-lines" in proc.stderr + proc.stdout
    with pytest.raises(ValueError, match="skip_bad_lines"):
        ingest("reactome", REACTOME, reject_file=old)
    assert old.read_text() == '{"line": 1}\n'  # nothing deleted
