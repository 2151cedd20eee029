"""The publisher at scale: thousands of builds paginate as specified, and adding one is O(1)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from pathlib import Path

import pytest
from publishing import (
    Site,
    check_references,
    follow_index,
    keys_written,
    make_site,
    published_state,
)

from artreg.core.manifest import Build, FileEntry, format_time
from artreg.core.tags import Category
from artreg.stores import PutRequest

T0 = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
FINAL = "2025-12-01T00:00:00Z"


def _body(key: str) -> bytes:
    return f"{key}\n".encode()


def _build(tag: str, category: Category, published: dt.datetime) -> Build:
    key = f"{tag.replace('+', '_')}/linux/amd64/app"
    body = _body(key)
    file = FileEntry("app", "linux/amd64", "app", key, len(body), hashlib.sha256(body).hexdigest())
    return Build(tag, category, published, None, (file,))


def _many_builds(releases: int, extras: int, devs: int) -> list[Build]:
    """Builds in a shuffled order, with distinct versions and publish times."""
    rng = random.Random(2500)
    versions = rng.sample(
        [(a, b, c) for a in range(1, 9) for b in range(30) for c in range(20)], k=releases
    )
    minutes = iter(
        rng.sample(range(1, 10 * (releases + extras + devs)), k=extras + devs + releases)
    )
    builds = [
        _build(f"v{a}.{b}.{c}", Category.RELEASE, T0 + dt.timedelta(minutes=next(minutes)))
        for a, b, c in versions
    ]
    builds += [
        _build(f"v9.0.0-rc.{n}", Category.EXTRA, T0 + dt.timedelta(minutes=next(minutes)))
        for n in range(extras)
    ]
    builds += [
        _build(
            hashlib.sha1(str(n).encode()).hexdigest(),
            Category.DEV,
            T0 + dt.timedelta(minutes=next(minutes)),
        )
        for n in range(devs)
    ]
    rng.shuffle(builds)
    return builds


def _expected_order(builds: list[Build], category: Category) -> list[str]:
    mine = [b for b in builds if b.category is category]
    if category is Category.RELEASE:
        return [
            b.tag
            for b in sorted(mine, key=lambda b: tuple(map(int, b.tag[1:].split("."))), reverse=True)
        ]
    return [b.tag for b in sorted(mine, key=lambda b: (-b.published.timestamp(), b.tag))]


def _twin(key: str) -> str:
    """The download site's HTML twin of the JSON index page ``key``."""
    return key.removesuffix(".json") + ".html"


def _index_writes(report: dict[str, object]) -> tuple[list[str], list[str]]:
    """(index objects written: JSON pages and index.json, HTML writes: the download site's
    twins of those pages and index.html)."""
    keys = keys_written(report)  # type: ignore[arg-type]
    pages = [k for k in keys if k.startswith("_artreg/index/")]  # .json and .html only
    index = [k for k in pages if k.endswith(".json")] + [k for k in keys if k == "index.json"]
    html = [k for k in pages if k.endswith(".html")] + [k for k in keys if k == "index.html"]
    return index, html


# dir: the full 2,500 builds with the default page size; moto: a tenth, pages of 100.
SCALES = {"dir": (2500, 1000), "moto": (250, 100)}


@pytest.mark.parametrize("kind", list(SCALES))
def test_thousands_of_builds_paginate_and_one_more_writes_at_most_three_index_objects(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str
) -> None:
    devs, page_size = SCALES[kind]
    site = make_site(request, tmp_path, kind, files=[("linux/amd64", "out/app")])
    site.configure(page_size=page_size, newest=3)
    builds = _many_builds(releases=devs // 8, extras=devs // 12, devs=devs)
    # The files and manifests go straight into the store (the files too: the download
    # site's latest/ copies the highest release's); one apply then builds the index.
    site.store().put_many(
        [
            PutRequest(b.files[0].key, _body(b.files[0].key), "application/octet-stream")
            for b in builds
        ]
        + [PutRequest(b.key, b.to_bytes(), "application/json") for b in builds]
    )
    site.write("out/app", b"lowest release\n")
    first = site.apply("v0.0.1", FINAL, "--no-gc")  # retention would keep 30 of them
    builds.append(_build("v0.0.1", Category.RELEASE, T0))

    store = site.store()
    found = follow_index(store)
    for category in (Category.RELEASE, Category.EXTRA, Category.DEV):
        assert [e["tag"] for e in found[category.value]] == _expected_order(builds, category)
    root = json.loads(store.get("index.json"))
    dev = root["categories"]["dev"]
    assert dev["count"] == devs
    sizes = [len(json.loads(store.get(link))["entries"]) for link in dev["pages"]]
    assert sizes == [page_size, page_size, devs - 2 * page_size]  # 1000/1000/500
    assert [e["tag"] for e in dev["newest"]] == _expected_order(builds, Category.DEV)[:3]
    index, html = _index_writes(first)
    assert len(index) == 1 + sum(len(c["pages"]) for c in root["categories"].values())
    assert html == [*map(_twin, index[:-1]), "index.html"]  # the download site's twins

    # One more dev build: a new first page (the full one is untouched) and the root.
    site.write("out/app", b"newest dev\n")
    newest = "f" * 40
    report = site.apply(newest, "2026-01-01T00:00:00Z", "--no-gc")
    index, html = _index_writes(report)
    assert len(index) <= 3, index
    assert index == ["_artreg/index/dev/4.json", "index.json"]
    assert html == ["_artreg/index/dev/4.html", "index.html"]  # the download site's twin
    assert follow_index(store)["dev"][0]["tag"] == newest

    # A backport release lands in the middle of the release order.
    site.write("out/app", b"backport\n")
    report = site.apply("v1.0.19", "2026-01-02T00:00:00Z", "--no-gc")
    index, html = _index_writes(report)
    assert len(index) <= 3, index
    assert index[-1] == "index.json"
    assert html == [*map(_twin, index[:-1]), "index.html"]  # the download site's twins
    builds.append(_build("v1.0.19", Category.RELEASE, T0))
    releases = [e["tag"] for e in follow_index(store)["release"]]
    assert releases == _expected_order(builds, Category.RELEASE)


def test_every_document_follows_a_client_walk_after_publishes(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    site: Site = make_site(request, tmp_path, "dir")
    site.configure(page_size=2)
    tags = ["v1.0.0", "v1.2.0", "v1.1.0", "v2.0.0-rc.1", "a" * 40, "b" * 40, "c" * 40]
    for n, tag in enumerate(tags):
        site.publish(tag, now=format_time(T0 + dt.timedelta(hours=n)))
    found = follow_index(site.store())
    assert [e["tag"] for e in found["release"]] == ["v1.2.0", "v1.1.0", "v1.0.0"]
    assert [e["tag"] for e in found["extra"]] == ["v2.0.0-rc.1"]
    assert [e["tag"] for e in found["dev"]] == ["c" * 40, "b" * 40, "a" * 40]


@pytest.mark.parametrize("kind", ["dir", "moto"])
def test_a_build_a_page_already_lists_is_indexed_once(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str
) -> None:
    """Pages can list a build the root does not index: written by a run whose root write
    never landed (killed, or its lease taken over by a run that kept those pages while
    listing the target before that build's manifest existed). The build's own run, planning
    from that root, used to insert it a second time and stop on the page it had made."""
    site = make_site(request, tmp_path, kind)
    site.publish("v1.0.0", now="2025-01-01T00:00:00Z")
    site.publish("v1.2.0", now="2025-01-02T00:00:00Z")
    store = site.store()
    root_before = store.get("index.json")
    site.publish("v1.1.0", now="2025-01-03T00:00:00Z")  # into the middle of the page
    # The root and the listing as that run planned from: without v1.1.0; the page with it.
    store.put(PutRequest("index.json", root_before, "application/json"))
    store.delete(["_artreg/builds/v1.1.0.json"])
    site.apply("v1.1.0", now="2025-01-03T00:00:00Z")
    site.publish("v1.3.0", now="2025-01-04T00:00:00Z")
    indexed = follow_index(store)
    assert [e["tag"] for e in indexed["release"]] == ["v1.3.0", "v1.2.0", "v1.1.0", "v1.0.0"]
    verify = site.run("verify", "--target", "test")
    assert verify.code == 0, verify.out + verify.err
    assert check_references(store) == []


FOREIGN_UNDER_THE_PAGES = {
    "_artreg/index/dev/notes.txt": b"someone's notes\n",
    "_artreg/index/dev/007.json": b"{}\n",
    "_artreg/index/dev/3.json.bak": b"{}\n",
    "_artreg/index/dev/9.htm": b"<p>mine</p>\n",
    "_artreg/index/dev/12/3.json": b"{}\n",
    "_artreg/index/devx/9.json": b"{}\n",
}


@pytest.mark.parametrize(
    ("kind", "page_size", "packed"),
    [("dir", 2, False), ("dir", 4, True), ("dir", 5, False), ("moto", 2, True), ("moto", 4, False)],
)
def test_pages_a_killed_run_unlinked_are_swept_by_the_rebuild_after_it(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str, page_size: int, packed: bool
) -> None:
    """Retention drops eight of eleven dev builds and most of their pages. A run killed after
    writing the root, before any delete, leaves the pages it unlinked; the next run finds
    manifests the root does not index, rebuilds, deletes those builds, and deletes the
    pages too (they list the builds: their HTML twins would link deleted pages and files).
    Keys under the pages' prefix that are not exactly a page or its twin stay. Packed
    pages make the rebuilt root the one the killed run wrote: the pages go all the same."""
    rules = '[tags.dev]\nkeep_last = 3\nexpire_after = "1h"\n\n[gc]\ngrace_period = "0s"\n'
    site = make_site(request, tmp_path, kind)
    site.configure(page_size=page_size, extra_toml=rules + "max_delete_fraction = 1.0\n")
    for n in range(10):
        site.publish(f"{n + 1:040x}", now=f"2025-01-01T00:{n:02d}:00Z")
    store = site.store()
    if packed:  # pages packed afresh from id 1, as a rebuild packs them
        store.delete(["index.json"])
        repair = site.run("verify", "--target", "test", "--repair")
        assert repair.code == 0, repair.out + repair.err
    for key, body in FOREIGN_UNDER_THE_PAGES.items():
        store.put(PutRequest(key, body, "application/octet-stream"))
    before = site.snapshot()
    site.publish("f" * 40, now="2025-01-01T05:00:00Z")
    # Killed after the root and index.html, before the first delete: what was deleted is back.
    for key, body in before.items():
        if store.head(key) is None:
            store.put(PutRequest(key, body, "application/octet-stream"))
    orphans = published_state(store)["orphan pages"]
    # Those the next run's rebuild does not overwrite (it packs its pages from id 1).
    assert len([k for k in orphans if k not in FOREIGN_UNDER_THE_PAGES]) >= 2, orphans

    site.apply("f" * 40, now="2025-01-01T05:00:00Z")
    assert sorted(published_state(store)["orphan pages"]) == sorted(FOREIGN_UNDER_THE_PAGES)
    assert check_references(store) == []
    for key, body in FOREIGN_UNDER_THE_PAGES.items():
        assert store.get(key) == body, key
    assert len(follow_index(store)["dev"]) == 3
