"""``artreg verify``: every indexed file exists with its size (and digest with ``--deep``)."""

from __future__ import annotations

import argparse
import sys

from artreg.commands import open_session
from artreg.render.terminal import counted, print_json


def run(args: argparse.Namespace) -> int:
    session = open_session(args)
    result = session.verify(deep=args.deep, repair=args.repair)
    name = session.target.name
    if result.never_published:
        if args.json:
            out = {"ok": True, "problems": [], "checked": result.summary, "repaired": False}
            print_json(out)
        else:
            print(
                f"verify {name}: ok, {result.summary} "
                f"(`artreg apply --target {name}` publishes the first build)",
                file=sys.stderr,
            )
        return 0
    for problem in result.fixed:
        print(f"repaired: {problem}", file=sys.stderr)
    if args.json:
        print_json(
            {
                "ok": not result.problems,
                "problems": result.problems,
                "leftAlone": result.left_alone,
                "checked": result.summary,
                "repaired": result.repaired,
            }
        )
    else:
        for problem in result.problems:
            print(problem)
        for line in result.left_alone:  # reported, not a problem: the bucket is shared
            print(line, file=sys.stderr)
        state_word = "ok" if not result.problems else counted(len(result.problems), "problem")
        print(f"verify {name}: {state_word} ({result.summary})", file=sys.stderr)
    return 1 if result.problems else 0
