"""Find, read and check ``artreg.toml``: the whole document into a :class:`Config`.

No I/O beyond reading the one file.
"""

from __future__ import annotations

import sys
from pathlib import Path

from artreg.config import keys
from artreg.config.check_artifacts import ArtifactChecks
from artreg.config.check_targets import TargetChecks
from artreg.config.lines import Locator
from artreg.config.model import (
    CONFIG_FILENAME,
    Config,
    GcSettings,
    IndexSettings,
    SiteSettings,
    TagRules,
)
from artreg.config.values import KeyPath, format_key_path
from artreg.core.tags import classify
from artreg.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

# How deep tables and arrays may nest; artreg's own schema needs 4 levels.
MAX_NESTING = 32


class DocumentChecker(TargetChecks, ArtifactChecks):
    """Walks the parsed document, collecting every problem, and builds the Config."""

    def config(self, data: dict[str, object], path: Path) -> Config:
        self.base = path.parent
        self.credentials(data, ())
        self.check_keys(data, (), keys.DOCUMENT)
        project = self.project(data, path)
        tags = self.tags(data)
        artifacts = self.artifacts(data)
        targets = self.targets(data, tags)
        index = self.index(data)
        gc = self.gc(data)
        site = self.site(data, tags)
        return Config(
            project=project,
            tags=tags,
            artifacts=artifacts,
            targets=targets,
            index=index,
            gc=gc,
            path=path,
            warnings=tuple(self.warnings),
            site=site,
        )

    def project(self, data: dict[str, object], path: Path) -> str:
        table = self.table(data, "project", ())
        self.check_keys(table, ("project",), keys.PROJECT)
        name = self.string(table, keys.PROJECT.key("name"), ("project",))
        return name if name is not None else (path.absolute().parent.name or "project")

    def index(self, data: dict[str, object]) -> IndexSettings:
        path: KeyPath = ("index",)
        table = self.table(data, "index", ())
        self.check_keys(table, path, keys.INDEX)
        default = IndexSettings()
        page_size = self.integer(table, keys.INDEX.key("page_size"), path)
        newest = self.integer(table, keys.INDEX.key("newest"), path)
        return IndexSettings(
            page_size=page_size if page_size is not None else default.page_size,
            newest=newest if newest is not None else default.newest,
        )

    def gc(self, data: dict[str, object]) -> GcSettings:
        path: KeyPath = ("gc",)
        table = self.table(data, "gc", ())
        self.check_keys(table, path, keys.GC)
        default = GcSettings()
        grace = self.duration(table, keys.GC.key("grace_period"), path)
        fraction = self.fraction(table, keys.GC.key("max_delete_fraction"), path)
        return GcSettings(
            grace_period=grace if grace is not None else default.grace_period,
            max_delete_fraction=fraction if fraction is not None else default.max_delete_fraction,
        )

    def site(self, data: dict[str, object], tags: TagRules) -> SiteSettings:
        project = self.table(data, "project", ())
        repository = self.string(project, keys.PROJECT.key("repository"), ("project",))
        site_url = self.string(project, keys.PROJECT.key("site_url"), ("project",))
        path: KeyPath = ("signing",)
        signing = self.table(data, "signing", ())
        self.check_keys(signing, path, keys.SIGNING)
        key_env = self.string(signing, keys.SIGNING.key("key_env"), path)
        key_file = self.string(signing, keys.SIGNING.key("key_file"), path)
        if key_env is not None and key_file is not None:
            self.problem(path, f"set {' or '.join(keys.SIGNING.names())}, not both")
        latest = self.table(data, "latest", ())
        self.check_keys(latest, ("latest",), keys.LATEST)
        extras = self.string(latest, keys.LATEST.key("extras"), ("latest",))
        if extras is not None and classify(extras, tags.convention()).valid:
            self.problem(("latest", "extras"), f"{extras!r} is a tag's directory; pick another")
        if site_url is not None and not site_url.endswith("/"):
            site_url += "/"
        return SiteSettings(
            repository=repository,
            site_url=site_url,
            key_env=key_env,
            key_file=key_file,
            latest_extras=extras,
        )


def find_config(start: Path) -> Path | None:
    """The ``artreg.toml`` a command run in ``start`` reads, like ruff and pre-commit do.

    ``start`` first, then each parent, stopping after the git work tree's root
    (the directory holding ``.git``) or at the filesystem root.
    """
    here = start.absolute()
    for directory in (here, *here.parents):
        candidate = directory / CONFIG_FILENAME
        if candidate.exists():
            return candidate
        if (directory / ".git").exists():
            return None
    return None


def load_config(path: Path) -> Config:
    """Read and validate ``path``; ConfigError lists every problem found."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            [f"{path}: no such file; create one with `artreg init` or pass --config PATH"]
        ) from None
    except IsADirectoryError:
        raise ConfigError([f"{path}: is a directory; expected an artreg.toml file"]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            [f"{path}: invalid TOML: not UTF-8 ({exc.reason} at byte {exc.start})"]
        ) from None
    return parse_config(text, path)


def parse_config(text: str, path: Path) -> Config:
    """Validate the TOML ``text`` of ``path`` (used in messages and for defaults)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: invalid TOML: {_toml_message(str(exc))}"]) from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise ConfigError([f"{path}: {_too_deep(None)}"]) from None
    except ValueError:  # int(): a decimal integer of more than 4,300 digits
        raise ConfigError(
            [f"{path}: invalid TOML: an integer too long to read (over 4300 digits); shorten it"]
        ) from None
    deepest = _deepest_path(data)
    if len(deepest) > MAX_NESTING:
        raise ConfigError([f"{path}: {_too_deep(deepest)}"])
    checker = DocumentChecker(str(path), Locator(text))
    config = checker.config(data, path)
    if checker.problems:
        raise ConfigError(checker.sorted_problems())
    return config


def _deepest_path(data: object) -> KeyPath:
    """The key path of the most deeply nested value (walked without recursion)."""
    deepest: KeyPath = ()
    stack: list[tuple[KeyPath, object]] = [((), data)]
    while stack:
        path, value = stack.pop()
        if len(path) > len(deepest):
            deepest = path
        if len(path) > MAX_NESTING:
            continue  # deep enough to refuse; no need to go further
        if isinstance(value, dict):
            stack.extend(((*path, key), item) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend(((*path, index), item) for index, item in enumerate(value))
    return deepest


def _too_deep(path: KeyPath | None) -> str:
    where = "" if path is None else f"{format_key_path(path[:4])}...: "
    return (
        f"{where}tables and arrays nested more than {MAX_NESTING} levels deep; artreg.toml "
        "needs at most 4 (see `artreg docs config`): flatten the nesting"
    )


def _toml_message(message: str) -> str:
    if "twice" in message or "overwrite" in message:
        return (
            f"{message}: a key or table is defined twice; "
            "keep one definition (merge the two, or rename one)"
        )
    return message
