from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from artreg.cli import main

REPO = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copy(REPO / "artreg.toml", tmp_path / "artreg.toml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_repo_tagging_doc_is_current(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "docs",
            "--config",
            str(REPO / "artreg.toml"),
            "--output",
            str(REPO / "docs" / "TAGGING.md"),
            "--check",
        ]
    )
    assert code == 0, capsys.readouterr().err


def test_write_then_check_then_stale(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = project / "docs" / "TAGGING.md"
    assert main(["docs", "--output", str(out), "--check"]) == 1
    assert "is missing" in capsys.readouterr().err
    assert main(["docs", "--output", str(out)]) == 0
    assert main(["docs", "--output", str(out), "--check"]) == 0
    config = project / "artreg.toml"
    config.write_text(config.read_text().replace('expire_after = "30d"', 'expire_after = "14d"'))
    assert main(["docs", "--output", str(out), "--check"]) == 1
    err = capsys.readouterr().err
    assert "out of date with artreg.toml" in err
    assert f"artreg docs --output {out}" in err


def test_rendered_convention_content(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["docs"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("# Tagging convention for artreg-demo\n")
    # Examples are judged by the classifier while rendering.
    assert "| `v1.4.0` | release |" in text
    assert "| `v1.5.0-rc.1` | extra |" in text
    assert "| `v0.8-rc2` | refused: not semver" in text
    assert "suggests `v0.8.0-rc2`" in text
    assert "deleted only when it is not one of the newest 30 and it was published more than" in (
        text
    )
    assert "30 days ago" in text
    assert "`v0.10.0` is above `v0.9.0`" in text


def test_check_without_output_is_usage(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["docs", "--check"]) == 2
    assert "needs --output" in capsys.readouterr().err


def test_prefix_follows_config(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "artreg.toml").write_text('[project]\nname = "bare"\n[tags]\nprefix = ""\n')
    assert main(["docs"]) == 0
    text = capsys.readouterr().out
    assert "| `1.4.0` | release |" in text
    assert "v1.4.0" not in text
