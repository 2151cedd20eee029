"""A one-node Ceph cluster with radosgw on 127.0.0.1: a real S3 server for the tests.

One monitor, one OSD on memstore (data in RAM) and one radosgw, all running
as daemons with every file (config, keyrings, pid files, sockets, logs) under
one directory. ``make test`` installs Ceph from Debian
(``scripts/install-system-deps.sh``).

The cluster takes about 15 s to start, so the pytest workers share one: the
first worker that needs it starts it under a file lock in the run's shared
temp directory and writes ``state.json``; the others read that file. The
pytest process that owns the run (the xdist controller, or the only process)
stops it at session end, killing only the daemons whose pid files it wrote.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

STATE = "state.json"
BINARIES = ("ceph-mon", "ceph-osd", "radosgw", "ceph", "ceph-authtool", "monmaptool")
START_TIMEOUT = 120.0
# The test user's keys: the pair s3rver knows (servers.py), so every backend uses the same
# credentials; unlike moto and s3rver, RGW checks SigV4 signatures against it.
ACCESS_KEY = "S3RVER"
SECRET_KEY = "S3RVER"
# Website endpoint: requests with Host ``<bucket>.<WEBSITE_DOMAIN>`` get website semantics.
WEBSITE_DOMAIN = "s3-website.test"
DAEMONS = ("mon.a", "osd.0", "client.rgw.a")


class RgwMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class RgwCluster:
    """A running cluster: its S3 endpoint and where its files live."""

    root: Path
    port: int
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def to_json(self) -> str:
        return json.dumps({"root": str(self.root), "port": self.port})

    @classmethod
    def from_json(cls, text: str) -> RgwCluster:
        data = json.loads(text)
        return cls(root=Path(data["root"]), port=int(data["port"]))


def check_installed() -> None:
    missing = [b for b in BINARIES if shutil.which(b) is None]
    if missing:
        raise RgwMissing(
            f"Ceph is not installed (missing {', '.join(missing)}): run `make test` (or "
            "`bash scripts/install-system-deps.sh`), which installs ceph-mon ceph-osd radosgw "
            "ceph-common from Debian"
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _config(root: Path, fsid: str, mon_port: int, rgw_port: int) -> str:
    return f"""[global]
fsid = {fsid}
mon host = v1:127.0.0.1:{mon_port}
mon initial members = a
ms bind msgr2 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = {root}/keyring
run dir = {root}/run
pid file = {root}/run/$name.pid
admin socket = {root}/run/$name.asok
log file = {root}/log/$name.log
log to stderr = false
err to stderr = true
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
osd objectstore = memstore
memstore device bytes = 1073741824
osd data = {root}/osd/$id
mon data = {root}/mon/$id

[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:{rgw_port}
rgw data = {root}/rgw
rgw enable static website = true
rgw dns s3website name = {WEBSITE_DOMAIN}
rgw thread pool size = 64
"""


def _run(root: Path, *argv: str, timeout: float = 60.0) -> str:
    try:
        done = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{' '.join(argv)} did not finish in {timeout:.0f} s") from None
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-3000:]}\n"
            f"(logs under {root / 'log'})"
        )
    return done.stdout


def _ceph(root: Path, *args: str, timeout: float = 60.0) -> str:
    return _run(root, "ceph", "-c", str(root / "ceph.conf"), *args, timeout=timeout)


def _wait(what: str, root: Path, probe: object, deadline: float) -> None:
    assert callable(probe)
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(0.2)
    raise RuntimeError(f"Ceph: {what} not ready within {START_TIMEOUT:.0f} s (logs under {root})")


def _rgw_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            return sock.recv(12).startswith(b"HTTP/")
    except OSError:
        return False


def start(root: Path) -> RgwCluster:
    """Create and start a cluster under ``root`` (which must not hold one yet)."""
    check_installed()
    deadline = time.monotonic() + START_TIMEOUT
    for sub in ("run", "log", "mon/a", "osd/0", "rgw"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    fsid = str(uuid.uuid4())
    mon_port, rgw_port = _free_port(), _free_port()
    conf = root / "ceph.conf"
    conf.write_text(_config(root, fsid, mon_port, rgw_port))
    keyring = str(root / "keyring")
    c = ("-c", str(conf))
    _run(root, "ceph-authtool", "--create-keyring", keyring, "--gen-key", "-n", "mon.",
         "--cap", "mon", "allow *")  # fmt: skip
    _run(root, "ceph-authtool", keyring, "--gen-key", "-n", "client.admin", "--cap", "mon",
         "allow *", "--cap", "osd", "allow *", "--cap", "mgr", "allow *")  # fmt: skip
    monmap = str(root / "monmap")
    _run(root, "monmaptool", "--create", "--addv", "a", f"[v1:127.0.0.1:{mon_port}]",
         "--fsid", fsid, monmap)  # fmt: skip
    _run(root, "ceph-mon", *c, "--mkfs", "-i", "a", "--monmap", monmap, "--keyring", keyring)
    _run(root, "ceph-mon", *c, "-i", "a")
    osd_uuid = str(uuid.uuid4())
    osd_id = _ceph(root, "osd", "new", osd_uuid).strip()
    if osd_id != "0":
        raise RuntimeError(f"Ceph: expected osd id 0, got {osd_id!r}")
    osd_keyring = str(root / "osd" / "0" / "keyring")
    _run(root, "ceph-osd", *c, "-i", "0", "--mkfs", "--mkkey", "--osd-uuid", osd_uuid,
         "--no-mon-config", "--keyring", osd_keyring)  # fmt: skip
    _ceph(root, "auth", "add", "osd.0", "osd", "allow *", "mon", "allow profile osd",
          "-i", osd_keyring)  # fmt: skip
    _run(root, "ceph-osd", *c, "-i", "0", "--keyring", osd_keyring)
    _wait("osd.0", root, lambda: "1 up" in _ceph(root, "osd", "stat"), deadline)
    rgw_keyring = root / "rgw.keyring"
    rgw_keyring.write_text(
        _ceph(root, "auth", "get-or-create", "client.rgw.a", "mon", "allow rw", "osd", "allow rwx")
    )
    _run(root, "radosgw", *c, "-n", "client.rgw.a", "--keyring", str(rgw_keyring))
    _wait("radosgw", root, lambda: _rgw_answers(rgw_port), deadline)
    _run(root, "radosgw-admin", *c, "-n", "client.admin", "user", "create", "--uid", "artreg",
         "--display-name", "artreg tests", "--access-key", ACCESS_KEY,
         "--secret-key", SECRET_KEY)  # fmt: skip
    return RgwCluster(root=root, port=rgw_port)


def _pid(root: Path, name: str) -> int | None:
    try:
        return int((root / "run" / f"{name}.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop(root: Path, timeout: float = 20.0) -> None:
    """Stop the daemons whose pid files are under ``root`` (radosgw first, the monitor last)."""
    for name in reversed(DAEMONS):
        pid = _pid(root, name)
        if pid is None or not _alive(pid):
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def shared(run_dir: Path) -> RgwCluster:
    """The cluster of this test run under ``run_dir``: started by the first caller, then reused.

    A failed start is remembered (``failed.txt``), so the other workers fail
    at once with the same message instead of each waiting for their own.
    """
    root = run_dir / "rgw"
    with _locked(run_dir / "rgw.lock"):
        state = root / STATE
        failed = run_dir / "rgw-failed.txt"
        if state.exists():
            return RgwCluster.from_json(state.read_text())
        if failed.exists():
            raise RuntimeError(failed.read_text())
        started = time.monotonic()
        try:
            cluster = start(root)
        except RgwMissing:
            raise
        except Exception as exc:
            stop(root)
            failed.write_text(str(exc))
            raise
        (run_dir / "rgw-start-seconds.txt").write_text(f"{time.monotonic() - started:.1f}\n")
        state.write_text(cluster.to_json())
        return cluster


def stop_shared(run_dir: Path) -> None:
    """Stop this run's shared cluster, if one was started; its files stay for the logs."""
    root = run_dir / "rgw"
    if (root / "run").exists():
        with _locked(run_dir / "rgw.lock"):
            stop(root)
            (root / STATE).unlink(missing_ok=True)


if __name__ == "__main__":  # a manual check: start, print the endpoint, stop on Enter
    import sys
    import tempfile

    where = Path(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="rgw-"))
    began = time.monotonic()
    cluster = shared(where)
    print(f"{cluster.endpoint} up in {time.monotonic() - began:.1f} s under {where}", flush=True)
    if sys.stdin.isatty():
        input("Enter to stop ")
    began = time.monotonic()
    stop_shared(where)
    print(f"stopped in {time.monotonic() - began:.1f} s")
