"""A dir store's sidecars are read back from disk: a planted or damaged one is ignored.

A sidecar caches what a bucket keeps beside the bytes; when it cannot be
trusted the store recomputes the etag and guesses the type, so ``locate`` (and
``list``, ``head``, ``artreg serve``) never fails because of one, and nothing
unprintable ever reaches a header.
"""

from __future__ import annotations

import hashlib
import threading
import urllib.request
from pathlib import Path

import pytest
from fuzzing import fuzz
from hostile import mutated, raw_bytes
from hypothesis import given

from artreg.serve.server import make_server
from artreg.stores import PutRequest
from artreg.stores.dir import META_DIR, DirStore

BODY = b"hello\n"
MD5 = hashlib.md5(BODY, usedforsecurity=False).hexdigest()


def planted(tmp_path: Path, sidecar: bytes) -> DirStore:
    store = DirStore(tmp_path / "public")
    store.put(PutRequest("a/b.txt", BODY, "text/plain", cache_control="no-cache"))
    side = store.root / META_DIR / "objects" / "a" / "b.txt.json"
    assert side.is_file()
    side.write_bytes(sidecar)
    return store


def check(store: DirStore) -> None:
    found = store.locate("a/b.txt")
    assert found is not None
    for text in (found.info.etag, found.content_type, found.cache_control or "x"):
        assert isinstance(text, str) and text.isprintable()
    assert all(isinstance(v, str) and v.isprintable() for v in found.metadata.values())
    assert [info.key for info in store.list()] == ["a/b.txt"]


@pytest.mark.parametrize(
    "sidecar",
    [
        b'{"size": 1e999, "etag": "x"}',
        b'{"size": ' + b"1" * 5000 + b"}",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"etag": "a\\r\\nSet-Cookie: x", "contentType": "text/html\\nX: y"}',
        b'{"metadata": {"sha256": ["x"]}}',
        b'{"metadata": "x"}',
        b"\xff",
    ],
)
def test_a_hostile_sidecar_is_ignored(tmp_path: Path, sidecar: bytes) -> None:
    store = planted(tmp_path, sidecar)
    check(store)
    found = store.locate("a/b.txt")
    assert found is not None and found.info.etag == MD5


@fuzz()
@given(raw_bytes)
def test_raw_sidecars_never_break_reads(
    tmp_path_factory: pytest.TempPathFactory, body: bytes
) -> None:
    check(planted(tmp_path_factory.mktemp("side"), body))


VALID = {
    "contentType": "text/plain",
    "cacheControl": "no-cache",
    "metadata": {"sha256": "ab"},
    "etag": MD5,
    "size": 6,
    "mtimeNs": 1,
}


@fuzz()
@given(mutated(VALID))
def test_damaged_sidecars_never_break_reads(
    tmp_path_factory: pytest.TempPathFactory, body: bytes
) -> None:
    check(planted(tmp_path_factory.mktemp("side"), body))


@pytest.mark.parametrize(
    "sidecar",
    [
        b'{"etag": "a\\r\\nSet-Cookie: x=1", "contentType": "text/plain\\r\\nX-Evil: 1",'
        b' "cacheControl": "no-cache\\nX-Evil: 2", "metadata": {"a": "b\\r\\nX-Evil: 3"}}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"size": ' + b"1" * 5000 + b"}",
    ],
)
def test_artreg_serve_ignores_a_hostile_sidecar(tmp_path: Path, sidecar: bytes) -> None:
    store = planted(tmp_path, sidecar)
    server = make_server(store.root)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/a/b.txt") as answer:
            headers = {k.lower(): v for k, v in answer.getheaders()}
            assert answer.status == 200 and answer.read() == BODY
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert not any(k.startswith(("x-evil", "set-cookie")) for k in headers)
    assert not any("x-evil" in v.lower() for v in headers.values())
    assert headers["etag"] == f'"{MD5}"'
