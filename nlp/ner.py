"""Training the project's own spaCy NER (CHEMICAL, DISEASE, GENE) from BC5CDR and BioRED.

scispaCy's published NER models cannot be downloaded here, so `train_ner` trains a spaCy
pipeline (biomedical tokenizer + transition-based NER on a CNN tok2vec) on the training
splits of the real corpora in ``shared/data``:

  BC5CDR training (500 abstracts)  Chemical, Disease              -> CHEMICAL, DISEASE
  BioRED training (400 abstracts)  ChemicalEntity, DiseaseOrPhenotypicFeature,
                                   GeneOrGeneProduct               -> CHEMICAL, DISEASE, GENE

BC5CDR does not annotate genes. Treating its gene names as "outside" would teach the model
that genes are not entities, so in BC5CDR documents every token that is an HGNC symbol,
alias or previous symbol (case-sensitive, from the real HGNC table) and is not inside a gold
mention is marked *missing* (no loss either way): partial-annotation training.

The development splits are never used for training or model selection; 5% of the training
documents are held out to pick the best checkpoint (averaged parameters).
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.training import Example
from spacy.util import filter_spans, minibatch

from .components import LABELS, TYPE_TO_LABEL, blank_pipeline
from .readers import Document

log = logging.getLogger(__name__)

NER_VERSION = "targetkg-ner-1"


@dataclass
class NERConfig:
    width: int = 128  # tok2vec width
    depth: int = 4  # CNN layers (receptive field = 1 + 2*depth tokens)
    embed_rows: tuple[int, int, int, int] = (10000, 2000, 5000, 5000)  # NORM, PREFIX, SUFFIX, SHAPE
    hidden_width: int = 64
    dropout: float = 0.15
    batch_words: int = 2000
    learn_rate: float = 0.001
    max_epochs: int = 30
    patience: int = 6  # epochs without improvement on the held-out part
    max_seconds: float | None = None  # training budget (tests use a few seconds)
    heldout_fraction: float = 0.05
    seed: int = 0
    mark_missing_genes: bool = True
    gazetteer: bool = False  # dictionary statistics of the vocabularies as static vectors (measured: no gain)
    kb_dir: str | None = None  # KB whose names feed the gazetteer vectors (default: the cached KB)

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


def ner_component_config(cfg: NERConfig) -> dict:
    rows = list(cfg.embed_rows)
    return {
        "model": {
            "@architectures": "spacy.TransitionBasedParser.v2",
            "state_type": "ner",
            "extra_state_tokens": False,
            "hidden_width": cfg.hidden_width,
            "maxout_pieces": 2,
            "use_upper": True,
            "nO": None,
            "tok2vec": {
                "@architectures": "spacy.Tok2Vec.v2",
                "embed": {
                    "@architectures": "spacy.MultiHashEmbed.v2",
                    "width": cfg.width,
                    "attrs": ["NORM", "PREFIX", "SUFFIX", "SHAPE"],
                    "rows": rows,
                    "include_static_vectors": cfg.gazetteer,
                },
                "encode": {
                    "@architectures": "spacy.MaxoutWindowEncoder.v2",
                    "width": cfg.width,
                    "depth": cfg.depth,
                    "window_size": 1,
                    "maxout_pieces": 3,
                },
            },
        }
    }


def _gene_symbol_set() -> set[str]:
    """All HGNC approved, previous and alias symbols (case-sensitive)."""
    from targetkg.ingest.identifiers import GeneVocabulary
    from targetkg.ingest.vocab import hgnc_table

    vocab = GeneVocabulary.from_tsv(hgnc_table())
    out: set[str] = set()
    for r in vocab.records:
        out.add(r.symbol)
        out.update(r.aliases)
        out.update(r.previous)
    return {s for s in out if len(s) >= 2 and any(c.isupper() or c.isdigit() for c in s)}


def make_reference(nlp: Language, d: Document, labels: Sequence[str] = LABELS,
                   missing_tokens: set[str] | None = None) -> Doc | None:
    """A gold `Doc` with the document's mentions of `labels` as entities.

    Mentions that do not fall on token boundaries are widened to the enclosing tokens;
    overlapping mentions keep the longest. Tokens whose text is in `missing_tokens` and
    that are outside every mention are marked missing.
    """
    doc = nlp.make_doc(d.text)
    spans: list[Span] = []
    for m in d.mentions:
        label = TYPE_TO_LABEL.get(m.type)
        if label not in labels:
            continue
        sp = doc.char_span(m.start, m.end, label=label) or doc.char_span(m.start, m.end, label=label, alignment_mode="expand")
        if sp is not None and len(sp):
            spans.append(sp)
    spans = filter_spans(spans)
    missing = None
    if missing_tokens:
        covered = {i for sp in spans for i in range(sp.start, sp.end)}
        missing = [doc[i:i + 1] for i, t in enumerate(doc) if i not in covered and t.text in missing_tokens]
    doc.set_ents(spans, missing=missing or None, default="outside")
    return doc


def training_examples(nlp: Language, corpora: Iterable[tuple[str, Iterable[Document]]],
                      mark_missing_genes: bool = True) -> list[Example]:
    """Examples from (corpus name, documents); BC5CDR documents get missing gene tokens."""
    genes = None
    out = []
    for name, docs in corpora:
        labels = LABELS if name != "bc5cdr" else ("CHEMICAL", "DISEASE")
        miss = None
        if name == "bc5cdr" and mark_missing_genes:
            genes = genes if genes is not None else _gene_symbol_set()
            miss = genes
        for d in docs:
            ref = make_reference(nlp, d, labels, miss)
            if ref is not None:
                out.append(Example(nlp.make_doc(d.text), ref))
    return out


@dataclass
class TrainResult:
    path: Path | None
    epochs: int
    seconds: float
    heldout_f1: float
    history: list[dict] = field(default_factory=list)
    span_filter: dict | None = None  # `span_filter.train_span_filter`'s report, when one was stacked on the model


def _score(nlp: Language, examples: Sequence[Example]) -> float:
    if not examples:
        return 0.0
    scores = nlp.evaluate(examples)
    return float(scores.get("ents_f") or 0.0)


def train(corpora: Sequence[tuple[str, Sequence[Document]]], output: Path | None, cfg: NERConfig | None = None,
          progress: bool = False) -> tuple[Language, TrainResult]:
    """Train the NER pipeline on the documents; save it to `output` (when given)."""
    cfg = cfg or NERConfig()
    random.seed(cfg.seed)
    spacy.util.fix_random_seed(cfg.seed)
    nlp = blank_pipeline()
    if cfg.gazetteer:
        from .gazetteer import add_gazetteer_vectors
        from .kb import KB_FILE, build_linker_kb

        kb_dir = Path(cfg.kb_dir) if cfg.kb_dir else build_linker_kb(progress=progress)
        add_gazetteer_vectors(nlp, kb_dir / KB_FILE)
    ner = nlp.add_pipe("ner", config=ner_component_config(cfg))
    for label in LABELS:
        ner.add_label(label)
    examples = training_examples(nlp, corpora, cfg.mark_missing_genes)
    rng = random.Random(cfg.seed)
    rng.shuffle(examples)
    n_held = int(len(examples) * cfg.heldout_fraction) if len(examples) >= 40 else 0
    heldout, train_ex = examples[:n_held], examples[n_held:]
    optimizer = nlp.initialize(lambda: train_ex)
    optimizer.learn_rate = cfg.learn_rate
    start = time.perf_counter()
    best = (-1.0, None, 0)
    history = []
    epoch = 0
    stale = 0
    out_of_time = False
    for epoch in range(1, cfg.max_epochs + 1):
        rng.shuffle(train_ex)
        losses: dict[str, float] = {}
        for batch in minibatch(train_ex, size=_word_batcher(cfg.batch_words)):
            nlp.update(batch, drop=cfg.dropout, sgd=optimizer, losses=losses)
            if cfg.max_seconds is not None and time.perf_counter() - start > cfg.max_seconds:
                out_of_time = True
                break
        with nlp.use_params(optimizer.averages):
            f1 = _score(nlp, heldout) if heldout else 0.0
            if f1 > best[0] or not heldout:
                best = (f1, nlp.to_bytes(), epoch)
                stale = 0
            else:
                stale += 1
        history.append({"epoch": epoch, "loss": round(float(losses.get("ner", 0.0)), 2), "heldout_f1": round(f1, 4),
                        "seconds": round(time.perf_counter() - start, 1)})
        if progress:
            print(json.dumps(history[-1]), flush=True)
        if out_of_time or stale >= cfg.patience:
            break
    if best[1] is not None:
        nlp.from_bytes(best[1])
    nlp.meta["name"] = "targetkg_ner"
    nlp.meta["version"] = "1.0.0"
    nlp.meta["description"] = "TargetKG NER (CHEMICAL, DISEASE, GENE) trained on BC5CDR + BioRED training splits"
    nlp.meta["targetkg"] = {"ner_version": NER_VERSION, "config": cfg.to_dict(), "history": history,
                            "corpora": [(name, len(docs)) for name, docs in corpora], "best_epoch": best[2]}
    result = TrainResult(output, epoch, time.perf_counter() - start, max(best[0], 0.0), history)
    if output is not None:
        output = Path(output)
        output.parent.mkdir(parents=True, exist_ok=True)
        tmp = output.with_name(output.name + ".tmp")
        if tmp.exists():
            import shutil
            shutil.rmtree(tmp)
        nlp.to_disk(tmp)
        if output.exists():
            import shutil
            shutil.rmtree(output)
        tmp.rename(output)
    return nlp, result


def _word_batcher(words: int):
    """Batch sizes for `minibatch` so that each batch has about `words` tokens."""
    def sizes():
        while True:
            yield max(1, words // 250)
    return sizes()
