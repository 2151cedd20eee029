"""``artreg hooks install`` errors and output, ``artreg hooks pre-commit-push``, and the
hooks of ``.pre-commit-hooks.yaml`` run by pre-commit itself.

The hooks' behaviour in real pushes and tags is in ``tests/hooks_test.py``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from artreg.cli import main
from artreg.commands import hooks
from artreg.errors import ArtregError

REPO = Path(__file__).resolve().parent.parent.parent
SUGGESTION = "did you mean 'v0.8.0-rc2'?"
GOOD_CONFIG = '[project]\nname = "demo"\n\n[tags]\nprefix = "v"\n'
BROKEN_CONFIG = '[project]\nname = "demo"\n\n[tags.dev]\nkeep_last = -1\n'


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user or system git configuration, no inherited git, artreg or pre-commit variables."""
    for name in list(os.environ):
        if name.startswith(("GIT_", "ARTREG", "PRE_COMMIT")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")
    monkeypatch.setenv("HOME", str(tmp_path))


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def init_repo(path: Path) -> Path:
    git("init", "-q", "-b", "main", str(path), cwd=path.parent)
    git("config", "user.email", "dev@example.org", cwd=path)
    git("config", "user.name", "Dev", cwd=path)
    return path


def test_install_from_the_command_line_says_what_it_did(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = init_repo(tmp_path / "repo")
    hooks_dir = repo / ".git" / "hooks"
    (hooks_dir / "pre-push").write_text("#!/bin/sh\nexit 0\n")
    assert main(["hooks", "install", "--repo", str(repo)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"installed {hooks_dir / 'pre-push'} "
        "(the hook that was there now runs after it as pre-push.artreg-chained)",
        f"installed {hooks_dir / 'reference-transaction'}",
    ]
    for name in hooks.HOOK_NAMES:
        assert os.access(hooks_dir / name, os.X_OK)
        assert hooks.is_artreg_hook(hooks_dir / name)
    assert not hooks.is_artreg_hook(hooks_dir / "pre-push.artreg-chained")


def test_install_outside_a_repository_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["hooks", "install", "--repo", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"artreg: error: {tmp_path}: not a git repository")
    assert "--repo DIR" in err
    with pytest.raises(ArtregError, match="not a directory"):
        hooks.install(tmp_path / "missing")


def test_install_refuses_when_a_foreign_hook_would_replace_the_chained_one(
    tmp_path: Path,
) -> None:
    repo = init_repo(tmp_path / "repo")
    hooks_dir = repo / ".git" / "hooks"
    (hooks_dir / "pre-push").write_text("#!/bin/sh\necho first\n")
    hooks.install(repo)
    (hooks_dir / "pre-push").write_text("#!/bin/sh\necho second\n")
    with pytest.raises(ArtregError, match=r"pre-push\.artreg-chained.*exists too"):
        hooks.install(repo)
    assert (hooks_dir / "pre-push").read_text() == "#!/bin/sh\necho second\n"
    assert (hooks_dir / "pre-push.artreg-chained").read_text() == "#!/bin/sh\necho first\n"


def test_install_refuses_to_overwrite_the_shipped_hooks(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    shipped = Path(str(resources.files("artreg").joinpath("hooks")))
    git("config", "core.hooksPath", str(shipped), cwd=repo)
    with pytest.raises(ArtregError, match="artreg's own hooks"):
        hooks.install(repo)


def test_rendered_hooks_bake_in_the_interpreter_quoted_for_sh() -> None:
    text = hooks.render_hook("pre-push", "/opt/my python/bin/python3")
    assert "ARTREG_PYTHON='/opt/my python/bin/python3'\n" in text
    assert hooks.MARKER in text


@pytest.mark.parametrize(
    ("remote_branch", "expected"),
    [
        ("refs/tags/v1.2.3", "v1.2.3"),
        ("refs/tags/v0.8-rc2", "v0.8-rc2"),
        ("refs/heads/refs/tags/x", None),
        ("refs/heads/main", None),
        (None, None),
    ],
)
def test_pushed_tag_is_read_from_pre_commit_environment(
    remote_branch: str | None, expected: str | None
) -> None:
    env = {"PRE_COMMIT_LOCAL_BRANCH": "refs/tags/other"}
    if remote_branch is not None:
        env["PRE_COMMIT_REMOTE_BRANCH"] = remote_branch
    assert hooks.pushed_tag(env) == expected


def test_pre_commit_push_lints_the_pushed_tag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PRE_COMMIT_LOCAL_BRANCH", "HEAD")
    monkeypatch.setenv("PRE_COMMIT_REMOTE_BRANCH", "refs/tags/v0.8-rc2")
    assert main(["hooks", "pre-commit-push"]) == 1
    assert SUGGESTION in capsys.readouterr().err

    monkeypatch.setenv("PRE_COMMIT_REMOTE_BRANCH", "refs/tags/v0.8.0-rc2")
    assert main(["hooks", "pre-commit-push"]) == 0

    monkeypatch.setenv("PRE_COMMIT_REMOTE_BRANCH", "refs/heads/v0.8-rc2")
    assert main(["hooks", "pre-commit-push"]) == 0


def test_pre_commit_push_uses_the_configured_convention(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bare-semver.toml"
    config.write_text('[project]\nname = "demo"\n\n[tags]\nprefix = ""\n')
    monkeypatch.setenv("PRE_COMMIT_REMOTE_BRANCH", "refs/tags/1.2.3")
    assert main(["hooks", "pre-commit-push", "--config", str(config)]) == 0
    monkeypatch.setenv("PRE_COMMIT_REMOTE_BRANCH", "refs/tags/v1.2.3")
    assert main(["hooks", "pre-commit-push", "--config", str(config)]) == 1
    assert "tag 'v1.2.3'" in capsys.readouterr().err


def pre_commit_try_repo(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``pre-commit try-repo`` on this checkout (HEAD plus tracked changes)."""
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(REPO), *args, "--all-files"],
        cwd=project,
        env={**os.environ, "PRE_COMMIT_HOME": str(project.parent / "pre-commit-home")},
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )


def hook_result(output: str, name_start: str) -> str:
    """The Passed/Failed/Skipped status pre-commit printed for the hook named ``name_start``."""
    match = re.search(
        rf"^{re.escape(name_start)}.*?\.+\s*(\(no files to check\))?(\w+)$", output, re.M
    )
    assert match is not None, output
    return match.group(2)


def test_pre_commit_runs_the_declared_hooks(tmp_path: Path) -> None:
    """pre-commit installs artreg from this repository and runs .pre-commit-hooks.yaml.

    Slow (pre-commit builds an environment from PyPI each time): two runs only.
    """
    project = init_repo(tmp_path / "project")
    (project / "artreg.toml").write_text(GOOD_CONFIG)
    assert (
        main(
            [
                "docs",
                "--config",
                str(project / "artreg.toml"),
                "--output",
                str(project / "docs" / "TAGGING.md"),
            ]
        )
        == 0
    )
    git("add", "artreg.toml", "docs/TAGGING.md", cwd=project)
    git("commit", "-q", "-m", "config", cwd=project)

    # Every hook, at the pre-push stage, as if pushing the tag v0.8-rc2.
    proc = pre_commit_try_repo(
        project,
        "--hook-stage",
        "pre-push",
        "--remote-branch",
        "refs/tags/v0.8-rc2",
        "--local-branch",
        "refs/tags/v0.8-rc2",
        "--remote-name",
        "origin",
        "--remote-url",
        str(tmp_path / "remote.git"),
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert hook_result(output, "artreg lint") == "Passed"
    assert hook_result(output, "artreg docs") == "Passed"
    assert hook_result(output, "artreg tags") == "Failed"
    assert SUGGESTION in output

    (project / "artreg.toml").write_text(BROKEN_CONFIG)
    proc = pre_commit_try_repo(project, "artreg-lint")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert hook_result(output, "artreg lint") == "Failed"
    assert "tags.dev.keep_last" in output
