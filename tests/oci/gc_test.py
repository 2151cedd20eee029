"""Retention sweeps images: expired tags, then unreachable manifests and blobs; shared layers stay.

Two extra builds whose images share a base layer; ``[tags.extra] keep_last = 1``
(and ``expire_after = "12h"``) expires the older one when the newer is published.
The dir target's objects are backdated past the grace period (their
LastModified is the file's mtime), so what is young and what is old is decided
by the test, not by the clock.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from oci.builder import OCI_LAYER, Built, build_image, layer_tar, skopeo, write_blob
from oci.proxy import bucket_website, host_of
from oci.publish_test import pulled_digest, serving, stored
from servers import S3Backend

from artreg.cli import main
from artreg.stores import open_store
from artreg.stores.base import PutRequest
from artreg.stores.dir import DirStore

REPO = "team/demo"
OLD_TAG, NEW_TAG = "v1.0.0-rc.1", "v1.0.0-rc.2"
WRITES = ("PutObject", "DeleteObjects", "DeleteObject", "CopyObject")


def derive(base: Built, dest: Path, seed: str) -> Built:
    """``base`` (one layer) plus a layer of its own: the base layer is shared."""
    shutil.copytree(base.root, dest)
    blobs = dest / "blobs" / "sha256"
    manifest = json.loads((blobs / base.digest[7:]).read_text())
    config = json.loads((blobs / manifest["config"]["digest"][7:]).read_text())
    tar = layer_tar({f"app/{seed}.txt": seed.encode() * 100})
    layer, layer_size = write_blob(dest, tar)
    config["rootfs"]["diff_ids"].append(layer)  # uncompressed: the diff id is the digest
    config["config"]["Labels"] = {"seed": seed}
    config_digest, config_size = write_blob(dest, json.dumps(config).encode())
    manifest["config"] = {**manifest["config"], "digest": config_digest, "size": config_size}
    manifest["layers"].append({"mediaType": OCI_LAYER, "digest": layer, "size": layer_size})
    digest, size = write_blob(dest, json.dumps(manifest).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": base.media_type,
                "digest": digest,
                "size": size,
                "annotations": {"org.opencontainers.image.ref.name": "v1"},
            }
        ],
    }
    (dest / "index.json").write_text(json.dumps(index))
    return Built(dest, "v1", digest, base.media_type, blobs=[config_digest, *base.blobs[1:], layer])


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    root = tmp_path_factory.mktemp("gc-images")
    base = build_image(root / "base", ref="v1", seed="base", layers=1)
    return {"old": derive(base, root / "old", "old"), "new": derive(base, root / "new", "new")}


def project(root: Path, image: Built, grace: str = "1h", target: str | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    config = root / "artreg.toml"
    config.write_text(
        '[project]\nname = "demo"\n\n[tags.extra]\nkeep_last = 1\nexpire_after = "12h"\n\n'
        f'[gc]\ngrace_period = "{grace}"\n\n'
        '[[artifacts]]\nname = "demo-image"\ntype = "oci"\n'
        f'path = "{image.root}:v1"\nrepository = "{REPO}"\n\n'
        + (target or '[targets.test]\ntype = "dir"\npath = "public"\n')
    )
    return config


def run(config: Path, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([args[0], "--config", str(config), *args[1:]])
    return code, out.getvalue(), err.getvalue()


def apply(config: Path, tag: str, day: int, *extra: str) -> dict[str, object]:
    now = f"2025-06-{day:02d}T12:00:00Z"
    code, out, err = run(config, "apply", "--tag", tag, "--now", now, "--json", *extra)
    assert code == 0, err
    report: dict[str, object] = json.loads(out)
    return report


def backdate(public: Path, hours: float = 2) -> None:
    """Every object of the dir target was written ``hours`` ago."""
    moment = time.time() - hours * 3600
    for path in public.rglob("*"):
        if path.is_file() and ".artreg-meta" not in path.parts:
            os.utime(path, (moment, moment))


def keys(public: Path, sub: str) -> set[str]:
    return {k.rsplit("/", 1)[1] for k in stored(public) if k.startswith(f"v2/{REPO}/{sub}/")}


def tags_list(public: Path) -> list[str]:
    tags: list[str] = json.loads((public / f"v2/{REPO}/tags/list").read_bytes())["tags"]
    return tags


def publish_both(images: dict[str, Built], root: Path) -> tuple[Path, Path]:
    """The old image published under OLD_TAG, backdated; the config then names the new one."""
    config = project(root, images["old"])
    apply(config, OLD_TAG, 1)
    public = root / "public"
    backdate(public)
    project(root, images["new"])
    return config, public


def check_swept(images: dict[str, Built], public: Path) -> None:
    old, new = images["old"], images["new"]
    base_layer = old.blobs[1]
    assert base_layer == new.blobs[1]
    assert keys(public, "blobs") == set(new.blobs)  # the old config and own layer are gone
    assert base_layer in keys(public, "blobs")
    assert keys(public, "manifests") == {NEW_TAG, new.digest}
    assert tags_list(public) == [NEW_TAG]


def test_apply_expires_a_build_and_sweeps_its_image(
    images: dict[str, Built], tmp_path: Path
) -> None:
    config, public = publish_both(images, tmp_path)
    report = apply(config, NEW_TAG, 2, "--allow-mass-delete")
    retention = {r["tag"]: r["keep"] for r in report["retention"]}  # type: ignore[union-attr, index]
    assert retention == {NEW_TAG: True, OLD_TAG: False}
    deleted = {
        a["key"]: a["reason"]
        for a in report["actions"]  # type: ignore[union-attr]
        if a["op"] == "delete"  # type: ignore[index]
    }
    old = images["old"]
    assert deleted[f"v2/{REPO}/manifests/{OLD_TAG}"] == (
        f"{REPO} tag: retention: the build {OLD_TAG} is removed"
    )
    assert deleted[f"v2/{REPO}/blobs/{old.blobs[-1]}"].startswith(
        f"{REPO} blob: unreferenced by any kept image, "
    )
    assert f"v2/{REPO}/manifests/{old.digest}" in deleted
    check_swept(images, public)
    code, out, err = run(config, "verify")
    assert code == 0, out + err
    with serving(public) as host:
        ref = f"{REPO}:{NEW_TAG}"
        assert pulled_digest(host, ref, tmp_path / "pulled") == images["new"].digest
        tags = json.loads(
            skopeo("list-tags", "--tls-verify=false", f"docker://{host}/{REPO}").stdout
        )
        assert tags["Tags"] == [NEW_TAG]
        gone = subprocess.run(
            [
                "skopeo",
                "inspect",
                "--raw",
                "--tls-verify=false",
                f"docker://{host}/{REPO}:{OLD_TAG}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert gone.returncode != 0 and "StatusCode: 404" in gone.stderr
    # Converged: the same apply again, and a gc, write nothing.
    again = apply(config, NEW_TAG, 2, "--allow-mass-delete")
    assert again["uploaded"] == again["deleted"] == 0
    code, out, _ = run(config, "gc", "--now", "2025-06-02T12:00:00Z", "--json")
    assert code == 0
    assert json.loads(out)["deleted"] == 0
    check_swept(images, public)


def test_gc_dry_run_lists_the_image_deletions_and_writes_nothing(
    images: dict[str, Built], tmp_path: Path
) -> None:
    config, public = publish_both(images, tmp_path)
    apply(config, NEW_TAG, 2, "--no-gc")
    backdate(public)
    before = stored(public)
    now = "2025-06-02T12:00:00Z"
    code, out, err = run(config, "gc", "--dry-run", "--allow-mass-delete", "--now", now, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert not any(report["requests"].get(op) for op in WRITES), report["requests"]
    assert stored(public) == before
    old = images["old"]
    planned = [(a["op"], a["key"]) for a in report["actions"]]
    image_part = [(op, key) for op, key in planned if key.startswith("v2/")]
    assert image_part == [
        ("replace", f"v2/{REPO}/tags/list"),
        ("delete", f"v2/{REPO}/manifests/{OLD_TAG}"),
        ("delete", f"v2/{REPO}/manifests/{old.digest}"),
        *sorted(("delete", f"v2/{REPO}/blobs/{b}") for b in (old.blobs[0], old.blobs[-1])),
    ]
    code, text, _ = run(config, "gc", "--dry-run", "--allow-mass-delete", "--now", now)
    assert f"- v2/{REPO}/blobs/{old.blobs[-1]}" in text
    # build manifest, its SHA256SUMS and page, tag, manifest, two blobs
    assert "gc (dry run): 7 to delete" in text
    # The real gc then does what the dry run showed.
    code, out, err = run(config, "gc", "--allow-mass-delete", "--now", now, "--json")
    assert code == 0, err
    done = [(a["op"], a["key"]) for a in json.loads(out)["actions"]]
    assert [x for x in done if x[0] == "delete"] == [x for x in planned if x[0] == "delete"]
    check_swept(images, public)
    assert run(config, "verify")[0] == 0


def test_nothing_younger_than_the_grace_period_is_collected(
    images: dict[str, Built], tmp_path: Path
) -> None:
    config, public = publish_both(images, tmp_path)
    apply(config, NEW_TAG, 2, "--no-gc")
    store = DirStore(public)
    fresh_body = b"uploaded by a concurrent apply, not referenced yet"
    fresh = "sha256:" + hashlib.sha256(fresh_body).hexdigest()
    store.put(PutRequest(key=f"v2/{REPO}/blobs/{fresh}", body=fresh_body, content_type="x"))
    # A fresh tag of a build whose manifest is not written yet (a concurrent apply).
    pending = f"v2/{REPO}/manifests/v1.0.0-rc.9"
    old_body = (public / f"v2/{REPO}/manifests/{OLD_TAG}").read_bytes()
    store.put(PutRequest(key=pending, body=old_body, content_type=images["old"].media_type))
    now = "2025-06-02T12:00:00Z"
    code, out, err = run(config, "gc", "--allow-mass-delete", "--now", now, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["youngOrphans"] >= 1
    left = stored(public)
    assert f"v2/{REPO}/blobs/{fresh}" in left
    assert pending in left
    # The expired tag went (retention decides tags), but nothing it referenced is old
    # enough to go, and the pending tag keeps the old image anyway.
    assert f"v2/{REPO}/manifests/{OLD_TAG}" not in left
    assert keys(public, "blobs") == {*images["old"].blobs, *images["new"].blobs, fresh}
    # Hours later, with no build manifest for the pending tag: everything unreferenced goes.
    backdate(public, hours=3)
    code, out, err = run(config, "gc", "--now", now, "--json")
    assert code == 0, err
    reasons = {a["key"]: a["reason"] for a in json.loads(out)["actions"]}
    assert reasons[pending].startswith(f"{REPO} tag: tag of a build that no longer exists, 3.0 h")
    check_swept(images, public)


def test_a_repository_artreg_toml_does_not_declare_is_left_alone(
    images: dict[str, Built], tmp_path: Path
) -> None:
    config, public = publish_both(images, tmp_path)
    apply(config, NEW_TAG, 2, "--no-gc")
    other = f"v2/other/blobs/sha256:{'0' * 64}"
    DirStore(public).put(PutRequest(key=other, body=b"someone else's", content_type="x"))
    backdate(public)
    code, _, err = run(config, "gc", "--allow-mass-delete", "--now", "2025-06-02T12:00:00Z")
    assert code == 0, err
    assert other in stored(public)
    check_swept(images, public)


def test_moto_apply_sweeps_and_the_other_version_still_pulls(
    images: dict[str, Built], moto_backend: S3Backend, tmp_path: Path
) -> None:
    target = moto_backend.target(prefix="_releases/", website=True)
    toml = moto_backend.toml(target)
    config = project(tmp_path, images["old"], grace="0s", target=toml)
    apply(config, OLD_TAG, 1)
    time.sleep(1.1)  # LastModified has whole seconds: make the old objects strictly older
    project(tmp_path, images["new"], grace="0s", target=toml)
    apply(config, NEW_TAG, 2, "--allow-mass-delete")
    store = open_store(target, tmp_path)
    listed = {info.key for info in store.list(f"v2/{REPO}/")}
    new = images["new"]
    assert listed == {
        f"v2/{REPO}/tags/list",
        f"v2/{REPO}/manifests/{NEW_TAG}",
        f"v2/{REPO}/manifests/{new.digest}",
        *(f"v2/{REPO}/blobs/{b}" for b in new.blobs),
    }
    assert run(config, "verify")[0] == 0
    with bucket_website(moto_backend.endpoint, str(target.bucket), target.prefix) as proxy:
        host = host_of(proxy)
        assert pulled_digest(host, f"{REPO}:{NEW_TAG}", tmp_path / "pulled") == new.digest
        tags = json.loads(
            skopeo("list-tags", "--tls-verify=false", f"docker://{host}/{REPO}").stdout
        )
        assert tags["Tags"] == [NEW_TAG]


def test_plan_shows_the_image_deletions_and_writes_nothing(
    images: dict[str, Built], tmp_path: Path
) -> None:
    config, public = publish_both(images, tmp_path)
    before = stored(public)
    now = "2025-06-02T12:00:00Z"
    args = ("plan", "--tag", NEW_TAG, "--now", now, "--allow-mass-delete", "--json")
    code, out, err = run(config, *args)
    assert code == 0, err
    report = json.loads(out)
    assert not any(report["requests"].get(op) for op in WRITES), report["requests"]
    assert stored(public) == before
    old = images["old"]
    deletes = [a["key"] for a in report["actions"] if a["op"] == "delete"]
    assert deletes[-4:] == [
        f"v2/{REPO}/manifests/{OLD_TAG}",
        f"v2/{REPO}/manifests/{old.digest}",
        *sorted(f"v2/{REPO}/blobs/{b}" for b in (old.blobs[0], old.blobs[-1])),
    ]
    # The shared base layer is pinned by the image being published: never listed.
    assert f"v2/{REPO}/blobs/{old.blobs[1]}" not in deletes


def test_alias_tags_pull_and_move_to_the_highest_release(
    images: dict[str, Built], tmp_path: Path
) -> None:
    config = project(tmp_path, images["old"])
    config.write_text(
        config.read_text().replace('repository = "', 'aliases = true\nrepository = "')
    )
    public = tmp_path / "public"
    apply(config, "v1.0.0", 1)
    text = config.read_text().replace(str(images["old"].root), str(images["new"].root))
    config.write_text(text)
    apply(config, "v1.1.0", 2)
    assert tags_list(public) == ["latest", "v1.0", "v1.0.0", "v1.1", "v1.1.0"]
    old, new = images["old"], images["new"]
    with serving(public) as host:
        for alias, built in (("latest", new), ("v1.1", new), ("v1.0", old)):
            pulled = pulled_digest(host, f"{REPO}:{alias}", tmp_path / alias)
            assert pulled == built.digest, alias
    # A higher patch of 1.0 moves v1.0 only; latest stays on v1.1.0.
    config.write_text(text.replace(str(images["new"].root), str(images["old"].root)))
    apply(config, "v1.0.1", 3)
    manifest = public / f"v2/{REPO}/manifests"
    assert (manifest / "v1.0").read_bytes() == (manifest / "v1.0.1").read_bytes()
    assert (manifest / "latest").read_bytes() == (manifest / "v1.1.0").read_bytes()
    # Aliases are no builds' tags: a gc long after keeps them and what they reference.
    backdate(public, hours=48)
    code, out, err = run(config, "gc", "--now", "2025-06-04T12:00:00Z", "--json")
    assert code == 0, err
    assert json.loads(out)["deleted"] == 0
    assert run(config, "verify")[0] == 0
