"""The project's own files, which a dir target must never contain.

A dir target is a directory artreg writes into and garbage-collects: one at
(or above) the directory holding ``artreg.toml`` or the git work tree would
put the sources, ``.git`` and the configuration within reach of ``gc``.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def git_work_tree(start: Path) -> Path | None:
    """The nearest directory at or above ``start`` holding a ``.git`` (dir or file), or None."""
    for directory in (start, *start.parents):
        if os.path.lexists(directory / ".git"):
            return directory
    return None


def dir_target_problem(config_dir: Path, path: str) -> str | None:
    """Why a dir target at ``path`` (relative to ``config_dir``) must not be used, or None.

    Links are resolved: a target that reaches the project through one is refused too.
    """
    target = Path(os.path.realpath(config_dir / path))
    project = Path(os.path.realpath(config_dir))
    protected = [("the directory holding this configuration file", project)]
    starts = [project]
    with contextlib.suppress(OSError):  # a working directory removed meanwhile
        starts.append(Path(os.path.realpath(Path.cwd())))
    for start in starts:
        tree = git_work_tree(start)
        if tree is not None:
            protected.append(("the git work tree", tree))
    resolved = f"{path!r}" if str(target) == path else f"{path!r} is {target}, which"
    fix = 'give the target a directory of its own, e.g. path = "public"'
    if ".git" in target.parts:
        return f"{resolved} is inside a .git directory; {fix}"
    for what, directory in sorted(protected, key=lambda item: len(item[1].parts)):
        if target == directory or target in directory.parents:
            return (
                f"{resolved} contains {what} ({directory}): gc there could delete "
                f"the sources, .git and artreg.toml; {fix}"
            )
    return None
