"""Yank and remove: withdrawing a build, pure decisions (the commands are edges).

A yanked build keeps its files (as on PyPI: pinned downloads keep working);
pages strike it out with the reason, and it leaves ``latest/`` and the feed.
Removing deletes a build now: extra and dev builds on request, a release
only with an explicit flag, and the exact keys are listed before anything
goes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from artreg.core.keys import site_keys
from artreg.core.manifest import Build, format_time, manifest_key
from artreg.core.tags import Category
from artreg.errors import ArtregError

MAX_REASON = 300


class RefusedRemoval(ArtregError):
    """``artreg rm`` of a release without ``--release``, or a bad reason."""


def check_reason(text: str) -> str:
    """A yank reason: one line of printable text, at most ``MAX_REASON`` characters."""
    reason = " ".join(text.split())
    if not reason:
        raise RefusedRemoval("--reason: say why the build is yanked (shown on its pages)")
    if len(reason) > MAX_REASON or not reason.isprintable():
        raise RefusedRemoval(
            f"--reason: expected one line of printable text, at most {MAX_REASON} characters"
        )
    return reason


@dataclass(frozen=True)
class Yank:
    """What a manifest records of a yank: ``"yanked": {"reason": ..., "at": ...}``."""

    reason: str
    at: str  # format_time of the yank

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "at": self.at}


def yank_record(reason: str, now: dt.datetime) -> Yank:
    return Yank(reason=check_reason(reason), at=format_time(now))


@dataclass(frozen=True)
class Removal:
    """Deletes in order: the manifest first (the build is gone for every reader once the
    index no longer lists it), then its files and site objects. Image tags are left to
    the registry's retention."""

    tag: str
    keys: tuple[str, ...]

    def describe(self) -> list[str]:
        return [f"delete {key}" for key in self.keys]


def plan_removal(build: Build, *, allow_release: bool) -> Removal:
    """What ``artreg rm TAG`` deletes, or :class:`RefusedRemoval` for a release without the flag."""
    keys = (
        manifest_key(build.tag),
        *sorted(f.key for f in build.files),
        *site_keys(build.tag),
    )
    if build.category is Category.RELEASE and not allow_release:
        listing = "\n".join(f"  {key}" for key in keys)
        raise RefusedRemoval(
            f"{build.tag} is a release: people and scripts may depend on its URLs. To withdraw "
            f"it while keeping the files, run `artreg yank {build.tag} --reason TEXT`; to delete "
            f"it now, run `artreg rm {build.tag} --release`, which deletes:\n{listing}"
        )
    return Removal(tag=build.tag, keys=keys)
