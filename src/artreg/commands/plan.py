"""``artreg plan``: what ``apply`` would upload, rewrite and delete; writes nothing."""

from __future__ import annotations

import argparse
import sys

from artreg.commands import open_session, parse_now, show_brakes
from artreg.core.plan import SYMBOLS, summarize
from artreg.errors import EXIT_CHANGES
from artreg.publish.apply import ApplySettings, Prepared, all_steps, brake_lines
from artreg.render.terminal import human_size, print_json, written


def run(args: argparse.Namespace) -> int:
    settings = ApplySettings(
        tag=args.tag,
        now=parse_now(args.now),
        gc=not args.no_gc,
        allow_mass_delete=args.allow_mass_delete,
    )
    prepared = open_session(args).prepare(settings, show_index=True)
    for note in prepared.notes:
        print(f"artreg: {note}", file=sys.stderr)
    try:
        return _show(args, prepared)
    finally:
        prepared.images.close()  # staged archive members


def _show(args: argparse.Namespace, prepared: Prepared) -> int:
    steps = all_steps(prepared)
    actions = [s.action for s in steps]
    summary = summarize(actions)
    brakes = brake_lines(prepared.retention, prepared.job.allow_mass_delete)
    if args.json:
        report = {
            "target": prepared.target.name,
            "store": prepared.store.description,
            "tag": prepared.ref.tag,
            "category": prepared.change.build.category.value,
            "origin": prepared.ref.origin,
            "actions": [a.to_json() for a in actions],
            "notes": prepared.index.notes,
            "brakes": brakes,
            "requests": dict(sorted(prepared.store.requests.items())),
        }
        print_json(report)
    else:
        print(
            f"artreg plan: {prepared.ref.describe()} ({prepared.change.build.category}) "
            f"-> {prepared.target.name} ({prepared.store.description})"
        )
        for note in prepared.index.notes:
            print(f"  note: {note}")
        width = max((len(a.key) for a in actions), default=0)
        for action in actions:
            size = human_size(action.size) if action.size else ""
            print(f"  {SYMBOLS[action.op]} {action.key:<{width}}  {size:>9}  {action.reason}")
        if not actions:
            print("  no changes: the target is up to date")
        print(
            f"Plan: {summary.uploaded} to upload ({human_size(summary.uploaded_bytes)}), "
            f"{written(summary.index_written, summary.site_written)} to write, "
            f"{summary.deleted} to delete."
        )
    if brakes:
        show_brakes(brakes, "artreg apply")
        return 1
    if args.detailed_exitcode and actions:
        return EXIT_CHANGES
    return 0
