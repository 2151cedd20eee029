"""``artreg classify TAG...``: each tag's category, or why it is invalid."""

from __future__ import annotations

import argparse

from artreg.commands import load_optional
from artreg.core.tags import Convention, classify
from artreg.render.terminal import print_json


def run(args: argparse.Namespace) -> int:
    config = load_optional(args.config)
    convention = config.convention() if config is not None else Convention()
    results = [classify(tag, convention) for tag in args.tags]
    if args.json:
        print_json([r.to_json() for r in results])
    else:
        for result in results:
            if result.valid:
                print(f"{result.tag}\t{result.category}")
            else:
                print(f"{result.tag}\tinvalid\t{result.describe()}")
    return 0 if all(r.valid for r in results) else 1
