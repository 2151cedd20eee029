"""Links to a build's commit and tag on the project's forge (``[project] repository``).

Pure. The forge is recognised from the host: github.com (and GitHub
Enterprise hosts named ``github``), hosts named ``gitlab``, and Forgejo/Gitea
(codeberg.org, hosts named ``forgejo`` or ``gitea``). Any other host gets
GitHub's paths, which Forgejo and Gitea also answer.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from artreg.errors import InvalidRepository

_COMMIT = re.compile(r"[0-9a-f]{7,64}")


class Forge(str, enum.Enum):
    GITHUB = "github"
    GITLAB = "gitlab"
    FORGEJO = "forgejo"


_PATHS = {
    Forge.GITHUB: ("commit/{commit}", "releases/tag/{tag}"),
    Forge.GITLAB: ("-/commit/{commit}", "-/tags/{tag}"),
    Forge.FORGEJO: ("commit/{commit}", "src/tag/{tag}"),
}


@dataclass(frozen=True)
class Repository:
    url: str  # https://host/owner/name, no trailing slash, no .git
    forge: Forge

    def commit_url(self, commit: str | None) -> str | None:
        """The commit's page, or None when ``commit`` is not a hex commit id."""
        if commit is None or not _COMMIT.fullmatch(commit):
            return None
        return f"{self.url}/{_PATHS[self.forge][0].format(commit=commit)}"

    def tag_url(self, tag: str) -> str:
        return f"{self.url}/{_PATHS[self.forge][1].format(tag=quote(tag, safe=''))}"


def detect(host: str) -> Forge:
    host = host.lower()
    if "gitlab" in host:
        return Forge.GITLAB
    if host == "codeberg.org" or "forgejo" in host or "gitea" in host:
        return Forge.FORGEJO
    return Forge.GITHUB


def parse_repository(text: str, forge: Forge | None = None) -> Repository:
    """Read ``[project] repository``: ``https://host/owner/name`` (``.git`` and ``/`` dropped)."""
    parts = urlsplit(text.strip())
    path = parts.path.rstrip("/").removesuffix(".git")
    if parts.scheme not in ("https", "http") or not parts.hostname or path.count("/") < 2:
        raise InvalidRepository(
            f"[project] repository: expected an https URL like https://github.com/owner/name, "
            f"got {text!r}"
        )
    if parts.query or parts.fragment or any(c.isspace() or c in "\"'<>" for c in text.strip()):
        raise InvalidRepository(f"[project] repository: {text!r} has a query, fragment or quote")
    url = f"{parts.scheme}://{parts.netloc}{path}"
    return Repository(url=url, forge=forge or detect(parts.hostname))
