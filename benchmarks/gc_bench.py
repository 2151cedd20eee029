"""Retention cost: decision time for 100,000 builds, and requests to delete 10,000 on moto.

  (a) ``artreg.core.retention.decide`` over 100,000 dev builds (and a mix of
      releases, extras and dev): target under 1 s.
  (b) ``artreg gc --json`` deleting 10,000 of 10,030 dev builds on moto's S3
      server: target
          LIST calls + ceil(deleted objects / 1000) DeleteObjects + O(pages) index writes
      with nothing per build. The builds (one file + one manifest each) are
      seeded with boto3 in threads, and the index documents are written from
      them with artreg's own index code, as a finished apply would have left them.

    python benchmarks/gc_bench.py [--builds N] [--decide N]

Exit status 1 when a target is missed. Times are wall clock on a shared machine.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import hashlib
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
END = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
KEEP = 30
PAGE_SIZE = 1000
THREADS = 16


def bench_decide(count: int) -> list[tuple[str, float, float]]:
    from artreg.core.retention import Candidate, RetentionRule, decide
    from artreg.core.tags import Category, Convention

    convention = Convention()
    rng = random.Random(1)
    rules = {
        Category.DEV: RetentionRule(keep_last=KEEP, expire_after=dt.timedelta(days=30)),
        Category.EXTRA: RetentionRule(keep_last=10, expire_after=dt.timedelta(days=180)),
        Category.RELEASE: RetentionRule(keep_forever=True),
    }

    def moment() -> dt.datetime:
        return END - dt.timedelta(seconds=rng.randrange(365 * 86400))

    dev = [
        Candidate(hashlib.sha1(str(i).encode()).hexdigest(), Category.DEV, moment())
        for i in range(count)
    ]
    mixed = [
        Candidate(f"v{i // 10000}.{i // 100 % 100}.{i % 100}", Category.RELEASE, moment())
        for i in range(count // 10)
    ]
    mixed += [
        Candidate(f"v{i // 10000}.{i // 100 % 100}.{i % 100}-rc1", Category.EXTRA, moment())
        for i in range(count // 10)
    ]
    mixed += dev[: count - len(mixed)]
    results = []
    for name, candidates in (("dev", dev), ("mixed", mixed)):
        best = math.inf
        for _ in range(3):
            start = time.perf_counter()
            decisions = decide(candidates, rules, END, convention)
            best = min(best, time.perf_counter() - start)
        deleted = sum(1 for d in decisions if not d.keep)
        results.append((name, best, deleted / len(decisions)))
    return results


def seed_and_index(backend: Any, target: Any, builds: int) -> list[str]:
    """``builds`` dev builds (file + manifest) via boto3 threads, then the index documents."""
    from artreg.config import IndexSettings
    from artreg.core import index
    from artreg.core.manifest import Build, FileEntry
    from artreg.core.tags import Category

    rng = random.Random(2)
    local = threading.local()

    def client() -> Any:
        if not hasattr(local, "client"):
            local.client = backend.client()
        return local.client

    def one(i: int) -> tuple[Build, str]:
        tag = hashlib.sha1(f"bench {i}".encode()).hexdigest()
        body = f"{tag}\n".encode()
        key = f"{tag}/linux/amd64/app"
        published = END - dt.timedelta(days=31 + rng.random() * 300) if i >= KEEP else END
        build = Build(
            tag=tag,
            category=Category.DEV,
            published=published.replace(microsecond=0),
            commit=tag,
            files=(
                FileEntry(
                    "app", "linux/amd64", "app", key, len(body), hashlib.sha256(body).hexdigest()
                ),
            ),
        )
        c = client()
        c.put_object(Bucket=target.bucket, Key=target.prefix + key, Body=body)
        manifest = build.to_bytes()
        response = c.put_object(
            Bucket=target.bucket,
            Key=target.prefix + build.key,
            Body=manifest,
            ContentType="application/json",
        )
        return build, response["ETag"].strip('"')

    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        seeded = list(pool.map(one, range(builds)))
    entries = [index.entry_from_build(b) for b, _ in seeded]
    pageset = index.pack(Category.DEV, entries, PAGE_SIZE)
    documents = index.page_documents(pageset)
    root = index.root_document(
        [pageset],
        project="bench",
        generated=END,
        etags={b.tag: etag for b, etag in seeded},
        page_size=PAGE_SIZE,
        newest=IndexSettings().newest,
    )
    c = client()
    for page_id, document in documents.items():
        key = target.prefix + index.page_key(Category.DEV, page_id)
        c.put_object(Bucket=target.bucket, Key=key, Body=index.dumps(document))
    c.put_object(Bucket=target.bucket, Key=target.prefix + "index.json", Body=index.dumps(root))
    c.put_object(Bucket=target.bucket, Key=target.prefix + "index.html", Body=b"<html></html>")
    return [b.tag for b, _ in seeded]


def bench_gc(builds: int, workdir: Path) -> tuple[dict[str, int], dict[str, Any], bool]:
    sys.path.insert(0, str(ROOT / "tests"))
    from servers import S3Backend, aws_env, start_moto

    server = start_moto(workdir / "logs")
    try:
        backend = S3Backend(kind="moto", endpoint=server.endpoint, env=aws_env(workdir))
        os.environ.update(backend.env)
        target = backend.target(prefix="_releases/")
        start = time.monotonic()
        seed_and_index(backend, target, builds)
        print(f"  seeded {builds} builds + index in {time.monotonic() - start:.1f} s")
        config = workdir / "artreg.toml"
        config.write_text(
            '[project]\nname = "bench"\n\n[index]\npage_size = 1000\n\n'
            '[tags.dev]\nkeep_last = 30\nexpire_after = "30d"\n\n'
            '[[artifacts]]\nname = "app"\nfiles = [{ platform = "linux/amd64", path = "app" }]\n\n'
            + backend.toml(target)
        )
        argv = [sys.executable, "-m", "artreg", "gc", "--config", str(config)]
        argv += ["--now", "2025-06-01T12:00:00Z", "--allow-mass-delete", "--json"]
        start = time.monotonic()
        done = subprocess.run(argv, capture_output=True, text=True, env={**os.environ})
        elapsed = time.monotonic() - start
        if done.returncode != 0:
            raise SystemExit(f"artreg gc failed:\n{done.stderr}")
        report: dict[str, Any] = json.loads(done.stdout)
        print(f"  artreg gc: {elapsed:.1f} s")
        verify = subprocess.run(
            [sys.executable, "-m", "artreg", "verify", "--config", str(config)],
            capture_output=True,
            text=True,
        )
        print(f"  artreg verify afterwards: exit {verify.returncode} {verify.stderr.strip()}")
        return report["requests"], report, verify.returncode == 0
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--builds", type=int, default=10_000 + KEEP)
    parser.add_argument("--decide", type=int, default=100_000)
    args = parser.parse_args()
    ok = True

    print(f"(a) retention.decide over {args.decide:,} builds (best of 3)")
    for name, seconds, share in bench_decide(args.decide):
        verdict = "ok" if seconds < 1.0 else "MISSED"
        print(
            f"  {name:<6} {seconds * 1000:7.1f} ms  ({share:.0%} deleted)  target < 1 s: {verdict}"
        )
        ok = ok and seconds < 1.0

    print(f"(b) artreg gc deleting {args.builds - KEEP:,} of {args.builds:,} builds on moto")
    with tempfile.TemporaryDirectory(prefix="gc-bench-") as tmp:
        requests, report, verified = bench_gc(args.builds, Path(tmp))
    deleted = args.builds - KEEP
    for op, n in sorted(requests.items()):
        print(f"  {op:<22} {n:6d}")
    total = sum(n for op, n in requests.items() if not op.startswith("probe:"))
    objects = 2 * args.builds  # a file and a manifest per build
    lists = requests.get("ListObjectsV2", 0)
    pages = math.ceil(args.builds / PAGE_SIZE)
    # Manifests and files in separate batches (manifests first), dropped pages, the lease,
    # and the intent record naming the files (written before, deleted after them).
    delete_calls = 2 * math.ceil(deleted / 1000) + 1 + 1 + 1
    index_writes = requests.get("PutObject", 0)  # pages, root, html, the lease, the intent
    write_budget = pages + 4
    # The manifest listing (gc's state, then the index loop's re-read) and the orphan listing.
    list_budget = 2 * math.ceil(args.builds / 1000) + math.ceil((objects + pages + 3) / 1000)
    # Root twice; each page read 4 times (orphan references, retention planned twice: once
    # for the brake check, once under the lease, then the update), the last page twice more
    # (is the oldest build past expire_after?); the lease on release (HEAD + GET). O(pages),
    # though a per-run page cache would make it 1 read per page.
    read_budget = 2 + 4 * pages + 2 + 2
    reads = requests.get("GetObject", 0) + requests.get("HeadObject", 0)
    target = list_budget + delete_calls + write_budget + read_budget
    print(
        f"  total {total} requests (probe excluded); target: LIST {list_budget} + DeleteObjects "
        f"{delete_calls} + PUT <= {write_budget} + GET/HEAD <= {read_budget} = {target}"
    )
    checks = {
        "ListObjectsV2 within budget": lists <= list_budget,
        "DeleteObjects: 1 per 1000 objects": requests.get("DeleteObjects", 0) <= delete_calls,
        "index writes O(pages)": index_writes <= write_budget,
        "reads O(pages)": reads <= read_budget,
        "nothing per build": total <= target,
        f"{deleted * 2} objects deleted": sum(
            1 for a in report["actions"] if a["op"] == "delete" and a["kind"] != "page"
        )
        == deleted * 2,
        "verify passes": verified,
    }
    for name, passed in checks.items():
        print(f"  {'ok' if passed else 'MISSED':<6} {name}")
    ok = ok and all(checks.values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
