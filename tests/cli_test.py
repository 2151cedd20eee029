"""Exit codes through the real command line: each one means one thing (see ``artreg --help``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from artreg import cli
from artreg.stores.base import validate_key

CONFIG = """\
[project]
name = "demo"

[[artifacts]]
name = "app"
files = [{ platform = "linux/amd64", path = "out/app" }]

[targets.test]
type = "dir"
path = "public"
"""

# (arguments, content of out/app before the run, expected exit code), run in order.
RUNS = [
    (["--help"], "one", 0),
    (["frobnicate"], "one", cli.EXIT_USAGE),
    (["plan", "--no-such-option"], "one", cli.EXIT_USAGE),
    (["plan", "--tag", "v1.0.0", "--detailed-exitcode"], "one", cli.EXIT_CHANGES),
    (["plan", "--tag", "v1.0.0"], "one", 0),
    (["apply", "--tag", "v1.0.0"], "one", 0),
    (["plan", "--tag", "v1.0.0", "--detailed-exitcode"], "one", 0),
    (["plan", "--tag", "v1.0.0", "--detailed-exitcode"], "other", cli.EXIT_PROBLEM),
    (["classify", "v1.2"], "one", cli.EXIT_PROBLEM),
    (["lint", "--config", "missing.toml"], "one", cli.EXIT_PROBLEM),
]


def test_the_exit_codes_are_distinct() -> None:
    codes = [cli.EXIT_PROBLEM, cli.EXIT_USAGE, cli.EXIT_BUG, cli.EXIT_CHANGES]
    assert len(set(codes)) == len(codes) and 0 not in codes
    assert cli.EXIT_INTERRUPTED == 130


def test_each_command_exits_with_its_documented_code(tmp_path: Path) -> None:
    (tmp_path / "artreg.toml").write_text(CONFIG)
    (tmp_path / "out").mkdir()
    env = {**os.environ, "PYTHONPATH": str(Path(cli.__file__).parent.parent)}
    env.pop("ARTREG_TARGET", None)
    seen = []
    for args, content, _ in RUNS:
        (tmp_path / "out" / "app").write_text(content)
        proc = subprocess.run(
            [sys.executable, "-m", "artreg", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert "Traceback" not in proc.stderr, proc.stderr
        seen.append((args, content, proc.returncode))
    assert seen == RUNS


def test_help_lists_every_exit_code() -> None:
    text = cli.build_parser().format_help()
    for code in (cli.EXIT_PROBLEM, cli.EXIT_USAGE, cli.EXIT_BUG, cli.EXIT_CHANGES, 130):
        assert f"\n  {code} " in text, text


def test_a_store_called_with_a_bad_key_is_a_bug_exit_3(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # No input reaches a store with a bad key (keys are built from checked input), so
    # the caller's bug is planted: a command that hands the store a key with '..'.
    from artreg.commands import classify

    monkeypatch.setattr(classify, "run", lambda args: validate_key("a store", "../x"))

    assert cli.main(["classify", "v1.0.0"]) == cli.EXIT_BUG
    err = capsys.readouterr().err
    assert "InvalidKey" in err and "internal error" in err
