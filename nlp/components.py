"""spaCy building blocks: biomedical tokenizer rules, a fast sentence splitter, entity labels.

Tokenisation: spaCy's English rules plus biomedical infixes. scispaCy's
`combined_rule_tokenizer` keeps "haloperidol-induced" or "(BHA)-induced" as one token, so
10% of the BC5CDR/BioRED gold mentions would not start or end on a token boundary and could
never be found; splitting on hyphens, slashes, brackets and signs inside words (and a final
period after any letter, "apoE.") leaves 0.14% of the dev mentions unaligned. The rules are
saved with the pipeline (`nlp.to_disk` stores the tokenizer's patterns), so a loaded model
tokenises exactly as it was trained.

Sentences: `targetkg_sentences`, a rule splitter that knows the abbreviations of abstracts
("i.v.", "e.g.", "et al.", "vs.") and needs no model: a sentence ends at . ! ? when the next
token starts upper-case, with a digit or a bracket. scispaCy's `pysbd_sentencizer` can be
used instead (`TARGETKG_NLP_SENTENCES=pysbd`), at about a tenth of the speed.
"""

from __future__ import annotations

import numpy
import spacy
from spacy.attrs import SENT_START
from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import compile_infix_regex, compile_suffix_regex

LABELS = ("CHEMICAL", "DISEASE", "GENE")


class SingleThreaded:
    """`with one_thread():` runs the `user_api` thread pools ("blas", "openmp") on one thread.

    threadpoolctl's controller scans the loaded libraries once (8 ms), when this object is made,
    so make it after the libraries it must limit are loaded (several OpenMP runtimes can be
    loaded: torch's and scikit-learn's)."""

    def __init__(self, user_api: str):
        from threadpoolctl import ThreadpoolController

        self.user_api = user_api
        self.controller = ThreadpoolController()

    def __call__(self):
        return self.controller.limit(limits=1, user_api=self.user_api)


def numpy_matmul(nlp: Language) -> Language:
    """Let the pipeline's models multiply matrices with numpy (OpenBLAS) instead of thinc's blis.

    Measured on this machine's AMD EPYC, one thread: the tok2vec's gemm shapes run 2.6x faster in
    OpenBLAS, the NER 5.1 -> 3.9 ms per abstract, and the entities of 640 abstracts are identical.
    Only CPU (NumpyOps) models are touched; GPU ops stay as they are."""
    from thinc.api import Model, NumpyOps

    ops = NumpyOps(use_blis=False)
    for _, proc in nlp.pipeline:
        model = getattr(proc, "model", None)
        if isinstance(model, Model):
            for node in model.walk():
                if type(node.ops) is NumpyOps:
                    node.ops = ops
    return nlp

# corpus / model entity type -> pipeline label
TYPE_TO_LABEL = {
    "Chemical": "CHEMICAL",
    "ChemicalEntity": "CHEMICAL",
    "CHEMICAL": "CHEMICAL",
    "SIMPLE_CHEMICAL": "CHEMICAL",
    "Disease": "DISEASE",
    "DiseaseOrPhenotypicFeature": "DISEASE",
    "DISEASE": "DISEASE",
    "CANCER": "DISEASE",
    "GeneOrGeneProduct": "GENE",
    "Gene": "GENE",
    "GENE": "GENE",
    "GENE_OR_GENE_PRODUCT": "GENE",
}

BIO_INFIXES = [r"[-/+()\[\]:;,=<>~'\"%]"]
BIO_SUFFIXES = [r"(?<=[A-Za-z0-9])\."]


def biomedical_tokenizer(nlp: Language):
    """spaCy's English tokenizer with biomedical infix/suffix rules (see module doc)."""
    tok = nlp.tokenizer
    tok.infix_finditer = compile_infix_regex(list(nlp.Defaults.infixes) + BIO_INFIXES).finditer
    tok.suffix_search = compile_suffix_regex(list(nlp.Defaults.suffixes) + BIO_SUFFIXES).search
    return tok


def blank_pipeline() -> Language:
    nlp = spacy.blank("en")
    nlp.tokenizer = biomedical_tokenizer(nlp)
    return nlp


# Tokens after which a period does not end a sentence (lower-cased, without the period).
_NO_BREAK_BEFORE_PERIOD = {
    "i.v", "i.p", "i.m", "s.c", "p.o", "i.c.v", "i.t", "e.g", "i.e", "vs", "al", "fig", "figs",
    "approx", "ca", "cf", "no", "nos", "dr", "prof", "mr", "mrs", "ms", "st", "sp", "spp", "var",
    "ref", "refs", "resp", "viz", "etc", "inc", "ltd", "co", "corp", "jan", "feb", "mar", "apr",
    "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "min", "max", "u.s", "e.u", "b.i.d",
    "t.i.d", "q.i.d", "q.d", "h.s", "p.r.n",
}
_OPENERS = {"(", "[", '"', "'"}


@Language.component("targetkg_sentences")
def targetkg_sentences(doc: Doc) -> Doc:
    n = len(doc)
    if not n:
        return doc
    toks = [t.text for t in doc]
    starts_at = [0]
    i = 0
    while i < n - 1:
        text = toks[i]
        if text in (".", "!", "?"):
            prev = toks[i - 1].lower() if i else ""
            j = i + 1
            # closing brackets/quotes after the stop belong to this sentence
            while j < n and toks[j] in (")", "]", '"', "'"):
                j += 1
            if j >= n:
                break
            nt = toks[j]
            starts = nt[:1].isupper() or nt[:1].isdigit() or (nt in _OPENERS and j + 1 < n and toks[j + 1][:1].isupper())
            if starts and text == "." and (prev in _NO_BREAK_BEFORE_PERIOD or (len(prev) == 1 and prev.isalpha())):
                starts = False
            if starts:
                starts_at.append(j)
            i = j
            continue
        i += 1
    flags = numpy.full(n, -1, dtype="int64")  # -1: "not a sentence start"
    flags[starts_at] = 1
    doc.from_array([SENT_START], flags.astype("uint64").reshape(n, 1))
    return doc


def add_sentence_splitter(nlp: Language, kind: str = "rules", before: str | None = None) -> None:
    """Add the sentence splitter (`rules` = targetkg_sentences, `pysbd` = scispaCy's)."""
    name = "pysbd_sentencizer" if kind == "pysbd" else "targetkg_sentences"
    if kind == "pysbd":
        import scispacy.custom_sentence_segmenter  # noqa: F401  (registers the component)
    if name in nlp.pipe_names:
        return
    kwargs = {"before": before} if before and before in nlp.pipe_names else {"first": True}
    nlp.add_pipe(name, **kwargs)
