"""Where an image's files are: a layout directory, or a tar archive read safely.

An uncompressed archive is indexed in place (members are read at their offsets,
nothing is copied). A compressed one (gzip, bzip2 or xz) is surveyed in one
streaming pass (names, sizes, small JSON documents), then a second pass copies
only the members the image references to a private staging directory, hashing
them, because a store uploads from a file. Links are resolved within the archive;
member counts, document sizes and unreferenced bytes are bounded.
"""

from __future__ import annotations

import concurrent.futures
import gzip
import hashlib
import lzma
import os
import posixpath
import tarfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from artreg.errors import (
    BlobSizeMismatch,
    ImageError,
    ImageFormatError,
    TruncatedArchive,
)
from artreg.oci.image import (
    MAX_MANIFEST_SIZE,
    READ_CHUNK,
)
from artreg.stores.scratch import ScratchDir

MAX_MEMBERS = 100_000  # members of one archive
# A compressed archive's JSON documents are held in memory while it is surveyed.
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
# Bytes a compressed archive may hold beyond what its image references (plus as many
# again): more is refused rather than decompressed a second time.
MAX_UNREFERENCED = 64 * 1024 * 1024
_HEAD_SIZE = 64 * 1024  # first bytes of each member read while surveying
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
FIX_EXPORT = "re-export the image (e.g. `skopeo copy ... oci:DIR:TAG`) and re-run"


# --- where the files are ------------------------------------------------------------------


Key = tuple[str, int | None, str | None]


@dataclass(frozen=True)
class Found:
    """A file of a layout, or a regular member of an archive, before or after staging.

    ``path`` is a layout's file, an uncompressed archive (with ``offset``: the
    member's data) or a staged copy; None for a compressed archive's member not
    staged yet (``member`` names it, ``head`` holds its first bytes). ``data``
    holds a small JSON member read whole while surveying a compressed archive.
    """

    path: Path | None
    size: int
    sha256: str | None  # known once hashed (staged members are hashed while copied)
    offset: int | None = None
    member: str | None = None
    head: bytes = b""
    data: bytes | None = field(default=None, repr=False)

    @property
    def key(self) -> Key:
        return (str(self.path), self.offset, self.member)

    def named(self) -> str:
        return self.member if self.member is not None else str(self.path)


class DirTree:
    """The files of a layout directory."""

    tmp: ScratchDir | None = None

    def __init__(self, root: Path) -> None:
        self.root = root

    def locate(self, name: str) -> Found | None:
        path = self.root / name
        try:
            if not path.is_file():
                return None
            return Found(path, path.stat().st_size, None)
        except OSError:
            return None

    def materialize(self, wanted: list[Found], where: Path) -> dict[Key, Found]:
        """Each of ``wanted`` hashed (in parallel): what its blob is uploaded from."""
        return hash_all(wanted, where)


@dataclass
class ArchiveTree:
    """The regular members of an archive, by normalized name.

    An uncompressed archive's members are slices of it, hashed when referenced.
    A compressed one was surveyed in one streaming pass that kept only small JSON
    documents; the members an image references are staged (copied and hashed) in
    a second pass by :meth:`materialize`, so an unreferenced member is never
    written, and an archive holding far more than its images declare is refused.
    """

    source: Path
    compressed: bool
    tmp: ScratchDir | None = None
    files: dict[str, Found] = field(default_factory=dict)
    total: int = 0  # bytes of member data in the archive
    documents: int = 0  # bytes of JSON documents held in memory
    ordinals: dict[str, int] = field(default_factory=dict)  # member name -> its position

    def locate(self, name: str) -> Found | None:
        return self.files.get(normalize(name))

    def cleanup(self) -> None:
        if self.tmp is not None:
            self.tmp.close()

    def materialize(self, wanted: list[Found], where: Path) -> dict[Key, Found]:
        """Each of ``wanted`` hashed, and staged first when the archive is compressed."""
        if not self.compressed:
            return hash_all(wanted, where)
        unique = {found.key: found for found in wanted}
        referenced = sum(found.size for found in unique.values()) + self.documents
        unreferenced = self.total - referenced
        if unreferenced > MAX_UNREFERENCED + referenced:
            raise ImageFormatError(
                f"{where}: the archive holds {unreferenced:,} bytes that the image does not "
                f"reference, against {referenced:,} it does; refusing to decompress them "
                f"again (re-export only this image); {FIX_EXPORT}"
            )
        if self.tmp is None:
            self.tmp = ScratchDir("oci")
        staging = self.tmp.path
        out: dict[Key, Found] = {}
        by_member: dict[int, Found] = {}
        for key, found in unique.items():
            if found.data is not None:
                dest = staging / f"doc-{len(out)}"
                try:
                    dest.write_bytes(found.data)
                except OSError as exc:
                    raise _staging_error(dest, exc) from None
                out[key] = Found(dest, found.size, hashlib.sha256(found.data).hexdigest())
            elif found.member is not None:
                by_member[self.ordinals[found.member]] = found
        if by_member:
            staged = _stage_members(self.source, by_member, staging)
            for ordinal, found in by_member.items():
                out[found.key] = staged[ordinal]
        return out


Tree = DirTree | ArchiveTree
_COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")


def normalize(name: str) -> str:
    normal = posixpath.normpath(name.lstrip("/"))
    return "" if normal == "." else normal


def read_archive(path: Path) -> ArchiveTree:
    """The members of the tar at ``path``, checked whole; nothing is hashed or copied yet.

    An uncompressed tar (what ``skopeo copy``, ``docker save`` and ``podman
    save`` write) is indexed from its headers: its members are uploaded from
    the archive itself, nothing is copied. A compressed one is surveyed in one
    streaming pass (see :class:`ArchiveTree`).
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
    return _survey_archive(path)


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
        f"nothing was uploaded; {FIX_EXPORT}"
    )


def _no_end_marker(path: Path, count: int) -> TruncatedArchive:
    return TruncatedArchive(
        f"{path}: the archive is truncated: it ends after {count} member(s) without "
        f"tar's end-of-archive marker; nothing was uploaded; {FIX_EXPORT}"
    )


def _resolve_links(tree: ArchiveTree, links: Mapping[str, str]) -> None:
    for name, target in links.items():
        for _ in range(_MAX_LINK_HOPS):
            if target not in links:
                break
            target = links[target]
        if target in tree.files:
            tree.files[name] = tree.files[target]


def _link(member: tarfile.TarInfo, name: str, links: dict[str, str]) -> None:
    if member.issym():
        links[name] = normalize(posixpath.join(posixpath.dirname(name), member.linkname))
    elif member.islnk():
        links[name] = normalize(member.linkname)


def _check_member_count(path: Path, count: int) -> None:
    if count > MAX_MEMBERS:
        raise ImageFormatError(
            f"{path}: the archive has more than {MAX_MEMBERS:,} members; an image has a few "
            f"per layer; {FIX_EXPORT}"
        )


def _index_archive(path: Path) -> ArchiveTree | None:
    """An uncompressed tar's members as slices of it; None if it has sparse files."""
    regular: dict[str, tuple[int, int]] = {}
    links: dict[str, str] = {}
    count = 0
    info_class, ended = _end_marker_watcher()
    try:
        # Not streamed: tarfile reads each header and seeks over the data.
        with tarfile.open(path, mode="r:", tarinfo=info_class) as tar:
            for member in tar:
                count += 1
                _check_member_count(path, count)
                name = normalize(member.name)
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
    tree = ArchiveTree(path, compressed=False)
    for name, (offset, size) in regular.items():
        if offset + size > end:
            raise _archive_error(path, EOFError(f"{name!r} ends past the archive's end"), count)
        tree.files[name] = Found(path, size, None, offset, member=name)
        tree.total += size
    _resolve_links(tree, links)
    return tree


def _survey_archive(path: Path) -> ArchiveTree:
    """One streaming pass over a (compressed) tar: names, sizes, first bytes, small JSON.

    Only JSON documents (a member starting with '{' or '[', at most
    MAX_MANIFEST_SIZE) are read whole, MAX_DOCUMENT_BYTES in all; every other
    member's data is decompressed and dropped, nothing is written.
    """
    tree = ArchiveTree(path, compressed=True)
    links: dict[str, str] = {}
    count = 0
    info_class, ended = _end_marker_watcher()
    try:
        with tarfile.open(path, mode="r|*", tarinfo=info_class) as tar:
            for member in tar:
                count += 1
                _check_member_count(path, count)
                name = normalize(member.name)
                if not member.isreg():
                    _link(member, name, links)
                    continue
                source = tar.extractfile(member)
                if source is None:  # pragma: no cover - isreg() members always have data
                    raise tarfile.ReadError(f"cannot read member {member.name!r}")
                head = source.read(min(member.size, _HEAD_SIZE))
                data = None
                if member.size <= MAX_MANIFEST_SIZE and head.lstrip()[:1] in (b"{", b"["):
                    tree.documents += member.size
                    if tree.documents > MAX_DOCUMENT_BYTES:
                        raise ImageFormatError(
                            f"{path}: the archive holds more than {MAX_DOCUMENT_BYTES:,} bytes "
                            f"of JSON documents; an image's manifests and configs are far "
                            f"smaller; {FIX_EXPORT}"
                        )
                    data = head + source.read()
                    if len(data) != member.size:
                        raise tarfile.ReadError(f"member {member.name!r} is cut short")
                tree.total += member.size
                tree.ordinals[name] = count
                tree.files[name] = Found(
                    None, member.size, None, member=name, head=head[:16], data=data
                )
    except _ARCHIVE_ERRORS as exc:
        raise _archive_error(path, exc, count) from None
    if not ended:
        raise _no_end_marker(path, count)
    _resolve_links(tree, links)
    return tree


def _stage_members(path: Path, wanted: Mapping[int, Found], staging: Path) -> dict[int, Found]:
    """Copy and hash the ``wanted`` members (by position) of a compressed tar.

    Stops after the last one: what follows is not even decompressed.
    """
    staged: dict[int, Found] = {}
    count = 0
    try:
        with tarfile.open(path, mode="r|*") as tar:
            for member in tar:
                count += 1
                found = wanted.get(count)
                if found is None:
                    continue
                if not member.isreg() or member.size != found.size:
                    raise tarfile.ReadError(f"member {member.name!r} changed since it was read")
                staged[count] = _stage_member(tar, member, staging / str(count))
                if len(staged) == len(wanted):
                    break
    except _ARCHIVE_ERRORS as exc:
        raise _archive_error(path, exc, count) from None
    if len(staged) != len(wanted):
        raise TruncatedArchive(
            f"{path}: the archive changed while artreg read it; nothing was uploaded; {FIX_EXPORT}"
        )
    return staged


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


def _stage_member(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path) -> Found:
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
        # extractfile() never reads past the member's size, declared in its header.
        while chunk := source.read(READ_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            try:
                out.write(chunk)
            except OSError as exc:
                raise _StagingFailed(_staging_error(dest, exc)) from None
    if size != member.size:
        raise tarfile.ReadError(f"member {member.name!r} has {size} of its {member.size} bytes")
    return Found(dest, size, digest.hexdigest())


def _staging_error(dest: Path, exc: OSError) -> ImageFormatError:
    return ImageFormatError(
        f"cannot stage the archive's blobs in {dest.parent} ({exc.strerror}); "
        "set TMPDIR to a directory with room for the image and re-run"
    )


def hash_all(wanted: list[Found], where: Path) -> dict[Key, Found]:
    """Each not-yet-hashed file of ``wanted`` hashed, in parallel."""
    unique = {found.key: found for found in wanted}
    todo = [found for found in unique.values() if found.sha256 is None]
    workers = min(_HASH_WORKERS, len(todo))
    if workers > 1:
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            hashes = list(pool.map(lambda f: hash_found(f, where), todo))
    else:
        hashes = [hash_found(f, where) for f in todo]
    out: dict[Key, Found] = dict(unique)
    for found, sha256 in zip(todo, hashes, strict=True):
        out[found.key] = Found(found.path, found.size, sha256, found.offset, found.member)
    return out


# --- small helpers -----------------------------------------------------------------------------


def open_found(found: Found, where: Path) -> BinaryIO:
    """The found file, positioned at its data."""
    if found.path is None:  # pragma: no cover - callers read documents from memory
        raise ImageFormatError(f"{where}: {found.named()}: not staged")
    try:
        stream = found.path.open("rb")
        if found.offset is not None:
            stream.seek(found.offset)
    except OSError as exc:
        raise ImageFormatError(f"{where}: cannot read {found.path}: {exc.strerror}") from None
    return stream


def hash_found(found: Found, where: Path) -> str:
    """The sha256 of a layout's file, or of an uncompressed archive's member.

    Reads exactly the size found before (what the descriptor declares): a file
    that grows or shrinks meanwhile is an error, never an unbounded read.
    """
    digest = hashlib.sha256()
    left = found.size
    try:
        with open_found(found, where) as stream:
            while left > 0:
                chunk = stream.read(min(left, READ_CHUNK))
                if not chunk:
                    break
                digest.update(chunk)
                left -= len(chunk)
            grew = found.offset is None and left == 0 and stream.read(1) != b""
    except OSError as exc:
        raise ImageFormatError(f"{where}: cannot read {found.path}: {exc.strerror}") from None
    if left > 0 and found.offset is not None:
        raise TruncatedArchive(
            f"{where}: the archive is truncated: a member ends past its end; nothing was "
            f"uploaded; {FIX_EXPORT}"
        )
    if left > 0 or grew:
        raise BlobSizeMismatch(
            f"{where}: {found.path} changed size while artreg read it; nothing was uploaded; "
            "re-run once the image is written"
        )
    return digest.hexdigest()


def read_small(found: Found, where: Path, *, limit: int = MAX_MANIFEST_SIZE) -> bytes:
    """At most ``limit`` bytes (a manifest, config, or a layer's magic)."""
    if found.path is None:  # a compressed archive's member: JSON documents were kept
        if found.data is None and found.size > limit:
            raise ImageFormatError(
                f"{where}: {found.named()} is over {MAX_MANIFEST_SIZE} bytes; not a manifest or "
                "config"
            )
        if found.data is None:
            raise ImageFormatError(
                f"{where}: {found.named()}: not a JSON document (it starts with "
                f"{found.head[:8]!r}); expected a manifest, index or config; nothing was "
                f"uploaded; {FIX_EXPORT}"
            )
        return found.data[:limit]
    want = limit + 1 if found.offset is None else min(found.size, limit + 1)
    try:
        with open_found(found, where) as stream:
            body = stream.read(want)
    except OSError as exc:
        raise ImageFormatError(f"{where}: cannot read {found.path}: {exc.strerror}") from None
    if len(body) > limit:
        if limit < MAX_MANIFEST_SIZE:
            return body[:limit]
        raise ImageFormatError(
            f"{where}: {found.named()} is over {MAX_MANIFEST_SIZE} bytes; not a manifest or config"
        )
    return body
