"""Build manifests: the source of truth for what a target holds.

One JSON document per published build at ``_artreg/builds/<encoded tag>.json``
(keys are relative to the target's root; the store applies the target prefix).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from artreg.core.checksums import build_sums, sums_key
from artreg.core.jsondoc import Fields, load
from artreg.core.keys import file_problem, image_problem
from artreg.core.tags import MAX_TAG_LENGTH, PUBLISHED_CATEGORIES, Category, encode_tag
from artreg.errors import InvalidManifest

MANIFEST_SCHEMA_VERSION = 1
ARTREG_DIR = "_artreg"
BUILDS_PREFIX = f"{ARTREG_DIR}/builds/"


@dataclass(frozen=True)
class FileEntry:
    """One published file of a build."""

    artifact: str
    platform: str
    name: str
    key: str  # relative to the target root: "<encoded tag>/<platform>/<name>"
    size: int
    sha256: str
    content_type: str = "application/octet-stream"

    def to_json(self) -> dict[str, Any]:
        return {
            "artifact": self.artifact,
            "platform": self.platform,
            "name": self.name,
            "key": self.key,
            "size": self.size,
            "sha256": self.sha256,
            "contentType": self.content_type,
        }


@dataclass(frozen=True)
class ImageEntry:
    """One OCI image of a build, as published under ``v2/<repository>/``."""

    artifact: str
    repository: str
    tag: str  # the OCI tag (the build's tag with '+' as '_')
    digest: str  # "sha256:<hex>" of the top manifest or index
    media_type: str
    size: int  # bytes of the top manifest or index

    @property
    def key(self) -> str:
        """The tag's manifest key (relative to the target root)."""
        return f"v2/{self.repository}/manifests/{self.tag}"

    def to_json(self) -> dict[str, Any]:
        return {
            "artifact": self.artifact,
            "repository": self.repository,
            "tag": self.tag,
            "digest": self.digest,
            "mediaType": self.media_type,
            "size": self.size,
        }


@dataclass(frozen=True)
class ChecksumsFile:
    """The build's ``SHA256SUMS`` (``<encoded tag>/SHA256SUMS``): derived from its files."""

    key: str
    size: int
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class Build:
    """One published build: a tag, its files and its OCI images."""

    tag: str
    category: Category
    published: dt.datetime
    commit: str | None
    files: tuple[FileEntry, ...]
    images: tuple[ImageEntry, ...] = ()
    # None in manifests written before artreg listed the checksum file.
    checksums: ChecksumsFile | None = None

    @property
    def key(self) -> str:
        return manifest_key(self.tag)

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def content_digests(self) -> dict[str, tuple[int, str]]:
        """key -> (size, digest): what must match for a re-publish to be a no-op.

        Files give their sha256 hex, images their tag key and manifest digest.
        """
        digests = {f.key: (f.size, f.sha256) for f in self.files}
        digests.update({i.key: (i.size, i.digest) for i in self.images})
        return digests

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "schemaVersion": MANIFEST_SCHEMA_VERSION,
            "tag": self.tag,
            "category": self.category.value,
            "published": format_time(self.published),
            "commit": self.commit,
            "files": [f.to_json() for f in self.files],
        }
        if self.images:  # omitted when empty: builds without images keep their bytes
            doc["images"] = [i.to_json() for i in self.images]
        if self.checksums is not None:
            doc["checksums"] = self.checksums.to_json()
        return doc

    def to_bytes(self) -> bytes:
        return (json.dumps(self.to_json(), indent=1, sort_keys=True) + "\n").encode()


def sums_of(tag: str, files: Iterable[FileEntry]) -> bytes:
    """The ``SHA256SUMS`` bytes of a build with ``files`` (its images are not listed)."""
    return build_sums(encode_tag(tag), ((f.key, f.sha256) for f in files))


def with_checksums(build: Build) -> Build:
    """``build`` listing its ``SHA256SUMS``, which the bytes of its files determine."""
    body = sums_of(build.tag, build.files)
    checksums = ChecksumsFile(
        key=sums_key(encode_tag(build.tag)),
        size=len(body),
        sha256=hashlib.sha256(body).hexdigest(),
    )
    return replace(build, checksums=checksums)


def manifest_key(tag: str) -> str:
    return f"{BUILDS_PREFIX}{encode_tag(tag)}.json"


def format_time(moment: dt.datetime) -> str:
    """UTC, second precision, ``Z`` suffix: sortable as a string."""
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> dt.datetime:
    """Parse an ISO-8601 instant; naive times are taken as UTC."""
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc)


# A build of a million files is far beyond any real one; the cap bounds a planted manifest.
MAX_MANIFEST_BYTES = 256 * 1024 * 1024
MAX_SIZE = 2**63 - 1  # an S3 object is at most 5 TiB; a size must fit in 64 bits
_SHA256 = re.compile(r"[0-9a-f]{64}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
# The way out of every damaged or invalid manifest, said the same way everywhere.
MANIFEST_FIX = (
    "delete this object, then publish the build again; until then artreg leaves every key "
    "under its build's directory alone"
)
_PUBLISHED = {category.value: category for category in PUBLISHED_CATEGORIES}


def _failure(where: str) -> Callable[[str], InvalidManifest]:
    def fail(detail: str) -> InvalidManifest:
        return InvalidManifest(
            f"{where}: not a valid artreg build manifest: {detail}; {MANIFEST_FIX}"
        )

    return fail


def _hex(fields: Fields, name: str, pattern: re.Pattern[str], expected: str) -> str:
    value = fields.string(name)
    if not pattern.fullmatch(value):
        raise fields.bad(name, expected, value)
    return value


def build_from_json(data: object, where: str) -> Build:
    """Read a manifest document; ``where`` names it in errors (the object key).

    Raises :class:`InvalidManifest` for anything malformed; unknown members are ignored.
    """
    fail = _failure(where)
    doc = Fields(data, fail)
    version = doc.integer("schemaVersion")
    if version != MANIFEST_SCHEMA_VERSION:
        raise doc.bad(
            "schemaVersion", f"{MANIFEST_SCHEMA_VERSION} (a newer artreg wrote it?)", version
        )
    files = tuple(
        FileEntry(
            artifact=f.string("artifact"),
            platform=f.string("platform"),
            name=f.string("name"),
            key=f.string("key"),
            size=f.integer("size", 0, MAX_SIZE),
            sha256=_hex(f, "sha256", _SHA256, "64 lowercase hex digits"),
            content_type=f.string("contentType", default="application/octet-stream"),
        )
        for f in doc.objects("files")
    )
    images = tuple(
        ImageEntry(
            artifact=i.string("artifact"),
            repository=i.string("repository"),
            tag=i.string("tag"),
            digest=_hex(i, "digest", _DIGEST, "'sha256:' and 64 lowercase hex digits"),
            media_type=i.string("mediaType"),
            size=i.integer("size", 0, MAX_SIZE),
        )
        for i in doc.objects("images", default=[])
    )
    checksums = None
    if doc.has("checksums"):  # absent in manifests written before it was listed
        c = doc.child("checksums")
        checksums = ChecksumsFile(
            key=c.string("key"),
            size=c.integer("size", 0, MAX_SIZE),
            sha256=_hex(c, "sha256", _SHA256, "64 lowercase hex digits"),
        )
    category = doc.string("category")
    if category not in _PUBLISHED:
        raise doc.bad("category", "release, extra or dev", category)
    build = Build(
        tag=doc.string("tag", max_length=MAX_TAG_LENGTH),
        category=_PUBLISHED[category],
        published=doc.time("published"),
        commit=doc.optional_string("commit"),
        files=files,
        images=images,
        checksums=checksums,
    )
    problem = claim_problem(build)
    if problem is not None:
        raise InvalidManifest(
            f"{where}: not a valid artreg build manifest: {problem}; {MANIFEST_FIX}"
        )
    return build


def claim_problem(build: Build) -> str | None:
    """Why ``build`` claims keys artreg never writes for it, or None (see core.keys).

    A manifest may only list files under its own build's directory and images
    of its own tag: a key of another build, a page, or ``//host/x`` makes it invalid.
    """
    for n, f in enumerate(build.files):
        problem = file_problem(build.tag, f.platform, f.name, f.key)
        if problem is not None:
            return f"files[{n}]: {problem}"
    for n, i in enumerate(build.images):
        problem = image_problem(build.tag, i.repository, i.tag, i.digest)
        if problem is not None:
            return f"images[{n}]: {problem}"
    if build.checksums is not None:
        expected = sums_key(encode_tag(build.tag))
        if build.checksums.key != expected:
            return (
                f"checksums: key {build.checksums.key!r}: the build's checksums are at {expected!r}"
            )
    return None


def build_at(body: bytes, key: str, where: str) -> Build:
    """The manifest stored at ``key``: it must record the tag its key names."""
    build = build_from_bytes(body, where)
    if manifest_key(build.tag) != key:
        raise InvalidManifest(
            f"{where}: not a valid artreg build manifest: records tag {build.tag!r}, which "
            f"belongs at {manifest_key(build.tag)}; {MANIFEST_FIX}"
        )
    return build


def build_from_bytes(body: bytes, where: str) -> Build:
    """Read a stored manifest; :class:`InvalidManifest` names ``where`` for anything malformed."""
    return build_from_json(load(body, _failure(where), max_bytes=MAX_MANIFEST_BYTES), where)
