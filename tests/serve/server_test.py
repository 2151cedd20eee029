"""artreg serve: a dir target over real HTTP, answering like a bucket website."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from oci.builder import Built, build_image, skopeo
from servers import S3Backend

from artreg.cli import main as cli_main
from artreg.commands.serve import run
from artreg.errors import ArtregError
from artreg.serve.server import BucketWebsiteServer, key_for_path, make_server
from artreg.stores import PutRequest
from artreg.stores.dir import META_DIR, DirStore

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


# -- ranges and conditional requests, as an S3 website answers them ------------------

BODY = bytes(range(256)) * 4  # 1024 bytes


@pytest.fixture
def blob_server(root: Path) -> Iterator[BucketWebsiteServer]:
    DirStore(root).put(PutRequest("files/data.bin", BODY, "application/octet-stream"))
    server = make_server(root)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-3", 0, 3),
        ("bytes=1000-", 1000, 1023),
        ("bytes=-24", 1000, 1023),
        ("bytes=1020-5000", 1020, 1023),  # clamped to the end
        ("bytes=-5000", 0, 1023),  # a suffix longer than the object: all of it
        ("bytes=1023-1023", 1023, 1023),
        ("BYTES = 5 - 9", 5, 9),
    ],
)
def test_a_single_range_is_206_with_content_range(
    blob_server: BucketWebsiteServer, header: str, first: int, last: int
) -> None:
    status, headers, body = request(blob_server, "/files/data.bin", headers={"Range": header})
    assert status == 206
    assert body == BODY[first : last + 1]
    assert headers["content-range"] == f"bytes {first}-{last}/{len(BODY)}"
    assert headers["content-length"] == str(last - first + 1)
    assert headers["content-type"] == "application/octet-stream"
    assert headers["accept-ranges"] == "bytes"
    assert headers["etag"].startswith('"')


@pytest.mark.parametrize("header", ["bytes=1024-", "bytes=5000-6000", "bytes=-0"])
def test_an_unsatisfiable_range_is_416(blob_server: BucketWebsiteServer, header: str) -> None:
    status, headers, body = request(blob_server, "/files/data.bin", headers={"Range": header})
    assert status == 416
    assert headers["content-range"] == f"bytes */{len(BODY)}"
    assert b"416" in body


@pytest.mark.parametrize(
    "header",
    [
        "bytes=0-1,5-6",  # several ranges: S3 serves only one, and answers with the whole object
        "bytes=9-2",  # last before first: invalid, ignored
        "bytes=x-2",
        "bytes=-",
        "items=0-1",
        "",
    ],
)
def test_other_ranges_get_the_whole_object(blob_server: BucketWebsiteServer, header: str) -> None:
    status, headers, body = request(blob_server, "/files/data.bin", headers={"Range": header})
    assert (status, body) == (200, BODY)
    assert "content-range" not in headers


def test_range_on_head_and_on_an_empty_object(root: Path, blob_server: BucketWebsiteServer) -> None:
    status, headers, body = request(
        blob_server, "/files/data.bin", "HEAD", headers={"Range": "bytes=0-9"}
    )
    assert (status, body, headers["content-length"]) == (206, b"", "10")
    DirStore(root).put(PutRequest("files/empty", b"", "text/plain"))
    assert request(blob_server, "/files/empty", headers={"Range": "bytes=0-"})[0] == 416
    assert request(blob_server, "/files/empty")[:3:2] == (200, b"")


def test_if_range(blob_server: BucketWebsiteServer) -> None:
    _, headers, _ = request(blob_server, "/files/data.bin")
    etag, modified = headers["etag"], headers["last-modified"]
    for validator in (etag, modified):
        status, _, body = request(
            blob_server, "/files/data.bin", headers={"Range": "bytes=0-1", "If-Range": validator}
        )
        assert (status, body) == (206, BODY[:2]), validator
    for stale in ('"0123"', f"W/{etag}", "Mon, 01 Jan 2001 00:00:00 GMT"):
        status, _, body = request(
            blob_server, "/files/data.bin", headers={"Range": "bytes=0-1", "If-Range": stale}
        )
        assert (status, body) == (200, BODY), stale


def test_conditional_requests(blob_server: BucketWebsiteServer) -> None:
    _, headers, _ = request(blob_server, "/files/data.bin")
    etag, modified = headers["etag"], headers["last-modified"]
    past, future = "Mon, 01 Jan 2001 00:00:00 GMT", "Fri, 01 Jan 2100 00:00:00 GMT"

    def status_of(method: str = "GET", **sent: str) -> int:
        names = {k: k.replace("_", "-") for k in sent}
        return request(
            blob_server, "/files/data.bin", method, {names[k]: v for k, v in sent.items()}
        )[0]

    assert status_of(If_None_Match=etag) == 304
    assert status_of("HEAD", If_None_Match=etag) == 304
    assert status_of(If_None_Match=f'"nope", W/{etag}') == 304  # weak comparison
    assert status_of(If_None_Match="*") == 304
    assert status_of(If_None_Match='"nope"') == 200
    assert status_of(If_Modified_Since=modified) == 304
    assert status_of(If_Modified_Since=future) == 304
    assert status_of(If_Modified_Since=past) == 200
    assert status_of(If_Modified_Since="yesterday") == 200  # unparsable: ignored
    # If-None-Match decides alone when both are sent.
    assert status_of(If_None_Match='"nope"', If_Modified_Since=future) == 200
    assert status_of(If_Match=etag) == 200
    assert status_of(If_Match="*") == 200
    assert status_of(If_Match='"nope"') == 412
    assert status_of(If_Match=f"W/{etag}") == 412  # strong comparison
    assert status_of(If_Unmodified_Since=past) == 412
    assert status_of(If_Unmodified_Since=modified) == 200
    # If-Match decides alone when both are sent.
    assert status_of(If_Match=etag, If_Unmodified_Since=past) == 200


def test_304_carries_the_validators(server: BucketWebsiteServer) -> None:
    _, headers, _ = request(server, "/v2/garage/manifests/sha256:abcd")
    status, got, body = request(
        server, "/v2/garage/manifests/sha256:abcd", headers={"If-None-Match": headers["etag"]}
    )
    assert (status, body) == (304, b"")
    assert got["etag"] == headers["etag"]
    assert got["last-modified"] == headers["last-modified"]
    assert got["cache-control"] == "public, max-age=31536000, immutable"


# -- symbolic links: never followed -----------------------------------------------------


def test_a_file_link_is_404_wherever_it_points(root: Path, server: BucketWebsiteServer) -> None:
    outside = root.parent / "passwd"
    outside.write_text("root:x:0:0")
    (root / "passwd-link").symlink_to(outside)
    (root / "inside-link").symlink_to(root / "index.html")
    (root / "etc-link").symlink_to("/etc/passwd")
    for path in ("/passwd-link", "/inside-link", "/etc-link"):
        for method in ("GET", "HEAD"):
            status, _, body = request(server, path, method)
            assert status == 404, (path, method)
            assert b"root:" not in body


def test_a_directory_link_is_404(root: Path, server: BucketWebsiteServer) -> None:
    (root / "docs-link").symlink_to(root / "docs")
    (root / "up").symlink_to("..")
    (root.parent / "other").mkdir()
    (root.parent / "other" / "index.html").write_text("secret")
    (root / "other-link").symlink_to(root.parent / "other")
    for path in (
        "/docs-link/index.html",
        "/docs-link/",
        "/docs-link",  # no redirect to a linked directory either
        "/up/public/index.html",
        "/up/other/index.html",
        "/other-link/",
        "/other-link/index.html",
        "/v2/../up/other/index.html",
    ):
        status, _, body = request(server, path)
        assert status == 404, path
        assert b"secret" not in body


def test_a_link_loop_is_404(root: Path, server: BucketWebsiteServer) -> None:
    (root / "loop").symlink_to("loop")
    (root / "ping").symlink_to("pong")
    (root / "pong").symlink_to("ping")
    for path in ("/loop", "/loop/", "/loop/x", "/ping/index.html", "/pong"):
        assert request(server, path)[0] == 404, path


def test_a_linked_index_document_is_404(root: Path, server: BucketWebsiteServer) -> None:
    (root / "linked").mkdir()
    (root / "linked" / "index.html").symlink_to(root / "index.html")
    assert request(server, "/linked/")[0] == 404
    assert request(server, "/linked")[0] == 404


def test_a_linked_sidecar_is_not_read(root: Path, server: BucketWebsiteServer) -> None:
    (root / "plain.txt").write_text("hello")
    leak = root.parent / "leak.json"
    leak.write_text(json.dumps({"contentType": "x/leak", "metadata": {"secret": "s3cr3t"}}))
    sidecar = root / ".artreg-meta" / "objects" / "plain.txt.json"
    sidecar.symlink_to(leak)
    status, headers, _ = request(server, "/plain.txt")
    assert status == 200
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert "x-amz-meta-secret" not in headers


def test_special_files_are_404(root: Path, server: BucketWebsiteServer) -> None:
    os.mkfifo(root / "fifo")
    assert request(server, "/fifo")[0] == 404  # and the server did not hang opening it


def test_a_linked_root_is_served(root: Path) -> None:
    link = root.parent / "root-link"
    link.symlink_to(root)
    server = make_server(link)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        assert request(server, "/")[:3:2] == (200, b"<h1>builds</h1>")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# -- a tree without sidecars (aws s3 sync, rclone) ----------------------------------------


@pytest.mark.parametrize(
    ("key", "body", "content_type"),
    [
        ("index.html", b"<h1>x</h1>", "text/html; charset=utf-8"),
        ("index.json", b"{}", "application/json"),
        ("feed.xml", b"<feed/>", "application/xml"),
        ("NOTES.TXT", b"notes", "text/plain; charset=utf-8"),
        ("v1/app.tar.gz", b"\x1f\x8b", "application/gzip"),
        ("v1/app.sha256", b"abc  app", "text/plain; charset=utf-8"),
        ("v1/linux/amd64/app", b"ELF", "application/octet-stream"),
        ("v2/team/demo/tags/list", b'{"name":"team/demo","tags":[]}', "application/json"),
        (
            "v2/team/demo/manifests/v1",
            json.dumps({"schemaVersion": 2, "mediaType": MANIFEST_TYPE}).encode(),
            MANIFEST_TYPE,
        ),
        (
            "v2/team/demo/manifests/v2",
            json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
                    "manifests": [],
                }
            ).encode(),
            "application/vnd.docker.distribution.manifest.list.v2+json",
        ),
        (
            "v2/team/demo/manifests/no-media-type-index",
            b'{"schemaVersion": 2, "manifests": []}',
            "application/vnd.oci.image.index.v1+json",
        ),
        (
            "v2/team/demo/manifests/no-media-type-manifest",
            b'{"schemaVersion": 2, "config": {}, "layers": []}',
            MANIFEST_TYPE,
        ),
        ("v2/team/demo/manifests/broken", b"{not json", "application/octet-stream"),
        ("v2/team/demo/blobs/sha256:" + "0" * 64, b"layer", "application/octet-stream"),
    ],
)
def test_types_are_inferred_without_a_sidecar(
    tmp_path: Path, key: str, body: bytes, content_type: str
) -> None:
    public = tmp_path / "mirror"
    (public / key).parent.mkdir(parents=True, exist_ok=True)
    (public / key).write_bytes(body)
    server = make_server(public)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        for method in ("GET", "HEAD"):
            status, headers, _ = request(server, "/" + urllib.parse.quote(key), method)
            assert (status, headers["content-type"]) == (200, content_type), method
            assert headers["etag"] == f'"{hashlib.md5(body).hexdigest()}"'
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_docker_content_digest_on_get_and_head(root: Path, server: BucketWebsiteServer) -> None:
    manifest = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST_TYPE}).encode()
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    store = DirStore(root)
    store.put(PutRequest(f"v2/team/demo/manifests/{digest}", manifest, MANIFEST_TYPE))
    store.put(PutRequest("v2/team/demo/manifests/v1", manifest, MANIFEST_TYPE))
    blob = "sha256:" + "1" * 64
    store.put(PutRequest(f"v2/team/demo/blobs/{blob}", b"layer", "application/octet-stream"))
    for method in ("GET", "HEAD"):
        for path, expected in (
            (f"/v2/team/demo/manifests/{digest}", digest),
            ("/v2/team/demo/manifests/v1", digest),  # by tag: the sha256 of what is served
            (f"/v2/team/demo/blobs/{blob}", blob),
        ):
            status, headers, _ = request(server, path, method)
            assert status == 200
            assert headers["docker-content-digest"] == expected, (method, path)
    # Not on other objects.
    assert "docker-content-digest" not in request(server, "/index.html")[1]


# -- real OCI clients on a tree mirrored without sidecars -------------------------------


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Built, Path, Path]:
    """A multi-platform image applied to a dir target, and a copy of it without sidecars."""
    base = tmp_path_factory.mktemp("published")
    built = build_image(base / "image", ref="v1", platforms=("linux/amd64", "linux/arm64"))
    project = base / "project"
    project.mkdir()
    (project / "artreg.toml").write_text(
        '[project]\nname = "demo"\n\n[[artifacts]]\nname = "image"\ntype = "oci"\n'
        f'path = "{built.root}:v1"\nrepository = "team/demo"\n\n'
        '[targets.test]\ntype = "dir"\npath = "public"\n'
    )
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main(["apply", "--config", str(project / "artreg.toml"), "--tag", "v1.0.0"])
    assert code == 0, err.getvalue()
    # What `aws s3 sync s3://bucket/ mirror/` or `rclone copy` leaves: the objects only.
    mirror = base / "mirror"
    shutil.copytree(project / "public", mirror, ignore=shutil.ignore_patterns(META_DIR))
    assert not (mirror / META_DIR).exists()
    return built, project / "public", mirror


@contextlib.contextmanager
def serving(root: Path) -> Iterator[BucketWebsiteServer]:
    server = make_server(root, verbose=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_skopeo_pulls_from_a_tree_without_sidecars(
    published: tuple[Built, Path, Path], tmp_path: Path
) -> None:
    built, _, mirror = published
    with serving(mirror) as server:
        host = f"127.0.0.1:{server.server_address[1]}"
        raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{host}/team/demo:v1.0.0")
        assert json.loads(raw.stdout)["mediaType"] == built.media_type
        skopeo(
            "copy",
            "--quiet",
            "--multi-arch=all",
            "--preserve-digests",
            "--src-tls-verify=false",
            f"docker://{host}/team/demo:v1.0.0",
            f"oci:{tmp_path / 'pulled'}:x",
        )
        index = json.loads((tmp_path / "pulled" / "index.json").read_text())
        assert index["manifests"][0]["digest"] == built.digest
        arm = json.loads(
            skopeo(
                "inspect",
                "--tls-verify=false",
                "--override-arch",
                "arm64",
                f"docker://{host}/team/demo:v1.0.0",
            ).stdout
        )
        assert arm["Architecture"] == "arm64"
        _, headers, _ = request(server, "/v2/team/demo/manifests/v1.0.0", "HEAD")
        assert headers["content-type"] == built.media_type
        assert headers["docker-content-digest"] == built.digest


@pytest.fixture
def containerd() -> Iterator[list[str]]:
    """A containerd daemon of our own (temp root, state and socket); yields the ctr command.

    One per test: its content store must start empty for the pull to be a real one.
    """
    binary, ctr = shutil.which("containerd"), shutil.which("ctr")
    if binary is None or ctr is None:
        pytest.fail("containerd is not installed: scripts/install-system-deps.sh", pytrace=False)
    if os.geteuid() != 0:
        pytest.skip("containerd needs root")
    base = Path(tempfile.mkdtemp(prefix="artreg-ctrd-"))  # short: socket paths are limited
    socket = base / "c.sock"
    (base / "config.toml").write_text(
        f'version = 2\nroot = "{base / "root"}"\nstate = "{base / "state"}"\n'
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
        f'[grpc]\n  address = "{socket}"\n[ttrpc]\n  address = "{base / "t.sock"}"\n'
        '[debug]\n  address = ""\n[metrics]\n  address = ""\n'
    )
    log = (base / "log").open("wb")
    daemon = subprocess.Popen(
        [binary, "--config", str(base / "config.toml")], stdout=log, stderr=log
    )
    command = [ctr, "--address", str(socket)]
    try:
        for _ in range(300):
            if subprocess.run([*command, "version"], capture_output=True).returncode == 0:
                break
            assert daemon.poll() is None, (base / "log").read_text()
            threading.Event().wait(0.1)
        else:
            pytest.fail(f"containerd did not start: {(base / 'log').read_text()}")
        yield command
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
        log.close()
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("tree", ["with sidecars", "without sidecars"])
def test_ctr_pulls_head_first(
    published: tuple[Built, Path, Path],
    containerd: list[str],
    capsys: pytest.CaptureFixture[str],
    tree: str,
) -> None:
    built, public, mirror = published
    with serving(public if tree == "with sidecars" else mirror) as server:
        host = f"127.0.0.1:{server.server_address[1]}"
        ref = f"{host}/team/demo:v1.0.0"
        try:
            pulled = subprocess.run(
                [
                    *containerd,
                    *("images", "pull", "--plain-http", "--snapshotter", "native"),
                    *("--platform", "linux/arm64", ref),
                ],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert pulled.returncode == 0, pulled.stderr
            listed = subprocess.run(
                [*containerd, "images", "ls"], capture_output=True, text=True, check=True
            )
            [line] = [line for line in listed.stdout.splitlines() if line.startswith(ref)]
            assert built.digest in line
        finally:
            subprocess.run([*containerd, "images", "rm", ref], capture_output=True)
    requests = [line for line in capsys.readouterr().err.splitlines() if '"' in line]
    # ctr resolves the tag with HEAD and trusts its Docker-Content-Digest: no GET by tag.
    assert any('"HEAD /v2/team/demo/manifests/v1.0.0 ' in line for line in requests), requests
    assert not any('"GET /v2/team/demo/manifests/v1.0.0 ' in line for line in requests), requests
    assert any(f'"GET /v2/team/demo/manifests/{built.digest} ' in line for line in requests)


RANGES = [
    "bytes=0-3",
    "bytes=1000-",
    "bytes=-24",
    "bytes=1020-5000",
    "bytes=-5000",
    "bytes=1024-",
    "bytes=5000-6000",
    "bytes=-0",
    "bytes=0-1,5-6",
    "bytes=9-2",
    "bytes=x-2",
]


def test_ranges_are_answered_as_an_s3_server_answers_them(
    moto_backend: S3Backend, blob_server: BucketWebsiteServer
) -> None:
    bucket = moto_backend.make_bucket(website=True)
    moto_backend.client().put_object(Bucket=bucket, Key="files/data.bin", Body=BODY)
    for header in RANGES:
        theirs = urllib.parse.urlsplit(moto_backend.url(bucket, "files/data.bin"))
        conn = http.client.HTTPConnection(str(theirs.hostname), theirs.port, timeout=30)
        try:
            conn.request("GET", theirs.path, headers={"Range": header})
            response = conn.getresponse()
            s3 = (response.status, response.getheader("Content-Range"), response.read())
        finally:
            conn.close()
        status, headers, body = request(blob_server, "/files/data.bin", headers={"Range": header})
        assert status == s3[0], header
        if status != 416:  # moto sends no Content-Range with a 416; the RFC asks for one
            assert (headers.get("content-range"), body) == (s3[1], s3[2]), header
