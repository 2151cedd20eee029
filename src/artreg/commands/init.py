"""``artreg init``: write a commented artreg.toml to start from."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from artreg.errors import ArtregError

TEMPLATE = """\
# artreg.toml: what this repository publishes, where, and which tags are allowed.
# Every key is explained by `artreg docs config`. Check this file with `artreg lint`.
# Credentials never go here: artreg uses the usual AWS chain
# (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ~/.aws/credentials).

[project]
name = "{name}"

[tags]
prefix = "v"                  # version tags are v<semver>; "" for bare semver

[tags.release]                # v1.2.3: shown by default
keep = "forever"

[tags.extra]                  # v1.2.3-rc.1, v1.2.3+feat: behind a button
keep_last = 10                # deleted only when not among the newest 10...
expire_after = "180d"         # ...and older than this

[tags.dev]                    # builds of untagged commits
match = "^[0-9a-f]{{40}}$"      # the whole tag must match
keep_last = 30
expire_after = "30d"

# [[artifacts]]
# name = "{name}"
# files = [
#   {{ platform = "linux/amd64", path = "target/x86_64-unknown-linux-musl/release/{name}" }},
# ]

[targets.local]               # a plain directory: browse it with `artreg serve`
type = "dir"
path = "public"

# [targets.web]
# type = "s3"
# bucket = "downloads.example.org"
# endpoint = "https://s3.example.org"   # omit for AWS
# ca_bundle = "certs/company-ca.pem"    # only for a certificate your own CA signed
# region = "us-east-1"
# prefix = "releases/"
# default = true                        # with several targets: used without --target

# Several targets and no default: commands refuse until --target NAME (or
# ARTREG_TARGET=NAME) chooses. CI pipelines to copy: `artreg docs ci`.
"""


def render_template(name: str) -> str:
    return TEMPLATE.format(name=name)


def run(args: argparse.Namespace) -> int:
    output = Path(args.output)
    if output.exists() and not args.force:
        raise ArtregError(f"{output} already exists; pass --force to overwrite it")
    name = Path.cwd().name if output.parent == Path() else output.resolve().parent.name
    try:
        output.write_text(render_template(name or "project"), encoding="utf-8")
    except OSError as exc:
        raise ArtregError(f"{output}: cannot write ({exc.strerror})") from exc
    print(f"wrote {output}; edit it, then run `artreg lint`", file=sys.stderr)
    return 0
