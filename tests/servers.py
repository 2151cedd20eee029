"""Real S3 servers for the tests: moto's server (AWS-like), s3rver (Garage-like), Ceph RGW.

Each pytest process (each xdist worker) starts its own moto and s3rver on
127.0.0.1 with ephemeral ports; the Ceph cluster (``rgw.py``) is shared by the
run's workers. Buckets are unique per test, so tests never share state.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artreg.config import Target
from artreg.stores import Store, open_store
from artreg.stores.dir import DirStore

REPO = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
# s3rver knows only this key pair; moto accepts any; rgw.py creates its user with it.
ACCESS_KEY = "S3RVER"
SECRET_KEY = "S3RVER"
START_TIMEOUT = 60.0


class ServerMissing(RuntimeError):
    pass


def free_port() -> int:
    """A port the kernel just gave out (there is a small race; start() retries)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def aws_env(home: Path | None = None) -> dict[str, str]:
    """Environment variables that point the standard AWS chain at the test servers."""
    missing = str((home or Path("/nonexistent")) / "aws-not-configured")
    return {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": missing,
        "AWS_SHARED_CREDENTIALS_FILE": missing,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


# Variables that would leak the developer's own AWS setup into the tests.
AWS_ENV_TO_CLEAR = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)


@dataclass
class Server:
    """A running server process."""

    kind: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _wait_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> bool:
    """Poll ``url`` until any HTTP answer; False when the process died first."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except urllib.error.HTTPError:
            return True  # it answered: it is up
        except OSError:
            time.sleep(0.1)
    process.kill()
    process.wait()
    raise RuntimeError(f"server did not answer {url} within {START_TIMEOUT:.0f} s; see {log}")


def _start(
    kind: str, argv: list[str], env: Mapping[str, str], ready_path: str, logdir: Path
) -> Server:
    logdir.mkdir(parents=True, exist_ok=True)
    for attempt in range(3):
        port = free_port()
        log = logdir / f"{kind}-{port}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [a.replace("{port}", str(port)) for a in argv],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **env},
            )
        if _wait_ready(process, f"http://127.0.0.1:{port}{ready_path}", log):
            return Server(kind=kind, process=process, port=port, log=log)
        if attempt == 2:
            raise RuntimeError(
                f"{kind} exited with {process.returncode} on start:\n{log.read_text()[-3000:]}"
            )
    raise AssertionError("unreachable")


def start_moto(logdir: Path) -> Server:
    """``python -m moto.server`` on an ephemeral port."""
    try:
        import moto.server  # noqa: F401
    except ImportError:
        raise ServerMissing(
            "moto's server is not installed (pip install 'moto[server]'): run `make test`, "
            "which installs the test dependencies"
        ) from None
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "{port}"]
    return _start("moto", argv, {}, "/moto-api/", logdir)


def find_s3rver() -> str:
    """The s3rver binary: the repo's node_modules (``make test`` installs it), then PATH."""
    local = REPO / "node_modules" / ".bin" / "s3rver"
    if local.exists():
        return str(local)
    found = shutil.which("s3rver")
    if found:
        return found
    raise ServerMissing(
        f"s3rver is not installed (looked in {local} and on PATH): run `make test` "
        "(or `bash scripts/install-system-deps.sh`), which installs it from npm"
    )


def start_s3rver(logdir: Path, data: Path) -> Server:
    """s3rver (npm) on an ephemeral port, storing under ``data``."""
    binary = find_s3rver()
    data.mkdir(parents=True, exist_ok=True)
    argv = [binary, "-d", str(data), "-a", "127.0.0.1", "-p", "{port}", "--silent"]
    # Without the legacy provider, ListObjectsV2 fails with a 500 on Node 20.
    env = {"NODE_OPTIONS": "--openssl-legacy-provider"}
    return _start("s3rver", argv, env, "/", logdir)


def public_policy(bucket: str) -> dict[str, Any]:
    """Anonymous reads of every object, and listing, so a missing key answers 404, not 403."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            },
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:ListBucket",
                "Resource": f"arn:aws:s3:::{bucket}",
            },
        ],
    }


@dataclass
class S3Backend:
    """One running S3 server, ready for tests: fresh buckets, targets and stores.

    ``env`` holds the credentials for subprocesses (``artreg`` run as a
    command); the fixtures also set them in the test process's environment.
    """

    kind: str  # "moto" | "s3rver" | "rgw"
    endpoint: str
    env: dict[str, str] = field(default_factory=lambda: aws_env())

    @property
    def conditional_writes(self) -> bool:
        """Whether this server honours If-None-Match / If-Match (moto and RGW yes, s3rver no)."""
        return self.kind in ("moto", "rgw")

    def client(self) -> Any:
        """A raw boto3 S3 client for checks behind artreg's back."""
        import boto3
        import botocore.config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=botocore.config.Config(
                s3={"addressing_style": "path"},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )

    def make_bucket(self, *, website: bool = False) -> str:
        """Create a bucket with a unique name; ``website``: serve index.html and public GETs."""
        name = f"t-{uuid.uuid4().hex[:16]}"
        client = self.client()
        client.create_bucket(Bucket=name)
        if website:
            if self.kind in ("s3rver", "rgw"):  # both serve index documents, like Garage
                client.put_bucket_website(
                    Bucket=name,
                    WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}},
                )
            if self.kind != "s3rver":  # s3rver serves anonymous GETs without a policy
                client.put_bucket_policy(Bucket=name, Policy=json.dumps(public_policy(name)))
        return name

    def target(
        self,
        *,
        prefix: str = "",
        bucket: str | None = None,
        name: str = "test",
        website: bool = False,
    ) -> Target:
        """A ``Target`` for a fresh bucket (or ``bucket``) on this server."""
        return Target(
            name=name,
            type="s3",
            bucket=bucket or self.make_bucket(website=website),
            endpoint=self.endpoint,
            region=REGION,
            prefix=prefix,
        )

    def toml(self, target: Target) -> str:
        """The ``[targets.NAME]`` table for ``target``, to paste into a test's artreg.toml."""
        return (
            f"[targets.{target.name}]\n"
            f'type = "s3"\n'
            f'bucket = "{target.bucket}"\n'
            f'endpoint = "{self.endpoint}"\n'
            f'region = "{REGION}"\n'
            f'prefix = "{target.prefix}"\n'
        )

    def url(self, bucket: str, key: str) -> str:
        """The plain (path-style) URL of an object, as a website client would fetch it."""
        return f"{self.endpoint}/{bucket}/{urllib.parse.quote(key)}"

    def presigned_url(self, bucket: str, key: str) -> str:
        """A signed GET URL: raw HTTP access without a public bucket."""
        url: str = self.client().generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=600
        )
        return url


@dataclass
class StoreCase:
    """A fresh store on one backend, plus what a test needs to look behind it."""

    kind: str  # "dir" | "moto" | "s3rver" | "rgw"
    store: Store
    target: Target
    base_dir: Path
    backend: S3Backend | None = None

    def stored_headers(self, key: str) -> dict[str, str]:
        """What a plain HTTP GET of ``key`` answers with (lower-case names): the raw truth."""
        if self.backend is None:
            found = DirStore(self.base_dir / str(self.target.path)).locate(key)
            assert found is not None, key
            headers = {"content-type": found.content_type}
            if found.cache_control is not None:
                headers["cache-control"] = found.cache_control
            headers.update({f"x-amz-meta-{k}": v for k, v in found.metadata.items()})
            return headers
        url = self.backend.presigned_url(str(self.target.bucket), self.target.prefix + key)
        with urllib.request.urlopen(url, timeout=30) as response:
            return {k.lower(): v for k, v in response.headers.items()}

    def raw_keys(self) -> list[str]:
        """Every key actually stored, prefix included (dir: files under the root)."""
        if self.backend is None:
            root = self.base_dir / str(self.target.path)
            return sorted(
                p.relative_to(root).as_posix()
                for p in root.rglob("*")
                if p.is_file() and not p.relative_to(root).as_posix().startswith(".artreg-meta/")
            )
        pages = self.backend.client().get_paginator("list_objects_v2")
        return sorted(
            obj["Key"]
            for page in pages.paginate(Bucket=self.target.bucket)
            for obj in page.get("Contents", [])
        )

    def sibling(self, prefix: str) -> Store:
        """Another store in the same bucket under another prefix (dir: another directory)."""
        if self.backend is None:
            return DirStore(self.base_dir / f"sibling-{uuid.uuid4().hex[:8]}")
        return open_store(
            Target(
                name="sibling",
                type="s3",
                bucket=self.target.bucket,
                endpoint=self.target.endpoint,
                region=self.target.region,
                prefix=prefix,
            ),
            self.base_dir,
        )
