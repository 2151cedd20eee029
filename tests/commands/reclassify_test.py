"""A configuration change that reclassifies published builds: reported, never a crash or a loss.

A build keeps the category it was published with. When ``[tags]`` changes so
that a release's tag now reads as a dev build id, or as no valid tag at all,
``apply`` keeps publishing (the build stays indexed as a release, the root
lists it under ``reclassified``), retention and ``gc`` never remove it because
of the change, and ``apply``, ``gc``, ``verify``, ``ls`` and ``lint --target``
say what happened and how to resolve it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from publishing import Site, check_references, follow_index, make_site, read_json

NOW = "2025-06-01T12:00:00Z"
DEV = "a" * 40
GC = '[gc]\ngrace_period = "0s"\n'
AS_DEV = '[tags]\nprefix = "rel-"\n[tags.dev]\nmatch = "[0-9a-z.]+"\nkeep_last = 0\n' + GC
REJECTED = '[tags]\nprefix = "rel-"\n' + GC
V1_FILES = ("v1.0.0/linux/amd64/app", "v1.0.0/linux/arm64/app")


@pytest.fixture(params=["dir", "moto"])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Site:
    site = make_site(request, tmp_path, request.param, page_size=2)
    site.publish("v1.0.0")
    site.publish(DEV)
    return site


def said(text: str, now: str) -> bool:
    return f"build v1.0.0 is published as release, but the configuration now {now}" in text


def release_tags(site: Site) -> list[str]:
    return [entry["tag"] for entry in follow_index(site.store())["release"]]


@pytest.mark.parametrize(
    ("toml", "now"),
    [(AS_DEV, "classifies its tag as dev"), (REJECTED, "rejects its tag (neither a version")],
    ids=["as-dev", "rejected"],
)
def test_a_reclassified_release_stays_a_release(site: Site, toml: str, now: str) -> None:
    site.configure(extra_toml=toml)
    lint = site.run("lint", "--target", "test")
    assert lint.code == 1 and said(lint.err, now), lint.err
    verify = site.run("verify", "--target", "test")
    assert verify.code == 1 and said(verify.out, now), verify.out

    for n, tag in enumerate(["b" * 40, "c" * 40]):  # not blocked: every later apply works
        site.write_build(tag)
        result = site.run("apply", "--target", "test", "--tag", tag, "--now", NOW)
        assert result.code == 0, result.err
        assert said(result.err, now), result.err
        assert release_tags(site) == ["v1.0.0"], n
        assert read_json(site.store(), "index.json")["reclassified"] == {"v1.0.0": "release"}

    # gc with a retention that expires every dev build, and no grace for orphans.
    gc = site.run("gc", "--target", "test", "--allow-mass-delete")
    assert gc.code == 0, gc.err
    assert said(gc.err, now)
    keys = {info.key for info in site.store().list()}
    assert set(V1_FILES) <= keys and "_artreg/builds/v1.0.0.json" in keys
    assert release_tags(site) == ["v1.0.0"]
    assert check_references(site.store()) == []
    ls = site.run("ls", "--target", "test")
    assert ls.out.splitlines()[0] == "release (1)" and "v1.0.0" in ls.out

    # Restoring the rule resolves it: the next apply drops the table, verify is clean.
    site.configure(extra_toml=GC)
    site.write_build("d" * 40)
    result = site.run("apply", "--target", "test", "--tag", "d" * 40, "--now", NOW)
    assert result.code == 0 and not said(result.err, ""), result.err
    assert "reclassified" not in read_json(site.store(), "index.json")
    assert site.run("verify", "--target", "test").code == 0
    assert site.run("lint", "--target", "test").code == 0


@pytest.mark.parametrize("toml", [AS_DEV, REJECTED], ids=["as-dev", "rejected"])
def test_gc_straight_after_the_change_keeps_the_release(site: Site, toml: str) -> None:
    """Before any apply recorded it in the root: not expired as a dev build, not an orphan."""
    site.configure(extra_toml=toml)
    gc = site.run("gc", "--target", "test", "--allow-mass-delete")
    assert gc.code == 0, gc.err
    keys = {info.key for info in site.store().list()}
    assert set(V1_FILES) <= keys and "_artreg/builds/v1.0.0.json" in keys
    assert release_tags(site) == ["v1.0.0"]
    assert check_references(site.store()) == []
