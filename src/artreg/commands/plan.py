"""``artreg plan``: what ``apply`` would upload, rewrite and delete; writes nothing."""

from __future__ import annotations

import argparse
import json
import sys

from artreg.commands.apply import Prepared, all_steps, brake_lines, prepare, show_brakes
from artreg.core.plan import SYMBOLS, summarize
from artreg.render.counts import counted
from artreg.render.html import human_size

EXIT_CHANGES = 2


def run(args: argparse.Namespace) -> int:
    prepared = prepare(args, show_index=True)
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
        json.dump(report, sys.stdout, indent=1)
        sys.stdout.write("\n")
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
            f"{counted(summary.index_written, 'index file')} and "
            f"{counted(summary.site_written, 'site file')} to write, {summary.deleted} to delete."
        )
    if brakes:
        show_brakes(brakes, "artreg apply")
        return 1
    if args.detailed_exitcode and actions:
        return EXIT_CHANGES
    return 0
