"""Publish a ~200 MB multi-layer image with ``artreg apply`` vs ``skopeo copy`` to ``dir:``.

Usage: ``.venv/bin/python benchmarks/oci_bench.py [--mb 200] [--layers 8] [--archive [--gzip]]``

The image is generated on the fly from random data (uncompressed tar layers,
so nothing compresses it away) in a temporary directory. Both tools read the
same OCI layout (or, with ``--archive``, the same oci-archive, gzipped as a
whole with ``--gzip``) and write to a local directory: artreg to a dir
target, skopeo to a ``dir:`` destination.
Each is run as a child process and measured with ``os.wait4`` (wall time and
that child's peak RSS). Targets: artreg <= 1.5x skopeo's time, peak RSS
under 150 MB. A second ``apply`` (nothing to upload) is timed too, and
compared with the first.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

CHUNK = 1 << 20
REPO = Path(__file__).resolve().parent.parent
ARTREG = REPO / ".venv" / "bin" / "artreg"


class RandomReader(io.RawIOBase):
    """``size`` random bytes, read in chunks (never held whole)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self.left, CHUNK)
        buffer[:n] = os.urandom(n)
        self.left -= n
        return n


def write_blob_file(root: Path, tmp: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    with tmp.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    name = digest.hexdigest()
    size = tmp.stat().st_size
    tmp.rename(root / "blobs" / "sha256" / name)
    return f"sha256:{name}", size


def write_json_blob(root: Path, doc: object) -> tuple[str, int]:
    body = json.dumps(doc).encode()
    name = hashlib.sha256(body).hexdigest()
    (root / "blobs" / "sha256" / name).write_bytes(body)
    return f"sha256:{name}", len(body)


def generate(root: Path, total_mb: int, layers: int) -> str:
    """An OCI layout at ``root`` with one image, tag ``bench``; returns its digest."""
    (root / "blobs" / "sha256").mkdir(parents=True)
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    per_layer = total_mb * 1024 * 1024 // layers
    descriptors = []
    diff_ids = []
    for n in range(layers):
        tmp = root / f"layer-{n}.tmp"
        with tarfile.open(tmp, "w") as tar:
            info = tarfile.TarInfo(f"data/{n}.bin")
            info.size = per_layer
            tar.addfile(info, io.BufferedReader(RandomReader(per_layer), CHUNK))
        digest, size = write_blob_file(root, tmp)
        diff_ids.append(digest)
        descriptors.append(
            {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest, "size": size}
        )
    config = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    config_digest, config_size = write_json_blob(root, config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config_size,
        },
        "layers": descriptors,
    }
    digest, size = write_json_blob(root, manifest)
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": digest,
                "size": size,
                "annotations": {"org.opencontainers.image.ref.name": "bench"},
            }
        ],
    }
    (root / "index.json").write_text(json.dumps(index))
    return digest


def measure(argv: list[str], cwd: Path) -> tuple[float, float]:
    """Run ``argv``; (wall seconds, peak RSS in MB) of that child alone."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        assert process.stderr is not None
        sys.exit(f"{' '.join(argv)} failed:\n{process.stderr.read().decode()}")
    return elapsed, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--archive", action="store_true", help="read an oci-archive instead")
    parser.add_argument("--gzip", action="store_true", help="with --archive: gzip the archive")
    args = parser.parse_args()
    if args.gzip and not args.archive:
        parser.error("--gzip needs --archive")
    if shutil.which("skopeo") is None:
        sys.exit("skopeo is not installed (apt-get install -y skopeo)")
    with tempfile.TemporaryDirectory(prefix="artreg-oci-bench-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        generate(work / "image", args.mb, args.layers)
        source = "oci:image:bench"
        image_path = "image:bench"
        if args.archive:
            subprocess.run(
                ["skopeo", "copy", "--quiet", source, "oci-archive:image.tar"], cwd=work, check=True
            )
            source, image_path = "oci-archive:image.tar", "image.tar"
            if args.gzip:
                with (
                    (work / "image.tar").open("rb") as plain,
                    gzip.open(work / "image.tar.gz", "wb", compresslevel=1) as packed,
                ):
                    shutil.copyfileobj(plain, packed, CHUNK)
                (work / "image.tar").unlink()
                source, image_path = "oci-archive:image.tar.gz", "image.tar.gz"
        took = time.perf_counter() - started
        print(f"generated {args.mb} MB in {args.layers} layers in {took:.1f} s")
        (work / "artreg.toml").write_text(
            '[project]\nname = "bench"\n\n[[artifacts]]\nname = "bench"\ntype = "oci"\n'
            f'path = "{image_path}"\nrepository = "bench"\n\n'
            '[targets.local]\ntype = "dir"\npath = "public"\n'
        )
        apply = [str(ARTREG), "apply", "--tag", "v1.0.0", "--now", "2025-06-01T12:00:00Z"]
        artreg_s, artreg_rss = measure(apply, work)
        noop_s, _ = measure(apply, work)
        skopeo_s, skopeo_rss = measure(
            ["skopeo", "copy", "--quiet", source, "dir:skopeo-out"], work
        )
    ratio = artreg_s / skopeo_s
    print(f"artreg apply:        {artreg_s:6.2f} s  peak RSS {artreg_rss:6.1f} MB")
    print(f"artreg apply (noop): {noop_s:6.2f} s  ({noop_s / artreg_s:.2f}x the first apply)")
    print(f"skopeo copy dir:     {skopeo_s:6.2f} s  peak RSS {skopeo_rss:6.1f} MB")
    print(f"ratio artreg/skopeo: {ratio:.2f}x (target <= 1.5x); RSS target < 150 MB")
    ok = ratio <= 1.5 and artreg_rss < 150
    print("OK" if ok else "OVER TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
