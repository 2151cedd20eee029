"""Crash safety and concurrency of the index loop (``publish.reconcile``), with real processes.

- Crash: ``artreg apply`` publishing into a target where retention deletes
  almost every build is SIGKILLed at random moments (fixed seed). After each
  kill no index or manifest references a missing object, and the next apply
  converges to the same builds and a consistent index as an uninterrupted run.
- Concurrency: 8 ``artreg apply`` processes publish 8 tags to one target at
  once, on moto (lease, conditional writes) and on s3rver (no conditional
  writes: re-list until convergent). Every tag ends up indexed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import s3proxy
from publishing import CI_VARIABLES, check_references, follow_index, make_site, published_state
from s3proxy import Reply, header, precondition_failed
from servers import S3Backend

from artreg.cli import main
from artreg.config import Target
from artreg.core.manifest import Build, FileEntry, format_time
from artreg.core.tags import Category
from artreg.publish.lease import LEASE_KEY, TTL_ENV
from artreg.stores import PutRequest, Store, open_store

ARTREG = [sys.executable, "-m", "artreg"]
END = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
NEW_TAG = "f" * 40
KEEP_LAST = 3
CRASH_SEED = 4242
CRASHES_ON_DIR = 16
CRASHES_ON_S3 = 4
# A killed run leaves its lease behind: with a 1 s TTL the next run takes it over at once.
LEASE_TTL = "1"


def dev_tag(i: int) -> str:
    return hashlib.sha1(f"seeded {i}".encode()).hexdigest()


@dataclass
class Project:
    """A project directory with artreg.toml publishing ``out/app`` to the target ``test``."""

    root: Path
    target: Target
    env: dict[str, str]

    @property
    def config(self) -> str:
        return str(self.root / "artreg.toml")

    def store(self) -> Store:
        return open_store(self.target, self.root)

    def argv(self, *args: str) -> list[str]:
        return [*ARTREG, *args, "--config", self.config]

    def popen(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self.argv(*args),
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=self.root,
        )

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args), env=self.env, capture_output=True, text=True, cwd=self.root
        )

    def inprocess(self, *args: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([*args, "--config", self.config])
        return code, out.getvalue(), err.getvalue()


def make_project(
    root: Path,
    target: Target,
    target_toml: str,
    extra_env: Mapping[str, str],
    rules: str = "",
    content: bytes = b"new build\n",
) -> Project:
    root.mkdir(parents=True, exist_ok=True)
    (root / "out").mkdir(exist_ok=True)
    (root / "out" / "app").write_bytes(content)
    (root / "artreg.toml").write_text(
        '[project]\nname = "demo"\n\n[index]\npage_size = 4\n\n'
        '[[artifacts]]\nname = "app"\nfiles = [{ platform = "linux/amd64", path = "out/app" }]\n\n'
        f"{target_toml}\n{rules}"
    )
    env = {k: v for k, v in os.environ.items() if k not in CI_VARIABLES}
    env.update(extra_env)
    env[TTL_ENV] = LEASE_TTL
    return Project(root, target, env)


def dir_target_toml() -> str:
    return '[targets.test]\ntype = "dir"\npath = "public"\n'


RULES = f'[tags.dev]\nkeep_last = {KEEP_LAST}\nexpire_after = "1d"\n'


def seed(store: Store, count: int) -> list[str]:
    """``count`` dev builds published 2..count+1 days before END (files, then manifests)."""
    tags = []
    for i in range(count):
        tag = dev_tag(i)
        body = f"{tag}\n".encode()
        key = f"{tag}/linux/amd64/app"
        store.put(PutRequest(key, body, "application/octet-stream"))
        build = Build(
            tag=tag,
            category=Category.DEV,
            published=END - dt.timedelta(days=2 + i),
            commit=tag,
            files=(
                FileEntry(
                    "app", "linux/amd64", "app", key, len(body), hashlib.sha256(body).hexdigest()
                ),
            ),
        )
        store.put(PutRequest(build.key, build.to_bytes(), "application/json"))
        tags.append(tag)
    return tags


def seeded_project(project: Project, count: int) -> list[str]:
    tags = seed(project.store(), count)
    code, out, err = project.inprocess("verify", "--repair")  # writes the index
    assert code == 0, out + err
    return tags


APPLY = (
    "apply", "--tag", NEW_TAG, "--now", format_time(END), "--allow-mass-delete", "--json",
)  # fmt: skip


def final_view(store: Store) -> tuple[list[str], list[str]]:
    """What must be the same after any crash and re-run: manifests and the dev index order."""
    manifests = sorted(i.key for i in store.list("_artreg/builds/"))
    return manifests, [e["tag"] for e in follow_index(store)["dev"]]


def dangling(project: Project) -> list[str]:
    """References to missing objects: from a reader's walk and from ``artreg verify``."""
    store = project.store()
    problems = check_references(store)
    _, out, _ = project.inprocess("verify")
    for line in out.splitlines():
        if "missing" in line or "has no build manifest" in line:
            problems.append(f"verify: {line}")
    return problems


def crash_and_recover(
    project: Project, delay: float, expected: tuple[list[str], list[str]]
) -> bool:
    """Kill an apply after ``delay`` s; check; re-run; True when the kill left partial work."""
    store = project.store()
    before = {i.key: i.etag for i in store.list()}
    process = project.popen(*APPLY)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    after = {i.key: i.etag for i in store.list() if i.key != LEASE_KEY}
    assert dangling(project) == [], f"after a kill at {delay:.3f} s"
    rerun = project.run(*APPLY)
    assert rerun.returncode == 0, rerun.stderr
    assert final_view(store) == expected, f"after a kill at {delay:.3f} s"
    code, out, err = project.inprocess("verify")
    assert code == 0, out + err
    assert check_references(store) == []
    # The lease may remain: a run killed after its last write, before releasing it, leaves
    # the re-run nothing to do (so it takes no lease); it expires after ARTREG_LEASE_TTL.
    finished = {i.key: i.etag for i in store.list()}
    return after != before and after != finished


def measure(project: Project) -> tuple[float, float, tuple[list[str], list[str]]]:
    """An uninterrupted run: when its first write lands, its duration, and its final view.

    The first write is the new build's file (watched by polling the store); kills are
    spread from a little before it to the end of the run, where every write happens.
    """
    store = project.store()
    watched = f"{NEW_TAG}/linux/amd64/app"
    start = time.monotonic()
    process = project.popen(*APPLY)
    first = None
    while process.poll() is None and first is None:
        if store.head(watched) is not None:
            first = time.monotonic() - start
        time.sleep(0.005)  # light polling: do not slow the run down
    out, err = process.communicate()
    duration = time.monotonic() - start
    assert process.returncode == 0, err.decode()
    requests = json.loads(out)["requests"]
    assert requests["DeleteObjects"] >= 3, requests  # pages, then manifests, then files
    code, text, problems = project.inprocess("verify")
    assert code == 0, text + problems
    return first if first is not None else 0.0, duration, final_view(store)


def expected_view(seeded: Sequence[str]) -> tuple[list[str], list[str]]:
    """Computed here: the new build plus the newest KEEP_LAST - 1 seeded ones (all > 1 day)."""
    kept = [NEW_TAG, *seeded[: KEEP_LAST - 1]]  # seeded[i] is 2 + i days old
    return sorted(f"_artreg/builds/{t}.json" for t in kept), kept


def test_sigkill_during_a_gc_heavy_apply_on_dir(tmp_path: Path) -> None:
    template = make_project(tmp_path / "template", Target("test", "dir", path="public"),
                            dir_target_toml(), {}, RULES)  # fmt: skip
    seeded = seeded_project(template, 40)
    expected = expected_view(seeded)

    reference = tmp_path / "reference"
    shutil.copytree(template.root, reference)
    ref = Project(reference, template.target, template.env)
    first, duration, view = measure(ref)
    assert view == expected

    rng = random.Random(CRASH_SEED)
    partial = 0
    for i in range(CRASHES_ON_DIR):
        root = tmp_path / f"crash-{i}"
        shutil.copytree(template.root, root)
        project = Project(root, template.target, template.env)
        delay = rng.uniform(first * 0.9, duration)
        partial += crash_and_recover(project, delay, expected)
        shutil.rmtree(root)
    print(
        f"dir: run {duration:.2f} s (first write at {first:.2f} s); {CRASHES_ON_DIR} kills, "
        f"{partial} left partial work"
    )


@pytest.mark.parametrize("kind", ["moto", "rgw"])
def test_sigkill_during_a_gc_heavy_apply_on_s3(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str
) -> None:
    backend: S3Backend = request.getfixturevalue(f"{kind}_backend")

    def fresh(name: str) -> tuple[Project, list[str]]:
        target = backend.target(prefix="_releases/")
        project = make_project(tmp_path / name, target, backend.toml(target), backend.env, RULES)
        return project, seeded_project(project, 24)

    ref, seeded = fresh("reference")
    first, duration, view = measure(ref)
    assert view == expected_view(seeded)
    rng = random.Random(CRASH_SEED + 1)
    partial = 0
    for i in range(CRASHES_ON_S3):
        project, seeded = fresh(f"crash-{i}")
        partial += crash_and_recover(
            project, rng.uniform(first * 0.9, duration), expected_view(seeded)
        )
    print(
        f"{kind}: run {duration:.2f} s, first write at {first:.2f} s; {CRASHES_ON_S3} kills, "
        f"{partial} left partial work"
    )


@pytest.mark.parametrize("kind", ["moto", "s3rver", "rgw"])
def test_eight_concurrent_applies(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str
) -> None:
    backend: S3Backend = request.getfixturevalue(f"{kind}_backend")
    target = backend.target(prefix="_releases/")
    tags = [f"v1.{i}.0" for i in range(4)] + [
        hashlib.sha1(bytes([i])).hexdigest() for i in range(4)
    ]
    projects = [
        make_project(
            tmp_path / f"p{i}",
            target,
            backend.toml(target),
            backend.env,
            content=f"build {tag}\n".encode(),
        )
        for i, tag in enumerate(tags)
    ]
    # One build first, so the others race on an existing index (update, not create).
    first = projects[0].run("apply", "--tag", tags[0], "--json")
    assert first.returncode == 0, first.stderr
    processes = [
        p.popen("apply", "--tag", tag, "--json")
        for p, tag in zip(projects[1:], tags[1:], strict=True)
    ]
    outputs = [p.communicate(timeout=300) for p in processes]
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err.decode()
        mode = json.loads(out)["mode"]
        assert mode == ("convergent" if kind == "s3rver" else "locked")
    store = open_store(target, tmp_path)
    code, out, err = projects[0].inprocess("verify", "--deep")
    assert code == 0, out + err
    indexed = follow_index(store)
    assert sorted(e["tag"] for e in indexed["release"]) == sorted(tags[:4])
    assert sorted(e["tag"] for e in indexed["dev"]) == sorted(tags[4:])
    assert check_references(store) == []
    assert store.head(LEASE_KEY) is None
    state = published_state(store)
    assert state["orphan pages"] == []
    assert state["categories"]["release"]["count"] == 4


@pytest.mark.parametrize("kind", ["dir", "moto"])
def test_one_release_raced_with_other_bytes_is_published_once_intact(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str
) -> None:
    """Invariant 3 under a race: two runs publish v1.0.0 with different bytes at once.

    Where the store honours conditional writes, a new release is published whole
    under the lease: one run wins, the other is refused, and the stored files are
    the winner's (the manifest's digests hold; nothing was silently overwritten).
    """
    for attempt in range(3):
        if kind == "dir":
            shared = tmp_path / f"public{attempt}"
            target = Target(name="test", type="dir", path=str(shared))
            target_toml = f'[targets.test]\ntype = "dir"\npath = "{shared}"\n'
            env: Mapping[str, str] = {}
        else:
            backend: S3Backend = request.getfixturevalue("moto_backend")
            target = backend.target()
            target_toml = backend.toml(target)
            env = backend.env
        racers = [
            make_project(
                tmp_path / f"race{attempt}-{side}",
                target,
                target_toml,
                env,
                content=bytes([side]) * (4 << 20),
            )
            for side in (1, 2)
        ]
        # The race is under a live lease: the holder's upload of 4 MB may outlast this
        # file's 1 s TTL on a loaded machine, and an expired lease is taken over (leases are
        # not renewed during a run: docs/spec.md, section 13).
        for racer in racers:
            racer.env[TTL_ENV] = "120"
        processes = [p.popen("apply", "--tag", "v1.0.0") for p in racers]
        outputs = [p.communicate(timeout=300) for p in processes]
        results = [
            (p.returncode, err.decode()) for p, (_, err) in zip(processes, outputs, strict=True)
        ]
        codes = sorted(code for code, _ in results)
        assert codes == [0, 1], results
        refused = next(err for code, err in results if code == 1)
        # Refused either when it compared under the lease ("immutable") or, when the
        # other run's manifest landed first, by the manifest's conditional write.
        assert "immutable" in refused or "published this tag with other content" in refused, refused
        code, out, err = racers[0].inprocess("verify", "--deep")
        assert code == 0, out + err
        store = open_store(target, tmp_path)
        assert check_references(store) == []
        assert [e["tag"] for e in follow_index(store)["release"]] == ["v1.0.0"]


def _rgw16(method: str, path: str, headers: dict[str, str]) -> Reply | None:
    """Ceph RGW 16's If-Match: a quoted ETag never matches, the bare one does."""
    value = header(headers, "If-Match")
    if method == "PUT" and value is not None and value.startswith('"'):
        return Reply(412, precondition_failed(path))
    return None


@pytest.mark.parametrize("kind", ["rgw", "moto-behind-rgw16-proxy"])
def test_every_run_after_the_first_works_where_if_match_wants_the_bare_etag(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str
) -> None:
    """The issue's report: on Ceph RGW every apply after the first "did not settle"."""
    with contextlib.ExitStack() as stack:
        site = make_site(request, tmp_path, kind.split("-")[0], extra_toml=RULES)
        assert site.backend is not None
        if kind != "rgw":
            proxy = stack.enter_context(s3proxy.running(site.backend.endpoint, _rgw16))
            site.config_path.write_text(
                site.config_path.read_text().replace(site.backend.endpoint, proxy.endpoint)
            )
        day = dt.datetime(2025, 6, 1, tzinfo=dt.timezone.utc)
        for n, tag in enumerate(["v1.0.0", "v1.1.0", *(dev_tag(i) for i in range(5))]):
            site.write_build(tag)
            now = format_time(day + dt.timedelta(days=n))
            result = site.run(
                "apply", "--target", "test", "--tag", tag, "--now", now, "--no-gc", "--json"
            )
            assert result.code == 0, result.err
            assert result.json()["mode"] == "locked"
        gc = site.run("gc", "--target", "test", "--now", format_time(day + dt.timedelta(days=9)))
        assert gc.code == 0, gc.err
        assert "deleted" in gc.out and not gc.out.startswith("gc test: 0 deleted"), gc.out
        repair = site.run("verify", "--target", "test", "--repair")
        assert repair.code == 0, repair.out + repair.err
        assert site.run("verify", "--target", "test").code == 0
        store = site.store()
        assert check_references(store) == []
        assert store.head(LEASE_KEY) is None


def test_a_store_serving_a_stale_root_is_not_blamed_on_other_runs(
    s3rver_backend: S3Backend, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Convergent mode never settles if reads lag writes: say so, not "other runs"."""
    site = make_site(request, tmp_path, "s3rver")
    site.publish("v1.0.0")
    stale: dict[str, bytes] = {}

    def stale_root(method: str, path: str, headers: dict[str, str]) -> Reply | None:
        if method == "GET" and path.endswith("/_releases/index.json"):
            if not stale:
                stale["body"] = site.store().get("index.json")
            return Reply(200, stale["body"], "application/json")
        return None

    config = site.config_path.read_text()
    with s3proxy.running(s3rver_backend.endpoint, stale_root) as proxy:
        site.config_path.write_text(config.replace(s3rver_backend.endpoint, proxy.endpoint))
        site.write_build("v1.1.0")
        result = site.run("apply", "--target", "test", "--tag", "v1.1.0")
        site.config_path.write_text(config)
    assert result.code == 1, result.out + result.err
    message = result.err.strip()
    assert len(message.splitlines()) == 1, message
    assert "other runs" not in message
    assert "did not match what this run had just written" in message
    assert "no other run was seen" in message
