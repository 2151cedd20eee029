"""Publishing one build: prepare (read, hash, plan) and publish (write), for ``apply`` and
``plan``. Commands parse their arguments into :class:`ApplySettings`, build a
:class:`~artreg.publish.session.Publisher` and print what comes back; nothing here
reads arguments or prints.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from artreg.config import Config, Target
from artreg.core.keys import site_keys
from artreg.core.manifest import Build, with_checksums
from artreg.core.ownership import Intent
from artreg.core.plan import BuildChange, Kind, Op, plan_build
from artreg.core.tags import Category, classify
from artreg.errors import ArtregError, InvalidTag, PreconditionFailed
from artreg.oci.publish import (
    ImageSource,
    ImagesPlan,
    plan_images,
    publish_images,
    read_images,
)
from artreg.publish.artifacts import LocalFile, resolve_files
from artreg.publish.execute import build_steps, execute, ordered
from artreg.publish.indexing import IndexPlan, plan_index
from artreg.publish.lease import Lease, default_holder
from artreg.publish.reconcile import Job, Report, reconcile
from artreg.publish.retention import RetentionPlan
from artreg.publish.site import (
    SiteReport,
    latest_is_current,
    moves_latest,
    plan_build_site,
    plan_latest,
    refresh_latest,
    removals_move_latest,
    write_build,
)
from artreg.publish.source import BuildRef, detect_build_ref
from artreg.publish.state import TargetState, new_intent, read_build, read_state, write_intent
from artreg.render.progress import Progress
from artreg.stores import Store
from artreg.stores.steps import Step


@dataclass(frozen=True)
class ApplySettings:
    """What ``apply`` and ``plan`` were asked: the tag (None: from CI or git), the time
    the build is recorded at, and the retention switches."""

    tag: str | None
    now: dt.datetime
    gc: bool = True
    allow_mass_delete: bool = False


# The etag ``plan`` records for a manifest it has not written (no store sends this).
UNWRITTEN_ETAG = "(not written yet)"


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
    notes: list[str] = field(default_factory=list)  # for the user, before anything else


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


def prepare(
    config: Config,
    target: Target,
    store: Store,
    settings: ApplySettings,
    *,
    base: Path,
    show_index: bool = False,
) -> Prepared:
    """Load, resolve, hash, read the target's state and plan; writes nothing.

    The index is planned here only for ``plan`` (``show_index``) or when nothing
    else changes (is the index itself out of date?); otherwise ``reconcile``
    plans it once, from a fresh listing, just before writing it.
    """
    now = settings.now
    ref = detect_build_ref(settings.tag, os.environ, base)
    notes = [ref.note] if ref.note is not None else []  # a CI run publishing a dev build
    build, files, images = _local_build(config, ref, base, now, notes)
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
    job = Job(
        store=store,
        config=config,
        target=target,
        original=state,
        now=now,
        gc=settings.gc,
        allow_mass_delete=settings.allow_mass_delete,
        holder=default_holder(f"artreg apply {ref.tag}"),
    )
    prepared = Prepared(
        config, target, store, ref, files, state, change, steps, RetentionPlan(), IndexPlan(), now,
        job, images=image_plan, notes=notes,
    )  # fmt: skip
    prepared.retention = job.retention(state, added)
    if not show_index:  # ``plan`` shows the whole plan first, then the brake (show_brakes)
        check_brakes(prepared.retention, job.allow_mass_delete)
    if not show_index and (added or prepared.retention.removed or image_plan.steps()):
        return prepared
    if show_index and job.gc and prepared.retention.removed:
        prepared.image_sweep = _image_sweep(prepared, images)
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


def _local_build(
    config: Config, ref: BuildRef, base: Path, now: dt.datetime, notes: list[str]
) -> tuple[Build, tuple[LocalFile, ...], tuple[ImageSource, ...]]:
    """The build to publish, from the files and images on disk (hashed, checked)."""
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
    notes += [
        f"warning: artifact {empty.artifact!r}, platform {empty.platform!r}: "
        f"{empty.source}: is empty (0 bytes); a build step probably failed"
        for empty in files
        if empty.size == 0
    ]
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
    return with_checksums(build), files, images  # its SHA256SUMS is written with it


def _image_sweep(prepared: Prepared, images: Sequence[ImageSource]) -> list[Step]:
    """For ``plan``: the image deletions after retention, this build's images pinned."""
    pinned = {
        digest
        for source in images
        for digest in (
            source.image.digest,
            *(c.digest for c in source.image.children),
            *(b.digest for b in source.image.blobs),
        )
    }
    removed = prepared.retention.removed
    builds = (set(prepared.state.manifests) | {prepared.change.build.tag}) - set(removed)
    return prepared.job.image_sweep(builds, removed, pinned).steps()


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
