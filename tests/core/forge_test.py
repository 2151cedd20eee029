from __future__ import annotations

import pytest

from artreg.core.forge import Forge, parse_repository
from artreg.errors import InvalidRepository

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(
    ("url", "commit", "tag"),
    [
        (
            "https://github.com/deuxfleurs/garage",
            f"https://github.com/deuxfleurs/garage/commit/{SHA}",
            "https://github.com/deuxfleurs/garage/releases/tag/v1.0.0%2Bx",
        ),
        (
            "https://gitlab.com/group/sub/project.git",
            f"https://gitlab.com/group/sub/project/-/commit/{SHA}",
            "https://gitlab.com/group/sub/project/-/tags/v1.0.0%2Bx",
        ),
        (
            "https://git.deuxfleurs.fr/Deuxfleurs/garage/",
            f"https://git.deuxfleurs.fr/Deuxfleurs/garage/commit/{SHA}",
            "https://git.deuxfleurs.fr/Deuxfleurs/garage/releases/tag/v1.0.0%2Bx",
        ),
        (
            "https://codeberg.org/forgejo/forgejo",
            f"https://codeberg.org/forgejo/forgejo/commit/{SHA}",
            "https://codeberg.org/forgejo/forgejo/src/tag/v1.0.0%2Bx",
        ),
        (
            "https://gitlab.example.org:8443/a/b",
            f"https://gitlab.example.org:8443/a/b/-/commit/{SHA}",
            "https://gitlab.example.org:8443/a/b/-/tags/v1.0.0%2Bx",
        ),
    ],
)
def test_links(url: str, commit: str, tag: str) -> None:
    repository = parse_repository(url)
    assert repository.commit_url(SHA) == commit
    assert repository.tag_url("v1.0.0+x") == tag


def test_no_link_for_a_non_commit() -> None:
    repository = parse_repository("https://github.com/a/b")
    assert repository.commit_url(None) is None
    assert repository.commit_url("v1.0.0") is None
    assert repository.commit_url("<script>") is None


def test_forced_forge() -> None:
    assert parse_repository("https://git.example.org/a/b", Forge.GITLAB).forge is Forge.GITLAB


@pytest.mark.parametrize(
    "url",
    [
        "github.com/a/b",
        "ftp://github.com/a/b",
        "https://github.com/",
        "https://github.com/a",
        "javascript:alert(1)//a/b",
        "https://github.com/a/b?x=1",
        'https://github.com/a/b"onmouseover=x',
    ],
)
def test_refused(url: str) -> None:
    with pytest.raises(InvalidRepository, match=r"\[project\] repository"):
        parse_repository(url)
