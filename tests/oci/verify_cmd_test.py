"""``artreg verify`` covers the images build manifests record: one precise line per damage.

Two builds publish an image each (sharing nothing) into a dir target; the
damage is done behind artreg's back, on the files, and ``verify`` must name
exactly what is wrong, exit 1, and say nothing about what is intact.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
from oci.builder import Built, build_image

from artreg.cli import main
from artreg.stores.dir import DirStore

REPO = "team/demo"
NOW = "2025-06-01T12:00:00Z"


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    root = tmp_path_factory.mktemp("verify-images")
    return {
        "one": build_image(root / "one", ref="v1", seed="one"),
        "two": build_image(
            root / "two", ref="v1", seed="two", platforms=("linux/amd64", "linux/arm64")
        ),
    }


def run(config: Path, *args: str) -> tuple[int, list[str], str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([args[0], "--config", str(config), *args[1:]])
    return code, out.getvalue().splitlines(), err.getvalue()


def publish(root: Path, images: dict[str, Built]) -> tuple[Path, Path]:
    root.mkdir(parents=True, exist_ok=True)
    config = root / "artreg.toml"
    for tag, name in (("v1.0.0", "one"), ("v1.1.0+feat", "two")):
        config.write_text(
            '[project]\nname = "demo"\n\n[[artifacts]]\nname = "img"\ntype = "oci"\n'
            f'path = "{images[name].root}:v1"\nrepository = "{REPO}"\n\n'
            '[targets.test]\ntype = "dir"\npath = "public"\n'
        )
        code, _, err = run(config, "apply", "--tag", tag, "--now", NOW)
        assert code == 0, err
    return config, root / "public"


def test_verify_passes_and_counts_the_images(images: dict[str, Built], tmp_path: Path) -> None:
    config, _ = publish(tmp_path, images)
    code, out, err = run(config, "verify", "--deep")
    assert (code, out) == (0, []), err
    assert err.strip().endswith("2 images)")


def test_verify_names_each_damage(images: dict[str, Built], tmp_path: Path) -> None:
    config, public = publish(tmp_path, images)
    where = f"{DirStore(public).description}: {REPO}"
    one = images["one"]
    # A layer of the first image is gone.
    layer = one.blobs[-1]
    (public / f"v2/{REPO}/blobs/{layer}").unlink()
    # The second image's tag manifest is gone (its digest manifest stays).
    (public / f"v2/{REPO}/manifests/v1.1.0_feat").unlink()
    code, out, _ = run(config, "verify")
    assert code == 1
    assert out == [
        f"{where}@{one.digest[:19]}: blob {layer} is missing",
        f"{where}:v1.1.0_feat: the tag's manifest is missing",
        f"{where}: tags/list lists 'v1.1.0_feat', which has no manifest",
    ]
    code, lines, _ = run(config, "verify", "--json")
    assert json.loads("\n".join(lines))["problems"] == out


def test_verify_sees_a_changed_blob_only_when_deep(
    images: dict[str, Built], tmp_path: Path
) -> None:
    config, public = publish(tmp_path, images)
    where = f"{DirStore(public).description}: {REPO}"
    two = images["two"]
    arm = two.platforms["linux/arm64"]
    layer = two.blobs[-1]
    path = public / f"v2/{REPO}/blobs/{layer}"
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    assert run(config, "verify")[:2] == (0, [])
    code, out, _ = run(config, "verify", "--deep")
    assert code == 1
    assert out == [f"{where}@{arm[:19]}: blob {layer} does not match its digest"]


def test_verify_compares_tags_list_with_the_tag_manifests(
    images: dict[str, Built], tmp_path: Path
) -> None:
    config, public = publish(tmp_path, images)
    where = f"{DirStore(public).description}: {REPO}"
    tags_list = public / f"v2/{REPO}/tags/list"
    tags_list.write_text(json.dumps({"name": REPO, "tags": ["v1.0.0", "v9"]}))
    code, out, _ = run(config, "verify")
    assert code == 1
    assert out == [
        f"{where}: tags/list does not list 'v1.1.0_feat', which has a manifest",
        f"{where}: tags/list lists 'v9', which has no manifest",
    ]
    tags_list.unlink()
    code, out, _ = run(config, "verify")
    assert out == [f"{where}: tags/list is missing or unreadable"]


def test_verify_names_a_tag_moved_to_another_image(
    images: dict[str, Built], tmp_path: Path
) -> None:
    config, public = publish(tmp_path, images)
    where = f"{DirStore(public).description}: {REPO}"
    one, two = images["one"], images["two"]
    moved = public / f"v2/{REPO}/manifests/v1.0.0"
    moved.write_bytes((public / f"v2/{REPO}/manifests/{two.digest}").read_bytes())
    code, out, _ = run(config, "verify")
    assert code == 1
    assert out == [f"{where}:v1.0.0 is {two.digest}, build v1.0.0 recorded {one.digest}"]
