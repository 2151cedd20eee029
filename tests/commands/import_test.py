"""``artreg import``: adopt a Garage-style ``_releases/<version>/<platform>/garage`` tree.

50 versions x 3 platforms laid out by hand (no manifests), as Garage's bucket
is today. Import must upload nothing: the only writes are the 50 manifests and
the index documents; every recorded sha256 is the file's; a second run writes
nothing; a directory that is not a tag is skipped with a message.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from publishing import Site, check_references, follow_index, make_site

import artreg.stores
from artreg.config import Target
from artreg.core.keys import site_keys
from artreg.core.manifest import manifest_key, parse_time
from artreg.core.tags import encode_tag
from artreg.publish.lease import LEASE_KEY
from artreg.stores import PutRequest, Store

PLATFORMS = (
    "x86_64-unknown-linux-musl",
    "aarch64-unknown-linux-musl",
    "armv6l-unknown-linux-musleabihf",
)
RELEASES = [f"v0.{minor}.{patch}" for minor in range(8) for patch in range(5)]  # 40
EXTRAS = [f"v0.{minor}.0-rc1" for minor in range(1, 9)] + ["v0.8.2+feat", "v1.0.0-beta.2"]
VERSIONS = RELEASES + EXTRAS
NOT_TAGS = ("latest", "v0.8-rc2")
PAGE_SIZE = 10


def content(version: str, platform: str) -> bytes:
    return f"garage {version} for {platform}\n".encode() * (1 + len(version) % 3)


def garage_tree(store: Store) -> dict[str, bytes]:
    """The hand-made tree (keys relative to _releases/); also two dirs that are no tag."""
    files = {
        f"{version.replace('+', '_')}/{platform}/garage": content(version, platform)
        for version in VERSIONS
        for platform in PLATFORMS
    }
    for name in NOT_TAGS:
        files[f"{name}/{PLATFORMS[0]}/garage"] = b"not a version\n"
    requests = [PutRequest(k, v, "application/octet-stream") for k, v in files.items()]
    store.put_many(requests)
    return files


def recording_puts(site: Site) -> list[tuple[str, str]]:
    """(store description, key) of every put made by the stores ``site``'s commands open."""
    recorded: list[tuple[str, str]] = []

    def opening(target: Target, base: Path) -> Store:
        store: Store = artreg.stores.open_store(target, base)
        put = store.put

        def recording(req: PutRequest, **conditions: Any) -> str:
            recorded.append((store.description, req.key))
            return put(req, **conditions)

        store.put = recording  # type: ignore[method-assign]
        return store

    site.open_store = opening
    return recorded


@pytest.mark.parametrize("kind", ["dir", "moto"])
def test_import_a_garage_tree(request: pytest.FixtureRequest, tmp_path: Path, kind: str) -> None:
    site: Site = make_site(request, tmp_path, kind, page_size=PAGE_SIZE)
    if kind == "dir":  # s3 sites already live under _releases/
        site.target = site.target.__class__(name="test", type="dir", path="public/_releases")
        site.configure()
    store = site.store()
    files = garage_tree(store)
    if kind == "dir":  # a tree uploaded long ago: v0.1.0's files date from May 2024
        old = dt.datetime(2024, 5, 1, 12, 0, 7, tzinfo=dt.timezone.utc).timestamp()
        for platform in PLATFORMS:
            os.utime(Path(store.root) / f"v0.1.0/{platform}/garage", (old, old))
    before = {info.key: (info.etag, info.last_modified) for info in store.list()}

    put_keys = recording_puts(site)
    result = site.run("import", "--target", "test", "--json")
    assert result.code == 0, result.err
    report = result.json()
    assert sorted(report["imported"]) == sorted(VERSIONS)
    assert report["skipped"] == sorted(NOT_TAGS)
    for name in NOT_TAGS:
        assert f"artreg: skipped {name}/: not a tag under this convention" in result.err

    # Zero uploads: every put is a manifest, an index page, the root, index.html (or the lease).
    keys = [key for _, key in put_keys]
    assert len(keys) == len(set(keys)), "nothing is written twice"
    manifests = {manifest_key(v) for v in VERSIONS}
    pages = {k for k in keys if k.startswith("_artreg/index/")}
    lease = {LEASE_KEY} if site.kind != "dir" or store.supports_conditional_writes() else set()
    # Each build's SHA256SUMS and page (unsigned), and the site's documents; latest/ holds
    # keys artreg did not write (NOT_TAGS), so it is left alone: no copies.
    built = {k for v in VERSIONS for k in site_keys(v) if not k.endswith(".sig")}
    documents = {"_artreg/mirrors.json", "latest.json", "releases.xml"}
    assert set(keys) == manifests | pages | {"index.json", "index.html"} | lease | built | documents
    assert len([p for p in pages if p.endswith(".json")]) == 4 + 1  # 40 + 10, 10 per page
    writes = {
        op: n
        for op, n in report["requests"].items()
        if op in ("PutObject", "CopyObject", "CreateMultipartUpload", "UploadPart") and n
    }
    assert writes == {"PutObject": len(keys)}
    # Nothing that existed changed.
    after = {info.key: (info.etag, info.last_modified) for info in store.list()}
    assert {k: after[k] for k in before} == before

    for version in VERSIONS:
        manifest = json.loads(store.get(manifest_key(version)))
        assert manifest["tag"] == version
        # Each build keeps its history: published when its files were, not today.
        uploaded = max(t for k, (_, t) in before.items() if k.startswith(encode_tag(version) + "/"))
        assert parse_time(manifest["published"]) == uploaded.replace(microsecond=0), version
        assert manifest["category"] == ("release" if version in RELEASES else "extra")
        assert {f["platform"] for f in manifest["files"]} == set(PLATFORMS)
        for file in manifest["files"]:
            data = files[file["key"]]
            assert file["sha256"] == hashlib.sha256(data).hexdigest()
            assert file["size"] == len(data)
            assert file["key"] == f"{version.replace('+', '_')}/{file['platform']}/garage"
    indexed = follow_index(store)
    # Releases by semver precedence, highest first: v0.7.4 ... v0.0.0 (not string order).
    assert [e["tag"] for e in indexed["release"]] == sorted(
        RELEASES, key=lambda v: tuple(int(x) for x in v[1:].split(".")), reverse=True
    )
    assert sorted(e["tag"] for e in indexed["extra"]) == sorted(EXTRAS)
    assert indexed["dev"] == []
    assert check_references(store) == []
    verify = site.run("verify", "--target", "test", "--deep")
    assert verify.code == 0, verify.out + verify.err

    # Idempotent: a second run imports nothing and writes nothing.
    put_keys.clear()
    again = site.run("import", "--target", "test", "--json")
    assert again.code == 0, again.err
    assert again.json()["imported"] == []
    assert sorted(again.json()["alreadyManaged"]) == sorted(VERSIONS)
    assert put_keys == []
    assert again.json()["requests"].get("PutObject", 0) == 0


# Next to Garage's tree: what import must leave alone, forever (keys relative to _releases/).
LEFT_ALONE = {
    "robots.txt": b"User-agent: *\n",
    "latest/x86_64-unknown-linux-musl/garage": b"the latest build, by hand\n",
    "latest/aarch64-unknown-linux-musl/garage": b"the latest build, by hand\n",
    "v0.9.0/<script>/garage": b"a planted platform\n",
    "v0.9.0/x86_64-unknown-linux-musl/garage+debug": b"a name that breaks URLs\n",
    "v0.9.0/a/b/c/d/garage": b"four platform segments\n",
    "_other/x": b"another tool's\n",
    # a version with hand-made checksums: artreg writes its own SHA256SUMS there, so the
    # whole version stays someone else's
    "v0.8.0/x86_64-unknown-linux-musl/garage": b"garage v0.8.0\n",
    "v0.8.0/SHA256SUMS": b"0000  x86_64-unknown-linux-musl/garage\n",
}


@pytest.mark.parametrize("kind", ["dir", "moto", "s3rver"])
def test_import_adopts_what_it_can_and_gc_leaves_the_rest_alone(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str
) -> None:
    extra = '[tags.dev]\nkeep_last = 0\nexpire_after = "1d"\n\n[gc]\ngrace_period = "0s"\n'
    site: Site = make_site(request, tmp_path, kind, extra_toml=extra)
    store = site.store()
    tree = {f"v0.9.0/{p}/garage": content("v0.9.0", p) for p in PLATFORMS}
    planted = {**tree, **LEFT_ALONE}
    store.put_many([PutRequest(k, v, "application/octet-stream") for k, v in planted.items()])
    if site.kind == "moto":  # keys a file system cannot hold (s3rver normalises them away)
        raw = {"v0.9.0/../../escape/garage": b"dot-dot\n", "v0.9.0/../garage": b"dot-dot\n"}
        client = site.backend.client()
        for key, body in raw.items():
            client.put_object(Bucket=site.target.bucket, Key=site.target.prefix + key, Body=body)
        planted.update(raw)

    result = site.run("import", "--target", "test", "--json")
    assert result.code == 0, result.err
    assert result.json()["imported"] == ["v0.9.0"]
    assert "artreg: skipped latest/: not a tag under this convention; left alone" in result.err
    refused = result.json()["refused"]
    assert any(
        line.startswith("skipped v0.8.0/: 'v0.8.0/SHA256SUMS' is not artreg's") for line in refused
    ), refused
    assert "artreg: latest/ holds keys artreg did not write" in result.err
    for key in ("v0.9.0/<script>/garage", "v0.9.0/a/b/c/d/garage"):
        assert any(line.startswith(f"skipped {key!r}: platform ") for line in refused), refused
    assert any("garage+debug" in line and "file name" in line for line in refused), refused
    if site.kind == "moto":
        assert sum(line.startswith("skipped 'v0.9.0/..") for line in refused) == 2, refused
    manifest = json.loads(store.get(manifest_key("v0.9.0")))
    assert sorted(f["key"] for f in manifest["files"]) == sorted(tree)

    time.sleep(1.1)  # LastModified has whole seconds: past a grace of 0 s
    dry = site.run("gc", "--target", "test", "--dry-run")
    assert dry.code == 0, dry.err
    for key in LEFT_ALONE:
        assert f"  = {key}  not artreg's, left alone" in dry.out.splitlines(), dry.out
    assert "  - " not in dry.out
    gc = site.run("gc", "--target", "test", "--json")
    assert gc.code == 0, gc.err
    assert gc.json()["deleted"] == 0
    verify = site.run("verify", "--target", "test")
    assert verify.code == 0, verify.out + verify.err
    assert "not artreg's, left alone" in verify.err
    if site.backend is not None:
        client = site.backend.client()
        for key, body in planted.items():
            got = client.get_object(Bucket=site.target.bucket, Key=site.target.prefix + key)
            assert got["Body"].read() == body, key
    else:
        assert {k: store.get(k) for k in planted} == planted
    html = store.get("index.html").decode()
    assert "<script>" not in html and "latest/" not in html
    assert "v0.8.0" not in html  # the version with hand-made checksums stays unlisted
