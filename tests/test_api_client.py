"""The notebook client against a real uvicorn server on a loopback port."""

from __future__ import annotations

import socket
import time

import pandas as pd
import pytest

from targetkg.client import Client, TargetKGError

KEY = "client-key"


@pytest.fixture()
def server(live_api, monkeypatch):
    monkeypatch.setenv("TARGETKG_API_KEYS", KEY)  # read per request, so setting it after start is fine
    return live_api


def test_client_methods_return_dataframes(server):
    with Client(server, api_key=KEY) as kg:
        assert kg.health()["status"] == "ok"
        targets = kg.targets("DOID:363", limit=20)
        assert isinstance(targets, pd.DataFrame) and len(targets) == 20
        assert targets["score"].is_monotonic_decreasing
        assert {"gene", "symbol", "association", "drug", "pathway", "predicted", "paths"} <= set(targets.columns)
        assert targets.attrs["release"] and targets.attrs["total"] >= 20
        hyps = kg.hypotheses("DRUGBANK:DB00997", limit=10)
        assert len(hyps) == 10 and not hyps["known"].any()
        enr = kg.enrichment(["BRCA1", "BRCA2", "RAD51", "PALB2"], limit=5)
        assert len(enr) == 5 and (enr["pvalue"] <= enr["fdr"]).all()
        q = kg.query("MATCH (d:Disease {id: $id}) RETURN d.name AS name", id="DOID:363")
        assert list(q.columns) == ["name"] and q.iloc[0]["name"] == "uterine cancer"
        hits = kg.search("BRCA1", label="Gene")
        assert hits.iloc[0]["name"] == "BRCA1"
        # parameters named like the client's own arguments go in `params`; keyword ones merge with it
        limited = kg.query("MATCH (d:Disease) RETURN d.id AS id ORDER BY id LIMIT $limit", params={"limit": 3})
        assert len(limited) == 3
        mixed = kg.query("MATCH (d:Disease {id: $id}) RETURN d.name AS name, $limit AS lim", {"limit": 1}, id="DOID:363")
        assert mixed.iloc[0].tolist() == ["uterine cancer", 1]
        brca1 = hits.iloc[0]["id"]
        assoc = kg.gene_evidence(brca1, types=["GENE_ASSOCIATED_WITH_CONDITION"])
        assert len(assoc) and set(assoc["type"]) == {"GENE_ASSOCIATED_WITH_CONDITION"}
        assert len(kg.gene_evidence(brca1)) > len(assoc)
        assert len(kg.entity("DOID:363", top=2)["neighbours"][0]["top"]) <= 2
        narrow = kg.targets("DOID:363", limit=5, sources=["pathway"], pathway_max_size=20)
        wide = kg.targets("DOID:363", limit=5, sources=["pathway"], pathway_max_size=300)
        assert narrow["gene"].tolist() != wide["gene"].tolist()
        with pytest.raises(TargetKGError) as err:
            kg.entity("DOID:363#?x")  # quoted into one path segment: an unknown id, not a different route
        assert err.value.status == 404 and "DOID:363#?x" in str(err.value)
        with pytest.raises(TargetKGError) as err:
            kg.query("CREATE (:Pwned)")
        assert err.value.status == 403 and "read-only" in str(err.value)
        with pytest.raises(TargetKGError) as err:
            kg.targets("DOID:0000000")
        assert err.value.status == 404
    with Client(server) as anonymous, pytest.raises(TargetKGError) as err:
        anonymous.query("RETURN 1 AS x")
    assert err.value.status == 401


def test_client_retries_then_reports_connection_errors():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    with Client(f"http://127.0.0.1:{port}", retries=2, backoff_s=0.05, timeout=2) as kg, \
            pytest.raises(TargetKGError, match="Connection failed"):
        kg.health()
    assert time.monotonic() - t0 < 10
