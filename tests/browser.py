"""Headless Chromium for page tests (see /work/shared/TESTING.md)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def chromium(tmp_path: Path, *args: str) -> str:
    binary = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(binary).exists():
        pytest.fail("chromium is not installed: run `make test` (it installs the system deps)")
    command = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
        *args,
    ]
    # the timeout only guards against a hung browser; nothing is asserted about time
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout
