"""Which registry objects of one image repository a sweep deletes, and why. Pure.

The sweep is mark and sweep over ``v2/<repository>/`` (see docs/oci.md):

1. :func:`judge_tags`: every tag is kept (a root of the mark) or deleted. A tag
   goes when retention removes its build in this run, or when it names a valid
   build tag that no build manifest has any more and it is older than the grace
   period (a build deleted by a run that crashed before its sweep). Tags of
   listed builds, young tags and tags that are no build's (``latest``, ``v1.2``,
   anything pushed by another tool) stay.
2. :func:`decide_sweep`: mark every manifest and blob reachable from the kept
   tags, from every manifest younger than the grace period (a concurrent run may
   be about to tag it) and from ``pinned`` (what the current run publishes);
   delete the digest manifests and blobs left unmarked that are older than the
   grace period. When the mark is incomplete (a manifest it must follow is
   missing or unreadable) nothing but tags is deleted: a blob it might reach
   could be one a kept image needs.

Nothing here reads a store or a clock: ages come in with the listing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from artreg.core.jsondoc import parse
from artreg.core.tags import Convention, classify_is_valid, decode_tag, encode_tag
from artreg.errors import UnreadableManifest

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
# How deep image indexes may nest: index -> index -> manifest is the deepest anyone
# nests in practice. Reading (oci.layout), verifying (oci.verify) and gc all use it.
MAX_INDEX_DEPTH = 4
# Registries refuse manifests over 4 MiB (the OCI distribution spec lets them).
MAX_STORED_MANIFEST = 4 * 1024 * 1024


@dataclass(frozen=True)
class Listed:
    """One object of the repository's listing: its size and its age (real clock)."""

    size: int
    age: dt.timedelta


@dataclass(frozen=True)
class Node:
    """What one manifest references: child manifests (an index) and blobs (config, layers)."""

    manifests: tuple[str, ...] = ()
    blobs: tuple[str, ...] = ()


def references(body: bytes, digest: str | None = None) -> Node:
    """The references of a stored manifest or index; foreign layers (``urls``) are skipped.

    With ``digest``, the body must hash to it. Raises :class:`UnreadableManifest`.
    """
    if digest is not None and "sha256:" + hashlib.sha256(body).hexdigest() != digest:
        raise _unreadable(digest, "its content does not match its digest")
    try:
        doc = parse(body, max_bytes=MAX_STORED_MANIFEST)
    except (ValueError, UnicodeDecodeError):
        raise _unreadable(digest, "not JSON") from None
    if not isinstance(doc, dict):
        raise _unreadable(digest, "not a JSON object")
    children = doc.get("manifests")
    if children is not None:
        if not isinstance(children, list):
            raise _unreadable(digest, "'manifests' is not a list")
        return Node(manifests=tuple(_digest(child, "manifests[]", digest) for child in children))
    blobs = []
    for desc in [doc.get("config"), *(doc.get("layers") or ())]:
        if desc is None or (isinstance(desc, dict) and desc.get("urls")):
            continue
        blobs.append(_digest(desc, "a config or layer", digest))
    return Node(blobs=tuple(blobs))


def _digest(descriptor: object, what: str, of: str | None) -> str:
    digest = descriptor.get("digest") if isinstance(descriptor, dict) else None
    if not isinstance(digest, str) or not DIGEST.fullmatch(digest):
        raise _unreadable(of, f"{what} has no valid sha256 digest")
    return digest


def _unreadable(digest: str | None, problem: str) -> UnreadableManifest:
    where = f"stored image manifest {digest}" if digest else "a stored image manifest"
    return UnreadableManifest(f"{where}: {problem}; re-push the image to replace it")


@dataclass(frozen=True)
class TagVerdict:
    """Whether a tag stays (a root of the mark) or goes, and why."""

    tag: str
    delete: bool
    reason: str


def judge_tags(
    tags: Mapping[str, Listed],
    *,
    builds: Iterable[str],
    removed: Iterable[str],
    convention: Convention,
    grace: dt.timedelta,
) -> dict[str, TagVerdict]:
    """A verdict for every OCI tag of a repository.

    ``builds`` are the artreg tags that have a build manifest (after retention);
    ``removed`` the artreg tags whose builds retention deletes in this run.
    """
    have = {encode_tag(tag): tag for tag in builds}
    gone = {encode_tag(tag): tag for tag in removed}
    verdicts: dict[str, TagVerdict] = {}
    for tag, listed in sorted(tags.items()):
        if tag in have:
            verdict = TagVerdict(tag, False, f"tag of the build {have[tag]}")
        elif tag in gone:
            verdict = TagVerdict(tag, True, f"retention: the build {gone[tag]} is removed")
        elif not classify_is_valid(decode_tag(tag, convention), convention):
            verdict = TagVerdict(tag, False, "not a build tag (an alias or another tool's tag)")
        elif listed.age <= grace:
            verdict = TagVerdict(tag, False, f"no build manifest, but only {_age(listed.age)} old")
        else:
            verdict = TagVerdict(
                tag, True, f"tag of a build that no longer exists, {_age(listed.age)} old"
            )
        verdicts[tag] = verdict
    return verdicts


@dataclass(frozen=True)
class Deletion:
    """One object a sweep deletes: a tag, a manifest by digest or a blob."""

    kind: str  # "tag" | "manifest" | "blob"
    name: str  # the tag or the digest
    size: int
    reason: str


@dataclass(frozen=True)
class Sweep:
    """What to delete in one repository, in the safe order, and what was left."""

    tags: tuple[Deletion, ...] = ()
    # Batches: a manifest is deleted after every garbage index that references it.
    manifests: tuple[tuple[Deletion, ...], ...] = ()
    blobs: tuple[Deletion, ...] = ()
    remaining_tags: tuple[str, ...] = ()
    young: int = 0  # unreferenced manifests and blobs left for a later run (grace period)
    problems: tuple[str, ...] = ()  # why manifests and blobs were not swept

    def deletions(self) -> list[Deletion]:
        return [*self.tags, *(d for batch in self.manifests for d in batch), *self.blobs]


def decide_sweep(
    *,
    tags: Mapping[str, Listed],
    manifests: Mapping[str, Listed],
    blobs: Mapping[str, Listed],
    verdicts: Mapping[str, TagVerdict],
    tag_digests: Mapping[str, str],
    graph: Mapping[str, Node],
    grace: dt.timedelta,
    pinned: AbstractSet[str] = frozenset(),
) -> Sweep:
    """The deletions of one repository.

    ``manifests`` and ``blobs`` are the digest-named keys listed; ``tag_digests``
    the digest of each tag's manifest as far as known; ``graph`` the references
    of every manifest that could be read (absent: missing or unreadable).
    ``pinned`` digests (manifests or blobs) are never deleted.
    """
    deleted_tags = tuple(
        Deletion("tag", tag, tags[tag].size, verdicts[tag].reason)
        for tag in sorted(tags)
        if verdicts[tag].delete
    )
    remaining = tuple(sorted(tag for tag in tags if not verdicts[tag].delete))
    problems: list[str] = []
    roots: set[str] = set()
    for tag in remaining:
        digest = tag_digests.get(tag)
        if digest is None:
            problems.append(f"the manifest of the kept tag {tag!r} could not be read")
        else:
            roots.add(digest)
    roots |= {digest for digest in pinned if digest in manifests}
    strong_manifests, strong_blobs = _mark(roots, graph, manifests, problems)
    young_roots = {digest for digest, listed in manifests.items() if listed.age <= grace}
    marked_manifests, marked_blobs = _mark(roots | young_roots, graph, manifests, problems)
    if problems:
        problems = list(dict.fromkeys(problems))
        return Sweep(tags=deleted_tags, remaining_tags=remaining, problems=tuple(problems))
    marked_blobs |= pinned
    marked_manifests |= pinned
    # Unreferenced by the kept tags, but left for later: young, or referenced by the young.
    young = len(set(manifests) - strong_manifests - pinned)
    young += len(set(blobs) - strong_blobs - pinned)
    garbage: dict[str, Deletion] = {}
    for digest, listed in sorted(manifests.items()):
        if digest in marked_manifests:
            continue
        if listed.age <= grace:
            continue
        reason = f"unreferenced by any kept tag, {_age(listed.age)} old"
        garbage[digest] = Deletion("manifest", digest, listed.size, reason)
    swept_blobs = []
    for digest, listed in sorted(blobs.items()):
        if digest in marked_blobs or listed.age <= grace:
            continue
        reason = f"unreferenced by any kept image, {_age(listed.age)} old"
        swept_blobs.append(Deletion("blob", digest, listed.size, reason))
    return Sweep(
        tags=deleted_tags,
        manifests=_batches(garbage, graph),
        blobs=tuple(swept_blobs),
        remaining_tags=remaining,
        young=young - len(garbage) - len(swept_blobs),
    )


def _mark(
    roots: Iterable[str],
    graph: Mapping[str, Node],
    listed: Mapping[str, Listed],
    problems: list[str],
) -> tuple[set[str], set[str]]:
    manifests: set[str] = set()
    blobs: set[str] = set()
    stack = [(digest, 0) for digest in sorted(roots)]
    while stack:
        digest, depth = stack.pop()
        if digest in manifests:
            continue
        manifests.add(digest)
        node = graph.get(digest)
        if node is None:
            state = "unreadable" if digest in listed else "missing"
            problems.append(f"the manifest {digest}, which a kept image needs, is {state}")
            continue
        blobs.update(node.blobs)
        if node.manifests and depth >= MAX_INDEX_DEPTH:
            problems.append(f"the image index {digest} nests deeper than {MAX_INDEX_DEPTH} levels")
            continue
        stack += [(child, depth + 1) for child in node.manifests]
    return manifests, blobs


def _batches(
    garbage: Mapping[str, Deletion], graph: Mapping[str, Node]
) -> tuple[tuple[Deletion, ...], ...]:
    """Garbage manifests in batches: each after every garbage index that references it."""
    left = set(garbage)
    batches = []
    while left:
        referenced = {
            child for digest in left for child in graph.get(digest, Node()).manifests
        } & left
        batch = sorted(left - referenced) or sorted(left)  # a cycle cannot be hashed; be safe
        batches.append(tuple(garbage[d] for d in batch))
        left -= set(batch)
    return tuple(batches)


def _age(delta: dt.timedelta) -> str:
    hours = delta.total_seconds() / 3600
    if hours < 1:
        return f"{max(delta.total_seconds(), 0) / 60:.0f} min"
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.0f} days"
