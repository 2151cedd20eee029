"""``artreg verify``: one precise line per kind of damage, exit 1; ``--repair`` fixes the index.

Damage is done behind artreg's back (plain files on the dir target, raw boto3
on the S3 servers); ``verify`` must name exactly what is wrong, and only that.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from publishing import Site, check_references, make_site

from artreg.core.manifest import MANIFEST_FIX
from artreg.stores import PutRequest

TAGS = ("v1.0.0", "v1.1.0", "a" * 40, "b" * 40, "c" * 40)
FILE = "v1.1.0/linux/amd64/app"
ORIGINAL = b"v1.1.0 linux/amd64\n"  # what Site.publish writes
SAME_SIZE = b"v1.1.9 linux/amd64\n"


def build(request: pytest.FixtureRequest, tmp_path: Path, kind: str) -> Site:
    site = make_site(request, tmp_path, kind, page_size=2, files=(("linux/amd64", "out/app"),))
    for tag in TAGS:
        site.publish(tag)
    return site


def verify(site: Site, *args: str) -> tuple[int, list[str]]:
    result = site.run("verify", "--target", "test", *args)
    return result.code, result.out.splitlines()


def put(site: Site, key: str, body: bytes) -> None:
    site.store().put(PutRequest(key, body, "application/octet-stream"))


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Damage:
    name: str
    do: Callable[[Site], None]
    lines: Callable[[Site], list[str]]  # what verify prints
    index_only: bool  # --repair fixes it all
    deep: bool = False  # only --deep sees it
    after_repair: Callable[[Site], list[str]] = lambda site: []


def _corrupt_manifest(site: Site) -> list[str]:
    store = site.store()
    return [
        f"{store.description}: _artreg/builds/v1.0.0.json: not a valid artreg build manifest: "
        "not JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1)); "
        f"{MANIFEST_FIX}",
        "index.json: the release fingerprint does not match the manifests listed in the bucket",
    ]


def _unindexed(site: Site) -> None:
    """A valid manifest (and its file) for v1.2.0 that no index page lists."""
    doc = json.loads(site.store().get("_artreg/builds/v1.1.0.json"))
    doc["tag"] = "v1.2.0"
    for file in doc["files"]:
        file["key"] = file["key"].replace("v1.1.0/", "v1.2.0/", 1)
        put(site, file["key"], ORIGINAL)
    if "checksums" in doc:  # the same file paths: the same SHA256SUMS, in its own directory
        doc["checksums"]["key"] = "v1.2.0/SHA256SUMS"
    put(site, "_artreg/builds/v1.2.0.json", json.dumps(doc).encode())


DAMAGES = [
    Damage(
        "missing file",
        lambda site: site.store().delete([FILE]),
        lambda site: [f"{FILE}: missing (listed in the manifest of v1.1.0)"],
        index_only=False,
    ),
    Damage(
        "wrong size",
        lambda site: put(site, FILE, b"longer than it was, by far\n"),
        lambda site: [f"{FILE}: 27 bytes stored, the manifest of v1.1.0 says 19"],
        index_only=False,
    ),
    Damage(
        "wrong sha256",
        lambda site: put(site, FILE, SAME_SIZE),
        lambda site: [
            f"{FILE}: sha256 {digest(SAME_SIZE)} stored, the manifest of v1.1.0 says "
            f"{digest(ORIGINAL)}"
        ],
        index_only=False,
        deep=True,
    ),
    Damage(
        "missing page",
        lambda site: site.store().delete(["_artreg/index/dev/1.json"]),
        lambda site: ["_artreg/index/dev/1.json: missing (listed in index.json)"],
        index_only=True,
    ),
    Damage(
        "root not json",
        lambda site: put(site, "index.json", b"<html>not json</html>"),
        lambda site: [
            "index.json: not a valid artreg index document: not JSON (Expecting value: line 1 "
            "column 1 (char 0)); it is derived data: the next `artreg apply` rebuilds it from "
            "the build manifests"
        ],
        index_only=True,
    ),
    Damage(
        "root of the wrong kind",
        lambda site: put(site, "index.json", b'{"kind": "something else"}'),
        lambda site: [
            "index.json: not a valid artreg index document: kind: expected 'artreg.index', "
            "found 'something else'; it is derived data: the next `artreg apply` rebuilds it "
            "from the build manifests"
        ],
        index_only=True,
    ),
    Damage(
        "missing index.html",
        lambda site: site.store().delete(["index.html"]),
        lambda site: ["index.html: missing"],
        index_only=True,
    ),
    Damage(
        "unindexed manifest",
        _unindexed,
        lambda site: [
            "v1.2.0/SHA256SUMS: missing (the download site's checksums of v1.2.0); "
            "`artreg verify --repair` writes it",
            "v1.2.0/index.html: missing (the download site's page of v1.2.0); "
            "`artreg verify --repair` writes it",
            "index.json: the release fingerprint does not match the manifests listed in the bucket",
            "release index: v1.2.0 is published but not indexed",
        ],
        index_only=True,
    ),
    Damage(
        "corrupted manifest",
        lambda site: put(site, "_artreg/builds/v1.0.0.json", b"{garbage"),
        lambda site: [
            *_corrupt_manifest(site),
            "release index: v1.0.0 has no build manifest",
        ],
        index_only=False,
        # The index can leave the build out, not make its manifest readable again.
        after_repair=_corrupt_manifest,
    ),
]


@pytest.mark.parametrize("damage", DAMAGES, ids=[d.name for d in DAMAGES])
def test_each_kind_of_damage_has_its_line(
    request: pytest.FixtureRequest, tmp_path: Path, damage: Damage
) -> None:
    site = build(request, tmp_path, "dir")
    assert verify(site) == (0, [])
    assert verify(site, "--deep") == (0, [])
    damage.do(site)
    if damage.deep:
        assert verify(site) == (0, []), "a same-size change is only seen by --deep"
        assert verify(site, "--deep") == (1, damage.lines(site))
    else:
        assert verify(site) == (1, damage.lines(site))

    deep = ("--deep",) if damage.deep else ()
    code, lines = verify(site, "--repair", *deep)
    if damage.index_only:
        assert (code, lines) == (0, [])
        assert verify(site, "--deep") == (0, [])
        assert check_references(site.store()) == []
    else:
        remaining = damage.after_repair(site) or damage.lines(site)
        assert (code, lines) == (1, remaining)
        assert verify(site, *deep) == (1, remaining)


@pytest.mark.parametrize("kind", ["moto", "s3rver", "rgw"])
def test_repair_on_s3_leaves_file_damage_reported(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str
) -> None:
    site = build(request, tmp_path, kind)
    store = site.store()
    store.delete([FILE, "_artreg/index/dev/2.json"])
    _unindexed(site)
    code, lines = verify(site)
    assert code == 1
    assert lines == [
        f"{FILE}: missing (listed in the manifest of v1.1.0)",
        "v1.2.0/SHA256SUMS: missing (the download site's checksums of v1.2.0); "
        "`artreg verify --repair` writes it",
        "v1.2.0/index.html: missing (the download site's page of v1.2.0); "
        "`artreg verify --repair` writes it",
        "index.json: the release fingerprint does not match the manifests listed in the bucket",
        "release index: v1.2.0 is published but not indexed",
        "_artreg/index/dev/2.json: missing (listed in index.json)",
    ]
    result = site.run("verify", "--target", "test", "--repair", "--json")
    assert result.code == 1
    report = result.json()
    assert report["repaired"] is True
    assert report["problems"] == [f"{FILE}: missing (listed in the manifest of v1.1.0)"]
    root = json.loads(store.get("index.json"))
    assert root["categories"]["release"]["count"] == 3
    assert root["categories"]["dev"]["count"] == 3


@pytest.mark.parametrize("kind", ["dir", "moto", "s3rver"])
def test_a_never_published_target_is_ok_and_says_so(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str
) -> None:
    site = make_site(request, tmp_path, kind)
    if kind != "dir":
        put(site, "robots.txt", b"User-agent: *\n")  # someone else's file: still never published
    result = site.run("verify", "--target", "test")
    assert result.code == 0, result.err
    assert result.out == ""
    assert result.err.startswith("verify test: ok, nothing published yet")
    as_json = site.run("verify", "--target", "test", "--json")
    assert as_json.code == 0
    assert as_json.json() == {
        "ok": True,
        "problems": [],
        "checked": "nothing published yet",
        "repaired": False,
    }


def test_a_published_target_missing_its_index_is_still_a_problem(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    site = make_site(request, tmp_path, "dir")
    site.publish("v1.0.0")
    (site.root / "public" / "index.json").unlink()
    (site.root / "public" / "index.html").unlink()
    result = site.run("verify", "--target", "test")
    assert result.code == 1
    assert "nothing published" not in result.err
