"""The edge between the pure core and a store: read a target's state, plan, execute.

The state of a target is one LIST of ``_artreg/builds/`` (the manifests, the
source of truth) plus the root ``index.json``. The index is derived: when the
root's per-category fingerprint agrees with the listing, its pages are updated
in place (O(1) pages written per build); otherwise the category is rebuilt
from the manifests.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from artreg.config import Config, TagRules
from artreg.core import index
from artreg.core.index import Entry, LoadedPages, PageOutline, ParsedPage, RootIndex
from artreg.core.keys import SIGNATURE_NAME, site_keys
from artreg.core.manifest import BUILDS_PREFIX, Build, build_at, manifest_key
from artreg.core.ownership import Intent, make_intent
from artreg.core.plan import DELETE_ORDER, Action, BuildChange, Kind, Op, order_actions
from artreg.core.retention import (
    Brake,
    Candidate,
    Decision,
    RetentionRule,
    brakes,
    decide,
    may_delete,
)
from artreg.core.tags import (
    PUBLISHED_CATEGORIES,
    Category,
    Convention,
    classify,
    decode_tag,
    unsafe_reason,
)
from artreg.errors import ArtregError, InvalidManifest, NotFound, PreconditionFailed, RootRefused
from artreg.publish.artifacts import LocalFile
from artreg.publish.site import read_yanks, site_of
from artreg.render.site import (
    Section,
    Yanks,
    html_page_key,
    render_history_page,
    render_root_page,
)
from artreg.stores.base import ObjectInfo, PutRequest, Store
from artreg.stores.steps import (
    HTML_TYPE,
    IMMUTABLE_CACHE,
    JSON_TYPE,
    MUTABLE_CACHE,
    OTHER_CACHE,
    Step,
)

INDEX_CACHE = MUTABLE_CACHE
RELEASE_CACHE = IMMUTABLE_CACHE
HTML_RELEASE_ROWS = 1000
HTML_OTHER_ROWS = 50


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


@dataclass
class IndexPlan:
    """Index writes and deletes, and what was decided per category."""

    steps: list[Step] = field(default_factory=list)
    rebuilt: list[Category] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # The bytes of the pages read while planning (page key -> bytes): what a
    # failed update restores, so the pages keep agreeing with the root.
    previous: dict[str, bytes] = field(default_factory=dict)
    # Listed builds whose manifest could not be read or is invalid: left out of the index.
    left_out: set[str] = field(default_factory=set)


def _load_pages(
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


def _rebuild_entries(
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
            _load_pages(store, state.root, category, None)
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

    An unreadable manifest raises, unless ``notes`` is given (see _rebuild_entries).
    """
    if state.root is not None and trusted_root(state, category, page_size):
        try:
            return list(_load_pages(store, state.root, category, None).entries())
        except (index.InvalidIndex, NotFound):
            pass
    return _rebuild_entries(store, state, category, (), notes)


def retention_rules(rules: TagRules) -> dict[Category, RetentionRule]:
    """The retention part of each category's rule."""
    return {category: rules.rule(category).retention() for category in PUBLISHED_CATEGORIES}


@dataclass
class RetentionPlan:
    """What retention decided for the categories it had to look at."""

    decisions: list[Decision] = field(default_factory=list)
    removed: dict[str, Entry] = field(default_factory=dict)
    brakes: list[Brake] = field(default_factory=list)
    signed: bool = False  # the builds' SHA256SUMS have signatures to delete too

    def steps(self) -> list[Step]:
        """Deletes of the removed builds: manifests, then files (index first, elsewhere)."""
        reasons = {d.tag: d.reason for d in self.decisions}
        steps = []
        for tag, entry in sorted(self.removed.items()):
            why = f"retention: {reasons[tag]}"
            manifest = Action(Op.DELETE, Kind.MANIFEST, manifest_key(tag), 0, why)
            steps.append(Step(manifest))
            for file in entry.files:
                steps.append(Step(Action(Op.DELETE, Kind.FILE, file.key, file.size, why)))
            # its SHA256SUMS, signature and page (a delete of an absent key is a no-op)
            site = [k for k in site_keys(tag) if self.signed or not k.endswith(SIGNATURE_NAME)]
            steps += [Step(Action(Op.DELETE, Kind.SITE, key, 0, why)) for key in site]
        return steps


def plan_retention(
    store: Store,
    state: TargetState,
    rules: TagRules,
    convention: Convention,
    *,
    page_size: int,
    max_fraction: float,
    added: Sequence[Build],
    now: dt.datetime,
    signed: bool = False,
) -> RetentionPlan:
    """Retention over the listing plus ``added``; reads pages only when something may expire.

    A category is looked at only when it holds more than ``keep_last`` builds and
    (with ``expire_after``) its oldest build, the last entry of its last page, is
    past the limit: a no-op run costs at most one page GET per category.
    """
    plan = RetentionPlan(signed=signed)
    by_rule = retention_rules(rules)
    for category in PUBLISHED_CATEGORIES:
        rule = by_rule[category]
        if not may_delete(rule, category):
            continue
        news = [b for b in added if b.category is category]
        listed = state.etags(category)
        count = len(listed) + sum(1 for b in news if b.tag not in listed)
        if rule.keep_last is not None and count <= rule.keep_last:
            continue
        if rule.expire_after is not None and not _oldest_is_past(
            store, state, category, page_size, now - rule.expire_after
        ):
            continue
        # A build the configuration now classifies otherwise is never expired because of it.
        entries = {
            e.tag: e
            for e in category_entries(store, state, category, page_size)
            if e.category is category and e.tag not in state.recorded
        }
        entries.update({b.tag: index.entry_from_build(b) for b in news})
        candidates = [Candidate(e.tag, e.category, e.published) for e in entries.values()]
        decisions = decide(candidates, {category: rule}, now, convention)
        plan.decisions += decisions
        plan.brakes += brakes(decisions, max_fraction)
        plan.removed.update({d.tag: entries[d.tag] for d in decisions if not d.keep})
    return plan


def _oldest_is_past(
    store: Store, state: TargetState, category: Category, page_size: int, cutoff: dt.datetime
) -> bool:
    """Whether the oldest build of the category was published before ``cutoff``."""
    root = state.root
    if category is Category.RELEASE or root is None or not trusted_root(state, category, page_size):
        return True  # not ordered by time, or unknown: look at every build
    ids = root.category(category).page_ids
    if not ids:
        return False
    key = index.page_key(category, ids[-1])
    try:
        page = index.parse_page(index.loads(store.get(key), key), key).page
    except (index.InvalidIndex, NotFound):
        return True
    oldest = min((e.published for e in page.entries), default=None)
    return oldest is not None and oldest < cutoff


def plan_index(
    store: Store,
    state: TargetState,
    config: Config,
    *,
    added: Sequence[Build],
    added_etags: Mapping[str, str],
    removed: Iterable[str] | Mapping[str, Entry],
    now: dt.datetime,
    rebuild: bool = False,
) -> IndexPlan:
    """Pages, root and index.html for the listing plus ``added`` minus ``removed``.

    ``added_etags`` are the etags the store returned for the added builds'
    manifests (``plan`` passes a stand-in: it writes nothing). ``removed``:
    tags, or tag -> indexed entry (retention's, which locates them without a
    search). With a trusted root
    that has page starts, reads only the pages the change touches, plus the
    first pages of each category for index.html.

    A rebuild that finds builds recorded under another category than the
    configuration now gives their tags plans again with them indexed under
    their recorded category (the new root lists them as ``reclassified``).
    """
    removed = removed if isinstance(removed, Mapping) else list(removed)
    for _ in range(len(PUBLISHED_CATEGORIES) + 1):
        found: dict[str, Category] = {}
        plan = _plan_index(
            store,
            state,
            config,
            added=added,
            added_etags=added_etags,
            removed=removed,
            now=now,
            rebuild=rebuild,
            found=found,
        )
        if not found:
            break
        state = state.with_recorded(found)
    convention = config.convention()
    plan.notes[:0] = [
        describe_reclassified(tag, category, convention)
        for tag, category in sorted(state.recorded.items())
    ]
    return plan


def _plan_index(
    store: Store,
    state: TargetState,
    config: Config,
    *,
    added: Sequence[Build],
    added_etags: Mapping[str, str],
    removed: Iterable[str] | Mapping[str, Entry],
    now: dt.datetime,
    rebuild: bool,
    found: dict[str, Category],
) -> IndexPlan:
    plan = IndexPlan()
    page_size = config.index.page_size
    yanks = Yanks(read_yanks(store))
    removed_tags = set(removed)
    removed_entries: Mapping[str, Entry] = removed if isinstance(removed, Mapping) else {}
    root = state.root
    if root is not None and root.page_size != page_size:
        plan.notes.append(f"index page size changed ({root.page_size} -> {page_size}): rebuilding")
        root = None
    elif root is None and state.root_problem and state.root_doc is not None:
        plan.notes.append(f"{state.root_problem}: rebuilding the index")

    def trusted(category: Category) -> bool:
        return not rebuild and root is not None and trusted_root(state, category, page_size)

    changing = {b.category for b in added} | {
        state.categories[tag] for tag in removed_tags if tag in state.categories
    }
    if not changing and state.root_doc is not None and all(map(trusted, PUBLISHED_CATEGORIES)):
        _ensure_html(store, plan)
        return plan

    new_pagesets: dict[Category, LoadedPages | PageOutline] = {}
    fingerprints: dict[Category, str] = {}
    html_rows: dict[Category, Sequence[Entry]] = {}
    etags_after: dict[str, str] = {}
    page_writes: list[tuple[Category, int, dict[str, Any]]] = []
    page_deletes: list[str] = []
    for category in PUBLISHED_CATEGORIES:
        before = state.etags(category)
        adds = [b for b in added if b.category is category]
        # A build published again under another category leaves its old one.
        gone = {tag for tag in removed_tags if tag in before}
        gone |= {b.tag for b in added if b.tag in before and b.category is not category}
        after = {tag: etag for tag, etag in before.items() if tag not in gone}
        after.update({b.tag: added_etags[b.tag] for b in adds})
        etags_after.update(after)
        changed = bool(adds or gone)
        limit = HTML_RELEASE_ROWS if category is Category.RELEASE else HTML_OTHER_ROWS
        entries = [index.entry_from_build(b) for b in adds]
        if root is not None and trusted(category):
            listed = root.category(category).outline()
            if not changed:
                try:
                    rows = _load_pages(store, root, category, limit, plan.previous).entries()
                    html_rows[category] = rows
                    continue
                except (index.InvalidIndex, NotFound) as exc:
                    plan.notes.append(f"{category} pages unreadable ({_why(exc)}): rebuilding")
            else:
                # Only the pages the change touches (and those index.html shows).
                reader = PageReader(store, category, plan.previous)
                known = {t: e for t, e in removed_entries.items() if t in gone and t not in after}
                try:
                    result = index.edit_outline(
                        listed,
                        reader,
                        entries,
                        gone,
                        page_size,
                        indexed=before,
                        known=known,
                        newest=config.index.newest,
                    )
                    rows = index.front_entries(result.outline, result.held, reader, limit)
                except (index.InvalidIndex, NotFound) as exc:
                    plan.notes.append(f"{category} pages unreadable ({_why(exc)}): rebuilding")
                else:
                    new_pagesets[category] = result.outline
                    fingerprints[category] = index.fingerprint(after.items())
                    html_rows[category] = rows
                    links = index.next_ids(result.outline.ids)
                    for page_id in result.changed:
                        page = result.held[page_id]
                        document = index.page_document(category, page, links[page_id])
                        page_writes.append((category, page_id, document))
                    page_deletes += [index.page_key(category, pid) for pid in result.deleted]
                    continue
        if state.root_doc is not None or before:
            plan.rebuilt.append(category)
        skip = gone | {b.tag for b in adds}
        kept = _rebuild_entries(store, state, category, skip, plan.notes, found, plan.left_out)
        pageset = index.pack(category, kept + entries, page_size)
        ids = tuple(reversed(pageset.ids))
        old_ids = root.category(category).page_ids if root is not None else ()
        stale = set(old_ids) - set(pageset.ids)
        page_deletes += [index.page_key(category, pid) for pid in sorted(stale)]
        new_pagesets[category] = pageset
        documents = index.page_documents(pageset)
        page_writes += [(category, page_id, documents[page_id]) for page_id in ids]
        html_rows[category] = pageset.entries()[:limit]

    if not new_pagesets and state.root_doc is not None:
        _ensure_html(store, plan)
        return plan

    existing_pages: set[str] = set()
    if root is not None:
        for category in PUBLISHED_CATEGORIES:
            existing_pages |= {
                index.page_key(category, pid) for pid in root.category(category).page_ids
            }
    for category, page_id, document in page_writes:
        key = index.page_key(category, page_id)
        body = index.dumps(document)
        op = Op.REPLACE if key in existing_pages else Op.CREATE
        plan.steps.append(_put(op, Kind.PAGE, key, body, JSON_TYPE, f"{category} index page"))
        # its HTML twin, same id, same entries
        page = index.parse_page(document, key).page
        twin = render_history_page(
            site_of(config),
            category,
            page_id,
            page.entries,
            document_next(document),
            yanks=yanks,
        )
        plan.steps.append(
            _put(
                op,
                Kind.PAGE,
                html_page_key(category, page_id),
                twin.encode(),
                HTML_TYPE,
                f"{category} index page (HTML)",
            )
        )

    root_doc = index.root_document(
        new_pagesets.values(),
        project=config.project,
        generated=now,
        etags=etags_after,
        page_size=page_size,
        newest=config.index.newest,
        fingerprints=fingerprints,
        reclassified={
            tag: category
            for tag, category in state.recorded.items()
            if tag in etags_after and tag not in {b.tag for b in added}
        },
    )
    if state.root_doc is not None and root is not None:
        for category in PUBLISHED_CATEGORIES:
            if category not in new_pagesets:
                root_doc["categories"][category.value] = state.root_doc["categories"][
                    category.value
                ]
        if index.same_content(state.root_doc, root_doc) and not rebuild:
            _ensure_html(store, plan)
            return plan
    root_body = index.dumps(root_doc)
    op = Op.REPLACE if state.root_doc is not None else Op.CREATE
    plan.steps.append(_put(op, Kind.ROOT, index.ROOT_KEY, root_body, JSON_TYPE, "root index"))
    html = _render_html(config, root_doc, html_rows, now, yanks)
    plan.steps.append(_put(op, Kind.HTML, index.HTML_KEY, html, HTML_TYPE, "index.html"))
    page_deletes += [key.removesuffix(".json") + ".html" for key in page_deletes]
    for key in page_deletes:
        action = Action(Op.DELETE, Kind.PAGE, key, 0, "index page no longer linked")
        plan.steps.append(Step(action))
    return plan


def _why(exc: index.InvalidIndex | NotFound) -> str:
    return exc.message


def _ensure_html(store: Store, plan: IndexPlan) -> None:
    """The index is current; only a missing index.html is noted (verify --repair rewrites it)."""
    if store.head(index.HTML_KEY) is None:
        plan.notes.append("index.html is missing: run `artreg verify --repair`")


def _render_html(
    config: Config,
    root_doc: Mapping[str, Any],
    rows: Mapping[Category, Sequence[Entry]],
    now: dt.datetime,
    yanks: Yanks | None = None,
) -> bytes:
    return _render_site_root(config, root_doc["categories"], rows, now, yanks or Yanks())


def document_next(document: Mapping[str, Any]) -> int | None:
    """The id of the page a page document links (``"7.json"`` -> 7), or None."""
    link = document.get("next")
    return None if link is None else int(str(link).removesuffix(".json"))


def _render_site_root(
    config: Config,
    categories: Mapping[str, Any],
    rows: Mapping[Category, Sequence[Entry]],
    now: dt.datetime,
    yanks: Yanks,
) -> bytes:
    """The download site's root page: the highest release highlighted (from the rows)."""
    sections = {
        c: Section(
            rows=rows.get(c, ()),
            total=int(categories[c.value]["count"]),
            page_ids=[
                int(str(url).rsplit("/", 1)[-1].removesuffix(".json"))
                for url in categories[c.value]["pages"]
            ],
        )
        for c in PUBLISHED_CATEGORIES
    }
    releases = [e for e in rows.get(Category.RELEASE, ()) if e.tag not in yanks]
    latest = releases[0] if releases else None
    page = render_root_page(site_of(config), sections, latest=latest, generated=now, yanks=yanks)
    return page.encode()


def _put(op: Op, kind: Kind, key: str, body: bytes, content_type: str, reason: str) -> Step:
    request = PutRequest(key=key, body=body, content_type=content_type, cache_control=INDEX_CACHE)
    return Step(Action(op, kind, key, len(body), reason), request)


def build_steps(change: BuildChange, files: Sequence[LocalFile]) -> list[Step]:
    """File uploads and the manifest write of one build change (not the index)."""
    steps: list[Step] = []
    if not change.changed:
        return steps
    build = change.build
    cache = RELEASE_CACHE if build.category is Category.RELEASE else OTHER_CACHE
    by_key = {f.key: f for f in files}
    previous = set(change.stale_keys)
    for key in change.upload_keys:
        local = by_key.get(key)
        if local is None:  # an image's tag: written by artreg.oci.publish, not here
            continue
        request = PutRequest(
            key=key,
            body=local.source,
            content_type=local.content_type,
            cache_control=cache,
            metadata={"sha256": local.sha256},
            sha256=local.sha256,
        )
        op = Op.REPLACE if change.manifest_existed and key not in previous else Op.CREATE
        reason = f"{local.artifact} {local.platform}"
        steps.append(Step(Action(op, Kind.FILE, key, local.size, reason), request))
    body = build.to_bytes()
    op = Op.REPLACE if change.manifest_existed else Op.CREATE
    steps.append(
        Step(
            Action(op, Kind.MANIFEST, build.key, len(body), f"build manifest of {build.tag}"),
            PutRequest(key=build.key, body=body, content_type=JSON_TYPE, cache_control=INDEX_CACHE),
        )
    )
    for key in change.stale_keys:
        if key.startswith("v2/"):  # an image tag: registry keys are left to retention
            continue
        steps.append(Step(Action(Op.DELETE, Kind.FILE, key, 0, f"no longer in {build.tag}")))
    return steps


def ordered(steps: Iterable[Step]) -> list[Step]:
    """Steps in the safe order of :func:`artreg.core.plan.order_actions`."""
    items = list(steps)
    by_action = {id(step.action): step for step in items}
    return [by_action[id(action)] for action in order_actions(step.action for step in items)]


ProgressFn = Callable[[int], None]


def execute(
    store: Store,
    steps: Sequence[Step],
    progress: ProgressFn | None = None,
    index_steps: Callable[[Mapping[str, str]], Sequence[Step]] | None = None,
) -> dict[str, str]:
    """Carry out ``steps``: files in parallel, then manifests, index writes, and deletes.

    Returns the etags of what was written, by key. ``index_steps``, given the
    etags of the manifests just written, supplies the index steps at that point,
    so the root index records the etags the store really assigned.
    """
    etags: dict[str, str] = {}
    writes = [s for s in steps if s.action.op is not Op.DELETE and s.request is not None]
    files = [s for s in writes if s.action.kind is Kind.FILE]
    requests = [s.request for s in files if s.request is not None]
    for request, etag in zip(requests, store.put_many(requests, progress), strict=True):
        etags[request.key] = etag
    for step in writes:
        if step.action.kind is Kind.MANIFEST and step.request is not None:
            etags[step.action.key] = store.put(step.request)
    later = [s for s in steps if s.action.kind not in (Kind.FILE, Kind.MANIFEST)]
    later += [s for s in steps if s.action.op is Op.DELETE and s.action.kind is not Kind.PAGE]
    if index_steps is not None:
        later += index_steps(etags)
    later = ordered(later)
    for step in later:
        if step.action.op is not Op.DELETE and step.request is not None:
            etags[step.action.key] = store.put(step.request)
    for kind in DELETE_ORDER:
        keys = [s.action.key for s in later if s.action.op is Op.DELETE and s.action.kind is kind]
        if keys:
            store.delete(keys)
    return etags


def execute_index(
    store: Store,
    steps: Sequence[Step],
    *,
    root_etag: str | None,
    locked: bool,
    previous: Mapping[str, bytes] | None = None,
) -> None:
    """Index writes in order, then deletes (pages, manifests, files).

    ``locked``: the store honours conditional writes and we hold the lease; the
    root is still written with If-Match (If-None-Match when new), so a run whose
    lease expired and was taken over fails instead of overwriting the new holder.

    Pages (and index.html) are rewritten in place before the root commits
    them. If any write fails before the root is written, those already
    rewritten get their bytes back (``previous``: pages as read while
    planning; the others are read just before being overwritten, index.html
    always), so pages and index.html agree with the root still there,
    unless another run has written the root meanwhile (its pages are its own).
    A locked root write refused although the root is unchanged raises
    :class:`RootRefused`.
    """
    previous = dict(previous or {})
    replaced: list[tuple[PutRequest, bytes]] = []  # rewritten before the root: old bytes
    committed = False
    try:
        for step in steps:
            if step.action.op is Op.DELETE or step.request is None:
                continue
            if step.action.kind is Kind.ROOT:
                if not locked:
                    store.put(step.request)
                elif root_etag is None:
                    store.put(step.request, if_none_match=True)
                else:
                    store.put(step.request, if_match=root_etag)
                committed = True
                continue
            # An index page's HTML twin is not restored (no read before each write): it
            # only lists builds whose files and manifests are written, and the next run
            # rewrites it with its JSON page.
            twin = step.action.kind is Kind.PAGE and step.action.key.endswith(".html")
            if (
                step.action.kind in (Kind.PAGE, Kind.HTML)
                and step.action.op is Op.REPLACE
                and not committed
                and not twin
            ):
                key = step.action.key
                before = previous.get(key)
                if before is None:
                    with contextlib.suppress(NotFound):
                        before = store.get(key)
                if before is not None:
                    replaced.append((step.request, before))
            store.put(step.request)
    except Exception as exc:
        if committed or not replaced:
            if locked and isinstance(exc, PreconditionFailed) and _root_is(store, root_etag):
                raise _refused(store, root_etag) from None
            raise
        if not _root_is(store, root_etag):
            raise  # another run wrote the root (and its own pages) meanwhile
        try:
            for request, body in reversed(replaced):
                store.put(dataclasses.replace(request, body=body, sha256=None))
        except ArtregError as again:
            raise ArtregError(
                f"{exc}; restoring the {len(replaced)} index file(s) rewritten before that "
                f"failed too ({again}): run `artreg verify --repair` once the store answers"
            ) from None
        if locked and isinstance(exc, PreconditionFailed):
            raise _refused(store, root_etag) from None
        raise
    for kind in DELETE_ORDER:
        keys = [s.action.key for s in steps if s.action.op is Op.DELETE and s.action.kind is kind]
        if keys:
            store.delete(keys)


def _root_is(store: Store, etag: str | None) -> bool:
    """Whether the root still has the etag the server gave it when read (None: still missing)."""
    info = store.head(index.ROOT_KEY)
    return etag is None if info is None else info.etag == etag


def _refused(store: Store, etag: str | None) -> RootRefused:
    condition = "If-None-Match: *" if etag is None else f"If-Match: {etag}"
    return RootRefused(
        f"{store.description}: the server refused the conditional write of index.json "
        f"({condition}) although no other run had changed it: its conditional-write handling "
        "is broken (the probe passed, so it is inconsistent, or a proxy alters the request "
        "or the ETags). The index pages and index.html were restored, index.json is unchanged; the "
        "builds' files and manifests are in place. Check what sits between artreg and the "
        "bucket, then re-run"
    )
