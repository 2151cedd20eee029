"""Which build is being published: its tag (and where it came from) and its commit.

Precedence: ``--tag``; the CI's tag variables (GitLab ``CI_COMMIT_TAG``, GitHub
``GITHUB_REF_NAME`` on a tag ref); the CI's commit (a dev build); a tag on HEAD
(``git describe``); HEAD's commit id (a dev build). The tag is returned as found:
the caller judges it against the convention.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from artreg.errors import ArtregError

GIT_TIMEOUT_SECONDS = 30

# Variables that point git at another repository, index or object store
# (`git rev-parse --local-env-vars`). Git hooks export some of them (GIT_DIR,
# GIT_INDEX_FILE); left in place they would make git read that repository
# instead of repo_dir.
_REPOSITORY_ENV_VARS = frozenset(
    {
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_COMMON_DIR",
        "GIT_CONFIG",
        "GIT_CONFIG_COUNT",
        "GIT_CONFIG_PARAMETERS",
        "GIT_DIR",
        "GIT_GRAFT_FILE",
        "GIT_IMPLICIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_INTERNAL_SUPER_PREFIX",
        "GIT_NAMESPACE",
        "GIT_NO_REPLACE_OBJECTS",
        "GIT_OBJECT_DIRECTORY",
        "GIT_PREFIX",
        "GIT_REPLACE_REF_BASE",
        "GIT_SHALLOW_FILE",
        "GIT_WORK_TREE",
    }
)

_HOW_TO_PASS_A_TAG = (
    "pass the tag explicitly (`artreg apply --tag v1.2.3`), "
    "or run from a git checkout or a CI job that sets CI_COMMIT_TAG or GITHUB_REF_NAME"
)


@dataclass(frozen=True)
class BuildRef:
    """The tag to publish under, the commit it was built from, and where the tag came from."""

    tag: str
    commit: str | None
    origin: str  # "--tag", "CI_COMMIT_TAG", "GITHUB_REF_NAME", "git describe", "commit id", ...

    def describe(self) -> str:
        """``v1.2.3 (from CI_COMMIT_TAG)``, for messages."""
        return f"{self.tag} (from {self.origin})"


def detect_build_ref(explicit_tag: str | None, env: Mapping[str, str], repo_dir: Path) -> BuildRef:
    """Find the tag and commit of the build in ``repo_dir``; ``env`` holds the CI variables."""
    env_commit = _env_commit(env)
    found = _explicit_or_ci_tag(explicit_tag, env)
    if found is None and env_commit is not None:
        found = env_commit
    if found is not None:
        tag, origin = found
        commit = env_commit[0] if env_commit is not None else _git_head(repo_dir)
        return BuildRef(tag=tag, commit=commit, origin=origin)

    head = _git(repo_dir, "rev-parse", "--verify", "HEAD^{commit}")
    if head.returncode != 0:
        in_repo = _git(repo_dir, "rev-parse", "--git-dir").returncode == 0
        why = "the repository has no commits yet" if in_repo else _git_failure(head)
        raise ArtregError(
            f"{repo_dir}: cannot tell which build this is: {why}; {_HOW_TO_PASS_A_TAG}"
        )
    head_commit = head.stdout.strip()
    head_tag = _tag_at_head(repo_dir)
    if head_tag is not None:
        return BuildRef(tag=head_tag, commit=head_commit, origin="git describe")
    return BuildRef(tag=head_commit, commit=head_commit, origin="commit id")


def _explicit_or_ci_tag(explicit_tag: str | None, env: Mapping[str, str]) -> tuple[str, str] | None:
    if explicit_tag is not None:
        return explicit_tag, "--tag"
    if env.get("CI_COMMIT_TAG"):
        return env["CI_COMMIT_TAG"], "CI_COMMIT_TAG"
    github_ref = env.get("GITHUB_REF", "")
    if env.get("GITHUB_REF_TYPE") == "tag" or github_ref.startswith("refs/tags/"):
        if env.get("GITHUB_REF_NAME"):
            return env["GITHUB_REF_NAME"], "GITHUB_REF_NAME"
        if github_ref.startswith("refs/tags/"):
            return github_ref.removeprefix("refs/tags/"), "GITHUB_REF"
    return None


def _env_commit(env: Mapping[str, str]) -> tuple[str, str] | None:
    for name in ("CI_COMMIT_SHA", "GITHUB_SHA"):
        if env.get(name):
            return env[name], name
    return None


def _git_head(repo_dir: Path) -> str | None:
    """HEAD's commit id, or None when repo_dir is not a git checkout (or git is missing)."""
    head = _git(repo_dir, "rev-parse", "--verify", "HEAD^{commit}")
    return head.stdout.strip() if head.returncode == 0 else None


def _tag_at_head(repo_dir: Path) -> str | None:
    """The tag on HEAD, or None when HEAD is untagged.

    ``git describe`` silently picks one tag when several point at HEAD (say
    ``v1.0.0-rc.2`` promoted to ``v1.0.0``): publishing under the wrong one is
    worse than asking, so several tags are an error.
    """
    described = _git(repo_dir, "describe", "--tags", "--exact-match", "HEAD")
    if described.returncode != 0:
        return None
    listed = _git(repo_dir, "tag", "--points-at", "HEAD")
    tags = sorted(listed.stdout.split()) if listed.returncode == 0 else []
    if len(tags) > 1:
        raise ArtregError(
            f"{repo_dir}: HEAD has {len(tags)} tags ({', '.join(tags)}); "
            "say which one this build is with `artreg apply --tag TAG`"
        )
    return described.stdout.strip()


def _git(repo_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run git in repo_dir; a missing git or a timeout reads as a failed command."""
    env = {k: v for k, v in os.environ.items() if k not in _REPOSITORY_ENV_VARS}
    env["LC_ALL"] = "C"  # stable stderr for messages
    env["GIT_TERMINAL_PROMPT"] = "0"
    command = ["git", *args]
    try:
        return subprocess.run(
            command,
            cwd=repo_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except FileNotFoundError as exc:
        # git missing, or repo_dir missing: tell which.
        what = "git is not installed" if repo_dir.is_dir() else "no such directory"
        return subprocess.CompletedProcess(command, 127, "", f"{what} ({exc.strerror})")
    except NotADirectoryError as exc:
        return subprocess.CompletedProcess(command, 127, "", f"not a directory ({exc.strerror})")
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(
            command, 124, "", f"`{' '.join(command)}` took more than {GIT_TIMEOUT_SECONDS}s"
        )


def _git_failure(result: subprocess.CompletedProcess[str]) -> str:
    """git's own explanation, first line, without its ``fatal:`` prefix."""
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
    if not lines:
        return f"`{' '.join(result.args)}` exited with status {result.returncode}"
    why = lines[0].removeprefix("fatal: ").rstrip(".")
    # "dubious ownership": git's own fix is on a later line; keep it.
    fix = next((line for line in lines[1:] if "safe.directory" in line), None)
    return why if fix is None else f"{why} (fix: {fix})"
