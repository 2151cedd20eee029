"""``artreg docs [TOPIC] [--output F] [--check]``: the tagging convention, or a manual page."""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

from artreg.commands import load_required
from artreg.errors import ArtregError, UsageError
from artreg.render.docs import render_convention

# Manual pages shipped in the package (artreg/manual/<topic>.md, from the repository's docs/).
TOPICS = {
    "config": "artreg.toml: every key, its type, default and meaning",
    "ci": "pipelines for GitHub/Forgejo Actions, GitLab CI and Woodpecker",
    "hooks": "git hooks and pre-commit: refusing bad tags before they are pushed",
    "oci": "publishing OCI images next to the files",
    "stores": "dir and S3 targets, credentials, servers that differ",
    "spec": "the bucket layout and the guarantees artreg keeps",
}
TAGGING = "tagging"


def manual_page(topic: str) -> str:
    """The Markdown of one manual page; UsageError naming the topics for an unknown one."""
    if topic not in TOPICS:
        every = {TAGGING: "this project's tagging convention (from artreg.toml)", **TOPICS}
        listed = "\n".join(f"  {name:<8} {what}" for name, what in every.items())
        raise UsageError(f"no manual page {topic!r}; the topics are:\n{listed}")
    return resources.files("artreg").joinpath(f"manual/{topic}.md").read_text(encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    topic = getattr(args, "topic", None)
    if topic is not None and topic != TAGGING:
        if args.output or args.check:
            raise UsageError("--output and --check apply to the tagging convention only")
        sys.stdout.write(manual_page(topic))
        return 0
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
