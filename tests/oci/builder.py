"""Build OCI image layouts for tests without a daemon: real tar layers, real manifests.

Deterministic: the same arguments give the same bytes (and digests), so tests
can compare what a client pulls with what was built.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import lzma
import random
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


@dataclass
class Built:
    """An image written into a layout: its top digest and, per platform, its manifest digest."""

    root: Path
    ref: str
    digest: str
    media_type: str
    platforms: dict[str, str] = field(default_factory=dict)
    blobs: list[str] = field(default_factory=list)  # config and layer digests

    @property
    def blob_dir(self) -> Path:
        return self.root / "blobs" / "sha256"

    def blob(self, digest: str) -> Path:
        return self.blob_dir / digest.removeprefix("sha256:")


def layer_tar(files: dict[str, bytes]) -> bytes:
    """An uncompressed tar of ``files`` with fixed metadata."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def write_blob(root: Path, body: bytes) -> tuple[str, int]:
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    path = root / "blobs" / "sha256" / digest[7:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return digest, len(body)


def _descriptor(media_type: str, digest: str, size: int, **extra: object) -> dict[str, object]:
    return {"mediaType": media_type, "digest": digest, "size": size, **extra}


def _manifest(
    root: Path, platform: str, seed: str, layers: int, compress: bool, payload: int
) -> tuple[dict[str, object], list[str]]:
    os_name, arch = platform.split("/")[:2]
    rng = random.Random(f"{seed}-{platform}")
    layer_descs = []
    diff_ids = []
    blobs = []
    for n in range(layers):
        data = rng.randbytes(payload + 500 * n)
        tar = layer_tar({f"layer{n}/data.bin": data, f"etc/{platform}.txt": platform.encode()})
        diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
        body = gzip.compress(tar, mtime=0) if compress else tar
        digest, size = write_blob(root, body)
        blobs.append(digest)
        layer_descs.append(_descriptor(OCI_LAYER_GZIP if compress else OCI_LAYER, digest, size))
    config = {
        "architecture": arch,
        "os": os_name,
        "config": {"Cmd": ["/bin/true"], "Labels": {"seed": seed}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": f"artreg test layer {n}"} for n in range(layers)],
    }
    config_digest, config_size = write_blob(root, json.dumps(config).encode())
    blobs.insert(0, config_digest)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": _descriptor(OCI_CONFIG, config_digest, config_size),
        "layers": layer_descs,
    }
    return manifest, blobs


def build_image(
    root: Path,
    *,
    ref: str = "latest",
    platforms: tuple[str, ...] = ("linux/amd64",),
    seed: str = "one",
    layers: int = 2,
    compress: bool = True,
    force_index: bool = False,
    payload: int = 2000,
) -> Built:
    """Write an image into the layout at ``root`` (created, or added to) under ``ref``.

    One platform gives a plain manifest; several (or ``force_index``) an image index.
    Layer ``n`` holds ``payload + 500 * n`` random bytes.
    """
    root.mkdir(parents=True, exist_ok=True)
    (root / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    built_blobs: list[str] = []
    per_platform: dict[str, str] = {}
    descriptors = []
    for platform in platforms:
        manifest, blobs = _manifest(root, platform, seed, layers, compress, payload)
        built_blobs += blobs
        digest, size = write_blob(root, json.dumps(manifest, indent=2).encode())
        per_platform[platform] = digest
        os_name, arch = platform.split("/")[:2]
        descriptors.append(
            _descriptor(OCI_MANIFEST, digest, size, platform={"architecture": arch, "os": os_name})
        )
    if len(platforms) == 1 and not force_index:
        top_type = OCI_MANIFEST
        top_digest = per_platform[platforms[0]]
        top_size = (root / "blobs" / "sha256" / top_digest[7:]).stat().st_size
    else:
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors}
        top_type = OCI_INDEX
        top_digest, top_size = write_blob(root, json.dumps(index, indent=2).encode())
    index_path = root / "index.json"
    layout_index = (
        json.loads(index_path.read_text())
        if index_path.exists()
        else {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
    )
    layout_index["manifests"] = [
        d
        for d in layout_index["manifests"]
        if d.get("annotations", {}).get("org.opencontainers.image.ref.name") != ref
    ]
    layout_index["manifests"].append(
        _descriptor(
            top_type,
            top_digest,
            top_size,
            annotations={"org.opencontainers.image.ref.name": ref},
        )
    )
    index_path.write_text(json.dumps(layout_index, indent=2))
    return Built(root, ref, top_digest, top_type, per_platform, list(dict.fromkeys(built_blobs)))


def skopeo(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run skopeo; on failure, the assertion shows its stderr."""
    binary = shutil.which("skopeo")
    assert binary is not None, "skopeo is not installed: apt-get install -y skopeo"
    result = subprocess.run(
        [binary, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"skopeo {' '.join(args)} failed:\n{result.stderr}"
    return result


def to_archive(built: Built, kind: str, out: Path) -> Path:
    """Convert a built image to an ``oci-archive`` or ``docker-archive`` with skopeo."""
    dest = f"{kind}:{out}" + (f":artreg/test:{built.ref}" if kind == "docker-archive" else "")
    multi = ["--multi-arch=all"] if kind == "oci-archive" else []
    skopeo("copy", "--quiet", *multi, f"oci:{built.root}:{built.ref}", dest)
    return out


def compress_file(path: Path, out: Path, kind: str = "gz") -> Path:
    """``path`` compressed with gzip, bzip2 or xz (as ``docker save | gzip`` does)."""
    opener = {"gz": gzip.open, "bz2": bz2.open, "xz": lzma.open}[kind]
    with path.open("rb") as source, opener(out, "wb") as sink:
        shutil.copyfileobj(source, sink)
    return out
