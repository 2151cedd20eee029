"""``artreg ls`` agrees with index.json after several publishes, on every store.

Not on Ceph RGW: ls only reads what apply wrote, and reading is covered there by
the store contract and the apply tests; seven publishes per case cost a minute.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from publishing import KINDS, Site, follow_index, make_site

DEV_A = "a" * 40
DEV_B = "b" * 40
# Published in this order, an hour apart.
TAGS = ["v1.0.0", "v1.10.0", DEV_A, "v1.9.0", "v2.0.0-rc.1", DEV_B, "v1.1.0+feat"]


@pytest.fixture(params=[k for k in KINDS if k != "rgw"])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Site:
    site = make_site(request, tmp_path, request.param)
    site.configure(page_size=2)
    for hour, tag in enumerate(TAGS):
        site.publish(tag, now=f"2025-06-01T{hour:02d}:00:00Z")
    return site


def test_ls_json_agrees_with_index_json(site: Site) -> None:
    result = site.run("ls", "--json")
    assert result.code == 0, result.err
    listed = result.json()
    index = follow_index(site.store())
    assert listed == index  # every entry, in the index's order, field for field
    assert {c: [e["tag"] for e in es] for c, es in listed.items()} == {
        "release": ["v1.10.0", "v1.9.0", "v1.0.0"],  # semver precedence, not string order
        "extra": ["v1.1.0+feat", "v2.0.0-rc.1"],  # newest first
        "dev": [DEV_B, DEV_A],
    }


def test_ls_text(site: Site) -> None:
    result = site.run("ls")
    assert result.code == 0, result.err
    assert result.err == ""
    lines = result.out.splitlines()
    assert [line for line in lines if not line.startswith("  ")] == [
        "release (3)",
        "extra (2)",
        "dev (2)",
    ]
    tags = [line.split()[0] for line in lines if line.startswith("  ")]
    assert tags == ["v1.10.0", "v1.9.0", "v1.0.0", "v1.1.0+feat", "v2.0.0-rc.1", DEV_B, DEV_A]
    assert lines[1].split() == [
        "v1.10.0",
        "2025-06-01",
        "01:00",
        "40",
        "B",
        "linux/amd64,",
        "linux/arm64",
    ]


def test_ls_category(site: Site) -> None:
    text = site.run("ls", "--category", "extra")
    assert text.code == 0, text.err
    assert text.out.splitlines()[0] == "extra (2)"
    assert "release" not in text.out and "dev" not in text.out
    as_json = site.run("ls", "--category", "dev", "--json")
    assert list(as_json.json()) == ["dev"]
    assert [e["tag"] for e in as_json.json()["dev"]] == [DEV_B, DEV_A]


def test_ls_of_an_empty_target(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    site = make_site(request, tmp_path, "dir")
    result = site.run("ls", "--json")
    assert result.code == 0, result.err
    assert result.json() == {"release": [], "extra": [], "dev": []}
