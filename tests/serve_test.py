"""artreg serve: a dir target over real HTTP, answering like a bucket website."""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from artreg.commands.serve import run
from artreg.errors import ArtregError
from artreg.serve import BucketWebsiteServer, key_for_path, make_server
from artreg.stores import PutRequest
from artreg.stores.dir import DirStore

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    store = DirStore(tmp_path / "public")
    store.put(PutRequest("index.html", b"<h1>builds</h1>", "text/html; charset=utf-8"))
    store.put(PutRequest("v2/index.html", b"{}", "application/json"))
    store.put(
        PutRequest(
            "v2/garage/manifests/sha256:abcd",
            b'{"schemaVersion":2}',
            MANIFEST_TYPE,
            cache_control="public, max-age=31536000, immutable",
            metadata={"sha256": "abcd"},
        )
    )
    store.put(PutRequest("v0.8.2+feat/linux/amd64/garage", b"ELF+", "application/octet-stream"))
    store.put(PutRequest("with space/a b", b"spaced", "text/plain"))
    store.put(PutRequest("docs/index.html", b"<p>docs</p>", "text/html"))
    return store.root


@pytest.fixture
def server(root: Path) -> Iterator[BucketWebsiteServer]:
    server = make_server(root)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def request(
    server: BucketWebsiteServer,
    path: str,
    method: str = "GET",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One raw request (no redirect following, the path sent exactly as given)."""
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(str(host), port, timeout=30)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def test_objects_are_served_with_their_stored_headers(server: BucketWebsiteServer) -> None:
    status, headers, body = request(server, "/v2/garage/manifests/sha256:abcd")

    assert status == 200
    assert body == b'{"schemaVersion":2}'
    assert headers["content-type"] == MANIFEST_TYPE
    assert headers["cache-control"] == "public, max-age=31536000, immutable"
    assert headers["content-length"] == str(len(body))
    assert headers["x-amz-meta-sha256"] == "abcd"
    assert headers["etag"].startswith('"') and headers["etag"].endswith('"')
    assert headers["last-modified"].endswith("GMT")


def test_urllib_can_fetch_through_the_server_url(server: BucketWebsiteServer) -> None:
    with urllib.request.urlopen(server.url + "v2/garage/manifests/sha256%3Aabcd") as response:
        assert response.headers["Content-Type"] == MANIFEST_TYPE


def test_head_sends_headers_without_a_body(server: BucketWebsiteServer) -> None:
    status, headers, body = request(server, "/v2/garage/manifests/sha256:abcd", "HEAD")
    assert (status, body) == (200, b"")
    assert headers["content-type"] == MANIFEST_TYPE
    assert headers["content-length"] == str(len(b'{"schemaVersion":2}'))


@pytest.mark.parametrize(
    ("path", "body"),
    [("/", b"<h1>builds</h1>"), ("/v2/", b"{}"), ("/docs/", b"<p>docs</p>")],
)
def test_a_path_ending_in_slash_serves_its_index(
    server: BucketWebsiteServer, path: str, body: bytes
) -> None:
    status, _, got = request(server, path)
    assert (status, got) == (200, body)


def test_v2_answers_200_for_oci_clients(server: BucketWebsiteServer) -> None:
    status, headers, _ = request(server, "/v2/")
    assert status == 200
    assert headers["content-type"] == "application/json"


@pytest.mark.parametrize("path", ["/v2", "/docs"])
def test_a_directory_without_its_slash_redirects(server: BucketWebsiteServer, path: str) -> None:
    status, headers, _ = request(server, path)
    assert status == 302
    assert headers["location"] == path + "/"


@pytest.mark.parametrize(
    "path",
    [
        "/missing",
        "/v2/garage/",  # no index.html there
        "/v2/garage",  # and so no redirect either
        "/.artreg-meta/objects/index.html.json",
        "/.artreg-meta/lock",
        "/%2E%2E/public/index.html",
        "/..%2f..%2fetc%2fpasswd",
        "/docs//index.html",
        "/%ff",
    ],
)
def test_missing_hidden_and_outside_paths_are_404(server: BucketWebsiteServer, path: str) -> None:
    status, headers, _ = request(server, path)
    assert status == 404
    assert headers["content-type"].startswith("text/html")


def test_nothing_outside_the_root_is_reachable(root: Path, server: BucketWebsiteServer) -> None:
    (root.parent / "secret.txt").write_text("secret")
    for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/docs/%2e%2e/%2e%2e/secret.txt"):
        status, _, body = request(server, path)
        assert status == 404, path
        assert b"secret" not in body


def test_paths_are_url_decoded_like_an_s3_website(server: BucketWebsiteServer) -> None:
    # %2B is a plus; a bare + is a space (as on an S3 website endpoint).
    assert request(server, "/v0.8.2%2Bfeat/linux/amd64/garage")[2] == b"ELF+"
    assert request(server, "/v0.8.2+feat/linux/amd64/garage")[0] == 404
    assert request(server, "/with%20space/a%20b")[2] == b"spaced"
    assert request(server, "/with+space/a+b")[2] == b"spaced"


def test_if_none_match_gets_304(server: BucketWebsiteServer) -> None:
    _, headers, _ = request(server, "/index.html")
    status, _, body = request(server, "/index.html", headers={"If-None-Match": headers["etag"]})
    assert (status, body) == (304, b"")


def test_files_placed_by_hand_are_served_with_a_guessed_type(
    root: Path, server: BucketWebsiteServer
) -> None:
    (root / "style.css").write_text("body{}")
    status, headers, _ = request(server, "/style.css")
    assert (status, headers["content-type"]) == (200, "text/css")


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("/", "index.html"),
        ("/v2/", "v2/index.html"),
        ("/a%3Ab", "a:b"),
        ("/a+b", "a b"),
        ("/a%2Bb", "a+b"),
        ("/.artreg-meta/x", None),
    ],
)
def test_key_for_path(key: str, expected: str | None) -> None:
    assert key_for_path(key) == expected


def _args(config: Path | None, target: str | None = None, port: int = 0) -> argparse.Namespace:
    return argparse.Namespace(
        config=str(config) if config else None, target=target, host="127.0.0.1", port=port
    )


def test_serve_refuses_an_s3_target(tmp_path: Path) -> None:
    config = tmp_path / "artreg.toml"
    config.write_text(
        '[project]\nname = "demo"\n\n[targets.web]\ntype = "s3"\nbucket = "b"\n'
        'endpoint = "http://127.0.0.1:9"\n'
    )
    with pytest.raises(ArtregError) as excinfo:
        run(_args(config, "web"))
    message = str(excinfo.value)
    assert "target 'web' is s3://b/" in message
    assert "--target" in message


def test_serve_refuses_a_directory_that_does_not_exist(tmp_path: Path) -> None:
    config = tmp_path / "artreg.toml"
    config.write_text('[project]\nname = "demo"\n\n[targets.preview]\ntype = "dir"\npath = "out"\n')
    with pytest.raises(ArtregError, match="no such directory"):
        run(_args(config))


_SERVE = """
import argparse, sys
from artreg.commands.serve import run
sys.exit(run(argparse.Namespace(config=sys.argv[1], target=None, host="127.0.0.1", port=0)))
"""


def test_serve_command_prints_its_url_and_serves_the_config_target(
    tmp_path: Path, root: Path
) -> None:
    config = tmp_path / "artreg.toml"
    config.write_text(
        '[project]\nname = "demo"\n\n[targets.preview]\ntype = "dir"\npath = "public"\n'
    )
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVE, str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd="/",  # the dir target is relative to the config file, not the cwd
        env={**os.environ},
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url or process.stderr.read()
        with urllib.request.urlopen(url + "v2/") as response:
            assert response.status == 200
        with pytest.raises(urllib.error.HTTPError) as excinfo:
            urllib.request.urlopen(url + "missing")
        assert excinfo.value.code == 404
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
