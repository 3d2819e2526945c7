"""Reading omics matrices and sample metadata, validation, variable mapping, benchmark datasets.

:func:`load_matrix` reads TSV/CSV/Parquet, decides whether the file is variables x samples or
samples x variables (and says why), and validates the cells: non-numeric cells, missing values
and constant variables are reported with the file name and the row/column labels (and 1-based
line / column numbers for text files).  Problems raise :class:`MatrixFormatError` unless a policy
(``missing="drop_variable"|"drop_sample"|"impute_median"``, ``constant="drop"``) says otherwise;
whatever a policy changed is listed in ``LoadedMatrix.report``.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd


class MatrixFormatError(ValueError):
    """A malformed input matrix; the message names the file and the offending rows/columns."""


@dataclass
class LoadedMatrix:
    data: pd.DataFrame  # samples x variables, float64
    orientation: str  # "variables x samples" | "samples x variables" (as found in the file)
    orientation_reason: str
    source: str
    report: list = field(default_factory=list)

    @property
    def variables(self) -> list:
        return [str(c) for c in self.data.columns]

    @property
    def samples(self) -> list:
        return [str(i) for i in self.data.index]


_GENE_LIKE = re.compile(r"^(ENSG\d+|[A-Z][A-Z0-9-]{1,9}(\.\d+)?|\d+|NCBIGene:\d+|HGNC:\d+|G\d+)$")


def _read_any(path: Path, sep: str | None):
    suf = "".join(path.suffixes).lower()
    if suf.endswith(".parquet") or suf.endswith(".pq"):
        return pd.read_parquet(path), False
    if sep is None:
        sep = "," if ".csv" in suf else "\t"
    df = pd.read_csv(path, sep=sep, index_col=0, dtype=str, keep_default_na=False, na_filter=False)
    return df, True


def _looks_gene_like(labels) -> float:
    labels = [str(x) for x in labels]
    return float(np.mean([bool(_GENE_LIKE.match(x)) for x in labels])) if labels else 0.0


def load_matrix(
    path,
    orientation: str = "auto",
    sample_ids=None,
    sep: str | None = None,
    missing: str = "error",
    constant: str = "error",
    max_report: int = 20,
) -> LoadedMatrix:
    """Load and validate an omics matrix; returns samples x variables floats.

    orientation: "auto", "variables_x_samples" or "samples_x_variables".  "auto" uses, in order:
    the given ``sample_ids`` (whichever axis holds them), a gene-like header vs index, then
    the shape (omics matrices have more variables than samples).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    raw, is_text = _read_any(path, sep)
    if raw.shape[1] == 0 or raw.shape[0] == 0:
        raise MatrixFormatError(f"{path}: empty matrix (shape {raw.shape})")
    if raw.index.duplicated().any():
        d = raw.index[raw.index.duplicated()][:5].tolist()
        raise MatrixFormatError(f"{path}: duplicated row labels {d}")
    if raw.columns.duplicated().any():
        d = raw.columns[raw.columns.duplicated()][:5].tolist()
        raise MatrixFormatError(f"{path}: duplicated column labels {d}")
    # --- numeric conversion, reporting non-numeric cells
    problems = []
    values = np.empty(raw.shape, dtype=float)
    na_tokens = {"", "na", "nan", "null", "none", "n/a", "#n/a", "-"}
    missing_cells = []
    for c, col in enumerate(raw.columns):
        s = raw[col]
        if is_text or not pd.api.types.is_numeric_dtype(s.dtype):
            txt = s.astype(str).str.strip()
            num = pd.to_numeric(txt.where(~txt.str.lower().isin(na_tokens)), errors="coerce")
            if True:
                bad = num.isna() & ~txt.str.lower().isin(na_tokens) & s.notna()
                for r in np.where(bad.to_numpy())[0][:max_report]:
                    problems.append(
                        f"{path}: non-numeric cell {s.iloc[r]!r} at row {raw.index[r]!r} (line {r + 2}), "
                        f"column {col!r} (column {c + 2})"
                    )
            miss = num.isna() & (txt.str.lower().isin(na_tokens) | s.isna())
        else:
            num = pd.to_numeric(s, errors="coerce")
            miss = num.isna()
        for r in np.where(miss.to_numpy())[0]:
            missing_cells.append((r, c))
        values[:, c] = num.to_numpy(dtype=float)
    if problems:
        more = "" if len(problems) < max_report else " (first ones shown)"
        raise MatrixFormatError("\n".join(problems) + more)
    df = pd.DataFrame(values, index=[str(i) for i in raw.index], columns=[str(c) for c in raw.columns])
    # --- orientation
    if orientation == "auto":
        if sample_ids is not None:
            ids = {str(s) for s in sample_ids}
            in_cols = len(ids & set(df.columns))
            in_rows = len(ids & set(df.index))
            if in_cols == 0 and in_rows == 0:
                raise MatrixFormatError(f"{path}: none of the {len(ids)} metadata sample ids is a row or column label")
            orient = "variables_x_samples" if in_cols >= in_rows else "samples_x_variables"
            reason = f"{max(in_cols, in_rows)} of {len(ids)} metadata sample ids found as {'column' if in_cols >= in_rows else 'row'} labels"
        else:
            gc, gr = _looks_gene_like(df.columns), _looks_gene_like(df.index)
            if abs(gc - gr) >= 0.5:
                orient = "samples_x_variables" if gc > gr else "variables_x_samples"
                reason = f"{'column' if gc > gr else 'row'} labels look like gene identifiers ({max(gc, gr):.0%})"
            else:
                orient = "variables_x_samples" if df.shape[0] > df.shape[1] else "samples_x_variables"
                reason = f"shape {df.shape}: the longer axis is taken as variables"
    elif orientation in ("variables_x_samples", "samples_x_variables"):
        orient, reason = orientation, "stated by the caller"
    else:
        raise ValueError(f"orientation must be auto, variables_x_samples or samples_x_variables, not {orientation!r}")
    if orient == "variables_x_samples":
        df = df.T
        missing_cells = [(c, r) for r, c in missing_cells]  # (sample, variable) positions after transpose
    pretty = orient.replace("_x_", " x ")
    report = [f"{path}: read as {pretty} ({reason}); {df.shape[0]} samples, {df.shape[1]} variables"]

    def where(sample_i, var_i):
        if orient == "variables_x_samples":
            return f"row {df.columns[var_i]!r} (line {var_i + 2}), column {df.index[sample_i]!r} (column {sample_i + 2})"
        return f"row {df.index[sample_i]!r} (line {sample_i + 2}), column {df.columns[var_i]!r} (column {var_i + 2})"

    # --- missing values
    if missing_cells:
        msg = [f"{path}: {len(missing_cells)} missing value(s)"] + [
            f"  missing at {where(s, v)}" for s, v in missing_cells[:max_report]
        ]
        if missing == "error":
            raise MatrixFormatError("\n".join(msg) + "\n(policy missing='error'; use drop_variable, drop_sample or impute_median)")
        if missing == "drop_variable":
            bad = sorted({df.columns[v] for _, v in missing_cells})
            df = df.drop(columns=bad)
            report.append(f"{path}: dropped {len(bad)} variable(s) with missing values: {bad[:max_report]}")
        elif missing == "drop_sample":
            bad = sorted({df.index[s] for s, _ in missing_cells})
            df = df.drop(index=bad)
            report.append(f"{path}: dropped {len(bad)} sample(s) with missing values: {bad[:max_report]}")
        elif missing == "impute_median":
            df = df.fillna(df.median())
            report.append(f"{path}: imputed {len(missing_cells)} missing value(s) with the variable median")
        else:
            raise ValueError(f"unknown missing-value policy {missing!r}")
    # --- constant variables
    sd = df.std(axis=0, ddof=0)
    const = [str(c) for c in df.columns[(sd <= 1e-12 * (df.abs().max(axis=0) + 1)).to_numpy()]]
    if const:
        axis_word = "row" if orient == "variables_x_samples" else "column"
        if constant == "error":
            raise MatrixFormatError(
                f"{path}: {len(const)} constant variable(s) ({axis_word}s): {const[:max_report]}"
                " (policy constant='error'; use constant='drop')"
            )
        df = df.drop(columns=const)
        report.append(f"{path}: dropped {len(const)} constant variable(s) ({axis_word}s): {const[:max_report]}")
    if df.shape[0] < 3 or df.shape[1] < 2:
        raise MatrixFormatError(f"{path}: too small after validation ({df.shape[0]} samples, {df.shape[1]} variables)")
    return LoadedMatrix(df, pretty, reason, str(path), report)


def load_metadata(path, sample_column: str | None = None, group_column: str | None = None) -> pd.DataFrame:
    """Sample metadata (TSV/CSV) indexed by the (pseudonymised) sample id."""
    path = Path(path)
    sep = "," if path.suffix.lower() == ".csv" else "\t"
    md = pd.read_csv(path, sep=sep, dtype=str)
    col = sample_column or md.columns[0]
    if col not in md.columns:
        raise MatrixFormatError(f"{path}: no column {col!r} (columns: {list(md.columns)})")
    if md[col].duplicated().any():
        raise MatrixFormatError(f"{path}: duplicated sample ids {md[col][md[col].duplicated()].tolist()[:5]}")
    md = md.set_index(col)
    if group_column is not None and group_column not in md.columns:
        raise MatrixFormatError(f"{path}: no group column {group_column!r} (columns: {list(md.columns)})")
    return md


def map_variables(names, vocabulary=None, symbol_to_curie: dict | None = None) -> pd.DataFrame:
    """Map variable names to graph CURIEs.

    Genes: an explicit ``symbol_to_curie`` entry, a CURIE-looking name, or a match in ``vocabulary``
    (an :class:`targetkg.ingest.identifiers.GeneVocabulary`: approved/previous/alias symbols,
    Entrez ids).  Anything else is a clinical/non-gene item -> ``ClinicalVariable`` node with id
    ``targetkg.clinical:<slug>``.
    """
    recs = []
    for name in names:
        s = str(name)
        curie = None
        if symbol_to_curie and s in symbol_to_curie:
            curie = symbol_to_curie[s]
        elif re.match(r"^(NCBIGene|HGNC|ENSEMBL|UniProtKB):\S+$", s):
            curie = s
        elif vocabulary is not None:
            rec = vocabulary.by_entrez.get(s) if s.isdigit() else vocabulary.by_any_symbol(s)
            if rec is not None:
                curie = rec.curie
        if curie:
            recs.append({"variable": s, "curie": curie, "label": "Gene"})
        else:
            slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", s).strip("_").lower() or "unnamed"
            recs.append({"variable": s, "curie": f"targetkg.clinical:{slug}", "label": "ClinicalVariable"})
    return pd.DataFrame(recs)


# --------------------------------------------------------------------------------------
# benchmark / validation datasets (read by path from the shared data folder)
# --------------------------------------------------------------------------------------


def read_gnw(path) -> pd.DataFrame:
    """A GeneNetWeaver TSV (quoted header G1..Gn, one row per experiment)."""
    df = pd.read_csv(path, sep="\t", quotechar='"')
    return df.astype(float)


def read_gold_standard(path, genes: list | None = None) -> pd.DataFrame:
    gs = pd.read_csv(path, sep="\t", header=None, names=["source", "target", "edge"])
    return gs


def dream4_paths(root: Path, size: int, net: int) -> dict:
    e = Path(root) / "dream4" / "expression"
    g = Path(root) / "dream4" / "gold_standards"
    if size == 10:
        return {
            "knockouts": e / "size10" / f"insilico_size10_{net}_knockouts.tsv",
            "knockdowns": e / "size10" / f"insilico_size10_{net}_knockdowns.tsv",
            "multifactorial": e / "size10" / f"insilico_size10_{net}_multifactorial.tsv",
            "gold": g / "size10" / f"DREAM4_GoldStandard_InSilico_Size10_{net}.tsv",
        }
    return {
        "knockouts": e / "size100" / f"insilico_size100_{net}_knockouts.tsv",
        "knockdowns": e / "size100" / f"insilico_size100_{net}_knockdowns.tsv",
        "gold": g / "size100" / f"DREAM4_GoldStandard_InSilico_Size100_{net}.tsv",
        "multifactorial": e / "size100_multifactorial" / f"insilico_size100_multifactorial_{net}.tsv",
        "gold_multifactorial": g / "size100_multifactorial" / f"DREAM4_GoldStandard_InSilico_Size100_multifactorial_{net}.tsv",
        "wildtype_inferelator": e / "inferelator_size100_1" / "expression.tsv",
    }


def dream4_wildtype(root: Path, net: int) -> pd.Series | None:
    """Wild type of size100 network ``net`` (only known for network 1, Inferelator copy)."""
    if net != 1:
        return None
    p = dream4_paths(root, 100, 1)["wildtype_inferelator"]
    if not p.exists():
        return None
    df = pd.read_csv(p, sep="\t", index_col=0)
    return df["wt"].astype(float)


# Sachs et al. 2005 (Science 308:523, Fig. 1/2 and SOM): reagent -> measured molecule it acts on.
#   inhibitors: AKT inhibitor -> Akt (pakts473); G0076 -> PKC; psitectorigenin -> PIP2;
#               U0126 -> MEK (pmek); LY294002 -> PI3K, read out as PIP3;
#   activators: PMA -> PKC; beta2cAMP (8-Br-cAMP analogue) -> PKA;
#   cd3cd28 / cd3cd28icam2: general stimuli only (observational in the causal sense).
# Handling (explicit): both inhibitors and activators are modelled as *hard* interventions on the
# measured node (Cooper & Yoo 1999; as in Sachs et al. 2005 and the GIES / IGSP analyses of these
# data): the node's own family ignores those samples; the direction of the effect (activator vs
# inhibitor) is not used.  Caveat visible in the data: several reagents inhibit *activity*, not
# phosphorylation -- pmek rises ~4.6 sd under U0126, measured PKA does not move under b2camp,
# G0076 shifts nearly every molecule -- so the "hard intervention on the measured level" model is
# an approximation; :func:`sachs_design` therefore also returns the condition labels, which
# ``learn_structure(groups=...)`` uses as per-condition intercepts.
SACHS_TARGETS = {
    "cd3cd28": [],
    "cd3cd28icam2": [],
    "cd3cd28+aktinhib": ["pakts473"],
    "cd3cd28+g0076": ["PKC"],
    "cd3cd28+psitect": ["PIP2"],
    "cd3cd28+u0126": ["pmek"],
    "cd3cd28+ly": ["PIP3"],
    "pma": ["PKC"],
    "b2camp": ["PKA"],
    "cd3cd28icam2+aktinhib": ["pakts473"],
    "cd3cd28icam2+g0076": ["PKC"],
    "cd3cd28icam2+psit": ["PIP2"],
    "cd3cd28icam2+u0126": ["pmek"],
    "cd3cd28icam2+ly": ["PIP3"],
}
SACHS_COLUMNS = ["praf", "pmek", "plcg", "PIP2", "PIP3", "p44/42", "pakts473", "PKA", "PKC", "P38", "pjnk"]


def load_sachs(zip_path) -> dict:
    """Read all 14 condition sheets from the original supplementary zip -> {condition: DataFrame}."""
    out = {}
    with zipfile.ZipFile(zip_path) as zf:
        for name in sorted(zf.namelist()):
            m = re.match(r"Data Files/(\d+)\. (.+)\.xls$", name)
            if not m:
                continue
            df = pd.read_excel(io.BytesIO(zf.read(name)), engine="xlrd")
            cols = {c: c.strip() for c in df.columns}
            df = df.rename(columns=cols)
            lower = {c.lower(): c for c in df.columns}
            df = df[[lower[c.lower()] for c in SACHS_COLUMNS]]
            df.columns = SACHS_COLUMNS
            out[m.group(2).strip()] = df.astype(float)
    if not out:
        raise MatrixFormatError(f"{zip_path}: no 'Data Files/<n>. <condition>.xls' members found")
    return out


SACHS_ACTIVATORS = {"pma", "b2camp"}  # all other reagents with a target are inhibitors


def sachs_design(conds: dict, conditions: list | None = None, log: bool = True):
    """Stack Sachs conditions -> (X, inter, groups, variables).

    X: log(x + 1) of the raw intensities (``log=False``: raw), rows in the order of ``conditions``
    (default: all, in the order of ``conds``); inter: n x p bool mask of the hard-intervention
    targets (:data:`SACHS_TARGETS`); groups: the condition name of every row."""
    conditions = list(conds) if conditions is None else list(conditions)
    cols = list(conds[conditions[0]].columns)
    Xs, Is, G = [], [], []
    for c in conditions:
        df = conds[c]
        a = df[cols].to_numpy(dtype=float)
        Xs.append(np.log(a + 1.0) if log else a)
        m = np.zeros(a.shape, dtype=bool)
        for tg in SACHS_TARGETS[c]:
            m[:, cols.index(tg)] = True
        Is.append(m)
        G += [c] * len(df)
    return np.vstack(Xs), np.vstack(Is), np.array(G), cols


def read_edge_list(path) -> list:
    df = pd.read_csv(path)
    return list(zip(df.iloc[:, 0].astype(str), df.iloc[:, 1].astype(str)))
