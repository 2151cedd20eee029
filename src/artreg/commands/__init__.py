"""One module per verb; each exposes ``run(args) -> int`` (the exit code)."""

from __future__ import annotations

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
from artreg.errors import ArtregError

if TYPE_CHECKING:
    from artreg.stores import Store


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


def open_target(config_arg: str | None, target_name: str | None) -> tuple[Config, Target, Store]:
    """Load the configuration, pick the target and open its store."""
    from artreg.stores import open_store  # not for lint/classify: keep their start-up lean

    config = load_required(config_arg)
    target = resolve_target(config, target_name)
    return config, target, open_store(target, config_dir(config))
