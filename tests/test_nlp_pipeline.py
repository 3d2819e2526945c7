"""The literature pipeline on the real corpora: NER training, linking, relations, adapter, Dask.

Everything here is trained or built small within the test (a tiny NER with a one-minute
budget, relation classifiers on part of the training splits, a KB of HGNC + MeSH descriptors
with a small ANN index cached under the cache directory), so the suite needs no prepared model.
Figures of the full models are in docs/nlp_design.md (`targetkg nlp evaluate`).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from targetkg.nlp.readers import Document, read_pubtator

DATA = Path(os.environ.get("TARGETKG_DATA", Path(__file__).resolve().parent.parent / ".." / "shared" / "data")).resolve()
BC5CDR_TRAIN = DATA / "bc5cdr" / "CDR_TrainingSet.PubTator.txt"
BC5CDR_DEV = DATA / "bc5cdr" / "CDR_DevelopmentSet.PubTator.txt"
BIORED_TRAIN = DATA / "biored" / "Train.PubTator"


# the tiny NER (10 epochs over 100+60 training abstracts, about 30 s) must reach this strict-span F1 on
# held-out BC5CDR development abstracts (chemicals + diseases); the full model: see the docs
TINY_NER_MIN_F1 = 0.45  # measured 0.61
SCHEMA_ADDITIONS = {"CONTRIBUTES_TO", "ASSOCIATED_WITH"}


@pytest.fixture(scope="session")
def kb_dir():
    from targetkg.nlp.config import nlp_settings
    from targetkg.nlp.kb import KB_VERSION, build_linker_kb

    return build_linker_kb(out_dir=nlp_settings().root / "kb" / f"test-{KB_VERSION}", sources={"hgnc", "mesh"},
                           ann_sources={"mesh"}, ann_m=12, ann_ef_construction=60, ann_names_only=True, progress=False)


@pytest.fixture(scope="session")
def train_docs():
    return list(read_pubtator(BC5CDR_TRAIN)), list(read_pubtator(BIORED_TRAIN))


@pytest.fixture(scope="session")
def dev_docs():
    return list(read_pubtator(BC5CDR_DEV))


@pytest.fixture(scope="session")
def tiny_ner(kb_dir, train_docs, tmp_path_factory):
    from targetkg.nlp.ner import NERConfig, train

    bc, br = train_docs
    out = tmp_path_factory.mktemp("ner") / "tiny"
    cfg = NERConfig(width=64, depth=2, embed_rows=(5000, 1000, 2500, 2500), max_seconds=150, max_epochs=10,
                    learn_rate=0.002, kb_dir=str(kb_dir), heldout_fraction=0.0)
    _, result = train([("bc5cdr", bc[:100]), ("biored", br[:60])], out, cfg)
    assert (out / "config.cfg").is_file() and result.epochs >= 1
    return out


@pytest.fixture(scope="session")
def relation_model(train_docs, tmp_path_factory):
    from targetkg.nlp.pipeline import gold_extracted
    from targetkg.nlp.relations import RelationExtractor, fit_model

    bc, br = train_docs
    # CID with the stacked second stage, as trained for the product (cross-validated threshold)
    cid = fit_model([gold_extracted(d) for d in bc[:200]], "cid", C=0.3, stack="on")
    assert cid.booster is not None and 0.1 <= cid.threshold < 0.9
    bio = fit_model([gold_extracted(d) for d in br[:100]], "biored", C=0.3, cv=False, threshold=0.3)
    path = tmp_path_factory.mktemp("rel") / "relations.joblib"
    RelationExtractor({"cid": cid, "biored": bio}, "rel-test").save(path)
    return path


def ruler_pipeline_dir(docs: list[Document], out: Path) -> Path:
    """A spaCy pipeline whose 'NER' is an entity ruler of the documents' gold mentions: tests of
    linking, relations and loading that do not depend on the tiny NER's recall."""
    from targetkg.nlp.components import TYPE_TO_LABEL, add_sentence_splitter, blank_pipeline

    nlp = blank_pipeline()
    add_sentence_splitter(nlp)
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "ORTH"})
    patterns = {(TYPE_TO_LABEL[m.type], m.text) for d in docs for m in d.mentions if m.type in TYPE_TO_LABEL}
    ruler.add_patterns([{"label": lab, "pattern": text} for lab, text in sorted(patterns)])
    nlp.to_disk(out)
    return out


# --------------------------------------------------------------------------------------


def test_tiny_ner_finds_dev_entities(tiny_ner, kb_dir, dev_docs):
    from targetkg.nlp.evaluate import evaluate_documents
    from targetkg.nlp.pipeline import LiteraturePipeline

    pipe = LiteraturePipeline.load(ner_model=tiny_ner, kb_dir=str(kb_dir), with_relations=False)
    assert pipe.nlp.pipe_names[:2] == ["targetkg_sentences", "ner"]
    assert {"abbreviation_detector", "targetkg_linker", "targetkg_grounding"} <= set(pipe.nlp.pipe_names)
    result = evaluate_documents(pipe, dev_docs[:30], corpus="bc5cdr", gold_entities=False)
    ner = result["ner"]
    assert set(ner["by_type"]) == {"CHEMICAL", "DISEASE"}
    assert ner["f1"] >= TINY_NER_MIN_F1, ner
    # what is found is grounded to MeSH ids of the corpus more often than not
    assert result["grounding"]["n"] > 20 and result["grounding"]["accuracy"] >= 0.5, result["grounding"]


def test_dictionary_matcher_learned_from_training_and_adds_missed_names(kb_dir):
    from spacy.tokens import Span

    from targetkg.nlp.components import add_sentence_splitter, blank_pipeline
    from targetkg.nlp.dictionary import DictionaryMatcher, load_dictionary

    learned = load_dictionary(str(kb_dir))
    stats, terms = learned["stats"], learned["terms"]
    assert stats["training_documents"] == 900  # BC5CDR 500 + BioRED 400 training abstracts, nothing from dev
    # unseen names fire by class where the class was precise in the other half of the training documents:
    # disease names and small molecules (MeSH D02 organic, D03 heterocyclic) do, proteins (D12) do not
    firing = set(stats["unseen_classes_firing"])
    assert {"DISEASE/long", "DISEASE/short", "CHEMICAL/mesh:D02", "CHEMICAL/mesh:D03"} <= firing, stats
    assert "CHEMICAL/mesh:D12" not in firing and stats["unseen_class_precision"]["CHEMICAL/mesh:D12"] < 0.5, stats
    # MeSH chemicals that the training texts use often but never annotate do not fire, nor do protein names
    assert "water" not in terms and "drug" not in terms and "tubulin" not in terms
    assert terms["seizure"] == "DISEASE" and terms["haloperidol"] == "CHEMICAL" and terms["chloramphenicol"] == "CHEMICAL"

    nlp = blank_pipeline()
    add_sentence_splitter(nlp)
    match = DictionaryMatcher(terms, learned["starts"])
    doc = nlp("Venous thrombo-embolism and seizures followed haloperidol in water.")
    doc.ents = [Span(doc, 7, 8, label="CHEMICAL")]  # what the NER found
    ents = [(e.text, e.label_) for e in match(doc).ents]
    assert ents == [("Venous thrombo-embolism", "DISEASE"), ("seizures", "DISEASE"), ("haloperidol", "CHEMICAL")]
    # never over an entity the NER found
    doc = nlp("Venous thrombo-embolism and seizures.")
    doc.ents = [Span(doc, 1, 4, label="CHEMICAL")]
    assert [(e.text, e.label_) for e in match(doc).ents] == [("thrombo-embolism", "CHEMICAL"), ("seizures", "DISEASE")]


def test_dictionary_raises_ner_recall_on_dev(tiny_ner, kb_dir, dev_docs):
    from targetkg.nlp.config import nlp_settings
    from targetkg.nlp.evaluate import evaluate_documents
    from targetkg.nlp.pipeline import LiteraturePipeline

    with_dict = LiteraturePipeline.load(ner_model=tiny_ner, kb_dir=str(kb_dir), with_relations=False)
    assert with_dict.nlp.pipe_names.index("targetkg_dictionary") == with_dict.nlp.pipe_names.index("ner") + 1
    off = nlp_settings().model_copy(update={"dictionary": False})
    without = LiteraturePipeline.load(ner_model=tiny_ner, kb_dir=str(kb_dir), with_relations=False, settings=off)
    assert "targetkg_dictionary" not in without.nlp.pipe_names
    assert with_dict.model_version != without.model_version
    a = evaluate_documents(without, dev_docs[:60], corpus="bc5cdr", gold_entities=False)["ner"]
    b = evaluate_documents(with_dict, dev_docs[:60], corpus="bc5cdr", gold_entities=False)["ner"]
    assert b["by_type"]["DISEASE"]["recall"] > a["by_type"]["DISEASE"]["recall"] + 0.02, (a, b)
    assert b["f1"] > a["f1"], (a, b)


def test_batched_linking_equals_linking_one_document_at_a_time(tiny_ner, kb_dir, dev_docs):
    """`pipe` links a batch's new mentions in one ANN query; the result must not depend on batching."""
    from targetkg.nlp.pipeline import LiteraturePipeline

    pipe = LiteraturePipeline.load(ner_model=tiny_ner, kb_dir=str(kb_dir), with_relations=False)
    gen = pipe.nlp.get_pipe("targetkg_linker").candidate_generator
    texts = [d.text for d in dev_docs[:40]]

    def ents(docs):
        return [[(e.start_char, e.end_char, e.label_, e._.concept_id, round(e._.link_score, 6), e._.curie,
                  tuple(e._.kb_ents[:3])) for e in doc.ents] for doc in docs]

    gen.clear_caches()
    batched = ents(pipe.nlp.pipe(texts, batch_size=16))
    gen.clear_caches()
    single = ents(pipe.nlp(t) for t in texts)
    assert batched == single
    assert sum(1 for doc in batched for e in doc if e[3]) > 100


def test_model_version_names_the_ner_weights(tiny_ner):
    """Evidence is replaced per model version, so a retrained NER (same code, other weights) needs its own."""
    from targetkg.nlp.pipeline import LiteraturePipeline

    first = LiteraturePipeline.load(ner_model=tiny_ner, with_relations=False, link=False)
    again = LiteraturePipeline.load(ner_model=tiny_ner, with_relations=False, link=False)
    assert first.model_version == again.model_version
    model = again.nlp.get_pipe("ner").model
    name = next(n for n in model.get_ref("tok2vec").walk() if n.has_param("W"))
    name.set_param("W", name.get_param("W") + 0.01)
    assert LiteraturePipeline(again.nlp).model_version != first.model_version


def test_known_mentions_link_to_graph_ids(kb_dir):

    from targetkg.nlp.components import add_sentence_splitter, blank_pipeline
    from targetkg.nlp.pipeline import add_linking

    nlp = blank_pipeline()
    add_sentence_splitter(nlp)
    add_linking(nlp, kb_dir=str(kb_dir))
    text = ("Naloxone reverses the antihypertensive effect of clonidine in spontaneously hypertensive rats "
            "carrying BRCA1 variants; clonidin (sic) and acetaminophen were given.")
    doc = nlp.make_doc(text)
    spans = {"Naloxone": "CHEMICAL", "clonidine": "CHEMICAL", "hypertensive": "DISEASE", "BRCA1": "GENE",
             "clonidin": "CHEMICAL", "acetaminophen": "CHEMICAL"}
    ents = []
    for word, label in spans.items():
        start = re.search(rf"\b{word}\b", text).start()
        ents.append(doc.char_span(start, start + len(word), label=label))
    doc.ents = ents
    for name, proc in nlp.pipeline:
        if name != "targetkg_abbreviations":
            doc = proc(doc)
    got = {e.text: (e._.concept_id, e._.curie, e._.node_label, e._.link_method) for e in doc.ents}
    assert got["clonidine"][0] == "MESH:D003000"
    assert got["Naloxone"][0] == "MESH:D009270" and got["Naloxone"][2] == "Drug" and got["Naloxone"][1].startswith("DRUGBANK:")
    assert got["hypertensive"][0] == "MESH:D006973"  # the annotators' synonym, from the training split
    assert got["hypertensive"][1].startswith("DOID:") and got["hypertensive"][2] == "Disease"
    assert got["BRCA1"][:3] == ("NCBIGene:672", "NCBIGene:672", "Gene")
    assert got["clonidin"][0] == "MESH:D003000" and got["clonidin"][3] == "ann"  # scispaCy TF-IDF/ANN candidate
    assert got["acetaminophen"][0] == "MESH:D000082"
    # scispaCy's EntityLinker wrote its candidates (kb_ents), best first, for the entities it linked
    kb = {e.text: e._.kb_ents for e in doc.ents}
    assert kb["clonidin"] and kb["clonidin"][0][0] == "MESH:D003000"


def test_british_spellings_link_to_the_american_vocabulary_names(kb_dir):
    from targetkg.nlp.kb import american_spelling
    from targetkg.nlp.linking import load_linker_resources

    assert american_spelling("Hypokalaemia") == "hypokalemia"
    assert american_spelling("oedema of the oesophagus") == "edema of the esophagus"
    assert american_spelling("bladder tumours") == "bladder tumors"
    assert american_spelling("leucocytoclastic vasculitis") == "leukocytoclastic vasculitis"
    _, gen = load_linker_resources(str(kb_dir))
    ids = {t: [c.concept_id for c in gen.exact(t)] for t in
           ("anaemia", "Hypokalaemia", "oedema", "haemorrhagic cystitis", "Haemophilus Infections", "aerosol")}
    assert ids["anaemia"] == ["MESH:D000740"] and ids["Hypokalaemia"] == ["MESH:D007008"]
    assert ids["oedema"] == ["MESH:D004487"] and ids["haemorrhagic cystitis"]
    # a name the vocabulary spells the British way is matched as it is
    assert ids["Haemophilus Infections"] == ["MESH:D006192"]
    assert ids["aerosol"] == [c.concept_id for c in gen.exact("Aerosols")]


def test_supplementary_concepts_mapped_to_several_descriptors_are_in_the_kb():
    """The MeSH table lists the descriptors a supplementary concept maps to separated by commas
    ("D010879,D013844" for ziprasidone); 30% of the concepts map to more than one. They were once
    dropped, so "ziprasidone" grounded to DrugBank instead of the corpus' MeSH C092292."""
    from targetkg.nlp.kb import _iter_vocab_concepts

    supp = {cid: (name, info.label) for cid, name, _aliases, info in _iter_vocab_concepts({"mesh_supp"})}
    assert supp["MESH:C092292"] == ("ziprasidone", "CHEMICAL")  # maps to Piperazines, Thiazoles
    assert supp["MESH:C000002"] == ("bevonium", "CHEMICAL")  # one descriptor: as before
    # 255,585 of 323,304 rows (kb-2: 160k); the rest map to organisms (B, 65,746) or other branches
    assert len(supp) > 250_000


def test_disease_ontology_synonyms_fill_gaps_of_mesh_diseases():
    """DOID, MONDO and HPO synonyms of a term that cross-references exactly one MeSH id become
    names of that MeSH disease ("incoordination" is Ataxia, "skin rash" Exanthema; MeSH's own
    entry terms lack both, BC5CDR annotates both), but only where no concept has the name yet."""
    from targetkg.nlp.kb import add_disease_xref_aliases, disease_xref_names, normalize

    xrefs = disease_xref_names()
    assert "incoordination" in {normalize(n) for n in xrefs["D001259"]}
    assert normalize("skin rash") in {normalize(n) for n in xrefs["D005076"]}
    concepts = {"MESH:D001259": ["Ataxia", ["Dyssynergia"], ("DISEASE", "mesh", 1)],
                "MESH:D005076": ["Exanthema", [], ("DISEASE", "mesh", 1)],
                "MESH:D000001": ["Skin Rash", [], ("DISEASE", "mesh", 1)],  # a name another concept has
                "MESH:D012345": ["Some Chemical", [], ("CHEMICAL", "mesh", 1)]}
    added = add_disease_xref_aliases(concepts, {"D001259": ["Incoordination", "ataxia"], "D005076": ["skin rash"],
                                                "D012345": ["a disease name"]})
    assert concepts["MESH:D001259"][1] == ["Dyssynergia", "Incoordination"]  # "ataxia" is its name already
    assert concepts["MESH:D005076"][1] == []  # "skin rash" names D000001: not added to compete with it
    assert concepts["MESH:D012345"][1] == [] and added == 1  # chemicals are left alone


def test_one_word_rewrites_learned_from_training_mentions():
    from targetkg.nlp.kb import learn_rewrites

    names = {"MESH:D006331": ["Heart Diseases", "Cardiac Diseases"], "MESH:D008113": ["Liver Neoplasms"],
             "MESH:D009135": ["Muscular Diseases"]}
    mentions = [("MESH:D006331", "heart damage", "DISEASE"), ("MESH:D006331", "cardiac damage", "DISEASE"),
                ("MESH:D008113", "liver tumours", "DISEASE"), ("MESH:D008113", "liver tumor", "DISEASE"),
                ("MESH:D008113", "Liver Neoplasms", "DISEASE"),  # a name already: no vote
                ("MESH:D009135", "damage to muscles", "DISEASE"),  # other length: no vote
                ("MESH:D000000", "unknown damage", "DISEASE")]  # concept without names: ignored
    rules = learn_rewrites(names, mentions, min_count=2)
    # British spelling and plural "s" do not split the votes; a single vote is not enough
    assert rules == {"DISEASE": {"damage": ("disease",), "tumor": ("neoplasm",)}}
    assert learn_rewrites(names, mentions[:1], min_count=2) == {}


def test_learned_rewrites_ground_what_no_name_matches(kb_dir):
    """The test KB learns its rewrites from the real training splits (BC5CDR, BioRED)."""
    from targetkg.nlp.kb import REWRITE_SIMILARITY
    from targetkg.nlp.linking import load_linker_resources

    kb, gen = load_linker_resources(str(kb_dir))
    assert "disease" in kb.rewrites["DISEASE"]["damage"] and "neoplasm" in kb.rewrites["DISEASE"]["tumor"]
    # dev mentions the annotators grounded that no vocabulary name spells out
    for text, mesh in (("heart damage", "MESH:D006331"), ("liver tumours", "MESH:D008113"),
                       ("neurological dysfunction", "MESH:D009422")):
        cands = gen.exact(text)
        assert [c.concept_id for c in cands] == [mesh], text
        assert cands[0].similarities == [REWRITE_SIMILARITY]
    assert [c.similarities for c in gen.exact("Heart Diseases")] == [[1.0]]  # a name: exact, not a rewrite
    assert gen.exact("heart xyzzy") == []

    from targetkg.nlp.components import add_sentence_splitter, blank_pipeline
    from targetkg.nlp.pipeline import add_linking

    nlp = blank_pipeline()
    add_sentence_splitter(nlp)
    add_linking(nlp, kb_dir=str(kb_dir))
    doc = nlp.make_doc("Doxorubicin caused heart damage in rats.")
    doc.ents = [doc.char_span(0, 11, label="CHEMICAL"), doc.char_span(19, 31, label="DISEASE")]
    for name, proc in nlp.pipeline:
        if name != "targetkg_abbreviations":
            doc = proc(doc)
    got = {e.text: (e._.concept_id, e._.link_method) for e in doc.ents}
    assert got["heart damage"] == ("MESH:D006331", "rewrite") and got["Doxorubicin"][1] == "exact"


def test_grounding_repairs_a_chemical_disease_type_mix_up(kb_dir):
    """A CHEMICAL/DISEASE entity whose text is exactly a name of the other of the two types takes
    that type and concept; genes and entities with a concept of their own type stay as they are."""
    from targetkg.nlp.components import add_sentence_splitter, blank_pipeline
    from targetkg.nlp.pipeline import add_linking

    nlp = blank_pipeline()
    add_sentence_splitter(nlp)
    add_linking(nlp, kb_dir=str(kb_dir))
    text = "Mitoxantrone caused nystagmus , hypotension and aspirin use ; BRCA1 was normal ."
    doc = nlp.make_doc(text)
    tagged = {"Mitoxantrone": "DISEASE", "nystagmus": "CHEMICAL", "hypotension": "DISEASE", "aspirin": "CHEMICAL",
              "BRCA1": "DISEASE"}
    ents = []
    for word, label in tagged.items():
        start = text.index(word)
        ents.append(doc.char_span(start, start + len(word), label=label))
    doc.ents = ents
    for name, proc in nlp.pipeline:
        if name != "targetkg_abbreviations":
            doc = proc(doc)
    got = {e.text: (e.label_, e._.concept_id, e._.link_method) for e in doc.ents}
    assert got["Mitoxantrone"] == ("CHEMICAL", "MESH:D008942", "exact")
    assert got["nystagmus"][:2] == ("DISEASE", "MESH:D009759")
    assert got["hypotension"] == ("DISEASE", "MESH:D007022", "exact") and got["aspirin"][:2] == ("CHEMICAL", "MESH:D001241")
    assert got["BRCA1"][0] == "DISEASE"  # a gene name: not a chemical/disease mix-up
    # the repaired entity keeps the linker's candidates (extension values follow the characters)
    assert next(e for e in doc.ents if e.text == "nystagmus")._.kb_ents


def test_disease_spans_grow_to_the_vocabulary_name_around_them():
    from spacy.tokens import Span

    from targetkg.nlp.components import add_sentence_splitter, blank_pipeline
    from targetkg.nlp.dictionary import extend_diseases, vocabulary_disease_names

    names = vocabulary_disease_names()
    assert "erythemamultiforme" in names and "unstableangina" in names and "carbamazepine" not in names
    nlp = blank_pipeline()
    add_sentence_splitter(nlp)

    def grow(text, spans):
        doc = nlp(text)
        ents = []
        for word, label in spans:
            start = text.index(word)
            ents.append(doc.char_span(start, start + len(word), label=label))
        return [(e.text, e.label_) for e in extend_diseases(doc, ents, names)]

    assert grow("Carbamazepine caused erythema multiforme and unstable angina.",
                [("Carbamazepine", "CHEMICAL"), ("erythema", "DISEASE"), ("angina", "DISEASE")]) == [
        ("Carbamazepine", "CHEMICAL"), ("erythema multiforme", "DISEASE"), ("unstable angina", "DISEASE")]
    # never over another entity, a comma or a sentence end; never grown into a non-name
    assert grow("Unstable, angina.", [("angina", "DISEASE")]) == [("angina", "DISEASE")]
    assert grow("Erythema. Multiforme lesions.", [("Erythema", "DISEASE")]) == [("Erythema", "DISEASE")]
    assert grow("unstable angina", [("unstable", "CHEMICAL"), ("angina", "DISEASE")]) == [
        ("unstable", "CHEMICAL"), ("angina", "DISEASE")]
    assert grow("severe angina pain", [("angina", "DISEASE")]) == [("angina", "DISEASE")]
    # joiners inside a name are fine, and a plural name is found through its singular
    assert grow("Two venous thrombo-embolisms occurred.", [("thrombo-embolisms", "DISEASE")]) == [
        ("venous thrombo-embolisms", "DISEASE")]


def test_disease_span_growth_raises_disease_f1_on_dev(tiny_ner, kb_dir, dev_docs):
    """Decided on the training splits (held-out halves of the span filter's stacking: disease F1 +0.015
    BC5CDR, +0.018 BioRED); here the tiny NER on dev abstracts."""
    from targetkg.nlp.evaluate import evaluate_documents
    from targetkg.nlp.pipeline import LiteraturePipeline

    pipe = LiteraturePipeline.load(ner_model=tiny_ner, kb_dir=str(kb_dir), with_relations=False)
    matcher = pipe.nlp.get_pipe("targetkg_dictionary")
    assert matcher.disease_names
    grown = evaluate_documents(pipe, dev_docs[:100], corpus="bc5cdr", gold_entities=False)["ner"]["by_type"]["DISEASE"]
    names, matcher.disease_names = matcher.disease_names, frozenset()
    try:
        plain = evaluate_documents(pipe, dev_docs[:100], corpus="bc5cdr", gold_entities=False)["ner"]["by_type"]["DISEASE"]
    finally:
        matcher.disease_names = names
    assert grown["f1"] > plain["f1"] + 0.005, (plain, grown)


def test_abbreviations_propagate_entity_types(kb_dir):

    from targetkg.nlp.components import add_sentence_splitter, blank_pipeline
    from targetkg.nlp.pipeline import add_linking

    nlp = blank_pipeline()
    add_sentence_splitter(nlp)
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "CHEMICAL", "pattern": [{"LOWER": "cyclosporin"}, {"LOWER": "a"}]}])
    add_linking(nlp, kb_dir=str(kb_dir))
    doc = nlp("Treatment with cyclosporin A (CsA) caused nephrotoxicity. CsA levels were high.")
    ents = [(e.text, e.label_, e._.concept_id) for e in doc.ents]
    assert ents[0][:2] == ("cyclosporin A", "CHEMICAL")
    short = [e for e in ents if e[0] == "CsA"]
    assert len(short) == 2 and all(e[1] == "CHEMICAL" for e in short)
    # the short form is linked through its long form (scispaCy resolve_abbreviations)
    assert short[0][2] == ents[0][2] == "MESH:D016572"
    assert [str(e._.long_form) for e in doc.ents if e.text == "CsA"] == ["cyclosporin A", "cyclosporin A"]


def test_abbreviation_propagation_does_not_depend_on_the_order_scispacy_yields_short_forms():
    """scispaCy keeps an abbreviation's short forms in a set of Spans (hashed with id(doc)), so their
    order changes from run to run; a long form whose short forms the NER typed differently must get
    the same type every time (the first short form's), or a re-run loads other entities."""
    import random

    import scispacy.abbreviation  # noqa: F401  (registers Span._.long_form, Doc._.abbreviations)
    from spacy.tokens import Span

    from targetkg.nlp.components import blank_pipeline
    from targetkg.nlp.pipeline import propagate_abbreviations

    nlp = blank_pipeline()
    text = "Factor VIII related antigen (FVIIIRAg) rose ; FVIIIRAg fell ; FVIIIRAg was stable ."
    results = set()
    for seed in range(8):
        doc = nlp.make_doc(text)
        starts = [i for i, t in enumerate(doc) if t.text == "FVIIIRAg"]
        doc.ents = [Span(doc, starts[0], starts[0] + 1, label="GENE"), Span(doc, starts[1], starts[1] + 1, label="DISEASE")]
        long_form = doc[0:4]
        shorts = [doc[i:i + 1] for i in starts]
        for sf in shorts:
            sf._.long_form = long_form
        random.Random(seed).shuffle(shorts)
        doc._.abbreviations = shorts
        doc = propagate_abbreviations(doc)
        results.add(tuple((e.text, e.label_) for e in doc.ents))
    assert len(results) == 1
    assert next(iter(results))[0] == ("Factor VIII related antigen", "GENE")


def test_biored_positive_correlations_of_chemicals_and_diseases_train_cid(train_docs):
    """BioRED's chemical-disease Positive_Correlation pairs are CID training data; nothing else of
    BioRED is, the entities stay as they are, and the corpus document is not changed."""
    from targetkg.nlp.components import TYPE_TO_LABEL
    from targetkg.nlp.pipeline import gold_extracted
    from targetkg.nlp.relations import as_cid_document, featurize_docs, gold_pairs

    _, br = train_docs
    kept = dropped = 0
    for d in br[:80]:
        ex = gold_extracted(d)
        cid = as_cid_document(ex)
        label_of = {i: TYPE_TO_LABEL.get(m.type) for m in d.mentions for i in m.ids}
        expect = {frozenset((r.id1, r.id2)) for r in d.relations if r.type == "Positive_Correlation"
                  and {label_of.get(r.id1), label_of.get(r.id2)} == {"CHEMICAL", "DISEASE"}}
        assert set(gold_pairs(cid, "cid")) == expect and all(r.type == "CID" for r in cid.source.relations)
        assert cid.entities is ex.entities and d.relations == ex.source.relations and cid.source is not d
        kept += len(expect)
        dropped += len(d.relations) - len(expect)
    assert kept >= 20 and dropped > kept, (kept, dropped)
    # a document's copies (gold and predicted entities) share one cross-validation group
    first, second = [ex for ex in map(gold_extracted, br[:20]) if {"CHEMICAL", "DISEASE"} <= {m.label for m in ex.entities}][:2]
    row_doc: list[int] = []
    _, _, groups, _ = featurize_docs([first, second, as_cid_document(first)], "cid", doc_index=row_doc)
    group_of_doc = {i: {g for g, j in zip(groups, row_doc) if j == i} for i in range(3)}
    assert group_of_doc[0] == group_of_doc[2] != group_of_doc[1] and all(len(v) == 1 for v in group_of_doc.values())


def test_cid_figure_without_mesh_ids_deleted_since_the_corpus():
    """BC5CDR (2015) annotates amisulpride as supplementary concept C012052, which today's MeSH
    replaced by descriptor D000077582; `end_to_end_current_mesh` leaves such gold pairs out and
    counts them, the headline keeps them as misses."""
    from targetkg.nlp.evaluate import _RelCounter
    from targetkg.nlp.readers import Relation
    from targetkg.nlp.relations import current_mesh_ids

    current = current_mesh_ids()
    assert "D000077582" in current and "C012052" not in current and "D004409" in current
    doc = Document("PMID:1", "Amisulpride and haloperidol induced dyskinesia.", "", None, [],
                   [Relation("CID", "C012052", "D004409"), Relation("CID", "D006220", "D004409")])
    predicted = {frozenset(("D000077582", "D004409")): ("CID", 0.9), frozenset(("D006220", "D004409")): ("CID", 0.8)}
    strict, drift_free = _RelCounter(), _RelCounter(known_ids=current)
    strict.add(doc, predicted, "cid")
    drift_free.add(doc, predicted, "cid")
    assert (strict.tp, strict.fp, strict.fn) == (1, 1, 1)
    assert (drift_free.tp, drift_free.fp, drift_free.fn, drift_free.left_out) == (1, 1, 0, 1)


def test_stacked_stage_is_chosen_by_average_precision_not_by_one_f1_point():
    import numpy as np

    from targetkg.nlp.relations import _best_threshold, cv_average_precision

    positive = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], dtype=bool)
    selected = np.ones(10, dtype=bool)
    # linear: one negative first, then all four positives: the better best F1 (0.89), worse ranking
    linear = np.array([0.9, 0.85, 0.8, 0.75, 0.95, 0.5, 0.4, 0.3, 0.2, 0.1])
    # stacked: two positives first, three negatives, then the other two positives
    stacked = np.array([0.95, 0.9, 0.7, 0.65, 0.85, 0.8, 0.75, 0.3, 0.2, 0.1])
    assert _best_threshold(linear, positive, selected)[0] > _best_threshold(stacked, positive, selected)[0]
    ap_linear, ap_stacked = cv_average_precision(linear, stacked, positive=positive, selected=selected)
    assert ap_stacked > ap_linear
    # only the selected rows count
    (ap_first_half,) = cv_average_precision(linear, positive=positive, selected=np.arange(10) < 5)
    assert ap_first_half == pytest.approx((1 / 2 + 2 / 3 + 3 / 4 + 4 / 5) / 4)


def test_threshold_partitions_keep_each_document_in_one_fold():
    """The CID threshold averages the F1 curves of `CV_REPEATS` fold partitions: each one keeps a
    document's copies together, repeat 0 is the plain GroupKFold, the others differ from it."""
    import numpy as np
    from sklearn.model_selection import GroupKFold

    from targetkg.nlp.relations import CV_REPEATS, _group_folds

    groups = np.repeat(np.arange(40), 3)  # 40 documents, 3 candidate pairs each
    X = np.zeros((len(groups), 1))
    y = np.zeros(len(groups))
    plain = [te.tolist() for _, te in GroupKFold(n_splits=5).split(X, y, groups)]
    partitions = [[te.tolist() for _, te in _group_folds(X, y, groups, r)] for r in range(CV_REPEATS)]
    assert CV_REPEATS >= 3 and partitions[0] == plain
    for folds in partitions:
        assert sorted(i for te in folds for i in te) == list(range(len(groups)))  # every row tested once
        for te in folds:  # a fold holds every copy of its documents
            assert set(np.flatnonzero(np.isin(groups, groups[te]))) == set(te)
    as_sets = [sorted(frozenset(groups[te]) for te in folds) for folds in partitions]
    assert as_sets[1] != as_sets[0] and as_sets[2] != as_sets[1]
    assert [[te.tolist() for _, te in _group_folds(X, y, groups, 1)]] == [partitions[1]]  # reproducible


def test_known_relation_from_known_abstract(relation_model, dev_docs):
    from targetkg.nlp.pipeline import gold_extracted
    from targetkg.nlp.relations import RelationExtractor

    rel = RelationExtractor.load(relation_model)
    doc = next(d for d in dev_docs if d.id == "PMID:6504332")  # held out: not in the training split
    assert doc.title == "Phenobarbital-induced dyskinesia in a neurologically-impaired child."
    gold = {(r.id1, r.id2) for r in doc.relations if r.type == "CID"}
    ex = gold_extracted(doc)
    preds = {(a.key, b.key): p for a, b, _t, p in rel.models["cid"].predict_pairs(ex)}
    assert ("D010634", "D004409") in gold and ("D010634", "D004409") in preds
    assert preds[("D010634", "D004409")] >= 0.5
    # abstract-level scores on 60 held-out abstracts with gold entities
    tp = fp = fn = 0
    for d in dev_docs[:60]:
        g = {frozenset((r.id1, r.id2)) for r in d.relations if r.type == "CID"}
        p = {frozenset((a.key, b.key)) for a, b, _t, _p in rel.models["cid"].predict_pairs(gold_extracted(d))}
        tp, fp, fn = tp + len(g & p), fp + len(p - g), fn + len(g - p)
    f1 = 2 * tp / (2 * tp + fp + fn)
    assert f1 >= 0.40, (tp, fp, fn)


def _edge_checks(records, evidence, schema_types):
    from targetkg.ingest.model import Edge, Node

    pubs = [r for r in records if isinstance(r, Node) and r.label == "Publication"]
    edges = [r for r in records if isinstance(r, Edge)]
    nodes = {r.id: r for r in records if isinstance(r, Node)}
    assert pubs and edges
    keys = [(e.subject, e.predicate, e.object) for e in edges]
    assert len(keys) == len(set(keys))  # one aggregated edge per (subject, predicate, object)
    for e in edges:
        assert e.predicate in schema_types, e.predicate
        assert e.subject in nodes and e.object in nodes  # endpoints are yielded too
        p = e.props
        assert p["agent_type"] == "text_mining_agent" and p["knowledge_level"] == "knowledge_assertion"
        assert p["evidence_count"] >= len(p["pmids"]) >= 1 and list(e.evidence) == p["pmids"]
        assert 0 < p["mean_probability"] <= p["max_probability"] <= 1
    by_edge = {}
    for ev in evidence:
        by_edge.setdefault((ev.subject, ev.predicate, ev.object), []).append(ev)
        assert ev.pmid in {p.id for p in pubs} and ev.sentence and 0 < ev.probability <= 1
        assert ev.relation_type in ev.relation_types and ev.props["relation_types"] == list(ev.relation_types)
    # one Evidence record per id (the models' predictions of one edge in one abstract are merged),
    # and evidence_count is the number of distinct ids, i.e. of the Evidence nodes the writer makes
    assert len({ev.id for ev in evidence}) == len(evidence)
    for e in edges:
        assert len({ev.id for ev in by_edge[(e.subject, e.predicate, e.object)]}) == e.props["evidence_count"]
        types = {t for ev in by_edge[(e.subject, e.predicate, e.object)] for t in ev.relation_types}
        assert types == set(e.props["relation_types"])
    return pubs, edges


def test_merged_predictions_one_edge_per_abstract_with_all_relation_types():
    """CID and BioRED's Positive_Correlation both map chemical -> disease to CONTRIBUTES_TO: one
    relation per (subject, predicate, object), the highest probability, every relation type, and
    one Evidence per sentence with its highest probability."""
    from targetkg.nlp.pipeline import Evidence, ExtractedRelation
    from targetkg.nlp.relations import merge_relations

    def rel(rtype, p, sents, obj="MESH:D004409"):
        return ExtractedRelation(type=rtype, predicate="CONTRIBUTES_TO", subject="DRUGBANK:DB01174", subject_label="Drug",
                                 object=obj, object_label="Disease", probability=p, subject_concept="MESH:D010634",
                                 object_concept=obj, model=rtype, evidence=[Evidence(f"s{i}", i, q) for i, q in sents],
                                 subject_name="phenobarbital", object_name="dyskinesia")

    merged = merge_relations([rel("CID", 0.7, [(0, 0.7), (2, 0.7)]), rel("Positive_Correlation", 0.9, [(2, 0.9), (3, 0.9)]),
                              rel("CID", 0.6, [(1, 0.6)], obj="MESH:D001")])
    assert len(merged) == 2
    first = merged[0]
    assert first.type == "CID|Positive_Correlation" and first.probability == 0.9
    assert [(e.sent, e.probability) for e in first.evidence] == [(0, 0.7), (2, 0.9), (3, 0.9)]
    assert merged[1].type == "CID" and merged[1].object == "MESH:D001"


def test_adapter_records_idempotent_and_versioned(relation_model, kb_dir, dev_docs, tmp_path):
    from targetkg.graph.schema import load_schema
    from targetkg.ingest.model import Node
    from targetkg.nlp.adapter import LiteratureAdapter
    from targetkg.nlp.pipeline import LiteraturePipeline

    docs = dev_docs[:20]
    src = tmp_path / "abstracts.jsonl"
    src.write_text("".join(json.dumps({"pmid": d.pmid, "title": d.title, "abstract": d.abstract, "year": 1990}) + "\n"
                           for d in docs))
    ner = ruler_pipeline_dir(docs, tmp_path / "ruler")
    pipe = LiteraturePipeline.load(ner_model=ner, kb_dir=str(kb_dir), relation_model=relation_model)
    schema_types = set(load_schema().relationships) | SCHEMA_ADDITIONS

    a1 = LiteratureAdapter(src, pipeline=pipe)
    r1 = list(a1.records())
    pubs, edges = _edge_checks(r1, a1.evidence(), schema_types)
    assert {p.id for p in pubs} == {d.id for d in docs}
    assert all(p.props["year"] == 1990 and p.props["title"] for p in pubs)
    assert a1.provenance().agent_type == "text_mining_agent"
    # node names are the KB's canonical names, the mentions are synonyms
    from targetkg.nlp.linking import load_linker_resources

    kb, _ = load_linker_resources(str(kb_dir))
    entity_nodes = [r for r in r1 if isinstance(r, Node) and r.label != "Publication"]
    canonical = [n for n in entity_nodes if n.id in kb.cui_to_entity]
    assert canonical and all(n.name == kb.cui_to_entity[n.id].canonical_name for n in canonical)
    assert any(n.synonyms for n in entity_nodes) and all(n.name not in n.synonyms for n in entity_nodes)
    # known chemical-induced diseases of the corpus are among the edges (ids or MeSH xrefs), each
    # with evidence sentences from the abstract that annotates it
    node_ids = {r.id: {r.id, *r.xrefs} for r in r1 if isinstance(r, Node)}
    gold = {(f"MESH:{r.id1}", f"MESH:{r.id2}"): d.id for d in docs for r in d.relations if r.type == "CID"}
    found = {}
    for e in edges:
        if e.predicate != "CONTRIBUTES_TO":
            continue
        for chem in node_ids[e.subject]:
            for dis in node_ids[e.object]:
                if (chem, dis) in gold and gold[(chem, dis)] in e.props["pmids"]:
                    found[(chem, dis)] = e
    assert len(found) >= 5, (len(gold), sorted(found))
    evidence = a1.evidence()
    for (chem, dis), e in found.items():
        sentences = [ev for ev in evidence if (ev.subject, ev.predicate, ev.object) == (e.subject, e.predicate, e.object)
                     and ev.pmid == gold[(chem, dis)]]
        doc = next(d for d in docs if d.id == gold[(chem, dis)])
        assert sentences and all(ev.sentence in doc.text for ev in sentences)
    # idempotent: the same input gives the same records and evidence ids
    a2 = LiteratureAdapter(src, pipeline=pipe)
    r2 = list(a2.records())
    assert [repr(r) for r in r1] == [repr(r) for r in r2]
    assert [e.id for e in a1.evidence()] == [e.id for e in a2.evidence()]
    # a new model version writes new evidence ids (the writer replaces that version's evidence)
    pipe.relations.version = "rel-test-2"
    a3 = LiteratureAdapter(src, pipeline=pipe)
    list(a3.records())
    assert {e.model_version for e in a3.evidence()} == {a3.model_version} != {a1.model_version}
    assert not ({e.id for e in a3.evidence()} & {e.id for e in a1.evidence()})


def test_dask_local_cluster_matches_single_process(relation_model, kb_dir, dev_docs, tmp_path):
    from targetkg.nlp.adapter import LiteratureAdapter
    from targetkg.nlp.distributed import run_files
    from targetkg.nlp.pipeline import LiteraturePipeline

    docs = dev_docs[20:36]
    ner = ruler_pipeline_dir(docs, tmp_path / "ruler")
    shards = []
    for i in range(2):
        p = tmp_path / f"shard-{i}.jsonl"
        p.write_text("".join(json.dumps({"pmid": d.pmid, "title": d.title, "abstract": d.abstract}) + "\n"
                             for d in docs[i * 8:(i + 1) * 8]))
        shards.append(p)
    spec = {"ner_model": str(ner), "kb_dir": str(kb_dir), "relation_model": str(relation_model)}
    result = run_files(shards, n_workers=2, spec=spec, processes=True)
    assert result.partial.documents == 16 and len(result.partial.workers) >= 1
    both = tmp_path / "all.jsonl"
    both.write_text(shards[0].read_text() + shards[1].read_text())
    pipe = LiteraturePipeline.load(ner_model=ner, kb_dir=str(kb_dir), relation_model=relation_model)
    single = LiteratureAdapter(both, pipeline=pipe)

    def edge_view(records):
        from targetkg.ingest.model import Edge

        return sorted((e.subject, e.predicate, e.object, e.props["evidence_count"], tuple(e.props["pmids"]),
                       e.props["max_probability"]) for e in records if isinstance(e, Edge))

    expected = edge_view(single.records())
    assert expected and single.evidence()  # the comparison below must not be [] == []
    assert edge_view(result.records()) == expected
    assert sorted(e.id for e in result.evidence) == sorted(e.id for e in single.evidence())


# --------------------------------------------------------------------------------------
# Neo4j: edges and Evidence through the project's writer
# --------------------------------------------------------------------------------------


def test_evidence_retrievable_by_cypher_and_loading_idempotent(empty_db, settings, relation_model, kb_dir, tmp_path):
    from conftest import graph_checksum
    from targetkg.graph.writer import GraphWriter
    from targetkg.ingest.model import Edge
    from targetkg.nlp.adapter import LiteratureAdapter
    from targetkg.nlp.pipeline import LiteraturePipeline

    docs = list(read_pubtator(DATA / "biored" / "Dev.PubTator"))[:15]
    src = tmp_path / "biored.jsonl"
    src.write_text("".join(json.dumps({"pmid": d.pmid, "title": d.title, "abstract": d.abstract, "year": 2021}) + "\n"
                           for d in docs))
    ner = ruler_pipeline_dir(docs, tmp_path / "ruler")
    pipe = LiteraturePipeline.load(ner_model=ner, kb_dir=str(kb_dir), relation_model=relation_model)

    def load(adapter):
        records = list(adapter.records())
        writer = GraphWriter(empty_db, database=settings.neo4j_database, release="nlp-test", progress=False, workers=1)
        writer.ensure_schema()
        stats = writer.write(records, adapter.provenance())
        assert stats.dangling == 0
        evidence = adapter.evidence()
        written = writer.write_evidence(evidence, publications=adapter.publications())
        assert written == len(evidence)  # every sentence finds its endpoints and publication
        assert literature_mismatches(empty_db, settings.neo4j_database) == []
        return written, records

    n1, records = load(LiteratureAdapter(src, pipeline=pipe))
    gene_edges = [r for r in records if isinstance(r, Edge) and r.predicate == "GENE_ASSOCIATED_WITH_CONDITION"]
    assert n1 > 0 and gene_edges
    edge = gene_edges[0]
    rows, _, _ = empty_db.execute_query(
        "MATCH (g:Gene {id: $s})-[r:GENE_ASSOCIATED_WITH_CONDITION]->(d:Disease {id: $o}) "
        "MATCH (e:Evidence {predicate: 'GENE_ASSOCIATED_WITH_CONDITION'})-[:HAS_SUBJECT]->(g), (e)-[:HAS_OBJECT]->(d), "
        "(e)-[:FROM_PUBLICATION]->(p:Publication) "
        "RETURN r.evidence_count AS n, r.agent_type AS agent, p.id AS pmid, p.year AS year, e.sentence AS sentence, "
        "e.probability AS prob, e.model_version AS version", {"s": edge.subject, "o": edge.object},
        database_=settings.neo4j_database)
    assert len(rows) == edge.props["evidence_count"] and rows[0]["agent"] == "text_mining_agent"
    text = {d.id: d.text for d in docs}
    for r in rows:
        assert r["sentence"].split(" … ")[0] in text[r["pmid"]] and r["year"] == 2021 and 0 < r["prob"] <= 1
    # the analysts' library query and the API's GET /edges show the same sentences
    text = (Path(__file__).resolve().parent.parent / "cypher" / "literature" / "edge_evidence.cypher").read_text()
    assert text.startswith("// Question:") and "// Parameters:" in text and "// Example:" in text
    lib = empty_db.execute_query(text.rstrip().rstrip(";"), {"a": edge.object, "b": edge.subject},
                                 database_=settings.neo4j_database).records
    lib = [r for r in lib if r["type"] == "GENE_ASSOCIATED_WITH_CONDITION"]
    assert sorted((r["pmid"], r["sentence"]) for r in lib) == sorted((r["pmid"], r["sentence"]) for r in rows)
    from fastapi.testclient import TestClient
    from targetkg.service.app import create_app

    with TestClient(create_app()) as client:
        body = client.get("/edges", params={"a": edge.subject, "b": edge.object, "sentences": 100}).json()
    (mined,) = [e for e in body["edges"] if e["type"] == "GENE_ASSOCIATED_WITH_CONDITION"]
    assert mined["kind"] == "text_mined" and mined["evidence_count"] == edge.props["evidence_count"]
    assert mined["sentences_total"] == len(rows) and mined["model_version"] == pipe.model_version
    assert sorted((x["pmid"], x["sentence"]) for x in mined["sentences"]) == sorted((r["pmid"], r["sentence"]) for r in rows)
    probs = [x["probability"] for x in mined["sentences"]]
    assert probs == sorted(probs, reverse=True) and all(x["year"] == 2021 and x["title"] for x in mined["sentences"])
    assert all(x["relation_type"] in x["relation_types"] for x in mined["sentences"])
    assert sorted(t for r in lib for t in r["relation_types"]) == sorted(t for x in mined["sentences"]
                                                                          for t in x["relation_types"])

    before = graph_checksum(empty_db, settings.neo4j_database)
    n2, _ = load(LiteratureAdapter(src, pipeline=pipe))  # the same model again: nothing changes
    assert n2 == n1 and graph_checksum(empty_db, settings.neo4j_database) == before
    old_version = rows[0]["version"]

    def evidence_per_version() -> dict:
        versions, _, _ = empty_db.execute_query("MATCH (e:Evidence) RETURN e.model_version AS v, count(*) AS n",
                                                database_=settings.neo4j_database)
        return {r["v"]: r["n"] for r in versions}

    old_count = evidence_per_version()[old_version]
    assert old_count == n1  # one Evidence node per record: predictions of one edge and abstract are merged
    # a new model version replaces the evidence of the loaded publications, whatever version wrote
    # it (docs/nlp_design.md, Loading); the edges' totals follow
    pipe.relations.version = "rel-test-2"
    load(LiteratureAdapter(src, pipeline=pipe))
    assert evidence_per_version() == {pipe.model_version: n1}
    versions, _, _ = empty_db.execute_query(
        "MATCH ()-[r]->() WHERE r.agent_type = 'text_mining_agent' RETURN collect(DISTINCT r.model_version) AS v, "
        "collect(DISTINCT r.model_versions) AS vs", database_=settings.neo4j_database)
    assert versions[0]["v"] == [pipe.model_version] and versions[0]["vs"] == [[pipe.model_version]]


def literature_mismatches(drv, database: str) -> list:
    """Text-mined edges whose totals differ from their Evidence nodes (count, PMIDs, best probability)."""
    rows, _, _ = drv.execute_query(
        "MATCH (s)-[r]->(o) WHERE r.agent_type = 'text_mining_agent' "
        "OPTIONAL MATCH (s)<-[:HAS_SUBJECT]-(e:Evidence)-[:HAS_OBJECT]->(o) WHERE e.predicate = type(r) "
        "WITH s, r, o, count(e) AS n, collect(DISTINCT e.pmid) AS pmids, max(e.probability) AS best "
        "WHERE n <> r.evidence_count OR n = 0 OR size(pmids) <> size(r.pmids) OR any(p IN pmids WHERE NOT p IN r.pmids) "
        "   OR r.evidence <> r.pmids OR round(best, 4) <> r.max_probability "
        "RETURN s.id AS s, type(r) AS p, o.id AS o, n, r.evidence_count AS count", database_=database)
    return [dict(r) for r in rows]


def _jsonl(path: Path, docs, pmid=None, abstract=None) -> Path:
    """JSON lines of `docs`; `pmid` renames documents, `abstract` replaces their whole text (title too)."""
    pmid, abstract = pmid or {}, abstract or {}
    path.write_text("".join(json.dumps({"pmid": pmid.get(d.pmid, d.pmid), "title": "" if d.pmid in abstract else d.title,
                                        "abstract": abstract.get(d.pmid, d.abstract), "year": 2001}) + "\n"
                            for d in docs))
    return path


def test_two_files_add_up_and_reloads_replace_evidence(empty_db, settings, relation_model, kb_dir, dev_docs, tmp_path):
    """Totals of an edge that two files support describe the evidence of both; reloading a file
    changes nothing; an abstract that no longer yields a relation loses its sentences and the
    edges only it supported."""
    from conftest import graph_checksum
    from targetkg.graph.writer import GraphWriter
    from targetkg.nlp.adapter import LiteratureAdapter
    from targetkg.nlp.pipeline import LiteraturePipeline

    db = settings.neo4j_database
    docs = dev_docs[:10]
    ner = ruler_pipeline_dir(docs, tmp_path / "ruler")
    pipe = LiteraturePipeline.load(ner_model=ner, kb_dir=str(kb_dir), relation_model=relation_model)
    a = _jsonl(tmp_path / "a.jsonl", docs[:6])
    # file B: other abstracts, and abstract 0 again under another PMID, so edges are shared across files
    b = _jsonl(tmp_path / "b.jsonl", [docs[0], *docs[6:]], pmid={docs[0].pmid: "99000001"})

    def load(path):
        adapter = LiteratureAdapter(path, pipeline=pipe)
        writer = GraphWriter(empty_db, database=db, release="nlp-test", progress=False, workers=1)
        writer.ensure_schema()
        assert writer.write(adapter.records(), adapter.provenance()).dangling == 0
        writer.write_evidence(adapter.evidence(), publications=adapter.publications())
        assert literature_mismatches(empty_db, db) == []
        return adapter

    first = load(a)
    doc0_edges = {(e.subject, e.predicate, e.object) for e in first.evidence() if e.pmid == docs[0].id}
    assert doc0_edges
    load(b)
    rows, _, _ = empty_db.execute_query(
        "MATCH (s)-[r]->(o) WHERE r.agent_type = 'text_mining_agent' RETURN s.id AS s, type(r) AS p, o.id AS o, "
        "r.pmids AS pmids, r.evidence_count AS n", database_=db)
    by_key = {(r["s"], r["p"], r["o"]): r for r in rows}
    for key in doc0_edges:  # both files' PMIDs, not only the last file's
        assert {docs[0].id, "PMID:99000001"} <= set(by_key[key]["pmids"]), by_key[key]
    both = graph_checksum(empty_db, db)
    load(a)
    load(b)
    assert graph_checksum(empty_db, db) == both
    # abstract 0 re-loaded without its text: its evidence goes, the other file's stays
    load(_jsonl(tmp_path / "a.jsonl", docs[:6], abstract={docs[0].pmid: "No findings."}))
    gone, _, _ = empty_db.execute_query("MATCH (e:Evidence {pmid: $p}) RETURN count(e) AS n", {"p": docs[0].id},
                                        database_=db)
    assert gone[0]["n"] == 0
    rows, _, _ = empty_db.execute_query(
        "MATCH (s)-[r]->(o) WHERE r.agent_type = 'text_mining_agent' RETURN s.id AS s, type(r) AS p, o.id AS o, "
        "r.pmids AS pmids", database_=db)
    by_key = {(r["s"], r["p"], r["o"]): r for r in rows}
    for key in doc0_edges:
        assert docs[0].id not in by_key[key]["pmids"] and "PMID:99000001" in by_key[key]["pmids"]
    # and once B's copy is gone too, edges supported by abstract 0 alone are deleted
    load(_jsonl(tmp_path / "b.jsonl", [docs[0], *docs[6:]], pmid={docs[0].pmid: "99000001"},
                abstract={docs[0].pmid: "No findings."}))
    others = {(e.subject, e.predicate, e.object) for d in (a, b) for e in LiteratureAdapter(d, pipeline=pipe).evidence()}
    rows, _, _ = empty_db.execute_query(
        "MATCH (s)-[r]->(o) WHERE r.agent_type = 'text_mining_agent' RETURN s.id AS s, type(r) AS p, o.id AS o",
        database_=db)
    assert {(r["s"], r["p"], r["o"]) for r in rows} == others
    assert doc0_edges - others


def test_cli_ingest_literature_twice_identical_and_bad_lines(empty_db, settings, relation_model, dev_docs, tmp_path,
                                                            monkeypatch):
    """`targetkg ingest literature --from FILE` (the test relation model and a ruler NER via the
    TARGETKG_NLP_* settings, the default KB): twice gives the same graph, totals equal Evidence,
    a malformed line stops with file:line (exit 1) or is rejected with --skip-bad-lines."""
    from typer.testing import CliRunner

    from conftest import graph_checksum
    from targetkg.cli import app

    db = settings.neo4j_database
    docs = dev_docs[50:62]
    monkeypatch.setenv("TARGETKG_NLP_NER_MODEL", str(ruler_pipeline_dir(docs, tmp_path / "ruler")))
    monkeypatch.setenv("TARGETKG_NLP_RELATION_MODEL", str(relation_model))
    src = _jsonl(tmp_path / "abstracts.jsonl", docs)
    runner = CliRunner()

    def run(*args):
        import traceback

        res = runner.invoke(app, ["ingest", "literature", *args])
        crash = "".join(traceback.format_exception(*res.exc_info)) if res.exc_info and res.exit_code not in (0, 1) else ""
        if res.exc_info and not isinstance(res.exception, SystemExit):
            crash = "".join(traceback.format_exception(*res.exc_info))
        return res.exit_code, res.output + (res.stderr or "") + crash

    code, out = run("--from", str(src), "--release", "cli-test")
    assert code == 0, out
    first = graph_checksum(empty_db, db)
    n_evidence = empty_db.execute_query("MATCH (e:Evidence) RETURN count(e) AS n", database_=db).records[0]["n"]
    assert first[1] > 0 and n_evidence > 0
    assert literature_mismatches(empty_db, db) == []
    code, out = run("--from", str(src), "--release", "cli-test")
    assert code == 0, out
    assert graph_checksum(empty_db, db) == first and literature_mismatches(empty_db, db) == []
    source = empty_db.execute_query("MATCH (s:Source {id: 'infores:targetkg-literature'}) RETURN s",
                                    database_=db).records[0]["s"]
    assert source["paths"] == [str(src.resolve())] and source["rejected"] == 0
    assert source["publications"] == len(docs) and source["nodes"] > len(docs) and source["edges"] > 0
    # a malformed line: exit 1, file:line, no traceback
    bad = tmp_path / "bad.jsonl"
    bad.write_text(src.read_text().split("\n", 2)[0] + "\n{not json\n")
    code, out = run("--from", str(bad))
    assert code == 1 and f"{bad}:2" in out and "Traceback" not in out, out
    code, out = run("--from", str(tmp_path / "missing.jsonl"))
    assert code == 1 and "not found" in out and "corrupt" not in out, out
    code, out = run("--from", str(tmp_path))
    assert code == 1 and "directory" in out, out
    # --skip-bad-lines / --reject-file are honoured
    rejects = tmp_path / "rejects.jsonl"
    code, out = run("--from", str(bad), "--skip-bad-lines", "--reject-file", str(rejects))
    assert code == 0, out
    assert [json.loads(x)["line"] for x in rejects.read_text().splitlines()] == [2]
    source = empty_db.execute_query("MATCH (s:Source {id: 'infores:targetkg-literature'}) RETURN s",
                                    database_=db).records[0]["s"]
    assert source["rejected"] == 1 and len(source["paths"]) == 2


def test_cli_nlp_evaluate_reports_bad_input_and_null_relations(tmp_path):
    from typer.testing import CliRunner

    from targetkg.cli import app

    runner = CliRunner()
    p = tmp_path / "broken.PubTator"
    p.write_text("1|t|Aspirin.\n1|a|Pain.\n1\t0\tx\n")
    for args, needle in ((["--pubtator", str(p)], f"{p}:3"), (["--pubtator", str(tmp_path / "no.PubTator")], "not found"),
                         (["--corpus", "bc5cdr", "--split", "test"], "split"), ([], "--corpus")):
        res = runner.invoke(app, ["nlp", "evaluate", *args])
        out = res.output + (res.stderr or "")
        assert res.exit_code == 1 and needle in out and "Traceback" not in out, (args, out)


def test_evaluate_any_pubtator_file_as_json(tiny_ner, kb_dir, relation_model, dev_docs, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from targetkg.cli import app
    from targetkg.nlp.api import evaluate, format_report
    from targetkg.nlp.readers import write_pubtator

    path = tmp_path / "sample.PubTator"
    with open(path, "w", encoding="utf-8") as fh:
        write_pubtator(dev_docs[40:50], fh)
    # the command line: `targetkg nlp evaluate --pubtator FILE --json` prints one JSON object as its last line
    monkeypatch.setenv("TARGETKG_NLP_NER_MODEL", str(tiny_ner))
    monkeypatch.setenv("TARGETKG_NLP_RELATION_MODEL", str(relation_model))
    res = CliRunner().invoke(app, ["nlp", "evaluate", "--pubtator", str(path), "--json"])
    assert res.exit_code == 0, res.output
    last = json.loads(res.stdout.strip().splitlines()[-1])
    assert {"f1", "precision", "recall", "by_type"} <= set(last["ner"]) and "accuracy" in last["grounding"]
    assert {"f1", "precision", "recall"} <= set(last["relation"])
    result = evaluate(pubtator=path, ner_model=tiny_ner, kb_dir=kb_dir, relation_model=relation_model)
    line = json.loads(json.dumps(result))
    assert set(line["ner"]) >= {"f1", "precision", "recall", "by_type"}
    assert set(line["ner"]["by_type"]) == {"CHEMICAL", "DISEASE"}
    assert "accuracy" in line["grounding"] and 0 <= line["grounding"]["accuracy"] <= 1
    assert set(line["relation"]) >= {"f1", "precision", "recall"} and line["relation"]["kind"] == "cid"
    assert line["relation"]["gold_entities"]["f1"] > 0
    current = line["relation"]["end_to_end_current_mesh"]
    assert current["recall"] >= line["relation"]["end_to_end"]["recall"]
    # a correct pair needs both concepts found, so that fraction bounds the end-to-end recall
    reach = line["relation"]["end_to_end"]["gold_pairs_with_both_concepts_found"]
    e2e = line["relation"]["end_to_end"]
    assert reach["of"] == e2e["tp"] + e2e["fn"] > 0
    assert e2e["recall"] <= reach["fraction"] <= 1 and reach["n"] <= reach["of"]
    assert "NER (strict)" in format_report(result) and "recall ceiling" in format_report(result)
    # no relations in the file: null scores, not a real-looking 0.0
    no_rel = tmp_path / "no_relations.PubTator"
    with open(no_rel, "w", encoding="utf-8") as fh:
        write_pubtator([Document(d.id, d.title, d.abstract, d.year, d.mentions, []) for d in dev_docs[40:42]], fh)
    line = json.loads(json.dumps(evaluate(pubtator=no_rel, ner_model=tiny_ner, kb_dir=kb_dir,
                                          relation_model=relation_model)))
    assert line["relation"]["f1"] is None and line["relation"]["precision"] is None and line["relation"]["recall"] is None


def test_training_commands_skip_existing_models_with_if_missing(tmp_path):
    """`make up` calls train-ner/train-relations --if-missing on every run: an existing model is kept as is."""
    import subprocess
    import sys

    ner_dir, rel_file = tmp_path / "ner", tmp_path / "relations.joblib"
    ner_dir.mkdir()
    (ner_dir / "config.cfg").write_text("[nlp]\n")
    rel_file.write_bytes(b"model")
    for args, expect in ((["train-ner", "--output", str(ner_dir)], "NER model present"),
                         (["train-relations", "--output", str(rel_file)], "relation model present")):
        out = subprocess.run([sys.executable, "-m", "targetkg.cli", "nlp", *args, "--if-missing"], capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0 and expect in out.stdout, out.stdout + out.stderr
    assert (ner_dir / "config.cfg").read_text() == "[nlp]\n" and rel_file.read_bytes() == b"model"


def test_ner_profiles_pick_their_own_model_folder(tmp_path):
    """`--profile fast` (or TARGETKG_NLP_NER_PROFILE=fast) trains and loads its own folder, so the fast
    model never overwrites the accurate one; a bad profile is a clear error naming the variable."""
    import subprocess
    import sys

    from targetkg.nlp.config import NER_PROFILES, NLPSettings
    from targetkg.nlp.pipeline import load_ner

    env = {**os.environ, "TARGETKG_NLP_CACHE_DIR": str(tmp_path)}
    fast = tmp_path / "ner" / NER_PROFILES["fast"][0]
    fast.mkdir(parents=True)
    (fast / "config.cfg").write_text("[nlp]\n")
    for args, extra_env in ((["--profile", "fast"], {}), ([], {"TARGETKG_NLP_NER_PROFILE": "fast"})):
        out = subprocess.run([sys.executable, "-m", "targetkg.cli", "nlp", "train-ner", "--if-missing", *args],
                             capture_output=True, text=True, timeout=120, env={**env, **extra_env})
        assert out.returncode == 0 and f"NER model present: {fast}" in " ".join(out.stdout.split()), out.stdout + out.stderr
    out = subprocess.run([sys.executable, "-m", "targetkg.cli", "nlp", "train-ner", "--if-missing"], capture_output=True,
                         text=True, timeout=120, env={**env, "TARGETKG_NLP_NER_PROFILE": "fastest"})
    assert out.returncode == 2 and "TARGETKG_NLP_NER_PROFILE='fastest'" in out.stderr and "Traceback" not in out.stderr
    # loading: the accurate profile has no model in this cache, and the error says how to train it
    with pytest.raises(FileNotFoundError, match="train-ner --profile accurate"):
        load_ner(settings=NLPSettings(cache_dir=tmp_path, ner_profile="accurate"))
    assert NLPSettings(cache_dir=tmp_path).ner_dir() == fast  # the default profile


def test_ner_vote_keeps_spans_of_the_majority():
    """Exact span + label counts as one vote; a majority keeps it; overlaps go to more votes, then length."""
    from targetkg.nlp.components import blank_pipeline
    from targetkg.nlp.ensemble import vote

    nlp = blank_pipeline()
    text = "Acute renal failure after cisplatin and lithium in a patient with nephrotoxicity ."

    def doc_with(*spans):
        d = nlp.make_doc(text)
        d.ents = [d.char_span(text.index(s), text.index(s) + len(s), label=lab) for s, lab in spans]
        return d

    main = doc_with(("Acute renal failure", "DISEASE"), ("cisplatin", "CHEMICAL"), ("patient", "DISEASE"))
    second = doc_with(("renal failure", "DISEASE"), ("cisplatin", "CHEMICAL"), ("lithium", "CHEMICAL"))
    third = doc_with(("Acute renal failure", "DISEASE"), ("lithium", "GENE"), ("nephrotoxicity", "DISEASE"))
    kept = [(s.text, s.label_) for s in vote(main, [second, third], min_votes=2)]
    # "patient", "nephrotoxicity" and "renal failure" have one vote; lithium's two votes disagree on the label
    assert kept == [("Acute renal failure", "DISEASE"), ("cisplatin", "CHEMICAL")]
    # one vote is enough at min_votes=1; the overlapping shorter span loses to the one with two votes
    loose = [(s.text, s.label_) for s in vote(main, [second, third], min_votes=1)]
    assert ("Acute renal failure", "DISEASE") in loose and ("renal failure", "DISEASE") not in loose
    assert ("nephrotoxicity", "DISEASE") in loose and ("patient", "DISEASE") in loose
    # votes beat length: two models say "renal failure", one says "Acute renal failure"
    shorter = [(s.text, s.label_) for s in vote(doc_with(("Acute renal failure", "DISEASE")),
                                                   [second, doc_with(("renal failure", "DISEASE"))], min_votes=1)]
    assert ("renal failure", "DISEASE") in shorter and ("Acute renal failure", "DISEASE") not in shorter


def test_ner_ensemble_folder_loads_votes_and_names_its_members(tiny_ner, dev_docs, tmp_path):
    """An ensemble folder works wherever one NER model does (TARGETKG_NLP_NER_MODEL, profiles, evaluate):
    the tiny NER plus two members that tag the gold mentions -> the vote keeps exactly the gold-tagged
    spans, and the tiny model's own extra spans (one vote) are dropped."""
    from targetkg.nlp.components import TYPE_TO_LABEL, add_sentence_splitter, blank_pipeline
    from targetkg.nlp.ensemble import write_ensemble
    from targetkg.nlp.pipeline import LiteraturePipeline

    docs = dev_docs[:30]
    patterns = sorted({(TYPE_TO_LABEL[m.type], m.text) for d in docs for m in d.mentions if m.type in TYPE_TO_LABEL})
    for name in ("gold-a", "gold-b"):  # a member is any pipeline with a component named "ner"
        nlp = blank_pipeline()
        add_sentence_splitter(nlp)
        ruler = nlp.add_pipe("entity_ruler", name="ner", config={"phrase_matcher_attr": "ORTH"})
        ruler.add_patterns([{"label": lab, "pattern": text} for lab, text in patterns])
        nlp.to_disk(tmp_path / name)
    ens = write_ensemble(tmp_path / "ensemble", [str(tiny_ner), "gold-a", "gold-b"])

    tiny = LiteraturePipeline.load(ner_model=tiny_ner, with_relations=False, link=False)
    gold = LiteraturePipeline.load(ner_model=tmp_path / "gold-a", with_relations=False, link=False)
    voted = LiteraturePipeline.load(ner_model=ens, with_relations=False, link=False)
    assert voted.nlp.pipe_names.index("targetkg_ner_vote") == voted.nlp.pipe_names.index("ner") + 1
    assert "+vote2of3-" in voted.model_version and voted.model_version.startswith(tiny.model_version.split("+")[0])

    def spans(pipe):
        return [{(e.start, e.end, e.label) for e in ex.entities} for ex in pipe.extract(docs, relations=False)]

    tiny_s, gold_s, voted_s = spans(tiny), spans(gold), spans(voted)
    assert voted_s == gold_s
    assert sum(len(t - g) for t, g in zip(tiny_s, gold_s)) > 0  # the tiny model did add spans of its own

    # a member that is not trained, or a bad vote count, is a clear error naming the ensemble file
    write_ensemble(tmp_path / "broken", [str(tiny_ner), "not-trained"])
    with pytest.raises(FileNotFoundError, match=r"broken/ensemble.json: member model\(s\) not trained: .*not-trained"):
        LiteraturePipeline.load(ner_model=tmp_path / "broken", with_relations=False, link=False)
    write_ensemble(tmp_path / "votes", [str(tiny_ner), "gold-a"], min_votes=3)
    with pytest.raises(ValueError, match="field 'min_votes' must be an integer between 1 and 2, got 3"):
        LiteraturePipeline.load(ner_model=tmp_path / "votes", with_relations=False, link=False)


def test_ensemble_profile_trains_only_missing_members_and_writes_its_folder(tmp_path, monkeypatch):
    from targetkg.nlp import api
    from targetkg.nlp.config import NER_ENSEMBLES, NER_PROFILES, NLPSettings

    monkeypatch.setenv("TARGETKG_NLP_CACHE_DIR", str(tmp_path))
    folder, members = NER_ENSEMBLES["ensemble"]
    for m in members:  # every member already trained: nothing is trained again
        (tmp_path / "ner" / NER_PROFILES[m][0]).mkdir(parents=True)
        (tmp_path / "ner" / NER_PROFILES[m][0] / "config.cfg").write_text("[nlp]\n")
    assert api.train_ner(profile="ensemble") == {}
    spec = json.loads((tmp_path / "ner" / folder / "ensemble.json").read_text())
    assert spec == {"members": [NER_PROFILES[m][0] for m in members], "min_votes": 2}
    assert NLPSettings(ner_profile="ensemble").ner_dir() == tmp_path / "ner" / folder
    with pytest.raises(ValueError, match="is an ensemble"):
        api.train_ner(profile="ensemble", width=32)


# ----------------------------------------------------------------------------- span filter

def test_span_filter_features_from_training_priors():
    """Mention priors count gold surfaces per type and their occurrences in the training text; the
    features of a predicted span read them by its lower-cased tokens."""
    from spacy.tokens import Span

    from targetkg.nlp.components import blank_pipeline
    from targetkg.nlp.readers import Mention
    from targetkg.nlp.span_filter import FEATURES, MentionPriors, span_features

    nlp = blank_pipeline()
    text = "Cocaine induced seizures. Patients with seizures got cocaine. Patients improved."
    train = [Document("1", text, "", None, [Mention(0, 7, "Cocaine", "Chemical", ("D003042",)),
                                            Mention(16, 24, "seizures", "Disease", ("D012640",))])]
    priors = MentionPriors.from_documents(nlp, train)
    assert priors.gold == {"cocaine": {"CHEMICAL": 1}, "seizures": {"DISEASE": 1}}
    assert priors.text["cocaine"] == priors.text["seizures"] == priors.text["patients"] == 2
    assert "improved" not in priors.text  # seen once and never a mention: not kept
    doc = nlp("Patients had seizures after COCAINE.")
    doc.ents = [Span(doc, 0, 1, label="DISEASE"), Span(doc, 2, 3, label="DISEASE"), Span(doc, 4, 5, label="CHEMICAL")]
    X = span_features(doc, priors)
    f = {name: X[:, i].tolist() for i, name in enumerate(FEATURES)}
    assert X.shape == (3, len(FEATURES))
    assert f["gold_same_label"] == [0, 1, 1] and f["text_count"] == [2, 2, 2]
    assert f["p_same_label"][0] == pytest.approx(0.5 / 3) and f["p_same_label"][1] == pytest.approx(1.5 / 3)
    assert f["all_upper"] == [0, 0, 1] and f["label_disease"] == [1, 1, 0] and f["doc_predicted"] == [1, 1, 1]


def test_span_filter_stacked_on_tiny_ner_raises_precision_on_dev(tiny_ner, kb_dir, train_docs, dev_docs, tmp_path):
    """Stacking: fold NERs predict held-out training halves, a classifier learns their false
    positives. On unseen BC5CDR development abstracts the filtered pipeline is more precise; the
    filter is named in model_version, can be switched off, and a broken file is a clear error. The
    held-out documents are kept and join the CID model's training data."""
    import shutil
    from collections import Counter

    from targetkg.nlp.components import TYPE_TO_LABEL
    from targetkg.nlp.config import NLPSettings
    from targetkg.nlp.evaluate import evaluate_documents
    from targetkg.nlp.pipeline import LiteraturePipeline
    from targetkg.nlp.relations import RelationExtractor, train_relation_models
    from targetkg.nlp.span_filter import (FILTER_FILE, load_heldout_documents, span_filter_file,
                                          train_span_filter)

    ner = shutil.copytree(tiny_ner, tmp_path / "tiny")
    assert span_filter_file(ner) is None
    bc, br = train_docs
    report = train_span_filter(ner, [("bc5cdr", bc[:100]), ("biored", br[:60])], folds=2, kb_dir=str(kb_dir),
                               max_seconds=40, progress=False)
    assert span_filter_file(ner) == ner / FILTER_FILE
    assert report["heldout_spans"] > 500 and 0 < report["threshold"] < 1, report
    assert report["heldout_after"]["precision"] > report["heldout_before"]["precision"], report

    plain = LiteraturePipeline.load(ner_model=tiny_ner, kb_dir=str(kb_dir), with_relations=False)
    filtered = LiteraturePipeline.load(ner_model=ner, kb_dir=str(kb_dir), with_relations=False)
    assert filtered.nlp.pipe_names[-1] == "targetkg_span_filter"
    assert "+spanfilter-1-" in filtered.model_version and "spanfilter" not in plain.model_version
    before = evaluate_documents(plain, dev_docs[:60], corpus="bc5cdr", gold_entities=False)["ner"]
    after = evaluate_documents(filtered, dev_docs[:60], corpus="bc5cdr", gold_entities=False)["ner"]
    # measured: precision 0.73 -> 0.88, F1 0.754 -> 0.796 (60 abstracts)
    assert after["fp"] < before["fp"] and after["precision"] > before["precision"] + 0.05, (before, after)
    assert after["f1"] > before["f1"] + 0.01, (before, after)

    # the stacking's by-product: every training document once, with the entities of a fold NER that
    # had not seen it; the CID model trains on them next to the gold entities
    heldout = load_heldout_documents(ner)
    assert report["heldout_documents"] == len(heldout) == 160
    assert Counter(name for name, _ in heldout) == {"bc5cdr": 100, "biored": 60}
    assert {d.id for name, d in heldout if name == "bc5cdr"} == {d.id for d in bc[:100]}
    assert all(d.source is not None and d.source.id == d.id for _, d in heldout)
    predicted = {(d.id, e.start, e.end, e.label) for name, d in heldout if name == "bc5cdr" for e in d.entities}
    gold = {(d.id, m.start, m.end, TYPE_TO_LABEL[m.type]) for d in bc[:100] for m in d.mentions}
    assert len(predicted & gold) > 0.3 * len(gold) and predicted != gold  # predicted, imperfect entities
    # and as the filter left them (cross-fitted probabilities at the chosen threshold): the pipeline's
    # relations see filtered entities, so the CID model trains on those
    kept = load_heldout_documents(ner, filtered=True)
    assert [d.id for _, d in kept] == [d.id for _, d in heldout]
    kept_entities = {(d.id, e.start, e.end, e.label) for name, d in kept if name == "bc5cdr" for e in d.entities}
    assert kept_entities < predicted
    assert len(kept_entities & gold) / len(kept_entities) > len(predicted & gold) / len(predicted)  # more precise
    rel = train_relation_models(tmp_path / "rel.joblib", max_docs=100, progress=False, ner_dir=ner)
    assert rel["training"]["heldout_documents"] == 160 and rel["training"]["heldout_view"] == "filtered"
    assert rel["cid"]["documents"] == {"bc5cdr_gold": 100, "biored_gold_as_cid": 100, "bc5cdr_heldout_predicted": 100,
                                       "biored_heldout_predicted_as_cid": 60}
    assert RelationExtractor.load(tmp_path / "rel.joblib").training["heldout_documents"] == 160

    off = LiteraturePipeline.load(ner_model=ner, kb_dir=str(kb_dir), with_relations=False,
                                  settings=NLPSettings(span_filter=False))
    assert "targetkg_span_filter" not in off.nlp.pipe_names
    (ner / FILTER_FILE).write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match=f"{FILTER_FILE}: not a readable span filter"):
        LiteraturePipeline.load(ner_model=ner, kb_dir=str(kb_dir), with_relations=False)


def test_filtered_heldout_keeps_the_scored_entities_above_the_threshold():
    import numpy as np

    from targetkg.nlp.pipeline import EntityMention, ExtractedDocument
    from targetkg.nlp.span_filter import filtered_heldout

    def ent(start, label):
        return EntityMention(start=start, end=start + 1, text="x", label=label, sent=0)

    docs = [("bc5cdr", ExtractedDocument("PMID:1", "", None, "x", [(0, 1)], [ent(0, "CHEMICAL"), ent(1, "GENE"), ent(2, "DISEASE")])),
            ("biored", ExtractedDocument("PMID:2", "", None, "x", [(0, 1)], [ent(0, "GENE"), ent(1, "CHEMICAL")]))]
    labels = {"bc5cdr": {"CHEMICAL", "DISEASE"}, "biored": {"GENE", "CHEMICAL", "DISEASE"}}
    # BC5CDR does not annotate genes: its GENE entity was not scored and stays
    out = filtered_heldout(docs, np.array([0.9, 0.2, 0.5, 0.3]), 0.45, labels)
    assert [[(e.start, e.label) for e in d.entities] for _, d in out] == [[(0, "CHEMICAL"), (1, "GENE")], [(0, "GENE")]]
    assert [len(d.entities) for _, d in docs] == [3, 2]  # the unfiltered copies are left as they were
    with pytest.raises(RuntimeError, match="5 held-out probabilities for 4 entities"):
        filtered_heldout(docs, np.zeros(5), 0.45, labels)


def test_numpy_matmul_gives_the_same_entities_as_blis(tiny_ner, dev_docs):
    """The loaded NER multiplies with numpy's OpenBLAS (faster here than thinc's blis); the entities do not change."""
    from thinc.api import NumpyOps

    from targetkg.nlp.pipeline import load_ner

    fast = load_ner(tiny_ner)
    assert all(not node.ops.use_blis for node in fast.get_pipe("ner").model.walk() if isinstance(node.ops, NumpyOps))
    blis = load_ner(tiny_ner)  # the same pipeline (sentence boundaries constrain the NER), back on blis
    for node in blis.get_pipe("ner").model.walk():
        node.ops = NumpyOps(use_blis=True)
    texts = [d.text for d in dev_docs[:40]]
    ents = [[(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in fast.pipe(texts)]
    assert sum(map(len, ents)) > 200
    assert ents == [[(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in blis.pipe(texts)]


def test_extract_on_two_forked_processes_matches_one(tiny_ner, kb_dir, relation_model, dev_docs):
    """`extract(n_process=2)` forks workers that share the loaded pipeline; results come back in input
    order and equal the single-process run (spaCy's own n_process cannot ship Docs whose entities
    carry span-valued extensions such as long_form)."""
    from targetkg.nlp.pipeline import LiteraturePipeline

    pipe = LiteraturePipeline.load(ner_model=tiny_ner, kb_dir=str(kb_dir), relation_model=relation_model)
    docs = dev_docs[:40]

    def summary(extracted):
        return [(ex.id, [(e.start, e.end, e.label, e.concept_id) for e in ex.entities],
                 [(r.subject, r.predicate, r.object, round(r.probability, 6)) for r in ex.relations]) for ex in extracted]

    one = summary(pipe.extract(docs, batch_size=8))
    two = summary(pipe.extract(docs, batch_size=8, n_process=2))
    assert [s[0] for s in two] == [d.id for d in docs]
    assert two == one and sum(len(s[1]) for s in one) > 200 and sum(len(s[2]) for s in one) > 0
