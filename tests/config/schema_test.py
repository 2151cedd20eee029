"""The shipped JSON Schema is the one generated from the description of the keys."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from config_cases import VALID

from artreg.config import keys, parse_config, schema, tomllib
from artreg.config.spec import Table
from artreg.errors import ConfigError


def test_the_shipped_schema_is_the_generated_one_byte_for_byte() -> None:
    shipped = resources.files("artreg").joinpath("artreg.schema.json").read_text("utf-8")
    assert shipped == schema.render(), (
        "src/artreg/artreg.schema.json is stale: run `make schema` "
        "(python -m artreg.config.schema > src/artreg/artreg.schema.json)"
    )


def test_the_module_prints_the_schema() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "artreg.config.schema"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert printed == schema.render()
    assert json.loads(printed)["$id"] == "urn:artreg:schema:artreg.toml"


def _tables(table: Table, path: str) -> list[tuple[str, Table]]:
    found = [(path, table)]
    for key in table.keys:
        if key.table is not None:
            found += _tables(key.table, f"{path}.{key.name}".strip("."))
    return found


def _schema_at(document: dict[str, object], path: str) -> dict[str, object]:
    node: dict[str, object] = document
    defs = document["$defs"]
    assert isinstance(defs, dict)
    for part in path.split(".") if path else []:
        properties = node["properties"]
        assert isinstance(properties, dict)
        node = properties[part]
        if part == "artifacts":
            node = defs["artifact"]
        elif part == "targets":
            node = defs["target"]
    return node


@pytest.mark.parametrize("path", [path for path, _ in _tables(keys.DOCUMENT, "")])
def test_each_table_of_the_schema_has_exactly_the_keys_the_checker_accepts(path: str) -> None:
    table = dict(_tables(keys.DOCUMENT, ""))[path]
    node = _schema_at(schema.generate(), path)
    properties = node["properties"]
    assert isinstance(properties, dict)
    assert list(properties) == list(table.names())
    assert node["additionalProperties"] is False


def _snippet_with_unknown_key(path: str) -> str:
    """A valid artreg.toml whose table at ``path`` holds one key nothing declares."""
    unknown = "undeclared_key_xyz = 1\n"
    if path == "":
        return unknown + VALID
    if path == "project":
        return VALID.replace("[project]\n", f"[project]\n{unknown}")
    if path == "artifacts":
        files = '[{ platform = "p", path = "f" }]'
        return f'{VALID}[[artifacts]]\nname = "b"\nfiles = {files}\n{unknown}'
    if path.startswith("targets"):
        inner = "" if path == "targets" else f"[targets.web{path.removeprefix('targets')}]\n"
        return f'{VALID}[targets.web]\ntype = "dir"\npath = "p"\n{inner}{unknown}'
    return f"[{path}]\n{unknown}{VALID}"


@pytest.mark.parametrize("path", [path for path, _ in _tables(keys.DOCUMENT, "")])
def test_a_key_the_description_does_not_declare_is_refused_by_checker_and_schema(
    path: str,
) -> None:
    text = _snippet_with_unknown_key(path)
    with pytest.raises(ConfigError, match="undeclared_key_xyz: unknown key"):
        parse_config(text, Path("artreg.toml"))
    validator = jsonschema.Draft202012Validator(schema.generate())
    assert not validator.is_valid(tomllib.loads(text))
