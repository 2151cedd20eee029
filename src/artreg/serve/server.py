"""Serve a dir target over HTTP the way an S3 bucket website would.

Each object is sent with the Content-Type, Cache-Control and metadata stored
in its sidecar; a tree copied without sidecars (``aws s3 sync``, ``rclone``,
``cp -r``) gets types inferred from the key and, for OCI manifests, from the
JSON's ``mediaType``. A path ending in ``/`` serves its ``index.html`` (so
``GET /v2/`` answers 200 for OCI clients), ``/dir`` redirects to ``/dir/``
when ``dir/index.html`` exists, anything else is a 404. Like an S3 website
endpoint, a ``+`` in a URL path means a space (``%2B`` is a plus).

Like S3: ``ETag`` and ``Last-Modified`` on every object; ``If-Match``,
``If-Unmodified-Since`` (412), ``If-None-Match``, ``If-Modified-Since``
(304); one byte range per request (206 with ``Content-Range``, 416 when
unsatisfiable; several ranges, or a malformed one, get the whole object, as
S3 serves only single ranges). Registry objects also carry
``Docker-Content-Digest``, on HEAD as on GET.

Only regular files under the root are served, and never through a symbolic
link: every path component is opened relative to its parent with
``O_NOFOLLOW``, so a link anywhere in the path (a file, a directory, ``..``,
a loop) answers 404, and nothing outside the root is reachable even if the
tree changes while it is served.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import enum
import hashlib
import http.server
import mimetypes
import os
import re
import sys
import threading
import urllib.parse
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from artreg.core.jsondoc import parse
from artreg.errors import Malformed
from artreg.stores.dir import DEFAULT_CONTENT_TYPE, DirStore
from artreg.stores.dir_paths import META_DIR, open_regular, read_fd, read_sidecar

INDEX_DOCUMENT = "index.html"
READ_CHUNK = 1024 * 1024
MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # the distribution spec's limit on a manifest
_HASH_CACHE_ENTRIES = 4096
_NOT_FOUND = (
    b"<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1></body></html>\n"
)
_NOT_SATISFIABLE = (
    b"<html><head><title>416 Requested Range Not Satisfiable</title></head>"
    b"<body><h1>416 Requested Range Not Satisfiable</h1></body></html>\n"
)
_PRECONDITION_FAILED = (
    b"<html><head><title>412 Precondition Failed</title></head>"
    b"<body><h1>412 Precondition Failed</h1></body></html>\n"
)

# Types for keys without a sidecar, the way S3 uploaders set them, independent
# of the machine's /etc/mime.types.
_TYPES_BY_SUFFIX = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".json": "application/json",
    ".xml": "application/xml",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".css": "text/css",
    ".js": "text/javascript",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".sha256": "text/plain; charset=utf-8",
    ".asc": "text/plain; charset=utf-8",
    ".sig": "application/octet-stream",
    ".gz": "application/gzip",
    ".tgz": "application/gzip",
    ".zst": "application/zstd",
    ".xz": "application/x-xz",
    ".tar": "application/x-tar",
    ".zip": "application/zip",
}
_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_REGISTRY_KEY = re.compile(r"v2/(?P<repo>.+)/(?P<kind>manifests|blobs)/(?P<ref>[^/]+)")
_TAGS_LIST_KEY = re.compile(r"v2/.+/tags/list")


class BucketWebsiteServer(http.server.ThreadingHTTPServer):
    """A threading HTTP server bound to one dir-store root."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], store: DirStore, *, verbose: bool = False) -> None:
        self.store = store
        self.verbose = verbose
        self.hashes = _HashCache()
        super().__init__(address, _Handler)

    @property
    def url(self) -> str:
        """The server's base URL, e.g. ``http://127.0.0.1:8000/``."""
        host, port = self.server_address[:2]
        shown = f"[{host!s}]" if ":" in str(host) else str(host)
        return f"http://{shown}:{port}/"


def make_server(
    root: Path, host: str = "127.0.0.1", port: int = 0, *, verbose: bool = False
) -> BucketWebsiteServer:
    """A server for the dir-store ``root`` (not yet serving: call ``serve_forever``)."""
    return BucketWebsiteServer((host, port), DirStore(root), verbose=verbose)


def key_for_path(url_path: str) -> str | None:
    """The object key a website request path names, or None when it cannot name one."""
    decoded = urllib.parse.unquote(url_path.replace("+", " "), errors="strict")
    key = decoded[1:] if decoded.startswith("/") else decoded
    if key == "" or key.endswith("/"):
        key += INDEX_DOCUMENT
    if key.split("/", 1)[0] == META_DIR:
        return None
    return key


# -- opening objects (without following links: artreg.stores.dir_paths) ----------


class _HashCache:
    """md5 (the etag) and sha256 of files without a fresh sidecar, by (dev, inode, size, mtime)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[int, ...], tuple[str, str]] = OrderedDict()

    def digests(self, fd: int, st: os.stat_result) -> tuple[str, str]:
        """``(md5 hex, sha256 hex)`` of the open file."""
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found
        md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
        offset = 0
        while chunk := os.pread(fd, READ_CHUNK, offset):
            md5.update(chunk)
            sha256.update(chunk)
            offset += len(chunk)
        value = (md5.hexdigest(), sha256.hexdigest())
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > _HASH_CACHE_ENTRIES:
                self._entries.popitem(last=False)
        return value


@dataclass
class ServedObject:
    """An open object and the headers a bucket website sends with it."""

    fd: int
    size: int
    last_modified: dt.datetime
    etag: str  # quoted
    content_type: str
    cache_control: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    digest: str | None = None  # Docker-Content-Digest

    def close(self) -> None:
        os.close(self.fd)


def open_object(root: Path, key: str, hashes: _HashCache) -> ServedObject | None:
    """The object at ``key`` under ``root`` with its website headers, or None (404)."""
    parts = key.split("/")
    fd = open_regular(root, parts)
    if fd is None:
        return None
    try:
        st = os.fstat(fd)
        doc = read_sidecar(root, key)
        fresh = doc.get("size") == st.st_size and doc.get("mtimeNs") == st.st_mtime_ns
        etag = doc.get("etag") if fresh else None
        registry = _REGISTRY_KEY.fullmatch(key)
        sha256: str | None = None
        if not isinstance(etag, str):
            etag, sha256 = hashes.digests(fd, st)
        content_type = doc.get("contentType")
        if not isinstance(content_type, str) or not content_type:
            content_type = _infer_type(key, fd, st, registry)
        cache_control = doc.get("cacheControl")
        metadata = doc.get("metadata")
        digest = None
        if registry is not None:
            digest = _registry_digest(registry, fd, st, sha256, hashes)
        return ServedObject(
            fd=fd,
            size=st.st_size,
            last_modified=dt.datetime.fromtimestamp(int(st.st_mtime), dt.timezone.utc),
            etag=f'"{etag}"',
            content_type=content_type,
            cache_control=cache_control if isinstance(cache_control, str) else None,
            metadata=(
                {str(k): str(v) for k, v in metadata.items()} if isinstance(metadata, dict) else {}
            ),
            digest=digest,
        )
    except BaseException:
        os.close(fd)
        raise


def _registry_digest(
    match: re.Match[str], fd: int, st: os.stat_result, sha256: str | None, hashes: _HashCache
) -> str | None:
    """The digest clients check a manifest or blob against: its name, else its sha256."""
    reference = match["ref"]
    if _DIGEST.fullmatch(reference):
        return reference
    if match["kind"] != "manifests" or st.st_size > MAX_MANIFEST_BYTES:
        return None
    if sha256 is None:
        sha256 = hashes.digests(fd, st)[1]
    return f"sha256:{sha256}"


def _infer_type(key: str, fd: int, st: os.stat_result, registry: re.Match[str] | None) -> str:
    """The Content-Type of an object without a sidecar (copied in by another tool)."""
    if registry is not None:
        if registry["kind"] == "blobs":
            return DEFAULT_CONTENT_TYPE
        return _manifest_type(fd, st)
    if _TAGS_LIST_KEY.fullmatch(key):
        return "application/json"
    name = key.rsplit("/", 1)[-1].lower()
    suffix = name[name.rfind(".") :] if "." in name else ""
    if suffix in _TYPES_BY_SUFFIX:
        return _TYPES_BY_SUFFIX[suffix]
    return mimetypes.guess_type(name, strict=True)[0] or DEFAULT_CONTENT_TYPE


def _manifest_type(fd: int, st: os.stat_result) -> str:
    """A manifest's media type from its JSON: ``mediaType``, else its shape."""
    body = read_fd(fd, MAX_MANIFEST_BYTES) if st.st_size <= MAX_MANIFEST_BYTES else None
    try:
        doc = parse(body, max_bytes=MAX_MANIFEST_BYTES) if body is not None else None
    except Malformed:
        doc = None
    if not isinstance(doc, dict):
        return DEFAULT_CONTENT_TYPE
    media_type = doc.get("mediaType")
    if isinstance(media_type, str) and media_type:
        return media_type
    if isinstance(doc.get("manifests"), list):
        return _OCI_INDEX
    if "config" in doc and "layers" in doc:
        return _OCI_MANIFEST
    return "application/json"


# -- conditional and range requests -------------------------------------------------


def _etags(header: str) -> list[str]:
    return [part.strip() for part in header.split(",") if part.strip()]


def _opaque(tag: str) -> str:
    return tag.removeprefix("W/")


def _weak_match(header: str, etag: str) -> bool:
    return any(t == "*" or _opaque(t) == _opaque(etag) for t in _etags(header))


def _strong_match(header: str, etag: str) -> bool:
    return any(t == "*" or t == etag for t in _etags(header))


def _http_date(header: str) -> dt.datetime | None:
    try:
        parsed = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None or parsed.tzinfo is None:
        return None
    return parsed


def condition_status(headers: Headers, obj: ServedObject) -> int | None:
    """412 or 304 when the request's preconditions say so (RFC 9110 13.2.2), else None."""
    if_match = headers.get("If-Match")
    if if_match is not None:
        if not _strong_match(if_match, obj.etag):
            return 412
    else:
        since = _http_date(headers.get("If-Unmodified-Since") or "")
        if since is not None and obj.last_modified > since:
            return 412
    if_none_match = headers.get("If-None-Match")
    if if_none_match is not None:
        return 304 if _weak_match(if_none_match, obj.etag) else None
    since = _http_date(headers.get("If-Modified-Since") or "")
    if since is not None and obj.last_modified <= since:
        return 304
    return None


class Unsatisfiable(enum.Enum):
    """A range that starts past the end of the object (416)."""

    UNSATISFIABLE = "unsatisfiable"


UNSATISFIABLE = Unsatisfiable.UNSATISFIABLE


class Headers(Protocol):
    """Request headers (an ``email.message.Message`` or a plain mapping)."""

    def get(self, name: str) -> str | None: ...


_RANGE = re.compile(r"\s*bytes\s*=\s*(?P<first>\d*)\s*-\s*(?P<last>\d*)\s*", re.IGNORECASE)


def byte_range(header: str | None, size: int) -> tuple[int, int] | Unsatisfiable | None:
    """The one range a ``Range`` header asks for, as (first, last) inclusive.

    None: serve the whole object (no header, another unit, several ranges or a
    malformed one, as S3 does). UNSATISFIABLE: answer 416.
    """
    if header is None:
        return None
    match = _RANGE.fullmatch(header)
    if match is None or (not match["first"] and not match["last"]):
        return None
    if not match["first"]:
        suffix = int(match["last"])
        if suffix == 0 or size == 0:
            return UNSATISFIABLE
        return max(0, size - suffix), size - 1
    first = int(match["first"])
    if match["last"] and int(match["last"]) < first:
        return None  # invalid: ignored
    if first >= size:
        return UNSATISFIABLE
    last = int(match["last"]) if match["last"] else size - 1
    return first, min(last, size - 1)


def _if_range_holds(header: str | None, obj: ServedObject) -> bool:
    if header is None:
        return True
    header = header.strip()
    if header.startswith(('"', "W/")):
        return header == obj.etag  # strong comparison: a weak validator never holds
    when = _http_date(header)
    return when is not None and when == obj.last_modified


class _Handler(http.server.BaseHTTPRequestHandler):
    server: BucketWebsiteServer
    server_version = "artreg-serve"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._respond(send_body=True)

    def do_HEAD(self) -> None:
        self._respond(send_body=False)

    def log_message(self, format: str, *args: object) -> None:
        if self.server.verbose:
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")

    def _open(self, key: str) -> ServedObject | None:
        return open_object(self.server.store.root, key, self.server.hashes)

    def _respond(self, *, send_body: bool) -> None:
        url_path = urllib.parse.urlsplit(self.path).path
        try:
            key = key_for_path(url_path)
        except UnicodeDecodeError:
            key = None
        found = self._open(key) if key is not None else None
        if found is None:
            if key is not None and not url_path.endswith("/") and self._has_index(key):
                self._redirect(url_path + "/")
            else:
                self._error(404, _NOT_FOUND, send_body)
            return
        try:
            self._send_object(found, send_body)
        finally:
            found.close()

    def _has_index(self, key: str) -> bool:
        index = self._open(f"{key}/{INDEX_DOCUMENT}")
        if index is None:
            return False
        index.close()
        return True

    def _validators(self, obj: ServedObject) -> None:
        self.send_header("ETag", obj.etag)
        self.send_header("Last-Modified", email.utils.format_datetime(obj.last_modified, True))
        if obj.cache_control is not None:
            self.send_header("Cache-Control", obj.cache_control)

    def _send_object(self, obj: ServedObject, send_body: bool) -> None:
        status = condition_status(self.headers, obj)
        if status == 412:
            self._error(412, _PRECONDITION_FAILED, send_body)
            return
        if status == 304:
            self.send_response(304)
            self._validators(obj)
            self.end_headers()
            return
        wanted = byte_range(self.headers.get("Range"), obj.size)
        if wanted is not None and not _if_range_holds(self.headers.get("If-Range"), obj):
            wanted = None
        if wanted is UNSATISFIABLE:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{obj.size}")
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(_NOT_SATISFIABLE)))
            self.end_headers()
            if send_body:
                self.wfile.write(_NOT_SATISFIABLE)
            return
        first, last = wanted if isinstance(wanted, tuple) else (0, obj.size - 1)
        self.send_response(206 if isinstance(wanted, tuple) else 200)
        self.send_header("Content-Type", obj.content_type)
        self.send_header("Content-Length", str(last - first + 1))
        if isinstance(wanted, tuple):
            self.send_header("Content-Range", f"bytes {first}-{last}/{obj.size}")
        self.send_header("Accept-Ranges", "bytes")
        self._validators(obj)
        if obj.digest is not None:
            self.send_header("Docker-Content-Digest", obj.digest)
        for name, value in sorted(obj.metadata.items()):
            self.send_header(f"x-amz-meta-{name}", value)
        self.end_headers()
        if send_body:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                for chunk in _chunks(obj.fd, first, last + 1):
                    self.wfile.write(chunk)

    def _redirect(self, location: str) -> None:
        # S3 website endpoints answer 302 for a "directory" without its slash.
        self.send_response(302)
        self.send_header("Location", location)  # still percent-encoded as received
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _error(self, status: int, body: bytes, send_body: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)


def _chunks(fd: int, start: int, end: int) -> Iterator[bytes]:
    """The file's bytes in [start, end), in chunks; stops early if it shrank."""
    offset = start
    while offset < end:
        chunk = os.pread(fd, min(READ_CHUNK, end - offset), offset)
        if not chunk:
            return
        offset += len(chunk)
        yield chunk
