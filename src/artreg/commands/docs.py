"""``artreg docs [--output F] [--check]``: the tagging convention as Markdown."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from artreg.commands import load_required
from artreg.errors import ArtregError, UsageError
from artreg.render.docs import render_convention


def run(args: argparse.Namespace) -> int:
    text = render_convention(load_required(args.config))
    if args.check:
        if not args.output:
            raise UsageError("docs --check needs --output FILE: the file to compare with")
        output = Path(args.output)
        try:
            current = output.read_text(encoding="utf-8")
        except FileNotFoundError:
            current = None
        except OSError as exc:
            raise ArtregError(f"{output}: cannot read ({exc.strerror})") from exc
        if current != text:
            state = "is missing" if current is None else "is out of date with artreg.toml"
            print(
                f"{output} {state}; regenerate it with `artreg docs --output {output}`",
                file=sys.stderr,
            )
            return 1
        return 0
    if args.output:
        output = Path(args.output)
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ArtregError(f"{output}: cannot write ({exc.strerror})") from exc
        print(f"wrote {output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
