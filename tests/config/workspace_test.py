"""A dir target never contains the project: refused by lint and by every command.

A git repository with ``ci/artreg.toml`` in it; targets at '.', '..', the
repository's absolute path, a link resolving to it, inside ``.git``. Each is
refused by ``lint`` (file:line) and by each command that opens the store, and
nothing in the repository is touched.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from artreg.cli import main
from artreg.config import Target
from artreg.errors import StoreError
from artreg.stores import open_store

CONFIG = """\
[project]
name = "demo"

[[artifacts]]
name = "app"
files = [{{ platform = "linux/amd64", path = "app" }}]

[targets.site]
type = "dir"
path = "{path}"
"""
COMMANDS = (
    ("apply", "--tag", "v1.0.0"),
    ("gc",),
    ("verify",),
    ("import",),
    ("ls",),
    ("plan", "--tag", "v1.0.0"),
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "ci").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "src.c").write_bytes(b"int main;\n")
    (repo / "ci" / "app").write_bytes(b"binary\n")
    (tmp_path / "link").symlink_to(repo, target_is_directory=True)
    return repo


def files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def refused_paths(repo: Path) -> list[str]:
    return [
        ".",
        "..",
        "./",
        "../..",
        str(repo),
        str(repo / "ci"),
        str(repo.parent / "link"),  # resolves to the repository
        "../../link/ci",
        "../.git",
        "../.git/public",
        "/",
    ]


def test_lint_refuses_targets_containing_the_project(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = repo / "ci" / "artreg.toml"
    for path in refused_paths(repo):
        config.write_text(CONFIG.format(path=path))
        assert main(["lint", "--config", str(config)]) == 1, path
        err = capsys.readouterr().err.splitlines()
        assert err[0].startswith(f"{config}:10: targets.site.path: {path!r}"), err
        assert "give the target a directory of its own" in err[0]
        assert err[1:] == ["artreg lint: 1 problem found"]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_every_command_refuses_them_and_touches_nothing(
    repo: Path, command: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    config = repo / "ci" / "artreg.toml"
    for path in refused_paths(repo):
        config.write_text(CONFIG.format(path=path))
        before = files(repo)
        assert main([*command, "--config", str(config)]) == 1, path
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "targets.site.path: " in err, err
        assert "give the target a directory of its own" in err
        assert files(repo) == before


def test_open_store_refuses_them_too(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """For a target that did not come through lint (the store is opened from code)."""
    for path in refused_paths(repo):
        with pytest.raises(StoreError, match=r"targets\.site\.path: .*give the target a directory"):
            open_store(Target(name="site", type="dir", path=path), repo / "ci")
    # The working directory's repository is protected even when the config is elsewhere.
    monkeypatch.chdir(repo / "ci")
    with pytest.raises(StoreError, match="the git work tree"):
        open_store(Target(name="site", type="dir", path=str(repo)), repo.parent)


@pytest.mark.parametrize("path", ["public", "../public", "../../site"])
def test_a_directory_of_its_own_is_fine(
    repo: Path, path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = repo / "ci" / "artreg.toml"
    config.write_text(CONFIG.format(path=path))
    assert main(["lint", "--config", str(config)]) == 0, capsys.readouterr().err
    assert main(["apply", "--tag", "v1.0.0", "--config", str(config)]) == 0
    assert os.path.isfile(repo / "ci" / path / "v1.0.0" / "linux" / "amd64" / "app")
