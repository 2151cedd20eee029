"""The checker's reporting and its generic checks, each driven by a key's description.

Problems are collected, never raised one at a time: ``artreg lint`` shows them all.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Mapping, Sequence
from pathlib import Path

from artreg.config.lines import Locator
from artreg.config.spec import Key, Table
from artreg.config.values import (
    AWS_KEY_ID,
    CREDENTIALS_FIX,
    KeyPath,
    format_key_path,
    is_credential_key,
    show,
)
from artreg.core.durations import DURATION_EXPECTED, parse_duration


class Checker:
    """Collects problems with their lines; reads values as their keys describe them."""

    def __init__(self, label: str, locator: Locator) -> None:
        self.label = label
        self.locator = locator
        self.problems: list[tuple[int | None, str]] = []
        self.warnings: list[str] = []
        self.base: Path | None = None  # the configuration's directory

    # -- reporting --

    def where(self, path: KeyPath, at: KeyPath | None = None) -> tuple[int | None, str]:
        line = self.locator.line_of(at if at is not None else path) if path or at else None
        head = f"{self.label}:{line}" if line is not None else self.label
        return line, (f"{head}: {format_key_path(path)}" if path else head)

    def problem(self, path: KeyPath, message: str, *, at: KeyPath | None = None) -> None:
        line, head = self.where(path, at)
        self.problems.append((line, f"{head}: {message}"))

    def warn(self, path: KeyPath, message: str) -> None:
        self.warnings.append(f"{self.where(path)[1]}: {message}")

    def expected(self, path: KeyPath, expected: str, value: object) -> None:
        self.problem(path, f"expected {expected}, got {show(value)}")

    def sorted_problems(self) -> list[str]:
        # By line, so the list reads like the file; problems without a line go last.
        order = sorted(
            range(len(self.problems)),
            key=lambda i: (self.problems[i][0] is None, self.problems[i][0] or 0, i),
        )
        return [self.problems[i][1] for i in order]

    # -- tables --

    def check_keys(
        self,
        table: dict[str, object],
        path: KeyPath,
        spec: Table,
        hints: Mapping[str, str] | None = None,
        *,
        allowed: Sequence[str] | None = None,
    ) -> None:
        """Report keys ``spec`` does not declare: a specific hint, a close match, or the list."""
        allowed = spec.names() if allowed is None else allowed
        hints = {**spec.hints, **(hints or {})}
        for key in table:
            if key in allowed or is_credential_key(key):
                continue  # credential keys get their own message, from credentials()
            if key in hints:
                self.problem((*path, key), hints[key])
                continue
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            if close:
                self.problem((*path, key), f"unknown key; did you mean {close[0]!r}?")
            else:
                self.problem((*path, key), f"unknown key; expected one of: {', '.join(allowed)}")

    def check_variant_keys(self, table: dict[str, object], path: KeyPath, spec: Table) -> None:
        """Like check_keys; a key of the other case of ``spec.variants`` says where it belongs."""
        hints: dict[str, str] = {}
        if spec.variants is not None:
            absent = spec.variants.cases[1].value if spec.variants.defaulted else None
            kind = table.get(spec.variants.key, absent)
            if kind in [case.value for case in spec.variants.cases]:
                for case in spec.variants.cases:
                    if case.value != kind:
                        hints |= dict.fromkeys(case.only, case.elsewhere)
        allowed = [name for name in spec.names() if name not in hints]
        self.check_keys(table, path, spec, hints, allowed=allowed)

    def credentials(self, value: object, path: KeyPath) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                # Target names are names, not settings: [targets.token] is no secret.
                if path != ("targets",) and is_credential_key(key):
                    self.problem((*path, key), CREDENTIALS_FIX)
                else:
                    self.credentials(item, (*path, key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.credentials(item, (*path, index))
        elif isinstance(value, str) and AWS_KEY_ID.search(value):
            self.problem(path, f"looks like an AWS access key id; {CREDENTIALS_FIX}")

    def table(self, parent: dict[str, object], key: str, path: KeyPath) -> dict[str, object]:
        value = parent.get(key, {})
        if isinstance(value, dict):
            return value
        self.expected((*path, key), f"a table ([{format_key_path((*path, key))}])", value)
        return {}

    # -- values, as their Key describes them --

    def string(self, table: dict[str, object], key: Key, path: KeyPath) -> str | None:
        """The string at ``key``, or None when absent (reported if required) or invalid."""
        if key.name not in table:
            if key.missing is not None:
                self.problem((*path, key.name), f"missing; {key.missing}", at=path)
            return None
        value = table[key.name]
        if not isinstance(value, str) or (key.valid is None and value == ""):
            self.expected((*path, key.name), key.expected, value)
            return None
        if key.valid is not None and not key.valid(value):
            self.expected((*path, key.name), key.expected, value)
            return None
        return value

    def integer(self, table: dict[str, object], key: Key, path: KeyPath) -> int | None:
        if key.name not in table:
            return None
        value = table[key.name]
        low = key.low if key.low is not None else 0
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < low
            or (key.high is not None and value > key.high)
        ):
            self.expected((*path, key.name), key.expected_text(), value)
            return None
        return value

    def fraction(self, table: dict[str, object], key: Key, path: KeyPath) -> float | None:
        if key.name not in table:
            return None
        value = table[key.name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
            self.expected((*path, key.name), key.expected_text(), value)
            return None
        return float(value)

    def boolean(self, table: dict[str, object], key: Key, path: KeyPath) -> bool | None:
        if key.name not in table:
            return None
        value = table[key.name]
        if not isinstance(value, bool):
            self.expected((*path, key.name), key.expected_text(), value)
            return None
        return value

    def duration(self, table: dict[str, object], key: Key, path: KeyPath) -> dt.timedelta | None:
        if key.name not in table:
            return None
        value = table[key.name]
        if not isinstance(value, str):
            self.expected((*path, key.name), key.expected, value)
            return None
        try:
            delta = parse_duration(value)
        except ValueError:
            self.expected((*path, key.name), key.expected, value)
            return None
        if key.positive and not delta:
            self.expected((*path, key.name), f"a positive duration ({DURATION_EXPECTED})", value)
            return None
        return delta

    def string_list(
        self, table: dict[str, object], key: Key, path: KeyPath
    ) -> tuple[str, ...] | None:
        if key.name not in table:
            return None
        value = table[key.name]
        if not isinstance(value, list):
            self.expected((*path, key.name), key.items_expected, value)
            return None
        items: list[str] = []
        for index, item in enumerate(value):
            if isinstance(item, str) and (key.valid is None or key.valid(item)):
                items.append(item)
            else:
                self.expected((*path, key.name, index), key.expected, item)
        return tuple(items)
