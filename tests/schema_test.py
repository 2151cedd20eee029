from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from config_cases import CASES, VALID, Case

from artreg.config import CREDENTIAL_KEYS, parse_config
from artreg.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((REPO / "docs" / "examples").glob("*.toml"))
SCHEMA_CASES = [case for case in CASES if case.schema]


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(resources.files("artreg").joinpath("artreg.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def schema_errors(validator: jsonschema.Draft202012Validator, text: str) -> list[str]:
    document: dict[str, Any] = tomllib.loads(text)
    return [error.message for error in validator.iter_errors(document)]


def test_the_schema_is_draft_2020_12_with_descriptions(
    validator: jsonschema.Draft202012Validator,
) -> None:
    schema = validator.schema
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    for name, prop in schema["properties"].items():
        assert prop.get("description"), name


def test_the_repository_config_is_valid(validator: jsonschema.Draft202012Validator) -> None:
    assert schema_errors(validator, (REPO / "artreg.toml").read_text()) == []


def test_there_are_documented_examples() -> None:
    assert {path.name for path in EXAMPLES} >= {"garage.toml", "minimal.toml"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_documented_examples_are_valid(
    validator: jsonschema.Draft202012Validator, path: Path
) -> None:
    assert schema_errors(validator, path.read_text()) == []


def test_the_valid_base_is_valid(validator: jsonschema.Draft202012Validator) -> None:
    assert schema_errors(validator, VALID) == []
    parse_config(VALID, Path("artreg.toml"))


@pytest.mark.parametrize("case", SCHEMA_CASES, ids=str)
def test_schema_and_loader_both_reject(
    validator: jsonschema.Draft202012Validator, case: Case
) -> None:
    assert schema_errors(validator, case.toml) != []
    with pytest.raises(ConfigError):
        parse_config(case.toml, Path("artreg.toml"))


@pytest.mark.parametrize("case", [case for case in CASES if not case.schema], ids=str)
def test_loader_only_cases_are_still_rejected_by_the_loader(case: Case) -> None:
    with pytest.raises(ConfigError):
        parse_config(case.toml, Path("artreg.toml"))


@pytest.mark.parametrize("key", sorted(CREDENTIAL_KEYS))
def test_credential_keys_are_rejected_by_name(
    validator: jsonschema.Draft202012Validator, key: str
) -> None:
    text = VALID.replace('type = "dir"', f'type = "dir"\n{key} = "x"')
    messages = schema_errors(validator, text)
    assert any("should not be valid under" in message for message in messages), messages


@pytest.mark.parametrize(
    "snippet",
    [
        '[tags.dev]\nexpire_after = "30d"',
        '[tags.release]\nallow_expire = true\nkeep_last = 5\nexpire_after = "365d"',
        '[tags.extra]\nkeep = "forever"\nprotect = ["v1.*", "v2.[01].*"]',
        '[tags.dev]\nmatch = "dev-[0-9]+"\nexamples = ["dev-1"]',
        '[tags]\nprefix = ""',
        '[[artifacts]]\nname = "img"\ntype = "oci"\npath = "x.tar"\nrepository = "a/b__c.d"',
        '[targets.web]\ntype = "s3"\nbucket = "b"\nprefix = "a/b/"\nprofile = "ci"\n'
        'endpoint = "http://127.0.0.1:9000"\nregion = "garage"',
        '[targets.web]\ntype = "s3"\nbucket = "b"\nendpoint = "https://[::1]:65535/base/path"\n'
        'ca_bundle = "certs/company-ca.pem"',
        '[targets.web]\ntype = "s3"\nbucket = "b"\nendpoint = "http://minio_1:9000/"',
        '[targets.token]\ntype = "dir"\npath = "p"\n[targets.token.tags.dev]\nkeep_last = 1',
        '[gc]\ngrace_period = "0s"\nmax_delete_fraction = 1',
    ],
)
def test_schema_and_loader_both_accept(
    validator: jsonschema.Draft202012Validator, snippet: str
) -> None:
    assert schema_errors(validator, snippet) == []
    parse_config(snippet, Path("artreg.toml"))


# --- the stored documents' schemas agree with the spec and the readers ---------------------------

DOCUMENT_SCHEMAS = ("manifest.schema.json", "page.schema.json", "root.schema.json")


def document_validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((REPO / "docs" / "schemas" / name).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def read_document(name: str, doc: object) -> object:
    """What artreg's reader makes of ``doc``; raises ArtregError when it refuses it."""
    from artreg.core.index import parse_page, parse_root
    from artreg.core.manifest import build_from_json

    readers = {
        "manifest.schema.json": build_from_json,
        "page.schema.json": parse_page,
        "root.schema.json": parse_root,
    }
    return readers[name](doc, "example")


def member_paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every member of every object in ``doc``."""
    found: list[tuple[Any, ...]] = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            found += [(*prefix, key), *member_paths(value, (*prefix, key))]
    elif isinstance(doc, list):
        for n, value in enumerate(doc):
            found += member_paths(value, (*prefix, n))
    return found


def with_unknown_members(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {**{k: with_unknown_members(v) for k, v in doc.items()}, "x-later": {"a": [1]}}
    if isinstance(doc, list):
        return [with_unknown_members(v) for v in doc]
    return doc


def example(name: str) -> Any:
    return json.loads((REPO / "docs" / "schemas" / name).read_text())["examples"][0]


@pytest.mark.parametrize("name", DOCUMENT_SCHEMAS)
def test_unknown_members_are_allowed_by_schema_and_reader(name: str) -> None:
    """Readers ignore members they do not know (spec section 8); so do the schemas."""
    doc = example(name)
    extended = with_unknown_members(doc)
    assert list(document_validator(name).iter_errors(extended)) == []
    assert read_document(name, extended) == read_document(name, doc)


@pytest.mark.parametrize("name", DOCUMENT_SCHEMAS)
def test_schema_and_reader_require_the_same_members(name: str) -> None:
    """Dropping any one member: the schema and the reader accept or refuse it together."""
    from artreg.errors import ArtregError

    doc = example(name)
    disagree = []
    for path in member_paths(doc):
        damaged = json.loads(json.dumps(doc))
        parent = damaged
        for part in path[:-1]:
            parent = parent[part]
        del parent[path[-1]]
        schema_ok = document_validator(name).is_valid(damaged)
        try:
            read_document(name, damaged)
            reader_ok = True
        except ArtregError:
            reader_ok = False
        if schema_ok != reader_ok:
            disagree.append((path, schema_ok, reader_ok))
    assert disagree == []


def test_starts_is_required() -> None:
    doc = example("root.schema.json")
    del doc["categories"]["dev"]["starts"]
    assert not document_validator("root.schema.json").is_valid(doc)
    from artreg.core.index import InvalidIndex

    with pytest.raises(InvalidIndex, match=r"categories\.dev\.starts: missing"):
        read_document("root.schema.json", doc)


def test_reclassified_builds_are_in_the_root_schema() -> None:
    doc = {**example("root.schema.json"), "reclassified": {"v0.9.0": "release"}}
    assert document_validator("root.schema.json").is_valid(doc)
    doc["reclassified"] = {"v0.9.0": "stable"}
    assert not document_validator("root.schema.json").is_valid(doc)
