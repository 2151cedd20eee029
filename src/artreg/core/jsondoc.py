"""Reading JSON documents that came back from a target: every input is hostile until checked.

One loader for every document artreg reads back (build manifests, the root
index and its pages, the lease, dir-store sidecars): bounded in size and in
nesting depth, integers bounded in digits, numbers finite, keys unique. Then
:class:`Fields` reads typed members, each problem reported with its path. Both
report through a ``fail`` function that turns a detail into the caller's
:class:`~artreg.errors.ArtregError` subclass (naming the object and the fix),
so nothing but that error type escapes a reader. Unknown members are ignored.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable
from typing import Any, NoReturn

from artreg.errors import ArtregError, Malformed

# Our documents nest five deep; unknown members may nest a little more.
MAX_JSON_DEPTH = 32
# Python refuses to convert longer digit strings (int_max_str_digits); stay well below.
MAX_INT_DIGITS = 40

Fail = Callable[[str], ArtregError]


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]!r} is out of range")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"integer of {len(text)} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"member {key[:80]!r} appears twice")
            seen.add(key)
    return data


def _depth_exceeds(document: object, limit: int) -> bool:
    level: list[Any] = [document] if type(document) is dict or type(document) is list else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        level = [
            child
            for node in level
            for child in (node.values() if type(node) is dict else node)
            if type(child) is dict or type(child) is list
        ]
    return False


def parse(body: bytes, *, max_bytes: int, max_depth: int = MAX_JSON_DEPTH) -> object:
    """Parse ``body`` as bounded, strict JSON, or raise :class:`Malformed`."""
    if len(body) > max_bytes:
        raise Malformed(f"{len(body)} bytes, more than the {max_bytes} a valid one can have")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Malformed(f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        document = json.loads(
            text,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
            parse_int=_bounded_int,
            object_pairs_hook=_unique_keys,
        )
    except json.JSONDecodeError as exc:
        raise Malformed(f"not JSON ({exc})") from None
    except ValueError as exc:
        raise Malformed(f"not valid JSON: {exc}") from None
    except RecursionError:
        raise Malformed(f"nested more than {max_depth} levels deep") from None
    if _depth_exceeds(document, max_depth):
        raise Malformed(f"nested more than {max_depth} levels deep")
    return document


def load(body: bytes, fail: Fail, *, max_bytes: int, max_depth: int = MAX_JSON_DEPTH) -> object:
    """:func:`parse`, reporting a problem as ``fail(detail)`` (the caller's error type)."""
    try:
        return parse(body, max_bytes=max_bytes, max_depth=max_depth)
    except Malformed as exc:
        raise fail(str(exc)) from None


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class Fields:
    """Typed access to the members of one JSON object; problems name their path."""

    def __init__(self, data: object, fail: Fail, path: str = "") -> None:
        self.fail = fail
        self.path = path
        if not isinstance(data, dict):
            where = path.rstrip(".") or "the document"
            raise fail(f"{where}: expected an object, found {_kind(data)}")
        self.data: dict[str, Any] = data

    def has(self, name: str) -> bool:
        return name in self.data

    def get(self, name: str) -> object:
        if name not in self.data:
            raise self.fail(f"{self.path}{name}: missing")
        return self.data[name]

    def bad(self, name: str, expected: str, found: object) -> ArtregError:
        return self.fail(f"{self.path}{name}: expected {expected}, found {_show(found)}")

    def string(self, name: str, *, default: str | None = None, max_length: int = 4096) -> str:
        if default is not None and name not in self.data:
            return default
        value = self.get(name)
        if not isinstance(value, str):
            raise self.bad(name, "a string", value)
        if len(value) > max_length:
            raise self.bad(name, f"a string of at most {max_length} characters", value)
        return value

    def optional_string(self, name: str, *, max_length: int = 4096) -> str | None:
        """A string or null (the member must be present)."""
        if self.get(name) is None:
            return None
        return self.string(name, max_length=max_length)

    def integer(self, name: str, minimum: int = 0, maximum: int | None = None) -> int:
        value = self.get(name)
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < minimum
            or (maximum is not None and value > maximum)
        ):
            bound = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
            raise self.bad(name, f"an integer {bound}", value)
        return value

    def array(self, name: str, *, default: list[Any] | None = None) -> list[Any]:
        if default is not None and name not in self.data:
            return default
        value = self.get(name)
        if not isinstance(value, list):
            raise self.bad(name, "an array", value)
        return value

    def objects(self, name: str, *, default: list[Any] | None = None) -> list[Fields]:
        """An array of objects, each as :class:`Fields` with its own path."""
        return [
            Fields(item, self.fail, f"{self.path}{name}[{n}].")
            for n, item in enumerate(self.array(name, default=default))
        ]

    def child(self, name: str) -> Fields:
        return Fields(self.get(name), self.fail, f"{self.path}{name}.")

    def time(self, name: str) -> dt.datetime:
        """An ISO-8601 instant in UTC (a naive time is taken as UTC)."""
        text = self.string(name, max_length=64)
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.timezone.utc)
            return moment.astimezone(dt.timezone.utc)
        except (ValueError, OverflowError):
            raise self.bad(name, "an ISO-8601 instant like 2025-06-01T12:00:00Z", text) from None


def _kind(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    return "a number"
