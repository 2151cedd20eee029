"""Build manifests read back from a target: anything malformed is one InvalidManifest."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import pytest
from fuzzing import fuzz
from hostile import mutated, raw_bytes
from hypothesis import given

from artreg.core.manifest import (
    MANIFEST_FIX,
    Build,
    ChecksumsFile,
    FileEntry,
    ImageEntry,
    build_from_bytes,
    sums_of,
    with_checksums,
)
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


# --- the build's SHA256SUMS, listed in its manifest ------------------------------------------


def test_with_checksums_lists_the_sums_the_files_determine() -> None:
    listed = with_checksums(BUILD)
    body = b"b" * 64 + b"  linux/amd64/app\n"
    assert sums_of(BUILD.tag, BUILD.files) == body
    assert listed.checksums == ChecksumsFile(
        "v1.0.0/SHA256SUMS", len(body), hashlib.sha256(body).hexdigest()
    )
    assert listed.to_json()["checksums"] == {
        "key": "v1.0.0/SHA256SUMS",
        "size": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
    }
    # the other members are unchanged, and the member reads back
    assert {k: v for k, v in listed.to_json().items() if k != "checksums"} == VALID
    assert read(listed.to_bytes()) == listed
    assert listed.content_digests() == BUILD.content_digests()  # not content: no re-publish


def test_a_manifest_written_before_checksums_were_listed_reads_back() -> None:
    assert "checksums" not in VALID
    build = read(json.dumps(VALID).encode())
    assert build is not None and build.checksums is None


def test_a_tag_with_plus_lists_its_encoded_directory() -> None:
    build = Build(
        "v1.0.0+x",
        Category.EXTRA,
        BUILD.published,
        None,
        (FileEntry("app", "linux/amd64", "app", "v1.0.0_x/linux/amd64/app", 1, "d" * 64),),
    )
    assert with_checksums(build).to_json()["checksums"]["key"] == "v1.0.0_x/SHA256SUMS"


@pytest.mark.parametrize(
    ("checksums", "detail"),
    [
        (
            {"key": "v2.0.0/SHA256SUMS", "size": 1, "sha256": "e" * 64},
            "checksums: key 'v2.0.0/SHA256SUMS': the build's checksums are at 'v1.0.0/SHA256SUMS'",
        ),
        (
            {"key": "//evil.example/SHA256SUMS", "size": 1, "sha256": "e" * 64},
            "the build's checksums are at 'v1.0.0/SHA256SUMS'",
        ),
        (
            {"key": "v1.0.0/linux/amd64/app", "size": 1, "sha256": "e" * 64},
            "the build's checksums are at 'v1.0.0/SHA256SUMS'",
        ),
        ({"key": "v1.0.0/SHA256SUMS", "size": -1, "sha256": "e" * 64}, "checksums.size"),
        ({"key": "v1.0.0/SHA256SUMS", "size": 1, "sha256": "E" * 64}, "checksums.sha256"),
        ({"key": "v1.0.0/SHA256SUMS", "size": 1}, "checksums.sha256: missing"),
        ("v1.0.0/SHA256SUMS", "checksums"),
    ],
)
def test_hostile_checksums_are_refused(checksums: object, detail: str) -> None:
    body = json.dumps({**VALID, "checksums": checksums}).encode()
    with pytest.raises(InvalidManifest) as caught:
        build_from_bytes(body, WHERE)
    message = caught.value.message
    assert message.startswith(f"{WHERE}: not a valid artreg build manifest: ")
    assert detail in message and message.endswith(MANIFEST_FIX)
