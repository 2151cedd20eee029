"""The static index: pages per category and a small root, derived from build manifests.

Pure: no I/O, no clock (``generated`` is passed in), no store. The layout, the
ordering and the page-assignment rules are specified in ``docs/spec.md``.

Pages form a linked list per category (a B+tree leaf level without the inner
nodes). Assignment is *stable*: publishing one build rewrites at most two pages,
expiring old builds rewrites only the pages that held them (and the page before
a page that becomes empty), so the cost of a publish does not grow with the
number of builds.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from artreg.core import jsondoc
from artreg.core.checksums import sums_key
from artreg.core.keys import download_url, file_problem, image_problem
from artreg.core.manifest import ARTREG_DIR, MAX_SIZE, Build, format_time
from artreg.core.tags import (
    MAX_TAG_LENGTH,
    PUBLISHED_CATEGORIES,
    Category,
    encode_tag,
    unsafe_reason,
)
from artreg.errors import ArtregError

INDEX_SCHEMA_VERSION = 1
ROOT_KIND = "artreg.index"
PAGE_KIND = "artreg.index.page"
INDEX_PREFIX = f"{ARTREG_DIR}/index/"
ROOT_KEY = "index.json"
HTML_KEY = "index.html"
DEFAULT_PAGE_SIZE = 1000
DEFAULT_NEWEST = 10
# From a page at _artreg/index/<category>/<id>.json back to the target root.
PAGE_TO_ROOT = "../../../"
FIRST_PAGE_ID = 1
# A page of 10,000 builds of 100 files each is about 300 MB; the cap bounds a planted document.
MAX_INDEX_BYTES = 512 * 1024 * 1024

# Page ids grow by one per page ever made: 15 digits are never reached.
MAX_PAGE_ID = 10**15 - 1
_PAGE_ID = r"([1-9][0-9]{0,14})"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_FINGERPRINT = re.compile(r"sha256:[0-9a-f]{64}")
# A release tag is <prefix>MAJOR.MINOR.PATCH with no pre-release and no build
# metadata, so its whole semver precedence is the trailing three numbers.
_RELEASE_VERSION = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\Z")

SortKey = tuple[int, int, int, int, str]


class InvalidIndex(ArtregError):
    """An index document (root or page) that cannot be trusted: rebuild from the manifests."""


@dataclass(frozen=True)
class EntryFile:
    """One downloadable file of an indexed build; ``key`` is relative to the target root."""

    platform: str
    name: str
    key: str
    size: int
    sha256: str

    @property
    def url(self) -> str:
        return download_url(self.key)

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "name": self.name,
            "key": self.key,
            "url": self.url,
            "size": self.size,
            "sha256": self.sha256,
        }


@dataclass(frozen=True)
class EntryImage:
    """One OCI image of an indexed build: pull ``<host>/<repository>:<tag>`` or ``@<digest>``."""

    repository: str
    tag: str
    digest: str
    media_type: str

    def to_json(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "tag": self.tag,
            "digest": self.digest,
            "mediaType": self.media_type,
        }


@dataclass(frozen=True)
class Entry:
    """The summary of one build that the index carries (the manifest stays the truth).

    ``images`` is None for an entry written before the index listed images (read back
    as written, not as "no images"); ``checksums`` is the key of the build's
    ``SHA256SUMS`` when its manifest lists one.
    """

    tag: str
    category: Category
    published: dt.datetime  # UTC, whole seconds (what the documents can hold)
    commit: str | None
    files: tuple[EntryFile, ...]
    images: tuple[EntryImage, ...] | None = ()
    checksums: str | None = None
    sort_key: SortKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sort_key", order_key(self.tag, self.category, self.published))

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def platforms(self) -> tuple[str, ...]:
        return tuple(sorted({f.platform for f in self.files}))

    def to_json(self) -> dict[str, Any]:
        """The entry document: pages, the root's newest rows and ``latest.json`` share it."""
        document: dict[str, Any] = {
            "tag": self.tag,
            "category": self.category.value,
            "published": format_time(self.published),
            "commit": self.commit,
            "files": [f.to_json() for f in self.files],
            "checksums": (
                None
                if self.checksums is None
                else {"key": self.checksums, "url": download_url(self.checksums)}
            ),
        }
        if self.images is not None:
            document["images"] = [image.to_json() for image in self.images]
        return document


def order_key(tag: str, category: Category, published: dt.datetime) -> SortKey:
    """Ascending key of the index order: release highest version first, others newest first.

    Ties (equal versions, equal ``published``) are broken by the tag, ascending.
    A release tag without a readable version sorts after every version.
    """
    if category is Category.RELEASE:
        match = _RELEASE_VERSION.search(tag)
        if match is None:
            return (1, 0, 0, 0, tag)
        major, minor, patch = (int(part) for part in match.groups())
        return (0, -major, -minor, -patch, tag)
    return (0, -int(published.timestamp()), 0, 0, tag)


def _whole_seconds(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).replace(microsecond=0)


def entry_from_build(build: Build) -> Entry:
    """The index entry of ``build`` (``published`` truncated to seconds, as in documents)."""
    return Entry(
        tag=build.tag,
        category=build.category,
        published=_whole_seconds(build.published),
        commit=build.commit,
        files=tuple(
            EntryFile(platform=f.platform, name=f.name, key=f.key, size=f.size, sha256=f.sha256)
            for f in build.files
        ),
        images=tuple(EntryImage(i.repository, i.tag, i.digest, i.media_type) for i in build.images),
        checksums=None if build.checksums is None else build.checksums.key,
    )


def describes(indexed: Entry, wanted: Entry) -> bool:
    """Whether the stored entry ``indexed`` says what ``wanted`` (from the manifest) says.

    An entry written before the index listed images says nothing of them.
    """
    if indexed.images is None:
        wanted = replace(wanted, images=None)
    return indexed == wanted


@dataclass(frozen=True)
class Page:
    """One page: a stable id and a contiguous run of the category's order."""

    id: int
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class PageSet:
    """One category's pages, in order; each page links the next one."""

    category: Category
    pages: tuple[Page, ...] = ()

    @property
    def count(self) -> int:
        return sum(len(page.entries) for page in self.pages)

    @property
    def ids(self) -> tuple[int, ...]:
        return tuple(page.id for page in self.pages)

    def entries(self) -> tuple[Entry, ...]:
        """Every entry, in index order (the concatenation of the pages)."""
        return tuple(entry for page in self.pages for entry in page.entries)

    def next_ids(self) -> dict[int, int | None]:
        """page id -> id of the page it links to (None for the last page)."""
        ids = self.ids
        return {
            page_id: (ids[i + 1] if i + 1 < len(ids) else None) for i, page_id in enumerate(ids)
        }


class PageUpdate(NamedTuple):
    """The result of :func:`update`.

    ``changed``: ids of the pages to write, in a safe order (a page is listed
    before any page that links to it), ``deleted``: ids of the pages to delete
    after the root index has been written.
    """

    pageset: PageSet
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


def sort_entries(entries: Iterable[Entry]) -> list[Entry]:
    """Entries in index order (see :func:`order_key`)."""
    return sorted(entries, key=lambda entry: entry.sort_key)


def pack(
    category: Category, entries: Iterable[Entry], page_size: int = DEFAULT_PAGE_SIZE
) -> PageSet:
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
    return PageSet(category=category, pages=pages)


def pack_all(
    entries: Iterable[Entry], page_size: int = DEFAULT_PAGE_SIZE
) -> dict[Category, PageSet]:
    """:func:`pack` per published category (every category present, possibly empty)."""
    grouped: dict[Category, list[Entry]] = {category: [] for category in PUBLISHED_CATEGORIES}
    for entry in entries:
        if entry.category not in grouped:
            raise ValueError(f"{entry.tag}: category {entry.category} is never indexed")
        grouped[entry.category].append(entry)
    return {category: pack(category, group, page_size) for category, group in grouped.items()}


@dataclass(frozen=True)
class PageRef:
    """A page as the root index lists it: its id and where it starts (its first entry)."""

    id: int
    category: Category
    tag: str
    published: dt.datetime
    sort_key: SortKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sort_key", order_key(self.tag, self.category, self.published))

    @classmethod
    def of(cls, page_id: int, first: Entry) -> PageRef:
        return cls(page_id, first.category, first.tag, first.published)

    def to_json(self) -> dict[str, Any]:
        return {"tag": self.tag, "published": format_time(self.published)}


@dataclass(frozen=True)
class PageList:
    """What the root index knows of a category without reading a page.

    ``refs``: every page in order (id and first entry), ``count``: the entries
    of all pages, ``newest``: the first entries of the order (all of them when
    ``len(newest) == count``).
    """

    category: Category
    refs: tuple[PageRef, ...]
    count: int
    newest: tuple[Entry, ...]

    @property
    def ids(self) -> tuple[int, ...]:
        return tuple(ref.id for ref in self.refs)

    def next_ids(self) -> dict[int, int | None]:
        """page id -> id of the page it links to (None for the last page)."""
        ids = self.ids
        return {
            page_id: (ids[i + 1] if i + 1 < len(ids) else None) for i, page_id in enumerate(ids)
        }


def page_list(pageset: PageSet, newest: int | None = None) -> PageList:
    """The :class:`PageList` of a whole page set (``newest`` entries kept; None: all)."""
    entries = pageset.entries()
    return PageList(
        category=pageset.category,
        refs=tuple(PageRef.of(page.id, page.entries[0]) for page in pageset.pages),
        count=len(entries),
        newest=entries if newest is None else entries[:newest],
    )


PageLoader = Callable[[int], "ParsedPage"]


class PagesUpdate(NamedTuple):
    """The result of :func:`update_pages`.

    ``pages``: the category's page list afterwards; ``held``: every page the
    update read or wrote, by id, as it is afterwards (each ``changed`` page is
    there); ``changed`` and ``deleted`` as in :class:`PageUpdate`.
    """

    pages: PageList
    held: dict[int, Page]
    changed: tuple[int, ...]
    deleted: tuple[int, ...]


def check_page(ref: PageRef, next_ref: PageRef | None, parsed: ParsedPage) -> Page:
    """``parsed`` is the page the root lists as ``ref`` (followed by ``next_ref``), or raise.

    Checked: category, id, link, the first entry (the root's start) and that the
    last entry sorts before the next page's start. :class:`InvalidIndex` otherwise.
    """
    where = page_key(ref.category, ref.id)
    page = parsed.page
    if parsed.category is not ref.category or page.id != ref.id:
        raise _invalid(where, f"holds page {page.id} of {parsed.category}")
    expected_next = None if next_ref is None else next_ref.id
    if parsed.next_id != expected_next:
        raise _invalid(where, f"links page {parsed.next_id}, index.json says {expected_next}")
    first = page.entries[0]
    if (first.tag, first.published) != (ref.tag, ref.published):
        raise _invalid(where, f"starts with {first.tag!r}, index.json says {ref.tag!r}")
    if next_ref is not None and page.entries[-1].sort_key >= next_ref.sort_key:
        raise _invalid(where, f"{page.entries[-1].tag!r} is out of order with the next page")
    return page


class _Work:
    """Mutable pages while an update is applied; every page is kept non-empty and sorted.

    Pages are read through ``load`` only when an operation needs their entries
    (``None`` until then); ``starts`` holds each page's first sort key, from the
    root for pages not read, so locating a key needs no page.
    """

    def __init__(self, previous: PageList, load: PageLoader) -> None:
        self.category = previous.category
        self._load = load
        self.ids = list(previous.ids)
        self.starts = [ref.sort_key for ref in previous.refs]
        self.pages: list[list[Entry] | None] = [None] * len(self.ids)
        self.original: dict[int, Page] = {}
        self.old_refs = {ref.id: ref for ref in previous.refs}
        self.old_next = previous.next_ids()
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
            raise _invalid(ROOT_KEY, f"{self.category}: {tag!r} is indexed but on no page")
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
        if len(page) < page_size:
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


def update_pages(
    previous: PageList,
    load: PageLoader,
    added: Iterable[Entry],
    removed: Iterable[str],
    page_size: int = DEFAULT_PAGE_SIZE,
    *,
    indexed: Container[str],
    known: Mapping[str, Entry] | None = None,
    newest: int | None = DEFAULT_NEWEST,
) -> PagesUpdate:
    """:func:`update` reading only the pages it changes, through ``load`` (page id -> page).

    ``previous`` is what the root says (page ids and starts, count, newest);
    ``indexed`` tells which tags the pages hold (every tag of ``added`` and
    ``removed`` that they hold must be in it); ``known``: the indexed entries of
    some of those tags, to find them without a search (a release is found from
    its tag; an extra or dev build not known is searched from the front). The
    pages read are checked against the root (:func:`check_page`): any
    disagreement raises :class:`InvalidIndex` (rebuild). ``newest``: how many
    leading entries the result's :attr:`PageList.newest` holds (None: none).

    Same decisions, pages and ids as :func:`update` on the whole page set.
    """
    _check_page_size(page_size)
    category = previous.category
    removed_tags = set(removed)
    adds = _check_entries(category, added)
    hints = dict(known or {})
    for entry in previous.newest:
        hints.setdefault(entry.tag, entry)

    work = _Work(previous, load)
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

    new_next: dict[int, int | None] = dict(zip(work.ids, [*work.ids[1:], None], strict=False))
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
    after = PageList(category=category, refs=tuple(refs), count=count, newest=leading)
    return PagesUpdate(pages=after, held=held, changed=tuple(changed), deleted=deleted)


def _newest(
    previous: PageList, work: _Work, touched: set[str], finals: list[Entry], limit: int
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


def update(
    previous: PageSet,
    added: Iterable[Entry],
    removed: Iterable[str],
    page_size: int = DEFAULT_PAGE_SIZE,
) -> PageUpdate:
    """Apply ``added`` (replacing entries with the same tag) and ``removed`` (tags) to pages.

    The result holds ``(previous | added) - removed`` (by tag) in index order: a tag in
    both ``added`` and ``removed`` is removed; removing an unknown tag is a
    no-op. Only pages whose document changes are reported.
    """
    by_id = {page.id: page for page in previous.pages}
    next_ids = previous.next_ids()
    existing = {entry.tag: entry for entry in previous.entries()}

    def load(page_id: int) -> ParsedPage:
        return ParsedPage(previous.category, by_id[page_id], next_ids[page_id])

    result = update_pages(
        page_list(previous, newest=0),
        load,
        added,
        removed,
        page_size,
        indexed=existing,
        known=existing,
        newest=None,
    )
    pages = tuple(result.held.get(page_id) or by_id[page_id] for page_id in result.pages.ids)
    return PageUpdate(
        pageset=PageSet(category=previous.category, pages=pages),
        changed=result.changed,
        deleted=result.deleted,
    )


def front_entries(
    pages: PageList, held: Mapping[int, Page], load: PageLoader, limit: int
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


# --- keys and documents ----------------------------------------------------------------------


def page_key(category: Category, page_id: int) -> str:
    """The page's object key, relative to the target root."""
    return f"{INDEX_PREFIX}{category.value}/{page_id}.json"


def page_document(category: Category, page: Page, next_id: int | None) -> dict[str, Any]:
    """The JSON document of one page; ``next`` is relative to the page's own URL."""
    return {
        "schemaVersion": INDEX_SCHEMA_VERSION,
        "kind": PAGE_KIND,
        "category": category.value,
        "page": page.id,
        "root": PAGE_TO_ROOT,
        "entries": [entry.to_json() for entry in page.entries],
        "next": None if next_id is None else f"{next_id}.json",
    }


def page_documents(pageset: PageSet) -> dict[int, dict[str, Any]]:
    """Every page's document, by page id."""
    next_ids = pageset.next_ids()
    return {
        page.id: page_document(pageset.category, page, next_ids[page.id]) for page in pageset.pages
    }


def fingerprint(builds: Iterable[tuple[str, str]]) -> str:
    """``sha256:`` of the sorted lines ``tag<TAB>etag`` (etag without surrounding quotes)."""
    lines = sorted(f"{tag}\t{etag.strip(chr(34))}\n" for tag, etag in builds)
    return "sha256:" + hashlib.sha256("".join(lines).encode()).hexdigest()


def root_document(
    pagesets: Iterable[PageSet | PageList],
    *,
    project: str,
    generated: dt.datetime,
    etags: Mapping[str, str],
    page_size: int = DEFAULT_PAGE_SIZE,
    newest: int = DEFAULT_NEWEST,
    fingerprints: Mapping[Category, str] | None = None,
    reclassified: Mapping[str, Category] | None = None,
) -> dict[str, Any]:
    """The root ``index.json``: per category count, page links and starts, newest, fingerprint.

    ``etags`` maps every indexed tag to the etag of its build manifest, as the
    store lists it; a category missing from ``pagesets`` is written empty. A
    category given as a :class:`PageList` (updated without reading every page)
    holds no list of its tags: its fingerprint is taken from ``fingerprints``,
    and its ``newest`` must hold ``min(newest, count)`` entries. ``reclassified``:
    the builds indexed under the category their manifest records although the
    configuration now classifies their tag otherwise (written only when any).
    """
    by_category = {pageset.category: pageset for pageset in pagesets}
    categories: dict[str, Any] = {}
    for category in PUBLISHED_CATEGORIES:
        pageset = by_category.get(category, PageSet(category))
        if isinstance(pageset, PageSet):
            entries = pageset.entries()
            missing = [entry.tag for entry in entries if entry.tag not in etags]
            if missing:
                raise ValueError(f"no manifest etag for {', '.join(missing[:5])}")
            digest = fingerprint((entry.tag, etags[entry.tag]) for entry in entries)
            pages = page_list(pageset, newest)
        else:
            if fingerprints is None or category not in fingerprints:
                raise ValueError(f"no fingerprint for the {category} page list")
            if len(pageset.newest) < min(newest, pageset.count):
                raise ValueError(f"{category}: {len(pageset.newest)} newest entries, not {newest}")
            digest = fingerprints[category]
            pages = pageset
        urls = [page_key(category, page_id) for page_id in pages.ids]
        categories[category.value] = {
            "count": pages.count,
            "first": urls[0] if urls else None,
            "pages": urls,
            "starts": [ref.to_json() for ref in pages.refs],
            "newest": [entry.to_json() for entry in pages.newest[:newest]],
            "fingerprint": digest,
        }
    document: dict[str, Any] = {
        "schemaVersion": INDEX_SCHEMA_VERSION,
        "kind": ROOT_KIND,
        "project": project,
        "generated": format_time(generated),
        "pageSize": page_size,
        "html": HTML_KEY,
        "categories": categories,
    }
    if reclassified:
        document["reclassified"] = {tag: reclassified[tag].value for tag in sorted(reclassified)}
    return document


def same_content(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """True when two root documents differ at most in ``generated`` (nothing to write)."""
    return {k: v for k, v in old.items() if k != "generated"} == {
        k: v for k, v in new.items() if k != "generated"
    }


def dumps(document: Mapping[str, Any]) -> bytes:
    """Deterministic bytes: sorted keys, compact, ASCII, one trailing newline."""
    return (
        json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True) + "\n"
    ).encode()


def loads(body: bytes, where: str) -> dict[str, Any]:
    """Parse a stored index document into a JSON object, or raise :class:`InvalidIndex`."""
    data = jsondoc.load(body, _failure(where), max_bytes=MAX_INDEX_BYTES)
    if not isinstance(data, dict):
        raise _invalid(where, f"expected a JSON object, found {type(data).__name__}")
    return data


# --- parsing ---------------------------------------------------------------------------------


def _invalid(where: str, detail: str) -> InvalidIndex:
    return InvalidIndex(
        f"{where}: not a valid artreg index document: {detail}; "
        "it is derived data: the next `artreg apply` rebuilds it from the build manifests"
    )


def _failure(where: str) -> Callable[[str], InvalidIndex]:
    return lambda detail: _invalid(where, detail)


class _Reader(jsondoc.Fields):
    """Typed access to an index document's object, every problem reported with its path."""

    def __init__(self, data: object, where: str, path: str = "") -> None:
        super().__init__(data, _failure(where), path)
        self.where = where

    def _bad(self, name: str, expected: str, found: object) -> InvalidIndex:
        return _invalid(self.where, f"{self.path}{name}: expected {expected}, found {found!r:.80}")

    def child(self, name: str) -> _Reader:
        return _Reader(self.get(name), self.where, f"{self.path}{name}.")

    def time(self, name: str) -> dt.datetime:
        return _whole_seconds(super().time(name))

    def category(self, name: str) -> Category:
        text = self.string(name)
        if text not in {c.value for c in PUBLISHED_CATEGORIES}:
            raise self._bad(name, "release, extra or dev", text)
        return Category(text)

    def header(self, kind: str) -> None:
        found = self.data.get("kind")
        if found != kind:
            raise self._bad("kind", repr(kind), found)
        version = self.integer("schemaVersion")
        if version != INDEX_SCHEMA_VERSION:
            raise self._bad("schemaVersion", str(INDEX_SCHEMA_VERSION), version)


def _entry(data: object, where: str, path: str) -> Entry:
    reader = _Reader(data, where, path)
    tag = reader.string("tag", max_length=MAX_TAG_LENGTH)
    reason = unsafe_reason(tag)
    if reason is not None:  # it names the build's manifest and directory in links
        raise reader._bad("tag", f"a tag ({reason})", tag)
    files = [
        _entry_file(tag, item, where, f"{path}files[{n}].")
        for n, item in enumerate(reader.array("files"))
    ]
    images = None  # absent in entries written before the index listed images
    if reader.has("images"):
        images = tuple(
            _entry_image(tag, item, where, f"{path}images[{n}].")
            for n, item in enumerate(reader.array("images"))
        )
    return Entry(
        tag=tag,
        category=reader.category("category"),
        published=reader.time("published"),
        commit=reader.optional_string("commit"),
        files=tuple(files),
        images=images,
        checksums=_entry_checksums(tag, reader, where, path),
    )


def _entry_file(tag: str, data: object, where: str, path: str) -> EntryFile:
    file = _Reader(data, where, path)
    sha256 = file.string("sha256")
    if not _SHA256.fullmatch(sha256):
        raise file._bad("sha256", "64 lowercase hex digits", sha256)
    entry_file = EntryFile(
        platform=file.string("platform"),
        name=file.string("name"),
        key=file.string("key"),
        size=file.integer("size", 0, MAX_SIZE),
        sha256=sha256,
    )
    # The same rule as the keys apply writes: no other build's key, no '//host/x'.
    problem = file_problem(tag, entry_file.platform, entry_file.name, entry_file.key)
    if problem is not None:
        raise _invalid(where, f"{path.rstrip('.')}: {problem}")
    if file.has("url") and file.get("url") != entry_file.url:  # absent before urls were listed
        raise file._bad("url", repr(entry_file.url), file.get("url"))
    return entry_file


def _entry_image(tag: str, data: object, where: str, path: str) -> EntryImage:
    item = _Reader(data, where, path)
    image = EntryImage(
        repository=item.string("repository"),
        tag=item.string("tag"),
        digest=item.string("digest"),
        media_type=item.string("mediaType"),
    )
    problem = image_problem(tag, image.repository, image.tag, image.digest)
    if problem is not None:
        raise _invalid(where, f"{path.rstrip('.')}: {problem}")
    return image


def _entry_checksums(tag: str, reader: _Reader, where: str, path: str) -> str | None:
    """The key of the build's ``SHA256SUMS`` (None when absent or null)."""
    if reader.data.get("checksums") is None:
        return None
    checksums = reader.child("checksums")
    key = checksums.string("key")
    expected = sums_key(encode_tag(tag))
    if key != expected:
        raise checksums._bad("key", f"the build's own {expected!r}", key)
    if checksums.string("url") != download_url(key):
        raise checksums._bad("url", repr(download_url(key)), checksums.data["url"])
    return key


def _entries(items: Sequence[object], category: Category, where: str, path: str) -> list[Entry]:
    entries = [_entry(item, where, f"{path}[{n}].") for n, item in enumerate(items)]
    for n, entry in enumerate(entries):
        if entry.category is not category:
            raise _invalid(where, f"{path}[{n}]: a {entry.category} entry among {category}")
        if n and entries[n - 1].sort_key >= entry.sort_key:
            raise _invalid(where, f"{path}[{n}]: {entry.tag!r} is out of order")
    return entries


class ParsedPage(NamedTuple):
    """A page document read back: its category, the page and the id it links to."""

    category: Category
    page: Page
    next_id: int | None


def parse_page(document: object, where: str) -> ParsedPage:
    """Read a page document (see :func:`page_from_document`), keeping its link."""
    reader = _Reader(document, where)
    reader.header(PAGE_KIND)
    category = reader.category("category")
    page_id = reader.integer("page", 1, MAX_PAGE_ID)
    if reader.string("root") != PAGE_TO_ROOT:
        raise reader._bad("root", repr(PAGE_TO_ROOT), reader.data["root"])
    entries = _entries(reader.array("entries"), category, where, "entries")
    if not entries:
        raise _invalid(where, "entries: a page is never empty")
    link = reader.optional_string("next")
    next_id = None
    if link is not None:
        match = re.fullmatch(_PAGE_ID + r"\.json", link)
        if match is None:
            raise reader._bad("next", "'<page id>.json' or null", link)
        next_id = int(match.group(1))
    return ParsedPage(category, Page(id=page_id, entries=tuple(entries)), next_id)


def page_from_document(document: object, where: str) -> Page:
    """Read a page document back; :class:`InvalidIndex` when malformed or foreign."""
    return parse_page(document, where).page


@dataclass(frozen=True)
class CategoryIndex:
    """One category as the root index describes it."""

    category: Category
    count: int
    page_ids: tuple[int, ...]
    fingerprint: str
    newest: tuple[Entry, ...]
    starts: tuple[PageRef, ...]  # each page's first entry, parallel to ``page_ids``

    def page_list(self) -> PageList:
        """The page list to update from."""
        return PageList(self.category, self.starts, self.count, self.newest)


@dataclass(frozen=True)
class RootIndex:
    """The root index.json read back."""

    project: str
    generated: dt.datetime
    page_size: int
    categories: tuple[CategoryIndex, ...]
    # tag -> the category its manifest records, where the configuration now
    # classifies the tag otherwise (the build stays indexed as published).
    reclassified: Mapping[str, Category] = field(default_factory=dict)

    def category(self, category: Category) -> CategoryIndex:
        for item in self.categories:
            if item.category is category:
                return item
        raise KeyError(category)  # pragma: no cover - every published category is present

    @property
    def fingerprints(self) -> dict[Category, str]:
        return {item.category: item.fingerprint for item in self.categories}


def root_from_document(document: object, where: str = ROOT_KEY) -> RootIndex:
    """Read the root index back; :class:`InvalidIndex` when malformed or foreign."""
    reader = _Reader(document, where)
    reader.header(ROOT_KIND)
    if reader.string("html") != HTML_KEY:
        raise reader._bad("html", repr(HTML_KEY), reader.data["html"])
    table = reader.child("categories")
    categories = []
    for category in PUBLISHED_CATEGORIES:
        part = table.child(category.value)
        path = f"categories.{category.value}."
        page_ids = []
        for n, url in enumerate(part.array("pages")):
            match = isinstance(url, str) and re.fullmatch(
                re.escape(f"{INDEX_PREFIX}{category.value}/") + _PAGE_ID + r"\.json", url
            )
            if not match:
                raise _invalid(where, f"{path}pages[{n}]: expected a page of {category}: {url!r}")
            page_ids.append(int(match.group(1)))
        if len(set(page_ids)) != len(page_ids):
            raise _invalid(where, f"{path}pages: a page is listed twice")
        first = part.optional_string("first")
        expected_first = page_key(category, page_ids[0]) if page_ids else None
        if first != expected_first:
            raise part._bad("first", repr(expected_first), first)
        count = part.integer("count")
        if (count == 0) != (not page_ids):
            raise part._bad("count", "0 exactly when there are no pages", count)
        digest = part.string("fingerprint")
        if not _FINGERPRINT.fullmatch(digest):
            raise part._bad("fingerprint", "'sha256:' and 64 hex digits", digest)
        newest = _entries(part.array("newest"), category, where, f"{path}newest")
        if len(newest) > count:
            raise part._bad("newest", f"at most {count} entries", len(newest))
        starts = _starts(part, category, page_ids, newest)
        categories.append(
            CategoryIndex(
                category=category,
                count=count,
                page_ids=tuple(page_ids),
                fingerprint=digest,
                newest=tuple(newest),
                starts=starts,
            )
        )
    reclassified: dict[str, Category] = {}
    if reader.has("reclassified"):
        table = reader.child("reclassified")
        for tag in table.data:
            if len(tag) > MAX_TAG_LENGTH:
                raise table._bad(tag[:40], f"tags of at most {MAX_TAG_LENGTH} characters", tag)
            reclassified[tag] = table.category(tag)
    return RootIndex(
        project=reader.string("project"),
        generated=reader.time("generated"),
        page_size=reader.integer("pageSize", minimum=1),
        categories=tuple(categories),
        reclassified=reclassified,
    )


def _starts(
    part: _Reader, category: Category, page_ids: Sequence[int], newest: Sequence[Entry]
) -> tuple[PageRef, ...]:
    """The ``starts`` of a category: one per page, in order, the first one the newest entry."""
    items = part.array("starts")
    if len(items) != len(page_ids):
        raise part._bad("starts", f"{len(page_ids)} starts (one per page)", len(items))
    refs: list[PageRef] = []
    for n, (item, page_id) in enumerate(zip(items, page_ids, strict=True)):
        start = _Reader(item, part.where, f"{part.path}starts[{n}].")
        tag = start.string("tag", max_length=MAX_TAG_LENGTH)
        ref = PageRef(page_id, category, tag, start.time("published"))
        if refs and refs[-1].sort_key >= ref.sort_key:
            raise _invalid(part.where, f"{part.path}starts[{n}]: {ref.tag!r} is out of order")
        refs.append(ref)
    if refs and newest and (newest[0].tag, newest[0].published) != (refs[0].tag, refs[0].published):
        raise part._bad("starts", f"the first page to start with {newest[0].tag!r}", refs[0].tag)
    return tuple(refs)


def pageset_from_documents(
    root: RootIndex, category: Category, documents: Mapping[int, object]
) -> PageSet:
    """Assemble the pages the root lists for ``category``, checking that they agree.

    ``documents`` maps page id -> parsed JSON. Any disagreement (a missing page,
    a broken link, entries out of order or repeated, a count that differs)
    raises :class:`InvalidIndex`: the caller then rebuilds with :func:`pack`.
    """
    listed = root.category(category)
    pages: list[Page] = []
    previous: Entry | None = None
    seen: set[str] = set()
    for n, page_id in enumerate(listed.page_ids):
        where = page_key(category, page_id)
        if page_id not in documents:
            raise _invalid(where, "listed in index.json but missing")
        parsed = parse_page(documents[page_id], where)
        if parsed.category is not category or parsed.page.id != page_id:
            raise _invalid(where, f"holds page {parsed.page.id} of {parsed.category}")
        expected_next = listed.page_ids[n + 1] if n + 1 < len(listed.page_ids) else None
        if parsed.next_id != expected_next:
            raise _invalid(where, f"links page {parsed.next_id}, index.json says {expected_next}")
        first = parsed.page.entries[0]
        if (first.tag, first.published) != (listed.starts[n].tag, listed.starts[n].published):
            raise _invalid(where, f"starts with {first.tag!r}, index.json says otherwise")
        if previous is not None and previous.sort_key >= first.sort_key:
            raise _invalid(where, f"{first.tag!r} is out of order with the previous page")
        previous = parsed.page.entries[-1]
        for entry in parsed.page.entries:
            if entry.tag in seen:
                raise _invalid(where, f"{entry.tag!r} is indexed twice")
            seen.add(entry.tag)
        pages.append(parsed.page)
    pageset = PageSet(category=category, pages=tuple(pages))
    if pageset.count != listed.count:
        raise _invalid(
            ROOT_KEY, f"{category} counts {listed.count} but its pages hold {pageset.count}"
        )
    return pageset
