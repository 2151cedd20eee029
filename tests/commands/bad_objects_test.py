"""Objects planted or damaged in a target: every command answers with one error, never a bug.

A number no reader can hold (``1e999``, a 5,000-digit integer) or nesting
deeper than any document is spliced into a real manifest, root index, page or
lease, on a dir target and on moto. ``verify``, ``gc``, ``ls`` and ``apply``
must exit 0 or 1 (never 3, a traceback) and name the damaged object; a
damaged manifest is never silently taken for a build, a damaged index
document is rebuilt, a damaged lease is taken over.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import hypothesis
import pytest
from fuzzing import fuzz
from hostile import mutated, raw_bytes
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from publishing import Site, check_references, make_site

from artreg.stores import PutRequest

TOKENS = {
    "inf": "1e999",
    "digits": "1" * 5000,
    "nesting": "[" * 100_000 + "]" * 100_000,
}
MANIFEST = "_artreg/builds/v1.0.0.json"
ROOT = "index.json"
PAGE = "_artreg/index/release/1.json"
LEASE = "_artreg/lease.json"
NOW = "2025-06-01T12:00:00Z"


def plant(site: Site, key: str, token: str) -> None:
    store = site.store()
    if key == LEASE:
        body = b'{"holder": "x", "token": "t", "acquired": ' + token.encode() + b', "expires": 1}'
    else:
        text = store.get(key).decode()
        # The first "size" of a file, or the count of a page/root: always a number.
        text, n = re.subn(r'"(size|count|page)":\s*\d+', rf'"\1": {token}', text, count=1)
        assert n == 1
        body = text.encode()
    store.put(PutRequest(key, body, "application/json"))


# Every token on the dir target; one on moto, whose requests are slow (the readers are shared).
CASES = [*(("dir", token) for token in TOKENS), ("moto", "nesting")]


@pytest.fixture
def site(request: pytest.FixtureRequest, tmp_path: Path, case: tuple[str, str]) -> Site:
    site = make_site(request, tmp_path, case[0], page_size=2)
    for tag in ("v1.0.0", "v1.1.0", "a" * 40):
        site.publish(tag)
    return site


@pytest.mark.parametrize("case", CASES, ids="-".join)
def test_a_damaged_manifest_is_named_by_every_command(site: Site, case: tuple[str, str]) -> None:
    plant(site, MANIFEST, TOKENS[case[1]])
    named = f"{MANIFEST}: not a valid artreg build manifest: "
    for args in (["verify"], ["gc"], ["ls"]):
        result = site.run(*args, "--target", "test")
        assert result.code == 1, (args, result.err)
        assert named in result.out + result.err, args
        assert "Traceback" not in result.err
    # Publishing another build is not blocked: the damaged one is left out of the index.
    site.write_build("b")
    result = site.run("apply", "--target", "test", "--tag", "v1.2.0", "--now", NOW)
    assert result.code == 0, result.err
    assert named in result.err
    result = site.run("verify", "--target", "test")
    assert result.code == 1
    assert [line for line in result.out.splitlines() if MANIFEST in line] == [
        line for line in result.out.splitlines() if line.startswith(f"{site.store().description}")
    ]


@pytest.mark.parametrize("case", CASES, ids="-".join)
@pytest.mark.parametrize("key", [ROOT, PAGE])
def test_a_damaged_index_document_is_reported_then_rebuilt(
    site: Site, key: str, case: tuple[str, str]
) -> None:
    plant(site, key, TOKENS[case[1]])
    result = site.run("verify", "--target", "test")
    assert result.code == 1
    assert any(
        line.startswith(f"{key}: not a valid artreg index document: ")
        for line in result.out.splitlines()
    ), result.out
    for args in (["ls"], ["gc"]):
        result = site.run(*args, "--target", "test")
        assert result.code == 0, (args, result.err)
    site.write_build("b")
    result = site.run("apply", "--target", "test", "--tag", "v1.2.0", "--now", NOW)
    assert result.code == 0, result.err
    assert site.run("verify", "--target", "test").code == 0
    assert check_references(site.store()) == []


@pytest.mark.parametrize("case", CASES, ids="-".join)
def test_a_damaged_lease_is_taken_over(site: Site, case: tuple[str, str]) -> None:
    plant(site, LEASE, TOKENS[case[1]])
    site.write_build("b")
    result = site.run("apply", "--target", "test", "--tag", "v1.2.0", "--now", NOW)
    assert result.code == 0, result.err
    assert site.run("verify", "--target", "test").code == 0


@pytest.fixture(scope="module")
def sites() -> dict[str, Site]:
    return {}


@hypothesis.settings(
    fuzz(), suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(data=st.data(), key=st.sampled_from([MANIFEST, ROOT, PAGE]))
def test_fuzzed_objects_never_crash_verify_ls_or_gc(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sites: dict[str, Site],
    data: st.DataObject,
    key: str,
) -> None:
    if "dir" not in sites:  # one published target for every example; each restores what it plants
        sites["dir"] = make_site(request, tmp_path_factory.mktemp("fuzzed"), "dir", page_size=2)
        for tag in ("v1.0.0", "v1.1.0", "a" * 40):
            sites["dir"].publish(tag)
    site = sites["dir"]
    store = site.store()
    original = store.get(key)
    body = data.draw(mutated(json.loads(original)) | raw_bytes)
    store.put(PutRequest(key, body, "application/json"))
    try:
        for args in (["verify"], ["ls"], ["gc", "--dry-run"]):
            result = site.run(*args, "--target", "test")
            assert result.code in (0, 1), (args, result.err)
            assert "Traceback" not in result.err
    finally:
        store.put(PutRequest(key, original, "application/json"))
