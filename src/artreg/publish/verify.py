"""``verify``'s engine: check a target against its manifests, and repair the index.

One listing per check: every key is listed once and the manifests are taken
from it. ``--repair`` rewrites the index from the manifests, writes the
download site's objects a build lacks and brings ``latest/`` up to date; file
damage is reported, never repaired (the bytes are the build's).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from artreg.core.index import HTML_KEY, ROOT_KEY
from artreg.core.manifest import ARTREG_DIR
from artreg.oci.gc import declared_repositories
from artreg.publish.audit import Findings, verify_target
from artreg.publish.reconcile import Report, reconcile
from artreg.publish.session import Publisher
from artreg.publish.site import SiteReport, latest_is_current, refresh_latest, write_build
from artreg.publish.state import read_state
from artreg.render.terminal import counted
from artreg.stores.base import ObjectInfo

STALE_LATEST = (
    "latest/, latest.json or releases.xml: not made from the builds the index lists (a run "
    "stopped early?); `artreg verify --repair` or the next apply brings them up to date"
)


@dataclass
class Verification:
    """What ``verify`` found (after the repair, when one was made)."""

    problems: list[str] = field(default_factory=list)
    summary: str = "nothing published yet"
    left_alone: list[str] = field(default_factory=list)  # keys artreg did not write
    never_published: bool = False
    repaired: bool = False
    fixed: list[str] = field(default_factory=list)  # problems the repair made go away


def _never_published(listing: list[ObjectInfo]) -> bool:
    """No object artreg writes is there: an empty target, or only someone else's files."""
    return not any(
        i.key in (ROOT_KEY, HTML_KEY) or i.key.startswith((f"{ARTREG_DIR}/", "v2/"))
        for i in listing
    )


def verify(session: Publisher, *, deep: bool, repair: bool) -> Verification:
    """Check the target; with ``repair``, rewrite what can be rewritten and check again."""
    listing = session.store.list("")
    if _never_published(listing):  # a fresh target is not a damaged one
        return Verification(never_published=True)
    found = _check(session, listing, deep)
    result = _verification(found, deep)
    if found.problems and repair:
        _repair(session, found)
        again = _verification(_check(session, session.store.list(""), deep), deep)
        again.repaired = True
        again.fixed = [p for p in result.problems if p not in again.problems]
        return again
    return result


def _check(session: Publisher, listing: list[ObjectInfo], deep: bool) -> Findings:
    config, store = session.config, session.store
    state = read_state(store, config.convention(), listing)
    found = verify_target(
        store,
        state,
        listing,
        page_size=config.index.page_size,
        deep=deep,
        clock_now=dt.datetime.now(dt.timezone.utc),
        grace=config.gc.grace_period,
        convention=config.convention(),
        repositories=declared_repositories(config),
        signed=config.site.signing,
    )
    if state.root is not None and not latest_is_current(store, config, state.root):
        found.problems.append(STALE_LATEST)
    return found


def _verification(found: Findings, deep: bool) -> Verification:
    summary = (
        f"{counted(found.builds, 'build')}, {counted(found.files, 'file')}"
        f"{f' ({found.hashed} re-hashed)' if deep else ''}, "
        f"{counted(found.pages, 'index page')}"
        + (f", {counted(found.images, 'image')}" if found.images else "")
    )
    if found.left_alone:
        summary += f"; {len(found.left_alone)} objects not artreg's, left alone"
    return Verification(problems=found.problems, summary=summary, left_alone=found.left_alone)


def _repair(session: Publisher, found: Findings) -> None:
    """The index rebuilt from the manifests, the site objects builds lack, ``latest/``."""
    config, store = session.config, session.store
    job = session.job(
        read_state(store, config.convention()), "artreg verify --repair", rebuild=True
    )
    reconcile(job, Report(), conditional=session.conditional)
    site = SiteReport()
    for build in found.unsited:  # e.g. published before artreg wrote a download site
        write_build(store, config, build, site)
    refresh_latest(store, config, now=job.now, report=site)
