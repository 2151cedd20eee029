"""Terminal formatting: counts agree with their nouns (in the helper and in what every
command prints), sizes, times left, and the --json report."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from publishing import make_site

from artreg.render.terminal import counted, format_eta, human_size, plural, print_json

NOUNS = "problem|object|build|file|request|orphan|image|page|tag|blob|manifest|key|entry|category"
# "1 index files", "1 young orphans", "1 problems"...
ONE_WITH_PLURAL = re.compile(
    rf"(?<![\d.,])\b1 (?:[a-z-]+ )?(?:{'|'.join(n + 's' for n in NOUNS.split('|'))})\b"
    r"|(?<![\d.,])\b1 (?:[a-z-]+ )?(?:entries|categories)\b"
)
# "2 problem", "0 index file" (but not "2 problems", "15 of 20 dev builds").
MANY_WITH_SINGULAR = re.compile(
    rf"(?<![\d.,])\b(?:0|[2-9]|[1-9]\d+) (?:[a-z-]+ )?(?:{NOUNS})\b(?!s)(?!-)"
)


@pytest.mark.parametrize(
    ("count", "noun", "expected"),
    [
        (0, "problem", "0 problems"),
        (1, "problem", "1 problem"),
        (2, "problem", "2 problems"),
        (1, "index file", "1 index file"),
        (3, "index file", "3 index files"),
        (2, "young orphan", "2 young orphans"),
        (2, "category", "2 categories"),
        (1, "category", "1 category"),
    ],
)
def test_counted(count: int, noun: str, expected: str) -> None:
    assert counted(count, noun) == expected


@given(st.integers(min_value=0, max_value=10**9), st.sampled_from(NOUNS.split("|")))
def test_only_one_is_singular(count: int, noun: str) -> None:
    assert (plural(noun, count) == noun) == (count == 1)
    assert not ONE_WITH_PLURAL.search(counted(1, noun))
    assert not MANY_WITH_SINGULAR.search(counted(count, noun)) or count == 1


def test_the_patterns_catch_what_they_should() -> None:
    assert ONE_WITH_PLURAL.search("verify: 1 problems (1 builds)")
    assert ONE_WITH_PLURAL.search("1 index files written")
    assert MANY_WITH_SINGULAR.search("2 problem")
    assert MANY_WITH_SINGULAR.search("0 index file written")
    assert not MANY_WITH_SINGULAR.search("retention would delete 15 of 20 dev builds")
    assert not ONE_WITH_PLURAL.search("v1.0.0 published (1.2 KiB), 11 builds")


def test_every_command_output_agrees_with_its_counts(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Run the commands that print counts with 0, 1 and several of each thing."""
    site = make_site(request, tmp_path, "dir", files=(("linux/amd64", "out/app"),))
    outputs: list[str] = []

    def run(*args: str) -> None:
        result = site.run(*args)
        outputs.append(result.out + result.err)

    run("verify", "--target", "test")
    site.write_build("one")
    run("plan", "--target", "test", "--tag", "v1.0.0")
    run("apply", "--target", "test", "--tag", "v1.0.0")  # 1 uploaded, 1 build
    run("verify", "--target", "test")  # 1 build, 1 file
    run("verify", "--target", "test", "--deep")
    run("gc", "--target", "test")  # 1 build kept
    run("gc", "--target", "test", "--dry-run")
    run("ls", "--target", "test")
    # A hand-made tree for import: 1 build of 1 file, then 2 of 2.
    site.write("public/v0.9.0/linux/amd64/app", b"old\n")
    run("import", "--target", "test", "--dry-run")
    site.write("public/v0.8.0/linux/amd64/app", b"older\n")
    site.write("public/v0.8.0/linux/arm64/app", b"older\n")
    run("import", "--target", "test", "--dry-run")
    run("import", "--target", "test")
    site.write_build("two")
    run("apply", "--target", "test", "--tag", "a" * 40)
    run("verify", "--target", "test")  # several builds and files
    (site.root / "public" / "v1.0.0" / "linux" / "amd64" / "app").unlink()
    run("verify", "--target", "test")  # 1 problem
    (site.root / "public" / "v0.9.0" / "linux" / "amd64" / "app").unlink()
    run("verify", "--target", "test")  # 2 problems
    run("lint", "bad tag")  # 1 problem
    run("lint", "bad tag", "1.2.3")  # 2 problems
    text = "\n".join(outputs)
    assert "1 problem\n" in text or "1 problem " in text, text
    assert not ONE_WITH_PLURAL.findall(text), text
    assert not MANY_WITH_SINGULAR.findall(text), text


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (1000, "1.0 kB"),
        (41_234_567, "41.2 MB"),
        (999_990_000, "1.0 GB"),
        (3 * 10**12, "3.0 TB"),
        (5 * 10**18, "5000.0 PB"),
    ],
)
def test_human_size(size: int, text: str) -> None:
    assert human_size(size) == text


@pytest.mark.parametrize(
    ("seconds", "text"), [(4.4, "4 s"), (65, "1 min 5 s"), (3725, "1 h 2 min")]
)
def test_format_eta(seconds: float, text: str) -> None:
    assert format_eta(seconds) == text


def test_print_json_indents_by_one_and_ends_the_line() -> None:
    out = io.StringIO()
    print_json({"a": [1]}, out)
    assert out.getvalue() == '{\n "a": [\n  1\n ]\n}\n'
