"""A TLS-terminating TCP proxy in front of a plain-HTTP server, and its certificates.

The certificates are made by the ``openssl`` command line (Debian's
``openssl``): a throw-away CA and a server certificate it signs for
``IP:127.0.0.1``, as a company CA would. The proxy accepts TLS on 127.0.0.1
and forwards the decrypted bytes to the upstream server (moto), both ways, one
thread per connection: boto3 then talks real HTTPS to a real S3 server.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Certificates:
    ca: Path  # the CA certificate (PEM): what ca_bundle / AWS_CA_BUNDLE name
    cert: Path  # the server's certificate, signed by the CA, for IP:127.0.0.1
    key: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certificates(directory: Path) -> Certificates:
    """A CA and a server certificate for 127.0.0.1, with the openssl CLI."""
    directory.mkdir(parents=True, exist_ok=True)
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl(
        "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=artreg test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    _openssl(
        "req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1",
        cwd=directory,
    )  # fmt: skip
    (directory / "server.ext").write_text(
        "subjectAltName = IP:127.0.0.1\n"
        "basicConstraints = CA:FALSE\n"
        "keyUsage = critical, digitalSignature\n"
        "extendedKeyUsage = serverAuth\n"
    )
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext",
        cwd=directory,
    )  # fmt: skip
    return Certificates(directory / "ca.pem", directory / "server.pem", directory / "server.key")


def _relay(tls: ssl.SSLSocket, upstream: socket.socket) -> None:
    """Copy bytes both ways until either side closes (one thread: an SSL object is not
    safe to read and write from two threads at once)."""
    peers = {tls: upstream, upstream: tls}
    while True:
        ready = [tls] if tls.pending() else select.select([tls, upstream], [], [], 60)[0]
        if not ready:
            return
        for source in ready:
            try:
                data = source.recv(65536)
                if not data:
                    return
                peers[source].sendall(data)
            except OSError:
                return


class TlsProxy:
    """Accepts TLS on 127.0.0.1:``port`` and forwards to ``upstream_port`` in plain TCP."""

    def __init__(self, certificates: Certificates, upstream_port: int) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(certificates.cert, certificates.key)
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.handshake_failures = 0
        self._threads: list[threading.Thread] = []
        self._stopping = False

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def serve(self) -> None:
        while not self._stopping:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._handle, args=(client,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _handle(self, client: socket.socket) -> None:
        try:
            tls = self.context.wrap_socket(client, server_side=True)
        except (ssl.SSLError, OSError):
            self.handshake_failures += 1  # e.g. the client does not trust our CA
            client.close()
            return
        with tls, socket.create_connection(("127.0.0.1", self.upstream_port)) as upstream:
            _relay(tls, upstream)

    def close(self) -> None:
        self._stopping = True
        self.listener.close()
        for thread in self._threads:
            thread.join(timeout=5)


@contextlib.contextmanager
def tls_in_front_of(certificates: Certificates, upstream_port: int) -> Iterator[TlsProxy]:
    """A running :class:`TlsProxy` for the duration of the block."""
    proxy = TlsProxy(certificates, upstream_port)
    thread = threading.Thread(target=proxy.serve, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.close()
        thread.join(timeout=5)
