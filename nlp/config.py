"""Settings of the literature pipeline (``TARGETKG_NLP_*`` environment variables).

Models and indexes are re-creatable artefacts and live outside the repository, under
``<cache_dir>/nlp/`` (``targetkg.settings.Settings.cache_dir``):

  nlp/ner/<name>/            the trained spaCy NER pipeline (`targetkg nlp train-ner`), or an
                             ensemble folder whose ensemble.json names its member models
  nlp/kb/<version>/          the linking knowledge base (JSONL) + scispaCy TF-IDF/ANN index
  nlp/relations/<name>.joblib  the relation classifiers
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from targetkg.settings import get_settings

DEFAULT_NER_NAME = "bc5cdr-biored"
# NER profiles: (cache folder, tok2vec width, depth). Same data and training; measured on
# BC5CDR dev with the dictionary matcher: fast (the default) F1 0.839 at ~210 abstracts/s for
# NER + linking on 2 cores, trained in ~5 min; accurate F1 0.842 at ~90/s, trained in 20-40 min
# (docs/nlp_design.md).
NER_PROFILES: dict[str, tuple[str, int, int]] = {
    "accurate": (DEFAULT_NER_NAME, 128, 4),
    "medium": (f"{DEFAULT_NER_NAME}-medium", 64, 4),
    "fast": (f"{DEFAULT_NER_NAME}-fast", 64, 2),
}
# NER ensembles: (cache folder, member profiles). The members vote on every span (nlp/ensemble.py);
# measured on BC5CDR dev with the dictionary matcher: F1 0.855 (fast 0.839) at 0.31x fast's speed.
NER_ENSEMBLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "ensemble": (f"{DEFAULT_NER_NAME}-ensemble", ("fast", "medium", "accurate")),
}


def profile_folder(profile: str) -> str:
    """The cache folder name of an NER profile or ensemble."""
    if profile in NER_PROFILES:
        return NER_PROFILES[profile][0]
    if profile in NER_ENSEMBLES:
        return NER_ENSEMBLES[profile][0]
    raise ValueError(f"unknown NER profile {profile!r}: expected one of {', '.join([*NER_PROFILES, *NER_ENSEMBLES])}")


DEFAULT_RELATION_NAME = "relations"


class NLPSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TARGETKG_NLP_", extra="ignore")

    # Any installed spaCy/scispaCy pipeline (package name, e.g. "en_ner_bc5cdr_md", or a
    # path) to use for NER instead of the project's own trained model.
    ner_model: str | None = None
    # Map the installed model's labels to ours, "LABEL=CHEMICAL,LABEL2=DISEASE" (scispaCy's
    # bc5cdr labels CHEMICAL/DISEASE and bionlp13cg's GENE_OR_GENE_PRODUCT are built in).
    ner_label_map: str = ""
    # which of the project's trained NER models to use (`targetkg nlp train-ner --profile`)
    ner_profile: Literal["accurate", "medium", "fast", "ensemble"] = "fast"
    relation_model: str | None = None  # path of a relation model (.joblib)
    sentences: str = Field(default="rules", description="'rules' (fast) or 'pysbd' (scispaCy's segmenter)")
    # the dictionary matcher (`nlp.dictionary`): disease spans grow to the MeSH name around them, and KB
    # names the NER missed become entities
    dictionary: bool = True
    # the NER folder's span filter (`span_filter.pkl`, trained by `targetkg nlp train-ner`) drops
    # entities a stacked classifier scores as false positives
    span_filter: bool = True
    link_threshold: float = 0.80  # minimum TF-IDF cosine for an approximate (non-exact) link
    relation_threshold: float = 0.5  # minimum probability of an extracted relation
    batch_size: int = 64
    cache_dir: Path | None = None  # default: <TARGETKG cache_dir>/nlp

    @property
    def root(self) -> Path:
        return Path(self.cache_dir) if self.cache_dir else Path(get_settings().cache_dir) / "nlp"

    def ner_dir(self, name: str | None = None) -> Path:
        """The trained model's folder: `name`, or the folder of the configured profile."""
        return self.root / "ner" / (name or profile_folder(self.ner_profile))

    def kb_dir(self, version: str) -> Path:
        return self.root / "kb" / version

    def relation_path(self, name: str = DEFAULT_RELATION_NAME) -> Path:
        return Path(self.relation_model) if self.relation_model else self.root / "relations" / f"{name}.joblib"


def nlp_settings() -> NLPSettings:
    return NLPSettings()


@dataclass(frozen=True)
class Corpus:
    name: str
    train: Path
    dev: Path


def corpora() -> dict[str, Corpus]:
    data = Path(get_settings().data)
    return {
        "bc5cdr": Corpus("bc5cdr", data / "bc5cdr" / "CDR_TrainingSet.PubTator.txt",
                         data / "bc5cdr" / "CDR_DevelopmentSet.PubTator.txt"),
        "biored": Corpus("biored", data / "biored" / "Train.PubTator", data / "biored" / "Dev.PubTator"),
    }
