from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sshkeys import keygen

from artreg.core.signing import allowed_signers, verify_command
from artreg.errors import InvalidSigningKey
from artreg.publish.signing import SigningKey, sign

SUMS = b"a" * 64 + b"  linux/amd64/app\n"


def verify(directory: Path, principal: str = "garage") -> subprocess.CompletedProcess[bytes]:
    """The exact command the build page shows, run by a shell in the build directory."""
    return subprocess.run(
        verify_command(principal, "allowed_signers"),
        shell=True,
        cwd=directory,
        capture_output=True,
        check=False,
    )


def published(tmp_path: Path, sums: bytes, signature: bytes, public_key: str) -> Path:
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "SHA256SUMS").write_bytes(sums)
    (site / "SHA256SUMS.sig").write_bytes(signature)
    (site / "allowed_signers").write_bytes(allowed_signers("garage", public_key))
    return site


@pytest.mark.parametrize("source", ["env", "file"])
def test_real_ssh_keygen_verifies_and_rejects_tampering(tmp_path: Path, source: str) -> None:
    key = keygen(tmp_path)
    if source == "env":
        signed = sign(SUMS, SigningKey(key_env="ARTREG_KEY"), {"ARTREG_KEY": key.read_text()})
    else:
        signed = sign(SUMS, SigningKey(key_file=str(key)), {})
    assert signed.public_key.split()[:2] == key.with_suffix(".pub").read_text().split()[:2]
    assert signed.signature.startswith(b"-----BEGIN SSH SIGNATURE-----")
    site = published(tmp_path, SUMS, signed.signature, signed.public_key)
    done = verify(site)
    assert done.returncode == 0, done.stderr
    assert b'Good "file" signature for garage' in done.stderr + done.stdout

    # a tampered SHA256SUMS fails
    (site / "SHA256SUMS").write_bytes(SUMS.replace(b"a", b"b", 1))
    assert verify(site).returncode != 0
    # a tampered signature fails
    (site / "SHA256SUMS").write_bytes(SUMS)
    lines = signed.signature.splitlines()
    middle = len(lines) // 2
    lines[middle] = bytes([lines[middle][0] ^ 1]) + lines[middle][1:]
    (site / "SHA256SUMS.sig").write_bytes(b"\n".join(lines) + b"\n")
    assert verify(site).returncode != 0
    # a signature by another key fails against the published signers
    other = sign(SUMS, SigningKey(key_file=str(keygen(tmp_path, "other"))), {})
    (site / "SHA256SUMS.sig").write_bytes(other.signature)
    assert verify(site).returncode != 0
    # the right signature passes again, and the principal matters
    (site / "SHA256SUMS.sig").write_bytes(signed.signature)
    assert verify(site).returncode == 0
    assert verify(site, "someone-else").returncode != 0


def test_refused_keys_say_where(tmp_path: Path) -> None:
    with pytest.raises(InvalidSigningKey, match="environment variable ARTREG_KEY is not set"):
        sign(SUMS, SigningKey(key_env="ARTREG_KEY"), {})
    with pytest.raises(InvalidSigningKey, match=r"key_file: .*nope: cannot read"):
        sign(SUMS, SigningKey(key_file=str(tmp_path / "nope")), {})
    with pytest.raises(InvalidSigningKey, match="ssh-keygen failed"):
        sign(SUMS, SigningKey(key_env="K"), {"K": "not a key"})
    locked = keygen(tmp_path, "locked", passphrase="secret")
    with pytest.raises(InvalidSigningKey, match="unencrypted OpenSSH private key"):
        sign(SUMS, SigningKey(key_file=str(locked)), {})
    with pytest.raises(InvalidSigningKey, match="set key_env or key_file"):
        sign(SUMS, SigningKey(), {})
