"""Which build is being published: its tag (and where it came from) and its commit.

The decision is :func:`artreg.core.ci.decide_build_ref` (pure: ``--tag``, the
CI's variables, git's facts); this module asks git for the facts.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from artreg.core.ci import BuildRef, GitFacts, decide_build_ref

__all__ = ["BuildRef", "GitFacts", "detect_build_ref", "git_facts"]

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


def detect_build_ref(explicit_tag: str | None, env: Mapping[str, str], repo_dir: Path) -> BuildRef:
    """Find the tag and commit of the build in ``repo_dir``; ``env`` holds the CI variables."""
    return decide_build_ref(explicit_tag, env, git_facts(repo_dir))


def git_facts(repo_dir: Path) -> GitFacts:
    """HEAD's commit and the tags pointing at it (annotated or not), or why there is none."""
    head = _git(repo_dir, "rev-parse", "--verify", "HEAD^{commit}")
    if head.returncode != 0:
        in_repo = _git(repo_dir, "rev-parse", "--git-dir").returncode == 0
        why = "the repository has no commits yet" if in_repo else _git_failure(head)
        return GitFacts(None, problem=why, where=str(repo_dir))
    listed = _git(repo_dir, "tag", "--points-at", "HEAD")
    tags = tuple(sorted(listed.stdout.split())) if listed.returncode == 0 else ()
    return GitFacts(head.stdout.strip(), tags, where=str(repo_dir))


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
