"""Real pre-commit at the pre-push stage, a real repository and a bare remote.

pre-commit hands its pre-push hooks the first pushed ref only, so
``git push origin v2.0.0 bad_tag`` must still fail, naming ``bad_tag``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent.parent
CONFIG = '[project]\nname = "demo"\n\n[tags]\nprefix = "v"\n'


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("GIT_", "ARTREG", "PRE_COMMIT")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PRE_COMMIT_HOME", str(tmp_path / "pre-commit-home"))


def run(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
    return proc


def declared_hook() -> dict[str, Any]:
    """artreg-tags as .pre-commit-hooks.yaml declares it, run from this interpreter."""
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    (hook,) = [h for h in hooks if h["id"] == "artreg-tags"]
    assert hook["entry"].startswith("artreg ")
    # `repo: local` with language system: the same hook without building an environment.
    return {
        **hook,
        "entry": f"{sys.executable} -m artreg {hook['entry'].removeprefix('artreg ')}",
        "language": "system",
    }


@pytest.fixture
def work(tmp_path: Path) -> Path:
    remote = tmp_path / "remote.git"
    work = tmp_path / "work"
    run("git", "init", "--bare", "-q", "-b", "main", str(remote), cwd=tmp_path)
    run("git", "init", "-q", "-b", "main", str(work), cwd=tmp_path)
    run("git", "config", "user.email", "dev@example.org", cwd=work)
    run("git", "config", "user.name", "Dev", cwd=work)
    (work / "artreg.toml").write_text(CONFIG)
    config = {"repos": [{"repo": "local", "hooks": [declared_hook()]}]}
    (work / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    run("git", "add", ".", cwd=work)
    run("git", "commit", "-q", "-m", "first", cwd=work)
    run("git", "remote", "add", "origin", str(remote), cwd=work)
    run("git", "push", "-q", "origin", "main", cwd=work)
    run(sys.executable, "-m", "pre_commit", "install", "--hook-type", "pre-push", cwd=work)
    return work


def remote_tags(work: Path) -> list[str]:
    return run("git", "ls-remote", "--tags", "--refs", "origin", cwd=work).stdout.split()[1::2]


def test_a_bad_tag_after_a_good_one_is_refused_by_name(work: Path) -> None:
    run("git", "tag", "bad_tag", cwd=work)  # on the commit the remote already has
    run("git", "commit", "-q", "--allow-empty", "-m", "second", cwd=work)
    run("git", "tag", "v2.0.0", cwd=work)
    push = run("git", "push", "origin", "v2.0.0", "bad_tag", cwd=work, check=False)
    output = push.stdout + push.stderr
    assert push.returncode != 0, output
    assert "tag 'bad_tag'" in output
    assert "git tag -d bad_tag" in output
    assert "Passed" not in output
    assert "Failed" in output
    assert remote_tags(work) == []

    # The way out it names: the bad tag deleted, the good one goes through.
    run("git", "tag", "-d", "bad_tag", cwd=work)
    push = run("git", "push", "origin", "v2.0.0", cwd=work, check=False)
    assert push.returncode == 0, push.stdout + push.stderr
    assert "Passed" in push.stdout + push.stderr
    assert remote_tags(work) == ["refs/tags/v2.0.0"]


def test_pushing_every_tag_with_a_bad_one_last_is_refused(work: Path) -> None:
    run("git", "commit", "-q", "--allow-empty", "-m", "second", cwd=work)
    for tag in ("v1.0.0", "v1.1.0", "v1.2-rc1"):
        run("git", "tag", tag, cwd=work)
    push = run("git", "push", "--tags", "origin", cwd=work, check=False)
    output = push.stdout + push.stderr
    assert push.returncode != 0, output
    assert "tag 'v1.2-rc1'" in output
    assert "Passed" not in output
    assert remote_tags(work) == []


def test_a_branch_push_with_only_good_local_tags_passes(work: Path) -> None:
    run("git", "commit", "-q", "--allow-empty", "-m", "second", cwd=work)
    run("git", "tag", "v1.0.0", cwd=work)
    push = run("git", "push", "origin", "main", cwd=work, check=False)
    assert push.returncode == 0, push.stdout + push.stderr
    assert "Passed" in push.stdout + push.stderr
