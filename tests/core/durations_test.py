from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from artreg.core.durations import (
    MAX_DURATION,
    describe_duration,
    format_duration,
    parse_duration,
)


@pytest.mark.parametrize(
    ("delta", "compact", "words"),
    [
        (dt.timedelta(days=30), "30d", "30 days"),
        (dt.timedelta(days=14), "2w", "2 weeks"),
        (dt.timedelta(days=7), "1w", "1 week"),
        (dt.timedelta(hours=1), "1h", "1 hour"),
        (dt.timedelta(hours=36), "36h", "36 hours"),
        (dt.timedelta(minutes=90), "90m", "90 minutes"),
        (dt.timedelta(seconds=90), "90s", "90 seconds"),
        (dt.timedelta(seconds=1), "1s", "1 seconds"),  # as render/docs always wrote it
        (dt.timedelta(0), "0s", "0 seconds"),
    ],
)
def test_one_unit_rule_two_spellings(delta: dt.timedelta, compact: str, words: str) -> None:
    assert format_duration(delta) == compact
    assert describe_duration(delta) == words


@given(st.integers(min_value=0, max_value=int(MAX_DURATION.total_seconds())))
def test_both_spellings_name_the_same_amount(seconds: int) -> None:
    delta = dt.timedelta(seconds=seconds)
    compact = format_duration(delta)
    assert parse_duration(compact) == delta
    count, unit = describe_duration(delta).split(" ")
    assert count == compact[:-1]
    assert unit[0] == compact[-1]
