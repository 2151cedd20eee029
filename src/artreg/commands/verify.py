"""``artreg verify``: every indexed file exists with its size (and digest with ``--deep``)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from artreg.commands import open_target
from artreg.core.index import HTML_KEY, ROOT_KEY
from artreg.core.manifest import ARTREG_DIR, Build
from artreg.oci.gc import declared_repositories
from artreg.publish.audit import verify_target
from artreg.publish.engine import read_state
from artreg.publish.lease import default_holder
from artreg.publish.reconcile import Job, Report, reconcile
from artreg.publish.site import SiteReport, latest_is_current, refresh_latest, write_build
from artreg.render.terminal import counted, print_json


def _never_published(keys: list[str]) -> bool:
    """No object artreg writes is there: an empty target, or only someone else's files."""
    return not any(
        key in (ROOT_KEY, HTML_KEY) or key.startswith((f"{ARTREG_DIR}/", "v2/")) for key in keys
    )


def run(args: argparse.Namespace) -> int:
    config, target, store = open_target(args)
    clock_now = dt.datetime.now(dt.timezone.utc)
    if _never_published([info.key for info in store.list("")]):
        # A fresh target is not a damaged one: CI may verify before the first release.
        summary = "nothing published yet"
        if args.json:
            out = {"ok": True, "problems": [], "checked": summary, "repaired": False}
            print_json(out)
        else:
            print(
                f"verify {target.name}: ok, {summary} "
                f"(`artreg apply --target {target.name}` publishes the first build)",
                file=sys.stderr,
            )
        return 0

    repositories = declared_repositories(config)
    left_alone: list[str] = []
    unsited: list[Build] = []

    def check() -> tuple[list[str], str]:
        state = read_state(store, config.convention())
        found = verify_target(
            store,
            state,
            store.list(""),
            page_size=config.index.page_size,
            deep=args.deep,
            clock_now=clock_now,
            grace=config.gc.grace_period,
            convention=config.convention(),
            repositories=repositories,
            signed=config.site.signing,
        )
        left_alone[:] = found.left_alone
        unsited[:] = found.unsited
        if state.root is not None and not latest_is_current(store, config, state.root):
            found.problems.append(
                "latest/, latest.json or releases.xml: not made from the builds the index "
                "lists (a run stopped early?); `artreg verify --repair` or the next apply "
                "brings them up to date"
            )
        summary = (
            f"{counted(found.builds, 'build')}, {counted(found.files, 'file')}"
            f"{f' ({found.hashed} re-hashed)' if args.deep else ''}, "
            f"{counted(found.pages, 'index page')}"
            + (f", {counted(found.images, 'image')}" if found.images else "")
        )
        if found.left_alone:
            summary += f"; {len(found.left_alone)} objects not artreg's, left alone"
        return found.problems, summary

    problems, summary = check()
    repaired = False
    if problems and args.repair:
        state = read_state(store, config.convention())
        job = Job(
            store=store,
            config=config,
            target=target,
            original=state,
            now=clock_now.replace(microsecond=0),
            gc=False,
            allow_mass_delete=False,
            holder=default_holder("artreg verify --repair"),
            rebuild=True,
        )
        reconcile(job, Report(), conditional=store.supports_conditional_writes())
        site = SiteReport()
        for build in unsited:  # e.g. published before artreg wrote a download site
            write_build(store, config, build, site)
        refresh_latest(store, config, now=job.now, report=site)
        repaired = True
        before = problems
        problems, summary = check()
        for problem in before:
            if problem not in problems:
                print(f"repaired: {problem}", file=sys.stderr)
    if args.json:
        out = {
            "ok": not problems,
            "problems": problems,
            "leftAlone": left_alone,
            "checked": summary,
            "repaired": repaired,
        }
        print_json(out)
    else:
        for problem in problems:
            print(problem)
        for line in left_alone:  # reported, not a problem: the bucket is shared
            print(line, file=sys.stderr)
        state_word = "ok" if not problems else counted(len(problems), "problem")
        print(f"verify {target.name}: {state_word} ({summary})", file=sys.stderr)
    return 1 if problems else 0
