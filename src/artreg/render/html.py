"""The human ``index.html``: releases in view, extra and dev builds folded away.

Pure: returns a string. Readable without JavaScript, inline CSS only; every
name from a manifest is escaped, every link is relative (so the page works
under any prefix, on any static host) with each path segment percent-encoded.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import quote

from artreg.core.index import (
    DEFAULT_PAGE_SIZE,
    ROOT_KEY,
    Entry,
    EntryFile,
    LoadedPages,
    page_key,
)
from artreg.core.manifest import manifest_key
from artreg.core.tags import Category

DEFAULT_OTHER_ROWS = 50

_TITLES = {
    Category.RELEASE: "Releases",
    Category.EXTRA: "Pre-releases and other versions",
    Category.DEV: "Development builds",
}

_CSS = """
:root{color-scheme:light dark;--line:#8884;--dim:#777}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;max-width:64rem;
margin:0 auto;padding:1rem 1.25rem 3rem}
h1{font-size:1.6rem;margin:.5rem 0 .2rem}h2{font-size:1.2rem;margin:1.6rem 0 .5rem}
.meta,.more,.empty,footer{color:var(--dim);font-size:.9rem}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;vertical-align:top;padding:.4rem .6rem;border-bottom:1px solid var(--line)}
th{font-size:.8rem;text-transform:uppercase;letter-spacing:.04em;color:var(--dim)}
td.tag{font-weight:600;white-space:nowrap}td.date{white-space:nowrap}
ul.files{list-style:none;margin:0;padding:0}ul.files li{margin:.1rem 0}
.platform{display:inline-block;min-width:8.5rem;color:var(--dim)}
.size{color:var(--dim);margin:0 .4rem}
code{font:.85em ui-monospace,SFMono-Regular,Menlo,monospace}
code.sha{display:inline-block;max-width:10ch;overflow:hidden;text-overflow:ellipsis;
white-space:nowrap;vertical-align:bottom;color:var(--dim)}
.commit{font-weight:400;color:var(--dim)}
details{margin-top:1.2rem;border:1px solid var(--line);border-radius:6px;padding:.3rem .8rem}
summary{cursor:pointer;font-weight:600;font-size:1.1rem;padding:.3rem 0}
a{color:#0a5bd3}@media(prefers-color-scheme:dark){a{color:#7ab0ff}}
""".strip()


def human_size(size: int) -> str:
    """Decimal units, one decimal place: ``41.2 MB``."""
    if size < 1000:
        return f"{size} B"
    value = float(size)
    for unit in ("kB", "MB", "GB", "TB", "PB"):
        value /= 1000
        if value < 999.95 or unit == "PB":
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def href(key: str) -> str:
    """A relative URL for an object key: each path segment percent-encoded."""
    return "/".join(quote(segment, safe="") for segment in key.split("/"))


def esc(text: str) -> str:
    """``text`` escaped for HTML text and attribute values."""
    return html.escape(text, quote=True)


def time_html(moment: dt.datetime) -> str:
    """A ``<time>`` element for ``moment``, shown in UTC to the minute."""
    utc = moment.astimezone(dt.timezone.utc)
    return (
        f'<time datetime="{utc.strftime("%Y-%m-%dT%H:%M:%SZ")}">'
        f"{utc.strftime('%Y-%m-%d %H:%M')} UTC</time>"
    )


def _file_item(file: EntryFile) -> str:
    return (
        f'<li><span class="platform">{esc(file.platform)}</span> '
        f'<a href="{esc(href(file.key))}" download>{esc(file.name)}</a>'
        f'<span class="size">{human_size(file.size)}</span>'
        f'<code class="sha" title="sha256:{esc(file.sha256)}">{esc(file.sha256)}</code></li>'
    )


def _row(entry: Entry) -> str:
    commit = ""
    if entry.commit is not None and entry.commit != entry.tag:
        commit = (
            f' <code class="commit" title="{esc(entry.commit)}">{esc(entry.commit[:10])}</code>'
        )
    files = "".join(_file_item(f) for f in entry.files) or "<li>(no files)</li>"
    return (
        f'<tr class="build" data-tag="{esc(entry.tag)}">'
        f'<td class="tag"><a href="{esc(href(manifest_key(entry.tag)))}" '
        f'title="build manifest">{esc(entry.tag)}</a>{commit}</td>'
        f'<td class="date">{time_html(entry.published)}</td>'
        f'<td><ul class="files">{files}</ul></td></tr>'
    )


def _table(category: Category, entries: Sequence[Entry], total: int, pages: Sequence[str]) -> str:
    noun = _TITLES[category].lower()
    if not entries:
        return f'<p class="empty">No {noun} published.</p>'
    rows = "\n".join(_row(entry) for entry in entries)
    parts = [
        f'<table class="builds" id="{category.value}-builds">'
        "<thead><tr><th>Version</th><th>Published</th><th>Downloads</th></tr></thead>"
        f"<tbody>\n{rows}\n</tbody></table>"
    ]
    if pages:
        links = " · ".join(
            f'<a href="{esc(href(url))}">page {n}</a>' for n, url in enumerate(pages, start=1)
        )
        shown = f"Showing {len(entries)} of {total}. " if len(entries) < total else ""
        parts.append(f'<p class="more">{shown}All {total} as JSON: {links}</p>')
    return "\n".join(parts)


def render_index(
    project: str,
    releases: Sequence[Entry],
    extra: Sequence[Entry],
    dev: Sequence[Entry],
    *,
    totals: Mapping[Category, int],
    page_links: Mapping[Category, Sequence[str]],
    generated: dt.datetime,
) -> str:
    """The page: ``releases`` in a table, ``extra`` and ``dev`` in closed ``<details>``.

    The entry lists are the rows to show (already ordered and bounded);
    ``totals`` and ``page_links`` (JSON page URLs relative to index.html, in
    order) say where the rest is.
    """
    shown = {Category.RELEASE: releases, Category.EXTRA: extra, Category.DEV: dev}

    def total(category: Category) -> int:
        return totals.get(category, len(shown[category]))

    def body(category: Category) -> str:
        return _table(category, shown[category], total(category), page_links.get(category, ()))

    folded = "\n".join(
        f'<details id="{category.value}"><summary>{_TITLES[category]} '
        f'<span class="count">({total(category)})</span></summary>\n{body(category)}\n</details>'
        for category in (Category.EXTRA, Category.DEV)
    )
    title = f"{esc(project)} downloads"
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
{_CSS}
</style>
</head>
<body>
<header>
<h1>{title}</h1>
<p class="meta">Updated {time_html(generated)} · machine-readable index:
<a href="{ROOT_KEY}">{ROOT_KEY}</a></p>
</header>
<main>
<section id="release">
<h2>{_TITLES[Category.RELEASE]} <span class="count">({total(Category.RELEASE)})</span></h2>
{body(Category.RELEASE)}
</section>
{folded}
</main>
<footer><p>Every file is listed with its SHA-256 (select it to copy the whole digest).
Published with artreg.</p></footer>
</body>
</html>
"""


def render_root_html(
    project: str,
    pagesets: Iterable[LoadedPages],
    *,
    generated: dt.datetime,
    max_releases: int = DEFAULT_PAGE_SIZE,
    max_other: int = DEFAULT_OTHER_ROWS,
) -> str:
    """``index.html`` for the current pages: bounded rows, links to the JSON pages for the rest."""
    by_category = {pageset.category: pageset for pageset in pagesets}

    def rows(category: Category, limit: int) -> tuple[Entry, ...]:
        pageset = by_category.get(category)
        return () if pageset is None else pageset.entries()[:limit]

    return render_index(
        project,
        rows(Category.RELEASE, max_releases),
        rows(Category.EXTRA, max_other),
        rows(Category.DEV, max_other),
        totals={category: pageset.count for category, pageset in by_category.items()},
        page_links={
            category: [page_key(category, page_id) for page_id in pageset.ids]
            for category, pageset in by_category.items()
        },
        generated=generated,
    )
