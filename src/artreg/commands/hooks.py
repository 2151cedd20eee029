"""``artreg hooks``: install the git hooks, and the check behind pre-commit's pre-push stage.

``install`` writes ``pre-push`` and ``reference-transaction`` (shipped in
``artreg/hooks/``) into the repository's hooks directory, honouring
``core.hooksPath``. A hook of the same name that is not artreg's is renamed
``<name>.artreg-chained`` and called by ours, so it keeps working.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from artreg.errors import ArtregError, UsageError

HOOK_NAMES = ("pre-push", "reference-transaction")
CHAINED_SUFFIX = ".artreg-chained"
# The line that tells an artreg hook from any other; present in every shipped hook.
MARKER = "# artreg-managed-hook:"
_PYTHON_LINE = "ARTREG_PYTHON=''"
_TAGS_PREFIX = "refs/tags/"


def run(args: argparse.Namespace) -> int:
    if args.hooks_command == "install":
        return install(Path(args.repo))
    if args.hooks_command == "pre-commit-push":
        return pre_commit_push(args.config, os.environ)
    raise UsageError(f"artreg hooks: unknown action {args.hooks_command!r}")


def hooks_dir(repo: Path) -> Path:
    """The directory git runs hooks from (``core.hooksPath`` honoured), absolute."""
    if not repo.is_dir():
        raise ArtregError(f"{repo}: not a directory; pass the repository with --repo DIR")
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--path-format=absolute", "--git-path", "hooks"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError as exc:
        raise ArtregError(
            f"{repo}: cannot run git ({exc.strerror}); install git or put it on PATH"
        ) from exc
    if result.returncode != 0:
        detail = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""
        raise ArtregError(
            f"{repo}: not a git repository ({detail}); "
            "run `artreg hooks install` inside one or pass --repo DIR"
        )
    return Path(result.stdout.strip())


def render_hook(name: str, python: str) -> str:
    """The shipped hook ``name`` with the interpreter that runs artreg baked in."""
    template = (
        resources.files("artreg").joinpath("hooks").joinpath(name).read_text(encoding="utf-8")
    )
    if _PYTHON_LINE not in template:
        raise AssertionError(f"hooks/{name}: no {_PYTHON_LINE} line to fill in")
    return template.replace(_PYTHON_LINE, f"ARTREG_PYTHON={shlex.quote(python)}", 1)


def is_artreg_hook(path: Path) -> bool:
    """True when ``path`` is a hook artreg wrote (it carries the marker line)."""
    try:
        with path.open("rb") as hook:
            head = hook.read(4096)
    except OSError:
        return False
    return MARKER.encode() in head


def install(repo: Path, python: str = sys.executable) -> int:
    """Install both hooks in ``repo``; chain to foreign hooks; safe to run again."""
    directory = hooks_dir(repo)
    shipped = Path(str(resources.files("artreg").joinpath("hooks")))
    if directory.exists() and directory.resolve() == shipped.resolve():
        raise ArtregError(
            f"{directory}: core.hooksPath points at artreg's own hooks; "
            "they already run from there (nothing to install)"
        )
    # Check every hook before touching any, so a refusal leaves nothing half-done.
    for name in HOOK_NAMES:
        target = directory / name
        chained = directory / (name + CHAINED_SUFFIX)
        if _exists(target) and not is_artreg_hook(target) and _exists(chained):
            raise ArtregError(
                f"{target}: a hook that is not artreg's is here, and {chained.name} "
                "(the hook artreg already chains to) exists too; merge them into "
                f"{chained.name}, delete {name}, and run `artreg hooks install` again"
            )
    directory.mkdir(parents=True, exist_ok=True)
    for name in HOOK_NAMES:
        target = directory / name
        chained = directory / (name + CHAINED_SUFFIX)
        note = ""
        if _exists(target) and not is_artreg_hook(target):
            os.replace(target, chained)
            note = f" (the hook that was there now runs after it as {chained.name})"
        elif _exists(chained):
            note = f" (chained: {chained.name})"
        _write_executable(target, render_hook(name, python))
        print(f"installed {target}{note}")
    return 0


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _write_executable(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.artreg-tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.chmod(0o755)
    os.replace(temporary, path)


def pushed_tag(environ: Mapping[str, str]) -> str | None:
    """The tag pre-commit's pre-push stage is pushing, or None (a branch, or not pre-push)."""
    remote_ref = environ.get("PRE_COMMIT_REMOTE_BRANCH", "")
    if remote_ref.startswith(_TAGS_PREFIX):
        return remote_ref[len(_TAGS_PREFIX) :]
    return None


def pre_commit_push(config: str | None, environ: Mapping[str, str]) -> int:
    """Lint the tag pre-commit is pushing; 0 when it pushes no tag.

    pre-commit runs its pre-push stage once, with the first pushed ref only (and
    not at all when the remote has the commit): ``artreg hooks install`` covers
    every ref (see `artreg docs hooks`).
    """
    tag = pushed_tag(environ)
    if tag is None:
        return 0
    from artreg.commands import lint

    return lint.run(argparse.Namespace(config=config, tags=[tag]))
