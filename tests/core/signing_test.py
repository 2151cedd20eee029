from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from artreg.core.signing import allowed_signers, check_command, identity, verify_command
from artreg.errors import InvalidSigningKey

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOq2 user@host"


@pytest.mark.parametrize(
    ("project", "principal"),
    [
        ("garage", "garage"),
        ("my app", "my-app"),
        ("a;rm -rf /", "a-rm--rf"),
        ("<>", "artreg"),
        ("ünï", "n"),
        ("x.y@z", "x.y@z"),
    ],
)
def test_identity(project: str, principal: str) -> None:
    assert identity(project) == principal


@given(st.text(max_size=40))
def test_identity_is_always_a_usable_principal(project: str) -> None:
    principal = identity(project)
    assert allowed_signers(principal, KEY).startswith(principal.encode() + b" ")


def test_allowed_signers_line() -> None:
    assert allowed_signers("garage", KEY) == (
        b'garage namespaces="file" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOq2\n'
    )


@pytest.mark.parametrize("key", ["", "AAAA", "ssh-dss AAAA", "ssh-ed25519 AA AA\nx y"])
def test_allowed_signers_refuses_other_text(key: str) -> None:
    with pytest.raises(InvalidSigningKey, match="not an OpenSSH public key"):
        allowed_signers("garage", key)


def test_commands() -> None:
    assert verify_command("garage", "../allowed_signers") == (
        "ssh-keygen -Y verify -f ../allowed_signers -I garage -n file -s SHA256SUMS.sig"
        " < SHA256SUMS"
    )
    assert "'a b'" in verify_command("garage", "a b")
    assert check_command() == "sha256sum -c --ignore-missing SHA256SUMS"
