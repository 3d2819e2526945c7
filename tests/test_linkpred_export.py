"""Link prediction export and splits on the real warehouse (Hetionet edges in a real Neo4j)."""

from __future__ import annotations

import numpy as np
import pytest

from targetkg.graph.export import Triples, export_triples, to_hetero_data, to_triples_factory
from targetkg.models.linkpred.splits import split, splits

REL = ["DIRECTLY_PHYSICALLY_INTERACTS_WITH", "GENE_ASSOCIATED_WITH_CONDITION", "SIMILAR_TO", "MEMBER_OF", "TREATS"]

_cache: dict = {}


@pytest.fixture()
def small(warehouse, settings):
    if "tr" not in _cache:
        _cache["tr"] = export_triples(warehouse, relations=REL, settings=settings)
    return _cache["tr"]


def test_export_counts_and_id_maps(small, warehouse, settings, tmp_path):
    tr = small
    recs, _, _ = warehouse.execute_query(
        "MATCH (a)-[r]->(b) WHERE type(r) IN $rels AND r.primary_knowledge_source = 'infores:hetionet' "
        "RETURN type(r) AS t, count(DISTINCT [elementId(a), elementId(b)]) AS n, "
        "collect(DISTINCT a.id) + collect(DISTINCT b.id) AS ids",
        rels=REL, database_=settings.neo4j_database)
    assert tr.counts() == {r["t"]: r["n"] for r in recs}
    assert tr.counts()["TREATS"] == 755
    ids = set()
    for r in recs:
        ids.update(r["ids"])
    assert set(tr.entities) == ids
    # id <-> index maps: sorted CURIEs, labels from the graph
    assert tr.entities == sorted(tr.entities)
    e2i = tr.entity_to_id
    assert all(tr.entities[e2i[e]] == e for e in tr.entities[:100])
    t = tr.of_relation("TREATS")
    assert {tr.labels[i] for i in t[:, 0]} == {"Drug"} and {tr.labels[i] for i in t[:, 2]} == {"Disease"}
    # a known edge maps back to CURIEs
    rec, _, _ = warehouse.execute_query("MATCH (a)-[:TREATS]->(b) RETURN a.id AS a, b.id AS b ORDER BY a, b LIMIT 1",
                                        database_=settings.neo4j_database)
    row = np.array([e2i[rec[0]["a"]], tr.relation_id("TREATS"), e2i[rec[0]["b"]]])
    assert (tr.mapped == row).all(axis=1).any()
    # deterministic and persistent
    again = export_triples(warehouse, relations=REL, settings=settings)
    assert again.checksum() == tr.checksum()
    tr.save(tmp_path / "t.npz")
    assert Triples.load(tmp_path / "t.npz").checksum() == tr.checksum()


def test_export_converters(small):
    tr = small
    tf = to_triples_factory(tr)
    assert tf.num_triples == len(tr)
    assert tf.entity_to_id == tr.entity_to_id and tf.relation_to_id == tr.relation_to_id
    assert (tf.mapped_triples.numpy() == tr.mapped).all()
    data = to_hetero_data(tr)
    assert sum(data[et].edge_index.shape[1] for et in data.edge_types) == len(tr)
    ei = data["Drug", "TREATS", "Disease"].edge_index
    assert ei.shape[1] == 755
    g = data["Drug"].global_id[ei[0, 0]].item()
    assert tr.labels[g] == "Drug"


def test_export_cypher_form(warehouse, settings):
    tr = export_triples(warehouse, cypher="MATCH (a:Drug)-[r:TREATS]->(b:Disease) "
                        "RETURN a.id AS h, type(r) AS r, b.id AS t, 'Drug' AS h_label, 'Disease' AS t_label",
                        settings=settings)
    assert len(tr) == 755 and tr.relations == ["TREATS"]
    assert set(tr.labels) == {"Drug", "Disease"}


def test_splits_leakage_aware(small):
    tr = small
    rid = tr.relation_id("TREATS")
    for mode, col in (("head", 0), ("tail", 2)):
        sp = split(tr, ["TREATS"], mode=mode, seed=1)
        tt = sp.test[sp.test[:, 1] == rid]
        tn = sp.train[sp.train[:, 1] == rid]
        assert len(tt) > 0 and len(sp.test) == len(tt)  # only the target relation is held out
        assert not set(tt[:, col]) & set(tn[:, col])  # held-out endpoints have no training edge of that type
        assert len(sp.train) + len(sp.valid) + len(sp.test) == len(tr)
    sp = split(tr, ["TREATS"], mode="random", seed=0, test_frac=0.2, valid_frac=0.1)
    assert len(sp.test) == round(0.2 * 755) and len(sp.valid) == round(0.1 * 755)
    a, b, c = splits(tr, ["TREATS"], mode="head", seeds=(0, 1, 0))
    assert not np.array_equal(a.test, b.test) and np.array_equal(a.test, c.test)
