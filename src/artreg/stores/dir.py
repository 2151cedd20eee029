"""The dir store: a local directory laid out like the bucket (the embedded default).

Each key is a file under the root. What a bucket keeps beside the bytes
(content type, cache control, metadata, etag) lives in a JSON sidecar under
``<root>/.artreg-meta/objects/<key>.json``, so ``artreg serve`` can answer like
a bucket website. Writes go to a temporary file and are renamed into place
under an exclusive ``flock``, so readers never see half a file and conditional
writes hold across threads and processes.
"""

from __future__ import annotations

import builtins
import collections
import contextlib
import fcntl
import hashlib
import json
import math
import mimetypes
import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artreg.stores.base import (
    DELETE_BATCH,
    LIST_PAGE,
    READ_CHUNK,
    NotFound,
    ObjectInfo,
    PreconditionFailed,
    PutRequest,
    StoreError,
    check_bytes_digest,
    open_body,
    run_parallel,
    utc,
    validate_key,
)

META_DIR = ".artreg-meta"
_OBJECTS = "objects"
_TMP = "tmp"
_LOCK = "lock"
_SIDECAR_SUFFIX = ".json"
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


class DirStore:
    """A target that is a plain directory (``type = "dir"``)."""

    def __init__(self, root: Path, *, max_workers: int = 8) -> None:
        self.root = root.absolute()
        self.description = f"dir:{self.root}"
        self.requests: collections.Counter[str] = collections.Counter()
        self.max_workers = max_workers
        self._count_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"DirStore({self.root!s})"

    # -- the Store protocol ------------------------------------------------

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        """Every object whose key starts with ``prefix``, sorted by key."""
        keys = sorted(self._walk(prefix))
        # Count as a bucket would page the listing, for request-count parity.
        self._count("ListObjectsV2", max(1, math.ceil(len(keys) / LIST_PAGE)))
        infos = []
        for key in keys:
            found = self.locate(key)
            if found is not None:  # deleted while listing
                infos.append(found.info)
        return infos

    def get(self, key: str) -> bytes:
        """The object's bytes; raises :class:`NotFound`."""
        self._count("GetObject")
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise NotFound(f"{self.description}: {key!r}: no such object") from None

    def get_with_etag(self, key: str) -> tuple[bytes, str]:
        """The object's bytes and their etag (from one open file, so they agree)."""
        self._count("GetObject")
        path = self._path(key)
        try:
            with path.open("rb") as f:
                st = os.fstat(f.fileno())
                body = f.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise NotFound(f"{self.description}: {key!r}: no such object") from None
        doc = self._read_sidecar(key)
        etag = doc.get("etag") if _fresh(doc, st) else None
        if not isinstance(etag, str):
            etag = _md5(body)
        return body, etag

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
                    progress(self._size(req))
            return etag

        return run_parallel(put_one, reqs, self.max_workers)

    def copy(self, src: str, dst: str, *, content_type: str | None = None) -> None:
        """Copy an object with its metadata (and content type unless given)."""
        self._count("CopyObject")
        validate_key(self.description, dst)
        self._check_reserved(dst)
        found = self.locate(src)
        if found is None:
            raise NotFound(f"{self.description}: cannot copy {src!r} to {dst!r}: no such object")
        tmp = self._tmp_file()
        try:
            shutil.copyfile(found.path, tmp)
            sidecar = self._sidecar_doc(
                tmp,
                etag=found.info.etag,
                content_type=content_type or found.content_type,
                cache_control=found.cache_control,
                metadata=found.metadata,
            )
            with self._locked():
                self._install(dst, tmp, sidecar)
        finally:
            tmp.unlink(missing_ok=True)

    def delete(self, keys: Sequence[str]) -> None:
        """Delete keys (missing ones are fine) and prune emptied directories."""
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start : start + DELETE_BATCH]
            self._count("DeleteObjects")
            with self._locked():
                for key in batch:
                    path = self._path(key)
                    sidecar = self._sidecar_path(key)
                    for file in (path, sidecar):
                        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                            file.unlink()
                    self._prune(path.parent, self.root)
                    self._prune(sidecar.parent, self.root / META_DIR / _OBJECTS)

    def supports_conditional_writes(self) -> bool:
        """Always: the lock makes check-and-rename atomic."""
        return True

    # -- for artreg serve --------------------------------------------------

    def locate(self, key: str) -> StoredObject | None:
        """The file and website headers for ``key``, or None (no request is counted)."""
        path = self._path(key)
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not _is_regular(st.st_mode):
            return None
        doc = self._read_sidecar(key)
        etag = doc.get("etag") if _fresh(doc, st) else None
        if not isinstance(etag, str):
            etag = _md5_file(path)
        content_type = doc.get("contentType")
        if not isinstance(content_type, str):
            content_type = mimetypes.guess_type(key)[0] or DEFAULT_CONTENT_TYPE
        cache_control = doc.get("cacheControl")
        metadata = doc.get("metadata")
        return StoredObject(
            path=path,
            info=ObjectInfo(key=key, size=st.st_size, etag=etag, last_modified=utc(st.st_mtime)),
            content_type=content_type,
            cache_control=cache_control if isinstance(cache_control, str) else None,
            metadata=dict(metadata) if isinstance(metadata, dict) else {},
        )

    # -- internals ---------------------------------------------------------

    def _count(self, operation: str, n: int = 1) -> None:
        with self._count_lock:
            self.requests[operation] += n

    def _size(self, req: PutRequest) -> int:
        try:
            return req.size_hint()
        except OSError:
            return 0

    def _check_reserved(self, key: str) -> None:
        if key.split("/", 1)[0] == META_DIR:
            raise StoreError(
                f"{self.description}: invalid key {key!r}: {META_DIR}/ is reserved for "
                "artreg's own bookkeeping; use another name"
            )

    def _path(self, key: str) -> Path:
        validate_key(self.description, key)
        return self.root.joinpath(*key.split("/"))

    def _sidecar_path(self, key: str) -> Path:
        *parents, name = key.split("/")
        return self.root.joinpath(META_DIR, _OBJECTS, *parents, name + _SIDECAR_SUFFIX)

    def _read_sidecar(self, key: str) -> dict[str, Any]:
        try:
            doc = json.loads(self._sidecar_path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return doc if isinstance(doc, dict) else {}

    def _walk(self, prefix: str) -> Iterator[str]:
        # Walk only the directory the prefix points into.
        head = prefix.rpartition("/")[0]
        start = self.root.joinpath(*head.split("/")) if head else self.root
        if ".." in head.split("/"):
            return
        for dirpath, dirnames, filenames in os.walk(start):
            rel = os.path.relpath(dirpath, self.root)
            rel_key = "" if rel == "." else rel.replace(os.sep, "/") + "/"
            if rel_key == "":
                dirnames[:] = [d for d in dirnames if d != META_DIR]
            for name in filenames:
                key = rel_key + name
                if key.startswith(prefix) and key.split("/", 1)[0] != META_DIR:
                    yield key

    def _tmp_file(self) -> Path:
        tmp_dir = self.root / META_DIR / _TMP
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="put-")
        # mkstemp makes 0600 files; published objects are read by whatever serves
        # the directory (nginx as another user), so give them the umask's mode.
        os.fchmod(fd, 0o666 & ~_UMASK)
        os.close(fd)
        return Path(name)

    def _sidecar_doc(
        self,
        data: Path,
        *,
        etag: str,
        content_type: str,
        cache_control: str | None,
        metadata: Mapping[str, str],
    ) -> dict[str, Any]:
        st = data.stat()
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
        tmp = self._tmp_file()
        try:
            etag = self._write_body(req, tmp)
            sidecar = self._sidecar_doc(
                tmp,
                etag=etag,
                content_type=req.content_type,
                cache_control=req.cache_control,
                metadata=req.metadata,
            )
            with self._locked():
                if if_none_match or if_match is not None:
                    current = self.locate(req.key)
                    if if_none_match and current is not None:
                        raise PreconditionFailed(
                            f"{self.description}: {req.key!r} already exists "
                            "(written with If-None-Match: *): another writer got there first; "
                            "re-run to reconcile"
                        )
                    if if_match is not None and (current is None or current.info.etag != if_match):
                        found = "missing" if current is None else f"etag {current.info.etag}"
                        raise PreconditionFailed(
                            f"{self.description}: {req.key!r} changed since it was read "
                            f"(expected etag {if_match}, found {found}): another writer "
                            "updated it; re-run to reconcile"
                        )
                self._install(req.key, tmp, sidecar)
            return etag
        finally:
            tmp.unlink(missing_ok=True)

    def _write_body(self, req: PutRequest, tmp: Path) -> str:
        """Copy the body to ``tmp``; returns the md5 etag, checks the sha256 for files."""
        md5 = hashlib.md5(usedforsecurity=False)
        with tmp.open("wb") as out:
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

    def _install(self, key: str, tmp: Path, sidecar: dict[str, Any]) -> None:
        """Move a written file and its sidecar into place (the caller holds the lock)."""
        path = self._path(key)
        side = self._sidecar_path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            side.parent.mkdir(parents=True, exist_ok=True)
            if path.is_dir():
                raise IsADirectoryError(key)
            side_tmp = side.with_name(side.name + ".tmp")
            side_tmp.write_text(json.dumps(sidecar, sort_keys=True), encoding="utf-8")
            os.replace(side_tmp, side)
            os.replace(tmp, path)
        except (FileExistsError, NotADirectoryError, IsADirectoryError):
            raise StoreError(
                f"{self.description}: cannot store {key!r}: a directory store cannot hold "
                "both a key and other keys below it (one of its parents is a file, or it "
                "is a directory); rename one of them"
            ) from None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        meta = self.root / META_DIR
        meta.mkdir(parents=True, exist_ok=True)
        # One open file description per call: flock excludes other threads too.
        with (meta / _LOCK).open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @staticmethod
    def _prune(directory: Path, stop: Path) -> None:
        """Remove empty directories from ``directory`` up to (not including) ``stop``."""
        while directory != stop and stop in directory.parents:
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent


def _is_regular(mode: int) -> bool:
    return stat.S_ISREG(mode)


def _fresh(sidecar: Mapping[str, Any], st: os.stat_result) -> bool:
    """Whether a sidecar describes the file as it is (not changed behind the store's back)."""
    return sidecar.get("size") == st.st_size and sidecar.get("mtimeNs") == st.st_mtime_ns


def _md5(body: bytes) -> str:
    return hashlib.md5(body, usedforsecurity=False).hexdigest()


def _md5_file(path: Path) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        while chunk := f.read(READ_CHUNK):
            md5.update(chunk)
    return md5.hexdigest()
