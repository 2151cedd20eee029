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
