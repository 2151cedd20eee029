"""Index documents read back from a target: every member checked, one error for anything wrong.

Pure. :func:`parse_page` and :func:`parse_root` read one document;
:func:`check_page` checks a page against what the root says of it, and
:func:`parse_category` assembles a category's pages, checking that they agree.
Anything malformed or foreign is :class:`~artreg.core.index.model.InvalidIndex`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from artreg.core import jsondoc
from artreg.core.checksums import sums_key
from artreg.core.index.model import (
    HTML_KEY,
    INDEX_PREFIX,
    INDEX_SCHEMA_VERSION,
    MAX_INDEX_BYTES,
    MAX_PAGE_ID,
    PAGE_KIND,
    PAGE_TO_ROOT,
    ROOT_KEY,
    ROOT_KIND,
    Entry,
    EntryFile,
    EntryImage,
    LoadedPages,
    Page,
    PageOutline,
    PageRef,
    invalid,
    page_key,
    whole_seconds,
)
from artreg.core.keys import download_url, file_problem, image_problem
from artreg.core.manifest import MAX_SIZE
from artreg.core.tags import (
    MAX_TAG_LENGTH,
    PUBLISHED_CATEGORIES,
    Category,
    encode_tag,
    unsafe_reason,
)
from artreg.errors import InvalidIndex

_PAGE_ID = r"([1-9][0-9]{0,14})"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_FINGERPRINT = re.compile(r"sha256:[0-9a-f]{64}")


def loads(body: bytes, where: str) -> dict[str, Any]:
    """Parse a stored index document into a JSON object, or raise :class:`InvalidIndex`."""
    data = jsondoc.load(body, _failure(where), max_bytes=MAX_INDEX_BYTES)
    if not isinstance(data, dict):
        raise invalid(where, f"expected a JSON object, found {type(data).__name__}")
    return data


def _failure(where: str) -> Callable[[str], InvalidIndex]:
    return lambda detail: invalid(where, detail)


class _Reader(jsondoc.Fields):
    """Typed access to an index document's object, every problem reported with its path."""

    def __init__(self, data: object, where: str, path: str = "") -> None:
        super().__init__(data, _failure(where), path)
        self.where = where

    def _bad(self, name: str, expected: str, found: object) -> InvalidIndex:
        return invalid(self.where, f"{self.path}{name}: expected {expected}, found {found!r:.80}")

    def child(self, name: str) -> _Reader:
        return _Reader(self.get(name), self.where, f"{self.path}{name}.")

    def time(self, name: str) -> dt.datetime:
        return whole_seconds(super().time(name))

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
        raise invalid(where, f"{path.rstrip('.')}: {problem}")
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
        raise invalid(where, f"{path.rstrip('.')}: {problem}")
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
            raise invalid(where, f"{path}[{n}]: a {entry.category} entry among {category}")
        if n and entries[n - 1].sort_key >= entry.sort_key:
            raise invalid(where, f"{path}[{n}]: {entry.tag!r} is out of order")
    return entries


class ParsedPage(NamedTuple):
    """A page document read back: its category, the page and the id it links to."""

    category: Category
    page: Page
    next_id: int | None


def parse_page(document: object, where: str) -> ParsedPage:
    """Read a page document back, with its link; :class:`InvalidIndex` when malformed or foreign."""
    reader = _Reader(document, where)
    reader.header(PAGE_KIND)
    category = reader.category("category")
    page_id = reader.integer("page", 1, MAX_PAGE_ID)
    if reader.string("root") != PAGE_TO_ROOT:
        raise reader._bad("root", repr(PAGE_TO_ROOT), reader.data["root"])
    entries = _entries(reader.array("entries"), category, where, "entries")
    if not entries:
        raise invalid(where, "entries: a page is never empty")
    link = reader.optional_string("next")
    next_id = None
    if link is not None:
        match = re.fullmatch(_PAGE_ID + r"\.json", link)
        if match is None:
            raise reader._bad("next", "'<page id>.json' or null", link)
        next_id = int(match.group(1))
    return ParsedPage(category, Page(id=page_id, entries=tuple(entries)), next_id)


def check_page(ref: PageRef, next_ref: PageRef | None, parsed: ParsedPage) -> Page:
    """``parsed`` is the page the root lists as ``ref`` (followed by ``next_ref``), or raise.

    Checked: category, id, link, the first entry (the root's start) and that the
    last entry sorts before the next page's start. :class:`InvalidIndex` otherwise.
    """
    where = page_key(ref.category, ref.id)
    page = parsed.page
    if parsed.category is not ref.category or page.id != ref.id:
        raise invalid(where, f"holds page {page.id} of {parsed.category}")
    expected_next = None if next_ref is None else next_ref.id
    if parsed.next_id != expected_next:
        raise invalid(where, f"links page {parsed.next_id}, index.json says {expected_next}")
    first = page.entries[0]
    if (first.tag, first.published) != (ref.tag, ref.published):
        raise invalid(where, f"starts with {first.tag!r}, index.json says {ref.tag!r}")
    if next_ref is not None and page.entries[-1].sort_key >= next_ref.sort_key:
        raise invalid(where, f"{page.entries[-1].tag!r} is out of order with the next page")
    return page


@dataclass(frozen=True)
class CategoryIndex:
    """One category as the root index describes it."""

    category: Category
    count: int
    page_ids: tuple[int, ...]
    fingerprint: str
    newest: tuple[Entry, ...]
    starts: tuple[PageRef, ...]  # each page's first entry, parallel to ``page_ids``

    def outline(self) -> PageOutline:
        """The outline to edit the pages from."""
        return PageOutline(self.category, self.starts, self.count, self.newest)


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


def parse_root(document: object, where: str = ROOT_KEY) -> RootIndex:
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
                raise invalid(where, f"{path}pages[{n}]: expected a page of {category}: {url!r}")
            page_ids.append(int(match.group(1)))
        if len(set(page_ids)) != len(page_ids):
            raise invalid(where, f"{path}pages: a page is listed twice")
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
            raise invalid(part.where, f"{part.path}starts[{n}]: {ref.tag!r} is out of order")
        refs.append(ref)
    if refs and newest and (newest[0].tag, newest[0].published) != (refs[0].tag, refs[0].published):
        raise part._bad("starts", f"the first page to start with {newest[0].tag!r}", refs[0].tag)
    return tuple(refs)


def parse_category(
    root: RootIndex, category: Category, documents: Mapping[int, object]
) -> LoadedPages:
    """Assemble the pages the root lists for ``category``, checking that they agree.

    ``documents`` maps page id -> parsed JSON. Any disagreement (a missing page,
    a broken link, entries out of order or repeated, a count that differs)
    raises :class:`InvalidIndex`: the caller then rebuilds with ``pack``.
    """
    listed = root.category(category)
    refs = listed.starts
    pages: list[Page] = []
    seen: set[str] = set()
    for n, ref in enumerate(refs):
        where = page_key(category, ref.id)
        if ref.id not in documents:
            raise invalid(where, "listed in index.json but missing")
        following = refs[n + 1] if n + 1 < len(refs) else None
        parsed = parse_page(documents[ref.id], where)
        for entry in parsed.page.entries:
            if entry.tag in seen:
                raise invalid(where, f"{entry.tag!r} is indexed twice")
            seen.add(entry.tag)
        pages.append(check_page(ref, following, parsed))
    loaded = LoadedPages(category=category, pages=tuple(pages))
    if loaded.count != listed.count:
        raise invalid(
            ROOT_KEY, f"{category} counts {listed.count} but its pages hold {loaded.count}"
        )
    return loaded
