"""A dir store's sidecars are read back from disk: a planted or damaged one is ignored.

A sidecar caches what a bucket keeps beside the bytes; when it cannot be
trusted the store recomputes the etag and guesses the type, so ``locate`` (and
``list``, ``head``, ``artreg serve``) never fails because of one, and nothing
unprintable ever reaches a header.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from fuzzing import fuzz
from hostile import mutated, raw_bytes
from hypothesis import given

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
