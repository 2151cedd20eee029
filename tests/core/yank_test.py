from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from artreg.core.manifest import Build, FileEntry
from artreg.core.tags import Category
from artreg.core.yank import MAX_REASON, check_reason, plan_removal, site_keys, yank_record
from artreg.errors import RefusedRemoval

T0 = dt.datetime(2025, 5, 1, tzinfo=dt.timezone.utc)


def build(tag: str, category: Category) -> Build:
    files = tuple(
        FileEntry("app", p, "app", f"{tag.replace('+', '_')}/{p}/app", 1, "a" * 64)
        for p in ("linux/arm64", "linux/amd64")
    )
    return Build(tag, category, T0, None, files)


@pytest.mark.parametrize(
    ("text", "reason"),
    [("broken", "broken"), ("  corrupts\n data  ", "corrupts data"), ("x" * MAX_REASON, "x" * 300)],
)
def test_reasons(text: str, reason: str) -> None:
    assert check_reason(text) == reason


@pytest.mark.parametrize("text", ["", "  \n", "x" * (MAX_REASON + 1), "a\x00b"])
def test_bad_reasons(text: str) -> None:
    with pytest.raises(RefusedRemoval, match="--reason"):
        check_reason(text)


@given(st.text())
def test_reason_is_one_printable_line_or_refused(text: str) -> None:
    try:
        reason = check_reason(text)
    except RefusedRemoval:
        return
    assert reason.isprintable() and "\n" not in reason and 0 < len(reason) <= MAX_REASON


def test_yank_record() -> None:
    assert yank_record("broken", T0).to_json() == {"reason": "broken", "at": "2025-05-01T00:00:00Z"}


def test_removal_of_extra_and_dev_lists_every_key() -> None:
    removal = plan_removal(build("v1.0.0+x", Category.EXTRA), allow_release=False)
    assert removal.keys == (
        "_artreg/builds/v1.0.0_x.json",
        "v1.0.0_x/linux/amd64/app",
        "v1.0.0_x/linux/arm64/app",
        "v1.0.0_x/SHA256SUMS",
        "v1.0.0_x/SHA256SUMS.sig",
        "v1.0.0_x/index.html",
    )
    assert removal.describe()[0] == "delete _artreg/builds/v1.0.0_x.json"
    assert site_keys("v1.0.0+x") == removal.keys[3:]


def test_removal_of_a_release_needs_the_flag_and_says_what_goes() -> None:
    release = build("v1.0.0", Category.RELEASE)
    with pytest.raises(RefusedRemoval) as caught:
        plan_removal(release, allow_release=False)
    message = caught.value.message
    assert "artreg yank v1.0.0 --reason TEXT" in message
    assert "artreg rm v1.0.0 --release" in message
    for key in plan_removal(release, allow_release=True).keys:
        assert f"\n  {key}" in message
