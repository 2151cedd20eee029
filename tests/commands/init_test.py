from __future__ import annotations

from pathlib import Path

import pytest

from artreg.cli import main
from artreg.config import load_config


def test_init_writes_a_valid_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "garage"
    project.mkdir()
    monkeypatch.chdir(project)
    assert main(["init"]) == 0
    config = load_config(project / "artreg.toml")
    assert config.project == "garage"
    assert config.tags.prefix == "v"
    assert main(["lint"]) == 0


def test_init_refuses_to_overwrite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "artreg.toml").write_text("# mine\n")
    assert main(["init"]) == 1
    assert "already exists; pass --force" in capsys.readouterr().err
    assert (tmp_path / "artreg.toml").read_text() == "# mine\n"
    assert main(["init", "--force"]) == 0
    assert "[tags.release]" in (tmp_path / "artreg.toml").read_text()
