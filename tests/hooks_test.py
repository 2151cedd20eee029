"""The shipped git hooks (pre-push, reference-transaction) in real repositories.

Each test has a working repository whose ``main`` is already on a bare remote,
with artreg's hooks installed by ``artreg hooks install``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from artreg.commands import hooks

SUGGESTION = "did you mean 'v0.8.0-rc2'?"


@dataclass(frozen=True)
class Repos:
    work: Path
    remote: Path
    tmp: Path

    def git(self, *args: str, check: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
        return git(*args, cwd=self.work, check=check, **env)

    def tag_unchecked(self, *tags: str) -> None:
        """Create tags past the hook, like a legacy tag or one made before install."""
        for tag in tags:
            self.git("tag", tag, ARTREG_SKIP_TAG_CHECK="1")

    def remote_tags(self) -> list[str]:
        out = git("for-each-ref", "--format=%(refname:short)", "refs/tags/", cwd=self.remote)
        return out.stdout.split()


def git(*args: str, cwd: Path, check: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
    return proc


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user or system git configuration, no inherited git or artreg variables."""
    for name in list(os.environ):
        if name.startswith(("GIT_", "ARTREG", "PRE_COMMIT")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")
    monkeypatch.setenv("HOME", str(tmp_path))


def make_repos(tmp_path: Path) -> Repos:
    remote = tmp_path / "remote.git"
    work = tmp_path / "work"
    git("init", "--bare", "-q", "-b", "main", str(remote), cwd=tmp_path)
    git("init", "-q", "-b", "main", str(work), cwd=tmp_path)
    repos = Repos(work=work, remote=remote, tmp=tmp_path)
    repos.git("config", "user.email", "dev@example.org")
    repos.git("config", "user.name", "Dev")
    repos.git("commit", "-q", "--allow-empty", "-m", "first")
    repos.git("remote", "add", "origin", str(remote))
    repos.git("push", "-q", "origin", "main")
    return repos


@pytest.fixture
def repos(tmp_path: Path) -> Iterator[Repos]:
    made = make_repos(tmp_path)
    assert hooks.install(made.work) == 0
    yield made


def marker_artreg(tmp_path: Path) -> tuple[str, Path]:
    """An ARTREG command that records each call, then runs the real artreg."""
    marker = tmp_path / "artreg-was-run"
    script = tmp_path / "artreg-marker"
    script.write_text(
        f'#!/bin/sh\necho "$*" >> "{marker}"\nexec "{sys.executable}" -m artreg "$@"\n'
    )
    script.chmod(0o755)
    return str(script), marker


def test_bad_tag_is_refused_at_creation_with_a_suggestion(repos: Repos) -> None:
    proc = repos.git("tag", "v0.8-rc2", check=False)
    assert proc.returncode != 0
    assert "tag 'v0.8-rc2': not semver" in proc.stderr
    assert SUGGESTION in proc.stderr
    assert "ref updates aborted by hook" in proc.stderr
    assert repos.git("tag", "--list").stdout == ""


def test_annotated_and_forced_bad_tags_are_refused_too(repos: Repos) -> None:
    repos.git("tag", "v1.0.0")
    assert repos.git("tag", "-a", "-m", "msg", "release-1", check=False).returncode != 0
    repos.git("commit", "-q", "--allow-empty", "-m", "second")
    # Moving a good tag is checked (and allowed); the bad name never gets created.
    repos.git("tag", "-f", "v1.0.0")
    assert repos.git("tag", "-f", "v1.0", check=False).returncode != 0
    assert repos.git("tag", "--list").stdout.split() == ["v1.0.0"]


def test_good_tag_is_created(repos: Repos) -> None:
    proc = repos.git("tag", "v0.8.0-rc2")
    assert proc.stderr == ""
    assert repos.git("tag", "--list").stdout.split() == ["v0.8.0-rc2"]


def test_escape_hatch_allows_a_bad_tag(repos: Repos) -> None:
    repos.tag_unchecked("legacy-1")
    assert repos.git("tag", "--list").stdout.split() == ["legacy-1"]


def test_tag_convention_comes_from_artreg_toml_even_from_a_subdirectory(repos: Repos) -> None:
    (repos.work / "artreg.toml").write_text('[project]\nname = "x"\n\n[tags]\nprefix = ""\n')
    (repos.work / "sub").mkdir()
    sub = repos.work / "sub"
    git("tag", "1.2.3", cwd=sub)
    proc = git("tag", "v1.2.3", cwd=sub, check=False)
    assert proc.returncode != 0
    assert "tag 'v1.2.3'" in proc.stderr
    assert repos.git("tag", "--list").stdout.split() == ["1.2.3"]


def test_push_tags_refuses_the_bad_third_tag_and_pushes_nothing(repos: Repos) -> None:
    repos.tag_unchecked("v1.0.0", "v1.1.0", "v1.2")
    proc = repos.git("push", "origin", "--tags", check=False)
    assert proc.returncode != 0
    assert "tag 'v1.2': not semver" in proc.stderr
    assert "did you mean 'v1.2.0'?" in proc.stderr
    assert "tag 'v1.0.0'" not in proc.stderr
    assert "tag 'v1.1.0'" not in proc.stderr
    # A failing pre-push hook stops the whole push.
    assert repos.remote_tags() == []


def test_bad_tag_on_a_commit_the_remote_has_is_refused(repos: Repos) -> None:
    repos.tag_unchecked("v0.8-rc2")
    proc = repos.git("push", "origin", "v0.8-rc2", check=False)
    assert proc.returncode != 0
    assert SUGGESTION in proc.stderr
    assert repos.remote_tags() == []


def test_good_tags_reach_the_remote(repos: Repos) -> None:
    repos.git("tag", "v1.0.0")
    repos.git("commit", "-q", "--allow-empty", "-m", "second")
    repos.git("tag", "-a", "-m", "rc", "v1.1.0-rc.1")
    repos.git("push", "-q", "origin", "main", "--tags")
    assert repos.remote_tags() == ["v1.0.0", "v1.1.0-rc.1"]


def test_deleting_a_bad_remote_tag_is_allowed(repos: Repos) -> None:
    repos.tag_unchecked("legacy-1")
    repos.git("push", "-q", "--no-verify", "origin", "legacy-1")
    assert repos.remote_tags() == ["legacy-1"]
    repos.git("push", "-q", "origin", ":refs/tags/legacy-1")
    assert repos.remote_tags() == []


def test_commits_branch_pushes_and_tag_deletion_do_not_start_python(
    repos: Repos, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    command, marker = marker_artreg(tmp_path)
    monkeypatch.setenv("ARTREG", command)
    repos.tag_unchecked("legacy-1")
    repos.git("commit", "-q", "--allow-empty", "-m", "second")
    repos.git("tag", "-d", "legacy-1")
    repos.git("push", "-q", "origin", "main")
    repos.git("checkout", "-q", "-b", "topic")
    repos.git("gc", "-q")
    assert not marker.exists()
    # The control: creating a tag does run artreg, through ARTREG.
    repos.git("tag", "v1.0.0")
    assert marker.read_text() == "lint -- v1.0.0\n"


def test_fetching_and_packing_legacy_bad_tags_is_not_refused(
    repos: Repos, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    git("clone", "-q", str(repos.remote), str(other), cwd=tmp_path)
    git("config", "user.email", "other@example.org", cwd=other)
    git("config", "user.name", "Other", cwd=other)
    git("commit", "-q", "--allow-empty", "-m", "theirs", cwd=other)
    git("tag", "legacy-1", cwd=other)  # no artreg hooks in this clone
    git("push", "-q", "origin", "main", "legacy-1", cwd=other)
    command, marker = marker_artreg(tmp_path)
    monkeypatch.setenv("ARTREG", command)

    repos.git("fetch", "-q", "origin")
    git("commit", "-q", "--allow-empty", "-m", "theirs again", cwd=other)
    git("tag", "legacy-2", cwd=other)
    git("push", "-q", "origin", "main", "legacy-2", cwd=other)
    repos.git("pull", "-q", "--ff-only", "--tags", "origin", "main")
    assert repos.git("tag", "--list").stdout.split() == ["legacy-1", "legacy-2"]
    # pack-refs (run by gc) moves the loose tags: git reports them as creations.
    repos.git("pack-refs", "--all")
    assert not marker.exists()


def write_logging_hook(path: Path, log: Path) -> None:
    path.write_text(f'#!/bin/sh\necho "args: $*" >> "{log}"\ncat >> "{log}"\n')
    path.chmod(0o755)


def test_an_existing_pre_push_hook_keeps_running_with_the_same_input(tmp_path: Path) -> None:
    repos = make_repos(tmp_path)
    log = tmp_path / "legacy.log"
    write_logging_hook(repos.work / ".git" / "hooks" / "pre-push", log)
    hooks.install(repos.work)
    assert (repos.work / ".git" / "hooks" / "pre-push.artreg-chained").exists()

    repos.git("tag", "v1.0.0")
    sha = repos.git("rev-parse", "v1.0.0").stdout.strip()
    repos.git("push", "-q", "origin", "v1.0.0")
    assert log.read_text() == (
        f"args: origin {repos.remote}\nrefs/tags/v1.0.0 {sha} refs/tags/v1.0.0 {'0' * 40}\n"
    )
    assert repos.remote_tags() == ["v1.0.0"]


def test_a_failing_chained_pre_push_hook_still_stops_the_push(tmp_path: Path) -> None:
    repos = make_repos(tmp_path)
    refuse = repos.work / ".git" / "hooks" / "pre-push"
    refuse.write_text("#!/bin/sh\necho 'legacy hook says no' >&2\nexit 1\n")
    refuse.chmod(0o755)
    hooks.install(repos.work)
    repos.git("tag", "v1.0.0")
    proc = repos.git("push", "origin", "v1.0.0", check=False)
    assert proc.returncode != 0
    assert "legacy hook says no" in proc.stderr
    assert repos.remote_tags() == []


def test_an_existing_reference_transaction_hook_sees_every_state(tmp_path: Path) -> None:
    repos = make_repos(tmp_path)
    log = tmp_path / "legacy.log"
    write_logging_hook(repos.work / ".git" / "hooks" / "reference-transaction", log)
    hooks.install(repos.work)

    repos.git("tag", "v1.0.0")
    sha = repos.git("rev-parse", "v1.0.0").stdout.strip()
    line = f"{'0' * 40} {sha} refs/tags/v1.0.0"
    assert log.read_text() == f"args: prepared\n{line}\nargs: committed\n{line}\n"

    log.unlink()
    assert repos.git("tag", "v1.1", check=False).returncode != 0
    states = [row for row in log.read_text().splitlines() if row.startswith("args:")]
    assert states == ["args: prepared", "args: aborted"]


def test_install_honours_core_hooks_path(tmp_path: Path) -> None:
    repos = make_repos(tmp_path)
    repos.git("config", "core.hooksPath", "githooks")
    hooks.install(repos.work)
    assert sorted(p.name for p in (repos.work / "githooks").iterdir()) == [
        "pre-push",
        "reference-transaction",
    ]
    assert not (repos.work / ".git" / "hooks" / "pre-push").exists()
    proc = repos.git("tag", "v0.8-rc2", check=False)
    assert SUGGESTION in proc.stderr


def test_install_twice_does_not_chain_to_itself(tmp_path: Path) -> None:
    repos = make_repos(tmp_path)
    log = tmp_path / "legacy.log"
    hooks_dir = repos.work / ".git" / "hooks"
    write_logging_hook(hooks_dir / "pre-push", log)
    original = (hooks_dir / "pre-push").read_text()
    hooks.install(repos.work)
    first = {p.name: p.read_text() for p in hooks_dir.iterdir()}
    hooks.install(repos.work)
    assert {p.name: p.read_text() for p in hooks_dir.iterdir()} == first
    assert (hooks_dir / "pre-push.artreg-chained").read_text() == original
    assert not (hooks_dir / "reference-transaction.artreg-chained").exists()

    repos.git("tag", "v1.0.0")
    repos.git("push", "-q", "origin", "v1.0.0")
    assert log.read_text().count("args: ") == 1


def test_installed_hooks_run_the_installing_python_unless_artreg_is_set(
    repos: Repos, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    text = (repos.work / ".git" / "hooks" / "pre-push").read_text()
    assert f"ARTREG_PYTHON={sys.executable}\n" in text
    monkeypatch.setenv("ARTREG", "false")  # a command that refuses everything
    assert repos.git("tag", "v1.0.0", check=False).returncode != 0
    # Without ARTREG, and without artreg on PATH, the baked interpreter runs artreg.
    monkeypatch.delenv("ARTREG")
    git_exe = shutil.which("git")
    assert git_exe is not None
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    proc = repos.git("tag", "v1.0.0", check=False)
    assert proc.returncode == 0, proc.stderr
    proc = repos.git("tag", "v1.1", check=False)
    assert SUGGESTION.replace("v0.8.0-rc2", "v1.1.0") in proc.stderr
