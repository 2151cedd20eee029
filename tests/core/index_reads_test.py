"""Reads of an index update: only the pages it changes, located from the root's ``starts``.

``edit_outline`` is given what ``index.json`` says (page ids and starts, count,
newest) and a loader that counts the pages it is asked for. Its results are
compared with the whole-page-set algorithm as it was before ``starts``
existed (kept below, verbatim, as the reference): same pages, same ids, same
writes and deletes.
"""

from __future__ import annotations

import bisect
import copy
import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from artreg.core import index
from artreg.core.index import (
    DEFAULT_PAGE_SIZE,
    FIRST_PAGE_ID,
    Entry,
    EntryFile,
    InvalidIndex,
    LoadedEdit,
    LoadedPages,
    Page,
    PageOutline,
    ParsedPage,
    SortKey,
    dumps,
    edit_loaded,
    edit_outline,
    pack,
    page_documents,
    parse_category,
    parse_root,
    root_document,
    sort_entries,
)
from artreg.core.index.paging import _check_entries, _check_page_size
from artreg.core.tags import Category

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
SIZE = 1000


def make_entry(tag: str, category: Category = Category.DEV, seconds: int = 0) -> Entry:
    key = f"{tag.replace('+', '_')}/linux/amd64/app"
    return Entry(
        tag=tag,
        category=category,
        published=T0 + dt.timedelta(seconds=seconds),
        commit=None,
        files=(
            EntryFile(
                "linux/amd64", "app", key, len(tag), hashlib.sha256(key.encode()).hexdigest()
            ),
        ),
    )


def dev_entries(count: int, start: int = 0) -> list[Entry]:
    return [make_entry(f"{n:040x}", seconds=n) for n in range(start, start + count)]


def release_entries(count: int) -> list[Entry]:
    # every other patch left free for backports
    return [
        make_entry(f"v1.{n // 1000}.{(n % 1000) * 2}", Category.RELEASE, seconds=n)
        for n in range(count)
    ]


def etags_for(entries: Iterable[Entry]) -> dict[str, str]:
    return {e.tag: hashlib.md5(e.tag.encode()).hexdigest() for e in entries}


# --- the algorithm before `starts` (reference) ---------------------------------------------------


class _OldWork:
    """Mutable pages while an update is applied; every page is kept non-empty and sorted."""

    def __init__(self, pageset: LoadedPages) -> None:
        self.ids = [page.id for page in pageset.pages]
        self.pages = [list(page.entries) for page in pageset.pages]
        self.new_id = max(self.ids, default=FIRST_PAGE_ID - 1) + 1

    def _allocate(self) -> int:
        page_id = self.new_id
        self.new_id += 1
        return page_id

    def locate(self, key: SortKey) -> int:
        """Index of the page whose range covers ``key`` (the first page if before all)."""
        position = bisect.bisect_right(self.pages, key, key=lambda page: page[0].sort_key)
        return max(position - 1, 0)

    def find(self, entry: Entry) -> tuple[int, int]:
        k = self.locate(entry.sort_key)
        page = self.pages[k]
        p = bisect.bisect_left(page, entry.sort_key, key=lambda e: e.sort_key)
        if p >= len(page) or page[p].tag != entry.tag:
            raise AssertionError(f"{entry.tag} is not where its sort key says")  # pragma: no cover
        return k, p

    def remove(self, entry: Entry) -> None:
        k, p = self.find(entry)
        del self.pages[k][p]
        if not self.pages[k]:
            del self.pages[k]
            del self.ids[k]

    def replace(self, old: Entry, new: Entry) -> None:
        k, p = self.find(old)
        self.pages[k][p] = new

    def insert(self, entry: Entry, page_size: int) -> None:
        if not self.pages:
            self.pages.append([entry])
            self.ids.append(self._allocate())
            return
        k = self.locate(entry.sort_key)
        page = self.pages[k]
        p = bisect.bisect_left(page, entry.sort_key, key=lambda e: e.sort_key)
        if len(page) < page_size:
            page.insert(p, entry)
        elif p == 0:
            # Before everything (only the first page can be here): a new first
            # page, the full page stays byte-identical. New builds (dev, extra)
            # and new releases all arrive here.
            self.pages.insert(k, [entry])
            self.ids.insert(k, self._allocate())
        elif p == len(page):
            if k + 1 < len(self.pages) and len(self.pages[k + 1]) < page_size:
                # Between two pages: the next one has room at its front.
                self.pages[k + 1].insert(0, entry)
            else:
                self.pages.insert(k + 1, [entry])
                self.ids.insert(k + 1, self._allocate())
        else:
            # In the middle of a full page: split it in halves, the second
            # half under a new id.
            page.insert(p, entry)
            middle = len(page) // 2
            self.pages[k] = page[:middle]
            self.pages.insert(k + 1, page[middle:])
            self.ids.insert(k + 1, self._allocate())

    def pageset(self, category: Category) -> LoadedPages:
        pages = tuple(
            Page(id=page_id, entries=tuple(entries))
            for page_id, entries in zip(self.ids, self.pages, strict=True)
        )
        return LoadedPages(category=category, pages=pages)


def old_update(
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
    _check_page_size(page_size)
    category = previous.category
    removed_tags = set(removed)
    adds = _check_entries(category, added)
    existing = {entry.tag: entry for entry in previous.entries()}

    work = _OldWork(previous)
    for tag in sorted(removed_tags):
        if tag in existing:
            work.remove(existing[tag])
    inserts: list[Entry] = []
    for tag, entry in adds.items():
        if tag in removed_tags:
            continue
        old = existing.get(tag)
        if old is None:
            inserts.append(entry)
        elif old == entry:
            continue
        elif old.sort_key == entry.sort_key:
            work.replace(old, entry)
        else:
            work.remove(old)
            inserts.append(entry)
    for entry in sort_entries(inserts):
        work.insert(entry, page_size)

    result = work.pageset(category)
    old_pages = {page.id: page for page in previous.pages}
    old_next = index.next_ids(previous.ids)
    new_next = index.next_ids(result.ids)
    changed = [
        page.id
        for page in result.pages
        if page.id not in old_pages
        or old_next[page.id] != new_next[page.id]
        or old_pages[page.id].entries != page.entries
    ]
    changed.reverse()  # a page is written before the page that links to it
    new_ids = set(result.ids)
    deleted = tuple(page_id for page_id in previous.ids if page_id not in new_ids)
    return LoadedEdit(loaded=result, changed=tuple(changed), deleted=deleted)


# --- helpers -----------------------------------------------------------------------------------


class Loader:
    """Serves the pages of ``pageset`` by id and records every page asked for."""

    def __init__(self, pageset: LoadedPages) -> None:
        self.category = pageset.category
        self.pages = {page.id: page for page in pageset.pages}
        self.next_ids = index.next_ids(pageset.ids)
        self.loads: list[int] = []

    def __call__(self, page_id: int) -> ParsedPage:
        self.loads.append(page_id)
        return ParsedPage(self.category, self.pages[page_id], self.next_ids[page_id])


def root_list(pageset: LoadedPages, newest: int = index.DEFAULT_NEWEST) -> PageOutline:
    """What a writer knows from index.json alone (through the document, as stored)."""
    body = dumps(
        root_document(
            [pageset],
            project="p",
            generated=NOW,
            etags=etags_for(pageset.entries()),
            page_size=SIZE,
            newest=newest,
        )
    )
    listed = parse_root(json.loads(body)).category(pageset.category).outline()
    assert listed is not None
    return listed


def assembled(before: LoadedPages, result: index.OutlineEdit) -> LoadedPages:
    """The whole page set after a partial update: pages held, the rest as they were."""
    old = {page.id: page for page in before.pages}
    pages = tuple(result.held.get(i) or old[i] for i in result.outline.ids)
    return LoadedPages(before.category, pages)


def partial(
    before: LoadedPages,
    added: Sequence[Entry],
    removed: Iterable[str],
    *,
    page_size: int = SIZE,
    known: Mapping[str, Entry] | None = None,
    newest: int = index.DEFAULT_NEWEST,
    listed: PageOutline | None = None,
) -> tuple[index.OutlineEdit, list[int]]:
    """``edit_outline`` from the root alone; checked against the reference; (result, loads)."""
    removed = set(removed)
    loader = Loader(before)
    result = edit_outline(
        listed or root_list(before, newest),
        loader,
        added,
        removed,
        page_size,
        indexed={e.tag for e in before.entries()},
        known=known,
        newest=newest,
    )
    expected = old_update(before, added, removed, page_size)
    after = assembled(before, result)
    assert after == expected.loaded
    assert result.changed == expected.changed and result.deleted == expected.deleted
    assert set(result.changed) <= set(result.held)
    # the page list is what a root written from the whole result would say
    assert result.outline == index.outline_of(expected.loaded, newest)
    assert len(loader.loads) == len(set(loader.loads)), "a page read twice"
    return result, loader.loads


@pytest.fixture(scope="module")
def dev_100k() -> LoadedPages:
    return pack(Category.DEV, dev_entries(100_000), page_size=SIZE)


@pytest.fixture(scope="module")
def releases_100k() -> LoadedPages:
    return pack(Category.RELEASE, release_entries(100_000), page_size=SIZE)


# --- reads at scale: 100,000 entries, pages of 1000 ----------------------------------------------


def test_new_dev_build_reads_one_page(dev_100k: LoadedPages) -> None:
    new = make_entry("f" * 40, seconds=200_000)
    result, loads = partial(dev_100k, [new], [])
    # the first page is full: read to see that, left as it is; a new first page
    assert loads == [1]
    assert result.changed == (101,)
    # the next build goes to the new first page: it alone is read
    after = assembled(dev_100k, result)
    second, loads = partial(after, [make_entry("e" * 40, seconds=200_001)], [])
    assert loads == [101] and second.changed == (101,)


def test_new_release_and_backports_read_at_most_two_pages(releases_100k: LoadedPages) -> None:
    top, loads = partial(releases_100k, [make_entry("v2.0.0", Category.RELEASE)], [])
    assert loads == [1] and len(top.changed) == 1
    # in the middle of a full page: it splits, nothing else is read
    middle = make_entry("v1.50.501", Category.RELEASE)
    split, loads = partial(releases_100k, [middle], [])
    assert len(loads) == 1 and len(split.changed) == 2
    # after the last entry of page 1 (v1.99.0) and before page 2 (v1.98.1998): page 2 is
    # read to see whether it has room (it has not: a new page after page 1)
    edge, loads = partial(releases_100k, [make_entry("v1.98.1999", Category.RELEASE)], [])
    assert loads == [1, 2] and len(edge.changed) == 2


def test_republish_reads_the_pages_it_leaves_and_enters(dev_100k: LoadedPages) -> None:
    entries = dev_100k.entries()
    newest = entries[3]  # in the root's newest: found without a search
    moved, loads = partial(dev_100k, [make_entry(newest.tag, seconds=300_000)], [])
    assert loads == [1] and moved.changed == (1,)

    old = entries[50_500]  # on page 51: found from a known entry (retention's, say)
    again = make_entry(old.tag, seconds=300_000)
    result, loads = partial(dev_100k, [again], [], known={old.tag: old})
    assert sorted(loads) == [1, 51] and len(result.changed) == 2

    # unknown: searched from the newest page on, until found (a release needs no search)
    result, loads = partial(dev_100k, [again], [])
    assert loads == list(range(1, 52))

    # same tag, same time, other files: replaced in place
    in_place = Entry(old.tag, old.category, old.published, old.commit, ())
    result, loads = partial(dev_100k, [in_place], [], known={old.tag: old})
    assert loads == [51] and result.changed == (51,)


def test_an_entry_in_the_roots_newest_is_found_without_a_search() -> None:
    small = pack(Category.DEV, dev_entries(100), page_size=3)
    old = small.entries()[8]  # the 9th newest: on page 3
    in_place = Entry(old.tag, old.category, old.published, old.commit, ())
    result, loads = partial(small, [in_place], [], page_size=3)
    assert loads == [3] and result.changed == (3,)
    assert result.outline.newest[8] == in_place


def test_identical_release_republish_reads_one_page_writes_none(releases_100k: LoadedPages) -> None:
    same = releases_100k.pages[40].entries[7]
    result, loads = partial(releases_100k, [same], [])
    assert loads == [releases_100k.pages[40].id] and result.changed == () == result.deleted


def test_expiring_the_oldest_reads_their_pages_and_the_one_before(dev_100k: LoadedPages) -> None:
    entries = list(dev_100k.entries())
    grown = pack(Category.DEV, [*entries, *dev_entries(5, start=-5)], page_size=SIZE)
    oldest = grown.entries()[-10:]  # 5 on the last page (101), 5 on page 100
    known = {e.tag: e for e in oldest}
    result, loads = partial(grown, [], known, known=known)
    assert sorted(loads) == [100, 101]
    assert result.changed == (100,) and result.deleted == (101,)


def test_removing_newest_entries_reads_the_first_page_for_newest(dev_100k: LoadedPages) -> None:
    first = dev_100k.entries()[:3]
    result, loads = partial(dev_100k, [], {e.tag for e in first})
    assert loads == [1]
    assert result.outline.newest == dev_100k.entries()[3:13]


# --- the same result as before, any input ---------------------------------------------------------

TAG_POOL = [f"{n:040x}" for n in range(20)]


@st.composite
def dev_sets(draw: st.DrawFn) -> list[Entry]:
    chosen = draw(st.lists(st.sampled_from(TAG_POOL), unique=True))
    return [make_entry(t, seconds=draw(st.integers(0, 6))) for t in chosen]


@st.composite
def release_sets(draw: st.DrawFn) -> list[Entry]:
    versions = draw(
        st.lists(st.tuples(st.integers(0, 2), st.integers(0, 5), st.integers(0, 3)), unique=True)
    )
    return [make_entry(f"v{a}.{b}.{c}", Category.RELEASE) for a, b, c in versions]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([dev_sets(), release_sets()]).flatmap(lambda s: st.tuples(s, s)),
    st.data(),
    st.integers(1, 5),
    st.integers(0, 4),
)
def test_partial_update_equals_the_previous_algorithm(
    sets: tuple[list[Entry], list[Entry]], data: st.DataObject, page_size: int, newest: int
) -> None:
    before, added = sets
    pool = sorted({e.tag for e in before} | {e.tag for e in added} | {"v9.9.9", "f" * 40})
    removed = data.draw(st.sets(st.sampled_from(pool)))
    previous = pack(added[0].category if added else Category.DEV, [], page_size)
    if before:
        previous = pack(before[0].category, before, page_size)
        # pages as a history of updates leaves them (not packed full)
        half = before[: len(before) // 2]
        staged = edit_loaded(
            pack(previous.category, half, page_size), before[len(half) :], (), page_size
        )
        previous = staged.loaded if data.draw(st.booleans()) else previous
    if added and previous.category is not added[0].category:
        return
    by_tag = {e.tag: e for e in previous.entries()}
    known = {t: by_tag[t] for t in data.draw(st.sets(st.sampled_from(pool))) if t in by_tag}
    listed = (
        root_list(previous, newest) if previous.pages else PageOutline(previous.category, (), 0, ())
    )
    partial(
        previous, added, removed, page_size=page_size, known=known, newest=newest, listed=listed
    )


# --- the root's starts ----------------------------------------------------------------------------


def small_root() -> tuple[LoadedPages, dict[str, Any]]:
    pageset = pack(Category.DEV, dev_entries(7), page_size=3)
    doc = root_document(
        [pageset], project="p", generated=NOW, etags=etags_for(pageset.entries()), page_size=3
    )
    return pageset, json.loads(dumps(doc))


def test_root_lists_where_each_page_starts() -> None:
    pageset, doc = small_root()
    starts = doc["categories"]["dev"]["starts"]
    assert starts == [
        {"tag": p.entries[0].tag, "published": p.entries[0].to_json()["published"]}
        for p in pageset.pages
    ]
    assert doc["categories"]["release"]["starts"] == []


def test_a_root_without_starts_is_invalid() -> None:
    _, doc = small_root()
    del doc["categories"]["dev"]["starts"]
    with pytest.raises(InvalidIndex, match=r"index\.json: .*categories\.dev\.starts: missing"):
        parse_root(doc)


def _set(path: Sequence[str | int], value: Any) -> Any:
    def apply(doc: dict[str, Any]) -> dict[str, Any]:
        target: Any = doc
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value
        return doc

    return apply


BAD_STARTS = {
    "not a list": _set(["categories", "dev", "starts"], {}),
    "one short": lambda d: d["categories"]["dev"]["starts"].pop() and d,
    "not an object": _set(["categories", "dev", "starts", 1], "x"),
    "no tag": lambda d: d["categories"]["dev"]["starts"][1].pop("tag") and d,
    "bad time": _set(["categories", "dev", "starts", 1, "published"], "soon"),
    "out of order": lambda d: d["categories"]["dev"]["starts"].reverse() or d,
    "first is not the newest": _set(["categories", "dev", "starts", 0, "tag"], "e" * 40),
}


@pytest.mark.parametrize("mutation", BAD_STARTS.values(), ids=BAD_STARTS.keys())
def test_malformed_starts_make_an_invalid_root(mutation: Any) -> None:
    _, doc = small_root()
    parse_root(doc)
    with pytest.raises(InvalidIndex, match=r"^index\.json: not a valid.*starts"):
        parse_root(mutation(copy.deepcopy(doc)))


def test_pages_that_disagree_with_the_starts_are_not_trusted() -> None:
    pageset, doc = small_root()
    # page 2 starts one entry later than the root says
    second = pageset.pages[1].entries[1]
    doc["categories"]["dev"]["starts"][1] = {
        "tag": second.tag,
        "published": second.to_json()["published"],
    }
    root = parse_root(doc)
    docs = {i: json.loads(dumps(d)) for i, d in page_documents(pageset).items()}
    with pytest.raises(InvalidIndex, match="starts with"):
        parse_category(root, Category.DEV, docs)
    listed = root.category(Category.DEV).outline()
    assert listed is not None
    # a build that falls on page 2: reading it shows the disagreement
    target = pageset.pages[1].entries[2]
    again = make_entry(target.tag, seconds=1000)
    with pytest.raises(InvalidIndex, match=r"_artreg/index/dev/2\.json.*starts with"):
        edit_outline(
            listed,
            Loader(pageset),
            [again],
            (),
            3,
            indexed={target.tag},
            known={target.tag: target},
        )


def test_root_document_needs_a_fingerprint_for_a_page_list() -> None:
    pageset, _ = small_root()
    listed = index.outline_of(pageset)
    with pytest.raises(ValueError, match="no fingerprint"):
        root_document([listed], project="p", generated=NOW, etags={})
    whole = root_document(
        [pageset], project="p", generated=NOW, etags=etags_for(pageset.entries()), page_size=3
    )
    digest = whole["categories"]["dev"]["fingerprint"]
    from_list = root_document(
        [listed],
        project="p",
        generated=NOW,
        etags={},
        page_size=3,
        fingerprints={Category.DEV: digest},
    )
    assert from_list == whole


# --- pages written ahead of the root --------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([dev_sets(), release_sets()]).flatmap(lambda s: st.tuples(s, s, s)),
    st.data(),
    st.integers(1, 5),
)
def test_pages_written_ahead_of_the_root_hold_each_build_once(
    sets: tuple[list[Entry], list[Entry], list[Entry]], data: st.DataObject, page_size: int
) -> None:
    """A run wrote some of its pages, not the root (killed, or its lease taken over).

    That run again (or the round after), planning from that root with the pages as stored,
    adds its builds again, and maybe others. Either it refuses the pages (InvalidIndex:
    rebuild from the manifests) or the pages it leaves, held or stored, list every build
    once, in order, linked as the new root says.
    """
    before, first, second = sets
    second = [e for e in second if e.tag not in {f.tag for f in first}]  # its own builds
    category = (before or first or second or [make_entry("f" * 40)])[0].category
    if any(e.category is not category for e in [*first, *second]):
        return
    previous = pack(category, before, page_size)
    ahead = edit_loaded(previous, first, (), page_size)
    written = data.draw(st.sets(st.sampled_from(sorted(ahead.changed or [0]))))
    stored = {page.id: page for page in previous.pages}
    links = index.next_ids(previous.ids)
    ahead_links = index.next_ids(ahead.loaded.ids)
    for page in ahead.loaded.pages:
        if page.id in written:
            stored[page.id] = page
            links[page.id] = ahead_links[page.id]

    def load(page_id: int) -> ParsedPage:
        return ParsedPage(category, stored[page_id], links[page_id])

    wanted = {e.tag: e for e in [*before, *first, *second]}
    added = list({e.tag: e for e in [*first, *second]}.values())
    listed = root_list(previous) if previous.pages else PageOutline(category, (), 0, ())
    try:
        result = edit_outline(
            listed, load, added, (), page_size, indexed={e.tag for e in before}, newest=None
        )
    except InvalidIndex:
        return
    new_links = index.next_ids(result.outline.ids)
    pages = []
    for page_id in result.outline.ids:
        if page_id in result.held:
            pages.append(result.held[page_id])
        else:
            assert links[page_id] == new_links[page_id], "a page left linking the wrong one"
            pages.append(stored[page_id])
    entries = [e for page in pages for e in page.entries]
    assert entries == sort_entries(wanted.values())
    assert result.outline.count == len(entries)


def test_a_page_ahead_of_the_root_is_refused_unless_it_lists_what_is_being_added() -> None:
    """The stored page lists a build as a killed run published it. This run has it
    published at another time (inserting would list the tag twice), or adds another
    build there (the page is not what the root describes): both refused."""
    before = dev_entries(3)
    previous = pack(Category.DEV, before, page_size=5)
    stored = edit_loaded(previous, [make_entry("f" * 40, seconds=1)], (), 5).loaded
    loader = Loader(stored)
    again = make_entry("f" * 40, seconds=0)
    with pytest.raises(InvalidIndex, match=r"lists 'f{40}', which index.json does not index"):
        edit_outline(root_list(previous), loader, [again], (), 5, indexed={e.tag for e in before})
    # Another run's build, landing on that page: the page is not the root's (rebuild).
    other = make_entry("e" * 40, seconds=1)
    with pytest.raises(InvalidIndex, match=r"lists 'f{40}', which index.json does not index"):
        edit_outline(root_list(previous), loader, [other], (), 5, indexed={e.tag for e in before})
    # The same build as the page lists it: held once.
    same = make_entry("f" * 40, seconds=1)
    result = edit_outline(
        root_list(previous), loader, [same], (), 5, indexed={e.tag for e in before}
    )
    assert result.outline.count == 4
    assert [e.tag for e in result.held[FIRST_PAGE_ID].entries].count("f" * 40) == 1
