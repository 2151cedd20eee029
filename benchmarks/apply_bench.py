"""Publish speed and request counts of `artreg apply`, measured in one run.

Starts its own moto S3 server on 127.0.0.1 (a free port) and compares, in the
same run:

  (a) first publish of 2,000 files of 1 KB (one artifact, a glob, one build)
      against `aws s3 sync` of the same tree to another bucket: <= 1.0x
  (b) the no-op re-run of both: <= 0.5x
  (c) a no-op apply with 10,000 published builds: <= ceil(builds/1000) + 5
      requests (from `artreg apply --json`, `probe:*` excluded)
  (d) publishing one new build into 100,000 builds (a dir target): <= 3 index
      objects written (pages + index.json; index.html reported apart); the same
      on moto with the 10,000 builds of (c)

Every artreg figure comes from running the `artreg` command, as CI would. The
build manifests of (c) and (d) are seeded behind artreg's back (boto3 in
threads; plain files, without sidecars, in the dir target), then one apply
builds the index. Times are wall clock; the server shares the machine, so the
ratios matter, not the seconds.

    python benchmarks/apply_bench.py [--only sync|many|dir] [--files N] [--builds N]
                                      [--dir-builds N] [--keep]

Needs `aws` (awscli v1, the `bench` extra: `pip install -e '.[bench]'`; `make
bench` installs it). Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import hashlib
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
NOW = "2026-11-30T12:00:00Z"
SEED_START = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
FILE_SIZE = 1024
PAGE_SIZE = 1000
SEED_THREADS = 16
NOOP_RUNS = 3

CONFIG_HEAD = """\
[project]
name = "bench"

[tags]
prefix = "v"

[tags.release]
keep = "forever"

[tags.extra]                  # kept, so that retention never thins the seeded builds
keep = "forever"

[tags.dev]
match = "^[0-9a-f]{40}$"
keep = "forever"

[[artifacts]]
name = "bench"
files = [{ platform = "linux/amd64", path = "%s" }]
"""
SYNC_FILES = "build/files/*"  # (a), (b): 2,000 files, one glob
ONE_FILE = "build/one/app"  # (c), (d): one small file per build


# --- results ---------------------------------------------------------------------------------


@dataclass
class Row:
    case: str
    artreg: str
    reference: str
    measured: str
    target: str
    ok: bool


def print_table(rows: Sequence[Row]) -> None:
    header = ("case", "artreg", "reference", "ratio/count", "target", "")
    cells = [header] + [
        (r.case, r.artreg, r.reference, r.measured, r.target, "ok" if r.ok else "OVER")
        for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def say(message: str) -> None:
    print(f"# {message}", file=sys.stderr, flush=True)


# --- commands --------------------------------------------------------------------------------


def find_aws() -> str:
    """The `aws` command of awscli v1, installed next to this interpreter by the bench extra."""
    for candidate in (BIN / "aws", ROOT / ".cache" / "awscli-venv" / "bin" / "aws"):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("aws")
    if found:
        return found
    raise SystemExit(
        "apply_bench: `aws` not found: run `make bench`, or `pip install -e '.[bench]'` "
        "in this virtualenv (awscli v1 vendors its own botocore, so boto3 stays as it is)"
    )


def find_artreg() -> list[str]:
    script = BIN / "artreg"
    return [str(script)] if script.exists() else [sys.executable, "-m", "artreg"]


def timed(argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> tuple[float, str]:
    """Run a command; (wall seconds, stdout). Fails loudly with its stderr."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=dict(env), capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    say(f"    {Path(argv[0]).name} {' '.join(argv[1:3])}...: {seconds:.2f} s wall, {cpu:.2f} s CPU")
    if done.returncode != 0:
        raise SystemExit(
            f"apply_bench: `{' '.join(argv)}` exited with {done.returncode}:\n{done.stderr[-4000:]}"
        )
    return seconds, done.stdout


@dataclass
class Apply:
    seconds: float
    report: dict[str, Any]

    @property
    def requests(self) -> dict[str, int]:
        return {k: int(v) for k, v in self.report["requests"].items()}

    def counted(self) -> int:
        """Requests, the one-off conditional-write probe excluded."""
        return sum(n for op, n in self.requests.items() if not op.startswith("probe:"))

    def writes(self, *kinds: str) -> int:
        return sum(
            1
            for action in self.report["actions"]
            if action.get("kind") in kinds and action.get("op") != "delete"
        )

    def describe(self) -> str:
        shown = ", ".join(f"{op} {n}" for op, n in sorted(self.requests.items()))
        return f"{self.seconds:.2f} s, {self.counted()} requests ({shown})"


def artreg_apply(
    workdir: Path, env: Mapping[str, str], target: str, tag: str, now: str = NOW
) -> Apply:
    """``artreg apply`` of the target's config (``<target>.toml``: one target each)."""
    config = f"{target}.toml"
    argv = [*find_artreg(), "apply", "--config", config, "--tag", tag, "--now", now, "--json"]
    seconds, out = timed(argv, workdir, env)
    return Apply(seconds, json.loads(out))


# --- fixtures --------------------------------------------------------------------------------


def write_tree(directory: Path, count: int) -> None:
    """``count`` files of FILE_SIZE deterministic bytes, f00000.bin ..."""
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        seed = hashlib.sha256(f"bench file {i}".encode()).digest()
        (directory / f"f{i:05d}.bin").write_bytes((seed * (FILE_SIZE // len(seed) + 1))[:FILE_SIZE])


def seeded_tags(count: int) -> Iterator[tuple[str, dt.datetime]]:
    """``count`` distinct tags (7 releases, 2 extras, 1 dev in 10) with publish times."""
    for i in range(count):
        published = SEED_START + dt.timedelta(minutes=i)
        kind = i % 10
        if kind < 7:
            tag = f"v0.{i // 1000}.{i % 1000}"
        elif kind < 9:
            tag = f"v0.{i // 1000}.{i % 1000}-rc.1"
        else:
            tag = hashlib.sha1(f"commit {i}".encode(), usedforsecurity=False).hexdigest()
        yield tag, published


def seeded_manifests(count: int) -> Iterator[tuple[str, bytes]]:
    """(key, body) of ``count`` build manifests, each with one file (not uploaded)."""
    from artreg.config import parse_config
    from artreg.core.manifest import Build, FileEntry
    from artreg.core.tags import Category, classify

    config = parse_config(config_text(ONE_FILE, "x", 'type = "dir"\npath = "x"\n'), Path("x"))
    convention = config.convention()
    for tag, published in seeded_tags(count):
        verdict = classify(tag, convention)
        assert verdict.valid, (tag, verdict.reason)
        category: Category = verdict.category
        encoded = tag.replace("+", "_")
        entry = FileEntry(
            artifact="bench",
            platform="linux/amd64",
            name="app",
            key=f"{encoded}/linux/amd64/app",
            size=FILE_SIZE,
            sha256=hashlib.sha256(tag.encode()).hexdigest(),
        )
        build = Build(tag=tag, category=category, published=published, commit=None, files=(entry,))
        yield build.key, build.to_bytes()


def config_text(files: str, target: str, table: str) -> str:
    return CONFIG_HEAD % files + f"\n[targets.{target}]\n{table}"


def parallel(work: Callable[[tuple[str, bytes]], None], items: Iterator[tuple[str, bytes]]) -> int:
    done = 0
    with concurrent.futures.ThreadPoolExecutor(SEED_THREADS) as pool:
        for _ in pool.map(work, items):
            done += 1
    return done


# --- the cases -------------------------------------------------------------------------------


def case_sync(
    workdir: Path, env: Mapping[str, str], endpoint: str, files: int, sync_bucket: str
) -> list[Row]:
    """(a) first publish and (b) no-op re-run, artreg against `aws s3 sync`."""
    write_tree(workdir / "build" / "files", files)
    aws = [find_aws(), "--endpoint-url", endpoint, "s3", "sync", "--only-show-errors"]
    sync = [*aws, "build/files", f"s3://{sync_bucket}/v1.0.0/linux/amd64/"]
    say(f"(a) aws s3 sync of {files} files")
    sync_first, _ = timed(sync, workdir, env)
    say(f"    {sync_first:.2f} s; artreg apply")
    first = artreg_apply(workdir, env, "moto", "v1.0.0")
    say(f"    {first.describe()}")
    if first.writes("file") != files:
        raise SystemExit(f"apply_bench: expected {files} file uploads, got {first.writes('file')}")
    say(f"(b) no-op re-runs, median of {NOOP_RUNS}")
    sync_again = statistics.median(timed(sync, workdir, env)[0] for _ in range(NOOP_RUNS))
    agains = [artreg_apply(workdir, env, "moto", "v1.0.0") for _ in range(NOOP_RUNS)]
    again = sorted(agains, key=lambda a: a.seconds)[NOOP_RUNS // 2]
    say(f"    aws {sync_again:.2f} s; artreg {again.describe()}")
    writes = sum(n for op, n in again.requests.items() if op in ("PutObject", "DeleteObjects"))
    ratio_a = first.seconds / sync_first
    ratio_b = again.seconds / sync_again
    return [
        Row(
            f"(a) first publish, {files} x 1 KB",
            f"{first.seconds:.2f} s / {first.counted()} req",
            f"{sync_first:.2f} s (aws s3 sync)",
            f"{ratio_a:.2f}x",
            "<= 1.0x",
            ratio_a <= 1.0,
        ),
        Row(
            "(b) no-op re-run",
            f"{again.seconds:.2f} s / {again.counted()} req",
            f"{sync_again:.2f} s (aws s3 sync)",
            f"{ratio_b:.2f}x",
            "<= 0.5x",
            ratio_b <= 0.5,
        ),
        Row(
            "(b) no-op writes",
            f"{writes} writes",
            "-",
            f"{writes}",
            "0",
            writes == 0,
        ),
    ]


def case_many_on_moto(
    workdir: Path, env: Mapping[str, str], backend: Any, bucket: str, builds: int
) -> list[Row]:
    """(c) no-op apply with ``builds`` builds; (d, moto) one new build into them."""
    client = backend.client()

    def put(item: tuple[str, bytes]) -> None:
        key, body = item
        client.put_object(
            Bucket=bucket,
            Key=key,
            Body=body,
            ContentType="application/json",
            CacheControl="no-cache",
        )

    say(f"(c) seeding {builds} manifests into moto ({SEED_THREADS} threads)")
    start = time.perf_counter()
    parallel(put, seeded_manifests(builds))
    say(f"    {time.perf_counter() - start:.1f} s; first apply (builds the index)")
    build_index = artreg_apply(workdir, env, "many", "v1.0.0")
    say(f"    {build_index.describe()}")
    noop = artreg_apply(workdir, env, "many", "v1.0.0")
    say(f"    no-op: {noop.describe()}")
    total = builds + 1
    limit = math.ceil(total / PAGE_SIZE) + 5
    say("(d, moto) one new build")
    new = artreg_apply(workdir, env, "many", "v9.0.0", now="2026-11-30T12:05:00Z")
    say(f"    {new.describe()}")
    return [
        Row(
            f"(c) no-op apply, {total} builds",
            noop.describe().split(", ", 1)[1].split(" (")[0],
            "-",
            f"{noop.counted()}",
            f"<= {limit} req",
            noop.counted() <= limit,
        ),
        *index_rows(f"(d) +1 build into {total}, moto", new),
    ]


def index_rows(case: str, applied: Apply) -> list[Row]:
    pages = applied.writes("page")
    roots = applied.writes("root")
    html = applied.writes("html")
    written = pages + roots
    return [
        Row(
            case,
            f"{applied.seconds:.2f} s / {applied.counted()} req",
            f"index.html: {html}",
            f"{written} ({pages} pages + {roots} root)",
            "<= 3 objects",
            written <= 3 and roots == 1,
        )
    ]


def case_many_in_dir(workdir: Path, env: Mapping[str, str], builds: int) -> list[Row]:
    """(d) one new build into ``builds`` builds in a dir target, seeded as plain files.

    The dir store accepts files without a sidecar (placed by hand): it lists them,
    computes their md5 etag and guesses their type, so no sidecar is written.
    """
    root = workdir / "dir-target"
    say(f"(d) seeding {builds} manifests into {root} (plain files)")
    start = time.perf_counter()
    (root / "_artreg" / "builds").mkdir(parents=True, exist_ok=True)

    def write(item: tuple[str, bytes]) -> None:
        key, body = item
        (root / key).write_bytes(body)

    parallel(write, seeded_manifests(builds))
    say(f"    {time.perf_counter() - start:.1f} s; first apply (builds the index)")
    build_index = artreg_apply(workdir, env, "dir", "v1.0.0")
    say(f"    {build_index.describe()}")
    new = artreg_apply(workdir, env, "dir", "v9.0.0", now="2026-11-30T12:05:00Z")
    say(f"    +1 release: {new.describe()}")
    dev = hashlib.sha1(b"bench new dev", usedforsecurity=False).hexdigest()
    new_dev = artreg_apply(workdir, env, "dir", dev, now="2026-11-30T12:10:00Z")
    say(f"    +1 dev: {new_dev.describe()}")
    total = builds + 2
    return [
        *index_rows(f"(d) +1 release into {total}, dir", new),
        *index_rows(f"(d) +1 dev build into {total + 1}, dir", new_dev),
    ]


# --- main ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000, help="files of (a) and (b)")
    parser.add_argument("--builds", type=int, default=10_000, help="builds of (c), on moto")
    parser.add_argument("--dir-builds", type=int, default=100_000, help="builds of (d), dir")
    parser.add_argument(
        "--only",
        choices=["sync", "many", "dir"],
        action="append",
        help="run only (a)+(b) [sync], (c)+(d) on moto [many] or (d) on a dir [dir]; repeatable",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "tests"))
    from servers import AWS_ENV_TO_CLEAR, S3Backend, aws_env, start_moto

    workdir = Path(tempfile.mkdtemp(prefix="apply-bench-"))
    env = {k: v for k, v in os.environ.items() if k not in AWS_ENV_TO_CLEAR}
    # As after `pip install`: compiled modules are cached (both commands alike).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(aws_env(workdir))
    os.environ.update(aws_env(workdir))  # for the boto3 client that seeds (c)
    server = start_moto(workdir / "logs")
    rows: list[Row] = []
    try:
        backend = S3Backend("moto", server.endpoint)
        buckets = [backend.make_bucket() for _ in range(3)]
        s3 = f'type = "s3"\nendpoint = "{server.endpoint}"\nregion = "us-east-1"\nbucket = '
        configs = {
            "moto": config_text(SYNC_FILES, "moto", f'{s3}"{buckets[0]}"\n'),
            "many": config_text(ONE_FILE, "many", f'{s3}"{buckets[2]}"\n'),
            "dir": config_text(ONE_FILE, "dir", 'type = "dir"\npath = "dir-target"\n'),
        }
        for name, text in configs.items():
            (workdir / f"{name}.toml").write_text(text)
        (workdir / ONE_FILE).parent.mkdir(parents=True)
        (workdir / ONE_FILE).write_bytes(b"one small file\n" * 64)
        say(f"work directory {workdir}, moto at {server.endpoint}")
        wanted = set(args.only or ["sync", "many", "dir"])
        if "sync" in wanted:
            rows += case_sync(workdir, env, server.endpoint, args.files, buckets[1])
        if "many" in wanted:
            rows += case_many_on_moto(workdir, env, backend, buckets[2], args.builds)
        if "dir" in wanted:
            rows += case_many_in_dir(workdir, env, args.dir_builds)
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"artreg apply vs aws s3 sync, moto on {server.endpoint}, {os.cpu_count()} cores")
    print_table(rows)
    return 0 if all(row.ok for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
