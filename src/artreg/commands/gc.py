"""``artreg gc``: retention and orphan collection only (``--dry-run`` writes nothing)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

from artreg.audit import all_entries, find_orphans, referenced_keys
from artreg.commands import open_target
from artreg.commands.apply import brake_lines, check_brakes, parse_now, show_brakes
from artreg.core.plan import SYMBOLS, Action, Op
from artreg.lease import default_holder
from artreg.publisher import describe_reclassified, read_state
from artreg.reconcile import Job, Report, reconcile
from artreg.render.counts import counted
from artreg.render.html import human_size


def run(args: argparse.Namespace) -> int:
    config, target, store = open_target(args.config, args.target)
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
    entries = all_entries(store, state, page_size)
    listing = store.list("")
    clock_now = dt.datetime.now(dt.timezone.utc)
    old, young = find_orphans(
        listing,
        referenced_keys(state, entries),
        state.unreadable,
        clock_now=clock_now,
        grace=config.gc.grace_period,
    )
    planned = [*retention.steps(), *(o.step() for o in old)]
    # Image tags, manifests and blobs as they would be after the retention above.
    images = job.image_sweep(set(state.manifests) - set(retention.removed), retention.removed)
    if args.dry_run:
        actions = [s.action for s in [*planned, *images.steps()]]
        brakes = brake_lines(retention, args.allow_mass_delete)
        _show(args, actions, len(young) + images.young, store.requests, brakes)
        for note in images.notes:
            print(f"artreg: {note}", file=sys.stderr)
        show_brakes(brakes, "artreg gc")
        return 1 if brakes else 0
    report = Report()
    if planned or images.steps():
        reconcile(
            job,
            report,
            conditional=store.supports_conditional_writes(),
            stale=[o.step() for o in old],
        )
    requests = dict(sorted(store.requests.items()))
    if args.json:
        out = {
            "target": target.name,
            "mode": report.mode,
            "deleted": report.deleted,
            "indexWritten": report.index_written,
            "actions": [a.to_json() for a in report.actions],
            "youngOrphans": len(young) + images.young,
            "requests": requests,
        }
        json.dump(out, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        kept = sum(1 for d in report.retention if d.keep)
        total = sum(n for op, n in requests.items() if not op.startswith("probe:"))
        print(
            f"gc {target.name}: {report.deleted} deleted, "
            f"{counted(report.index_written, 'index file')} written, "
            f"{counted(kept, 'build')} kept by rules, "
            f"{counted(len(young) + images.young, 'young orphan')} left for later, "
            f"{counted(total, 'request')}"
        )
    for note in dict.fromkeys(n for n in report.notes if n not in warned):
        print(f"artreg: {note}", file=sys.stderr)
    for problem in report.problems:
        print(f"artreg: error: {problem}", file=sys.stderr)
    return 1 if report.problems else 0


def _show(
    args: argparse.Namespace,
    actions: list[Action],
    young: int,
    requests: dict[str, int],
    brakes: list[str],
) -> None:
    if args.json:
        out = {
            "actions": [a.to_json() for a in actions],
            "brakes": brakes,
            "youngOrphans": young,
            "requests": dict(sorted(requests.items())),
        }
        json.dump(out, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return
    for action in actions:
        size = human_size(action.size) if action.size else ""
        print(f"  {SYMBOLS[action.op]} {action.key}  {size}  {action.reason}")
    deletes = sum(1 for action in actions if action.op is Op.DELETE)
    print(f"gc (dry run): {deletes} to delete, {counted(young, 'young orphan')} left for later")
