from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from artreg.cli import main

REPO = Path(__file__).resolve().parent.parent.parent


def test_repo_config_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "--config", str(REPO / "artreg.toml")]) == 0
    assert capsys.readouterr().out.endswith("artreg.toml: ok\n")


def test_every_problem_is_listed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["lint", "v1.2.3", "v0.8-rc2", "1.2.3", "a/b"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "v1.2.3: release\n"
    assert captured.err.splitlines() == [
        "tag 'v0.8-rc2': not semver (v<MAJOR>.<MINOR>.<PATCH>[-<PRERELEASE>][+<BUILD>]); "
        "did you mean 'v0.8.0-rc2'?",
        "tag '1.2.3': missing the prefix 'v'; did you mean 'v1.2.3'?",
        "tag 'a/b': contains '/', which would nest it in the bucket",
        "artreg lint: 3 problems found",
    ]


def test_broken_config_is_reported_and_tags_not_judged(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "artreg.toml").write_text("[tags.dev]\nkeep_last = -1\n")
    monkeypatch.chdir(tmp_path)
    assert main(["lint", "v1.2.3"]) == 1
    err = capsys.readouterr().err
    assert "tags.dev.keep_last" in err
    assert "tags not checked" in err


def test_no_config_and_no_tags(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["lint", "--config", str(tmp_path / "artreg.toml")]) == 1
    assert "no such configuration file" in capsys.readouterr().err


def test_lint_and_classify_do_not_import_boto3(tmp_path: Path) -> None:
    probe = (
        "import sys, json\n"
        "from artreg.cli import main\n"
        "codes = [main(['lint', '--config', sys.argv[1]]), main(['classify', 'v1.2.3'])]\n"
        "heavy = [m for m in ('boto3', 'botocore', 'rich', 'artreg.render.progress', 'threading')"
        " if m in sys.modules]\n"
        "print(json.dumps({'codes': codes, 'heavy': heavy}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe, str(REPO / "artreg.toml")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result == {"codes": [0, 0], "heavy": []}


def test_a_config_without_artifacts_is_warned_about(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "artreg.toml"
    config.write_text('[project]\nname = "nothing"\n')
    assert main(["lint", "--config", str(config)]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"{config}: ok\n"
    assert captured.err == (
        f"artreg: warning: {config}: no [[artifacts]] declared, so `artreg apply` has nothing "
        "to publish; declare files or images (see `artreg docs config`)\n"
    )


def test_empty_artifact_files_are_warned_about_and_missing_ones_are_not(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "artreg.toml"
    config.write_text(
        '[[artifacts]]\nname = "app"\nfiles = [\n'
        '  { platform = "linux/amd64", path = "dist/*.tar.gz" },\n'
        '  { platform = "linux/arm64", path = "dist/arm64/app" },\n'
        '  { platform = "windows", path = "dist/not-built-yet.exe" },\n'
        "]\n"
    )
    (tmp_path / "dist" / "arm64").mkdir(parents=True)
    (tmp_path / "dist" / "good.tar.gz").write_bytes(b"\x1f\x8b")
    (tmp_path / "dist" / "broken.tar.gz").write_bytes(b"")
    (tmp_path / "dist" / "arm64" / "app").write_bytes(b"")
    assert main(["lint", "--config", str(config)]) == 0
    assert capsys.readouterr().err.splitlines() == [
        "artreg: warning: artifact 'app', platform 'linux/amd64': dist/broken.tar.gz "
        "(matched by 'dist/*.tar.gz'): is empty (0 bytes); a build step probably failed, and "
        "a published release can never be replaced",
        "artreg: warning: artifact 'app', platform 'linux/arm64': dist/arm64/app: is empty "
        "(0 bytes); a build step probably failed, and a published release can never be replaced",
    ]
