"""``artreg serve``: serve a dir target on 127.0.0.1 as the bucket website would."""

from __future__ import annotations

import argparse
import sys

from artreg.commands import config_path, load_optional
from artreg.config import DEFAULT_TARGET, resolve_target
from artreg.errors import ArtregError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def run(args: argparse.Namespace) -> int:
    config = load_optional(args.config)
    target = resolve_target(config, args.target) if config is not None else DEFAULT_TARGET
    if target.type != "dir" or not target.path:
        where = f"s3://{target.bucket}/{target.prefix}" if target.type == "s3" else target.type
        raise ArtregError(
            f"target {target.name!r} is {where}, not a directory: `artreg serve` serves only "
            "dir targets (an S3 bucket is served by its own website endpoint); "
            "choose a dir target with --target NAME"
        )
    base_dir = config_path(args.config).absolute().parent
    root = base_dir / target.path
    if not root.is_dir():
        raise ArtregError(
            f"{root}: no such directory (target {target.name!r}); publish to it first "
            f"with `artreg apply --target {target.name}`"
        )

    from artreg.serve.server import make_server

    host = getattr(args, "host", None) or DEFAULT_HOST
    port = getattr(args, "port", None)
    port = DEFAULT_PORT if port is None else port
    try:
        server = make_server(root, host, port, verbose=True)
    except OSError as exc:
        raise ArtregError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; "
            "choose another address with --host / --port (--port 0 picks a free one)"
        ) from None
    with server:
        print(server.url, flush=True)
        print(f"artreg: serving {root} (target {target.name!r}); Ctrl-C stops", file=sys.stderr)
        # Ctrl-C propagates: the CLI reports it and exits 130, like every command.
        server.serve_forever()
    return 0
