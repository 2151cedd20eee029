"""Retention over a target: which builds go, read with as few page reads as possible."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from artreg.config import TagRules
from artreg.core import index
from artreg.core.index import Entry
from artreg.core.keys import SIGNATURE_NAME, site_keys
from artreg.core.manifest import Build, manifest_key
from artreg.core.plan import Action, Kind, Op
from artreg.core.retention import (
    Brake,
    Candidate,
    Decision,
    RetentionRule,
    brakes,
    decide,
    may_delete,
)
from artreg.core.tags import (
    PUBLISHED_CATEGORIES,
    Category,
    Convention,
)
from artreg.errors import NotFound
from artreg.publish.state import TargetState, category_entries, trusted_root
from artreg.stores.base import Store
from artreg.stores.steps import (
    Step,
)


def retention_rules(rules: TagRules) -> dict[Category, RetentionRule]:
    """The retention part of each category's rule."""
    return {category: rules.rule(category).retention() for category in PUBLISHED_CATEGORIES}


@dataclass
class RetentionPlan:
    """What retention decided for the categories it had to look at."""

    decisions: list[Decision] = field(default_factory=list)
    removed: dict[str, Entry] = field(default_factory=dict)
    brakes: list[Brake] = field(default_factory=list)
    signed: bool = False  # the builds' SHA256SUMS have signatures to delete too
    # Every key of the target when the caller listed it (gc): only the site documents
    # that exist are deleted and counted then (builds seeded or imported before the
    # download site have none). None: all of them (a delete of an absent key is a no-op).
    present: AbstractSet[str] | None = None

    def steps(self) -> list[Step]:
        """Deletes of the removed builds: manifests, then files (index first, elsewhere)."""
        reasons = {d.tag: d.reason for d in self.decisions}
        steps = []
        for tag, entry in sorted(self.removed.items()):
            why = f"retention: {reasons[tag]}"
            manifest = Action(Op.DELETE, Kind.MANIFEST, manifest_key(tag), 0, why)
            steps.append(Step(manifest))
            for file in entry.files:
                steps.append(Step(Action(Op.DELETE, Kind.FILE, file.key, file.size, why)))
            # its SHA256SUMS, signature and page (a delete of an absent key is a no-op)
            site = [k for k in site_keys(tag) if self.signed or not k.endswith(SIGNATURE_NAME)]
            if self.present is not None:
                site = [k for k in site if k in self.present]
            steps += [Step(Action(Op.DELETE, Kind.SITE, key, 0, why)) for key in site]
        return steps


def plan_retention(
    store: Store,
    state: TargetState,
    rules: TagRules,
    convention: Convention,
    *,
    page_size: int,
    max_fraction: float,
    added: Sequence[Build],
    now: dt.datetime,
    signed: bool = False,
    present: AbstractSet[str] | None = None,
) -> RetentionPlan:
    """Retention over the listing plus ``added``; reads pages only when something may expire.

    A category is looked at only when it holds more than ``keep_last`` builds and
    (with ``expire_after``) its oldest build, the last entry of its last page, is
    past the limit: a no-op run costs at most one page GET per category.
    """
    plan = RetentionPlan(signed=signed, present=present)
    by_rule = retention_rules(rules)
    for category in PUBLISHED_CATEGORIES:
        rule = by_rule[category]
        if not may_delete(rule, category):
            continue
        news = [b for b in added if b.category is category]
        listed = state.etags(category)
        count = len(listed) + sum(1 for b in news if b.tag not in listed)
        if rule.keep_last is not None and count <= rule.keep_last:
            continue
        if rule.expire_after is not None and not _oldest_is_past(
            store, state, category, page_size, now - rule.expire_after
        ):
            continue
        # A build the configuration now classifies otherwise is never expired because of it.
        entries = {
            e.tag: e
            for e in category_entries(store, state, category, page_size)
            if e.category is category and e.tag not in state.recorded
        }
        entries.update({b.tag: index.entry_from_build(b) for b in news})
        candidates = [Candidate(e.tag, e.category, e.published) for e in entries.values()]
        decisions = decide(candidates, {category: rule}, now, convention)
        plan.decisions += decisions
        plan.brakes += brakes(decisions, max_fraction)
        plan.removed.update({d.tag: entries[d.tag] for d in decisions if not d.keep})
    return plan


def _oldest_is_past(
    store: Store, state: TargetState, category: Category, page_size: int, cutoff: dt.datetime
) -> bool:
    """Whether the oldest build of the category was published before ``cutoff``."""
    root = state.root
    if category is Category.RELEASE or root is None or not trusted_root(state, category, page_size):
        return True  # not ordered by time, or unknown: look at every build
    ids = root.category(category).page_ids
    if not ids:
        return False
    key = index.page_key(category, ids[-1])
    try:
        page = index.parse_page(index.loads(store.get(key), key), key).page
    except (index.InvalidIndex, NotFound):
        return True
    oldest = min((e.published for e in page.entries), default=None)
    return oldest is not None and oldest < cutoff
