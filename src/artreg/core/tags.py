"""The tag convention: classify a tag, suggest a fix, order by precedence, map to keys.

Pure: no I/O, no clock. Classification is done on the full tag string (build
metadata included), because ``semver`` ignores build metadata in ``==``.

Tags come from anywhere (CLI, hooks, CI variables, keys listed in the bucket), so
every function bounds its work: nothing longer than :data:`MAX_TAG_LENGTH` is
parsed, and the user's ``tags.*.match`` patterns run on RE2, whose matching time
is linear in the tag's length whatever the pattern (``^(a+)+$`` included).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Any

import re2  # type: ignore[import-untyped]
import semver

from artreg.errors import PatternError

DEFAULT_PREFIX = "v"
DEFAULT_DEV_MATCH = r"[0-9a-f]{40}"
MAX_TAG_LENGTH = 128
# Top-level directories of a target that are not builds (a tag there would share them).
RESERVED_SEGMENTS = {"_artreg": "own documents", "v2": "OCI images"}

# Every tag, whatever the rules, must be a safe S3 key segment, URL path segment,
# git ref component and (after encode_tag) OCI tag: [A-Za-z0-9_][A-Za-z0-9._-]{0,127}.
_ALLOWED_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._+-")
_FIRST_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")

# A loose reading of a version, used only to suggest a fix for an invalid tag.
_LOOSE_VERSION = re.compile(
    r"(?P<major>\d+)(?:\.(?P<minor>\d+))?(?:\.(?P<patch>\d+))?"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+)|(?P<pre_joined>[A-Za-z][0-9A-Za-z.-]*))?"
    r"(?:\+(?P<build>[0-9A-Za-z.-]+))?"
)


@dataclass(frozen=True)
class TagPattern:
    """A compiled ``tags.*.match`` pattern; the whole tag must match."""

    pattern: str
    compiled: Any = field(repr=False, compare=False)  # re2._Regexp (untyped)

    def fullmatch(self, tag: str) -> bool:
        """True when the whole ``tag`` matches; linear time in ``len(tag)``."""
        return self.compiled.fullmatch(tag) is not None


def compile_pattern(pattern: str) -> TagPattern:
    """Compile a user's tag pattern with RE2 (linear-time matching); PatternError if invalid."""
    options = re2.Options()
    options.log_errors = False  # RE2 would otherwise write its own line on stderr
    try:
        return TagPattern(pattern, re2.compile(pattern, options))
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise PatternError(str(reason)) from None


class Category(str, enum.Enum):
    """What a tag is: decides visibility in the index and retention."""

    RELEASE = "release"
    EXTRA = "extra"
    DEV = "dev"
    INVALID = "invalid"

    def __str__(self) -> str:
        return self.value


PUBLISHED_CATEGORIES = (Category.RELEASE, Category.EXTRA, Category.DEV)


@dataclass(frozen=True)
class Convention:
    """The rules a tag is judged by (from ``[tags]`` in artreg.toml)."""

    prefix: str = DEFAULT_PREFIX
    dev_match: str = DEFAULT_DEV_MATCH
    extra_match: str | None = None
    _dev_re: TagPattern = field(init=False, repr=False, compare=False)
    _extra_re: TagPattern | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_dev_re", compile_pattern(self.dev_match))
        extra = compile_pattern(self.extra_match) if self.extra_match is not None else None
        object.__setattr__(self, "_extra_re", extra)

    @property
    def version_form(self) -> str:
        return f"{self.prefix}<MAJOR>.<MINOR>.<PATCH>[-<PRERELEASE>][+<BUILD>]"


@dataclass(frozen=True)
class Classification:
    """The verdict on one tag; ``reason`` and ``suggestion`` only when invalid."""

    tag: str
    category: Category
    version: semver.Version | None = None
    reason: str | None = None
    suggestion: str | None = None

    @property
    def valid(self) -> bool:
        return self.category is not Category.INVALID

    def describe(self) -> str:
        """One line for humans: the category, or why the tag is refused."""
        if self.valid:
            return f"{self.tag}: {self.category}"
        text = f"tag {shown_tag(self.tag)}: {self.reason}"
        if self.suggestion is not None:
            text += f"; did you mean {self.suggestion!r}?"
        return text

    def to_json(self) -> dict[str, str]:
        out = {"tag": self.tag, "category": self.category.value}
        if self.reason is not None:
            out["reason"] = self.reason
        if self.suggestion is not None:
            out["suggestion"] = self.suggestion
        return out


def shown_tag(tag: str) -> str:
    """``tag`` quoted for a message; an over-long one cut short, so the message stays a line."""
    if len(tag) > MAX_TAG_LENGTH:
        return repr(tag[:40]) + f"... ({len(tag)} characters)"
    return repr(tag)


def unsafe_reason(tag: str) -> str | None:
    """Why ``tag`` can never be a key or URL segment, or None when it can."""
    if tag == "":
        return "the empty string is not a tag"
    if len(tag) > MAX_TAG_LENGTH:
        return f"is {len(tag)} characters long; at most {MAX_TAG_LENGTH} are allowed"
    for char in tag:
        if char in _ALLOWED_CHARS:
            continue
        if char.isspace():
            return "contains whitespace"
        if not char.isprintable():
            return f"contains the control character U+{ord(char):04X}"
        if char == "/":
            return "contains '/', which would nest it in the bucket"
        return f"contains {char!r}; only letters, digits, '.', '_', '-' and '+' are allowed"
    if ".." in tag:
        return "contains '..'"
    if tag[0] not in _FIRST_CHARS:
        return f"starts with {tag[0]!r}; a tag starts with a letter, a digit or '_'"
    if tag.endswith("."):
        return "ends with '.'"
    if tag in RESERVED_SEGMENTS:
        return f"is reserved: artreg keeps its {RESERVED_SEGMENTS[tag]} under {tag}/"
    return None


def _parse_semver(tag: str, convention: Convention) -> semver.Version | None:
    if len(tag) > MAX_TAG_LENGTH or not tag.startswith(convention.prefix):
        return None
    try:
        return semver.Version.parse(tag[len(convention.prefix) :])
    except ValueError:
        return None


def classify(tag: str, convention: Convention) -> Classification:
    """Classify ``tag`` as release, extra, dev or invalid (with reason and suggestion)."""
    reason = unsafe_reason(tag)
    if reason is None:
        version = _parse_semver(tag, convention)
        if version is not None:
            if version.prerelease is None and version.build is None:
                return Classification(tag, Category.RELEASE, version)
            extra_re = convention._extra_re
            if extra_re is None or extra_re.fullmatch(tag):
                return Classification(tag, Category.EXTRA, version)
            return Classification(
                tag,
                Category.INVALID,
                reason=(
                    "pre-release/build tag does not match "
                    f"tags.extra.match {convention.extra_match!r}"
                ),
            )
        if convention._dev_re.fullmatch(tag):
            reason = _dev_collision(tag, convention)
            if reason is None:
                return Classification(tag, Category.DEV)
        else:
            reason = _not_a_tag_reason(tag, convention)
    return Classification(tag, Category.INVALID, reason=reason, suggestion=suggest(tag, convention))


def _dev_collision(tag: str, convention: Convention) -> str | None:
    """Refuse dev tags that the '+' -> '_' key mapping could confuse with a version."""
    if "+" in tag:
        return "'+' is reserved for semver build metadata; a dev build id cannot contain it"
    if "_" in tag:
        version_reading = _underscore_as_plus(tag, convention)
        if _parse_semver(version_reading, convention) is not None:
            return (
                f"would share its key with version {version_reading!r} "
                "('+' is stored as '_'); rename it"
            )
    return None


def _underscore_as_plus(segment: str, convention: Convention) -> str:
    """Read '_' as '+' after the prefix: the inverse of encode_tag for versions."""
    prefix = convention.prefix
    if not segment.startswith(prefix):
        return segment
    return prefix + segment[len(prefix) :].replace("_", "+")


def _not_a_tag_reason(tag: str, convention: Convention) -> str:
    prefix = convention.prefix
    if prefix and not tag.startswith(prefix) and tag.lower().startswith(prefix.lower()):
        return f"the prefix is {prefix!r} (case matters), not {tag[: len(prefix)]!r}"
    if prefix and not tag.startswith(prefix) and len(tag) <= MAX_TAG_LENGTH:
        try:
            semver.Version.parse(tag)
        except ValueError:
            pass
        else:
            return f"missing the prefix {prefix!r}"
    if tag.startswith(prefix) and tag[len(prefix) : len(prefix) + 1].isdigit():
        return f"not semver ({convention.version_form})"
    return (
        f"neither a version ({convention.version_form}) "
        f"nor a dev build id (matching {convention.dev_match!r})"
    )


def suggest(tag: str, convention: Convention) -> str | None:
    """A valid tag close to ``tag`` (``v0.8-rc2`` -> ``v0.8.0-rc2``), or None."""
    raw = "".join(tag.split())
    if len(raw) > MAX_TAG_LENGTH:
        return None  # no valid tag is that long, and its digits could be any number of them
    candidates: list[str] = []
    if raw.lower() != raw and convention._dev_re.fullmatch(raw.lower()):
        candidates.append(raw.lower())
    prefix = convention.prefix
    body = raw
    if prefix and raw.lower().startswith(prefix.lower()):
        body = raw[len(prefix) :]
    elif not prefix and raw[:1] in ("v", "V"):
        body = raw[1:]
    loose = _LOOSE_VERSION.fullmatch(body)
    if loose is not None:
        version = [str(int(loose.group(part) or 0)) for part in ("major", "minor", "patch")]
        text = ".".join(version)
        pre = loose.group("pre") or loose.group("pre_joined")
        if pre:
            text += "-" + ".".join(_strip_zeros(part) for part in pre.split("."))
        if loose.group("build"):
            text += "+" + loose.group("build")
        candidates.append(prefix + text)
    for candidate in candidates:
        if candidate != tag and classify_is_valid(candidate, convention):
            return candidate
    return None


def _strip_zeros(identifier: str) -> str:
    return str(int(identifier)) if identifier.isdigit() else identifier


def classify_is_valid(tag: str, convention: Convention) -> bool:
    """True when ``tag`` is a valid tag; never computes a suggestion."""
    if unsafe_reason(tag) is not None:
        return False
    version = _parse_semver(tag, convention)
    if version is not None:
        extra_re = convention._extra_re
        return (
            (version.prerelease is None and version.build is None)
            or extra_re is None
            or extra_re.fullmatch(tag)
        )
    return convention._dev_re.fullmatch(tag) and _dev_collision(tag, convention) is None


def precedence_key(classification: Classification) -> tuple[int, semver.Version | None, str]:
    """Sort key: versions by semver precedence (ties by full string), then the rest by name."""
    if classification.version is not None:
        return (0, classification.version, classification.tag)
    return (1, None, classification.tag)


def encode_tag(tag: str) -> str:
    """The tag as an S3 key segment and OCI tag: '+' becomes '_' (see docs/spec.md)."""
    return tag.replace("+", "_")


def decode_tag(segment: str, convention: Convention) -> str:
    """Inverse of :func:`encode_tag` for segments of valid tags."""
    if "_" in segment and len(segment) <= MAX_TAG_LENGTH:
        candidate = _underscore_as_plus(segment, convention)
        if _parse_semver(candidate, convention) is not None:
            return candidate
    return segment
