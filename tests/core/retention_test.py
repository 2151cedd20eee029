from __future__ import annotations

import datetime as dt
import fnmatch
import random

from hypothesis import given
from hypothesis import strategies as st

from artreg.core.retention import Candidate, RetentionRule, brakes, decide, may_delete
from artreg.core.tags import Category, Convention

NOW = dt.datetime(2026, 11, 30, tzinfo=dt.timezone.utc)
DAY = dt.timedelta(days=1)
V = Convention()
RULES = {
    Category.RELEASE: RetentionRule(keep_forever=True),
    Category.EXTRA: RetentionRule(keep_last=2, expire_after=10 * DAY),
    Category.DEV: RetentionRule(keep_last=3, expire_after=30 * DAY, protect=("a*",)),
}


def dev(n: int, age_days: float) -> Candidate:
    return Candidate(f"{n:040x}", Category.DEV, NOW - dt.timedelta(days=age_days))


def verdicts(candidates: list[Candidate], rules: dict[Category, RetentionRule] = RULES) -> dict:
    return {d.tag: (d.keep, d.reason) for d in decide(candidates, rules, NOW, V)}


def test_table() -> None:
    builds = [
        Candidate("v0.9.0", Category.RELEASE, NOW - 900 * DAY),
        Candidate("v0.10.0", Category.RELEASE, NOW - 800 * DAY),
        Candidate("v1.0.0-rc.1", Category.EXTRA, NOW - 50 * DAY),
        Candidate("v1.0.0-rc.2", Category.EXTRA, NOW - 40 * DAY),
        Candidate("v1.0.0-rc.3", Category.EXTRA, NOW - 5 * DAY),
        Candidate("v1.1.0-rc.1", Category.EXTRA, NOW - 1 * DAY),
        dev(1, 100),
        dev(2, 90),
        dev(3, 20),
        dev(4, 3),
        dev(5, 2),
        dev(6, 1),
        Candidate("a" * 40, Category.DEV, NOW - 400 * DAY),
    ]
    result = verdicts(builds)
    assert result["v0.9.0"] == (True, "releases are kept forever")
    assert result["v1.1.0-rc.1"] == (True, "one of the newest 2 (tags.extra.keep_last)")
    assert result["v1.0.0-rc.3"] == (True, "one of the newest 2 (tags.extra.keep_last)")
    assert result["v1.0.0-rc.2"] == (
        False,
        "not one of the newest 2 (tags.extra.keep_last) and published 40 days ago, "
        "past tags.extra.expire_after",
    )
    assert result[f"{3:040x}"] == (True, "published 20 days ago, within tags.dev.expire_after")
    assert result[f"{2:040x}"][0] is False
    assert result[f"{6:040x}"][0] is True
    assert result["a" * 40] == (True, "protected by tags.dev.protect 'a*'")


def test_keep_last_alone_and_expire_alone() -> None:
    builds = [dev(i, i) for i in range(1, 6)]
    only_last = {Category.DEV: RetentionRule(keep_last=2)}
    assert sorted(t for t, (keep, _) in verdicts(builds, only_last).items() if keep) == [
        f"{1:040x}",
        f"{2:040x}",
    ]
    only_age = {Category.DEV: RetentionRule(expire_after=3 * DAY)}
    assert sorted(t for t, (keep, _) in verdicts(builds, only_age).items() if keep) == [
        f"{i:040x}" for i in (1, 2, 3)
    ]


def test_releases_expire_only_when_allowed() -> None:
    releases = [Candidate(f"v1.{i}.0", Category.RELEASE, NOW - 1000 * DAY) for i in range(5)]
    refusing = {Category.RELEASE: RetentionRule(keep_last=1, expire_after=DAY)}
    assert all(keep for keep, _ in verdicts(releases, refusing).values())
    allowing = {Category.RELEASE: RetentionRule(keep_last=2, expire_after=DAY, allow_expire=True)}
    kept = {t for t, (keep, _) in verdicts(releases, allowing).items() if keep}
    assert kept == {"v1.4.0", "v1.3.0"}  # newest by precedence, not by string


def test_brake() -> None:
    builds = [dev(i, 100 + i) for i in range(10)]
    decisions = decide(builds, {Category.DEV: RetentionRule(keep_last=2, expire_after=DAY)}, NOW, V)
    (brake,) = brakes(decisions, 0.5)
    assert (brake.category, brake.deleting, brake.total) == (Category.DEV, 8, 10)
    assert "--allow-mass-delete" in brake.describe()
    assert brakes(decisions, 0.8) == []


# --- properties -------------------------------------------------------------

categories = st.sampled_from([Category.RELEASE, Category.EXTRA, Category.DEV])


@st.composite
def candidate_sets(draw: st.DrawFn) -> list[Candidate]:
    count = draw(st.integers(min_value=0, max_value=40))
    out = []
    for i in range(count):
        category = draw(categories)
        age = dt.timedelta(hours=draw(st.integers(min_value=0, max_value=24 * 200)))
        if category is Category.RELEASE:
            tag = f"v{i}.{draw(st.integers(0, 3))}.0"
        elif category is Category.EXTRA:
            tag = f"v{i}.0.0-rc.{draw(st.integers(0, 3))}"
        else:
            tag = f"{i:040x}"
        out.append(Candidate(tag, category, NOW - age))
    return out


rules_strategy = st.builds(
    RetentionRule,
    keep_forever=st.booleans(),
    keep_last=st.none() | st.integers(min_value=0, max_value=10),
    expire_after=st.none() | st.integers(min_value=0, max_value=100).map(lambda d: d * DAY),
    protect=st.sampled_from([(), ("*1*",), ("v2.*",)]),
    allow_expire=st.booleans(),
)


@given(candidate_sets(), rules_strategy, rules_strategy, st.randoms())
def test_properties(
    builds: list[Candidate], extra: RetentionRule, dev_rule: RetentionRule, rnd: random.Random
) -> None:
    rules = {
        Category.RELEASE: RetentionRule(keep_last=0, expire_after=DAY),  # not allowed: kept
        Category.EXTRA: extra,
        Category.DEV: dev_rule,
    }
    decisions = decide(builds, rules, NOW, V)
    assert len(decisions) == len(builds)
    deleted = {d.tag for d in decisions if not d.keep}
    for build in builds:
        rule = rules[build.category]
        if build.category is Category.RELEASE:
            assert build.tag not in deleted
        if any(fnmatch.fnmatchcase(build.tag, p) for p in rule.protect):
            assert build.tag not in deleted
    for category, rule in rules.items():
        if rule.keep_last is None:
            continue
        same = sorted(
            (b for b in builds if b.category is category and category is not Category.RELEASE),
            key=lambda b: (b.published, b.tag),
            reverse=True,
        )
        assert not deleted & {b.tag for b in same[: rule.keep_last]}
    # Order independence.
    shuffled = builds[:]
    rnd.shuffle(shuffled)
    assert decide(shuffled, rules, NOW, V) == decisions
    # Applying the decision twice deletes nothing more.
    kept = [b for b in builds if b.tag not in deleted]
    assert all(d.keep for d in decide(kept, rules, NOW, V))


@given(candidate_sets(), rules_strategy)
def test_a_rule_that_may_not_delete_keeps_every_build(
    builds: list[Candidate], rule: RetentionRule
) -> None:
    # may_delete is the one "kept forever" rule the planner, the docs and decide share.
    rules = dict.fromkeys(Category, rule)
    for decision in decide(builds, rules, NOW, V):
        if not may_delete(rule, decision.category):
            assert decision.keep, decision
