"""The JSON Schema of ``artreg.toml``, generated from :mod:`artreg.config.keys`.

``python -m artreg.config.schema > src/artreg/artreg.schema.json`` (``make schema``)
writes the shipped file; a test proves the two are equal byte for byte.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from artreg.config import keys as k
from artreg.config import values as v
from artreg.config.model import GcSettings, IndexSettings
from artreg.config.spec import Key, Table, Variants
from artreg.core.keys import PLATFORM

JSON = dict[str, Any]
_NOT_CREDENTIAL = {"$ref": "#/$defs/notCredential"}
# What values.is_credential_key refuses, as one pattern on key names.
_CREDENTIAL_NAME = (
    "^(?:[Aa][Ww][Ss][_-])?(?:access[_-]key(?:[_-]id)?|secret(?:[_-](?:access[_-])?key)?|"
    "session[_-]token|password|passwd|token|credentials|api[_-]?key)$|"
    "[_-](?:secret|token|password|secret[_-]key|access[_-]key|api[_-]key)$"
)
# The defaults the model holds, shown in the schema.
_DEFAULTS = {
    ("index", "page_size"): IndexSettings().page_size,
    ("index", "newest"): IndexSettings().newest,
    ("gc", "max_delete_fraction"): GcSettings().max_delete_fraction,
}


def _key(key: Key, where: str) -> JSON:
    out: JSON = {"description": key.description} if key.description else {}
    if key.table is not None and not key.each:
        return _table(key.table, key.name)
    if key.each == "array":
        out |= {"type": "array", "items": {"$ref": f"#/$defs/{key.ref}"}}
    elif key.each == "named":
        out |= {
            "type": "object",
            "minProperties": 1,
            "propertyNames": dict(key.schema),
            "additionalProperties": {"$ref": f"#/$defs/{key.ref}"},
        }
    else:
        out |= key.value_schema()
    default = _DEFAULTS.get((where, key.name), key.default)
    if default is not None:
        out["default"] = default
    return out


def _table(table: Table, where: str, *, described: bool = True) -> JSON:
    out: JSON = {"type": "object"}
    if described and table.description:
        out["description"] = table.description
    out["properties"] = {key.name: _key(key, where) for key in table.keys}
    if table.required:
        out["required"] = list(table.required)
    out["additionalProperties"] = False
    if table.at_most_one:
        out["maxProperties"] = 1
    out["propertyNames"] = _NOT_CREDENTIAL
    for key, contradicted in table.conflicts.items():
        either = [{"required": [name]} for name in contradicted]
        out["dependentSchemas"] = {key: {"not": {"anyOf": either}}}
    if table.needs_flag is not None:
        names, flag = table.needs_flag
        out["if"] = {"anyOf": [{"required": [name]} for name in names]}
        out["then"] = {"required": [flag], "properties": {flag: {"const": True}}}
    if table.variants is not None:
        out |= _variants(table.variants)
    return out


def _variants(variants: Variants) -> JSON:
    first, second = variants.cases
    condition: JSON = {"properties": {variants.key: {"const": first.value}}}
    if variants.defaulted:
        condition = {"required": [variants.key], **condition}
    return {
        "if": condition,
        "then": {
            "required": list(first.required),
            "properties": dict.fromkeys(second.only, False),
        },
        "else": {
            "required": list(second.required),
            "properties": dict.fromkeys(first.only, False),
        },
    }


def _definitions() -> JSON:
    document = {key.name: key for key in k.DOCUMENT.keys}
    return {
        "notCredential": {
            "description": "Credentials never go in artreg.toml: use AWS_ACCESS_KEY_ID/"
            "AWS_SECRET_ACCESS_KEY, AWS_PROFILE or ~/.aws/credentials.",
            "not": {"pattern": _CREDENTIAL_NAME},
        },
        "duration": {"type": "string", "pattern": "^[0-9]+[smhdw]$"},
        "positiveDuration": {"type": "string", "pattern": "^0*[1-9][0-9]*[smhdw]$"},
        "safeName": {
            "type": "string",
            "maxLength": v.MAX_NAME_LENGTH,
            "pattern": f"^{v.ARTIFACT_NAME.pattern}$",
        },
        "platform": {
            "description": "Platform key: one to three segments of [A-Za-z0-9._-] separated by "
            "'/', e.g. linux/amd64, linux/arm/v7 or x86_64-unknown-linux-musl.",
            "type": "string",
            "maxLength": v.MAX_NAME_LENGTH,
            "pattern": f"^{PLATFORM.pattern}$",
        },
        "file": _table(k.FILE, "file"),
        "artifact": _table(k.ARTIFACT, "artifact"),
        "target": _table(document["targets"].table or k.TARGET, "target"),
    }


def generate() -> JSON:
    """The JSON Schema of artreg.toml."""
    document = _table(k.DOCUMENT, "", described=False)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:artreg:schema:artreg.toml",
        "title": "artreg.toml",
        "description": k.DOCUMENT.description,
        "type": "object",
        "properties": document["properties"],
        "additionalProperties": False,
        "propertyNames": _NOT_CREDENTIAL,
        "$defs": _definitions(),
    }


def render() -> str:
    """The shipped file's text: two-space indented JSON and a final newline."""
    return json.dumps(generate(), indent=2) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
