from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import tempfile
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from artreg.config import Artifact, FileSpec
from artreg.core.manifest import FileEntry
from artreg.errors import ArtifactFilesError, ArtregError, GlobTooBroad
from artreg.publish import artifacts
from artreg.publish.artifacts import (
    LocalFile,
    glob_paths,
    guess_content_type,
    hash_file,
    resolve_files,
)

TAG = "v1.0.0"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write(path: Path, data: bytes = b"data") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def files(name: str, *specs: tuple[str, str]) -> Artifact:
    return Artifact(name=name, files=tuple(FileSpec(platform=p, path=s) for p, s in specs))


def problems_of(repo: Path, artifacts: list[Artifact]) -> list[str]:
    with pytest.raises(ArtifactFilesError) as info:
        resolve_files(repo, artifacts, TAG)
    assert isinstance(info.value, ArtregError)
    assert str(info.value) == "\n".join(info.value.problems)
    return list(info.value.problems)


@pytest.fixture
def no_hang() -> Iterator[None]:
    """Turn a blocked open() (a FIFO opened without O_NONBLOCK) into a failure, not a hang."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def fail(signum: int, frame: object) -> None:
        raise AssertionError("blocked: a FIFO was opened as if it were a file")

    previous = signal.signal(signal.SIGALRM, fail)
    signal.alarm(60)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _file(relative: str) -> Callable[[Path], None]:
    return lambda tmp: write(tmp / "repo" / relative).touch()


def _dir(relative: str) -> Callable[[Path], None]:
    return lambda tmp: (tmp / "repo" / relative).mkdir(parents=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    return path


def test_one_file_per_platform(repo: Path) -> None:
    write(repo / "result-amd64/bin/garage", b"amd64 binary")
    write(repo / "result-arm64/bin/garage", b"arm64 binary")
    artifact = files(
        "garage",
        ("linux/arm64", "result-arm64/bin/garage"),
        ("linux/amd64", "result-amd64/bin/garage"),
    )
    assert resolve_files(repo, [artifact], TAG) == (
        LocalFile(
            artifact="garage",
            platform="linux/amd64",
            source=repo / "result-amd64/bin/garage",
            name="garage",
            key="v1.0.0/linux/amd64/garage",
            size=12,
            sha256=sha256(b"amd64 binary"),
            content_type="application/octet-stream",
        ),
        LocalFile(
            artifact="garage",
            platform="linux/arm64",
            source=repo / "result-arm64/bin/garage",
            name="garage",
            key="v1.0.0/linux/arm64/garage",
            size=12,
            sha256=sha256(b"arm64 binary"),
            content_type="application/octet-stream",
        ),
    )


def test_glob_over_several_files(repo: Path) -> None:
    for name in ("garage.tar.gz", "SHA256SUMS.txt", "b.zip", "a.json"):
        write(repo / "dist" / name, name.encode())
    write(repo / "dist/nested/deep.tar.gz")
    write(repo / "dist/.hidden")
    (repo / "dist/emptydir").mkdir()
    resolved = resolve_files(repo, [files("bundle", ("any", "dist/*"))], TAG)
    assert [(f.name, f.key, f.content_type, f.sha256) for f in resolved] == [
        ("SHA256SUMS.txt", "v1.0.0/any/SHA256SUMS.txt", "text/plain", sha256(b"SHA256SUMS.txt")),
        ("a.json", "v1.0.0/any/a.json", "application/json", sha256(b"a.json")),
        ("b.zip", "v1.0.0/any/b.zip", "application/zip", sha256(b"b.zip")),
        ("garage.tar.gz", "v1.0.0/any/garage.tar.gz", "application/gzip", sha256(b"garage.tar.gz")),
    ]


def test_recursive_glob_and_character_classes(repo: Path) -> None:
    write(repo / "out/amd64/garage")
    write(repo / "out/amd64/deeper/garage-debug")
    write(repo / "out/arm64/garage")
    resolved = resolve_files(
        repo,
        [files("g", ("linux/amd64", "out/amd64/**"), ("linux/arm64", "out/ar[m]64/garag?"))],
        TAG,
    )
    assert [f.key for f in resolved] == [
        "v1.0.0/linux/amd64/garage",
        "v1.0.0/linux/amd64/garage-debug",
        "v1.0.0/linux/arm64/garage",
    ]
    assert resolved[1].source == repo / "out/amd64/deeper/garage-debug"


def test_plus_in_tag_is_encoded_in_key(repo: Path) -> None:
    write(repo / "garage")
    (resolved,) = resolve_files(repo, [files("g", ("linux/amd64", "garage"))], "v0.8.2+feat")
    assert resolved.key == "v0.8.2_feat/linux/amd64/garage"


def test_oci_artifacts_are_not_files(repo: Path) -> None:
    oci = Artifact(name="image", type="oci", path="missing-image", repository="garage")
    assert resolve_files(repo, [oci], TAG) == ()


def test_symlink_inside_repo_is_fine(repo: Path) -> None:
    write(repo / "build/garage-1.0", b"the binary")
    (repo / "garage").symlink_to("build/garage-1.0")
    (resolved,) = resolve_files(repo, [files("g", ("linux/amd64", "garage"))], TAG)
    # Published under the link's name, with the target's bytes.
    assert (resolved.name, resolved.sha256) == ("garage", sha256(b"the binary"))


def test_repo_reached_through_a_symlink(tmp_path: Path, repo: Path) -> None:
    write(repo / "garage")
    alias = tmp_path / "alias"
    alias.symlink_to(repo)
    (resolved,) = resolve_files(alias, [files("g", ("linux/amd64", "garage"))], TAG)
    assert resolved.source == alias / "garage"


def _outside(tmp: Path) -> None:
    write(tmp / "outside/secret")


def _setup_link_out(tmp: Path) -> None:
    _outside(tmp)
    (tmp / "repo/garage").symlink_to(tmp / "outside/secret")


def _setup_dir_link_out(tmp: Path) -> None:
    _outside(tmp)
    (tmp / "repo/result").symlink_to(tmp / "outside")


def _setup_glob_link_out(tmp: Path) -> None:
    _outside(tmp)
    write(tmp / "repo/dist/ok")
    (tmp / "repo/dist/zz").symlink_to(tmp / "outside/secret")


def _setup_fifo(tmp: Path) -> None:
    os.mkfifo(tmp / "repo/pipe")


def _setup_broken(tmp: Path) -> None:
    (tmp / "repo/garage").symlink_to("build/garage")


def _setup_loop(tmp: Path) -> None:
    (tmp / "repo/a").symlink_to("b")
    (tmp / "repo/b").symlink_to("a")


W = "artifact 'g', platform 'linux/amd64'"
OUT = "outside the repository {repo}; publish files from inside the repository"
ERROR_CASES: list[tuple[str, Callable[[Path], None], str, str]] = [
    (
        "missing file",
        lambda tmp: None,
        "result/garage",
        f"{W}: result/garage: no such file; build the artifact first or fix the path in "
        "artreg.toml",
    ),
    (
        "parent is a file",
        _file("result"),
        "result/garage",
        f"{W}: result/garage: no such file; build the artifact first or fix the path in "
        "artreg.toml",
    ),
    (
        "glob matching nothing",
        lambda tmp: None,
        "dist/*.tar.gz",
        f"{W}: dist/*.tar.gz: the pattern matches nothing; build the artifact first or fix "
        "the pattern in artreg.toml",
    ),
    (
        "glob matching only directories",
        _dir("dist/sub"),
        "dist/*",
        f"{W}: dist/*: the pattern matches only directories; build the artifact first or fix "
        "the pattern in artreg.toml",
    ),
    (
        "directory",
        _dir("result"),
        "result",
        f"{W}: result: is a directory, expected a file; declare the files in it (for example "
        "'result/*')",
    ),
    (
        "named pipe",
        _setup_fifo,
        "pipe",
        f"{W}: pipe: is not a regular file (a FIFO, socket or device); declare a regular file",
    ),
    (
        "broken symlink",
        _setup_broken,
        "garage",
        f"{W}: garage: is a broken symlink (to build/garage); build what it points to or fix "
        "the link",
    ),
    (
        "symlink loop",
        _setup_loop,
        "a",
        f"{W}: a: is a symlink loop; fix the link",
    ),
    (
        "symlink escaping the repository",
        _setup_link_out,
        "garage",
        f"{W}: garage: resolves to {{tmp}}/outside/secret, {OUT} (copy it in, or fix the path "
        "or link)",
    ),
    (
        "symlinked directory escaping the repository",
        _setup_dir_link_out,
        "result/secret",
        f"{W}: result/secret: resolves to {{tmp}}/outside/secret, {OUT} (copy it in, or fix "
        "the path or link)",
    ),
    (
        "dot-dot escaping the repository",
        _outside,
        "../outside/secret",
        f"{W}: ../outside/secret: resolves to {{tmp}}/outside/secret, {OUT} (copy it in, or "
        "fix the path or link)",
    ),
    (
        "absolute path outside the repository",
        _outside,
        "{tmp}/outside/secret",
        f"{W}: {{tmp}}/outside/secret: resolves to {{tmp}}/outside/secret, {OUT} (copy it in, "
        "or fix the path or link)",
    ),
    (
        "glob match escaping the repository",
        _setup_glob_link_out,
        "dist/*",
        f"{W}: dist/zz (matched by 'dist/*'): resolves to {{tmp}}/outside/secret, {OUT} (copy "
        "it in, or fix the path or link)",
    ),
    (
        "plus in a file name",
        _file("garage+musl"),
        "garage+musl",
        f"{W}: garage+musl: the file name contains '+', which breaks its download URL on a "
        "static website; rename the file",
    ),
    (
        "space in a file name",
        _file("Garage Setup.exe"),
        "Garage Setup.exe",
        f"{W}: Garage Setup.exe: the file name contains ' ', which breaks its download URL on "
        "a static website; rename the file",
    ),
]


@pytest.mark.parametrize(
    ("setup", "path", "expected"),
    [pytest.param(setup, path, expected, id=name) for name, setup, path, expected in ERROR_CASES],
)
def test_error(
    tmp_path: Path,
    repo: Path,
    no_hang: None,
    setup: Callable[[Path], None],
    path: str,
    expected: str,
) -> None:
    tmp = tmp_path.resolve()
    setup(tmp)
    artifact = files("g", ("linux/amd64", path.format(tmp=tmp)))
    assert problems_of(repo, [artifact]) == [expected.format(tmp=tmp, repo=tmp / "repo")]


def test_same_key_from_two_artifacts(repo: Path) -> None:
    write(repo / "a/garage")
    write(repo / "b/garage")
    artifacts = [files("one", ("linux/amd64", "a/garage")), files("two", ("linux/amd64", "b/*"))]
    assert problems_of(repo, artifacts) == [
        "v1.0.0/linux/amd64/garage: 2 files would be published under this key "
        "(artifact 'one', platform 'linux/amd64': a/garage; "
        "artifact 'two', platform 'linux/amd64': b/garage (matched by 'b/*')); "
        "rename the files or give them different platforms"
    ]


def test_same_key_from_one_glob(repo: Path) -> None:
    write(repo / "out/x/garage")
    write(repo / "out/y/garage")
    (problem,) = problems_of(repo, [files("g", ("linux/amd64", "out/*/garage"))])
    assert problem.startswith("v1.0.0/linux/amd64/garage: 2 files would be published")


def test_every_problem_is_reported_at_once(repo: Path) -> None:
    write(repo / "ok")
    (repo / "dir").mkdir()
    artifacts = [
        files("a", ("linux/amd64", "missing"), ("linux/arm64", "ok")),
        files("b", ("any", "dir"), ("any", "nothing/*")),
    ]
    assert problems_of(repo, artifacts) == [
        "artifact 'a', platform 'linux/amd64': missing: no such file; build the artifact first "
        "or fix the path in artreg.toml",
        "artifact 'b', platform 'any': dir: is a directory, expected a file; declare the files "
        "in it (for example 'dir/*')",
        "artifact 'b', platform 'any': nothing/*: the pattern matches nothing; build the "
        "artifact first or fix the pattern in artreg.toml",
    ]


@pytest.fixture
def world_traversable_repo() -> Iterator[Path]:
    # pytest's tmp_path sits under a 0700 directory that an unprivileged user cannot enter.
    top = Path(tempfile.mkdtemp(prefix="artreg-unreadable-"))
    try:
        top.chmod(0o755)
        yield top
    finally:
        shutil.rmtree(top)


def _resolve_unprivileged(repo: Path, artifacts: list[Artifact]) -> str:
    """resolve_files' error message, run without the right to read other users' files.

    As root, chmod 000 does not stop a read: a forked child drops to the
    'nobody' user first, so open() really fails with EACCES.
    """
    if os.geteuid() != 0:
        with pytest.raises(ArtifactFilesError) as info:
            resolve_files(repo, artifacts, TAG)
        return str(info.value)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        outcome = "crash"
        try:
            os.setgid(65534)
            os.setuid(65534)
            try:
                resolve_files(repo, artifacts, TAG)
                outcome = "resolved"
            except ArtifactFilesError as exc:
                outcome = "error:" + str(exc)
        except PermissionError:
            outcome = "no setuid"
        finally:
            os.write(write_end, outcome.encode())
            os._exit(0)
    os.close(write_end)
    with open(read_end, "rb") as reader:
        outcome = reader.read().decode()
    os.waitpid(pid, 0)
    if outcome == "no setuid":
        pytest.skip("root here cannot drop privileges, so no file is unreadable")
    assert outcome.startswith("error:"), outcome
    return outcome.removeprefix("error:")


def test_unreadable_file(world_traversable_repo: Path) -> None:
    repo = world_traversable_repo
    write(repo / "secret").chmod(0o000)
    write(repo / "fine").chmod(0o644)
    artifacts = [files("g", ("linux/amd64", "secret"), ("linux/arm64", "fine"))]
    assert _resolve_unprivileged(repo, artifacts) == (
        "artifact 'g', platform 'linux/amd64': secret: cannot be read (Permission denied); "
        "fix its permissions"
    )


def test_hash_file_streams_a_large_sparse_file(tmp_path: Path) -> None:
    big = tmp_path / "big.img"
    with big.open("wb") as stream:
        stream.truncate(50 * 1024 * 1024)
        for offset in (0, 1024 * 1024 - 3, 33 * 1024 * 1024 + 7):
            stream.seek(offset)
            stream.write(b"artreg")
    with big.open("rb") as stream:
        expected = hashlib.file_digest(stream, "sha256").hexdigest()
    tracemalloc.start()
    try:
        size, digest = hash_file(big)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (size, digest) == (50 * 1024 * 1024, expected)
    assert peak < 8 * 1024 * 1024, f"hash_file held {peak} bytes: it must not read it whole"


def test_hash_file_empty(tmp_path: Path) -> None:
    assert hash_file(write(tmp_path / "empty", b"")) == (0, sha256(b""))


def test_hash_file_refuses_a_fifo_without_blocking(tmp_path: Path, no_hang: None) -> None:
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(OSError, match="not a regular file"):
        hash_file(tmp_path / "pipe")


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("garage-v1.0.0-linux.tar.gz", "application/gzip"),
        ("garage.tgz", "application/gzip"),
        ("garage.tar.xz", "application/x-xz"),
        ("garage.tar", "application/x-tar"),
        ("garage.zip", "application/zip"),
        ("garage.ZIP", "application/zip"),
        ("garage.tar.zst", "application/zstd"),
        ("notes.txt", "text/plain"),
        ("sbom.json", "application/json"),
        ("garage_1.0.0_amd64.deb", "application/vnd.debian.binary-package"),
        ("garage.sha256", "text/plain"),
        ("garage", "application/octet-stream"),
        ("garage.unknownext", "application/octet-stream"),
        ("data:text.html", "text/html"),
        (".garage", "application/octet-stream"),
    ],
)
def test_content_type(name: str, content_type: str) -> None:
    assert guess_content_type(name) == content_type


def test_to_file_entries(repo: Path) -> None:
    write(repo / "dist/garage.zip", b"zip")
    resolved = resolve_files(repo, [files("g", ("windows/amd64", "dist/garage.zip"))], "v2.0.0")
    assert tuple(f.to_file_entry() for f in resolved) == (
        FileEntry(
            artifact="g",
            platform="windows/amd64",
            name="garage.zip",
            key="v2.0.0/windows/amd64/garage.zip",
            size=3,
            sha256=sha256(b"zip"),
            content_type="application/zip",
        ),
    )


NAMES = st.text(alphabet="abcxyz019._-", min_size=1, max_size=8).filter(
    lambda name: name not in (".", "..") and not name.startswith(".")
)
PLATFORMS = st.sampled_from(["linux/amd64", "linux/arm64", "any"])
PATTERNS = st.sampled_from(["*", "a*", "*.*", "[abc]*", "?", "**/*"])


@settings(max_examples=40, deadline=None)
@given(
    tree=st.dictionaries(
        st.tuples(st.sampled_from(["", "d1/", "d2/"]), NAMES), st.binary(max_size=16), max_size=8
    ),
    specs=st.lists(st.tuples(PLATFORMS, PATTERNS), min_size=1, max_size=3),
    order=st.randoms(use_true_random=False),
)
def test_resolution_is_sorted_and_deterministic(
    tree: dict[tuple[str, str], bytes], specs: list[tuple[str, str]], order: random.Random
) -> None:
    with tempfile.TemporaryDirectory() as top:
        repo = Path(top)
        for (folder, name), data in tree.items():
            if (repo / folder.rstrip("/")).is_file() or (repo / folder / name).is_dir():
                continue
            write(repo / folder / name, data)
        artifact = files("g", *specs)
        try:
            first = resolve_files(repo, [artifact], TAG)
        except ArtifactFilesError as exc:
            # Same inputs, same problems, in the same order.
            with pytest.raises(ArtifactFilesError) as again:
                resolve_files(repo, [artifact], TAG)
            assert again.value.problems == exc.problems
            return
        shuffled = list(specs)
        order.shuffle(shuffled)
        assert resolve_files(repo, [files("g", *shuffled)], TAG) == first
        keys = [f.key for f in first]
        assert keys == sorted(keys)
        assert len(set(keys)) == len(keys)
        for resolved in first:
            assert resolved.sha256 == sha256(resolved.source.read_bytes())
            assert resolved.source.resolve().is_relative_to(repo.resolve())


# --- globs do bounded work: no symlink loops, a cap on what one pattern looks at ---


def _loops(repo: Path) -> None:
    write(repo / "dist/app")
    write(repo / "dist/sub/tool")
    (repo / "dist/a").symlink_to(".")
    (repo / "dist/b").symlink_to(".")
    (repo / "dist/sub/up").symlink_to("..")  # one level deeper: back to dist/
    (repo / "dist/sub/top").symlink_to(repo)  # absolute, to the repository itself


@pytest.mark.usefixtures("no_hang")
def test_recursive_glob_does_not_follow_symlink_loops(repo: Path) -> None:
    # `dist/**/app` with two symlinks back to `.` once ran 10 minutes and took 430 MB.
    _loops(repo)
    resolved = resolve_files(repo, [files("g", ("any", "dist/**/app"))], TAG)
    assert [f.source for f in resolved] == [repo / "dist/app"]
    resolved = resolve_files(repo, [files("g", ("any", "dist/**"), ("src", "**/tool"))], TAG)
    assert [(f.platform, f.source) for f in resolved] == [
        ("any", repo / "dist/app"),
        ("any", repo / "dist/sub/tool"),
        ("src", repo / "dist/sub/tool"),
    ]


def test_recursive_glob_looks_at_each_entry_once(repo: Path) -> None:
    _loops(repo)
    # dist/ holds 4 entries, dist/sub/ 3: `**` looks at each once, and `app` is a lookup.
    assert glob_paths(repo, "dist/**/app", max_entries=7) == ["dist/app"]
    with pytest.raises(GlobTooBroad):
        glob_paths(repo, "dist/**/app", max_entries=6)
    assert glob_paths(repo, "**/tool", max_entries=8) == ["dist/sub/tool"]


def test_bind_mount_like_loops_are_entered_once(repo: Path) -> None:
    # A directory reached twice by (device, inode) is entered once, even without symlinks:
    # hard links to directories are impossible, so the same inode is simulated by `**/**`.
    write(repo / "a/b/c/app")
    assert glob_paths(repo, "a/**/**/app", max_entries=3) == ["a/b/c/app"]


def test_a_pattern_with_too_many_paths_is_refused(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Symlinks followed by `*` segments still multiply the paths (2^24 here): the cap
    # on entries looked at stops it with one clear problem.
    write(repo / "d/app")
    (repo / "d/x").symlink_to(".")
    (repo / "d/y").symlink_to(".")
    pattern = "d/" + "*/" * 24 + "app"
    monkeypatch.setattr(artifacts, "MAX_GLOB_ENTRIES", 10_000)
    (problem,) = problems_of(repo, [files("g", ("any", pattern))])
    assert problem == (
        f"artifact 'g', platform 'any': {pattern}: the pattern looks at more than 10,000 files "
        "and directories; narrow it in artreg.toml (name the directories the build writes to)"
    )


TREE_NAMES = st.sampled_from(["a", "b", "app", ".h", "x.tar.gz", "a1", "[a]"])


@settings(max_examples=60, deadline=None)
@given(
    tree=st.lists(st.lists(TREE_NAMES, min_size=1, max_size=4), max_size=10),
    pattern=st.lists(
        st.sampled_from(["*", "**", "a*", "?", "app", "[ab]", ".*", "*.gz", "a", "[[]a]"]),
        min_size=1,
        max_size=4,
    ).map("/".join),
)
def test_glob_paths_agrees_with_glob_without_symlinks(tree: list[list[str]], pattern: str) -> None:
    import glob

    with tempfile.TemporaryDirectory() as top:
        root = Path(top)
        for parts in tree:
            path = root.joinpath(*parts)
            if any(
                p.is_file() for p in [path, *path.parents] if p != root and p.is_relative_to(root)
            ):
                continue
            if path.is_dir():
                continue
            write(path)
        # Files are what a glob publishes (glob also answers 'a/' for 'a/**' when 'a' is a
        # file, or is missing: directories are left out of the comparison).
        expected = {
            m for m in glob.glob(pattern, root_dir=root, recursive=True) if (root / m).is_file()
        }
        assert {m for m in glob_paths(root, pattern) if (root / m).is_file()} == expected
