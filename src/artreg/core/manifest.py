"""Build manifests: the source of truth for what a target holds.

One JSON document per published build at ``_artreg/builds/<encoded tag>.json``
(keys are relative to the target's root; the store applies the target prefix).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from artreg.core.tags import Category, encode_tag
from artreg.errors import ArtregError

MANIFEST_SCHEMA_VERSION = 1
ARTREG_DIR = "_artreg"
BUILDS_PREFIX = f"{ARTREG_DIR}/builds/"


class InvalidManifest(ArtregError):
    """A build manifest in the store that cannot be read."""


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
class Build:
    """One published build: a tag, its files and its OCI images."""

    tag: str
    category: Category
    published: dt.datetime
    commit: str | None
    files: tuple[FileEntry, ...]
    images: tuple[ImageEntry, ...] = ()

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
        return doc

    def to_bytes(self) -> bytes:
        return (json.dumps(self.to_json(), indent=1, sort_keys=True) + "\n").encode()


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


def build_from_json(data: Mapping[str, Any], where: str) -> Build:
    """Read a manifest document; ``where`` names it in errors (the object key)."""
    try:
        files = tuple(
            FileEntry(
                artifact=str(f["artifact"]),
                platform=str(f["platform"]),
                name=str(f["name"]),
                key=str(f["key"]),
                size=int(f["size"]),
                sha256=str(f["sha256"]),
                content_type=str(f.get("contentType", "application/octet-stream")),
            )
            for f in data["files"]
        )
        images = tuple(
            ImageEntry(
                artifact=str(i["artifact"]),
                repository=str(i["repository"]),
                tag=str(i["tag"]),
                digest=str(i["digest"]),
                media_type=str(i["mediaType"]),
                size=int(i["size"]),
            )
            for i in data.get("images", ())
        )
        commit = data.get("commit")
        return Build(
            tag=str(data["tag"]),
            category=Category(data["category"]),
            published=parse_time(str(data["published"])),
            commit=None if commit is None else str(commit),
            files=files,
            images=images,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidManifest(
            f"{where}: not a valid artreg build manifest ({type(exc).__name__}: {exc}); "
            "remove it or run `artreg verify --repair`"
        ) from exc


def build_from_bytes(body: bytes, where: str) -> Build:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidManifest(f"{where}: not JSON ({exc}); remove it or republish") from exc
    if not isinstance(data, dict):
        raise InvalidManifest(f"{where}: expected a JSON object, found {type(data).__name__}")
    return build_from_json(data, where)
