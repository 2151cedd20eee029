"""One module per verb; each exposes ``run(args) -> int`` (the exit code)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from artreg.config import (
    CONFIG_FILENAME,
    Config,
    Target,
    find_config,
    load_config,
    resolve_target,
)
from artreg.core.manifest import parse_time
from artreg.errors import ArtregError

if TYPE_CHECKING:
    from artreg.publish.session import Publisher
    from artreg.stores import Store

    StoreOpener = Callable[[Target, Path], Store]


def config_path(config_arg: str | None) -> Path:
    """The configuration file a command reads: ``--config``, else the nearest artreg.toml.

    Searched from the working directory up to the repository root (see
    :func:`artreg.config.find_config`); ./artreg.toml when there is none.
    """
    if config_arg:
        return Path(config_arg)
    here = Path.cwd()
    found = find_config(here)
    if found is None or found.parent == here:
        return Path(CONFIG_FILENAME)  # messages name ./artreg.toml as they always did
    return found


def load_required(config_arg: str | None) -> Config:
    """Load the configuration, failing with a pointer to ``artreg init`` when absent."""
    path = config_path(config_arg)
    if not path.is_file():
        raise ArtregError(
            f"{path}: no such configuration file{_searched(config_arg)}; create one with "
            "`artreg init` or point at it with --config PATH"
        )
    return load_config(path)


def _searched(config_arg: str | None) -> str:
    """Where the search for artreg.toml looked, for the message when it found nothing."""
    return "" if config_arg else " (searched here and in each parent up to the repository root)"


def load_optional(config_arg: str | None) -> Config | None:
    """Load ``--config`` (which must exist) or ./artreg.toml when present, else None."""
    path = config_path(config_arg)
    if config_arg is None and not path.exists():
        return None
    return load_required(config_arg)


def config_dir(config: Config) -> Path:
    """The directory relative paths in the configuration start from."""
    return config.path.parent if config.path is not None else Path()


def open_target(args: argparse.Namespace) -> tuple[Config, Target, Store]:
    """Load the configuration (``--config``), pick the target (``--target``) and open its
    store with ``args.open_store`` (what :func:`artreg.cli.main` was given: tests inject
    a store there), by default :func:`artreg.stores.open_store`."""
    from artreg.stores import open_store  # not for lint/classify: keep their start-up lean

    config = load_required(args.config)
    target = resolve_target(config, args.target)
    opener: StoreOpener = args.open_store or open_store
    return config, target, opener(target, config_dir(config))


def open_session(args: argparse.Namespace) -> Publisher:
    """The :class:`~artreg.publish.session.Publisher` of this run (see :func:`open_target`)."""
    from artreg.publish.session import Publisher

    config, target, store = open_target(args)
    return Publisher(config, target, store)


def parse_now(text: str | None) -> dt.datetime:
    """``--now`` or the clock, in UTC, whole seconds (what documents record)."""
    if text is None:
        return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    try:
        return parse_time(text).replace(microsecond=0)
    except ValueError:
        raise ArtregError(
            f"--now: expected an ISO-8601 instant like 2026-11-30T12:00:00Z, got {text!r}"
        ) from None


def show_brakes(lines: list[str], command: str) -> None:
    """After a full plan (``plan``, ``gc --dry-run``): the brake that would stop the real run."""
    if not lines:
        return
    print(
        f"artreg: the mass-delete brake would stop `{command}` before any write:", file=sys.stderr
    )
    for line in lines:
        print(f"artreg:   {line}", file=sys.stderr)
    print(
        f"artreg: to proceed, check the deletions above, then run `{command} --allow-mass-delete`",
        file=sys.stderr,
    )
