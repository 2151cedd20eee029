"""Pure pieces of the registry tree: OCI tags, alias decisions, tag lists, manifest records."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import pytest
from oci.builder import build_image

from artreg.core.images import references
from artreg.core.manifest import Build, FileEntry, ImageEntry, build_from_bytes
from artreg.core.tags import Category, Convention
from artreg.errors import InvalidOciTag, NotFound
from artreg.oci.image import sha256_digest
from artreg.oci.layout import read_image
from artreg.oci.publish import (
    ImageSource,
    aliases_for,
    manifest_key,
    oci_tag,
    plan_images,
    publish_images,
    tags_list_body,
)
from artreg.oci.verify import verify_images
from artreg.stores.dir import DirStore

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "schemas" / "manifest.schema.json"


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("v1.2.3", "v1.2.3"),
        ("v0.8.2+feat", "v0.8.2_feat"),
        ("v1.0.0-rc.1+build.5", "v1.0.0-rc.1_build.5"),
        ("0123456789abcdef0123456789abcdef01234567", "0123456789abcdef0123456789abcdef01234567"),
        ("_x", "_x"),
    ],
)
def test_oci_tag_maps_plus_to_underscore(tag: str, expected: str) -> None:
    assert oci_tag(tag) == expected


@pytest.mark.parametrize("tag", ["", "-v1", ".v1", "v1/2", "v1:2", "v" * 129, "v1 2"])
def test_oci_tag_refuses_what_the_oci_grammar_refuses(tag: str) -> None:
    with pytest.raises(InvalidOciTag, match="not a valid OCI tag"):
        oci_tag(tag)


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ([], {}),
        (["v1.0.0"], {"latest": "v1.0.0", "v1.0": "v1.0.0"}),
        (
            ["v0.9.0", "v0.10.0", "v0.10.2", "v0.10.1", "v0.9.5"],
            {"latest": "v0.10.2", "v0.10": "v0.10.2", "v0.9": "v0.9.5"},
        ),
        # Only releases count: pre-releases, builds, dev ids and aliases are ignored.
        (
            ["v1.0.0", "v2.0.0-rc.1", "v1.1.0+feat", "a" * 40, "latest", "v1.0"],
            {"latest": "v1.0.0", "v1.0": "v1.0.0"},
        ),
        (["v2.0.0", "v1.5.0"], {"latest": "v2.0.0", "v2.0": "v2.0.0", "v1.5": "v1.5.0"}),
    ],
)
def test_aliases_point_at_the_highest_release(tags: list[str], expected: dict[str, str]) -> None:
    assert aliases_for(tags, Convention()) == expected


def test_aliases_follow_the_prefix() -> None:
    assert aliases_for(["1.2.3", "1.10.0"], Convention(prefix="")) == {
        "latest": "1.10.0",
        "1.10": "1.10.0",
        "1.2": "1.2.3",
    }


def test_an_alias_that_could_be_a_build_tag_is_never_produced() -> None:
    # A dev convention matching anything: "latest" and "v1.0" could be real builds.
    convention = Convention(dev_match=r"[a-z0-9.]+")
    assert aliases_for(["v1.0.0"], convention) == {}


def test_tags_list_is_sorted_lexically_without_duplicates() -> None:
    body = tags_list_body("team/app", ["v0.9.0", "latest", "v0.10.0", "V1", "v0.9.0", "_x"])
    assert json.loads(body) == {
        "name": "team/app",
        "tags": ["V1", "_x", "latest", "v0.10.0", "v0.9.0"],
    }


@dataclass
class Marked:
    manifests: set[str] = field(default_factory=set)
    blobs: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


def reachable(store: DirStore, repository: str, roots: list[str]) -> Marked:
    """Every manifest and blob digest reachable from ``roots``, read as gc's mark reads them."""
    found = Marked()
    bodies = []
    for root in roots:
        try:
            bodies.append(store.get(manifest_key(repository, root)))
        except NotFound:
            found.problems.append(f"{repository}:{root} is missing")
    while bodies:
        body = bodies.pop()
        digest = sha256_digest(body)
        if digest in found.manifests:
            continue
        found.manifests.add(digest)
        node = references(body, digest)
        found.blobs.update(node.blobs)
        bodies += [store.get(manifest_key(repository, child)) for child in node.manifests]
    return found


def _build(images: tuple[ImageEntry, ...] = ()) -> Build:
    return Build(
        tag="v1.0.0+feat",
        category=Category.EXTRA,
        published=dt.datetime(2025, 6, 1, 12, tzinfo=dt.timezone.utc),
        commit=None,
        files=(FileEntry("app", "linux/amd64", "app", "v1.0.0_feat/linux/amd64/app", 3, "a" * 64),),
        images=images,
    )


def test_build_manifests_record_images_and_round_trip() -> None:
    entry = ImageEntry(
        "app-image", "team/app", "v1.0.0_feat", "sha256:" + "b" * 64, "application/x", 42
    )
    build = _build((entry,))
    body = build.to_bytes()
    assert build_from_bytes(body, "m") == build
    doc = json.loads(body)
    jsonschema.validate(doc, json.loads(SCHEMA.read_text()))
    assert doc["images"][0]["mediaType"] == "application/x"
    assert build.content_digests()["v2/team/app/manifests/v1.0.0_feat"] == (42, entry.digest)


def test_build_manifests_without_images_keep_their_bytes() -> None:
    build = _build()
    doc = json.loads(build.to_bytes())
    assert "images" not in doc
    assert build_from_bytes(build.to_bytes(), "m").images == ()
    jsonschema.validate(doc, json.loads(SCHEMA.read_text()))


def test_aliases_move_to_the_highest_release(tmp_path: Path) -> None:
    store = DirStore(tmp_path / "public")
    digests = {}
    for tag in ("v1.0.0", "v1.2.0", "v1.1.5", "v2.0.0-rc.1"):
        built = build_image(tmp_path / tag, seed=tag)
        digests[tag] = built.digest
        source = ImageSource("app", "app", read_image(built.root), aliases=True)
        publish_images(store, plan_images(store, [source], tag, Convention()))

    def tagged(ref: str) -> bytes:
        return (tmp_path / "public" / f"v2/app/manifests/{ref}").read_bytes()

    assert tagged("latest") == tagged("v1.2.0")
    assert tagged("v1.2") == tagged("v1.2.0")
    assert tagged("v1.1") == tagged("v1.1.5")
    assert tagged("v1.0") == tagged("v1.0.0")
    assert json.loads((tmp_path / "public/v2/app/tags/list").read_bytes())["tags"] == [
        "latest",
        "v1.0",
        "v1.0.0",
        "v1.1",
        "v1.1.5",
        "v1.2",
        "v1.2.0",
        "v2.0.0-rc.1",
    ]
    # Nothing changes on a re-run, and the sweep's mark phase finds every blob.
    source = ImageSource("app", "app", read_image(tmp_path / "v1.1.5"), aliases=True)
    assert plan_images(store, [source], "v1.1.5", Convention()).steps() == []
    marked = reachable(store, "app", ["latest", "v1.0.0", "v1.1.5", "v1.2.0", "v2.0.0-rc.1"])
    on_disk = {p.name for p in (tmp_path / "public/v2/app/blobs").iterdir()}
    assert marked.blobs == on_disk
    assert marked.problems == []
    only_latest = reachable(store, "app", ["latest"])
    assert only_latest.manifests == {digests["v1.2.0"]}
    assert len(only_latest.blobs) == 3


def test_verify_build_images_compares_the_recorded_digest(tmp_path: Path) -> None:
    store = DirStore(tmp_path / "public")
    built = build_image(tmp_path / "image")
    source = ImageSource("app", "app", read_image(built.root))
    plan = plan_images(store, [source], "v1.0.0+feat", Convention())
    publish_images(store, plan)
    build = _build(plan.entries)
    assert verify_images(store, [build]).problems == []
    other = build_image(tmp_path / "other", seed="other")
    retagged = ImageSource("app", "app", read_image(other.root))
    publish_images(store, plan_images(store, [retagged], "v1.0.0+feat", Convention()))
    [problem] = verify_images(store, [build]).problems
    assert f"is {other.digest}, build v1.0.0+feat recorded {built.digest}" in problem
