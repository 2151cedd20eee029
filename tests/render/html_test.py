"""The HTML building blocks the site's pages share."""

from __future__ import annotations

import datetime as dt

from artreg.render.html import esc, href, time_html


def test_href_encodes_each_segment() -> None:
    assert href("v0.8.2_feat/linux/amd64/garage") == "v0.8.2_feat/linux/amd64/garage"
    assert href("v1/linux/amd64/a b#?%.tar") == "v1/linux/amd64/a%20b%23%3F%25.tar"
    assert href("v1/p/<x>") == "v1/p/%3Cx%3E"


def test_esc_escapes_text_and_attributes() -> None:
    assert esc('<a href="x">&\'</a>') == "&lt;a href=&quot;x&quot;&gt;&amp;&#x27;&lt;/a&gt;"


def test_time_html_is_utc_to_the_minute() -> None:
    moment = dt.datetime(2025, 5, 20, 11, 30, 59, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert time_html(moment) == '<time datetime="2025-05-20T09:30:59Z">2025-05-20 09:30 UTC</time>'
