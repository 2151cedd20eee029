"""``artreg apply``: reconcile a target with the declared build, idempotently."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from artreg.artifacts import LocalFile, resolve_files
from artreg.commands import load_required
from artreg.config import Config, Target, resolve_target
from artreg.core.manifest import Build, parse_time
from artreg.core.plan import BuildChange, plan_build, summarize
from artreg.core.tags import classify
from artreg.errors import ArtregError, InvalidTag
from artreg.publisher import (
    IndexPlan,
    Progress,
    Step,
    TargetState,
    build_steps,
    execute,
    md5_etag,
    ordered,
    plan_index,
    read_build,
    read_state,
)
from artreg.render.html import human_size
from artreg.source import BuildRef, detect_build_ref
from artreg.stores import Store, open_store


def parse_now(text: str | None) -> dt.datetime:
    """``--now`` or the clock, in UTC, whole seconds (what documents record)."""
    if text is None:
        return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    try:
        return parse_time(text).replace(microsecond=0)
    except ValueError:
        raise ArtregError(
            f"--now: expected an ISO-8601 instant like 2026-11-30T12:00:00Z, got {text!r}"
        ) from None


@dataclass
class Prepared:
    """Everything decided before the first write."""

    config: Config
    target: Target
    store: Store
    ref: BuildRef
    files: tuple[LocalFile, ...]
    state: TargetState
    change: BuildChange
    steps: list[Step]
    index: IndexPlan
    now: dt.datetime


def prepare(args: argparse.Namespace) -> Prepared:
    """Load, resolve, hash, read the target's state and plan; writes nothing."""
    config = load_required(args.config)
    base = config.path.parent if config.path is not None else Path()
    target = resolve_target(config, args.target)
    now = parse_now(args.now)
    ref = detect_build_ref(args.tag, os.environ, base)
    verdict = classify(ref.tag, config.convention())
    if not verdict.valid:
        raise InvalidTag(ref.tag, f"{verdict.reason} (from {ref.origin})", verdict.suggestion)
    file_artifacts = [a for a in config.artifacts if a.type == "files"]
    unsupported = [a.name for a in config.artifacts if a.type != "files"]
    if unsupported:
        raise ArtregError(
            f"artifacts {', '.join(unsupported)}: OCI images are not published by this "
            "version of artreg yet; remove them from artreg.toml or publish them separately"
        )
    if not file_artifacts:
        raise ArtregError(
            f"{config.path}: nothing to publish; declare files under [[artifacts]] "
            "(see `artreg init`)"
        )
    files = resolve_files(base, file_artifacts, ref.tag)
    build = Build(
        tag=ref.tag,
        category=verdict.category,
        published=now,
        commit=ref.commit,
        files=tuple(f.to_file_entry() for f in files),
    )
    store = open_store(target, base)
    state = read_state(store, config.convention())
    existing = read_build(store, build.key) if ref.tag in state.manifests else None
    change = plan_build(build, existing)
    steps = build_steps(change, files)
    added = [change.build] if change.changed else []
    predicted = {b.tag: md5_etag(b.to_bytes()) for b in added}
    index_plan = plan_index(
        store, state, config, added=added, added_etags=predicted, removed=(), now=now
    )
    return Prepared(config, target, store, ref, files, state, change, steps, index_plan, now)


def all_steps(prepared: Prepared) -> list[Step]:
    return ordered([*prepared.steps, *prepared.index.steps])


def _index_after_manifests(prepared: Prepared, etags: Mapping[str, str]) -> Sequence[Step]:
    """Re-plan the index with the etags the store assigned, if they differ from the prediction."""
    change = prepared.change
    if not change.changed:
        return prepared.index.steps
    actual = etags.get(change.build.key)
    if actual is None or actual == md5_etag(change.build.to_bytes()):
        return prepared.index.steps
    return plan_index(
        prepared.store,
        prepared.state,
        prepared.config,
        added=[change.build],
        added_etags={change.build.tag: actual},
        removed=(),
        now=prepared.now,
    ).steps


def run(args: argparse.Namespace) -> int:
    prepared = prepare(args)
    for note in prepared.index.notes:
        print(f"artreg: {note}", file=sys.stderr)
    steps = all_steps(prepared)
    summary = summarize([s.action for s in steps])
    progress = Progress(sum(s.action.size for s in prepared.steps if s.request is not None))
    try:
        execute(
            prepared.store,
            prepared.steps,
            progress,
            index_steps=lambda etags: _index_after_manifests(prepared, etags),
        )
    finally:
        progress.close()
    requests = dict(sorted(prepared.store.requests.items()))
    total = sum(requests.values())
    if args.json:
        report = {
            "target": prepared.target.name,
            "store": prepared.store.description,
            "tag": prepared.ref.tag,
            "category": prepared.change.build.category.value,
            "origin": prepared.ref.origin,
            "build": "published" if prepared.change.changed else "unchanged",
            "uploaded": summary.uploaded,
            "uploadedBytes": summary.uploaded_bytes,
            "indexWritten": summary.index_written,
            "deleted": summary.deleted,
            "actions": [s.action.to_json() for s in steps],
            "requests": requests,
            "requestsTotal": total,
        }
        json.dump(report, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        state = "already published" if not prepared.change.changed else "published"
        print(
            f"{prepared.ref.tag} ({prepared.change.build.category}) {state} to "
            f"{prepared.target.name}: {summary.uploaded} uploaded "
            f"({human_size(summary.uploaded_bytes)}), {summary.index_written} index files "
            f"written, {summary.deleted} deleted, {total} requests"
        )
    return 0
