"""``artreg apply``: reconcile a target with the declared build, idempotently."""

from __future__ import annotations

import argparse
import sys

from artreg.commands import open_session, parse_now
from artreg.core.plan import Kind
from artreg.publish.apply import ApplySettings
from artreg.render.progress import Progress
from artreg.render.terminal import counted, human_size, print_json, written


def settings_of(args: argparse.Namespace) -> ApplySettings:
    """``apply``'s and ``plan``'s arguments, typed."""
    return ApplySettings(
        tag=args.tag,
        now=parse_now(args.now),
        gc=not args.no_gc,
        allow_mass_delete=args.allow_mass_delete,
    )


def run(args: argparse.Namespace) -> int:
    session = open_session(args)
    prepared = session.prepare(settings_of(args))
    for note in prepared.notes:
        print(f"artreg: {note}", file=sys.stderr)
    # What goes through put_many, which reports progress: image objects and build files.
    files = [s for s in prepared.steps if s.action.kind is Kind.FILE]
    sent = [s for s in [*prepared.images.steps(), *files] if s.request is not None]
    progress = Progress(sum(s.action.size for s in sent), len(sent), quiet=args.quiet)
    try:
        report = session.publish(prepared, progress)
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
        print_json(out)
    else:
        state = "published" if prepared.change.changed else "already published"
        mode = f", {report.mode} mode" if report.mode != "none" else ""
        print(
            f"{build.tag} ({build.category}) {state} to {prepared.target.name}: "
            f"{report.uploaded} uploaded ({human_size(report.uploaded_bytes)}), "
            f"{written(report.index_written, report.site_written)} written, "
            f"{report.deleted} deleted, "
            f"{counted(total, 'request')}{mode}"
        )
    return 1 if report.problems else 0
