"""What a key artreg writes under a build may look like: one rule for writing and reading.

A build's file lives at ``<encoded tag>/<platform>/<name>`` and nowhere else.
``apply`` builds its keys with :func:`file_key`; every key read back from a
bucket (a manifest's files, an index page's entries, an intent record, a tree
``import`` adopts) is checked with :func:`file_problem` or :func:`key_problem`,
so a planted ``//evil.example/x`` or ``../x`` is refused where it is read and
never reaches a page, a link or a store call.

Pure: no I/O.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from artreg.core.tags import encode_tag, unsafe_reason

# A safe key segment: letters, digits, '.', '_' and '-', not starting with '.'.
SEGMENT = r"[A-Za-z0-9_-][A-Za-z0-9._-]*"
MAX_PLATFORM_SEGMENTS = 3  # os/arch/variant; a target triple is one segment
MAX_PLATFORM_LENGTH = 128
MAX_NAME_LENGTH = 255  # what file systems allow for one path component
PLATFORM = re.compile(rf"(?!.*\.\.){SEGMENT}(?:/{SEGMENT}){{0,{MAX_PLATFORM_SEGMENTS - 1}}}")
PLATFORM_RULE = (
    "one to three segments of letters, digits, '.', '_' and '-' separated by '/' "
    "(like 'linux/amd64', 'linux/arm/v7' or 'x86_64-unknown-linux-musl'), no '..'"
)
# '+' reads as a space on a static website; '%' starts an escape, '#' and '?' end the path.
URL_BREAKING = frozenset("+%#?")


def platform_problem(platform: str) -> str | None:
    """Why ``platform`` cannot be a platform (to follow "platform 'x' "), or None."""
    if len(platform) > MAX_PLATFORM_LENGTH:
        return f"is longer than {MAX_PLATFORM_LENGTH} characters"
    if PLATFORM.fullmatch(platform) is None:
        return f"is not {PLATFORM_RULE}"
    return None


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a published file name (to follow "the file name "), or None."""
    if name in ("", ".", ".."):
        return f"{name!r} is not a file name"
    if len(name) > MAX_NAME_LENGTH:
        return f"is longer than {MAX_NAME_LENGTH} characters"
    for char in name:
        if char == "/":
            return "contains '/'"
        if char in URL_BREAKING or char.isspace() or not char.isprintable():
            return f"contains {char!r}, which breaks its download URL on a static website"
    return None


def download_url(key: str) -> str:
    """A ready-to-use URL for ``key``, relative to the target root: each segment
    percent-encoded (``v1.0.0+x`` is stored as ``v1.0.0_x``; names may hold anything)."""
    return "/".join(quote(segment, safe="") for segment in key.split("/"))


def file_key(tag: str, platform: str, name: str) -> str:
    """The key of a build's file: ``<encoded tag>/<platform>/<name>``."""
    return f"{encode_tag(tag)}/{platform}/{name}"


def file_problem(tag: str, platform: str, name: str, key: str) -> str | None:
    """Why a file record read back (tag, platform, name, key) is not one artreg writes."""
    reason = unsafe_reason(tag)
    if reason is not None:
        return f"tag {tag!r}: {reason}"
    problem = platform_problem(platform)
    if problem is not None:
        return f"platform {platform!r} {problem}"
    problem = name_problem(name)
    if problem is not None:
        return f"file name {name!r} {problem}"
    expected = file_key(tag, platform, name)
    if key != expected:
        return (
            f"key {key!r}: a build's file must be at {expected!r} "
            f"(under its own build's directory {encode_tag(tag)}/)"
        )
    return None


def split_file_key(key: str) -> tuple[str, str, str] | None:
    """``(segment, platform, name)`` of ``<segment>/<platform>/<name>``, or None."""
    parts = key.split("/")
    if len(parts) < 3:
        return None
    return parts[0], "/".join(parts[1:-1]), parts[-1]


def key_problem(tag: str, key: str) -> str | None:
    """Why ``key`` is not a file key of build ``tag`` (``<encoded tag>/<platform>/<name>``)."""
    split = split_file_key(key)
    if split is None or split[0] != encode_tag(tag):
        return (
            f"key {key!r}: not under the build's own directory {encode_tag(tag)}/ "
            "(expected <encoded tag>/<platform>/<name>)"
        )
    return file_problem(tag, split[1], split[2], key)


# What artreg writes in a build's directory besides its files (the download site):
# the checksums in ``sha256sum -c`` format, their signature and the build's page.
SUMS_NAME = "SHA256SUMS"
SIGNATURE_NAME = f"{SUMS_NAME}.sig"
PAGE_NAME = "index.html"
BUILD_DOCUMENTS = (SUMS_NAME, SIGNATURE_NAME, PAGE_NAME)


def site_keys(tag: str) -> tuple[str, ...]:
    """The keys artreg writes for a build besides its files: checksums, signature, page."""
    return tuple(f"{encode_tag(tag)}/{name}" for name in BUILD_DOCUMENTS)


def owned_key_problem(tag: str, key: str) -> str | None:
    """Why ``key`` is neither a file of build ``tag`` nor one of its site documents."""
    if key in site_keys(tag):
        return None
    return key_problem(tag, key)


# The OCI distribution spec's repository name grammar.
OCI_REPOSITORY = re.compile(
    r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*"
)
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def image_problem(tag: str, repository: str, oci_tag: str, digest: str) -> str | None:
    """Why an image record read back is not one artreg writes for build ``tag``."""
    if len(repository) > MAX_PLATFORM_LENGTH or OCI_REPOSITORY.fullmatch(repository) is None:
        return f"repository {repository!r}: not an OCI repository name"
    if oci_tag != encode_tag(tag):
        return f"image tag {oci_tag!r}: the build's image tag is {encode_tag(tag)!r}"
    if _DIGEST.fullmatch(digest) is None:
        return f"digest {digest!r}: expected sha256:<64 lowercase hex digits>"
    return None
