"""The download site's objects for a publish, as bytes: what ``apply`` writes besides the index.

Pure. :func:`build_objects` gives one build's ``SHA256SUMS`` (and signature)
and page; :func:`release_objects` gives the feed, ``latest.json``, the
``latest`` mirror record and the copy/delete plan that moves ``latest/``.
The caller signs (an edge: ssh-keygen) and writes, in this order: build
objects with the build's files (before its manifest), then after the index:
the copies, the record, ``latest.json``, the feed, and last the deletes.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from artreg.core import manifest
from artreg.core.checksums import signature_key, sums_key
from artreg.core.index import Entry, entry_from_build
from artreg.core.latest import (
    FEED_KEY,
    LATEST_DIR,
    LATEST_JSON_KEY,
    RECORD_KEY,
    SITE_ROOT_DOCUMENTS,
    Mirror,
    MirrorPlan,
    latest_document,
    mirror,
    plan_mirror,
    record_document,
)
from artreg.core.manifest import Build
from artreg.core.signing import ALLOWED_SIGNERS_KEY, allowed_signers
from artreg.core.tags import encode_tag
from artreg.render.feed import render_feed
from artreg.render.site import Site, Yanks, build_page_key, render_build_page
from artreg.stores.steps import ATOM_TYPE, HTML_TYPE, JSON_TYPE, TEXT_TYPE


@dataclass(frozen=True)
class SiteObject:
    key: str
    body: bytes
    content_type: str


def sums_of(build: Build) -> bytes:
    """The build's ``SHA256SUMS`` (its files, not its images)."""
    return manifest.sums_of(build.tag, build.files)


def build_objects(
    site: Site,
    build: Build,
    *,
    signature: bytes | None = None,
    yanked: str | None = None,
) -> list[SiteObject]:
    """``SHA256SUMS``, its signature when given, and the build's page."""
    build_dir = encode_tag(build.tag)
    objects = [SiteObject(sums_key(build_dir), sums_of(build), TEXT_TYPE)]
    if signature is not None:
        objects.append(SiteObject(signature_key(build_dir), signature, TEXT_TYPE))
    page = render_build_page(site, build, yanked=yanked, signed=signature is not None)
    objects.append(SiteObject(build_page_key(build.tag), page.encode(), HTML_TYPE))
    return objects


def signers_object(principal: str, public_key: str) -> SiteObject:
    return SiteObject(ALLOWED_SIGNERS_KEY, allowed_signers(principal, public_key), TEXT_TYPE)


@dataclass(frozen=True)
class ReleaseObjects:
    plan: MirrorPlan  # copies first, then (after the objects) deletes
    objects: tuple[SiteObject, ...]  # the record, latest.json, the feed: in write order
    mirrors: tuple[Mirror, ...]


def release_objects(
    site: Site,
    releases: Sequence[Entry],
    *,
    latest: Build | None,
    previous: Mapping[str, Mirror],
    generated: dt.datetime,
    signed: bool = False,
    yanks: Yanks | None = None,
    extras: tuple[str, Build | None] | None = None,
    blocked: AbstractSet[str] = frozenset(),
    foreign: AbstractSet[str] = frozenset(),
    sources: Sequence[str] = (),
) -> ReleaseObjects:
    """The objects that follow the releases: ``latest`` is the highest release not yanked
    (its manifest), ``previous`` the recorded mirrors by directory, ``extras`` the
    configured directory and the highest extra build. ``blocked``: directories holding
    keys artreg did not write, left as they are (no copy, no delete); ``foreign``: site
    documents (``latest.json``, the feed) that exist and are not artreg's: not written."""
    wanted: dict[str, Build | None] = {LATEST_DIR: latest}
    if extras is not None:
        wanted[extras[0]] = extras[1]
    for directory in previous:
        wanted.setdefault(directory, None)  # a directory no longer configured is emptied
    copies: list[tuple[str, str]] = []
    deletes: list[str] = []
    mirrors: list[Mirror] = [previous[d] for d in wanted if d in blocked and d in previous]
    for directory, build in wanted.items():
        if directory in blocked:
            continue
        target = (
            None
            if build is None
            else mirror(entry_from_build(build), directory=directory, signed=signed)
        )
        step = plan_mirror(previous.get(directory), target)
        copies += step.copies
        deletes += step.deletes
        if target is not None:
            mirrors.append(target)
    # the record lists the old keys too until they are deleted: a crash in between leaves
    # them provably artreg's; the next run's record (written after the deletes) drops them
    recorded = list(mirrors) + [
        Mirror(
            directory=m.directory, tag=m.tag, copies=tuple(c for c in m.copies if c[0] in deletes)
        )
        for m in previous.values()
        if any(c[0] in deletes for c in m.copies)
    ]
    documents = set(SITE_ROOT_DOCUMENTS) - set(foreign)
    whole = not copies and not deletes  # nothing moves: the record is final at once
    body = _json(
        record_document(recorded, documents, complete=whole, sources=sources, left=blocked)
    )
    objects = [SiteObject(RECORD_KEY, body, JSON_TYPE)]
    if latest is None and LATEST_DIR in previous and LATEST_JSON_KEY not in foreign:
        deletes.append(LATEST_JSON_KEY)  # written with the recorded latest/: provably ours
    if latest is not None and LATEST_JSON_KEY not in foreign:
        document = latest_document(entry_from_build(latest), signed=signed)
        objects.append(SiteObject(LATEST_JSON_KEY, _json(document), JSON_TYPE))
    feed = render_feed(
        site.project,
        releases,
        generated=generated,
        yanked=(yanks or Yanks()).reasons,
        base_url=site.site_url,
    )
    if FEED_KEY not in foreign:
        objects.append(SiteObject(FEED_KEY, feed, ATOM_TYPE))
    return ReleaseObjects(MirrorPlan(tuple(copies), tuple(deletes)), tuple(objects), tuple(mirrors))


def _json(document: object) -> bytes:
    return (json.dumps(document, indent=1, sort_keys=True) + "\n").encode()
