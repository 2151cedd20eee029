"""Temporary directories: removed on every exit path, and after a SIGKILL by the next run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from artreg.stores.scratch import SCRATCH_PREFIX, ScratchDir

# Makes a scratch directory (with a file in it), says where, then waits or dies.
_MAKER = """
import os, signal, sys
from artreg.cli import _terminated
from artreg.stores.scratch import ScratchDir
if sys.argv[1] == "term":  # as artreg's main does
    signal.signal(signal.SIGTERM, _terminated)
try:
    scratch = ScratchDir("oci")
    (scratch.path / "member").write_bytes(b"x" * 4096)
    print(scratch.path, flush=True)
    if sys.argv[1] == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if sys.argv[1] in ("wait", "term"):
        sys.stdin.read()
except KeyboardInterrupt:
    sys.exit(130)
"""


@pytest.fixture
def tmpdir_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A private system temporary directory for child processes (and this one)."""
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setenv("TMPDIR", str(private))
    monkeypatch.setattr("tempfile.tempdir", None)  # re-read TMPDIR
    return {**os.environ, "TMPDIR": str(private)}


def make(env: dict[str, str], how: str) -> tuple[subprocess.Popen[str], Path]:
    process = subprocess.Popen(
        [sys.executable, "-c", _MAKER, how],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process, Path(process.stdout.readline().strip())


def age(path: Path) -> None:
    hour_ago = time.time() - 3600
    os.utime(path, (hour_ago, hour_ago))


def test_a_normal_exit_removes_the_directory(tmpdir_env: dict[str, str]) -> None:
    process, path = make(tmpdir_env, "exit")
    assert process.wait() == 0
    assert not path.exists()


def test_sigterm_removes_the_directory(tmpdir_env: dict[str, str]) -> None:
    process, path = make(tmpdir_env, "term")
    process.send_signal(signal.SIGTERM)
    assert process.wait() == 130
    assert not path.exists()


def test_a_killed_runs_directory_is_removed_by_the_next_run_but_not_a_live_one(
    tmpdir_env: dict[str, str], tmp_path: Path
) -> None:
    killed, left = make(tmpdir_env, "kill")
    assert killed.wait() == -signal.SIGKILL
    assert (left / "member").exists()  # what a SIGKILL leaves behind
    live, live_path = make(tmpdir_env, "wait")
    private = tmp_path / "tmp"
    foreign = private / "artreg-something-else"  # not a scratch dir: never touched
    foreign.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_bytes(b"sentinel")
    (private / f"{SCRATCH_PREFIX}link").symlink_to(outside, target_is_directory=True)
    fresh = private / f"{SCRATCH_PREFIX}fresh"  # unlocked but too young: maybe being made
    fresh.mkdir()
    for path in (left, live_path, foreign):
        age(path)

    next_run = subprocess.run(
        [sys.executable, "-c", _MAKER, "exit"], env=tmpdir_env, capture_output=True, text=True
    )

    assert next_run.returncode == 0, next_run.stderr
    assert not left.exists()
    assert live_path.exists() and (live_path / "member").exists()
    assert foreign.exists() and fresh.exists()
    assert (outside / "keep").read_bytes() == b"sentinel"
    assert (private / f"{SCRATCH_PREFIX}link").is_symlink()
    assert live.communicate("")[1] is None and live.returncode == 0
    assert not live_path.exists()


def test_close_is_idempotent_and_the_context_manager_closes(tmpdir_env: dict[str, str]) -> None:
    with ScratchDir("test") as scratch:
        (scratch.path / "f").write_bytes(b"x")
    assert not scratch.path.exists()
    scratch.close()
