"""artreg.toml is found from any subdirectory, up to the repository root, like ruff does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from artreg.config import find_config

CONFIG = """\
[project]
name = "found"

[[artifacts]]
name = "app"
files = [{ platform = "linux/amd64", path = "dist/app" }]

[targets.local]
type = "dir"
path = "public"
"""


def artreg(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "ARTREG", "CI"))}
    env |= {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(
        [sys.executable, "-m", "artreg", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A real git repository with artreg.toml at its root and a docs/ directory."""
    root = tmp_path / "repo"
    (root / "docs" / "deep").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "artreg.toml").write_text(CONFIG)
    (root / "dist").mkdir()
    (root / "dist" / "app").write_bytes(b"app\n")
    return root


def test_lint_from_docs_reads_the_root_config(repo: Path) -> None:
    result = artreg("lint", cwd=repo / "docs")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{repo / 'artreg.toml'}: ok\n"


def test_apply_from_a_subdirectory_publishes_relative_to_the_config(repo: Path) -> None:
    result = artreg("apply", "--tag", "v1.0.0", cwd=repo / "docs" / "deep")
    assert result.returncode == 0, result.stderr
    assert (repo / "public" / "v1.0.0" / "linux" / "amd64" / "app").read_bytes() == b"app\n"
    assert not (repo / "docs" / "deep" / "public").exists()


def test_explicit_config_wins_over_discovery(repo: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.toml"
    other.write_text('[project]\nname = "other"\n[tags]\nprefix = "release-"\n')
    result = artreg("classify", "--config", str(other), "release-1.0.0", cwd=repo / "docs")
    assert result.returncode == 0, result.stdout + result.stderr
    assert artreg("classify", "release-1.0.0", cwd=repo / "docs").returncode == 1


def test_search_stops_at_the_repository_root(tmp_path: Path) -> None:
    (tmp_path / "artreg.toml").write_text(CONFIG)  # above the repository: not its config
    inner = tmp_path / "inner"
    (inner / "docs").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(inner)], check=True)
    assert find_config(inner / "docs") is None
    result = artreg("docs", cwd=inner / "docs")
    assert result.returncode == 1
    assert "no such configuration file" in result.stderr
    assert "up to the repository root" in result.stderr


def test_outside_a_repository_the_search_goes_up_to_the_filesystem_root(tmp_path: Path) -> None:
    (tmp_path / "artreg.toml").write_text(CONFIG)
    (tmp_path / "a" / "b").mkdir(parents=True)
    assert find_config(tmp_path / "a" / "b") == tmp_path / "artreg.toml"
    assert find_config(tmp_path) == tmp_path / "artreg.toml"
