"""open_store: a Store from a [targets.NAME] table, boto3 imported only for s3."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from artreg.config import Target
from artreg.errors import StoreError
from artreg.stores import open_store


def test_importing_stores_does_not_import_boto3() -> None:
    code = "import sys, artreg.stores, artreg.stores.dir; print('boto3' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_open_store_dir_path_is_relative_to_the_config_dir(tmp_path: Path) -> None:
    store = open_store(Target(name="preview", type="dir", path="public"), tmp_path)
    assert store.description == f"dir:{tmp_path / 'public'}"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (Target(name="x", type="dir"), "targets.x: a dir target needs a path"),
        (Target(name="x", type="s3"), "targets.x: an s3 target needs a bucket"),
        (Target(name="x", type="ftp"), "targets.x: unknown type 'ftp'"),
    ],
)
def test_open_store_refuses_incomplete_targets(target: Target, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        open_store(target, Path("."))
