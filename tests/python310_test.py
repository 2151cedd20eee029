"""The part of the suite that needs no server, on Python 3.10 (where tomli reads TOML).

artreg supports Python >= 3.10. This machine's Python is 3.11; a 3.10 interpreter
is used when one is installed (``python3.10`` on PATH, or pyenv's 3.10.x). Its
venv is cached in .cache/ (the first run installs the test dependencies from the
package index: a few minutes).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Tests that start no S3 server: the core, the config, and the commands on dir targets.
SUBSET = (
    "tests/core",
    "tests/config",
    "tests/commands/lint_test.py",
    "tests/commands/classify_test.py",
    "tests/commands/target_choice_test.py",
    "tests/render/terminal_test.py",
)


PROBE = "import sys, artreg.config as c; print(sys.version_info[:2], c.tomllib.__name__)"


def python310() -> str | None:
    """A Python 3.10 that runs (pyenv's shim on PATH fails when 3.10 is not selected)."""
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [str(p) for p in sorted(pyenv_root.glob("versions/3.10*/bin/python3.10"))]
    candidates += [found] if (found := shutil.which("python3.10")) else []
    for candidate in candidates:
        probe = [candidate, "-c", "import sys; sys.exit(sys.version_info[:2] != (3, 10))"]
        if subprocess.run(probe, capture_output=True).returncode == 0:
            return candidate
    return None


def test_the_serverless_suite_passes_on_python_310() -> None:
    interpreter = python310()
    if interpreter is None:
        pytest.skip(
            "no Python 3.10 interpreter here (python3.10 on PATH or pyenv's versions/3.10.x): "
            "Debian 12 has no python3.10 package, and interpreters downloaded from outside the "
            "package registries are not allowed"
        )
    key = hashlib.sha256((REPO / "pyproject.toml").read_bytes()).hexdigest()[:12]
    venv = REPO / ".cache" / "py310-venv"
    stamp = venv / f".installed-{key}"
    python = venv / "bin" / "python"
    if not stamp.exists():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([interpreter, "-m", "venv", str(venv)], check=True)
        install = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "-e", f"{REPO}[test]"],
            capture_output=True,
            text=True,
            timeout=1800,
        )
        assert install.returncode == 0, install.stdout + install.stderr
        stamp.touch()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    version = subprocess.run(
        [str(python), "-c", PROBE],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert version.stdout.strip() == "(3, 10) tomli", version.stdout + version.stderr
    proc = subprocess.run(
        [str(python), "-m", "pytest", "-p", "no:cacheprovider", "-n", "0", "-q", *SUBSET],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=3000,
    )
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
