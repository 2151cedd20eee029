"""Sign ``SHA256SUMS`` with ``ssh-keygen -Y sign``: the key from the environment or a file.

The private key never comes from artreg.toml (it is committed): ``[signing]``
names an environment variable holding the key text, or a file path. Keys
with a passphrase are refused (CI cannot type one); ssh-keygen runs without a
controlling terminal so it can never stop to ask.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from artreg.core.signing import NAMESPACE
from artreg.errors import InvalidSigningKey


@dataclass(frozen=True)
class SigningKey:
    """Where the key is: exactly one of an environment variable or a file."""

    key_env: str | None = None
    key_file: str | None = None


@dataclass(frozen=True)
class Signed:
    signature: bytes  # the armored SSH signature (SHA256SUMS.sig)
    public_key: str  # "ssh-ed25519 AAAA..." of the key that signed


def _ssh_keygen() -> str:
    binary = shutil.which("ssh-keygen")
    if binary is None:
        raise InvalidSigningKey(
            "signing is configured but ssh-keygen (OpenSSH 8.1+) is not installed; "
            "install openssh-client or remove [signing] from artreg.toml"
        )
    return binary


def _run(args: list[str], data: bytes, what: str) -> bytes:
    done = subprocess.run(
        args,
        input=data,
        capture_output=True,
        check=False,
        start_new_session=True,  # no terminal: a passphrase prompt fails instead of hanging
        env={**os.environ, "SSH_ASKPASS_REQUIRE": "never"},
    )
    if done.returncode != 0:
        detail = done.stderr.decode(errors="replace").strip().splitlines()
        raise InvalidSigningKey(
            f"{what}: ssh-keygen failed ({detail[-1] if detail else done.returncode}); "
            "the key must be an unencrypted OpenSSH private key (ssh-keygen -t ed25519 -N '')"
        )
    return done.stdout


def _key_text(key: SigningKey, environ: Mapping[str, str]) -> tuple[str, bytes]:
    if key.key_env is not None:
        where = f"[signing] key_env: environment variable {key.key_env}"
        text = environ.get(key.key_env)
        if not text:
            raise InvalidSigningKey(f"{where} is not set or empty; set it to the private key text")
        return where, text.encode() + (b"" if text.endswith("\n") else b"\n")
    if key.key_file is not None:
        where = f"[signing] key_file: {key.key_file}"
        try:
            return where, Path(key.key_file).expanduser().read_bytes()
        except OSError as exc:
            raise InvalidSigningKey(f"{where}: cannot read ({exc.strerror})") from exc
    raise InvalidSigningKey("[signing]: set key_env or key_file")


def sign(data: bytes, key: SigningKey, environ: Mapping[str, str] | None = None) -> Signed:
    """Sign ``data`` (the SHA256SUMS bytes); returns the signature and the public key."""
    binary = _ssh_keygen()
    where, text = _key_text(key, os.environ if environ is None else environ)
    with tempfile.TemporaryDirectory(prefix="artreg-sign-") as scratch:
        key_path = Path(scratch) / "key"
        # ssh-keygen refuses keys readable by others; the text never touches a shared path
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(text)
        public = _run([binary, "-y", "-P", "", "-f", str(key_path)], b"", where)
        signature = _run([binary, "-Y", "sign", "-f", str(key_path), "-n", NAMESPACE], data, where)
    return Signed(signature=signature, public_key=public.decode().strip())
