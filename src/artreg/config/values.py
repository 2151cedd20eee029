"""What a single value may be: names, patterns, validators and how values are shown."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import PurePosixPath

from artreg.core.keys import SEGMENT, name_problem

KeyPath = tuple[str | int, ...]
Validator = Callable[[str], object]

# A safe key segment: what artifact names, platform segments and published file names are.
ARTIFACT_NAME = re.compile(rf"(?!.*\.\.){SEGMENT}")
TARGET_NAME = re.compile(r"[A-Za-z0-9_-]+")
TAG_PREFIX = re.compile(r"(?:[A-Za-z_][A-Za-z._-]{0,15})?")
KEY_PREFIX = re.compile(rf"(?:(?!\.\.?/){SEGMENT}/)*")
BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
GLOB_MAGIC = re.compile(r"[*?[]")
PROTECT_PATTERN = re.compile(r"[A-Za-z0-9._+*?!\[\]-]{1,128}")
MAX_NAME_LENGTH = 128
# An endpoint's host: a DNS name (docker-compose service names may hold '_') or an
# IPv4 address, or an IPv6 address in brackets.
ENDPOINT_HOST = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?|\[[0-9A-Fa-f:.]+\]")

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
AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")
CREDENTIALS_FIX = (
    "credentials never go in artreg.toml (it is committed); remove this and let the AWS chain "
    "provide them: the AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN) "
    "environment variables, AWS_PROFILE, or ~/.aws/credentials "
    '(choose a profile with profile = "NAME" in the s3 target)'
)


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


def show(value: object) -> str:
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


# --- validators of string values (the checker's side of each key's rule) ----------------------


def safe(pattern: re.Pattern[str]) -> Validator:
    """A validator: ``pattern`` matches the whole string, at most MAX_NAME_LENGTH long."""
    return lambda text: len(text) <= MAX_NAME_LENGTH and pattern.fullmatch(text) is not None


def publishable_path(text: str) -> bool:
    """A literal path's file name must survive a static website URL; globs are checked later."""
    if GLOB_MAGIC.search(text):
        return bool(text.strip())
    return not text.endswith("/") and name_problem(PurePosixPath(text).name) is None


def printable_name(text: str) -> bool:
    return bool(text.strip()) and text.isprintable()


def no_whitespace(text: str) -> bool:
    return bool(text) and not any(c.isspace() for c in text)


def repository_url(text: str) -> bool:
    from artreg.core.forge import parse_repository
    from artreg.errors import InvalidRepository

    try:
        parse_repository(text)
    except InvalidRepository:
        return False
    return True


def site_url(text: str) -> bool:
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


def env_name(text: str) -> bool:
    return re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,127}", text) is not None


def key_file(text: str) -> bool:
    return printable_name(text) and "PRIVATE KEY" not in text and len(text) <= 4096


def latest_directory(text: str) -> bool:
    from artreg.core.latest import directory_problem

    return text != "latest" and directory_problem(text) is None
