"""What commands print on a terminal or in a log: counted nouns, sizes, durations, JSON.

Pure formatting (no colour, no I/O) except :func:`print_json`, the one way a
command writes its ``--json`` report to stdout.
"""

from __future__ import annotations

import json
import sys
from typing import TextIO

# Nouns whose plural is not the singular + "s".
_IRREGULAR = {"was": "were", "is": "are", "category": "categories", "entry": "entries"}


def plural(noun: str, count: int) -> str:
    """``noun`` as it reads after ``count``; the last word takes the number."""
    if count == 1:
        return noun
    head, _, last = noun.rpartition(" ")
    many = _IRREGULAR.get(last, last + "s")
    return f"{head} {many}" if head else many


def counted(count: int, noun: str) -> str:
    """``count`` and ``noun`` agreeing: ``counted(1, "index file")`` -> ``1 index file``."""
    return f"{count} {plural(noun, count)}"


def written(index_files: int, site_files: int) -> str:
    """ "3 index files" or "3 index files and 8 site files" (the download site's, when any)."""
    text = counted(index_files, "index file")
    return f"{text} and {counted(site_files, 'site file')}" if site_files else text


def human_size(size: int) -> str:
    """Decimal units, one decimal place: ``41.2 MB``."""
    if size < 1000:
        return f"{size} B"
    value = float(size)
    for unit in ("kB", "MB", "GB", "TB", "PB"):
        value /= 1000
        if value < 999.95 or unit == "PB":
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def format_eta(seconds: float) -> str:
    """``42 s``, ``3 min 5 s``, ``1 h 2 min``."""
    whole = int(seconds + 0.5)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def print_json(document: object, stream: TextIO | None = None) -> None:
    """A ``--json`` report: indented by one space, one trailing newline."""
    out = sys.stdout if stream is None else stream
    json.dump(document, out, indent=1)
    out.write("\n")
