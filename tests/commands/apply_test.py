"""``artreg apply`` end to end on a dir target, moto and s3rver.

Request counts come from the ``--json`` report (the store's own counter, by
S3 operation; the dir store counts the same names).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib
import io
import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from publishing import (
    CI_VARIABLES,
    KINDS,
    NOW,
    Run,
    Site,
    check_references,
    download_everything,
    follow_index,
    keys_written,
    make_site,
    no_change,
    published_state,
    writes,
)
from servers import S3Backend, free_port

import artreg.publish.apply
from artreg.cli import main
from artreg.config import Target
from artreg.errors import EXIT_CHANGES, StoreError
from artreg.serve.server import make_server
from artreg.stores import PutRequest, Store, open_store

INTENT_NAME = re.compile(r"_artreg/intents/[^/]+\.json")
DEV_A = "a" * 40
DEV_B = "b" * 40
DEV_C = "c" * 40
DEV_D = "d" * 40


@pytest.fixture(params=KINDS)
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Site:
    return make_site(request, tmp_path, request.param)


def at(hour: int) -> str:
    return f"2025-06-01T{hour:02d}:00:00Z"


def with_lease(site: Site, puts: int, deletes: int = 0) -> dict[str, int]:
    """Expected write requests: where conditional writes exist (dir, moto), a publish
    also takes the index lease (one PutObject) and releases it (one DeleteObjects); and a
    publish that uploads files records its intent first and deletes the record at the end
    (one PutObject and one DeleteObjects more, see core.ownership)."""
    if site.kind != "s3rver":
        puts, deletes = puts + 1, deletes + 1
    puts, deletes = puts + 1, deletes + 1
    return {"PutObject": puts, **({"DeleteObjects": deletes} if deletes else {})}


# -- 1. idempotence ---------------------------------------------------------


def test_second_identical_apply_writes_nothing(site: Site) -> None:
    site.write_build("one")
    plan = site.run("plan", "--tag", "v1.0.0", "--now", NOW, "--detailed-exitcode")
    assert plan.code == EXIT_CHANGES, plan.err
    lines = [line.split()[:2] for line in plan.out.splitlines() if line.startswith("  ")]
    expected = [
        "v1.0.0/linux/amd64/app",
        "v1.0.0/linux/arm64/app",
        "v1.0.0/SHA256SUMS",  # the download site: the build's checksums and page
        "v1.0.0/index.html",
        "_artreg/builds/v1.0.0.json",
        "_artreg/index/release/1.json",
        "_artreg/index/release/1.html",
        "index.html",
        "index.json",
        "_artreg/mirrors.json",  # after the index: latest/ serves the new release
        "latest/linux/amd64/app",
        "latest/linux/arm64/app",
        "latest/SHA256SUMS",
        "latest.json",
        "releases.xml",
    ]
    assert [key for _, key in lines] == expected
    assert site.snapshot() == {}  # plan wrote nothing

    first = site.apply("v1.0.0")
    assert first["build"] == "published"
    # the latest/ record: before the copies (naming them) and after (complete)
    assert keys_written(first) == [*expected, "_artreg/mirrors.json"]
    assert writes(first) == {**with_lease(site, 13), "CopyObject": 3}

    second = site.apply("v1.0.0", at(13))
    assert second["build"] == "unchanged"
    assert second["actions"] == []
    assert writes(second) == {}
    assert second["requests"].get("PutObject", 0) == 0

    again = site.run("plan", "--tag", "v1.0.0", "--now", at(14), "--detailed-exitcode")
    assert again.code == 0, again.err
    assert "no changes: the target is up to date" in again.out


def test_second_apply_into_a_busy_target_writes_nothing(site: Site) -> None:
    site.configure(page_size=2)
    for hour, tag in enumerate(["v1.0.0", "v1.1.0-rc.1", DEV_A, DEV_B, "v1.1.0", DEV_C], 1):
        site.publish(tag, now=at(hour))
    before = site.snapshot()
    again = site.apply(DEV_C, at(20))
    assert writes(again) == {}
    assert site.snapshot() == before
    assert check_references(site.store()) == []


# -- 2. a changed dev build ---------------------------------------------------


def test_changed_dev_file_uploads_only_it(site: Site) -> None:
    site.publish("v1.0.0", now=at(1))
    site.publish(DEV_A, now=at(2))
    site.publish(DEV_B, now=at(3))
    site.write_build(DEV_A)
    site.write("out/amd64/app", b"rebuilt amd64\n")  # arm64 keeps its bytes
    report = site.apply(DEV_A, at(4))
    assert report["build"] == "published"
    assert keys_written(report) == [
        f"{DEV_A}/linux/amd64/app",
        f"{DEV_A}/SHA256SUMS",
        f"{DEV_A}/index.html",
        f"_artreg/builds/{DEV_A}.json",
        "_artreg/index/dev/1.json",
        "_artreg/index/dev/1.html",
        "index.html",
        "index.json",
    ]  # a dev build does not move latest/ or the feed
    assert writes(report) == with_lease(site, 8)
    snapshot = site.snapshot()
    assert snapshot[f"{DEV_A}/linux/amd64/app"] == b"rebuilt amd64\n"
    assert f"{DEV_A} linux/amd64\n".encode() not in snapshot.values()  # the old bytes are gone
    assert snapshot[f"{DEV_A}/linux/arm64/app"] == f"{DEV_A} linux/arm64\n".encode()
    dev = follow_index(site.store())["dev"]
    assert [e["tag"] for e in dev] == [DEV_A, DEV_B]  # re-published: now the newest
    amd64 = next(f for f in dev[0]["files"] if f["platform"] == "linux/amd64")
    assert amd64["sha256"] == hashlib.sha256(b"rebuilt amd64\n").hexdigest()
    assert check_references(site.store()) == []


def test_dev_build_that_drops_a_file_deletes_it(site: Site) -> None:
    site.publish(DEV_A, now=at(1))
    site.publish(DEV_B, now=at(2))
    site.configure(files=[("linux/amd64", "out/amd64/app")])
    site.write("out/amd64/app", b"only amd64 now\n")
    report = site.apply(DEV_A, at(3))
    assert keys_written(report) == [
        f"{DEV_A}/linux/amd64/app",
        f"{DEV_A}/SHA256SUMS",
        f"{DEV_A}/index.html",
        f"_artreg/builds/{DEV_A}.json",
        "_artreg/index/dev/1.json",
        "_artreg/index/dev/1.html",
        "index.html",
        "index.json",
    ]
    deletes = [a["key"] for a in report["actions"] if a["op"] == "delete"]
    assert deletes == [f"{DEV_A}/linux/arm64/app"]
    assert writes(report) == with_lease(site, 8, 1)
    assert f"{DEV_A}/linux/arm64/app" not in site.snapshot()
    assert check_references(site.store()) == []


# -- 3. releases are immutable -------------------------------------------------


def test_release_republished_with_other_bytes_is_refused(site: Site) -> None:
    site.publish("v1.0.0", now=at(1))
    site.publish(DEV_A, now=at(2))
    site.write("out/arm64/app", b"different bytes\n")
    with no_change(site):
        result = site.run("apply", "--tag", "v1.0.0", "--now", at(3), "--target", "test")
    assert result.code == 1
    assert result.out == ""
    (line,) = result.err.splitlines()
    assert line.startswith("artreg: error: release v1.0.0 is already published with other content")
    assert "v1.0.0/linux/arm64/app has sha256" in line
    assert "immutable" in line
    assert line.endswith("(nothing was written)")


def test_release_republished_with_a_file_less_is_refused(site: Site) -> None:
    site.publish("v1.0.0", now=at(1))
    site.configure(files=[("linux/amd64", "out/amd64/app")])
    with no_change(site):
        result = site.run("apply", "--tag", "v1.0.0", "--now", at(3))
    assert result.code == 1
    assert "v1.0.0/linux/arm64/app would disappear" in result.err
    assert "nothing was written" in result.err


# -- 4. a crash after any write ------------------------------------------------


class FailingStore:
    """A store that raises after ``budget`` successful writes (None: never)."""

    def __init__(self, inner: Store, budget: int | None) -> None:
        self.inner = inner
        self.budget = budget
        self.done: list[str] = []
        self.lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _spend(self, what: str) -> None:
        with self.lock:
            if self.budget is not None and len(self.done) >= self.budget:
                raise StoreError(f"injected failure before write {len(self.done) + 1} ({what})")
            self.done.append(what)

    def put(self, req: PutRequest, **conditions: Any) -> str:
        # An intent record's name holds the time and a random part: compare it by kind.
        self._spend(f"put {INTENT_NAME.sub('_artreg/intents/*.json', req.key)}")
        return self.inner.put(req, **conditions)

    def put_many(
        self, reqs: Sequence[PutRequest], progress: Callable[[int], None] | None = None
    ) -> list[str]:
        return [self.put(req) for req in reqs]

    def copy(self, src: str, dst: str, **options: Any) -> None:
        self._spend(f"copy {dst}")
        self.inner.copy(src, dst, **options)

    def delete(self, keys: Sequence[str]) -> None:
        # Key by key, in the order given: a batch cut short (a kill during a bulk delete,
        # which S3 does not make atomic) leaves the keys before the failure deleted.
        for key in keys:
            self._spend(f"delete {INTENT_NAME.sub('_artreg/intents/*.json', key)}")
            self.inner.delete([key])


def _setup_busy(site: Site) -> None:
    """Two releases and two dev builds, two per page: the dev page is full."""
    site.configure(page_size=2)
    site.publish("v1.0.0", now=at(1))
    site.publish("v1.1.0", now=at(2))
    site.publish(DEV_A, now=at(3))
    site.publish(DEV_B, now=at(4))


def _new_dev_build(site: Site) -> str:
    """A new dev build in front of a full page: a new first page."""
    site.write_build("new dev")
    return DEV_C


def _backport_release(site: Site) -> str:
    """A release between two others on a full page: the page splits."""
    site.write_build("backport")
    return "v1.0.5"


def _dev_drops_a_file(site: Site) -> str:
    """A dev build re-published with one file changed and one gone: a delete."""
    site.configure(files=[("linux/amd64", "out/amd64/app")])
    site.write("out/amd64/app", b"rebuilt, one file\n")
    return DEV_A


def _retention_drops_pages(site: Site) -> str:
    """A third dev build (two dev pages), then a fourth while retention keeps two.

    Two builds go, with their files and download pages, and a page of the index with its
    HTML twin: a kill part-way through those deletes must leave no page linking a gone one.
    """
    site.publish(DEV_D, now=at(5))
    rules = '[tags.dev]\nkeep_last = 2\nexpire_after = "1h"\n'
    site.configure(extra_toml=site.extra_toml + rules)
    site.write_build("new dev")
    return DEV_C


SCENARIOS = {
    "new-dev-page": _new_dev_build,
    "backport-split": _backport_release,
    "dev-drops-a-file": _dev_drops_a_file,
    "retention-drops-pages": _retention_drops_pages,
}
FINAL = at(10)


def _run_with_budget(
    site: Site, tag: str, monkeypatch: pytest.MonkeyPatch, budget: int | None
) -> tuple[int, list[str], str]:
    made: list[FailingStore] = []

    def failing_open_store(target: Target, base: Path) -> FailingStore:
        made.append(FailingStore(open_store(target, base), budget))
        return made[-1]

    site.open_store = failing_open_store
    try:
        result = site.run("apply", "--tag", tag, "--now", FINAL)
    finally:
        site.open_store = None
    (store,) = made
    return result.code, store.done, result.err


# Every scenario on the dir store; one each on the servers, whose requests are slow.
CRASH_CASES = [
    *(("dir", name) for name in SCENARIOS),
    ("moto", "dev-drops-a-file"),
    ("s3rver", "backport-split"),
]


@pytest.mark.parametrize(("kind", "scenario"), CRASH_CASES)
def test_crash_after_any_write_leaves_no_dangling_reference_and_converges(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    scenario: str,
) -> None:
    # A crashed run leaves its index lease behind; the next run takes it over once expired.
    monkeypatch.setenv("ARTREG_LEASE_TTL", "1")
    template = make_site(request, tmp_path / "template", kind)
    template.configure(extra_toml='[gc]\ngrace_period = "0s"\n')
    _setup_busy(template)
    tag = SCENARIOS[scenario](template)
    reference = template.clone(tmp_path / "reference")
    code, done, err = _run_with_budget(reference, tag, monkeypatch, None)
    assert code == 0, err
    expected = published_state(reference.store())
    assert expected["orphan pages"] == []
    assert check_references(reference.store()) == []
    # with the intent record's put and delete, and the download site's writes
    assert 8 <= len(done) <= 40, done
    # The directories of the builds retention removes, and of the build being published.
    manifests = {i.key for i in template.store().list() if i.key.startswith("_artreg/builds/")}
    removed = manifests - set(expected["objects"])
    directories = (
        *(key.removeprefix("_artreg/builds/").removesuffix(".json") + "/" for key in removed),
        tag + "/",
        "_artreg/intents/",
    )

    for budget in range(len(done)):
        site = template.clone(tmp_path / f"k{budget}")
        code, written, err = _run_with_budget(site, tag, monkeypatch, budget)
        assert code == 1
        assert written == done[:budget]
        assert err.startswith("artreg: error: injected failure"), err
        assert check_references(site.store()) == [], (budget, done)
        site.apply(tag, FINAL)
        assert check_references(site.store()) == [], (budget, done)
        state = published_state(site.store())
        # What the crash left unreferenced (a file the build no longer has, the files of a
        # build whose manifest retention deleted, and the intent record naming them, which
        # proves artreg wrote them) is an orphan: `gc` collects it once past the grace period
        # (0 s here), not the next apply.
        leftovers = set(state["objects"]) - set(expected["objects"])
        assert {k for k in leftovers if not k.startswith(directories)} == set(), (budget, done)
        state["objects"] = {k: v for k, v in state["objects"].items() if k not in leftovers}
        differing = sorted(
            k
            for k in {*state["objects"], *expected["objects"]}
            if state["objects"].get(k) != expected["objects"].get(k)
        )
        assert state == expected, (budget, done, differing)
        if leftovers:
            gc = site.run("gc", "--target", "test", "--now", FINAL)
            assert gc.code == 0, gc.err
        assert published_state(site.store()) == expected, (budget, done)
        assert site.apply(tag, FINAL)["actions"] == []


# -- 7. bad input: one clear error, nothing written ----------------------------


def assert_one_error(result: Run, *fragments: str) -> str:
    """Exit 1, nothing on stdout, one ``artreg: error:`` message holding every fragment."""
    assert result.code == 1, result.err
    assert result.out == ""
    assert "Traceback" not in result.err
    (message,) = [line for line in result.err.splitlines() if line.startswith("artreg: error:")]
    assert result.err.count("artreg: error:") == 1, result.err
    for fragment in fragments:
        assert fragment in result.err, result.err
    return message


@dataclasses.dataclass
class BadInput:
    """Command-line options that override the good ones, and what the message must say."""

    fragments: tuple[str, ...]
    options: dict[str, str] = dataclasses.field(default_factory=dict)
    resolve_files: Callable[..., Any] | None = None  # replaces apply's resolve_files


def _missing_file(site: Site) -> BadInput:
    (site.root / "out/arm64/app").unlink()
    return BadInput(
        (
            "artifact 'app', platform 'linux/arm64': out/arm64/app: no such file; "
            "build the artifact first or fix the path in artreg.toml",
        )
    )


def _invalid_tag(site: Site) -> BadInput:
    return BadInput(
        ("tag 'v0.8-rc2': not semver", "(from --tag)", "did you mean 'v0.8.0-rc2'?"),
        {"--tag": "v0.8-rc2"},
    )


def _garbage_now(site: Site) -> BadInput:
    return BadInput(
        ("--now: expected an ISO-8601 instant like 2026-11-30T12:00:00Z, got 'yesterday-ish'",),
        {"--now": "yesterday-ish"},
    )


def _unknown_target(site: Site) -> BadInput:
    return BadInput(
        ("unknown target 'prod' (from --target or ARTREG_TARGET);", "declares: test"),
        {"--target": "prod"},
    )


def _file_changes_while_uploading(site: Site) -> BadInput:
    site.configure(files=[("linux/amd64", "out/amd64/app")])
    real = artreg.publish.apply.resolve_files

    def resolve_then_rebuild(*args: Any, **kwargs: Any) -> Any:
        resolved = real(*args, **kwargs)
        site.write("out/amd64/app", b"rewritten by a build still running\n")
        return resolved

    return BadInput(
        (
            "out/amd64/app: the file changed while it was being uploaded",
            "nothing was published for it",
        ),
        resolve_files=resolve_then_rebuild,
    )


BAD_INPUTS = {
    "missing-file": _missing_file,
    "invalid-tag": _invalid_tag,
    "garbage-now": _garbage_now,
    "unknown-target": _unknown_target,
    "file-changes-while-uploading": _file_changes_while_uploading,
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_clear_error_and_writes_nothing(
    site: Site, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    site.publish("v1.0.0", now=at(1))
    site.write_build("v1.1.0")
    bad = BAD_INPUTS[case](site)
    options = {"--tag": "v1.1.0", "--now": at(2), "--target": "test", **bad.options}
    argv = [x for pair in options.items() for x in pair]
    commands = ["plan", "apply"]
    if bad.resolve_files is not None:
        monkeypatch.setattr(artreg.publish.apply, "resolve_files", bad.resolve_files)
        commands = ["apply"]  # plan uploads nothing: the change is only seen on upload
    with no_change(site):
        for command in commands:
            assert_one_error(site.run(command, *argv), *bad.fragments)
    assert check_references(site.store()) == []


def _run_as_nobody(argv: list[str]) -> Run:
    """``artreg ARGV`` in a forked child that dropped root first (chmod 000 does not stop root).

    Forked, not exec'd: the interpreter may live where 'nobody' cannot read it.
    """
    if os.geteuid() != 0:
        return _capture(argv)
    # The child cannot read the standard library if it lives under /root: import
    # what it would load lazily now.
    importlib.import_module("encodings.utf_8_sig")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        outcome: dict[str, Any] = {"skip": "root here cannot drop privileges"}
        try:
            os.setgid(65534)
            os.setuid(65534)
            outcome = dataclasses.asdict(_capture(argv))
        except PermissionError:
            pass
        finally:
            os.write(write_end, json.dumps(outcome).encode())
            os._exit(0)
    os.close(write_end)
    with open(read_end, "rb") as reader:
        outcome = json.loads(reader.read() or b'{"skip": "the child died"}')
    os.waitpid(pid, 0)
    if "skip" in outcome:
        pytest.skip(outcome["skip"])
    return Run(**outcome)


def _capture(argv: list[str]) -> Run:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return Run(code, out.getvalue(), err.getvalue())


def test_unreadable_file_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CI_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    top = Path(
        tempfile.mkdtemp(prefix="artreg-unreadable-")
    )  # tmp_path is 0700: nobody cannot enter
    try:
        top.chmod(0o755)
        (top / "out").mkdir()
        (top / "out/app").write_bytes(b"secret\n")
        (top / "out/app").chmod(0o000)
        config = top / "artreg.toml"
        config.write_text(
            '[project]\nname = "demo"\n[[artifacts]]\nname = "app"\n'
            'files = [{ platform = "linux/amd64", path = "out/app" }]\n'
            '[targets.test]\ntype = "dir"\npath = "public"\n'
        )
        result = _run_as_nobody(["apply", "--tag", "v1.0.0", "--config", str(config)])
        assert_one_error(
            result,
            "artifact 'app', platform 'linux/amd64': out/app: cannot be read "
            "(Permission denied); fix its permissions",
        )
        assert not (top / "public").exists()
    finally:
        shutil.rmtree(top)


def test_bucket_that_does_not_exist(s3_backend: S3Backend, tmp_path: Path) -> None:
    target = s3_backend.target()
    missing = dataclasses.replace(target, bucket=f"{target.bucket}-missing")
    site = Site(s3_backend.kind, tmp_path, missing, s3_backend)
    site.configure()
    site.write_build("v1.0.0")
    result = site.run("apply", "--tag", "v1.0.0", "--now", NOW)
    assert_one_error(result, f"bucket '{missing.bucket}' does not exist", "create it")
    buckets = [b["Name"] for b in s3_backend.client().list_buckets()["Buckets"]]
    assert missing.bucket not in buckets


def test_wrong_credentials(
    s3rver_backend: S3Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = Site("s3rver", tmp_path, s3rver_backend.target(), s3rver_backend)
    site.configure()
    site.publish("v1.0.0", now=at(1))
    site.write_build("v1.1.0")
    with no_change(site):  # read with the right key, made before the wrong one is set
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "NOT-A-KEY")
        result = site.run("apply", "--tag", "v1.1.0", "--now", at(2))
        assert_one_error(result, "access denied", "AWS_ACCESS_KEY_ID")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3rver_backend.env["AWS_ACCESS_KEY_ID"])


def test_wrong_secret_on_a_server_that_checks_signatures(
    rgw_backend: S3Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ceph RGW checks SigV4: a wrong secret is a 403 SignatureDoesNotMatch, with no message.
    site = Site("rgw", tmp_path, rgw_backend.target(), rgw_backend)
    site.configure()
    site.publish("v1.0.0", now=at(1))
    site.write_build("v1.1.0")
    with no_change(site):  # read with the right key, made before the wrong one is set
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
        result = site.run("apply", "--tag", "v1.1.0", "--now", at(2))
        message = assert_one_error(
            result, "SignatureDoesNotMatch", "AWS_SECRET_ACCESS_KEY", str(site.target.bucket)
        )
        assert "None" not in message and "An error occurred" not in message, message
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", rgw_backend.env["AWS_SECRET_ACCESS_KEY"])


def test_endpoint_down(s3_backend: S3Backend, tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    target = dataclasses.replace(s3_backend.target(), endpoint=closed)
    site = Site(s3_backend.kind, tmp_path, target, s3_backend)
    site.config_path.write_text(
        '[project]\nname = "demo"\n[[artifacts]]\nname = "app"\n'
        'files = [{ platform = "linux/amd64", path = "out/amd64/app" }]\n'
        f'[targets.test]\ntype = "s3"\nbucket = "{target.bucket}"\nendpoint = "{closed}"\n'
    )
    site.write_build("v1.0.0")
    result = site.run("apply", "--tag", "v1.0.0", "--now", NOW)
    assert_one_error(result, f"cannot reach {closed} after 4 attempts")


# -- 9. '+' in a tag, downloaded anonymously over HTTP --------------------------


def test_plus_in_tag_is_published_under_an_encoded_key_and_downloads(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str
) -> None:
    site = make_site(request, tmp_path, kind, website=True)
    site.publish("v1.0.0", now=at(1))
    report = site.publish("v1.0.0+build.5", now=at(2))
    assert report["category"] == "extra"
    assert keys_written(report)[:5] == [
        "v1.0.0_build.5/linux/amd64/app",
        "v1.0.0_build.5/linux/arm64/app",
        "v1.0.0_build.5/SHA256SUMS",
        "v1.0.0_build.5/index.html",
        "_artreg/builds/v1.0.0_build.5.json",
    ]
    if site.backend is None:
        server = make_server(site.root / "public")
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            host, port = server.server_address[:2]
            found = download_everything(f"http://{host}:{port}/index.json")
        finally:
            server.shutdown()
            server.server_close()
    else:
        found = download_everything(site.url("index.json"))
    assert found["v1.0.0+build.5"] == {
        "v1.0.0_build.5/linux/amd64/app": b"v1.0.0+build.5 linux/amd64\n",
        "v1.0.0_build.5/linux/arm64/app": b"v1.0.0+build.5 linux/arm64\n",
    }
    assert set(found) == {"v1.0.0", "v1.0.0+build.5"}


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)
