"""Index documents as written: pages, the root ``index.json``, their bytes and fingerprints.

Pure; the JSON shapes are specified in ``docs/spec.md`` (sections 4, 6 and 7).
Each entry is written by :meth:`~artreg.core.index.model.Entry.to_json`, the
one entry shape of pages, the root's newest rows and ``latest.json``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from artreg.core.index.model import (
    DEFAULT_NEWEST,
    DEFAULT_PAGE_SIZE,
    HTML_KEY,
    INDEX_SCHEMA_VERSION,
    PAGE_KIND,
    PAGE_TO_ROOT,
    ROOT_KIND,
    LoadedPages,
    Page,
    PageOutline,
    next_ids,
    outline_of,
    page_key,
)
from artreg.core.manifest import format_time
from artreg.core.tags import PUBLISHED_CATEGORIES, Category


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


def page_documents(pageset: LoadedPages) -> dict[int, dict[str, Any]]:
    """Every page's document, by page id."""
    links = next_ids(pageset.ids)
    return {
        page.id: page_document(pageset.category, page, links[page.id]) for page in pageset.pages
    }


def fingerprint(builds: Iterable[tuple[str, str]]) -> str:
    """``sha256:`` of the sorted lines ``tag<TAB>etag`` (etag without surrounding quotes)."""
    lines = sorted(f"{tag}\t{etag.strip(chr(34))}\n" for tag, etag in builds)
    return "sha256:" + hashlib.sha256("".join(lines).encode()).hexdigest()


def root_document(
    pagesets: Iterable[LoadedPages | PageOutline],
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
    category given as a :class:`PageOutline` (updated without reading every page)
    holds no list of its tags: its fingerprint is taken from ``fingerprints``,
    and its ``newest`` must hold ``min(newest, count)`` entries. ``reclassified``:
    the builds indexed under the category their manifest records although the
    configuration now classifies their tag otherwise (written only when any).
    """
    by_category = {pageset.category: pageset for pageset in pagesets}
    categories: dict[str, Any] = {}
    for category in PUBLISHED_CATEGORIES:
        pageset = by_category.get(category, LoadedPages(category))
        if isinstance(pageset, LoadedPages):
            entries = pageset.entries()
            missing = [entry.tag for entry in entries if entry.tag not in etags]
            if missing:
                raise ValueError(f"no manifest etag for {', '.join(missing[:5])}")
            digest = fingerprint((entry.tag, etags[entry.tag]) for entry in entries)
            pages = outline_of(pageset, newest)
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
