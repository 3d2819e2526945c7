"""`targetkg.ingest.fetch` against a real loopback HTTP server serving the shared data.

URL layout of the test server:
  /shared/<path>     the shared data dir (real release files, e.g. /shared/hetionet/...)
  /mirror/<path>     a per-session temp dir for hand-made mirrors (zips, corrupted copies)
  /truncated/<path>  a shared file whose body stops halfway (Content-Length stays full)
Every request path is logged, so tests can count network use.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from targetkg.ingest.fetch import (
    CATALOGUE,
    ChecksumError,
    FetchError,
    fetch,
    get_source,
    list_sources,
)
from targetkg.settings import Settings

DATA = Path(os.environ.get("TARGETKG_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data")).resolve()
PC_GMT = "PathwayCommons12.All.hgnc.gmt.gz"
PC_GMT_SHA = "bde3e68cdc053bd6399638d456292a79634b9c3ce1239df9b6acda6558900065"
HET_NODES = "hetionet-v1.0-nodes.tsv"
HET_NODES_SHA = "3ad9eb86c031df8bc7d5efefa6edc93562182eb9a6a71e5129d3f18b9d42c50e"
HET_META = "hetionet-v1.0-metagraph.json"



def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class LoopbackServer:
    def __init__(self, mirror: Path):
        self.mirror = mirror
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_GET(self):
                server.requests.append(self.path)
                prefix, _, rel = self.path.lstrip("/").partition("/")
                roots = {"shared": DATA, "mirror": server.mirror, "truncated": DATA}
                root = roots.get(prefix)
                file = (root / rel).resolve() if root else None
                if file is None or not file.is_file() or not file.is_relative_to(root.resolve()):
                    self.send_error(404)
                    return
                body = file.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if prefix == "truncated" else body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.strip('/')}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = LoopbackServer(tmp_path_factory.mktemp("mirror"))
    yield srv
    srv.close()


@pytest.fixture()
def http(server):
    server.requests.clear()
    return server


@pytest.fixture()
def settings(tmp_path) -> Settings:
    return Settings(cache_dir=tmp_path / "cache")


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*.part"))


# --- catalogue --------------------------------------------------------------------------


def test_catalogue_names_and_pins_match_the_shared_layout():
    assert [s.name for s in list_sources()] == ["reactome", "pathwaycommons", "hetionet"]
    verified = 0
    for release in CATALOGUE.values():
        for f in release.files:
            # The mirror mapping relies on the local name being the URL's last component.
            assert f.url.rsplit("/", 1)[1] == f.name, f
            shared = DATA / release.name / f.name
            if f.sha256 and shared.is_file():  # pins must be the real files' checksums
                assert sha256(shared) == f.sha256, f.name
                assert shared.stat().st_size == f.size, f.name
                verified += 1
    assert verified >= 3, "no pinned checksum was checked against the shared files"
    # Adapters read these names in the shared layout, so fetched folders work as --from dirs.
    reactome = {n for f in CATALOGUE["reactome"].files if not f.optional for n in f.local_names}
    assert {"ReactomePathways.txt", "ReactomePathwaysRelation.txt", "ReactomePathways.gmt"} <= reactome
    assert {HET_NODES, HET_META} <= {f.name for f in CATALOGUE["hetionet"].files}


def test_unknown_source_or_file_is_a_clear_error(settings):
    with pytest.raises(FetchError, match="unknown source 'nope'.*hetionet"):
        fetch("nope", settings=settings, progress=False)
    with pytest.raises(FetchError, match="no release file 'x.tsv'"):
        get_source("hetionet").file("x.tsv")


# --- downloading ------------------------------------------------------------------------


def test_fetch_pathwaycommons_gmt_verified_against_pin(http, settings):
    result = fetch("pathwaycommons", files=[PC_GMT], base_url=http.url("shared/pathwaycommons"),
                   settings=settings, progress=False)

    dest = settings.cache_dir / "releases" / "pathwaycommons"
    assert result.dest == dest
    assert http.requests == [f"/shared/pathwaycommons/{PC_GMT}"]
    [f] = result.files
    assert (f.name, f.status, f.pinned, f.sha256, f.size) == (PC_GMT, "downloaded", True, PC_GMT_SHA, 244_211)
    assert sha256(dest / PC_GMT) == PC_GMT_SHA
    manifest = json.loads((dest / "manifest.json").read_text())
    entry = manifest["files"][PC_GMT]
    assert entry["url"] == http.url(f"shared/pathwaycommons/{PC_GMT}")
    assert (entry["sha256"], entry["size"], entry["pinned"]) == (PC_GMT_SHA, 244_211, True)
    assert entry["fetched_at"]
    assert leftovers(dest) == []


def test_second_fetch_makes_no_request_and_bad_cache_is_replaced(http, settings):
    kwargs = dict(files=[HET_NODES, HET_META], base_url=http.url("shared/hetionet"), settings=settings, progress=False)
    first = fetch("hetionet", **kwargs)
    assert [f.status for f in first.files] == ["downloaded", "downloaded"]
    assert len(http.requests) == 2
    assert sha256(first.path(HET_NODES)) == HET_NODES_SHA

    http.requests.clear()
    second = fetch("hetionet", **kwargs)
    assert http.requests == []
    assert [f.status for f in second.files] == ["cached", "cached"]

    # A damaged cached copy fails its checksum and is downloaded again (only that one).
    with open(first.path(HET_NODES), "ab") as fh:
        fh.write(b"x")
    third = fetch("hetionet", **kwargs)
    assert http.requests == [f"/shared/hetionet/{HET_NODES}"]
    assert [f.status for f in third.files] == ["downloaded", "cached"]
    assert sha256(third.path(HET_NODES)) == HET_NODES_SHA


def test_unpinned_zip_release_is_unpacked_and_cached_via_manifest(http, settings):
    # Reactome "current" files have no pin: the checksum recorded in the manifest is what
    # lets a second run skip the network. The GMT is zipped upstream and must be unpacked.
    mirror = http.mirror / "reactome"
    mirror.mkdir(exist_ok=True)
    for name in ("ReactomePathways.txt", "ReactomePathwaysRelation.txt"):
        shutil.copyfile(DATA / "reactome" / name, mirror / name)
    with zipfile.ZipFile(mirror / "ReactomePathways.gmt.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(DATA / "reactome" / "ReactomePathways.gmt", "ReactomePathways.gmt")

    kwargs = dict(base_url=http.url("mirror/reactome"), settings=settings, progress=False)
    first = fetch("reactome", **kwargs)  # default set: biopax.zip is optional, not requested
    assert sorted(http.requests) == sorted(f"/mirror/reactome/{n}" for n in
                                           ("ReactomePathways.txt", "ReactomePathwaysRelation.txt", "ReactomePathways.gmt.zip"))
    gmt = first.path("ReactomePathways.gmt")
    assert gmt.read_bytes() == (DATA / "reactome" / "ReactomePathways.gmt").read_bytes()
    assert {f.name: f.status for f in first.files}["ReactomePathways.gmt"] == "extracted"
    manifest = json.loads((first.dest / "manifest.json").read_text())["files"]
    assert manifest["ReactomePathways.txt"]["sha256"] == sha256(DATA / "reactome" / "ReactomePathways.txt")
    assert manifest["ReactomePathways.txt"]["pinned"] is False
    assert manifest["ReactomePathways.gmt"]["sha256"] == sha256(gmt)

    http.requests.clear()
    second = fetch("reactome", **kwargs)
    assert http.requests == []
    assert {f.status for f in second.files} == {"cached"}

    forced = fetch("reactome", force=True, **kwargs)
    assert len(http.requests) == 3
    assert {f.status for f in forced.files} == {"downloaded", "extracted"}


# --- failures ---------------------------------------------------------------------------


def test_corrupted_file_is_a_checksum_error_and_leaves_nothing(http, settings):
    bad = bytearray((DATA / "pathwaycommons" / PC_GMT).read_bytes())
    bad[1000] ^= 0xFF  # same size, different content
    (http.mirror / "corrupt").mkdir(exist_ok=True)
    (http.mirror / "corrupt" / PC_GMT).write_bytes(bytes(bad))
    url = http.url(f"mirror/corrupt/{PC_GMT}")

    with pytest.raises(ChecksumError) as err:
        fetch("pathwaycommons", files=[PC_GMT], base_url=http.url("mirror/corrupt"), settings=settings, progress=False)
    msg = str(err.value)
    assert url in msg and PC_GMT_SHA in msg and hashlib.sha256(bad).hexdigest() in msg
    dest = settings.cache_dir / "releases" / "pathwaycommons"
    assert not (dest / PC_GMT).exists()
    assert leftovers(dest) == []
    manifest = dest / "manifest.json"
    assert not manifest.exists() or PC_GMT not in json.loads(manifest.read_text())["files"]


def test_truncated_download_is_an_error_and_leaves_nothing(http, settings):
    with pytest.raises(FetchError, match=f"truncated/pathwaycommons/{PC_GMT}"):
        fetch("pathwaycommons", files=[PC_GMT], base_url=http.url("truncated/pathwaycommons"),
              settings=settings, progress=False)
    dest = settings.cache_dir / "releases" / "pathwaycommons"
    assert not (dest / PC_GMT).exists()
    assert leftovers(dest) == []


def test_required_file_404_is_a_clear_error(http, settings):
    # The shared folder has no PC extended SIF: the default (non-optional) set needs one.
    with pytest.raises(FetchError) as err:
        fetch("pathwaycommons", base_url=http.url("shared/pathwaycommons"), settings=settings, progress=False)
    msg = str(err.value)
    assert "404" in msg and http.url("shared/pathwaycommons/PathwayCommons12.All.hgnc.txt.gz") in msg
    assert "required" in msg
    dest = settings.cache_dir / "releases" / "pathwaycommons"
    assert not (dest / "PathwayCommons12.All.hgnc.txt.gz").exists()
    assert (dest / PC_GMT).exists()  # files verified before the failure are kept


def test_optional_file_404_is_reported_not_raised(http, settings):
    result = fetch("pathwaycommons", files=[PC_GMT, "PathwayCommons12.All.hgnc.sif.gz"],
                   base_url=http.url("shared/pathwaycommons"), settings=settings, progress=False)
    assert [f.name for f in result.files] == [PC_GMT]
    [msg] = result.skipped
    assert "PathwayCommons12.All.hgnc.sif.gz" in msg and "404" in msg and "optional" in msg


def test_unreachable_server_fails_fast(settings):
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    with pytest.raises(FetchError, match=f"cannot connect to http://127.0.0.1:{port}/{HET_NODES}"):
        fetch("hetionet", files=[HET_NODES], base_url=f"http://127.0.0.1:{port}", settings=settings, progress=False)
    assert time.monotonic() - start < 20  # no hang (generous: the CI machine is shared)


def test_silent_server_times_out(settings):
    # The kernel completes the TCP handshake but nobody ever answers: a read timeout.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        start = time.monotonic()
        with pytest.raises(FetchError, match="timed out"):
            fetch("hetionet", files=[HET_NODES], base_url=f"http://127.0.0.1:{port}", timeout=1.0,
                  settings=settings, progress=False)
        assert time.monotonic() - start < 20  # no hang (generous: the CI machine is shared)
    assert leftovers(settings.cache_dir) == []


# --- from_dir ---------------------------------------------------------------------------


def test_from_dir_copies_and_verifies_without_network(http, settings):
    # from_dir may be the data root (files under <source>/) or the source folder itself.
    result = fetch("hetionet", files=[HET_NODES, HET_META], from_dir=DATA, settings=settings, progress=False)
    assert [f.status for f in result.files] == ["copied", "copied"]
    assert all(f.pinned for f in result.files)
    assert sha256(result.path(HET_NODES)) == HET_NODES_SHA
    assert json.loads((result.dest / "manifest.json").read_text())["files"][HET_NODES]["url"] == str(DATA / "hetionet" / HET_NODES)

    # The shared Reactome folder holds the GMT already unpacked: that form is accepted too.
    reactome = fetch("reactome", from_dir=DATA / "reactome", settings=settings, progress=False)
    assert sorted(f.name for f in reactome.files) == ["ReactomePathways.gmt", "ReactomePathways.txt", "ReactomePathwaysRelation.txt"]
    assert sha256(reactome.path("ReactomePathways.gmt")) == sha256(DATA / "reactome" / "ReactomePathways.gmt")
    assert http.requests == []


def test_from_dir_checks_checksums_and_presence(tmp_path, settings):
    local = tmp_path / "local"
    local.mkdir()
    (local / HET_NODES).write_text("id\tname\tkind\nGene::1\tA1BG\tGene\n")
    with pytest.raises(ChecksumError, match=str(local / HET_NODES)):
        fetch("hetionet", files=[HET_NODES], from_dir=local, settings=settings, progress=False)
    dest = settings.cache_dir / "releases" / "hetionet"
    assert not (dest / HET_NODES).exists() and leftovers(dest) == []

    with pytest.raises(FetchError, match=f"required file {HET_META} not found in {local}"):
        fetch("hetionet", files=[HET_META], from_dir=local, settings=settings, progress=False)
