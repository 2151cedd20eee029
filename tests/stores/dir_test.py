"""What only the dir store does: files on disk, sidecars, locking across processes."""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from publishing import make_site

import artreg.stores.dir
from artreg.errors import ContentChanged, LinkInTarget, PreconditionFailed, StoreError
from artreg.stores import PutRequest
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


def test_a_configured_root_that_is_a_link_is_followed_once(tmp_path: Path) -> None:
    """The user may point ``path`` at a link; only links below the root are refused."""
    (tmp_path / "real").mkdir()
    (tmp_path / "public").symlink_to(tmp_path / "real", target_is_directory=True)
    store = DirStore(tmp_path / "public")
    store.put(PutRequest("v1/app", b"x", "x/y"))
    assert store.root == tmp_path / "real"
    assert (tmp_path / "real" / "v1" / "app").read_bytes() == b"x"


def test_special_files_in_the_target_are_not_objects_and_never_block(store: DirStore) -> None:
    store.put(PutRequest("v1/app", b"x", "x/y"))
    os.mkfifo(store.root / "v1" / "pipe")
    assert [info.key for info in store.list()] == ["v1/app"]
    assert store.head("v1/pipe") is None
    store.delete(["v1/pipe"])  # not an object: left alone
    assert stat.S_ISFIFO((store.root / "v1" / "pipe").lstat().st_mode)


def test_a_link_planted_at_a_key_is_neither_replaced_nor_deleted(
    store: DirStore, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.write_bytes(b"sentinel")
    store.put(PutRequest("v1/app", b"x", "x/y"))
    (store.root / "v1" / "app").unlink()
    (store.root / "v1" / "app").symlink_to(outside)
    for attempt in (
        lambda: store.put(PutRequest("v1/app", b"new", "x/y")),
        lambda: store.delete(["v1/app"]),
        lambda: store.get("v1/app"),
        lambda: store.copy("v1/app", "v2/app"),
    ):
        with pytest.raises(LinkInTarget, match="'v1/app' is a symbolic link"):
            attempt()
    assert outside.read_bytes() == b"sentinel"
    assert (store.root / "v1" / "app").is_symlink()


_UPLOADER = """
import sys
from pathlib import Path
from artreg.stores import PutRequest
from artreg.stores.dir import DirStore
DirStore(Path(sys.argv[1])).put(PutRequest(sys.argv[2], Path(sys.argv[3]), "x/y"))
"""


def _start_upload(root: Path, key: str, fifo: Path) -> tuple[subprocess.Popen[bytes], BinaryIO]:
    """An upload in another process, stalled mid-file: 1 MiB sent, the rest never comes."""
    os.mkfifo(fifo)
    process = subprocess.Popen([sys.executable, "-c", _UPLOADER, str(root), key, str(fifo)])
    feed = fifo.open("wb")
    feed.write(b"a" * 1024 * 1024)
    feed.flush()
    return process, feed


def _partial_tmp_files(root: Path, known: set[Path]) -> Path:
    """Wait for a new temporary file holding the 1 MiB sent so far."""
    deadline = time.monotonic() + 60  # a guard against hanging, not a timing assertion
    while time.monotonic() < deadline:
        for path in (root / META_DIR / "tmp").glob("put-*"):
            if path not in known and path.stat().st_size >= 1024 * 1024:
                return path
        time.sleep(0.01)
    raise AssertionError("the upload never started")


def test_a_killed_upload_leaves_a_tmp_file_that_the_next_write_removes(store: DirStore) -> None:
    """SIGKILL mid-upload; a concurrent live upload's tmp file survives the sweep."""
    store.put(PutRequest("first", b"x", "x/y"))
    killed, feed_killed = _start_upload(store.root, "killed", store.root.parent / "f1")
    left = _partial_tmp_files(store.root, set())
    live, feed_live = _start_upload(store.root, "live", store.root.parent / "f2")
    live_tmp = _partial_tmp_files(store.root, {left})
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    feed_killed.close()
    assert left.exists()  # what a SIGKILL leaves behind (13 MB in one real run)
    hour_ago = time.time() - 3600
    for path in (left, live_tmp):
        os.utime(path, (hour_ago, hour_ago))  # both older than any grace

    DirStore(store.root).put(PutRequest("next", b"x", "x/y"))  # the next run

    assert not left.exists()
    assert live_tmp.exists()  # locked by its live writer: never touched
    feed_live.write(b"end")
    feed_live.close()
    assert live.wait() == 0
    assert store.get("live") == b"a" * 1024 * 1024 + b"end"
    assert store.head("killed") is None
    assert list((store.root / META_DIR / "tmp").iterdir()) == []


def test_the_next_artreg_apply_cleans_a_killed_runs_tmp_files(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    site = make_site(request, tmp_path, "dir")
    site.publish("v1.0.0")
    public = site.root / "public"
    killed, feed = _start_upload(public, "v1.1.0/linux/amd64/app", tmp_path / "fifo")
    left = _partial_tmp_files(public, set())
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    feed.close()
    os.utime(left, (time.time() - 3600, time.time() - 3600))

    site.publish("v1.1.0")

    assert list((public / META_DIR / "tmp").iterdir()) == []


_SEGMENTS = st.sampled_from(["a", "b", "c"])
_KEYS = st.lists(_SEGMENTS, min_size=1, max_size=4).map("/".join)


def _outside_tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


@settings(max_examples=60, deadline=None)
@given(
    keys=st.lists(_KEYS, min_size=1, max_size=8),
    link_at=st.integers(min_value=0),
    to_dir=st.booleans(),
    operations=st.lists(
        st.tuples(st.sampled_from(["put", "delete", "list", "get", "head", "copy"]), _KEYS),
        min_size=1,
        max_size=12,
    ),
)
def test_a_link_anywhere_in_the_target_never_lets_an_operation_out(
    keys: list[str], link_at: int, to_dir: bool, operations: list[tuple[str, str]]
) -> None:
    """Property: whatever the tree, wherever one link is planted (to a directory or a file
    outside, over a directory or a file inside), every operation either works inside the
    target or raises a StoreError; nothing outside is written or removed."""
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        outside = base / "outside"
        for rel in ("a/b/c", "a/b/c/d", "b/a", "c"):  # names an operation might reach
            (outside / rel).mkdir(parents=True, exist_ok=True)
            (outside / rel / "sentinel").write_bytes(rel.encode())
        (outside / "file").write_bytes(b"sentinel file")
        store = DirStore(base / "public")
        for key in keys:
            with contextlib.suppress(StoreError):  # "a" and "a/b" cannot both be files
                store.put(PutRequest(key, key.encode(), "text/plain"))
        paths = sorted(p for p in store.root.rglob("*") if META_DIR not in p.parts)
        planted = paths[link_at % len(paths)]
        if planted.is_dir():
            shutil.rmtree(planted)
        else:
            planted.unlink()
        planted.symlink_to(outside if to_dir else outside / "file")
        before = _outside_tree(outside)

        for operation, key in operations:
            with contextlib.suppress(StoreError):
                if operation == "put":
                    store.put(PutRequest(key, b"new", "text/plain"))
                elif operation == "delete":
                    store.delete([key])
                elif operation == "list":
                    store.list(key)
                elif operation == "get":
                    store.get(key)
                elif operation == "head":
                    store.head(key)
                else:
                    store.copy(key, f"{key}x")

        assert _outside_tree(outside) == before
        assert planted.is_symlink()


def test_a_tree_deeper_than_any_key_is_one_clear_error(store: DirStore) -> None:
    """A listing is bounded (a bind mount of the target into itself nests forever)."""
    store.put(PutRequest("v1/app", b"x", "x/y"))
    os.makedirs(store.root / "/".join(["d"] * 520))
    with pytest.raises(StoreError, match="nest deeper than 512 levels"):
        store.list()
    assert [info.key for info in store.list("v1/")] == ["v1/app"]
