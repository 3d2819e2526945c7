"""Evaluation on PubTator corpora: NER, grounding, relations (end-to-end and with gold entities).

NER         strict span match: a prediction counts only with the exact character offsets and
            type of a gold mention; per type and micro-averaged over the types the corpus
            annotates among CHEMICAL/DISEASE/GENE (BC5CDR: CHEMICAL, DISEASE).
Grounding   `accuracy`: among the correctly recognised gold mentions that have ids, the share
            whose predicted concept is one of the gold ids (MeSH for chemicals/diseases,
            NCBI Gene for genes). `gold_span_accuracy`: the linker alone, run on every gold
            span with an id.
Relations   abstract level, as in BioCreative V CDR and BioRED: a relation is a pair of concept
            ids per abstract; BC5CDR: CID (chemical, disease); BioRED: any typed pair ("pairs",
            type ignored) and `typed` (pair and type). `end_to_end` uses the pipeline's own
            entities and ids from raw text; `gold_entities` uses the corpus mentions and ids.
            BC5CDR (2015) uses MeSH ids that today's MeSH, which the linker grounds to, has
            deleted (supplementary concepts promoted to descriptors): `end_to_end_current_mesh`
            leaves out the gold pairs with such an id (predictions unchanged), so the figure
            shows what the version drift costs; the headline counts them as misses.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Sequence

from spacy.tokens import Span
from spacy.util import filter_spans

from .components import TYPE_TO_LABEL
from .pipeline import LiteraturePipeline, gold_extracted, to_extracted
from .readers import Document
from .relations import BIORED_TYPES, concept_keys, current_mesh_ids, document_concepts, gold_pairs


def prf(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"f1": round(f, 4), "precision": round(p, 4), "recall": round(r, 4), "tp": tp, "fp": fp, "fn": fn}


def relation_kind(docs: Sequence[Document]) -> str | None:
    types = Counter(r.type for d in docs for r in d.relations)
    if not types:
        return None
    if types.get("CID"):
        return "cid"
    if any(t in BIORED_TYPES for t in types):
        return "biored"
    return None


def evaluate_documents(pipe: LiteraturePipeline, docs: Sequence[Document], corpus: str = "pubtator",
                       batch_size: int = 32, gold_entities: bool = True, progress: bool = False) -> dict:
    t0 = time.perf_counter()
    gold_labels = sorted({TYPE_TO_LABEL[m.type] for d in docs for m in d.mentions if m.type in TYPE_TO_LABEL})
    kind = relation_kind(docs)
    counts = {lab: [0, 0, 0] for lab in gold_labels}
    ground_ok = ground_n = 0
    rel_e2e = _RelCounter()
    rel_e2e_r = _RelCounter(restrict=True)
    rel_e2e_current = _RelCounter(known_ids=current_mesh_ids()) if kind == "cid" else None
    extracted = []
    for ex in pipe.extract(docs, batch_size=batch_size, relations=False):
        d = ex.source
        gold = {(m.start, m.end, TYPE_TO_LABEL[m.type]): m for m in d.mentions if TYPE_TO_LABEL.get(m.type) in gold_labels}
        pred = {(e.start, e.end, e.label): e for e in ex.entities if e.label in gold_labels}
        for key in pred.keys() & gold.keys():
            counts[key[2]][0] += 1
            ids = {i for i in gold[key].ids if i and i != "-1"}
            if ids:
                ground_n += 1
                ground_ok += bool(set(concept_keys(pred[key])) & ids)
        for key in pred.keys() - gold.keys():
            counts[key[2]][1] += 1
        for key in gold.keys() - pred.keys():
            counts[key[2]][2] += 1
        if kind and pipe.relations is not None:
            pred_pairs = _predicted_pairs(pipe, ex, kind)
            rel_e2e.add(d, pred_pairs, kind, found={c.key for c in document_concepts(ex).values()})
            rel_e2e_r.add(d, pred_pairs, kind)
            if rel_e2e_current is not None:
                rel_e2e_current.add(d, pred_pairs, kind)
        extracted.append(ex)
    tp, fp, fn = (sum(c[i] for c in counts.values()) for i in range(3))
    ner = prf(tp, fp, fn)
    ner["by_type"] = {lab: prf(*c) for lab, c in counts.items()}
    out: dict = {"corpus": corpus, "documents": len(docs), "model_version": pipe.model_version,
                 "ner": ner,
                 "grounding": {"accuracy": round(ground_ok / ground_n, 4) if ground_n else 0.0, "n": ground_n}}
    if gold_entities:
        out["grounding"].update(_gold_span_grounding(pipe, docs, gold_labels))
    # null, not 0.0, when nothing was evaluated: the file has no CID/BioRED relations, or the
    # pipeline has no relation model (for that kind); the keys stay for the JSON line's readers
    relation: dict = {"f1": None, "precision": None, "recall": None, "kind": kind}
    if not _has_relation_model(pipe, kind):
        relation["note"] = ("no CID or BioRED relations in the file" if not kind else
                            f"no {kind} relation model in the pipeline")
    else:
        relation.update(rel_e2e.result())
        relation["end_to_end"] = rel_e2e.result()
        if kind == "biored":
            relation["end_to_end_extracted_types"] = rel_e2e_r.result()
        if rel_e2e_current is not None:
            relation["end_to_end_current_mesh"] = rel_e2e_current.result()
            relation["end_to_end_current_mesh"]["gold_pairs_left_out"] = rel_e2e_current.left_out
        if gold_entities:
            rel_gold = _RelCounter()
            rel_gold_r = _RelCounter(restrict=True)
            for d in docs:
                g = gold_extracted(d)
                pairs = _predicted_pairs(pipe, g, kind)
                rel_gold.add(d, pairs, kind)
                rel_gold_r.add(d, pairs, kind)
            relation["gold_entities"] = rel_gold.result()
            if kind == "biored":
                relation["gold_entities_extracted_types"] = rel_gold_r.result()
    out["relation"] = relation
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def _has_relation_model(pipe: LiteraturePipeline, kind: str | None) -> bool:
    return bool(kind) and pipe.relations is not None and pipe.relations.models.get(kind) is not None


def _predicted_pairs(pipe: LiteraturePipeline, ex, kind: str) -> dict[frozenset, tuple[str, float]]:
    model = pipe.relations.models.get(kind)
    if model is None:
        return {}
    concepts = document_concepts(ex)
    return {frozenset((a.key, b.key)): (t if kind != "cid" else "CID", p) for a, b, t, p in model.predict_pairs(ex, concepts)}


class _RelCounter:
    """Abstract-level pair counts. With `restrict`, gold relations that involve an entity type
    the pipeline does not extract (BioRED variants, species, cell lines) are left out."""

    def __init__(self, restrict: bool = False, known_ids: frozenset[str] | None = None):
        self.restrict = restrict
        self.known_ids = known_ids  # gold pairs with an id outside this set are left out
        self.left_out = 0
        self.tp = self.fp = self.fn = 0
        self.typed = [0, 0, 0]
        self.by_type: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        self.gold_total = 0
        self.reachable: int | None = None  # gold pairs whose two concepts the pipeline found

    def add(self, d: Document, pred: dict[frozenset, tuple[str, float]], kind: str,
            found: set[str] | None = None) -> None:
        gold = {k: v for k, v in gold_pairs(_Wrap(d), kind).items() if len(k) == 2}
        if self.restrict:
            ids = {i for m in d.mentions if TYPE_TO_LABEL.get(m.type) for i in m.ids}
            gold = {k: v for k, v in gold.items() if k <= ids}
        if self.known_ids is not None:
            kept = {k: v for k, v in gold.items() if k <= self.known_ids}
            self.left_out += len(gold) - len(kept)
            gold = kept
        self.gold_total += len(gold)
        if found is not None:
            self.reachable = (self.reachable or 0) + sum(1 for k in gold if k <= found)
        self.tp += len(pred.keys() & gold.keys())
        self.fp += len(pred.keys() - gold.keys())
        self.fn += len(gold.keys() - pred.keys())
        gt = {(k, v) for k, v in gold.items()}
        pt = {(k, v[0]) for k, v in pred.items()}
        self.typed[0] += len(gt & pt)
        self.typed[1] += len(pt - gt)
        self.typed[2] += len(gt - pt)
        for k, t in gt & pt:
            self.by_type[t][0] += 1
        for k, t in pt - gt:
            self.by_type[t][1] += 1
        for k, t in gt - pt:
            self.by_type[t][2] += 1

    def result(self) -> dict:
        r = prf(self.tp, self.fp, self.fn)
        r["typed"] = prf(*self.typed)
        r["by_type"] = {t: prf(*c) for t, c in sorted(self.by_type.items())}
        if self.reachable is not None:
            # the recall ceiling set by NER + grounding: a pair is only predictable when both of its
            # concepts are among the abstract's grounded concepts
            r["gold_pairs_with_both_concepts_found"] = {
                "n": self.reachable, "of": self.gold_total,
                "fraction": round(self.reachable / self.gold_total, 4) if self.gold_total else None}
        return r


class _Wrap:
    def __init__(self, d: Document):
        self.source = d


def _gold_span_grounding(pipe: LiteraturePipeline, docs: Sequence[Document], labels: Sequence[str]) -> dict:
    """Linker accuracy on the gold spans (NER errors excluded)."""
    nlp = pipe.nlp
    if "targetkg_grounding" not in nlp.pipe_names:
        return {}
    steps = [(n, p) for n, p in nlp.pipeline if n in ("targetkg_sentences", "pysbd_sentencizer",
                                                        "abbreviation_detector", "targetkg_linker", "targetkg_grounding")]
    ok = n = 0
    by_type: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for d in docs:
        doc = nlp.make_doc(d.text)
        spans, ids = [], {}
        for m in d.mentions:
            lab = TYPE_TO_LABEL.get(m.type)
            gid = {i for i in m.ids if i and i != "-1"}
            if lab not in labels or not gid:
                continue
            sp = doc.char_span(m.start, m.end, label=lab)
            if sp is not None:
                spans.append(sp)
                ids[(sp.start, sp.end)] = gid
        doc.ents = filter_spans(spans)
        for _, proc in steps:
            doc = proc(doc)
        for e in doc.ents:
            gid = ids.get((e.start, e.end))
            if not gid:
                continue
            keys = set()
            if e._.concept_id:
                prefix, _, local = e._.concept_id.partition(":")
                keys.add(local if prefix in ("MESH", "NCBIGene") else e._.concept_id)
            hit = bool(keys & gid)
            n += 1
            ok += hit
            by_type[e.label_][0] += hit
            by_type[e.label_][1] += 1
    return {"gold_span_accuracy": round(ok / n, 4) if n else 0.0, "gold_span_n": n,
            "gold_span_by_type": {k: round(v[0] / v[1], 4) for k, v in sorted(by_type.items()) if v[1]}}
