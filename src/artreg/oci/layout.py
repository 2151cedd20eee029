"""Read an image from an OCI image layout directory, an oci-archive or a docker-archive.

Everything the image-spec says MUST hold is checked before an :class:`Image`
is returned, so a corrupt or truncated input fails before the first upload:
the ``oci-layout`` file and its ``imageLayoutVersion``, ``index.json``, every
referenced blob present with its descriptor's size and sha256 digest, and
known media types. Blobs are hashed in chunks, never held in memory; only
manifests (at most 4 MiB each) are read whole, and they are published byte for
byte, so their digests never change.

An uncompressed tar archive is indexed from its tar headers and each member
hashed where it lies (in parallel); its blobs are then uploaded from the
archive itself, as :class:`~artreg.stores.base.FileSlice` bodies, so nothing
is copied. A compressed one (gzip, bzip2 or xz) is read in one streaming
pass, each regular member copied to a private staging directory while it is
hashed, because a store uploads from a file. A docker-archive (``docker save``)
has no registry manifest: artreg writes an OCI image manifest for it (see
:func:`_docker_manifest`), whose digest is therefore artreg's.
"""

from __future__ import annotations

import concurrent.futures
import gzip
import hashlib
import json
import lzma
import os
import posixpath
import tarfile
import tempfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

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
    READ_CHUNK,
    SHA256_DIGEST,
    Blob,
    BlobMissing,
    BlobSizeMismatch,
    DigestMismatch,
    Image,
    ImageError,
    ImageFormatError,
    Manifest,
    TruncatedArchive,
    UnknownMediaType,
    sha256_digest,
)
from artreg.render.counts import counted

REF_NAME = "org.opencontainers.image.ref.name"
LAYOUT_VERSION_MAJOR = "1."
MAX_DEPTH = 4  # index -> index -> manifest is the deepest anyone nests in practice
_MAX_LINK_HOPS = 16
# Blobs are hashed in parallel (hashlib releases the GIL on large updates).
_HASH_WORKERS = min(4, os.cpu_count() or 1)
_ARCHIVE_ERRORS = (
    tarfile.TarError,
    EOFError,
    zlib.error,
    gzip.BadGzipFile,
    lzma.LZMAError,
    OSError,
)
_FIX_EXPORT = "re-export the image (e.g. `skopeo copy ... oci:DIR:TAG`) and re-run"


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
        return _read_layout(_DirTree(path), path, "oci-layout", ref, None)
    if not path.exists():
        raise ImageFormatError(
            f"{path}: does not exist; expected an OCI image layout directory, an oci-archive "
            "or a docker-archive (check the artifact's path in artreg.toml, and that the "
            "image was built before `artreg apply`)"
        )
    tree = _read_archive(path)
    try:
        if "oci-layout" in tree.files:
            return _read_layout(tree, path, "oci-archive", ref, tree.tmp)
        if "manifest.json" in tree.files:
            return _read_docker_archive(tree, path, ref)
        raise ImageFormatError(
            f"{path}: a tar archive with neither 'oci-layout' (oci-archive) nor "
            f"'manifest.json' (docker-archive) at its top level; {_FIX_EXPORT}"
        )
    except BaseException:
        tree.cleanup()
        raise


# --- where the files are ------------------------------------------------------------------


@dataclass(frozen=True)
class _Found:
    path: Path
    size: int
    sha256: str | None  # known for an archive's members (hashed while reading it)
    offset: int | None = None  # an uncompressed archive's member: its data, in ``path``


class _DirTree:
    """The files of a layout directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def locate(self, name: str) -> _Found | None:
        path = self.root / name
        try:
            if not path.is_file():
                return None
            return _Found(path, path.stat().st_size, None)
        except OSError:
            return None


@dataclass
class _ArchiveTree:
    """The regular members of an archive, hashed; ``tmp`` holds staged copies."""

    tmp: tempfile.TemporaryDirectory[str] | None
    files: dict[str, _Found] = field(default_factory=dict)

    def locate(self, name: str) -> _Found | None:
        return self.files.get(_normalize(name))

    def cleanup(self) -> None:
        if self.tmp is not None:
            self.tmp.cleanup()


_Tree = _DirTree | _ArchiveTree
_COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")


def _normalize(name: str) -> str:
    normal = posixpath.normpath(name.lstrip("/"))
    return "" if normal == "." else normal


def _read_archive(path: Path) -> _ArchiveTree:
    """Hash every regular member of the tar at ``path``, checking it is whole.

    An uncompressed tar (what ``skopeo copy``, ``docker save`` and ``podman
    save`` write) is indexed from its headers and its members hashed in place,
    in parallel: they are uploaded from the archive itself, nothing is copied.
    A compressed one is read in one streaming pass, each member copied to a
    staging directory while it is hashed. (Extracting only the blobs a run
    uploads would decompress the archive twice on a first publish: measured
    slower, see benchmarks/README.md.)
    """
    try:
        with path.open("rb") as stream:
            magic = stream.read(6)
    except OSError as exc:
        raise ImageFormatError(f"{path}: cannot read it: {exc.strerror}") from None
    if not magic.startswith(_COMPRESSED_MAGIC):
        tree = _index_archive(path)
        if tree is not None:
            return tree
    return _stream_archive(path)


def _archive_error(path: Path, exc: BaseException, count: int) -> ImageError:
    if isinstance(exc, _StagingFailed):
        return exc.error
    if count == 0 and not isinstance(exc, (EOFError, zlib.error, lzma.LZMAError)):
        return ImageFormatError(
            f"{path}: not a directory and not a readable tar archive ({exc}); expected an "
            "OCI image layout directory, an oci-archive or a docker-archive"
        )
    return TruncatedArchive(
        f"{path}: the archive is truncated or damaged after {count} member(s) ({exc}); "
        f"nothing was uploaded; {_FIX_EXPORT}"
    )


def _no_end_marker(path: Path, count: int) -> TruncatedArchive:
    return TruncatedArchive(
        f"{path}: the archive is truncated: it ends after {count} member(s) without "
        f"tar's end-of-archive marker; nothing was uploaded; {_FIX_EXPORT}"
    )


def _resolve_links(tree: _ArchiveTree, links: Mapping[str, str]) -> None:
    for name, target in links.items():
        for _ in range(_MAX_LINK_HOPS):
            if target not in links:
                break
            target = links[target]
        if target in tree.files:
            tree.files[name] = tree.files[target]


def _link(member: tarfile.TarInfo, name: str, links: dict[str, str]) -> None:
    if member.issym():
        links[name] = _normalize(posixpath.join(posixpath.dirname(name), member.linkname))
    elif member.islnk():
        links[name] = _normalize(member.linkname)


def _index_archive(path: Path) -> _ArchiveTree | None:
    """An uncompressed tar's members as slices of it, hashed; None if it has sparse files."""
    regular: dict[str, tuple[int, int]] = {}
    links: dict[str, str] = {}
    count = 0
    info_class, ended = _end_marker_watcher()
    try:
        # Not streamed: tarfile reads each header and seeks over the data.
        with tarfile.open(path, mode="r:", tarinfo=info_class) as tar:
            for member in tar:
                count += 1
                name = _normalize(member.name)
                if member.issparse():
                    return None  # its data is not stored as one run of bytes
                if member.isreg():
                    regular[name] = (member.offset_data, member.size)
                else:
                    _link(member, name, links)
        end = path.stat().st_size
    except _ARCHIVE_ERRORS as exc:
        raise _archive_error(path, exc, count) from None
    if not ended:
        raise _no_end_marker(path, count)
    for name, (offset, size) in regular.items():
        if offset + size > end:
            raise _archive_error(path, EOFError(f"{name!r} ends past the archive's end"), count)
    slices = [_Found(path, size, None, offset) for offset, size in regular.values()]
    workers = min(_HASH_WORKERS, len(slices))
    if workers > 1:
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            hashes = list(pool.map(lambda f: _hash_found(f, path), slices))
    else:
        hashes = [_hash_found(f, path) for f in slices]
    tree = _ArchiveTree(None)
    for name, found, sha256 in zip(regular, slices, hashes, strict=True):
        tree.files[name] = _Found(path, found.size, sha256, found.offset)
    _resolve_links(tree, links)
    return tree


def _stream_archive(path: Path) -> _ArchiveTree:
    """Copy every regular member of a (compressed) tar to a staging dir, hashing it."""
    tmp = tempfile.TemporaryDirectory(prefix="artreg-oci-")
    tree = _ArchiveTree(tmp)
    staging = Path(tmp.name)
    links: dict[str, str] = {}
    count = 0
    info_class, ended = _end_marker_watcher()
    try:
        with tarfile.open(path, mode="r|*", tarinfo=info_class) as tar:
            for member in tar:
                count += 1
                name = _normalize(member.name)
                if member.isreg():
                    tree.files[name] = _stage_member(tar, member, staging / str(count))
                else:
                    _link(member, name, links)
    except _ARCHIVE_ERRORS as exc:
        tree.cleanup()
        raise _archive_error(path, exc, count) from None
    if not ended:
        tree.cleanup()
        raise _no_end_marker(path, count)
    _resolve_links(tree, links)
    return tree


# tarfile ends a stream silently at a truncated or missing header; only a zero
# block (EOFHeaderError) is the real end-of-archive marker.
_EOF_HEADER: type[Exception] = getattr(tarfile, "EOFHeaderError", tarfile.HeaderError)


def _end_marker_watcher() -> tuple[type[tarfile.TarInfo], list[bool]]:
    """A TarInfo class that records, in the returned list, reaching the end marker."""
    seen: list[bool] = []

    class _Info(tarfile.TarInfo):
        @classmethod
        def fromtarfile(cls, tarfile: tarfile.TarFile) -> _Info:
            try:
                return super().fromtarfile(tarfile)
            except _EOF_HEADER:
                seen.append(True)
                raise

    return _Info, seen


class _StagingFailed(OSError):
    def __init__(self, error: ImageFormatError) -> None:
        super().__init__(str(error))
        self.error = error


def _stage_member(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path) -> _Found:
    source = tar.extractfile(member)
    if source is None:  # pragma: no cover - isreg() members always have data
        raise tarfile.ReadError(f"cannot read member {member.name!r}")
    digest = hashlib.sha256()
    size = 0
    try:
        out = dest.open("wb")
    except OSError as exc:
        raise _StagingFailed(_staging_error(dest, exc)) from None
    with out:
        while chunk := source.read(READ_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            try:
                out.write(chunk)
            except OSError as exc:
                raise _StagingFailed(_staging_error(dest, exc)) from None
    if size != member.size:
        raise tarfile.ReadError(f"member {member.name!r} has {size} of its {member.size} bytes")
    return _Found(dest, size, digest.hexdigest())


def _staging_error(dest: Path, exc: OSError) -> ImageFormatError:
    return ImageFormatError(
        f"cannot stage the archive's blobs in {dest.parent} ({exc.strerror}); "
        "set TMPDIR to a directory with room for the image and re-run"
    )


# --- OCI layouts (directory or archive) -------------------------------------------------------


@dataclass(frozen=True)
class _Descriptor:
    media_type: str
    digest: str
    size: int
    platform: str | None
    annotations: Mapping[str, str]
    urls: tuple[str, ...]


class _Reader:
    """Walks manifests from a top descriptor, verifying everything reachable."""

    def __init__(self, tree: _Tree, where: Path) -> None:
        self.tree = tree
        self.where = where
        self.children: dict[str, Manifest] = {}
        self.blobs: dict[str, Blob] = {}
        self.pending: list[tuple[_Descriptor, str, _Found]] = []

    # Descriptors and blobs.

    def descriptor(self, value: object, role: str) -> _Descriptor:
        if not isinstance(value, dict):
            raise self.format_error(f"{role}: expected a descriptor object, found {value!r}")
        media_type = value.get("mediaType")
        digest = value.get("digest")
        size = value.get("size")
        if not isinstance(media_type, str) or not MEDIA_TYPE.fullmatch(media_type):
            raise UnknownMediaType(
                f"{self.where}: {role}: mediaType {media_type!r} is missing or not a media type; "
                f"{_FIX_EXPORT}"
            )
        if not isinstance(digest, str) or not SHA256_DIGEST.fullmatch(digest):
            algorithm = digest.partition(":")[0] if isinstance(digest, str) else ""
            hint = (
                "artreg publishes sha256 digests only"
                if algorithm and algorithm != "sha256"
                else "expected 'sha256:' and 64 lowercase hex digits"
            )
            raise self.format_error(f"{role}: digest {digest!r} is not valid ({hint})")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise self.format_error(f"{role}: size {size!r} is not a non-negative integer")
        platform = value.get("platform")
        annotations = value.get("annotations") or {}
        urls = value.get("urls") or ()
        if not isinstance(annotations, dict) or not isinstance(urls, list | tuple):
            raise self.format_error(f"{role}: annotations/urls have the wrong type")
        return _Descriptor(
            media_type,
            digest,
            size,
            _platform(platform) if isinstance(platform, dict) else None,
            {str(k): str(v) for k, v in annotations.items()},
            tuple(str(u) for u in urls),
        )

    def locate(self, desc: _Descriptor, role: str) -> _Found:
        found = self.tree.locate(f"blobs/sha256/{desc.digest.removeprefix('sha256:')}")
        if found is None:
            raise BlobMissing(
                f"{self.where}: {role}: blob {desc.digest} is missing "
                f"(expected blobs/sha256/{desc.digest.removeprefix('sha256:')}); the image is "
                f"incomplete; nothing was uploaded; {_FIX_EXPORT}"
            )
        if found.size != desc.size:
            raise BlobSizeMismatch(
                f"{self.where}: {role}: blob {desc.digest} has {found.size} bytes, its "
                f"descriptor says {desc.size} (a truncated or replaced file); nothing was "
                f"uploaded; {_FIX_EXPORT}"
            )
        return found

    def verify_blob(self, desc: _Descriptor, role: str) -> None:
        """Check presence and size now; the digest in :meth:`finish` (hashed in parallel)."""
        if desc.digest in self.blobs:
            return
        if desc.urls and self.tree.locate(f"blobs/sha256/{desc.digest[7:]}") is None:
            return  # a foreign layer: clients fetch it from its urls
        found = self.locate(desc, role)
        self.blobs[desc.digest] = _blob(found, desc.digest, desc.media_type)
        self.pending.append((desc, role, found))

    def finish(self) -> tuple[Blob, ...]:
        """Hash every blob not hashed yet; the first mismatch (in walk order) is raised."""
        unhashed = [found for _, _, found in self.pending if found.sha256 is None]
        workers = min(_HASH_WORKERS, len(unhashed))
        if workers > 1:
            with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
                hashes = dict(
                    zip(
                        (f.path for f in unhashed),
                        pool.map(lambda f: _hash_found(f, self.where), unhashed),
                        strict=True,
                    )
                )
        else:
            hashes = {f.path: _hash_found(f, self.where) for f in unhashed}
        for desc, role, found in self.pending:
            actual = found.sha256 if found.sha256 is not None else hashes[found.path]
            if "sha256:" + actual != desc.digest:
                raise self.digest_error(role, desc.digest, "sha256:" + actual)
        self.pending.clear()
        return tuple(self.blobs.values())

    def manifest_bytes(self, desc: _Descriptor, role: str) -> bytes:
        if desc.size > MAX_MANIFEST_SIZE:
            raise self.format_error(
                f"{role}: {desc.digest} is {desc.size} bytes; registries refuse manifests "
                f"over {MAX_MANIFEST_SIZE} bytes"
            )
        found = self.locate(desc, role)
        body = _read_small(found, self.where)
        actual = sha256_digest(body)
        if actual != desc.digest:
            raise self.digest_error(role, desc.digest, actual)
        return body

    # Manifests.

    def walk(self, desc: _Descriptor, role: str, depth: int = 0) -> Manifest:
        """Verify the manifest or index ``desc`` and everything below it."""
        if desc.media_type not in INDEX_TYPES | MANIFEST_TYPES:
            raise UnknownMediaType(
                f"{self.where}: {role}: media type {desc.media_type!r} is not an image manifest "
                f"or index (expected one of {', '.join(sorted(INDEX_TYPES | MANIFEST_TYPES))}); "
                "nothing was uploaded"
            )
        if depth > MAX_DEPTH:
            raise self.format_error(f"{role}: indexes nested more than {MAX_DEPTH} deep")
        body = self.manifest_bytes(desc, role)
        doc = self.parse(body, f"{role} {desc.digest}")
        declared = doc.get("mediaType")
        if declared is not None and declared != desc.media_type:
            raise UnknownMediaType(
                f"{self.where}: {role}: {desc.digest} declares mediaType {declared!r} but is "
                f"referenced as {desc.media_type!r}; {_FIX_EXPORT}"
            )
        what = f"{'index' if desc.media_type in INDEX_TYPES else 'manifest'} {desc.digest[:19]}"
        if desc.media_type in INDEX_TYPES:
            entries = doc.get("manifests")
            if not isinstance(entries, list):
                raise self.format_error(f"{what}: 'manifests' must be a list")
            for n, entry in enumerate(entries):
                child_role = f"{what}: manifests[{n}]"
                child = self.descriptor(entry, child_role)
                manifest = self.walk(child, child_role, depth + 1)
                self.children.setdefault(manifest.digest, manifest)
        else:
            self.check_image_manifest(doc, what)
        return Manifest(desc.digest, desc.media_type, body, desc.platform)

    def check_image_manifest(self, doc: dict[str, Any], what: str) -> None:
        artifact = isinstance(doc.get("artifactType"), str)
        config = self.descriptor(doc.get("config"), f"{what}: config")
        if config.media_type not in CONFIG_TYPES and not artifact:
            raise UnknownMediaType(
                f"{self.where}: {what}: config media type {config.media_type!r} is not an "
                f"image config (expected one of {', '.join(sorted(CONFIG_TYPES))}); "
                "nothing was uploaded"
            )
        self.verify_blob(config, f"{what}: config")
        layers = doc.get("layers", [])
        if not isinstance(layers, list):
            raise self.format_error(f"{what}: 'layers' must be a list")
        for n, value in enumerate(layers):
            role = f"{what}: layers[{n}]"
            layer = self.descriptor(value, role)
            if layer.media_type not in LAYER_TYPES and not artifact:
                raise UnknownMediaType(
                    f"{self.where}: {role}: media type {layer.media_type!r} is not a known "
                    f"layer type (expected one of {', '.join(sorted(LAYER_TYPES))}); "
                    "nothing was uploaded"
                )
            self.verify_blob(layer, role)

    def parse(self, body: bytes, what: str) -> dict[str, Any]:
        try:
            doc = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise self.format_error(f"{what}: not JSON ({exc})") from None
        if not isinstance(doc, dict):
            raise self.format_error(f"{what}: expected a JSON object")
        if doc.get("schemaVersion") != 2:
            raise self.format_error(
                f"{what}: schemaVersion is {doc.get('schemaVersion')!r}, expected 2"
            )
        return doc

    def format_error(self, text: str) -> ImageFormatError:
        return ImageFormatError(f"{self.where}: {text}; nothing was uploaded; {_FIX_EXPORT}")

    def digest_error(self, role: str, expected: str, found: str) -> DigestMismatch:
        return DigestMismatch(
            f"{self.where}: {role}: content does not match its digest: expected {expected}, "
            f"found {found} (a corrupt or modified blob); nothing was uploaded; {_FIX_EXPORT}"
        )


def _read_layout(
    tree: _Tree,
    where: Path,
    kind: str,
    ref: str | None,
    staging: tempfile.TemporaryDirectory[str] | None,
) -> Image:
    reader = _Reader(tree, where)
    layout = tree.locate("oci-layout")
    if layout is None:
        raise ImageFormatError(
            f"{where}: no 'oci-layout' file: not an OCI image layout (a docker-archive or "
            f"oci-archive must be given as the .tar file itself); {_FIX_EXPORT}"
        )
    try:
        version = json.loads(_read_small(layout, where)).get("imageLayoutVersion")
    except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        version = None
    if not isinstance(version, str) or not version.startswith(LAYOUT_VERSION_MAJOR):
        raise reader.format_error(
            f"oci-layout: imageLayoutVersion is {version!r}, expected '1.0.0' "
            '(the file must be {"imageLayoutVersion": "1.0.0"})'
        )
    index_file = tree.locate("index.json")
    if index_file is None:
        raise reader.format_error("index.json is missing")
    body = _read_small(index_file, where)
    doc = reader.parse(body, "index.json")
    declared = doc.get("mediaType", OCI_INDEX)
    if declared != OCI_INDEX:
        raise UnknownMediaType(f"{where}: index.json: mediaType {declared!r}, expected {OCI_INDEX}")
    entries = doc.get("manifests")
    if not isinstance(entries, list) or not entries:
        raise reader.format_error("index.json lists no manifests")
    descriptors = [
        reader.descriptor(e, f"index.json: manifests[{n}]") for n, e in enumerate(entries)
    ]
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
    return Image(where, kind, top, children, blobs, staging=staging)


# --- docker-archive -------------------------------------------------------------------------


def _read_docker_archive(tree: _ArchiveTree, where: Path, ref: str | None) -> Image:
    reader = _Reader(tree, where)
    found = tree.files["manifest.json"]
    try:
        entries = json.loads(_read_small(found, where))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise reader.format_error(f"manifest.json: not JSON ({exc})") from None
    if not isinstance(entries, list) or not entries:
        raise reader.format_error("manifest.json: expected a non-empty list of images")
    if ref is not None:
        entries = [
            e
            for e in entries
            if isinstance(e, dict)
            and any(t == ref or t.endswith(":" + ref) for t in e.get("RepoTags") or ())
        ]
        if len(entries) != 1:
            raise ImageFormatError(
                f"{where}: manifest.json has {len(entries)} images tagged {ref!r}"
            )
    elif len(entries) > 1:
        tags = [t for e in entries if isinstance(e, dict) for t in e.get("RepoTags") or ()]
        raise ImageFormatError(
            f"{where}: the docker-archive holds {len(entries)} images ({', '.join(tags)}); "
            f'say which one with path = "{where.name}:TAG" in artreg.toml'
        )
    entry = entries[0]
    if not isinstance(entry, dict):
        raise reader.format_error("manifest.json: expected objects with Config and Layers")
    config_name = entry.get("Config")
    layer_names = entry.get("Layers")
    if not isinstance(config_name, str) or not isinstance(layer_names, list):
        raise reader.format_error("manifest.json: an image needs 'Config' and 'Layers'")
    config = _member(tree, where, config_name, "config")
    config_body = _read_small(config, where)
    try:
        diff_ids = json.loads(config_body)["rootfs"]["diff_ids"]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
        raise reader.format_error(
            f"{config_name}: not an image config with rootfs.diff_ids"
        ) from None
    if not isinstance(diff_ids, list) or len(diff_ids) != len(layer_names):
        raise reader.format_error(
            f"{config_name}: rootfs.diff_ids lists {counted(len(diff_ids), 'layer')}, "
            f"manifest.json {len(layer_names)}"
        )
    blobs = [_blob(config, f"sha256:{config.sha256}", OCI_CONFIG)]
    for n, name in enumerate(layer_names):
        layer = _member(tree, where, str(name), f"layer {n}")
        media_type = _layer_type(layer, where)
        digest = f"sha256:{layer.sha256}"
        if media_type == OCI_LAYER and diff_ids[n] != digest:
            raise DigestMismatch(
                f"{where}: layer {n} ({name}): content does not match the config's "
                f"rootfs.diff_ids[{n}]: expected {diff_ids[n]}, found {digest} (a corrupt "
                f"layer); nothing was uploaded; {_FIX_EXPORT}"
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


def _member(tree: _ArchiveTree, where: Path, name: str, role: str) -> _Found:
    found = tree.locate(name)
    if found is None or found.sha256 is None:
        raise BlobMissing(
            f"{where}: {role}: {name!r} is listed in manifest.json but missing from the "
            f"archive; nothing was uploaded; {_FIX_EXPORT}"
        )
    return found


def _layer_type(found: _Found, where: Path) -> str:
    """A docker-archive layer's media type, from its magic bytes."""
    head = _read_small(found, where, limit=4)
    if head[:2] == b"\x1f\x8b":
        return OCI_LAYER_GZIP
    if head == b"\x28\xb5\x2f\xfd":
        return OCI_LAYER_ZSTD
    return OCI_LAYER


def _blob(found: _Found, digest: str, media_type: str) -> Blob:
    return Blob(digest, found.size, media_type, found.path, found.offset)


# --- small helpers -----------------------------------------------------------------------------


def _platform(value: Mapping[str, Any]) -> str:
    parts = [str(value.get("os", "")), str(value.get("architecture", ""))]
    if value.get("variant"):
        parts.append(str(value["variant"]))
    return "/".join(parts)


def _open(found: _Found, where: Path) -> BinaryIO:
    """The found file, positioned at its data."""
    try:
        stream = found.path.open("rb")
        if found.offset is not None:
            stream.seek(found.offset)
    except OSError as exc:
        raise ImageFormatError(f"{where}: cannot read {found.path}: {exc.strerror}") from None
    return stream


def _hash_found(found: _Found, where: Path) -> str:
    """The sha256 of a layout's file, or of an uncompressed archive's member."""
    digest = hashlib.sha256()
    left = found.size if found.offset is not None else -1
    try:
        with _open(found, where) as stream:
            while left != 0:
                chunk = stream.read(READ_CHUNK if left < 0 else min(left, READ_CHUNK))
                if not chunk:
                    break
                digest.update(chunk)
                if left > 0:
                    left -= len(chunk)
    except OSError as exc:
        raise ImageFormatError(f"{where}: cannot read {found.path}: {exc.strerror}") from None
    if left > 0:
        raise TruncatedArchive(
            f"{where}: the archive is truncated: a member ends past its end; nothing was "
            f"uploaded; {_FIX_EXPORT}"
        )
    return digest.hexdigest()


def _read_small(found: _Found, where: Path, *, limit: int = MAX_MANIFEST_SIZE) -> bytes:
    """At most ``limit`` bytes (a manifest, config, or a layer's magic)."""
    want = limit + 1 if found.offset is None else min(found.size, limit + 1)
    try:
        with _open(found, where) as stream:
            body = stream.read(want)
    except OSError as exc:
        raise ImageFormatError(f"{where}: cannot read {found.path}: {exc.strerror}") from None
    if len(body) > limit:
        if limit < MAX_MANIFEST_SIZE:
            return body[:limit]
        raise ImageFormatError(
            f"{where}: {found.path.name} is over {MAX_MANIFEST_SIZE} bytes; not a manifest or "
            "config"
        )
    return body
