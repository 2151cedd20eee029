"""Retention: which builds to delete, and the rule that decided each one.

Pure: ``now`` is a parameter. A build is deleted only when it is outside the
newest ``keep_last`` of its category AND older than ``expire_after`` (when both
are set; one alone decides by itself; neither keeps forever). Releases are kept
forever unless the configuration explicitly allows expiring them, and a
protected tag is never deleted.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from artreg.core.tags import Category, Classification, Convention, classify, precedence_key


@dataclass(frozen=True)
class RetentionRule:
    """The retention part of a category's rule (see ``config.Rule``)."""

    keep_forever: bool = False
    keep_last: int | None = None
    expire_after: dt.timedelta | None = None
    protect: tuple[str, ...] = ()
    allow_expire: bool = False


def kept_forever(rule: RetentionRule) -> bool:
    """True when the rule itself deletes nothing: keep = 'forever', or no limit set."""
    return rule.keep_forever or (rule.keep_last is None and rule.expire_after is None)


def may_delete(rule: RetentionRule, category: Category) -> bool:
    """True when retention may delete builds of ``category`` under ``rule``.

    Releases are kept forever unless ``allow_expire`` says otherwise.
    """
    if category is Category.RELEASE and not rule.allow_expire:
        return False
    return not kept_forever(rule)


@dataclass(frozen=True)
class Candidate:
    """What retention needs to know of a published build."""

    tag: str
    category: Category
    published: dt.datetime


@dataclass(frozen=True)
class Decision:
    """Keep or delete one build, and why."""

    tag: str
    category: Category
    keep: bool
    reason: str


@dataclass(frozen=True)
class Brake:
    """A category where retention would delete more than the allowed share."""

    category: Category
    deleting: int
    total: int
    max_fraction: float

    def describe(self) -> str:
        return (
            f"retention would delete {self.deleting} of {self.total} {self.category} builds, "
            f"more than the {self.max_fraction:.0%} allowed in one run (gc.max_delete_fraction); "
            "check the clock (--now) and the rules, then re-run with --allow-mass-delete"
        )


def _protected_by(tag: str, patterns: Sequence[str]) -> str | None:
    for pattern in patterns:
        if tag == pattern or fnmatch.fnmatchcase(tag, pattern):
            return pattern
    return None


def _newest_first(
    candidates: Sequence[Candidate], category: Category, convention: Convention
) -> list[Candidate]:
    """Releases by semver precedence, the others by publish time (ties by tag)."""
    if category is Category.RELEASE:
        classified: dict[str, Classification] = {
            c.tag: classify(c.tag, convention) for c in candidates
        }
        return sorted(candidates, key=lambda c: precedence_key(classified[c.tag]), reverse=True)
    return sorted(candidates, key=lambda c: (c.published, c.tag), reverse=True)


def decide(
    candidates: Iterable[Candidate],
    rules: Mapping[Category, RetentionRule],
    now: dt.datetime,
    convention: Convention,
) -> list[Decision]:
    """One decision per build, sorted by category then tag; independent of input order."""
    by_category: dict[Category, list[Candidate]] = {}
    for candidate in candidates:
        by_category.setdefault(candidate.category, []).append(candidate)
    decisions: list[Decision] = []
    for category in sorted(by_category, key=lambda c: c.value):
        rule = rules.get(category, RetentionRule(keep_forever=True))
        where = f"tags.{category.value}"
        ordered = _newest_first(by_category[category], category, convention)
        for rank, build in enumerate(ordered):
            decisions.append(_decide_one(build, rank, rule, where, now))
    decisions.sort(key=lambda d: (d.category.value, d.tag))
    return decisions


def _decide_one(
    build: Candidate, rank: int, rule: RetentionRule, where: str, now: dt.datetime
) -> Decision:
    def keep(reason: str) -> Decision:
        return Decision(build.tag, build.category, True, reason)

    pattern = _protected_by(build.tag, rule.protect)
    if pattern is not None:
        return keep(f"protected by {where}.protect {pattern!r}")
    if build.category is Category.RELEASE and not rule.allow_expire:
        return keep("releases are kept forever")
    if kept_forever(rule):
        return keep(f"{where}.keep = 'forever'")
    if rule.keep_last is not None and rank < rule.keep_last:
        return keep(f"one of the newest {rule.keep_last} ({where}.keep_last)")
    age = now - build.published
    if rule.expire_after is not None and age <= rule.expire_after:
        return keep(f"published {_days(age)} ago, within {where}.expire_after")
    parts = []
    if rule.keep_last is not None:
        parts.append(f"not one of the newest {rule.keep_last} ({where}.keep_last)")
    if rule.expire_after is not None:
        parts.append(f"published {_days(age)} ago, past {where}.expire_after")
    return Decision(build.tag, build.category, False, " and ".join(parts))


def _days(delta: dt.timedelta) -> str:
    days = delta.total_seconds() / 86400
    return f"{days:.1f} days" if days < 10 else f"{days:.0f} days"


def brakes(decisions: Iterable[Decision], max_fraction: float) -> list[Brake]:
    """Categories where the decisions delete more than ``max_fraction`` of the builds."""
    totals: dict[Category, int] = {}
    deleting: dict[Category, int] = {}
    for decision in decisions:
        totals[decision.category] = totals.get(decision.category, 0) + 1
        if not decision.keep:
            deleting[decision.category] = deleting.get(decision.category, 0) + 1
    return [
        Brake(category, count, totals[category], max_fraction)
        for category, count in sorted(deleting.items(), key=lambda item: item[0].value)
        if count > max_fraction * totals[category]
    ]
