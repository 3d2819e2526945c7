"""Download official source releases into the cache, verified and recorded.

`fetch("hetionet")` downloads the pinned release files of a source into
``<cache_dir>/releases/<source>/`` under the same file names the adapters read in the
shared data layout, so ``targetkg ingest hetionet --from <that dir>`` works on the result.

Guarantees:
- atomic: each file is streamed to ``<name>.part``, fsync'ed, checked (size, and sha256 when
  the catalogue pins one), then renamed; a failed or mismatching download leaves no file;
- idempotent: a file already present whose sha256 matches the pin (or, for unpinned
  "current" files, the checksum recorded at first download in ``manifest.json``) is not
  downloaded again, so a second run needs no network;
- recorded: ``manifest.json`` in the source folder lists url, sha256, size and fetched_at
  of every file.

Mirrors (``base_url``): every file is looked up as ``<base_url>/<name>`` where ``name`` is
the file name of the official URL (its last path component, e.g.
``PathwayCommons12.All.hgnc.gmt.gz`` or ``ReactomePathways.gmt.zip``). A mirror is thus a
flat folder per source, whatever the layout of the official host; e.g. serving the shared
data dir makes ``<server>/hetionet`` a mirror of Hetionet.

Local copies (``from_dir``): the files are taken from a folder instead (looked up by
``name``, then by the unpacked name, in ``from_dir`` and then in ``from_dir/<source>``),
with the same checksum checks; they are hard-linked when possible, copied otherwise.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
import shutil
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

from targetkg.files import sha256_file
from targetkg.settings import Settings, get_settings

CHUNK = 1 << 20  # 1 MiB: big enough for throughput, small enough for a smooth progress bar
USER_AGENT = "targetkg-fetch/0.1 (+https://github.com/; httpx)"


class FetchError(RuntimeError):
    """A release file could not be obtained (network, HTTP status, missing local file)."""


class ChecksumError(FetchError):
    """A file's size or sha256 differs from the expected value."""


@dataclass(frozen=True, slots=True)
class ReleaseFile:
    """One official release file.

    `sha256`/`size` are pinned when the upstream file is immutable (numbered release,
    git commit, LFS object); None for "current" files, whose checksum is then recorded in
    the manifest at first download. `extract` is a glob of one archive member to unpack
    as `extract_to` (the name the adapter reads); the archive itself is kept too.
    """

    source: str
    name: str  # local file name == last component of `url` (also the mirror name)
    url: str
    sha256: str | None = None
    size: int | None = None
    optional: bool = False  # large or secondary: fetched only on request; a 404 is a warning
    extract: str | None = None
    extract_to: str | None = None
    description: str = ""

    @property
    def local_names(self) -> tuple[str, ...]:
        return (self.name, self.extract_to) if self.extract_to else (self.name,)


@dataclass(frozen=True, slots=True)
class SourceRelease:
    name: str
    version: str
    base: str  # the official folder; documentation only (file URLs are absolute)
    files: tuple[ReleaseFile, ...]
    note: str = ""

    def file(self, name: str) -> ReleaseFile:
        for f in self.files:
            if name in f.local_names:
                return f
        known = ", ".join(n for f in self.files for n in f.local_names)
        raise FetchError(f"source {self.name!r} has no release file {name!r} (known: {known})")


# --- the catalogue ----------------------------------------------------------------------

_REACTOME = "https://reactome.org/download/current/"
_PC12 = "https://download.baderlab.org/PathwayCommons/PC2/v12/"
# Hetionet v1.0 is frozen; pin the repository commit the shared data was taken from.
_HETIO_COMMIT = "8a6cc0c5604d0e2908786e4de38af67b8e46ee4a"
_HETIO_RAW = f"https://raw.githubusercontent.com/hetio/hetionet/{_HETIO_COMMIT}/hetnet/"
# Git LFS objects are served from media.githubusercontent.com (raw.* returns the pointer).
_HETIO_LFS = f"https://media.githubusercontent.com/media/hetio/hetionet/{_HETIO_COMMIT}/hetnet/"

CATALOGUE: dict[str, SourceRelease] = {
    "reactome": SourceRelease(
        name="reactome",
        version="current",
        base=_REACTOME,
        note=(
            "Reactome publishes only the current release under a stable URL, so these files "
            "are not pinned: the sha256 computed at first download is recorded in the manifest "
            "(re-fetch with force=True to move to a newer release)."
        ),
        files=(
            ReleaseFile("reactome", "ReactomePathways.txt", _REACTOME + "ReactomePathways.txt",
                        description="all pathways: stable id, name, species"),
            ReleaseFile("reactome", "ReactomePathwaysRelation.txt", _REACTOME + "ReactomePathwaysRelation.txt",
                        description="pathway hierarchy: parent, child"),
            ReleaseFile("reactome", "ReactomePathways.gmt.zip", _REACTOME + "ReactomePathways.gmt.zip",
                        extract="*.gmt", extract_to="ReactomePathways.gmt",
                        description="human gene sets (GMT, HGNC symbols), zipped upstream"),
            ReleaseFile("reactome", "biopax.zip", _REACTOME + "biopax.zip", optional=True,
                        extract="*Homo_sapiens.owl", extract_to="biopax/Homo_sapiens.owl",
                        description="BioPAX Level 3, all species (large); the human file is unpacked"),
        ),
    ),
    "pathwaycommons": SourceRelease(
        name="pathwaycommons",
        version="PC12",
        base=_PC12,
        files=(
            ReleaseFile("pathwaycommons", "PathwayCommons12.All.hgnc.gmt.gz", _PC12 + "PathwayCommons12.All.hgnc.gmt.gz",
                        sha256="bde3e68cdc053bd6399638d456292a79634b9c3ce1239df9b6acda6558900065", size=244_211,
                        description="gene sets of all datasources (HGNC symbols)"),
            ReleaseFile("pathwaycommons", "PathwayCommons12.All.hgnc.txt.gz", _PC12 + "PathwayCommons12.All.hgnc.txt.gz",
                        description="extended SIF: interactions + participant table (large)"),
            ReleaseFile("pathwaycommons", "pathways.txt.gz", _PC12 + "pathways.txt.gz",
                        description="pathway URIs, names and sub-pathways"),
            ReleaseFile("pathwaycommons", "PathwayCommons12.All.hgnc.sif.gz", _PC12 + "PathwayCommons12.All.hgnc.sif.gz",
                        optional=True, description="plain SIF (subset of the extended SIF's columns)"),
        ),
    ),
    "hetionet": SourceRelease(
        name="hetionet",
        version="v1.0",
        base=f"https://github.com/hetio/hetionet/tree/{_HETIO_COMMIT}/hetnet",
        files=(
            ReleaseFile("hetionet", "hetionet-v1.0-nodes.tsv", _HETIO_RAW + "tsv/hetionet-v1.0-nodes.tsv",
                        sha256="3ad9eb86c031df8bc7d5efefa6edc93562182eb9a6a71e5129d3f18b9d42c50e", size=2_509_984,
                        description="all 47,031 nodes: id, name, kind"),
            ReleaseFile("hetionet", "hetionet-v1.0-edges.sif.gz", _HETIO_LFS + "tsv/hetionet-v1.0-edges.sif.gz",
                        # the Git LFS object id is the sha256 of the content
                        sha256="611f0411ac666be4e0270e54bbca67407e14720bfc3099311f0f5eec25c5a947", size=12_401_407,
                        description="all 2,250,197 edges: source, metaedge, target"),
            ReleaseFile("hetionet", "hetionet-v1.0-metagraph.json", _HETIO_RAW + "json/hetionet-v1.0-metagraph.json",
                        sha256="054401cb7b8178fc3c8c6dffb527de09035b81cd57a4ef50a46e25fa2cef2050", size=2_833,
                        description="metanodes, metaedges and their abbreviations"),
        ),
    ),
}


def list_sources() -> list[SourceRelease]:
    """The sources `fetch` knows, with their release files."""
    return list(CATALOGUE.values())


def get_source(source: str) -> SourceRelease:
    try:
        return CATALOGUE[source]
    except KeyError:
        raise FetchError(f"unknown source {source!r}; known sources: {', '.join(CATALOGUE)}") from None


# --- results ----------------------------------------------------------------------------


@dataclass(slots=True)
class FetchedFile:
    name: str
    path: Path
    url: str  # where it came from (URL, or the local path for from_dir)
    sha256: str
    size: int
    status: str  # "downloaded" | "copied" | "cached" | "extracted"
    pinned: bool  # True when the checksum was checked against the catalogue


@dataclass(slots=True)
class FetchResult:
    source: str
    dest: Path
    manifest: Path
    files: list[FetchedFile] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # messages for optional files not found

    def path(self, name: str) -> Path:
        for f in self.files:
            if f.name == name:
                return f.path
        raise KeyError(name)

    @property
    def downloaded(self) -> list[FetchedFile]:
        return [f for f in self.files if f.status == "downloaded"]


# --- helpers ----------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _fsync_dir(path: Path) -> None:
    # Makes the rename itself durable; not supported everywhere (e.g. Windows): best effort.
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _part_path(final: Path) -> Path:
    return final.with_name(final.name + ".part")


def _check(name: str, where: str, actual_sha: str, actual_size: int, sha256: str | None, size: int | None) -> None:
    if size is not None and actual_size != size:
        raise ChecksumError(
            f"size mismatch for {name} from {where}: expected {size} bytes, got {actual_size} bytes "
            f"(sha256 {actual_sha}); the file was discarded"
        )
    if sha256 is not None and actual_sha != sha256:
        raise ChecksumError(
            f"checksum mismatch for {name} from {where}: expected sha256 {sha256}, got {actual_sha} "
            f"({actual_size} bytes); the file was discarded"
        )


class _Manifest:
    """`manifest.json` of one source folder; rewritten atomically after every file."""

    def __init__(self, path: Path, release: SourceRelease):
        self.path = path
        self.data: dict[str, Any] = {"source": release.name, "version": release.version, "files": {}}
        if path.exists():
            with contextlib.suppress(ValueError, OSError):
                old = json.loads(path.read_text(encoding="utf-8"))
                if isinstance(old.get("files"), dict):
                    self.data["files"] = old["files"]

    def get(self, name: str) -> dict[str, Any] | None:
        return self.data["files"].get(name)

    def put(self, name: str, entry: dict[str, Any]) -> None:
        self.data["files"][name] = entry
        self.save()

    def save(self) -> None:
        self.data["updated_at"] = _now()
        part = _part_path(self.path)
        part.write_text(json.dumps(self.data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(part, self.path)


class _Progress:
    """Byte progress bars with rich (stderr), or nothing."""

    def __init__(self, enabled: bool):
        self._progress = None
        if enabled:
            from rich.console import Console
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                console=Console(stderr=True), transient=True,
            )

    def __enter__(self) -> "_Progress":
        if self._progress:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress:
            self._progress.stop()

    @contextlib.contextmanager
    def task(self, name: str, total: int | None) -> Iterator[Any]:
        if not self._progress:
            yield lambda n: None
            return
        task_id = self._progress.add_task(name, total=total)
        try:
            yield lambda n: self._progress.advance(task_id, n)
        finally:
            self._progress.remove_task(task_id)


# --- transfer ---------------------------------------------------------------------------


class _NotFound(Exception):
    def __init__(self, url: str, status: int):
        self.url = url
        self.status = status


def _download(client: httpx.Client, rf: ReleaseFile, url: str, final: Path, progress: _Progress) -> tuple[str, int]:
    """Stream `url` to `final` atomically; returns (sha256, size). Raises _NotFound on 404/410."""
    part = _part_path(final)
    h = hashlib.sha256()
    size = 0
    try:
        with client.stream("GET", url) as resp:
            if resp.status_code in (404, 410):
                raise _NotFound(url, resp.status_code)
            if resp.status_code >= 400:
                raise FetchError(f"{url}: HTTP {resp.status_code} {resp.reason_phrase}")
            declared = resp.headers.get("content-length")
            # Raw bytes are stored as served (a .gz sent with Content-Encoding: gzip stays
            # gzipped), so Content-Length describes exactly what we write.
            expected_len = int(declared) if declared and declared.isdigit() else None
            with open(part, "wb") as fh, progress.task(rf.name, rf.size or expected_len) as advance:
                for chunk in resp.iter_raw(CHUNK):
                    fh.write(chunk)
                    h.update(chunk)
                    size += len(chunk)
                    advance(len(chunk))
                fh.flush()
                os.fsync(fh.fileno())
        if expected_len is not None and size != expected_len:
            raise ChecksumError(f"incomplete download of {url}: server announced {expected_len} bytes, received {size}")
        _check(rf.name, url, h.hexdigest(), size, rf.sha256, rf.size)
        os.replace(part, final)
        _fsync_dir(final.parent)
        return h.hexdigest(), size
    except httpx.TimeoutException as exc:
        raise FetchError(f"timed out downloading {url} ({type(exc).__name__}); is the server reachable?") from exc
    except httpx.ConnectError as exc:
        raise FetchError(f"cannot connect to {url}: {exc}; check the network, or use base_url / from_dir") from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"download of {url} failed: {exc}") from exc
    finally:
        part.unlink(missing_ok=True)


def _find_local(rf: ReleaseFile, from_dir: Path) -> tuple[Path, bool] | None:
    """(path, is_archive) of a local copy of `rf`: the file itself, else its unpacked form."""
    for folder in (from_dir, from_dir / rf.source):
        if (folder / rf.name).is_file():
            return folder / rf.name, True
        if rf.extract_to and (folder / rf.extract_to).is_file():
            return folder / rf.extract_to, False
    return None


def _copy_local(src: Path, final: Path, sha256: str | None, size: int | None, name: str) -> tuple[str, int]:
    actual_sha, actual_size = sha256_file(src), src.stat().st_size
    _check(name, str(src), actual_sha, actual_size, sha256, size)
    part = _part_path(final)
    part.unlink(missing_ok=True)
    try:
        try:
            os.link(src, part)  # no copy of large files when on the same filesystem
        except OSError:
            shutil.copyfile(src, part)
            with open(part, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(part, final)
    finally:
        part.unlink(missing_ok=True)
    return actual_sha, actual_size


def _extract(rf: ReleaseFile, archive: Path, final: Path) -> tuple[str, int, str]:
    """Unpack the archive member matching `rf.extract` to `final` atomically."""
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise FetchError(f"{archive} is not a valid zip archive: {exc}") from exc
    with zf:
        members = [m for m in zf.namelist() if fnmatch.fnmatch(m, rf.extract or "")]
        if not members:
            raise FetchError(f"{archive}: no member matches {rf.extract!r} (members: {zf.namelist()[:10]})")
        member = sorted(members, key=len)[0]  # the shortest path: a top-level file over a nested copy
        final.parent.mkdir(parents=True, exist_ok=True)
        part = _part_path(final)
        h = hashlib.sha256()
        size = 0
        try:
            with zf.open(member) as src, open(part, "wb") as out:
                for chunk in iter(lambda: src.read(CHUNK), b""):
                    out.write(chunk)
                    h.update(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(part, final)
        finally:
            part.unlink(missing_ok=True)
    return h.hexdigest(), size, member


def _is_current(path: Path, expected_sha: str | None) -> str | None:
    """The file's sha256 when it exists and matches `expected_sha`, else None."""
    if expected_sha is None or not path.is_file():
        return None
    actual = sha256_file(path)
    return actual if actual == expected_sha else None


# --- public entry point -----------------------------------------------------------------


def fetch(
    source: str,
    dest: Path | str | None = None,
    base_url: str | None = None,
    from_dir: Path | str | None = None,
    force: bool = False,
    progress: bool = True,
    files: Iterable[str] | None = None,
    include_optional: bool = False,
    timeout: float = 30.0,
    settings: Settings | None = None,
) -> FetchResult:
    """Fetch the release files of `source` into `dest` (default ``<cache_dir>/releases/<source>``).

    files: names to fetch (a file's name or its unpacked name); default: all non-optional
        files, plus the optional ones when `include_optional`.
    base_url: a mirror; each file is read from ``<base_url>/<name>`` (see module doc).
    from_dir: take the files from this local folder instead of the network.
    force: download again even when a verified copy is present.
    timeout: seconds for connecting and between two reads (no hang on a dead server).

    Raises FetchError (ChecksumError for a size/sha256 mismatch) naming the URL or path.
    Optional files missing upstream are reported in `FetchResult.skipped`.
    """
    release = get_source(source)
    settings = settings or get_settings()
    dest = Path(dest) if dest is not None else Path(settings.cache_dir) / "releases" / source
    dest.mkdir(parents=True, exist_ok=True)
    if files is None:
        selected = [f for f in release.files if include_optional or not f.optional]
    else:
        selected = list(dict.fromkeys(release.file(n) for n in files))
    local_root = Path(from_dir) if from_dir is not None else None
    if local_root is not None and not local_root.is_dir():
        raise FetchError(f"from_dir {local_root} is not a directory")

    manifest = _Manifest(dest / "manifest.json", release)
    result = FetchResult(source=source, dest=dest, manifest=manifest.path)
    client: httpx.Client | None = None  # opened lazily: a fully cached run touches no network
    try:
        with _Progress(progress) as bars:
            for rf in selected:
                url = f"{base_url.rstrip('/')}/{rf.name}" if base_url else rf.url
                final = dest / rf.name
                known = manifest.get(rf.name) or {}
                expected = rf.sha256 or (known.get("sha256") if not force else None)

                # 1. A verified copy is already there: nothing to transfer.
                sha = None if force else _is_current(final, expected)
                if sha is not None:
                    result.files.append(FetchedFile(rf.name, final, known.get("url", url), sha,
                                                    final.stat().st_size, "cached", rf.sha256 is not None))
                    if rf.extract_to:
                        _ensure_extracted(rf, final, dest, manifest, result, force)
                    continue

                # 2. Local copy (from_dir): the archive, or already its unpacked form.
                if local_root is not None:
                    found = _find_local(rf, local_root)
                    if found is None:
                        msg = f"{rf.name} not found in {local_root} or {local_root / source}"
                        if rf.optional:
                            result.skipped.append(f"optional file {msg}; skipped")
                            continue
                        raise FetchError(f"required file {msg}")
                    src, is_archive = found
                    if is_archive:
                        sha, size = _copy_local(src, final, rf.sha256, rf.size, rf.name)
                        manifest.put(rf.name, _entry(str(src), sha, size, rf))
                        result.files.append(FetchedFile(rf.name, final, str(src), sha, size, "copied", rf.sha256 is not None))
                        if rf.extract_to:
                            _ensure_extracted(rf, final, dest, manifest, result, force)
                    else:
                        assert rf.extract_to is not None
                        target = dest / rf.extract_to
                        target.parent.mkdir(parents=True, exist_ok=True)
                        # The pin (if any) is the archive's, so the unpacked copy is only recorded.
                        sha, size = _copy_local(src, target, None, None, rf.extract_to)
                        manifest.put(rf.extract_to, {"url": str(src), "sha256": sha, "size": size,
                                                     "fetched_at": _now(), "pinned": False})
                        result.files.append(FetchedFile(rf.extract_to, target, str(src), sha, size, "copied", False))
                    continue

                # 3. Download.
                if client is None:
                    client = httpx.Client(
                        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
                        follow_redirects=True,  # GitHub raw/media and mirrors redirect
                        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
                    )
                try:
                    sha, size = _download(client, rf, url, final, bars)
                except _NotFound as nf:
                    msg = f"{nf.url}: HTTP {nf.status} Not Found"
                    if rf.optional:
                        result.skipped.append(f"optional file {rf.name} not available ({msg}); skipped")
                        continue
                    raise FetchError(f"{msg}: required file {rf.name!r} of source {source!r} is missing on the server") from None
                manifest.put(rf.name, _entry(url, sha, size, rf))
                result.files.append(FetchedFile(rf.name, final, url, sha, size, "downloaded", rf.sha256 is not None))
                if rf.extract_to:
                    _ensure_extracted(rf, final, dest, manifest, result, force=True)
    finally:
        if client is not None:
            client.close()
    return result


def _entry(url: str, sha: str, size: int, rf: ReleaseFile) -> dict[str, Any]:
    return {"url": url, "sha256": sha, "size": size, "fetched_at": _now(), "pinned": rf.sha256 is not None}


def _ensure_extracted(rf: ReleaseFile, archive: Path, dest: Path, manifest: _Manifest,
                      result: FetchResult, force: bool) -> None:
    """Unpack `rf.extract_to` from the archive unless an unchanged copy is already there."""
    assert rf.extract_to is not None
    target = dest / rf.extract_to
    known = manifest.get(rf.extract_to) or {}
    archive_sha = (manifest.get(rf.name) or {}).get("sha256")
    same_archive = known.get("archive_sha256") == archive_sha and archive_sha is not None
    sha = None if force or not same_archive else _is_current(target, known.get("sha256"))
    if sha is not None:
        result.files.append(FetchedFile(rf.extract_to, target, known.get("url", ""), sha,
                                        target.stat().st_size, "cached", False))
        return
    sha, size, member = _extract(rf, archive, target)
    manifest.put(rf.extract_to, {"url": f"{archive.name}!{member}", "sha256": sha, "size": size,
                                 "fetched_at": _now(), "pinned": False, "archive_sha256": archive_sha})
    result.files.append(FetchedFile(rf.extract_to, target, f"{archive.name}!{member}", sha, size, "extracted", False))


def catalogue_table() -> list[dict[str, Any]]:
    """The catalogue as plain rows (for `targetkg fetch --list` or JSON output)."""
    return [asdict(f) | {"version": s.version} for s in CATALOGUE.values() for f in s.files]
