"""The literature pipeline: abstract -> sentences, entities, ids, relations with evidence.

spaCy pipeline (in order):

  tokenizer             biomedical rules (`components.biomedical_tokenizer`), saved with the model
  targetkg_sentences    rule sentence splitter (or scispaCy's `pysbd_sentencizer`)
  ner                   the project's trained NER (`targetkg nlp train-ner`), or any installed
                        spaCy/scispaCy model (``TARGETKG_NLP_NER_MODEL=en_ner_bc5cdr_md``)
  targetkg_dictionary   KB chemical/disease names the NER missed (`dictionary`; off with
                        ``TARGETKG_NLP_DICTIONARY=0``)
  abbreviation_detector scispaCy's Schwartz & Hearst detector
  targetkg_abbreviations  short forms take the type of their long form's entity and vice versa
  targetkg_consistency  one sense per abstract: other occurrences of a tagged string get its type
  targetkg_linker       scispaCy's EntityLinker over the project's KB (see `linking`)
  targetkg_grounding    type-consistent choice of the concept, graph ids
  targetkg_span_filter  drops spans a stacked classifier scores as false positives, when the NER
                        model's folder has one (`span_filter`; `targetkg nlp train-ner` trains it;
                        off with ``TARGETKG_NLP_SPAN_FILTER=0``)

then, outside spaCy, the relation classifiers (`relations.RelationExtractor`) over the
grounded entities of each abstract.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from . import components as _components  # noqa: F401  (registers targetkg_sentences)
from .components import LABELS, TYPE_TO_LABEL, SingleThreaded, add_sentence_splitter, numpy_matmul
from .config import NLPSettings, nlp_settings
from .ensemble import ensemble_members, is_ensemble  # the module also registers targetkg_ner_vote
from .readers import Document


@dataclass(slots=True)
class EntityMention:
    start: int
    end: int
    text: str
    label: str  # CHEMICAL / DISEASE / GENE
    sent: int  # sentence index
    concept_id: str | None = None  # KB id (MESH:D003000, NCBIGene:7157, DRUGBANK:..., CHEBI:...)
    curie: str | None = None  # graph node id
    node_label: str | None = None  # graph label (Drug, SmallMolecule, Disease, Gene)
    score: float = 0.0
    xrefs: tuple[str, ...] = ()
    long_form: str | None = None
    ids: tuple[str, ...] = ()  # gold ids when the mention comes from a corpus


@dataclass(slots=True)
class Evidence:
    sentence: str
    sent: int
    probability: float


@dataclass(slots=True)
class ExtractedRelation:
    type: str  # CID, Association, Positive_Correlation, ...
    predicate: str  # schema relationship type
    subject: str  # graph CURIE
    subject_label: str
    object: str
    object_label: str
    probability: float
    subject_concept: str  # KB ids (MeSH/NCBIGene)
    object_concept: str
    model: str  # "cid" | "biored"
    evidence: list[Evidence] = field(default_factory=list)
    subject_name: str | None = None
    object_name: str | None = None


@dataclass(slots=True)
class ExtractedDocument:
    id: str
    title: str
    year: int | None
    text: str
    sentences: list[tuple[int, int]]
    entities: list[EntityMention]
    relations: list[ExtractedRelation] = field(default_factory=list)
    source: Document | None = None

    def sentence(self, i: int) -> str:
        s, e = self.sentences[i]
        return self.text[s:e]


# --------------------------------------------------------------------------------------
# spaCy components
# --------------------------------------------------------------------------------------


@Language.component("targetkg_abbreviations")
def propagate_abbreviations(doc: Doc) -> Doc:
    """Short forms get the entity type of their long form ("cyclosporin A (CsA)": every CsA is
    a CHEMICAL), and a long form gets the type of its tagged short form."""
    if not Doc.has_extension("abbreviations") or not doc._.abbreviations:
        return doc
    ents = list(doc.ents)
    by_tok: dict[int, Span] = {}
    for e in ents:
        for i in range(e.start, e.end):
            by_tok[i] = e
    new: list[Span] = []
    relabel: dict[tuple[int, int], str] = {}
    # scispaCy collects the short forms in a set of Spans, whose hash includes id(doc): in text
    # order, a long form whose short forms were tagged differently gets the first one's type in
    # every run, not whichever the set yielded first
    for short in sorted(doc._.abbreviations, key=lambda s: (s.start, s.end)):
        long_form = short._.long_form
        if not isinstance(long_form, Span):
            continue
        long_ents = {by_tok[i].label_ for i in range(long_form.start, long_form.end) if i in by_tok}
        short_ent = by_tok.get(short.start)
        if len(long_ents) == 1:
            label = next(iter(long_ents))
            if short_ent is None and not any(i in by_tok for i in range(short.start, short.end)):
                new.append(Span(doc, short.start, short.end, label=label))
            elif short_ent is not None and short_ent.label_ != label and (short_ent.start, short_ent.end) == (short.start, short.end):
                relabel[(short.start, short.end)] = label
        elif not long_ents and short_ent is not None and (short_ent.start, short_ent.end) == (short.start, short.end):
            if not any(i in by_tok for i in range(long_form.start, long_form.end)):
                new.append(Span(doc, long_form.start, long_form.end, label=short_ent.label_))
    if new or relabel:
        out = [Span(doc, e.start, e.end, label=relabel.get((e.start, e.end), e.label_)) for e in ents]
        doc.ents = filter_spans(out + new)
    return doc


@Language.component("targetkg_consistency")
def propagate_mentions(doc: Doc) -> Doc:
    """One sense per abstract: a string tagged as an entity somewhere in the abstract is tagged
    with the same type wherever else it occurs untagged (whole tokens, same case)."""
    ents = list(doc.ents)
    if not ents:
        return doc
    labels: dict[tuple[str, ...], set[str]] = {}
    for e in ents:
        if len(e.text) >= 3:
            labels.setdefault(tuple(t.text for t in e), set()).add(e.label_)
    by_first: dict[str, list[tuple[str, ...]]] = {}
    for toks, labs in labels.items():
        if len(labs) == 1:
            by_first.setdefault(toks[0], []).append(toks)
    taken = {i for e in ents for i in range(e.start, e.end)}
    new: list[Span] = []
    n = len(doc)
    for tok in doc:
        if tok.i in taken or tok.text not in by_first:
            continue
        for toks in sorted(by_first[tok.text], key=len, reverse=True):
            end = tok.i + len(toks)
            if end > n or any(i in taken for i in range(tok.i, end)):
                continue
            if all(doc[tok.i + k].text == t for k, t in enumerate(toks)):
                new.append(Span(doc, tok.i, end, label=next(iter(labels[toks]))))
                taken.update(range(tok.i, end))
                break
    if new:
        doc.ents = filter_spans(ents + new)
    return doc


@Language.component("targetkg_label_map")
def map_labels(doc: Doc) -> Doc:
    """Entity labels of an installed model -> CHEMICAL/DISEASE/GENE (others dropped)."""
    extra = getattr(map_labels, "extra", {})
    ents = []
    for e in doc.ents:
        label = extra.get(e.label_) or TYPE_TO_LABEL.get(e.label_)
        if label in LABELS:
            ents.append(Span(doc, e.start, e.end, label=label))
    doc.ents = ents
    return doc


# --------------------------------------------------------------------------------------


def load_ner(ner_model: str | Path | None = None, settings: NLPSettings | None = None) -> Language:
    """The NER pipeline: an explicit model, the `ner_model` setting, or the trained cache model."""
    settings = settings or nlp_settings()
    name = ner_model or settings.ner_model
    if name is None:
        path = settings.ner_dir()
        if not (path / "config.cfg").is_file() and not is_ensemble(path):
            raise FileNotFoundError(
                f"no NER model at {path}: train one with `targetkg nlp train-ner --profile {settings.ner_profile}` "
                "(or set TARGETKG_NLP_NER_MODEL "
                "to an installed spaCy/scispaCy model)")
        name = path
    vote = None
    if isinstance(name, (str, Path)) and is_ensemble(name):  # the first member is the pipeline's own NER
        members, min_votes = ensemble_members(name)
        name, vote = members[0], {"members": [str(m) for m in members[1:]], "min_votes": min_votes}
    nlp = numpy_matmul(spacy.load(name, exclude=["lemmatizer", "attribute_ruler"]))
    if vote is not None:
        nlp.add_pipe("targetkg_ner_vote", after="ner", config=vote)
    own = nlp.meta.get("name") == "targetkg_ner"
    if not own:
        extra = dict(kv.split("=", 1) for kv in settings.ner_label_map.split(",") if "=" in kv)
        map_labels.extra = extra  # type: ignore[attr-defined]
        nlp.add_pipe("targetkg_label_map", after="ner" if "ner" in nlp.pipe_names else None)
    if not nlp.has_pipe("parser") and not nlp.has_pipe("senter"):
        add_sentence_splitter(nlp, settings.sentences, before="ner" if "ner" in nlp.pipe_names else None)
    return nlp


class LiteraturePipeline:
    """spaCy NER + scispaCy abbreviations/linking + relation classifiers."""

    def __init__(self, nlp: Language, relations=None, settings: NLPSettings | None = None):
        self.nlp = nlp
        self.relations = relations
        self.settings = settings or nlp_settings()
        self._ner_version: str | None = None
        self._one_blas_thread = SingleThreaded("blas")  # after the pipeline loaded numpy's and scipy's OpenBLAS

    @classmethod
    def load(cls, ner_model: str | Path | None = None, with_relations: bool = True, kb_dir: str | None = None,
             relation_model: str | Path | None = None, settings: NLPSettings | None = None,
             link: bool = True) -> "LiteraturePipeline":
        settings = settings or nlp_settings()
        nlp = load_ner(ner_model, settings)
        span_filter = None
        if settings.span_filter and link:
            from .span_filter import span_filter_file

            span_filter = span_filter_file(ner_model or settings.ner_model or settings.ner_dir())
        add_linking(nlp, kb_dir=kb_dir, threshold=settings.link_threshold, link=link, dictionary=settings.dictionary,
                    span_filter=span_filter)
        rel = None
        if with_relations:
            from .relations import RelationExtractor

            rel = RelationExtractor.load(relation_model or settings.relation_path())
        return cls(nlp, rel, settings)

    @property
    def model_version(self) -> str:
        """Names the NER weights and the relation model: evidence of one version is replaced as a whole,
        so two NER models (e.g. width 128 and 64) must not share a version."""
        if self._ner_version is None:
            ner = self.nlp.meta.get("targetkg", {}).get("ner_version") or f"{self.nlp.meta.get('name')}-{self.nlp.meta.get('version')}"
            if self.nlp.has_pipe("ner"):
                weights = self.nlp.get_pipe("ner").to_bytes(exclude=["vocab"])
                ner = f"{ner}-{hashlib.sha256(weights).hexdigest()[:8]}"
            if self.nlp.has_pipe("targetkg_ner_vote"):  # the other members' weights and the vote rule
                voter = self.nlp.get_pipe("targetkg_ner_vote")
                ner = f"{ner}+vote{voter.min_votes}of{len(voter.models) + 1}-{voter.weights_digest()}"
            if self.nlp.has_pipe("targetkg_dictionary"):
                from .dictionary import DICTIONARY_VERSION

                ner = f"{ner}+{DICTIONARY_VERSION}"
            if self.nlp.has_pipe("targetkg_grounding"):  # the KB decides the concepts (names, rewrites)
                from .kb import KB_VERSION

                ner = f"{ner}+{KB_VERSION}"
            if self.nlp.has_pipe("targetkg_span_filter"):  # it changes which entities are kept
                from .span_filter import FILTER_VERSION

                ner = f"{ner}+{FILTER_VERSION}-{self.nlp.get_pipe('targetkg_span_filter').digest}"
            self._ner_version = ner
        rel = self.relations.version if self.relations is not None else "none"
        return f"{self._ner_version}+{rel}"

    # ------------------------------------------------------------------ running
    def docs(self, documents: Iterable[Document], batch_size: int = 64) -> Iterator[tuple[Document, Doc]]:
        """(document, spaCy Doc) pairs, in this process. Several processes: `extract(n_process=...)`
        (spaCy's own `n_process` cannot ship these Docs back: span-valued extensions such as
        ``long_form`` do not serialise)."""
        stream = ((d.text, d) for d in documents)
        # the NER multiplies small matrices with numpy (`components.numpy_matmul`): one OpenBLAS thread
        # is faster for them (3.9 vs 4.8 ms per abstract) and does not oversubscribe the cores
        # when several processes run
        with self._one_blas_thread():
            yield from ((ctx, doc) for doc, ctx in self.nlp.pipe(stream, as_tuples=True, batch_size=batch_size))

    def extract(self, documents: Iterable[Document], batch_size: int = 64, relations: bool = True,
                n_process: int = 1) -> Iterator[ExtractedDocument]:
        """Extracted documents in input order; `n_process` > 1 forks workers that share the loaded
        pipeline copy-on-write and each take whole batches."""
        if n_process > 1:
            yield from self._extract_forked(documents, batch_size, relations, n_process)
            return
        for d, doc in self.docs(documents, batch_size=batch_size):
            ex = to_extracted(d, doc)
            if relations and self.relations is not None:
                ex.relations = self.relations.predict(ex)
            yield ex

    def _extract_forked(self, documents: Iterable[Document], batch_size: int, relations: bool,
                        n_process: int) -> Iterator[ExtractedDocument]:
        import gc
        import multiprocessing as mp
        from itertools import islice

        global _FORKED
        # without this the cyclic GC of each worker walks, and so copies, every object of the
        # 1.7 GB knowledge base (measured: 2 workers 1.45x -> 1.9x one process)
        gc.collect()  # garbage now, not frozen forever
        gc.freeze()
        _FORKED = (self, relations, batch_size)
        it = iter(documents)
        batches = iter(lambda: list(islice(it, batch_size)), [])
        try:
            with mp.get_context("fork").Pool(n_process) as pool:
                for batch in pool.imap(_extract_batch, batches):
                    yield from batch
        finally:
            _FORKED = None


_FORKED: tuple | None = None  # (pipeline, relations, batch size) of `_extract_forked`, inherited by its workers


def _extract_batch(documents: list[Document]) -> list[ExtractedDocument]:
    pipe, relations, batch_size = _FORKED
    return list(pipe.extract(documents, batch_size=batch_size, relations=relations))


def add_linking(nlp: Language, kb_dir: str | None = None, threshold: float = 0.8, link: bool = True,
                consistency: bool = True, dictionary: bool = False, span_filter: Path | None = None) -> None:
    import warnings

    import scispacy.abbreviation  # noqa: F401  (registers abbreviation_detector)

    # scispaCy's detector runs a Matcher that is empty for abstracts without abbreviations
    warnings.filterwarnings("ignore", message=r"\[W036\]")

    if dictionary and link and "targetkg_dictionary" not in nlp.pipe_names:  # it needs the KB
        from . import dictionary as _dictionary  # noqa: F401  (registers the factory)

        nlp.add_pipe("targetkg_dictionary", config={"kb_dir": kb_dir})
    last = nlp.pipe_names[-1] if nlp.pipe_names else None
    if "abbreviation_detector" not in nlp.pipe_names:
        nlp.add_pipe("abbreviation_detector", after=last)
    if "targetkg_abbreviations" not in nlp.pipe_names:
        nlp.add_pipe("targetkg_abbreviations", after="abbreviation_detector")
    if consistency and "targetkg_consistency" not in nlp.pipe_names:
        nlp.add_pipe("targetkg_consistency", after="targetkg_abbreviations")
    if link:
        from . import linking as _linking  # noqa: F401  (registers the factories)

        if "targetkg_linker" not in nlp.pipe_names:
            nlp.add_pipe("targetkg_linker", config={"kb_dir": kb_dir})
        if "targetkg_grounding" not in nlp.pipe_names:
            nlp.add_pipe("targetkg_grounding", config={"kb_dir": kb_dir, "threshold": threshold})
        if span_filter is not None and "targetkg_span_filter" not in nlp.pipe_names:  # its features need the links
            from . import span_filter as _span_filter  # noqa: F401  (registers the factory)

            nlp.add_pipe("targetkg_span_filter", config={"path": str(span_filter)})


def to_extracted(d: Document, doc: Doc) -> ExtractedDocument:
    sents = list(doc.sents)
    sent_bounds = [(s.start_char, s.end_char) for s in sents]
    tok_sent = {}
    for i, s in enumerate(sents):
        tok_sent[s.start] = i
    ents = []
    for e in doc.ents:
        lf = e._.long_form if Span.has_extension("long_form") else None
        ents.append(EntityMention(
            start=e.start_char, end=e.end_char, text=e.text, label=e.label_, sent=_sent_index(sent_bounds, e.start_char),
            concept_id=getattr(e._, "concept_id", None) if Span.has_extension("concept_id") else None,
            curie=e._.curie if Span.has_extension("curie") else None,
            node_label=e._.node_label if Span.has_extension("node_label") else None,
            score=e._.link_score if Span.has_extension("link_score") else 0.0,
            xrefs=tuple(e._.xrefs) if Span.has_extension("xrefs") else (),
            long_form=lf.text if isinstance(lf, Span) else None,
        ))
    return ExtractedDocument(d.id, d.title, d.year, d.text, sent_bounds, ents, source=d)


def _sent_index(bounds: list[tuple[int, int]], char: int) -> int:
    lo, hi = 0, len(bounds) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if bounds[mid][0] <= char:
            lo = mid
        else:
            hi = mid - 1
    return lo


def gold_extracted(d: Document, nlp: Language | None = None, kb=None) -> ExtractedDocument:
    """An ExtractedDocument from a corpus document's gold mentions and ids (for training and
    the 'gold entities' evaluation). Sentences come from the rule splitter."""
    nlp = nlp or _gold_nlp()
    doc = nlp(d.text)
    bounds = [(s.start_char, s.end_char) for s in doc.sents]
    ents = []
    for m in d.mentions:
        label = TYPE_TO_LABEL.get(m.type)
        if label is None:
            continue
        ids = tuple(i for i in m.ids if i and i != "-1")
        ents.append(EntityMention(m.start, m.end, m.text, label, _sent_index(bounds, m.start), ids=ids))
    return ExtractedDocument(d.id, d.title, d.year, d.text, bounds, ents, source=d)


_GOLD_NLP: Language | None = None


def _gold_nlp() -> Language:
    global _GOLD_NLP
    if _GOLD_NLP is None:
        from .components import blank_pipeline

        _GOLD_NLP = blank_pipeline()
        add_sentence_splitter(_GOLD_NLP)
    return _GOLD_NLP
