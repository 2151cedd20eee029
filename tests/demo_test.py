"""``make demo`` on a copy of the repository: it installs only artreg, and its closing
hints run as printed.

Slow (about a minute): it makes a venv and installs artreg and its dependencies
from the package index, as a fresh clone would.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
COPIED = ("Makefile", "pyproject.toml", "README.md", "src", "scripts", "artreg.toml", "docs")
NOT_FOR_THE_DEMO = ("pytest", "ruff", "mypy", "moto", "hypothesis", "pre_commit", "jsonschema")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def make_demo(root: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(
        ["make", "demo", f"PYTHON={sys.executable}"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    root = tmp_path / "artreg"
    root.mkdir()
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name, symlinks=True)
        else:
            shutil.copy(source, root / name)
    (root / "tests" / "fixtures").mkdir(parents=True)
    shutil.copy(REPO / "tests" / "fixtures" / "garage-tags.txt", root / "tests" / "fixtures")
    return root


def test_make_demo_installs_only_artreg_and_its_hints_run_as_printed(copy: Path) -> None:
    if shutil.which("make") is None:
        pytest.fail("make is not installed; install it (Debian: apt-get install make)")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["ARTREG_DEMO_PORT"] = str(port)
    out = make_demo(copy, env)

    site_packages = next((copy / ".venv" / "lib").glob("python3*/site-packages"))
    installed = {p.name.split("-")[0].lower() for p in site_packages.iterdir()}
    assert {"boto3", "semver"} <= installed
    assert not installed & set(NOT_FOR_THE_DEMO), installed & set(NOT_FOR_THE_DEMO)

    hints = out.split("== browse them (from ")[1]
    where, _, hints = hints.partition(")\n")
    assert Path(where) == copy
    lines = [line.strip() for line in hints.splitlines()]
    serve = lines[0]
    assert serve == f".venv/bin/artreg serve --target local --port {port}"
    urls = re.findall(r"http://127\.0\.0\.1:\d+/\S*", hints)
    assert len(urls) == 2, hints

    # The first hint, run as printed from the repository root, with the reader's PATH.
    server = subprocess.Popen(
        ["bash", "-c", serve],
        cwd=where,
        env={k: v for k, v in env.items() if k != "ARTREG_DEMO_PORT"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert server.stdout is not None
        assert server.stdout.readline().strip() == f"http://127.0.0.1:{port}/"
        with urllib.request.urlopen(urls[0].rstrip(";),")) as page:
            assert b"artreg-demo" in page.read()
        with urllib.request.urlopen(urls[1]) as download:
            assert b"hello from artreg-demo v1.0.0 (linux/amd64)" in download.read()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    # The last hint: `make demo` again publishes nothing.
    again = make_demo(copy, env)
    assert again.count("already published to local") == 3, again
    assert "published to local: 0 uploaded" in again
