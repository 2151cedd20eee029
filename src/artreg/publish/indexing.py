"""Planning the index: the pages a change touches (O(1) per build with a trusted root) or
every page of a category rebuilt, then ``index.json`` and ``index.html``."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from artreg.config import Config
from artreg.core import index
from artreg.core.index import Entry, LoadedPages, PageOutline
from artreg.core.manifest import Build
from artreg.core.plan import Action, Kind, Op
from artreg.core.tags import (
    PUBLISHED_CATEGORIES,
    Category,
)
from artreg.errors import NotFound
from artreg.publish.execute import put_step
from artreg.publish.site import read_yanks, site_of
from artreg.publish.state import (
    PageReader,
    TargetState,
    describe_reclassified,
    load_pages,
    rebuild_entries,
    trusted_root,
)
from artreg.render.site import (
    Section,
    Yanks,
    html_page_key,
    render_history_page,
    render_root_page,
)
from artreg.stores.base import Store
from artreg.stores.steps import (
    HTML_TYPE,
    JSON_TYPE,
    Step,
)

HTML_RELEASE_ROWS = 1000


HTML_OTHER_ROWS = 50


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
    sweep: bool = False,
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

    ``sweep`` (only under the lease, where no other run writes pages): a rebuilt
    category also deletes the pages that neither root links, listed under its
    prefix. A run killed after writing its root, before deleting the pages it
    unlinked, leaves them; the run after it, finding manifests the root does not
    index, rebuilds, and would otherwise delete the builds those pages list.
    """
    removed = removed if isinstance(removed, Mapping) else list(removed)
    for _ in range(len(PUBLISHED_CATEGORIES) + 1):
        found: dict[str, Category] = {}
        planner = _IndexPlanner(
            store, state, config, added, added_etags, removed, rebuild, found, sweep
        )
        plan = planner.run(now)
        if not found:
            break
        state = state.with_recorded(found)
    convention = config.convention()
    plan.notes[:0] = [
        describe_reclassified(tag, category, convention)
        for tag, category in sorted(state.recorded.items())
    ]
    return plan


class _IndexPlanner:
    """One planning pass of :func:`plan_index`: per category, edit the pages the change
    touches (trusted root) or rebuild them from the manifests; then the root."""

    def __init__(
        self,
        store: Store,
        state: TargetState,
        config: Config,
        added: Sequence[Build],
        added_etags: Mapping[str, str],
        removed: Iterable[str] | Mapping[str, Entry],
        rebuild: bool,
        found: dict[str, Category],
        sweep: bool,
    ) -> None:
        self.store, self.state, self.config = store, state, config
        self.added, self.added_etags, self.rebuild, self.found = added, added_etags, rebuild, found
        self.sweep = sweep  # see plan_index
        self.plan = IndexPlan()
        self.page_size = config.index.page_size
        self.yanks = Yanks(read_yanks(store))
        self.removed_tags = set(removed)
        self.removed_entries: Mapping[str, Entry] = removed if isinstance(removed, Mapping) else {}
        self.root = state.root
        self.new_pagesets: dict[Category, LoadedPages | PageOutline] = {}
        self.fingerprints: dict[Category, str] = {}
        self.html_rows: dict[Category, Sequence[Entry]] = {}
        self.etags_after: dict[str, str] = {}
        self.page_writes: list[tuple[Category, int, dict[str, Any]]] = []
        self.page_deletes: list[str] = []

    def trusted(self, category: Category) -> bool:
        return (
            not self.rebuild
            and self.root is not None
            and trusted_root(self.state, category, self.page_size)
        )

    def run(self, now: dt.datetime) -> IndexPlan:
        state, plan, root = self.state, self.plan, self.root
        if root is not None and root.page_size != self.page_size:
            plan.notes.append(
                f"index page size changed ({root.page_size} -> {self.page_size}): rebuilding"
            )
            self.root = None
        elif root is None and state.root_problem and state.root_doc is not None:
            plan.notes.append(f"{state.root_problem}: rebuilding the index")
        changing = {b.category for b in self.added} | {
            state.categories[tag] for tag in self.removed_tags if tag in state.categories
        }
        trusted_everywhere = all(map(self.trusted, PUBLISHED_CATEGORIES))
        if not changing and state.root_doc is not None and trusted_everywhere:
            _ensure_html(self.store, plan)
            return plan
        for category in PUBLISHED_CATEGORIES:
            self._category(category)
        if not self.new_pagesets and state.root_doc is not None:
            _ensure_html(self.store, plan)
            return plan
        self._page_steps()
        self._root_steps(now)
        return plan

    def _category(self, category: Category) -> None:
        before = self.state.etags(category)
        adds = [b for b in self.added if b.category is category]
        # A build published again under another category leaves its old one.
        gone = {tag for tag in self.removed_tags if tag in before}
        gone |= {b.tag for b in self.added if b.tag in before and b.category is not category}
        after = {tag: etag for tag, etag in before.items() if tag not in gone}
        after.update({b.tag: self.added_etags[b.tag] for b in adds})
        self.etags_after.update(after)
        limit = HTML_RELEASE_ROWS if category is Category.RELEASE else HTML_OTHER_ROWS
        entries = [index.entry_from_build(b) for b in adds]
        if self.root is not None and self.trusted(category):
            if not (adds or gone):
                if self._keep(category, limit):
                    return
            elif self._edit(category, entries, gone, before, after, limit):
                return
        self._rebuild(category, entries, gone | {b.tag for b in adds}, bool(before), limit)

    def _keep(self, category: Category, limit: int) -> bool:
        """An unchanged category: its first pages, for index.html."""
        assert self.root is not None
        try:
            pages = load_pages(self.store, self.root, category, limit, self.plan.previous)
        except (index.InvalidIndex, NotFound) as exc:
            self.plan.notes.append(f"{category} pages unreadable ({_why(exc)}): rebuilding")
            return False
        self.html_rows[category] = pages.entries()
        return True

    def _edit(
        self,
        category: Category,
        entries: list[Entry],
        gone: set[str],
        before: Mapping[str, str],
        after: Mapping[str, str],
        limit: int,
    ) -> bool:
        """Only the pages the change touches (and those index.html shows)."""
        assert self.root is not None
        reader = PageReader(self.store, category, self.plan.previous)
        known = {t: e for t, e in self.removed_entries.items() if t in gone and t not in after}
        try:
            result = index.edit_outline(
                self.root.category(category).outline(),
                reader,
                entries,
                gone,
                self.page_size,
                indexed=before,
                known=known,
                newest=self.config.index.newest,
            )
            rows = index.front_entries(result.outline, result.held, reader, limit)
        except (index.InvalidIndex, NotFound) as exc:
            self.plan.notes.append(f"{category} pages unreadable ({_why(exc)}): rebuilding")
            return False
        self.new_pagesets[category] = result.outline
        self.fingerprints[category] = index.fingerprint(after.items())
        self.html_rows[category] = rows
        links = index.next_ids(result.outline.ids)
        for page_id in result.changed:
            document = index.page_document(category, result.held[page_id], links[page_id])
            self.page_writes.append((category, page_id, document))
        self.page_deletes += [index.page_key(category, pid) for pid in result.deleted]
        return True

    def _rebuild(
        self, category: Category, entries: list[Entry], skip: set[str], listed: bool, limit: int
    ) -> None:
        """Every page of the category packed afresh from the manifests."""
        state, plan, root = self.state, self.plan, self.root
        if state.root_doc is not None or listed:
            plan.rebuilt.append(category)
        kept = rebuild_entries(
            self.store, state, category, skip, plan.notes, self.found, plan.left_out
        )
        pageset = index.pack(category, kept + entries, self.page_size)
        old_ids = root.category(category).page_ids if root is not None else ()
        stale = set(old_ids) | (self._unlinked(category) if self.sweep else set())
        # Those the old root links are deleted along its chain; the others newest id first,
        # as a category's chain mostly runs (a new first page takes the next id).
        stale -= set(pageset.ids)
        self.page_deletes += [index.page_key(category, p) for p in sorted(stale, reverse=True)]
        self.new_pagesets[category] = pageset
        documents = index.page_documents(pageset)
        ids = tuple(reversed(pageset.ids))
        self.page_writes += [(category, page_id, documents[page_id]) for page_id in ids]
        self.html_rows[category] = pageset.entries()[:limit]

    def _page_steps(self) -> None:
        """Each page written, with its HTML twin (same id, same entries)."""
        existing: set[str] = set()
        if self.root is not None:
            for category in PUBLISHED_CATEGORIES:
                existing |= {
                    index.page_key(category, pid) for pid in self.root.category(category).page_ids
                }
        for category, page_id, document in self.page_writes:
            key = index.page_key(category, page_id)
            op = Op.REPLACE if key in existing else Op.CREATE
            body = index.dumps(document)
            self.plan.steps.append(
                put_step(op, Kind.PAGE, key, body, JSON_TYPE, f"{category} index page")
            )
            twin = self._twin(category, page_id, document, key)
            html_key = html_page_key(category, page_id)
            old = self.plan.previous.get(key)
            if op is Op.REPLACE and old is not None:
                # what a failed write puts back: the twin of the page as it was read
                with contextlib.suppress(index.InvalidIndex):  # damaged: not put back
                    was = index.loads(old, key)
                    self.plan.previous[html_key] = self._twin(category, page_id, was, key).encode()
            reason = f"{category} index page (HTML)"
            self.plan.steps.append(
                put_step(op, Kind.PAGE, html_key, twin.encode(), HTML_TYPE, reason)
            )

    def _twin(self, category: Category, page_id: int, document: Any, key: str) -> str:
        """The HTML page of an index page document (same id, same entries)."""
        page = index.parse_page(document, key).page
        return render_history_page(
            site_of(self.config),
            category,
            page_id,
            page.entries,
            document_next(document),
            yanks=self.yanks,
        )

    def _root_steps(self, now: dt.datetime) -> None:
        """The root (unless its content is unchanged), index.html, then page deletes."""
        state, config, plan = self.state, self.config, self.plan
        added_tags = {b.tag for b in self.added}
        root_doc = index.root_document(
            self.new_pagesets.values(),
            project=config.project,
            generated=now,
            etags=self.etags_after,
            page_size=self.page_size,
            newest=config.index.newest,
            fingerprints=self.fingerprints,
            reclassified={
                tag: category
                for tag, category in state.recorded.items()
                if tag in self.etags_after and tag not in added_tags
            },
        )
        if state.root_doc is not None and self.root is not None:
            for category in PUBLISHED_CATEGORIES:
                if category not in self.new_pagesets:
                    root_doc["categories"][category.value] = state.root_doc["categories"][
                        category.value
                    ]
            if index.same_content(state.root_doc, root_doc) and not self.rebuild:
                _ensure_html(self.store, plan)
                self._delete_steps()  # pages swept (see plan_index); none are linked
                return
        op = Op.REPLACE if state.root_doc is not None else Op.CREATE
        root_body = index.dumps(root_doc)
        plan.steps.append(
            put_step(op, Kind.ROOT, index.ROOT_KEY, root_body, JSON_TYPE, "root index")
        )
        html = _render_html(config, root_doc, self.html_rows, now, self.yanks)
        plan.steps.append(put_step(op, Kind.HTML, index.HTML_KEY, html, HTML_TYPE, "index.html"))
        self._delete_steps()

    def _delete_steps(self) -> None:
        for key in self._page_delete_keys():
            action = Action(Op.DELETE, Kind.PAGE, key, 0, "index page no longer linked")
            self.plan.steps.append(Step(action))

    def _unlinked(self, category: Category) -> set[int]:
        """The ids of the category's pages as listed (one LIST): every key that is exactly
        the JSON page or HTML twin of some id; nothing else under the prefix counts."""
        prefix = f"{index.INDEX_PREFIX}{category.value}/"
        ids = set()
        for info in self.store.list(prefix):
            stem = info.key.removeprefix(prefix).partition(".")[0]
            if not (stem.isascii() and stem.isdigit() and len(stem) <= 12):
                continue
            page_id = int(stem)
            if info.key in (index.page_key(category, page_id), html_page_key(category, page_id)):
                ids.add(page_id)
        return ids

    def _page_delete_keys(self) -> list[str]:
        """Pages no longer linked, in the order their old chain ran, each twin before its page.

        Whatever prefix of these deletes a killed run carries out, what is left of them
        is the tail of the old chain, whose pages (and twins) link only forward, to pages
        still there: no page links to a missing one.
        """
        rank: dict[str, int] = {}
        if self.root is not None:
            for category in PUBLISHED_CATEGORIES:
                for page_id in self.root.category(category).page_ids:
                    rank.setdefault(index.page_key(category, page_id), len(rank))
        keys = sorted(self.page_deletes, key=lambda key: rank.get(key, len(rank)))
        return [twin for key in keys for twin in (key.removesuffix(".json") + ".html", key)]


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
