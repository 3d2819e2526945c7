"""Relation extraction: candidate concept pairs of an abstract -> relation type + probability.

Candidates are all pairs of grounded concepts of an abstract, within a sentence and across
sentences (BC5CDR: 30% of the CID relations are never stated within one sentence). Each pair
is described by features of all its mention pairs:

* co-occurrence structure: same-sentence count, smallest sentence distance, title mentions,
  mention counts and frequency rank of each concept, number of entities in the abstract;
* lexical context of the closest mention pair in each shared sentence: words and bigrams
  between the two mentions (entities masked by type), words right before/after each mention
  ("-induced", "treated with", "associated", "after"), their order and distance, and the
  other entities in between;
* trigger words: the words of the sentences that mention both (a learned bag of words);
* MeSH hierarchy: whether a more specific disease (a descendant in the MeSH tree) is also in
  the abstract (BC5CDR annotates the most specific disease), and the top branches (C23, D03, ...)
  of each concept.

Two logistic-regression classifiers (scikit-learn), trained on the training splits only:

  cid     BC5CDR chemical-induced disease (binary; chemical, disease pairs)
  biored  BioRED relations (multiclass: none, Association, Positive_Correlation,
          Negative_Correlation, Bind, Cotreatment, Comparison, Drug_Interaction, Conversion)
          over gene/chemical/disease pairs

The decision threshold of each model is chosen by 5-fold cross-validation on the training
split (maximum F1), never on the development split.

Training documents of the CID model (`train_relation_models`), all from training splits:

* BC5CDR with its gold entities;
* BioRED with its gold entities, its chemical-disease Positive_Correlation pairs read as CID
  (`as_cid_document`: BioRED's "chemical increases disease" is what CID annotates);
* both corpora once more as the pipeline itself sees them: the entities an NER predicted that was
  not trained on the document (the span filter's stacking folds, `span_filter.HELDOUT_FILE`), so
  the classifier also learns from missed, split and misgrounded mentions.

A document's copies always share a cross-validation fold, and C and the threshold are chosen on
the cross-validated rows of the predicted-entity copies (the setting the pipeline runs in). On
top of the linear CID model, a gradient-boosted second stage (`fit_model(stack="auto")`) learns
from its out-of-fold probability and the pair's structural features (cross-validated F1 0.539 ->
0.555, 0.567 with the MeSH branch features; for BioRED it gained nothing, 0.720 either way, so
BioRED has none). On the BC5CDR dev split these steps raised CID F1 from 0.586 to 0.616 with gold
entities and from 0.433 to 0.476 end to end. The same held-out copies changed the BioRED model by
less than 0.01 either way (an experiment), so it trains on gold entities only.
"""

from __future__ import annotations

import csv
import hashlib
import math
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from .pipeline import EntityMention, Evidence, ExtractedDocument, ExtractedRelation

RELATION_VERSION = "rel-1"
# partitions of the training documents whose cross-validated F1 curves, averaged, choose the threshold
CV_REPEATS = 3
BIORED_TYPES = ("Association", "Positive_Correlation", "Negative_Correlation", "Bind", "Cotreatment", "Comparison",
                "Drug_Interaction", "Conversion")
TYPE_ORDER = {"GENE": 0, "CHEMICAL": 1, "DISEASE": 2}
BIORED_PAIR_TYPES = {("GENE", "DISEASE"), ("CHEMICAL", "DISEASE"), ("GENE", "CHEMICAL"), ("GENE", "GENE"),
                     ("CHEMICAL", "CHEMICAL")}

_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?|\d+(?:\.\d+)?|[^\sA-Za-z\d]")
_MASK = {"CHEMICAL": "@CHEM", "DISEASE": "@DIS", "GENE": "@GENE"}


# --------------------------------------------------------------------------------------
# Concepts of a document
# --------------------------------------------------------------------------------------


def concept_keys(m: EntityMention) -> tuple[str, ...]:
    """Corpus-comparable concept ids of a mention: gold ids as given ("D003000", "3175"), or
    the predicted KB id without its MESH:/NCBIGene: prefix."""
    if m.ids:
        return tuple(m.ids)
    if m.concept_id:
        prefix, _, local = m.concept_id.partition(":")
        return (local,) if prefix in ("MESH", "NCBIGene") else (m.concept_id,)
    return ()


@dataclass
class Concept:
    key: str
    label: str
    mentions: list[EntityMention]

    @property
    def name(self) -> str:
        return Counter(m.text for m in self.mentions).most_common(1)[0][0]


def document_concepts(doc: ExtractedDocument) -> dict[tuple[str, str], Concept]:
    out: dict[tuple[str, str], Concept] = {}
    for m in doc.entities:
        for k in concept_keys(m):
            c = out.get((m.label, k))
            if c is None:
                c = out[(m.label, k)] = Concept(k, m.label, [])
            c.mentions.append(m)
    return out


@lru_cache(maxsize=1)
def mesh_trees() -> dict[str, tuple[str, ...]]:
    """MeSH descriptor -> tree numbers (from the real MeSH table)."""
    from targetkg.ingest.vocab import vocab_file

    out = {}
    with open(vocab_file("mesh_id_label_mappings.tsv"), encoding="utf-8", newline="") as fh:
        for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) >= 4 and row[3]:
                out[row[0]] = tuple(t for t in row[3].split("|") if t)
    return out


@lru_cache(maxsize=1)
def current_mesh_ids() -> frozenset[str]:
    """Every MeSH descriptor and supplementary concept id of the vocabulary the linker uses."""
    from targetkg.ingest.vocab import vocab_file

    ids = set()
    for name in ("mesh_id_label_mappings.tsv", "mesh_supp_id_label_mappings.tsv"):
        with open(vocab_file(name), encoding="utf-8", newline="") as fh:
            ids.update(line.split("\t", 1)[0] for line in fh if line.strip())
    return frozenset(ids)


def _is_descendant(a: str, b: str, trees: dict[str, tuple[str, ...]]) -> bool:
    """True when MeSH `a` is below `b` in the tree."""
    ta, tb = trees.get(a), trees.get(b)
    if not ta or not tb or a == b:
        return False
    return any(x.startswith(y + ".") for x in ta for y in tb)


# --------------------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------------------


def _bucket(v: int, edges: Sequence[int]) -> str:
    for e in edges:
        if v <= e:
            return f"<={e}"
    return f">{edges[-1]}"


def _norm_word(w: str) -> str:
    w = w.lower()
    if w[:1].isdigit():
        return "#num"
    return w


class _SentenceView:
    """Tokens of one sentence with entity mentions replaced by type masks."""

    def __init__(self, doc: ExtractedDocument, sent: int, mentions: list[EntityMention]):
        s, e = doc.sentences[sent]
        text = doc.text
        ms = sorted((m for m in mentions if s <= m.start < e), key=lambda m: m.start)
        toks: list[str] = []
        pos: dict[int, tuple[int, int]] = {}  # id(mention) -> token index range
        cur = s
        for m in ms:
            if m.start < cur:
                continue
            toks += [_norm_word(w) for w in _WORD.findall(text[cur:m.start])]
            pos[id(m)] = (len(toks), len(toks) + 1)
            toks.append(_MASK.get(m.label, "@ENT"))
            cur = m.end
        toks += [_norm_word(w) for w in _WORD.findall(text[cur:e])]
        self.tokens = toks
        self.pos = pos
        self.mentions = ms


def pair_features(doc: ExtractedDocument, a: Concept, b: Concept, ctx: dict) -> dict[str, float]:
    f: dict[str, float] = {"bias": 1.0, f"types={a.label}-{b.label}": 1.0}
    sa = defaultdict(list)
    sb = defaultdict(list)
    for m in a.mentions:
        sa[m.sent].append(m)
    for m in b.mentions:
        sb[m.sent].append(m)
    title_end = len(doc.title)
    a_title = any(m.start < title_end for m in a.mentions) if doc.title else False
    b_title = any(m.start < title_end for m in b.mentions) if doc.title else False
    f["a_title"] = float(a_title)
    f["b_title"] = float(b_title)
    f["both_title"] = float(a_title and b_title)
    f["a_count"] = math.log1p(len(a.mentions))
    f["b_count"] = math.log1p(len(b.mentions))
    ra, rb = ctx["rank"][(a.label, a.key)], ctx["rank"][(b.label, b.key)]
    f[f"a_rank={min(ra, 3)}"] = 1.0
    f[f"b_rank={min(rb, 3)}"] = 1.0
    f[f"ranks={min(ra, 2)}-{min(rb, 2)}"] = 1.0
    f["n_concepts"] = math.log1p(ctx["n_concepts"])
    shared = sorted(set(sa) & set(sb))
    f["n_shared_sents"] = math.log1p(len(shared))
    f[f"shared={_bucket(len(shared), (0, 1, 2, 4))}"] = 1.0
    dist = min(abs(x - y) for x in sa for y in sb)
    f[f"sent_dist={_bucket(dist, (0, 1, 2, 4))}"] = 1.0
    last = len(doc.sentences) - 1
    f["a_last_sent"] = float(last in sa)
    f["b_last_sent"] = float(last in sb)
    f["a_first_sent"] = float(0 in sa)
    f["b_first_sent"] = float(0 in sb)
    first_a = min(m.start for m in a.mentions)
    first_b = min(m.start for m in b.mentions)
    f["a_before_b"] = float(first_a < first_b)
    # MeSH hierarchy: a more specific concept of the same type in the abstract
    trees = ctx["trees"]
    for tag, c in (("a", a), ("b", b)):
        if c.key in trees:
            same = ctx["by_label"].get(c.label, ())
            if any(_is_descendant(o, c.key, trees) for o in same if o != c.key):
                f[f"{tag}_has_descendant"] = 1.0
            if any(_is_descendant(c.key, o, trees) for o in same if o != c.key):
                f[f"{tag}_has_ancestor"] = 1.0
            # the branches it sits in (C23 signs and symptoms, C10 nervous system, D03 heterocyclic
            # compounds, ...): with BioRED and the held-out copies in training, CID CV F1 0.538 -> 0.549
            # (linear) and 0.555 -> 0.567 (stacked); on gold BC5CDR alone they had not helped
            for t in {t[:3] for t in trees[c.key]}:
                f[f"tree_{tag}={t}"] = 1.0
    # context around every mention (own sentence): words next to the mention
    for tag, c in (("a", a), ("b", b)):
        for m in c.mentions[:8]:
            view = ctx["views"][m.sent]
            p = view.pos.get(id(m))
            if p is None:
                continue
            i, j = p
            toks = view.tokens
            for off, name in ((-1, "l1"), (-2, "l2")):
                if i + off >= 0:
                    f[f"{tag}_{name}={toks[i + off]}"] = 1.0
            for off, name in ((0, "r1"), (1, "r2")):
                if j + off < len(toks):
                    f[f"{tag}_{name}={toks[j + off]}"] = 1.0
    # shared sentences: closest pair, words between, sentence bag of words
    best = None
    for s in shared:
        view = ctx["views"][s]
        for ma in sa[s]:
            pa = view.pos.get(id(ma))
            if pa is None:
                continue
            for mb in sb[s]:
                pb = view.pos.get(id(mb))
                if pb is None or ma is mb:
                    continue
                d = abs(pa[0] - pb[0])
                if best is None or d < best[0]:
                    best = (d, s, pa, pb)
        for w in set(view.tokens):
            if w.isalpha() or w.startswith("@"):
                f[f"sw={w}"] = 1.0
    if best is not None:
        d, s, pa, pb = best
        toks = ctx["views"][s].tokens
        lo, hi = (pa, pb) if pa[0] < pb[0] else (pb, pa)
        between = toks[lo[1]:hi[0]]
        order = "ab" if pa[0] < pb[0] else "ba"
        f[f"order={order}"] = 1.0
        f[f"tok_dist={_bucket(len(between), (0, 1, 2, 3, 5, 8, 12, 20))}"] = 1.0
        if len(between) <= 20:
            for w in between:
                f[f"btw={w}"] = 1.0
                f[f"btw_{order}={w}"] = 1.0
            for x, y in zip(between, between[1:]):
                f[f"btw2={x}_{y}"] = 1.0
            if not between:
                f["adjacent"] = 1.0
            f["n_ents_between"] = float(sum(1 for w in between if w.startswith("@")))
        else:
            f["btw_long"] = 1.0
        for off, name in ((-1, "pre1"), (-2, "pre2")):
            if lo[0] + off >= 0:
                f[f"{name}={toks[lo[0] + off]}"] = 1.0
        for off, name in ((0, "post1"), (1, "post2")):
            if hi[1] + off < len(toks):
                f[f"{name}={toks[hi[1] + off]}"] = 1.0
    return f


def document_context(doc: ExtractedDocument, concepts: dict[tuple[str, str], Concept]) -> dict:
    counts = Counter()
    by_label: dict[str, list[str]] = defaultdict(list)
    for (label, key), c in concepts.items():
        counts[(label, key)] = len(c.mentions)
        by_label[label].append(key)
    rank = {}
    for label, keys in by_label.items():
        ordered = sorted(keys, key=lambda k: (-counts[(label, k)], k))
        for i, k in enumerate(ordered):
            rank[(label, k)] = i
    mentions_by_sent: dict[int, list[EntityMention]] = defaultdict(list)
    for m in doc.entities:
        mentions_by_sent[m.sent].append(m)
    views = {s: _SentenceView(doc, s, ms) for s, ms in mentions_by_sent.items()}
    return {"rank": rank, "by_label": by_label, "n_concepts": len(concepts), "views": views, "trees": mesh_trees()}


def candidate_pairs(concepts: dict[tuple[str, str], Concept], kind: str) -> list[tuple[Concept, Concept]]:
    cs = sorted(concepts.values(), key=lambda c: (TYPE_ORDER.get(c.label, 9), c.key))
    out = []
    if kind == "cid":
        chems = [c for c in cs if c.label == "CHEMICAL"]
        dis = [c for c in cs if c.label == "DISEASE"]
        return [(a, b) for a in chems for b in dis]
    for i, a in enumerate(cs):
        for b in cs[i + 1:]:
            if (a.label, b.label) in BIORED_PAIR_TYPES and a.key != b.key:
                out.append((a, b))
    return out


# --------------------------------------------------------------------------------------
# Gold labels from corpus relations
# --------------------------------------------------------------------------------------


def gold_pairs(doc: ExtractedDocument, kind: str) -> dict[frozenset, str]:
    """{frozenset({id1, id2}): type} of a corpus document (CID or BioRED)."""
    out = {}
    d = doc.source
    if d is None:
        return out
    for r in d.relations:
        if kind == "cid" and r.type == "CID":
            out[frozenset((r.id1, r.id2))] = "CID"
        elif kind == "biored" and r.type in BIORED_TYPES:
            out[frozenset((r.id1, r.id2))] = r.type
    return out


# --------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------


@dataclass
class RelationModel:
    kind: str  # cid | biored
    vectorizer: object  # sklearn DictVectorizer
    classifier: object  # sklearn LogisticRegression
    threshold: float
    classes: tuple[str, ...]
    version: str
    priors: Priors | None = None
    # stacked second stage (CID): gradient boosting over the logistic regression's probability and
    # the pair's structural features (`dense_features`); its probability is the relation's
    booster: object | None = None
    dense_vectorizer: object | None = None

    def probabilities(self, feats: list[dict[str, float]]) -> tuple[np.ndarray, np.ndarray]:
        """(class probabilities of the linear model, relation probability) of featurised pairs."""
        P = self.classifier.predict_proba(self.vectorizer.transform(feats))
        p_rel = 1.0 - P[:, self.classes.index("None")]
        if self.booster is not None:
            dense = self.dense_vectorizer.transform([dense_features(f) for f in feats])
            with _one_openmp_thread()():
                p_rel = self.booster.predict_proba(np.column_stack([p_rel, dense]))[:, 1]
        return P, p_rel

    def predict_pairs(self, doc: ExtractedDocument, concepts=None, ctx=None) -> list[tuple[Concept, Concept, str, float]]:
        concepts = concepts if concepts is not None else document_concepts(doc)
        pairs = candidate_pairs(concepts, self.kind)
        if not pairs:
            return []
        ctx = ctx if ctx is not None else document_context(doc, concepts)
        feats = [pair_features(doc, a, b, ctx) for a, b in pairs]
        if self.priors is not None:
            for f, (a, b) in zip(feats, pairs):
                f.update(self.priors.features(_row_key(a, b)))
        P, p_rel = self.probabilities(feats)
        out = []
        none_idx = self.classes.index("None")
        for (a, b), p, pr in zip(pairs, P, p_rel):
            if pr < self.threshold:
                continue
            best = max((i for i in range(len(self.classes)) if i != none_idx), key=lambda i: p[i])
            out.append((a, b, self.classes[best], float(pr)))
        return out


# structural features the stacked booster sees next to the linear model's probability: counts,
# distances, positions, ranks, MeSH branches, priors (the lexical ones stay with the linear model)
DENSE_PREFIXES = ("sent_dist=", "shared=", "tok_dist=", "ranks=", "a_rank=", "b_rank=", "order=", "types=", "tree_")


def dense_features(f: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in f.items() if "=" not in k or k.startswith(DENSE_PREFIXES)}


_ONE_OPENMP_THREAD = None


def _one_openmp_thread():
    """scikit-learn's gradient boosting runs on GNU OpenMP, which is not fork-safe: a process that
    ran an OpenMP team hangs its forked workers (`extract(n_process=2)`). One thread costs nothing
    measurable at these sizes. Made on first use, after scikit-learn's runtime is loaded."""
    global _ONE_OPENMP_THREAD
    if _ONE_OPENMP_THREAD is None:
        from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: F401  (loads the runtime)

        from .components import SingleThreaded

        _ONE_OPENMP_THREAD = SingleThreaded("openmp")
    return _ONE_OPENMP_THREAD


def _booster(seed: int = 0):
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=20,
                                          l2_regularization=1.0, early_stopping=False, random_state=seed)


_THRESHOLDS = np.arange(0.1, 0.9, 0.02)


def _f1_curve(scores: np.ndarray, positive: np.ndarray, selected: np.ndarray) -> np.ndarray:
    """F1 over the selected rows at each of `_THRESHOLDS`."""
    pos = positive & selected
    out = []
    for t in _THRESHOLDS:
        pred = (scores >= t) & selected
        tp = float(np.sum(pred & pos))
        prec = tp / max(1, pred.sum())
        rec = tp / max(1, pos.sum())
        out.append(2 * prec * rec / max(1e-9, prec + rec))
    return np.array(out)


def _pick_threshold(curve: np.ndarray) -> tuple[float, float]:
    """(top F1, threshold) of an F1 curve. It is flat near its top: the middle of the near-best
    thresholds, not the noisy argmax."""
    top = float(curve.max())
    return top, float(np.median(_THRESHOLDS[curve >= top - 0.005]))


def _best_threshold(scores: np.ndarray, positive: np.ndarray, selected: np.ndarray) -> tuple[float, float]:
    """(top F1, threshold) over the selected rows."""
    return _pick_threshold(_f1_curve(scores, positive, selected))


def _group_folds(X, y, groups: np.ndarray, repeat: int, n_splits: int = 5) -> list:
    """Grouped k-fold splits; repeat 0 as `GroupKFold` makes them, the others after a fixed
    permutation of the group ids (another, reproducible partition of the same groups)."""
    from sklearn.model_selection import GroupKFold

    g = groups if repeat == 0 else np.random.RandomState(repeat).permutation(groups.max() + 1)[groups]
    return list(GroupKFold(n_splits=n_splits).split(X, y, g))


class Priors:
    """What the training split says about concepts and pairs, learned from its relations:
    how often a pair was a relation, and how often a concept took part in one (smoothed
    rates). For the training rows themselves the priors are computed out of fold, so the
    classifier learns how much to trust them on unseen abstracts."""

    def __init__(self):
        self.pair_pos: Counter = Counter()
        self.pair_cand: Counter = Counter()
        self.ent_pos: Counter = Counter()
        self.ent_cand: Counter = Counter()

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[tuple, str]]) -> "Priors":
        p = cls()
        for (la, ka, lb, kb), label in rows:
            pos = label != "None"
            pk = (la, ka, lb, kb)
            p.pair_cand[pk] += 1
            p.ent_cand[(la, ka)] += 1
            p.ent_cand[(lb, kb)] += 1
            if pos:
                p.pair_pos[pk] += 1
                p.ent_pos[(la, ka)] += 1
                p.ent_pos[(lb, kb)] += 1
        return p

    def features(self, key: tuple) -> dict[str, float]:
        la, ka, lb, kb = key
        f: dict[str, float] = {}
        cand = self.pair_cand.get(key, 0)
        if cand:
            pos = self.pair_pos.get(key, 0)
            f["prior_pair_seen"] = 1.0
            f["prior_pair_pos"] = math.log1p(pos)
            f["prior_pair_rate"] = (pos + 0.1) / (cand + 1.0)
            if pos:
                f["prior_pair_was_relation"] = 1.0
        for tag, ek in (("a", (la, ka)), ("b", (lb, kb))):
            c = self.ent_cand.get(ek, 0)
            if c:
                f[f"prior_{tag}_seen"] = 1.0
                f[f"prior_{tag}_rate"] = (self.ent_pos.get(ek, 0) + 0.5) / (c + 2.0)
        return f


def _row_key(a: Concept, b: Concept) -> tuple:
    return (a.label, a.key, b.label, b.key)


def featurize_docs(docs: Iterable[ExtractedDocument], kind: str, doc_index: list[int] | None = None):
    """Features, labels, groups and pair keys of every candidate pair. The group is the document id,
    so that copies of one abstract (gold and predicted entities) never straddle a fold. With
    `doc_index`, each row's position in `docs` is appended to it."""
    X, y, groups, keys = [], [], [], []
    group_of: dict[str, int] = {}
    for di, doc in enumerate(docs):
        gi = group_of.setdefault(doc.id, len(group_of))
        concepts = document_concepts(doc)
        pairs = candidate_pairs(concepts, kind)
        if not pairs:
            continue
        ctx = document_context(doc, concepts)
        gold = gold_pairs(doc, kind)
        for a, b in pairs:
            X.append(pair_features(doc, a, b, ctx))
            y.append(gold.get(frozenset((a.key, b.key)), "None"))
            groups.append(gi)
            keys.append(_row_key(a, b))
            if doc_index is not None:
                doc_index.append(di)
    return X, y, groups, keys


def add_out_of_fold_priors(X: list[dict], y: list[str], groups: list[int], keys: list[tuple], folds: int = 5) -> Priors:
    """Adds prior features to the training rows (out of fold); returns the priors of all rows."""
    rows = list(zip(keys, y))
    by_fold: dict[int, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        by_fold[g % folds].append(i)
    for fold, idx in by_fold.items():
        inside = set(idx)
        pri = Priors.from_rows(r for i, r in enumerate(rows) if i not in inside)
        for i in idx:
            X[i].update(pri.features(keys[i]))
    return Priors.from_rows(rows)


def cv_average_precision(*scores: np.ndarray, positive: np.ndarray, selected: np.ndarray) -> tuple[float, ...]:
    """Average precision of out-of-fold scores on the selected rows: how `fit_model(stack="auto")`
    compares the linear and the stacked stage. Not their best F1: that is one point of each curve,
    it moved by +-0.002 between trainings that differed in a few held-out entities and flipped the
    choice, while the stacked stage's AP was 0.014-0.016 higher each time."""
    from sklearn.metrics import average_precision_score

    return tuple(float(average_precision_score(positive[selected], s[selected])) for s in scores)


def fit_model(docs: Sequence[ExtractedDocument], kind: str, C: float | None = None, progress: bool = False,
              cv: bool = True, threshold: float = 0.3, use_priors: bool = True,
              select_on: Sequence[bool] | None = None, stack: str = "off") -> RelationModel:
    """Fit one model. `select_on` (one flag per document): only the flagged documents' cross-validated
    rows choose C and the threshold (e.g. the pipeline's own entities, the setting the model is used
    in); every row trains. `stack` ("off" | "on" | "auto"; needs `cv`): a gradient-boosted second
    stage learns from the linear model's out-of-fold probability and the structural features; with
    "auto" it is kept (and its threshold used) only when its cross-validated average precision beats
    the linear model's."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    if stack not in ("off", "on", "auto"):
        raise ValueError(f"fit_model: stack must be 'off', 'on' or 'auto', not {stack!r}")
    if stack != "off" and not cv:
        raise ValueError("fit_model: the stacked stage learns from cross-validated probabilities; it needs cv=True")
    t0 = time.perf_counter()
    row_doc: list[int] = []
    X, y, groups, keys = featurize_docs(docs, kind, doc_index=row_doc)
    selected = (np.array([bool(select_on[i]) for i in row_doc]) if select_on is not None and any(select_on)
                else np.ones(len(row_doc), dtype=bool))
    priors = add_out_of_fold_priors(X, y, groups, keys) if use_priors else None
    vec = DictVectorizer()
    Xm = vec.fit_transform(X)
    # drop features seen fewer than 2 times (noise)
    counts = np.asarray((Xm != 0).sum(axis=0)).ravel()
    keep = np.where(counts >= 2)[0]
    vec.restrict(counts >= 2)
    Xm = Xm[:, keep]
    y = np.array(y)
    g = np.array(groups)
    classes = sorted(set(y))
    if "None" not in classes:
        classes.append("None")

    def make(c):
        return LogisticRegression(C=c, max_iter=2000, class_weight=None, solver="lbfgs")

    def linear_oof(c, folds):
        oof = np.zeros(len(y))
        for tr, te in folds:
            clf = make(c).fit(Xm[tr], y[tr])
            none_idx = list(clf.classes_).index("None") if "None" in clf.classes_ else None
            P = clf.predict_proba(Xm[te])
            oof[te] = 1.0 - P[:, none_idx] if none_idx is not None else 1.0
        return oof

    # model selection (C) by grouped 5-fold cross-validation on the training split; the threshold
    # and the stacked stage by the same, repeated over `CV_REPEATS` partitions of the documents
    cands = [C] if C else [0.1, 0.3]
    best = None if cv else (float("nan"), cands[0], threshold, None)
    positive = y != "None"
    folds = _group_folds(Xm, y, g, 0) if cv else []
    for c in (cands if cv else []):
        oof = linear_oof(c, folds)
        top, t = _best_threshold(oof, positive, selected)
        if best is None or top > best[0]:
            best = (top, c, t, oof)
        if progress:
            print(f"relations[{kind}]: C={c} best cv F1 so far {best[0]:.3f} (C={best[1]}, t={best[2]:.2f})", flush=True)
    f1, c, t, oof0 = best
    booster = dense_vec = None
    stage = ""
    if cv:
        # one partition's best threshold moved between 0.23 and 0.32 with the partition (CID); the
        # average of three partitions' F1 curves put it at 0.29-0.30 for two different trainings
        repeats = [(folds, oof0)] + [(fs, linear_oof(c, fs)) for fs in
                                     (_group_folds(Xm, y, g, r) for r in range(1, CV_REPEATS))]
        f1, t = _pick_threshold(np.mean([_f1_curve(o, positive, selected) for _, o in repeats], axis=0))
    if stack != "off" and cv:
        from sklearn.feature_extraction import DictVectorizer as _DV

        dense_vec = _DV(sparse=False)
        dense = dense_vec.fit_transform([dense_features(f) for f in X])
        stacked_oofs = []
        with _one_openmp_thread()():
            for fs, o in repeats:
                S = np.column_stack([o, dense])
                so = np.zeros(len(y))
                for tr, te in fs:
                    so[te] = _booster().fit(S[tr], positive[tr]).predict_proba(S[te])[:, 1]
                stacked_oofs.append(so)
        f1_stacked, t_stacked = _pick_threshold(np.mean([_f1_curve(o, positive, selected) for o in stacked_oofs], axis=0))
        ap_linear, ap_stacked = (float(np.mean(x)) for x in zip(*(
            cv_average_precision(o, so, positive=positive, selected=selected) for (_, o), so in zip(repeats, stacked_oofs))))
        if stack == "on" or ap_stacked > ap_linear:  # "auto": kept only when it beats the linear model
            with _one_openmp_thread()():
                booster = _booster().fit(np.column_stack([oof0, dense]), positive)
            stage = (f" (stacked, cv AP {ap_stacked:.3f}; the linear model alone: F1 {f1:.3f} at t={t:.2f}, "
                     f"AP {ap_linear:.3f})")
            f1, t = f1_stacked, t_stacked
        else:
            dense_vec = None
            stage = (f" (linear, cv AP {ap_linear:.3f}; the stacked stage did not beat it in cross-validation: "
                     f"AP {ap_stacked:.3f}, F1 {f1_stacked:.3f})")
    clf = make(c).fit(Xm, y)
    digest = hashlib.sha1(repr((kind, c, round(t, 2), len(y), Xm.shape[1], booster is not None)).encode()).hexdigest()[:8]
    model = RelationModel(kind, vec, clf, t, tuple(clf.classes_), f"{RELATION_VERSION}-{kind}-{digest}", priors,
                          booster=booster, dense_vectorizer=dense_vec)
    model.cv_f1 = f1  # type: ignore[attr-defined]
    model.n_pairs = len(y)  # type: ignore[attr-defined]
    if progress:
        print(f"relations[{kind}]: {len(y)} candidate pairs, {int(positive.sum())} positive, "
              f"{Xm.shape[1]} features, C={c}, threshold={t:.2f}, cv F1={f1:.3f}{stage} "
              f"({time.perf_counter() - t0:.0f}s)", flush=True)
    return model


# --------------------------------------------------------------------------------------
# Predicates of the graph schema
# --------------------------------------------------------------------------------------


def schema_predicate(kind: str, rtype: str, la: str, lb: str) -> tuple[str, bool] | None:
    """(schema relationship type, swap subject/object) for a predicted relation, or None.

    `la`, `lb` are the labels of the pair in canonical order (GENE < CHEMICAL < DISEASE)."""
    if kind == "cid":
        return ("CONTRIBUTES_TO", False)  # chemical -> disease
    pair = (la, lb)
    if pair == ("CHEMICAL", "DISEASE"):
        return {"Positive_Correlation": ("CONTRIBUTES_TO", False), "Negative_Correlation": ("TREATS", False),
                "Association": ("ASSOCIATED_WITH", False)}.get(rtype)
    if pair == ("GENE", "DISEASE"):
        return ("GENE_ASSOCIATED_WITH_CONDITION", False)
    if pair == ("GENE", "CHEMICAL"):  # draw chemical -> gene
        return {"Bind": ("DIRECTLY_PHYSICALLY_INTERACTS_WITH", True), "Positive_Correlation": ("AFFECTS", True),
                "Negative_Correlation": ("AFFECTS", True)}.get(rtype, ("INTERACTS_WITH", True))
    if pair == ("GENE", "GENE"):
        return ("PHYSICALLY_INTERACTS_WITH", False) if rtype == "Bind" else ("INTERACTS_WITH", False)
    if pair == ("CHEMICAL", "CHEMICAL"):
        return {"Drug_Interaction": ("CHEMICALLY_INTERACTS_WITH", False), "Bind": ("CHEMICALLY_INTERACTS_WITH", False),
                "Conversion": ("DERIVES_INTO", False)}.get(rtype)
    return None


DIRECTION = {"Positive_Correlation": "increased", "Negative_Correlation": "decreased"}


class RelationExtractor:
    """Both relation models; `predict` turns an ExtractedDocument into graph relations."""

    def __init__(self, models: dict[str, RelationModel], version: str, training: dict | None = None):
        self.models = models
        self.version = version
        self.training = training or {}  # what it was trained on (train_relation_models)

    @classmethod
    def load(cls, path: str | Path) -> "RelationExtractor":
        import joblib

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no relation model at {path}: train one with `targetkg nlp train-relations`")
        state = joblib.load(path)
        return cls(state["models"], state["version"], state.get("training"))

    def save(self, path: str | Path) -> None:
        import joblib

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        joblib.dump({"models": self.models, "version": self.version, "training": self.training}, tmp)
        tmp.replace(path)

    def predict_raw(self, doc: ExtractedDocument) -> dict[str, list[tuple[Concept, Concept, str, float]]]:
        concepts = document_concepts(doc)
        if len(concepts) < 2:
            return {k: [] for k in self.models}
        ctx = document_context(doc, concepts)
        return {k: m.predict_pairs(doc, concepts, ctx) for k, m in self.models.items()}

    def predict(self, doc: ExtractedDocument) -> list[ExtractedRelation]:
        out = []
        for kind, preds in self.predict_raw(doc).items():
            for a, b, rtype, p in preds:
                mapped = schema_predicate(kind, rtype, a.label, b.label)
                if mapped is None:
                    continue
                predicate, swap = mapped
                s, o = (b, a) if swap else (a, b)
                ms, mo = _node_mention(s), _node_mention(o)
                if ms is None or mo is None or ms.curie is None or mo.curie is None:
                    continue
                evidence = _evidence(doc, s, o, p)
                out.append(ExtractedRelation(
                    type=rtype, predicate=predicate, subject=ms.curie, subject_label=ms.node_label, object=mo.curie,
                    object_label=mo.node_label, probability=round(p, 4), subject_concept=ms.concept_id,
                    object_concept=mo.concept_id, model=self.models[kind].version, evidence=evidence,
                    subject_name=s.name, object_name=o.name))
        return merge_relations(out)


def merge_relations(relations: list[ExtractedRelation]) -> list[ExtractedRelation]:
    """One relation per (subject, predicate, object) of a document.

    Both models run on every abstract, and several of their labels map to one schema predicate
    (CID and BioRED's chemical-disease Positive_Correlation are both CONTRIBUTES_TO; two concepts
    can also ground to one graph node), so a document can state the same edge more than once.
    The merged relation keeps the highest probability (its subject/object/model come from that
    prediction), all relation types, joined by "|" in sorted order in `type` (e.g.
    "CID|Positive_Correlation"), and one Evidence per sentence index with the highest probability
    any prediction gave that sentence. Order: first occurrence of each edge."""
    merged: dict[tuple[str, str, str], ExtractedRelation] = {}
    types: dict[tuple[str, str, str], set[str]] = {}
    sentences: dict[tuple[str, str, str], dict[int, Evidence]] = {}
    for r in relations:
        key = (r.subject, r.predicate, r.object)
        types.setdefault(key, set()).update(r.type.split("|"))
        by_sent = sentences.setdefault(key, {})
        for ev in r.evidence:
            old = by_sent.get(ev.sent)
            if old is None or ev.probability > old.probability:
                by_sent[ev.sent] = ev
        best = merged.get(key)
        if best is None or r.probability > best.probability:
            merged[key] = r
    out = []
    for key, r in merged.items():
        out.append(replace(r, type="|".join(sorted(types[key])),
                           evidence=[sentences[key][i] for i in sorted(sentences[key])]))
    return out


def _node_mention(c: Concept) -> EntityMention | None:
    for m in c.mentions:
        if m.curie:
            return m
    return None


def _evidence(doc: ExtractedDocument, s: Concept, o: Concept, p: float) -> list[Evidence]:
    ss = {m.sent for m in s.mentions}
    os_ = {m.sent for m in o.mentions}
    shared = sorted(ss & os_)
    if shared:
        return [Evidence(doc.sentence(i), i, round(p, 4)) for i in shared]
    # not in one sentence: the closest pair of sentences, joined
    i, j = min(((x, y) for x in ss for y in os_), key=lambda t: (abs(t[0] - t[1]), t))
    lo, hi = sorted((i, j))
    text = doc.text[doc.sentences[lo][0]:doc.sentences[hi][1]] if hi - lo <= 2 else doc.sentence(lo) + " … " + doc.sentence(hi)
    return [Evidence(text, lo, round(p, 4))]


def as_cid_document(doc: ExtractedDocument) -> ExtractedDocument:
    """A BioRED document as CID training data: its chemical-disease Positive_Correlation pairs become
    CID relations, every other relation is dropped (the entities are unchanged)."""
    from dataclasses import replace

    from .components import TYPE_TO_LABEL
    from .readers import Relation

    src = doc.source
    if src is None:
        return doc
    label_of = {i: TYPE_TO_LABEL.get(m.type) for m in src.mentions for i in m.ids}
    cid = [Relation("CID", r.id1, r.id2, line=r.line) for r in src.relations
           if r.type == "Positive_Correlation" and {label_of.get(r.id1), label_of.get(r.id2)} == {"CHEMICAL", "DISEASE"}]
    return replace(doc, source=replace(src, relations=cid))


def relation_training_documents(max_docs: int | None = None, heldout: Sequence[tuple[str, ExtractedDocument]] | None = None
                                ) -> tuple[dict[str, list[ExtractedDocument]], dict, dict]:
    """Training documents of each model (see the module notes), their counts, and per model the
    documents whose rows choose C and the threshold (None: all)."""
    from .config import corpora
    from .pipeline import gold_extracted
    from .readers import read_pubtator

    c = corpora()
    gold = {}
    for corpus in ("bc5cdr", "biored"):
        docs = list(read_pubtator(c[corpus].train))
        gold[corpus] = [gold_extracted(d) for d in (docs[:max_docs] if max_docs else docs)]
    keep = {corpus: {d.id for d in docs} for corpus, docs in gold.items()}
    predicted = {corpus: [d for name, d in (heldout or ()) if name == corpus and d.id in keep[corpus]]
                 for corpus in gold}
    cid_gold = gold["bc5cdr"] + [as_cid_document(d) for d in gold["biored"]]
    cid_predicted = predicted["bc5cdr"] + [as_cid_document(d) for d in predicted["biored"]]
    out = {"cid": cid_gold + cid_predicted, "biored": gold["biored"]}
    # C and the threshold are chosen on the predicted-entity copies when there are any: the pipeline
    # runs on its own entities
    select = {"cid": [False] * len(cid_gold) + [True] * len(cid_predicted) if cid_predicted else None, "biored": None}
    counts = {"cid": {"bc5cdr_gold": len(gold["bc5cdr"]), "biored_gold_as_cid": len(gold["biored"]),
                      "bc5cdr_heldout_predicted": len(predicted["bc5cdr"]),
                      "biored_heldout_predicted_as_cid": len(predicted["biored"])},
              "biored": {"biored_gold": len(gold["biored"])}}
    return out, counts, select


def train_relation_models(output: Path, max_docs: int | None = None, progress: bool = True,
                          C: float | None = None, ner_dir: str | Path | None = None) -> dict:
    """Train both models and save them. `ner_dir`: the NER model whose held-out stacking documents
    join the CID training data (none: gold entities only, which the report states)."""
    from .span_filter import HELDOUT_FILE, load_heldout_documents

    # the pipeline's entities pass the span filter: train on the held-out copies as the filter left
    # them when the stacking kept those (older NER folders have the unfiltered copies only)
    heldout = load_heldout_documents(ner_dir, filtered=True)
    heldout_view = "filtered" if heldout is not None else "unfiltered"
    if heldout is None:
        heldout = load_heldout_documents(ner_dir)
    if progress and heldout is None:
        print(f"relations: no held-out NER documents ({Path(ner_dir) / HELDOUT_FILE if ner_dir else 'no NER model folder'}); "
              "training on gold entities only. They come from stacking the span filter on one of the project's own "
              "single NER models (`targetkg nlp train-ner --if-missing`; not for ensembles or installed models)",
              flush=True)
    docs, counts, select = relation_training_documents(max_docs, heldout)
    models = {}
    report: dict = {}
    for kind in ("cid", "biored"):
        # the stacked stage: CID cross-validated F1 0.549 -> 0.567 (kept if it wins again); BioRED
        # 0.720 either way, so not tried there
        m = fit_model(docs[kind], kind, C=C, progress=progress, select_on=select[kind],
                      stack="auto" if kind == "cid" else "off")
        models[kind] = m
        report[kind] = {"cv_f1": round(float(m.cv_f1), 4), "threshold": round(m.threshold, 2), "pairs": m.n_pairs,
                        "version": m.version, "documents": counts[kind]}
    training = {"ner_model": str(ner_dir) if heldout is not None else None,
                "heldout_documents": len(heldout) if heldout is not None else 0,
                "heldout_view": heldout_view if heldout is not None else None, "documents": counts}
    version = RELATION_VERSION + "-" + hashlib.sha1("".join(m.version for m in models.values()).encode()).hexdigest()[:8]
    RelationExtractor(models, version, training).save(output)
    report["version"] = version
    report["path"] = str(output)
    report["training"] = training
    return report
