from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import semver
from fuzzing import fuzz
from hypothesis import assume, given
from hypothesis import strategies as st
from precedence import sort_by_precedence

from artreg.core.tags import (
    Category,
    Convention,
    classify,
    compile_pattern,
    decode_tag,
    encode_tag,
    suggest,
    unsafe_reason,
)
from artreg.errors import PatternError

V = Convention()
BARE = Convention(prefix="")
FIXTURES = Path(__file__).parent.parent / "fixtures"


@pytest.mark.parametrize(
    ("tag", "category"),
    [
        ("v0.8.2", Category.RELEASE),
        ("v0.10.0", Category.RELEASE),
        ("v1.0.0-rc.1", Category.EXTRA),
        ("v0.8.0-rc1", Category.EXTRA),
        ("v0.8.2+feat", Category.EXTRA),
        ("v1.0.0-beta+exp.sha.5114f85", Category.EXTRA),
        ("02e8eb167efa1f08d69fe7f8e6192cde726c45aa", Category.DEV),
        ("v0.8-rc2", Category.INVALID),
        ("V1.2.3", Category.INVALID),
        ("v1.2.03", Category.INVALID),
        ("1.2.3", Category.INVALID),
        ("v1.2.3.4", Category.INVALID),
        ("02E8EB167EFA1F08D69FE7F8E6192CDE726C45AA", Category.INVALID),
        ("02e8eb1", Category.INVALID),
        ("latest", Category.INVALID),
    ],
)
def test_classify_table(tag: str, category: Category) -> None:
    assert classify(tag, V).category is category


@pytest.mark.parametrize(
    ("tag", "suggestion"),
    [
        ("v0.8-rc2", "v0.8.0-rc2"),
        ("V1.2.3", "v1.2.3"),
        ("v1.2.03", "v1.2.3"),
        ("1.2.3", "v1.2.3"),
        ("v1", "v1.0.0"),
        ("v1.2.3rc1", "v1.2.3-rc1"),
        ("v1.0.0-rc.01", "v1.0.0-rc.1"),
        (" v1.2.3", "v1.2.3"),
        ("02E8EB167EFA1F08D69FE7F8E6192CDE726C45AA", "02e8eb167efa1f08d69fe7f8e6192cde726c45aa"),
        ("v1.2.3.4", None),
        ("latest", None),
        ("release/1.2.3", None),
    ],
)
def test_suggestions(tag: str, suggestion: str | None) -> None:
    result = classify(tag, V)
    assert result.category is Category.INVALID
    assert result.suggestion == suggestion


def test_bare_semver_prefix() -> None:
    assert classify("1.2.3", BARE).category is Category.RELEASE
    assert classify("v1.2.3", BARE).suggestion == "1.2.3"


@pytest.mark.parametrize(
    ("tag", "reason"),
    [
        ("", "the empty string is not a tag"),
        ("v1.2.3/x", "contains '/', which would nest it in the bucket"),
        ("a..b", "contains '..'"),
        ("v1.2.3 x", "contains whitespace"),
        ("v1.2.3\x07", "contains the control character U+0007"),
        ("v1:2", "contains ':'; only letters, digits, '.', '_', '-' and '+' are allowed"),
        ("-v1", "starts with '-'; a tag starts with a letter, a digit or '_'"),
        ("x" * 129, "is 129 characters long; at most 128 are allowed"),
        ("v1.", "ends with '.'"),
        ("_artreg", "is reserved: artreg keeps its own documents under _artreg/"),
        ("v2", "is reserved: artreg keeps its OCI images under v2/"),
    ],
)
def test_unsafe_tags_have_exact_reasons(tag: str, reason: str) -> None:
    assert unsafe_reason(tag) == reason
    # Whatever the dev rule says, an unsafe tag is refused.
    assert classify(tag, Convention(dev_match=r".*")).reason == reason


def test_reasons_and_messages() -> None:
    result = classify("v0.8-rc2", V)
    assert result.describe() == (
        "tag 'v0.8-rc2': not semver (v<MAJOR>.<MINOR>.<PATCH>[-<PRERELEASE>][+<BUILD>]); "
        "did you mean 'v0.8.0-rc2'?"
    )
    assert classify("1.2.3", V).reason == "missing the prefix 'v'"
    assert classify("latest", V).reason == (
        "neither a version (v<MAJOR>.<MINOR>.<PATCH>[-<PRERELEASE>][+<BUILD>]) "
        "nor a dev build id (matching '[0-9a-f]{40}')"
    )


def test_garage_fixture() -> None:
    expected = {
        "v0.7.3": "release",
        "v0.8.0": "release",
        "v0.8.1": "release",
        "v0.8.2": "release",
        "v0.8.0-beta1": "extra",
        "v0.8.0-beta2": "extra",
        "v0.8.0-rc1": "extra",
        "v0.8.0-rc2": "extra",
        "02e8eb167efa1f08d69fe7f8e6192cde726c45aa": "dev",
        "fcc5033466e58e3beec05ee7748d33522b6b32b0": "dev",
        "v0.8-rc2": "invalid",
    }
    lines = (FIXTURES / "garage-tags.txt").read_text().splitlines()
    tags = [line for line in lines if line and not line.startswith("#")]
    assert sorted(tags) == sorted(expected)
    for tag in tags:
        assert classify(tag, V).category.value == expected[tag], tag
    assert classify("v0.8-rc2", V).suggestion == "v0.8.0-rc2"


def test_sorting_is_semver_not_string() -> None:
    tags = ["v0.9.0", "v0.10.0", "v0.8.0-rc1", "v0.8.0", "v0.8.0-beta2", "v0.8.0-rc10"]
    assert sort_by_precedence(tags, V) == [
        "v0.8.0-beta2",
        "v0.8.0-rc1",
        "v0.8.0-rc10",
        "v0.8.0",
        "v0.9.0",
        "v0.10.0",
    ]


def test_extra_match_restricts_labels() -> None:
    convention = Convention(extra_match=r"v\d+\.\d+\.\d+-rc\.\d+")
    assert classify("v1.0.0-rc.1", convention).category is Category.EXTRA
    refused = classify("v1.0.0-beta", convention)
    assert refused.category is Category.INVALID
    assert refused.reason is not None and "tags.extra.match" in refused.reason


def test_plus_mapping_round_trips_and_never_collides() -> None:
    assert encode_tag("v0.8.2+feat") == "v0.8.2_feat"
    assert decode_tag("v0.8.2_feat", V) == "v0.8.2+feat"
    permissive = Convention(dev_match=r"[A-Za-z0-9._+-]+")
    # A dev tag that reads as a version once '_' is taken for '+' is refused...
    assert classify("v0.8.2_feat", permissive).category is Category.INVALID
    # ...and so is any dev tag with '+', which only semver build metadata may use.
    assert classify("main+1", permissive).category is Category.INVALID
    assert classify("feature_x", permissive).category is Category.DEV


def test_underscore_in_the_prefix_is_not_read_as_plus() -> None:
    convention = Convention(prefix="rel_", dev_match=r"[A-Za-z0-9._-]+")
    assert encode_tag("rel_1.0.0+b1") == "rel_1.0.0_b1"
    assert decode_tag("rel_1.0.0_b1", convention) == "rel_1.0.0+b1"
    assert decode_tag("rel_1.0.0", convention) == "rel_1.0.0"
    refused = classify("rel_1.0.0_b1", convention)
    assert refused.category is Category.INVALID
    assert refused.reason is not None and "'rel_1.0.0+b1'" in refused.reason


# --- properties -------------------------------------------------------------

numbers = st.integers(min_value=0, max_value=10**6)
identifier = st.from_regex(r"[0-9A-Za-z-]{1,8}", fullmatch=True)
numeric_ok = identifier.filter(lambda s: not (s.isdigit() and len(s) > 1 and s[0] == "0"))
pre = st.lists(numeric_ok, min_size=1, max_size=3).map(".".join)
build = st.lists(identifier, min_size=1, max_size=3).map(".".join)


@st.composite
def versions(draw: st.DrawFn) -> semver.Version:
    return semver.Version(
        draw(numbers),
        draw(numbers),
        draw(numbers),
        prerelease=draw(st.none() | pre),
        build=draw(st.none() | build),
    )


@given(versions(), st.sampled_from(["v", "", "release-"]))
def test_every_semver_behind_the_prefix_is_release_or_extra(
    version: semver.Version, prefix: str
) -> None:
    tag = prefix + str(version)
    assume(len(tag) <= 128)
    result = classify(tag, Convention(prefix=prefix))
    expected = (
        Category.RELEASE if version.prerelease is None and version.build is None else Category.EXTRA
    )
    assert result.category is expected


@given(st.lists(versions(), min_size=1, max_size=12))
def test_sorting_equals_semver_precedence(items: list[semver.Version]) -> None:
    tags = [f"v{v}" for v in items]
    ordered = [semver.Version.parse(t[1:]) for t in sort_by_precedence(tags, V)]
    for a, b in itertools.pairwise(ordered):
        assert a.compare(b) <= 0


unsafe_char = st.sampled_from(["/", " ", "\t", "\n", "\x00", "\x1f", "\x7f", "\u2028", "\xa0"])


@given(st.text(max_size=20), unsafe_char, st.text(max_size=20))
def test_nothing_unsafe_is_ever_accepted(head: str, bad: str, tail: str) -> None:
    tag = head + bad + tail
    anything = Convention(dev_match=r"(?s).*")
    assert classify(tag, anything).category is Category.INVALID
    assert classify(head + ".." + tail, anything).category is Category.INVALID


@given(st.text(alphabet=st.characters(codec="ascii"), max_size=24))
def test_suggestions_are_themselves_valid(tag: str) -> None:
    for convention in (V, BARE):
        suggestion = suggest(tag, convention)
        if suggestion is not None:
            assert classify(suggestion, convention).valid
            assert suggestion != tag


@given(st.from_regex(r"v?[0-9]{1,3}(\.[0-9]{1,3}){0,2}(-?rc[0-9]{1,2})?", fullmatch=True))
def test_near_miss_versions_get_a_suggestion(tag: str) -> None:
    result = classify(tag, V)
    if not result.valid:
        assert result.suggestion is not None
        assert re.fullmatch(r"v\d+\.\d+\.\d+(-rc\d+)?", result.suggestion)


@given(versions())
def test_encoded_tags_are_oci_tags_and_decode(version: semver.Version) -> None:
    tag = f"v{version}"
    assume(len(tag) <= 128)
    encoded = encode_tag(tag)
    assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}", encoded)
    assert decode_tag(encoded, V) == tag


# --- bounded work on hostile tags and patterns ---

# Patterns that make a backtracking engine take exponential (or high polynomial) time
# on a short tag that almost matches; with RE2 each runs in time linear in the tag.
CATASTROPHIC = [
    (r"^(a+)+$", "a" * 60 + "b"),
    (r"(a|a)*b", "a" * 60),
    (r"(a*)*c", "a" * 60),
    (r"(\w+\s?)+$", "a" * 60 + "-"),
    (r"(a|aa)+$", "a" * 80 + "b"),
    (r"(.*a){20}", "a" * 60),
    (r"([a-z0-9]+-?)+x", "a" * 60),
    (r"(x+x+)+y", "x" * 60),
]


def test_catastrophic_patterns_run_in_linear_time(tmp_path: Path) -> None:
    # The issue's `^(a+)+$` took exponential time on a 60-character tag in hooks,
    # CI and on every listed key. Work, not time, is what is bounded: the timeout
    # is only a safety net (a backtracking engine would not finish in a lifetime).
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import json, sys\n"
        "from artreg.core.tags import Convention, classify, classify_is_valid, suggest\n"
        "out = []\n"
        "for pattern, tag in json.loads(sys.argv[1]):\n"
        "    for convention in (Convention(dev_match=pattern),\n"
        "                       Convention(extra_match=pattern)):\n"
        "        for candidate in (tag, 'v1.0.0-' + tag, tag.upper()):\n"
        "            out.append(classify(candidate, convention).category.value)\n"
        "            classify_is_valid(candidate, convention)\n"
        "            suggest(candidate, convention)\n"
        "print(json.dumps(out))\n"
    )
    proc = subprocess.run(
        [sys.executable, str(probe), json.dumps(CATASTROPHIC)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)) == len(CATASTROPHIC) * 6


@pytest.mark.parametrize(("pattern", "tag"), CATASTROPHIC)
def test_catastrophic_patterns_still_mean_what_they_say(pattern: str, tag: str) -> None:
    convention = Convention(dev_match=pattern)
    expected = re.fullmatch(pattern, tag[:8]) is not None  # short: fine to backtrack
    assert (classify(tag[:8], convention).category is Category.DEV) == expected


@pytest.mark.parametrize("pattern", [r"(?=a)a+", r"(a)\1", r"(?<!x)a", r"a{1001}", "[0-9"])
def test_patterns_re2_cannot_run_are_refused(pattern: str) -> None:
    with pytest.raises(PatternError):
        compile_pattern(pattern)


@pytest.mark.parametrize(
    "tag",
    [
        "v" + "1" * 5000,
        "1" * 5000,
        "v1." + "2" * 5000 + ".3",
        "v1.2.3-" + "0" * 5000,
        "V" + "9" * 4301 + ".0.0",
        " v" + "1" * 5000 + " ",
        "a" * 100_000,
    ],
)
def test_overlong_tags_are_refused_before_parsing(tag: str) -> None:
    # A 5,000-digit tag once crashed the suggester (int()'s 4,300-digit limit).
    for convention in (V, BARE, Convention(dev_match=".*")):
        result = classify(tag, convention)
        assert result.category is Category.INVALID
        assert result.reason == unsafe_reason(tag)
        assert suggest(tag, convention) is None
        assert decode_tag(tag, convention) == tag
        assert "\n" not in result.describe() and len(result.describe()) < 200
    assert sort_by_precedence([tag, "v1.0.0"], V) == ["v1.0.0", tag]


@fuzz()
@given(st.text(max_size=300) | st.from_regex(r"[vV ]?[0-9. +a-z-]{100,6000}", fullmatch=True))
def test_fuzz_any_string_is_classified_without_error(tag: str) -> None:
    for convention in (V, BARE):
        result = classify(tag, convention)
        if result.valid:
            assert len(tag) <= 128
        result.describe()
        result.to_json()
        decode_tag(tag, convention)
