from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from artreg.core.index import Entry, EntryFile, EntryImage
from artreg.core.latest import (
    Mirror,
    highest_by_directory,
    highest_extra,
    highest_release,
    latest_document,
    mirror,
    mirrors_from_record,
    plan_mirror,
    record_document,
    url,
)
from artreg.core.tags import Category, Convention

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "schemas" / "latest.schema.json"


def entry(tag: str, day: int, category: Category = Category.RELEASE, name: str = "app") -> Entry:
    return Entry(
        tag=tag,
        category=category,
        published=dt.datetime(2025, 5, day, tzinfo=dt.timezone.utc),
        commit=None,
        files=tuple(
            EntryFile(
                platform=p,
                name=name,
                key=f"{tag.replace('+', '_')}/{p}/{name}",
                size=3,
                sha256=hashlib.sha256(f"{tag}{p}".encode()).hexdigest(),
            )
            for p in ("linux/amd64", "linux/arm64")
        ),
    )


HISTORY = [
    entry("v1.0.0", 1),
    entry("v1.1.0", 2),
    entry("v1.0.1", 3),  # backport, published last
    entry("v1.2.0-rc.1", 4, Category.EXTRA),
    entry("v1.2.0-rc.2", 5, Category.EXTRA),
    entry("v1.1.1+debug", 6, Category.EXTRA),
    entry("a" * 40, 7, Category.DEV),
]


def test_highest_release_ignores_backports_extras_and_yanked() -> None:
    assert highest_release(HISTORY).tag == "v1.1.0"  # type: ignore[union-attr]
    assert highest_release(HISTORY, {"v1.1.0"}).tag == "v1.0.1"  # type: ignore[union-attr]
    assert highest_release([e for e in HISTORY if e.category is not Category.RELEASE]) is None
    assert highest_release([entry("v0.10.0", 1), entry("v0.9.0", 2)]).tag == "v0.10.0"  # type: ignore[union-attr]


def test_highest_extra_by_semver_precedence() -> None:
    convention = Convention()
    assert highest_extra(HISTORY, convention).tag == "v1.2.0-rc.2"  # type: ignore[union-attr]
    assert highest_extra(HISTORY, convention, {"v1.2.0-rc.2"}).tag == "v1.2.0-rc.1"  # type: ignore[union-attr]
    assert highest_extra(HISTORY[:3], convention) is None


def tags(highest: dict[str, Any]) -> dict[str, str | None]:
    return {directory: e.tag if e else None for directory, e in highest.items()}


@pytest.mark.parametrize(
    ("entries", "extras", "yanked", "expected"),
    [
        (HISTORY, None, (), {"latest": "v1.1.0"}),
        (HISTORY, "latest-rc", (), {"latest": "v1.1.0", "latest-rc": "v1.2.0-rc.2"}),
        (HISTORY, "latest-rc", {"v1.1.0", "v1.2.0-rc.2"},
         {"latest": "v1.0.1", "latest-rc": "v1.2.0-rc.1"}),
        (HISTORY[3:], "latest-rc", (), {"latest": None, "latest-rc": "v1.2.0-rc.2"}),
        (HISTORY[:3], "latest-pre", (), {"latest": "v1.1.0", "latest-pre": None}),
        ([], "latest-rc", (), {"latest": None, "latest-rc": None}),
    ],
)  # fmt: skip
def test_highest_by_directory_names_what_each_mirror_serves(
    entries: list[Entry], extras: str | None, yanked: set[str], expected: dict[str, str | None]
) -> None:
    assert tags(highest_by_directory(iter(entries), Convention(), extras, yanked)) == expected


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("v1.0.0/linux/amd64/app", "v1.0.0/linux/amd64/app"),
        ("v1.0.0_x/linux/amd64/a b#?%+.tar", "v1.0.0_x/linux/amd64/a%20b%23%3F%25%2B.tar"),
        ("v1/p/é", "v1/p/%C3%A9"),
    ],
)
def test_url_encodes_each_segment(key: str, expected: str) -> None:
    assert url(key) == expected


def test_mirror_and_plan() -> None:
    new = mirror(entry("v1.1.0", 2), signed=True)
    assert new.copies == (
        ("latest/linux/amd64/app", "v1.1.0/linux/amd64/app"),
        ("latest/linux/arm64/app", "v1.1.0/linux/arm64/app"),
        ("latest/SHA256SUMS", "v1.1.0/SHA256SUMS"),
        ("latest/SHA256SUMS.sig", "v1.1.0/SHA256SUMS.sig"),
    )
    first = plan_mirror(None, new)
    assert first.copies == new.copies and first.deletes == ()
    assert plan_mirror(new, new).copies == ()  # republishing the same latest copies nothing
    renamed = mirror(entry("v1.2.0", 8, name="app2"))
    plan = plan_mirror(new, renamed)
    assert plan.copies == renamed.copies
    assert plan.deletes == (
        "latest/linux/amd64/app",
        "latest/linux/arm64/app",
        "latest/SHA256SUMS.sig",
    )
    assert plan_mirror(new, None).deletes == new.keys
    rc = mirror(entry("v1.2.0-rc.2", 5, Category.EXTRA), directory="latest-rc")
    assert all(dst.startswith("latest-rc/") for dst in rc.keys)


@given(st.lists(st.sampled_from(HISTORY), unique=True), st.lists(st.sampled_from(HISTORY)))
def test_plan_deletes_only_recorded_keys(before: list[Entry], after: list[Entry]) -> None:
    old = highest_release(before)
    new = highest_release(after)
    previous = None if old is None else mirror(old)
    target = None if new is None else mirror(new)
    plan = plan_mirror(previous, target)
    recorded = set(previous.keys) if previous else set()
    assert set(plan.deletes) <= recorded
    assert not set(plan.deletes) & set(target.keys if target else ())


def test_record_round_trip_and_untrusted_records() -> None:
    mirrors = (mirror(entry("v1.1.0", 2)), mirror(entry("v1.2.0-rc.2", 5), directory="latest-rc"))
    doc = json.loads(json.dumps(record_document(mirrors)))
    assert mirrors_from_record(doc) == mirrors
    for broken in (
        None,
        [],
        {"kind": "other", "mirrors": []},
        {"kind": "artreg.mirrors", "mirrors": [{"directory": "latest"}]},
        # a record claiming keys outside its directory proves nothing
        {
            "kind": "artreg.mirrors",
            "mirrors": [{"directory": "latest", "tag": "v1", "copies": [["robots.txt", "v1/x"]]}],
        },
        # a record naming a tag's directory (or any other) as its tree claims a build's files
        {
            "kind": "artreg.mirrors",
            "mirrors": [
                {
                    "directory": "v1.1.0",
                    "tag": "v1.0.0",
                    "copies": [["v1.1.0/linux/amd64/app", "v1.0.0/linux/amd64/app"]],
                }
            ],
        },
        # a copy whose destination is not the mirror of its source
        {
            "kind": "artreg.mirrors",
            "mirrors": [
                {
                    "directory": "latest",
                    "tag": "v1.0.0",
                    "copies": [["latest/robots.txt", "v1.0.0/linux/amd64/app"]],
                }
            ],
        },
        # sources outside the build's directory, or not a build's file
        *(
            {
                "kind": "artreg.mirrors",
                "mirrors": [
                    {"directory": "latest", "tag": "v1.0.0", "copies": [[f"latest/{p}", src]]}
                ],
            }
            for p, src in (
                ("x/y", "v0.9.0/x/y"),
                ("../robots.txt", "v1.0.0/../robots.txt"),
                ("a/b/c/d/e", "v1.0.0/a/b/c/d/e"),
                ("notes.txt", "v1.0.0/notes.txt"),
            )
        ),
        {
            "kind": "artreg.mirrors",
            "mirrors": [{"directory": "latest", "tag": "../x", "copies": []}],
        },
    ):
        assert mirrors_from_record(broken) == ()
    assert isinstance(mirrors[0], Mirror)


def test_documents_validate() -> None:
    schema: dict[str, Any] = json.loads(SCHEMA.read_text())
    Draft202012Validator.check_schema(schema)
    check = Draft202012Validator(schema)
    image = EntryImage("garage", "v1.1.0", "sha256:" + "c" * 64, "application/x")
    for signed in (False, True):
        with_image = replace(entry("v1.1.0", 2, name="a b+c"), images=(image,))
        doc = latest_document(with_image, signed=signed)
        check.validate(json.loads(json.dumps(doc)))
    assert doc["files"][0]["url"] == "v1.1.0/linux/amd64/a%20b%2Bc"
    assert doc["images"] == [
        {
            "repository": "garage",
            "tag": "v1.1.0",
            "digest": "sha256:" + "c" * 64,
            "mediaType": "application/x",
        }
    ]
    assert doc["checksums"] == {"key": "v1.1.0/SHA256SUMS", "url": "v1.1.0/SHA256SUMS"}
    assert entry("v1.0.0", 1).to_json()["images"] == []
