"""What only the dir store does: files on disk, sidecars, locking across processes."""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import artreg.stores.dir
from artreg.stores import ContentChanged, PreconditionFailed, PutRequest, StoreError
from artreg.stores.dir import META_DIR, DirStore


@pytest.fixture
def store(tmp_path: Path) -> DirStore:
    return DirStore(tmp_path / "public")


def test_objects_are_plain_files_at_their_key(store: DirStore) -> None:
    store.put(PutRequest("v2/garage/blobs/sha256:ab", b"blob", "application/octet-stream"))
    assert (store.root / "v2" / "garage" / "blobs" / "sha256:ab").read_bytes() == b"blob"


def test_sidecars_hold_headers_and_never_show_in_listings(store: DirStore) -> None:
    store.put(
        PutRequest("index.html", b"<h1>", "text/html; charset=utf-8", cache_control="no-cache")
    )

    sidecar = store.root / META_DIR / "objects" / "index.html.json"
    doc = json.loads(sidecar.read_text())
    assert doc["contentType"] == "text/html; charset=utf-8"
    assert doc["cacheControl"] == "no-cache"
    assert doc["etag"] == hashlib.md5(b"<h1>").hexdigest()
    assert [info.key for info in store.list()] == ["index.html"]
    assert [info.key for info in store.list(".")] == []


def test_the_metadata_directory_is_not_a_valid_key(store: DirStore) -> None:
    with pytest.raises(StoreError, match="reserved"):
        store.put(PutRequest(f"{META_DIR}/objects/x.json", b"{}", "application/json"))


def test_files_placed_by_hand_get_an_etag_and_a_guessed_type(store: DirStore) -> None:
    (store.root / "docs").mkdir(parents=True)
    (store.root / "docs" / "index.html").write_bytes(b"<p>hi</p>")

    found = store.locate("docs/index.html")
    assert found is not None
    assert found.info.etag == hashlib.md5(b"<p>hi</p>").hexdigest()
    assert found.content_type == "text/html"
    assert [info.key for info in store.list()] == ["docs/index.html"]


def test_a_file_changed_behind_the_stores_back_gets_a_fresh_etag(store: DirStore) -> None:
    store.put(PutRequest("a.txt", b"one", "text/plain"))
    (store.root / "a.txt").write_bytes(b"changed by hand")

    info = store.head("a.txt")
    assert info is not None
    assert info.etag == hashlib.md5(b"changed by hand").hexdigest()
    assert info.size == len(b"changed by hand")


def test_a_key_cannot_be_both_a_file_and_a_directory(store: DirStore) -> None:
    store.put(PutRequest("a", b"file", "text/plain"))
    with pytest.raises(StoreError, match="cannot store 'a/b'"):
        store.put(PutRequest("a/b", b"below", "text/plain"))
    store.put(PutRequest("c/d", b"below", "text/plain"))
    with pytest.raises(StoreError, match="cannot store 'c'"):
        store.put(PutRequest("c", b"file", "text/plain"))
    assert store.get("a") == b"file"
    assert store.get("c/d") == b"below"


def test_delete_prunes_emptied_directories(store: DirStore) -> None:
    store.put(PutRequest("v1/linux/amd64/app", b"x", "x/y"))
    store.put(PutRequest("v1/keep", b"x", "x/y"))
    store.delete(["v1/linux/amd64/app"])

    assert not (store.root / "v1" / "linux").exists()
    assert not (store.root / META_DIR / "objects" / "v1" / "linux").exists()
    assert (store.root / "v1" / "keep").exists()


def test_failed_uploads_leave_no_temporary_files(store: DirStore, tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"now")
    with pytest.raises(ContentChanged):
        store.put(PutRequest("k", path, "x/y", sha256=hashlib.sha256(b"then").hexdigest()))
    with pytest.raises(PreconditionFailed):
        store.put(PutRequest("k2", b"x", "x/y"), if_match="0" * 32)

    assert list((store.root / META_DIR / "tmp").iterdir()) == []


def test_a_missing_source_file_is_a_clear_error(store: DirStore, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot read it to upload as 'k'"):
        store.put(PutRequest("k", tmp_path / "missing", "x/y"))


def test_listing_a_missing_root_is_empty(tmp_path: Path) -> None:
    assert DirStore(tmp_path / "nowhere").list() == []


def test_if_none_match_lets_exactly_one_thread_win(store: DirStore) -> None:
    def attempt(i: int) -> bool:
        try:
            store.put(PutRequest("lock", str(i).encode(), "text/plain"), if_none_match=True)
            return True
        except PreconditionFailed:
            return False

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        wins = list(pool.map(attempt, range(32)))
    assert wins.count(True) == 1
    assert store.get("lock") == str(wins.index(True)).encode()


_RACER = """
import sys
from pathlib import Path
from artreg.stores import PreconditionFailed, PutRequest
from artreg.stores.dir import DirStore
store = DirStore(Path(sys.argv[1]))
wins = 0
for i in range(20):
    try:
        store.put(PutRequest(f"k{i}", sys.argv[2].encode(), "text/plain"), if_none_match=True)
        wins += 1
    except PreconditionFailed:
        pass
print(wins)
"""


def test_if_none_match_holds_across_processes(store: DirStore) -> None:
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, str(store.root), f"p{n}"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    wins = [int(p.communicate()[0]) for p in racers]
    assert all(p.returncode == 0 for p in racers)
    assert sum(wins) == 20  # each key written exactly once
    assert len(store.list()) == 20


def test_published_files_are_world_readable(tmp_path: Path) -> None:
    """A web server running as another user must be able to read what was published."""
    store = DirStore(tmp_path / "public")
    store.put(PutRequest(key="v1.0.0/linux/amd64/app", body=b"x", content_type="text/plain"))
    mode = (tmp_path / "public" / "v1.0.0" / "linux" / "amd64" / "app").stat().st_mode
    umask = artreg.stores.dir._UMASK
    assert stat.S_IMODE(mode) == 0o666 & ~umask
    if umask == 0o022:  # the usual one: readable by everyone, like any published file
        assert stat.S_IMODE(mode) == 0o644
