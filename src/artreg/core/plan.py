"""Desired state vs observed state -> ordered actions.

Pure. The order is invariant 1 of the design: a reader never sees a reference
to a missing object. Objects are written bottom-up (files, then the build
manifest, then index pages, then ``index.html`` and last the root index) and deleted
top-down (pages no longer linked, then manifests, then files).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from artreg.core.manifest import Build
from artreg.core.tags import Category
from artreg.errors import ReleaseImmutable


class Kind(str, enum.Enum):
    """What an object is, in write order."""

    INTENT = "intent"  # an intent record: written before, deleted after a build's files
    FILE = "file"
    SITE = "site"  # a build's SHA256SUMS, its signature and page: with its files
    MANIFEST = "manifest"
    PAGE = "page"
    ROOT = "root"
    HTML = "html"
    LATEST = "latest"  # latest/ copies, latest.json, the feed: once the build is indexed


# index.html before index.json: the root is the commit point. A run that stops
# after writing the root leaves nothing for the next run to notice (the
# fingerprints match), so a stale index.html written after it would stay stale;
# stopping before the root leaves a root whose fingerprint no longer matches,
# and the next run rewrites both.
WRITE_ORDER = (
    Kind.INTENT,
    Kind.FILE,
    Kind.SITE,
    Kind.MANIFEST,
    Kind.PAGE,
    Kind.HTML,
    Kind.ROOT,
    Kind.LATEST,
)
# An intent record goes last: until then it names the keys a crash would leave behind.
DELETE_ORDER = (Kind.LATEST, Kind.PAGE, Kind.MANIFEST, Kind.FILE, Kind.SITE, Kind.INTENT)


class Op(str, enum.Enum):
    CREATE = "create"  # "+": the key does not exist yet
    REPLACE = "replace"  # "~": the key exists with other content
    DELETE = "delete"  # "-"


SYMBOLS = {Op.CREATE: "+", Op.REPLACE: "~", Op.DELETE: "-"}


@dataclass(frozen=True)
class Action:
    """One object to write or delete, and why."""

    op: Op
    kind: Kind
    key: str
    size: int
    reason: str

    def to_json(self) -> dict[str, object]:
        return {
            "op": self.op.value,
            "kind": self.kind.value,
            "key": self.key,
            "size": self.size,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class BuildChange:
    """What publishing one build changes: files to upload, manifest, stale files."""

    build: Build  # the build as it will be recorded (the existing one when unchanged)
    upload_keys: tuple[str, ...]
    write_manifest: bool
    manifest_existed: bool
    stale_keys: tuple[str, ...]  # files of the previous manifest no longer published

    @property
    def changed(self) -> bool:
        return self.write_manifest


def plan_build(new: Build, existing: Build | None) -> BuildChange:
    """Compare the build to publish with the one already published under its tag.

    Content is compared by key, size and sha256 (never by time). Identical
    content keeps the existing manifest untouched (so its publish time stays);
    a release with other content is refused; extra and dev builds are replaced,
    uploading only what differs.
    """
    wanted = new.content_digests()
    if existing is None:
        return BuildChange(new, tuple(sorted(wanted)), True, False, ())
    have = existing.content_digests()
    if have == wanted:
        return BuildChange(existing, (), False, True, ())
    if existing.category is Category.RELEASE or new.category is Category.RELEASE:
        raise ReleaseImmutable(_release_refusal(new.tag, have, wanted))
    uploads = tuple(sorted(key for key, digest in wanted.items() if have.get(key) != digest))
    stale = tuple(sorted(key for key in have if key not in wanted))
    return BuildChange(new, uploads, True, True, stale)


def _release_refusal(
    tag: str, have: dict[str, tuple[int, str]], wanted: dict[str, tuple[int, str]]
) -> str:
    differences = []
    for key in sorted(set(have) | set(wanted)):
        if key not in have:
            differences.append(f"{key} is new")
        elif key not in wanted:
            differences.append(f"{key} would disappear")
        elif have[key] != wanted[key]:
            differences.append(
                f"{key} has sha256 {have[key][1][:12]}... published, {wanted[key][1][:12]}... now"
            )
    shown = "; ".join(differences[:5]) + (" ..." if len(differences) > 5 else "")
    return (
        f"release {tag} is already published with other content ({shown}); "
        "a published release is immutable: publish a new version instead "
        "(nothing was written)"
    )


def order_actions(actions: Iterable[Action]) -> list[Action]:
    """Writes bottom-up, then deletes top-down; stable within a kind."""
    items = list(actions)
    write_rank = {kind: n for n, kind in enumerate(WRITE_ORDER)}
    delete_rank = {kind: n for n, kind in enumerate(DELETE_ORDER)}
    writes = sorted((a for a in items if a.op is not Op.DELETE), key=lambda a: write_rank[a.kind])
    deletes = sorted(
        (a for a in items if a.op is Op.DELETE),
        key=lambda a: delete_rank.get(a.kind, len(DELETE_ORDER)),
    )
    return writes + deletes


@dataclass(frozen=True)
class Summary:
    """Counts for the one-line summary and ``--json``."""

    uploaded: int
    uploaded_bytes: int
    index_written: int
    deleted: int
    site_written: int = 0  # checksums, signatures, build pages, latest/, latest.json, feed


def summarize(actions: Sequence[Action]) -> Summary:
    written = [a for a in actions if a.op is not Op.DELETE]
    files = [a for a in written if a.kind in (Kind.FILE, Kind.MANIFEST)]
    site = [a for a in written if a.kind in (Kind.SITE, Kind.LATEST)]
    index = [a for a in written if a.kind not in (Kind.FILE, Kind.MANIFEST, Kind.SITE, Kind.LATEST)]
    return Summary(
        uploaded=len(files),
        uploaded_bytes=sum(a.size for a in files),
        index_written=len(index),
        deleted=sum(1 for a in actions if a.op is Op.DELETE),
        site_written=len(site),
    )
