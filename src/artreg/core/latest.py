"""Stable "latest" URLs and ``latest.json``: what scripts fetch in one request.

Pure. The highest release (yanked ones skipped) is mirrored under
``latest/<platform>/<name>`` with its ``SHA256SUMS`` (and signature) by
server-side copies, so ``sha256sum -c`` works in ``latest/`` as in the build's
own directory; ``latest.json`` is its entry with ready-to-use URLs. The copy
plan is derived from ``_artreg/mirrors.json``, the record of which ``latest``
keys artreg wrote (GC and verify read it; nothing else under ``latest/`` is
ever deleted).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from artreg.core.checksums import relative_path
from artreg.core.index import Entry
from artreg.core.keys import SIGNATURE_NAME, SUMS_NAME, owned_key_problem
from artreg.core.keys import download_url as url
from artreg.core.manifest import ARTREG_DIR, format_time
from artreg.core.tags import (
    Category,
    Convention,
    classify,
    encode_tag,
    precedence_key,
    unsafe_reason,
)

LATEST_SCHEMA_VERSION = 1
LATEST_KIND = "artreg.latest"
LATEST_JSON_KEY = "latest.json"
LATEST_DIR = "latest"
RECORD_KIND = "artreg.mirrors"
RECORD_KEY = f"{ARTREG_DIR}/mirrors.json"
FEED_KEY = "releases.xml"
# The site's documents at the target root; written unless one exists that artreg did not write.
SITE_ROOT_DOCUMENTS = (LATEST_JSON_KEY, FEED_KEY)
LATEST_DIRECTORY = re.compile(r"latest(?:-[A-Za-z0-9._-]{1,56})?")


def latest_entry(entry: Entry) -> Entry:
    """``entry`` naming its ``SHA256SUMS``, which ``latest/`` copies for every build it serves
    (builds published before manifests listed it have one too)."""
    if entry.checksums is not None:
        return entry
    return replace(entry, checksums=f"{encode_tag(entry.tag)}/{SUMS_NAME}")


def highest_release(entries: Iterable[Entry], yanked: Iterable[str] = ()) -> Entry | None:
    """The release with the highest version, yanked ones skipped (None when there is none)."""
    skipped = set(yanked)
    candidates = [e for e in entries if e.category is Category.RELEASE and e.tag not in skipped]
    return min(candidates, key=lambda e: e.sort_key, default=None)


def highest_extra(
    entries: Iterable[Entry], convention: Convention, yanked: Iterable[str] = ()
) -> Entry | None:
    """The extra build of highest semver precedence (``v1.2.0-rc.2`` over ``v1.2.0-rc.1``)."""
    skipped = set(yanked)
    candidates = [
        (precedence_key(classification), e)
        for e in entries
        if e.category is Category.EXTRA and e.tag not in skipped
        for classification in (classify(e.tag, convention),)
        if classification.version is not None
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda pair: pair[0])[1]


def highest_by_directory(
    entries: Iterable[Entry],
    convention: Convention,
    extras: str | None,
    yanked: Iterable[str] = (),
) -> dict[str, Entry | None]:
    """Which build each mirror directory serves: ``latest`` the highest release, the
    ``extras`` directory (when configured) the highest extra build; None when none is."""
    entries, skipped = list(entries), set(yanked)
    highest = {LATEST_DIR: highest_release(entries, skipped)}
    if extras is not None:
        highest[extras] = highest_extra(entries, convention, skipped)
    return highest


@dataclass(frozen=True)
class Mirror:
    """The ``latest`` tree of one build: destination key -> source key, in copy order.

    Files first, ``SHA256SUMS`` and its signature last: a client checking with
    ``sha256sum -c`` never sees new sums over old files for long.
    """

    directory: str
    tag: str
    copies: tuple[tuple[str, str], ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(dst for dst, _ in self.copies)


def mirror(entry: Entry, *, directory: str = LATEST_DIR, signed: bool = False) -> Mirror:
    """The copies that make ``<directory>/`` serve ``entry``'s files and checksums."""
    build_dir = encode_tag(entry.tag)
    copies = [
        (f"{directory}/{relative_path(build_dir, f.key)}", f.key)
        for f in sorted(entry.files, key=lambda f: f.key)
    ]
    copies.append((f"{directory}/{SUMS_NAME}", f"{build_dir}/{SUMS_NAME}"))
    if signed:
        copies.append((f"{directory}/{SIGNATURE_NAME}", f"{build_dir}/{SIGNATURE_NAME}"))
    return Mirror(directory=directory, tag=entry.tag, copies=tuple(copies))


@dataclass(frozen=True)
class MirrorPlan:
    """What to do to move ``latest/`` from the recorded previous state to ``target``."""

    copies: tuple[tuple[str, str], ...]  # (destination, source), in order
    deletes: tuple[str, ...]  # keys artreg wrote before that the new tree does not hold


def plan_mirror(previous: Mirror | None, target: Mirror | None) -> MirrorPlan:
    """Copies for the new tree (none when it already serves that tag), then stale deletes.

    Only keys the previous record lists are ever deleted: a foreign object under
    ``latest/`` is never in a record, so it is never touched.
    """
    if target is None:
        return MirrorPlan((), previous.keys if previous is not None else ())
    same = previous is not None and previous.tag == target.tag and previous.copies == target.copies
    copies = () if same else target.copies
    kept = set(target.keys)
    deletes = tuple(k for k in (previous.keys if previous else ()) if k not in kept)
    return MirrorPlan(copies, deletes)


def latest_document(entry: Entry, *, signed: bool = False) -> dict[str, Any]:
    """``latest.json``: the highest release's entry with its page and checksum URLs."""
    build_dir = encode_tag(entry.tag)
    return {
        "schemaVersion": LATEST_SCHEMA_VERSION,
        "kind": LATEST_KIND,
        **latest_entry(entry).to_json(),
        "page": url(build_dir) + "/",
        "signature": url(f"{build_dir}/{SIGNATURE_NAME}") if signed else None,
        "latest": url(LATEST_DIR) + "/",
    }


def made_from(newest: Iterable[Entry], yanked: Iterable[str] = ()) -> list[str]:
    """What the site documents are made from: the newest release and extra builds (tag and
    publish time) and the yanks. A record made from other inputs is out of date."""
    builds = sorted(f"{e.tag}@{format_time(e.published)}" for e in newest)
    return builds + sorted(f"yanked:{tag}" for tag in yanked)


def record_left(doc: object) -> frozenset[str]:
    """The ``latest`` directories a record says were left alone (someone else's keys)."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("left"), list):
        return frozenset()
    return frozenset(str(d) for d in doc["left"] if directory_problem(str(d)) is None)


def record_made_from(doc: object) -> list[str] | None:
    if not isinstance(doc, Mapping) or not isinstance(doc.get("madeFrom"), list):
        return None
    return [str(item) for item in doc["madeFrom"]]


def record_document(
    mirrors: Iterable[Mirror],
    documents: Iterable[str] = (),
    *,
    complete: bool = True,
    sources: Sequence[str] = (),
    left: Iterable[str] = (),
) -> dict[str, Any]:
    """``_artreg/mirrors.json``: every ``latest`` tree artreg wrote, key by key (the proof
    of ownership GC and verify go by), and the site documents it writes (``documents``).

    Written ``complete: false`` before the copies that move a tree and rewritten
    ``complete: true`` after them: a run that stops in between is finished by the next."""
    return {
        "schemaVersion": LATEST_SCHEMA_VERSION,
        "kind": RECORD_KIND,
        "complete": complete,
        "madeFrom": list(sources),
        # directories left alone (a key there is not artreg's): up to date as they are
        "left": sorted(left),
        "documents": sorted(documents),
        "mirrors": [
            {"directory": m.directory, "tag": m.tag, "copies": [list(pair) for pair in m.copies]}
            for m in mirrors
        ],
    }


def record_is_complete(doc: object) -> bool:
    """Whether the record says its trees were written whole (an absent flag: older, whole)."""
    return (
        isinstance(doc, Mapping)
        and doc.get("kind") == RECORD_KIND
        and doc.get("complete", True) is True
    )


def documents_from_record(doc: object) -> frozenset[str]:
    """The site documents a record says artreg writes (none when unreadable)."""
    if not isinstance(doc, Mapping) or doc.get("kind") != RECORD_KIND:
        return frozenset()
    listed = doc.get("documents", ())
    if not isinstance(listed, list):
        return frozenset()
    return frozenset(str(k) for k in listed if k in SITE_ROOT_DOCUMENTS)


def directory_problem(directory: str) -> str | None:
    """Why ``directory`` cannot hold a ``latest`` tree (to follow "directory 'x' "), or None.

    ``latest`` or ``latest-<suffix>``: never a tag's directory, ``v2`` or ``_artreg``,
    whatever the tag convention, so a record can never claim a build's files.
    """
    if LATEST_DIRECTORY.fullmatch(directory) is None or ".." in directory:
        return "is not 'latest' or 'latest-<suffix>' (letters, digits, '.', '_', '-')"
    return None


def mirrors_from_record(doc: object) -> tuple[Mirror, ...]:
    """The ``latest`` trees a previous record lists (empty when unreadable).

    An unreadable record means artreg cannot prove it wrote anything under
    ``latest/``: nothing is deleted there, only overwritten by the next copies.
    Every copy must be one :func:`mirror` makes: ``<directory>/<path>`` from
    ``<encoded tag>/<path>``, the path a build's file, ``SHA256SUMS`` or its signature.
    """
    if not isinstance(doc, Mapping) or doc.get("kind") != RECORD_KIND:
        return ()
    out = []
    for item in doc.get("mirrors", ()):
        try:
            copies = tuple((str(dst), str(src)) for dst, src in item["copies"])
            directory, tag = str(item["directory"]), str(item["tag"])
        except (KeyError, TypeError, ValueError):
            return ()
        if directory_problem(directory) is not None or unsafe_reason(tag) is not None:
            return ()
        if not all(_is_copy(directory, tag, dst, src) for dst, src in copies):
            return ()
        out.append(Mirror(directory=directory, tag=tag, copies=copies))
    return tuple(out)


def _is_copy(directory: str, tag: str, dst: str, src: str) -> bool:
    build_dir = encode_tag(tag)
    if not (dst.startswith(f"{directory}/") and src.startswith(f"{build_dir}/")):
        return False
    path = dst[len(directory) + 1 :]
    return src == f"{build_dir}/{path}" and owned_key_problem(tag, src) is None
