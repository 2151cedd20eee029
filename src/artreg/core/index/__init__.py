"""The static index: pages per category and a small root, derived from build manifests.

Pure: no I/O, no clock (``generated`` is passed in), no store. The layout, the
ordering and the page-assignment rules are specified in ``docs/spec.md``.

- :mod:`.model`: entries, pages, :class:`LoadedPages` (a category with every
  page read), :class:`PageOutline` (what the root says of it), order and keys;
- :mod:`.paging`: which entries go on which page (:func:`pack`,
  :func:`edit_outline`, :func:`edit_loaded`), O(1) page writes per publish;
- :mod:`.documents`: the JSON written (pages, ``index.json``, fingerprints);
- :mod:`.parsing`: the JSON read back, every member checked.

``from artreg.core import index`` then ``index.X`` reaches the public API of all four.
"""

from __future__ import annotations

from artreg.core.index.documents import (
    dumps,
    fingerprint,
    page_document,
    page_documents,
    root_document,
    same_content,
)
from artreg.core.index.model import (
    DEFAULT_NEWEST,
    DEFAULT_PAGE_SIZE,
    FIRST_PAGE_ID,
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
    SortKey,
    describes,
    entry_from_build,
    next_ids,
    order_key,
    outline_of,
    page_key,
    sort_entries,
)
from artreg.core.index.paging import (
    LoadedEdit,
    OutlineEdit,
    PageLoader,
    edit_loaded,
    edit_outline,
    front_entries,
    pack,
    pack_all,
)
from artreg.core.index.parsing import (
    CategoryIndex,
    ParsedPage,
    RootIndex,
    check_page,
    loads,
    parse_category,
    parse_page,
    parse_root,
)
from artreg.errors import InvalidIndex

__all__ = [
    "DEFAULT_NEWEST",
    "DEFAULT_PAGE_SIZE",
    "FIRST_PAGE_ID",
    "HTML_KEY",
    "INDEX_PREFIX",
    "INDEX_SCHEMA_VERSION",
    "MAX_INDEX_BYTES",
    "MAX_PAGE_ID",
    "PAGE_KIND",
    "PAGE_TO_ROOT",
    "ROOT_KEY",
    "ROOT_KIND",
    "CategoryIndex",
    "Entry",
    "EntryFile",
    "EntryImage",
    "InvalidIndex",
    "LoadedEdit",
    "LoadedPages",
    "OutlineEdit",
    "Page",
    "PageLoader",
    "PageOutline",
    "PageRef",
    "ParsedPage",
    "RootIndex",
    "SortKey",
    "check_page",
    "describes",
    "dumps",
    "edit_loaded",
    "edit_outline",
    "entry_from_build",
    "fingerprint",
    "front_entries",
    "loads",
    "next_ids",
    "order_key",
    "outline_of",
    "pack",
    "pack_all",
    "page_document",
    "page_documents",
    "page_key",
    "parse_category",
    "parse_page",
    "parse_root",
    "root_document",
    "same_content",
    "sort_entries",
]
