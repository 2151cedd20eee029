"""Checks of a target against its manifests: orphans for ``gc``, integrity for ``verify``."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from artreg.core import index
from artreg.core.index import Entry
from artreg.core.manifest import ARTREG_DIR, Build, InvalidManifest
from artreg.core.plan import Action, Kind, Op
from artreg.core.tags import PUBLISHED_CATEGORIES, Convention
from artreg.lease import LEASE_KEY
from artreg.oci.verify import verify_images
from artreg.publisher import (
    Step,
    TargetState,
    category_entries,
    describe_reclassified,
    read_build,
    trusted_root,
)
from artreg.stores.base import NotFound, ObjectInfo, Store

# Trees that other parts of artreg own and sweep themselves (OCI blobs are
# collected by reachability from the kept image tags, not as orphans).
OWN_TREES = ("v2/",)


@dataclass(frozen=True)
class Orphan:
    """An object no manifest or index document references."""

    info: ObjectInfo
    age: dt.timedelta

    def step(self) -> Step:
        reason = f"orphan: referenced by no manifest, {_age(self.age)} old"
        kind = Kind.PAGE if self.info.key.startswith(index.INDEX_PREFIX) else Kind.FILE
        return Step(Action(Op.DELETE, kind, self.info.key, self.info.size, reason))


def _age(delta: dt.timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.0f} days"


def referenced_keys(state: TargetState, entries: Iterable[Entry]) -> set[str]:
    """Every key the manifests and the current index documents reference."""
    keys = {index.ROOT_KEY, index.HTML_KEY, LEASE_KEY}
    keys |= {info.key for info in state.manifests.values()}
    if state.root is not None:
        for category in PUBLISHED_CATEGORIES:
            keys |= {
                index.page_key(category, pid) for pid in state.root.category(category).page_ids
            }
    for entry in entries:
        keys |= {f.key for f in entry.files}
    return keys


def find_orphans(
    listing: Sequence[ObjectInfo],
    referenced: set[str],
    unreadable: Iterable[str],
    *,
    clock_now: dt.datetime,
    grace: dt.timedelta,
) -> tuple[list[Orphan], list[Orphan]]:
    """Unreferenced objects, split into (past the grace period, still young).

    Age is measured from LastModified against the real clock (not ``--now``):
    a concurrent run's fresh uploads are young and never collected.
    """
    skip = set(unreadable)
    old: list[Orphan] = []
    young: list[Orphan] = []
    for info in listing:
        if info.key in referenced or info.key in skip or info.key.startswith(OWN_TREES):
            continue
        orphan = Orphan(info, clock_now - info.last_modified)
        (old if orphan.age > grace else young).append(orphan)
    return old, young


def all_entries(store: Store, state: TargetState, page_size: int) -> list[Entry]:
    return [
        entry
        for category in PUBLISHED_CATEGORIES
        for entry in category_entries(store, state, category, page_size)
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
) -> Findings:
    """Every check of ``artreg verify``, problems collected, nothing written."""
    found = Findings()
    objects = {info.key: info for info in listing}
    builds: dict[str, Build] = {}
    for key in state.unreadable:
        found.problems.append(f"{key}: under {ARTREG_DIR}/builds/ but names no valid tag")
    for tag, info in sorted(state.manifests.items()):
        try:
            build = read_build(store, info.key)
        except (InvalidManifest, NotFound) as exc:
            found.problems.append(exc.message if isinstance(exc, InvalidManifest) else str(exc))
            continue
        if build.tag != tag:
            found.problems.append(f"{info.key}: records tag {build.tag!r}, its key says {tag!r}")
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
    old, _ = find_orphans(
        listing,
        referenced_keys(state, entries),
        state.unreadable,
        clock_now=clock_now,
        grace=grace,
    )
    for orphan in old:
        found.problems.append(
            f"{orphan.info.key}: orphan ({_age(orphan.age)} old, referenced by nothing); "
            "`artreg gc` removes it"
        )
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
            pageset = index.pageset_from_documents(root, category, documents)
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
            if wanted[tag] != indexed[tag]:
                found.problems.append(
                    f"{category} index: the entry of {tag} differs from its manifest"
                )
