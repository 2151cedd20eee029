"""ETags come from the store and are never computed.

On SSE-KMS / SSE-C buckets, after multipart uploads and on some S3-compatible
servers an ETag is not the MD5 of the bytes. The no-op decisions (apply,
``oci`` publish, gc's tag lists) and the root's If-Match must hold there too.
Two real set-ups without MD5 ETags: moto behind :mod:`etag_proxy` (opaque
tokens, different for equal bytes under two keys, a computed MD5 in If-Match
matches nothing), and a dir target whose sidecars hold opaque ETags (a
directory synced from elsewhere).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from etag_proxy import EtagProxy, opaque_etags
from oci.builder import Built, build_image
from oci.gc_test import derive, project
from oci.gc_test import run as run_cli
from oci.publish_test import apply as apply_image
from oci.publish_test import write_project
from publishing import (
    CI_VARIABLES,
    Site,
    check_references,
    follow_index,
    keys_written,
    writes,
)
from servers import S3Backend, Server

from artreg.core.index import ROOT_KEY
from artreg.core.manifest import build_from_bytes, manifest_key
from artreg.errors import PreconditionFailed
from artreg.oci.verify import verify_images
from artreg.stores import PutRequest, open_store
from artreg.stores.dir import META_DIR, DirStore
from artreg.stores.s3 import S3Store

DEV_A = "a" * 40
REPO = "team/demo"
WRITE_OPS = ("PutObject", "DeleteObjects", "CopyObject", "CompleteMultipartUpload")


def at(day: int) -> str:
    return f"2025-06-{day:02d}T12:00:00Z"


def md5(body: bytes) -> str:
    return hashlib.md5(body, usedforsecurity=False).hexdigest()


@pytest.fixture
def proxied(
    moto_server: Server, aws_credentials: dict[str, str]
) -> Iterator[tuple[S3Backend, EtagProxy]]:
    """moto behind the ETag-rewriting proxy, as an S3 backend of its own."""
    with opaque_etags(moto_server.endpoint) as proxy:
        yield S3Backend(kind="moto", endpoint=proxy.endpoint, env=dict(aws_credentials)), proxy


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    root = tmp_path_factory.mktemp("etag-images")
    base = build_image(root / "base", ref="v1", seed="base", layers=1)
    return {
        "multi": build_image(root / "multi", ref="v1", platforms=("linux/amd64", "linux/arm64")),
        "old": derive(base, root / "old", "old"),
        "new": derive(base, root / "new", "new"),
    }


def s3_site(backend: S3Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Site:
    for name in CI_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    root = tmp_path / "project"
    root.mkdir()
    site = Site("moto", root, backend.target(prefix="_releases/"), backend)
    site.configure()
    return site


def no_writes(report: dict[str, object]) -> bool:
    requests = report["requests"]
    assert isinstance(requests, dict)
    return not any(requests.get(op) for op in WRITE_OPS)


def test_the_proxy_hands_out_no_md5_and_refuses_a_computed_one(
    proxied: tuple[S3Backend, EtagProxy], tmp_path: Path
) -> None:
    backend, proxy = proxied
    store = open_store(backend.target(), tmp_path)
    etag = store.put(PutRequest("a", b"same bytes", "text/plain"))
    assert etag != md5(b"same bytes")
    assert store.put(PutRequest("b", b"same bytes", "text/plain")) != etag  # like SSE-KMS
    assert store.get_with_etag("a") == (b"same bytes", etag)
    head = store.head("a")
    assert head is not None and head.etag == etag
    assert {i.key: i.etag for i in store.list()}["a"] == etag
    with pytest.raises(PreconditionFailed):
        store.put(PutRequest("a", b"new", "text/plain"), if_match=md5(b"same bytes"))
    store.put(PutRequest("a", b"new", "text/plain"), if_match=etag)
    assert store.get("a") == b"new"
    assert proxy.rewritten > 0


def test_a_multipart_upload_reports_the_servers_etag(
    proxied: tuple[S3Backend, EtagProxy], tmp_path: Path
) -> None:
    backend, _ = proxied
    target = backend.target()
    mib = 1024 * 1024
    store = S3Store(
        str(target.bucket),
        endpoint=target.endpoint,
        multipart_threshold=5 * mib,
        multipart_chunksize=5 * mib,
    )
    data = bytes(range(256)) * (6 * mib // 256)
    path = tmp_path / "big"
    path.write_bytes(data)
    request = PutRequest("big", path, "x/y", sha256=hashlib.sha256(data).hexdigest())
    etag = store.put(request, if_none_match=True)
    assert store.requests["CompleteMultipartUpload"] == 1
    assert {i.key: i.etag for i in store.list()} == {"big": etag}
    assert store.get_with_etag("big") == (data, etag)
    with pytest.raises(PreconditionFailed):
        store.put(request, if_none_match=True)


def test_apply_reruns_write_nothing_and_the_locked_root_write_succeeds(
    proxied: tuple[S3Backend, EtagProxy], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend, _ = proxied
    site = s3_site(backend, tmp_path, monkeypatch)
    first = site.publish("v1.0.0", now=at(1))
    assert first["mode"] == "locked"
    store = site.store()
    for info in store.list():
        assert info.etag != md5(store.get(info.key)), info.key
    again = site.apply("v1.0.0", at(2))
    assert (again["build"], again["actions"], writes(again)) == ("unchanged", [], {})
    assert no_writes(again)

    # A new build rewrites the root with If-Match on the etag its GET returned.
    dev = site.publish(DEV_A, now=at(3))
    assert (dev["mode"], dev["rounds"]) == ("locked", 1)
    assert ROOT_KEY in keys_written(dev)
    release = site.publish("v1.1.0", now=at(4))  # published whole under the lease
    assert (release["mode"], release["rounds"]) == ("locked", 1)
    for tag, day in (("v1.1.0", 5), (DEV_A, 6)):
        site.write_build(tag)  # the same files as when it was published
        rerun = site.apply(tag, at(day))
        assert (rerun["actions"], writes(rerun)) == ([], {})
        assert no_writes(rerun)
    index = follow_index(store)
    assert sorted(e["tag"] for entries in index.values() for e in entries) == sorted(
        ["v1.0.0", "v1.1.0", DEV_A]
    )
    assert check_references(store) == []
    assert site.run("verify").code == 0


def test_an_image_republished_uploads_nothing(
    proxied: tuple[S3Backend, EtagProxy], images: dict[str, Built], tmp_path: Path
) -> None:
    backend, _ = proxied
    target = backend.target(prefix="_releases/")
    config = write_project(tmp_path / "p", f"{images['multi'].root}:v1", backend.toml(target))
    config.write_text(
        config.read_text().replace('repository = "', 'aliases = true\nrepository = "')
    )
    for tag in ("v1.0.0", "v1.1.0"):
        code, _, err = apply_image(config, tag)
        assert code == 0, err
    store = open_store(target, tmp_path)
    tagged = store.list(f"v2/{REPO}/manifests/")
    assert {i.key.rsplit("/", 1)[1] for i in tagged} >= {"latest", "v1.0.0", "v1.1.0"}
    for tag in ("v1.1.0", "v1.0.0"):
        code, out, err = apply_image(config, tag, "--json")
        assert code == 0, err
        report = json.loads(out)
        assert (report["uploaded"], report["actions"]) == (0, [])
        assert no_writes(report)
    build = build_from_bytes(store.get(manifest_key("v1.1.0")), "m")
    assert verify_images(store, [build], deep=True).problems == []


def test_gc_sweeps_an_image_and_leaves_foreign_objects(
    proxied: tuple[S3Backend, EtagProxy], images: dict[str, Built], tmp_path: Path
) -> None:
    backend, _ = proxied
    target = backend.target(prefix="_releases/")
    toml = backend.toml(target)
    store = open_store(target, tmp_path)
    bucket = open_store(dataclasses.replace(target, prefix=""), tmp_path)
    # Foreign objects: beside the target's prefix, and a repository nothing declares.
    # (Orphans inside the prefix are gc's ownership question, tested in its own tests.)
    foreign = {
        "robots.txt": b"User-agent: *\n",
        "legacy/latest/app": b"old tree",
        "_releases/v2/other/blobs/sha256:" + "0" * 64: b"not declared",
        "_releases/v2/other/tags/list": b'{"name": "other", "tags": []}\n',
    }
    for key, body in foreign.items():
        bucket.put(PutRequest(key, body, "application/octet-stream"))
    config = project(tmp_path, images["old"], grace="0s", target=toml)
    code, _, err = run_cli(config, "apply", "--tag", "v1.0.0-rc.1", "--now", at(1))
    assert code == 0, err
    time.sleep(1.1)  # LastModified has whole seconds: make the old objects strictly older
    project(tmp_path, images["new"], grace="0s", target=toml)
    args = ("--now", at(2), "--allow-mass-delete", "--json")
    code, out, err = run_cli(config, "apply", "--tag", "v1.0.0-rc.2", *args)
    assert code == 0, err
    new = images["new"]
    listed = {info.key for info in store.list(f"v2/{REPO}/")}
    assert listed == {
        f"v2/{REPO}/tags/list",
        f"v2/{REPO}/manifests/v1.0.0-rc.2",
        f"v2/{REPO}/manifests/{new.digest}",
        *(f"v2/{REPO}/blobs/{b}" for b in new.blobs),
    }
    assert json.loads(store.get(f"v2/{REPO}/tags/list"))["tags"] == ["v1.0.0-rc.2"]
    code, out, err = run_cli(config, "gc", "--now", at(3), "--json")
    assert code == 0, err
    assert no_writes(json.loads(out)), out
    assert run_cli(config, "verify")[0] == 0
    for key, body in foreign.items():
        assert bucket.get(key) == body


def _opaque_sidecars(public: Path) -> int:
    """Replace the etags in the dir target's sidecars with opaque tokens.

    Not the build manifests': the root's fingerprints record their etags, and
    new etags for them would (rightly) make the next run rebuild the index.
    The proxy test covers opaque manifest etags from the first write on.
    """
    changed = 0
    objects = public / META_DIR / "objects"
    for sidecar in objects.rglob("*.json"):
        if sidecar.relative_to(objects).parts[:2] == ("_artreg", "builds"):
            continue
        doc = json.loads(sidecar.read_text())
        token = hashlib.sha256(f"{sidecar}\n{doc['etag']}".encode()).hexdigest()[:32]
        doc["etag"] = f"kms-{token}"
        sidecar.write_text(json.dumps(doc))
        changed += 1
    return changed


def test_a_dir_target_with_opaque_etags(
    images: dict[str, Built], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in CI_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    config = write_project(tmp_path / "p", f"{images['multi'].root}:v1")
    public = tmp_path / "p" / "public"
    assert apply_image(config, "v1.0.0")[0] == 0
    assert _opaque_sidecars(public) > 5
    store = DirStore(public)
    root = store.locate(ROOT_KEY)
    assert root is not None and root.info.etag.startswith("kms-")
    assert all(info.etag.startswith("kms-") for info in store.list("v2/"))
    code, out, err = apply_image(config, "v1.0.0", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert (report["uploaded"], report["actions"]) == (0, [])
    assert no_writes(report)
    # A new build: the root is written with If-Match on its (opaque) etag.
    code, out, err = apply_image(config, DEV_A, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert (report["mode"], report["rounds"]) == ("locked", 1)
    assert ROOT_KEY in keys_written(report)
    assert check_references(store) == []
