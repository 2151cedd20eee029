"""Commands never guess a target: --target, ARTREG_TARGET, the only one, or default = true."""

from __future__ import annotations

from pathlib import Path

import pytest

from artreg.cli import main

TWO_TARGETS = """\
[[artifacts]]
name = "app"
files = [{ platform = "linux/amd64", path = "dist/app" }]

[targets.site]
type = "dir"
path = "site"
DEFAULT_SITE
[targets.mirror]
type = "dir"
path = "mirror"
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ARTREG_TARGET", raising=False)
    (tmp_path / "artreg.toml").write_text(TWO_TARGETS.replace("DEFAULT_SITE", ""))
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "app").write_bytes(b"app\n")
    return tmp_path


@pytest.mark.parametrize(
    "argv",
    [
        ["apply", "--tag", "v1.0.0"],
        ["plan", "--tag", "v1.0.0"],
        ["gc"],
        ["gc", "--dry-run"],
        ["verify"],
        ["ls"],
        ["import", "--dry-run"],
    ],
)
def test_several_targets_and_no_choice_is_refused_with_the_list(
    project: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err == (
        "artreg: error: several targets are declared (site, mirror) and none is chosen; "
        "choose one with --target NAME or the ARTREG_TARGET environment variable, or mark "
        "one with default = true in artreg.toml\n"
    )
    assert sorted(p.name for p in project.iterdir()) == ["artreg.toml", "dist"]


def test_artreg_target_chooses(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARTREG_TARGET", "mirror")
    assert main(["apply", "--tag", "v1.0.0"]) == 0
    assert (project / "mirror" / "v1.0.0" / "linux" / "amd64" / "app").is_file()
    assert not (project / "site").exists()
    # --target wins over the environment.
    assert main(["apply", "--tag", "v1.0.0", "--target", "site"]) == 0
    assert (project / "site" / "v1.0.0" / "linux" / "amd64" / "app").is_file()


def test_unknown_artreg_target_is_refused(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ARTREG_TARGET", "prod")
    assert main(["apply", "--tag", "v1.0.0"]) == 1
    assert "unknown target 'prod' (from --target or ARTREG_TARGET)" in capsys.readouterr().err
    assert not (project / "site").exists()
    assert not (project / "mirror").exists()


def test_default_true_chooses(project: Path) -> None:
    text = TWO_TARGETS.replace("DEFAULT_SITE", "default = true\n")
    (project / "artreg.toml").write_text(text)
    assert main(["apply", "--tag", "v1.0.0"]) == 0
    assert (project / "site" / "v1.0.0" / "linux" / "amd64" / "app").is_file()
    assert not (project / "mirror").exists()
