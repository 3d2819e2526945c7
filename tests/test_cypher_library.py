"""Every query of the analysts' library runs against the real test warehouse and returns rows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

LIBRARY = Path(__file__).resolve().parent.parent / "cypher"
FILES = sorted(LIBRARY.glob("*.cypher"))
_PARAM = re.compile(r"^//.*:param (\w+) => '([^']*)'", re.M)


def test_library_is_documented():
    readme = (LIBRARY / "README.md").read_text()
    for f in FILES:
        text = f.read_text()
        assert text.startswith("// Question:"), f"{f.name}: header must start with the question"
        assert "// Parameters:" in text and "// Example:" in text, f.name
        assert f"({f.name})" in readme, f"{f.name} missing from cypher/README.md"


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_query_returns_rows(path, warehouse):
    text = path.read_text()
    params = dict(_PARAM.findall(text))
    with warehouse.session(default_access_mode="READ") as session:
        rows = session.run(text.rstrip().rstrip(";"), params).data()
    assert rows, f"{path.name} returned no rows with {params}"


def _run(session, name: str, **params) -> list[dict]:
    return session.run((LIBRARY / name).read_text().rstrip().rstrip(";"), params).data()


def test_text_mined_edges_stay_out_of_curated_answers(warehouse, settings):
    """A literature TREATS edge (as `ingest literature` writes it through the one writer) must not make a drug
    a treatment in the library's curated answers, nor drop it from the repurposing candidates; a literature
    binding edge must not make a drug a target's binder. The API ranks the same way (test_api_hypotheses)."""
    from targetkg.graph.writer import GraphWriter
    from targetkg.ingest.model import Edge, Provenance

    disease = "DOID:363"
    with warehouse.session(default_access_mode="READ") as s:
        # a repurposing candidate of the disease, and a gene that the candidate does not bind
        candidate = _run(s, "repurposing_candidates.cypher", disease=disease)[0]["drug"]
        gene = s.run("MATCH (g:Gene) WHERE NOT (:Drug {id: $d})-[:DIRECTLY_PHYSICALLY_INTERACTS_WITH]->(g) "
                     "AND (g)<-[:DIRECTLY_PHYSICALLY_INTERACTS_WITH]-(:Drug) RETURN g.id AS id ORDER BY id LIMIT 1",
                     d=candidate).single()["id"]
    lit = {"evidence_count": 3, "pmids": ["PMID:1", "PMID:2", "PMID:3"], "max_probability": 0.9,
           "mean_probability": 0.8, "source_file": "test-literature.jsonl"}
    edges = [Edge(candidate, "Drug", "TREATS", disease, "Disease", "Negative_Correlation",
                  evidence=("PMID:1",), props=dict(lit)),
             Edge(candidate, "Drug", "DIRECTLY_PHYSICALLY_INTERACTS_WITH", gene, "Gene", "Bind",
                  evidence=("PMID:1",), props=dict(lit))]
    prov = Provenance("infores:targetkg-literature", "test", agent_type="text_mining_agent")
    GraphWriter(warehouse, settings.neo4j_database, release="qa", progress=False).write(edges, prov)
    try:
        with warehouse.session(default_access_mode="READ") as s:
            assert candidate not in {r["drug"] for r in _run(s, "drugs_for_disease.cypher", disease=disease)}
            rows = {r["drug"]: r for r in _run(s, "repurposing_candidates.cypher", disease=disease)}
            assert rows[candidate]["literature_support"] == 3  # still a candidate, with its literature shown
            assert candidate not in {r["drug"] for r in _run(s, "drugs_for_target.cypher", gene=gene)}
            about = _run(s, "drug_side_effects_and_classes.cypher", drug=candidate)[0]
            names = s.run("MATCH (d:Disease {id: $d}) MATCH (g:Gene {id: $g}) RETURN d.name AS d, g.name AS g",
                          d=disease, g=gene).single()
            assert names["d"] not in about["treats"] and names["g"] not in about["targets"]
            # the text-mined edges are there, and the literature query sees them
            seen = s.run("MATCH (:Drug {id: $d})-[r {primary_knowledge_source: 'infores:targetkg-literature'}]->() "
                         "RETURN count(r) AS n", d=candidate).single()["n"]
            assert seen == 2
    finally:
        # only this test's edges: Hetionet's side effects are text-mined too (SIDER) and must stay
        warehouse.execute_query("MATCH (:Drug {id: $d})-[r {primary_knowledge_source: 'infores:targetkg-literature'}]->() "
                                "DELETE r", d=candidate, database_=settings.neo4j_database)
