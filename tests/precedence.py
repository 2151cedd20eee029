"""An oracle for tests: tags in ascending semver precedence, the order artreg's key gives."""

from __future__ import annotations

from collections.abc import Iterable

from artreg.core.tags import Convention, classify, precedence_key


def sort_by_precedence(tags: Iterable[str], convention: Convention) -> list[str]:
    """Tags in ascending semver precedence (``v0.9.0`` before ``v0.10.0``); others last."""
    classified = [classify(tag, convention) for tag in tags]
    versions = sorted((c for c in classified if c.version is not None), key=precedence_key)
    others = sorted(c.tag for c in classified if c.version is None)
    return [c.tag for c in versions] + others
