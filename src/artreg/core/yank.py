"""Yank and remove: withdrawing a build, pure decisions (the commands are edges).

A yanked build keeps its files (as on PyPI: pinned downloads keep working);
pages strike it out with the reason, and it leaves ``latest/`` and the feed.
Removing deletes a build now: extra and dev builds on request, a release
only with an explicit flag, and the exact keys are listed before anything
goes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from artreg.core.keys import site_keys
from artreg.core.manifest import Build, format_time, manifest_key
from artreg.core.tags import Category
from artreg.errors import RefusedRemoval

MAX_REASON = 300


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


YANKS_KEY = "_artreg/yanked.json"
YANKS_KIND = "artreg.yanked"


def yanks_document(yanks: Mapping[str, Yank]) -> dict[str, Any]:
    """``_artreg/yanked.json``: every yanked build, by tag (small: yanks are rare)."""
    return {
        "schemaVersion": 1,
        "kind": YANKS_KIND,
        "yanked": {tag: yanks[tag].to_json() for tag in sorted(yanks)},
    }


def yanks_from_document(doc: object) -> dict[str, Yank]:
    """The yanks a record holds; a record that is not artreg's reads as no yank."""
    if not isinstance(doc, Mapping) or doc.get("kind") != YANKS_KIND:
        return {}
    items = doc.get("yanked")
    if not isinstance(items, Mapping):
        return {}
    out = {}
    for tag, item in items.items():
        if isinstance(tag, str) and isinstance(item, Mapping):
            reason, at = item.get("reason"), item.get("at")
            if isinstance(reason, str) and isinstance(at, str):
                out[tag] = Yank(reason=" ".join(reason.split())[:MAX_REASON], at=at)
    return out
