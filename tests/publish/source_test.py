from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from artreg.core import ci
from artreg.errors import ArtregError
from artreg.publish.source import BuildRef, detect_build_ref

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
            {"GITLAB_CI": "true", "CI_COMMIT_TAG": "v2.0.0", "CI_COMMIT_SHA": SHA_CI},
            "v2.0.0",
            "CI_COMMIT_TAG",
            id="GitLab tag beats git describe",
        ),
        pytest.param(
            None,
            {"GITHUB_REF_TYPE": "tag", "GITHUB_REF_NAME": "v3.0.0", "GITHUB_SHA": SHA_GH},
            "v3.0.0",
            "GITHUB_REF_NAME",
            id="GitHub tag by GITHUB_REF_TYPE",
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
            {"CI_COMMIT_SHA": SHA_CI},
            SHA_CI,
            "CI_COMMIT_SHA",
            id="a CI commit alone is a dev build, not git describe",
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
        "or run from a git checkout or a CI tag pipeline (see docs/ci-variables.md)"
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


# -- the CLI in a real checkout whose HEAD is tagged v1.0.0 ---------------------------

PROJECT_TOML = """[project]
name = "demo"

[[artifacts]]
name = "app"
files = [{ platform = "linux/amd64", path = "out/app" }]

[targets.test]
type = "dir"
path = "public"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = make_repo(tmp_path / "project", commits=0)
    (root / "artreg.toml").write_text(PROJECT_TOML)
    (root / ".gitignore").write_text("public/\nout/\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "project")
    git(root, "tag", "v1.0.0")
    (root / "out").mkdir()
    (root / "out" / "app").write_bytes(b"build 1\n")
    return root


def artreg(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The real CLI in ``project`` with only ``env`` as CI variables."""
    clean = {k: v for k, v in os.environ.items() if k not in ci.VARIABLES}
    return subprocess.run(
        [sys.executable, "-m", "artreg", *args, "--config", str(project / "artreg.toml")],
        cwd=project,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


HEAD_SHA = "HEAD"  # replaced by the project's HEAD commit in the tests below
CLI_CASES: dict[str, tuple[dict[str, str], str | None, str]] = {
    # env, expected tag (None: a dev build of HEAD), variable the stderr line names
    "GitHub branch": (
        {"GITHUB_ACTIONS": "true", "GITHUB_REF": "refs/heads/main", "GITHUB_SHA": HEAD_SHA},
        None,
        "GitHub Actions: GITHUB_REF=refs/heads/main",
    ),
    "only GITHUB_REF_TYPE=branch": ({"GITHUB_REF_TYPE": "branch"}, None, "GITHUB_REF_TYPE"),
    "GitHub tag": (
        {"GITHUB_ACTIONS": "true", "GITHUB_REF": "refs/tags/v1.0.0", "GITHUB_REF_TYPE": "tag"},
        "v1.0.0",
        "",
    ),
    "Forgejo branch": (
        {"FORGEJO_ACTIONS": "true", "GITHUB_REF_TYPE": "branch", "GITHUB_SHA": HEAD_SHA},
        None,
        "Forgejo Actions: GITHUB_REF_TYPE=branch",
    ),
    "GitLab branch": (
        {"GITLAB_CI": "true", "CI": "true", "CI_COMMIT_BRANCH": "main"},
        None,
        "GitLab CI: CI_COMMIT_BRANCH=main",
    ),
    "GitLab tag": ({"GITLAB_CI": "true", "CI": "true", "CI_COMMIT_TAG": "v1.0.0"}, "v1.0.0", ""),
    "Woodpecker push": (
        {"CI": "woodpecker", "CI_PIPELINE_EVENT": "push", "CI_COMMIT_SHA": HEAD_SHA},
        None,
        "Woodpecker: CI_PIPELINE_EVENT=push",
    ),
    "Woodpecker tag": (
        {"CI": "woodpecker", "CI_PIPELINE_EVENT": "tag", "CI_COMMIT_TAG": "v1.0.0"},
        "v1.0.0",
        "",
    ),
    "Drone branch": (
        {"DRONE_BRANCH": "main", "DRONE_COMMIT_SHA": HEAD_SHA},
        None,
        "Drone: DRONE_BRANCH=main",
    ),
    "Drone tag": ({"DRONE": "true", "DRONE_TAG": "v1.0.0"}, "v1.0.0", ""),
    "Jenkins branch": (
        {"JENKINS_URL": "http://jenkins/", "BRANCH_NAME": "main"},
        None,
        "Jenkins: BRANCH_NAME=main",
    ),
    "Jenkins tag": (
        {"JENKINS_URL": "http://jenkins/", "TAG_NAME": "v1.0.0", "BRANCH_NAME": "v1.0.0"},
        "v1.0.0",
        "",
    ),
    "Buildkite branch": (
        {"BUILDKITE": "true", "BUILDKITE_TAG": "", "BUILDKITE_BRANCH": "main"},
        None,
        "Buildkite: BUILDKITE_BRANCH=main",
    ),
    "Buildkite tag": ({"BUILDKITE": "true", "BUILDKITE_TAG": "v1.0.0"}, "v1.0.0", ""),
    "CI=true alone": ({"CI": "true"}, None, "pass `--tag v1.0.0`"),
    "no CI": ({}, "v1.0.0", ""),
}


@pytest.mark.parametrize(("env", "tag", "said"), CLI_CASES.values(), ids=CLI_CASES.keys())
def test_plan_json_in_each_ci(
    project: Path, env: dict[str, str], tag: str | None, said: str
) -> None:
    head = git(project, "rev-parse", "HEAD")
    env = {k: head if v == HEAD_SHA else v for k, v in env.items()}
    result = artreg(project, env, "plan", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    expected = tag if tag is not None else head
    assert (report["tag"], report["category"]) == (
        expected,
        "release" if tag is not None else "dev",
    )
    notes = [line for line in result.stderr.splitlines() if line.startswith("artreg: ")]
    if said:
        assert len(notes) == 1 and said in notes[0], result.stderr
        assert "dev build" in notes[0]
    else:
        assert notes == [], result.stderr


def test_branch_pipeline_on_a_tagged_commit_leaves_the_release_to_the_tag_pipeline(
    project: Path,
) -> None:
    head = git(project, "rev-parse", "HEAD")
    branch = {"DRONE": "true", "DRONE_BRANCH": "main", "DRONE_COMMIT_SHA": head}
    result = artreg(project, branch, "apply", "--json")
    assert result.returncode == 0, result.stderr
    assert (json.loads(result.stdout)["tag"], json.loads(result.stdout)["category"]) == (
        head,
        "dev",
    )
    assert not (project / "public" / "v1.0.0").exists()
    # The tag pipeline rebuilds (other bytes: builds are not always reproducible) and
    # publishes the release: nothing was published under v1.0.0 before it.
    (project / "out" / "app").write_bytes(b"build 2\n")
    tag_run = {"DRONE": "true", "DRONE_BUILD_EVENT": "tag", "DRONE_TAG": "v1.0.0"}
    result = artreg(project, {**tag_run, "DRONE_COMMIT_SHA": head}, "apply", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["tag"], report["category"], report["build"]) == (
        "v1.0.0",
        "release",
        "published",
    )
    assert (project / "public" / "v1.0.0" / "linux" / "amd64" / "app").read_bytes() == b"build 2\n"
    manifest = json.loads((project / "public" / "_artreg" / "builds" / "v1.0.0.json").read_text())
    assert manifest["commit"] == head


def test_apply_tag_of_another_commit_is_refused(project: Path) -> None:
    head = git(project, "rev-parse", "HEAD")
    git(project, "commit", "-q", "--allow-empty", "-m", "next")
    other = git(project, "rev-parse", "HEAD")
    git(project, "checkout", "-q", head)
    result = artreg(project, {}, "apply", "--tag", other)
    assert result.returncode == 1
    assert f"--tag {other}: a commit id, but this build is of commit {head} (HEAD)" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert not (project / "public").exists()
    # The commit that was built is fine, and recorded as such.
    result = artreg(project, {}, "apply", "--tag", head, "--json")
    assert result.returncode == 0, result.stderr
