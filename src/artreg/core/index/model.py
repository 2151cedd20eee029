"""The index's values: entries, pages, page outlines, their order and keys.

Pure. :class:`LoadedPages` is a category with every page read;
:class:`PageOutline` is what the root index says of a category without reading
a page (each page's id and first entry, the count, the newest entries).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from artreg.core.keys import download_url
from artreg.core.manifest import ARTREG_DIR, Build, format_time
from artreg.core.tags import Category
from artreg.errors import InvalidIndex

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
# A release tag is <prefix>MAJOR.MINOR.PATCH with no pre-release and no build
# metadata, so its whole semver precedence is the trailing three numbers.
_RELEASE_VERSION = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\Z")

SortKey = tuple[int, int, int, int, str]


def invalid(where: str, detail: str) -> InvalidIndex:
    """The one error for an index document that cannot be trusted."""
    return InvalidIndex(
        f"{where}: not a valid artreg index document: {detail}; "
        "it is derived data: the next `artreg apply` rebuilds it from the build manifests"
    )


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


def whole_seconds(moment: dt.datetime) -> dt.datetime:
    """``moment`` in UTC without its microseconds (what the documents can hold)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).replace(microsecond=0)


def entry_from_build(build: Build) -> Entry:
    """The index entry of ``build`` (``published`` truncated to seconds, as in documents)."""
    return Entry(
        tag=build.tag,
        category=build.category,
        published=whole_seconds(build.published),
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


def sort_entries(entries: Iterable[Entry]) -> list[Entry]:
    """Entries in index order (see :func:`order_key`)."""
    return sorted(entries, key=lambda entry: entry.sort_key)


@dataclass(frozen=True)
class Page:
    """One page: a stable id and a contiguous run of the category's order."""

    id: int
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class LoadedPages:
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
class PageOutline:
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


def next_ids(ids: Sequence[int]) -> dict[int, int | None]:
    """page id -> id of the page it links to (None for the last page), for pages in order."""
    return {page_id: (ids[i + 1] if i + 1 < len(ids) else None) for i, page_id in enumerate(ids)}


def outline_of(pageset: LoadedPages, newest: int | None = None) -> PageOutline:
    """The :class:`PageOutline` of a whole page set (``newest`` entries kept; None: all)."""
    entries = pageset.entries()
    return PageOutline(
        category=pageset.category,
        refs=tuple(PageRef.of(page.id, page.entries[0]) for page in pageset.pages),
        count=len(entries),
        newest=entries if newest is None else entries[:newest],
    )


def page_key(category: Category, page_id: int) -> str:
    """The page's object key, relative to the target root."""
    return f"{INDEX_PREFIX}{category.value}/{page_id}.json"
