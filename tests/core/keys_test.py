"""``core.keys``: the one rule for the keys of a build, on the write and the read side."""

from __future__ import annotations

import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from artreg.core.keys import file_key, file_problem, key_problem, name_problem, platform_problem

TAG = "v1.0.0+feat"  # encoded as v1.0.0_feat

GOOD = [
    "v1.0.0_feat/linux/amd64/app",
    "v1.0.0_feat/linux/arm/v7/app.tar.gz",
    "v1.0.0_feat/x86_64-unknown-linux-musl/garage",
    "v1.0.0_feat/linux/amd64/.sig",
    "v1.0.0_feat/windows/amd64/Garage-Setup_1.0.exe",
    "v1.0.0_feat/linux/amd64/ünïcode",
]
BAD = [
    "//evil.example/x",
    "https://evil.example/x",
    "/v1.0.0_feat/linux/amd64/app",
    "../x",
    "v1.0.0_feat/../../x",
    "v1.0.0_feat/linux/../../app",
    "v1.0.0_feat/linux/amd64/..",
    "v1.0.0_feat/linux/amd64/.",
    "v1.0.0_feat/linux/./app",
    "v1.0.0_feat/./app",
    "v1.0.0_feat//app",
    "v1.0.0_feat/linux//amd64/app",
    "v1.0.0_feat/linux/amd64/",
    "v1.0.0_feat/app",
    "v1.0.0_feat/<script>/app",
    "v1.0.0_feat/linux/amd64/a b",
    "v1.0.0_feat/linux/amd64/a+b",
    "v1.0.0_feat/linux/amd64/a%2f",
    "v1.0.0_feat/linux/amd64/a?b",
    "v1.0.0_feat/linux/amd64/a#b",
    "v1.0.0_feat/linux/amd64/a\x00",
    "v1.0.0_feat/linux/amd64/a\u202eexe.txt",
    "v1.0.0_feat/.hidden/amd64/app",
    "v1.0.0_feat/a/b/c/d/app",  # four platform segments
    "v1.0.0/linux/amd64/app",  # another build's directory
    "v1.0.0+feat/linux/amd64/app",  # not encoded
    "_artreg/builds/v1.0.0_feat.json",
    "index.html",
    "v2/app/manifests/v1.0.0_feat",
]


@pytest.mark.parametrize("key", GOOD)
def test_good_keys(key: str) -> None:
    assert key_problem(TAG, key) is None


@pytest.mark.parametrize("key", BAD)
def test_bad_keys(key: str) -> None:
    assert key_problem(TAG, key) is not None


def test_names_and_platforms() -> None:
    assert name_problem("a+b") == (
        "contains '+', which breaks its download URL on a static website"
    )
    assert name_problem("..") == "'..' is not a file name"
    assert platform_problem("linux/arm/v7") is None
    assert platform_problem("x86_64-unknown-linux-musl") is None
    assert platform_problem("../..") is not None
    assert platform_problem("<script>") is not None
    assert platform_problem("a/b/c/d") is not None
    assert file_problem("v1.0.0", "linux/amd64", "app", "v1.0.0/linux/amd64/app") is None
    problem = file_problem("v1.0.0", "linux/amd64", "app", "//evil.example/x")
    assert problem == (
        "key '//evil.example/x': a build's file must be at 'v1.0.0/linux/amd64/app' "
        "(under its own build's directory v1.0.0/)"
    )
    assert file_problem("../x", "linux/amd64", "app", "../x/linux/amd64/app") is not None
    assert file_problem("_artreg", "index/dev", "1.json", "_artreg/index/dev/1.json")


@given(st.text(alphabet="v1.0_feat/ab.:%+?#<>\\\x00 -", max_size=40))
def test_an_accepted_key_resolves_inside_its_build(key: str) -> None:
    """Whatever the text, an accepted key stays in its build's directory once resolved."""
    if key_problem(TAG, key) is not None:
        return
    assert key.startswith("v1.0.0_feat/")
    segments = key.split("/")
    assert all(s not in ("", ".", "..") for s in segments)
    assert 3 <= len(segments) <= 5
    resolved = urllib.parse.urljoin("https://host/base/index.html", key)
    assert resolved.startswith("https://host/base/v1.0.0_feat/")
    assert key == file_key(TAG, "/".join(segments[1:-1]), segments[-1])
