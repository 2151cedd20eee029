"""The s3 store: any S3-compatible bucket through boto3 (imported only here).

Credentials come only from the standard AWS chain (environment, ``AWS_PROFILE``
or the target's ``profile``, ``~/.aws``), never from ``artreg.toml``.
"""

from __future__ import annotations

import builtins
import collections
import contextlib
import datetime as dt
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import boto3
import boto3.s3.transfer
import botocore.config
import botocore.exceptions

from artreg.errors import NotFound, PreconditionFailed, StoreError
from artreg.stores.base import (
    DELETE_BATCH,
    HashingReader,
    ObjectInfo,
    PutRequest,
    check_bytes_digest,
    open_body,
    run_parallel,
    validate_key,
)
from artreg.stores.s3_errors import SHORT_READS, translated

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

MIB = 1024 * 1024
MULTIPART_THRESHOLD = 16 * MIB
MULTIPART_CHUNKSIZE = 8 * MIB
PROBE_PREFIX = ".artreg-probe-"


class S3Store:
    """A target that is an S3 bucket (``type = "s3"``), under an optional key prefix."""

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint: str | None = None,
        region: str | None = None,
        profile: str | None = None,
        ca_bundle: str | None = None,
        max_attempts: int = 4,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        max_workers: int = 8,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        multipart_chunksize: int = MULTIPART_CHUNKSIZE,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint = endpoint
        self.max_attempts = max_attempts
        self.max_workers = max_workers
        where = f" at {endpoint}" if endpoint else ""
        self.description = f"s3://{bucket}/{prefix}{where}"
        self.requests: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        self._conditional: bool | None = None
        self._probing = threading.local()
        # Conditions for CompleteMultipartUpload, by full key (s3transfer cannot pass them).
        self._complete_conditions: dict[str, dict[str, str]] = {}
        self._transfer_config = boto3.s3.transfer.TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=multipart_chunksize,
            max_concurrency=4,
        )
        # s3transfer buffers up to 10 chunks of a non-seekable upload: run at most
        # two multipart uploads at once so put_many's memory stays bounded.
        self._multipart_slots = threading.Semaphore(2)
        with self._errors("open", "", setup=True):
            self.client = self._make_client(
                profile, region, endpoint, ca_bundle, connect_timeout, read_timeout
            )
        events = self.client.meta.events
        events.register("before-send.s3", self._count_request)
        events.register(
            "before-parameter-build.s3.CompleteMultipartUpload", self._add_complete_conditions
        )

    def _make_client(
        self,
        profile: str | None,
        region: str | None,
        endpoint: str | None,
        ca_bundle: str | None,
        connect_timeout: float,
        read_timeout: float,
    ) -> S3Client:
        # Credentials are resolved here: a broken AWS setup fails before any request.
        session = boto3.session.Session(profile_name=profile)
        if region is None and endpoint is not None and session.region_name is None:
            region = "us-east-1"  # S3-compatible servers sign with any region
        config = botocore.config.Config(
            region_name=region,
            retries={"mode": "standard", "total_max_attempts": self.max_attempts},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_pool_connections=max(10, self.max_workers * 2),
            s3={"addressing_style": "path"} if endpoint else {},
            # Newer botocore adds CRC32 trailers by default; Garage and other
            # S3-compatible servers may refuse them, so checksum only when required.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        # verify=None: botocore's own choice (AWS_CA_BUNDLE, ca_bundle in ~/.aws/config).
        return session.client("s3", endpoint_url=endpoint, config=config, verify=ca_bundle)

    def __repr__(self) -> str:
        return f"S3Store({self.description})"

    # -- the Store protocol ------------------------------------------------

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        """Every object whose key starts with ``prefix``, sorted by key."""
        infos = []
        with self._errors("list", prefix or "(all keys)"):
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for obj in page.get("Contents", []):
                    infos.append(
                        ObjectInfo(
                            key=obj["Key"][len(self.prefix) :],
                            size=obj["Size"],
                            etag=obj["ETag"].strip('"'),
                            last_modified=_utc(obj["LastModified"]),
                        )
                    )
        infos.sort(key=lambda info: info.key)
        return infos

    def get(self, key: str) -> bytes:
        """The object's bytes; raises :class:`NotFound`."""
        return self.get_with_etag(key)[0]

    def get_with_etag(self, key: str) -> tuple[bytes, str]:
        """The object's bytes and the etag the server sent with them; raises :class:`NotFound`.

        A body cut short (a server that swaps the object while streaming it, as
        s3rver does when another run overwrites it) is fetched again, a bounded
        number of times.
        """
        for attempt in range(1, self.max_attempts + 1):
            with self._errors("get", key):
                response = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)
                try:
                    body: bytes = response["Body"].read()
                    # A server or proxy that sends no ETag gets an empty one: it
                    # matches no If-Match, so a locked write is refused, never forced.
                    etag: str = response.get("ETag", "").strip('"')
                    return body, etag
                except SHORT_READS as exc:
                    if attempt == self.max_attempts:
                        raise StoreError(
                            f"{self.description}: get {key!r}: the body was cut short "
                            f"{attempt} times ({exc}); the object is being rewritten: re-run"
                        ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def head(self, key: str) -> ObjectInfo | None:
        """The object's info, or None when it does not exist."""
        response = self._head(key)
        if response is None:
            return None
        return ObjectInfo(
            key=key,
            size=response["ContentLength"],
            etag=response["ETag"].strip('"'),
            last_modified=_utc(response["LastModified"]),
        )

    def put(
        self,
        req: PutRequest,
        *,
        if_none_match: bool = False,
        if_match: str | None = None,
    ) -> str:
        """Write one object; returns its etag. Files over the threshold go multipart."""
        return self._put(req, if_none_match=if_none_match, if_match=if_match)

    def put_many(
        self, reqs: Sequence[PutRequest], progress: Callable[[int], None] | None = None
    ) -> builtins.list[str]:
        """Write objects on a bounded thread pool; etags in the order of ``reqs``."""
        report = None
        if progress is not None:
            progress_lock = threading.Lock()

            def report(n: int) -> None:
                with progress_lock:
                    progress(n)

        return run_parallel(lambda req: self._put(req, progress=report), reqs, self.max_workers)

    def copy(self, src: str, dst: str, *, content_type: str | None = None) -> None:
        """Server-side copy, keeping metadata (and content type unless given)."""
        validate_key(self.description, dst)
        extra: dict[str, Any] = {"MetadataDirective": "COPY"}
        if content_type is not None:
            # REPLACE drops every stored header, so carry the others over.
            current = self._head(src)
            if current is None:
                raise NotFound(
                    f"{self.description}: cannot copy {src!r} to {dst!r}: no such object"
                )
            extra = {
                "MetadataDirective": "REPLACE",
                "ContentType": content_type,
                "Metadata": current.get("Metadata", {}),
            }
            if "CacheControl" in current:
                extra["CacheControl"] = current["CacheControl"]
        with self._errors("copy", src, dst=dst):
            self.client.copy_object(
                Bucket=self.bucket,
                Key=self.prefix + dst,
                CopySource={"Bucket": self.bucket, "Key": self.prefix + src},
                **extra,
            )

    def delete(self, keys: Sequence[str]) -> None:
        """Delete keys in batches of 1000 (S3's limit); missing keys are fine."""
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start : start + DELETE_BATCH]
            with self._errors("delete", batch[0]):
                response = self.client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": self.prefix + k} for k in batch], "Quiet": True},
                )
            errors = response.get("Errors", [])
            if errors:
                shown = ", ".join(
                    f"{e.get('Key', '?')!r} ({e.get('Code', '?')}: {e.get('Message', '')})"
                    for e in errors[:5]
                )
                more = f" and {len(errors) - 5} more" if len(errors) > 5 else ""
                raise StoreError(
                    f"{self.description}: could not delete {len(errors)} object(s): "
                    f"{shown}{more}; check the credentials' s3:DeleteObject permission"
                )

    def supports_conditional_writes(self) -> bool:
        """Probe once whether the server honours every conditional write artreg sends.

        artreg sends conditions only on PutObject of small bodies (the lease,
        build manifests, ``index.json``: never multipart, never on a delete):
        ``If-None-Match: *`` and ``If-Match: <etag>`` with the bare ETag value
        (see :func:`if_match_header`). The probe writes one scratch key four
        times, exactly that way: a create with If-None-Match (must succeed), the
        same again (must be refused), a write with If-Match on the current ETag
        (must succeed), and one on the now stale ETag (must be refused). Any
        other answer means the server cannot be trusted with compare-and-swap
        (s3rver and Garage ignore the headers; Ceph RGW 16 refuses a quoted
        If-Match), and the caller falls back to convergent mode.
        """
        with self._lock:
            if self._conditional is not None:
                return self._conditional
        key = f"{PROBE_PREFIX}{uuid.uuid4().hex}"

        def attempt(body: bytes, **conditions: Any) -> str | None:
            """The etag written, or None when the server refused the condition."""
            request = PutRequest(key=key, body=body, content_type="application/octet-stream")
            try:
                return self._put(request, **conditions)
            except PreconditionFailed:
                return None

        # Counted as "probe:<operation>", so "the second apply writes nothing" holds.
        self._probing.active = True
        try:
            created = attempt(b"1", if_none_match=True)
            honoured = (
                created is not None
                and attempt(b"2", if_none_match=True) is None
                and attempt(b"3", if_match=created) is not None
                and attempt(b"4", if_match=created) is None
            )
        finally:
            try:
                self.delete([key])
            finally:
                self._probing.active = False
        with self._lock:
            self._conditional = honoured
        return honoured

    # -- internals ---------------------------------------------------------

    def _count_request(self, event_name: str, **kwargs: Any) -> None:
        # "before-send.s3.PutObject": fired once per HTTP attempt, retries included.
        operation = event_name.rsplit(".", 1)[-1]
        if getattr(self._probing, "active", False):
            operation = f"probe:{operation}"
        with self._lock:
            self.requests[operation] += 1

    def _add_complete_conditions(self, params: dict[str, Any], **kwargs: Any) -> None:
        with self._lock:
            extra = self._complete_conditions.get(params.get("Key", ""))
        if extra:
            params.update(extra)

    def _errors(
        self, action: str, key: str, *, dst: str | None = None, setup: bool = False
    ) -> contextlib.AbstractContextManager[None]:
        """botocore failures of one request as one clear :class:`StoreError` each."""
        where = self.description
        if not setup:
            where += f": {action} {key!r}" + (f" to {dst!r}" if dst else "")
        return translated(
            where,
            endpoint=self.endpoint,
            bucket=self.bucket,
            max_attempts=self.max_attempts,
            setup=setup,
        )

    def _head(self, key: str) -> Mapping[str, Any] | None:
        try:
            with self._errors("head", key):
                return self.client.head_object(Bucket=self.bucket, Key=self.prefix + key)
        except NotFound:
            return None

    def _put(
        self,
        req: PutRequest,
        *,
        if_none_match: bool = False,
        if_match: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> str:
        validate_key(self.description, req.key)
        check_bytes_digest(self.description, req)
        args: dict[str, Any] = {"ContentType": req.content_type, "Metadata": dict(req.metadata)}
        if req.cache_control is not None:
            args["CacheControl"] = req.cache_control
        conditions: dict[str, str] = {}
        if if_none_match:
            conditions["IfNoneMatch"] = "*"
        if if_match is not None:
            conditions["IfMatch"] = if_match_header(if_match)
        if isinstance(req.body, bytes):
            etag = self._put_object(req.key, req.body, {**args, **conditions})
            if progress is not None:
                progress(len(req.body))
            return etag
        reader, size, raw = open_body(self.description, req)
        with raw:
            if size < self._transfer_config.multipart_threshold:
                # Read it whole: the digest is checked before a single byte is sent.
                body = reader.read()
                etag = self._put_object(req.key, body, {**args, **conditions})
                if progress is not None:
                    progress(len(body))
                return etag
            return self._put_multipart(req.key, reader, args, conditions, progress)

    def _put_object(self, key: str, body: bytes, args: Mapping[str, Any]) -> str:
        try:
            with self._errors("put", key):
                response = self.client.put_object(
                    Bucket=self.bucket, Key=self.prefix + key, Body=body, **args
                )
        except NotFound:
            # If-Match on a missing key answers 404: the expected version is gone.
            raise PreconditionFailed(
                f"{self.description}: put {key!r}: it was deleted since it was read "
                f"(expected etag {args.get('IfMatch')}); re-run to reconcile"
            ) from None
        etag: str = response["ETag"].strip('"')
        return etag

    def _put_multipart(
        self,
        key: str,
        reader: HashingReader,
        args: Mapping[str, Any],
        conditions: dict[str, str],
        progress: Callable[[int], None] | None,
    ) -> str:
        # The reader is not seekable, so s3transfer reads it front to back, once,
        # and the digest covers exactly the bytes sent. A mismatch raises from the
        # last read, before CompleteMultipartUpload; s3transfer then aborts.
        full_key = self.prefix + key
        if conditions:
            with self._lock:
                self._complete_conditions[full_key] = conditions
        try:
            with self._multipart_slots, self._errors("put", key):
                self.client.upload_fileobj(
                    reader,  # type: ignore[arg-type]
                    self.bucket,
                    full_key,
                    ExtraArgs=dict(args),
                    Callback=progress,
                    Config=self._transfer_config,
                )
        finally:
            if conditions:
                with self._lock:
                    self._complete_conditions.pop(full_key, None)
        reader.finish()
        head = self._head(key)
        if head is None:
            raise StoreError(
                f"{self.description}: {key!r} is missing right after its upload "
                "(deleted concurrently?); re-run"
            )
        etag: str = head["ETag"].strip('"')
        return etag


def if_match_header(etag: str) -> str:
    """The If-Match value artreg sends: the bare ETag, without the quotes of RFC 9110.

    AWS documents the parameter as the ETag value and accepts both forms, as do
    moto and MinIO; Ceph RGW 16 compares the header with its unquoted ETag
    literally, so a quoted value never matches there. The conditional-write
    probe tries exactly this form, so a server that wants another one is used
    in convergent mode instead of failing every conditional write.
    """
    return etag.strip('"')


def _utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.timezone.utc)
