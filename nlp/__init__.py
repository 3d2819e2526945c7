"""targetkg.nlp: literature relations from abstracts (spaCy + scispaCy).

Public entry points are in `targetkg.nlp.api` (train_ner, train_relations, build_kb, evaluate,
extract, load_pipeline, literature_adapter, format_report) and `targetkg.nlp.adapter`
(LiteratureAdapter, whose records and evidence go through `targetkg.graph.writer.GraphWriter`).
See docs/nlp_design.md.
"""
