"""``artreg gc`` end to end: retention over 90 days of dev builds, dry runs, brakes, orphans.

Most builds are seeded straight into the store (files + manifest, as apply
would leave them); a few are published with the real ``artreg apply --no-gc``
and every deletion is made by the real ``artreg gc``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html.parser
import json
import os
import random
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import s3proxy
from publishing import (
    WRITE_OPERATIONS,
    Site,
    check_references,
    follow_index,
    make_site,
    no_change,
)
from s3proxy import Reply, Rule, precondition_failed

import artreg.stores
from artreg.config import Config, Target, load_config
from artreg.core.manifest import Build, FileEntry, format_time, manifest_key
from artreg.core.tags import Category
from artreg.errors import StoreError
from artreg.publish.site import SiteReport
from artreg.publish.site import write_build as write_site_documents
from artreg.stores import PutRequest, Store

END = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
NOW_TEXT = "2025-06-01T12:00:00Z"
DAY = dt.timedelta(days=1)
S3_GRACE = 6
RETENTION = """
[tags.dev]
keep_last = 30
expire_after = "30d"
"""


def dev_tag(i: int) -> str:
    return hashlib.sha1(f"build {i}".encode()).hexdigest()


def seed_build(
    store: Store,
    config: Config,
    tag: str,
    published: dt.datetime,
    category: Category,
    *,
    site_documents: bool = True,
) -> Build:
    """Write a one-file build the way apply leaves it (file, the download site's SHA256SUMS
    and page, then manifest); no index."""
    body = f"{tag} linux/amd64\n".encode()
    key = f"{tag}/linux/amd64/app"
    digest = hashlib.sha256(body).hexdigest()
    store.put(PutRequest(key, body, "application/octet-stream"))
    build = Build(
        tag=tag,
        category=category,
        published=published,
        commit=tag if category is Category.DEV else None,
        files=(FileEntry("app", "linux/amd64", "app", key, len(body), digest),),
    )
    if site_documents:
        write_site_documents(store, config, build, SiteReport())
    store.put(PutRequest(build.key, build.to_bytes(), "application/json"))
    return build


def spread(count: int, days: int, seed: int) -> list[dt.datetime]:
    """``count`` distinct whole-second instants within ``days`` before END, oldest first."""
    rng = random.Random(seed)
    seconds = rng.sample(range(1, days * 86400), count)
    return sorted(END - dt.timedelta(seconds=s) for s in seconds)


def expected_survivors(
    published: dict[str, dt.datetime], keep_last: int, expire: dt.timedelta, now: dt.datetime
) -> set[str]:
    """The retention rule, computed here independently of artreg.core.retention."""
    newest_first = sorted(published, key=lambda t: (published[t], t), reverse=True)
    return {
        tag
        for rank, tag in enumerate(newest_first)
        if rank < keep_last or now - published[tag] <= expire
    }


class Rows(html.parser.HTMLParser):
    """The ``data-tag`` of every build row of index.html, per table/details section."""

    def __init__(self) -> None:
        super().__init__()
        self.section = ""
        self.rows: dict[str, list[str]] = {}
        self.links: list[str] = []  # hrefs to HTML documents, in order

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "details" and attributes.get("id"):
            self.section = str(attributes["id"])
        if tag == "table" and str(attributes.get("id", "")).endswith("-builds"):
            self.section = str(attributes["id"]).removesuffix("-builds")
        if tag == "tr" and attributes.get("class") == "build":
            self.rows.setdefault(self.section, []).append(str(attributes["data-tag"]))
        if tag == "a" and str(attributes.get("href", "")).endswith(".html"):
            self.links.append(str(attributes["href"]))


def html_rows(store: Store) -> dict[str, list[str]]:
    parser = Rows()
    parser.feed(store.get("index.html").decode())
    return parser.rows


def html_history(store: Store, category: str) -> list[str]:
    """Every row of ``category``'s HTML pages (the download site's), from the root page's
    first link to them, following each page's ``next page`` link."""
    root = Rows()
    root.feed(store.get("index.html").decode())
    prefix = f"_artreg/index/{category}/"
    key: str | None = next(link for link in root.links if link.startswith(prefix))
    tags: list[str] = []
    while key is not None:
        page = Rows()
        page.feed(store.get(key).decode())
        tags += [t for rows in page.rows.values() for t in rows]
        following = [link for link in page.links if link[0].isdigit()]
        key = prefix + following[0] if following else None
    return tags


def opened_by(site: Site) -> list[Store]:
    """Every store the commands ``site`` runs open (injected), to read their counters."""
    stores: list[Store] = []

    def recording(target: Target, base: Path) -> Store:
        store: Store = artreg.stores.open_store(target, base)
        stores.append(store)
        return store

    site.open_store = recording
    return stores


def writes_of(stores: Sequence[Store]) -> dict[str, int]:
    """Write requests (probe included, by its own name) over ``stores``."""
    total: dict[str, int] = {}
    for store in stores:
        for op, n in store.requests.items():
            if op.removeprefix("probe:") in WRITE_OPERATIONS and n:
                total[op] = total.get(op, 0) + n
    return total


@pytest.fixture(params=["moto", "s3rver", "rgw"])
def s3_site(request: pytest.FixtureRequest, tmp_path: Path) -> Site:
    return make_site(request, tmp_path, request.param, page_size=7, extra_toml=RETENTION)


@pytest.fixture
def dir_site(request: pytest.FixtureRequest, tmp_path: Path) -> Site:
    return make_site(request, tmp_path, "dir", page_size=7, extra_toml=RETENTION)


def seed_history(site: Site, count: int = 60, via_cli: int = 4) -> dict[str, dt.datetime]:
    """``count`` dev builds over 90 days; the newest ``via_cli`` through ``artreg apply``."""
    moments = spread(count, 90, seed=20250601)
    published = {dev_tag(i): moment for i, moment in enumerate(moments)}
    store = site.store()
    tags = list(published)
    for tag in tags[: count - via_cli]:
        seed_build(store, load_config(site.config_path), tag, published[tag], Category.DEV)
    for tag in tags[count - via_cli :]:
        site.write_build(tag)
        result = site.run(
            "apply", "--target", "test", "--tag", tag, "--now", format_time(published[tag]),
            "--no-gc", "--json",
        )  # fmt: skip
        assert result.code == 0, result.err
        assert result.json()["build"] == "published"
    return published


def test_sixty_dev_builds_over_ninety_days(s3_site: Site) -> None:
    site = s3_site
    published = seed_history(site)
    keep = expected_survivors(published, 30, 30 * DAY, END)
    gone = set(published) - keep
    # Every build past rank 30 is older than 30 days here (the spread makes sure of it), so
    # exactly 30 of 60 go: the brake (at most 50% per run) lets exactly that through.
    assert len(gone) == 30
    assert any(END - published[t] > 30 * DAY for t in keep), "keep_last must matter too"
    store = site.store()
    before = {info.key for info in store.list()}

    result = site.run("gc", "--target", "test", "--now", format_time(END), "--json")
    assert result.code == 0, result.err
    report = result.json()
    deleted = [a["key"] for a in report["actions"] if a["op"] == "delete"]
    # 30 manifests + 30 files + the download site's 30 SHA256SUMS and 30 pages, and the
    # index pages that became empty.
    assert len([k for k in deleted if not k.startswith("_artreg/index/")]) == 120, deleted

    after = {info.key for info in store.list()}
    assert {manifest_key(t) for t in gone} | {f"{t}/linux/amd64/app" for t in gone} | {
        f"{t}/SHA256SUMS" for t in gone
    } | {f"{t}/index.html" for t in gone} == (before - after) - {
        k for k in before if k.startswith("_artreg/index/")
    }
    assert {k for k in after if k.startswith("_artreg/builds/")} == {manifest_key(t) for t in keep}

    newest_first = sorted(keep, key=lambda t: published[t], reverse=True)
    listed = site.run("ls", "--target", "test", "--json")
    assert listed.code == 0, listed.err
    assert [e["tag"] for e in listed.json()["dev"]] == newest_first
    assert [e["tag"] for e in follow_index(store)["dev"]] == newest_first
    # The download site's root page shows the newest 10; its history pages show them all.
    assert html_rows(store).get("dev") == newest_first[:10]
    assert html_history(store, "dev") == newest_first
    verify = site.run("verify", "--target", "test")
    assert verify.code == 0, verify.out + verify.err
    assert check_references(store) == []

    # A second gc finds nothing to do and writes nothing.
    with no_change(site):
        again = site.run("gc", "--target", "test", "--now", format_time(END), "--json")
    assert again.code == 0, again.err
    assert again.json()["deleted"] == 0


def test_dry_run_and_plan_write_nothing(dir_site: Site) -> None:
    opened = opened_by(dir_site)
    site = dir_site
    published = seed_history(site, count=40, via_cli=1)
    opened.clear()
    with no_change(site):
        dry = site.run("gc", "--target", "test", "--now", format_time(END), "--dry-run", "--json")
        site.write_build("new")
        plan = site.run("plan", "--target", "test", "--tag", "f" * 40, "--now", format_time(END))
    assert dry.code == 0, dry.err
    assert plan.code == 0, plan.err
    keep = expected_survivors(published, 30, 30 * DAY, END)
    deleted = {a["key"] for a in dry.json()["actions"] if a["op"] == "delete"}
    gone = set(published) - keep
    # Files and manifests, and the download site's SHA256SUMS and pages.
    assert deleted == {manifest_key(t) for t in gone} | {f"{t}/linux/amd64/app" for t in gone} | {
        f"{t}/SHA256SUMS" for t in gone
    } | {f"{t}/index.html" for t in gone}
    assert "would delete" not in plan.out and "retention" in plan.out
    assert len(opened) == 2
    # Not even the conditional-write probe: a dry run does not touch the bucket at all.
    assert writes_of(opened) == {}, [dict(s.requests) for s in opened]


def test_dry_run_on_s3_writes_nothing(s3_site: Site) -> None:
    opened = opened_by(s3_site)
    published = seed_history(s3_site, count=36, via_cli=1)
    opened.clear()
    args = ("--target", "test", "--now", format_time(END))
    with no_change(s3_site):
        dry = s3_site.run("gc", *args, "--dry-run", "--json")
        s3_site.write_build("new")
        plan = s3_site.run("plan", *args, "--tag", "f" * 40, "--json")
    assert dry.code == 0 and plan.code == 0, dry.err + plan.err
    gone = set(published) - expected_survivors(published, 30, 30 * DAY, END)
    assert len(gone) == 6
    assert {a["key"] for a in plan.json()["actions"] if a["op"] == "delete"} >= {
        manifest_key(t) for t in gone
    }
    assert writes_of(opened) == {}, [dict(s.requests) for s in opened]


@pytest.mark.parametrize("command", ["gc", "apply"])
def test_brake_refuses_mass_delete(
    request: pytest.FixtureRequest, tmp_path: Path, command: str
) -> None:
    rules = '[tags.dev]\nkeep_last = 5\nexpire_after = "7d"\n'
    site = make_site(request, tmp_path, "dir", page_size=7, extra_toml=rules)
    store = site.store()
    old = {dev_tag(i): END - (20 + i) * DAY for i in range(20)}
    for tag, moment in old.items():
        seed_build(store, load_config(site.config_path), tag, moment, Category.DEV)
    args = ["--target", "test", "--now", format_time(END)]
    if command == "apply":
        site.write_build("new")
        args += ["--tag", "e" * 40]
    with no_change(site):
        refused = site.run(command, *args)
    assert refused.code == 1
    # 20 old builds (+1 new for apply), keep 5: 15 of 20 go (or 16 of 21), over 50%.
    expected_text = "16 of 21" if command == "apply" else "15 of 20"
    assert f"retention would delete {expected_text} dev builds" in refused.err, refused.err
    assert "--allow-mass-delete" in refused.err

    allowed = site.run(command, *args, "--allow-mass-delete", "--json")
    assert allowed.code == 0, allowed.err
    left = {info.key for info in store.list("_artreg/builds/")}
    newest = sorted(old, key=lambda t: old[t], reverse=True)[: 5 if command == "gc" else 4]
    expected = {manifest_key(t) for t in newest}
    if command == "apply":
        expected.add(manifest_key("e" * 40))
    assert left == expected
    assert site.run("verify", "--target", "test").code == 0


@pytest.mark.parametrize("kind", ["dir", "moto"])
def test_builds_without_site_documents_are_collected_by_what_exists(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str
) -> None:
    """Builds published before the download site have no SHA256SUMS or page: gc plans,
    counts (for the brake) and deletes only the keys that exist, and nothing foreign."""
    rules = '[tags.dev]\nkeep_last = 10\nexpire_after = "7d"\n'
    site = make_site(request, tmp_path, kind, page_size=7, extra_toml=rules)
    store = site.store()
    config = load_config(site.config_path)
    old = {dev_tag(i): END - (20 + i) * DAY for i in range(20)}
    for tag, moment in old.items():
        seed_build(store, config, tag, moment, Category.DEV, site_documents=False)
    newest = sorted(old, key=lambda t: old[t], reverse=True)[:10]
    gone = set(old) - set(newest)
    foreign = {f"{t}/{name}": b"not artreg's\n" for t in gone for name in ("SHA256SUMS.old", "idx")}
    foreign["stray/SHA256SUMS"] = b"0  x\n"
    for key, body in foreign.items():
        store.put(PutRequest(key, body, "application/octet-stream"))
    expected = {manifest_key(t) for t in gone} | {f"{t}/linux/amd64/app" for t in gone}
    args = ["gc", "--target", "test", "--now", format_time(END), "--json"]
    with no_change(site):
        dry = site.run(*args, "--dry-run")
    assert dry.code == 0, dry.err
    assert {a["key"] for a in dry.json()["actions"] if a["op"] == "delete"} == expected
    # 20 of 40 build objects (and the index): within the 50% brake, counting what exists.
    result = site.run(*args)
    assert result.code == 0, result.err
    deleted = {a["key"] for a in result.json()["actions"] if a["op"] == "delete"}
    assert {k for k in deleted if not k.startswith("_artreg/index/")} == expected
    assert {k: store.get(k) for k in foreign} == foreign
    assert not any(store.head(k) for k in expected)


@pytest.mark.parametrize("command", ["plan", "gc"])
def test_preview_shows_the_whole_plan_then_the_brake_on_its_own_lines(
    request: pytest.FixtureRequest, tmp_path: Path, command: str
) -> None:
    rules = '[tags.dev]\nkeep_last = 5\nexpire_after = "7d"\n'
    site = make_site(request, tmp_path, "dir", page_size=7, extra_toml=rules)
    store = site.store()
    old = {dev_tag(i): END - (20 + i) * DAY for i in range(20)}
    for tag, moment in old.items():
        seed_build(store, load_config(site.config_path), tag, moment, Category.DEV)
    args = ["--target", "test", "--now", format_time(END)]
    if command == "plan":
        site.write_build("new")
        args += ["--tag", "e" * 40]
    else:
        args += ["--dry-run"]
    newest = sorted(old, key=lambda t: old[t], reverse=True)[: 5 if command == "gc" else 4]
    gone = set(old) - set(newest)
    with no_change(site):
        shown = site.run(command, *args)
        as_json = site.run(command, *args, "--json")
    assert shown.code == 1 and as_json.code == 1
    # The whole plan: every build retention would delete is listed, as without the brake.
    for tag in gone:
        assert manifest_key(tag) in shown.out, shown.out
    deleted = {a["key"] for a in as_json.json()["actions"] if a["op"] == "delete"}
    assert {manifest_key(t) for t in gone} <= deleted
    assert not {manifest_key(t) for t in newest} & deleted
    real = "artreg apply" if command == "plan" else "artreg gc"
    counts = "16 of 21" if command == "plan" else "15 of 20"
    assert shown.err.splitlines()[-3:] == [
        f"artreg: the mass-delete brake would stop `{real}` before any write:",
        f"artreg:   retention would delete {counts} dev builds, more than the 50% allowed in "
        "one run (gc.max_delete_fraction); check the clock (--now) and the rules, then re-run "
        "with --allow-mass-delete",
        f"artreg: to proceed, check the deletions above, then run `{real} --allow-mass-delete`",
    ]
    assert ";" not in shown.err.splitlines()[-1]
    assert as_json.json()["brakes"] == [shown.err.splitlines()[-2].removeprefix("artreg:   ")]
    with no_change(site):
        allowed = site.run(command, *args, "--allow-mass-delete")
    assert "brake" not in allowed.err
    assert allowed.code == 0, allowed.err


def backdate(site: Site, key: str, age: dt.timedelta) -> None:
    """Make a dir-store object look ``age`` old (LastModified is the file's mtime)."""
    path = site.root / str(site.target.path) / key
    moment = time.time() - age.total_seconds()
    os.utime(path, (moment, moment))


@pytest.fixture(params=["dir", "moto", "s3rver", "rgw"])
def orphan_site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    # dir: backdated with os.utime past the default 24 h; s3: a short grace period and a
    # sleep (LastModified has whole seconds: an object can look up to 1 s older than it is).
    extra = "" if request.param == "dir" else f'[gc]\ngrace_period = "{S3_GRACE}s"\n'
    yield make_site(request, tmp_path, request.param, extra_toml=extra)


def crash_after_uploads(site: Site, tag: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run a real ``apply`` that dies when it writes the build manifest (files uploaded)."""

    def dying(target: Any, base: Path) -> Store:
        store: Store = artreg.stores.open_store(target, base)
        put = store.put

        def put_or_die(req: PutRequest, **conditions: Any) -> str:
            if req.key == manifest_key(tag):
                raise StoreError("injected crash before the manifest")
            return put(req, **conditions)

        store.put = put_or_die  # type: ignore[method-assign]
        return store

    site.write_build(f"crashed {tag}")
    site.open_store = dying
    try:
        result = site.run("apply", "--target", "test", "--tag", tag, "--now", NOW_TEXT)
    finally:
        site.open_store = None
    assert result.code == 1 and "injected crash" in result.err, result.err


def test_crash_leftovers_are_collected_and_foreign_keys_left_alone(
    orphan_site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = orphan_site
    site.publish("v1.0.0")
    store = site.store()
    # A run that died after its uploads: its intent record proves the files are artreg's.
    crash_after_uploads(site, "v1.1.0", monkeypatch)
    leftovers = {info.key for info in store.list() if info.key.startswith("v1.1.0/")}
    # The files, and the download site's checksums and page (written before the manifest).
    assert leftovers == {
        "v1.1.0/linux/amd64/app",
        "v1.1.0/linux/arm64/app",
        "v1.1.0/SHA256SUMS",
        "v1.1.0/index.html",
    }
    (record,) = [info.key for info in store.list("_artreg/intents/")]
    # Look alike, but nothing proves artreg wrote them: left alone, forever.
    foreign = {
        "stray/linux/amd64/app": b"hand-made\n",
        "v1.0.0/linux/amd64/app.old": b"mine\n",
        "stray/SHA256SUMS": b"0  x\n",
        "stray/index.html": b"<p>mine</p>\n",
        "v1.0.0/SHA256SUMS.old": b"mine\n",
    }
    for key, body in foreign.items():
        store.put(PutRequest(key, body, "application/octet-stream"))
    written = time.monotonic()

    young_verify = site.run("verify", "--target", "test")
    assert young_verify.code == 0, young_verify.out
    young_gc = site.run("gc", "--target", "test", "--json")
    assert young_gc.code == 0, young_gc.err
    # two files, the download site's SHA256SUMS and page, and the record
    assert young_gc.json()["youngOrphans"] == 5
    assert young_gc.json()["deleted"] == 0
    assert sorted(young_gc.json()["leftAlone"]) == sorted(foreign)

    if site.kind == "dir":
        for key in [*leftovers, record, *foreign]:
            backdate(site, key, dt.timedelta(hours=25))
    else:
        time.sleep(max(0.0, written + S3_GRACE + 1.5 - time.monotonic()))
    old_verify = site.run("verify", "--target", "test")
    assert old_verify.code == 1
    lines = old_verify.out.splitlines()
    assert [line.split(":")[0] for line in lines] == sorted([*leftovers, record])
    for line in lines:
        assert line.endswith("`artreg gc` removes it"), line
        assert "named by the intent record" in line or "the intent record of" in line, line
    for key in foreign:
        assert f"{key}: not artreg's, left alone" in old_verify.err
    # A manifest-referenced file is never an orphan, however old.
    assert not any("v1.0.0/linux/amd64/app:" in line for line in lines)

    dry = site.run("gc", "--target", "test", "--dry-run")
    assert dry.code == 0, dry.err
    for key in foreign:
        assert f"  = {key}  not artreg's, left alone" in dry.out.splitlines()
    collected = site.run("gc", "--target", "test", "--json")
    assert collected.code == 0, collected.err
    actions = collected.json()["actions"]
    assert [a["key"] for a in actions] == [*sorted(leftovers), record]  # the record last
    assert all(store.head(k) is None for k in [*leftovers, record])
    assert {k: store.get(k) for k in foreign} == foreign
    assert store.head("v1.0.0/linux/amd64/app") is not None
    assert site.run("verify", "--target", "test").code == 0


def _refuse_root(status: int) -> Rule:
    """A proxy rule failing every write of the root index.json (as a broken server would)."""

    def rule(method: str, path: str, headers: dict[str, str]) -> Reply | None:
        if method == "PUT" and path.endswith("/_releases/index.json"):
            if status == 412:
                return Reply(412, precondition_failed("index.json"))
            return Reply(status, b"<Error><Code>InternalError</Code><Message/></Error>")
        return None

    return rule


@pytest.mark.parametrize(
    ("kind", "status"), [("moto", 412), ("moto", 500), ("s3rver", 500), ("rgw", 412)]
)
def test_a_failed_gc_leaves_pages_and_root_agreeing(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str, status: int
) -> None:
    """The root write fails after the pages were rewritten: the old pages come back.

    412: a server refusing a matching If-Match (Ceph RGW 16 with a quoted ETag);
    500: a server failing. Either way gc exits 1 with one message, and the
    index still agrees with itself (root counts = entries on its pages).
    """
    site = make_site(request, tmp_path, kind, page_size=7, extra_toml=RETENTION)
    seed_history(site, count=40, via_cli=2)
    assert site.run("apply", "--target", "test", "--tag", "v1.0.0", "--now",
                    format_time(END - 40 * DAY), "--no-gc").code == 0  # fmt: skip
    assert site.backend is not None
    store = site.store()
    before = site.snapshot()
    entries = follow_index(store)
    assert site.run("verify", "--target", "test").code == 0
    config = site.config_path.read_text()
    with s3proxy.running(site.backend.endpoint, _refuse_root(status)) as proxy:
        site.config_path.write_text(config.replace(site.backend.endpoint, proxy.endpoint))
        result = site.run("gc", "--target", "test", "--now", format_time(END))
        site.config_path.write_text(config)
    assert result.code == 1, result.out + result.err
    message = result.err.strip()
    assert len(message.splitlines()) == 1, message
    assert "other runs" not in message
    assert "index.json" in message
    if status == 412:
        assert "refused the conditional write of index.json" in message
    pages_written = [
        e.path for e in proxy.exchanges if e.method == "PUT" and "/_artreg/index/" in e.path
    ]
    assert pages_written, "the failure must come after page writes to test anything"
    # Nothing was deleted and the index is as it was: pages and root agree.
    assert follow_index(store) == entries
    after = site.snapshot()
    assert {k for k in after if not k.startswith("_artreg/index/")} == {
        k for k in before if not k.startswith("_artreg/index/")
    }
    assert {k: v for k, v in after.items() if k in before} == before
    verify = site.run("verify", "--target", "test")
    assert verify.code == 0, verify.out + verify.err
    # Once the server behaves, gc finishes the job.
    assert site.run("gc", "--target", "test", "--now", format_time(END)).code == 0
    assert site.run("verify", "--target", "test").code == 0


# Planted in a shared bucket: none of them is artreg's, so no command may touch them.
FOREIGN = {
    "robots.txt": b"User-agent: *\n",
    "index.htm": b"<html>the old page</html>\n",
    "_other/x": b"another tool's\n",
    "_artreg/notes.txt": b"a human's notes in artreg's folder\n",
    ".well-known/security.txt": b"Contact: x\n",
    "latest/linux/amd64/garage": b"latest, by hand\n",
    "v0.1.0/linux/amd64/garage": b"hand-made release, no manifest\n",
    "v1.0.0/linux/amd64/app.old": b"beside a release's file, listed by nobody\n",
    f"{dev_tag(0)}/linux/amd64/notes.txt": b"in a dev build's directory that retention expires\n",
    f"{dev_tag(0)}/SHA256SUMS.asc": b"beside the download site's checksums\n",
    f"{dev_tag(0)}/index.htm": b"beside the download site's page\n",
    "v2/undeclared/blobs/sha256:" + "0" * 64: b"an image repository nobody declares\n",
}


@pytest.fixture(params=["dir", "moto", "s3rver"])
def shared_site(request: pytest.FixtureRequest, tmp_path: Path) -> Site:
    rules = '[tags.dev]\nkeep_last = 2\nexpire_after = "1d"\n\n[gc]\ngrace_period = "0s"\n'
    return make_site(request, tmp_path, request.param, page_size=2, extra_toml=rules)


def test_foreign_objects_survive_every_command(shared_site: Site) -> None:
    """apply, gc --dry-run, gc, verify --repair with grace 0: every foreign key intact."""
    site = shared_site
    store = site.store()
    site.publish("v1.0.0")
    for i in range(3):
        site.write_build(f"dev {i}")
        result = site.run("apply", "--target", "test", "--tag", dev_tag(i), "--now",
                          format_time(END - (3 - i) * DAY), "--no-gc")  # fmt: skip
        assert result.code == 0, result.err
    for key, body in FOREIGN.items():
        store.put(PutRequest(key, body, "application/octet-stream"))
    time.sleep(1.1)  # LastModified has whole seconds: every object is past a grace of 0 s

    dry = site.run("gc", "--target", "test", "--now", format_time(END), "--dry-run")
    assert dry.code == 0, dry.err
    out = dry.out.splitlines()
    for key in FOREIGN:
        assert f"  = {key}  not artreg's, left alone" in out, dry.out
        assert not any(line.startswith(f"  - {key} ") for line in out)
    # Retention deletes dev build 0 (keep_last 2): its manifest, its files and the download
    # site's SHA256SUMS and page, nothing else.
    deleted = sorted(line.split()[1] for line in out if line.startswith("  - "))
    assert deleted == sorted([manifest_key(dev_tag(0)), f"{dev_tag(0)}/linux/amd64/app",
                              f"{dev_tag(0)}/linux/arm64/app", f"{dev_tag(0)}/SHA256SUMS",
                              f"{dev_tag(0)}/index.html"]), out  # fmt: skip

    site.write_build("dev 3")
    applied = site.run("apply", "--target", "test", "--tag", dev_tag(3), "--now",
                       format_time(END), "--json")  # fmt: skip
    assert applied.code == 0, applied.err
    assert {a["key"] for a in applied.json()["actions"] if a["op"] == "delete"} >= {
        manifest_key(dev_tag(0)),
        manifest_key(dev_tag(1)),
    }
    gc = site.run("gc", "--target", "test", "--now", format_time(END), "--json")
    assert gc.code == 0, gc.err
    assert sorted(gc.json()["leftAlone"]) == sorted(FOREIGN)
    assert not {a["key"] for a in gc.json()["actions"]} & set(FOREIGN)
    store.delete(["index.json"])
    repaired = site.run("verify", "--target", "test", "--repair")
    # The rebuilt index no longer links the old pages: with grace 0 they are orphans at once.
    assert all("an index page the root no longer links" in x for x in repaired.out.splitlines())
    for key in FOREIGN:
        assert f"{key}: not artreg's, left alone" in repaired.err
    again = site.run("gc", "--target", "test", "--now", format_time(END), "--json")
    assert again.code == 0, again.err
    assert not {a["key"] for a in again.json()["actions"]} & set(FOREIGN)
    final = site.run("verify", "--target", "test")
    assert final.code == 0, final.out + final.err
    assert {key: store.get(key) for key in FOREIGN} == FOREIGN
    assert check_references(store) == []


class KeyRecorder:
    """Every key any store opened by a command is asked about (get, head, put, delete, list)."""

    def __init__(self, site: Site) -> None:
        self.keys: list[str] = []

        def opening(*args: Any, **kwargs: Any) -> Store:
            store: Store = artreg.stores.open_store(*args, **kwargs)
            for name in ("get", "head", "list"):
                setattr(store, name, self._spy(getattr(store, name), lambda a: [a[0]] if a else []))
            put, put_many, delete = store.put, store.put_many, store.delete
            store.put = self._spy(put, lambda a: [a[0].key])  # type: ignore[method-assign]
            store.put_many = self._spy(put_many, lambda a: [r.key for r in a[0]])  # type: ignore[method-assign]
            store.delete = self._spy(delete, lambda a: list(a[0]))  # type: ignore[method-assign]
            return store

        site.open_store = opening

    def _spy(self, method: Any, keys: Any) -> Any:
        def spied(*args: Any, **kwargs: Any) -> Any:
            self.keys += keys(args)
            return method(*args, **kwargs)

        return spied


EVIL = ["//evil.example/x", "../x", "v1.0.0/linux/amd64/app", "_artreg/builds/v1.0.0.json"]


@pytest.mark.parametrize("kind", ["dir", "moto", "s3rver"])
def test_a_manifest_claiming_other_keys_is_invalid_and_never_acted_on(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's case: a dev manifest listing a release's keys, and planted URLs."""
    rules = '[tags.dev]\nkeep_last = 0\nexpire_after = "1d"\n\n[gc]\ngrace_period = "0s"\n'
    site = make_site(request, tmp_path, kind, extra_toml=rules)
    store = site.store()
    site.publish("v1.0.0")
    site.publish(dev_tag(1), now=format_time(END - 10 * DAY))
    release = {k: store.get(k) for k in ("v1.0.0/linux/amd64/app", manifest_key("v1.0.0"))}
    dev = json.loads(store.get(manifest_key(dev_tag(1))))
    for file, key in zip(dev["files"], EVIL, strict=False):
        file["key"] = key
    dev["files"].append({**dev["files"][0], "key": EVIL[2]})
    dev["files"].append({**dev["files"][0], "key": EVIL[3]})
    planted = json.dumps(dev).encode()
    store.put(PutRequest(manifest_key(dev_tag(1)), planted, "application/json"))
    recorder = KeyRecorder(site)
    time.sleep(1.1)

    verify = site.run("verify", "--target", "test")
    assert verify.code == 1
    named = f"{manifest_key(dev_tag(1))}: not a valid artreg build manifest: files[0]: key "
    assert named in verify.out
    assert "under its own build's directory" in verify.out
    # Retention cannot judge the dev category without that build: it stops, deletes nothing.
    gc = site.run("gc", "--target", "test", "--now", format_time(END))
    assert gc.code == 1 and "not a valid artreg build manifest" in gc.err, gc.err
    repaired = site.run("verify", "--target", "test", "--repair")
    assert "not a valid artreg build manifest" in repaired.out
    html = store.get("index.html").decode()
    assert "evil.example" not in html and dev_tag(1) not in html
    # The index leaves the build out; retention still cannot judge the dev category: gc
    # keeps stopping with the same message, and nothing is deleted.
    gc = site.run("gc", "--target", "test", "--now", format_time(END))
    assert gc.code == 1 and "not a valid artreg build manifest" in gc.err, gc.err
    assert store.get(manifest_key(dev_tag(1))) == planted
    assert store.head(f"{dev_tag(1)}/linux/arm64/app") is not None
    assert {k: store.get(k) for k in release} == release
    assert [e["tag"] for e in follow_index(store)["release"]] == ["v1.0.0"]
    assert not [k for k in recorder.keys if "evil" in k or k.startswith("../")], recorder.keys
    # Once a human removes it, gc proceeds, and the dev build's files are nobody's proof.
    store.delete([manifest_key(dev_tag(1))])
    gc = site.run("gc", "--target", "test", "--now", format_time(END), "--json")
    assert gc.code == 0, gc.err
    assert f"{dev_tag(1)}/linux/arm64/app" in gc.json()["leftAlone"]
    assert {k: store.get(k) for k in release} == release


@pytest.mark.parametrize("kind", ["dir", "moto"])
def test_the_brake_counts_orphans(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = make_site(request, tmp_path, kind, extra_toml='[gc]\ngrace_period = "0s"\n')
    site.configure(files=[("linux/amd64", "out/app")])
    site.publish("v1.0.0")
    # A run that died after uploading 14 files and the download site's SHA256SUMS and page:
    # 17 orphans (with its record) of 30 objects; v1.0.0 left 13 (manifest, file, SHA256SUMS,
    # page; index.json, index.html, its index page and the page's HTML twin; latest/'s file
    # and SHA256SUMS, mirrors.json, latest.json, releases.xml).
    site.configure(files=[(f"linux/arch{i}", f"out/{i}/app") for i in range(14)])
    crash_after_uploads(site, "v1.1.0", monkeypatch)
    store = site.store()
    time.sleep(1.1)
    with no_change(site):
        refused = site.run("gc", "--target", "test")
        dry = site.run("gc", "--target", "test", "--dry-run")
    assert refused.code == 1 and dry.code == 1
    assert "gc would delete 17 of the 30 objects artreg wrote" in refused.err, refused.err
    assert "--allow-mass-delete" in refused.err
    allowed = site.run("gc", "--target", "test", "--allow-mass-delete", "--json")
    assert allowed.code == 0, allowed.err
    assert allowed.json()["deleted"] == 17
    assert [i.key for i in store.list() if i.key.startswith(("v1.1.0/", "_artreg/intents/"))] == []
