"""Dictionary matcher: chemical and disease names of the KB that the NER missed.

The component ``targetkg_dictionary`` runs after the NER and adds, where the NER tagged
nothing, the longest KB name found in the text (CHEMICAL or DISEASE), so that the
vocabularies raise recall and every added mention is groundable by construction.

Terms are the normalised names and synonyms of the linking KB (`kb.normalize`: case,
punctuation, spacing, Greek letters and a final plural "s" do not matter, so "venous
thrombo-embolism" finds "Venous Thromboembolism"). A term is left out when one of its concepts
is a gene (HGNC symbols and aliases are too ambiguous for a matcher; genes stay with the NER)
or when its concepts disagree on the type.

Which terms may fire is learned from the *training* splits only (BC5CDR and BioRED):

* a term found in the training texts fires when its smoothed precision there, (hits + 1) /
  (matches + 2), is at least ``seen_min_precision``; a hit is a match whose span and type equal a
  gold mention, a miss a match that is not inside a gold mention;
* a term never found there fires when the terms of its class that were unseen in one half of
  the training documents were precise enough in the other half (``unseen_min_precision``, with at
  least ``unseen_min_support`` matches). Classes: diseases, short (< 8 characters) or long;
  chemicals, by the top MeSH branch of their descriptor, else by the vocabularies that name
  them. Measured: unseen disease names 0.96; organic, heterocyclic and polycyclic compounds
  and carbohydrates (MeSH D02/D03/D04/D09) 0.94-0.99 and names shared by ChEBI and DrugBank 0.94
  fire; proteins (D12, 0.19), enzymes (D08, 0.13), nucleic acids (D13, 0.60) and ChEBI-only names
  (0.25) do not: they sit in the chemical vocabularies but are annotated as genes, if at all.

Before matching, the component also grows each DISEASE span of the NER to the longest MeSH disease
name around it (`extend_diseases`: up to 3 tokens on either side, never over another entity or
punctuation other than a name's joiners): the NER often tags the head without its modifiers ("erythema" in "erythema
multiforme"). Only the vocabularies' names count here, not the training corpora's mention strings,
so the effect could be measured on the span filter's held-out training halves: disease F1 0.817 ->
0.832 (BC5CDR) and 0.759 -> 0.777 (BioRED); 72 spans corrected against 7 broken on BC5CDR.

The learned term list is cached next to the KB (`<nlp cache>/dictionary/`), keyed by the KB
version, the policy and the training files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import random
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from spacy.language import Language
from spacy.attrs import ORTH
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from .kb import _GREEK, _PUNCT, KB_FILE, TargetKGKnowledgeBase, build_linker_kb, normalize
from .kb import _singular as _singular_word

log = logging.getLogger(__name__)

DICTIONARY_VERSION = "dict-3"
DICTIONARY_LABELS = ("CHEMICAL", "DISEASE")
_JOINERS = frozenset({"-", "/", "'", "\u2019", "+", "\u2013"})  # punctuation a name may contain ("thrombo-embolism")


@dataclass(frozen=True)
class DictionaryPolicy:
    seen_min_precision: float = 0.5
    unseen_min_precision: float = 0.8
    unseen_min_support: int = 30  # matches of a class's unseen terms needed to judge the class
    min_key_chars: int = 3  # shorter keys ("ca", "no") never fire
    max_tokens: int = 8  # longest name, in tokens, that is looked up
    long_key_chars: int = 8  # "long" vs "short" class of unseen terms
    seed: int = 0  # the split of the training documents for the unseen-term estimate


# --------------------------------------------------------------------------------------
# Matching
# --------------------------------------------------------------------------------------


def token_key(text: str) -> str:
    """A token's part of the KB's normalised key (`kb.normalize` without the plural rule)."""
    if text.isascii():
        t = text.lower()
        return t if t.isalnum() else "".join(w for w in _PUNCT.split(t) if w)
    t = unicodedata.normalize("NFKC", text)
    for g, name in _GREEK.items():
        if g in t:
            t = t.replace(g, name)
    return "".join(w for w in _PUNCT.split(t.lower()) if w)


def _singular(key: str, last: str) -> str | None:
    """`key` without its plural 's' when `last` (its last word) has one (`kb.normalize`'s rule)."""
    return key[:-1] if _singular_word(last) != last else None


def _first_word(name: str) -> str:
    """The key of the first token a name starts with (the tokenizer splits at punctuation)."""
    t = unicodedata.normalize("NFKC", name)
    for g, gname in _GREEK.items():
        if g in t:
            t = t.replace(g, gname)
    words = [w for w in _PUNCT.split(t.lower()) if w]
    return words[0] if words else ""


_KEY_BY_ORTH: dict[int, str] = {}


def doc_keys(doc: Doc) -> tuple[list[str], list[bool]]:
    """Per token: its key, and whether it is punctuation a name may contain. Token ids, not Token
    objects: building a Token per word costs more than the lookup itself."""
    strings = doc.vocab.strings
    keys = []
    for h in doc.to_array(ORTH).tolist():
        k = _KEY_BY_ORTH.get(h)
        if k is None:
            if len(_KEY_BY_ORTH) > 500_000:
                _KEY_BY_ORTH.clear()
            k = _KEY_BY_ORTH[h] = token_key(strings[h])
        keys.append(k)
    joiner = [not k and doc[i].text in _JOINERS for i, k in enumerate(keys)] if "" in keys else [False] * len(keys)
    return keys, joiner


def find_terms(doc: Doc, terms: dict[str, str], starts: frozenset[str] | set[str], max_tokens: int,
               blocked: set[int] | None = None, keys: tuple[list[str], list[bool]] | None = None
               ) -> list[tuple[int, int, str]]:
    """Longest non-overlapping KB names in `doc`: (start token, end token, key), left to right."""
    blocked = blocked or set()
    keys, joiner = keys or doc_keys(doc)
    out = []
    n = len(keys)
    i = 0
    while i < n:
        k = keys[i]
        if (k not in starts and _singular(k, k) not in starts) or i in blocked:
            i += 1
            continue
        acc = ""
        best = None
        for j in range(i, min(n, i + max_tokens)):
            k = keys[j]
            if j in blocked or (not k and not joiner[j]):
                break  # names do not run over other entities, brackets, commas or stops
            if not k:
                continue
            acc += k
            if acc in terms:
                best = (j + 1, acc)
            else:
                s = _singular(acc, k)
                if s and s in terms:
                    best = (j + 1, s)
        if best is not None:
            out.append((i, best[0], best[1]))
            i = best[0]
        else:
            i += 1
    return out


def extend_diseases(doc: Doc, ents: Sequence[Span], names: frozenset[str] | set[str], max_words: int = 3,
                    keys: tuple[list[str], list[bool]] | None = None) -> list[Span]:
    """`ents` with each DISEASE span grown to the longest vocabulary disease name around it.

    The NER often tags the head of a disease name without its modifiers ("erythema" in
    "erythema multiforme", "angina" in "unstable angina"). A span grows by up to `max_words`
    tokens on each side when the grown text is a MeSH disease name or synonym (`names`: keys as
    `kb.normalize`). It never runs over another entity or over punctuation other than a name's
    joiners ("-", "/"), so never across a sentence end, and starts and ends on a word. `keys`:
    `doc_keys(doc)`, when the caller has them."""
    if not any(e.label_ == "DISEASE" for e in ents):
        return list(ents)
    keys, joiner = keys or doc_keys(doc)
    owner = {i: n for n, e in enumerate(ents) for i in range(e.start, e.end)}
    n_tokens = len(doc)
    out = []
    grew = False
    for n, e in enumerate(ents):
        if e.label_ != "DISEASE":
            out.append(e)
            continue
        lefts = list(range(e.start - 1, max(0, e.start - max_words) - 1, -1))
        for i, a in enumerate(lefts):
            if owner.get(a, n) != n or not (keys[a] or joiner[a]):
                del lefts[i:]
                break
        rights = list(range(e.end + 1, min(n_tokens, e.end + max_words) + 1))
        for i, b in enumerate(rights):
            if owner.get(b - 1, n) != n or not (keys[b - 1] or joiner[b - 1]):
                del rights[i:]
                break
        if not lefts and not rights:
            out.append(e)
            continue
        best, size = None, e.end - e.start
        for a in (e.start, *lefts):
            if not keys[a]:
                continue
            for b in (e.end, *rights):
                if b - a <= size or not keys[b - 1]:
                    continue
                key = "".join(keys[a:b])
                if key in names or (key[-1] == "s" and _singular(key, keys[b - 1]) in names):
                    best, size = (a, b), b - a
        if best is None:
            out.append(e)
        else:
            out.append(Span(doc, best[0], best[1], label=e.label_))
            grew = True
    return filter_spans(out) if grew else list(ents)


def vocabulary_disease_names() -> frozenset[str]:
    """Normalised names and synonyms of the MeSH disease descriptors and supplementary concepts:
    the vocabularies only, not the training corpora's mention strings (so that their effect can
    be measured on held-out training documents)."""
    from .kb import _iter_vocab_concepts

    return frozenset(k for _cid, name, aliases, info in _iter_vocab_concepts({"mesh", "mesh_supp"})
                     if info.label == "DISEASE" for k in map(normalize, (name, *aliases)) if k)


# --------------------------------------------------------------------------------------
# Learning which terms fire
# --------------------------------------------------------------------------------------


def candidate_terms(kb: TargetKGKnowledgeBase, policy: DictionaryPolicy) -> dict[str, str]:
    """Every KB key of one non-gene type: key -> CHEMICAL/DISEASE."""
    out = {}
    for key, cids in kb.exact.items():
        if len(key) < policy.min_key_chars:
            continue
        labels = {kb.info[c].label for c in cids if c in kb.info}
        if len(labels) == 1:
            label = next(iter(labels))
            if label in DICTIONARY_LABELS:
                out[key] = label
    return out


def term_starts(kb: TargetKGKnowledgeBase, terms: dict[str, str] | set[str]) -> set[str]:
    """First-token keys of the names behind `terms` (matching starts only there)."""
    starts = set()
    for cid, ent in kb.cui_to_entity.items():
        info = kb.info.get(cid)
        if info is None or info.label not in DICTIONARY_LABELS:
            continue
        for name in (ent.canonical_name, *ent.aliases):
            if normalize(name) in terms:
                w = _first_word(name)
                if w:
                    starts.add(w)
                    starts.add(_singular(w, w) or w)
    return starts


def _match_outcomes(nlp: Language, documents: Iterable, terms: dict[str, str], starts: set[str],
                    policy: DictionaryPolicy) -> list[list[tuple[str, int]]]:
    """Per training document: (key, 1 hit / 0 miss) of every match outside gold mentions' insides."""
    from .components import TYPE_TO_LABEL

    per_doc = []
    for d in documents:
        doc = nlp.make_doc(d.text)
        gold = {}
        for m in d.mentions:
            label = TYPE_TO_LABEL.get(m.type)
            if label in DICTIONARY_LABELS:
                gold[(m.start, m.end)] = label
        spans = list(gold)
        rows = []
        for s, e, key in find_terms(doc, terms, starts, policy.max_tokens):
            a, b = doc[s].idx, doc[e - 1].idx + len(doc[e - 1].text)
            if gold.get((a, b)) == terms[key]:
                rows.append((key, 1))
            elif not any(ga <= a and b <= gb for ga, gb in spans):
                rows.append((key, 0))
        per_doc.append(rows)
    return per_doc


def _counts(rows: Iterable[list[tuple[str, int]]]) -> tuple[Counter, Counter]:
    seen, hits = Counter(), Counter()
    for doc_rows in rows:
        for key, hit in doc_rows:
            seen[key] += 1
            hits[key] += hit
    return seen, hits


def _term_class(key: str, label: str, policy: DictionaryPolicy, kb: TargetKGKnowledgeBase,
                trees: dict[str, tuple[str, ...]]) -> str:
    """The class an unseen term is judged by. Diseases: short or long names. Chemicals: the
    top MeSH branch of their descriptor (D02 organic chemicals, D12 proteins, ...), else the
    vocabularies that name them (ChEBI, DrugBank, MeSH supplementary concepts): protein and
    nucleic-acid names sit in MeSH's chemical tree but are annotated as genes, if at all."""
    if label != "CHEMICAL":
        return f"{label}/{'long' if len(key) >= policy.long_key_chars else 'short'}"
    tops = Counter(t[:3] for c in kb.exact[key] if c.startswith("MESH:D") for t in trees.get(c[5:], ()))
    if tops:
        return f"CHEMICAL/mesh:{min(tops, key=lambda t: (-tops[t], t))}"
    sources = sorted({kb.info[c].source for c in kb.exact[key] if c in kb.info})
    return f"CHEMICAL/{'+'.join(sources)}"


def learn_terms(kb: TargetKGKnowledgeBase, documents: Sequence, nlp: Language,
                policy: DictionaryPolicy = DictionaryPolicy()) -> dict:
    """The firing terms and the statistics behind them (see the module doc)."""
    from .relations import mesh_trees

    trees = mesh_trees()
    terms = candidate_terms(kb, policy)
    starts = term_starts(kb, terms)
    outcomes = _match_outcomes(nlp, documents, terms, starts, policy)
    # unseen-term precision per class: terms unseen in one half, scored in the other
    order = list(range(len(outcomes)))
    random.Random(policy.seed).shuffle(order)
    half = len(order) // 2
    classes: dict[str, list[int]] = {}
    for a, b in ((order[:half], order[half:]), (order[half:], order[:half])):
        seen_a, _ = _counts(outcomes[i] for i in a)
        for i in b:
            for key, hit in outcomes[i]:
                if key not in seen_a:
                    c = classes.setdefault(_term_class(key, terms[key], policy, kb, trees), [0, 0])
                    c[0] += 1
                    c[1] += hit
    class_precision = {c: round(h / n, 4) for c, (n, h) in sorted(classes.items()) if n}
    class_support = {c: n for c, (n, _) in sorted(classes.items())}
    unseen_ok = {c for c, p in class_precision.items()
                 if p >= policy.unseen_min_precision and classes[c][0] >= policy.unseen_min_support}
    seen, hits = _counts(outcomes)
    firing = {}
    for key, label in terms.items():
        if key in seen:
            if (hits[key] + 1) / (seen[key] + 2) >= policy.seen_min_precision:
                firing[key] = label
        elif _term_class(key, label, policy, kb, trees) in unseen_ok:
            firing[key] = label
    return {"terms": firing, "starts": term_starts(kb, firing),
            "stats": {"candidate_terms": len(terms), "firing_terms": len(firing),
                      "training_documents": len(documents), "seen_terms": len(seen),
                      "seen_firing": sum(1 for k in seen if k in firing),
                      "unseen_class_precision": class_precision, "unseen_class_support": class_support,
                      "unseen_classes_firing": sorted(unseen_ok)}}


# --------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------


def _training_files() -> list[Path]:
    from .config import corpora

    return [c.train for c in corpora().values() if c.train.is_file()]


def build_dictionary(kb_dir: str | Path | None = None, policy: DictionaryPolicy = DictionaryPolicy(),
                     force: bool = False, progress: bool = False) -> Path:
    """Learn the firing terms (once) and cache them; returns the cache file. Without the
    training splits nothing can be learned and no term fires."""
    from .components import blank_pipeline
    from .config import nlp_settings
    from .kb import KB_VERSION
    from .readers import read_pubtator

    kb_path = Path(kb_dir) if kb_dir else build_linker_kb(progress=progress)
    kb_file = kb_path / KB_FILE
    files = _training_files()
    # the cache key names what the terms are learned from; the KB itself is loaded only to learn
    key = [DICTIONARY_VERSION, KB_VERSION, str(kb_file), kb_file.stat().st_size, kb_file.stat().st_mtime_ns,
           asdict(policy), [hashlib.sha256(f.read_bytes()).hexdigest()[:12] for f in files]]
    tag = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    out = nlp_settings().root / "dictionary" / f"{DICTIONARY_VERSION}-{tag}.pickle"
    if out.is_file() and not force:
        return out
    kb = TargetKGKnowledgeBase(kb_file)
    docs = [d for f in files for d in read_pubtator(f)]
    learned = learn_terms(kb, docs, blank_pipeline(), policy)
    learned.update({"version": DICTIONARY_VERSION, "kb_version": kb.version, "policy": asdict(policy),
                    "disease_names": vocabulary_disease_names()})
    if progress:
        print(f"dictionary: {json.dumps(learned['stats'])}", flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        pickle.dump(learned, fh, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(out)
    return out


@lru_cache(maxsize=2)
def load_dictionary(kb_dir: str | None = None) -> dict:
    with open(build_dictionary(kb_dir), "rb") as fh:
        return pickle.load(fh)


# --------------------------------------------------------------------------------------
# spaCy component
# --------------------------------------------------------------------------------------


class DictionaryMatcher:
    def __init__(self, terms: dict[str, str], starts: Iterable[str], max_tokens: int = 8,
                 disease_names: Iterable[str] = ()):
        self.terms = terms
        self.starts = frozenset(starts)
        self.max_tokens = max_tokens
        self.disease_names = frozenset(disease_names)

    def __call__(self, doc: Doc) -> Doc:
        ents = list(doc.ents)
        keys = doc_keys(doc)
        if self.disease_names:
            grown = extend_diseases(doc, ents, self.disease_names, keys=keys)
            if len(grown) != len(ents) or any(g is not e for g, e in zip(grown, ents)):
                doc.ents = ents = grown
        taken = {i for e in ents for i in range(e.start, e.end)}
        new = [Span(doc, s, e, label=self.terms[key])
               for s, e, key in find_terms(doc, self.terms, self.starts, self.max_tokens, taken, keys=keys)]
        if new:
            doc.ents = filter_spans(ents + new)
        return doc


@Language.factory("targetkg_dictionary", default_config={"kb_dir": None})
def make_dictionary(nlp: Language, name: str, kb_dir: str | None):
    learned = load_dictionary(kb_dir)
    return DictionaryMatcher(learned["terms"], learned["starts"], learned["policy"]["max_tokens"],
                             learned.get("disease_names", ()))
