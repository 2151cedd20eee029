"""``artreg apply``: reconcile a target with the declared build, idempotently."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from dataclasses import dataclass, field

from artreg.artifacts import LocalFile, resolve_files
from artreg.commands import config_dir, load_required
from artreg.config import Config, Target, resolve_target
from artreg.core.keys import site_keys
from artreg.core.manifest import Build, parse_time
from artreg.core.ownership import Intent
from artreg.core.plan import BuildChange, Kind, Op, plan_build
from artreg.core.tags import Category, classify
from artreg.downloads import (
    SiteReport,
    latest_is_current,
    moves_latest,
    plan_build_site,
    plan_latest,
    refresh_latest,
    removals_move_latest,
    write_build,
)
from artreg.errors import ArtregError, InvalidTag
from artreg.lease import Lease, default_holder
from artreg.oci.publish import ImagesPlan, plan_images, publish_images, read_images
from artreg.publisher import (
    IndexPlan,
    RetentionPlan,
    Step,
    TargetState,
    build_steps,
    execute,
    new_intent,
    ordered,
    plan_index,
    read_build,
    read_state,
    write_intent,
)
from artreg.reconcile import Job, Report, reconcile
from artreg.render.counts import counted
from artreg.render.html import human_size
from artreg.render.progress import Progress
from artreg.source import BuildRef, detect_build_ref
from artreg.stores import PreconditionFailed, Store, open_store

# The etag ``plan`` records for a manifest it has not written (no store sends this).
UNWRITTEN_ETAG = "(not written yet)"


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
    retention: RetentionPlan
    index: IndexPlan
    now: dt.datetime
    job: Job  # what the index and retention phase needs (shared with gc)
    images: ImagesPlan = field(default_factory=ImagesPlan)
    image_sweep: list[Step] = field(default_factory=list)  # for ``plan``; apply re-plans it


def brake_lines(retention: RetentionPlan, allow_mass_delete: bool) -> list[str]:
    """One line per category where the mass-delete brake trips; none when allowed."""
    if allow_mass_delete:
        return []
    return [brake.describe() for brake in retention.brakes]


def check_brakes(retention: RetentionPlan, allow_mass_delete: bool) -> None:
    """Refuse a run that would delete more than the allowed share of a category."""
    lines = brake_lines(retention, allow_mass_delete)
    if lines:
        raise ArtregError(
            "the mass-delete brake stopped this run before any write:\n"
            + "\n".join(f"  {line}" for line in lines)
        )


def show_brakes(lines: list[str], command: str) -> None:
    """After a full plan (``plan``, ``gc --dry-run``): the brake that would stop the real run."""
    if not lines:
        return
    print(
        f"artreg: the mass-delete brake would stop `{command}` before any write:", file=sys.stderr
    )
    for line in lines:
        print(f"artreg:   {line}", file=sys.stderr)
    print(
        f"artreg: to proceed, check the deletions above, then run `{command} --allow-mass-delete`",
        file=sys.stderr,
    )


def prepare(args: argparse.Namespace, *, show_index: bool = False) -> Prepared:
    """Load, resolve, hash, read the target's state and plan; writes nothing.

    The index is planned here only for ``plan`` (``show_index``) or when nothing
    else changes (is the index itself out of date?); otherwise ``reconcile``
    plans it once, from a fresh listing, just before writing it.
    """
    config = load_required(args.config)
    base = config_dir(config)
    target = resolve_target(config, args.target)
    now = parse_now(args.now)
    ref = detect_build_ref(args.tag, os.environ, base)
    if ref.note is not None:  # a CI run publishing a dev build: say why, once
        print(f"artreg: {ref.note}", file=sys.stderr)
    verdict = classify(ref.tag, config.convention())
    if not verdict.valid:
        raise InvalidTag(ref.tag, f"{verdict.reason} (from {ref.origin})", verdict.suggestion)
    file_artifacts = [a for a in config.artifacts if a.type == "files"]
    image_artifacts = [a for a in config.artifacts if a.type == "oci"]
    if not file_artifacts and not image_artifacts:
        raise ArtregError(
            f"{config.path}: nothing to publish; declare files under [[artifacts]] "
            "(see `artreg docs config`)"
        )
    files = resolve_files(base, file_artifacts, ref.tag) if file_artifacts else ()
    for empty in (f for f in files if f.size == 0):
        print(
            f"artreg: warning: artifact {empty.artifact!r}, platform {empty.platform!r}: "
            f"{empty.source}: is empty (0 bytes); a build step probably failed",
            file=sys.stderr,
        )
    # Every image is read and verified before the first request (see artreg.oci.layout).
    images = read_images(base, image_artifacts)
    build = Build(
        tag=ref.tag,
        category=verdict.category,
        published=now,
        commit=ref.commit,
        files=tuple(f.to_file_entry() for f in files),
        images=tuple(source.entry(ref.tag) for source in images),
    )
    store = open_store(target, base)
    state = read_state(store, config.convention())
    existing = read_build(store, build.key) if ref.tag in state.manifests else None
    change = plan_build(build, existing)
    image_plan = plan_images(store, images, ref.tag, config.convention())
    steps = build_steps(change, files)
    if change.changed:  # the build's checksums, signature and page; then latest/ and the feed
        site = [
            *plan_build_site(config, change.build),
            *plan_latest(config, state.root, change.build),
        ]
        steps += [Step(action) for action in site]
    added = [change.build] if change.changed else []
    prepared = Prepared(
        config,
        target,
        store,
        ref,
        files,
        state,
        change,
        steps,
        RetentionPlan(),
        IndexPlan(),
        now,
        Job(
            store=store,
            config=config,
            target=target,
            original=state,
            now=now,
            gc=not getattr(args, "no_gc", False),
            allow_mass_delete=getattr(args, "allow_mass_delete", False),
            holder=default_holder(f"artreg apply {ref.tag}"),
        ),
        images=image_plan,
    )
    prepared.retention = prepared.job.retention(state, added)
    if not show_index:  # ``plan`` shows the whole plan first, then the brake (show_brakes)
        check_brakes(prepared.retention, prepared.job.allow_mass_delete)
    if not show_index and (added or prepared.retention.removed or image_plan.steps()):
        return prepared
    removed = prepared.retention.removed
    if show_index and prepared.job.gc and removed:
        pinned = {
            digest
            for source in images
            for digest in (
                source.image.digest,
                *(c.digest for c in source.image.children),
                *(b.digest for b in source.image.blobs),
            )
        }
        builds = (set(state.manifests) | {build.tag}) - set(removed)
        prepared.image_sweep = prepared.job.image_sweep(builds, removed, pinned).steps()
    # A manifest's etag is known only once the store has written it (it is not
    # always the md5 of the bytes): the root shown by ``plan`` carries a stand-in.
    unwritten = {b.tag: UNWRITTEN_ETAG for b in added}
    prepared.index = plan_index(
        store,
        state,
        config,
        added=added,
        added_etags=unwritten,
        removed=prepared.retention.removed,
        now=now,
    )
    return prepared


def all_steps(prepared: Prepared) -> list[Step]:
    """Everything ``apply`` would do, in order (what ``plan`` shows)."""
    steps = [*prepared.images.steps(), *prepared.steps]
    steps = ordered([*steps, *prepared.index.steps, *prepared.retention.steps()])
    return [*steps, *prepared.image_sweep]  # image tags, manifests and blobs go last


def _write_manifest(prepared: Prepared, conditional: bool) -> str | None:
    """Write the build manifest; with conditional writes, never over a concurrent one."""
    change = prepared.change
    step = next(s for s in prepared.steps if s.action.kind is Kind.MANIFEST)
    assert step.request is not None
    store = prepared.store
    if not conditional:
        return store.put(step.request)
    original = prepared.state.manifests.get(change.build.tag)
    try:
        if original is None:
            return store.put(step.request, if_none_match=True)
        return store.put(step.request, if_match=original.etag)
    except PreconditionFailed:
        current = read_build(store, change.build.key)
        if current.content_digests() == change.build.content_digests():
            return None  # the same build, published concurrently by another run
        raise ArtregError(
            f"{change.build.tag}: another run published this tag with other content while "
            "this one was uploading; nothing of this run was indexed. Re-run to compare again"
        ) from None


def publish(prepared: Prepared, progress: Progress) -> Report:
    """Carry out the plan: files, then the manifest, then the index and retention, safely.

    A new release is published whole under the target's lease where the store
    honours conditional writes: its files live at plain URLs, so two runs
    publishing the same release with different bytes must not both upload
    them; the second one waits, then finds the first one's manifest and is
    refused before writing anything (invariant 3).
    """
    store = prepared.store
    change = prepared.change
    images = prepared.images.steps()
    if not (images or prepared.steps or prepared.index.steps or prepared.retention.removed):
        return _finish_site(prepared)
    new_release = change.changed and change.build.category is Category.RELEASE
    if new_release and store.supports_conditional_writes():
        with Lease(store, prepared.job.holder):
            if _published_meanwhile(prepared):
                return Report()
            return _publish(prepared, progress, lease_held=True)
    return _publish(prepared, progress, lease_held=False)


def _finish_site(prepared: Prepared) -> Report:
    """Nothing to publish: finish ``latest/`` if a run stopped before it was whole."""
    report = Report()
    config, store = prepared.config, prepared.store
    if moves_latest(prepared.change.build) and not latest_is_current(
        store, config, prepared.state.root
    ):
        site = refresh_latest(store, config, now=prepared.now)
        report.count(site.actions)
        report.notes += ["latest/ was not up to date (a run stopped early?): finished", *site.notes]
    return report


def _published_meanwhile(prepared: Prepared) -> bool:
    """Under the lease: whether another run published this release since we looked.

    Identical content: nothing left to do. Other content: refused (ReleaseImmutable).
    """
    build = prepared.change.build
    if prepared.store.head(build.key) is None:
        return False
    plan_build(build, read_build(prepared.store, build.key))  # raises when content differs
    return True


def _publish(prepared: Prepared, progress: Progress, *, lease_held: bool) -> Report:
    store = prepared.store
    report = Report()
    change = prepared.change
    images = prepared.images.steps()
    # Before the first file is written: a run that dies midway leaves this record, which
    # proves the files are artreg's (gc collects them after the grace period).
    keys = [
        key
        for key in (*change.upload_keys, *change.stale_keys)
        if not key.startswith("v2/")  # image tags: their repository is declared
    ]
    if change.changed:
        keys += site_keys(change.build.tag)  # SHA256SUMS, its signature, the build's page
    intent = new_intent(prepared.job.holder, {change.build.tag: keys}) if keys else None
    if intent is not None:
        write_intent(store, intent)
    # Image blobs, manifests and tags (in their own safe order) before the build manifest.
    publish_images(store, prepared.images, progress)
    report.count([s.action for s in images])
    conditional = store.supports_conditional_writes()
    files = [s for s in prepared.steps if s.action.kind is Kind.FILE and s.request is not None]
    try:
        execute(store, files, progress)
    except ArtregError:
        if intent is not None and not change.manifest_existed:
            _drop_intent_if_nothing_written(store, intent)
        raise
    report.count([s.action for s in files])
    added: list[Build] = []
    etags: dict[str, str] = {}
    site = SiteReport()
    if change.changed:  # the build's SHA256SUMS, signature and page, with its files
        write_build(store, prepared.config, change.build, site)
        report.count(site.actions)
        site = SiteReport()
        etag = _write_manifest(prepared, conditional)
        if etag is not None:
            added = [change.build]
            etags[change.build.tag] = etag
            report.count([s.action for s in prepared.steps if s.action.kind is Kind.MANIFEST])
    reconcile(
        prepared.job,
        report,
        conditional=conditional,
        added=added,
        etags=etags,
        stale=[s for s in prepared.steps if s.action.op is Op.DELETE],
        lease_held=lease_held,
    )
    if intent is not None:
        store.delete([intent.key])  # the manifest now proves what the record did
    # latest/, latest.json and the feed once the build is indexed (also when its manifest
    # was written by a run that stopped and this run wrote the index)
    indexed = moves_latest(change.build) and (bool(added) or report.index_written > 0)
    if indexed or removals_move_latest(report.retention):
        refresh_latest(store, prepared.config, now=prepared.now, known=added, report=site)
    report.count(site.actions)  # after the index, in the order they were made
    report.notes += site.notes
    return report


def _drop_intent_if_nothing_written(store: Store, intent: Intent) -> None:
    """After failed uploads of a new build: no key of it exists, so no record is needed.

    Best effort: when the store cannot tell, the record stays and gc settles it.
    """
    try:
        if all(store.head(key) is None for key in intent.named_keys()):
            store.delete([intent.key])
    except ArtregError:
        pass


def run(args: argparse.Namespace) -> int:
    prepared = prepare(args)
    # What goes through put_many, which reports progress: image objects and build files.
    files = [s for s in prepared.steps if s.action.kind is Kind.FILE]
    sent = [s for s in [*prepared.images.steps(), *files] if s.request is not None]
    progress = Progress(
        sum(s.action.size for s in sent), len(sent), quiet=getattr(args, "quiet", False)
    )
    try:
        report = publish(prepared, progress)
    finally:
        progress.close()
        prepared.images.close()  # staged archive members (a failed prepare leaves them to
        # their finalizer, which runs at the latest when the interpreter exits)
    for note in dict.fromkeys([*prepared.index.notes, *report.notes]):
        print(f"artreg: {note}", file=sys.stderr)
    for problem in report.problems:
        print(f"artreg: error: {problem}", file=sys.stderr)
    requests = dict(sorted(prepared.store.requests.items()))
    total = sum(n for op, n in requests.items() if not op.startswith("probe:"))
    build = prepared.change.build
    if args.json:
        out = {
            "target": prepared.target.name,
            "store": prepared.store.description,
            "mode": report.mode,
            "tag": build.tag,
            "category": build.category.value,
            "origin": prepared.ref.origin,
            "build": "published" if prepared.change.changed else "unchanged",
            "uploaded": report.uploaded,
            "uploadedBytes": report.uploaded_bytes,
            "indexWritten": report.index_written,
            "siteWritten": report.site_written,
            "deleted": report.deleted,
            "rounds": report.rounds,
            "actions": [a.to_json() for a in report.actions],
            "retention": [
                {"tag": d.tag, "category": d.category.value, "keep": d.keep, "reason": d.reason}
                for d in report.retention
            ],
            "requests": requests,
            "requestsTotal": total,
        }
        json.dump(out, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        state = "published" if prepared.change.changed else "already published"
        mode = f", {report.mode} mode" if report.mode != "none" else ""
        print(
            f"{build.tag} ({build.category}) {state} to {prepared.target.name}: "
            f"{report.uploaded} uploaded ({human_size(report.uploaded_bytes)}), "
            f"{counted(report.index_written, 'index file')} and "
            f"{counted(report.site_written, 'site file')} written, {report.deleted} deleted, "
            f"{counted(total, 'request')}{mode}"
        )
    return 1 if report.problems else 0
