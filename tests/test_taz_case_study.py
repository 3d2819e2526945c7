"""The TAZ knockdown case study (bench/taz_case_study.py): the real table is read right, propagation is a distribution."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import shared_data

REPO = Path(__file__).resolve().parent.parent


def _module():
    spec = importlib.util.spec_from_file_location("taz_case_study", REPO / "bench" / "taz_case_study.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_reads_the_real_sitaz_table():
    kd = _module().read_knockdown(shared_data() / "knockdown" / "GSE73555_siTAZ_HFL1" / "siTAZ_HFL1_diffex.tsv.gz")
    taz = kd["NCBIGene:25937"]  # WWTR1, the knocked-down gene (data README: -2.92 and -1.82)
    assert taz["symbol"] == "WWTR1"
    assert taz["siTAZ1_logFC"] == pytest.approx(-2.92, abs=0.005) and taz["siTAZ2_logFC"] == pytest.approx(-1.82, abs=0.005)
    ctgf = kd["NCBIGene:1490"]  # CCN2/CTGF, the canonical TAZ/YAP target
    assert ctgf["siTAZ1_logFC"] == pytest.approx(-1.45, abs=0.005) and ctgf["siTAZ2_logFC"] == pytest.approx(-1.97, abs=0.005)
    assert 10_000 < len(kd) < 14_475  # one row per NCBI gene; rows without an NCBI id are dropped


def test_personalised_pagerank_is_a_distribution_peaked_at_the_seed():
    # path graph 0-1-2-3: mass decays with distance from the seed
    adj = sp.csr_matrix(np.array([[0, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 1], [0, 0, 1, 0]], dtype=float))
    x = _module().ppr(adj, seed=0)
    assert x.sum() == pytest.approx(1.0) and list(np.argsort(-x)) == [0, 1, 2, 3]
