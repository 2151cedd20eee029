"""``releases.xml``: an Atom feed (RFC 4287) of the releases, newest first.

Pure: returns bytes. Ids are ``urn:uuid:`` names derived from the project and
the tag (uuid5), so an entry keeps its id whatever host serves the feed.
Links are relative to the feed (the target root); with a configured site URL
the feed carries it as ``xml:base`` so readers resolve them absolutely. Yanked
releases leave the feed.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable, Mapping
from xml.sax.saxutils import escape as _escape
from xml.sax.saxutils import quoteattr as _quoteattr

from artreg.core.index import Entry
from artreg.core.latest import FEED_KEY
from artreg.core.manifest import format_time
from artreg.core.tags import Category, encode_tag
from artreg.render.html import href
from artreg.render.terminal import human_size

DEFAULT_FEED_ENTRIES = 30
ATOM_NS = "http://www.w3.org/2005/Atom"
_NAMESPACE = uuid.UUID("6f6b2b3e-8b0f-5f2d-9d5e-617274726567")  # fixed: ids never change


# Characters XML 1.0 cannot hold even escaped: dropped from names read back from the bucket.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def escape(text: str) -> str:
    return _escape(_NOT_XML.sub("\ufffd", text))


def quoteattr(text: str) -> str:
    return _quoteattr(_NOT_XML.sub("\ufffd", text))


def feed_id(project: str) -> str:
    return uuid.uuid5(_NAMESPACE, f"feed:{project}").urn


def entry_id(project: str, tag: str) -> str:
    return uuid.uuid5(_NAMESPACE, f"build:{project}:{tag}").urn


def build_href(tag: str) -> str:
    """The build page's link relative to the target root: its directory."""
    return href(encode_tag(tag)) + "/"


def feed_entries(
    entries: Iterable[Entry], yanked: Mapping[str, str], limit: int = DEFAULT_FEED_ENTRIES
) -> list[Entry]:
    """The releases the feed lists: not yanked, newest published first, at most ``limit``."""
    kept = [e for e in entries if e.category is Category.RELEASE and e.tag not in yanked]
    kept.sort(key=lambda e: (e.published, e.tag), reverse=True)
    return kept[:limit]


def _entry(project: str, entry: Entry) -> str:
    files = "".join(
        f"<li>{escape(f.platform)}: <a href={quoteattr(href(f.key))}>{escape(f.name)}</a>"
        f" ({human_size(f.size)})</li>"
        for f in entry.files
    )
    content = f"<ul>{files}</ul>" if files else "<p>No files.</p>"
    when = format_time(entry.published)
    commit = f" ({escape(entry.commit[:12])})" if entry.commit else ""
    return (
        "<entry>\n"
        f"<title>{escape(project)} {escape(entry.tag)}</title>\n"
        f"<id>{entry_id(project, entry.tag)}</id>\n"
        f"<published>{when}</published>\n<updated>{when}</updated>\n"
        f'<link rel="alternate" type="text/html" href={quoteattr(build_href(entry.tag))}/>\n'
        f"<summary>{escape(entry.tag)}{commit}: {len(entry.files)} files</summary>\n"
        f'<content type="html">{escape(content)}</content>\n'
        "</entry>\n"
    )


def render_feed(
    project: str,
    entries: Iterable[Entry],
    *,
    generated: dt.datetime,
    yanked: Mapping[str, str] | None = None,
    base_url: str | None = None,
    limit: int = DEFAULT_FEED_ENTRIES,
) -> bytes:
    """The feed's bytes. ``updated`` is the newest entry's date (``generated`` when empty), so
    the feed changes only when its entries do."""
    shown = feed_entries(entries, yanked or {}, limit)
    updated = format_time(shown[0].published if shown else generated)
    base = f" xml:base={quoteattr(base_url)}" if base_url else ""
    body = "".join(_entry(project, entry) for entry in shown)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<feed xmlns="{ATOM_NS}"{base}>\n'
        f"<title>{escape(project)} releases</title>\n"
        f"<id>{feed_id(project)}</id>\n"
        f"<updated>{updated}</updated>\n"
        f"<author><name>{escape(project)}</name></author>\n"
        f'<link rel="self" type="application/atom+xml" href="{FEED_KEY}"/>\n'
        '<link rel="alternate" type="text/html" href="./"/>\n'
        "<generator>artreg</generator>\n"
        f"{body}</feed>\n"
    ).encode()
