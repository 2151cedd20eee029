"""The download site written around real publishes on the dir target, moto and s3rver.

Builds are published by ``artreg apply`` (in process); :mod:`artreg.publish.site`
then writes the site objects and moves ``latest/`` through the same stores.
Reads go over HTTP (``artreg serve`` for the dir target, anonymous GETs on the
S3 servers) with curl, sha256sum and ssh-keygen.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
from oci.builder import build_image
from publishing import Site, make_site
from render.site_test import tidy_errors
from sshkeys import keygen

from artreg.core.signing import verify_command
from artreg.core.tags import encode_tag
from artreg.serve.server import make_server

REPO = Path(__file__).resolve().parents[2]
HISTORY = [
    ("v1.0.0", "2025-05-01T00:00:00Z"),
    ("v1.1.0", "2025-05-02T00:00:00Z"),
    ("v1.0.1", "2025-05-03T00:00:00Z"),  # a backport, published last among releases
    ("v1.2.0-rc.1", "2025-05-04T00:00:00Z"),
]


@pytest.fixture(params=["dir", "moto", "s3rver"])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Site, str]]:
    site = make_site(request, tmp_path, request.param, website=True)
    key = keygen(tmp_path)
    site.configure(extra_toml=f'[signing]\nkey_file = "{key}"\n[latest]\nextras = "latest-rc"\n')
    if site.kind != "dir":
        yield site, site.url("")
        return
    public = site.root / "public"
    public.mkdir(exist_ok=True)
    server = make_server(public)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield site, server.url
    server.shutdown()
    server.server_close()


def curl(url: str, out: Path | None = None) -> bytes:
    args = [shutil.which("curl") or "curl", "-fsSL", url]
    if out is not None:
        args += ["-o", str(out)]
    return subprocess.run(args, capture_output=True, check=True).stdout


def publish_all(site: Site) -> dict[str, dict[str, int]]:
    """Publish HISTORY with ``artreg apply``; the requests each apply made, by operation."""
    return {tag: site.publish(tag, now=now)["requests"] for tag, now in HISTORY}


def stored_bytes(site: Site) -> int:
    return sum(info.size for info in site.store().list())


def test_latest_checksums_signature_feed(site: tuple[Site, str], tmp_path: Path) -> None:
    project, base = site
    store = project.store()
    # a foreign object under latest/ from before artreg: never touched
    from artreg.stores.base import PutRequest

    store.put(PutRequest(key="latest/README.txt", body=b"legacy", content_type="text/plain"))
    requests = publish_all(project)

    assert curl(base + "latest/linux/amd64/app") == b"v1.1.0 linux/amd64\n"
    assert curl(base + "latest-rc/linux/arm64/app") == b"v1.2.0-rc.1 linux/arm64\n"
    assert store.get("latest/README.txt") == b"legacy"

    for directory in ("v1.0.0", "v1.1.0", "v1.0.1", "v1.2.0-rc.1", "latest", "latest-rc"):
        local = tmp_path / "dl" / directory
        for platform in ("linux/amd64", "linux/arm64"):
            (local / platform).mkdir(parents=True)
            curl(f"{base}{directory}/{platform}/app", local / platform / "app")
        for name in ("SHA256SUMS", "SHA256SUMS.sig"):
            curl(f"{base}{directory}/{name}", local / name)
        curl(base + "_artreg/allowed_signers", local / "allowed_signers")
        check = subprocess.run(
            ["sha256sum", "-c", "--strict", "SHA256SUMS"], cwd=local, capture_output=True
        )
        assert check.returncode == 0, check.stdout + check.stderr
        verify = subprocess.run(
            verify_command("demo", "allowed_signers"), shell=True, cwd=local, capture_output=True
        )
        assert verify.returncode == 0, verify.stderr

    parsed = feedparser.parse(curl(base + "releases.xml"))
    assert not parsed.bozo
    assert [e.title for e in parsed.entries] == ["demo v1.0.1", "demo v1.1.0", "demo v1.0.0"]
    # the build page (S3 REST endpoints serve no index documents: ask for it by name)
    assert b"sha256sum -c" in curl(base + "v1.1.0/index.html")

    # the README's line prints the latest linux/arm64 URL, which serves v1.1.0's bytes
    line = next(
        text.strip()
        for text in (REPO / "README.md").read_text().splitlines()
        if text.strip().startswith("curl -fsS https://HOST/latest.json")
    )
    found = subprocess.run(
        line.replace("https://HOST/", base), shell=True, capture_output=True, text=True
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout == f"{base}v1.1.0/linux/arm64/app\n"
    assert curl(found.stdout.strip()) == b"v1.1.0 linux/arm64\n"

    # verify: every site key is referenced (latest/ through the record), nothing is missing
    result = project.run("verify", "--target", "test")
    assert result.code == 0, result.out + result.err
    # a backport and an rc never move latest/; a new highest release copies 2 files + 2 sums
    assert requests["v1.1.0"].get("CopyObject") == 4
    assert "CopyObject" not in requests["v1.0.1"]


def test_cost_of_a_release(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """The writes and bytes the download site adds to each apply (from the apply report's
    site and latest actions, and the stored site objects), printed for the record."""
    full = make_site(request, tmp_path / "full", "moto")
    full.configure(extra_toml=f'[signing]\nkey_file = "{keygen(tmp_path)}"\n[latest]\n')
    for tag, now in HISTORY:
        report = full.publish(tag, now=now)
        site = [a for a in report["actions"] if a["kind"] in ("site", "latest")]
        ops = Counter(a["op"] if "copy of" not in a["reason"] else "copy" for a in site)
        written = sum(a["size"] for a in site)
        total = sum(n for op, n in report["requests"].items() if not op.startswith("probe:"))
        print(f"{tag}: {len(site)} of {total} requests are the site's {dict(ops)}, +{written} B")
        # SHA256SUMS, its signature and the page, with the build's files (at least)
        built = [a["key"] for a in site if a["kind"] == "site"]
        assert built == [
            f"{encode_tag(tag)}/{n}" for n in ("SHA256SUMS", "SHA256SUMS.sig", "index.html")
        ]


def test_gc_keeps_the_site(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    site = make_site(request, tmp_path, "dir")
    site.configure(extra_toml='[latest]\n[gc]\ngrace_period = "0s"\n')
    for tag, now in HISTORY[:2]:
        site.publish(tag, now=now)
    before = site.snapshot()
    assert "latest/linux/amd64/app" in before and "v1.1.0/SHA256SUMS" in before
    # the root page highlights the highest release and links the HTML index pages
    root = before["index.html"].decode()
    assert '<h2>Latest release: <a href="v1.1.0/">v1.1.0</a></h2>' in root
    assert 'href="releases.xml"' in root
    assert '<a href="_artreg/index/release/1.html">1</a>' in root
    page = before["_artreg/index/release/1.html"].decode()
    assert 'href="../../../v1.0.0/"' in page and 'href="1.json"' in page
    for key in ("index.html", "_artreg/index/release/1.html", "v1.1.0/index.html"):
        assert tidy_errors(tmp_path, before[key].decode()) == "", key
    result = site.run("gc", "--target", "test", "--json")
    assert result.code == 0, result.err
    assert [a["key"] for a in result.json()["actions"] if a["op"] == "delete"] == []
    assert site.snapshot() == before
    verify = site.run("verify", "--target", "test")
    assert verify.code == 0, verify.out + verify.err


@pytest.mark.parametrize("kind", ["dir", "moto"])
def test_yank_and_unyank(request: pytest.FixtureRequest, tmp_path: Path, kind: str) -> None:
    site = make_site(request, tmp_path, kind)
    site.configure(extra_toml="[latest]\n")
    for tag, now in HISTORY:
        site.publish(tag, now=now)
    store = site.store()
    assert store.get("latest/linux/amd64/app") == b"v1.1.0 linux/amd64\n"

    missing = site.run("yank", "v9.9.9", "--reason", "x", "--target", "test")
    assert missing.code == 1 and "v9.9.9: no such build" in missing.err
    empty = site.run("yank", "v1.1.0", "--reason", " ", "--target", "test")
    assert empty.code == 1 and "--reason" in empty.err

    yanked = site.run("yank", "v1.1.0", "--reason", "corrupts <data>", "--target", "test")
    assert yanked.code == 0, yanked.err
    # files stay; latest/ moves to the next highest release; the feed and latest.json drop it
    assert store.get("v1.1.0/linux/amd64/app") == b"v1.1.0 linux/amd64\n"
    assert store.get("latest/linux/amd64/app") == b"v1.0.1 linux/amd64\n"
    assert json.loads(store.get("latest.json"))["tag"] == "v1.0.1"
    titles = [e.title for e in feedparser.parse(store.get("releases.xml")).entries]
    assert titles == ["demo v1.0.1", "demo v1.0.0"]
    page = store.get("v1.1.0/index.html").decode()
    assert "<del>v1.1.0</del>" in page and "corrupts &lt;data&gt;" in page
    root = store.get("index.html").decode()
    assert '<tr class="build yanked" data-tag="v1.1.0">' in root
    assert 'Latest release: <a href="v1.0.1/">v1.0.1</a>' in root

    # a later publish keeps the yank on every page it rewrites
    site.publish("v1.0.2", now="2025-05-05T00:00:00Z")
    root = store.get("index.html").decode()
    assert '<tr class="build yanked" data-tag="v1.1.0">' in root
    assert store.get("latest/linux/amd64/app") == b"v1.0.2 linux/amd64\n"

    back = site.run("unyank", "v1.1.0", "--target", "test")
    assert back.code == 0, back.err
    assert store.get("latest/linux/amd64/app") == b"v1.1.0 linux/amd64\n"
    assert "<del>" not in store.get("v1.1.0/index.html").decode()
    again = site.run("unyank", "v1.1.0", "--target", "test")
    assert again.code == 1 and "not yanked" in again.err
    assert site.run("verify", "--target", "test").code == 0


@pytest.mark.parametrize("kind", ["dir", "moto"])
def test_rm(request: pytest.FixtureRequest, tmp_path: Path, kind: str) -> None:
    site = make_site(request, tmp_path, kind)
    site.configure(extra_toml="[latest]\n")
    for tag, now in HISTORY:
        site.publish(tag, now=now)
    store = site.store()
    from artreg.stores.base import PutRequest

    foreign = {"v1.2.0-rc.1/NOTES.txt": b"mine", "robots.txt": b"User-agent: *\n"}
    for key, body in foreign.items():
        store.put(PutRequest(key=key, body=body, content_type="text/plain"))
    before = site.snapshot()

    dry = site.run("rm", "v1.2.0-rc.1", "--dry-run", "--target", "test")
    assert dry.code == 0, dry.err
    listed = [line.split()[1] for line in dry.out.splitlines() if line.startswith("  - ")]
    assert listed == [
        "_artreg/builds/v1.2.0-rc.1.json",
        "v1.2.0-rc.1/linux/amd64/app",
        "v1.2.0-rc.1/linux/arm64/app",
        "v1.2.0-rc.1/SHA256SUMS",
        "v1.2.0-rc.1/index.html",
    ]
    assert site.snapshot() == before  # a dry run deletes nothing

    refused = site.run("rm", "v1.1.0", "--target", "test")
    assert refused.code == 1 and "artreg rm v1.1.0 --release" in refused.err
    assert "\n  v1.1.0/linux/amd64/app" in refused.err
    assert site.snapshot() == before

    gone = site.run("rm", "v1.2.0-rc.1", "--target", "test")
    assert gone.code == 0, gone.err
    after = site.snapshot()
    assert not set(listed) & set(after)
    for key, body in foreign.items():
        assert after[key] == body  # never artreg's, never touched
    tags = [e["tag"] for e in site.run("ls", "--target", "test", "--json").json()["extra"]]
    assert tags == []

    release = site.run("rm", "v1.1.0", "--release", "--target", "test")
    assert release.code == 0, release.err
    assert store.get("latest/linux/amd64/app") == b"v1.0.1 linux/amd64\n"
    assert site.run("verify", "--target", "test").code == 0


@contextlib.contextmanager
def http_root(site: Site) -> Iterator[str]:
    """The URL of the target root: ``artreg serve`` for a dir target, anonymous S3 GETs else."""
    if site.kind != "dir":
        yield site.url("")
        return
    public = site.root / "public"
    public.mkdir(exist_ok=True)
    server = make_server(public)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("kind", ["dir", "moto"])
def test_index_entries_carry_urls_images_and_checksums_that_resolve(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str
) -> None:
    """Every entry of every page and of the root's newest rows: its file URLs, image
    references and SHA256SUMS URL, fetched over HTTP, are the objects it describes."""
    files = (("linux/amd64", "out/amd64/app@1.0"), ("linux/arm64", "out/arm64/app@1.0"))
    project = make_site(request, tmp_path, kind, website=True, files=files, page_size=2)
    image = build_image(project.root / "image", ref="v1")
    project.configure(
        extra_toml='[[artifacts]]\nname = "img"\ntype = "oci"\npath = "image"\n'
        'repository = "team/demo"\n'
    )
    for tag, now in HISTORY:
        project.publish(tag, now=now)
    store = project.store()
    root = json.loads(store.get("index.json"))
    entries = [e for c in root["categories"].values() for e in c["newest"]]
    for part in root["categories"].values():
        for page_key in part["pages"]:
            entries += json.loads(store.get(page_key))["entries"]
    assert {e["tag"] for e in entries} == {tag for tag, _ in HISTORY}
    with http_root(project) as base:
        for entry in entries:
            tag = entry["tag"]
            sums = curl(base + entry["checksums"]["url"]).decode()
            assert entry["checksums"]["key"] == f"{tag}/SHA256SUMS"
            manifest = json.loads(store.get(f"_artreg/builds/{tag}.json"))
            assert manifest["checksums"]["key"] == entry["checksums"]["key"]
            assert manifest["checksums"]["sha256"] == hashlib.sha256(sums.encode()).hexdigest()
            for file in entry["files"]:
                assert file["url"] == file["key"].replace("@", "%40")
                body = curl(base + file["url"])
                assert hashlib.sha256(body).hexdigest() == file["sha256"]
                assert body == f"{tag} {file['platform']}\n".encode()
                assert f"{file['sha256']}  {file['platform']}/app@1.0\n" in sums
            [pulled] = entry["images"]
            assert (pulled["repository"], pulled["tag"]) == ("team/demo", tag)
            assert (pulled["digest"], pulled["mediaType"]) == (image.digest, image.media_type)
            for reference in (pulled["tag"], pulled["digest"]):
                body = curl(f"{base}v2/{pulled['repository']}/manifests/{reference}")
                assert "sha256:" + hashlib.sha256(body).hexdigest() == pulled["digest"]
