"""Links inside a dir target are never followed, by any command.

Each case plants a link in a published target (to a directory outside, to a
file outside, as ``.artreg-meta`` or its ``tmp``, a loop, a dangling one).
Then every command that opens the store runs: whatever it does, nothing
outside the target is read, written or removed (the sentinel tree outside is
byte-identical), and a refusal is one clear line with exit 1, never ELOOP or
a traceback.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from publishing import Site, make_site

RETENTION = '[tags.dev]\nkeep_last = 1\nexpire_after = "1d"\n'
OLD = "2025-05-01T12:00:00Z"
NOW = "2025-06-01T12:00:00Z"
DEV_OLD = hashlib.sha1(b"old").hexdigest()
DEV_NEW = hashlib.sha1(b"new").hexdigest()
APP = "linux/amd64/app"


def snapshot(root: Path) -> dict[str, bytes | str]:
    """Every entry below ``root`` (links as their text), without following links."""
    found: dict[str, bytes | str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            rel = str(path.relative_to(root))
            if path.is_symlink():
                found[rel] = "-> " + os.readlink(path)
            elif path.is_file():
                found[rel] = path.read_bytes()
    return found


def plant(public: Path, outside: Path, case: str) -> None:
    """Put the case's link into the target ``public``."""
    if case == "build dir":  # the next release's directory points outside
        (public / "v1.0.0").symlink_to(outside, target_is_directory=True)
    elif case == "old build dir":  # retention will delete this build's keys
        os.rename(public / DEV_OLD, outside.with_name(outside.name + "-moved"))
        (public / DEV_OLD).symlink_to(outside, target_is_directory=True)
    elif case == "file":
        (public / DEV_OLD / APP).unlink()
        (public / DEV_OLD / APP).symlink_to(outside / APP)
    elif case == "metadata dir":
        os.rename(public / ".artreg-meta", outside.with_name(outside.name + "-moved"))
        (public / ".artreg-meta").symlink_to(outside, target_is_directory=True)
    elif case == "tmp dir":
        (public / ".artreg-meta" / "tmp").rmdir()
        (public / ".artreg-meta" / "tmp").symlink_to(outside, target_is_directory=True)
    elif case == "manifests dir":
        os.rename(public / "_artreg", outside.with_name(outside.name + "-moved"))
        (public / "_artreg").symlink_to(outside, target_is_directory=True)
    elif case == "loop":
        (public / "loop").symlink_to("loop")
        (public / DEV_OLD / "a").symlink_to("b")
        (public / DEV_OLD / "b").symlink_to("a")
    elif case == "dangling":
        (public / DEV_OLD / "linux" / "gone").symlink_to(outside.parent / "nowhere" / "x")
    else:
        raise AssertionError(case)


CASES = (
    "build dir",
    "old build dir",
    "file",
    "metadata dir",
    "tmp dir",
    "manifests dir",
    "loop",
    "dangling",
)
COMMANDS = (
    ("apply", "--tag", "v1.0.0", "--now", NOW),
    ("gc", "--now", NOW, "--allow-mass-delete"),
    ("verify", "--deep"),
    ("import",),
    ("ls",),
)


@pytest.fixture
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Site:
    site = make_site(request, tmp_path, "dir", extra_toml=RETENTION)
    site.publish(DEV_OLD, now=OLD)
    site.run("apply", "--target", "test", "--tag", DEV_NEW, "--now", OLD, "--no-gc")
    site.publish(DEV_NEW, now=OLD)
    site.write_build("v1.0.0")
    return site


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_no_command_follows_a_link_in_the_target(
    site: Site, tmp_path: Path, case: str, command: tuple[str, ...]
) -> None:
    outside = tmp_path / "outside"
    (outside / "linux" / "amd64").mkdir(parents=True)
    (outside / APP).write_bytes(b"sentinel: not artreg's\n")
    (outside / "lock").write_bytes(b"sentinel lock\n")
    public = site.root / "public"
    plant(public, outside, case)
    before = snapshot(outside)

    result = site.run(*command, "--target", "test")

    assert snapshot(outside) == before
    assert result.code in (0, 1), result.err
    assert "Traceback" not in result.err
    assert "Too many levels of symbolic links" not in result.err
    if result.code == 1 and "is a symbolic link" in result.err:
        lines = [line for line in result.err.splitlines() if "symbolic link" in line]
        assert len(lines) == 1, result.err
        assert "artreg never follows links inside a dir target" in lines[0]


def test_gc_and_verify_refuse_every_link_they_meet(site: Site, tmp_path: Path) -> None:
    """The loose test above must not pass by ignoring links: gc walks the whole target
    (orphans) and writes, verify reads everything but never writes (so never meets tmp)."""
    for n, case in enumerate(CASES):
        copy = site.clone(tmp_path / f"copy{n}")
        outside = tmp_path / f"outside{n}"
        (outside / "linux" / "amd64").mkdir(parents=True)
        plant(copy.root / "public", outside, case)
        for command in (COMMANDS[1], COMMANDS[2]):
            result = copy.run(*command, "--target", "test")
            if command[0] == "verify" and case == "tmp dir":
                assert result.code == 0, result.err
                continue
            assert result.code == 1, (case, command, result.out, result.err)
            assert result.err.count("\n") == 1, result.err
            assert "is a symbolic link" in result.err, (case, command, result.err)
            assert "artreg never follows links inside a dir target" in result.err
