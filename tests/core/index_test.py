from __future__ import annotations

import ast
import copy
import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from precedence import sort_by_precedence

from artreg.core import index
from artreg.core.index import (
    Entry,
    EntryFile,
    InvalidIndex,
    LoadedPages,
    dumps,
    edit_loaded,
    entry_from_build,
    loads,
    pack,
    page_document,
    page_documents,
    page_key,
    parse_category,
    parse_page,
    parse_root,
    root_document,
)
from artreg.core.manifest import Build, FileEntry, build_from_json
from artreg.core.ownership import intent_from_bytes, intent_key
from artreg.core.tags import Category, Convention

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.timezone.utc)


def make_entry(
    tag: str, category: Category = Category.DEV, seconds: int = 0, name: str = "garage"
) -> Entry:
    key = f"{tag.replace('+', '_')}/linux/amd64/{name}"
    return Entry(
        tag=tag,
        category=category,
        published=T0 + dt.timedelta(seconds=seconds),
        commit="c" * 40,
        files=(
            EntryFile(
                platform="linux/amd64",
                name=name,
                key=key,
                size=len(tag) * 1000,
                sha256=hashlib.sha256(key.encode()).hexdigest(),
            ),
        ),
    )


def dev_entries(count: int, start: int = 0) -> list[Entry]:
    return [make_entry(f"{n:040x}", Category.DEV, seconds=n) for n in range(start, start + count)]


def release_entries(count: int) -> list[Entry]:
    # versions 0.0.0 .. spread over minor/patch; every other patch left free for backports
    return [
        make_entry(f"v1.{n // 1000}.{(n % 1000) * 2}", Category.RELEASE, seconds=n)
        for n in range(count)
    ]


def tags(entries: Iterable[Entry]) -> list[str]:
    return [entry.tag for entry in entries]


def expected_order(entries: Iterable[Entry]) -> list[str]:
    return tags(index.sort_entries(entries))


def check_invariants(pageset: LoadedPages, page_size: int) -> None:
    ids = pageset.ids
    assert len(set(ids)) == len(ids)
    for page in pageset.pages:
        assert 1 <= len(page.entries) <= page_size
    all_entries = pageset.entries()
    assert tags(all_entries) == expected_order(all_entries)
    assert len(set(tags(all_entries))) == len(all_entries)


def documents_by_id(pageset: LoadedPages) -> dict[int, bytes]:
    return {page_id: dumps(doc) for page_id, doc in page_documents(pageset).items()}


def etags_for(entries: Iterable[Entry]) -> dict[str, str]:
    return {entry.tag: f'"{hashlib.md5(entry.tag.encode()).hexdigest()}"' for entry in entries}


# --- ordering ----------------------------------------------------------------------------------


def test_releases_sort_by_semver_highest_first() -> None:
    entries = [make_entry(t, Category.RELEASE) for t in ("v0.9.0", "v0.10.0", "v0.8.2", "v1.0.0")]
    assert expected_order(entries) == ["v1.0.0", "v0.10.0", "v0.9.0", "v0.8.2"]


def test_release_order_agrees_with_tags_precedence() -> None:
    versions = [f"v{a}.{b}.{c}" for a in (0, 1, 10) for b in (0, 2, 9, 11) for c in (0, 1, 20)]
    entries = [make_entry(t, Category.RELEASE) for t in versions]
    assert expected_order(entries) == list(reversed(sort_by_precedence(versions, Convention())))


def test_release_order_ignores_prefix() -> None:
    entries = [make_entry(t, Category.RELEASE) for t in ("2.0.0", "10.0.0", "9.1.0")]
    assert expected_order(entries) == ["10.0.0", "9.1.0", "2.0.0"]


def test_dev_and_extra_newest_first_ties_by_tag() -> None:
    entries = [
        make_entry("b" * 40, seconds=5),
        make_entry("a" * 40, seconds=5),
        make_entry("c" * 40, seconds=9),
        make_entry("d" * 40, seconds=1),
    ]
    assert expected_order(entries) == ["c" * 40, "a" * 40, "b" * 40, "d" * 40]
    extra = [
        make_entry("v1.0.0-rc1", Category.EXTRA, seconds=1),
        make_entry("v0.9.0+feat", Category.EXTRA, seconds=2),
    ]
    assert expected_order(extra) == ["v0.9.0+feat", "v1.0.0-rc1"]


def test_entry_from_build_truncates_to_seconds() -> None:
    build = Build(
        tag="v1.2.3",
        category=Category.RELEASE,
        published=dt.datetime(2024, 5, 1, 10, 0, 0, 999_999, tzinfo=dt.timezone.utc),
        commit=None,
        files=(
            FileEntry("garage", "linux/amd64", "garage", "v1.2.3/linux/amd64/garage", 7, "0" * 64),
        ),
    )
    entry = entry_from_build(build)
    assert entry.published == dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.timezone.utc)
    assert entry.files == (
        EntryFile("linux/amd64", "garage", "v1.2.3/linux/amd64/garage", 7, "0" * 64),
    )
    assert entry.to_json()["published"] == "2024-05-01T10:00:00Z"


# --- packing -----------------------------------------------------------------------------------


def test_pack_2500_gives_full_pages_and_links_reach_everything_once() -> None:
    entries = dev_entries(2500)
    pageset = pack(Category.DEV, entries, page_size=1000)
    assert [len(p.entries) for p in pageset.pages] == [1000, 1000, 500]
    assert pageset.ids == (1, 2, 3)

    root = root_document(
        [pageset], project="garage", generated=NOW, etags=etags_for(entries), page_size=1000
    )
    base = "https://example.org/_releases/"
    site = {urljoin(base, index.ROOT_KEY): json.loads(dumps(root))}
    for page_id, doc in page_documents(pageset).items():
        site[urljoin(base, page_key(Category.DEV, page_id))] = json.loads(dumps(doc))

    # the client: no server logic, only relative URL resolution
    root_url = urljoin(base, "index.json")
    seen: list[str] = []
    url: str | None = urljoin(root_url, site[root_url]["categories"]["dev"]["first"])
    while url is not None:
        page = site[url]
        seen.extend(e["tag"] for e in page["entries"])
        for e in page["entries"]:
            for f in e["files"]:
                assert urljoin(url, page["root"] + f["key"]) == base + f["key"]
        url = None if page["next"] is None else urljoin(url, page["next"])
    assert seen == expected_order(entries)
    assert [urljoin(root_url, u) for u in site[root_url]["categories"]["dev"]["pages"]] == [
        urljoin(base, page_key(Category.DEV, n)) for n in (1, 2, 3)
    ]


def test_pack_rejects_foreign_category_and_duplicates() -> None:
    with pytest.raises(ValueError, match="release entry in the dev pages"):
        pack(Category.DEV, [make_entry("v1.0.0", Category.RELEASE)])
    with pytest.raises(ValueError, match="given twice"):
        pack(Category.DEV, [make_entry("a" * 40), make_entry("a" * 40, seconds=3)])
    with pytest.raises(ValueError, match="page_size"):
        pack(Category.DEV, [], page_size=0)


def test_pack_empty_and_update_from_empty() -> None:
    empty = pack(Category.DEV, [])
    assert empty.pages == ()
    result = edit_loaded(empty, [make_entry("a" * 40)], [], page_size=3)
    assert result.loaded.ids == (1,)
    assert result.changed == (1,)
    gone = edit_loaded(result.loaded, [], ["a" * 40], page_size=3)
    assert gone.loaded.pages == () and gone.changed == () and gone.deleted == (1,)


# --- O(1) writes at scale ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dev_100k() -> tuple[list[Entry], LoadedPages]:
    entries = dev_entries(100_000)
    return entries, pack(Category.DEV, entries, page_size=1000)


def assert_update_matches_fresh(
    before: Sequence[Entry], result: index.LoadedEdit, added: Sequence[Entry], removed: set[str]
) -> None:
    merged = {e.tag: e for e in before}
    merged.update({e.tag: e for e in added})
    expected = [e for t, e in merged.items() if t not in removed]
    assert result.loaded.entries() == tuple(index.sort_entries(expected))


def test_new_dev_build_into_100k_writes_one_page(dev_100k: tuple[list[Entry], LoadedPages]) -> None:
    entries, pageset = dev_100k
    new = make_entry("f" * 40, seconds=200_000)
    result = edit_loaded(pageset, [new], [], page_size=1000)
    assert len(result.changed) <= 2 and result.deleted == ()
    # the first page was full: the new build opens a new first page, page 1 is untouched
    assert result.changed == (101,)
    assert result.loaded.ids[:2] == (101, 1)
    assert_update_matches_fresh(entries, result, [new], set())
    # the next 999 builds go to the same new page, one write each
    second = edit_loaded(result.loaded, [make_entry("e" * 40, seconds=200_001)], [], page_size=1000)
    assert second.changed == (101,)


def test_republish_into_100k(dev_100k: tuple[list[Entry], LoadedPages]) -> None:
    entries, pageset = dev_100k
    same = edit_loaded(pageset, [entries[50_000]], [], page_size=1000)
    assert same.changed == () and same.deleted == ()

    # same tag, same time, other files: replaced in place
    old = entries[50_000]
    changed_files = Entry(old.tag, old.category, old.published, old.commit, ())
    in_place = edit_loaded(pageset, [changed_files], [], page_size=1000)
    assert len(in_place.changed) == 1
    assert in_place.loaded.ids == pageset.ids

    # same tag published again later: moves from its page to the front
    moved = make_entry(old.tag, seconds=300_000)
    result = edit_loaded(pageset, [moved], [], page_size=1000)
    assert len(result.changed) <= 2
    assert result.loaded.entries()[0] == moved
    assert_update_matches_fresh(entries, result, [moved], set())


def test_backport_release_into_100k_writes_at_most_two_pages() -> None:
    entries = release_entries(100_000)
    pageset = pack(Category.RELEASE, entries, page_size=1000)
    backport = make_entry("v1.50.501", Category.RELEASE, seconds=10**7)
    result = edit_loaded(pageset, [backport], [], page_size=1000)
    assert len(result.changed) == 2  # a full page split in the middle: itself + its new half
    assert result.deleted == ()
    assert_update_matches_fresh(entries, result, [backport], set())
    check_invariants(result.loaded, 1000)
    # a new highest release: a new first page, nothing else written
    top = edit_loaded(pageset, [make_entry("v2.0.0", Category.RELEASE)], [], page_size=1000)
    assert len(top.changed) == 1


def test_expiring_oldest_10_of_100k(dev_100k: tuple[list[Entry], LoadedPages]) -> None:
    entries, pageset = dev_100k
    oldest = {e.tag for e in entries[:10]}
    result = edit_loaded(pageset, [], oldest, page_size=1000)
    assert len(result.changed) == 1 and result.deleted == ()
    assert_update_matches_fresh(entries, result, [], oldest)

    # with a last page of 5 entries: it is deleted and the page before it changes
    more = dev_entries(5, start=100_000)
    grown = pack(Category.DEV, entries + more, page_size=1000)
    assert len(grown.pages[-1].entries) == 5
    oldest = {e.tag for e in entries[:10]}
    result = edit_loaded(grown, [], oldest, page_size=1000)
    assert len(result.changed) == 1 and len(result.deleted) == 1
    assert result.deleted == (grown.ids[-1],)
    assert result.changed == (grown.ids[-2],)


# --- properties ----------------------------------------------------------------------------------

TAG_POOL = [f"{n:040x}" for n in range(24)]


@st.composite
def dev_entry_sets(draw: st.DrawFn, min_size: int = 0) -> list[Entry]:
    chosen = draw(st.lists(st.sampled_from(TAG_POOL), unique=True, min_size=min_size))
    return [make_entry(t, seconds=draw(st.integers(0, 6))) for t in chosen]


@st.composite
def release_entry_sets(draw: st.DrawFn) -> list[Entry]:
    versions = draw(
        st.lists(
            st.tuples(st.integers(0, 2), st.integers(0, 11), st.integers(0, 3)),
            unique=True,
            max_size=30,
        )
    )
    return [make_entry(f"v{a}.{b}.{c}", Category.RELEASE) for a, b, c in versions]


page_sizes = st.integers(1, 5)


@given(dev_entry_sets(), page_sizes)
def test_pack_concatenation_is_the_order(entries: list[Entry], page_size: int) -> None:
    pageset = pack(Category.DEV, entries, page_size)
    assert tags(pageset.entries()) == expected_order(entries)
    check_invariants(pageset, page_size)
    assert all(len(p.entries) == page_size for p in pageset.pages[:-1])


@given(release_entry_sets(), page_sizes)
def test_pack_releases(entries: list[Entry], page_size: int) -> None:
    pageset = pack(Category.RELEASE, entries, page_size)
    check_invariants(pageset, page_size)
    versions = tags(entries)
    assert tags(pageset.entries()) == list(reversed(sort_by_precedence(versions, Convention())))


def assert_reported_changes_are_exact(before: LoadedPages, result: index.LoadedEdit) -> None:
    old_docs = documents_by_id(before)
    new_docs = documents_by_id(result.loaded)
    differing = {i for i, body in new_docs.items() if old_docs.get(i) != body}
    assert set(result.changed) == differing
    assert len(result.changed) == len(set(result.changed))
    assert set(result.deleted) == set(old_docs) - set(new_docs)
    # write order: a page is written before any changed page that links to it
    position = {page_id: n for n, page_id in enumerate(result.loaded.ids)}
    assert [position[i] for i in result.changed] == sorted(
        (position[i] for i in result.changed), reverse=True
    )


@settings(max_examples=300)
@given(
    dev_entry_sets(),
    dev_entry_sets(),
    st.sets(st.sampled_from(TAG_POOL)),
    page_sizes,
)
def test_update_equals_fresh_pack(
    before: list[Entry], added: list[Entry], removed: set[str], page_size: int
) -> None:
    previous = pack(Category.DEV, before, page_size)
    result = edit_loaded(previous, added, removed, page_size)
    assert_update_matches_fresh(before, result, added, removed)
    check_invariants(result.loaded, page_size)
    assert_reported_changes_are_exact(previous, result)


@settings(max_examples=100)
@given(st.lists(st.tuples(dev_entry_sets(), st.sets(st.sampled_from(TAG_POOL))), max_size=8))
def test_update_sequences_keep_invariants(
    steps: list[tuple[list[Entry], set[str]]],
) -> None:
    pageset = LoadedPages(Category.DEV)
    state: dict[str, Entry] = {}
    for added, removed in steps:
        result = edit_loaded(pageset, added, removed, page_size=3)
        assert_reported_changes_are_exact(pageset, result)
        pageset = result.loaded
        state.update({e.tag: e for e in added})
        for tag in removed:
            state.pop(tag, None)
        check_invariants(pageset, 3)
        assert pageset.entries() == tuple(index.sort_entries(state.values()))
        # new ids never reuse an id that was live in the previous version
        assert not set(result.changed) & set(result.deleted)


@given(release_entry_sets(), release_entry_sets(), page_sizes)
def test_update_releases_equals_fresh_pack(
    before: list[Entry], added: list[Entry], page_size: int
) -> None:
    previous = pack(Category.RELEASE, before, page_size)
    result = edit_loaded(previous, added, set(), page_size)
    assert_update_matches_fresh(before, result, added, set())
    check_invariants(result.loaded, page_size)


# --- documents -----------------------------------------------------------------------------------


@given(dev_entry_sets(min_size=1), page_sizes)
def test_page_document_round_trip(entries: list[Entry], page_size: int) -> None:
    pageset = pack(Category.DEV, entries, page_size)
    docs = {i: json.loads(dumps(d)) for i, d in page_documents(pageset).items()}
    for page in pageset.pages:
        assert parse_page(docs[page.id], page_key(Category.DEV, page.id)).page == page
    root = parse_root(
        loads(
            dumps(root_document([pageset], project="p", generated=NOW, etags=etags_for(entries))),
            "index.json",
        ),
    )
    assert parse_category(root, Category.DEV, docs) == pageset


def test_page_document_shape() -> None:
    page = index.Page(id=3, entries=(make_entry("a" * 40),))
    doc = page_document(Category.DEV, page, 7)
    assert doc["next"] == "7.json" and doc["page"] == 3 and doc["root"] == "../../../"
    assert page_document(Category.DEV, page, None)["next"] is None
    body = dumps(doc)
    assert body.endswith(b"}\n") and body == dumps(json.loads(body))
    assert page_key(Category.DEV, 3) == "_artreg/index/dev/3.json"


def valid_page_doc() -> dict[str, Any]:
    page = index.Page(id=2, entries=(make_entry("b" * 40, seconds=2), make_entry("a" * 40)))
    return json.loads(dumps(page_document(Category.DEV, page, 5)))


def _mutate(path: Sequence[str | int], value: Any) -> Any:
    def apply(doc: dict[str, Any]) -> dict[str, Any]:
        target: Any = doc
        for part in path[:-1]:
            target = target[part]
        if value is KeyError:
            del target[path[-1]]
        else:
            target[path[-1]] = value
        return doc

    return apply


MALFORMED_PAGES = {
    "wrong kind": _mutate(["kind"], "artreg.index"),
    "no kind": _mutate(["kind"], KeyError),
    "future version": _mutate(["schemaVersion"], 2),
    "unknown category": _mutate(["category"], "nightly"),
    "page zero": _mutate(["page"], 0),
    "page as string": _mutate(["page"], "2"),
    "entries not a list": _mutate(["entries"], {}),
    "no entries": _mutate(["entries"], []),
    "entry not an object": _mutate(["entries", 0], "x"),
    "missing tag": _mutate(["entries", 0, "tag"], KeyError),
    "bad time": _mutate(["entries", 0, "published"], "yesterday"),
    "size as bool": _mutate(["entries", 0, "files", 0, "size"], True),
    "negative size": _mutate(["entries", 0, "files", 0, "size"], -1),
    "short sha": _mutate(["entries", 0, "files", 0, "sha256"], "abc"),
    "commit as int": _mutate(["entries", 0, "commit"], 12),
    "foreign entry category": _mutate(["entries", 0, "category"], "release"),
    "out of order": _mutate(["entries", 0, "published"], "2020-01-01T00:00:00Z"),
    "absolute next": _mutate(["next"], "https://evil.example/1.json"),
    "next not json": _mutate(["next"], "5"),
    "other root": _mutate(["root"], "../"),
    # Keys read back from the bucket follow the rule of the keys apply writes (core.keys).
    "scheme-relative key": _mutate(["entries", 0, "files", 0, "key"], "//evil.example/x"),
    "dot-dot key": _mutate(["entries", 0, "files", 0, "key"], "../x"),
    "another build's key": _mutate(["entries", 0, "files", 0, "key"], "v1.0.0/linux/amd64/a"),
    "a page as a key": _mutate(["entries", 0, "files", 0, "key"], "_artreg/index/dev/1.json"),
    "script platform": _mutate(["entries", 0, "files", 0, "platform"], "<script>"),
    "url-breaking name": _mutate(["entries", 0, "files", 0, "name"], "a?b"),
    "unsafe tag": _mutate(["entries", 0, "tag"], "//evil.example"),
}


@pytest.mark.parametrize("mutation", MALFORMED_PAGES.values(), ids=MALFORMED_PAGES.keys())
def test_malformed_page_raises_invalid_index(mutation: Any) -> None:
    parse_page(valid_page_doc(), "ok")  # the unmutated document is fine
    with pytest.raises(InvalidIndex, match=r"^_artreg/index/dev/2\.json: not a valid"):
        parse_page(mutation(valid_page_doc()), "_artreg/index/dev/2.json")


@pytest.mark.parametrize("body", [b"", b"{", b"[]", b"\xff", b'"x"'])
def test_loads_rejects_non_objects(body: bytes) -> None:
    with pytest.raises(InvalidIndex, match="rebuilds it from the build manifests"):
        loads(body, "index.json")


def test_parse_page_rejects_a_manifest() -> None:
    build = Build("v1.0.0", Category.RELEASE, T0, None, ())
    with pytest.raises(InvalidIndex, match="kind"):
        parse_page(build.to_json(), "x")
    with pytest.raises(InvalidIndex, match="kind"):
        parse_root(build.to_json(), "x")


def small_site() -> tuple[list[Entry], LoadedPages, dict[str, Any], dict[int, Any]]:
    entries = dev_entries(7)
    pageset = pack(Category.DEV, entries, page_size=3)
    root = json.loads(
        dumps(root_document([pageset], project="p", generated=NOW, etags=etags_for(entries)))
    )
    docs = {i: json.loads(dumps(d)) for i, d in page_documents(pageset).items()}
    return entries, pageset, root, docs


def test_parse_category_detects_disagreement() -> None:
    _, pageset, root_doc, docs = small_site()
    root = parse_root(root_doc)
    assert parse_category(root, Category.DEV, docs) == pageset

    missing = dict(docs)
    del missing[2]
    with pytest.raises(InvalidIndex, match="missing"):
        parse_category(root, Category.DEV, missing)

    relinked = copy.deepcopy(docs)
    relinked[1]["next"] = "3.json"
    with pytest.raises(InvalidIndex, match="links page 3"):
        parse_category(root, Category.DEV, relinked)

    swapped = {1: docs[2], 2: docs[1], 3: docs[3]}
    with pytest.raises(InvalidIndex):
        parse_category(root, Category.DEV, swapped)

    repeated = copy.deepcopy(docs)
    repeated[2]["entries"].append(copy.deepcopy(repeated[1]["entries"][0]))
    repeated[2]["entries"][-1]["published"] = "2000-01-01T00:00:00Z"
    with pytest.raises(InvalidIndex, match="indexed twice"):
        parse_category(root, Category.DEV, repeated)

    miscounted = copy.deepcopy(root_doc)
    miscounted["categories"]["dev"]["count"] = 8
    with pytest.raises(InvalidIndex, match="counts 8"):
        parse_category(parse_root(miscounted), Category.DEV, docs)


MALFORMED_ROOTS = {
    "first disagrees": _mutate(["categories", "dev", "first"], "_artreg/index/dev/2.json"),
    "foreign page url": _mutate(["categories", "dev", "pages", 0], "_artreg/index/extra/1.json"),
    "page listed twice": _mutate(["categories", "dev", "pages", 1], "_artreg/index/dev/1.json"),
    "no category": _mutate(["categories", "release"], KeyError),
    "count with no pages": _mutate(["categories", "release", "count"], 3),
    "bad fingerprint": _mutate(["categories", "dev", "fingerprint"], "md5:x"),
    "page size zero": _mutate(["pageSize"], 0),
    "no project": _mutate(["project"], KeyError),
}


@pytest.mark.parametrize("mutation", MALFORMED_ROOTS.values(), ids=MALFORMED_ROOTS.keys())
def test_malformed_root_raises_invalid_index(mutation: Any) -> None:
    _, _, root_doc, _ = small_site()
    parse_root(root_doc)
    with pytest.raises(InvalidIndex, match=r"^index\.json: not a valid"):
        parse_root(mutation(root_doc))


def test_root_document_contents() -> None:
    entries = dev_entries(30)
    releases = [make_entry(t, Category.RELEASE) for t in ("v0.9.0", "v0.10.0")]
    pagesets = [pack(Category.DEV, entries, 7), pack(Category.RELEASE, releases, 7)]
    etags = etags_for(entries + releases)
    doc = root_document(
        pagesets, project="garage", generated=NOW, etags=etags, page_size=7, newest=4
    )
    dev = doc["categories"]["dev"]
    assert dev["count"] == 30
    assert dev["first"] == "_artreg/index/dev/1.json"
    assert dev["pages"] == [f"_artreg/index/dev/{n}.json" for n in range(1, 6)]
    assert [e["tag"] for e in dev["newest"]] == expected_order(entries)[:4]
    assert doc["categories"]["release"]["newest"][0]["tag"] == "v0.10.0"
    assert doc["categories"]["extra"] == {
        "count": 0,
        "first": None,
        "pages": [],
        "starts": [],
        "newest": [],
        "fingerprint": "sha256:" + hashlib.sha256(b"").hexdigest(),
    }
    assert doc["generated"] == "2025-06-01T12:00:00Z"
    parsed = parse_root(json.loads(dumps(doc)))
    assert parsed.category(Category.DEV).page_ids == (1, 2, 3, 4, 5)
    assert parsed.page_size == 7 and parsed.project == "garage"
    assert parsed.fingerprints[Category.DEV] == dev["fingerprint"]
    assert tags(parsed.category(Category.DEV).newest) == expected_order(entries)[:4]
    with pytest.raises(ValueError, match="no manifest etag"):
        root_document(pagesets, project="garage", generated=NOW, etags={})


def test_fingerprint_agrees_with_a_listing() -> None:
    entries = dev_entries(5)
    etags = etags_for(entries)
    doc = root_document([pack(Category.DEV, entries)], project="p", generated=NOW, etags=etags)
    # what the caller computes from a LIST of _artreg/builds/ (any order, etags unquoted)
    listing = [(tag, etag.strip('"')) for tag, etag in reversed(etags.items())]
    assert doc["categories"]["dev"]["fingerprint"] == index.fingerprint(listing)
    listing[0] = (listing[0][0], "0" * 32)
    assert doc["categories"]["dev"]["fingerprint"] != index.fingerprint(listing)
    lines = "".join(sorted(f"{t}\t{e.strip(chr(34))}\n" for t, e in etags.items()))
    assert (
        index.fingerprint(etags.items()) == "sha256:" + hashlib.sha256(lines.encode()).hexdigest()
    )


def test_same_content_ignores_generated() -> None:
    _, _, root_doc, _ = small_site()
    later = dict(root_doc, generated="2030-01-01T00:00:00Z")
    assert index.same_content(root_doc, later)
    assert not index.same_content(root_doc, dict(root_doc, project="other"))


@pytest.mark.parametrize("module", sorted(p.name for p in Path(index.__file__).parent.glob("*.py")))
def test_core_index_is_pure(module: str) -> None:
    source = (Path(index.__file__).parent / module).read_text()
    tree = ast.parse(source)
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    forbidden = {"boto3", "botocore", "os", "pathlib", "time", "subprocess", "urllib.request"}
    assert not imported & forbidden
    assert not any(name.startswith(("artreg.stores", "artreg.commands")) for name in imported)
    assert "now(" not in source


# --- spec and schemas ----------------------------------------------------------------------------

DOCS = Path(__file__).resolve().parents[2] / "docs"
SCHEMAS = (
    "manifest.schema.json",
    "page.schema.json",
    "root.schema.json",
    "intent.schema.json",
    "latest.schema.json",
)


def load_schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((DOCS / "schemas" / name).read_text())
    return schema


def validator(name: str) -> Any:
    from jsonschema import Draft202012Validator

    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def spec_examples() -> list[tuple[str, Any]]:
    text = (DOCS / "spec.md").read_text()
    found = re.findall(r"<!-- example: (\S+) -->\n```json\n(.*?)\n```", text, flags=re.DOTALL)
    return [(name, json.loads(body)) for name, body in found]


def test_spec_has_a_worked_example_per_schema() -> None:
    assert sorted(name for name, _ in spec_examples()) == sorted(SCHEMAS)


@pytest.mark.parametrize("name", SCHEMAS)
def test_worked_examples_validate(name: str) -> None:
    check = validator(name)
    in_spec = [doc for example, doc in spec_examples() if example == name]
    in_schema = load_schema(name)["examples"]
    assert in_spec == in_schema  # one worked example, kept identical in both places
    for doc in in_spec:
        check.validate(doc)
    broken = copy.deepcopy(in_spec[0])
    broken["schemaVersion"] = 2
    assert not check.is_valid(broken)


def test_worked_examples_parse() -> None:
    examples = dict(spec_examples())
    build_from_json(examples["manifest.schema.json"], "example")
    page = parse_page(examples["page.schema.json"], "example").page
    assert page.id == 1 and len(page.entries) == 2
    root = parse_root(examples["root.schema.json"], "example")
    assert root.category(Category.DEV).page_ids == (1, 2)
    body = json.dumps(examples["intent.schema.json"]).encode()
    intent = intent_from_bytes(body, intent_key("20250528T160158Z-0123456789abcdef"))
    assert intent.builds["v0.10.1+feat"][0] == "v0.10.1_feat/linux/amd64/garage"


def test_entry_definitions_agree() -> None:
    page_defs = load_schema("page.schema.json")["$defs"]
    root_defs = load_schema("root.schema.json")["$defs"]
    assert page_defs["entry"] == root_defs["entry"]
    assert page_defs["entryFile"] == root_defs["entryFile"]


def test_produced_documents_validate() -> None:
    builds = [
        Build(
            tag,
            category,
            T0 + dt.timedelta(hours=n),
            None if n % 2 else "c" * 40,
            (
                FileEntry(
                    "garage", "linux/amd64", "garage", f"{tag}/linux/amd64/garage", n, "a" * 64
                ),
            ),
        )
        for n, (tag, category) in enumerate(
            [
                ("v0.9.0", Category.RELEASE),
                ("v0.10.0", Category.RELEASE),
                ("v0.10.1+feat", Category.EXTRA),
                ("a" * 40, Category.DEV),
                ("b" * 40, Category.DEV),
                ("c" * 40, Category.DEV),
            ]
        )
    ]
    manifests = validator("manifest.schema.json")
    for build in builds:
        manifests.validate(json.loads(build.to_bytes()))
    entries = [entry_from_build(build) for build in builds]
    pagesets = index.pack_all(entries, page_size=2)
    pages = validator("page.schema.json")
    for pageset in pagesets.values():
        for doc in page_documents(pageset).values():
            pages.validate(json.loads(dumps(doc)))
    root = root_document(
        pagesets.values(), project="garage", generated=NOW, etags=etags_for(entries)
    )
    validator("root.schema.json").validate(json.loads(dumps(root)))
    empty = root_document([], project="garage", generated=NOW, etags={})
    validator("root.schema.json").validate(json.loads(dumps(empty)))
