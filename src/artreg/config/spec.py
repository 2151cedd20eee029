"""The vocabulary the description of ``artreg.toml`` is written in: keys, tables, cases."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from artreg.config.values import Validator

Kind = Literal["string", "integer", "fraction", "boolean", "duration", "strings", "other"]
JSON = dict[str, Any]


@dataclass(frozen=True)
class Key:
    """One key: its value's rule for the checker and for the schema, and its description."""

    name: str
    kind: Kind
    description: str = ""
    expected: str = "a non-empty string"  # the checker's "expected ..., got ..." text
    valid: Validator | None = None  # strings (and each item of strings)
    schema: Mapping[str, Any] = field(default_factory=dict)  # the value's JSON Schema
    default: object = None  # shown in the schema
    low: int | None = None  # integers
    high: int | None = None
    positive: bool = False  # durations: '0s' refused
    missing: str | None = None  # required: the text after "missing; "
    items_expected: str = ""  # strings: when the value is not an array
    table: Table | None = None  # a table (or, with ``each``, tables) of keys
    each: Literal["", "array", "named"] = ""  # [[artifacts]] / [targets.NAME]
    ref: str = ""  # the table's name under the schema's $defs

    def value_schema(self) -> JSON:
        """The JSON Schema of the value, derived from the kind where it can be."""
        if self.kind == "integer":
            out: JSON = {"type": "integer", "minimum": self.low}
            return out if self.high is None else {**out, "maximum": self.high}
        if self.kind == "boolean":
            return {"type": "boolean"}
        if self.kind == "duration":
            return {"$ref": "#/$defs/positiveDuration" if self.positive else "#/$defs/duration"}
        if self.kind == "fraction":
            return {"type": "number", "exclusiveMinimum": 0, "maximum": 1}
        return dict(self.schema)

    def expected_text(self) -> str:
        if self.kind == "integer":
            if self.high is None:
                return f"an integer >= {self.low}"
            return f"an integer from {self.low} to {self.high}"
        if self.kind == "boolean":
            return "true or false"
        if self.kind == "fraction":
            return "a number > 0 and <= 1"
        return self.expected


@dataclass(frozen=True)
class Case:
    """One value of a table's discriminating key (``type``) and the keys only it has."""

    value: str
    only: tuple[str, ...]  # keys that apply only to this case
    required: tuple[str, ...]
    elsewhere: str  # the message for one of ``only`` in another case


@dataclass(frozen=True)
class Variants:
    """A table whose ``key`` chooses between two cases (the schema's if/then/else)."""

    key: str
    cases: tuple[Case, Case]
    defaulted: bool = False  # the key may be absent, meaning the second case


@dataclass(frozen=True)
class Table:
    """A table's keys, in the order the checker lists them, and rules across them."""

    description: str
    keys: tuple[Key, ...]
    hints: Mapping[str, str] = field(default_factory=dict)  # refused keys, each with its fix
    required: tuple[str, ...] = ()
    variants: Variants | None = None
    conflicts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # key -> contradicted
    # (keys, flag): setting any of keys needs flag = true
    needs_flag: tuple[tuple[str, ...], str] | None = None
    at_most_one: bool = False

    def names(self) -> tuple[str, ...]:
        return tuple(key.name for key in self.keys)

    def key(self, name: str) -> Key:
        for key in self.keys:
            if key.name == name:
                return key
        raise KeyError(name)

    def only(self, *names: str) -> Table:
        """This table restricted to ``names`` (a target's overrides)."""
        return Table(self.description, tuple(k for k in self.keys if k.name in names))
