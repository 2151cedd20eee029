"""One module per verb; each exposes ``run(args) -> int`` (the exit code)."""

from __future__ import annotations

from pathlib import Path

from artreg.config import CONFIG_FILENAME, Config, load_config
from artreg.errors import ArtregError


def config_path(config_arg: str | None) -> Path:
    """The configuration file a command reads: ``--config`` or ./artreg.toml."""
    return Path(config_arg) if config_arg else Path(CONFIG_FILENAME)


def load_required(config_arg: str | None) -> Config:
    """Load the configuration, failing with a pointer to ``artreg init`` when absent."""
    path = config_path(config_arg)
    if not path.is_file():
        raise ArtregError(
            f"{path}: no such configuration file; create one with `artreg init` "
            "or point at it with --config PATH"
        )
    return load_config(path)


def load_optional(config_arg: str | None) -> Config | None:
    """Load ``--config`` (which must exist) or ./artreg.toml when present, else None."""
    path = config_path(config_arg)
    if config_arg is None and not path.exists():
        return None
    return load_required(config_arg)
