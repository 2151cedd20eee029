"""An HTTP proxy in front of an S3 server that hands out opaque ETags, not MD5s.

AWS S3 with SSE-KMS or SSE-C, multipart uploads and some S3-compatible
servers give ETags that are not the MD5 of the bytes. This proxy makes moto
behave like that: every ETag moto sends (the ``ETag`` header of
PutObject/GetObject/HeadObject, ``<ETag>`` in ListObjectsV2,
CopyObject and CompleteMultipartUpload results) is replaced by a token of 32
hex digits derived from the bucket, the key and moto's ETag. Like SSE-KMS,
equal bytes under two keys get different tokens; the same object always gets
the same one, in every response.

``If-Match`` / ``If-None-Match`` values that are tokens it handed out are
translated back to moto's ETags; any other value (an MD5 a client computed
itself) is replaced by one that matches nothing, as a real server would treat
it. Part ETags (UploadPart) pass through unchanged: they go back to the server
in the CompleteMultipartUpload body, which is forwarded as it is.
"""

from __future__ import annotations

import hashlib
import html
import http.client
import http.server
import re
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager

# Hop-by-hop headers are not forwarded; Content-Length is recomputed.
_SKIPPED = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}
_CONTENTS = re.compile(rb"<Contents>(.*?)</Contents>", re.S)
_KEY = re.compile(rb"<Key>(.*?)</Key>", re.S)
_ETAG = re.compile(rb"<ETag>(.*?)</ETag>", re.S)
NEVER_MATCHES = '"no-such-etag-from-this-server"'


class EtagProxy(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        parts = urllib.parse.urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.salt = "artreg-etag-proxy"
        self.real: dict[str, str] = {}  # token -> upstream etag (unquoted)
        self.rewritten = 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def endpoint(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def token(self, bucket: str, key: str, etag: str) -> str:
        """The opaque etag shown for ``etag`` (unquoted) of ``bucket/key``."""
        seed = f"{self.salt}\n{bucket}\n{key}\n{etag}".encode()
        token = hashlib.sha256(seed).hexdigest()[:32]
        with self.lock:
            self.real[token] = etag
            self.rewritten += 1
        return token

    def translate(self, header: str) -> str:
        """An If-Match / If-None-Match value with our tokens turned back into real etags."""
        if header.strip() == "*":
            return header
        values = []
        for item in header.split(","):
            value = item.strip().removeprefix("W/").strip('"')
            with self.lock:
                real = self.real.get(value)
            values.append(f'"{real}"' if real is not None else NEVER_MATCHES)
        return ", ".join(values)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: EtagProxy
    protocol_version = "HTTP/1.1"

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

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _forward(self) -> None:
        body = self._body()
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _SKIPPED}
        for name in ("If-Match", "If-None-Match"):
            if name in self.headers:
                headers[name] = self.server.translate(self.headers[name])
        headers["Host"] = f"{self.server.upstream_host}:{self.server.upstream_port}"
        headers["Content-Length"] = str(len(body))
        upstream = http.client.HTTPConnection(
            self.server.upstream_host, self.server.upstream_port, timeout=60
        )
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
            status, reason = response.status, response.reason
            out_headers = response.getheaders()
        finally:
            upstream.close()
        split = urllib.parse.urlsplit(self.path)
        segments = split.path.lstrip("/").split("/", 1)
        bucket = urllib.parse.unquote(segments[0])
        key = urllib.parse.unquote(segments[1]) if len(segments) > 1 else ""
        query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        part = "partNumber" in query
        if status < 300 and data:
            data = self._rewrite_xml(data, bucket, key, query)
        self.send_response(status, reason)
        for name, value in out_headers:
            lower = name.lower()
            if lower in _SKIPPED:
                continue
            if lower == "etag" and status < 300 and not part and key:
                value = f'"{self.server.token(bucket, key, value.strip().strip(chr(34)))}"'
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _rewrite_xml(
        self, data: bytes, bucket: str, key: str, query: dict[str, list[str]]
    ) -> bytes:
        if not data.lstrip().startswith(b"<?xml") and not data.lstrip().startswith(b"<"):
            return data
        if not key and "list-type" in query:  # ListObjectsV2: one <Contents> per object
            encoded = query.get("encoding-type") == ["url"]

            def contents(match: re.Match[bytes]) -> bytes:
                block = match.group(1)
                found = _KEY.search(block)
                if found is None:
                    return match.group(0)
                name = html.unescape(found.group(1).decode())
                name = urllib.parse.unquote(name) if encoded else name
                return b"<Contents>" + self._etags(block, bucket, name) + b"</Contents>"

            return _CONTENTS.sub(contents, data)
        if key and (b"<CopyObjectResult" in data or b"<CompleteMultipartUploadResult" in data):
            return self._etags(data, bucket, key)
        return data

    def _etags(self, block: bytes, bucket: str, key: str) -> bytes:
        def one(match: re.Match[bytes]) -> bytes:
            real = html.unescape(match.group(1).decode()).strip().strip('"')
            token = self.server.token(bucket, key, real)
            return f"<ETag>&quot;{token}&quot;</ETag>".encode()

        return _ETAG.sub(one, block)


@contextmanager
def opaque_etags(upstream: str) -> Iterator[EtagProxy]:
    """A proxy on 127.0.0.1 in front of the S3 server at ``upstream``."""
    proxy = EtagProxy(upstream)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()
        thread.join()
