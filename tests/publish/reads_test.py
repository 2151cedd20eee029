"""A publish into thousands of builds reads only the index pages it changes (dir store).

5,000 dev builds are placed in a dir target as plain manifest files (the dir
store lists files without a sidecar), one ``apply`` builds the index (50 pages
of 100), then single publishes are counted: every GET of an ``_artreg/index/``
key goes through a wrapped store. Before the root listed page starts, each of
these publishes read all 50 dev pages.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from publishing import Site, follow_index, make_site

from artreg.config import Target
from artreg.core.index import INDEX_PREFIX
from artreg.core.manifest import Build, FileEntry
from artreg.core.tags import Category
from artreg.stores import PutRequest, Store, open_store

SEEDED = 5_000
PAGE_SIZE = 100
T0 = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)


class CountingStore:
    """Delegates to a store, counting GETs of index pages by key."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.pages: collections.Counter[str] = collections.Counter()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def get(self, key: str) -> bytes:
        if key.startswith(INDEX_PREFIX):
            self.pages[key] += 1
        return self.inner.get(key)

    def read(self, category: str) -> dict[str, int]:
        """Page GETs of one category, by page file name."""
        prefix = f"{INDEX_PREFIX}{category}/"
        return {k[len(prefix) :]: n for k, n in self.pages.items() if k.startswith(prefix)}


def dev_tag(n: int) -> str:
    return hashlib.sha1(f"commit {n}".encode(), usedforsecurity=False).hexdigest()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dir target holding SEEDED dev build manifests (their files are never read)."""
    root = tmp_path_factory.mktemp("seeded") / "public"
    (root / "_artreg" / "builds").mkdir(parents=True)
    for n in range(SEEDED):
        tag = dev_tag(n)
        file = FileEntry("app", "linux/amd64", "app", f"{tag}/linux/amd64/app", 3, "0" * 64)
        build = Build(tag, Category.DEV, T0 + dt.timedelta(minutes=n), None, (file,))
        (root / build.key).write_bytes(build.to_bytes())
    return root


def counted_apply(
    site: Site, monkeypatch: pytest.MonkeyPatch, tag: str, now: str, seed: str | None = None
) -> tuple[CountingStore, dict[str, Any]]:
    made: list[CountingStore] = []

    def counting_open_store(target: Target, base: Path) -> CountingStore:
        made.append(CountingStore(open_store(target, base)))
        return made[-1]

    site.write_build(seed if seed is not None else tag)
    site.open_store = counting_open_store
    try:
        result = site.run("apply", "--target", "test", "--tag", tag, "--now", now, "--json")
    finally:
        site.open_store = None
    assert result.code == 0, result.err
    (store,) = made
    report: dict[str, Any] = result.json()
    report["stderr"] = result.err
    return store, report


def page_writes(report: dict[str, Any]) -> list[str]:
    """The JSON index pages written; each has its HTML twin, written with it."""
    pages = [a["key"] for a in report["actions"] if a["kind"] == "page" and a["op"] != "delete"]
    json_pages = [k for k in pages if k.endswith(".json")]
    assert sorted(pages) == sorted([*json_pages, *(k[: -len("json")] + "html" for k in json_pages)])
    return json_pages


def test_a_publish_into_5000_builds_reads_at_most_two_pages(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    seeded: Path,
) -> None:
    site = make_site(
        request,
        tmp_path,
        "dir",
        page_size=PAGE_SIZE,
        files=[("linux/amd64", "out/app")],
        extra_toml='[tags.dev]\nkeep = "forever"\n',
    )
    shutil.copytree(seeded, site.root / "public")
    first, _ = counted_apply(site, monkeypatch, "v1.0.0", "2026-01-01T00:00:00Z")
    assert sum(first.pages.values()) == 0  # no index yet: built from the manifests
    dev_pages = len(follow_index(site.store())["dev"]) // PAGE_SIZE
    assert dev_pages == SEEDED // PAGE_SIZE

    # a new dev build: page 1 is full (read to see it), a new first page is written;
    # index.html shows the first release rows (one page here) and 50 dev rows
    new = dev_tag(SEEDED)
    store, report = counted_apply(site, monkeypatch, new, "2026-01-01T01:00:00Z")
    assert store.read("dev") == {"1.json": 1}
    assert store.read("release") == {"1.json": 1}
    assert sum(store.pages.values()) == 2
    assert page_writes(report) == [f"_artreg/index/dev/{dev_pages + 1}.json"]

    # the next one goes to that new page (1 entry); index.html needs page 1 too
    newer = dev_tag(SEEDED + 1)
    store, report = counted_apply(site, monkeypatch, newer, "2026-01-01T02:00:00Z")
    assert store.read("dev") == {f"{dev_pages + 1}.json": 1, "1.json": 1}
    assert page_writes(report) == [f"_artreg/index/dev/{dev_pages + 1}.json"]

    # re-published with other content, later: found in the root's newest, moved to the front
    store, report = counted_apply(site, monkeypatch, new, "2026-01-01T03:00:00Z", seed="again")
    assert store.read("dev") == {f"{dev_pages + 1}.json": 1, "1.json": 1}
    assert page_writes(report) == [f"_artreg/index/dev/{dev_pages + 1}.json"]

    # a release: the dev pages are read for index.html only, none is written
    store, report = counted_apply(site, monkeypatch, "v1.1.0", "2026-01-01T04:00:00Z")
    assert store.read("release") == {"1.json": 1}
    assert store.read("dev") == {f"{dev_pages + 1}.json": 1, "1.json": 1}
    assert page_writes(report) == ["_artreg/index/release/1.json"]

    entries = follow_index(site.store())  # links, counts and starts agree with the pages
    assert [e["tag"] for e in entries["dev"][:3]] == [new, newer, dev_tag(SEEDED - 1)]
    assert len(entries["dev"]) == SEEDED + 2
    assert [e["tag"] for e in entries["release"]] == ["v1.1.0", "v1.0.0"]
    # the same build again: no page read, nothing written
    store, report = counted_apply(site, monkeypatch, "v1.1.0", "2026-01-01T04:00:00Z")
    assert report["actions"] == [] and store.read("dev") == {}


def rewrite_root(site: Site, change: Any) -> None:
    store = site.store()
    root = json.loads(store.get("index.json"))
    change(root)
    body = (json.dumps(root, sort_keys=True, separators=(",", ":")) + "\n").encode()
    store.put(PutRequest(key="index.json", body=body, content_type="application/json"))


def small_site(request: pytest.FixtureRequest, tmp_path: Path) -> Site:
    """Five dev builds in pages of 2 (2/2/1 after the pushes to the front)."""
    site = make_site(request, tmp_path, "dir", page_size=2, files=[("linux/amd64", "out/app")])
    for n in range(5):
        site.publish(dev_tag(n), now=f"2026-01-01T0{n}:00:00Z")
    return site


def test_a_root_without_starts_is_invalid_and_rebuilt_from_the_manifests(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``starts`` is required (spec section 7): a root without it is derived data to rebuild."""
    site = small_site(request, tmp_path)

    def drop_starts(root: dict[str, Any]) -> None:
        for part in root["categories"].values():
            del part["starts"]

    rewrite_root(site, drop_starts)
    verify = site.run("verify", "--target", "test")
    assert verify.code == 1
    assert verify.out.startswith(
        "index.json: not a valid artreg index document: categories.release.starts: missing"
    )
    _, report = counted_apply(site, monkeypatch, dev_tag(5), "2026-01-01T06:00:00Z")
    assert "categories.release.starts: missing; it is derived data" in report["stderr"]
    root = json.loads(site.store().get("index.json"))
    assert len(root["categories"]["dev"]["starts"]) == len(root["categories"]["dev"]["pages"])
    follow_index(site.store())
    assert site.run("verify", "--target", "test").code == 0


def test_starts_that_disagree_with_the_pages_mean_a_rebuild(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = small_site(request, tmp_path)
    before = follow_index(site.store())

    def shift_first_start(root: dict[str, Any]) -> None:
        # the first page claims to start one minute later (still in order)
        start = root["categories"]["dev"]["starts"][0]
        start["published"] = start["published"].replace(":00:00Z", ":01:00Z")
        root["categories"]["dev"]["newest"][0]["published"] = start["published"]

    rewrite_root(site, shift_first_start)
    _, report = counted_apply(site, monkeypatch, dev_tag(5), "2026-01-01T06:00:00Z")
    assert "dev pages unreadable" in report["stderr"], report["stderr"]
    after = follow_index(site.store())
    assert [e["tag"] for e in after["dev"]] == [dev_tag(5), *(e["tag"] for e in before["dev"])]
