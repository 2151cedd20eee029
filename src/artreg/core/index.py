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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from artreg.core.manifest import ARTREG_DIR, Build, format_time, parse_time
from artreg.core.tags import PUBLISHED_CATEGORIES, Category
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

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "name": self.name,
            "key": self.key,
            "size": self.size,
            "sha256": self.sha256,
        }


@dataclass(frozen=True)
class Entry:
    """The summary of one build that the index carries (the manifest stays the truth)."""

    tag: str
    category: Category
    published: dt.datetime  # UTC, whole seconds (what the documents can hold)
    commit: str | None
    files: tuple[EntryFile, ...]
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
        return {
            "tag": self.tag,
            "category": self.category.value,
            "published": format_time(self.published),
            "commit": self.commit,
            "files": [f.to_json() for f in self.files],
        }


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
    )


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


class _Work:
    """Mutable pages while an update is applied; every page is kept non-empty and sorted."""

    def __init__(self, pageset: PageSet) -> None:
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

    def pageset(self, category: Category) -> PageSet:
        pages = tuple(
            Page(id=page_id, entries=tuple(entries))
            for page_id, entries in zip(self.ids, self.pages, strict=True)
        )
        return PageSet(category=category, pages=pages)


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
    _check_page_size(page_size)
    category = previous.category
    removed_tags = set(removed)
    adds = _check_entries(category, added)
    existing = {entry.tag: entry for entry in previous.entries()}

    work = _Work(previous)
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
    old_next = previous.next_ids()
    new_next = result.next_ids()
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
    return PageUpdate(pageset=result, changed=tuple(changed), deleted=deleted)


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
    pagesets: Iterable[PageSet],
    *,
    project: str,
    generated: dt.datetime,
    etags: Mapping[str, str],
    page_size: int = DEFAULT_PAGE_SIZE,
    newest: int = DEFAULT_NEWEST,
) -> dict[str, Any]:
    """The root ``index.json``: per category count, page links, newest entries, fingerprint.

    ``etags`` maps every indexed tag to the etag of its build manifest, as the
    store lists it; a category missing from ``pagesets`` is written empty.
    """
    by_category = {pageset.category: pageset for pageset in pagesets}
    categories: dict[str, Any] = {}
    for category in PUBLISHED_CATEGORIES:
        pageset = by_category.get(category, PageSet(category))
        entries = pageset.entries()
        missing = [entry.tag for entry in entries if entry.tag not in etags]
        if missing:
            raise ValueError(f"no manifest etag for {', '.join(missing[:5])}")
        urls = [page_key(category, page_id) for page_id in pageset.ids]
        categories[category.value] = {
            "count": len(entries),
            "first": urls[0] if urls else None,
            "pages": urls,
            "newest": [entry.to_json() for entry in entries[:newest]],
            "fingerprint": fingerprint((entry.tag, etags[entry.tag]) for entry in entries),
        }
    return {
        "schemaVersion": INDEX_SCHEMA_VERSION,
        "kind": ROOT_KIND,
        "project": project,
        "generated": format_time(generated),
        "pageSize": page_size,
        "html": HTML_KEY,
        "categories": categories,
    }


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
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _invalid(where, f"not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise _invalid(where, f"expected a JSON object, found {type(data).__name__}")
    return data


# --- parsing ---------------------------------------------------------------------------------


def _invalid(where: str, detail: str) -> InvalidIndex:
    return InvalidIndex(
        f"{where}: not a valid artreg index document: {detail}; "
        "it is derived data: the next `artreg apply` rebuilds it from the build manifests"
    )


class _Reader:
    """Typed access to a JSON object, every problem reported with its path."""

    def __init__(self, data: object, where: str, path: str = "") -> None:
        self.where = where
        self.path = path
        if not isinstance(data, dict):
            raise _invalid(where, f"{path or 'document'}: expected an object")
        self.data: dict[str, Any] = data

    def _get(self, name: str) -> object:
        if name not in self.data:
            raise _invalid(self.where, f"{self.path}{name}: missing")
        return self.data[name]

    def _bad(self, name: str, expected: str, found: object) -> InvalidIndex:
        return _invalid(self.where, f"{self.path}{name}: expected {expected}, found {found!r:.80}")

    def string(self, name: str) -> str:
        value = self._get(name)
        if not isinstance(value, str):
            raise self._bad(name, "a string", value)
        return value

    def optional_string(self, name: str) -> str | None:
        value = self._get(name)
        if value is not None and not isinstance(value, str):
            raise self._bad(name, "a string or null", value)
        return value

    def integer(self, name: str, minimum: int = 0) -> int:
        value = self._get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self._bad(name, f"an integer >= {minimum}", value)
        return value

    def array(self, name: str) -> list[Any]:
        value = self._get(name)
        if not isinstance(value, list):
            raise self._bad(name, "an array", value)
        return value

    def child(self, name: str) -> _Reader:
        return _Reader(self._get(name), self.where, f"{self.path}{name}.")

    def time(self, name: str) -> dt.datetime:
        text = self.string(name)
        try:
            return _whole_seconds(parse_time(text))
        except ValueError as exc:
            raise self._bad(name, "an ISO-8601 instant", text) from exc

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
    files = []
    for n, item in enumerate(reader.array("files")):
        file = _Reader(item, where, f"{path}files[{n}].")
        sha256 = file.string("sha256")
        if not _SHA256.fullmatch(sha256):
            raise file._bad("sha256", "64 lowercase hex digits", sha256)
        files.append(
            EntryFile(
                platform=file.string("platform"),
                name=file.string("name"),
                key=file.string("key"),
                size=file.integer("size"),
                sha256=sha256,
            )
        )
    return Entry(
        tag=reader.string("tag"),
        category=reader.category("category"),
        published=reader.time("published"),
        commit=reader.optional_string("commit"),
        files=tuple(files),
    )


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
    page_id = reader.integer("page", minimum=1)
    if reader.string("root") != PAGE_TO_ROOT:
        raise reader._bad("root", repr(PAGE_TO_ROOT), reader.data["root"])
    entries = _entries(reader.array("entries"), category, where, "entries")
    if not entries:
        raise _invalid(where, "entries: a page is never empty")
    link = reader.optional_string("next")
    next_id = None
    if link is not None:
        match = re.fullmatch(r"([1-9][0-9]*)\.json", link)
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


@dataclass(frozen=True)
class RootIndex:
    """The root index.json read back."""

    project: str
    generated: dt.datetime
    page_size: int
    categories: tuple[CategoryIndex, ...]

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
    table = reader.child("categories")
    categories = []
    for category in PUBLISHED_CATEGORIES:
        part = table.child(category.value)
        path = f"categories.{category.value}."
        page_ids = []
        for n, url in enumerate(part.array("pages")):
            match = isinstance(url, str) and re.fullmatch(
                re.escape(f"{INDEX_PREFIX}{category.value}/") + r"([1-9][0-9]*)\.json", url
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
        categories.append(
            CategoryIndex(
                category=category,
                count=count,
                page_ids=tuple(page_ids),
                fingerprint=digest,
                newest=tuple(newest),
            )
        )
    return RootIndex(
        project=reader.string("project"),
        generated=reader.time("generated"),
        page_size=reader.integer("pageSize", minimum=1),
        categories=tuple(categories),
    )


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
