"""Root and page documents read back from a target: anything malformed is one InvalidIndex."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from fuzzing import fuzz
from hostile import mutated, raw_bytes
from hypothesis import given

from artreg.core import index
from artreg.core.index import Entry, EntryFile, InvalidIndex
from artreg.core.tags import Category

NOW = dt.datetime(2025, 6, 1, 12, tzinfo=dt.timezone.utc)


def entry(tag: str, category: Category, hours: int = 0) -> Entry:
    return Entry(
        tag=tag,
        category=category,
        published=NOW - dt.timedelta(hours=hours),
        commit=None if hours % 2 else "a" * 40,
        files=(EntryFile("linux/amd64", "app", f"{tag}/linux/amd64/app", 12, "b" * 64),),
    )


ENTRIES = [
    *(entry(f"v1.{n}.0", Category.RELEASE) for n in range(3)),
    entry("v2.0.0-rc.1", Category.EXTRA),
    *(entry(f"{n:x}" * 40, Category.DEV, n) for n in range(1, 4)),
]
PAGESETS = index.pack_all(ENTRIES, page_size=2)
ROOT: dict[str, Any] = index.root_document(
    PAGESETS.values(),
    project="demo",
    generated=NOW,
    etags={e.tag: "0" * 32 for e in ENTRIES},
    page_size=2,
    reclassified={"v0.9.0": Category.RELEASE},
)
PAGE: dict[str, Any] = index.page_documents(PAGESETS[Category.RELEASE])[1]


def read_root(body: bytes) -> None:
    try:
        index.root_from_document(index.loads(body, "index.json"))
    except InvalidIndex as exc:
        assert exc.message.startswith("index.json: not a valid artreg index document: ")
        assert exc.message.endswith("the next `artreg apply` rebuilds it from the build manifests")


def read_page(body: bytes) -> None:
    key = "_artreg/index/release/1.json"
    try:
        parsed = index.parse_page(index.loads(body, key), key)
    except InvalidIndex as exc:
        assert exc.message.startswith(f"{key}: not a valid artreg index document: ")
        return
    # Whatever reads back is usable: entries in order, each one sortable.
    keys = [e.sort_key for e in parsed.page.entries]
    assert keys == sorted(keys)


def test_valid_documents_read_back() -> None:
    root = index.root_from_document(index.loads(index.dumps(ROOT), "index.json"))
    assert root.reclassified == {"v0.9.0": Category.RELEASE}
    page = index.parse_page(index.loads(index.dumps(PAGE), "p"), "p")
    assert page.page == PAGESETS[Category.RELEASE].pages[0]


@pytest.mark.parametrize(
    ("doc", "detail"),
    [
        ({**ROOT, "pageSize": 1.5}, "pageSize: expected an integer >= 1"),
        ({**ROOT, "reclassified": {"v1.0.0": "bogus"}}, "v1.0.0: expected release, extra or dev"),
        ({**ROOT, "reclassified": []}, "reclassified: expected an object"),
    ],
)
def test_malformed_root_names_the_member(doc: dict[str, Any], detail: str) -> None:
    with pytest.raises(InvalidIndex, match=r"index\.json: not a valid artreg index document: "):
        index.root_from_document(index.loads(json.dumps(doc).encode(), "index.json"))
    with pytest.raises(InvalidIndex) as caught:
        index.root_from_document(doc)
    assert detail in caught.value.message


@pytest.mark.parametrize(
    "token", ["1e999", "1" * 5000, "[" * 100_000 + "]" * 100_000, "NaN", "-Infinity"]
)
@pytest.mark.parametrize("member", ['"count": 3', '"page": 1'])
def test_planted_numbers_and_nesting_are_one_error(token: str, member: str) -> None:
    for doc in (ROOT, PAGE):
        text = index.dumps(doc).decode()
        if member.replace(" ", "") in text:
            body = text.replace(member.replace(" ", ""), member.split(":")[0] + ":" + token)
            with pytest.raises(InvalidIndex):
                index.loads(body.encode(), "index.json")


def test_page_ids_are_bounded_in_digits() -> None:
    doc = json.loads(json.dumps(ROOT))
    doc["categories"]["release"]["pages"][0] = "_artreg/index/release/" + "1" * 5000 + ".json"
    with pytest.raises(InvalidIndex, match=r"pages\[0\]: expected a page of release"):
        index.root_from_document(doc)
    page = {**PAGE, "next": "9" * 100 + ".json"}
    with pytest.raises(InvalidIndex, match=r"next: expected '<page id>\.json' or null"):
        index.parse_page(page, "p")


@fuzz()
@given(raw_bytes)
def test_raw_bytes_are_a_root_or_one_error(body: bytes) -> None:
    read_root(body)
    read_page(body)


@fuzz()
@given(mutated(ROOT))
def test_damaged_roots_are_a_root_or_one_error(body: bytes) -> None:
    read_root(body)


@fuzz()
@given(mutated(PAGE))
def test_damaged_pages_are_a_page_or_one_error(body: bytes) -> None:
    read_page(body)
