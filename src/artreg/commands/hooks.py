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

from artreg.commands import load_optional
from artreg.core.tags import Convention, classify
from artreg.errors import ArtregError, UsageError
from artreg.render.terminal import counted

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
    """Check every tag a push may send, for pre-commit's pre-push stage.

    pre-commit runs that stage once, with the first pushed ref only (and not at
    all when the remote has every pushed commit), so the refs of this push are
    unknown here. What is known: the remote. Any tag this push sends is a local
    tag the remote lacks (or holds with another value), so all of those are
    checked; a bad one fails the hook even if this push may not send it, with
    the way out: delete it, or use the plain git hook (``artreg hooks
    install``), which sees every pushed ref.
    """
    from artreg.commands import lint

    first = pushed_tag(environ)
    remote = environ.get("PRE_COMMIT_REMOTE_NAME", "")
    if not remote:  # not run by pre-commit's pre-push stage: check what it names, if anything
        return 0 if first is None else lint.run(argparse.Namespace(config=config, tags=[first]))
    try:
        loaded = load_optional(config)
    except ArtregError:
        return lint.run(argparse.Namespace(config=config, tags=[]))  # lists the config problems
    convention = loaded.convention() if loaded is not None else Convention()
    if first is not None and not classify(first, convention).valid:
        return lint.run(argparse.Namespace(config=config, tags=[first]))  # no need to ask
    candidates = sorted({*unpushed_tags(remote), *([first] if first else [])})
    bad = [r for r in (classify(tag, convention) for tag in candidates) if not r.valid]
    if not bad:
        return 0
    for result in bad:
        print(result.describe(), file=sys.stderr)
    names = " ".join(r.tag for r in bad)
    print(
        f"artreg: {counted(len(bad), 'local tag')} that {remote!r} lacks "
        f"{'breaks' if len(bad) == 1 else 'break'} the convention, and pre-commit shows this "
        "hook only the first ref of a push, so any of them may be in it: push refused.\n"
        f"artreg: fix: delete {'it' if len(bad) == 1 else 'them'} (git tag -d {names}), "
        "or use the plain git hook, which sees every pushed ref: `artreg hooks install` "
        "(see `artreg docs hooks`)",
        file=sys.stderr,
    )
    return 1


def unpushed_tags(remote: str) -> list[str]:
    """Local tags that ``remote`` lacks or holds with another value: what a push can send."""
    local = _git_lines(
        ["git", "for-each-ref", "--format=%(objectname) %(refname)", "refs/tags/"], "list tags"
    )
    listed = _git_lines(["git", "ls-remote", "--tags", "--refs", remote], f"list {remote}'s tags")
    theirs = {}
    for line in listed:
        value, _, ref = line.partition("\t")
        theirs[ref] = value
    found = []
    for line in local:
        value, _, ref = line.partition(" ")
        if theirs.get(ref) != value and ref.startswith(_TAGS_PREFIX):
            found.append(ref[len(_TAGS_PREFIX) :])
    return found


def _git_lines(command: list[str], what: str) -> list[str]:
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise ArtregError(f"cannot run git to {what} ({exc.strerror}); put git on PATH") from exc
    if result.returncode != 0:
        detail = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""
        raise ArtregError(
            f"cannot {what} ({detail}), so the tags this push sends are unknown; push refused. "
            "The plain git hook sees every pushed ref without asking the remote: "
            "`artreg hooks install` (see `artreg docs hooks`)"
        )
    return result.stdout.splitlines()
