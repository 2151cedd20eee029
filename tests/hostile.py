"""Hostile JSON for the readers' fuzz tests: raw bytes, and valid documents made wrong.

:func:`mutated` takes a valid document and damages it the way a planted or
corrupted object would: one member (at any depth) replaced by a hostile token
written as raw JSON text (``1e999``, ``NaN``, a 5,000-digit integer, deep
nesting, a wrong type), removed, or joined by an unknown member.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

# Raw JSON text, spliced in where a value goes: numbers Python's json cannot
# hold or refuses, nesting deeper than any document, and ordinary wrong types.
HOSTILE_TOKENS = (
    "1e999",
    "-1e999",
    "NaN",
    "Infinity",
    "-Infinity",
    "1" * 5000,
    "-" + "9" * 5000,
    "1" * 41,
    "[" * 100_000 + "]" * 100_000,
    '{"a":' * 50_000 + "1" + "}" * 50_000,
    "[" * 40 + "]" * 40,
    "1.5",
    "-1",
    "0",
    "true",
    "null",
    "[]",
    "{}",
    '"x"',
    '"' + "x" * 10_000 + '"',
    '"\\u0000\\n"',
    '"\\ud800"',
    '"2025-13-45T99:99:99Z"',
    '"9999-12-31T23:59:59-23:59"',
    '"0001-01-01T00:00:00+14:00"',
    '"sha256:' + "0" * 64 + '"',
    '"../../etc/passwd"',
    "18446744073709551616",
)

_HOLE = "\u0000hole\u0000"

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a member or item of ``doc`` (the root excluded)."""
    found: list[tuple[Any, ...]] = []
    items = (
        doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    )
    for key, value in items:
        found.append((*prefix, key))
        found += _paths(value, (*prefix, key))
    return found


def _parent(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        doc = doc[key]
    return doc


@st.composite
def mutated(draw: st.DrawFn, valid: Any) -> bytes:
    """``valid`` (a JSON value) with one hostile change, as bytes."""
    doc = json.loads(json.dumps(valid))
    paths = _paths(doc)
    how = draw(st.sampled_from(["token", "value", "drop", "unknown"]))
    token: str | None = None
    if not paths or how == "unknown":
        target = doc
        if paths:
            containers = [p for p in paths if isinstance(_parent(doc, (*p, None)), dict)]
            if containers and draw(st.booleans()):
                target = _parent(doc, (*draw(st.sampled_from(containers)), None))
        if isinstance(target, dict):
            target[draw(st.text(min_size=1, max_size=8))] = draw(json_values)
        return json.dumps(doc).encode()
    path = draw(st.sampled_from(paths))
    parent = _parent(doc, path)
    if how == "drop":
        del parent[path[-1]]
    elif how == "value":
        parent[path[-1]] = draw(json_values)
    else:
        parent[path[-1]] = _HOLE
        token = draw(st.sampled_from(HOSTILE_TOKENS))
    text = json.dumps(doc)
    if token is not None:
        text = text.replace(json.dumps(_HOLE), token, 1)
    return text.encode()


raw_bytes = st.binary(max_size=300) | st.sampled_from(
    [t.encode() for t in HOSTILE_TOKENS] + [b"", b"\xff\xfe", b'{"a":1,"a":2}', b"[1,2", b"{}"]
)
