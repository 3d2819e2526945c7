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


# --------------------------------------------------------------------------------------
# orientation: which axis holds the samples?
# --------------------------------------------------------------------------------------
# Sample-id shapes (checked first: a label that looks like a sample id is never taken as a gene).
_SAMPLE_PATTERNS = (
    re.compile(r"^GSM\d+$"),  # GEO sample
    re.compile(r"^[SED]R[RSX]\d+$"),  # SRA / ENA / DDBJ run, sample, experiment
    re.compile(r"^SAM[NED][A-Z]?\d+$"),  # BioSample
    re.compile(r"^TCGA-[A-Z0-9]{2}-[A-Z0-9]{4}(-[0-9]{2}[A-Z]?)?(-[0-9]{2}[A-Z]?)?(-[A-Z0-9]{4}(-[0-9]{2})?)?$", re.IGNORECASE),
    re.compile(r"^GTEX-[A-Z0-9]+(-[A-Z0-9]+)*$", re.IGNORECASE),
    # patient / sample / subject ids: PT0001, patient_12, S1, s01, P001, CTRL-3, donor.7, sample1_rep2
    re.compile(r"^(PT|PAT|PATIENT|PATIENTS|SAMPLE|SMP|SPL|SUBJ|SUBJECT|DONOR|CASE|CTRL|CONTROL|CTL|IND|INDIVIDUAL|S|P)"
               r"[-_.]?\d+([-_.][A-Za-z0-9]+)?$", re.IGNORECASE),
    re.compile(r"^[A-Za-z]{2,12}[-_]\d{3,}$"),  # IPF_001, COPD-0123
    re.compile(r"^[A-Za-z]{2,12}_\d{2,}$"),  # IPF_01
)
# Variable (gene / protein) identifier shapes.
_ENSEMBL_RE = re.compile(r"^(?:ENSEMBL:)?(ENS[A-Z]{0,4}G\d{11})(?:\.\d+)?$")
_ENSEMBL_ANY = re.compile(r"^(?:ENSEMBL:)?ENS[A-Z]{0,4}[GTPE]\d{11}(?:\.\d+)?$")
_CURIE_RE = re.compile(r"^(NCBIGene|HGNC|ENSEMBL|UniProtKB|Entrez):\S+$", re.IGNORECASE)
_UNIPROT_RE = re.compile(r"^(?:UniProtKB:)?([OPQ][0-9][A-Z0-9]{3}[0-9]|[A-NR-Z][0-9](?:[A-Z][A-Z0-9]{2}[0-9]){1,2})(?:-\d+)?$")
# HGNC-like symbols: TP53, HLA-DRB1, NKX2-1, C1orf112, MT-CO1, KRTAP1-1 (also uppercase clinical
# abbreviations such as BMI -- they are variables too, which is all orientation needs).
_SYMBOL_RE = re.compile(r"^(C(?:\d+|X|Y)orf\d+[A-Z]?|[A-Z][A-Z0-9]*(?:[-.][A-Z0-9]+)*(?:orf\d+)?)$")

_ORIENTATIONS = {
    "auto": "auto",
    "variables_x_samples": "variables_x_samples", "variables-by-samples": "variables_x_samples",
    "variables_by_samples": "variables_x_samples", "variables x samples": "variables_x_samples",
    "samples_x_variables": "samples_x_variables", "samples-by-variables": "samples_x_variables",
    "samples_by_variables": "samples_x_variables", "samples x variables": "samples_x_variables",
}


def _label_kind(label: str) -> str | None:
    """'sample', 'variable' or None (undecided) for one row/column label."""
    s = str(label).strip()
    if not s:
        return None
    if any(p.match(s) for p in _SAMPLE_PATTERNS):
        # P04637 is a UniProt accession and a patient-id shape at once: undecided
        return None if _UNIPROT_RE.match(s) else "sample"
    if _ENSEMBL_ANY.match(s) or _CURIE_RE.match(s) or _UNIPROT_RE.match(s):
        return "variable"
    if 2 <= len(s) <= 20 and _SYMBOL_RE.match(s) and not s.isdigit():
        return "variable"
    return None


def _axis_kind(labels) -> tuple[str | None, str]:
    """Classify an axis: ('samples' | 'variables' | None, description)."""
    labels = [str(x) for x in labels]
    n = len(labels)
    if n == 0:
        return None, "no labels"
    if all(x.strip().isdigit() for x in labels):  # bare numbers: row numbers or Entrez ids, with care
        nums = sorted(int(x) for x in labels)
        if nums == list(range(nums[0], nums[0] + n)) and nums[0] in (0, 1):
            return None, f"{n}/{n} consecutive numbers {nums[0]}..{nums[-1]} (row numbers?)"
        if n >= 5:
            return "variables", f"{n}/{n} non-consecutive numbers (Entrez gene ids?, e.g. {labels[0]})"
        return None, f"{n} numeric labels"
    kinds = [_label_kind(x) for x in labels]
    ns, nv = kinds.count("sample"), kinds.count("variable")
    ex_s = next((x for x, k in zip(labels, kinds) if k == "sample"), None)
    ex_v = next((x for x, k in zip(labels, kinds) if k == "variable"), None)
    desc = f"{ns}/{n} sample-id-like" + (f", e.g. {ex_s}" if ex_s else "") + \
           f"; {nv}/{n} gene/variable-like" + (f", e.g. {ex_v}" if ex_v else "")
    if ns >= 0.8 * n and nv < 0.2 * n:
        return "samples", desc
    if nv >= 0.8 * n and ns < 0.2 * n:
        return "variables", desc
    return None, desc


def detect_orientation(row_labels, col_labels, sample_ids=None, source: str = "matrix") -> tuple[str, str]:
    """(orientation, reason) with orientation 'variables_x_samples' or 'samples_x_variables'.

    The metadata's sample ids, when given, decide (the axis whose labels match them is the sample
    axis).  Otherwise the label shapes: sample-id patterns (GSM…, TCGA barcodes, SRR…, PT0001,
    patient_12, S1 …) against gene/variable identifiers (Ensembl ids, versioned or not; CURIEs;
    UniProt accessions; HGNC-like symbols; non-consecutive numbers as Entrez ids).  When both axes
    look alike or neither is decisive, :class:`MatrixFormatError` asks for an explicit orientation.
    """
    rows = [str(x) for x in row_labels]
    cols = [str(x) for x in col_labels]
    hint = ("state it: orientation='samples_x_variables' | 'variables_x_samples' "
            "(CLI: --orientation samples-by-variables | variables-by-samples), or give the metadata's sample ids")
    if sample_ids is not None:
        ids = {str(s) for s in sample_ids}
        in_cols, in_rows = len(ids & set(cols)), len(ids & set(rows))
        if in_cols == 0 and in_rows == 0:
            raise MatrixFormatError(
                f"{source}: none of the {len(ids)} metadata sample ids (e.g. {sorted(ids)[:3]}) is a row or column "
                f"label (rows e.g. {rows[:3]}, columns e.g. {cols[:3]})")
        if in_cols == in_rows:
            raise MatrixFormatError(
                f"{source}: the metadata sample ids match {in_rows} row and {in_cols} column labels; cannot tell "
                f"which axis holds the samples; {hint}")
        if in_cols > in_rows:
            return "variables_x_samples", f"{in_cols} of {len(ids)} metadata sample ids found as column labels"
        return "samples_x_variables", f"{in_rows} of {len(ids)} metadata sample ids found as row labels"
    rk, rdesc = _axis_kind(rows)
    ck, cdesc = _axis_kind(cols)
    both = f"row labels: {rdesc}; column labels: {cdesc}"
    if rk == "samples" and ck != "samples":
        return "samples_x_variables", f"row labels look like sample ids ({rdesc})" + (
            f"; column labels like variables ({cdesc})" if ck == "variables" else "")
    if ck == "samples" and rk != "samples":
        return "variables_x_samples", f"column labels look like sample ids ({cdesc})" + (
            f"; row labels like variables ({rdesc})" if rk == "variables" else "")
    if rk == ck and rk is not None:
        raise MatrixFormatError(f"{source}: both axes look like {rk} ({both}); refusing to guess the orientation; {hint}")
    if rk == "variables":
        return "variables_x_samples", f"row labels look like gene/variable identifiers ({rdesc}), column labels do not"
    if ck == "variables":
        return "samples_x_variables", f"column labels look like gene/variable identifiers ({cdesc}), row labels do not"
    raise MatrixFormatError(f"{source}: cannot tell which axis holds the samples ({both}); {hint}")


def _read_any(path: Path, sep: str | None, id_column=None):
    """-> (raw frame with row labels as index, is_text, {column: 1-based file column}, {row: 1-based line})."""
    suf = "".join(path.suffixes).lower()
    if suf.endswith((".parquet", ".pq")):
        df = pd.read_parquet(path)
        df.columns = [str(c) for c in df.columns]
        note = None
        if id_column is not None:
            if str(id_column) not in df.columns:
                raise MatrixFormatError(f"{path}: no id column {id_column!r} (columns: {list(df.columns)[:10]})")
            df = df.set_index(str(id_column))
        elif isinstance(df.index, pd.RangeIndex) and len(df.columns) and not pd.api.types.is_numeric_dtype(df.iloc[:, 0].dtype):
            # ids kept in an ordinary first column (written with index=False, by R or polars)
            note = f"{path}: row labels taken from the first column {df.columns[0]!r} (no index stored in the Parquet file)"
            df = df.set_index(df.columns[0])
        colpos = {c: i + 1 for i, c in enumerate(df.columns)}
        rowpos = {str(r): i + 1 for i, r in enumerate(df.index)}
        return df, False, colpos, rowpos, note
    if sep is None:
        sep = "," if ".csv" in suf else "\t"
    df = pd.read_csv(path, sep=sep, index_col=None, dtype=str, keep_default_na=False, na_filter=False)
    if df.shape[1] == 0:
        raise MatrixFormatError(f"{path}: empty matrix (no columns)")
    header = [str(c) for c in df.columns]
    idc = header[0] if id_column is None else str(id_column)
    if idc not in header:
        raise MatrixFormatError(f"{path}: no id column {id_column!r} (columns: {header[:10]})")
    colpos = {c: i + 1 for i, c in enumerate(header)}
    df = df.set_index(idc)
    df.index = [str(i) for i in df.index]
    rowpos = {r: i + 2 for i, r in enumerate(df.index)}  # line numbers (header = line 1)
    return df, True, colpos, rowpos, None


def load_matrix(
    path,
    orientation: str = "auto",
    sample_ids=None,
    sep: str | None = None,
    missing: str = "error",
    constant: str = "error",
    max_report: int = 20,
    drop=None,
    id_column: str | None = None,
) -> LoadedMatrix:
    """Load and validate an omics matrix; returns samples x variables floats.

    orientation: "auto", "variables_x_samples" / "variables-by-samples" or "samples_x_variables" /
    "samples-by-variables".  "auto" (:func:`detect_orientation`) uses the given ``sample_ids``
    (whichever axis holds them) or else the shapes of the labels, and refuses to guess when
    they are not decisive.  ``drop``: column (or row) labels of the file to ignore, e.g. a
    non-numeric ``condition`` column.  ``id_column``: the column holding the row labels (default:
    the first column of a text file; for Parquet the stored index, else a non-numeric first column).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    orient_in = _ORIENTATIONS.get(str(orientation or "auto").strip().lower())
    if orient_in is None:
        raise ValueError(f"orientation must be auto, samples-by-variables or variables-by-samples, not {orientation!r}")
    raw, is_text, colpos, rowpos, note = _read_any(path, sep, id_column)
    report_pre = [note] if note else []
    if raw.index.duplicated().any():
        d = raw.index[raw.index.duplicated()][:5].tolist()
        raise MatrixFormatError(f"{path}: duplicated row labels {d}")
    if raw.columns.duplicated().any():
        d = raw.columns[raw.columns.duplicated()][:5].tolist()
        raise MatrixFormatError(f"{path}: duplicated column labels {d}")
    raw.index = [str(i) for i in raw.index]
    raw.columns = [str(c) for c in raw.columns]
    if drop:
        drop = [str(d) for d in ([drop] if isinstance(drop, str) else drop)]
        dc = [d for d in drop if d in raw.columns]
        dr = [d for d in drop if d in raw.index and d not in dc]
        absent = [d for d in drop if d not in dc and d not in dr]
        if absent:
            raise MatrixFormatError(f"{path}: no column or row {absent} to drop (columns e.g. {list(raw.columns)[:8]})")
        raw = raw.drop(columns=dc).drop(index=dr)
        report_pre.append(f"{path}: ignored {'column' if dc else 'row'}(s) {dc + dr} (drop)")
    if raw.shape[1] == 0 or raw.shape[0] == 0:
        raise MatrixFormatError(f"{path}: empty matrix (shape {raw.shape})")

    def cell(r_label, c_label) -> str:
        rp, cp = rowpos.get(r_label), colpos.get(c_label)
        if is_text:
            return f"row {r_label!r} (line {rp}), column {c_label!r} (column {cp})"
        return f"row {r_label!r} (row {rp}), column {c_label!r} (column {cp})"

    # --- numeric conversion, reporting non-numeric cells
    problems = []
    n_bad = 0
    values = np.empty(raw.shape, dtype=float)
    na_tokens = {"", "na", "nan", "null", "none", "n/a", "#n/a", "-"}
    missing_cells = []
    for c, col in enumerate(raw.columns):
        s = raw[col]
        if is_text or not pd.api.types.is_numeric_dtype(s.dtype):
            txt = s.astype(str).str.strip()
            is_na = txt.str.lower().isin(na_tokens) | s.isna()
            num = pd.to_numeric(txt.where(~is_na), errors="coerce")
            bad = num.isna() & ~is_na
            for r in np.where(bad.to_numpy())[0]:
                n_bad += 1
                if len(problems) < max_report:
                    problems.append(f"{path}: non-numeric cell {s.iloc[r]!r} at {cell(raw.index[r], col)}")
            miss = num.isna() & is_na
        else:
            num = pd.to_numeric(s, errors="coerce")
            miss = num.isna()
        for r in np.where(miss.to_numpy())[0]:
            missing_cells.append((r, c))
        values[:, c] = num.to_numpy(dtype=float)
    if problems:
        more = f"\n({n_bad} non-numeric cells, first {len(problems)} shown)" if n_bad > len(problems) else ""
        hint = "\n(a label or annotation column? ignore it with drop=[...] / --drop, or name the id column)"
        raise MatrixFormatError("\n".join(problems) + more + hint)
    df = pd.DataFrame(values, index=list(raw.index), columns=list(raw.columns))
    # --- orientation
    if orient_in == "auto":
        orient, reason = detect_orientation(df.index, df.columns, sample_ids=sample_ids, source=str(path))
    else:
        orient, reason = orient_in, "stated by the caller"
    if orient == "variables_x_samples":
        df = df.T
        missing_cells = [(c, r) for r, c in missing_cells]  # (sample, variable) positions after transpose
    pretty = orient.replace("_x_", " x ")
    report = report_pre + [f"{path}: read as {pretty} ({reason}); {df.shape[0]} samples, {df.shape[1]} variables"]
    if sample_ids is not None:
        absent = [s for s in (str(x) for x in sample_ids) if s not in set(df.index)]
        if absent:
            report.append(f"{path}: {len(absent)} metadata sample id(s) not in the matrix: {absent[:max_report]}")

    def where(sample_i, var_i):
        s_lab, v_lab = df.index[sample_i], df.columns[var_i]
        return cell(v_lab, s_lab) if orient == "variables_x_samples" else cell(s_lab, v_lab)

    def pos(var):  # where a variable sits in the file
        if orient == "variables_x_samples":
            return f"{var!r} ({'line' if is_text else 'row'} {rowpos.get(var)})"
        return f"{var!r} (column {colpos.get(var)})"

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
            report.append(f"{path}: dropped {len(bad)} variable(s) with missing values: {[pos(b) for b in bad[:max_report]]}")
        elif missing == "drop_sample":
            bad = sorted({df.index[s] for s, _ in missing_cells})
            df = df.drop(index=bad)
            report.append(f"{path}: dropped {len(bad)} sample(s) with missing values: {bad[:max_report]}")
        elif missing == "impute_median":
            df = df.fillna(df.median())
            report.append(f"{path}: imputed {len(missing_cells)} missing value(s) with the variable median: "
                          + "; ".join(where(s, v) for s, v in missing_cells[:max_report]))
        else:
            raise ValueError(f"unknown missing-value policy {missing!r}")
    # --- constant variables
    sd = df.std(axis=0, ddof=0)
    const = [str(c) for c in df.columns[(sd <= 1e-12 * (df.abs().max(axis=0) + 1)).to_numpy()]]
    if const:
        axis_word = "row" if orient == "variables_x_samples" else "column"
        listed = [pos(c) for c in const[:max_report]]
        if constant == "error":
            raise MatrixFormatError(
                f"{path}: {len(const)} constant variable(s) ({axis_word}s): {const[:max_report]} at {', '.join(listed)}"
                " (policy constant='error'; use constant='drop')"
            )
        if constant != "drop":
            raise ValueError(f"unknown constant-variable policy {constant!r} (error | drop)")
        df = df.drop(columns=const)
        report.append(f"{path}: dropped {len(const)} constant variable(s) ({axis_word}s): {', '.join(listed)}")
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


MAPPING_ROUTES = ("gene_map", "symbol", "previous_symbol", "alias", "ensembl", "uniprot", "ncbigene", "hgnc", "curie",
                  "clinical")


def _ensembl_index(vocabulary) -> dict:
    idx = getattr(vocabulary, "_targetkg_by_ensembl", None)
    if idx is None:
        idx = {r.ensembl: r for r in vocabulary.records if getattr(r, "ensembl", None)}
        try:
            vocabulary._targetkg_by_ensembl = idx
        except AttributeError:  # pragma: no cover -- slotted vocabulary
            pass
    return idx


def _unique_symbol(vocabulary, table_name: str, query: str):
    """A previous symbol / alias that names exactly one gene (exact case), else None."""
    table = getattr(vocabulary, table_name, None)
    if table is None:
        return None
    ids = table.get(query.upper())
    if not ids or len(ids) != 1:
        return None
    rec = vocabulary.by_hgnc[next(iter(ids))]
    names = rec.previous if table_name == "_prev" else rec.aliases
    return rec if query in names else None


def _map_one(s: str, vocabulary, symbol_to_curie, previous: bool, aliases: bool):
    """-> (curie | None, route, matched vocabulary symbol | '')."""
    if symbol_to_curie and s in symbol_to_curie:
        return symbol_to_curie[s], "gene_map", ""
    m = _ENSEMBL_RE.match(s)
    if m:
        if vocabulary is None:
            return f"ENSEMBL:{m.group(1)}", "ensembl", ""
        rec = _ensembl_index(vocabulary).get(m.group(1))
        return (rec.curie, "ensembl", rec.symbol) if rec else (None, "clinical", "")
    m = re.match(r"^(?:NCBIGene|Entrez):(\d+)$", s, re.IGNORECASE) or (re.match(r"^(\d+)$", s) if vocabulary is not None else None)
    if m:
        if vocabulary is None:
            return f"NCBIGene:{m.group(1)}", "ncbigene", ""
        rec = vocabulary.by_entrez.get(m.group(1))
        if rec:
            return rec.curie, "ncbigene", rec.symbol
        return (f"NCBIGene:{m.group(1)}", "ncbigene", "") if not s.isdigit() else (None, "clinical", "")
    m = re.match(r"^HGNC:(\d+)$", s, re.IGNORECASE)
    if m:
        rec = vocabulary.by_hgnc.get(f"HGNC:{m.group(1)}") if vocabulary is not None else None
        return (rec.curie, "hgnc", rec.symbol) if rec else (f"HGNC:{m.group(1)}", "hgnc", "")
    m = _UNIPROT_RE.match(s)
    if m and (vocabulary is not None or s.startswith("UniProtKB:")):
        rec = vocabulary.by_uniprot(m.group(1)) if vocabulary is not None else None
        if rec:
            return rec.curie, "uniprot", rec.symbol
        if s.startswith("UniProtKB:"):
            return s, "uniprot", ""
    if _CURIE_RE.match(s):
        return s, "curie", ""
    if vocabulary is not None:
        rec = vocabulary.by_symbol.get(s.upper())
        if rec is not None and (rec.symbol == s or s[0].isupper() or s[0].isdigit()):
            return rec.curie, "symbol", rec.symbol
        if previous:
            rec = _unique_symbol(vocabulary, "_prev", s)
            if rec is not None:
                return rec.curie, "previous_symbol", rec.symbol
        if aliases:
            rec = _unique_symbol(vocabulary, "_alias", s)
            if rec is not None:
                return rec.curie, "alias", rec.symbol
    return None, "clinical", ""


def map_variables(names, vocabulary=None, symbol_to_curie: dict | None = None, *, previous: bool = True,
                  aliases: bool = False, clinical=None) -> pd.DataFrame:
    """Map variable names to graph CURIEs and say how (column ``route``).

    Genes, in this order: an explicit ``symbol_to_curie`` entry (route ``gene_map``); an Ensembl gene
    id, versioned or not (``ensembl``); an Entrez id, bare numbers only through ``vocabulary``
    (``ncbigene``); an HGNC id (``hgnc``); a UniProt accession (``uniprot``); another CURIE as
    given (``curie``); the approved HGNC symbol (``symbol``); a previous symbol that names one gene
    only (``previous_symbol``, unless ``previous=False``); an alias symbol only when ``aliases=True``
    (``alias``: aliases map clinical abbreviations such as SEX or ALT to genes).  Ids resolved
    through ``vocabulary`` (an :class:`targetkg.ingest.identifiers.GeneVocabulary`) become the
    gene's canonical CURIE.  Anything else, and every name in ``clinical``, is a clinical /
    non-gene item -> ``ClinicalVariable`` with id ``targetkg.clinical:<slug>`` (route ``clinical``).
    """
    forced = {str(c) for c in (clinical or [])}
    recs = []
    for name in names:
        s = str(name).strip()
        curie, route, matched = (None, "clinical", "") if s in forced else _map_one(s, vocabulary, symbol_to_curie,
                                                                                     previous, aliases)
        if curie:
            recs.append({"variable": str(name), "curie": curie, "label": "Gene", "route": route, "matched": matched})
        else:
            slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", s).strip("_").lower() or "unnamed"
            recs.append({"variable": str(name), "curie": f"targetkg.clinical:{slug}", "label": "ClinicalVariable",
                         "route": "clinical", "matched": ""})
    return pd.DataFrame(recs, columns=["variable", "curie", "label", "route", "matched"])


def mapping_summary(info: pd.DataFrame) -> dict:
    """Counts per mapping route (for the CLI and run.json)."""
    if info is None or "route" not in info.columns:
        return {}
    counts = info["route"].value_counts()
    return {r: int(counts[r]) for r in MAPPING_ROUTES if r in counts} | {
        r: int(v) for r, v in counts.items() if r not in MAPPING_ROUTES}


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
