from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from artreg.errors import ArtregError
from artreg.source import BuildRef, detect_build_ref

SHA_CI = "c" * 40
SHA_GH = "d" * 40


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep the user's and the system's git config, and any enclosing repo, out of the tests."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(name, raising=False)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def make_repo(path: Path, commits: int = 1) -> Path:
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Test")
    git(path, "config", "user.email", "test@example.invalid")
    git(path, "config", "commit.gpgsign", "false")
    git(path, "config", "tag.gpgsign", "false")
    for number in range(commits):
        git(path, "commit", "-q", "--allow-empty", "-m", f"commit {number}")
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


@pytest.fixture
def tagged_repo(repo: Path) -> Path:
    git(repo, "tag", "v1.0.0")
    return repo


@pytest.mark.parametrize(
    ("explicit", "env", "tag", "origin"),
    [
        pytest.param(
            "v9.9.9",
            {"CI_COMMIT_TAG": "v2.0.0", "GITHUB_REF_TYPE": "tag", "GITHUB_REF_NAME": "v3.0.0"},
            "v9.9.9",
            "--tag",
            id="--tag beats CI variables and git",
        ),
        pytest.param(
            None,
            {"CI_COMMIT_TAG": "v2.0.0", "GITHUB_REF_TYPE": "tag", "GITHUB_REF_NAME": "v3.0.0"},
            "v2.0.0",
            "CI_COMMIT_TAG",
            id="GitLab tag beats GitHub tag",
        ),
        pytest.param(
            None,
            {"GITHUB_REF_TYPE": "tag", "GITHUB_REF_NAME": "v3.0.0", "CI_COMMIT_SHA": SHA_CI},
            "v3.0.0",
            "GITHUB_REF_NAME",
            id="GitHub tag by GITHUB_REF_TYPE beats CI commits",
        ),
        pytest.param(
            None,
            {"GITHUB_REF": "refs/tags/v3.0.0", "GITHUB_REF_NAME": "v3.0.0"},
            "v3.0.0",
            "GITHUB_REF_NAME",
            id="GitHub tag by GITHUB_REF",
        ),
        pytest.param(
            None,
            {"GITHUB_REF": "refs/tags/v3.0.1"},
            "v3.0.1",
            "GITHUB_REF",
            id="GitHub tag ref without GITHUB_REF_NAME",
        ),
        pytest.param(
            None,
            {"CI_COMMIT_SHA": SHA_CI, "GITHUB_SHA": SHA_GH},
            SHA_CI,
            "CI_COMMIT_SHA",
            id="GitLab commit beats GitHub commit and git describe",
        ),
        pytest.param(
            None,
            {
                "GITHUB_REF_TYPE": "branch",
                "GITHUB_REF": "refs/heads/main",
                "GITHUB_REF_NAME": "main",
                "GITHUB_SHA": SHA_GH,
            },
            SHA_GH,
            "GITHUB_SHA",
            id="GitHub branch ref ignored, its commit is a dev build",
        ),
        pytest.param(
            None,
            {"GITHUB_REF": "refs/pull/7/merge", "GITHUB_REF_NAME": "7/merge", "GITHUB_SHA": SHA_GH},
            SHA_GH,
            "GITHUB_SHA",
            id="GitHub pull request ref ignored",
        ),
        pytest.param(
            None,
            {"CI_COMMIT_TAG": "", "GITHUB_REF_NAME": "main"},
            "v1.0.0",
            "git describe",
            id="empty and non-tag variables fall through to git",
        ),
    ],
)
def test_precedence(
    tagged_repo: Path, explicit: str | None, env: dict[str, str], tag: str, origin: str
) -> None:
    ref = detect_build_ref(explicit, env, tagged_repo)
    assert (ref.tag, ref.origin) == (tag, origin)


def test_commit_comes_from_ci_when_set(tagged_repo: Path) -> None:
    ref = detect_build_ref("v9.9.9", {"GITHUB_SHA": SHA_GH}, tagged_repo)
    assert ref == BuildRef(tag="v9.9.9", commit=SHA_GH, origin="--tag")


def test_commit_comes_from_git_otherwise(tagged_repo: Path) -> None:
    ref = detect_build_ref(None, {"CI_COMMIT_TAG": "v2.0.0"}, tagged_repo)
    assert ref.commit == git(tagged_repo, "rev-parse", "HEAD")


def test_tagged_head(tagged_repo: Path) -> None:
    head = git(tagged_repo, "rev-parse", "HEAD")
    assert detect_build_ref(None, {}, tagged_repo) == BuildRef("v1.0.0", head, "git describe")


def test_annotated_tag_on_head(repo: Path) -> None:
    git(repo, "tag", "-a", "-m", "release", "v1.2.0")
    ref = detect_build_ref(None, {}, repo)
    assert (ref.tag, ref.commit) == ("v1.2.0", git(repo, "rev-parse", "HEAD"))


def test_tag_on_an_older_commit_is_not_used(repo: Path) -> None:
    git(repo, "tag", "v1.0.0")
    git(repo, "commit", "-q", "--allow-empty", "-m", "after the tag")
    head = git(repo, "rev-parse", "HEAD")
    assert detect_build_ref(None, {}, repo) == BuildRef(head, head, "commit id")


def test_untagged_head_is_a_dev_build(repo: Path) -> None:
    ref = detect_build_ref(None, {}, repo)
    assert re.fullmatch(r"[0-9a-f]{40}", ref.tag)
    assert ref == BuildRef(git(repo, "rev-parse", "HEAD"), ref.tag, "commit id")


def test_subdirectory_of_a_repo(tagged_repo: Path) -> None:
    sub = tagged_repo / "deploy"
    sub.mkdir()
    assert detect_build_ref(None, {}, sub).tag == "v1.0.0"


def test_several_tags_on_head_are_refused(repo: Path) -> None:
    git(repo, "tag", "v1.0.0-rc.2")
    git(repo, "tag", "v1.0.0")
    with pytest.raises(ArtregError) as info:
        detect_build_ref(None, {}, repo)
    assert str(info.value) == (
        f"{repo}: HEAD has 2 tags (v1.0.0, v1.0.0-rc.2); "
        "say which one this build is with `artreg apply --tag TAG`"
    )


def test_several_tags_are_fine_with_an_explicit_tag(repo: Path) -> None:
    git(repo, "tag", "v1.0.0-rc.2")
    git(repo, "tag", "v1.0.0")
    assert detect_build_ref("v1.0.0", {}, repo).tag == "v1.0.0"


def test_git_environment_of_a_hook_is_ignored(
    tmp_path: Path, tagged_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Inside a git hook GIT_DIR points at the repository running the hook.
    other = make_repo(tmp_path / "other")
    git(other, "tag", "v7.7.7")
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(other))
    assert detect_build_ref(None, {}, tagged_repo).tag == "v1.0.0"


def test_not_a_repository(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(ArtregError) as info:
        detect_build_ref(None, {}, plain)
    assert str(info.value) == (
        f"{plain}: cannot tell which build this is: "
        "not a git repository (or any of the parent directories): .git; "
        "pass the tag explicitly (`artreg apply --tag v1.2.3`), "
        "or run from a git checkout or a CI job that sets CI_COMMIT_TAG or GITHUB_REF_NAME"
    )


def test_repository_without_commits(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    with pytest.raises(
        ArtregError, match=r"cannot tell which build this is: the repository has no"
    ):
        detect_build_ref(None, {}, empty)


def test_not_a_repository_with_a_tag(tmp_path: Path) -> None:
    assert detect_build_ref("v1.0.0", {}, tmp_path) == BuildRef("v1.0.0", None, "--tag")


def test_not_a_repository_in_ci(tmp_path: Path) -> None:
    ref = detect_build_ref(None, {"CI_COMMIT_TAG": "v2.0.0", "CI_COMMIT_SHA": SHA_CI}, tmp_path)
    assert ref == BuildRef("v2.0.0", SHA_CI, "CI_COMMIT_TAG")


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ArtregError, match=r"nowhere: cannot tell which build this is: no such dir"):
        detect_build_ref(None, {}, tmp_path / "nowhere")


def test_describe() -> None:
    assert BuildRef("v1.0.0", None, "CI_COMMIT_TAG").describe() == "v1.0.0 (from CI_COMMIT_TAG)"
