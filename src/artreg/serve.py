"""Serve a dir target over HTTP the way an S3 bucket website would.

Each object is sent with the Content-Type and Cache-Control stored in its
sidecar; a path ending in ``/`` serves its ``index.html`` (so ``GET /v2/``
answers 200 for OCI clients), ``/dir`` redirects to ``/dir/`` when
``dir/index.html`` exists, anything else is a 404. Like an S3 website
endpoint, a ``+`` in a URL path means a space (``%2B`` is a plus).
"""

from __future__ import annotations

import contextlib
import email.utils
import http.server
import os
import shutil
import sys
import urllib.parse
from pathlib import Path

from artreg.stores.base import StoreError
from artreg.stores.dir import META_DIR, DirStore, StoredObject

INDEX_DOCUMENT = "index.html"
_NOT_FOUND = (
    b"<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1></body></html>\n"
)


class BucketWebsiteServer(http.server.ThreadingHTTPServer):
    """A threading HTTP server bound to one dir-store root."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], store: DirStore, *, verbose: bool = False) -> None:
        self.store = store
        self.verbose = verbose
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

    def _respond(self, *, send_body: bool) -> None:
        url_path = urllib.parse.urlsplit(self.path).path
        try:
            key = key_for_path(url_path)
            found = self.server.store.locate(key) if key is not None else None
        except (StoreError, UnicodeDecodeError):
            key, found = None, None
        if found is None:
            if key is not None and not url_path.endswith("/") and self._has_index(key):
                self._redirect(url_path + "/")
            else:
                self._not_found(send_body)
            return
        self._send_object(found, send_body)

    def _has_index(self, key: str) -> bool:
        try:
            return self.server.store.locate(f"{key}/{INDEX_DOCUMENT}") is not None
        except StoreError:
            return False

    def _send_object(self, found: StoredObject, send_body: bool) -> None:
        try:
            body = found.path.open("rb")
        except OSError:  # deleted since it was located
            self._not_found(send_body)
            return
        with body:
            size = os.fstat(body.fileno()).st_size
            etag = f'"{found.info.etag}"'
            if etag in _etags(self.headers.get("If-None-Match")):
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", found.content_type)
            self.send_header("Content-Length", str(size))
            self.send_header("ETag", etag)
            self.send_header(
                "Last-Modified", email.utils.format_datetime(found.info.last_modified, usegmt=True)
            )
            if found.cache_control is not None:
                self.send_header("Cache-Control", found.cache_control)
            for name, value in sorted(found.metadata.items()):
                self.send_header(f"x-amz-meta-{name}", value)
            self.end_headers()
            if send_body:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    shutil.copyfileobj(body, self.wfile)

    def _redirect(self, location: str) -> None:
        # S3 website endpoints answer 302 for a "directory" without its slash.
        self.send_response(302)
        self.send_header("Location", location)  # still percent-encoded as received
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _not_found(self, send_body: bool) -> None:
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(_NOT_FOUND)))
        self.end_headers()
        if send_body:
            self.wfile.write(_NOT_FOUND)


def _etags(header: str | None) -> set[str]:
    if not header:
        return set()
    return {part.strip() for part in header.split(",")}
