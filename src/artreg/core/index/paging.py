"""Page assignment: which entries go on which page, and which pages a change rewrites.

Pure. Pages form a linked list per category (a B+tree leaf level without the
inner nodes). Assignment is *stable*: publishing one build rewrites at most two
pages, expiring old builds rewrites only the pages that held them (and the page
before a page that becomes empty), so the cost of a publish does not grow with
the number of builds. :func:`edit_outline` reads only the pages it changes;
:func:`edit_loaded` is the same on a category whose pages are all read.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Callable, Container, Iterable, Mapping
from typing import NamedTuple

from artreg.core.index.model import (
    DEFAULT_NEWEST,
    DEFAULT_PAGE_SIZE,
    FIRST_PAGE_ID,
    ROOT_KEY,
    Entry,
    LoadedPages,
    Page,
    PageOutline,
    PageRef,
    SortKey,
    invalid,
    next_ids,
    order_key,
    outline_of,
    page_key,
    sort_entries,
)
from artreg.core.index.parsing import ParsedPage, check_page
from artreg.core.tags import PUBLISHED_CATEGORIES, Category

PageLoader = Callable[[int], ParsedPage]


class LoadedEdit(NamedTuple):
    """The result of :func:`edit_loaded`: the category's pages afterwards, all of them.

    ``changed``: ids of the pages to write, in a safe order (a page is listed
    before any page that links to it), ``deleted``: ids of the pages to delete
    after the root index has been written.
    """

    loaded: LoadedPages
    changed: tuple[int, ...]
    deleted: tuple[int, ...]


class OutlineEdit(NamedTuple):
    """The result of :func:`edit_outline`.

    ``outline``: the category's outline afterwards; ``held``: every page the
    update read or wrote, by id, as it is afterwards (each ``changed`` page is
    there); ``changed`` and ``deleted`` as in :class:`LoadedEdit`.
    """

    outline: PageOutline
    held: dict[int, Page]
    changed: tuple[int, ...]
    deleted: tuple[int, ...]


def _check_page_size(page_size: int) -> None:
    if page_size < 1:
        raise ValueError(f"page_size must be >= 1, got {page_size}")


def _check_entries(category: Category, entries: Iterable[Entry]) -> dict[str, Entry]:
    by_tag: dict[str, Entry] = {}
    for entry in entries:
        if entry.category is not category:
            raise ValueError(f"{entry.tag}: a {entry.category} entry in the {category} pages")
        if entry.tag in by_tag:
            raise ValueError(f"{entry.tag}: given twice")
        by_tag[entry.tag] = entry
    return by_tag


def pack(
    category: Category, entries: Iterable[Entry], page_size: int = DEFAULT_PAGE_SIZE
) -> LoadedPages:
    """Fresh pages for ``entries``: full pages of ``page_size``, the last one holding the rest.

    Used when there is no usable previous index. Pages start full because the
    common insertions (a new build at the front, a backport in the middle)
    are absorbed by :func:`update`'s edge rules without splitting a full page
    in the middle more than once per ``page_size / 2`` insertions.
    """
    _check_page_size(page_size)
    ordered = sort_entries(_check_entries(category, entries).values())
    pages = tuple(
        Page(id=FIRST_PAGE_ID + n, entries=tuple(ordered[start : start + page_size]))
        for n, start in enumerate(range(0, len(ordered), page_size))
    )
    return LoadedPages(category=category, pages=pages)


def pack_all(
    entries: Iterable[Entry], page_size: int = DEFAULT_PAGE_SIZE
) -> dict[Category, LoadedPages]:
    """:func:`pack` per published category (every category present, possibly empty)."""
    grouped: dict[Category, list[Entry]] = {category: [] for category in PUBLISHED_CATEGORIES}
    for entry in entries:
        if entry.category not in grouped:
            raise ValueError(f"{entry.tag}: category {entry.category} is never indexed")
        grouped[entry.category].append(entry)
    return {category: pack(category, group, page_size) for category, group in grouped.items()}


class _Work:
    """Mutable pages while an update is applied; every page is kept non-empty and sorted.

    Pages are read through ``load`` only when an operation needs their entries
    (``None`` until then); ``starts`` holds each page's first sort key, from the
    root for pages not read, so locating a key needs no page.
    """

    def __init__(
        self,
        previous: PageOutline,
        load: PageLoader,
        indexed: Container[str],
        inserting: Mapping[str, Entry],
    ) -> None:
        self.category = previous.category
        self._load = load
        self.indexed = indexed  # the tags the root indexes
        self.inserting = inserting  # tags the root does not index, about to be inserted
        self.ids = list(previous.ids)
        self.starts = [ref.sort_key for ref in previous.refs]
        self.pages: list[list[Entry] | None] = [None] * len(self.ids)
        self.original: dict[int, Page] = {}
        self.old_refs = {ref.id: ref for ref in previous.refs}
        self.old_next = next_ids(previous.ids)
        self.new_id = max(self.ids, default=FIRST_PAGE_ID - 1) + 1

    def _allocate(self) -> int:
        page_id = self.new_id
        self.new_id += 1
        return page_id

    def page(self, k: int) -> list[Entry]:
        """The entries of the page at position ``k``, read (and checked) on first use."""
        entries = self.pages[k]
        if entries is None:
            page_id = self.ids[k]
            next_id = self.old_next[page_id]
            next_ref = None if next_id is None else self.old_refs[next_id]
            page = check_page(self.old_refs[page_id], next_ref, self._load(page_id))
            for entry in page.entries:
                # A page written ahead of the root (by a run whose root write never
                # landed) may list builds the root does not index: only the very entry
                # this edit inserts is taken as it is (insert finds it in place).
                if entry.tag in self.indexed:
                    continue
                new = self.inserting.get(entry.tag)
                if new is None or new.sort_key != entry.sort_key:
                    raise invalid(
                        page_key(self.category, page_id),
                        f"lists {entry.tag!r}, which index.json does not index",
                    )
            self.original[page_id] = page
            entries = list(page.entries)
            self.pages[k] = entries
        return entries

    def _new_page(self, k: int, entry: Entry) -> None:
        self.pages.insert(k, [entry])
        self.ids.insert(k, self._allocate())
        self.starts.insert(k, entry.sort_key)

    def locate(self, key: SortKey) -> int:
        """Index of the page whose range covers ``key`` (the first page if before all)."""
        return max(bisect.bisect_right(self.starts, key) - 1, 0)

    def find(self, tag: str, key: SortKey | None) -> tuple[int, int] | None:
        """(page, position) of ``tag``: at ``key`` when given, else searched from the front."""
        if key is not None:
            if not self.ids:
                return None
            k = self.locate(key)
            page = self.page(k)
            p = bisect.bisect_left(page, key, key=lambda e: e.sort_key)
            return (k, p) if p < len(page) and page[p].tag == tag else None
        for k in range(len(self.ids)):
            for p, entry in enumerate(self.page(k)):
                if entry.tag == tag:
                    return k, p
        return None

    def lookup(self, tag: str, hint: Entry | None) -> tuple[int, int]:
        """Where the indexed ``tag`` is; the hint's sort key first, then a search.

        A release's position follows from its tag alone; an extra or dev build
        without a (correct) hint is searched page by page from the newest.
        """
        keys: list[SortKey] = []
        if hint is not None:
            keys.append(hint.sort_key)
        if self.category is Category.RELEASE:
            keys.append(order_key(tag, self.category, _EPOCH))
        for key in keys:
            found = self.find(tag, key)
            if found is not None:
                return found
        found = self.find(tag, None)
        if found is None:
            raise invalid(ROOT_KEY, f"{self.category}: {tag!r} is indexed but on no page")
        return found

    def remove(self, k: int, p: int) -> None:
        page = self.page(k)
        del page[p]
        if page:
            self.starts[k] = page[0].sort_key
        else:
            del self.pages[k]
            del self.ids[k]
            del self.starts[k]

    def replace(self, k: int, p: int, new: Entry) -> None:
        self.page(k)[p] = new

    def insert(self, entry: Entry, page_size: int) -> None:
        if not self.ids:
            self._new_page(0, entry)
            return
        k = self.locate(entry.sort_key)
        page = self.page(k)
        p = bisect.bisect_left(page, entry.sort_key, key=lambda e: e.sort_key)
        if p < len(page) and page[p].sort_key == entry.sort_key:
            # Already there, although the root does not index it (see page): once.
            page[p] = entry
        elif len(page) < page_size:
            page.insert(p, entry)
            self.starts[k] = page[0].sort_key
        elif p == 0:
            # Before everything (only the first page can be here): a new first
            # page, the full page stays byte-identical. New builds (dev, extra)
            # and new releases all arrive here.
            self._new_page(k, entry)
        elif p == len(page):
            if k + 1 < len(self.ids) and len(self.page(k + 1)) < page_size:
                # Between two pages: the next one has room at its front.
                self.page(k + 1).insert(0, entry)
                self.starts[k + 1] = entry.sort_key
            else:
                self._new_page(k + 1, entry)
        else:
            # In the middle of a full page: split it in halves, the second
            # half under a new id.
            page.insert(p, entry)
            middle = len(page) // 2
            self.pages[k] = page[:middle]
            self.pages.insert(k + 1, page[middle:])
            self.ids.insert(k + 1, self._allocate())
            self.starts.insert(k + 1, page[middle].sort_key)

    def front(self, limit: int) -> list[Entry]:
        """The first ``limit`` entries of the order, reading pages from the front."""
        entries: list[Entry] = []
        for k in range(len(self.ids)):
            if len(entries) >= limit:
                break
            entries += self.page(k)
        return entries[:limit]


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def edit_outline(
    previous: PageOutline,
    load: PageLoader,
    added: Iterable[Entry],
    removed: Iterable[str],
    page_size: int = DEFAULT_PAGE_SIZE,
    *,
    indexed: Container[str],
    known: Mapping[str, Entry] | None = None,
    newest: int | None = DEFAULT_NEWEST,
) -> OutlineEdit:
    """:func:`edit_loaded` reading only the pages it changes, through ``load`` (page id -> page).

    ``previous`` is what the root says (page ids and starts, count, newest);
    ``indexed`` tells which tags the pages hold (every tag of ``added`` and
    ``removed`` that they hold must be in it); ``known``: the indexed entries of
    some of those tags, to find them without a search (a release is found from
    its tag; an extra or dev build not known is searched from the front). The
    pages read are checked against the root (:func:`check_page`): any
    disagreement raises :class:`InvalidIndex` (rebuild). ``newest``: how many
    leading entries the result's :attr:`PageOutline.newest` holds (None: none).

    Same decisions, pages and ids as :func:`edit_loaded` on the whole category.
    """
    _check_page_size(page_size)
    category = previous.category
    removed_tags = set(removed)
    adds = _check_entries(category, added)
    hints = {**{entry.tag: entry for entry in previous.newest}, **(known or {})}

    fresh = {t: e for t, e in adds.items() if t not in removed_tags and t not in indexed}
    work = _Work(previous, load, indexed, fresh)
    count = previous.count
    touched: set[str] = set()
    finals: list[Entry] = []
    for tag in sorted(removed_tags):
        if tag in indexed:
            work.remove(*work.lookup(tag, hints.get(tag)))
            count -= 1
            touched.add(tag)
    inserts: list[Entry] = []
    for tag, entry in adds.items():
        if tag in removed_tags:
            continue
        if tag not in indexed:
            inserts.append(entry)
            continue
        k, p = work.lookup(tag, hints.get(tag))
        old = work.page(k)[p]
        if old == entry:
            continue
        touched.add(tag)
        if old.sort_key == entry.sort_key:
            work.replace(k, p, entry)
            finals.append(entry)
        else:
            work.remove(k, p)
            count -= 1
            inserts.append(entry)
    for entry in sort_entries(inserts):
        work.insert(entry, page_size)
        count += 1
    touched |= {entry.tag for entry in inserts}
    finals += inserts

    changed, deleted = _written_pages(previous, work)
    leading: tuple[Entry, ...] = ()
    if newest is not None:
        leading = _newest(previous, work, touched, finals, newest)
    held: dict[int, Page] = {}
    refs = []
    for page_id, entries in zip(work.ids, work.pages, strict=True):
        if entries is None:
            refs.append(work.old_refs[page_id])
        else:
            held[page_id] = Page(id=page_id, entries=tuple(entries))
            refs.append(PageRef.of(page_id, entries[0]))
    after = PageOutline(category=category, refs=tuple(refs), count=count, newest=leading)
    return OutlineEdit(outline=after, held=held, changed=changed, deleted=deleted)


def _written_pages(previous: PageOutline, work: _Work) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(pages to write, in a safe order; pages to delete) once ``work`` holds the result."""
    new_next = next_ids(work.ids)
    changed: list[int] = []
    for k, page_id in enumerate(work.ids):
        if page_id not in work.old_refs:
            changed.append(page_id)
        elif work.old_next[page_id] != new_next[page_id]:
            work.page(k)  # its link changes: read it to rewrite it
            changed.append(page_id)
        else:
            entries = work.pages[k]
            if entries is not None and tuple(entries) != work.original[page_id].entries:
                changed.append(page_id)
    changed.reverse()  # a page is written before the page that links to it
    new_ids = set(work.ids)
    deleted = tuple(page_id for page_id in previous.ids if page_id not in new_ids)
    return tuple(changed), deleted


def _newest(
    previous: PageOutline, work: _Work, touched: set[str], finals: list[Entry], limit: int
) -> tuple[Entry, ...]:
    """The first ``limit`` entries after the update, from the root's newest when it can tell.

    The previous newest entries that are left, plus the entries written, are the
    true head of the order up to the last previous newest entry (everything
    after it is unknown unless the previous newest held the whole category).
    """
    kept = [entry for entry in previous.newest if entry.tag not in touched]
    candidates = sort_entries([*kept, *finals])
    if len(previous.newest) < previous.count:
        if not previous.newest:
            return tuple(work.front(limit))
        boundary = previous.newest[-1].sort_key
        candidates = [entry for entry in candidates if entry.sort_key <= boundary]
        if len(candidates) < limit:
            return tuple(work.front(limit))
    return tuple(candidates[:limit])


def edit_loaded(
    previous: LoadedPages,
    added: Iterable[Entry],
    removed: Iterable[str],
    page_size: int = DEFAULT_PAGE_SIZE,
) -> LoadedEdit:
    """Apply ``added`` (replacing entries with the same tag) and ``removed`` (tags) to pages.

    The result holds ``(previous | added) - removed`` (by tag) in index order: a tag in
    both ``added`` and ``removed`` is removed; removing an unknown tag is a
    no-op. Only pages whose document changes are reported.
    """
    by_id = {page.id: page for page in previous.pages}
    links = next_ids(previous.ids)
    existing = {entry.tag: entry for entry in previous.entries()}

    def load(page_id: int) -> ParsedPage:
        return ParsedPage(previous.category, by_id[page_id], links[page_id])

    result = edit_outline(
        outline_of(previous, newest=0),
        load,
        added,
        removed,
        page_size,
        indexed=existing,
        known=existing,
        newest=None,
    )
    pages = tuple(result.held.get(page_id) or by_id[page_id] for page_id in result.outline.ids)
    return LoadedEdit(
        loaded=LoadedPages(category=previous.category, pages=pages),
        changed=result.changed,
        deleted=result.deleted,
    )


def front_entries(
    pages: PageOutline, held: Mapping[int, Page], load: PageLoader, limit: int
) -> tuple[Entry, ...]:
    """The first ``limit`` entries of ``pages``: from ``held`` where it has the page, else read.

    Pages read are checked against ``pages`` (:func:`check_page`).
    """
    entries: list[Entry] = []
    refs = pages.refs
    for n, ref in enumerate(refs):
        if len(entries) >= limit:
            break
        page = held.get(ref.id)
        if page is None:
            page = check_page(ref, refs[n + 1] if n + 1 < len(refs) else None, load(ref.id))
        entries += page.entries
    return tuple(entries[:limit])
