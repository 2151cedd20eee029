"""A tiny reverse proxy that puts a path-style S3 bucket at a host's root, like a website.

OCI clients want the registry at ``http://host/v2/...``; moto serves a public
bucket at ``http://127.0.0.1:PORT/<bucket>/<key>``, and ``/v2/...`` on moto's
own root is its S3 API. The proxy maps ``/PATH`` to ``/<bucket>/<prefix>PATH``
and, like a website endpoint's index document, ``/dir/`` to ``dir/index.html``.
It passes the stored Content-Type through untouched: what is tested is what
the bucket holds.
"""

from __future__ import annotations

import http.server
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

_PASSED_HEADERS = ("Content-Type", "Content-Length", "ETag", "Cache-Control", "Last-Modified")


class _Proxy(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.paths: list[str] = []
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Proxy
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._forward("GET")

    def do_HEAD(self) -> None:
        self._forward("HEAD")

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _forward(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        self.server.paths.append(f"{method} {path}")
        if path.endswith("/"):
            path += "index.html"
        request = urllib.request.Request(self.server.upstream + path, method=method)
        try:
            response = urllib.request.urlopen(request, timeout=30)
        except urllib.error.HTTPError as exc:
            response = exc
        with response:
            status = response.status if hasattr(response, "status") else response.code
            self.send_response(404 if status == 403 else status)
            for name in _PASSED_HEADERS:
                value = response.headers.get(name)
                if value is not None:
                    self.send_header(name, value)
            if response.headers.get("Content-Length") is None:
                self.send_header("Content-Length", "0")
            self.end_headers()
            if method == "GET":
                while chunk := response.read(1 << 16):
                    self.wfile.write(chunk)


@contextmanager
def bucket_website(endpoint: str, bucket: str, prefix: str = "") -> Iterator[_Proxy]:
    """Serve ``endpoint/bucket/prefix`` at the root of ``http://127.0.0.1:PORT``."""
    proxy = _Proxy(f"{endpoint}/{bucket}/{prefix}")
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()
        thread.join()


def host_of(server: http.server.HTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"{host!s}:{port}"
