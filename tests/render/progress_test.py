"""Upload progress: a live bar on a terminal (under a real pty), lines in a log."""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from publishing import Site, make_site

from artreg.render.progress import Progress, log_interval

LOG_LINE = re.compile(
    r"^artreg: uploading (\d+) files: [\d.]+ [kMG]?B of ([\d.]+ [kMG]?B) \((\d+)%\)"
    r"(, [\d.]+ [kMG]?B/s(, [\dhmins ]+ left)?)?$"
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_log_lines_come_once_per_interval_and_end_complete() -> None:
    clock, out = Clock(), io.StringIO()
    progress = Progress(1000, 4, stream=out, environ={"ARTREG_PROGRESS_INTERVAL": "5"}, clock=clock)
    assert not progress.live
    for _ in range(9):  # 100 bytes a second
        clock.now += 1
        progress(100)
    clock.now += 1
    progress(100)
    progress.close()
    assert out.getvalue().splitlines() == [
        "artreg: uploading 4 files: 500 B of 1.0 kB (50%), 100 B/s, 5 s left",
        "artreg: uploading 4 files: 1.0 kB of 1.0 kB (100%), 100 B/s",
    ]


def test_a_short_run_in_a_log_prints_nothing() -> None:
    clock, out = Clock(), io.StringIO()
    progress = Progress(1000, 2, stream=out, environ={}, clock=clock)
    clock.now += 1
    progress(1000)
    progress.close()
    assert out.getvalue() == ""


def test_quiet_prints_nothing() -> None:
    out = io.StringIO()
    progress = Progress(1000, 2, quiet=True, stream=out, environ={"ARTREG_PROGRESS_INTERVAL": "0"})
    for _ in range(10):
        progress(100)
    progress.close()
    assert out.getvalue() == ""


@pytest.mark.parametrize(
    ("text", "expected"), [("", 5.0), ("0.5", 0.5), ("0", 0.0), ("x", 5.0), ("-1", 5.0)]
)
def test_log_interval(text: str, expected: float) -> None:
    assert log_interval({"ARTREG_PROGRESS_INTERVAL": text}) == expected


def subprocess_env(site: Site, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
    if site.backend is not None:
        env |= site.backend.env
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    return env | extra


def write_files(site: Site, count: int, size: int) -> None:
    for i in range(count):
        site.write(f"out/part-{i:03}.bin", os.urandom(size))


def apply_command(site: Site, tag: str, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "artreg", "apply", "--config", str(site.config_path),
        "--target", "test", "--tag", tag, *extra,
    ]  # fmt: skip


def test_a_real_upload_to_moto_logs_progress_lines(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    site = make_site(request, tmp_path, "moto", files=(("linux/amd64", "out/*.bin"),))
    write_files(site, 12, 300_000)  # 3.6 MB
    env = subprocess_env(site, ARTREG_PROGRESS_INTERVAL="0")
    proc = subprocess.run(
        apply_command(site, "v1.0.0"), env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("artreg: uploading")]
    assert len(lines) >= 2, proc.stderr
    for line in lines:
        found = LOG_LINE.match(line)
        assert found, line
        assert found.group(1) == "12"
        assert found.group(2) == "3.6 MB"
    assert lines[-1].startswith("artreg: uploading 12 files: 3.6 MB of 3.6 MB (100%)")
    assert "\r" not in proc.stderr and "\x1b" not in proc.stderr

    write_files(site, 12, 300_000)
    quiet = subprocess.run(
        apply_command(site, "v1.1.0", "--quiet"), env=env, capture_output=True, text=True
    )
    assert quiet.returncode == 0, quiet.stderr
    assert "uploading" not in quiet.stderr


def run_under_pty(command: list[str], env: dict[str, str]) -> tuple[int, str, float]:
    """Run with stderr on a pseudo-terminal; its exit code, what it drew, and seconds taken."""
    leader, follower = pty.openpty()
    started = time.monotonic()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    code = proc.wait()
    elapsed = time.monotonic() - started
    os.close(leader)
    return code, b"".join(chunks).decode(), elapsed


@pytest.mark.parametrize("no_color", [False, True])
def test_a_terminal_gets_one_live_bar_redrawn_at_most_ten_times_a_second(
    request: pytest.FixtureRequest, tmp_path: Path, no_color: bool
) -> None:
    site = make_site(request, tmp_path, "dir", files=(("linux/amd64", "out/*.bin"),))
    files = 400
    write_files(site, files, 20_000)
    env = subprocess_env(site, TERM="xterm", **({"NO_COLOR": "1"} if no_color else {}))
    code, drawn, elapsed = run_under_pty(apply_command(site, "v1.0.0"), env)
    assert code == 0, drawn
    redraws = drawn.count("\r  [")
    assert redraws >= 1, drawn
    # One callback per file: far more than the redraws, which the clock limits.
    assert redraws <= elapsed * 10 + 2, (redraws, elapsed)
    assert redraws < files
    bar_lines = [part for part in drawn.split("\r") if part.startswith("  [")]
    assert "400 files: 8.0 MB of 8.0 MB (100%)" in bar_lines[-1]
    assert ("\x1b" in drawn) is not no_color
    assert "artreg: uploading" not in drawn  # no log lines on a terminal
