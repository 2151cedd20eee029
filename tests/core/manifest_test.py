"""Build manifests read back from a target: anything malformed is one InvalidManifest."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from fuzzing import fuzz
from hostile import mutated, raw_bytes
from hypothesis import given

from artreg.core.manifest import MANIFEST_FIX, Build, FileEntry, ImageEntry, build_from_bytes
from artreg.core.tags import Category
from artreg.errors import InvalidManifest

WHERE = "dir:/srv: _artreg/builds/v1.0.0.json"
BUILD = Build(
    tag="v1.0.0",
    category=Category.RELEASE,
    published=dt.datetime(2025, 6, 1, 12, tzinfo=dt.timezone.utc),
    commit="a" * 40,
    files=(FileEntry("app", "linux/amd64", "app", "v1.0.0/linux/amd64/app", 12, "b" * 64),),
    images=(ImageEntry("img", "demo", "v1.0.0", "sha256:" + "c" * 64, "application/json", 9),),
)
VALID: dict[str, Any] = BUILD.to_json()
DEEP = "[" * 10**5 + "]" * 10**5


def read(body: bytes) -> Build | None:
    """The build, or None when refused with the one error type, naming the object and a fix."""
    try:
        return build_from_bytes(body, WHERE)
    except InvalidManifest as exc:
        assert exc.message.startswith(f"{WHERE}: not a valid artreg build manifest: ")
        assert exc.message.endswith(f"; {MANIFEST_FIX}")
        assert "\n" not in exc.message
        return None


def with_file(**changes: Any) -> bytes:
    doc = json.loads(json.dumps(VALID))
    doc["files"][0].update(changes)
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (with_file(size=1.5), "files[0].size: expected an integer from 0 to"),
        (with_file(size="12"), "files[0].size: expected an integer from 0 to"),
        (with_file(size=True), "files[0].size: expected an integer from 0 to"),
        (with_file(size=-1), "files[0].size: expected an integer from 0 to"),
        (with_file(size=2**64), "files[0].size: expected an integer from 0 to"),
        (with_file(sha256="B" * 64), "files[0].sha256: expected 64 lowercase hex digits"),
        (with_file(key=["a"]), "files[0].key: expected a string, found ['a']"),
        (with_file(name=None), "files[0].name: expected a string, found None"),
        (json.dumps({**VALID, "files": {}}).encode(), "files: expected an array"),
        (json.dumps({**VALID, "files": [1]}).encode(), "files[0]: expected an object"),
        (json.dumps({**VALID, "category": "invalid"}).encode(), "category: expected release"),
        (json.dumps({**VALID, "tag": "v" * 129}).encode(), "tag: expected a string of at most"),
        (json.dumps({**VALID, "published": "yesterday"}).encode(), "published: expected an"),
        (json.dumps({**VALID, "commit": 7}).encode(), "commit: expected a string"),
        (json.dumps({k: v for k, v in VALID.items() if k != "tag"}).encode(), "tag: missing"),
        (json.dumps({**VALID, "schemaVersion": 2}).encode(), "schemaVersion: expected 1"),
        (json.dumps([VALID]).encode(), "the document: expected an object, found an array"),
        (
            json.dumps(VALID).replace('"size": 12', '"size": 1e999').encode(),
            "not valid JSON: number '1e999' is out of range",
        ),
        (
            json.dumps(VALID).replace('"size": 12', '"size": ' + "1" * 5000).encode(),
            "not valid JSON: integer of 5000 digits",
        ),
        (
            json.dumps(VALID)
            .replace('"size": 12', '"size": ' + "[" * 10**5 + "]" * 10**5)
            .encode(),
            "nested more than 32 levels deep",
        ),
    ],
)
def test_malformed_manifest_is_one_error_naming_key_and_field(body: bytes, detail: str) -> None:
    with pytest.raises(InvalidManifest) as caught:
        build_from_bytes(body, WHERE)
    assert caught.value.message.startswith(f"{WHERE}: not a valid artreg build manifest: {detail}")


def test_unknown_members_are_ignored() -> None:
    doc = json.loads(json.dumps(VALID))
    doc["future"] = {"nested": [1, 2]}
    doc["files"][0]["mode"] = 493
    doc["images"][0]["annotations"] = {}
    assert build_from_bytes(json.dumps(doc).encode(), WHERE) == BUILD


def test_a_manifest_reads_back_as_written() -> None:
    assert build_from_bytes(BUILD.to_bytes(), WHERE) == BUILD


@fuzz()
@given(raw_bytes)
def test_raw_bytes_are_a_build_or_one_error(body: bytes) -> None:
    read(body)


@fuzz()
@given(mutated(VALID))
def test_damaged_manifests_are_a_build_or_one_error(body: bytes) -> None:
    build = read(body)
    if build is not None:  # what was read is what the types promise
        assert all(isinstance(f.size, int) and f.size >= 0 for f in build.files)
        assert isinstance(build.tag, str) and build.category in Category
