"""The one loader for documents read back from a target: bounded, strict, one error type."""

from __future__ import annotations

import contextlib
import json

import pytest
from fuzzing import fuzz
from hostile import HOSTILE_TOKENS, json_values, raw_bytes
from hypothesis import given

from artreg.core.jsondoc import MAX_JSON_DEPTH, Fields, load, parse
from artreg.errors import ArtregError, Malformed


class Planted(ArtregError):
    pass


def fail(detail: str) -> Planted:
    return Planted(f"obj.json: {detail}")


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b'{"size": 1e999}', "not valid JSON: number '1e999' is out of range"),
        (b'{"size": -1e999}', "not valid JSON: number '-1e999' is out of range"),
        (b'{"size": NaN}', "not valid JSON: NaN is not a JSON number"),
        (b'{"size": Infinity}', "not valid JSON: Infinity is not a JSON number"),
        (b'{"size": -Infinity}', "not valid JSON: -Infinity is not a JSON number"),
        (b'{"size": ' + b"1" * 5000 + b"}", "not valid JSON: integer of 5000 digits (at most 40)"),
        (b"[" * 100_000 + b"]" * 100_000, "nested more than 32 levels deep"),
        (b"[" * 33 + b"]" * 33, "nested more than 32 levels deep"),
        (b'{"a": 1, "a": 2}', "not valid JSON: member 'a' appears twice"),
        (b"\xff{}", "not UTF-8"),
        (b"{", "not JSON (Expecting property name"),
    ],
)
def test_hostile_documents_are_one_error_naming_the_object(body: bytes, detail: str) -> None:
    with pytest.raises(Planted) as caught:
        load(body, fail, max_bytes=1 << 20)
    assert caught.value.message.startswith(f"obj.json: {detail}")


def test_size_is_bounded_before_parsing() -> None:
    with pytest.raises(Planted, match=r"obj\.json: 11 bytes, more than the 10"):
        load(b'"123456789"', fail, max_bytes=10)


def test_limits_leave_real_documents_alone() -> None:
    nested: object = 1
    for _ in range(MAX_JSON_DEPTH - 1):
        nested = [nested]
    doc = {"n": 2**63 - 1, "f": 1.5e300, "deep": nested, "s": "\u00e9"}
    assert load(json.dumps(doc).encode(), fail, max_bytes=1 << 20) == doc


@fuzz()
@given(raw_bytes)
def test_raw_bytes_give_a_document_or_malformed(body: bytes) -> None:
    with contextlib.suppress(Malformed):
        parse(body, max_bytes=1 << 20)


@fuzz()
@given(json_values)
def test_real_json_round_trips(value: object) -> None:
    assert parse(json.dumps(value).encode(), max_bytes=1 << 20) == value


@fuzz()
@given(json_values, json_values)
def test_fields_raise_only_the_callers_error(data: object, member: object) -> None:
    doc = {"a": member} if not isinstance(data, dict) else {**data, "a": member}
    fields = Fields(doc, fail)
    readers = [
        lambda: fields.string("a"),
        lambda: fields.optional_string("a"),
        lambda: fields.integer("a", 0, 10),
        lambda: fields.array("a"),
        lambda: fields.objects("a"),
        lambda: fields.child("a"),
        lambda: fields.time("a"),
        lambda: fields.string("missing"),
    ]
    for read in readers:
        try:
            read()
        except Planted as exc:
            assert exc.message.startswith("obj.json: ")


def test_fields_name_the_path() -> None:
    fields = Fields({"files": [{"size": "12"}]}, fail)
    with pytest.raises(Planted, match=r"obj.json: files\[0\].size: expected an integer >= 0"):
        fields.objects("files")[0].integer("size")
    with pytest.raises(Planted, match=r"obj\.json: the document: expected an object, found null"):
        Fields(None, fail)


def test_every_hostile_token_is_refused_or_read() -> None:
    for token in HOSTILE_TOKENS:
        with contextlib.suppress(Malformed):
            parse(token.encode(), max_bytes=1 << 20)
