from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from artreg.core.checksums import Checksum, build_sums, parse_sums, render_sums, sums_key
from artreg.errors import InvalidChecksums

A = "a" * 64
B = "b" * 64


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([], b""),
        ([Checksum("linux/amd64/app", A)], f"{A}  linux/amd64/app\n".encode()),
        (
            [Checksum("linux/arm64/app", B), Checksum("linux/amd64/app", A)],
            f"{A}  linux/amd64/app\n{B}  linux/arm64/app\n".encode(),
        ),
        ([Checksum("p/a b", A)], f"{A}  p/a b\n".encode()),
        ([Checksum("p/x\\y", A)], f"\\{A}  p/x\\\\y\n".encode()),
        ([Checksum("p/n\nl", A)], f"\\{A}  p/n\\nl\n".encode()),
        ([Checksum("p/c\rr", A)], f"\\{A}  p/c\\rr\n".encode()),
        ([Checksum("p/é", A)], f"{A}  p/é\n".encode()),
    ],
)
def test_render_table(items: list[Checksum], expected: bytes) -> None:
    assert render_sums(items) == expected
    assert parse_sums(expected) == tuple(sorted(items, key=lambda i: i.path.encode()))


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([Checksum("p/a", "A" * 64)], "not 64 lowercase hex"),
        ([Checksum("p/a", "a" * 63)], "not 64 lowercase hex"),
        ([Checksum("/etc/passwd", A)], "not a relative path"),
        ([Checksum("../x", A)], "not a relative path"),
        ([Checksum("", A)], "not a relative path"),
        ([Checksum("p/t\tab", A)], "control character"),
        ([Checksum("p/\x00", A)], "control character"),
        ([Checksum("p/a", A), Checksum("p/a", B)], "listed twice"),
    ],
)
def test_render_refuses(items: list[Checksum], message: str) -> None:
    with pytest.raises(InvalidChecksums, match=message):
        render_sums(items)


def test_build_sums_paths_are_relative_to_the_build_directory() -> None:
    body = build_sums("v1.0.0", [("v1.0.0/linux/amd64/app", A), ("v1.0.0/linux/arm64/app", B)])
    assert body == f"{A}  linux/amd64/app\n{B}  linux/arm64/app\n".encode()
    assert sums_key("v1.0.0") == "v1.0.0/SHA256SUMS"
    with pytest.raises(InvalidChecksums, match="not inside the build directory"):
        build_sums("v1.0.0", [("v1.0.1/linux/amd64/app", A)])


@pytest.mark.parametrize(
    "body",
    [
        b"xyz\n",
        f"{A} one-space\n".encode(),
        f"{A}  no-newline".encode(),
        b"\xff\n",
        f"\\{A}  bad\\qescape\n".encode(),
    ],
)
def test_parse_refuses(body: bytes) -> None:
    with pytest.raises(InvalidChecksums):
        parse_sums(body)


# Names the way artreg keys can hold them, plus the characters GNU escapes.
NAMES = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00\t\x0b\x0c\x7f").filter(
        lambda c: c in "\n\r\\" or ord(c) >= 0x20
    ),
    min_size=1,
    max_size=12,
).filter(lambda name: name not in (".", ".."))


@given(
    st.dictionaries(
        st.lists(NAMES, min_size=1, max_size=3).map("/".join), st.binary(max_size=4), max_size=6
    )
)
@settings(max_examples=200)
def test_round_trip(files: dict[str, bytes]) -> None:
    items = [Checksum(path, hashlib.sha256(data).hexdigest()) for path, data in files.items()]
    body = render_sums(items)
    parsed = parse_sums(body)
    assert sorted(parsed, key=lambda i: i.path) == sorted(items, key=lambda i: i.path)
    assert [item.path.encode() for item in parsed] == sorted(p.encode() for p in files)
    assert body.count(b"\n") == len(files)


def _sha256sum() -> str:
    binary = shutil.which("sha256sum")
    if binary is None:
        pytest.fail("sha256sum (GNU coreutils) is not installed")
    return binary


@pytest.mark.parametrize(
    "names",
    [
        ["linux/amd64/app", "linux/arm64/app.tar.gz", "windows/amd64/app.exe"],
        ["p/a b", "p/x\\y", "p/n\nl", "p/c\rr", "p/é ünï", "p/-dash", "p/ lead"],
    ],
)
def test_real_sha256sum_checks_the_file(tmp_path: Path, names: list[str]) -> None:
    files = {}
    for n, name in enumerate(names):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = f"content {n}".encode() * (n + 1)
        path.write_bytes(data)
        files[name] = hashlib.sha256(data).hexdigest()
    (tmp_path / "SHA256SUMS").write_bytes(render_sums(Checksum(p, s) for p, s in files.items()))
    done = subprocess.run(
        [_sha256sum(), "-c", "--strict", "SHA256SUMS"],
        cwd=tmp_path,
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(b": OK\n") == len(names)
    # and sha256sum's own listing is what we wrote (same order, same escapes)
    listed = subprocess.run(
        [_sha256sum(), "--", *sorted(names, key=str.encode)],
        cwd=tmp_path,
        capture_output=True,
        check=True,
    ).stdout
    assert listed == (tmp_path / "SHA256SUMS").read_bytes()
    # a changed byte fails the check
    first = tmp_path / names[0]
    first.write_bytes(first.read_bytes() + b"!")
    done = subprocess.run(
        [_sha256sum(), "-c", "SHA256SUMS"], cwd=tmp_path, capture_output=True, check=False
    )
    assert done.returncode == 1 and b"FAILED" in done.stdout
