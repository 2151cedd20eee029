"""Counted nouns for messages: ``1 problem``, ``2 problems``, ``1 index file``."""

from __future__ import annotations

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
