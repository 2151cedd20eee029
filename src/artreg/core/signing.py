"""Signatures of ``SHA256SUMS`` with OpenSSH (``ssh-keygen -Y sign`` / ``-Y verify``).

Pure: the allowed-signers file users verify against, the exact commands a page
shows. OpenSSH ships on every ordinary system (8.1+ for ``-Y``), so checking a
download needs nothing installed. The namespace is ``file``, ssh-keygen's
convention for signed files.
"""

from __future__ import annotations

import re
import shlex

from artreg.core.keys import SIGNATURE_NAME, SUMS_NAME
from artreg.errors import InvalidSigningKey

NAMESPACE = "file"
# Published at a fixed key, under artreg's own directory.
ALLOWED_SIGNERS_KEY = "_artreg/allowed_signers"
_PUBLIC_KEY = re.compile(
    r"(?P<type>(?:ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)|"
    r"sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com))"
    r" (?P<blob>[A-Za-z0-9+/]+={0,3})(?: .*)?"
)
_PRINCIPAL_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]+")


def identity(project: str) -> str:
    """The principal named in the allowed-signers file: the project name, made shell- and
    ssh-pattern-safe (``my app`` -> ``my-app``)."""
    safe = _PRINCIPAL_UNSAFE.sub("-", project).strip("-.")
    return safe or "artreg"


def allowed_signers(principal: str, public_key: str) -> bytes:
    """One allowed-signers line for ``public_key`` (``ssh-ed25519 AAAA... comment``)."""
    match = _PUBLIC_KEY.fullmatch(public_key.strip())
    if match is None:
        raise InvalidSigningKey(
            f"not an OpenSSH public key: {public_key[:40]!r}; expected 'ssh-ed25519 AAAA...'"
        )
    if _PRINCIPAL_UNSAFE.search(principal) or not principal:
        raise InvalidSigningKey(f"signing identity {principal!r}: use letters, digits, ._@+-")
    return f'{principal} namespaces="{NAMESPACE}" {match["type"]} {match["blob"]}\n'.encode()


def verify_command(principal: str, signers_url: str = "allowed_signers") -> str:
    """The shell line that checks ``SHA256SUMS`` against its signature, run in the build's
    directory next to a downloaded ``allowed_signers`` (from ``signers_url``)."""
    return (
        f"ssh-keygen -Y verify -f {shlex.quote(signers_url)} -I {shlex.quote(principal)} "
        f"-n {NAMESPACE} -s {SIGNATURE_NAME} < {SUMS_NAME}"
    )


def check_command() -> str:
    """The shell line that checks downloaded files against ``SHA256SUMS``."""
    return f"sha256sum -c --ignore-missing {SUMS_NAME}"
