"""What an OCI image is to artreg: validated manifests and blobs ready to publish.

An :class:`Image` is only ever built by :mod:`artreg.oci.layout`, after every
blob it references was found with the size and digest its descriptor claims,
so publishing it can never upload half an image.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from artreg.stores.base import FileSlice
from artreg.stores.scratch import ScratchDir

# Manifests (what a registry serves under /manifests/).
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})

# Config blobs.
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
CONFIG_TYPES = frozenset({OCI_CONFIG, OCI_EMPTY, DOCKER_CONFIG})

# Layer blobs.
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
LAYER_TYPES = frozenset(
    {
        OCI_LAYER,
        OCI_LAYER_GZIP,
        OCI_LAYER_ZSTD,
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
        "application/vnd.docker.image.rootfs.diff.tar",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        OCI_EMPTY,
        # BuildKit's provenance/SBOM attestation manifests carry in-toto layers.
        "application/vnd.in-toto+json",
    }
)
# RFC 6838 type/subtype (with an optional +suffix): the shape an artifact's own
# media types must have when the manifest declares an artifactType.
MEDIA_TYPE = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
)
SHA256_DIGEST = re.compile(r"sha256:[a-f0-9]{64}")
# Registries refuse bigger manifests (distribution's default limit is 4 MiB).
MAX_MANIFEST_SIZE = 4 * 1024 * 1024
READ_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Blob:
    """A config or layer, verified: a local file, or ``size`` bytes of one from ``offset``.

    ``path`` is a layout's file, an uncompressed archive itself (with
    ``offset``: the member's data is uploaded from where it lies), or the
    staging copy of a compressed archive's member.
    """

    digest: str  # "sha256:<hex>"
    size: int
    media_type: str
    path: Path
    offset: int | None = None

    @property
    def sha256(self) -> str:
        return self.digest.removeprefix("sha256:")

    @property
    def body(self) -> Path | FileSlice:
        """What a :class:`~artreg.stores.base.PutRequest` uploads."""
        if self.offset is None:
            return self.path
        return FileSlice(self.path, self.offset, self.size)

    def read_bytes(self) -> bytes:
        """The whole blob (for tests and small configs; layers are never read whole)."""
        with self.path.open("rb") as stream:
            stream.seek(self.offset or 0)
            return stream.read(self.size)


@dataclass(frozen=True)
class Manifest:
    """An image manifest or index, byte for byte as it will be served."""

    digest: str
    media_type: str
    body: bytes
    platform: str | None = None  # "os/arch[/variant]" from the parent index, if any

    @property
    def size(self) -> int:
        return len(self.body)

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES


@dataclass(frozen=True)
class Image:
    """A validated image: the top manifest or index, its child manifests, its blobs.

    ``children`` are in a safe write order (a manifest after everything it
    references); ``blobs`` are unique by digest. ``synthesized`` is true when
    artreg wrote the top manifest itself (docker-archive input): its digest
    is then artreg's, not the build tool's.
    """

    source: Path
    format: str  # "oci-layout" | "oci-archive" | "docker-archive"
    top: Manifest
    children: tuple[Manifest, ...] = ()
    blobs: tuple[Blob, ...] = ()
    synthesized: bool = False
    staging: ScratchDir | None = field(default=None, compare=False, repr=False)

    @property
    def digest(self) -> str:
        return self.top.digest

    @property
    def media_type(self) -> str:
        return self.top.media_type

    def platforms(self) -> tuple[str, ...]:
        return tuple(m.platform for m in self.children if m.platform is not None)

    def close(self) -> None:
        """Remove staged copies of archive members (also done when garbage-collected)."""
        if self.staging is not None:
            self.staging.close()


def sha256_digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()
