"""POST /enrichment: hypergeometric over-representation with Benjamini–Hochberg FDR, checked against scipy."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from scipy.stats import false_discovery_control, hypergeom
from targetkg.service.app import create_app
from targetkg.service.ranking import benjamini_hochberg, enrichment


def test_pvalues_match_scipy_on_a_small_example():
    background = {f"g{i}" for i in range(40)}
    pathways = {
        "P1": ("five of six", {"g0", "g1", "g2", "g3", "g4", "g30"}),
        "P2": ("two of ten", {"g0", "g1"} | {f"g{i}" for i in range(20, 28)}),
        "P3": ("one of five", {"g4", "g35", "g36", "g37", "g38"}),
        "P4": ("none", {"g10", "g11", "g12", "g13", "g14"}),
    }
    query = {"g0", "g1", "g2", "g3", "g4", "g5", "unknown"}
    rows = {r["pathway"]: r for r in enrichment(query, background, pathways, min_size=5, max_size=100)}
    assert set(rows) == {"P1", "P2", "P3"}  # P4 has no hit
    n, N = 6, 40  # 'unknown' is outside the background
    for pid, k, K in (("P1", 5, 6), ("P2", 2, 10), ("P3", 1, 5)):
        assert (rows[pid]["k"], rows[pid]["K"], rows[pid]["n"], rows[pid]["N"]) == (k, K, n, N)
        expected = sum(hypergeom.pmf(x, N, K, n) for x in range(k, min(K, n) + 1))
        assert rows[pid]["pvalue"] == pytest.approx(expected, rel=1e-9)
    ps = [rows[p]["pvalue"] for p in ("P1", "P2", "P3")]
    fdr = false_discovery_control(ps, method="bh")
    assert [rows[p]["fdr"] for p in ("P1", "P2", "P3")] == pytest.approx(list(fdr), rel=1e-12)
    assert rows["P1"]["pvalue"] < 1e-4


def test_benjamini_hochberg_matches_scipy():
    ps = [0.01, 0.04, 0.03, 0.2, 0.5, 0.001, 0.04, 0.9]
    assert benjamini_hochberg(ps) == pytest.approx(list(false_discovery_control(ps)), rel=1e-12)
    assert benjamini_hochberg([]) == []


def test_enrichment_endpoint_on_the_warehouse(warehouse):
    genes = ["BRCA1", "BRCA2", "RAD51", "PALB2", "NCBIGene:472", "HGNC:16627", "NOT_A_GENE"]  # ATM, CHEK2 as CURIEs
    with TestClient(create_app()) as api:
        resp = api.post("/enrichment", json={"genes": genes, "limit": 20})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["unresolved"] == ["NOT_A_GENE"]
        assert body["resolved"]["BRCA1"] == "NCBIGene:672" and body["resolved"]["NCBIGene:472"] == "NCBIGene:472"
        rows = body["pathways"]
        assert rows and rows[0]["fdr"] < 1e-3
        assert [r["pvalue"] for r in rows] == sorted(r["pvalue"] for r in rows)
        for r in rows[:5]:
            assert r["pvalue"] == pytest.approx(float(hypergeom.sf(r["k"] - 1, r["N"], r["K"], r["n"])), rel=1e-9)
            assert r["fdr"] >= r["pvalue"]
        assert body["release"] and resp.headers["X-TargetKG-Release"] == body["release"]
        # a configurable background: the counts follow it
        bg = api.post("/enrichment", json={"genes": genes[:4], "background": genes[:4] + ["TP53", "EGFR", "KRAS", "MYC"],
                                           "min_size": 1}).json()
        assert bg["background_size"] == 8 and bg["pathways"] and all(r["N"] == 8 for r in bg["pathways"])
        assert all(r["K"] <= 8 for r in bg["pathways"])
        none = api.post("/enrichment", json={"genes": ["NOT_A_GENE"]})
        assert none.status_code == 400 and none.headers["content-type"].startswith("application/problem+json")
        empty = api.post("/enrichment", json={"genes": []})
        assert empty.status_code == 422
