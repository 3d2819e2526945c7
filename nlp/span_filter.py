"""Span filter: a stacked classifier that drops entity spans that are likely false positives.

The NER's errors are mostly spans it predicts alone: a three-model vote (`nlp/ensemble.py`) gains
1.5 F1 points, mostly in precision, but costs three NER passes. This filter is the one-model
alternative. After NER, abbreviations and grounding, a gradient-boosted classifier scores every
span from cheap features:

* the span itself: label, length, shape (capitals, digits, hyphens), abbreviation short form;
* grounding: the linker's best candidate score, whether and how the span was grounded;
* the training corpora's mention priors: how often the same surface string (lower-cased tokens)
  is a gold mention with this label, with any label, and how often it occurs in the training
  text at all (``MentionPriors``);
* the document: how often the string occurs and is predicted in it, and with how many labels.

It is trained by stacking (`train_span_filter`): the NER is trained on k - 1 folds of the training
documents and run on the held-out fold, so the classifier learns from the kind of errors the NER
makes on text it has not seen; the priors of each fold come from the other folds only. The
decision threshold is the one that maximises the held-out-fold F1, chosen on the training folds,
never on the development split.

The stacking's by-product is kept too: every training document as the pipeline sees it when the
NER has not been trained on it (`heldout_documents.pkl`, unfiltered entities). The relation
classifier trains on these as well as on the gold entities (`relations.train_relation_models`),
so it learns what the pipeline's own, imperfect entities look like.
"""

from __future__ import annotations

import hashlib
import pickle
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from spacy.attrs import LOWER
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import minibatch

from .components import LABELS, TYPE_TO_LABEL, SingleThreaded

FILTER_FILE = "span_filter.pkl"
HELDOUT_FILE = "heldout_documents.pkl"  # [(corpus, ExtractedDocument)] of the stacking's held-out folds
HELDOUT_VERSION = 1
FILTER_VERSION = "spanfilter-1"
MAX_NGRAM = 4  # text counts are kept for every n-gram up to this length (longer: gold surfaces only)

FEATURES = (
    "label_chemical", "label_disease", "label_gene", "n_tokens", "n_chars", "all_upper", "any_upper", "has_digit",
    "has_hyphen", "has_paren", "short_form", "best_candidate_score", "grounded", "grounded_exact", "grounded_symbol",
    "gold_same_label", "gold_any_label", "text_count", "p_same_label", "p_any_label", "doc_occurrences",
    "doc_predicted", "doc_labels", "prev_is_hyphen", "next_is_hyphen",
)


def surface_key(tokens: Iterable) -> str:
    return " ".join(t.lower_ for t in tokens)


@dataclass
class MentionPriors:
    """Counts from the training corpora: gold mentions per (surface, label), and n-gram occurrences."""

    gold: dict[str, dict[str, int]] = field(default_factory=dict)
    text: dict[str, int] = field(default_factory=dict)
    n_documents: int = 0

    @classmethod
    def from_documents(cls, nlp: Language, documents: Iterable, labels: Sequence[str] = LABELS) -> "MentionPriors":
        documents = list(documents)  # read twice (long gold surfaces)
        gold: dict[str, Counter] = defaultdict(Counter)
        text: Counter = Counter()
        for d in documents:
            doc = nlp.make_doc(d.text)
            lower = [t.lower_ for t in doc if not t.is_space]
            for size in range(1, MAX_NGRAM + 1):
                for i in range(len(lower) - size + 1):
                    text[" ".join(lower[i:i + size])] += 1
            for m in d.mentions:
                label = TYPE_TO_LABEL.get(m.type)
                if label not in labels:
                    continue
                span = doc.char_span(m.start, m.end, alignment_mode="expand")
                if span is not None:
                    gold[surface_key(span)][label] += 1
        # longer gold surfaces: count their occurrences too (substring count of the token string)
        joined = None
        for key in gold:
            if key.count(" ") >= MAX_NGRAM:
                if joined is None:
                    joined = "\n".join(" ".join(t.lower_ for t in nlp.make_doc(d.text) if not t.is_space)
                                       for d in documents)
                text[key] = max(joined.count(key), sum(gold[key].values()))
        # n-grams seen once carry little and triple the size: keep them only for gold surfaces
        kept = {k: v for k, v in text.items() if v > 1 or k in gold}
        return cls({k: dict(v) for k, v in gold.items()}, kept, len(documents))


def span_features(doc: Doc, priors: MentionPriors) -> np.ndarray:
    """One row of `FEATURES` per entity of `doc` (in `doc.ents` order)."""
    ents = doc.ents
    if not ents:
        return np.zeros((0, len(FEATURES)), dtype=np.float32)
    # lower-case forms as hashes: no Token objects, which cost more than everything else here
    lower = doc.to_array(LOWER)
    strings = doc.vocab.strings
    spans = [tuple(lower[e.start:e.end].tolist()) for e in ents]
    keys = [" ".join(strings[h] for h in hs) for hs in spans]
    predicted = Counter(keys)
    labels_of: dict[str, set] = defaultdict(set)
    for k, e in zip(keys, ents):
        labels_of[k].add(e.label_)
    occurrences: dict[str, int] = {}
    for hs, k in zip(spans, keys):
        if k not in occurrences:
            at = np.flatnonzero(lower == hs[0])
            n = len(hs)
            occurrences[k] = len(at) if n == 1 else sum(1 for i in at if tuple(lower[i:i + n].tolist()) == hs)
    hyphen = strings["-"]
    has_lf = Span.has_extension("long_form")
    n_tokens = len(doc)
    rows = []
    for e, k in zip(ents, keys):
        label = e.label_
        text = e.text
        gold = priors.gold.get(k, {})
        same, anyl = gold.get(label, 0), sum(gold.values())
        tc = max(priors.text.get(k, 0), anyl)
        ext = e._
        kb = getattr(ext, "kb_ents", None) or ()
        method = getattr(ext, "link_method", None)
        rows.append((
            label == "CHEMICAL", label == "DISEASE", label == "GENE", e.end - e.start, len(text),
            text.isupper(), any(c.isupper() for c in text), any(c.isdigit() for c in text), "-" in text, "(" in text or ")" in text,
            has_lf and isinstance(ext.long_form, Span),
            max((s for _, s in kb), default=0.0), getattr(ext, "concept_id", None) is not None,
            method == "exact", method == "hgnc_symbol",
            same, anyl, tc, (same + 0.5) / (tc + 1.0), (anyl + 0.5) / (tc + 1.0),
            occurrences[k], predicted[k], len(labels_of[k]),
            e.start > 0 and lower[e.start - 1] == hyphen, e.end < n_tokens and lower[e.end] == hyphen,
        ))
    return np.array(rows, dtype=np.float32)


@dataclass
class SpanFilterModel:
    classifier: object
    priors: MentionPriors
    threshold: float
    features: tuple[str, ...] = FEATURES
    meta: dict = field(default_factory=dict)

    def save(self, path: Path) -> None:
        tmp = Path(path).with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            pickle.dump(self, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)

    @staticmethod
    def load(path: Path) -> "SpanFilterModel":
        return SpanFilterModel.from_bytes(Path(path).read_bytes(), path)

    @staticmethod
    def from_bytes(data: bytes, path: Path | str = "<bytes>") -> "SpanFilterModel":
        try:
            model = pickle.loads(data)
        except Exception as exc:  # noqa: BLE001  (a truncated or foreign file)
            raise ValueError(f"{path}: not a readable span filter ({exc}); retrain it with "
                             "`targetkg nlp train-ner --if-missing`") from exc
        if not isinstance(model, SpanFilterModel) or tuple(model.features) != FEATURES:
            raise ValueError(f"{path}: not a span filter of this version ({FILTER_VERSION}); retrain it with "
                             "`targetkg nlp train-ner --if-missing`")
        return model

    def keep(self, X: np.ndarray) -> np.ndarray:
        if len(X) == 0:
            return np.zeros(0, dtype=bool)
        return self.classifier.predict_proba(X)[:, 1] >= self.threshold


@Language.factory("targetkg_span_filter", default_config={"path": None})
def make_span_filter(nlp: Language, name: str, path: str | None):
    return SpanFilter(path)


class SpanFilter:
    """Drops the entities the span filter model scores below its threshold (batched per `pipe` batch)."""

    def __init__(self, path: str | None):
        if not path:
            raise ValueError("targetkg_span_filter: no model path")
        self.path = Path(path)
        data = self.path.read_bytes()
        self.model = SpanFilterModel.from_bytes(data, self.path)
        self.digest = hashlib.sha256(data).hexdigest()[:8]  # names the filter in model_version
        # GNU OpenMP is not fork-safe: a forked worker (`extract(n_process=...)`, the benchmark) hangs
        # if the parent ever ran an OpenMP team. One thread costs nothing measurable here. Made
        # after unpickling, which loads scikit-learn's OpenMP runtime.
        self._one_openmp_thread = SingleThreaded("openmp")

    def _apply(self, docs: list[Doc]) -> None:
        feats = [span_features(doc, self.model.priors) for doc in docs]
        X = np.vstack(feats) if feats else np.zeros((0, len(FEATURES)))
        with self._one_openmp_thread():
            keep = self.model.keep(X)
        i = 0
        for doc, f in zip(docs, feats):
            k = keep[i:i + len(f)]
            i += len(f)
            if not k.all():
                doc.ents = [e for e, ok in zip(doc.ents, k) if ok]

    def __call__(self, doc: Doc) -> Doc:
        self._apply([doc])
        return doc

    def pipe(self, docs, batch_size: int = 64):
        for batch in minibatch(docs, batch_size):
            self._apply(batch)
            yield from batch


def span_filter_file(ner_model: str | Path | None) -> Path | None:
    """The span filter of an NER model folder, if it has one (installed packages and ensembles have none)."""
    if ner_model is None:
        return None
    path = Path(ner_model) / FILTER_FILE
    return path if path.is_file() else None


# ----------------------------------------------------------------------------- training

def training_record(ner_dir: str | Path) -> dict | None:
    """The `targetkg` training record in a model folder's meta.json (configuration, epochs), or None
    for anything else (an installed spaCy/scispaCy model, an ensemble folder, a broken file)."""
    import json

    try:
        record = json.loads((Path(ner_dir) / "meta.json").read_text()).get("targetkg")
    except (OSError, ValueError, AttributeError):
        return None
    return record if isinstance(record, dict) and "config" in record else None


def _fold_of(corpora_docs: Sequence[tuple[str, Sequence]], folds: int, seed: int) -> list[list[tuple[str, object, int]]]:
    """Per corpus, documents dealt to `folds` folds in a seeded random order: [(corpus, doc, fold)]."""
    import random

    out = []
    for name, docs in corpora_docs:
        order = list(range(len(docs)))
        random.Random(seed).shuffle(order)
        out.append([(name, docs[i], k % folds) for k, i in enumerate(order)])
    return out


def labelled_rows(nlp: Language, named_docs: Sequence[tuple[str, object]], priors: MentionPriors,
                  corpus_labels: dict[str, set[str]], batch_size: int = 64,
                  extracted: list | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Features and labels (1 = the span and type match a gold mention) of every predicted entity of a
    type the document's corpus annotates; and the number of gold mentions no entity matched.
    With `extracted`, each document is also appended to it as (corpus, ExtractedDocument)."""
    from .pipeline import to_extracted

    X, y, missed = [], [], 0
    texts = ((d.text, (name, d)) for name, d in named_docs)
    for doc, (name, d) in nlp.pipe(texts, as_tuples=True, batch_size=batch_size):
        labels = corpus_labels[name]
        gold = {(m.start, m.end, TYPE_TO_LABEL[m.type]) for m in d.mentions if TYPE_TO_LABEL.get(m.type) in labels}
        feats = span_features(doc, priors)
        pred = set()
        for e, f in zip(doc.ents, feats):
            if e.label_ in labels:
                key = (e.start_char, e.end_char, e.label_)
                pred.add(key)
                X.append(f)
                y.append(key in gold)
        missed += len(gold - pred)
        if extracted is not None:
            extracted.append((name, to_extracted(d, doc)))
    return (np.array(X, dtype=np.float32).reshape(-1, len(FEATURES)), np.array(y, dtype=np.int8), missed)


def _classifier(seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier

    # 60 trees of 15 leaves: the held-out F1 of 300 trees of 31 leaves (0.827 vs 0.826 on two training
    # folds), predicted 5x faster (1.3 us per span)
    return HistGradientBoostingClassifier(max_iter=60, learning_rate=0.15, max_leaf_nodes=15, min_samples_leaf=20,
                                          l2_regularization=1.0, early_stopping=False, random_state=seed)


def _f1(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return (2 * p * r / (p + r) if p + r else 0.0), p, r


def train_span_filter(ner_dir: str | Path, corpora_docs: Sequence[tuple[str, Sequence]], folds: int = 2,
                      kb_dir: str | None = None, seed: int = 0, max_seconds: float | None = None,
                      work_dir: str | Path | None = None, progress: bool = True) -> dict:
    """Stack a span filter on the NER model in `ner_dir` and save it there as `span_filter.pkl`.

    For each of `folds` folds of the training documents (per corpus, seeded), an NER with the
    model's own configuration, trained for its best number of epochs on the other folds, runs the
    full pipeline (dictionary, abbreviations, linking) on the fold; priors come from the other folds.
    The classifiers are cross-fitted over the folds to choose the threshold that maximises the
    held-out F1; the saved classifier is fitted on every fold's rows, with priors from all documents.
    Returns the held-out figures (before and after filtering) and the threshold."""
    import shutil
    import tempfile
    import time

    from .config import nlp_settings
    from .ner import NERConfig, train
    from .pipeline import LiteraturePipeline

    if folds < 2:
        raise ValueError(f"span filter: folds must be >= 2, not {folds}")
    ner_dir = Path(ner_dir)
    own = training_record(ner_dir)
    if own is None:
        raise ValueError(f"{ner_dir / 'meta.json'}: the span filter is stacked on the project's own NER models "
                         "(`targetkg nlp train-ner`); this folder has no TargetKG training record")
    cfg = dict(own["config"])
    cfg["embed_rows"] = tuple(cfg["embed_rows"])
    # the fold models train as long as the model did (its best epoch): no noisy early stopping on a tiny held-out part
    cfg.update(max_epochs=max(1, int(own.get("best_epoch") or len(own.get("history", [])) or cfg["max_epochs"])),
               heldout_fraction=0.0, max_seconds=max_seconds, seed=seed)
    corpus_labels = {name: {TYPE_TO_LABEL[m.type] for d in docs for m in d.mentions if m.type in TYPE_TO_LABEL}
                     for name, docs in corpora_docs}
    dealt = _fold_of(corpora_docs, folds, seed)
    settings = nlp_settings().model_copy(update={"span_filter": False})
    start = time.perf_counter()
    own_work = work_dir is None
    work = Path(tempfile.mkdtemp(prefix="span-filter-", dir=ner_dir.parent)) if own_work else Path(work_dir)
    rows, heldout = [], []
    try:
        for f in range(folds):
            train_part = [(name, [d for n, d, k in part if k != f]) for name, part in zip((c for c, _ in corpora_docs), dealt)]
            held = [(n, d) for part in dealt for n, d, k in part if k == f]
            if progress:
                print(f"span filter: fold {f + 1}/{folds}: NER on {sum(len(d) for _, d in train_part)} documents, "
                      f"{cfg['max_epochs']} epochs; predicting {len(held)}", flush=True)
            train(train_part, work / f"fold{f}", NERConfig(**cfg))
            pipe = LiteraturePipeline.load(ner_model=work / f"fold{f}", kb_dir=kb_dir, with_relations=False,
                                           settings=settings)
            priors = MentionPriors.from_documents(pipe.nlp, [d for _, docs in train_part for d in docs])
            rows.append(labelled_rows(pipe.nlp, held, priors, corpus_labels, extracted=heldout))
            del pipe
    finally:
        if own_work:
            shutil.rmtree(work, ignore_errors=True)
    # cross-fitted held-out probabilities: fold f scored by a classifier fitted on the other folds.
    # One OpenMP thread here too: a process that trained with an OpenMP team and then forks
    # (`extract(n_process=2)` in the same notebook) would hang its workers.
    _classifier(seed)  # imports scikit-learn's OpenMP runtime before the limit looks for it
    one_openmp_thread = SingleThreaded("openmp")
    probs = []
    with one_openmp_thread():
        for f in range(folds):
            Xo = np.vstack([rows[g][0] for g in range(folds) if g != f])
            yo = np.concatenate([rows[g][1] for g in range(folds) if g != f])
            probs.append(_classifier(seed).fit(Xo, yo).predict_proba(rows[f][0])[:, 1] if len(rows[f][0])
                         else np.zeros(0))
    y = np.concatenate([r[1] for r in rows]).astype(bool)
    p = np.concatenate(probs)
    missed = sum(r[2] for r in rows)
    before = _f1(int(y.sum()), int((~y).sum()), missed)
    best = (before[0], 0.0, before)
    for th in np.round(np.arange(0.05, 0.951, 0.05), 2):
        keep = p >= th
        r = _f1(int(y[keep].sum()), int((~y[keep]).sum()), missed + int(y[~keep].sum()))
        if r[0] > best[0]:
            best = (r[0], float(th), r)
    with one_openmp_thread():
        final = _classifier(seed).fit(np.vstack([r[0] for r in rows]), y.astype(np.int8))
    nlp = LiteraturePipeline.load(ner_model=ner_dir, kb_dir=kb_dir, with_relations=False, settings=settings, link=False).nlp
    priors = MentionPriors.from_documents(nlp, [d for _, docs in corpora_docs for d in docs])
    report = {
        "filter_version": FILTER_VERSION, "folds": folds, "fold_epochs": cfg["max_epochs"], "threshold": best[1],
        "heldout_spans": int(len(y)), "heldout_gold_missed": int(missed),
        "heldout_before": {"f1": round(before[0], 4), "precision": round(before[1], 4), "recall": round(before[2], 4)},
        "heldout_after": {"f1": round(best[2][0], 4), "precision": round(best[2][1], 4), "recall": round(best[2][2], 4)},
        "heldout_documents": len(heldout),
        "seconds": round(time.perf_counter() - start, 1),
    }
    save_heldout_documents(ner_dir, heldout, filtered_heldout(heldout, p, best[1], corpus_labels))
    SpanFilterModel(final, priors, best[1], meta=report).save(ner_dir / FILTER_FILE)
    return report


def filtered_heldout(heldout: Sequence[tuple[str, object]], probabilities: np.ndarray, threshold: float,
                     corpus_labels: dict[str, set[str]]) -> list[tuple[str, object]]:
    """The held-out documents as the filtered pipeline sees them: each scored entity (a type its
    corpus annotates, in `labelled_rows` order) kept when its cross-fitted probability reaches the
    threshold, so that a model trained on them sees the filter's own errors."""
    from dataclasses import replace

    out, i = [], 0
    for name, d in heldout:
        kept = []
        for e in d.entities:
            if e.label in corpus_labels[name]:
                if probabilities[i] >= threshold:
                    kept.append(e)
                i += 1
            else:
                kept.append(e)
        out.append((name, replace(d, entities=kept)))
    if i != len(probabilities):
        raise RuntimeError(f"span filter: {len(probabilities)} held-out probabilities for {i} entities")
    return out


def save_heldout_documents(ner_dir: str | Path, documents: Sequence[tuple[str, object]],
                           filtered: Sequence[tuple[str, object]] | None = None) -> Path:
    path = Path(ner_dir) / HELDOUT_FILE
    tmp = path.with_suffix(".tmp")
    state = {"version": HELDOUT_VERSION, "documents": list(documents)}
    if filtered is not None:
        state["filtered_documents"] = list(filtered)
    with open(tmp, "wb") as fh:
        pickle.dump(state, fh, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)
    return path


def load_heldout_documents(ner_dir: str | Path | None, filtered: bool = False) -> list[tuple[str, object]] | None:
    """The stacking's held-out documents of an NER model folder, [(corpus, ExtractedDocument)], or None
    when the folder has none (an installed model, an ensemble, a model stacked before they were kept).
    `filtered`: the copies as the span filter left them (None for a folder stacked before 2026-11-22)."""
    if ner_dir is None:
        return None
    path = Path(ner_dir) / HELDOUT_FILE
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as fh:
            state = pickle.load(fh)
    except Exception as exc:  # noqa: BLE001  (a truncated or foreign file)
        raise ValueError(f"{path}: not readable ({exc}); restack it with `targetkg nlp train-ner --if-missing`") from exc
    if not isinstance(state, dict) or state.get("version") != HELDOUT_VERSION:
        raise ValueError(f"{path}: not held-out documents of version {HELDOUT_VERSION}; restack them with "
                         "`targetkg nlp train-ner --if-missing`")
    if filtered:
        return state.get("filtered_documents")
    return state["documents"]
