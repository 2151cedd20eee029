from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from artreg.cli import main

GARAGE_TAGS = Path(__file__).parent.parent / "fixtures" / "garage-tags.txt"


def test_json_output_for_every_category(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no artreg.toml: the default convention
    code = main(["classify", "--json", "v0.8.2", "v0.8.0-rc1", "a" * 40, "v0.8-rc2"])
    assert code == 1
    out = json.loads(capsys.readouterr().out)
    assert out == [
        {"tag": "v0.8.2", "category": "release"},
        {"tag": "v0.8.0-rc1", "category": "extra"},
        {"tag": "a" * 40, "category": "dev"},
        {
            "tag": "v0.8-rc2",
            "category": "invalid",
            "reason": "not semver (v<MAJOR>.<MINOR>.<PATCH>[-<PRERELEASE>][+<BUILD>])",
            "suggestion": "v0.8.0-rc2",
        },
    ]


def test_all_valid_exits_zero(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["classify", "v1.2.3", "v1.2.3+build.1"]) == 0
    assert capsys.readouterr().out == "v1.2.3\trelease\nv1.2.3+build.1\textra\n"


def test_uses_the_config_prefix(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "artreg.toml").write_text('[project]\nname = "x"\n[tags]\nprefix = ""\n')
    monkeypatch.chdir(tmp_path)
    assert main(["classify", "1.2.3"]) == 0
    assert main(["classify", "v1.2.3"]) == 1
    assert "did you mean '1.2.3'?" in capsys.readouterr().out


def test_explicit_missing_config_is_an_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["classify", "--config", str(tmp_path / "nope.toml"), "v1.2.3"]) == 1
    err = capsys.readouterr().err
    assert "nope.toml: no such configuration file" in err
    assert "artreg init" in err


def test_garage_fixture_through_the_cli(tmp_path: Path) -> None:
    tags = [t for t in GARAGE_TAGS.read_text().splitlines() if t and not t.startswith("#")]
    proc = subprocess.run(
        [sys.executable, "-m", "artreg", "classify", "--json", *tags],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    categories = {item["tag"]: item["category"] for item in json.loads(proc.stdout)}
    assert categories["v0.8-rc2"] == "invalid"
    assert sum(1 for c in categories.values() if c == "release") == 4
    assert sum(1 for c in categories.values() if c == "extra") == 4
    assert sum(1 for c in categories.values() if c == "dev") == 2


def test_usage_error_exits_two(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["classify"])
    assert exc.value.code == 2
