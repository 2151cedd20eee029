"""A target as listed: the build manifests, the root index and the pages behind it.

The state of a target is one LIST of ``_artreg/builds/`` (the manifests, the
source of truth) plus the root ``index.json``. The index is derived: when the
root's per-category fingerprint agrees with the listing, its pages are read
as they are; otherwise a category is rebuilt from the manifests.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import secrets
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from artreg.core import index
from artreg.core.index import Entry, LoadedPages, ParsedPage, RootIndex
from artreg.core.manifest import BUILDS_PREFIX, Build, build_at, manifest_key
from artreg.core.ownership import Intent, make_intent
from artreg.core.tags import (
    PUBLISHED_CATEGORIES,
    Category,
    Convention,
    classify,
    decode_tag,
    unsafe_reason,
)
from artreg.errors import InvalidManifest, NotFound
from artreg.publish.execute import INDEX_CACHE
from artreg.stores.base import ObjectInfo, PutRequest, Store
from artreg.stores.steps import (
    JSON_TYPE,
)


@dataclass(frozen=True)
class TargetState:
    """What a target holds, from one LIST of the manifests and one GET of the root."""

    manifests: Mapping[str, ObjectInfo]  # tag -> its manifest object
    categories: Mapping[str, Category]  # tag -> category under the current convention
    unreadable: tuple[str, ...]  # keys under _artreg/builds/ that name no valid tag
    root_doc: Mapping[str, Any] | None
    root: RootIndex | None
    root_problem: str | None
    root_etag: str | None = None  # the etag the store sent with the root: for If-Match
    # tag -> the category its manifest records, where the configuration now
    # classifies the tag otherwise; ``categories`` holds the recorded one.
    recorded: Mapping[str, Category] = field(default_factory=dict)

    def with_recorded(self, found: Mapping[str, Category]) -> TargetState:
        """This state with more builds known to be recorded under another category."""
        categories = {**self.categories, **found}
        return dataclasses.replace(self, categories=categories, recorded={**self.recorded, **found})

    @functools.cached_property
    def _etags_by_category(self) -> dict[Category, dict[str, str]]:
        grouped: dict[Category, dict[str, str]] = {c: {} for c in PUBLISHED_CATEGORIES}
        for tag, info in self.manifests.items():
            category = self.categories.get(tag)
            if category is not None:
                grouped.setdefault(category, {})[tag] = info.etag
        return grouped

    @functools.cached_property
    def _fingerprints(self) -> dict[Category, str]:
        return {c: index.fingerprint(e.items()) for c, e in self._etags_by_category.items()}

    def etags(self, category: Category) -> Mapping[str, str]:
        """tag -> manifest etag of the listed builds of ``category`` (computed once)."""
        return self._etags_by_category.get(category, {})

    def fingerprint(self, category: Category) -> str:
        """The fingerprint the root must carry for ``category`` to describe this listing."""
        return self._fingerprints[category]


def read_state(
    store: Store, convention: Convention, listing: Sequence[ObjectInfo] | None = None
) -> TargetState:
    """LIST the manifests and GET the root index (a missing or broken root is noted).

    ``listing``: every key of the target, listed by the caller: the manifests are
    taken from it instead of a second LIST.

    A build keeps the category it was published with: where the configuration
    now classifies its tag otherwise (or rejects it), the root's
    ``reclassified`` table says so, and a manifest whose key names no valid tag
    is read to find out (one GET each; normally there is none).
    """
    manifests: dict[str, ObjectInfo] = {}
    categories: dict[str, Category] = {}
    unreadable: dict[str, ObjectInfo] = {}
    listed = store.list(BUILDS_PREFIX) if listing is None else listing
    for info in (i for i in listed if i.key.startswith(BUILDS_PREFIX)):
        name = info.key[len(BUILDS_PREFIX) :]
        tag = decode_tag(name[: -len(".json")], convention) if name.endswith(".json") else ""
        verdict = classify(tag, convention) if tag and "/" not in name else None
        if verdict is None or not verdict.valid:
            unreadable[info.key] = info
            continue
        manifests[tag] = info
        categories[tag] = verdict.category
    root_doc: Mapping[str, Any] | None = None
    root: RootIndex | None = None
    problem: str | None = None
    root_etag: str | None = None
    try:
        body, root_etag = store.get_with_etag(index.ROOT_KEY)
        root_doc = index.loads(body, index.ROOT_KEY)
        root = index.parse_root(root_doc)
    except NotFound:
        problem = "index.json does not exist yet"
    except index.InvalidIndex as exc:
        problem = exc.message
    recorded: dict[str, Category] = {}
    for tag, category in (root.reclassified if root is not None else {}).items():
        key = manifest_key(tag)
        if tag in manifests and manifests[tag].key == key and categories[tag] is not category:
            recorded[tag] = categories[tag] = category
        elif key in unreadable:
            manifests[tag] = unreadable.pop(key)
            recorded[tag] = categories[tag] = category
    for key in sorted(unreadable):
        if not key.endswith(".json"):
            continue
        try:
            build = read_build(store, key)
        except (InvalidManifest, NotFound):
            continue
        if manifest_key(build.tag) == key and unsafe_reason(build.tag) is None:
            manifests[build.tag] = unreadable.pop(key)
            recorded[build.tag] = categories[build.tag] = build.category
    return TargetState(
        manifests,
        categories,
        tuple(unreadable),
        root_doc,
        root,
        problem,
        root_etag,
        recorded,
    )


def find_reclassified(store: Store, state: TargetState) -> dict[str, Category]:
    """Every build recorded under another category than the configuration gives its tag.

    Reads every listed manifest (one GET each); a damaged one raises
    :class:`InvalidManifest`.
    """
    found = dict(state.recorded)
    for tag, info in sorted(state.manifests.items()):
        if tag in found:
            continue
        try:
            build = read_build(store, info.key)
        except NotFound:
            continue
        if build.category is not state.categories[tag]:
            found[tag] = build.category
    return found


def describe_reclassified(tag: str, recorded: Category, convention: Convention) -> str:
    """Why a build is indexed under the category it was published with, and what to do."""
    verdict = classify(tag, convention)
    now = f"classifies its tag as {verdict.category}" if verdict.valid else "rejects its tag"
    if not verdict.valid:
        now += f" ({verdict.reason})"
    return (
        f"build {tag} is published as {recorded}, but the configuration now {now}: it stays "
        f"indexed as {recorded} and is never expired because of this; to resolve it, restore "
        f"the tag rule, or delete {manifest_key(tag)} (`artreg gc` then collects its files) "
        "and publish the build again"
    )


def new_intent(holder: str, builds: Mapping[str, Iterable[str]]) -> Intent:
    """An intent record for ``builds`` (tag -> the keys about to be written or deleted)."""
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    intent_id = f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(8)}"
    return make_intent(intent_id, now, holder, builds)


def write_intent(store: Store, intent: Intent) -> None:
    """Record the intent BEFORE the first write or delete it names (see core.ownership)."""
    request = PutRequest(
        key=intent.key, body=intent.to_bytes(), content_type=JSON_TYPE, cache_control=INDEX_CACHE
    )
    store.put(request)


def read_build(store: Store, key: str) -> Build:
    """The manifest at ``key``, checked (see core.manifest); raises InvalidManifest, NotFound."""
    return build_at(store.get(key), key, f"{store.description}: {key}")


def load_pages(
    store: Store,
    root: RootIndex,
    category: Category,
    limit: int | None,
    bodies: dict[str, bytes] | None = None,
) -> LoadedPages:
    """The category's pages from the store: all of them, or the first ones up to ``limit`` rows.

    ``bodies``: where to keep each page's bytes as read (page key -> bytes).
    """

    def read(key: str) -> bytes:
        body = store.get(key)
        if bodies is not None:
            bodies[key] = body
        return body

    listed = root.category(category)
    if limit is None:
        keys = {page_id: index.page_key(category, page_id) for page_id in listed.page_ids}
        documents = {page_id: index.loads(read(key), key) for page_id, key in keys.items()}
        return index.parse_category(root, category, documents)
    pages = []
    count = 0
    for page_id in listed.page_ids:
        if count >= limit:
            break
        key = index.page_key(category, page_id)
        page = index.parse_page(index.loads(read(key), key), key).page
        pages.append(page)
        count += len(page.entries)
    return LoadedPages(category, tuple(pages))


class PageReader:
    """Reads a category's pages one at a time, each at most once (counted in ``reads``)."""

    def __init__(
        self, store: Store, category: Category, bodies: dict[str, bytes] | None = None
    ) -> None:
        self.store = store
        self.category = category
        self.cache: dict[int, ParsedPage] = {}
        self.reads = 0
        self.bodies = {} if bodies is None else bodies  # page key -> bytes as read

    def __call__(self, page_id: int) -> ParsedPage:
        parsed = self.cache.get(page_id)
        if parsed is None:
            key = index.page_key(self.category, page_id)
            self.reads += 1
            body = self.store.get(key)
            self.bodies[key] = body
            parsed = index.parse_page(index.loads(body, key), key)
            self.cache[page_id] = parsed
        return parsed


def rebuild_entries(
    store: Store,
    state: TargetState,
    category: Category,
    skip: Iterable[str],
    notes: list[str] | None = None,
    found: dict[str, Category] | None = None,
    left_out: set[str] | None = None,
) -> list[Entry]:
    """Entries from the manifests themselves (one GET each); vanished ones are skipped.

    An unreadable manifest raises, unless ``notes`` is given (index rebuilds): then
    the build is left out of the index and noted, so one damaged manifest does not
    block every later index update. Retention and gc pass no ``notes``: they stop
    rather than treat that build's files as unreferenced. A manifest recording
    another category than ``category`` (the configuration changed) is left out
    and added to ``found`` when given, else returned as it is recorded.
    """
    skipped = set(skip)
    entries = []
    for tag in sorted(state.etags(category)):
        if tag in skipped:
            continue
        try:
            entry = index.entry_from_build(read_build(store, state.manifests[tag].key))
        except NotFound:
            continue  # deleted by a concurrent gc since the listing
        except InvalidManifest as exc:
            if notes is None:
                raise
            notes.append(f"{exc.message}; {tag} is left out of the index")
            if left_out is not None:
                left_out.add(tag)
            continue
        if entry.category is not category and found is not None:
            found[tag] = entry.category
            continue
        entries.append(entry)
    return entries


def trusted_root(state: TargetState, category: Category, page_size: int) -> bool:
    """Whether the root's pages for ``category`` describe exactly the listed manifests."""
    root = state.root
    return (
        root is not None
        and root.page_size == page_size
        and root.category(category).fingerprint == state.fingerprint(category)
    )


def index_is_current(
    state: TargetState, page_size: int, left_out: AbstractSet[str] = frozenset()
) -> bool:
    """The root index agrees with the listing in every category (what convergence waits for).

    ``left_out``: builds the index leaves out because their manifest is unreadable or
    invalid; the root cannot carry them, so they are not waited for.
    """
    if left_out:
        kept = {t: i for t, i in state.manifests.items() if t not in left_out}
        state = dataclasses.replace(state, manifests=kept)
    return all(trusted_root(state, c, page_size) for c in PUBLISHED_CATEGORIES)


def pages_agree(store: Store, state: TargetState) -> bool:
    """Whether every page the root lists exists and agrees with it (one GET per page)."""
    if state.root is None:
        return False
    for category in PUBLISHED_CATEGORIES:
        try:
            load_pages(store, state.root, category, None)
        except (index.InvalidIndex, NotFound):
            return False
    return True


def category_entries(
    store: Store,
    state: TargetState,
    category: Category,
    page_size: int,
    notes: list[str] | None = None,
) -> list[Entry]:
    """Every entry of ``category``: from the pages when trusted, else from the manifests.

    An unreadable manifest raises, unless ``notes`` is given (see rebuild_entries).
    """
    if state.root is not None and trusted_root(state, category, page_size):
        try:
            return list(load_pages(store, state.root, category, None).entries())
        except (index.InvalidIndex, NotFound):
            pass
    return rebuild_entries(store, state, category, (), notes)
