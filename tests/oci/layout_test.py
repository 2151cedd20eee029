"""Reading images: OCI layouts, oci-archives and docker-archives, and every way they break."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import pytest
from oci.builder import Built, build_image, compress_file, skopeo, to_archive, write_blob

from artreg.oci.image import (
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    BlobMissing,
    BlobSizeMismatch,
    DigestMismatch,
    ImageError,
    ImageFormatError,
    TruncatedArchive,
    UnknownMediaType,
    sha256_digest,
)
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
