"""The package as users get it: ``python -m build`` gives a wheel and an sdist that
``twine check`` accepts, and ``pipx install`` of the wheel gives a working ``artreg``
whose manual and git hooks work.

Slow (a minute or more): build makes its own environment and pipx installs the
dependencies from the package index, as a user's machine would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def tool(name: str) -> list[str]:
    """Run ``name`` (a module of this interpreter) or fail saying how to install it."""
    module = {"build": "build", "twine": "twine", "pipx": "pipx"}[name]
    probe = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True)
    if probe.returncode != 0:
        pytest.fail(f"{name} is missing: pip install -e '.[test]'", pytrace=False)
    return [sys.executable, "-m", module]


def run(
    command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=900, env=env, cwd=cwd
    )
    assert proc.returncode == 0, f"{' '.join(command)}:\n{proc.stdout}{proc.stderr}"
    return proc


def test_build_twine_check_and_pipx_install_give_a_working_artreg(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    # A clean copy: the build must not depend on files lying around in the checkout.
    source = tmp_path / "source"
    shutil.copytree(
        REPO,
        source,
        symlinks=True,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", ".cache", "node_modules", "public", "demo-build", "*.egg-info",
            "__pycache__", ".mypy_cache", ".ruff_cache", ".hypothesis",
        ),
    )  # fmt: skip
    run([*tool("build"), "--outdir", str(dist), str(source)])
    wheels = list(dist.glob("artreg-*.whl"))
    sdists = list(dist.glob("artreg-*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, list(dist.iterdir())
    run([*tool("twine"), "check", "--strict", str(wheels[0]), str(sdists[0])])
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = set(wheel.namelist())
    for shipped in (
        "artreg/hooks/pre-push",
        "artreg/hooks/reference-transaction",
        "artreg/artreg.schema.json",
        "artreg/manual/config.md",
        "artreg/manual/ci.md",
        "artreg/manual/hooks.md",
    ):
        assert shipped in names

    home = tmp_path / "home"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "PIPX"))
    }
    env |= {
        "HOME": str(home),
        "PIPX_HOME": str(tmp_path / "pipx"),
        "PIPX_BIN_DIR": str(tmp_path / "bin"),
        "PIPX_MAN_DIR": str(tmp_path / "man"),
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    run([*tool("pipx"), "install", str(wheels[0])], env=env)
    artreg = str(tmp_path / "bin" / "artreg")
    env["PATH"] = f"{tmp_path / 'bin'}{os.pathsep}{env['PATH']}"

    assert run([artreg, "--version"], env=env).stdout.startswith("artreg ")
    assert run([artreg, "docs", "config"], env=env).stdout.startswith("# `artreg.toml` reference")

    # The hooks it installs run the pipx environment's artreg.
    repo = tmp_path / "repo"
    run(["git", "init", "-q", "-b", "main", str(repo)], env=env)
    run(["git", "-C", str(repo), "config", "user.email", "dev@example.org"], env=env)
    run(["git", "-C", str(repo), "config", "user.name", "Dev"], env=env)
    run(["git", "-C", str(repo), "commit", "-q", "--allow-empty", "-m", "first"], env=env)
    run([artreg, "init"], env=env, cwd=repo)
    run([artreg, "hooks", "install"], env=env, cwd=repo)
    refused = subprocess.run(
        ["git", "tag", "v0.8-rc2"], cwd=repo, env=env, capture_output=True, text=True
    )
    assert refused.returncode != 0
    assert "did you mean 'v0.8.0-rc2'?" in refused.stderr
    run(["git", "tag", "v0.8.0-rc2"], env=env, cwd=repo)
