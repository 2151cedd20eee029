"""The site objects of a release history, written to a tree and read back over HTTP.

The tree is served by ``artreg serve`` (a bucket website); every check uses
the real client tool: curl, sha256sum -c, ssh-keygen -Y verify, jq,
feedparser, tidy.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
from sshkeys import keygen

from artreg.core.index import entry_from_build
from artreg.core.latest import (
    LATEST_DIR,
    RECORD_KEY,
    highest_extra,
    highest_release,
    mirrors_from_record,
)
from artreg.core.manifest import Build, FileEntry, ImageEntry
from artreg.core.signing import identity, verify_command
from artreg.core.tags import Category, Convention, encode_tag
from artreg.publish.signing import SigningKey, sign
from artreg.render.bundle import build_objects, release_objects, signers_object, sums_of
from artreg.render.site import Site, Yanks
from artreg.serve.server import BucketWebsiteServer, make_server

T0 = dt.datetime(2025, 5, 1, tzinfo=dt.timezone.utc)
PLATFORMS = ("linux/amd64", "linux/arm64")
SITE = Site(project="garage", signer=identity("garage"))


def tool(name: str) -> str:
    binary = shutil.which(name)
    if binary is None:
        pytest.fail(f"{name} is not installed")
    return binary


def payload(tag: str, platform: str) -> bytes:
    return f"{tag} for {platform}\n".encode() * 100


def make_build(tag: str, category: Category, day: int) -> Build:
    files = tuple(
        FileEntry(
            artifact="app",
            platform=p,
            name="app",
            key=f"{encode_tag(tag)}/{p}/app",
            size=len(payload(tag, p)),
            sha256=hashlib.sha256(payload(tag, p)).hexdigest(),
        )
        for p in PLATFORMS
    )
    image = ImageEntry("img", "garage", encode_tag(tag), "sha256:" + "d" * 64, "x", 1)
    return Build(tag, category, T0 + dt.timedelta(days=day), "c" * 40, files, (image,))


class Tree:
    """A dir target written the way apply would write it, with request and byte counts."""

    def __init__(self, root: Path, key: Path) -> None:
        self.root = root
        self.key = key
        self.builds: list[Build] = []
        self.yanks: dict[str, str] = {}
        self.requests: dict[str, list[tuple[str, int]]] = {}

    def put(self, tag: str, key: str, body: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        self.requests.setdefault(tag, []).append(("PUT", len(body)))

    def copy(self, tag: str, dst: str, src: str) -> None:
        (self.root / dst).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.root / src, self.root / dst)  # a server-side copy on S3
        self.requests.setdefault(tag, []).append(("COPY", 0))

    def delete(self, tag: str, key: str) -> None:
        (self.root / key).unlink()
        self.requests.setdefault(tag, []).append(("DELETE", 0))

    def publish(self, build: Build) -> None:
        for f in build.files:
            path = self.root / f.key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(payload(build.tag, f.platform))
        signed = sign(sums_of(build), SigningKey(key_file=str(self.key)), {})
        for obj in build_objects(SITE, build, signature=signed.signature):
            self.put(build.tag, obj.key, obj.body)
        self.put(
            build.tag,
            signers_object(SITE.signer or "", signed.public_key).key,
            signers_object(SITE.signer or "", signed.public_key).body,
        )
        self.builds.append(build)
        self.refresh(build.tag)

    def refresh(self, tag: str) -> None:
        entries = [entry_from_build(b) for b in self.builds]
        by_tag = {b.tag: b for b in self.builds}
        latest = highest_release(entries, self.yanks)
        extra = highest_extra(entries, Convention(), self.yanks)
        record = self.root / RECORD_KEY
        previous = mirrors_from_record(json.loads(record.read_bytes())) if record.exists() else ()
        result = release_objects(
            SITE,
            entries,
            latest=None if latest is None else by_tag[latest.tag],
            previous={m.directory: m for m in previous},
            generated=T0,
            signed=True,
            yanks=Yanks(self.yanks),
            extras=("latest-rc", None if extra is None else by_tag[extra.tag]),
        )
        for dst, src in result.plan.copies:
            self.copy(tag, dst, src)
        for obj in result.objects:
            self.put(tag, obj.key, obj.body)
        for key in result.plan.deletes:
            self.delete(tag, key)


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[tuple[Tree, BucketWebsiteServer]]:
    root = tmp_path / "public"
    root.mkdir()
    # a foreign object under latest/: never artreg's, never touched
    (root / LATEST_DIR).mkdir()
    (root / LATEST_DIR / "README.txt").write_bytes(b"not artreg's")
    site = Tree(root, keygen(tmp_path))
    server = make_server(root)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield site, server
    server.shutdown()
    server.server_close()


def curl(server: BucketWebsiteServer, path: str, out: Path | None = None) -> bytes:
    args = [tool("curl"), "-fsSL", server.url + path]
    if out is not None:
        args += ["-o", str(out)]
    return subprocess.run(args, capture_output=True, check=True).stdout


def test_history_over_http(tree: tuple[Tree, BucketWebsiteServer], tmp_path: Path) -> None:
    site, server = tree
    for n, (tag, category) in enumerate(
        [
            ("v1.0.0", Category.RELEASE),
            ("v1.1.0", Category.RELEASE),
            ("v1.0.1", Category.RELEASE),  # a backport
            ("v1.2.0-rc.1", Category.EXTRA),
        ]
    ):
        site.publish(make_build(tag, category, n))

    # stable latest URLs serve the highest release, rc in latest-rc/
    assert curl(server, "latest/linux/amd64/app") == payload("v1.1.0", "linux/amd64")
    assert curl(server, "latest-rc/linux/arm64/app") == payload("v1.2.0-rc.1", "linux/arm64")

    # the README line: the latest linux/arm64 URL in one request, then the download
    readme = (
        f"curl -fsS {server.url}latest.json | jq -r --arg root {server.url} "
        "'.files[] | select(.platform == \"linux/arm64\") | $root + .url'"
    )
    found = subprocess.run(readme, shell=True, capture_output=True, check=True, text=True)
    assert found.stdout == f"{server.url}v1.1.0/linux/arm64/app\n"
    assert curl(server, found.stdout.strip()[len(server.url) :]) == payload("v1.1.0", "linux/arm64")

    # sha256sum -c and ssh-keygen -Y verify on downloads, in a build dir and in latest/
    for directory in ("v1.0.0", "v1.1.0", "v1.0.1", "v1.2.0-rc.1", "latest"):
        local = tmp_path / "dl" / directory
        for platform in PLATFORMS:
            (local / platform).mkdir(parents=True)
            curl(server, f"{directory}/{platform}/app", local / platform / "app")
        for name in ("SHA256SUMS", "SHA256SUMS.sig"):
            curl(server, f"{directory}/{name}", local / name)
        curl(server, "_artreg/allowed_signers", local / "allowed_signers")
        check = subprocess.run(
            [tool("sha256sum"), "-c", "--strict", "SHA256SUMS"], cwd=local, capture_output=True
        )
        assert check.returncode == 0, check.stdout + check.stderr
        verify = subprocess.run(
            verify_command("garage", "allowed_signers"), shell=True, cwd=local, capture_output=True
        )
        assert verify.returncode == 0, verify.stderr

    # the feed: releases only, newest published first
    parsed = feedparser.parse(curl(server, "releases.xml"))
    assert not parsed.bozo
    assert [e.title for e in parsed.entries] == ["garage v1.0.1", "garage v1.1.0", "garage v1.0.0"]

    # the build page is the directory's index document
    page = curl(server, "v1.1.0/").decode()
    assert "sha256sum -c --ignore-missing SHA256SUMS" in page

    # yanking the highest release moves latest/ back and leaves the feed
    site.yanks["v1.1.0"] = "broken"
    site.refresh("yank v1.1.0")
    assert curl(server, "latest/linux/amd64/app") == payload("v1.0.1", "linux/amd64")
    titles = [e.title for e in feedparser.parse(curl(server, "releases.xml")).entries]
    assert "garage v1.1.0" not in titles
    assert (site.root / LATEST_DIR / "README.txt").read_bytes() == b"not artreg's"

    # the cost a release adds (v1.1.0: 2 files, signed, moving latest/)
    cost = site.requests["v1.1.0"]
    puts = [size for op, size in cost if op == "PUT"]
    copies = [op for op, _ in cost if op == "COPY"]
    print(f"v1.1.0 adds {len(puts)} PUTs ({sum(puts)} bytes) + {len(copies)} COPYs: {cost}")
    assert len(copies) == len(PLATFORMS) + 2  # files, SHA256SUMS, its signature
