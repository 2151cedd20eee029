"""The dir store: a local directory laid out like the bucket (the embedded default).

Each key is a file under the root. What a bucket keeps beside the bytes
(content type, cache control, metadata, etag) lives in a JSON sidecar under
``<root>/.artreg-meta/objects/<key>.json``, so ``artreg serve`` can answer like
a bucket website. Writes go to a temporary file and are renamed into place
under an exclusive ``flock``, so readers never see half a file and conditional
writes hold across threads and processes.

Links: the configured root is resolved once, when the store is made (a user
may point ``path`` at a link); nothing below it is ever followed. Every
operation walks down from the root one directory at a time with
``O_NOFOLLOW``, so a link inside the target (to a directory, a file,
``.artreg-meta`` or its ``tmp``, or a loop) is reported as
:class:`LinkInTarget` before anything is read, written or removed through it
(:mod:`artreg.stores.dir_paths` walks; ``artreg serve`` reads through it too).

Temporary files are locked by their writer (see :mod:`artreg.stores.scratch`): the
first write of a store removes those a killed run left behind.
"""

from __future__ import annotations

import builtins
import collections
import contextlib
import errno
import fcntl
import hashlib
import json
import math
import mimetypes
import os
import secrets
import stat
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artreg.errors import NotFound, PreconditionFailed, StoreError
from artreg.stores.base import (
    DELETE_BATCH,
    LIST_PAGE,
    READ_CHUNK,
    ObjectInfo,
    PutRequest,
    check_bytes_digest,
    open_body,
    run_parallel,
    utc,
    validate_key,
)
from artreg.stores.dir_paths import (
    CREATE_FLAGS,
    META_DIR,
    OBJECTS,
    SIDECAR_MAX,
    SIDECAR_SUFFIX,
    Walker,
    close_all,
    lstat_mode,
    sidecar_from_bytes,
    sidecar_path,
)
from artreg.stores.scratch import lock_fd, sweep

_TMP = "tmp"
_LOCK = "lock"
_TMP_PREFIXES = ("put-", "side-")
DEFAULT_CONTENT_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class StoredObject:
    """A stored file and what a bucket website would send with it."""

    path: Path
    info: ObjectInfo
    content_type: str
    cache_control: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


@dataclass
class _Tmp:
    """A locked temporary file in ``.artreg-meta/tmp``, open for writing."""

    dir_fd: int
    name: str
    fd: int
    installed: bool = False

    def discard(self) -> None:
        """Remove the file unless it was moved into place; close everything."""
        try:
            if not self.installed:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.name, dir_fd=self.dir_fd)
        finally:
            os.close(self.fd)
            os.close(self.dir_fd)


def _size_hint(req: PutRequest) -> int:
    """The body's size for progress; 0 when the file cannot be read (the put will say why)."""
    try:
        return req.size_hint()
    except OSError:
        return 0


class DirStore:
    """A target that is a plain directory (``type = "dir"``)."""

    def __init__(self, root: Path, *, max_workers: int = 8) -> None:
        # The configured path may itself be, or pass through, a link: resolved once, here.
        self.root = Path(os.path.realpath(root))
        self.description = f"dir:{self.root}"
        self._paths = Walker(self.root, self.description)
        self.requests: collections.Counter[str] = collections.Counter()
        self.max_workers = max_workers
        self._count_lock = threading.Lock()
        self._swept = False

    def __repr__(self) -> str:
        return f"DirStore({self.root!s})"

    # -- the Store protocol ------------------------------------------------

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        """Every object whose key starts with ``prefix``, sorted by key."""
        with self._failing("list", prefix):
            infos = self._scan(prefix)
        infos.sort(key=lambda info: info.key)
        # Count as a bucket would page the listing, for request-count parity.
        self._count("ListObjectsV2", max(1, math.ceil(len(infos) / LIST_PAGE)))
        return infos

    def get(self, key: str) -> bytes:
        """The object's bytes; raises :class:`NotFound`."""
        return self._read(key)[0]

    def get_with_etag(self, key: str) -> tuple[bytes, str]:
        """The object's bytes and their etag (from one open file, so they agree)."""
        body, st = self._read(key)
        doc = self._read_sidecar(key)
        etag = doc.get("etag") if _fresh(doc, st) else None
        if not isinstance(etag, str):
            etag = _md5(body)
        return body, etag

    def _read(self, key: str) -> tuple[bytes, os.stat_result]:
        """One GET: the object's bytes and the status of the file they were read from."""
        self._count("GetObject")
        validate_key(self.description, key)
        with self._failing("read", key):
            fd = self._paths.open_file(key.split("/"))
            if fd is None:
                raise NotFound(f"{self.description}: {key!r}: no such object")
            with open(fd, "rb") as f:
                return f.read(), os.fstat(f.fileno())

    def head(self, key: str) -> ObjectInfo | None:
        """The object's info, or None when it does not exist."""
        self._count("HeadObject")
        found = self.locate(key)
        return found.info if found is not None else None

    def put(
        self,
        req: PutRequest,
        *,
        if_none_match: bool = False,
        if_match: str | None = None,
    ) -> str:
        """Write one object atomically; returns its etag.

        This store's etags are the md5 hex of the bytes, as on S3 without
        encryption; nothing outside this module relies on that.
        """
        return self._put(req, if_none_match=if_none_match, if_match=if_match)

    def put_many(
        self, reqs: Sequence[PutRequest], progress: Callable[[int], None] | None = None
    ) -> builtins.list[str]:
        """Write objects on a bounded thread pool; etags in the order of ``reqs``."""
        progress_lock = threading.Lock()

        def put_one(req: PutRequest) -> str:
            etag = self._put(req)
            if progress is not None:
                with progress_lock:
                    progress(_size_hint(req))
            return etag

        return run_parallel(put_one, reqs, self.max_workers)

    def copy(self, src: str, dst: str, *, content_type: str | None = None) -> None:
        """Copy an object with its metadata (and content type unless given)."""
        self._count("CopyObject")
        validate_key(self.description, src)
        validate_key(self.description, dst)
        self._check_reserved(dst)
        with self._failing("copy to", dst):
            fd = self._paths.open_file(src.split("/"))
            if fd is None:
                raise NotFound(
                    f"{self.description}: cannot copy {src!r} to {dst!r}: no such object"
                )
            with open(fd, "rb") as source:
                found = self._describe(src, fd, self._read_sidecar(src))
                tmp = self._new_tmp("put-")
                try:
                    with open(tmp.fd, "wb", closefd=False) as out:
                        while chunk := source.read(READ_CHUNK):
                            out.write(chunk)
                    sidecar = self._sidecar_doc(
                        tmp.fd,
                        etag=found.info.etag,
                        content_type=content_type or found.content_type,
                        cache_control=found.cache_control,
                        metadata=found.metadata,
                    )
                    with self._locked():
                        self._install(dst, tmp, sidecar)
                finally:
                    tmp.discard()

    def delete(self, keys: Sequence[str]) -> None:
        """Delete keys (missing ones are fine) and prune emptied directories."""
        for key in keys:
            validate_key(self.description, key)
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start : start + DELETE_BATCH]
            self._count("DeleteObjects")
            with self._locked():
                for key in batch:
                    with self._failing("delete", key):
                        *parents, name = key.split("/")
                        self._remove(key.split("/"), keep=0)
                        self._remove([META_DIR, OBJECTS, *parents, name + SIDECAR_SUFFIX], keep=2)

    def supports_conditional_writes(self) -> bool:
        """Always: the lock makes check-and-rename atomic."""
        return True

    # -- for artreg serve --------------------------------------------------

    def locate(self, key: str) -> StoredObject | None:
        """The file and website headers for ``key``, or None (no request is counted)."""
        validate_key(self.description, key)
        with self._failing("read", key):
            fd = self._paths.open_file(key.split("/"))
            if fd is None:
                return None
            try:
                return self._describe(key, fd, self._read_sidecar(key))
            finally:
                os.close(fd)

    @contextlib.contextmanager
    def _failing(self, what: str, key: str) -> Iterator[None]:
        """Turn an unexpected OS error into one clear message (not a traceback)."""
        try:
            yield
        except OSError as exc:
            raise StoreError(
                f"{self.description}: cannot {what} {key!r}: {exc.strerror or exc}; "
                "check the target directory's permissions and free space"
            ) from None

    # -- internals ---------------------------------------------------------

    def _count(self, operation: str, n: int = 1) -> None:
        with self._count_lock:
            self.requests[operation] += n

    def _check_reserved(self, key: str) -> None:
        if key.split("/", 1)[0] == META_DIR:
            raise StoreError(
                f"{self.description}: invalid key {key!r}: {META_DIR}/ is reserved for "
                "artreg's own bookkeeping; use another name"
            )

    def _read_sidecar(self, key: str, parent: int | None = None) -> dict[str, Any]:
        """The sidecar of ``key``; {} when missing or unreadable.

        ``parent``: an fd on the sidecar's directory when the caller has one (-1: missing).
        """
        if parent == -1:
            return {}
        parts = sidecar_path(key)
        fd = self._paths.open_file(parts) if parent is None else self._paths.open_in(parent, parts)
        if fd is None:
            return {}
        try:
            with open(fd, "rb") as f:
                body = f.read(SIDECAR_MAX + 1)
        except OSError:
            return {}
        return sidecar_from_bytes(body)

    def _describe(self, key: str, fd: int, doc: Mapping[str, Any]) -> StoredObject:
        """The object open at ``fd`` with its sidecar ``doc``."""
        st = os.fstat(fd)
        etag = doc.get("etag") if _fresh(doc, st) else None
        if not isinstance(etag, str):
            etag = _md5_fd(fd)
        content_type = doc.get("contentType")
        if not isinstance(content_type, str):
            content_type = mimetypes.guess_type(key)[0] or DEFAULT_CONTENT_TYPE
        cache_control = doc.get("cacheControl")
        metadata = doc.get("metadata")
        return StoredObject(
            path=self.root.joinpath(*key.split("/")),
            info=ObjectInfo(key=key, size=st.st_size, etag=etag, last_modified=utc(st.st_mtime)),
            content_type=content_type,
            cache_control=cache_control if isinstance(cache_control, str) else None,
            metadata=dict(metadata) if isinstance(metadata, dict) else {},
        )

    def _scan(self, prefix: str) -> builtins.list[ObjectInfo]:
        """Every object below the directory ``prefix`` points into whose key starts with it."""
        infos: builtins.list[ObjectInfo] = []

        def visit(key: str, fd: int, sidecars: int) -> None:
            infos.append(self._describe(key, fd, self._read_sidecar(key, sidecars)).info)

        self._paths.walk(prefix, visit)
        return infos

    def _new_tmp(self, prefix: str) -> _Tmp:
        """A new, locked, empty temporary file; the first one sweeps killed runs' leftovers."""
        tmp_dir = self._paths.open_dir([META_DIR, _TMP], create=True)
        assert tmp_dir is not None
        try:
            if not self._swept:
                self._swept = True
                with contextlib.suppress(OSError):
                    sweep(tmp_dir, _TMP_PREFIXES)
            name = f"{prefix}{os.getpid()}-{secrets.token_hex(8)}"
            # Created with the umask's mode (not mkstemp's 0600): published objects are
            # read by whatever serves the directory (nginx as another user).
            fd = os.open(name, CREATE_FLAGS, 0o666, dir_fd=tmp_dir)
        except BaseException:
            os.close(tmp_dir)
            raise
        tmp = _Tmp(tmp_dir, name, fd)
        try:
            lock_fd(fd)
        except BaseException:
            tmp.discard()
            raise
        return tmp

    def _sidecar_doc(
        self,
        fd: int,
        *,
        etag: str,
        content_type: str,
        cache_control: str | None,
        metadata: Mapping[str, str],
    ) -> dict[str, Any]:
        st = os.fstat(fd)
        return {
            "contentType": content_type,
            "cacheControl": cache_control,
            "metadata": {k.lower(): v for k, v in metadata.items()},
            "etag": etag,
            "size": st.st_size,
            "mtimeNs": st.st_mtime_ns,
        }

    def _put(
        self, req: PutRequest, *, if_none_match: bool = False, if_match: str | None = None
    ) -> str:
        self._count("PutObject")
        validate_key(self.description, req.key)
        self._check_reserved(req.key)
        check_bytes_digest(self.description, req)
        with self._failing("write", req.key):
            tmp = self._new_tmp("put-")
            try:
                etag = self._write_body(req, tmp.fd)
                sidecar = self._sidecar_doc(
                    tmp.fd,
                    etag=etag,
                    content_type=req.content_type,
                    cache_control=req.cache_control,
                    metadata=req.metadata,
                )
                with self._locked():
                    if if_none_match or if_match is not None:
                        self._check_precondition(req.key, if_none_match, if_match)
                    self._install(req.key, tmp, sidecar)
                return etag
            finally:
                tmp.discard()

    def _check_precondition(self, key: str, if_none_match: bool, if_match: str | None) -> None:
        current = self.locate(key)
        if if_none_match and current is not None:
            raise PreconditionFailed(
                f"{self.description}: {key!r} already exists "
                "(written with If-None-Match: *): another writer got there first; "
                "re-run to reconcile"
            )
        if if_match is not None and (current is None or current.info.etag != if_match):
            found = "missing" if current is None else f"etag {current.info.etag}"
            raise PreconditionFailed(
                f"{self.description}: {key!r} changed since it was read "
                f"(expected etag {if_match}, found {found}): another writer "
                "updated it; re-run to reconcile"
            )

    def _write_body(self, req: PutRequest, fd: int) -> str:
        """Copy the body to ``fd``; returns the md5 etag, checks the sha256 for files."""
        md5 = hashlib.md5(usedforsecurity=False)
        with open(fd, "wb", closefd=False) as out:
            if isinstance(req.body, bytes):
                out.write(req.body)
                md5.update(req.body)
                return md5.hexdigest()
            reader, _, raw = open_body(self.description, req)
            with raw:
                while chunk := reader.read(READ_CHUNK):
                    out.write(chunk)
                    md5.update(chunk)
        return md5.hexdigest()

    def _install(self, key: str, tmp: _Tmp, sidecar: dict[str, Any]) -> None:
        """Move a written file and its sidecar into place (the caller holds the lock)."""
        *parents, name = key.split("/")
        side_parts = [META_DIR, OBJECTS, *parents, name + SIDECAR_SUFFIX]
        try:
            parent = self._paths.open_dir(parents, create=True)
            side_parent = self._paths.open_dir(side_parts[:-1], create=True)
            assert parent is not None and side_parent is not None
            try:
                for directory, parts in ((parent, key.split("/")), (side_parent, side_parts)):
                    self._paths.refuse_link(directory, parts)
                if stat.S_ISDIR(lstat_mode(parent, name)):
                    raise IsADirectoryError(key)
                side = self._new_tmp("side-")
                try:
                    with open(side.fd, "wb", closefd=False) as out:
                        out.write(json.dumps(sidecar, sort_keys=True).encode())
                    os.replace(
                        side.name, side_parts[-1], src_dir_fd=side.dir_fd, dst_dir_fd=side_parent
                    )
                    side.installed = True
                finally:
                    side.discard()
                os.replace(tmp.name, name, src_dir_fd=tmp.dir_fd, dst_dir_fd=parent)
                tmp.installed = True
            finally:
                os.close(parent)
                os.close(side_parent)
        except (FileExistsError, NotADirectoryError, IsADirectoryError):
            raise StoreError(
                f"{self.description}: cannot store {key!r}: a directory store cannot hold "
                "both a key and other keys below it (one of its parents is a file, or it "
                "is a directory); rename one of them"
            ) from None

    def _remove(self, parts: Sequence[str], *, keep: int) -> None:
        """Unlink the file at ``parts`` and prune emptied directories below the ``keep``-th."""
        fds = self._paths.open_dirs(parts[:-1], create=False)
        try:
            if len(fds) < len(parts):  # a directory on the way is missing
                return
            self._paths.refuse_link(fds[-1], parts)
            try:
                if not stat.S_ISREG(lstat_mode(fds[-1], parts[-1])):
                    return  # a directory is not an object: leave it
                os.unlink(parts[-1], dir_fd=fds[-1])
            except FileNotFoundError:
                return
            for depth in range(len(parts) - 1, keep, -1):
                try:
                    os.rmdir(parts[depth - 1], dir_fd=fds[depth - 1])
                except OSError:
                    return
        finally:
            close_all(fds)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        meta = self._paths.open_dir([META_DIR], create=True)
        assert meta is not None
        try:
            lock = os.open(
                _LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666, dir_fd=meta
            )
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                self._paths.refuse_link(meta, [META_DIR, _LOCK])
            raise
        finally:
            os.close(meta)
        # One open file description per call: flock excludes other threads too.
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield
        finally:
            os.close(lock)  # releases the lock


def _fresh(sidecar: Mapping[str, Any], st: os.stat_result) -> bool:
    """Whether a sidecar describes the file as it is (not changed behind the store's back)."""
    return sidecar.get("size") == st.st_size and sidecar.get("mtimeNs") == st.st_mtime_ns


def _md5(body: bytes) -> str:
    return hashlib.md5(body, usedforsecurity=False).hexdigest()


def _md5_fd(fd: int) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    offset = 0
    while chunk := os.pread(fd, READ_CHUNK, offset):
        md5.update(chunk)
        offset += len(chunk)
    return md5.hexdigest()
