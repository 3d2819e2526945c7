"""Streaming readers for abstracts: PubTator, PubMed/MEDLINE XML, JSON lines and plain text.

Every reader yields `Document`s one at a time and never holds a whole file in memory, so the
same code reads one test file or a full PubMed baseline shard (`pubmed25n0001.xml.gz`). Files
ending in `.gz` are decompressed on the fly.

Malformed input is reported through the project's `BadLines` policy with the file and the
1-based line number (`targetkg.ingest.model.InputError`): strict by default (the first bad line
raises), or `BadLines(skip=True)` to reject the line (or the XML record) and carry on.

Formats
-------
PubTator   ``PMID|t|title`` / ``PMID|a|abstract`` / ``PMID<TAB>start<TAB>end<TAB>mention<TAB>type[<TAB>ids[<TAB>...]]``
           (a mention line without the id column has no ids)
           / ``PMID<TAB>REL<TAB>id1<TAB>id2[<TAB>...]``, documents separated by blank lines
           (BC5CDR, BioRED, PubTator Central exports). Offsets index ``title + " " + abstract``.
MEDLINE    ``<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>…`` (PubMed baseline/update
           files, efetch output); title, abstract (structured sections joined), year.
JSONL      one object per line with ``id``/``pmid``, ``title``, ``abstract``/``text``, optional ``year``.
Text       one document per line: ``<id><TAB><text>``; or a whole file as one document when no tab.
"""

from __future__ import annotations

import gzip
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from targetkg.ingest.model import BadLines, InputError

__all__ = [
    "Mention",
    "Relation",
    "Document",
    "read_documents",
    "read_pubtator",
    "read_medline_xml",
    "read_jsonl",
    "read_text",
    "write_pubtator",
    "detect_format",
]


@dataclass(slots=True)
class Mention:
    start: int  # character offsets in Document.text
    end: int
    text: str
    type: str  # corpus type (Chemical, Disease, GeneOrGeneProduct, ...)
    ids: tuple[str, ...] = ()  # corpus ids ("D003000", "3175", "-1"); several for composites
    line: int | None = None
    raw_ids: str | None = None  # the id column as written ("D014786|D006311", "3172,3651")
    extra: tuple[str, ...] = ()  # further columns (BC5CDR's individual mentions of composites)


@dataclass(slots=True)
class Relation:
    type: str  # "CID", "Association", ...
    id1: str
    id2: str
    novel: str | None = None  # BioRED's Novel|No
    line: int | None = None


@dataclass(slots=True)
class Document:
    id: str  # "PMID:123" for PubMed ids, else the id as given
    title: str = ""
    abstract: str = ""
    year: int | None = None
    mentions: list[Mention] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    source: str | None = None  # file it came from
    line: int | None = None  # first line of the record

    @property
    def text(self) -> str:
        """Title and abstract as PubTator offsets see them (joined by one space)."""
        if self.title and self.abstract:
            return f"{self.title} {self.abstract}"
        return self.title or self.abstract

    @property
    def pmid(self) -> str | None:
        return self.id.split(":", 1)[1] if self.id.startswith("PMID:") else None


def _doc_id(raw: str) -> str:
    raw = raw.strip()
    if raw.upper().startswith("PMID:"):
        raw = raw[5:]
    return f"PMID:{raw}" if raw.isdigit() else raw


def _open_text(path: Path) -> IO[str]:
    if str(path).endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="strict", newline="")
    return open(path, encoding="utf-8", errors="strict", newline="")


def check_file(path: str | Path) -> Path:
    """`path` as a Path; FileNotFoundError ("not found") or IsADirectoryError when it is no file."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a directory, expected a file of abstracts")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found")
    return path


def _lines(path: Path, bad: BadLines) -> Iterator[tuple[int, str]]:
    """(1-based line number, line without its break); undecodable bytes and truncated gzip
    are reported with the line where they happen."""
    check_file(path)
    opener = gzip.open if str(path).endswith(".gz") else open
    line_no = 0
    try:
        with opener(path, "rb") as fh:
            for raw in fh:
                line_no += 1
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    bad.report(InputError(path, line_no, None, f"not UTF-8 ({exc.reason} at byte {exc.start})",
                                          raw[:200].decode("utf-8", "replace")))
                    continue
                yield line_no, text.rstrip("\r\n")
    except (EOFError, OSError, gzip.BadGzipFile) as exc:
        bad.report(InputError(path, line_no + 1, None, f"unreadable: truncated or corrupt file ({exc})"))


# --------------------------------------------------------------------------------------
# PubTator
# --------------------------------------------------------------------------------------

_TITLE = re.compile(r"^([^|\t]+)\|t\|(.*)$")
_ABSTRACT = re.compile(r"^([^|\t]+)\|a\|(.*)$")


def read_pubtator(path: str | Path, bad_lines: BadLines | None = None, check_offsets: bool = True) -> Iterator[Document]:
    """Documents of a PubTator file, with their mentions and relations.

    Checks every annotation line: the PMID must be the current document's, offsets integers
    inside the text, and (with `check_offsets`) the mention must equal the text at its offsets.
    """
    path = Path(path)
    bad = bad_lines or BadLines()
    doc: Document | None = None

    def finish(d: Document | None) -> Iterator[Document]:
        if d is not None:
            yield d

    for line_no, line in _lines(path, bad):
        if not line.strip():
            yield from finish(doc)
            doc = None
            continue
        m = _TITLE.match(line)
        if m:
            yield from finish(doc)
            doc = Document(id=_doc_id(m.group(1)), title=m.group(2), source=str(path), line=line_no)
            continue
        m = _ABSTRACT.match(line)
        if m:
            if doc is None or _doc_id(m.group(1)) != doc.id:
                if doc is not None:
                    yield doc
                doc = Document(id=_doc_id(m.group(1)), source=str(path), line=line_no)
            doc.abstract = m.group(2)
            continue
        cols = line.split("\t")
        if doc is None:
            bad.report(InputError(path, line_no, None, "annotation line before any title/abstract line "
                                  "(expected 'PMID|t|title')", line[:300]))
            continue
        if _doc_id(cols[0]) != doc.id:
            bad.report(InputError(path, line_no, "pmid", f"PMID {cols[0]!r} differs from the current document "
                                  f"{doc.id} (missing blank line between documents?)", line[:300]))
            continue
        if len(cols) >= 5 and cols[1].isdigit():
            try:
                start, end = int(cols[1]), int(cols[2])
            except ValueError:
                bad.report(InputError(path, line_no, "end", f"offset {cols[2]!r} is not an integer", line[:300]))
                continue
            text = doc.text
            if not (0 <= start < end <= len(text)):
                bad.report(InputError(path, line_no, "start", f"offsets {start}-{end} outside the text "
                                      f"(length {len(text)})", line[:300]))
                continue
            if check_offsets and text[start:end] != cols[3]:
                bad.report(InputError(path, line_no, "mention", f"mention {cols[3]!r} differs from the text at "
                                      f"{start}-{end} ({text[start:end]!r})", line[:300]))
                continue
            if len(cols) == 5:  # no id column (unnormalised exports): a mention without ids
                doc.mentions.append(Mention(start, end, cols[3], cols[4], (), line_no, None, ()))
                continue
            ids = tuple(i.strip() for i in re.split(r"[|,;]", cols[5]) if i.strip())
            doc.mentions.append(Mention(start, end, cols[3], cols[4], ids, line_no, cols[5], tuple(cols[6:])))
        elif len(cols) >= 4 and not cols[1].lstrip("-").isdigit():
            doc.relations.append(Relation(cols[1], cols[2], cols[3], cols[4] if len(cols) > 4 else None, line_no))
        else:
            field_name = "start" if len(cols) >= 2 and cols[1].lstrip("-").isdigit() else None
            bad.report(InputError(path, line_no, field_name, f"not a PubTator title, abstract, mention (5-6+ columns) "
                                  f"or relation (4+ columns) line: {len(cols)} column(s)", line[:300]))
    yield from finish(doc)


def write_pubtator(docs: Iterable[Document], out: IO[str]) -> None:
    """Write documents back in PubTator format (inverse of `read_pubtator`)."""
    for d in docs:
        pmid = d.pmid or d.id
        out.write(f"{pmid}|t|{d.title}\n{pmid}|a|{d.abstract}\n")
        for m in d.mentions:
            raw = m.raw_ids if m.raw_ids is not None else ("|".join(m.ids) or "-")
            tail = "".join("\t" + x for x in m.extra)
            out.write(f"{pmid}\t{m.start}\t{m.end}\t{m.text}\t{m.type}\t{raw}{tail}\n")
        for r in d.relations:
            tail = f"\t{r.novel}" if r.novel is not None else ""
            out.write(f"{pmid}\t{r.type}\t{r.id1}\t{r.id2}{tail}\n")
        out.write("\n")


# --------------------------------------------------------------------------------------
# PubMed / MEDLINE XML
# --------------------------------------------------------------------------------------


def _all_text(el) -> str:
    return "".join(el.itertext()).strip() if el is not None else ""


def read_medline_xml(path: str | Path, bad_lines: BadLines | None = None) -> Iterator[Document]:
    """PubmedArticle / MedlineCitation records of a PubMed XML file (baseline, update or efetch).

    Streams with expat (`xml.etree.ElementTree.XMLPullParser`, fed line by line) and clears
    each finished record. A record without a PMID is reported with its first line; broken XML
    is reported with the line where the parser stopped, and reading ends there (after a syntax
    error nothing in the file can be trusted).
    """
    import xml.etree.ElementTree as ET

    path = check_file(path)
    bad = bad_lines or BadLines()
    opener = gzip.open if str(path).endswith(".gz") else open
    parser = ET.XMLPullParser(events=("start", "end"))
    record_tag = None
    record_line = 1
    line_no = 0
    with opener(path, "rb") as raw:
        while True:
            # Fed line by line, so every event and every syntax error has its exact line.
            try:
                chunk = raw.readline()
            except (EOFError, OSError) as exc:
                bad.report(InputError(path, line_no + 1, None, f"unreadable: truncated or corrupt file ({exc})"))
                return
            if chunk:
                line_no += 1
            try:
                if chunk:
                    parser.feed(chunk)
                else:
                    parser.close()
            except ET.ParseError as exc:
                line = exc.position[0] if getattr(exc, "position", None) else line_no
                bad.report(InputError(path, line, None, f"malformed XML: {exc}"))
                return
            try:
                events = list(parser.read_events())  # a syntax error is raised here, not by feed()
            except ET.ParseError as exc:
                line = exc.position[0] if getattr(exc, "position", None) else line_no
                bad.report(InputError(path, line, None, f"malformed XML: {exc}"))
                return
            for event, el in events:
                tag = el.tag.rsplit("}", 1)[-1] if isinstance(el.tag, str) else ""
                if event == "start":
                    if record_tag is None and tag in ("PubmedArticle", "PubmedBookArticle", "MedlineCitation"):
                        record_tag, record_line = tag, line_no
                    continue
                if tag != record_tag:
                    continue
                record_tag = None
                doc = _medline_record(el)
                el.clear()
                if doc is None:
                    bad.report(InputError(path, record_line, "PMID", f"{tag} record without a PMID"))
                    continue
                doc.source, doc.line = str(path), record_line
                yield doc
            if not chunk:
                return


def _medline_record(el) -> Document | None:
    pmid = el.find(".//PMID")
    if pmid is None or not (pmid.text or "").strip():
        return None
    title = _all_text(el.find(".//ArticleTitle")) or _all_text(el.find(".//BookTitle"))
    parts = []
    for a in el.findall(".//Abstract/AbstractText"):
        text = _all_text(a)
        if not text:
            continue
        label = a.get("Label")
        parts.append(f"{label}: {text}" if label and label.upper() != "UNLABELLED" else text)
    year = None
    for xp in (".//Article/Journal/JournalIssue/PubDate/Year", ".//PubDate/Year", ".//ArticleDate/Year",
               ".//DateCompleted/Year"):
        y = el.find(xp)
        if y is not None and (y.text or "").strip().isdigit():
            year = int(y.text.strip())
            break
    if year is None:
        md = el.find(".//PubDate/MedlineDate")
        if md is not None and md.text:
            m = re.search(r"\b(1[89]\d\d|20\d\d)\b", md.text)
            year = int(m.group(1)) if m else None
    return Document(id=f"PMID:{pmid.text.strip()}", title=title, abstract=" ".join(parts), year=year)


# --------------------------------------------------------------------------------------
# JSON lines and plain text
# --------------------------------------------------------------------------------------


def read_jsonl(path: str | Path, bad_lines: BadLines | None = None) -> Iterator[Document]:
    path = Path(path)
    bad = bad_lines or BadLines()
    for line_no, line in _lines(path, bad):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            bad.report(InputError(path, line_no, None, f"not JSON: {exc.msg} at column {exc.colno}", line[:300]))
            continue
        if not isinstance(obj, dict):
            bad.report(InputError(path, line_no, None, "expected a JSON object per line", line[:300]))
            continue
        raw_id = obj.get("id", obj.get("pmid"))
        if raw_id is None or str(raw_id).strip() == "":
            bad.report(InputError(path, line_no, "id", "missing 'id' (or 'pmid')", line[:300]))
            continue
        title = str(obj.get("title") or "")
        abstract = str(obj.get("abstract") or obj.get("text") or "")
        year = obj.get("year")
        try:
            year = int(year) if year not in (None, "") else None
        except (TypeError, ValueError):
            bad.report(InputError(path, line_no, "year", f"year {year!r} is not an integer", line[:300]))
            continue
        yield Document(id=_doc_id(str(raw_id)), title=title, abstract=abstract, year=year, source=str(path), line=line_no)


def read_text(path: str | Path, bad_lines: BadLines | None = None) -> Iterator[Document]:
    """``id<TAB>text`` per line; a file without tabs is one document named after the file."""
    path = Path(path)
    bad = bad_lines or BadLines()
    whole: list[str] = []
    tabbed = None
    for line_no, line in _lines(path, bad):
        if not line.strip():
            continue
        has_tab = "\t" in line
        if tabbed is None:
            tabbed = has_tab
        if tabbed:
            if not has_tab:
                bad.report(InputError(path, line_no, "id", "expected '<id><TAB><text>'", line[:300]))
                continue
            raw_id, text = line.split("\t", 1)
            if not raw_id.strip():
                bad.report(InputError(path, line_no, "id", "empty id", line[:300]))
                continue
            yield Document(id=_doc_id(raw_id), abstract=text, source=str(path), line=line_no)
        else:
            whole.append(line)
    if whole:
        name = path.name
        for suffix in (".gz", ".txt"):
            name = name.removesuffix(suffix)
        yield Document(id=name, abstract=" ".join(whole), source=str(path), line=1)


# --------------------------------------------------------------------------------------


def detect_format(path: str | Path) -> str:
    """'pubtator' | 'xml' | 'jsonl' | 'text' from the name, else from the first bytes."""
    name = str(path).lower().removesuffix(".gz")
    if name.endswith(".xml"):
        return "xml"
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if name.endswith((".pubtator", ".pubtator.txt", ".bioc.pubtator")):
        return "pubtator"
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as fh:
        head = fh.read(4096).decode("utf-8", "replace").lstrip("\ufeff")
    first = head.lstrip()
    if first.startswith("<"):
        return "xml"
    if first.startswith("{"):
        return "jsonl"
    if _TITLE.match(first.split("\n", 1)[0]) or _ABSTRACT.match(first.split("\n", 1)[0]):
        return "pubtator"
    return "text"


READERS = {"pubtator": read_pubtator, "xml": read_medline_xml, "jsonl": read_jsonl, "text": read_text}


def read_documents(path: str | Path, fmt: str = "auto", bad_lines: BadLines | None = None) -> Iterator[Document]:
    """Documents of any supported file (format detected from the name or content)."""
    check_file(path)
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt not in READERS:
        raise ValueError(f"unknown format {fmt!r}: expected one of {sorted(READERS)} or 'auto'")
    return READERS[fmt](path, bad_lines=bad_lines)
