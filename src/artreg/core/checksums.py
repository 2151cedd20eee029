"""``SHA256SUMS``: the checksum file of one build, in the format ``sha256sum -c`` reads.

Pure. One line per file, ``<hex>  <path>``, the path relative to the build's
directory (``<encoded tag>/``), lines sorted by path, a trailing newline. A
path holding a backslash, a newline or a carriage return is written as GNU
coreutils writes it: the line starts with ``\\`` and those characters are
escaped (``\\\\``, ``\\n``, ``\\r``). Other control characters are refused:
no ``sha256sum`` reads them back reliably.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from artreg.core.keys import SIGNATURE_NAME, SUMS_NAME
from artreg.errors import InvalidChecksums

_SHA256 = re.compile(r"[0-9a-f]{64}")
_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r"}
_UNESCAPES = {"\\": "\\", "n": "\n", "r": "\r"}
_REFUSED = re.compile(r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Checksum:
    """One line: the file's path relative to the build directory and its SHA-256 (hex)."""

    path: str
    sha256: str


def sums_key(build_dir: str) -> str:
    """The key of a build's checksum file (relative to the target root)."""
    return f"{build_dir}/{SUMS_NAME}"


def signature_key(build_dir: str) -> str:
    return f"{build_dir}/{SIGNATURE_NAME}"


def relative_path(build_dir: str, key: str) -> str:
    """``key`` (relative to the target root) relative to ``build_dir``, or raise."""
    prefix = f"{build_dir}/"
    if not key.startswith(prefix) or key == prefix:
        raise InvalidChecksums(f"{key!r} is not inside the build directory {prefix!r}")
    return key[len(prefix) :]


def _check(item: Checksum) -> None:
    if not _SHA256.fullmatch(item.sha256):
        raise InvalidChecksums(f"{item.path!r}: sha256 {item.sha256!r} is not 64 lowercase hex")
    if not item.path or item.path.startswith("/") or ".." in item.path.split("/"):
        raise InvalidChecksums(f"{item.path!r}: not a relative path inside the build directory")
    bad = _REFUSED.search(item.path)
    if bad is not None:
        raise InvalidChecksums(
            f"{item.path!r}: control character {bad.group()!r} in a file name; "
            "sha256sum cannot list it, rename the file"
        )


def _line(item: Checksum) -> str:
    escaped = "".join(_ESCAPES.get(char, char) for char in item.path)
    prefix = "\\" if escaped != item.path else ""
    return f"{prefix}{item.sha256}  {escaped}\n"


def render_sums(items: Iterable[Checksum]) -> bytes:
    """The ``SHA256SUMS`` bytes (UTF-8) for ``items``: sorted by path, each path once."""
    by_path: dict[str, Checksum] = {}
    for item in items:
        _check(item)
        if item.path in by_path:
            raise InvalidChecksums(f"{item.path!r}: listed twice")
        by_path[item.path] = item
    ordered = sorted(by_path.values(), key=lambda item: item.path.encode())
    return "".join(_line(item) for item in ordered).encode()


def build_sums(build_dir: str, files: Iterable[tuple[str, str]]) -> bytes:
    """``SHA256SUMS`` of a build from its files' ``(key, sha256)`` (keys from the target root)."""
    return render_sums(Checksum(relative_path(build_dir, key), sha) for key, sha in files)


def parse_sums(body: bytes) -> tuple[Checksum, ...]:
    """Read a ``SHA256SUMS`` written by :func:`render_sums` (or by GNU ``sha256sum``)."""
    try:
        text = body.decode()
    except UnicodeDecodeError as exc:
        raise InvalidChecksums(f"{SUMS_NAME}: not UTF-8 ({exc})") from exc
    if text and not text.endswith("\n"):
        raise InvalidChecksums(f"{SUMS_NAME}: no newline at the end")
    items = []
    # split on "\n" only: str.splitlines would also split on U+2028 and friends in names
    for number, line in enumerate(text.split("\n")[:-1], start=1):
        escaped = line.startswith("\\")
        body_line = line[1:] if escaped else line
        sha, sep, path = body_line.partition("  ")
        if not sep or not _SHA256.fullmatch(sha) or not path:
            raise InvalidChecksums(f"{SUMS_NAME}: line {number}: expected '<sha256>  <path>'")
        if escaped:
            path = _unescape(path, number)
        items.append(Checksum(path, sha))
    return tuple(items)


def _unescape(path: str, number: int) -> str:
    out: list[str] = []
    chars = iter(path)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        following = next(chars, "")
        if following not in _UNESCAPES:
            raise InvalidChecksums(f"{SUMS_NAME}: line {number}: bad escape '\\{following}'")
        out.append(_UNESCAPES[following])
    return "".join(out)
