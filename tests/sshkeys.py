"""OpenSSH keys for the signing tests (``ssh-keygen``, from openssh-client)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def keygen(tmp_path: Path, name: str = "key", passphrase: str = "") -> Path:
    binary = shutil.which("ssh-keygen")
    if binary is None:
        pytest.fail("ssh-keygen (openssh-client) is not installed")
    path = tmp_path / name
    subprocess.run(
        [binary, "-q", "-t", "ed25519", "-N", passphrase, "-C", "ci", "-f", str(path)], check=True
    )
    return path
