"""Gazetteer word vectors: what the real vocabularies say about a word, as spaCy static vectors.

No pretrained biomedical word vectors can be had here, so the NER's tok2vec gets, for each
lower-cased word, a small vector of dictionary statistics computed from the linking KB's names
(HGNC, MeSH descriptors and supplementary concepts, DrugBank, ChEBI): per type (CHEMICAL,
DISEASE, GENE)

  * how often the word occurs in names of that type (log-scaled),
  * how often it is a complete one-word name,
  * how often it starts / ends a multi-word name,

plus the share of each type among the word's occurrences. The vectors are keyed by LOWER
(`spacy.vectors.Vectors(attr="LOWER")`) and saved inside the trained pipeline, so the model
needs nothing else at run time. This is the classic gazetteer-feature trick, learned through
the network rather than matched by rules.
"""

from __future__ import annotations

import pickle
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from .components import LABELS

_SPLIT = re.compile(r"[\s\-/+()\[\]:;,=<>~'\"%]+")
DIMS = len(LABELS) * 4 + len(LABELS)


def _words(name: str) -> list[str]:
    return [w for w in _SPLIT.split(name.lower()) if w]


def gazetteer_table(kb_pickle: Path) -> tuple[list[str], np.ndarray]:
    """(words, vectors) from the KB's concept names and aliases."""
    with open(kb_pickle, "rb") as fh:
        state = pickle.load(fh)
    li = {lab: i for i, lab in enumerate(LABELS)}
    stats: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(len(LABELS) * 4, dtype=np.float64))
    for _cid, (name, aliases, info) in state["concepts"].items():
        k = li.get(info[0])
        if k is None:
            continue
        for n in {name, *aliases}:
            ws = _words(n)
            if not ws:
                continue
            if len(ws) == 1:
                stats[ws[0]][4 * k + 1] += 1
            else:
                stats[ws[0]][4 * k + 2] += 1
                stats[ws[-1]][4 * k + 3] += 1
            for w in set(ws):
                stats[w][4 * k] += 1
    words = sorted(stats)
    raw = np.stack([stats[w] for w in words]) if words else np.zeros((0, len(LABELS) * 4))
    logc = np.log1p(raw)
    scale = logc.max(axis=0)
    scale[scale == 0] = 1.0
    feats = logc / scale
    occ = raw[:, 0::4]
    share = occ / np.maximum(occ.sum(axis=1, keepdims=True), 1.0)
    vecs = np.hstack([feats, share]).astype(np.float32)
    assert vecs.shape[1] == DIMS
    return words, vecs


def add_gazetteer_vectors(nlp, kb_pickle: Path) -> int:
    """Install the gazetteer vectors in `nlp.vocab` (keyed by LOWER); returns the row count."""
    from spacy.strings import hash_string
    from spacy.vectors import Vectors

    words, vecs = gazetteer_table(kb_pickle)
    keys = [hash_string(w) for w in words]  # hashes only: the words need not bloat the StringStore
    nlp.vocab.vectors = Vectors(strings=nlp.vocab.strings, data=vecs, keys=keys, name="targetkg_gazetteer", attr="LOWER")
    return len(words)
