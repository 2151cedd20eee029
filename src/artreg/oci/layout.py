"""Read an image from an OCI image layout directory, an oci-archive or a docker-archive.

Everything the image-spec says MUST hold is checked before an :class:`Image`
is returned, so a corrupt or truncated input fails before the first upload:
the ``oci-layout`` file and its ``imageLayoutVersion``, ``index.json``, every
referenced blob present with its descriptor's size and sha256 digest, and
known media types. Blobs are hashed in chunks, never held in memory; only
manifests (at most 4 MiB each) are read whole, and they are published byte for
byte, so their digests never change.

An uncompressed tar archive is indexed from its tar headers and each member
the image references hashed where it lies (in parallel); its blobs are then
uploaded from the archive itself, as :class:`~artreg.stores.base.FileSlice`
bodies, so nothing is copied. A compressed one (gzip, bzip2 or xz) is surveyed
in one streaming pass (names, sizes, small JSON documents), then a second pass
copies only the members the image references to a private staging directory,
hashing them, because a store uploads from a file. Every JSON document goes
through one typed validator (:class:`_Document`). Finding and staging the
files is :mod:`artreg.oci.archive`'s. A docker-archive (``docker save``)
has no registry manifest: artreg writes an OCI image manifest for it (see
:func:`_docker_manifest`), whose digest is therefore artreg's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artreg.core.images import MAX_INDEX_DEPTH
from artreg.errors import (
    BlobMissing,
    BlobSizeMismatch,
    DigestMismatch,
    ImageFormatError,
    UnknownMediaType,
)
from artreg.oci.archive import (
    FIX_EXPORT,
    ArchiveTree,
    DirTree,
    Found,
    Tree,
    read_archive,
    read_small,
)
from artreg.oci.image import (
    CONFIG_TYPES,
    INDEX_TYPES,
    LAYER_TYPES,
    MANIFEST_TYPES,
    MAX_MANIFEST_SIZE,
    MEDIA_TYPE,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_LAYER_GZIP,
    OCI_LAYER_ZSTD,
    OCI_MANIFEST,
    SHA256_DIGEST,
    Blob,
    Image,
    Manifest,
    sha256_digest,
)
from artreg.render.terminal import counted

REF_NAME = "org.opencontainers.image.ref.name"
LAYOUT_VERSION_MAJOR = "1."
MAX_MANIFESTS = 1000  # distinct manifests and indexes in one image (each walked once)


def read_image(path: Path, *, ref: str | None = None) -> Image:
    """Read and validate the image at ``path``; ``ref`` picks one of several images.

    ``path`` may also be written ``PATH:REF`` (like skopeo's ``oci:PATH:REF``)
    when ``PATH`` itself exists and ``PATH:REF`` does not.
    """
    if ref is None and not path.exists() and ":" in path.name:
        base, _, name = str(path).rpartition(":")
        if Path(base).exists() and name:
            path, ref = Path(base), name
    if path.is_dir():
        return _read_layout(DirTree(path), path, "oci-layout", ref)
    if not path.exists():
        raise ImageFormatError(
            f"{path}: does not exist; expected an OCI image layout directory, an oci-archive "
            "or a docker-archive (check the artifact's path in artreg.toml, and that the "
            "image was built before `artreg apply`)"
        )
    tree = read_archive(path)
    try:
        if "oci-layout" in tree.files:
            return _read_layout(tree, path, "oci-archive", ref)
        if "manifest.json" in tree.files:
            return _read_docker_archive(tree, path, ref)
        raise ImageFormatError(
            f"{path}: a tar archive with neither 'oci-layout' (oci-archive) nor "
            f"'manifest.json' (docker-archive) at its top level; {FIX_EXPORT}"
        )
    except BaseException:
        tree.cleanup()
        raise


# --- OCI layouts (directory or archive) -------------------------------------------------------


@dataclass(frozen=True)
class _Descriptor:
    media_type: str
    digest: str
    size: int
    platform: str | None
    annotations: Mapping[str, str]
    urls: tuple[str, ...]


# --- the one validator of the JSON documents an image is made of ---------------------------

_KINDS: dict[type, str] = {
    dict: "an object",
    list: "an array",
    str: "a string",
    int: "an integer",
    bool: "true or false",
}


def _found_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return _KINDS[type(value)]
    shown = json.dumps(value) if isinstance(value, (str, int, float)) else repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


class _Document:
    """A JSON document of an image (``name`` is its file in the layout or archive).

    Every field read goes through :meth:`get`, which checks its type: a wrong
    document is one ImageFormatError naming the file, the field, what was
    expected and what was found.
    """

    def __init__(self, where: Path, name: str, body: bytes, root: type = dict) -> None:
        self.where = where
        self.name = name
        try:
            value = json.loads(body)
        except RecursionError:
            raise self.error("", "not JSON artreg can read (nested too deeply)") from None
        except (UnicodeDecodeError, ValueError) as exc:  # ValueError: also int digit limits
            raise self.error("", f"not JSON ({exc})") from None
        self.value = self.check(value, root, "")

    def error(self, field: str, text: str) -> ImageFormatError:
        at = f"{self.name}: {field}" if field else self.name
        return ImageFormatError(f"{self.where}: {at}: {text}; nothing was uploaded; {FIX_EXPORT}")

    def check(self, value: object, kind: type, field: str) -> Any:
        if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
            return value
        raise self.error(field, f"expected {_KINDS[kind]}, found {_found_kind(value)}")

    def get(
        self, parent: Mapping[str, object], key: str, kind: type, field: str, *, required: bool
    ) -> Any:
        """``parent[key]`` of type ``kind``; None when absent (or null) and not required."""
        where = f"{field}.{key}" if field else key
        value = parent.get(key)
        if value is None:
            if required:
                raise self.error(where, f"missing; expected {_KINDS[kind]}")
            return None
        return self.check(value, kind, where)

    def strings(self, parent: Mapping[str, object], key: str, field: str) -> list[str] | None:
        items = self.get(parent, key, list, field, required=False)
        if items is None:
            return None
        where = f"{field}.{key}" if field else key
        return [self.check(item, str, f"{where}[{n}]") for n, item in enumerate(items)]

    def descriptor(self, value: object, field: str) -> _Descriptor:
        """An OCI content descriptor (mediaType, digest, size, and optional fields)."""
        desc = self.check(value, dict, field)
        media_type = self.get(desc, "mediaType", str, field, required=True)
        digest = self.get(desc, "digest", str, field, required=True)
        size = self.get(desc, "size", int, field, required=True)
        if not MEDIA_TYPE.fullmatch(media_type):
            raise UnknownMediaType(
                f"{self.where}: {self.name}: {field}: mediaType {_found_kind(media_type)} is "
                f"not a media type; {FIX_EXPORT}"
            )
        if not SHA256_DIGEST.fullmatch(digest):
            algorithm = digest.partition(":")[0]
            hint = (
                "artreg publishes sha256 digests only"
                if algorithm and algorithm != "sha256" and ":" in digest
                else "expected 'sha256:' and 64 lowercase hex digits"
            )
            raise self.error(field, f"digest {_found_kind(digest)} is not valid ({hint})")
        if size < 0:
            raise self.error(f"{field}.size", f"expected a size >= 0, found {size}")
        platform = self.get(desc, "platform", dict, field, required=False)
        shown_platform = None
        if platform is not None:
            where = f"{field}.platform"
            parts = [
                self.get(platform, "os", str, where, required=True),
                self.get(platform, "architecture", str, where, required=True),
            ]
            variant = self.get(platform, "variant", str, where, required=False)
            if variant:
                parts.append(variant)
            shown_platform = "/".join(parts)
        annotations = self.get(desc, "annotations", dict, field, required=False) or {}
        for key, item in annotations.items():
            self.check(item, str, f"{field}.annotations.{key}")
        urls = self.strings(desc, "urls", field) or []
        return _Descriptor(media_type, digest, size, shown_platform, annotations, tuple(urls))

    def image_document(self) -> None:
        """Checks common to an image manifest and index: schemaVersion 2."""
        version = self.value.get("schemaVersion")
        if version != 2 or isinstance(version, bool):
            raise self.error("schemaVersion", f"expected 2, found {_found_kind(version)}")


class _Reader:
    """Walks manifests from a top descriptor, verifying everything reachable once."""

    def __init__(self, tree: Tree, where: Path) -> None:
        self.tree = tree
        self.where = where
        self.children: dict[str, Manifest] = {}
        self.walked: dict[tuple[str, str], bytes] = {}  # (digest, media type) -> body
        self.blobs: dict[str, tuple[_Descriptor, str, Found]] = {}

    # Blobs.

    def locate(self, desc: _Descriptor, role: str) -> Found:
        found = self.tree.locate(f"blobs/sha256/{desc.digest.removeprefix('sha256:')}")
        if found is None:
            raise BlobMissing(
                f"{self.where}: {role}: blob {desc.digest} is missing "
                f"(expected blobs/sha256/{desc.digest.removeprefix('sha256:')}); the image is "
                f"incomplete; nothing was uploaded; {FIX_EXPORT}"
            )
        if found.size != desc.size:
            raise BlobSizeMismatch(
                f"{self.where}: {role}: blob {desc.digest} has {found.size} bytes, its "
                f"descriptor says {desc.size} (a truncated or replaced file); nothing was "
                f"uploaded; {FIX_EXPORT}"
            )
        return found

    def verify_blob(self, desc: _Descriptor, role: str) -> None:
        """Check presence and size now; the digest in :meth:`finish` (hashed in parallel)."""
        if desc.digest in self.blobs:
            return
        if desc.urls and self.tree.locate(f"blobs/sha256/{desc.digest[7:]}") is None:
            return  # a foreign layer: clients fetch it from its urls
        self.blobs[desc.digest] = (desc, role, self.locate(desc, role))

    def finish(self) -> tuple[Blob, ...]:
        """Stage or hash every blob; the first mismatch (in walk order) is raised."""
        ready = self.tree.materialize([found for _, _, found in self.blobs.values()], self.where)
        out = []
        for desc, role, found in self.blobs.values():
            done = ready[found.key]
            if "sha256:" + (done.sha256 or "") != desc.digest:
                raise self.digest_error(role, desc.digest, f"sha256:{done.sha256}")
            out.append(_blob(done, desc.digest, desc.media_type))
        return tuple(out)

    def manifest_bytes(self, desc: _Descriptor, role: str) -> bytes:
        if desc.size > MAX_MANIFEST_SIZE:
            raise self.format_error(
                f"{role}: {desc.digest} is {desc.size} bytes; registries refuse manifests "
                f"over {MAX_MANIFEST_SIZE} bytes"
            )
        found = self.locate(desc, role)
        body = read_small(found, self.where)
        actual = sha256_digest(body)
        if actual != desc.digest:
            raise self.digest_error(role, desc.digest, actual)
        return body

    # Manifests.

    def walk(self, desc: _Descriptor, role: str, depth: int = 0) -> Manifest:
        """Verify the manifest or index ``desc`` and everything below it, once per digest."""
        if desc.media_type not in INDEX_TYPES | MANIFEST_TYPES:
            raise UnknownMediaType(
                f"{self.where}: {role}: media type {desc.media_type!r} is not an image manifest "
                f"or index (expected one of {', '.join(sorted(INDEX_TYPES | MANIFEST_TYPES))}); "
                "nothing was uploaded"
            )
        seen = self.walked.get((desc.digest, desc.media_type))
        if seen is not None:  # a diamond: this manifest and all below it are verified
            return Manifest(desc.digest, desc.media_type, seen, desc.platform)
        if depth > MAX_INDEX_DEPTH:
            raise self.format_error(f"{role}: indexes nested more than {MAX_INDEX_DEPTH} deep")
        if len(self.walked) >= MAX_MANIFESTS:
            raise self.format_error(
                f"{role}: the image has more than {MAX_MANIFESTS} manifests and indexes"
            )
        body = self.manifest_bytes(desc, role)
        name = f"blobs/sha256/{desc.digest.removeprefix('sha256:')}"
        doc = _Document(self.where, f"{name} ({role})", body)
        doc.image_document()
        declared = doc.get(doc.value, "mediaType", str, "", required=False)
        if declared is not None and declared != desc.media_type:
            raise UnknownMediaType(
                f"{self.where}: {role}: {desc.digest} declares mediaType {declared!r} but is "
                f"referenced as {desc.media_type!r}; {FIX_EXPORT}"
            )
        what = f"{'index' if desc.media_type in INDEX_TYPES else 'manifest'} {desc.digest[:19]}"
        if desc.media_type in INDEX_TYPES:
            entries = doc.get(doc.value, "manifests", list, "", required=True)
            for n, entry in enumerate(entries):
                child_role = f"{what}: manifests[{n}]"
                child = doc.descriptor(entry, f"manifests[{n}]")
                manifest = self.walk(child, child_role, depth + 1)
                self.children.setdefault(manifest.digest, manifest)
        else:
            self.check_image_manifest(doc, what)
        self.walked[(desc.digest, desc.media_type)] = body
        return Manifest(desc.digest, desc.media_type, body, desc.platform)

    def check_image_manifest(self, doc: _Document, what: str) -> None:
        artifact = doc.get(doc.value, "artifactType", str, "", required=False) is not None
        config = doc.descriptor(doc.get(doc.value, "config", dict, "", required=True), "config")
        if config.media_type not in CONFIG_TYPES and not artifact:
            raise UnknownMediaType(
                f"{self.where}: {what}: config media type {config.media_type!r} is not an "
                f"image config (expected one of {', '.join(sorted(CONFIG_TYPES))}); "
                "nothing was uploaded"
            )
        self.verify_blob(config, f"{what}: config")
        layers = doc.get(doc.value, "layers", list, "", required=False) or []
        for n, value in enumerate(layers):
            role = f"{what}: layers[{n}]"
            layer = doc.descriptor(value, f"layers[{n}]")
            if layer.media_type not in LAYER_TYPES and not artifact:
                raise UnknownMediaType(
                    f"{self.where}: {role}: media type {layer.media_type!r} is not a known "
                    f"layer type (expected one of {', '.join(sorted(LAYER_TYPES))}); "
                    "nothing was uploaded"
                )
            self.verify_blob(layer, role)

    def format_error(self, text: str) -> ImageFormatError:
        return ImageFormatError(f"{self.where}: {text}; nothing was uploaded; {FIX_EXPORT}")

    def digest_error(self, role: str, expected: str, found: str) -> DigestMismatch:
        return DigestMismatch(
            f"{self.where}: {role}: content does not match its digest: expected {expected}, "
            f"found {found} (a corrupt or modified blob); nothing was uploaded; {FIX_EXPORT}"
        )


def _read_layout(tree: Tree, where: Path, kind: str, ref: str | None) -> Image:
    reader = _Reader(tree, where)
    layout = tree.locate("oci-layout")
    if layout is None:
        raise ImageFormatError(
            f"{where}: no 'oci-layout' file: not an OCI image layout (a docker-archive or "
            f"oci-archive must be given as the .tar file itself); {FIX_EXPORT}"
        )
    marker = _Document(where, "oci-layout", read_small(layout, where))
    version = marker.get(marker.value, "imageLayoutVersion", str, "", required=True)
    if not version.startswith(LAYOUT_VERSION_MAJOR):
        raise reader.format_error(
            f"oci-layout: imageLayoutVersion is {version!r}, expected '1.0.0' "
            '(the file must be {"imageLayoutVersion": "1.0.0"})'
        )
    index_file = tree.locate("index.json")
    if index_file is None:
        raise reader.format_error("index.json is missing")
    body = read_small(index_file, where)
    doc = _Document(where, "index.json", body)
    doc.image_document()
    declared = doc.get(doc.value, "mediaType", str, "", required=False) or OCI_INDEX
    if declared != OCI_INDEX:
        raise UnknownMediaType(f"{where}: index.json: mediaType {declared!r}, expected {OCI_INDEX}")
    entries = doc.get(doc.value, "manifests", list, "", required=True)
    if not entries:
        raise reader.format_error("index.json lists no manifests")
    descriptors = [doc.descriptor(e, f"manifests[{n}]") for n, e in enumerate(entries)]
    refs = [d.annotations.get(REF_NAME) for d in descriptors]
    if ref is not None:
        chosen = [n for n, name in enumerate(refs) if name == ref]
        if len(chosen) != 1:
            raise ImageFormatError(
                f"{where}: index.json has {len(chosen)} images named {ref!r} (names: "
                f"{', '.join(repr(r) for r in refs if r) or 'none'}); use one of the names"
            )
        top = reader.walk(descriptors[chosen[0]], f"index.json: {ref}")
    elif len(descriptors) == 1:
        top = reader.walk(descriptors[0], "index.json: manifests[0]")
    elif all(d.platform is not None for d in descriptors) and len(set(refs)) <= 1:
        # The layout's own index lists one image per platform: it is the image index.
        for n, desc in enumerate(descriptors):
            child = reader.walk(desc, f"index.json: manifests[{n}]")
            reader.children.setdefault(child.digest, child)
        top = Manifest(sha256_digest(body), OCI_INDEX, body)
    else:
        names = ", ".join(repr(r) for r in refs if r) or "no names"
        raise ImageFormatError(
            f"{where}: index.json lists {len(descriptors)} images ({names}); say which one "
            f'with path = "{where.name}:NAME" in artreg.toml'
        )
    children = tuple(m for d, m in reader.children.items() if d != top.digest)
    blobs = reader.finish()
    return Image(where, kind, top, children, blobs, staging=tree.tmp)


# --- docker-archive -------------------------------------------------------------------------


def _read_docker_archive(tree: ArchiveTree, where: Path, ref: str | None) -> Image:
    reader = _Reader(tree, where)
    doc = _Document(where, "manifest.json", read_small(tree.files["manifest.json"], where), list)
    images = []
    for n, value in enumerate(doc.value):
        entry = doc.check(value, dict, f"[{n}]")
        config_name = doc.get(entry, "Config", str, f"[{n}]", required=True)
        names = doc.strings(entry, "Layers", f"[{n}]")
        if names is None:
            raise doc.error(f"[{n}].Layers", "missing; expected an array")
        tags = doc.strings(entry, "RepoTags", f"[{n}]") or []
        images.append((config_name, names, tags))
    if not images:
        raise reader.format_error("manifest.json: expected a non-empty list of images")
    if ref is not None:
        images = [i for i in images if any(t == ref or t.endswith(":" + ref) for t in i[2])]
        if len(images) != 1:
            raise ImageFormatError(
                f"{where}: manifest.json has {len(images)} images tagged {ref!r}"
            )
    elif len(images) > 1:
        tags = [t for i in images for t in i[2]]
        raise ImageFormatError(
            f"{where}: the docker-archive holds {len(images)} images ({', '.join(tags)}); "
            f'say which one with path = "{where.name}:TAG" in artreg.toml'
        )
    config_name, layer_names, _ = images[0]
    config = _member(tree, where, config_name, "config")
    config_doc = _Document(where, config_name, read_small(config, where))
    rootfs = config_doc.get(config_doc.value, "rootfs", dict, "", required=True)
    diff_ids = config_doc.strings(rootfs, "diff_ids", "rootfs")
    if diff_ids is None:
        raise config_doc.error("rootfs.diff_ids", "missing; expected an array")
    if len(diff_ids) != len(layer_names):
        raise reader.format_error(
            f"{config_name}: rootfs.diff_ids lists {counted(len(diff_ids), 'layer')}, "
            f"manifest.json {len(layer_names)}"
        )
    members = [_member(tree, where, name, f"layer {n}") for n, name in enumerate(layer_names)]
    media_types = [_layer_type(member, where) for member in members]
    ready = tree.materialize([config, *members], where)
    config = ready[config.key]
    blobs = [_blob(config, f"sha256:{config.sha256}", OCI_CONFIG)]
    for n, (name, member, media_type) in enumerate(
        zip(layer_names, members, media_types, strict=True)
    ):
        layer = ready[member.key]
        digest = f"sha256:{layer.sha256}"
        if media_type == OCI_LAYER and diff_ids[n] != digest:
            raise DigestMismatch(
                f"{where}: layer {n} ({name}): content does not match the config's "
                f"rootfs.diff_ids[{n}]: expected {diff_ids[n]}, found {digest} (a corrupt "
                f"layer); nothing was uploaded; {FIX_EXPORT}"
            )
        blobs.append(_blob(layer, digest, media_type))
    body = _docker_manifest(blobs[0], blobs[1:])
    unique = {b.digest: b for b in blobs}
    top = Manifest(sha256_digest(body), OCI_MANIFEST, body)
    return Image(
        where,
        "docker-archive",
        top,
        (),
        tuple(unique.values()),
        synthesized=True,
        staging=tree.tmp,
    )


def _docker_manifest(config: Blob, layers: list[Blob]) -> bytes:
    """The OCI image manifest artreg writes for a docker-archive image.

    OCI rather than Docker schema 2: ``docker save`` stores layers uncompressed,
    and only OCI defines a media type for an uncompressed layer
    (``application/vnd.oci.image.layer.v1.tar``); Docker's config JSON is a
    valid OCI image config. The bytes are canonical (fixed key order, no
    whitespace), so the same archive always yields the same digest.
    """

    def descriptor(blob: Blob) -> dict[str, object]:
        return {"mediaType": blob.media_type, "digest": blob.digest, "size": blob.size}

    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(config),
        "layers": [descriptor(layer) for layer in layers],
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def _member(tree: ArchiveTree, where: Path, name: str, role: str) -> Found:
    found = tree.locate(name)
    if found is None:
        raise BlobMissing(
            f"{where}: {role}: {name!r} is listed in manifest.json but missing from the "
            f"archive; nothing was uploaded; {FIX_EXPORT}"
        )
    return found


def _layer_type(found: Found, where: Path) -> str:
    """A docker-archive layer's media type, from its magic bytes."""
    head = found.head[:4] if found.path is None else read_small(found, where, limit=4)
    if head[:2] == b"\x1f\x8b":
        return OCI_LAYER_GZIP
    if head == b"\x28\xb5\x2f\xfd":
        return OCI_LAYER_ZSTD
    return OCI_LAYER


def _blob(found: Found, digest: str, media_type: str) -> Blob:
    assert found.path is not None, "blobs are built from staged or local files"
    return Blob(digest, found.size, media_type, found.path, found.offset)
