"""Every exception artreg defines, in one place.

Anything raised as an :class:`ArtregError` is the user's to fix: the CLI prints
its one message (what, where, how to fix) and exits with its ``exit_code``.
:class:`InternalError` and any other exception is a bug in artreg: the CLI
prints a traceback and exits 3. The exit codes are listed in ``cli.py``
(``EXIT_*``) and documented in docs/ci.md.

    Exception
    ├── ArtregError                      exit 1: the user can fix it
    │   ├── UsageError                   exit 2: wrong command-line usage
    │   ├── ConfigError                  artreg.toml (every problem, one per line)
    │   ├── InvalidTag (ValueError)      a tag that breaks the convention
    │   ├── ArtifactFilesError           declared files that cannot be published
    │   ├── InvalidRepository            [project] repository is not a forge URL
    │   ├── InvalidSigningKey            a key ssh-keygen cannot use
    │   ├── InvalidChecksums             a SHA256SUMS that cannot be written or read
    │   ├── InvalidManifest              a stored build manifest that cannot be read
    │   ├── InvalidIndex                 an index document that cannot be trusted (rebuilt)
    │   ├── InvalidIntent                a stored intent record that cannot be read
    │   ├── InvalidLease                 a lease object artreg did not write
    │   ├── LeaseTimeout                 another run held the lease too long
    │   ├── ReleaseImmutable             a release re-published with other content
    │   ├── RefusedRemoval               rm of a release without --release, bad reason
    │   ├── RootRefused                  the server refused a matching If-Match
    │   ├── UnreadableManifest (ValueError)  a stored OCI manifest that cannot be followed
    │   ├── StoreError                   a store operation failed
    │   │   ├── NotFound                 the key does not exist
    │   │   ├── PreconditionFailed       a conditional write lost
    │   │   ├── ContentChanged           a local file changed between hash and upload
    │   │   └── LinkInTarget             a symbolic link inside a dir target
    │   └── ImageError                   an image that cannot be published as it is
    │       ├── ImageFormatError         not an OCI layout, oci- or docker-archive
    │       ├── BlobMissing              a descriptor's blob is absent
    │       ├── BlobSizeMismatch         a blob's size differs from its descriptor's
    │       ├── DigestMismatch           a blob does not hash to its digest
    │       ├── UnknownMediaType         a media type artreg cannot publish safely
    │       ├── TruncatedArchive         a damaged tar archive
    │       └── InvalidOciTag            a tag that is no valid OCI tag
    ├── InternalError                    exit 3: a bug in artreg (never the user's input)
    │   └── InvalidKey (ValueError)      a store key artreg built wrong
    ├── ValueError
    │   ├── Malformed                    bytes that are not bounded strict JSON
    │   └── PatternError                 a tags.*.match pattern RE2 cannot compile
    └── GlobTooBroad                     a glob that would read too many entries

The last three are caught where they are raised and turned into an
:class:`ArtregError` that names the file or key; uncaught, they are bugs.
"""

from __future__ import annotations

from collections.abc import Sequence

# Exit codes of every command (`artreg --help` and docs/ci.md list them).
EXIT_PROBLEM = 1  # a problem the user can fix (an ArtregError), or checks that failed
EXIT_USAGE = 2  # wrong command-line usage (argparse's code)
EXIT_BUG = 3  # a bug in artreg (InternalError or any unexpected exception)
EXIT_CHANGES = 4  # plan --detailed-exitcode: changes are pending
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM (128 + SIGINT, the shell's convention)


class ArtregError(Exception):
    """A problem the user can fix; the message says what, where and how."""

    exit_code = 1

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


class InternalError(Exception):
    """A bug in artreg (a caller broke a contract): the CLI exits 3 with a traceback."""


class UsageError(ArtregError):
    """Wrong command-line usage (exit 2, like argparse)."""

    exit_code = 2


class ConfigError(ArtregError):
    """One or more problems in ``artreg.toml``, all collected before failing."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


class InvalidTag(ArtregError, ValueError):
    """A tag that breaks the convention; carries the reason and a suggestion."""

    def __init__(self, tag: str, reason: str, suggestion: str | None = None) -> None:
        self.tag = tag
        self.reason = reason
        self.suggestion = suggestion
        shown = repr(tag) if len(tag) <= 128 else f"{tag[:40]!r}... ({len(tag)} characters)"
        text = f"tag {shown}: {reason}"
        if suggestion is not None:
            text += f"; did you mean {suggestion!r}?"
        super().__init__(text)


# -- input files and the repository ----------------------------------------


class ArtifactFilesError(ArtregError):
    """Declared files that cannot be published; every problem, one per line."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


class InvalidRepository(ArtregError):
    """A ``[project] repository`` that is not an http(s) URL of a repository."""


class InvalidSigningKey(ArtregError):
    """A signing key ssh-keygen cannot use (what, where, how to fix)."""


class InvalidChecksums(ArtregError):
    """A checksum list that cannot be written or read: says which path or line and why."""


# -- what the store holds --------------------------------------------------


class InvalidManifest(ArtregError):
    """A build manifest in the store that cannot be read."""


class InvalidIndex(ArtregError):
    """An index document (root or page) that cannot be trusted: rebuild from the manifests."""


class InvalidIntent(ArtregError):
    """An intent record in the store that cannot be read: it and its keys are left alone."""


class InvalidLease(ArtregError):
    """A lease object that is not one artreg wrote (it is then taken over, see the spec)."""


class LeaseTimeout(ArtregError):
    """Another run held the lease for longer than we were willing to wait."""


class ReleaseImmutable(ArtregError):
    """A release tag re-published with other content."""


class RefusedRemoval(ArtregError):
    """``artreg rm`` of a release without ``--release``, or a bad reason."""


class RootRefused(ArtregError):
    """The conditional root write was refused though the root had not changed.

    Under the lease nothing else writes the root, so this is the server (or a
    proxy before it) refusing a matching If-Match: retrying cannot help.
    """


class UnreadableManifest(ArtregError, ValueError):
    """A stored manifest that cannot be followed (not JSON, bad digests, wrong content)."""


# -- stores ----------------------------------------------------------------


class StoreError(ArtregError):
    """A store operation failed in a way the user can fix."""


class NotFound(StoreError):
    """The key does not exist in the store."""


class PreconditionFailed(StoreError):
    """A conditional write lost: the key exists (If-None-Match) or changed (If-Match)."""


class ContentChanged(StoreError):
    """A local file changed between hashing and upload."""


class LinkInTarget(StoreError):
    """A symbolic link inside a dir target: artreg never follows one."""


# -- images ----------------------------------------------------------------


class ImageError(ArtregError):
    """An image that cannot be published as it is; nothing was uploaded."""


class ImageFormatError(ImageError):
    """The input is not a readable OCI layout, oci-archive or docker-archive."""


class BlobMissing(ImageError):
    """A descriptor references a blob the image does not contain."""


class BlobSizeMismatch(ImageError):
    """A blob's size differs from its descriptor's (often a truncated copy)."""


class DigestMismatch(ImageError):
    """A blob's content does not hash to its descriptor's digest."""


class UnknownMediaType(ImageError):
    """A descriptor or manifest has a media type artreg cannot publish safely."""


class TruncatedArchive(ImageError):
    """A tar archive ends in the middle of a member or is otherwise damaged."""


class InvalidOciTag(ImageError):
    """A tag that, after the '+' -> '_' mapping, is still not a valid OCI tag."""


# -- caught where raised (uncaught: a bug) ---------------------------------


class Malformed(ValueError):
    """Bytes that are not a bounded, strict JSON document (the message says why)."""


class PatternError(ValueError):
    """A ``tags.*.match`` pattern RE2 cannot compile; the message says why."""


class GlobTooBroad(Exception):
    """A pattern that would look at more than ``limit`` directory entries."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


class InvalidKey(InternalError, ValueError):
    """A store key that is empty, absolute or has '.'/'..' segments: artreg built it wrong."""
