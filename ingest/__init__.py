"""targetkg.ingest: source adapters (one module per source format) and the build pipeline.

Adapter contract (see `model.py`): an adapter is a small class with
  name: str                       CLI name ("reactome", "hetionet", ...)
  provenance() -> Provenance      infores id, source version, knowledge level, agent type
  files() -> list[Path]           the input files it reads (for checksums / Source nodes)
  records() -> Iterator[Node|Edge] streaming; every Edge.props has "source_file"
  expected_counts() -> dict       the counts the source itself states ("edges:TREATS": 755, ...)
It knows its file format and nothing of Neo4j. Malformed lines go to `BadLines.report()`.
"""
