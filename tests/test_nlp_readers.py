"""Literature readers on the real corpora: round-trips, formats, gzip, malformed input."""

from __future__ import annotations

import gzip
import io
import json
import os
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from targetkg.ingest.model import BadLines, InputError
from targetkg.nlp.readers import (
    Document,
    detect_format,
    read_documents,
    read_jsonl,
    read_medline_xml,
    read_pubtator,
    read_text,
    write_pubtator,
)


def data_dir() -> Path:
    return Path(os.environ.get("TARGETKG_DATA", Path(__file__).resolve().parent.parent / ".." / "shared" / "data")).resolve()


BC5CDR_TRAIN = data_dir() / "bc5cdr" / "CDR_TrainingSet.PubTator.txt"
BC5CDR_DEV = data_dir() / "bc5cdr" / "CDR_DevelopmentSet.PubTator.txt"
BIORED_TRAIN = data_dir() / "biored" / "Train.PubTator"
BIORED_DEV = data_dir() / "biored" / "Dev.PubTator"



# published corpus statistics (the READMEs of shared/data)
@pytest.mark.parametrize("path, docs, mentions, relations", [
    (BC5CDR_TRAIN, 500, 9385, 1038),
    (BC5CDR_DEV, 500, 9591, 1012),
    (BIORED_TRAIN, 400, 13351, 4178),
    (BIORED_DEV, 100, 3533, 1162),
])
def test_pubtator_counts_and_byte_round_trip(path, docs, mentions, relations, tmp_path):
    parsed = list(read_pubtator(path))
    assert len(parsed) == docs
    assert sum(len(d.mentions) for d in parsed) == mentions
    assert sum(len(d.relations) for d in parsed) == relations
    # every mention equals the text at its offsets (the reader checks it)
    assert all(d.text[m.start:m.end] == m.text for d in parsed for m in d.mentions)
    buf = io.StringIO()
    write_pubtator(parsed, buf)
    original = path.read_text(encoding="utf-8")
    assert buf.getvalue().rstrip("\n") == original.rstrip("\n")
    copy = tmp_path / path.name
    copy.write_text(buf.getvalue(), encoding="utf-8")
    again = list(read_pubtator(copy))
    assert [(d.id, d.title, d.abstract, len(d.mentions), len(d.relations)) for d in again] == \
        [(d.id, d.title, d.abstract, len(d.mentions), len(d.relations)) for d in parsed]


def test_known_document_fields():
    doc = next(read_pubtator(BC5CDR_TRAIN))
    assert doc.id == "PMID:227508" and doc.pmid == "227508"
    assert doc.title == "Naloxone reverses the antihypertensive effect of clonidine."
    first = doc.mentions[0]
    assert (first.start, first.end, first.text, first.type, first.ids) == (0, 8, "Naloxone", "Chemical", ("D009270",))
    assert {(r.type, r.id1, r.id2) for r in doc.relations} == {("CID", "D008750", "D007022")}
    composite = [m for d in read_pubtator(BC5CDR_TRAIN) for m in d.mentions if len(m.ids) > 1][0]
    assert composite.extra and len(composite.ids) == 2  # individual mentions kept for the round trip
    biored = next(read_pubtator(BIORED_TRAIN))
    assert biored.relations[0].novel in ("Novel", "No")


def _medline_xml(docs: list[Document]) -> str:
    parts = ['<?xml version="1.0" encoding="UTF-8"?>', "<!DOCTYPE PubmedArticleSet>", "<PubmedArticleSet>"]
    for i, d in enumerate(docs):
        parts.append(f"""<PubmedArticle>
  <MedlineCitation Status="MEDLINE" Owner="NLM">
    <PMID Version="1">{d.pmid}</PMID>
    <Article PubModel="Print">
      <Journal><JournalIssue CitedMedium="Print"><PubDate><Year>{1980 + i}</Year></PubDate></JournalIssue></Journal>
      <ArticleTitle>{escape(d.title)}</ArticleTitle>
      <Abstract>
        <AbstractText>{escape(d.abstract)}</AbstractText>
      </Abstract>
    </Article>
  </MedlineCitation>
</PubmedArticle>""")
    parts.append("</PubmedArticleSet>")
    return "\n".join(parts) + "\n"


def test_medline_xml_round_trip_plain_and_gzip(tmp_path):
    docs = list(read_pubtator(BC5CDR_DEV))[:25]
    xml = _medline_xml(docs)
    plain = tmp_path / "pubmed_sample.xml"
    plain.write_text(xml, encoding="utf-8")
    gz = tmp_path / "pubmed_sample.xml.gz"
    with gzip.open(gz, "wt", encoding="utf-8") as fh:
        fh.write(xml)
    for path in (plain, gz):
        assert detect_format(path) == "xml"
        got = list(read_documents(path))
        assert [(g.id, g.title, g.abstract) for g in got] == [(d.id, d.title, d.abstract) for d in docs]
        assert [g.year for g in got] == [1980 + i for i in range(len(docs))]
        assert got[1].line == xml.split("\n").index("<PubmedArticle>", 4) + 1  # record's first line


def test_medline_structured_abstract_and_medline_date(tmp_path):
    xml = """<?xml version="1.0"?>
<PubmedArticleSet>
<PubmedArticle><MedlineCitation><PMID>123</PMID><Article><Journal><JournalIssue><PubDate><MedlineDate>1998 Dec-1999 Jan</MedlineDate></PubDate></JournalIssue></Journal>
<ArticleTitle>A <i>BRCA1</i> study.</ArticleTitle><Abstract>
<AbstractText Label="BACKGROUND">Background text.</AbstractText>
<AbstractText Label="RESULTS">Results text.</AbstractText></Abstract></Article></MedlineCitation></PubmedArticle>
</PubmedArticleSet>
"""
    p = tmp_path / "a.xml"
    p.write_text(xml)
    (d,) = list(read_medline_xml(p))
    assert d.id == "PMID:123" and d.title == "A BRCA1 study." and d.year == 1998
    assert d.abstract == "BACKGROUND: Background text. RESULTS: Results text."


def test_malformed_xml_reported_with_file_and_line(tmp_path):
    docs = list(read_pubtator(BC5CDR_DEV))[:3]
    lines = _medline_xml(docs).split("\n")
    bad_line = next(i for i, line in enumerate(lines) if "<ArticleTitle>" in line and i > 20)
    lines[bad_line] = lines[bad_line].replace("</ArticleTitle>", "</ArticleTitel>")
    p = tmp_path / "broken.xml"
    p.write_text("\n".join(lines))
    with pytest.raises(InputError) as exc:
        list(read_medline_xml(p))
    assert exc.value.file == str(p) and exc.value.line == bad_line + 1
    assert f"broken.xml:{bad_line + 1}" in str(exc.value) and "mismatched tag" in str(exc.value)
    # skip mode: the records before the error are kept, the error is recorded
    bad = BadLines(skip=True)
    got = list(read_medline_xml(p, bad_lines=bad))
    before = sum(1 for line in lines[:bad_line] if line == "<PubmedArticle>") - 1
    assert before >= 1 and len(got) == before and bad.count == 1 and bad.rejected[0]["line"] == bad_line + 1
    # a record without a PMID
    q = tmp_path / "nopmid.xml"
    q.write_text("<PubmedArticleSet>\n<PubmedArticle><MedlineCitation>\n<Article><ArticleTitle>x</ArticleTitle></Article>"
                 "</MedlineCitation></PubmedArticle>\n</PubmedArticleSet>\n")
    with pytest.raises(InputError) as exc:
        list(read_medline_xml(q))
    assert exc.value.line == 2 and exc.value.field == "PMID"


def test_malformed_pubtator_lines_reported_with_file_and_line(tmp_path):
    lines = BC5CDR_DEV.read_text(encoding="utf-8").split("\n")[:40]
    # corrupt: a mention whose text differs from the offsets, a bad offset, a short line
    idx = [i for i, line in enumerate(lines) if line.count("\t") == 5]
    a, b, c = idx[1], idx[3], idx[5]
    cols = lines[a].split("\t")
    cols[3] = cols[3] + "X"
    lines[a] = "\t".join(cols)
    cols = lines[b].split("\t")
    cols[2] = "99999"
    lines[b] = "\t".join(cols)
    lines[c] = lines[c].split("\t")[0] + "\tgarbage"
    p = tmp_path / "broken.PubTator.gz"
    with gzip.open(p, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    with pytest.raises(InputError) as exc:
        list(read_pubtator(p))
    assert exc.value.file == str(p) and exc.value.line == a + 1 and exc.value.field == "mention"
    bad = BadLines(skip=True)
    docs = list(read_pubtator(p, bad_lines=bad))
    assert [r["line"] for r in bad.rejected] == [a + 1, b + 1, c + 1]
    assert [r["field"] for r in bad.rejected] == ["mention", "start", None]
    assert all(r["file"] == str(p) for r in bad.rejected)
    assert len(docs) >= 1 and docs[0].id.startswith("PMID:")


def test_jsonl_and_text_readers(tmp_path):
    docs = list(read_pubtator(BIORED_DEV))[:5]
    j = tmp_path / "abstracts.jsonl.gz"
    with gzip.open(j, "wt", encoding="utf-8") as fh:
        for d in docs:
            fh.write(json.dumps({"pmid": d.pmid, "title": d.title, "abstract": d.abstract, "year": 2020}) + "\n")
        fh.write("{not json\n")
    bad = BadLines(skip=True)
    got = list(read_jsonl(j, bad_lines=bad))
    assert [(g.id, g.text) for g in got] == [(d.id, d.text) for d in docs]
    assert bad.rejected[0]["line"] == len(docs) + 1
    t = tmp_path / "abstracts.txt"
    t.write_text("".join(f"{d.pmid}\t{d.text}\n" for d in docs))
    assert detect_format(t) == "text"
    assert [(g.id, g.abstract) for g in read_text(t)] == [(d.id, d.text) for d in docs]
    assert detect_format(BIORED_DEV) == "pubtator"


def test_five_column_mention_lines_have_no_ids(tmp_path):
    """PubTator exports without the normalisation column (PMID, start, end, mention, type)."""
    doc = next(iter(read_pubtator(BC5CDR_DEV)))
    lines = [f"{doc.pmid}|t|{doc.title}", f"{doc.pmid}|a|{doc.abstract}"]
    lines += [f"{doc.pmid}\t{m.start}\t{m.end}\t{m.text}\t{m.type}" for m in doc.mentions]
    p = tmp_path / "five.PubTator"
    p.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    (got,) = list(read_pubtator(p))
    assert [(m.start, m.end, m.text, m.type) for m in got.mentions] == \
        [(m.start, m.end, m.text, m.type) for m in doc.mentions]
    assert got.mentions and all(m.ids == () for m in got.mentions)
    # four columns with offsets is still malformed, reported with its line
    p.write_text("\n".join(lines[:2] + [f"{doc.pmid}\t0\t3\tabc"]) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        list(read_pubtator(p))
    assert exc.value.line == 3 and exc.value.file == str(p)


def test_missing_file_and_folder_are_not_called_corrupt(tmp_path):
    from targetkg.nlp.readers import read_documents

    with pytest.raises(FileNotFoundError, match="not found"):
        read_documents(tmp_path / "nope.jsonl")
    with pytest.raises(FileNotFoundError, match="not found"):
        list(read_pubtator(tmp_path / "nope.PubTator"))
    with pytest.raises(IsADirectoryError, match="directory"):
        read_documents(tmp_path)
