"""The Store protocol: what the publisher needs from a bucket, and nothing more.

Keys are relative to the target root; each store applies its own prefix (an
S3 target's ``prefix``, a dir target's directory), so the publisher never sees it.
"""

from __future__ import annotations

import builtins
import collections
import concurrent.futures
import datetime as dt
import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

from artreg.errors import ContentChanged, InvalidKey, StoreError

# Sizes of the chunks read from local files while hashing and uploading.
READ_CHUNK = 1024 * 1024
# S3's DeleteObjects takes at most this many keys (moto takes more; AWS refuses).
DELETE_BATCH = 1000
# S3 lists at most this many keys per ListObjectsV2 page.
LIST_PAGE = 1000


@dataclass(frozen=True)
class ObjectInfo:
    """One stored object, as a listing or HEAD reports it."""

    key: str  # relative to the target root
    size: int
    # Without quotes. Opaque: the MD5 of the bytes on many servers, but not for
    # multipart uploads, SSE-KMS / SSE-C objects or some S3-compatible servers;
    # artreg never predicts one, it only compares etags the store handed out.
    etag: str
    last_modified: dt.datetime  # timezone-aware, UTC


@dataclass(frozen=True)
class FileSlice:
    """``length`` bytes of the file at ``path`` from ``offset``: a member of an uncompressed tar."""

    path: Path
    offset: int
    length: int


@dataclass(frozen=True)
class PutRequest:
    """One object to write.

    For a ``Path`` or :class:`FileSlice` body, ``sha256`` is the digest the caller
    computed earlier; the store hashes the bytes it actually sends and raises
    :class:`ContentChanged` when they differ, so a file modified during a run is
    never published under a stale digest. A slice whose file has become too short
    to hold it raises :class:`ContentChanged` too.
    """

    key: str
    body: bytes | Path | FileSlice
    content_type: str
    cache_control: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    sha256: str | None = None

    def size_hint(self) -> int:
        """The body's size now (the file may still change before upload)."""
        if isinstance(self.body, bytes):
            return len(self.body)
        if isinstance(self.body, FileSlice):
            return self.body.length
        return self.body.stat().st_size


class Store(Protocol):
    """A bucket (or directory) holding one target's objects."""

    description: str
    # HTTP requests made, by S3 operation name, retries included; the one-off
    # conditional-write probe counts as "probe:<operation>".
    requests: collections.Counter[str]

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        """Every object whose key starts with ``prefix``, sorted by key."""
        ...

    def get(self, key: str) -> bytes:
        """The object's bytes; raises :class:`NotFound`."""
        ...

    def get_with_etag(self, key: str) -> tuple[bytes, str]:
        """The object's bytes and the etag of that version (one request); raises NotFound."""
        ...

    def head(self, key: str) -> ObjectInfo | None:
        """The object's info, or None when it does not exist."""
        ...

    def put(
        self, req: PutRequest, *, if_none_match: bool = False, if_match: str | None = None
    ) -> str:
        """Write one object and return its etag; raises :class:`PreconditionFailed`."""
        ...

    def put_many(
        self, reqs: Sequence[PutRequest], progress: Callable[[int], None] | None = None
    ) -> builtins.list[str]:
        """Write objects in parallel (bounded); etags in the order of ``reqs``."""
        ...

    def copy(self, src: str, dst: str, *, content_type: str | None = None) -> None:
        """Server-side copy, keeping metadata (and content type unless given)."""
        ...

    def delete(self, keys: Sequence[str]) -> None:
        """Delete keys; missing keys are fine."""
        ...

    def supports_conditional_writes(self) -> bool:
        """Whether If-None-Match / If-Match are honoured (probed once, then cached)."""
        ...


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class HashingReader:
    """A read-only, non-seekable file wrapper that hashes what is read.

    When the file reaches its end, the digest of everything read is compared
    with ``expected``: on a mismatch ``read`` raises ``failure`` before handing
    over the last bytes, so the upload fails instead of publishing content that
    does not match its recorded digest.
    """

    def __init__(self, raw: Readable, expected: str | None, failure: ContentChanged) -> None:
        self._raw = raw
        self._expected = expected
        self._failure = failure
        self._hash = hashlib.sha256()
        self._done = False
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, size: int | None = -1) -> bytes:
        data = self._raw.read() if size is None or size < 0 else self._raw.read(size)
        self._hash.update(data)
        self.bytes_read += len(data)
        # A regular file returns a short read only at its end.
        if size is None or size < 0 or len(data) < size:
            self.finish()
        return data

    def finish(self) -> None:
        """Compare the digest with the expected one (once); raises ``failure``."""
        if self._done:
            return
        self._done = True
        if self._expected is not None and self._hash.hexdigest() != self._expected:
            raise self._failure

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


class SliceReader:
    """At most ``length`` bytes of ``raw`` (positioned at the slice's start).

    A file that ends before the slice does raises ``failure``: the bytes to
    send are gone, whatever digest was expected.
    """

    def __init__(self, raw: BinaryIO, length: int, failure: ContentChanged) -> None:
        self._raw = raw
        self._left = length
        self._failure = failure

    def read(self, size: int = -1) -> bytes:
        want = self._left if size < 0 else min(size, self._left)
        data = self._raw.read(want) if want else b""
        self._left -= len(data)
        if len(data) < want:
            raise self._failure
        return data


def open_body(description: str, req: PutRequest) -> tuple[HashingReader, int, BinaryIO]:
    """For a file or slice body: a hashing reader over exactly the bytes to send, their
    count, and the open file (the caller closes it)."""
    assert not isinstance(req.body, bytes)
    path = req.body.path if isinstance(req.body, FileSlice) else req.body
    failure = content_changed(description, req.key, path)
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise StoreError(
            f"{path}: cannot read it to upload as {req.key!r} to {description}: "
            f"{exc.strerror}; check the path in artreg.toml"
        ) from None
    try:
        if isinstance(req.body, FileSlice):
            raw.seek(req.body.offset)
            source: Readable = SliceReader(raw, req.body.length, failure)
            size = req.body.length
        else:
            source = raw
            size = os.fstat(raw.fileno()).st_size
    except BaseException:
        raw.close()
        raise
    return HashingReader(source, req.sha256, failure), size, raw


def run_parallel(
    put: Callable[[PutRequest], str], reqs: Sequence[PutRequest], workers: int
) -> list[str]:
    """Run ``put`` over ``reqs`` on a bounded thread pool; the first failure cancels the rest."""
    if len(reqs) <= 1 or workers <= 1:
        return [put(req) for req in reqs]
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=min(workers, len(reqs)))
    try:
        futures = [pool.submit(put, req) for req in reqs]
        done, _ = concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_EXCEPTION)
        for future in futures:
            failure = future.exception() if future in done else None
            if failure is not None:
                raise failure
        return [future.result() for future in futures]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def content_changed(description: str, key: str, path: Path) -> ContentChanged:
    """The one message for a file that changed between hashing and upload."""
    return ContentChanged(
        f"{path}: the file changed while it was being uploaded to {description} as {key!r} "
        "(its sha256 no longer matches the one recorded before the upload); "
        "nothing was published for it: re-run when the build output is stable"
    )


def check_bytes_digest(description: str, req: PutRequest) -> None:
    """For an in-memory body with a digest: refuse a body that does not match it."""
    if isinstance(req.body, bytes) and req.sha256 is not None:
        found = hashlib.sha256(req.body).hexdigest()
        if found != req.sha256:
            raise ContentChanged(
                f"{description}: {req.key!r}: the content to upload has sha256 {found}, "
                f"expected {req.sha256}; nothing was written: re-run artreg"
            )


def validate_key(description: str, key: str) -> None:
    """Refuse keys that are empty, absolute, or have empty, '.' or '..' segments.

    Keys are built by artreg from checked input, so a bad one is a bug: :class:`InvalidKey`.
    """
    problem = None
    if not key:
        problem = "the key is empty"
    elif key.startswith("/"):
        problem = "the key is absolute (starts with '/')"
    elif "\x00" in key:
        problem = "the key contains a NUL byte"
    else:
        for segment in key.split("/"):
            if segment in ("", ".", ".."):
                problem = f"the key has an empty, '.' or '..' segment ({segment!r})"
                break
    if problem is not None:
        raise InvalidKey(
            f"{description}: invalid key {key!r}: {problem}; "
            "expected a relative path like 'v1.0.0/linux/amd64/app' (a bug in the caller)"
        )


def utc(timestamp: float) -> dt.datetime:
    """A POSIX timestamp as an aware UTC datetime."""
    return dt.datetime.fromtimestamp(timestamp, tz=dt.timezone.utc)
