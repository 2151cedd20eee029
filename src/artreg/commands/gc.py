"""``artreg gc``: retention and orphan collection only (``--dry-run`` writes nothing)."""

from __future__ import annotations

import argparse
import sys

from artreg.commands import open_session, parse_now, show_brakes
from artreg.core.ownership import Judged, Verdict
from artreg.core.plan import SYMBOLS, Action, Op
from artreg.errors import ArtregError
from artreg.publish.apply import brake_lines
from artreg.publish.collect import Collection
from artreg.publish.reconcile import Report
from artreg.publish.session import Publisher
from artreg.render.terminal import counted, human_size, print_json


def run(args: argparse.Namespace) -> int:
    session = open_session(args)
    plan = session.plan_collection(
        now=parse_now(args.now),
        allow_mass_delete=args.allow_mass_delete,
        dry_run=args.dry_run,
    )
    for warning in plan.warnings:
        print(f"artreg: {warning}", file=sys.stderr)
    if args.dry_run:
        actions = [s.action for s in [*plan.planned, *plan.images.steps()]]
        # The category brakes say more precisely what trips; the whole-run one otherwise.
        brakes = brake_lines(plan.retention, args.allow_mass_delete) or (
            [plan.mass] if plan.mass else []
        )
        _show(args, actions, plan.young, session.store.requests, brakes, plan.left_alone)
        for note in [*dict.fromkeys(plan.notes), *plan.images.notes]:
            print(f"artreg: {note}", file=sys.stderr)
        show_brakes(brakes, "artreg gc")
        return 1 if brakes or plan.held else 0
    if plan.mass:
        raise ArtregError(
            f"the mass-delete brake stopped this run before any write:\n  {plan.mass}"
        )
    report = session.collect(plan)
    _summary(args, session, plan, report)
    for note in dict.fromkeys(n for n in [*plan.notes, *report.notes] if n not in plan.warnings):
        print(f"artreg: {note}", file=sys.stderr)
    for problem in report.problems:
        print(f"artreg: error: {problem}", file=sys.stderr)
    return 1 if report.problems or plan.held else 0


def _summary(
    args: argparse.Namespace, session: Publisher, plan: Collection, report: Report
) -> None:
    requests = dict(sorted(session.store.requests.items()))
    if args.json:
        out = {
            "target": session.target.name,
            "mode": report.mode,
            "deleted": report.deleted,
            "indexWritten": report.index_written,
            "actions": [a.to_json() for a in report.actions],
            "youngOrphans": plan.young,
            "leftAlone": [j.key for j in plan.left_alone],
            "requests": requests,
        }
        print_json(out)
        return
    kept = sum(1 for d in report.retention if d.keep)
    total = sum(n for op, n in requests.items() if not op.startswith("probe:"))
    print(
        f"gc {session.target.name}: {report.deleted} deleted, "
        f"{counted(report.index_written, 'index file')} written, "
        f"{counted(kept, 'build')} kept by rules, "
        f"{counted(plan.young, 'young orphan')} left for later, "
        f"{counted(len(plan.left_alone), 'object')} not artreg's left alone, "
        f"{counted(total, 'request')}"
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
