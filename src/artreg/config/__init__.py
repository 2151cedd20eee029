"""``artreg.toml`` -> frozen dataclasses, every problem collected before failing.

The parts: ``model`` (the dataclasses), ``keys`` (every table and key, described
once), ``check*`` (the checker, driven by ``keys``), ``lines`` (where a key is in
the text), ``schema`` (the JSON Schema, generated from ``keys``), ``load`` (find,
read, parse).
"""

from __future__ import annotations

import sys

from artreg.config.lines import Locator
from artreg.config.load import (
    MAX_NESTING,
    find_config,
    load_config,
    parse_config,
)
from artreg.config.model import (
    CONFIG_FILENAME,
    DEFAULT_RULES,
    DEFAULT_TARGET,
    Artifact,
    Config,
    FileSpec,
    GcSettings,
    IndexSettings,
    Rule,
    SiteSettings,
    TagRules,
    Target,
    resolve_target,
)
from artreg.config.values import (
    CREDENTIAL_KEYS,
    CREDENTIALS_FIX,
    KeyPath,
    format_key_path,
    is_credential_key,
)
from artreg.core.durations import MAX_DURATION, format_duration, parse_duration

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

_Locator = Locator  # the name tests know it by

__all__ = [
    "CONFIG_FILENAME",
    "CREDENTIALS_FIX",
    "CREDENTIAL_KEYS",
    "DEFAULT_RULES",
    "DEFAULT_TARGET",
    "MAX_DURATION",
    "MAX_NESTING",
    "Artifact",
    "Config",
    "FileSpec",
    "GcSettings",
    "IndexSettings",
    "KeyPath",
    "Locator",
    "Rule",
    "SiteSettings",
    "TagRules",
    "Target",
    "_Locator",
    "find_config",
    "format_duration",
    "format_key_path",
    "is_credential_key",
    "load_config",
    "parse_config",
    "parse_duration",
    "resolve_target",
    "tomllib",
]
