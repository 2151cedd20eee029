"""HTML building blocks the site's pages share (:mod:`artreg.render.site`, the feed).

Every name from a manifest is escaped, every link is relative (so the pages work
under any prefix, on any static host) with each path segment percent-encoded.
"""

from __future__ import annotations

import datetime as dt
import html
from urllib.parse import quote


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
