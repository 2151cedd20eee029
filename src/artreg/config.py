"""``artreg.toml`` -> frozen dataclasses, every problem collected before failing.

No I/O beyond reading the one file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import json
import re
import sys
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from artreg.core.keys import OCI_REPOSITORY, PLATFORM_RULE, SEGMENT, name_problem, platform_problem
from artreg.core.tags import (
    DEFAULT_DEV_MATCH,
    DEFAULT_PREFIX,
    PUBLISHED_CATEGORIES,
    Category,
    Convention,
    PatternError,
    classify,
    compile_pattern,
)
from artreg.errors import ArtregError, ConfigError
from artreg.workspace import dir_target_problem

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

CONFIG_FILENAME = "artreg.toml"


@dataclass(frozen=True)
class Rule:
    """Retention and matching for one category (``[tags.release|extra|dev]``)."""

    keep_forever: bool = False
    keep_last: int | None = None
    expire_after: dt.timedelta | None = None
    protect: tuple[str, ...] = ()
    match: str | None = None
    examples: tuple[str, ...] = ()
    allow_expire: bool = False


DEFAULT_RULES: dict[Category, Rule] = {
    Category.RELEASE: Rule(keep_forever=True),
    Category.EXTRA: Rule(keep_last=10, expire_after=dt.timedelta(days=180)),
    Category.DEV: Rule(keep_last=30, expire_after=dt.timedelta(days=30), match=DEFAULT_DEV_MATCH),
}


@dataclass(frozen=True)
class TagRules:
    """``[tags]``: the prefix and one rule per category."""

    prefix: str = DEFAULT_PREFIX
    release: Rule = DEFAULT_RULES[Category.RELEASE]
    extra: Rule = DEFAULT_RULES[Category.EXTRA]
    dev: Rule = DEFAULT_RULES[Category.DEV]

    def rule(self, category: Category) -> Rule:
        return {Category.RELEASE: self.release, Category.EXTRA: self.extra, Category.DEV: self.dev}[
            category
        ]

    def convention(self) -> Convention:
        return Convention(
            prefix=self.prefix,
            dev_match=self.dev.match or DEFAULT_DEV_MATCH,
            extra_match=self.extra.match,
        )


@dataclass(frozen=True)
class FileSpec:
    """One file of a files artifact: ``{ platform = "...", path = "..." }``."""

    platform: str
    path: str


@dataclass(frozen=True)
class Artifact:
    """``[[artifacts]]``: files per platform, or an OCI image."""

    name: str
    type: str = "files"  # "files" | "oci"
    files: tuple[FileSpec, ...] = ()
    path: str | None = None  # oci: layout dir, oci-archive or docker-archive
    repository: str | None = None  # oci: pulled as <host>/<repository>:<tag>
    aliases: bool = False  # oci: also tag `latest` and <prefix>MAJOR.MINOR (highest releases)


@dataclass(frozen=True)
class Target:
    """``[targets.NAME]``: where builds are published."""

    name: str
    type: str  # "dir" | "s3"
    path: str | None = None  # dir
    bucket: str | None = None  # s3
    endpoint: str | None = None
    region: str | None = None
    prefix: str = ""
    profile: str | None = None
    tags: TagRules | None = None  # per-target retention overrides, merged over [tags]
    # s3: CA certificates for an https endpoint, relative to the config file's directory
    # (checked when the store is opened, so `lint` works where the file is absent).
    ca_bundle: str | None = None
    ca_bundle_at: str | None = None  # where it is set: "artreg.toml:12: targets.ci.ca_bundle"
    default: bool = False  # used when no --target / ARTREG_TARGET chooses (at most one)


DEFAULT_TARGET = Target(name="local", type="dir", path="public")


@dataclass(frozen=True)
class IndexSettings:
    """``[index]``: how the static index is laid out."""

    page_size: int = 1000  # entries per page, like OCI's ``n``
    newest: int = 10  # newest entries per category repeated in the root index.json


@dataclass(frozen=True)
class GcSettings:
    """``[gc]``: the brakes on garbage collection."""

    grace_period: dt.timedelta = dt.timedelta(hours=24)
    max_delete_fraction: float = 0.5  # of a category, per run, unless --allow-mass-delete


@dataclass(frozen=True)
class SiteSettings:
    """The download site's extras: ``[project] repository``/``site_url``, ``[signing]``,
    ``[latest]``. The signing key itself never lives in artreg.toml."""

    repository: str | None = None  # https://forge/owner/name: commit and tag links
    site_url: str | None = None  # https://host/prefix/ the target is served at
    key_env: str | None = None  # [signing] environment variable holding the private key
    key_file: str | None = None  # [signing] private key file (relative to artreg.toml)
    latest_extras: str | None = None  # [latest] extras: directory of the highest extra build

    @property
    def signing(self) -> bool:
        return self.key_env is not None or self.key_file is not None


@dataclass(frozen=True)
class Config:
    """A loaded, validated ``artreg.toml``."""

    project: str
    tags: TagRules = field(default_factory=TagRules)
    artifacts: tuple[Artifact, ...] = ()
    targets: tuple[Target, ...] = (DEFAULT_TARGET,)
    index: IndexSettings = field(default_factory=IndexSettings)
    gc: GcSettings = field(default_factory=GcSettings)
    path: Path | None = None
    warnings: tuple[str, ...] = ()
    site: SiteSettings = field(default_factory=SiteSettings)

    def convention(self) -> Convention:
        return self.tags.convention()

    def rules_for(self, target: Target) -> TagRules:
        """The retention rules for ``target``: its overrides merged over ``[tags]``."""
        return target.tags if target.tags is not None else self.tags


# --- loading ---------------------------------------------------------------------------------

KeyPath = tuple[str | int, ...]

DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"([0-9]{1,12})([smhdw])")
# Durations are subtracted from "now": a century keeps that far from datetime's limits.
MAX_DURATION = dt.timedelta(days=36500)
_DURATION_EXPECTED = "a duration like '30d', '12h' or '90m', at most 36500d (100 years)"
# How deep tables and arrays may nest; artreg's own schema needs 4 levels.
MAX_NESTING = 32

# A safe key segment: what artifact names, platform segments and published file names are.
_SEGMENT = SEGMENT
ARTIFACT_NAME = re.compile(rf"(?!.*\.\.){_SEGMENT}")
TARGET_NAME = re.compile(r"[A-Za-z0-9_-]+")
TAG_PREFIX = re.compile(r"(?:[A-Za-z_][A-Za-z._-]{0,15})?")
KEY_PREFIX = re.compile(rf"(?:(?!\.\.?/){_SEGMENT}/)*")
BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
_GLOB_MAGIC = re.compile(r"[*?[]")
PROTECT_PATTERN = re.compile(r"[A-Za-z0-9._+*?!\[\]-]{1,128}")
MAX_NAME_LENGTH = 128

# Keys that hold secrets. artreg.toml is committed: credentials come from the AWS chain.
CREDENTIAL_KEYS = frozenset(
    {
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "access_key",
        "access_key_id",
        "secret",
        "secret_key",
        "secret_access_key",
        "session_token",
        "password",
        "passwd",
        "token",
        "credentials",
        "api_key",
        "apikey",
    }
)
_CREDENTIAL_SUFFIXES = ("_secret", "_token", "_password", "_secret_key", "_access_key", "_api_key")
_AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")
CREDENTIALS_FIX = (
    "credentials never go in artreg.toml (it is committed); remove this and let the AWS chain "
    "provide them: the AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN) "
    "environment variables, AWS_PROFILE, or ~/.aws/credentials "
    '(choose a profile with profile = "NAME" in the s3 target)'
)

TOP_LEVEL_KEYS = ("project", "tags", "artifacts", "targets", "index", "gc", "signing", "latest")
_RULE_KEYS = {
    Category.RELEASE: ("keep", "keep_last", "expire_after", "protect", "allow_expire"),
    Category.EXTRA: ("keep", "keep_last", "expire_after", "protect", "match", "examples"),
    Category.DEV: ("keep", "keep_last", "expire_after", "protect", "match", "examples"),
}
_OVERRIDE_KEYS = ("keep_last", "expire_after", "protect")
_DIR_KEYS = ("path",)
_S3_KEYS = ("bucket", "endpoint", "region", "profile", "ca_bundle")
_TARGET_KEYS = ("type", "prefix", "tags", "default", *_DIR_KEYS, *_S3_KEYS)
_ARTIFACT_KEYS = ("name", "type", "files", "path", "repository", "aliases")


def parse_duration(text: str) -> dt.timedelta:
    """``30d`` -> 30 days: an integer and one unit of s, m, h, d, w; ValueError otherwise."""
    found = _DURATION.fullmatch(text)
    if found is None:
        raise ValueError(f"expected {_DURATION_EXPECTED}, got {text!r}")
    amount, unit = found.groups()
    seconds = int(amount) * _UNIT_SECONDS[unit]  # at most 12 digits: exact, no overflow
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"expected {_DURATION_EXPECTED}, got {text!r}")
    return dt.timedelta(seconds=seconds)


def format_duration(delta: dt.timedelta) -> str:
    """The inverse of :func:`parse_duration`: the largest unit that divides ``delta``."""
    seconds = int(delta.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def is_credential_key(key: str) -> bool:
    """True for key names that would hold a secret (``aws_secret_access_key``, ``token``...)."""
    normal = key.lower().replace("-", "_")
    return normal in CREDENTIAL_KEYS or normal.endswith(_CREDENTIAL_SUFFIXES)


def format_key_path(path: Sequence[str | int]) -> str:
    """``("artifacts", 0, "files")`` -> ``artifacts[0].files``; odd keys quoted as in TOML."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        segment = part if TARGET_NAME.fullmatch(part) else json.dumps(part, ensure_ascii=False)
        out += f".{segment}" if out else segment
    return out


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
    checker = _Checker(str(path), _Locator(text))
    config = checker.config(data, path)
    if checker.problems:
        raise ConfigError(checker.sorted_problems())
    return config


def resolve_target(config: Config, name: str | None) -> Target:
    """The target named ``name``, else the only one, else the one marked ``default = true``.

    With several targets and none chosen, refuse: a pipeline must never guess
    where it publishes (or deletes).
    """
    names = ", ".join(target.name for target in config.targets)
    where = config.path if config.path is not None else CONFIG_FILENAME
    if name is not None:
        for target in config.targets:
            if target.name == name:
                return target
        raise ArtregError(
            f"unknown target {name!r} (from --target or ARTREG_TARGET); {where} declares: {names}"
        )
    if len(config.targets) == 1:
        return config.targets[0]
    for target in config.targets:
        if target.default:
            return target
    raise ArtregError(
        f"several targets are declared ({names}) and none is chosen; choose one with "
        f"--target NAME or the ARTREG_TARGET environment variable, or mark one with "
        f"default = true in {where}"
    )


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


def _show(value: object) -> str:
    """A value as the message's 'got ...': TOML-ish, strings quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and len(value) > 100:
        return f"{value[:60]!r}... ({len(value)} characters)"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return f"an integer of {value.bit_length()} bits"
    if isinstance(value, (str, int, float)):
        return repr(value)
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"a date/time ({value})"


class _Locator:
    """Where each key and array element of a TOML document starts (tomllib gives no lines).

    A lenient scanner run on text tomllib already accepted: it tracks table headers
    (``[a.b]``, the n-th ``[[artifacts]]``), dotted keys, inline tables and arrays.
    """

    def __init__(self, text: str) -> None:
        self.lines: dict[KeyPath, int] = {}
        self._implicit: set[KeyPath] = set()
        self._aot: dict[KeyPath, int] = {}
        self._text = text
        self._pos = 0
        self._line = 1
        with contextlib.suppress(IndexError, ValueError):  # best effort: lines are a courtesy
            self._document()

    def line_of(self, path: KeyPath) -> int | None:
        """The line of ``path``, else of its nearest located ancestor."""
        for end in range(len(path), 0, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None

    def _mark(self, path: KeyPath, line: int, *, explicit: bool) -> None:
        if explicit:
            if path not in self.lines or path in self._implicit:
                self.lines[path] = line
                self._implicit.discard(path)
        elif path not in self.lines:
            self.lines[path] = line
            self._implicit.add(path)

    def _peek(self, ahead: int = 0) -> str:
        index = self._pos + ahead
        return self._text[index] if index < len(self._text) else ""

    def _advance(self, count: int = 1) -> None:
        chunk = self._text[self._pos : self._pos + count]
        self._line += chunk.count("\n")
        self._pos += count

    def _skip_blank(self, *, newlines: bool) -> None:
        while True:
            char = self._peek()
            if char in (" ", "\t", "\r") or (newlines and char == "\n"):
                self._advance()
            elif char == "#":
                while self._peek() not in ("\n", ""):
                    self._advance()
            else:
                return

    def _document(self) -> None:
        table: KeyPath = ()
        while True:
            self._skip_blank(newlines=True)
            if self._peek() == "":
                return
            line = self._line
            if self._peek() == "[":
                array = self._peek(1) == "["
                self._advance(2 if array else 1)
                table = self._header(self._key(), line, array=array)
                self._advance(2 if array else 1)
            else:
                keys = self._key()
                self._dotted(table, keys, line)
                self._skip_blank(newlines=False)
                self._advance()  # '='
                self._value((*table, *keys))

    def _header(self, keys: list[str], line: int, *, array: bool) -> KeyPath:
        path: KeyPath = ()
        for index, key in enumerate(keys):
            path = (*path, key)
            if index == len(keys) - 1:
                if array:
                    count = self._aot.get(path, 0)
                    self._aot[path] = count + 1
                    self._mark(path, line, explicit=False)
                    path = (*path, count)
                self._mark(path, line, explicit=True)
            elif path in self._aot:
                path = (*path, self._aot[path] - 1)
            else:
                self._mark(path, line, explicit=False)
        return path

    def _dotted(self, table: KeyPath, keys: list[str], line: int) -> None:
        for end in range(1, len(keys)):
            self._mark((*table, *keys[:end]), line, explicit=False)
        self._mark((*table, *keys), line, explicit=True)

    def _key(self) -> list[str]:
        keys: list[str] = []
        while True:
            self._skip_blank(newlines=False)
            char = self._peek()
            if char in ('"', "'"):
                keys.append(self._string())
            else:
                start = self._pos
                while self._peek() and (self._peek().isalnum() or self._peek() in "_-"):
                    self._advance()
                if self._pos == start:
                    raise ValueError("expected a key")
                keys.append(self._text[start : self._pos])
            self._skip_blank(newlines=False)
            if self._peek() != ".":
                return keys
            self._advance()

    def _string(self) -> str:
        quote = self._peek()
        if self._text.startswith(quote * 3, self._pos):
            self._advance(3)
            end = self._text.index(quote * 3, self._pos)
            while self._text.startswith(quote, end + 3):  # up to two quotes may end the body
                end += 1
            value = self._text[self._pos : end]
            self._advance(end + 3 - self._pos)
            return value
        self._advance()
        chars: list[str] = []
        while (char := self._peek()) != quote:
            if char in ("", "\n"):
                raise ValueError("unterminated string")
            if char == "\\" and quote == '"':
                self._advance()
                char = self._peek()
            chars.append(char)
            self._advance()
        self._advance()
        return "".join(chars)

    def _value(self, path: KeyPath) -> None:
        self._skip_blank(newlines=False)
        char = self._peek()
        if char in ('"', "'"):
            self._string()
        elif char == "{":
            self._advance()
            while True:
                self._skip_blank(newlines=True)
                if self._peek() == "}":
                    self._advance()
                    return
                if self._peek() == ",":
                    self._advance()
                    continue
                line = self._line
                keys = self._key()
                self._dotted(path, keys, line)
                self._skip_blank(newlines=False)
                self._advance()  # '='
                self._value((*path, *keys))
        elif char == "[":
            self._advance()
            index = 0
            while True:
                self._skip_blank(newlines=True)
                if self._peek() == "]":
                    self._advance()
                    return
                if self._peek() == ",":
                    self._advance()
                    index += 1
                    continue
                self._mark((*path, index), self._line, explicit=True)
                self._value((*path, index))
        else:
            while self._peek() not in (",", "]", "}", "\n", "#", ""):
                self._advance()


class _Checker:
    """Walks the parsed document, collecting every problem, and builds the Config."""

    def __init__(self, label: str, locator: _Locator) -> None:
        self.label = label
        self.locator = locator
        self.problems: list[tuple[int | None, str]] = []
        self.warnings: list[str] = []
        self.base: Path | None = None  # the configuration's directory

    # -- reporting --

    def where(self, path: KeyPath, at: KeyPath | None = None) -> tuple[int | None, str]:
        line = self.locator.line_of(at if at is not None else path) if path or at else None
        head = f"{self.label}:{line}" if line is not None else self.label
        return line, (f"{head}: {format_key_path(path)}" if path else head)

    def problem(self, path: KeyPath, message: str, *, at: KeyPath | None = None) -> None:
        line, head = self.where(path, at)
        self.problems.append((line, f"{head}: {message}"))

    def warn(self, path: KeyPath, message: str) -> None:
        self.warnings.append(f"{self.where(path)[1]}: {message}")

    def expected(self, path: KeyPath, expected: str, value: object) -> None:
        self.problem(path, f"expected {expected}, got {_show(value)}")

    def sorted_problems(self) -> list[str]:
        # By line, so the list reads like the file; problems without a line go last.
        order = sorted(
            range(len(self.problems)),
            key=lambda i: (self.problems[i][0] is None, self.problems[i][0] or 0, i),
        )
        return [self.problems[i][1] for i in order]

    # -- generic checks --

    def check_keys(
        self,
        table: dict[str, object],
        path: KeyPath,
        allowed: Sequence[str],
        hints: dict[str, str] | None = None,
    ) -> None:
        """Report keys not in ``allowed``: a specific hint, a close match, or the allowed list."""
        for key in table:
            if key in allowed or is_credential_key(key):
                continue  # credential keys get their own message, from credentials()
            if hints and key in hints:
                self.problem((*path, key), hints[key])
                continue
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            if close:
                self.problem((*path, key), f"unknown key; did you mean {close[0]!r}?")
            else:
                self.problem((*path, key), f"unknown key; expected one of: {', '.join(allowed)}")

    def credentials(self, value: object, path: KeyPath) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                # Target names are names, not settings: [targets.token] is no secret.
                if path != ("targets",) and is_credential_key(key):
                    self.problem((*path, key), CREDENTIALS_FIX)
                else:
                    self.credentials(item, (*path, key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.credentials(item, (*path, index))
        elif isinstance(value, str) and _AWS_KEY_ID.search(value):
            self.problem(path, f"looks like an AWS access key id; {CREDENTIALS_FIX}")

    def table(self, parent: dict[str, object], key: str, path: KeyPath) -> dict[str, object]:
        value = parent.get(key, {})
        if isinstance(value, dict):
            return value
        self.expected((*path, key), f"a table ([{format_key_path((*path, key))}])", value)
        return {}

    def string(
        self,
        table: dict[str, object],
        key: str,
        path: KeyPath,
        *,
        expected: str = "a non-empty string",
        valid: Callable[[str], object] | None = None,
    ) -> str | None:
        """The string at ``key``, or None when absent or reported as invalid."""
        if key not in table:
            return None
        value = table[key]
        if not isinstance(value, str) or (valid is None and value == ""):
            self.expected((*path, key), expected, value)
            return None
        if valid is not None and not valid(value):
            self.expected((*path, key), expected, value)
            return None
        return value

    def required_string(
        self,
        table: dict[str, object],
        key: str,
        path: KeyPath,
        missing: str,
        *,
        expected: str = "a non-empty string",
        valid: Callable[[str], object] | None = None,
    ) -> str | None:
        if key not in table:
            self.problem((*path, key), f"missing; {missing}", at=path)
            return None
        return self.string(table, key, path, expected=expected, valid=valid)

    def integer(
        self, table: dict[str, object], key: str, path: KeyPath, low: int, high: int | None = None
    ) -> int | None:
        if key not in table:
            return None
        value = table[key]
        expected = f"an integer >= {low}" if high is None else f"an integer from {low} to {high}"
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < low
            or (high is not None and value > high)
        ):
            self.expected((*path, key), expected, value)
            return None
        return value

    def boolean(self, table: dict[str, object], key: str, path: KeyPath) -> bool | None:
        if key not in table:
            return None
        value = table[key]
        if not isinstance(value, bool):
            self.expected((*path, key), "true or false", value)
            return None
        return value

    def duration(
        self, table: dict[str, object], key: str, path: KeyPath, *, positive: bool
    ) -> dt.timedelta | None:
        if key not in table:
            return None
        value = table[key]
        if not isinstance(value, str):
            self.expected((*path, key), _DURATION_EXPECTED, value)
            return None
        try:
            delta = parse_duration(value)
        except ValueError:
            self.expected((*path, key), _DURATION_EXPECTED, value)
            return None
        if positive and not delta:
            self.expected((*path, key), f"a positive duration ({_DURATION_EXPECTED})", value)
            return None
        return delta

    def string_list(
        self,
        table: dict[str, object],
        key: str,
        path: KeyPath,
        expected_items: str,
        expected_item: str,
        valid: Callable[[str], object],
    ) -> tuple[str, ...] | None:
        if key not in table:
            return None
        value = table[key]
        if not isinstance(value, list):
            self.expected((*path, key), expected_items, value)
            return None
        items: list[str] = []
        for index, item in enumerate(value):
            if isinstance(item, str) and valid(item):
                items.append(item)
            else:
                self.expected((*path, key, index), expected_item, item)
        return tuple(items)

    # -- sections --

    def config(self, data: dict[str, object], path: Path) -> Config:
        self.base = path.parent
        self.credentials(data, ())
        self.check_keys(data, (), TOP_LEVEL_KEYS)
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
        self.check_keys(table, ("project",), ("name", *_SITE_PROJECT_KEYS))
        name = self.string(
            table,
            "name",
            ("project",),
            expected="a non-empty, single-line string",
            valid=_printable_name,
        )
        return name if name is not None else (path.absolute().parent.name or "project")

    def tags(self, data: dict[str, object]) -> TagRules:
        path: KeyPath = ("tags",)
        table = self.table(data, "tags", ())
        self.check_keys(table, path, ("prefix", "release", "extra", "dev"))
        prefix = self.string(
            table,
            "prefix",
            path,
            expected=(
                "'' (bare semver) or a short prefix: up to 16 letters, '.', '_' or '-', "
                "starting with a letter or '_'"
            ),
            valid=TAG_PREFIX.fullmatch,
        )
        rules: dict[Category, Rule] = {}
        sound = prefix is not None or "prefix" not in table
        for category in PUBLISHED_CATEGORIES:
            sub = self.table(table, category.value, path)
            rule = self.rule(sub, (*path, category.value), category, DEFAULT_RULES[category])
            if rule is None:
                sound = False
                rule = DEFAULT_RULES[category]
            rules[category] = rule
        tag_rules = TagRules(
            prefix=prefix if prefix is not None else DEFAULT_PREFIX,
            release=rules[Category.RELEASE],
            extra=rules[Category.EXTRA],
            dev=rules[Category.DEV],
        )
        if sound:  # examples are judged by the convention, which must be whole first
            convention = tag_rules.convention()
            for category in (Category.EXTRA, Category.DEV):
                self.examples(tag_rules.rule(category), (*path, category.value), convention)
        return tag_rules

    def rule(
        self,
        table: dict[str, object],
        path: KeyPath,
        category: Category,
        base: Rule,
        *,
        override: bool = False,
        allow_expire: bool = False,
    ) -> Rule | None:
        """One ``[tags.CATEGORY]`` (or a target's override of it) merged over ``base``.

        None when the regular expression is broken (the convention cannot be built).
        """
        if override:
            hint = (
                "not overridable per target (only keep_last, expire_after and protect are); "
                f"set {{key}} in [tags.{category.value}], which applies to every target"
            )
            hints = {key: hint.format(key=key) for key in _RULE_KEYS[category]}
            hints["allow_expire"] = hint.format(key="allow_expire")
            self.check_keys(table, path, _OVERRIDE_KEYS, hints)
        else:
            hints = {}
            if category is Category.RELEASE:
                hints["match"] = (
                    "unknown key; a release is plain semver behind tags.prefix: "
                    "match applies only to [tags.extra] and [tags.dev]"
                )
                hints["examples"] = (
                    "unknown key; examples apply only to [tags.extra] and [tags.dev]"
                )
            else:
                hints["allow_expire"] = (
                    "unknown key; allow_expire applies only to [tags.release] "
                    f"({category.value} builds may always expire)"
                )
            self.check_keys(table, path, _RULE_KEYS[category], hints)

        keep = self.string(
            table,
            "keep",
            path,
            expected=(
                "'forever' (or remove keep and set keep_last / expire_after to let builds expire)"
            ),
            valid=lambda text: text == "forever",
        )
        keep_last = self.integer(table, "keep_last", path, 0)
        expire_after = self.duration(table, "expire_after", path, positive=True)
        protect = self.string_list(
            table,
            "protect",
            path,
            "an array of tags or glob patterns",
            "a tag or glob pattern (letters, digits, '.', '_', '+', '-', and '*', '?', '[...]')",
            PROTECT_PATTERN.fullmatch,
        )
        allowed = self.boolean(table, "allow_expire", path) if not override else None
        if allowed is None:
            allowed = allow_expire if override else base.allow_expire

        expiring = [key for key in ("keep_last", "expire_after") if key in table]
        if keep is not None and expiring:
            self.problem(
                (*path, "keep"),
                f"'forever' contradicts {' and '.join(expiring)}: "
                f"remove keep, or remove {' and '.join(expiring)}",
            )
        if category is Category.RELEASE and expiring and keep is None:
            if not allowed:
                for key in expiring:
                    self.problem(
                        (*path, key),
                        f"releases are kept forever: remove {key}, or add "
                        "allow_expire = true to [tags.release] to let retention delete releases",
                    )
            else:
                settings = ", ".join(f"{key} = {_show(table[key])}" for key in expiring)
                self.warn(path, f"allow_expire = true: retention may delete releases ({settings})")

        match = base.match
        if "match" in table:
            value = table["match"]
            if not isinstance(value, str):
                self.expected((*path, "match"), "a regular expression (string)", value)
                return None
            try:
                compile_pattern(value)
            except PatternError as exc:
                self.problem(
                    (*path, "match"),
                    f"expected a regular expression, got {value!r} ({exc}); "
                    "fix it (RE2 syntax, which matches in linear time: no lookaround or "
                    "backreferences; the whole tag must match)",
                )
                return None
            match = value
        examples = self.string_list(
            table, "examples", path, "an array of tags", "a tag", lambda _: True
        )

        if keep is not None:
            keep_forever, last, after = True, None, None
        elif expiring:
            keep_forever, last, after = False, base.keep_last, base.expire_after
        else:
            keep_forever, last, after = base.keep_forever, base.keep_last, base.expire_after
        if keep_last is not None:
            last = keep_last
        if expire_after is not None:
            after = expire_after
        return Rule(
            keep_forever=keep_forever,
            keep_last=last,
            expire_after=after,
            protect=tuple(dict.fromkeys((*base.protect, *(protect or ())))),
            match=match,
            examples=examples if examples is not None else base.examples,
            allow_expire=allowed,
        )

    def examples(self, rule: Rule, path: KeyPath, convention: Convention) -> None:
        category = Category(path[-1])
        for index, example in enumerate(rule.examples):
            verdict = classify(example, convention)
            if verdict.category is category:
                continue
            found = (
                f"invalid: {verdict.reason}" if not verdict.valid else f"a {verdict.category} tag"
            )
            fix = f"fix the example or tags.{category.value}.match"
            if category is Category.EXTRA and convention.extra_match is None:
                fix = "fix the example or tags.prefix"
            article = "an" if category is Category.EXTRA else "a"
            self.problem(
                (*path, "examples", index),
                f"expected {article} {category} tag, got {example!r} ({found}); {fix}",
            )

    def artifacts(self, data: dict[str, object]) -> tuple[Artifact, ...]:
        raw = data.get("artifacts", [])
        if not isinstance(raw, list):
            self.expected(("artifacts",), "an array of tables ([[artifacts]])", raw)
            return ()
        artifacts: list[Artifact] = []
        names: dict[str, int] = {}
        repositories: dict[str, int] = {}
        published: dict[tuple[str, str], KeyPath] = {}
        for index, item in enumerate(raw):
            path: KeyPath = ("artifacts", index)
            if not isinstance(item, dict):
                self.expected(path, "a table ([[artifacts]])", item)
                continue
            kind = item.get("type", "files")
            if kind not in ("files", "oci"):
                self.expected((*path, "type"), "'files' (the default) or 'oci'", kind)
            hints: dict[str, str] = {}
            if kind == "files":
                for key in ("path", "repository", "aliases"):
                    hints[key] = (
                        "applies only to oci artifacts (type = 'oci'); a files artifact "
                        "lists files = [{ platform = ..., path = ... }]"
                    )
            elif kind == "oci":
                hints["files"] = (
                    "applies only to files artifacts; an oci artifact has path = "
                    "(an image layout directory, oci-archive or docker-archive)"
                )
            self.check_keys(item, path, [k for k in _ARTIFACT_KEYS if k not in hints], hints)

            name = self.required_string(
                item,
                "name",
                path,
                'every artifact needs name = "..."',
                expected=(
                    "a name of letters, digits, '.', '_' and '-' (not starting with '.', no '..')"
                ),
                valid=_safe(ARTIFACT_NAME),
            )
            if name is not None:
                if name in names:
                    self.problem(
                        (*path, "name"),
                        f"duplicate artifact name {name!r} (also artifacts[{names[name]}]); "
                        "give each artifact its own name",
                    )
                else:
                    names[name] = index
            if kind == "files":
                files = self.files(item, path, published)
                artifacts.append(Artifact(name=name or "", type="files", files=files))
            elif kind == "oci":
                artifacts.append(self.oci(item, index, name, repositories))
        return tuple(artifacts)

    def files(
        self,
        item: dict[str, object],
        path: KeyPath,
        published: dict[tuple[str, str], KeyPath],
    ) -> tuple[FileSpec, ...]:
        entries = '{ platform = "linux/amd64", path = "..." } tables'
        expected = f"a non-empty array of {entries}"
        if "files" not in item:
            self.problem(
                (*path, "files"),
                f"missing; a files artifact needs files = [...], an array of {entries}",
                at=path,
            )
            return ()
        raw = item["files"]
        if not isinstance(raw, list) or not raw:
            self.expected((*path, "files"), expected, raw)
            return ()
        specs: list[FileSpec] = []
        for index, entry in enumerate(raw):
            entry_path: KeyPath = (*path, "files", index)
            if not isinstance(entry, dict):
                self.expected(entry_path, "a { platform = ..., path = ... } table", entry)
                continue
            self.check_keys(entry, entry_path, ("platform", "path"))
            platform = self.required_string(
                entry,
                "platform",
                entry_path,
                'each file needs platform = "linux/amd64" (or similar)',
                expected=f"a platform: {PLATFORM_RULE}",
                valid=lambda text: platform_problem(text) is None,
            )
            file_path = self.required_string(
                entry,
                "path",
                entry_path,
                "each file needs path = (the file to publish, relative to the config file)",
                expected=(
                    "a file path or glob whose file name has no whitespace, '+', '%', '#' "
                    "or '?' (they break download URLs)"
                ),
                valid=_publishable_path,
            )
            if platform is None or file_path is None:
                continue
            specs.append(FileSpec(platform=platform, path=file_path))
            if _GLOB_MAGIC.search(file_path):
                continue  # what a glob matches is checked when publishing
            key = (platform, PurePosixPath(file_path).name)
            if key in published:
                self.problem(
                    entry_path,
                    f"publishes '{key[0]}/{key[1]}', like {format_key_path(published[key])}; "
                    "change the platform or rename the file",
                )
            else:
                published[key] = entry_path
        return tuple(specs)

    def oci(
        self,
        item: dict[str, object],
        index: int,
        name: str | None,
        repositories: dict[str, int],
    ) -> Artifact:
        path: KeyPath = ("artifacts", index)
        image = self.required_string(
            item,
            "path",
            path,
            "an oci artifact needs path = (an OCI image layout directory, oci-archive "
            "or docker-archive)",
        )
        grammar = "lowercase letters and digits, separated by '.', '_', '__', '-' or '/'"
        repository = self.string(
            item,
            "repository",
            path,
            expected=f"an OCI repository name ({grammar})",
            valid=OCI_REPOSITORY.fullmatch,
        )
        if "repository" not in item and name is not None:
            if OCI_REPOSITORY.fullmatch(name):
                repository = name
            else:
                self.problem(
                    (*path, "repository"),
                    f"defaults to the artifact name {name!r}, which is not an OCI repository "
                    f'name ({grammar}); set repository = "..."',
                    at=(*path, "name"),
                )
        if repository is not None:
            if repository in repositories:
                self.problem(
                    (*path, "repository") if "repository" in item else (*path, "name"),
                    f"duplicate OCI repository {repository!r} "
                    f"(also artifacts[{repositories[repository]}]); "
                    "give each image its own repository",
                )
            else:
                repositories[repository] = index
        aliases = self.boolean(item, "aliases", path)
        return Artifact(
            name=name or "",
            type="oci",
            path=image,
            repository=repository,
            aliases=bool(aliases),
        )

    def targets(self, data: dict[str, object], tags: TagRules) -> tuple[Target, ...]:
        if "targets" not in data:
            return (DEFAULT_TARGET,)
        raw = data["targets"]
        if not isinstance(raw, dict):
            self.expected(("targets",), "a table of [targets.NAME] tables", raw)
            return (DEFAULT_TARGET,)
        if not raw:
            self.problem(
                ("targets",),
                "no target declared; add a [targets.NAME] table, or remove [targets] to "
                "publish to the default directory 'public'",
            )
            return (DEFAULT_TARGET,)
        targets: list[Target] = []
        defaults: list[str] = []
        for name, item in raw.items():
            path: KeyPath = ("targets", name)
            if not TARGET_NAME.fullmatch(name):
                self.problem(
                    path,
                    f"expected a target name of letters, digits, '_' and '-', got {name!r}",
                )
            if not isinstance(item, dict):
                self.expected(path, f"a table ([{format_key_path(path)}])", item)
                continue
            target = self.target(item, path, name, tags)
            is_default = self.boolean(item, "default", path)
            if is_default and defaults:
                self.problem(
                    (*path, "default"),
                    f"only one target may be the default, and targets.{defaults[0]} already "
                    "is; keep default = true on one of them",
                )
            if is_default:
                defaults.append(name)
            if target is not None:
                targets.append(replace(target, default=bool(is_default)))
        return tuple(targets)

    def target(
        self, item: dict[str, object], path: KeyPath, name: str, tags: TagRules
    ) -> Target | None:
        kind = item.get("type")
        hints: dict[str, str] = {}
        if kind == "dir":
            for key in _S3_KEYS:
                hints[key] = "applies only to s3 targets (type = 's3')"
        elif kind == "s3":
            hints["path"] = (
                "applies only to dir targets (type = 'dir'); an s3 target has bucket and prefix"
            )
        self.check_keys(item, path, [k for k in _TARGET_KEYS if k not in hints], hints)
        if kind is None:
            self.problem((*path, "type"), "missing; expected type = 'dir' or type = 's3'", at=path)
        elif kind not in ("dir", "s3"):
            self.expected((*path, "type"), "'dir' or 's3'", kind)
        prefix = self.string(
            item,
            "prefix",
            path,
            expected=(
                "'' or a key prefix like '_releases/' (ending with '/', no leading '/', "
                "segments of letters, digits, '.', '_' and '-')"
            ),
            valid=_safe(KEY_PREFIX),
        )
        overrides = self.target_tags(item, path, tags)
        if kind == "dir":
            directory = self.required_string(
                item, "path", path, 'a dir target needs path = "public" (the directory)'
            )
            if directory and self.base is not None:
                problem = dir_target_problem(self.base, directory)
                if problem is not None:
                    self.problem((*path, "path"), problem)
            return Target(name, "dir", path=directory, prefix=prefix or "", tags=overrides)
        if kind == "s3":
            bucket = self.required_string(
                item,
                "bucket",
                path,
                'an s3 target needs bucket = "..." (the bucket name)',
                expected="a bucket name (letters, digits, '.', '_' and '-')",
                valid=BUCKET.fullmatch,
            )
            endpoint = self.endpoint(item, path)
            region = self.string(
                item,
                "region",
                path,
                expected="a region name like 'us-east-1'",
                valid=_printable_name,
            )
            profile = self.string(
                item,
                "profile",
                path,
                expected="an AWS profile name (from ~/.aws/config), without whitespace",
                valid=lambda text: text and not any(c.isspace() for c in text),
            )
            ca_bundle = self.string(
                item,
                "ca_bundle",
                path,
                expected="the path of a PEM file of CA certificates, like 'certs/ca.pem'",
                valid=_printable_name,
            )
            return Target(
                name,
                "s3",
                bucket=bucket,
                endpoint=endpoint,
                region=region,
                prefix=prefix or "",
                profile=profile,
                tags=overrides,
                ca_bundle=ca_bundle,
                ca_bundle_at=self.where((*path, "ca_bundle"))[1] if ca_bundle else None,
            )
        return None

    def endpoint(self, item: dict[str, object], path: KeyPath) -> str | None:
        """An http(s) URL with a host, an optional port and path, nothing else."""
        expected = "an http(s) URL like 'https://s3.example.org'"
        endpoint = self.string(item, "endpoint", path, expected=expected)
        if endpoint is None:
            return None
        key = (*path, "endpoint")
        try:
            parts = urllib.parse.urlsplit(endpoint)
        except ValueError:
            self.expected(key, expected, endpoint)
            return None
        if "@" in parts.netloc:
            self.problem(key, f"contains user:password@; {CREDENTIALS_FIX}")
            return None
        if parts.scheme not in ("http", "https") or not _ENDPOINT_HOST.fullmatch(
            parts.netloc.rsplit(":", 1)[0] if not parts.netloc.endswith("]") else parts.netloc
        ):
            self.expected(key, f"{expected} (scheme, then a host name or IP address)", endpoint)
            return None
        try:
            port = parts.port
        except ValueError:
            port = 0
        if port == 0 or parts.netloc.endswith(":"):
            self.expected(key, "a port from 1 to 65535 after the host", endpoint)
            return None
        if "?" in endpoint or "#" in endpoint:
            self.problem(
                key,
                f"expected no query string or fragment ('?...', '#...'), got {endpoint!r}; "
                "the endpoint is the server's base URL, like 'https://s3.example.org:9000'",
            )
            return None
        if any(c.isspace() or not c.isprintable() for c in endpoint):
            self.expected(key, f"{expected} without spaces or control characters", endpoint)
            return None
        return endpoint

    def target_tags(
        self, item: dict[str, object], path: KeyPath, tags: TagRules
    ) -> TagRules | None:
        if "tags" not in item:
            return None
        table = self.table(item, "tags", path)
        tags_path: KeyPath = (*path, "tags")
        hint = (
            "the tag convention is the same for every target; set it in [tags] "
            "(a target overrides only [tags.release|extra|dev] keep_last, expire_after, protect)"
        )
        self.check_keys(table, tags_path, ("release", "extra", "dev"), {"prefix": hint})
        rules: dict[Category, Rule] = {}
        for category in PUBLISHED_CATEGORIES:
            base = tags.rule(category)
            sub = self.table(table, category.value, tags_path)
            rule = self.rule(
                sub,
                (*tags_path, category.value),
                category,
                base,
                override=True,
                allow_expire=tags.release.allow_expire,
            )
            rules[category] = rule if rule is not None else base
        return TagRules(
            prefix=tags.prefix,
            release=rules[Category.RELEASE],
            extra=rules[Category.EXTRA],
            dev=rules[Category.DEV],
        )

    def index(self, data: dict[str, object]) -> IndexSettings:
        path: KeyPath = ("index",)
        table = self.table(data, "index", ())
        self.check_keys(table, path, ("page_size", "newest"))
        default = IndexSettings()
        page_size = self.integer(table, "page_size", path, 1, 10000)
        newest = self.integer(table, "newest", path, 0, 1000)
        return IndexSettings(
            page_size=page_size if page_size is not None else default.page_size,
            newest=newest if newest is not None else default.newest,
        )

    def gc(self, data: dict[str, object]) -> GcSettings:
        path: KeyPath = ("gc",)
        table = self.table(data, "gc", ())
        self.check_keys(table, path, ("grace_period", "max_delete_fraction"))
        default = GcSettings()
        grace = self.duration(table, "grace_period", path, positive=False)
        fraction = default.max_delete_fraction
        if "max_delete_fraction" in table:
            value = table["max_delete_fraction"]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
                self.expected((*path, "max_delete_fraction"), "a number > 0 and <= 1", value)
            else:
                fraction = float(value)
        return GcSettings(
            grace_period=grace if grace is not None else default.grace_period,
            max_delete_fraction=fraction,
        )

    def site(self, data: dict[str, object], tags: TagRules) -> SiteSettings:
        project = self.table(data, "project", ())
        repository = self.string(
            project, "repository", ("project",), expected=_REPOSITORY_EXPECTED, valid=_repository
        )
        site_url = self.string(
            project, "site_url", ("project",), expected=_SITE_URL_EXPECTED, valid=_site_url
        )
        path: KeyPath = ("signing",)
        signing = self.table(data, "signing", ())
        self.check_keys(signing, path, ("key_env", "key_file"))
        key_env = self.string(signing, "key_env", path, expected=_KEY_ENV_EXPECTED, valid=_env_name)
        key_file = self.string(
            signing, "key_file", path, expected=_KEY_FILE_EXPECTED, valid=_key_file
        )
        if key_env is not None and key_file is not None:
            self.problem(path, "set key_env or key_file, not both")
        latest = self.table(data, "latest", ())
        self.check_keys(latest, ("latest",), ("extras",))
        extras = self.string(latest, "extras", ("latest",), expected=_EXTRAS_EXPECTED, valid=_dir)
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


_SITE_PROJECT_KEYS = ("repository", "site_url")
_REPOSITORY_EXPECTED = "the repository's https URL, like 'https://github.com/owner/name'"
_SITE_URL_EXPECTED = "the http(s) URL the target is served at, like 'https://dl.example.org/'"
_KEY_ENV_EXPECTED = (
    "the NAME of an environment variable holding the private key (like 'ARTREG_SIGNING_KEY'), "
    "never the key itself"
)
_KEY_FILE_EXPECTED = "the path of an OpenSSH private key file, never the key itself"
_EXTRAS_EXPECTED = (
    "a directory name 'latest-<suffix>' like 'latest-rc' (letters, digits, '.', '_', '-'; "
    "not a tag)"
)


def _repository(text: str) -> bool:
    from artreg.core.forge import InvalidRepository, parse_repository

    try:
        parse_repository(text)
    except InvalidRepository:
        return False
    return True


def _site_url(text: str) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(text)
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and not parts.query
        and not parts.fragment
        and "@" not in parts.netloc
        and text.isprintable()
        and not any(c.isspace() or c in "\"'<>" for c in text)
    )


def _env_name(text: str) -> bool:
    return re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,127}", text) is not None


def _key_file(text: str) -> bool:
    return _printable_name(text) and "PRIVATE KEY" not in text and len(text) <= 4096


def _dir(text: str) -> bool:
    from artreg.core.latest import directory_problem

    return text != "latest" and directory_problem(text) is None


# An endpoint's host: a DNS name (docker-compose service names may hold '_') or an
# IPv4 address, or an IPv6 address in brackets.
_ENDPOINT_HOST = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?|\[[0-9A-Fa-f:.]+\]")


def _safe(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    """A validator: ``pattern`` matches the whole string, at most MAX_NAME_LENGTH long."""
    return lambda text: len(text) <= MAX_NAME_LENGTH and pattern.fullmatch(text) is not None


def _publishable_path(text: str) -> bool:
    """A literal path's file name must survive a static website URL; globs are checked later."""
    if _GLOB_MAGIC.search(text):
        return bool(text.strip())
    return not text.endswith("/") and name_problem(PurePosixPath(text).name) is None


def _printable_name(text: str) -> bool:
    return bool(text.strip()) and text.isprintable()
