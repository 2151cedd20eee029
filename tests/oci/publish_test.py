"""``artreg apply`` with ``type = "oci"`` artifacts, pulled back with skopeo.

From a dir target through ``artreg serve`` and from moto's S3 server (through
a reverse proxy that puts the bucket at a host root, like a website endpoint).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import shutil
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import rgw
import s3proxy
from oci.builder import Built, build_image, compress_file, skopeo, to_archive
from oci.proxy import bucket_website, host_of
from s3proxy import Reply, header, set_header
from servers import S3Backend

from artreg.cli import main
from artreg.core.manifest import Build, build_from_bytes
from artreg.core.tags import Convention
from artreg.errors import InvalidOciTag
from artreg.oci.image import OCI_INDEX, OCI_MANIFEST
from artreg.oci.layout import read_image
from artreg.oci.publish import ImageSource, plan_images, publish_images
from artreg.oci.verify import verify_images
from artreg.serve.server import make_server
from artreg.stores import open_store
from artreg.stores.dir import DirStore

MULTI = ("linux/amd64", "linux/arm64")
NOW = "2025-06-01T12:00:00Z"


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    base = tmp_path_factory.mktemp("images")
    return {
        "single": build_image(base / "single", ref="v1"),
        "multi": build_image(base / "multi", ref="v1", platforms=MULTI),
        "other": build_image(base / "other", ref="v1", seed="other"),
        # Layers of over 4 MiB: several read chunks, multipart uploads on S3.
        "big": build_image(base / "big", ref="v1", seed="big", payload=5 * 1024 * 1024),
    }


def write_project(root: Path, image_path: str, target: str | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    config = root / "artreg.toml"
    config.write_text(
        '[project]\nname = "demo"\n\n'
        "[[artifacts]]\n"
        'name = "demo-image"\ntype = "oci"\n'
        f'path = "{image_path}"\nrepository = "team/demo"\n\n'
        + (target or '[targets.test]\ntype = "dir"\npath = "public"\n')
    )
    return config


def apply(config: Path, tag: str, *extra: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["apply", "--config", str(config), "--tag", tag, "--now", NOW, *extra])
    return code, out.getvalue(), err.getvalue()


def stored(root: Path) -> dict[str, bytes]:
    """Every object of a dir target (a snapshot, sidecars excluded)."""
    if not root.exists():
        return {}
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".artreg-meta" not in p.parts
    }


@contextlib.contextmanager
def serving(root: Path) -> Iterator[str]:
    server = make_server(root)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield host_of(server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def pulled_digest(host: str, ref: str, dest: Path, *options: str) -> str:
    """skopeo copy docker://host/ref -> oci:dest; the digest of the manifest it wrote."""
    skopeo(
        "copy",
        "--quiet",
        "--preserve-digests",
        "--src-tls-verify=false",
        *options,
        f"docker://{host}/{ref}",
        f"oci:{dest}:x",
    )
    index = json.loads((dest / "index.json").read_text())
    digest: str = index["manifests"][0]["digest"]
    return digest


def check_pull(host: str, built: Built, tag: str, tmp_path: Path) -> None:
    ref = f"team/demo:{tag}"
    tmp_path.mkdir(parents=True, exist_ok=True)
    raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{host}/{ref}").stdout
    assert json.loads(raw)["mediaType"] == built.media_type
    tags = json.loads(
        skopeo("list-tags", "--tls-verify=false", f"docker://{host}/team/demo").stdout
    )
    assert tag in tags["Tags"]
    if built.media_type == OCI_INDEX:
        multi = ("--multi-arch=all",)
        assert pulled_digest(host, ref, tmp_path / "all", *multi) == built.digest
        arm = pulled_digest(host, ref, tmp_path / "arm", "--override-arch", "arm64")
        assert arm == built.platforms["linux/arm64"]
        inspect = json.loads(
            skopeo(
                "inspect",
                "--tls-verify=false",
                "--override-arch",
                "arm64",
                f"docker://{host}/{ref}",
            ).stdout
        )
        assert inspect["Architecture"] == "arm64"
    else:
        assert pulled_digest(host, ref, tmp_path / "pulled") == built.digest


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("single", "layout"),
        ("multi", "layout"),
        ("multi", "oci-archive"),
        ("big", "oci-archive.gz"),
        ("single", "docker-archive"),
        ("big", "docker-archive.gz"),
    ],
)
def test_apply_to_a_dir_target_and_pull_through_artreg_serve(
    images: dict[str, Built], tmp_path: Path, name: str, source: str
) -> None:
    built = images[name]
    if source == "layout":
        path = f"{built.root}:v1"
    else:
        kind = source.removesuffix(".gz")
        path = str(to_archive(built, kind, tmp_path / "image.tar"))
        if source.endswith(".gz"):
            path = str(compress_file(Path(path), tmp_path / "image.tar.gz"))
        if kind == "docker-archive":
            built = Built(built.root, "v1", read_image(Path(path)).digest, OCI_MANIFEST)
    config = write_project(tmp_path / "project", path)
    code, _, err = apply(config, "v1.2.3+feat")
    assert code == 0, err
    public = tmp_path / "project" / "public"
    build = build_from_bytes((public / "_artreg/builds/v1.2.3_feat.json").read_bytes(), "m")
    [entry] = build.images
    assert (entry.repository, entry.tag, entry.digest) == ("team/demo", "v1.2.3_feat", built.digest)
    assert entry.media_type == built.media_type
    # The manifest is served byte for byte under its digest and its tag.
    tree = stored(public)
    assert (
        tree["v2/team/demo/manifests/v1.2.3_feat"] == tree[f"v2/team/demo/manifests/{built.digest}"]
    )
    assert verify_images(DirStore(public), [build], deep=True).problems == []
    with serving(public) as host:
        check_pull(host, built, "v1.2.3_feat", tmp_path)


def test_republishing_uploads_no_blob(images: dict[str, Built], tmp_path: Path) -> None:
    config = write_project(tmp_path / "project", f"{images['multi'].root}:v1")
    public = tmp_path / "project" / "public"
    assert apply(config, "v1.0.0")[0] == 0
    code, out, _ = apply(config, "v1.0.0", "--json")
    assert code == 0
    assert json.loads(out)["uploaded"] == 0
    # The same image under another tag: a tag manifest and the tag list, no blob.
    store = DirStore(public)
    image = read_image(images["multi"].root)
    plan = plan_images(
        store, [ImageSource("demo-image", "team/demo", image)], "v1.0.1", Convention()
    )
    publish_images(store, plan)
    written = [s.action.key for s in plan.steps()]
    assert written == ["v2/team/demo/manifests/v1.0.1", "v2/team/demo/tags/list"]
    assert store.requests["PutObject"] == 2
    tags = json.loads((public / "v2/team/demo/tags/list").read_bytes())
    assert tags == {"name": "team/demo", "tags": ["v1.0.0", "v1.0.1"]}


def test_republishing_an_archive_uploads_nothing(images: dict[str, Built], tmp_path: Path) -> None:
    archive = to_archive(images["big"], "oci-archive", tmp_path / "image.tar")
    config = write_project(tmp_path / "project", str(archive))
    assert apply(config, "v1.0.0")[0] == 0
    before = stored(tmp_path / "project" / "public")
    code, out, _ = apply(config, "v1.0.0", "--json")
    assert code == 0
    assert json.loads(out)["uploaded"] == 0
    assert stored(tmp_path / "project" / "public") == before


def test_a_release_cannot_change_its_image(images: dict[str, Built], tmp_path: Path) -> None:
    project = tmp_path / "project"
    config = write_project(project, f"{images['single'].root}:v1")
    assert apply(config, "v1.0.0")[0] == 0
    before = stored(project / "public")
    write_project(project, f"{images['other'].root}:v1")
    code, _, err = apply(config, "v1.0.0")
    assert code == 1
    assert "release v1.0.0 is already published with other content" in err
    assert "v2/team/demo/manifests/v1.0.0" in err
    assert stored(project / "public") == before


def _corrupt_digest(built: Built) -> None:
    layer = built.blob(built.blobs[-1])
    data = bytearray(layer.read_bytes())
    data[-1] ^= 1
    layer.write_bytes(bytes(data))


def _remove_blob(built: Built) -> None:
    built.blob(built.blobs[0]).unlink()


def _unknown_type(built: Built) -> None:
    index = json.loads((built.root / "index.json").read_text())
    index["manifests"][0]["mediaType"] = "application/vnd.example.unknown+json"
    (built.root / "index.json").write_text(json.dumps(index))


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (_corrupt_digest, "content does not match its digest"),
        (_remove_blob, "is missing"),
        (_unknown_type, "is not an image manifest or index"),
        ("truncate", "the archive is truncated"),
    ],
)
def test_bad_input_is_refused_before_any_upload(
    images: dict[str, Built], tmp_path: Path, breakage: object, message: str
) -> None:
    project = tmp_path / "project"
    # A target that already holds a build: nothing may be added to it.
    config = write_project(project, f"{images['single'].root}:v1")
    assert apply(config, "v0.9.0")[0] == 0
    before = stored(project / "public")
    broken = tmp_path / "broken"
    shutil.copytree(images["multi"].root, broken)
    built = Built(broken, "v1", images["multi"].digest, OCI_INDEX, blobs=images["multi"].blobs)
    if breakage == "truncate":
        archive = to_archive(built, "oci-archive", tmp_path / "image.tar")
        archive.write_bytes(archive.read_bytes()[: archive.stat().st_size * 2 // 3])
        path = str(archive)
    else:
        assert callable(breakage)
        breakage(built)
        path = f"{broken}:v1"
    write_project(project, path)
    code, _, err = apply(config, "v1.0.0")
    assert code == 1
    assert message in err
    assert err.count("artreg: error:") == 1
    assert stored(project / "public") == before


def test_a_tag_illegal_for_oci_is_refused_before_any_request(
    images: dict[str, Built], tmp_path: Path
) -> None:
    store = DirStore(tmp_path / "public")
    source = ImageSource("demo-image", "team/demo", read_image(images["single"].root))
    for tag in ("-v1.0.0", "v" * 129, ".hidden"):
        with pytest.raises(InvalidOciTag, match="is not a valid OCI tag"):
            plan_images(store, [source], tag, Convention())
    assert sum(store.requests.values()) == 0
    assert stored(tmp_path / "public") == {}


def test_verify_image_reports_missing_and_corrupt_blobs(
    images: dict[str, Built], tmp_path: Path
) -> None:
    config = write_project(tmp_path / "project", f"{images['multi'].root}:v1")
    assert apply(config, "v1.0.0")[0] == 0
    public = tmp_path / "project" / "public"
    store = DirStore(public)
    build = build_from_bytes(store.get("_artreg/builds/v1.0.0.json"), "m")
    elsewhere = dataclasses.replace(
        build, images=tuple(dataclasses.replace(i, tag="v9.9.9") for i in build.images)
    )

    def verify_image(deep: bool = False, at: Build = build) -> list[str]:
        return verify_images(store, [at], deep).problems

    assert verify_image() == []
    assert verify_image(at=elsewhere) == [
        f"{store.description}: team/demo:v9.9.9: the tag's manifest is missing"
    ]
    layers = images["multi"].blobs
    corrupt = public / f"v2/team/demo/blobs/{layers[-1]}"
    data = bytearray(corrupt.read_bytes())
    data[0] ^= 1
    corrupt.write_bytes(bytes(data))
    assert verify_image() == []  # same size: only --deep sees it
    [problem] = verify_image(deep=True)
    assert f"blob {layers[-1]} does not match its digest" in problem
    (public / f"v2/team/demo/blobs/{layers[1]}").unlink()
    problems = verify_image()
    assert any(f"blob {layers[1]} is missing" in p for p in problems)


def test_apply_to_moto_and_pull_from_the_bucket(
    images: dict[str, Built], moto_backend: S3Backend, tmp_path: Path
) -> None:
    target = moto_backend.target(prefix="_releases/", website=True)
    for n, (name, tag) in enumerate([("single", "v1.0.0"), ("multi", "v1.1.0")]):
        config = write_project(
            tmp_path / f"project{n}", f"{images[name].root}:v1", moto_backend.toml(target)
        )
        code, _, err = apply(config, tag)
        assert code == 0, err
    store = open_store(target, tmp_path)
    build = build_from_bytes(store.get("_artreg/builds/v1.1.0.json"), "m")
    assert verify_images(store, [build], deep=True).problems == []
    with bucket_website(moto_backend.endpoint, str(target.bucket), target.prefix) as proxy:
        host = host_of(proxy)
        check_pull(host, images["single"], "v1.0.0", tmp_path / "a")
        check_pull(host, images["multi"], "v1.1.0", tmp_path / "b")
        tags = json.loads(
            skopeo("list-tags", "--tls-verify=false", f"docker://{host}/team/demo").stdout
        )
        assert tags["Tags"] == ["v1.0.0", "v1.1.0"]
        assert "GET /v2/" in proxy.paths
    # Again: nothing to write.
    code, out, _ = apply(config, "v1.1.0", "--json")
    assert (code, json.loads(out)["uploaded"]) == (0, 0)


def test_apply_to_ceph_rgw_and_pull_from_its_website_endpoint(
    images: dict[str, Built], rgw_backend: S3Backend, tmp_path: Path
) -> None:
    """The RGW path of docs/buckets.md: a website bucket, served by RGW itself.

    RGW answers with website semantics (index documents, anonymous reads)
    when the Host is ``<bucket>.s3-website.test``; the proxy only sets that
    Host, everything else is RGW's own answer.
    """
    target = rgw_backend.target(website=True)  # no prefix: the registry is at the root
    for n, (name, tag) in enumerate([("single", "v1.0.0"), ("multi", "v1.1.0")]):
        config = write_project(
            tmp_path / f"project{n}", f"{images[name].root}:v1", rgw_backend.toml(target)
        )
        code, _, err = apply(config, tag)
        assert code == 0, err
    port = rgw_backend.endpoint.rsplit(":", 1)[1]
    website_host = f"{target.bucket}.{rgw.WEBSITE_DOMAIN}:{port}"

    def as_website(method: str, path: str, headers: dict[str, str]) -> Reply | None:
        set_header(headers, "Host", website_host)
        return None

    with s3proxy.running(rgw_backend.endpoint, as_website) as proxy:
        host = proxy.endpoint.removeprefix("http://")
        with urllib.request.urlopen(f"{proxy.endpoint}/v2/") as response:
            assert response.status == 200  # the index document v2/index.html
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{proxy.endpoint}/v2/team/demo/manifests/nothing")
        assert missing.value.code == 404  # not 403: the policy grants s3:ListBucket
        check_pull(host, images["single"], "v1.0.0", tmp_path / "a")
        check_pull(host, images["multi"], "v1.1.0", tmp_path / "b")
    assert all(header(e.headers, "Host") == website_host for e in proxy.exchanges)


def test_staging_leaves_nothing_and_cleans_a_killed_runs_leftovers(
    images: dict[str, Built], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A compressed archive is staged in $TMPDIR; after apply and plan nothing is left
    there, and a staging directory a SIGKILLed run left (unlocked, old) is removed."""
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setenv("TMPDIR", str(private))
    monkeypatch.setattr("tempfile.tempdir", None)
    monkeypatch.setattr("artreg.stores.scratch._swept", set())  # a new process
    leftover = private / "artreg-scratch-oci-killed"
    leftover.mkdir()
    (leftover / "1").write_bytes(b"x" * 1024)
    hour_ago = time.time() - 3600
    os.utime(leftover, (hour_ago, hour_ago))
    archive = to_archive(images["single"], "oci-archive", tmp_path / "image.tar")
    compressed = compress_file(archive, tmp_path / "image.tar.gz")
    config = write_project(tmp_path / "project", str(compressed))

    assert apply(config, "v1.0.0")[0] == 0
    assert main(["plan", "--config", str(config), "--tag", "v1.0.1", "--now", NOW]) == 0

    assert list(private.iterdir()) == []
