"""``artreg plan``: what apply would do, read-only, with --detailed-exitcode and --json."""

from __future__ import annotations

from pathlib import Path

import pytest
from publishing import KINDS, NOW, Site, keys_written, make_site, writes

from artreg.cli import EXIT_CHANGES


@pytest.fixture(params=KINDS)
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Site:
    return make_site(request, tmp_path, request.param)


def test_plan_shows_what_apply_then_does_and_writes_nothing(site: Site) -> None:
    site.publish("v1.0.0", now="2025-06-01T01:00:00Z")
    site.write_build("dev")
    before = site.snapshot()
    plan = site.run("plan", "--tag", "a" * 40, "--now", NOW, "--json", "--detailed-exitcode")
    assert plan.code == EXIT_CHANGES, plan.err
    report = plan.json()
    assert writes(report) == {}  # reads only
    assert site.snapshot() == before
    planned = [(a["op"], a["key"]) for a in report["actions"]]
    applied = site.apply("a" * 40, NOW)
    assert [(a["op"], a["key"]) for a in applied["actions"]] == planned
    assert keys_written(applied)[-2:] == ["index.html", "index.json"]


def test_up_to_date_plan_exits_zero(site: Site) -> None:
    site.publish("v1.0.0")
    result = site.run("plan", "--tag", "v1.0.0", "--detailed-exitcode")
    assert result.code == 0, result.err
    assert result.out.splitlines()[1:] == [
        "  no changes: the target is up to date",
        "Plan: 0 to upload (0 B), 0 index files to write, 0 to delete.",
    ]
    # Without --detailed-exitcode, pending changes still exit 0.
    site.write_build("other bytes")
    assert site.run("plan", "--tag", "v1.1.0").code == 0


def test_plan_of_a_refused_release_is_the_same_error(site: Site) -> None:
    site.publish("v1.0.0")
    site.write_build("other bytes")
    result = site.run("plan", "--tag", "v1.0.0", "--detailed-exitcode")
    assert result.code == 1
    assert "immutable" in result.err
    assert "Traceback" not in result.err
