from __future__ import annotations

import ast
import re
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


# --- the manual shipped in the package ---

SRC = REPO / "src" / "artreg"
MANUAL_REFERENCE = re.compile(r"`artreg docs ([a-z]+)`")


def test_every_topic_prints_its_page(capsys: pytest.CaptureFixture[str]) -> None:
    from artreg.commands.docs import TOPICS

    for topic in TOPICS:
        assert main(["docs", topic]) == 0
        assert capsys.readouterr().out == (REPO / "docs" / f"{topic}.md").read_text()


def test_an_unknown_topic_lists_the_topics(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["docs", "confg"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("artreg: error: no manual page 'confg'; the topics are:\n")
    for topic in ("tagging", "config", "ci", "hooks"):
        assert f"\n  {topic} " in err


def user_facing_texts() -> dict[str, str]:
    """What users read: messages in the code, the hook scripts, init's template."""
    from artreg.commands.init import render_template

    texts = {str(p.relative_to(REPO)): p.read_text() for p in SRC.rglob("*.py")}
    texts |= {str(p.relative_to(REPO)): p.read_text() for p in (SRC / "hooks").iterdir()}
    texts["artreg init"] = render_template("demo")
    return texts


def test_every_manual_reference_names_a_page(capsys: pytest.CaptureFixture[str]) -> None:
    referenced = {
        (where, topic)
        for where, text in user_facing_texts().items()
        for topic in MANUAL_REFERENCE.findall(text)
    }
    assert {topic for _, topic in referenced} >= {"config", "hooks", "ci"}
    for where, topic in sorted(referenced):
        assert main(["docs", topic, "--config", str(REPO / "artreg.toml")]) == 0, where
        assert capsys.readouterr().out.startswith("# "), where


def test_messages_do_not_point_at_the_repository_docs_directory() -> None:
    """A user of the installed package has no docs/ directory: point at `artreg docs`."""
    from artreg.commands.init import render_template

    scripts = {p.name: p.read_text() for p in (SRC / "hooks").iterdir()}
    for name, text in {**scripts, "init": render_template("demo")}.items():
        assert not re.search(r"docs/[a-z]+\.md", text), name
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text())
        docstrings = {
            id(node.value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
            ):
                found = re.search(r"docs/(?!TAGGING)[a-z]+\.md", node.value)
                assert not found, f"{path}:{node.lineno}: {node.value!r}"


def test_the_convention_shows_per_target_retention(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project / "artreg.toml"
    config.write_text(
        config.read_text()
        + '\n[targets.web]\ntype = "s3"\nbucket = "b"\n'
        + '[targets.web.tags.dev]\nkeep_last = 5\nexpire_after = "7d"\nprotect = ["cafe*"]\n'
    )
    assert main(["docs"]) == 0
    out = capsys.readouterr().out
    assert "| target | release | extra | dev |" in out
    assert (
        "| `web` | kept forever | deleted only when it is not one of the newest 10 and it was "
        "published more than 180 days ago | deleted only when it is not one of the newest 5 and "
        "it was published more than 1 week ago; never deleted: `cafe*` |"
    ) in out
    assert "| `local` | kept forever | deleted only when it is not one of the newest 10 " in out


def test_without_overrides_the_convention_has_no_per_target_table(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["docs"]) == 0
    assert "| target |" not in capsys.readouterr().out
