"""NER ensembles: several trained NER models vote on every entity span (`targetkg_ner_vote`).

An ensemble is a folder with an ``ensemble.json`` that names its member models (folders next to
it, or absolute paths): ``{"members": ["bc5cdr-biored-fast", "bc5cdr-biored-medium",
"bc5cdr-biored"], "min_votes": 2}``. `load_ner` loads the first member as the pipeline's own
``ner`` and puts `targetkg_ner_vote` right after it; that component runs the other members' NER
on the same text and keeps a span (exact characters and label) when at least ``min_votes``
models predicted it (default: a majority). Where kept spans overlap, the one with more votes
wins, then the longer one.

Why: the members are trained on the same data with different tok2vec widths and depths, so
their errors differ, and a majority vote removes the spans only one model believes in. That
cuts false positives more than it costs recall (measured: docs/nlp_design.md).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import minibatch

from .components import numpy_matmul

ENSEMBLE_FILE = "ensemble.json"


def is_ensemble(path: str | Path) -> bool:
    return (Path(path) / ENSEMBLE_FILE).is_file()


def ensemble_members(path: str | Path) -> tuple[list[Path], int]:
    """(member folders, minimum votes) of the ensemble folder `path`."""
    path = Path(path)
    where = path / ENSEMBLE_FILE
    try:
        spec = json.loads(where.read_text(encoding="utf-8"))
        names = [str(m) for m in spec["members"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{where}: not a valid NER ensemble file ({exc}); expected "
                         '{"members": ["<model folder>", ...], "min_votes": <int>}') from exc
    if len(names) < 2:
        raise ValueError(f"{where}: field 'members' needs at least two models, got {len(names)}")
    members = [Path(n) if Path(n).is_absolute() else path.parent / n for n in names]
    missing = [str(m) for m in members if not (m / "config.cfg").is_file()]
    if missing:
        raise FileNotFoundError(f"{where}: member model(s) not trained: {', '.join(missing)} "
                                "(`targetkg nlp train-ner --profile ensemble` trains them)")
    min_votes = spec.get("min_votes") or len(members) // 2 + 1
    if not isinstance(min_votes, int) or not 1 <= min_votes <= len(members):
        raise ValueError(f"{where}: field 'min_votes' must be an integer between 1 and {len(members)}, got {min_votes!r}")
    return members, min_votes


def write_ensemble(path: str | Path, members: Sequence[str], min_votes: int | None = None) -> Path:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    spec = {"members": list(members), "min_votes": min_votes or len(members) // 2 + 1}
    (path / ENSEMBLE_FILE).write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
    return path


def vote(doc: Doc, others: Iterable[Doc], min_votes: int) -> list[Span]:
    """The spans of `doc.ents` and of the other members' docs (same text) with >= min_votes votes."""
    counts = Counter((e.start_char, e.end_char, e.label_) for e in doc.ents)
    for other in others:
        counts.update((e.start_char, e.end_char, e.label_) for e in other.ents)
    kept = []
    for (start, end, label), n in counts.items():
        if n >= min_votes:
            span = doc.char_span(start, end, label=label)
            if span is not None:  # members share the tokenizer rules, so this only guards foreign models
                kept.append((n, span))
    # With a majority rule two kept spans never overlap (each model votes for one of them at most);
    # below a majority they can: more votes win, then the longer span (filter_spans only knows length).
    kept.sort(key=lambda x: (-x[0], -(x[1].end - x[1].start), x[1].start))
    taken: set[int] = set()
    chosen = []
    for _, span in kept:
        if taken.isdisjoint(range(span.start, span.end)):
            chosen.append(span)
            taken.update(range(span.start, span.end))
    return sorted(chosen, key=lambda s: s.start)


class NERVote:
    def __init__(self, members: Sequence[str], min_votes: int):
        self.paths = [Path(m) for m in members]
        self.min_votes = min_votes
        self.models = [numpy_matmul(spacy.load(p, exclude=["lemmatizer", "attribute_ruler"])) for p in self.paths]
        for p, m in zip(self.paths, self.models):
            if "ner" not in m.pipe_names:
                raise ValueError(f"{p}: ensemble member has no 'ner' component")

    def weights_digest(self) -> str:
        h = hashlib.sha256()
        for m in self.models:
            h.update(m.get_pipe("ner").to_bytes(exclude=["vocab"]))
        return h.hexdigest()[:8]

    def __call__(self, doc: Doc) -> Doc:
        return next(iter(self.pipe([doc])))

    def pipe(self, docs: Iterable[Doc], batch_size: int = 64) -> Iterator[Doc]:
        for batch in minibatch(docs, size=batch_size):
            outs = [list(m.get_pipe("ner").pipe((m.make_doc(d.text) for d in batch), batch_size=batch_size))
                    for m in self.models]
            for i, d in enumerate(batch):
                d.ents = vote(d, (o[i] for o in outs), self.min_votes)
                yield d


@Language.factory("targetkg_ner_vote", default_config={"members": [], "min_votes": 2})
def make_ner_vote(nlp: Language, name: str, members: list[str], min_votes: int) -> NERVote:
    return NERVote(members, min_votes)
