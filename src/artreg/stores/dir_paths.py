"""How the dir store finds files on disk without following links, and reads its sidecars.

The layout: each key is a file under the root; what a bucket keeps beside the
bytes lives in a JSON sidecar under ``<root>/.artreg-meta/objects/<key>.json``.
Every path is walked down from the root one directory at a time with
``O_NOFOLLOW``. :class:`Walker` is the store's (it reports a link as
:class:`LinkInTarget`); :func:`open_regular` and :func:`read_sidecar` are the
read-only API ``artreg serve`` uses (a link there is simply not found).
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artreg.core.jsondoc import parse
from artreg.errors import LinkInTarget, Malformed, StoreError

META_DIR = ".artreg-meta"
OBJECTS = "objects"
SIDECAR_SUFFIX = ".json"
# A sidecar is a few hundred bytes; a bigger one is not artreg's and is ignored.
SIDECAR_MAX = 64 * 1024
READ_CHUNK = 1024 * 1024

# An S3 key has at most 1024 bytes, so at most 512 segments: deeper trees hold no keys.
MAX_DIR_DEPTH = 512

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO planted in the target must not hang (it is then skipped).
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass
class Frame:
    """One directory of a listing's walk: its fd, entries, and its sidecars' directory."""

    parts: builtins.list[str]
    fd: int
    entries: Iterator[os.DirEntry[str]]
    sidecars: int | None = None  # opened on first use; -1 when there is none

    def close(self) -> None:
        os.close(self.fd)
        if self.sidecars is not None and self.sidecars != -1:
            os.close(self.sidecars)


class Walker:
    """Opens directories and files below ``root``, refusing links (:class:`LinkInTarget`)."""

    def __init__(self, root: Path, description: str) -> None:
        self.root = root
        self.description = description

    def open_root(self, *, create: bool) -> int | None:
        """An fd on the root directory; None when it does not exist (and not ``create``)."""
        try:
            return os.open(self.root, DIR_FLAGS)
        except FileNotFoundError:
            if not create:
                return None
        except OSError as exc:
            raise self.root_error(exc) from None
        try:
            os.makedirs(self.root, exist_ok=True)
            return os.open(self.root, DIR_FLAGS)
        except OSError as exc:
            raise self.root_error(exc) from None

    def root_error(self, exc: OSError) -> StoreError:
        return StoreError(
            f"{self.description}: cannot use the target directory: {exc.strerror}; "
            "check the target's path in artreg.toml"
        )

    def child_dir(self, parent: int, parts: Sequence[str], *, create: bool) -> int | None:
        """An fd on the directory ``parts[-1]`` in ``parent``; None when it does not exist.

        Raises :class:`LinkInTarget` for a link, ``NotADirectoryError`` for a file when
        ``create`` (there is none otherwise).
        """
        name = parts[-1]
        for _ in range(3):  # mkdir, then open: a concurrent rmdir may come in between
            try:
                return os.open(name, DIR_FLAGS, dir_fd=parent)
            except FileNotFoundError:
                if not create:
                    return None
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                self.refuse_link(parent, parts)
                if not create:
                    return None
                raise NotADirectoryError(errno.ENOTDIR, "not a directory", name) from None
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, dir_fd=parent)
        return os.open(name, DIR_FLAGS, dir_fd=parent)

    def open_dirs(self, parts: Sequence[str], *, create: bool) -> builtins.list[int]:
        """fds on the root and each directory down ``parts`` (fewer when one is missing)."""
        root = self.open_root(create=create)
        if root is None:
            return []
        fds = [root]
        try:
            for depth in range(1, len(parts) + 1):
                fd = self.child_dir(fds[-1], parts[:depth], create=create)
                if fd is None:
                    break
                fds.append(fd)
        except BaseException:
            close_all(fds)
            raise
        return fds

    def open_dir(self, parts: Sequence[str], *, create: bool = False) -> int | None:
        """An fd on the directory ``parts`` below the root, or None when it does not exist."""
        fds = self.open_dirs(parts, create=create)
        if len(fds) == len(parts) + 1:
            last = fds.pop()
            close_all(fds)
            return last
        close_all(fds)
        return None

    def open_in(self, parent: int, parts: Sequence[str]) -> int | None:
        """A read fd on the regular file ``parts[-1]`` in ``parent``, or None."""
        try:
            fd = os.open(parts[-1], READ_FLAGS, dir_fd=parent)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                self.refuse_link(parent, parts)
            if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.ENXIO):
                return None
            raise
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # a directory, FIFO or device
            os.close(fd)
            return None
        return fd

    def open_file(self, parts: Sequence[str]) -> int | None:
        """A read fd on the regular file at ``parts`` below the root, or None."""
        parent = self.open_dir(parts[:-1])
        if parent is None:
            return None
        try:
            return self.open_in(parent, parts)
        finally:
            os.close(parent)

    def refuse_link(self, parent: int, parts: Sequence[str]) -> None:
        """Raise :class:`LinkInTarget` when ``parts[-1]`` in ``parent`` is a link."""
        try:
            st = os.stat(parts[-1], dir_fd=parent, follow_symlinks=False)
        except OSError:
            return
        if stat.S_ISLNK(st.st_mode):
            try:
                to = os.readlink(parts[-1], dir_fd=parent)
            except OSError:
                to = "?"
            raise LinkInTarget(
                f"{self.description}: {'/'.join(parts)!r} is a symbolic link (to {to!r}); "
                "artreg never follows links inside a dir target, so nothing was read, "
                "written or deleted through it; replace the link with the directory or file "
                "itself, or remove it"
            )

    def walk(self, prefix: str, visit: Callable[[str, int, int], None]) -> None:
        """Call ``visit(key, fd, sidecars)`` for every regular file below the directory
        ``prefix`` points into whose key starts with it; ``sidecars`` is an fd on the
        directory of its sidecar (-1: none). Depth first, holding an fd on each
        directory down the current path only; a link is :class:`LinkInTarget`.
        """
        head = prefix.rpartition("/")[0]
        head_parts = head.split("/") if head else []
        if any(part in ("", ".", "..") for part in head_parts) or (
            head_parts and head_parts[0] == META_DIR
        ):
            return
        top = self.open_dir(head_parts)
        if top is None:
            return
        # Depth first, holding an fd on each directory down the current path only.
        stack = [Frame(head_parts, top, iter(entries(top)))]
        try:
            while stack:
                frame = stack[-1]
                entry = next(frame.entries, None)
                if entry is None:
                    stack.pop().close()
                    continue
                child = [*frame.parts, entry.name]
                key = "/".join(child)
                if not frame.parts and entry.name == META_DIR:
                    continue
                if entry.is_symlink():
                    self.refuse_link(frame.fd, child)
                if entry.is_dir(follow_symlinks=False):
                    if not (prefix.startswith(key + "/") or key.startswith(prefix)):
                        continue
                    if len(child) > MAX_DIR_DEPTH:
                        raise StoreError(
                            f"{self.description}: {'/'.join(child[:8])}/...: directories "
                            f"nest deeper than {MAX_DIR_DEPTH} levels, which no key can; "
                            "remove that tree from the target"
                        )
                    sub = self.child_dir(frame.fd, child, create=False)
                    if sub is not None:
                        stack.append(Frame(child, sub, iter(entries(sub))))
                elif key.startswith(prefix) and entry.is_file(follow_symlinks=False):
                    found = self.open_in(frame.fd, child)
                    if found is None:  # deleted while listing
                        continue
                    try:
                        if frame.sidecars is None:  # once per directory, not per file
                            side = self.open_dir([META_DIR, OBJECTS, *frame.parts])
                            frame.sidecars = -1 if side is None else side
                        visit(key, found, frame.sidecars)
                    finally:
                        os.close(found)
        finally:
            for frame in stack:
                frame.close()


def sidecar_from_bytes(body: bytes) -> dict[str, Any]:
    """A sidecar's members, or nothing when it is malformed (shared with ``artreg serve``).

    A sidecar is a cache of what a bucket keeps beside the bytes: a bad one is
    ignored (the etag is recomputed, the content type guessed), never fatal,
    and what becomes a header must be one printable line, else it is dropped.
    """
    try:
        doc = parse(body, max_bytes=SIDECAR_MAX)
    except Malformed:
        return {}
    if not isinstance(doc, dict):
        return {}
    for name in ("etag", "contentType", "cacheControl"):
        if name in doc and not _header_text(doc[name]):
            del doc[name]
    metadata = doc.get("metadata")
    if not isinstance(metadata, dict) or not all(
        _header_text(k) and _header_text(v) for k, v in metadata.items()
    ):
        doc["metadata"] = {}
    return doc


def _header_text(value: object) -> bool:
    return isinstance(value, str) and len(value) <= 2048 and value.isprintable()


def entries(fd: int) -> builtins.list[os.DirEntry[str]]:
    with os.scandir(fd) as it:
        return builtins.list(it)


def lstat_mode(parent: int, name: str) -> int:
    try:
        return os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return 0


def close_all(fds: Sequence[int]) -> None:
    for fd in fds:
        os.close(fd)


def sidecar_path(key: str) -> list[str]:
    """The path parts of ``key``'s sidecar below the root."""
    *parents, name = key.split("/")
    return [META_DIR, OBJECTS, *parents, name + SIDECAR_SUFFIX]


# -- the read-only API of artreg serve ---------------------------------------------


def open_regular(root: Path, parts: Sequence[str]) -> int | None:
    """An fd on the regular file ``root/parts...``, or None; never follows a symlink.

    Each directory is opened relative to its parent with ``O_NOFOLLOW``, so a
    link in any component (or a component swapped for one meanwhile) fails.
    """
    if not parts or any(p in ("", ".", "..") or "\0" in p for p in parts):
        return None
    try:
        directory = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        for part in parts[:-1]:
            inner = os.open(part, DIR_FLAGS, dir_fd=directory)
            os.close(directory)
            directory = inner
        # O_NONBLOCK: opening a FIFO must not hang the thread; it is refused below.
        fd = os.open(parts[-1], READ_FLAGS, dir_fd=directory)
    except OSError:
        return None
    finally:
        os.close(directory)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    os.set_blocking(fd, True)
    return fd


def read_fd(fd: int, limit: int) -> bytes | None:
    """The whole file from offset 0, or None when it is larger than ``limit``."""
    chunks, total = [], 0
    while chunk := os.pread(fd, READ_CHUNK, total):
        total += len(chunk)
        if total > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def read_sidecar(root: Path, key: str) -> dict[str, Any]:
    """The sidecar of ``key`` in the dir store at ``root``; {} when missing or unreadable."""
    fd = open_regular(root, sidecar_path(key))
    if fd is None:
        return {}
    try:
        body = read_fd(fd, SIDECAR_MAX)
    finally:
        os.close(fd)
    return sidecar_from_bytes(body) if body is not None else {}
