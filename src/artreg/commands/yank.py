"""``artreg yank TAG --reason TEXT`` and ``artreg unyank TAG``.

A yanked build keeps its files; its pages strike it out with the reason, and
it leaves ``latest/``, ``latest.json`` and the feed. Recorded in
``_artreg/yanked.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from artreg.commands import open_target
from artreg.core.manifest import parse_time


def run(args: argparse.Namespace) -> int:
    from artreg.publish.site import set_yank

    config, target, store = open_target(args)
    now = parse_time(args.now) if args.now else dt.datetime.now(dt.timezone.utc)
    reason = args.reason if args.command == "yank" else None
    report = set_yank(store, config, args.tag, reason, now=now)
    for note in report.notes:
        print(f"artreg: {note}", file=sys.stderr)
    verb = "yanked" if reason is not None else "unyanked"
    print(
        f"{args.tag} {verb} on {target.name}: {len(report.written)} written, "
        f"{len(report.copied)} copied, {len(report.deleted)} deleted"
    )
    return 0
