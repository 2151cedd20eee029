"""The files a build publishes: declared paths resolved, checked and hashed.

Every problem (missing file, glob matching nothing, directory, unreadable file,
path escaping the repository, two files on one key) is collected and reported
in one error before anything is written.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import mimetypes
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from artreg.config import Artifact, FileSpec
from artreg.core.keys import file_key, name_problem
from artreg.core.manifest import FileEntry
from artreg.errors import ArtifactFilesError, GlobTooBroad

CHUNK_SIZE = 1 << 20
DEFAULT_CONTENT_TYPE = "application/octet-stream"

_GLOB_MAGIC = re.compile(r"[*?[]")
# The most directory entries one pattern may look at: far beyond any build
# output, and about a second of scanning; a pattern needing more is refused.
MAX_GLOB_ENTRIES = 1_000_000
# Opening a FIFO for reading would block until a writer comes; O_NONBLOCK makes
# open() return at once, and fstat then refuses anything but a regular file.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)

# A compressed file is stored as its compressed bytes with no Content-Encoding
# (browsers would otherwise unpack it on download): its type is the compressor's.
_ENCODING_TYPES = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "compress": "application/x-compress",
    "br": "application/x-brotli",
}
# Common release files missing from Python's built-in table.
_EXTRA_TYPES = {
    ".zst": "application/zstd",
    ".deb": "application/vnd.debian.binary-package",
    ".rpm": "application/x-rpm",
    ".whl": "application/zip",
    ".asc": "application/pgp-signature",
    ".sig": "application/pgp-signature",
    ".sha256": "text/plain",
    ".sha512": "text/plain",
}


@dataclass(frozen=True)
class LocalFile:
    """One file to publish: where it is on disk, where it goes, and its digest."""

    artifact: str
    platform: str
    source: Path
    name: str  # the basename, last segment of key
    key: str  # "<encoded tag>/<platform>/<name>", relative to the target root
    size: int
    sha256: str
    content_type: str = DEFAULT_CONTENT_TYPE

    def to_file_entry(self) -> FileEntry:
        return FileEntry(
            artifact=self.artifact,
            platform=self.platform,
            name=self.name,
            key=self.key,
            size=self.size,
            sha256=self.sha256,
            content_type=self.content_type,
        )


@dataclass(frozen=True)
class _Candidate:
    """A file found for a declared path, before it is checked and hashed."""

    artifact: str
    platform: str
    path: Path
    shown: str  # as the user would recognise it in messages

    @property
    def name(self) -> str:
        return self.path.name

    def where(self) -> str:
        return f"artifact {self.artifact!r}, platform {self.platform!r}: {self.shown}"


def resolve_files(
    config_dir: Path, artifacts: Sequence[Artifact], tag: str
) -> tuple[LocalFile, ...]:
    """Resolve, check and hash the files of every ``files`` artifact, sorted by key.

    Raises :class:`ArtifactFilesError` listing every problem; nothing is hashed
    until every declared file is known to be publishable.
    """
    _real_dir.cache_clear()  # directories may have changed since the last call
    root = config_dir.resolve()
    problems: list[str] = []
    candidates: list[_Candidate] = []
    for artifact in artifacts:
        if artifact.type != "files":
            continue
        for spec in artifact.files:
            found, problem = _find(config_dir, artifact.name, spec)
            if problem is not None:
                problems.append(problem)
            for candidate in found:
                problem = _check(candidate, root)
                if problem is None:
                    candidates.append(candidate)
                else:
                    problems.append(problem)
    by_key: dict[str, list[_Candidate]] = {}
    for candidate in candidates:
        key = file_key(tag, candidate.platform, candidate.name)
        by_key.setdefault(key, []).append(candidate)
    for key, sharing in by_key.items():
        if len(sharing) > 1:
            problems.append(
                f"{key}: {len(sharing)} files would be published under this key "
                f"({'; '.join(c.where() for c in sharing)}); "
                "rename the files or give them different platforms"
            )
    if problems:
        raise ArtifactFilesError(problems)

    resolved: list[LocalFile] = []
    for key in sorted(by_key):
        (candidate,) = by_key[key]
        try:
            size, sha256 = hash_file(candidate.path)
        except OSError as exc:
            problems.append(f"{candidate.where()}: cannot be read ({_reason(exc)}); fix it")
            continue
        resolved.append(
            LocalFile(
                artifact=candidate.artifact,
                platform=candidate.platform,
                source=candidate.path,
                name=candidate.name,
                key=key,
                size=size,
                sha256=sha256,
                content_type=guess_content_type(candidate.name),
            )
        )
    if problems:
        raise ArtifactFilesError(problems)
    return tuple(resolved)


def hash_file(path: Path) -> tuple[int, str]:
    """(size, sha256 hex) of a regular file, read in chunks; raises OSError.

    The size is the number of bytes hashed, not what stat said before reading.
    """
    fd = os.open(path, _OPEN_FLAGS)
    with open(fd, "rb", buffering=0, closefd=True) as stream:
        info = os.fstat(stream.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{path}: not a regular file")
        digest = hashlib.sha256()
        # Small files are the common case (and thousands of them): no 1 MiB buffer each.
        buffer = bytearray(max(1, min(CHUNK_SIZE, info.st_size + 1)))
        view = memoryview(buffer)
        size = 0
        while count := stream.readinto(buffer):
            digest.update(view[:count])
            size += count
    return size, digest.hexdigest()


def guess_content_type(name: str) -> str:
    """The Content-Type to serve a file under, from its name; the same on every machine."""
    suffixes = PurePosixPath(name).suffixes
    if suffixes and suffixes[-1].lower() in _EXTRA_TYPES:
        return _EXTRA_TYPES[suffixes[-1].lower()]
    # Only the suffixes: guess_type() would read "data:..." as a data URL.
    content_type, encoding = _mime_table().guess_type("file" + "".join(suffixes))
    if encoding is not None:
        return _ENCODING_TYPES.get(encoding, DEFAULT_CONTENT_TYPE)
    return content_type or DEFAULT_CONTENT_TYPE


@functools.lru_cache(maxsize=1)
def _mime_table() -> mimetypes.MimeTypes:
    # Python's built-in table only: /etc/mime.types differs between machines,
    # and a different type would rewrite the manifest on every other runner.
    return mimetypes.MimeTypes()


def _find(config_dir: Path, artifact: str, spec: FileSpec) -> tuple[list[_Candidate], str | None]:
    """The files a declared path names: one path, or a glob's non-directory matches."""
    if not _GLOB_MAGIC.search(spec.path):
        return [_Candidate(artifact, spec.platform, config_dir / spec.path, spec.path)], None
    where = f"artifact {artifact!r}, platform {spec.platform!r}: {spec.path}"
    try:
        matches = sorted(set(glob_paths(config_dir, spec.path, max_entries=MAX_GLOB_ENTRIES)))
    except GlobTooBroad as exc:
        return [], (
            f"{where}: the pattern looks at more than {exc.limit:,} files and directories; "
            "narrow it in artreg.toml (name the directories the build writes to)"
        )
    found = [
        _Candidate(
            artifact, spec.platform, config_dir / match, f"{match} (matched by {spec.path!r})"
        )
        for match in matches
        # `**` matches directories too; a glob names the files in them.
        if not (config_dir / match).is_dir()
    ]
    if found:
        return found, None
    what = "only directories" if matches else "nothing"
    return [], (
        f"{where}: the pattern matches {what}; build the artifact first or fix the "
        "pattern in artreg.toml"
    )


def glob_paths(root: Path, pattern: str, *, max_entries: int = MAX_GLOB_ENTRIES) -> list[str]:
    """The paths (relative to ``root``, '/'-separated) matching ``pattern``, in bounded work.

    Like ``glob.glob(pattern, root_dir=root, recursive=True)`` (``*``, ``?`` and
    ``[...]`` within a name, hidden names only when the pattern's segment starts
    with '.', ``**`` for any number of directories) except that ``**`` never
    enters a symlinked directory nor one it already entered (by device and
    inode), so links back to a parent cannot make it loop; and it looks at
    no more than ``max_entries`` directory entries (GlobTooBroad otherwise).
    """
    segments = [part for part in pattern.split("/") if part]
    absolute = pattern.startswith("/")
    walker = _GlobWalker(Path("/") if absolute else root, max_entries)
    prefix = "/" if absolute else ""
    return [prefix + path for path in walker.match("", segments)]


class _GlobWalker:
    def __init__(self, root: Path, max_entries: int) -> None:
        self.root = root
        self.max_entries = max_entries
        self.entries = 0  # directory entries looked at so far

    def match(self, base: str, segments: list[str]) -> list[str]:
        if not segments:
            return [base] if base else []
        head, rest = segments[0], segments[1:]
        if head == "**":
            while rest[:1] == ["**"]:
                rest = rest[1:]  # `**/**` means what `**` means
            out: list[str] = [base] if base and not rest else []  # glob's 'a/' for 'a/**'
            directories = self.directories(base)
            for directory in directories:
                if rest:
                    out.extend(self.match(directory, rest))
                else:  # a trailing `**` names everything at every level
                    out.extend(self.names(directory, "*", dirs_only=False))
            return out
        if not _GLOB_MAGIC.search(head):
            path = _join(base, head)
            full = self.root / path
            if rest and not full.is_dir():
                return []
            if not rest and not os.path.lexists(full):
                return []
            return self.match(path, rest)
        out = []
        for path in self.names(base, head, dirs_only=bool(rest)):
            out.extend(self.match(path, rest))
        return out

    def names(self, base: str, pattern: str, *, dirs_only: bool) -> list[str]:
        """The entries of ``base`` whose names match ``pattern`` (one segment)."""
        hidden_ok = pattern.startswith(".")
        out = []
        for entry in self.scan(base):
            if entry.name.startswith(".") and not hidden_ok:
                continue
            if not fnmatch.fnmatchcase(entry.name, pattern):
                continue
            if dirs_only and not _is_dir(entry, follow=True):
                continue
            out.append(_join(base, entry.name))
        return out

    def directories(self, base: str) -> list[str]:
        """``base`` and every directory below it, entering no symlink and no directory twice."""
        out = [base]
        seen: set[tuple[int, int]] = set()
        try:
            info = os.stat(self.root / base) if base else os.stat(self.root)
        except OSError:
            return []
        seen.add((info.st_dev, info.st_ino))
        index = 0
        while index < len(out):
            for entry in self.scan(out[index]):
                if entry.name.startswith(".") or not _is_dir(entry, follow=False):
                    continue
                try:
                    child = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if (child.st_dev, child.st_ino) in seen:
                    continue
                seen.add((child.st_dev, child.st_ino))
                out.append(_join(out[index], entry.name))
            index += 1
        return out

    def scan(self, base: str) -> list[os.DirEntry[str]]:
        try:
            with os.scandir(self.root / base if base else self.root) as entries:
                found = []
                for entry in entries:
                    self.entries += 1
                    if self.entries > self.max_entries:
                        raise GlobTooBroad(self.max_entries)
                    found.append(entry)
                return found
        except OSError:
            return []


def _join(base: str, name: str) -> str:
    return f"{base}/{name}" if base else name


def _is_dir(entry: os.DirEntry[str], *, follow: bool) -> bool:
    try:
        return entry.is_dir(follow_symlinks=follow)
    except OSError:
        return False


def _check(candidate: _Candidate, root: Path) -> str | None:
    """Why this file cannot be published, or None when it can."""
    where = candidate.where()
    path = candidate.path
    try:
        real = _real_path(path)
    except (OSError, RuntimeError):
        return f"{where}: is a symlink loop; fix the link"
    if not real.is_relative_to(root):
        return (
            f"{where}: resolves to {real}, outside the repository {root}; "
            "publish files from inside the repository (copy it in, or fix the path or link)"
        )
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        if os.path.islink(path):
            return (
                f"{where}: is a broken symlink (to {os.readlink(path)}); "
                "build what it points to or fix the link"
            )
        return f"{where}: no such file; build the artifact first or fix the path in artreg.toml"
    except OSError as exc:
        return f"{where}: cannot be read ({_reason(exc)}); fix its permissions"
    if stat.S_ISDIR(mode):
        return (
            f"{where}: is a directory, expected a file; "
            f"declare the files in it (for example '{candidate.shown.rstrip('/')}/*')"
        )
    if not stat.S_ISREG(mode):
        return f"{where}: is not a regular file (a FIFO, socket or device); declare a regular file"
    try:
        os.close(os.open(path, _OPEN_FLAGS))
    except OSError as exc:
        return f"{where}: cannot be read ({_reason(exc)}); fix its permissions"
    problem = name_problem(candidate.name)
    if problem is not None:
        return f"{where}: the file name {problem}; rename the file"
    return None


def _real_path(path: Path) -> Path:
    """``path.resolve()``, resolving each directory once for all the files in it."""
    if os.path.islink(path):
        return path.resolve()
    return _real_dir(str(path.parent)) / path.name


@functools.lru_cache(maxsize=4096)
def _real_dir(directory: str) -> Path:
    return Path(directory).resolve()


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def empty_file_warnings(config_dir: Path, artifacts: Sequence[Artifact]) -> list[str]:
    """A warning for each declared file that exists but holds 0 bytes (a failed build step?).

    Files that do not exist yet are not reported: ``lint`` runs before the build.
    """
    warnings: list[str] = []
    for artifact in artifacts:
        for spec in artifact.files if artifact.type == "files" else ():
            found, _ = _find(config_dir, artifact.name, spec)
            for candidate in found:
                try:
                    info = os.stat(candidate.path)
                except OSError:
                    continue
                if stat.S_ISREG(info.st_mode) and info.st_size == 0:
                    warnings.append(
                        f"{candidate.where()}: is empty (0 bytes); a build step probably "
                        "failed, and a published release can never be replaced"
                    )
    return warnings
