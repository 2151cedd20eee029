"""Temporary files and directories that a killed run cannot leave behind for good.

Each one holds an exclusive ``flock`` on itself while it is in use. The kernel
drops that lock when its process ends, however it ends (SIGKILL included), so a
later run tells a leftover (lock free) from a concurrent run's live file (lock
held) and removes only leftovers. A grace age covers the instant between
creating a file and locking it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import stat
import tempfile
import threading
import time
import weakref
from pathlib import Path

# A live file is locked within microseconds of being created; a minute is plenty.
STALE_AFTER = 60.0
# Scratch directories in the system temporary directory; nothing else there is touched.
SCRATCH_PREFIX = "artreg-scratch-"

_swept_lock = threading.Lock()
_swept: set[str] = set()


def lock_fd(fd: int) -> None:
    """Mark the file or directory open at ``fd`` as in use (until the fd is closed)."""
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def sweep(dir_fd: int, prefixes: tuple[str, ...], parent: Path | None = None) -> int:
    """Remove leftovers in the directory open at ``dir_fd``; returns how many.

    A leftover is a regular file (or, when ``parent`` names the directory, a
    directory) owned by this user, named with one of ``prefixes``, older than
    :data:`STALE_AFTER`, whose lock nobody holds. Links are never followed.
    """
    now = time.time()
    removed = 0
    with os.scandir(dir_fd) as entries:
        candidates = [e.name for e in entries if e.name.startswith(prefixes)]
    for name in candidates:
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except OSError:
            continue
        is_dir = stat.S_ISDIR(st.st_mode)
        if not (stat.S_ISREG(st.st_mode) or (is_dir and parent is not None)):
            continue
        if st.st_uid != os.getuid() or now - st.st_mtime < STALE_AFTER:
            continue
        # A file opened for writing: NFS emulates flock with POSIX locks, whose exclusive
        # kind needs it (nothing is written). A directory can only be opened read-only.
        flags = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
        flags |= (os.O_RDONLY | os.O_DIRECTORY) if is_dir else os.O_RDWR
        try:
            fd = os.open(name, flags, dir_fd=dir_fd)
        except OSError:
            continue
        try:
            lock_fd(fd)
            # Still the same file at that name (not replaced since it was looked at)?
            if os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_ino != os.fstat(fd).st_ino:
                continue
            if is_dir:
                assert parent is not None
                shutil.rmtree(parent / name)  # rmtree does not follow links
            else:
                os.unlink(name, dir_fd=dir_fd)
            removed += 1
        except OSError:  # locked by a live run, or gone meanwhile
            continue
        finally:
            os.close(fd)
    return removed


def sweep_once(key: str, dir_fd: int, prefixes: tuple[str, ...], parent: Path | None) -> None:
    """:func:`sweep` the first time this process asks for ``key``."""
    with _swept_lock:
        if key in _swept:
            return
        _swept.add(key)
    with contextlib.suppress(OSError):
        sweep(dir_fd, prefixes, parent)


class ScratchDir:
    """A private temporary directory, locked while in use.

    Removed by :meth:`close`, when garbage-collected, at interpreter exit, or
    (after a SIGKILL) by the next run that makes one.
    """

    def __init__(self, purpose: str) -> None:
        parent = Path(tempfile.gettempdir())
        parent_fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            sweep_once(f"scratch:{parent}", parent_fd, (SCRATCH_PREFIX,), parent)
        finally:
            os.close(parent_fd)
        self.path = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{purpose}-", dir=parent))
        fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        lock_fd(fd)
        self._finalizer = weakref.finalize(self, _remove, self.path, fd)

    def close(self) -> None:
        """Remove the directory and everything in it (idempotent)."""
        self._finalizer()

    def __enter__(self) -> ScratchDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _remove(path: Path, fd: int) -> None:
    # Remove first, then release the lock: a sweeper never sees it unlocked and present.
    try:
        shutil.rmtree(path, ignore_errors=True)
    finally:
        os.close(fd)
