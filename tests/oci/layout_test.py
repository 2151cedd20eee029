"""Reading images: OCI layouts, oci-archives and docker-archives, and every way they break."""

from __future__ import annotations

import collections
import contextlib
import io
import json
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fuzzing import fuzz
from hypothesis import given
from hypothesis import strategies as st
from oci.builder import Built, build_image, compress_file, skopeo, to_archive, write_blob

from artreg.errors import (
    ArtregError,
    BlobMissing,
    BlobSizeMismatch,
    DigestMismatch,
    ImageError,
    ImageFormatError,
    TruncatedArchive,
    UnknownMediaType,
)
from artreg.oci.image import OCI_INDEX, OCI_LAYER, OCI_MANIFEST, sha256_digest
from artreg.oci.layout import read_image

MULTI = ("linux/amd64", "linux/arm64")


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    base = tmp_path_factory.mktemp("images")
    return {
        "single": build_image(base / "single", ref="v1"),
        "multi": build_image(base / "multi", ref="v1", platforms=MULTI),
    }


def test_a_single_platform_layout_is_read_byte_for_byte(images: dict[str, Built]) -> None:
    built = images["single"]
    image = read_image(built.root)
    assert (image.format, image.media_type, image.digest) == (
        "oci-layout",
        OCI_MANIFEST,
        built.digest,
    )
    assert sha256_digest(image.top.body) == built.digest
    assert image.top.body == built.blob(built.digest).read_bytes()
    assert image.children == ()
    assert [b.digest for b in image.blobs] == built.blobs
    assert not image.synthesized


def test_a_multi_platform_layout_has_its_index_and_both_manifests(images: dict[str, Built]) -> None:
    built = images["multi"]
    image = read_image(built.root)
    assert (image.media_type, image.digest) == (OCI_INDEX, built.digest)
    assert image.platforms() == MULTI
    assert [m.digest for m in image.children] == [built.platforms[p] for p in MULTI]
    assert {b.digest for b in image.blobs} == set(built.blobs)


@pytest.mark.parametrize("name", ["single", "multi"])
def test_an_oci_archive_keeps_the_digests(
    images: dict[str, Built], name: str, tmp_path: Path
) -> None:
    built = images[name]
    image = read_image(to_archive(built, "oci-archive", tmp_path / "image.tar"))
    assert (image.format, image.digest) == ("oci-archive", built.digest)
    assert image.platforms() == read_image(built.root).platforms()
    # Uncompressed: each blob is uploaded from where it lies in the archive; nothing is copied.
    assert image.staging is None
    for blob in image.blobs:
        assert (blob.path, blob.offset is not None) == (tmp_path / "image.tar", True)
        assert sha256_digest(blob.read_bytes()) == blob.digest


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """An image with layers of over 4 MiB (more than one read chunk)."""
    root = tmp_path_factory.mktemp("big") / "layout"
    return build_image(root, ref="v1", payload=5 * 1024 * 1024)


@pytest.mark.parametrize("kind", ["gz", "bz2", "xz"])
def test_a_compressed_oci_archive_is_staged(big: Built, tmp_path: Path, kind: str) -> None:
    plain = to_archive(big, "oci-archive", tmp_path / "image.tar")
    image = read_image(compress_file(plain, tmp_path / f"image.tar.{kind}", kind))
    assert (image.format, image.digest) == ("oci-archive", big.digest)
    assert {b.digest for b in image.blobs} == set(big.blobs)
    assert image.staging is not None
    for blob in image.blobs:
        assert blob.offset is None and blob.path.stat().st_size == blob.size
        assert sha256_digest(blob.read_bytes()) == blob.digest
    staging = image.blobs[0].path.parent
    image.close()
    assert not staging.exists()


def test_a_truncated_compressed_archive(big: Built, tmp_path: Path) -> None:
    plain = to_archive(big, "oci-archive", tmp_path / "image.tar")
    archive = compress_file(plain, tmp_path / "image.tar.gz")
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(TruncatedArchive, match="truncated or damaged"):
        read_image(archive)


def test_a_corrupt_member_of_an_uncompressed_archive(
    images: dict[str, Built], tmp_path: Path
) -> None:
    built = images["single"]
    archive = to_archive(built, "oci-archive", tmp_path / "image.tar")
    layer = f"blobs/sha256/{built.blobs[-1].removeprefix('sha256:')}"
    with tarfile.open(archive) as tar:
        offset = tar.getmember(layer).offset_data
    with archive.open("r+b") as stream:  # same size, other content
        stream.seek(offset + 100)
        byte = stream.read(1)
        stream.seek(offset + 100)
        stream.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(DigestMismatch, match=f"expected {built.blobs[-1]}, found sha256:"):
        read_image(archive)


def test_an_uncompressed_archive_cut_inside_its_last_member(
    images: dict[str, Built], tmp_path: Path
) -> None:
    archive = to_archive(images["single"], "oci-archive", tmp_path / "image.tar")
    with tarfile.open(archive) as tar:
        last = max(tar.getmembers(), key=lambda m: m.offset_data)
    archive.write_bytes(archive.read_bytes()[: last.offset_data + last.size // 2])
    with pytest.raises(TruncatedArchive, match="truncated"):
        read_image(archive)


def test_a_docker_archive_gets_a_synthesized_oci_manifest(
    images: dict[str, Built], tmp_path: Path
) -> None:
    archive = to_archive(images["single"], "docker-archive", tmp_path / "docker.tar")
    image = read_image(archive)
    assert (image.format, image.media_type, image.synthesized) == (
        "docker-archive",
        OCI_MANIFEST,
        True,
    )
    doc = json.loads(image.top.body)
    assert doc["mediaType"] == OCI_MANIFEST
    assert [layer["mediaType"] for layer in doc["layers"]] == [OCI_LAYER, OCI_LAYER]
    # Layer bytes unchanged: each digest is its file's sha256 and the config's diff_id.
    config = json.loads(
        next(b for b in image.blobs if b.digest == doc["config"]["digest"]).read_bytes()
    )
    assert [layer["digest"] for layer in doc["layers"]] == config["rootfs"]["diff_ids"]
    # Deterministic: the same archive always gives the same manifest digest.
    assert read_image(archive).digest == image.digest


def test_path_colon_ref_picks_one_of_several_images(
    images: dict[str, Built], tmp_path: Path
) -> None:
    root = tmp_path / "two"
    shutil.copytree(images["single"].root, root)
    other = build_image(root, ref="v2", seed="two")
    with pytest.raises(ImageFormatError, match=r"lists 2 images \('v1', 'v2'\).*two:NAME"):
        read_image(root)
    assert read_image(Path(f"{root}:v2")).digest == other.digest
    assert read_image(root, ref="v1").digest == images["single"].digest
    with pytest.raises(ImageFormatError, match="0 images named 'v3'"):
        read_image(root, ref="v3")


# --- broken input: one precise error each --------------------------------------------------


def _copy(built: Built, tmp_path: Path) -> Built:
    root = tmp_path / "broken"
    shutil.copytree(built.root, root)
    return Built(root, built.ref, built.digest, built.media_type, built.platforms, built.blobs)


def test_a_blob_whose_content_does_not_match_its_digest(
    images: dict[str, Built], tmp_path: Path
) -> None:
    built = _copy(images["multi"], tmp_path)
    layer = built.blob(built.blobs[-1])
    data = bytearray(layer.read_bytes())
    data[-1] ^= 0xFF  # same size, other content
    layer.write_bytes(bytes(data))
    with pytest.raises(DigestMismatch, match=f"expected {built.blobs[-1]}, found sha256:"):
        read_image(built.root)


def test_a_missing_blob(images: dict[str, Built], tmp_path: Path) -> None:
    built = _copy(images["multi"], tmp_path)
    built.blob(built.blobs[1]).unlink()
    with pytest.raises(BlobMissing, match=rf"layers\[0\]: blob {built.blobs[1]} is missing"):
        read_image(built.root)


def test_a_truncated_blob_file(images: dict[str, Built], tmp_path: Path) -> None:
    built = _copy(images["single"], tmp_path)
    layer = built.blob(built.blobs[1])
    size = layer.stat().st_size
    layer.write_bytes(layer.read_bytes()[: size // 2])
    with pytest.raises(
        BlobSizeMismatch, match=f"has {size // 2} bytes, its descriptor says {size}"
    ):
        read_image(built.root)


def test_a_truncated_archive(images: dict[str, Built], tmp_path: Path) -> None:
    archive = to_archive(images["single"], "oci-archive", tmp_path / "image.tar")
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    with pytest.raises(TruncatedArchive, match="truncated or damaged"):
        read_image(archive)


def test_a_truncated_docker_archive(images: dict[str, Built], tmp_path: Path) -> None:
    archive = to_archive(images["single"], "docker-archive", tmp_path / "docker.tar")
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) - 3000])
    with pytest.raises(ImageError, match=r"truncated|missing"):
        read_image(archive)


def _rewrite_manifest(built: Built, change: dict[str, object]) -> None:
    """Replace the top manifest with a changed one (re-pointing index.json at it)."""
    doc = json.loads(built.blob(built.digest).read_bytes())
    doc.update(change)
    digest, size = write_blob(built.root, json.dumps(doc).encode())
    index = json.loads((built.root / "index.json").read_text())
    index["manifests"][0].update(digest=digest, size=size)
    (built.root / "index.json").write_text(json.dumps(index))


def test_an_unknown_layer_media_type(images: dict[str, Built], tmp_path: Path) -> None:
    built = _copy(images["single"], tmp_path)
    doc = json.loads(built.blob(built.digest).read_bytes())
    doc["layers"][0]["mediaType"] = "application/x-weird-layer"
    _rewrite_manifest(built, {"layers": doc["layers"]})
    with pytest.raises(UnknownMediaType, match="'application/x-weird-layer' is not a known layer"):
        read_image(built.root)


def test_an_unknown_manifest_media_type(images: dict[str, Built], tmp_path: Path) -> None:
    built = _copy(images["single"], tmp_path)
    index = json.loads((built.root / "index.json").read_text())
    index["manifests"][0]["mediaType"] = "application/vnd.docker.distribution.manifest.v1+prettyjws"
    (built.root / "index.json").write_text(json.dumps(index))
    with pytest.raises(UnknownMediaType, match="is not an image manifest or index"):
        read_image(built.root)


def test_an_artifact_manifest_may_carry_its_own_media_types(
    images: dict[str, Built], tmp_path: Path
) -> None:
    built = _copy(images["single"], tmp_path)
    doc = json.loads(built.blob(built.digest).read_bytes())
    doc["layers"][0]["mediaType"] = "application/vnd.example.sbom+json"
    _rewrite_manifest(built, {"layers": doc["layers"], "artifactType": "application/vnd.example"})
    assert read_image(built.root).media_type == OCI_MANIFEST


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no 'oci-layout' file"),
        ('{"imageLayoutVersion": "2.0.0"}', "imageLayoutVersion is '2.0.0'"),
        ("{}", "oci-layout: imageLayoutVersion: missing; expected a string"),
    ],
)
def test_the_oci_layout_file_is_required(
    images: dict[str, Built], tmp_path: Path, content: str | None, message: str
) -> None:
    built = _copy(images["single"], tmp_path)
    if content is None:
        (built.root / "oci-layout").unlink()
    else:
        (built.root / "oci-layout").write_text(content)
    with pytest.raises(ImageFormatError, match=message):
        read_image(built.root)


def test_index_json_is_required(images: dict[str, Built], tmp_path: Path) -> None:
    built = _copy(images["single"], tmp_path)
    (built.root / "index.json").unlink()
    with pytest.raises(ImageFormatError, match=r"index\.json is missing"):
        read_image(built.root)


def test_a_non_sha256_digest_is_refused(images: dict[str, Built], tmp_path: Path) -> None:
    built = _copy(images["single"], tmp_path)
    index = json.loads((built.root / "index.json").read_text())
    index["manifests"][0]["digest"] = "sha512:" + "a" * 128
    (built.root / "index.json").write_text(json.dumps(index))
    with pytest.raises(ImageFormatError, match="sha256 digests only"):
        read_image(built.root)


def test_neither_layout_nor_archive(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"not a tar at all" * 100)
    with pytest.raises(ImageFormatError, match="not a readable tar archive"):
        read_image(tmp_path / "file")
    with pytest.raises(ImageFormatError, match="does not exist"):
        read_image(tmp_path / "missing")


def test_skopeo_reads_what_the_builder_writes(images: dict[str, Built]) -> None:
    """The builder's layouts are real OCI layouts, not just what artreg accepts."""
    out = skopeo("inspect", "--raw", f"oci:{images['multi'].root}:v1").stdout
    assert sha256_digest(out.encode()) == images["multi"].digest


# --- bounded work on hostile images ----------------------------------------------------------

_OPENED: list[tuple[str, str]] = []
_WATCHING: list[bool] = []


def _audit(event: str, args: tuple[object, ...]) -> None:
    if event == "open" and _WATCHING and isinstance(args[0], str):
        _OPENED.append((args[0], str(args[1])))


sys.addaudithook(_audit)  # counts real open() calls: work, measured without timing


@contextlib.contextmanager
def _opens() -> Iterator[list[tuple[str, str]]]:
    """The (path, mode) of every file opened inside the block."""
    _OPENED.clear()
    _WATCHING.append(True)
    try:
        yield _OPENED
    finally:
        _WATCHING.clear()


def _tar(path: Path, members: dict[str, bytes], *, gz: bool = False) -> Path:
    """A tar (gzip-compressed with ``gz``) of ``members``, in the order given."""
    with tarfile.open(path, "w:gz" if gz else "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _layout_members(built: Built) -> dict[str, bytes]:
    return {
        str(p.relative_to(built.root)): p.read_bytes()
        for p in sorted(built.root.rglob("*"))
        if p.is_file()
    }


def _nested_indexes(root: Path, levels: int, fanout: int) -> tuple[Built, int]:
    """A layout whose top index lists the same child index ``fanout`` times, ``levels`` deep."""
    built = build_image(root, ref="v1")
    digest, size = built.digest, built.blob(built.digest).stat().st_size
    media_type = OCI_MANIFEST
    for _ in range(levels):
        child = {"mediaType": media_type, "digest": digest, "size": size}
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [child] * fanout}
        digest, size = write_blob(root, json.dumps(index).encode())
        media_type = OCI_INDEX
    top = {"mediaType": OCI_INDEX, "digest": digest, "size": size}
    (root / "index.json").write_text(
        json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [top]})
    )
    return Built(root, "v1", digest, OCI_INDEX, {}, built.blobs), levels + 1


@pytest.mark.parametrize("fanout", [1, 6, 24])
def test_nested_indexes_are_walked_once_per_digest(tmp_path: Path, fanout: int) -> None:
    # Four nested indexes listing the same child K times were walked K^4 times (K=24: 17 s).
    built, manifests = _nested_indexes(tmp_path / "layout", levels=4, fanout=fanout)
    with _opens() as opened:
        image = read_image(built.root)
    blob_reads = [path for path, _ in opened if "/blobs/sha256/" in path]
    # Each manifest and index read once, each of the 3 blobs (config, 2 layers) hashed once.
    assert len(blob_reads) == manifests + 3
    assert image.digest == built.digest
    assert len(image.children) == manifests - 1


def test_a_diamond_of_indexes_is_walked_once_per_digest(tmp_path: Path) -> None:
    # top -> {left, right} -> the same two platform manifests: each read once.
    built = build_image(tmp_path / "layout", ref="v1", platforms=MULTI)
    platform_index = json.loads(built.blob(built.digest).read_bytes())
    left, left_size = write_blob(built.root, json.dumps(platform_index).encode())
    right_doc = {**platform_index, "annotations": {"side": "right"}}
    right, right_size = write_blob(built.root, json.dumps(right_doc).encode())
    top = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {"mediaType": OCI_INDEX, "digest": left, "size": left_size},
            {"mediaType": OCI_INDEX, "digest": right, "size": right_size},
            {"mediaType": OCI_INDEX, "digest": left, "size": left_size},
        ],
    }
    digest, size = write_blob(built.root, json.dumps(top).encode())
    (built.root / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [{"mediaType": OCI_INDEX, "digest": digest, "size": size}],
            }
        )
    )
    with _opens() as opened:
        image = read_image(built.root)
    reads = collections.Counter(path for path, _ in opened if "/blobs/sha256/" in path)
    assert set(reads.values()) == {1}
    assert len(reads) == 3 + 2 + 2 * 3  # top, left, right; 2 manifests; their blobs
    assert {m.digest for m in image.children} == {left, right, *built.platforms.values()}


def test_too_many_manifests_are_refused(tmp_path: Path) -> None:
    built = build_image(tmp_path / "layout", ref="v1")
    size = built.blob(built.digest).stat().st_size
    # 1,001 distinct manifests (each the same, with its own annotation) under one index.
    body = built.blob(built.digest).read_bytes()
    entries = []
    for n in range(1001):
        doc = {**json.loads(body), "annotations": {"n": str(n)}}
        digest, size = write_blob(built.root, json.dumps(doc).encode())
        entries.append({"mediaType": OCI_MANIFEST, "digest": digest, "size": size})
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
    digest, size = write_blob(built.root, json.dumps(index).encode())
    (built.root / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [{"mediaType": OCI_INDEX, "digest": digest, "size": size}],
            }
        )
    )
    with pytest.raises(ImageFormatError, match="more than 1000 manifests and indexes"):
        read_image(built.root)


def _staged_bytes(opened: list[tuple[str, str]], staging_root: Path) -> int:
    written = {path for path, mode in opened if "w" in mode and path.startswith(str(staging_root))}
    return sum(Path(path).stat().st_size for path in written if Path(path).exists())


@pytest.fixture
def staging_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def test_an_unreferenced_member_of_a_compressed_archive_is_not_staged(
    images: dict[str, Built], tmp_path: Path, staging_root: Path
) -> None:
    built = images["multi"]
    members = _layout_members(built)
    members["blobs/sha256/" + "0" * 64] = bytes(40 * 1024 * 1024)  # unreferenced zeros
    archive = _tar(tmp_path / "image.tar.gz", members, gz=True)
    with _opens() as opened:
        image = read_image(archive)
        staged = _staged_bytes(opened, staging_root)
    assert image.digest == built.digest
    # Only what the image references is written: its blobs (manifests stay in memory).
    assert staged == sum(blob.size for blob in image.blobs) < 100_000
    image.close()


@pytest.mark.parametrize("kind", ["oci-archive", "docker-archive"])
def test_a_compressed_archive_of_mostly_unreferenced_zeros_is_refused(
    images: dict[str, Built], tmp_path: Path, staging_root: Path, kind: str
) -> None:
    # A 205 KB gzip oci-archive with an unreferenced member of zeros staged 199 MB.
    built = images["single"]
    if kind == "oci-archive":
        members = _layout_members(built)
    else:
        plain = to_archive(built, "docker-archive", tmp_path / "docker.tar")
        with tarfile.open(plain) as tar:
            members = {
                m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
                for m in tar.getmembers()
                if m.isreg()
            }
    zeros = {"junk/zeros": bytes(199 * 1024 * 1024)}
    archive = _tar(tmp_path / "image.tar.gz", {**zeros, **members}, gz=True)
    assert archive.stat().st_size < 1024 * 1024
    with _opens() as opened, pytest.raises(ImageFormatError) as caught:
        read_image(archive)
    assert "that the image does not reference" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert [path for path, mode in opened if "w" in mode] == []  # nothing staged at all
    assert list(staging_root.iterdir()) == []


def test_a_compressed_docker_archive_stages_only_its_layers_and_config(
    images: dict[str, Built], tmp_path: Path, staging_root: Path
) -> None:
    plain = to_archive(images["single"], "docker-archive", tmp_path / "docker.tar")
    with tarfile.open(plain) as tar:
        members = {
            m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isreg()
        }
    members["junk.bin"] = bytes(30 * 1024 * 1024)
    archive = _tar(tmp_path / "docker.tar.gz", members, gz=True)
    with _opens() as opened:
        image = read_image(archive)
        staged = _staged_bytes(opened, staging_root)
    assert image.digest == read_image(plain).digest
    assert staged == sum(blob.size for blob in image.blobs)
    image.close()


# --- wrong JSON documents: one ImageFormatError naming the file, never a crash --------------


def _docker_members(manifest: object, config: object | None = None) -> dict[str, bytes]:
    layer = b"\0" * 1024  # an empty tar: two zero blocks
    diff_id = sha256_digest(layer)
    config_doc = config if config is not None else {"rootfs": {"diff_ids": [diff_id]}}
    return {
        "layer.tar": layer,
        "config.json": json.dumps(config_doc).encode(),
        "manifest.json": json.dumps(manifest).encode(),
    }


GOOD_DOCKER = [{"Config": "config.json", "Layers": ["layer.tar"], "RepoTags": ["a/b:v1"]}]


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        (
            [{**GOOD_DOCKER[0], "RepoTags": 5}],
            r"manifest.json: \[0\].RepoTags: expected an array, found 5",
        ),
        (
            [{**GOOD_DOCKER[0], "RepoTags": [5]}],
            r"manifest.json: \[0\].RepoTags\[0\]: expected a string, found 5",
        ),
        (
            [{**GOOD_DOCKER[0], "Layers": "layer.tar"}],
            r"\[0\].Layers: expected an array, found \"layer.tar\"",
        ),
        (
            [{**GOOD_DOCKER[0], "Layers": [None]}],
            r"\[0\].Layers\[0\]: expected a string, found null",
        ),
        ([{**GOOD_DOCKER[0], "Config": ["x"]}], r"\[0\].Config: expected a string, found an array"),
        ([{"Layers": []}], r"\[0\].Config: missing; expected a string"),
        ([5], r"manifest.json: \[0\]: expected an object, found 5"),
        ({"Config": "config.json"}, "manifest.json: expected an array, found an object"),
        ([], "expected a non-empty list of images"),
    ],
)
def test_wrong_docker_manifest_json_is_one_error(
    tmp_path: Path, manifest: object, message: str
) -> None:
    archive = _tar(tmp_path / "docker.tar", _docker_members(manifest))
    with pytest.raises(ImageFormatError, match=message):
        read_image(archive)
    if isinstance(manifest, list) and manifest and isinstance(manifest[0], dict):
        with pytest.raises(ImageFormatError):
            read_image(archive, ref="v1")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"rootfs": {"diff_ids": 5}}, "config.json: rootfs.diff_ids: expected an array, found 5"),
        ({"rootfs": {"diff_ids": [7]}}, r"config.json: rootfs.diff_ids\[0\]: expected a string"),
        ({"rootfs": []}, "config.json: rootfs: expected an object, found an array"),
        ([1], "config.json: expected an object, found an array"),
        ({}, "config.json: rootfs: missing; expected an object"),
    ],
)
def test_wrong_docker_config_is_one_error(tmp_path: Path, config: object, message: str) -> None:
    archive = _tar(tmp_path / "docker.tar", _docker_members(GOOD_DOCKER, config))
    with pytest.raises(ImageFormatError, match=message):
        read_image(archive)


def _with_index(built: Built, index: object) -> None:
    (built.root / "index.json").write_text(json.dumps(index))


@pytest.mark.parametrize(
    ("index", "message"),
    [
        ({"schemaVersion": 2, "manifests": 5}, "index.json: manifests: expected an array, found 5"),
        (
            {"schemaVersion": "2", "manifests": []},
            'index.json: schemaVersion: expected 2, found "2"',
        ),
        (
            {"schemaVersion": True, "manifests": []},
            "index.json: schemaVersion: expected 2, found true",
        ),
        ({"schemaVersion": 2, "manifests": [5]}, r"index.json: manifests\[0\]: expected an object"),
        (
            {"schemaVersion": 2, "mediaType": 5, "manifests": []},
            "index.json: mediaType: expected a string",
        ),
        ([], "index.json: expected an object, found an array"),
    ],
)
def test_wrong_index_json_is_one_error(
    images: dict[str, Built], tmp_path: Path, index: object, message: str
) -> None:
    built = _copy(images["single"], tmp_path)
    _with_index(built, index)
    with pytest.raises(ImageFormatError, match=message):
        read_image(built.root)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"size": True}, r"manifests\[0\].size: expected an integer, found true"),
        ({"size": "12"}, r"manifests\[0\].size: expected an integer"),
        ({"size": -1}, r"manifests\[0\].size: expected a size >= 0, found -1"),
        ({"digest": 5}, r"manifests\[0\].digest: expected a string, found 5"),
        ({"annotations": []}, r"manifests\[0\].annotations: expected an object"),
        ({"annotations": {"org.opencontainers.image.ref.name": 5}}, "expected a string, found 5"),
        ({"urls": "http://x"}, r"manifests\[0\].urls: expected an array"),
        ({"urls": [5]}, r"manifests\[0\].urls\[0\]: expected a string"),
        ({"platform": "linux"}, r"manifests\[0\].platform: expected an object"),
        ({"platform": {"os": 5, "architecture": "amd64"}}, r"platform.os: expected a string"),
        ({"platform": {"os": "linux"}}, r"platform.architecture: missing"),
        (
            {"platform": {"os": "linux", "architecture": "x", "variant": []}},
            "variant: expected a string",
        ),
    ],
)
def test_wrong_descriptors_are_one_error(
    images: dict[str, Built], tmp_path: Path, change: dict[str, object], message: str
) -> None:
    built = _copy(images["single"], tmp_path)
    index = json.loads((built.root / "index.json").read_text())
    index["manifests"][0].update(change)
    _with_index(built, index)
    with pytest.raises(ImageFormatError, match=message):
        read_image(built.root)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "index.json: not JSON artreg can read"),
        (
            b'{"schemaVersion": 2, "manifests": [], "x": ' + b"1" * 5000 + b"}",
            "index.json: not JSON",
        ),
        (b"\xff\xfe", "index.json: not JSON"),
        (b"", "index.json: not JSON"),
    ],
)
def test_unreadable_json_is_one_error(
    images: dict[str, Built], tmp_path: Path, body: bytes, message: str
) -> None:
    built = _copy(images["single"], tmp_path)
    (built.root / "index.json").write_bytes(body)
    with pytest.raises(ImageFormatError, match=message):
        read_image(built.root)
    (built.root / "oci-layout").write_bytes(body)
    with pytest.raises(ImageFormatError, match=message.replace("index.json", "oci-layout")):
        read_image(built.root)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"config": 5}, "config: expected an object, found 5"),
        ({"layers": {}}, "layers: expected an array, found an object"),
        ({"layers": [5]}, r"layers\[0\]: expected an object, found 5"),
        ({"artifactType": 5}, "artifactType: expected a string, found 5"),
        ({"mediaType": []}, "mediaType: expected a string, found an array"),
        ({"schemaVersion": 1}, "schemaVersion: expected 2, found 1"),
    ],
)
def test_wrong_manifests_name_their_blob(
    images: dict[str, Built], tmp_path: Path, change: dict[str, object], message: str
) -> None:
    built = _copy(images["single"], tmp_path)
    _rewrite_manifest(built, change)
    with pytest.raises(ImageFormatError, match=f"blobs/sha256/[0-9a-f]{{64}} .*{message}"):
        read_image(built.root)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


def _descriptor_like(inner: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    keys = st.sampled_from(["mediaType", "digest", "size", "platform", "annotations", "urls"])
    values = inner | st.sampled_from([OCI_MANIFEST, OCI_INDEX, "sha256:" + "a" * 64, 12, -1])
    return st.dictionaries(keys, values, max_size=6)


@fuzz()
@given(
    index=st.fixed_dictionaries(
        {},
        optional={
            "schemaVersion": st.sampled_from([2, "2", None, 1]),
            "mediaType": st.sampled_from([OCI_INDEX, 5, None]) | _JSON,
            "manifests": st.lists(_descriptor_like(_JSON) | _JSON, max_size=3) | _JSON,
        },
    )
    | _JSON,
    raw=st.none() | st.binary(max_size=200),
    target=st.sampled_from(["index.json", "oci-layout"]),
)
def test_fuzz_index_json_raises_only_image_errors(
    tmp_path_factory: pytest.TempPathFactory, index: object, raw: bytes | None, target: str
) -> None:
    root = tmp_path_factory.mktemp("fuzz") / "layout"
    built = build_image(root, ref="v1", layers=1, payload=10)
    if raw is None:
        _with_index(built, index)
    else:
        (root / target).write_bytes(raw)
    with contextlib.suppress(ArtregError):
        read_image(root).close()


@fuzz()
@given(
    manifest=st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "Config": st.sampled_from(["config.json", "missing.json"]) | _JSON,
                "Layers": st.sampled_from([["layer.tar"], []]) | _JSON,
                "RepoTags": st.sampled_from([["a/b:v1"], None]) | _JSON,
            },
        )
        | _JSON,
        max_size=3,
    )
    | _JSON,
    config=_JSON | st.just({"rootfs": {"diff_ids": [sha256_digest(b"\0" * 1024)]}}),
    gz=st.booleans(),
)
def test_fuzz_docker_manifest_json_raises_only_image_errors(
    tmp_path_factory: pytest.TempPathFactory, manifest: object, config: object, gz: bool
) -> None:
    archive = tmp_path_factory.mktemp("fuzz") / "docker.tar"
    _tar(archive, _docker_members(manifest, config), gz=gz)
    for ref in (None, "v1"):
        with contextlib.suppress(ArtregError):
            read_image(archive, ref=ref).close()


@fuzz()
@given(
    change=st.dictionaries(
        st.sampled_from(["config", "layers", "mediaType", "artifactType", "schemaVersion"]),
        _JSON | _descriptor_like(_JSON) | st.lists(_descriptor_like(_JSON), max_size=2),
        max_size=3,
    ),
)
def test_fuzz_manifests_inside_a_layout_raise_only_image_errors(
    tmp_path_factory: pytest.TempPathFactory, change: dict[str, object]
) -> None:
    root = tmp_path_factory.mktemp("fuzz") / "layout"
    built = build_image(root, ref="v1", layers=1, payload=10)
    _rewrite_manifest(built, change)
    with contextlib.suppress(ArtregError):
        read_image(root).close()


@fuzz()
@given(raw=st.binary(max_size=300), as_index=st.booleans())
def test_fuzz_raw_manifest_bytes_inside_a_layout_raise_only_image_errors(
    tmp_path_factory: pytest.TempPathFactory, raw: bytes, as_index: bool
) -> None:
    root = tmp_path_factory.mktemp("fuzz") / "layout"
    build_image(root, ref="v1", layers=1, payload=10)
    digest, size = write_blob(root, raw)
    media_type = OCI_INDEX if as_index else OCI_MANIFEST
    _with_index(
        Built(root, "v1", digest, media_type),
        {
            "schemaVersion": 2,
            "manifests": [{"mediaType": media_type, "digest": digest, "size": size}],
        },
    )
    with contextlib.suppress(ArtregError):
        read_image(root).close()


@pytest.mark.parametrize("gz", [False, True])
def test_a_docker_config_that_is_not_json_or_too_big(tmp_path: Path, gz: bool) -> None:
    members = _docker_members(GOOD_DOCKER)
    members["config.json"] = b"\x7fELF" + bytes(100)
    archive = _tar(tmp_path / "docker.tar", members, gz=gz)
    with pytest.raises(ImageFormatError, match=r"config\.json"):
        read_image(archive)
    members["config.json"] = b"{" + b" " * (5 * 1024 * 1024) + b"}"
    archive = _tar(tmp_path / "docker.tar", members, gz=gz)
    with pytest.raises(ImageFormatError, match=r"config\.json is over 4194304 bytes"):
        read_image(archive)
