"""Bring a target's index (and retention) in line with its manifests, safely.

Shared by ``apply`` and ``gc``. With conditional writes (AWS S3, MinIO, moto,
the dir store) the index is rewritten under a lease and the root with If-Match.
Without them (Garage, s3rver) the run converges instead: after writing it
re-lists, and rewrites until the index it reads matches the manifests it lists.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from artreg.config import Config, Target
from artreg.core import index
from artreg.core.keys import site_keys
from artreg.core.manifest import Build, manifest_key
from artreg.core.ownership import Intent
from artreg.core.plan import Action, Kind, summarize
from artreg.core.retention import Decision
from artreg.errors import ArtregError, PreconditionFailed
from artreg.oci.gc import ImageSweep, declared_repositories, execute_sweep, plan_sweep
from artreg.publish.execute import execute_index, ordered
from artreg.publish.indexing import IndexPlan, plan_index
from artreg.publish.lease import Lease
from artreg.publish.retention import RetentionPlan, plan_retention
from artreg.publish.state import (
    TargetState,
    index_is_current,
    new_intent,
    pages_agree,
    read_state,
    write_intent,
)
from artreg.stores.base import Store
from artreg.stores.steps import Step

# Rounds of re-listing before a convergent (no conditional writes) run gives up.
MAX_ROUNDS = 12


@dataclass
class Report:
    """What a run did, for the summary line and ``--json``."""

    mode: str = "none"  # "locked", "convergent", or "none" when nothing was written
    uploaded: int = 0
    uploaded_bytes: int = 0
    index_written: int = 0
    site_written: int = 0
    deleted: int = 0
    rounds: int = 0
    notes: list[str] = dataclasses.field(default_factory=list)
    problems: list[str] = dataclasses.field(default_factory=list)
    retention: list[Decision] = dataclasses.field(default_factory=list)
    actions: list[Action] = dataclasses.field(default_factory=list)

    def count(self, actions: Sequence[Action]) -> None:
        summary = summarize(actions)
        self.uploaded += summary.uploaded
        self.uploaded_bytes += summary.uploaded_bytes
        self.index_written += summary.index_written
        self.site_written += summary.site_written
        self.deleted += summary.deleted
        self.actions += actions


@dataclass(frozen=True)
class Job:
    """The target and settings one reconciliation works with."""

    store: Store
    config: Config
    target: Target
    original: TargetState  # the state the run planned from
    now: dt.datetime
    gc: bool
    allow_mass_delete: bool
    holder: str
    rebuild: bool = False  # rewrite every index document from the manifests
    # Sweep the image repositories even when retention removes no build (gc does).
    sweep_images: bool = False
    # Every key of the target when the caller listed it (gc): retention deletes only
    # the site documents that exist (see RetentionPlan.present).
    present: AbstractSet[str] | None = None

    def image_sweep(
        self, builds: Iterable[str], removed: Iterable[str], pinned: AbstractSet[str] = frozenset()
    ) -> ImageSweep:
        """The image deletions after retention removed ``removed`` (reads, writes nothing)."""
        return plan_sweep(
            self.store,
            declared_repositories(self.config),
            builds=builds,
            removed=removed,
            convention=self.config.convention(),
            grace=self.config.gc.grace_period,
            clock_now=dt.datetime.now(dt.timezone.utc),
            pinned=pinned,
        )

    def retention(self, state: TargetState, added: Sequence[Build]) -> RetentionPlan:
        if not self.gc:
            return RetentionPlan()
        return plan_retention(
            self.store,
            state,
            self.config.rules_for(self.target),
            self.config.convention(),
            page_size=self.config.index.page_size,
            max_fraction=self.config.gc.max_delete_fraction,
            added=added,
            now=self.now,
            signed=self.config.site.signing,
            present=self.present,
        )


def _as_before(fresh: TargetState, original: TargetState, tags: Sequence[str]) -> TargetState:
    """``fresh`` with our own manifests as they were before this run wrote them.

    The root index written by earlier runs describes the listing without our
    new manifests; comparing it with that listing tells whether anyone else
    changed the target meanwhile (then the index is rebuilt, not patched).
    """
    manifests = dict(fresh.manifests)
    categories = dict(fresh.categories)
    for tag in tags:
        if tag in original.manifests:
            manifests[tag] = original.manifests[tag]
            categories[tag] = original.categories[tag]
        else:
            manifests.pop(tag, None)
            categories.pop(tag, None)
    return dataclasses.replace(fresh, manifests=manifests, categories=categories)


def _someone_else_wrote(steps: Sequence[Step], before: TargetState, after: TargetState) -> bool:
    """Whether ``after`` (read back after our writes) shows another writer's work.

    Either the root is neither the one we wrote nor the one we replaced (a
    store serving the old one back is stale, not contended), or the manifests
    changed since the round began.
    """
    ours = next((s for s in steps if s.action.kind is Kind.ROOT and s.request), None)
    body = ours.request.body if ours is not None and ours.request is not None else None
    # Our root is recognised by its content: an etag is the server's, never predicted.
    ours_read_back = isinstance(body, bytes) and after.root_doc == json.loads(body)
    root_changed = after.root_etag != before.root_etag and not ours_read_back
    listed = {tag: info.etag for tag, info in after.manifests.items()}
    return root_changed or listed != {tag: info.etag for tag, info in before.manifests.items()}


def _unsettled(where: str, conditional: bool, others: int) -> str:
    """Why the index did not settle: say "other runs" only when other runs were seen."""
    advice = (
        "the builds are published: re-run `artreg apply`, or `artreg verify --repair` to "
        "rewrite the index"
    )
    if others:
        return (
            f"{where}: the index did not settle after {MAX_ROUNDS} rounds (other runs changed "
            f"it in {others} of them); {advice}"
        )
    if conditional:
        return (
            f"{where}: the index did not settle after {MAX_ROUNDS} rounds, though no other run "
            f"was seen changing it; {advice}"
        )
    return (
        f"{where}: the index read back after each of {MAX_ROUNDS} rounds did not match what "
        "this run had just written, and no other run was seen writing it: the store does not "
        "return what was written (a cache or proxy in front of it serving stale objects?). "
        f"Check the endpoint; {advice}"
    )


def _drop_journal_if_nothing_deleted(store: Store, journal: Intent) -> None:
    """After a failed index write: while every manifest it covers exists, no file went.

    Best effort: when the store cannot tell, the record stays and gc settles it.
    """
    try:
        if all(store.head(manifest_key(tag)) is not None for tag in journal.builds):
            store.delete([journal.key])
    except ArtregError:
        pass


def _root_unchanged(store: Store, state: TargetState) -> bool:
    """Whether the root is still the one ``state`` listed (one HEAD). Under the lease
    nobody else writes pages or the root, so pages read now match that root; a root
    written since (by the lease's previous holder) means the listing is stale."""
    info = store.head(index.ROOT_KEY)
    return (info.etag if info is not None else None) == state.root_etag


def _write_round(
    job: Job,
    steps: Sequence[Step],
    state: TargetState,
    plan: IndexPlan,
    retention: RetentionPlan,
    conditional: bool,
) -> bool:
    """One round's writes and deletes; False when the root changed under us (nothing
    deleted then: writes come first), so the round is to be planned again."""
    store = job.store
    # Retention deletes a build's manifest before its files: a crash between the
    # two would leave files nothing proves artreg wrote. The intent record does.
    journal = None
    if retention.removed:
        journal = new_intent(
            job.holder,
            {
                tag: [*(f.key for f in e.files), *site_keys(tag)]
                for tag, e in retention.removed.items()
            },
        )
        write_intent(store, journal)
    try:
        execute_index(
            store, steps, root_etag=state.root_etag, locked=conditional, previous=plan.previous
        )
    except PreconditionFailed:
        if journal is not None:
            store.delete([journal.key])
        return False
    except Exception:
        if journal is not None:
            _drop_journal_if_nothing_deleted(store, journal)
        raise
    if journal is not None:
        store.delete([journal.key])
    return True


def _plan_round(
    job: Job,
    report: Report,
    state: TargetState,
    added: Sequence[Build],
    etags: Mapping[str, str],
    rebuild: bool,
    locked: bool,
) -> tuple[RetentionPlan, IndexPlan]:
    """Retention (unless its brake trips: then none, and a problem) and the index (under
    the lease, a rebuilt category also sweeps the pages no root links, see plan_index)."""
    retention = job.retention(state, added)
    if retention.brakes and not job.allow_mass_delete:
        report.problems += [b.describe() for b in retention.brakes]
        retention = RetentionPlan()
    plan = plan_index(
        job.store,
        state,
        job.config,
        added=added,
        added_etags=etags,
        removed=retention.removed,
        now=job.now,
        rebuild=rebuild,
        sweep=locked,
    )
    report.notes += plan.notes
    return retention, plan


def reconcile(
    job: Job,
    report: Report,
    *,
    conditional: bool,
    added: Sequence[Build] = (),
    etags: dict[str, str] | None = None,
    stale: Sequence[Step] = (),
    lease_held: bool = False,
) -> None:
    """Write the index for the listing plus ``added``, apply retention, delete ``stale``.

    ``added`` are builds whose manifests this run has just written (``etags`` as
    the store returned them): their index entries are patched in rather than
    rebuilt, unless another run changed the target meanwhile. ``lease_held``:
    the caller already holds the target's lease (a release publish does).
    """
    store = job.store
    report.mode = "locked" if conditional else "convergent"
    convention = job.config.convention()
    page_size = job.config.index.page_size
    guard: contextlib.AbstractContextManager[object] = (
        Lease(store, job.holder) if conditional and not lease_held else contextlib.nullcontext()
    )
    added = list(added)
    published = {b.tag for b in added}
    etags = dict(etags or {})
    pending = list(stale)
    rebuild = job.rebuild
    removed: dict[str, object] = {}
    others = 0  # rounds in which another writer was seen changing the index
    left_out: set[str] = set()
    with guard:
        for round_number in range(1, MAX_ROUNDS + 1):
            report.rounds = round_number
            # Under the lease, round 1 plans from the run's own listing while the root is
            # unchanged (see _root_unchanged); the root is written If-Match anyway.
            reuse = conditional and round_number == 1 and _root_unchanged(store, job.original)
            fresh = job.original if reuse else read_state(store, convention)
            state = _as_before(fresh, job.original, [b.tag for b in added])
            retention, plan = _plan_round(job, report, state, added, etags, rebuild, conditional)
            left_out |= plan.left_out
            steps = ordered([*plan.steps, *retention.steps(), *pending])
            if not _write_round(job, steps, state, plan, retention, conditional):
                # execute_index saw the root changed (else it raises RootRefused).
                others += 1
                report.notes.append("the root index changed under our lease: re-reading")
                continue
            report.count([s.action for s in steps])
            report.retention += retention.decisions
            removed.update(retention.removed)
            pending = []
            if conditional:
                break
            # Another run may have written the index from an older listing, or
            # its pages between ours and our root: re-list and re-read until the
            # root matches the manifests and the pages match the root.
            added, etags = [], {}
            rebuild = False
            check = read_state(store, convention)
            if index_is_current(check, page_size, left_out):
                if pages_agree(store, check):
                    break
                rebuild = True
            if _someone_else_wrote(steps, fresh, check):
                others += 1
            time.sleep(random.uniform(0.05, 0.3) * round_number)
        else:
            raise ArtregError(_unsettled(store.description, conditional, others))
        # Image tags, manifests and blobs last: the build manifests no longer refer to them.
        if job.gc and (job.sweep_images or removed):
            # The builds of this run count even when the round planned from the listing
            # taken before their manifests were written (the lease's first round).
            builds = (set(fresh.manifests) | published) - set(removed)
            sweep = job.image_sweep(builds, removed)
            execute_sweep(store, sweep)
            report.count([s.action for s in sweep.steps()])
            report.notes += sweep.notes
