"""Durations as artreg.toml writes them (``30d``) and as the docs say them (``30 days``)."""

from __future__ import annotations

import datetime as dt
import re

# Largest first: a duration is shown in the largest unit that divides it.
_UNITS = (("w", "week", 604800), ("d", "day", 86400), ("h", "hour", 3600), ("m", "minute", 60))
_UNIT_SECONDS = {"s": 1, **{unit: size for unit, _, size in _UNITS}}
_DURATION = re.compile(r"([0-9]{1,12})([smhdw])")
# Durations are subtracted from "now": a century keeps that far from datetime's limits.
MAX_DURATION = dt.timedelta(days=36500)
DURATION_EXPECTED = "a duration like '30d', '12h' or '90m', at most 36500d (100 years)"


def parse_duration(text: str) -> dt.timedelta:
    """``30d`` -> 30 days: an integer and one unit of s, m, h, d, w; ValueError otherwise."""
    found = _DURATION.fullmatch(text)
    if found is None:
        raise ValueError(f"expected {DURATION_EXPECTED}, got {text!r}")
    amount, unit = found.groups()
    seconds = int(amount) * _UNIT_SECONDS[unit]  # at most 12 digits: exact, no overflow
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"expected {DURATION_EXPECTED}, got {text!r}")
    return dt.timedelta(seconds=seconds)


def _largest_unit(delta: dt.timedelta) -> tuple[int, str, str]:
    """``delta`` as (count, unit letter, unit word) in the largest unit that divides it."""
    seconds = int(delta.total_seconds())
    for unit, word, size in _UNITS:
        if seconds and seconds % size == 0:
            return seconds // size, unit, word
    return seconds, "s", "second"


def format_duration(delta: dt.timedelta) -> str:
    """The inverse of :func:`parse_duration`: ``30d``, ``12h``, ``90s``."""
    count, unit, _ = _largest_unit(delta)
    return f"{count}{unit}"


def describe_duration(delta: dt.timedelta) -> str:
    """The same duration in words, for the docs: ``30 days``, ``1 hour``, ``90 seconds``."""
    count, unit, word = _largest_unit(delta)
    if unit == "s":
        return f"{count} seconds"  # as the docs always said it, even for 1
    return f"{count} {word}{'s' if count != 1 else ''}"
