"""``audit.find_orphans``: which unreferenced objects are collected, and when (a table)."""

from __future__ import annotations

import datetime as dt

import pytest

from artreg.audit import find_orphans
from artreg.stores import ObjectInfo

NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
GRACE = dt.timedelta(hours=24)
HOUR = dt.timedelta(hours=1)

REFERENCED = {
    "index.json",
    "index.html",
    "_artreg/lease.json",
    "_artreg/builds/v1.0.0.json",
    "_artreg/index/release/1.json",
    "v1.0.0/linux/amd64/app",
}

# key, age, referenced?, unreadable manifest?, expected: "old" | "young" | "kept"
CASES = [
    ("v1.0.0/linux/amd64/app", 1000 * HOUR, True, False, "kept"),
    ("index.json", 1000 * HOUR, True, False, "kept"),
    ("_artreg/lease.json", 1000 * HOUR, True, False, "kept"),
    ("_artreg/index/release/1.json", 1000 * HOUR, True, False, "kept"),
    ("v0.9.0/linux/amd64/app", 25 * HOUR, False, False, "old"),
    ("v0.9.0/linux/amd64/app.sig", 23 * HOUR, False, False, "young"),
    ("v0.9.0/linux/amd64/edge", GRACE, False, False, "young"),  # exactly the grace: kept
    ("v0.9.0/linux/amd64/edge2", GRACE + dt.timedelta(seconds=1), False, False, "old"),
    ("_artreg/index/dev/9.json", 48 * HOUR, False, False, "old"),  # a page nobody links
    ("_artreg/builds/not a tag.json", 1000 * HOUR, False, True, "kept"),  # verify reports it
    ("v2/garage/blobs/sha256:abc", 1000 * HOUR, False, False, "kept"),  # swept by reachability
    ("v2/garage/manifests/v1.0.0", 1000 * HOUR, False, False, "kept"),
    ("stray.txt", dt.timedelta(0), False, False, "young"),
    ("future/clock/skew", -HOUR, False, False, "young"),  # LastModified ahead of our clock
]


def info(key: str, age: dt.timedelta) -> ObjectInfo:
    return ObjectInfo(key, 10, "0" * 32, NOW - age)


@pytest.mark.parametrize(
    ("key", "age", "referenced", "unreadable", "expected"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_table(
    key: str, age: dt.timedelta, referenced: bool, unreadable: bool, expected: str
) -> None:
    assert (key in REFERENCED) == referenced
    old, young = find_orphans(
        [info(key, age)],
        REFERENCED,
        [key] if unreadable else [],
        clock_now=NOW,
        grace=GRACE,
    )
    verdict = "old" if old else "young" if young else "kept"
    assert verdict == expected
    for orphan in old + young:
        assert orphan.info.key == key
        assert orphan.age == age


def test_whole_listing_at_once_and_the_delete_steps() -> None:
    listing = [info(key, age) for key, age, *_ in CASES]
    unreadable = [key for key, _, _, bad, _ in CASES if bad]
    old, young = find_orphans(listing, REFERENCED, unreadable, clock_now=NOW, grace=GRACE)
    assert [o.info.key for o in old] == [k for k, *_, e in CASES if e == "old"]
    assert [o.info.key for o in young] == [k for k, *_, e in CASES if e == "young"]
    steps = {o.info.key: o.step().action for o in old}
    assert steps["_artreg/index/dev/9.json"].kind.value == "page"
    assert steps["v0.9.0/linux/amd64/app"].kind.value == "file"
    assert steps["v0.9.0/linux/amd64/app"].reason == (
        "orphan: referenced by no manifest, 25.0 h old"
    )
    assert steps["_artreg/index/dev/9.json"].reason.endswith(", 2 days old")
    assert all(a.op.value == "delete" for a in steps.values())


def test_grace_zero_collects_everything_unreferenced_that_is_not_new() -> None:
    listing = [info("a/b/c", dt.timedelta(seconds=1)), info("a/b/d", dt.timedelta(0))]
    old, young = find_orphans(listing, set(), [], clock_now=NOW, grace=dt.timedelta(0))
    assert [o.info.key for o in old] == ["a/b/c"]
    assert [o.info.key for o in young] == ["a/b/d"]
