"""Checks of a target against its manifests: orphans for ``gc``, integrity for ``verify``."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from artreg.core import index
from artreg.core.index import Entry
from artreg.core.keys import PAGE_NAME, SIGNATURE_NAME, SUMS_NAME, site_keys
from artreg.core.latest import FEED_KEY, LATEST_JSON_KEY, RECORD_KEY
from artreg.core.manifest import ARTREG_DIR, Build
from artreg.core.ownership import (
    INTENTS_PREFIX,
    Intent,
    Judged,
    Listed,
    Ownership,
    Verdict,
    intent_from_bytes,
    judge,
)
from artreg.core.plan import Action, Kind, Op
from artreg.core.signing import ALLOWED_SIGNERS_KEY
from artreg.core.tags import PUBLISHED_CATEGORIES, Convention
from artreg.core.yank import YANKS_KEY
from artreg.errors import InvalidIntent, InvalidManifest, NotFound
from artreg.oci.publish import REGISTRY_ROOT_KEY
from artreg.oci.verify import verify_images
from artreg.publish.lease import LEASE_KEY
from artreg.publish.site import recorded_site_keys
from artreg.publish.state import (
    TargetState,
    category_entries,
    describe_reclassified,
    read_build,
    trusted_root,
)
from artreg.render.site import html_page_key
from artreg.stores.base import ObjectInfo, Store
from artreg.stores.steps import Step

SITE_WHAT = {SUMS_NAME: "checksums", SIGNATURE_NAME: "signature", PAGE_NAME: "page"}
# The download site's documents (the build pages and checksums belong to their builds).
SITE_DOCUMENTS = (LATEST_JSON_KEY, FEED_KEY, RECORD_KEY, ALLOWED_SIGNERS_KEY, YANKS_KEY)


@dataclass(frozen=True)
class Deletion:
    """A key artreg wrote and nothing uses any more, with why it believes it wrote it."""

    judged: Judged

    def step(self) -> Step:
        listed = self.judged.listed
        reason = f"orphan: {self.judged.why}, {_age(listed.age)} old"
        key = listed.key
        if key.startswith(INTENTS_PREFIX):
            kind = Kind.INTENT
        elif key.startswith(index.INDEX_PREFIX):
            kind = Kind.PAGE
        else:
            kind = Kind.FILE
        return Step(Action(Op.DELETE, kind, key, listed.size, reason))


def _age(delta: dt.timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.0f} days"


def live_documents(state: TargetState) -> set[str]:
    """artreg's documents in use: the root, index.html, the lease, the pages the root links,
    and the registry's v2/index.html (what makes /v2/ answer 200 on a static website)."""
    keys = {index.ROOT_KEY, index.HTML_KEY, LEASE_KEY, REGISTRY_ROOT_KEY, *SITE_DOCUMENTS}
    if state.root is not None:
        for category in PUBLISHED_CATEGORIES:
            for pid in state.root.category(category).page_ids:
                keys |= {index.page_key(category, pid), html_page_key(category, pid)}
    return keys


def read_intents(store: Store, listing: Sequence[ObjectInfo]) -> dict[str, Intent | None]:
    """Every intent record of the listing, read (None: unreadable, left alone)."""
    intents: dict[str, Intent | None] = {}
    for info in listing:
        if not info.key.startswith(INTENTS_PREFIX):
            continue
        try:
            intents[info.key] = intent_from_bytes(store.get(info.key), info.key)
        except NotFound:
            continue  # collected by a concurrent gc since the listing
        except InvalidIntent:
            intents[info.key] = None
    return intents


def judge_target(
    store: Store,
    state: TargetState,
    builds: Mapping[str, Sequence[str] | None],
    listing: Sequence[ObjectInfo],
    *,
    repositories: Iterable[str],
    clock_now: dt.datetime,
    grace: dt.timedelta,
) -> Ownership:
    """Judge every listed key (see artreg.core.ownership); reads the intent records.

    ``builds``: tag -> file keys of each valid build (from its manifest or the
    index), None for a listed manifest that could not be read or is invalid.
    Ages are LastModified against the real clock (not ``--now``): a concurrent
    run's fresh uploads are young and never collected.
    """
    listed = [Listed(info.key, info.size, clock_now - info.last_modified) for info in listing]
    return judge(
        listed,
        builds={**{tag: None for tag in state.manifests}, **builds},
        documents=live_documents(state) | set(recorded_site_keys(store, listing)),
        intents=read_intents(store, listing),
        image_repositories=repositories,
        grace=grace,
    )


def builds_of(state: TargetState, entries: Iterable[Entry]) -> dict[str, Sequence[str] | None]:
    """tag -> file keys of the indexed builds; listed manifests not among them -> None."""
    found: dict[str, Sequence[str] | None] = {tag: None for tag in state.manifests}
    for entry in entries:
        found[entry.tag] = (*(f.key for f in entry.files), *site_keys(entry.tag))
    return found


def all_entries(
    store: Store, state: TargetState, page_size: int, notes: list[str] | None = None
) -> list[Entry]:
    """Every build's entry (pages when trusted, else manifests; see category_entries)."""
    return [
        entry
        for category in PUBLISHED_CATEGORIES
        for entry in category_entries(store, state, category, page_size, notes)
    ]


@dataclass
class Findings:
    """What ``verify`` found wrong, and what it checked."""

    problems: list[str] = field(default_factory=list)
    builds: int = 0
    files: int = 0
    pages: int = 0
    hashed: int = 0
    images: int = 0
    left_alone: list[str] = field(default_factory=list)  # keys artreg did not write
    # builds whose SHA256SUMS, signature or page is missing (``--repair`` writes them)
    unsited: list[Build] = field(default_factory=list)


def _check_manifests(
    store: Store,
    state: TargetState,
    objects: Mapping[str, ObjectInfo],
    deep: bool,
    found: Findings,
) -> dict[str, Build]:
    """Every listed manifest read; each file it lists present with its size (and digest
    with ``deep``). Returns the valid builds."""
    builds: dict[str, Build] = {}
    for key in state.unreadable:
        found.problems.append(f"{key}: under {ARTREG_DIR}/builds/ but names no valid tag")
    for tag, info in sorted(state.manifests.items()):
        try:
            build = read_build(store, info.key)
        except (InvalidManifest, NotFound) as exc:
            found.problems.append(exc.message if isinstance(exc, InvalidManifest) else str(exc))
            continue
        builds[tag] = build
        found.builds += 1
        for file in build.files:
            found.files += 1
            stored = objects.get(file.key)
            if stored is None:
                found.problems.append(f"{file.key}: missing (listed in the manifest of {tag})")
            elif stored.size != file.size:
                found.problems.append(
                    f"{file.key}: {stored.size} bytes stored, the manifest of {tag} says "
                    f"{file.size}"
                )
            elif deep:
                digest = hashlib.sha256(store.get(file.key)).hexdigest()
                found.hashed += 1
                if digest != file.sha256:
                    found.problems.append(
                        f"{file.key}: sha256 {digest} stored, the manifest of {tag} says "
                        f"{file.sha256}"
                    )
    return builds


def _check_site(
    builds: Mapping[str, Build], objects: Mapping[str, ObjectInfo], signed: bool, found: Findings
) -> None:
    """Each build's SHA256SUMS, signature (when signing) and page exist."""
    for tag, build in sorted(builds.items()):
        missing = [
            key
            for key in site_keys(tag)
            if key not in objects and (signed or not key.endswith(SIGNATURE_NAME))
        ]
        for key in missing:
            found.problems.append(
                f"{key}: missing (the download site's {SITE_WHAT[key.rsplit('/', 1)[-1]]} of "
                f"{tag}); `artreg verify --repair` writes it"
            )
        if missing:
            found.unsited.append(build)


def verify_target(
    store: Store,
    state: TargetState,
    listing: Sequence[ObjectInfo],
    *,
    page_size: int,
    deep: bool,
    clock_now: dt.datetime,
    grace: dt.timedelta,
    convention: Convention,
    repositories: Iterable[str] = (),
    signed: bool = False,
) -> Findings:
    """Every check of ``artreg verify``, problems collected, nothing written."""
    found = Findings()
    objects = {info.key: info for info in listing}
    builds = _check_manifests(store, state, objects, deep, found)
    _check_site(builds, objects, signed, found)
    # Builds recorded under another category than the configuration now gives their
    # tags: the index keeps them under the recorded one; the disagreement is reported.
    found_recorded = {
        tag: build.category
        for tag, build in builds.items()
        if build.category is not state.categories.get(tag) and build.tag == tag
    }
    state = state.with_recorded(found_recorded)
    for tag, category in sorted(state.recorded.items()):
        found.problems.append(describe_reclassified(tag, category, convention))
    images = verify_images(store, builds.values(), deep)
    found.problems += images.problems
    found.images = images.images
    _verify_index(store, state, builds, page_size, found)
    if index.HTML_KEY not in objects:
        found.problems.append(f"{index.HTML_KEY}: missing")
    entries = [index.entry_from_build(b) for b in builds.values()]
    ownership = judge_target(
        store,
        state,
        builds_of(state, entries),
        listing,
        repositories=repositories,
        clock_now=clock_now,
        grace=grace,
    )
    for judged in ownership.of(Verdict.DELETE):
        found.problems.append(
            f"{judged.key}: orphan ({_age(judged.listed.age)} old, {judged.why}); "
            "`artreg gc` removes it"
        )
    found.left_alone = [
        f"{j.key}: not artreg's, left alone ({j.why})"
        if j.verdict is Verdict.HELD
        else f"{j.key}: not artreg's, left alone"
        for j in ownership.judged
        if j.verdict in (Verdict.FOREIGN, Verdict.HELD)
    ]
    return found


def _verify_index(
    store: Store,
    state: TargetState,
    builds: Mapping[str, Build],
    page_size: int,
    found: Findings,
) -> None:
    root = state.root
    if root is None:
        problem = str(state.root_problem)
        prefix = f"{index.ROOT_KEY}: "
        found.problems.append(problem if problem.startswith(prefix) else prefix + problem)
        return
    if root.page_size != page_size:
        found.problems.append(
            f"{index.ROOT_KEY}: pages of {root.page_size} entries, artreg.toml says {page_size}"
        )
    for category in PUBLISHED_CATEGORIES:
        if not trusted_root(state, category, root.page_size):
            found.problems.append(
                f"{index.ROOT_KEY}: the {category} fingerprint does not match the manifests "
                "listed in the bucket"
            )
        listed = root.category(category)
        documents: dict[int, object] = {}
        for page_id in listed.page_ids:
            key = index.page_key(category, page_id)
            try:
                documents[page_id] = index.loads(store.get(key), key)
                found.pages += 1
            except NotFound:
                found.problems.append(f"{key}: missing (listed in {index.ROOT_KEY})")
            except index.InvalidIndex as exc:
                found.problems.append(exc.message)
        try:
            pageset = index.parse_category(root, category, documents)
        except index.InvalidIndex as exc:
            if len(documents) == len(listed.page_ids):
                found.problems.append(exc.message)
            continue
        indexed = {entry.tag: entry for entry in pageset.entries()}
        wanted = {
            tag: index.entry_from_build(build)
            for tag, build in builds.items()
            if state.categories.get(tag) is category
        }
        for tag in sorted(set(indexed) - set(wanted)):
            found.problems.append(f"{category} index: {tag} has no build manifest")
        for tag in sorted(set(wanted) - set(indexed)):
            found.problems.append(f"{category} index: {tag} is published but not indexed")
        for tag in sorted(set(wanted) & set(indexed)):
            if not index.describes(indexed[tag], wanted[tag]):
                found.problems.append(
                    f"{category} index: the entry of {tag} differs from its manifest"
                )
