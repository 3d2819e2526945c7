"""Top-level functions of the literature pipeline, called by the `targetkg` CLI.

    train_ner(...)            -> TrainResult       targetkg nlp train-ner
    train_span_filter(...)    -> dict               targetkg nlp train-ner (stacked on a single NER model)
    train_relations(...)      -> dict               targetkg nlp train-relations
    build_kb(...)             -> Path               targetkg nlp build-kb
    evaluate(...)             -> dict               targetkg nlp evaluate --corpus/--pubtator
    extract(file)             -> Iterator[ExtractedDocument]
    literature_adapter(file)  -> LiteratureAdapter  targetkg ingest literature --from FILE
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from targetkg.ingest.model import BadLines

from .config import DEFAULT_RELATION_NAME, corpora, nlp_settings
from .readers import read_documents, read_pubtator

__all__ = ["train_ner", "train_span_filter", "train_relations", "build_kb", "evaluate", "extract", "load_pipeline",
           "literature_adapter", "format_report"]


def train_ner(output: Path | str | None = None, corpora_names: Sequence[str] = ("bc5cdr", "biored"),
              max_docs: int | None = None, max_epochs: int = 30, max_seconds: float | None = None,
              width: int | None = None, progress: bool = True, patience: int = 6, profile: str | None = None,
              span_filter: bool = True, span_filter_folds: int = 2, **config):
    """Train the NER model on the training splits and save it (default: the profile's cache folder).

    Then (`span_filter`, a single model only) stack the span filter on it: `folds` more NER
    trainings on parts of the same data, about as long as the model's own (`train_span_filter`).

    `profile` ("accurate" | "medium" | "fast", default: the `ner_profile` setting) sets the folder
    and the tok2vec width and depth; explicit `width` / `depth` win. An ensemble profile
    ("ensemble") trains each member profile that is not trained yet, then writes the ensemble
    folder, and returns the members' results."""
    from .config import NER_ENSEMBLES, NER_PROFILES, profile_folder
    from .ner import NERConfig, train

    settings = nlp_settings()
    profile = profile or settings.ner_profile
    profile_folder(profile)  # a clear error for an unknown name
    if profile in NER_ENSEMBLES:
        from .ensemble import write_ensemble

        if output or width or config.get("depth"):
            raise ValueError(f"profile {profile!r} is an ensemble: its members' folders and sizes are fixed "
                             "(train a single model with --profile fast|medium|accurate to change them)")
        folder, members = NER_ENSEMBLES[profile]
        results = {}
        for member in members:
            if (settings.ner_dir(NER_PROFILES[member][0]) / "config.cfg").is_file():
                continue
            results[member] = train_ner(corpora_names=corpora_names, max_docs=max_docs, max_epochs=max_epochs,
                                        max_seconds=max_seconds, progress=progress, patience=patience,
                                        profile=member, span_filter=False, **config)  # the vote replaces it
        write_ensemble(settings.ner_dir(folder), [NER_PROFILES[m][0] for m in members])
        return results
    folder, p_width, p_depth = NER_PROFILES[profile]
    width = width or p_width
    config.setdefault("depth", p_depth)

    data = _training_documents(corpora_names, max_docs)
    out = Path(output) if output else settings.ner_dir(folder)
    cfg = NERConfig(max_epochs=max_epochs, max_seconds=max_seconds, width=width, patience=patience, **config)
    _, result = train(data, out, cfg, progress=progress)
    if span_filter:
        from .span_filter import train_span_filter as _stack

        result.span_filter = _stack(out, data, folds=span_filter_folds, kb_dir=config.get("kb_dir"),
                                    max_seconds=max_seconds, progress=progress)
    return result


def _training_documents(corpora_names: Sequence[str], max_docs: int | None = None) -> list:
    c = corpora()
    data = []
    for name in corpora_names:
        docs = list(read_pubtator(c[name].train))
        data.append((name, docs[:max_docs] if max_docs else docs))
    return data


def train_span_filter(ner_dir: Path | str, corpora_names: Sequence[str] = ("bc5cdr", "biored"),
                      max_docs: int | None = None, folds: int = 2, kb_dir: str | None = None,
                      max_seconds: float | None = None, progress: bool = True) -> dict:
    """Stack the span filter on an existing NER model folder (see `span_filter.train_span_filter`)."""
    from .span_filter import train_span_filter as _stack

    return _stack(ner_dir, _training_documents(corpora_names, max_docs), folds=folds, kb_dir=kb_dir,
                  max_seconds=max_seconds, progress=progress)


def build_kb(force: bool = False, progress: bool = True) -> Path:
    """Build (or find) the linking knowledge base and its scispaCy TF-IDF/ANN index."""
    from .kb import build_linker_kb

    return build_linker_kb(force=force, progress=progress)


def load_pipeline(ner_model: str | Path | None = None, relations: bool = True, **kwargs):
    """The full pipeline (`targetkg.nlp.pipeline.LiteraturePipeline`)."""
    from .pipeline import LiteraturePipeline

    return LiteraturePipeline.load(ner_model=ner_model, with_relations=relations, **kwargs)


def train_relations(output: Path | str | None = None, max_docs: int | None = None, progress: bool = True,
                    ner_model: Path | str | None = None) -> dict:
    """Train the relation classifiers (BC5CDR CID + BioRED) on the training splits.

    The CID model also trains on the held-out documents of an NER model's span-filter stacking:
    `ner_model` (a folder), by default the pipeline's own NER model (none for an installed
    spaCy/scispaCy model)."""
    from .relations import train_relation_models

    out = Path(output) if output else nlp_settings().relation_path(DEFAULT_RELATION_NAME)
    return train_relation_models(out, max_docs=max_docs, progress=progress, ner_dir=default_heldout_ner_dir(ner_model))


def default_heldout_ner_dir(ner_model: Path | str | None = None) -> Path | None:
    """The NER folder whose held-out stacking documents the relation models train on."""
    if ner_model is not None:
        return Path(ner_model)
    settings = nlp_settings()
    return None if settings.ner_model else settings.ner_dir()


def evaluate(corpus: str | None = None, split: str = "dev", pubtator: Path | str | None = None,
             max_docs: int | None = None, ner_model: str | Path | None = None, kb_dir: str | Path | None = None,
             relation_model: str | Path | None = None, pipeline=None, **kwargs) -> dict:
    """NER / grounding / relation figures on a corpus split or any PubTator file."""
    from .evaluate import evaluate_documents

    if pubtator is not None:
        docs = list(read_pubtator(pubtator))
        name = corpus or "pubtator"
    else:
        if corpus not in corpora():
            raise ValueError(f"unknown corpus {corpus!r}: expected one of {sorted(corpora())}")
        c = corpora()[corpus]
        path = {"dev": c.dev, "train": c.train}.get(split)
        if path is None:
            raise ValueError(f"split {split!r} not available: the corpora here have 'train' and 'dev' (no test split)")
        docs = list(read_pubtator(path))
        name = corpus
    if max_docs:
        docs = docs[:max_docs]
    pipe = pipeline or load_pipeline(ner_model=ner_model, kb_dir=str(kb_dir) if kb_dir else None,
                                     relation_model=relation_model)
    return evaluate_documents(pipe, docs, corpus=name, **kwargs)


def extract(file: Path | str, fmt: str = "auto", bad_lines: BadLines | None = None, pipeline=None,
            batch_size: int | None = None) -> Iterator:
    """Stream `ExtractedDocument`s (entities with ids, relations with evidence) from a file."""
    pipe = pipeline or load_pipeline()
    yield from pipe.extract(read_documents(file, fmt=fmt, bad_lines=bad_lines),
                            batch_size=batch_size or nlp_settings().batch_size)


def literature_adapter(file: Path | str, **kwargs):
    from .adapter import LiteratureAdapter

    return LiteratureAdapter(file, **kwargs)


def format_report(result: dict) -> str:
    """A readable table of an `evaluate` result (the CLI prints it before the JSON line)."""
    lines = [f"corpus {result.get('corpus')}  documents {result.get('documents')}  model {result.get('model_version')}"]
    ner = result["ner"]
    lines.append(f"{'NER (strict)':<28} {'P':>7} {'R':>7} {'F1':>7}")
    for label, r in ner["by_type"].items():
        lines.append(f"  {label:<26} {r['precision']:>7.4f} {r['recall']:>7.4f} {r['f1']:>7.4f}")
    lines.append(f"  {'all':<26} {ner['precision']:>7.4f} {ner['recall']:>7.4f} {ner['f1']:>7.4f}")
    g = result["grounding"]
    lines.append(f"grounding accuracy (recognised mentions) {g['accuracy']:.4f}  (n={g.get('n')})")
    if "gold_span_accuracy" in g:
        per = "  ".join(f"{k} {v:.4f}" for k, v in g.get("gold_span_by_type", {}).items())
        lines.append(f"grounding accuracy (gold spans)          {g['gold_span_accuracy']:.4f}  {per}")
    rel = result.get("relation") or {}
    if rel.get("kind"):
        lines.append(f"{'relations (' + rel['kind'] + ', abstract level)':<28} {'P':>7} {'R':>7} {'F1':>7}")
        for name in ("end_to_end", "end_to_end_extracted_types", "end_to_end_current_mesh", "gold_entities",
                     "gold_entities_extracted_types"):
            r = rel.get(name)
            if not r:
                continue
            lines.append(f"  {name:<30} {r['precision']:>7.4f} {r['recall']:>7.4f} {r['f1']:>7.4f}")
            if rel["kind"] == "biored":
                t = r["typed"]
                lines.append(f"  {name + ' (pair+type)':<30} {t['precision']:>7.4f} {t['recall']:>7.4f} {t['f1']:>7.4f}")
                for typ, x in r.get("by_type", {}).items():
                    lines.append(f"    {typ:<24} {x['precision']:>7.4f} {x['recall']:>7.4f} {x['f1']:>7.4f}")
        reach = (rel.get("end_to_end") or {}).get("gold_pairs_with_both_concepts_found")
        if reach and reach["of"]:
            lines.append(f"  gold pairs with both concepts found (end-to-end recall ceiling): {reach['n']} of "
                         f"{reach['of']} ({reach['fraction']:.4f})")
    return "\n".join(lines)
