"""Root and page documents read back from a target: anything malformed is one InvalidIndex."""

from __future__ import annotations

import datetime as dt
import json
import string
import urllib.parse
from dataclasses import replace
from typing import Any

import pytest
from fuzzing import fuzz
from hostile import mutated, raw_bytes
from hypothesis import given
from hypothesis import strategies as st

from artreg.core import index
from artreg.core.index import Entry, EntryFile, EntryImage, InvalidIndex
from artreg.core.keys import name_problem
from artreg.core.manifest import Build, FileEntry, ImageEntry, with_checksums
from artreg.core.tags import Category

NOW = dt.datetime(2025, 6, 1, 12, tzinfo=dt.timezone.utc)
# RFC 3986 unreserved characters, '%' of an escape and '/' between segments
URL_CHARACTERS = string.ascii_letters + string.digits + "-._~%/"


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
        index.parse_root(index.loads(body, "index.json"))
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
    root = index.parse_root(index.loads(index.dumps(ROOT), "index.json"))
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
        index.parse_root(index.loads(json.dumps(doc).encode(), "index.json"))
    with pytest.raises(InvalidIndex) as caught:
        index.parse_root(doc)
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
        index.parse_root(doc)
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


# --- entries: ready-to-use urls, images and checksums (one shape everywhere) ------------------

IMAGE = EntryImage("team/demo", "v1.0.0_x", "sha256:" + "c" * 64, "application/x")
FULL = Entry(
    tag="v1.0.0+x",
    category=Category.EXTRA,
    published=NOW,
    commit=None,
    files=(EntryFile("linux/amd64", "app@1:2~", "v1.0.0_x/linux/amd64/app@1:2~", 3, "d" * 64),),
    images=(IMAGE,),
    checksums="v1.0.0_x/SHA256SUMS",
)
FULL_PAGE: dict[str, Any] = index.page_document(Category.EXTRA, index.Page(1, (FULL,)), None)


def test_an_entry_document_carries_urls_images_and_checksums() -> None:
    assert FULL.to_json() == {
        "tag": "v1.0.0+x",
        "category": "extra",
        "published": "2025-06-01T12:00:00Z",
        "commit": None,
        "files": [
            {
                "platform": "linux/amd64",
                "name": "app@1:2~",
                "key": "v1.0.0_x/linux/amd64/app@1:2~",
                "url": "v1.0.0_x/linux/amd64/app%401%3A2~",
                "size": 3,
                "sha256": "d" * 64,
            }
        ],
        "images": [
            {
                "repository": "team/demo",
                "tag": "v1.0.0_x",
                "digest": "sha256:" + "c" * 64,
                "mediaType": "application/x",
            }
        ],
        "checksums": {"key": "v1.0.0_x/SHA256SUMS", "url": "v1.0.0_x/SHA256SUMS"},
    }
    assert FULL_PAGE["entries"] == [FULL.to_json()]


def test_entry_from_build_takes_images_and_checksums_from_the_manifest() -> None:
    build = with_checksums(
        Build(
            "v1.0.0+x",
            Category.EXTRA,
            NOW,
            None,
            (FileEntry("a", "linux/amd64", "app@1:2~", FULL.files[0].key, 3, "d" * 64),),
            (ImageEntry("img", "team/demo", "v1.0.0_x", IMAGE.digest, "application/x", 9),),
        )
    )
    assert index.entry_from_build(build) == FULL
    assert index.entry_from_build(replace(build, checksums=None)).checksums is None
    assert index.entry_from_build(replace(build, checksums=None)).to_json()["checksums"] is None


def test_an_entry_written_before_urls_images_and_checksums_reads_back() -> None:
    old = json.loads(json.dumps(FULL_PAGE))
    for item in old["entries"]:
        del item["images"], item["checksums"], item["files"][0]["url"]
    [entry] = index.parse_page(old, "p").page.entries
    assert (entry.images, entry.checksums) == (None, None)
    assert entry.files == FULL.files
    # the old entry says nothing of images: it still describes its manifest
    assert index.describes(entry, replace(FULL, checksums=None))
    assert not index.describes(entry, FULL)  # but not checksums the manifest lists
    assert not index.describes(FULL, replace(FULL, images=()))
    # written again, it keeps saying nothing of images
    again = index.page_document(Category.EXTRA, index.Page(1, (entry,)), None)
    assert "images" not in again["entries"][0]
    assert again["entries"][0]["files"][0]["url"] == FULL.files[0].url
    assert index.parse_page(again, "p").page.entries == (entry,)


def _damage(path: str, value: object) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(json.dumps(FULL_PAGE))
    parent: Any = doc["entries"][0]
    *parts, last = path.split(".")
    for part in parts:
        parent = parent[int(part)] if part.isdigit() else parent[part]
    parent[int(last) if last.isdigit() else last] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value", "detail"),
    [
        ("files.0.url", "v1.0.0_x/linux/amd64/app@1:2~", "files[0].url: expected 'v1.0.0_x/"),
        ("files.0.url", "//evil.example/x", "entries[0].files[0].url: expected"),
        ("files.0.url", "../../../v2.0.0/linux/amd64/app", "files[0].url: expected"),
        ("files.0.url", 3, "files[0].url: expected"),
        ("images.0.tag", "v2.0.0", "images[0]: image tag 'v2.0.0': the build's image tag is"),
        ("images.0.repository", "../x", "images[0]: repository '../x': not an OCI repository"),
        ("images.0.repository", "Team/Demo", "not an OCI repository name"),
        ("images.0.digest", "sha256:" + "C" * 64, "images[0]: digest 'sha256:CCC"),
        ("images.0.digest", "md5:00", "expected sha256:<64 lowercase hex digits>"),
        ("images.0.mediaType", None, "images[0].mediaType: expected a string"),
        ("images.0", "team/demo:v1.0.0_x", "images[0]"),
        ("images", {}, "images: expected an array"),
        ("checksums", "v1.0.0_x/SHA256SUMS", "checksums"),
        ("checksums.key", "v2.0.0/SHA256SUMS", "checksums.key: expected the build's own"),
        ("checksums.key", "v1.0.0_x/linux/amd64/app@1:2~", "checksums.key: expected"),
        ("checksums.key", "//evil.example/SHA256SUMS", "checksums.key: expected"),
        ("checksums.url", "//evil.example/SHA256SUMS", "checksums.url: expected"),
        ("checksums.url", None, "checksums.url: expected a string"),
    ],
)
def test_hostile_entry_members_are_one_error(path: str, value: object, detail: str) -> None:
    where = "_artreg/index/extra/1.json"
    with pytest.raises(InvalidIndex) as caught:
        index.parse_page(_damage(path, value), where)
    message = caught.value.message
    assert message.startswith(f"{where}: not a valid artreg index document: ")
    assert detail in message, message
    # the same entry among the root's newest rows is refused the same way
    root = json.loads(json.dumps(ROOT))
    root["categories"]["extra"]["newest"] = _damage(path, value)["entries"]
    with pytest.raises(InvalidIndex):
        index.parse_root(root)


_names = st.text(
    st.characters(blacklist_characters="/+%#?", blacklist_categories=("Cc", "Cs", "Z")),
    min_size=1,
    max_size=20,
).filter(lambda name: name_problem(name) is None)
_repositories = st.from_regex(
    r"[a-z0-9]{1,5}(?:[._-][a-z0-9]{1,5}){0,2}(?:/[a-z0-9]{1,5})?", fullmatch=True
)


@st.composite
def _entries(draw: st.DrawFn) -> Entry:
    tag = draw(st.sampled_from(["v1.0.0", "v1.0.0+feat.1", "v2.3.4-rc.1"]))
    directory = tag.replace("+", "_")
    names = draw(st.lists(_names, max_size=3, unique=True))
    files = tuple(
        EntryFile("linux/amd64", name, f"{directory}/linux/amd64/{name}", n, f"{n:x}" * 64)
        for n, name in enumerate(names, start=1)
    )
    images = draw(
        st.none()
        | st.lists(
            st.builds(
                EntryImage,
                _repositories,
                st.just(directory),
                st.from_regex(r"sha256:[0-9a-f]{64}", fullmatch=True),
                st.text(min_size=1, max_size=30),
            ),
            max_size=2,
        ).map(tuple)
    )
    checksums = draw(st.sampled_from([None, f"{directory}/SHA256SUMS"]))
    return Entry(tag, Category.EXTRA, NOW, None, files, images, checksums)


@given(_entries())
def test_entries_round_trip_through_page_and_root_documents(entry: Entry) -> None:
    page = index.Page(1, (entry,))
    body = index.dumps(index.page_document(Category.EXTRA, page, None))
    assert index.parse_page(index.loads(body, "p"), "p").page == page
    for file, document in zip(entry.files, json.loads(body)["entries"][0]["files"], strict=True):
        assert urllib.parse.unquote(document["url"]) == file.key
        assert set(document["url"]) <= set(URL_CHARACTERS)
    pageset = index.pack(Category.EXTRA, [entry])
    root = index.root_document(
        [pageset], project="demo", generated=NOW, etags={entry.tag: "0" * 32}
    )
    read = index.parse_root(index.loads(index.dumps(root), "index.json"))
    assert read.category(Category.EXTRA).newest == (entry,)
