"""The Bloom perspective: generated from the schema, structurally valid, every search phrase runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from targetkg.graph.bloom import SEARCH_PHRASES, perspective
from targetkg.graph.schema import load_schema

COMMITTED = Path(__file__).resolve().parent.parent / "cypher" / "bloom" / "targetkg-perspective.json"
# Example values that exist in the test warehouse (Hetionet names).
EXAMPLES = {"disease": "breast cancer", "gene": "ESR1", "drug": "Tamoxifen"}


def test_committed_perspective_is_up_to_date():
    assert json.loads(COMMITTED.read_text()) == perspective(), "run `targetkg bloom export`"


def test_structure_follows_a_bloom_export():
    schema = load_schema()
    p = perspective()
    for key in ("name", "id", "categories", "relationshipTypes", "palette", "templates", "hiddenRelationshipTypes"):
        assert key in p
    labels = {c["labels"][0] for c in p["categories"]}
    assert labels == set(schema.public_labels())
    assert "Source" not in labels and "ModelRun" not in labels
    for c in p["categories"]:
        assert re.fullmatch(r"#[0-9A-Fa-f]{6}", c["color"]) and c["caption"] == ["name"]
        assert c["color"] in p["palette"]["colors"]
    styled = {r["name"] for r in p["relationshipTypes"] if r["styleRules"]}
    assert styled == {"PREDICTED_TREATS", "PREDICTED_TARGETS", "PREDICTED_ASSOCIATED_WITH"}
    for r in p["relationshipTypes"]:
        for rule in r["styleRules"]:
            assert rule["basedOn"] == "score" and rule["applyColor"] and rule["applySize"]
    assert {t["name"] for t in p["hiddenRelationshipTypes"]} <= set(schema.relationships)
    phrases = {t["text"] for t in p["templates"]}
    assert {"predicted targets for $disease", "drugs that target $gene", "evidence between $drug and $disease"} <= phrases
    for t in p["templates"]:
        declared = {m.group(0) for m in re.finditer(r"\$\w+", t["text"])}
        assert declared == {prm["name"] for prm in t["params"]}, t["text"]
        for prm in t["params"]:
            assert prm["suggestionLabel"] in schema.nodes and prm["suggestionProp"] == "name"
            assert f"{prm['name']}" in t["cypher"]


@pytest.mark.parametrize("phrase,cypher,params", SEARCH_PHRASES, ids=[p[0] for p in SEARCH_PHRASES])
def test_search_phrase_runs_and_returns_paths(phrase, cypher, params, warehouse):
    values = {name: EXAMPLES[name] for name, _, _ in params}
    with warehouse.session(default_access_mode="READ") as session:
        rows = session.run(cypher, values).data()
    assert rows, f"{phrase!r} returned nothing for {values}"
    # every row is a path (Bloom draws paths/nodes, not tables)
    from neo4j.graph import Path as GraphPath

    with warehouse.session(default_access_mode="READ") as session:
        records = list(session.run(cypher, values))
    assert all(isinstance(rec["p"], GraphPath) for rec in records)
