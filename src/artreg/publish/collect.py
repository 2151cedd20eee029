"""``gc``'s engine: retention and orphan collection, planned from one listing.

:func:`plan_collection` lists the target once (every key: the manifests are
taken from the same listing), applies retention, judges every key's ownership
(see :mod:`artreg.core.ownership`) and sizes the whole-run brake; nothing is
written. :func:`collect` carries the plan out through the index loop.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from artreg.core.ownership import Judged, Ownership, Verdict
from artreg.core.plan import Op
from artreg.oci.gc import ImageSweep, declared_repositories
from artreg.publish.apply import check_brakes
from artreg.publish.audit import Deletion, all_entries, builds_of, judge_target
from artreg.publish.reconcile import Job, Report, reconcile
from artreg.publish.retention import RetentionPlan
from artreg.publish.session import Publisher
from artreg.publish.site import refresh_latest, removals_move_latest
from artreg.publish.state import TargetState, describe_reclassified, read_state
from artreg.stores.steps import Step


@dataclass
class Collection:
    """What ``gc`` would do, and what it found on the way."""

    job: Job
    state: TargetState
    retention: RetentionPlan
    ownership: Ownership
    orphans: list[Step]
    images: ImageSweep
    held: list[str]  # listed manifests that could not be read: their builds are left alone
    warnings: list[str] = field(default_factory=list)  # builds recorded under another category
    notes: list[str] = field(default_factory=list)
    mass: str | None = None  # the whole-run brake's line when it trips

    @property
    def planned(self) -> list[Step]:
        """Retention's deletes, then the orphans (image deletes are :attr:`images`)."""
        return [*self.retention.steps(), *self.orphans]

    @property
    def young(self) -> int:
        """Orphans (and image objects) still within the grace period: left for later."""
        return len(self.ownership.of(Verdict.YOUNG)) + self.images.young

    @property
    def left_alone(self) -> list[Judged]:
        return [j for j in self.ownership.judged if j.verdict in (Verdict.FOREIGN, Verdict.HELD)]


def plan_collection(
    session: Publisher, *, now: dt.datetime, allow_mass_delete: bool, dry_run: bool
) -> Collection:
    """List once, apply retention, judge ownership; writes nothing.

    Outside ``dry_run`` a tripped category brake raises before anything else is read.
    """
    config, store = session.config, session.store
    listing = store.list("")
    state = read_state(store, config.convention(), listing)
    job = session.job(
        state,
        "artreg gc",
        now=now,
        gc=True,
        allow_mass_delete=allow_mass_delete,
        sweep_images=True,
        present=frozenset(info.key for info in listing),  # site documents: only those that exist
    )
    retention = job.retention(state, ())
    if not dry_run:
        check_brakes(retention, allow_mass_delete)
    notes: list[str] = []
    entries = all_entries(store, state, config.index.page_size, notes)
    builds = builds_of(state, entries)
    ownership = judge_target(
        store,
        state,
        builds,
        listing,
        repositories=declared_repositories(config),
        clock_now=dt.datetime.now(dt.timezone.utc),
        grace=config.gc.grace_period,
    )
    # Image tags, manifests and blobs as they would be after the retention above.
    images = job.image_sweep(set(state.manifests) - set(retention.removed), retention.removed)
    collection = Collection(
        job=job,
        state=state,
        retention=retention,
        ownership=ownership,
        orphans=[Deletion(j).step() for j in ownership.deletions],
        images=images,
        held=sorted(tag for tag, keys in builds.items() if keys is None),
        warnings=sorted(
            describe_reclassified(t, c, config.convention()) for t, c in state.recorded.items()
        ),
        notes=notes,
    )
    deleting = [s for s in [*collection.planned, *images.steps()] if s.action.op is Op.DELETE]
    collection.mass = mass_delete_line(
        len(deleting), ownership.owned, config.gc.max_delete_fraction, allow_mass_delete
    )
    return collection


def collect(session: Publisher, collection: Collection) -> Report:
    """Carry the collection out: retention and orphans through the index loop, then
    ``latest/`` when retention removed a build it may have served."""
    report = Report()
    if not (collection.planned or collection.images.steps()):
        return report
    reconcile(collection.job, report, conditional=session.conditional, stale=collection.orphans)
    if removals_move_latest(report.retention):
        site = refresh_latest(session.store, session.config, now=collection.job.now)
        report.count(site.actions)
        report.notes += site.notes
    return report


def mass_delete_line(deleting: int, owned: int, max_fraction: float, allowed: bool) -> str | None:
    """The brake over every deletion of a gc run, orphans included, against what artreg wrote."""
    if allowed or deleting <= max_fraction * owned:
        return None
    return (
        f"gc would delete {deleting} of the {owned} objects artreg wrote in this target "
        f"(build files, manifests, orphans and images), more than the {max_fraction:.0%} "
        "allowed in one run (gc.max_delete_fraction); check `artreg gc --dry-run`, then re-run "
        "with --allow-mass-delete"
    )
