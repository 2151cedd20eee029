"""``[project] repository``/``site_url``, ``[signing]`` and ``[latest]`` (issue 11)."""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from artreg.config import SiteSettings, parse_config
from artreg.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

FILE = Path("/src/garage/artreg.toml")


def schema_valid(text: str) -> bool:
    schema = json.loads(resources.files("artreg").joinpath("artreg.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema).is_valid(tomllib.loads(text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", SiteSettings()),
        (
            '[project]\nname = "garage"\nrepository = "https://github.com/deuxfleurs/garage"\n'
            'site_url = "https://dl.example.org/garage"\n',
            SiteSettings(
                repository="https://github.com/deuxfleurs/garage",
                site_url="https://dl.example.org/garage/",
            ),
        ),
        ('[signing]\nkey_env = "ARTREG_SIGNING_KEY"\n', SiteSettings(key_env="ARTREG_SIGNING_KEY")),
        ('[signing]\nkey_file = "~/.ssh/release"\n', SiteSettings(key_file="~/.ssh/release")),
        ('[latest]\nextras = "latest-rc"\n', SiteSettings(latest_extras="latest-rc")),
    ],
)
def test_valid(text: str, expected: SiteSettings) -> None:
    config = parse_config(text, FILE)
    assert config.site == expected
    assert config.site.signing == (expected.key_env is not None or expected.key_file is not None)
    assert schema_valid(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[project]\nrepository = "github.com/a/b"\n',
            "artreg.toml:2: project.repository: expected the repository's https URL",
        ),
        (
            '[project]\nrepository = "https://github.com/a/b?tab=1"\n',
            "project.repository: expected",
        ),
        ('[project]\nsite_url = "ftp://x/"\n', "project.site_url: expected the http(s) URL"),
        (
            '[project]\nsite_url = "https://user:pw@x/"\n',
            "project.site_url: expected the http(s) URL",
        ),
        (
            '[signing]\nkey_env = "-----BEGIN OPENSSH PRIVATE KEY-----"\n',
            "signing.key_env: expected the NAME of an environment variable",
        ),
        (
            '[signing]\nkey_file = "-----BEGIN OPENSSH PRIVATE KEY-----\\nb3Blbn"\n',
            "signing.key_file: expected the path of an OpenSSH private key file",
        ),
        ('[signing]\nkey_env = "K"\nkey_file = "k"\n', "set key_env or key_file, not both"),
        ('[signing]\nkey = "x"\n', "signing.key: unknown key"),
        ('[latest]\nextras = "latest"\n', "latest.extras: expected a directory name"),
        ('[latest]\nextras = "v2"\n', "latest.extras: expected a directory name"),
        ('[latest]\nextras = "../x"\n', "latest.extras: expected a directory name"),
        ('[latest]\nextras = "v1.0.0"\n', "latest.extras: expected a directory name"),
        ('[latest]\nextras = "rc"\n', "latest.extras: expected a directory name"),
        ('[latest]\nextras = "_artreg"\n', "latest.extras: expected a directory name"),
        ('[latest]\nextras = "latest-rc/x"\n', "latest.extras: expected a directory name"),
        ('[latest]\nextras = "latest-.."\n', "latest.extras: expected a directory name"),
        ('[latest]\nextra = "latest-rc"\n', "latest.extra: unknown key; did you mean 'extras'?"),
    ],
)
def test_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, FILE)
    assert message in caught.value.message
    if "is a tag's directory" not in message:  # the schema cannot classify tags
        assert not schema_valid(text)
