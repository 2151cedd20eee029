"""``artreg gc``: retention and orphan collection only (``--dry-run`` writes nothing)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from artreg.commands import open_target, parse_now, show_brakes
from artreg.core.ownership import Judged, Verdict
from artreg.core.plan import SYMBOLS, Action, Op
from artreg.errors import ArtregError
from artreg.oci.gc import declared_repositories
from artreg.publish.apply import brake_lines, check_brakes
from artreg.publish.audit import Deletion, all_entries, builds_of, judge_target
from artreg.publish.engine import describe_reclassified, read_state
from artreg.publish.lease import default_holder
from artreg.publish.reconcile import Job, Report, reconcile
from artreg.publish.site import refresh_latest, removals_move_latest
from artreg.render.terminal import counted, human_size, print_json


def run(args: argparse.Namespace) -> int:
    config, target, store = open_target(args)
    now = parse_now(args.now)
    state = read_state(store, config.convention())
    warned = [describe_reclassified(t, c, config.convention()) for t, c in state.recorded.items()]
    for warning in sorted(warned):
        print(f"artreg: {warning}", file=sys.stderr)
    job = Job(
        store=store,
        config=config,
        target=target,
        original=state,
        now=now,
        gc=True,
        allow_mass_delete=args.allow_mass_delete,
        holder=default_holder("artreg gc"),
        sweep_images=True,
    )
    retention = job.retention(state, ())
    if not args.dry_run:
        check_brakes(retention, args.allow_mass_delete)
    page_size = config.index.page_size
    notes: list[str] = []
    entries = all_entries(store, state, page_size, notes)
    listing = store.list("")
    builds = builds_of(state, entries)
    # A listed manifest that could not be read holds its build's keys: gc leaves
    # them alone and says so (in the notes), and exits 1, as verify does.
    held = sorted(tag for tag, keys in builds.items() if keys is None)
    ownership = judge_target(
        store,
        state,
        builds,
        listing,
        repositories=declared_repositories(config),
        clock_now=dt.datetime.now(dt.timezone.utc),
        grace=config.gc.grace_period,
    )
    orphans = [Deletion(j).step() for j in ownership.deletions]
    young = len(ownership.of(Verdict.YOUNG))
    left_alone = [j for j in ownership.judged if j.verdict in (Verdict.FOREIGN, Verdict.HELD)]
    planned = [*retention.steps(), *orphans]
    # Image tags, manifests and blobs as they would be after the retention above.
    images = job.image_sweep(set(state.manifests) - set(retention.removed), retention.removed)
    deleting = [s for s in [*planned, *images.steps()] if s.action.op is Op.DELETE]
    mass = mass_delete_line(
        len(deleting), ownership.owned, config.gc.max_delete_fraction, args.allow_mass_delete
    )
    if args.dry_run:
        actions = [s.action for s in [*planned, *images.steps()]]
        # The category brakes say more precisely what trips; the whole-run one otherwise.
        brakes = brake_lines(retention, args.allow_mass_delete) or ([mass] if mass else [])
        _show(args, actions, young + images.young, store.requests, brakes, left_alone)
        for note in [*dict.fromkeys(notes), *images.notes]:
            print(f"artreg: {note}", file=sys.stderr)
        show_brakes(brakes, "artreg gc")
        return 1 if brakes or held else 0
    if mass:
        raise ArtregError(f"the mass-delete brake stopped this run before any write:\n  {mass}")
    report = Report()
    if planned or images.steps():
        reconcile(
            job,
            report,
            conditional=store.supports_conditional_writes(),
            stale=orphans,
        )
        if removals_move_latest(report.retention):  # latest/ may have served a removed build
            site = refresh_latest(store, config, now=job.now)
            report.count(site.actions)
            report.notes += site.notes
    requests = dict(sorted(store.requests.items()))
    if args.json:
        out = {
            "target": target.name,
            "mode": report.mode,
            "deleted": report.deleted,
            "indexWritten": report.index_written,
            "actions": [a.to_json() for a in report.actions],
            "youngOrphans": young + images.young,
            "leftAlone": [j.key for j in left_alone],
            "requests": requests,
        }
        print_json(out)
    else:
        kept = sum(1 for d in report.retention if d.keep)
        total = sum(n for op, n in requests.items() if not op.startswith("probe:"))
        print(
            f"gc {target.name}: {report.deleted} deleted, "
            f"{counted(report.index_written, 'index file')} written, "
            f"{counted(kept, 'build')} kept by rules, "
            f"{counted(young + images.young, 'young orphan')} left for later, "
            f"{counted(len(left_alone), 'object')} not artreg's left alone, "
            f"{counted(total, 'request')}"
        )
    for note in dict.fromkeys(n for n in [*notes, *report.notes] if n not in warned):
        print(f"artreg: {note}", file=sys.stderr)
    for problem in report.problems:
        print(f"artreg: error: {problem}", file=sys.stderr)
    return 1 if report.problems or held else 0


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


def _show(
    args: argparse.Namespace,
    actions: list[Action],
    young: int,
    requests: dict[str, int],
    brakes: list[str],
    left_alone: list[Judged],
) -> None:
    if args.json:
        out = {
            "actions": [a.to_json() for a in actions],
            "brakes": brakes,
            "youngOrphans": young,
            "leftAlone": [{"key": j.key, "why": j.why} for j in left_alone],
            "requests": dict(sorted(requests.items())),
        }
        print_json(out)
        return
    for action in actions:
        size = human_size(action.size) if action.size else ""
        print(f"  {SYMBOLS[action.op]} {action.key}  {size}  {action.reason}")
    for judged in left_alone:
        why = f" ({judged.why})" if judged.verdict is Verdict.HELD else ""
        print(f"  = {judged.key}  not artreg's, left alone{why}")
    deletes = sum(1 for action in actions if action.op is Op.DELETE)
    print(
        f"gc (dry run): {deletes} to delete, {counted(young, 'young orphan')} left for later, "
        f"{counted(len(left_alone), 'object')} not artreg's left alone"
    )
