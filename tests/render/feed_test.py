from __future__ import annotations

import datetime as dt
import hashlib
import xml.etree.ElementTree as ET

import feedparser
from hypothesis import given, settings
from hypothesis import strategies as st

from artreg.core.index import Entry, EntryFile
from artreg.core.tags import Category
from artreg.render.feed import entry_id, feed_id, render_feed

NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.timezone.utc)


def entry(tag: str, day: int, category: Category = Category.RELEASE, name: str = "app") -> Entry:
    return Entry(
        tag=tag,
        category=category,
        published=dt.datetime(2025, 5, day, 9, 30, tzinfo=dt.timezone.utc),
        commit="0123456789abcdef0123456789abcdef01234567",
        files=tuple(
            EntryFile(
                platform=platform,
                name=name,
                key=f"{tag.replace('+', '_')}/{platform}/{name}",
                size=1234,
                sha256=hashlib.sha256(tag.encode()).hexdigest(),
            )
            for platform in ("linux/amd64", "linux/arm64")
        ),
    )


ENTRIES = [
    entry("v1.0.0", 1),
    entry("v1.1.0", 10),
    entry("v1.0.1", 12),  # a backport published last
    entry("v1.2.0-rc1", 13, Category.EXTRA),
    entry("v0.9.0", 2),
]


def parse(body: bytes) -> feedparser.FeedParserDict:
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return parsed


def test_feed_parses_without_bozo_newest_first() -> None:
    parsed = parse(render_feed("garage", ENTRIES, generated=NOW))
    assert [e.title for e in parsed.entries] == [
        "garage v1.0.1",
        "garage v1.1.0",
        "garage v0.9.0",
        "garage v1.0.0",
    ]
    assert parsed.feed.id == feed_id("garage")
    assert parsed.feed.updated == "2025-05-12T09:30:00Z"
    first = parsed.entries[0]
    assert first.id == entry_id("garage", "v1.0.1") and first.id.startswith("urn:uuid:")
    assert first.published == "2025-05-12T09:30:00Z"
    assert first.link == "v1.0.1/"
    assert any(link.href == "releases.xml" and link.rel == "self" for link in parsed.feed.links)


def test_ids_are_stable_and_distinct() -> None:
    again = parse(render_feed("garage", list(reversed(ENTRIES)), generated=NOW + dt.timedelta(1)))
    first = parse(render_feed("garage", ENTRIES, generated=NOW))
    assert [e.id for e in again.entries] == [e.id for e in first.entries]
    assert len({e.id for e in first.entries}) == len(first.entries)
    assert entry_id("garage", "v1.0.0") != entry_id("other", "v1.0.0")


def test_base_url_makes_links_absolute() -> None:
    parsed = parse(
        render_feed("garage", ENTRIES, generated=NOW, base_url="https://dl.example.org/garage/")
    )
    assert parsed.entries[0].link == "https://dl.example.org/garage/v1.0.1/"
    content = parsed.entries[0].content[0].value
    assert 'href="https://dl.example.org/garage/v1.0.1/linux/amd64/app"' in content


def test_yanked_leave_the_feed_and_length_is_bounded() -> None:
    many = [entry(f"v1.{n}.0", 1 + n % 28) for n in range(100)]
    parsed = parse(render_feed("garage", many, generated=NOW, limit=20))
    assert len(parsed.entries) == 20
    yanked = parse(render_feed("garage", ENTRIES, generated=NOW, yanked={"v1.0.1": "broken build"}))
    assert "garage v1.0.1" not in [e.title for e in yanked.entries]
    assert yanked.feed.updated == "2025-05-10T09:30:00Z"


def test_empty_feed_is_valid() -> None:
    parsed = parse(render_feed("garage", [], generated=NOW))
    assert parsed.entries == [] and parsed.feed.updated == "2025-06-01T12:00:00Z"


@given(
    project=st.text(min_size=1, max_size=20),
    name=st.text(min_size=1, max_size=20).filter(lambda n: "/" not in n),
)
@settings(max_examples=150)
def test_hostile_names_stay_well_formed(project: str, name: str) -> None:
    body = render_feed(project, [entry("v1.0.0", 3, name=name)], generated=NOW)
    ET.fromstring(body)  # well-formed XML whatever the names hold
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert len(parsed.entries) == 1
