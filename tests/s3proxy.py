"""A forwarding HTTP proxy in front of a real S3 server, to change what crosses the wire.

Every request is passed on byte for byte (the client's ``Host`` included, so
SigV4 signatures still verify on servers that check them), unless a rule
steps in first. A rule sees the method, the path and the headers; it may
change the headers (``If-Match`` rewritten, ``Host`` set for a website
endpoint) or answer in the server's place (a 412 or a 500 on one key),
which reproduces a real server's quirk or a failure at an exact moment.
"""

from __future__ import annotations

import http.client
import http.server
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}
)


@dataclass
class Reply:
    """An answer given in the upstream server's place."""

    status: int
    body: bytes = b""
    content_type: str = "application/xml"


@dataclass
class Exchange:
    """One request as the proxy saw it (after the rules), and what was answered."""

    method: str
    path: str
    headers: dict[str, str]
    status: int = 0


# A rule: (method, path, headers it may change) -> a Reply to answer instead, or None.
Rule = Callable[[str, str, dict[str, str]], Reply | None]


@dataclass
class Proxy:
    """A running proxy: ``endpoint`` to point clients at, ``rules`` to change while it runs."""

    upstream: str
    rules: list[Rule] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    port: int = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._forward()

    def do_HEAD(self) -> None:
        self._forward()

    def do_PUT(self) -> None:
        self._forward()

    def do_POST(self) -> None:
        self._forward()

    def do_DELETE(self) -> None:
        self._forward()

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length", "0") or 0)
        return self.rfile.read(length) if length else b""

    def _forward(self) -> None:
        proxy = self.server.proxy
        body = self._body()
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        if body or self.command in ("PUT", "POST"):
            headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
            headers["Content-Length"] = str(len(body))
        path = urllib.parse.unquote(self.path.split("?", 1)[0])
        exchange = Exchange(self.command, self.path, headers)
        with self.server.lock:
            proxy.exchanges.append(exchange)
            rules = list(proxy.rules)
        for rule in rules:
            reply = rule(self.command, path, headers)
            if reply is not None:
                exchange.status = reply.status
                self._answer(reply.status, [("Content-Type", reply.content_type)], reply.body)
                return
        upstream = urllib.parse.urlsplit(proxy.upstream)
        conn = http.client.HTTPConnection(upstream.hostname or "", upstream.port, timeout=60)
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in headers.items():
                conn.putheader(name, value)
            conn.endheaders(body or None)
            response = conn.getresponse()
            data = response.read()
            passed = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
        finally:
            conn.close()
        exchange.status = response.status
        self._answer(response.status, passed, data)

    def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


@contextmanager
def running(upstream: str, *rules: Rule) -> Iterator[Proxy]:
    """A proxy to ``upstream`` (``http://host:port``) on an ephemeral port of 127.0.0.1."""
    proxy = Proxy(upstream.rstrip("/"), list(rules))
    server = _Server(proxy)
    proxy.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def header(headers: dict[str, str], name: str) -> str | None:
    """A header's value, whatever its case."""
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)


def set_header(headers: dict[str, str], name: str, value: str) -> None:
    for key in [k for k in headers if k.lower() == name.lower()]:
        del headers[key]
    headers[name] = value


def precondition_failed(key: str) -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code>'
        b"<Message>At least one of the pre-conditions you specified did not hold</Message>"
        b"<Key>" + key.encode() + b"</Key></Error>"
    )
