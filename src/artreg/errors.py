"""The user-facing error tree.

Anything raised as an :class:`ArtregError` is the user's to fix: the CLI prints
its message and exits 1. Anything else is a bug in artreg (exit 3).
"""

from __future__ import annotations

from collections.abc import Sequence


class ArtregError(Exception):
    """A problem the user can fix; the message says what, where and how."""

    exit_code = 1

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


class ConfigError(ArtregError):
    """One or more problems in ``artreg.toml``, all collected before failing."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


class InvalidTag(ArtregError, ValueError):
    """A tag that breaks the convention; carries the reason and a suggestion."""

    def __init__(self, tag: str, reason: str, suggestion: str | None = None) -> None:
        self.tag = tag
        self.reason = reason
        self.suggestion = suggestion
        shown = repr(tag) if len(tag) <= 128 else f"{tag[:40]!r}... ({len(tag)} characters)"
        text = f"tag {shown}: {reason}"
        if suggestion is not None:
            text += f"; did you mean {suggestion!r}?"
        super().__init__(text)


class UsageError(ArtregError):
    """Wrong command-line usage (exit 2, like argparse)."""

    exit_code = 2
