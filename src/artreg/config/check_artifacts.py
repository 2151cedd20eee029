"""``[[artifacts]]``: files per platform or OCI images, and what must be unique across them."""

from __future__ import annotations

from pathlib import PurePosixPath

from artreg.config import keys
from artreg.config.check import Checker
from artreg.config.model import Artifact, FileSpec
from artreg.config.values import GLOB_MAGIC, KeyPath, format_key_path
from artreg.core.keys import OCI_REPOSITORY

_ARTIFACT = keys.ARTIFACT.key
_FILE = keys.FILE.key


class ArtifactChecks(Checker):
    """Each artifact, and the names, repositories and published files that must not clash."""

    def artifacts(self, data: dict[str, object]) -> tuple[Artifact, ...]:
        raw = data.get("artifacts", [])
        if not isinstance(raw, list):
            self.expected(("artifacts",), keys.DOCUMENT.key("artifacts").expected, raw)
            return ()
        artifacts: list[Artifact] = []
        names: dict[str, int] = {}
        repositories: dict[str, int] = {}
        published: dict[tuple[str, str], KeyPath] = {}
        for index, item in enumerate(raw):
            path: KeyPath = ("artifacts", index)
            if not isinstance(item, dict):
                self.expected(path, "a table ([[artifacts]])", item)
                continue
            kind = item.get("type", "files")
            if kind not in ("files", "oci"):
                self.expected((*path, "type"), _ARTIFACT("type").expected, kind)
            self.check_variant_keys(item, path, keys.ARTIFACT)
            name = self.string(item, _ARTIFACT("name"), path)
            if name is not None:
                fix = "give each artifact its own name"
                self.unique(names, name, index, (*path, "name"), "artifact name", fix)
            if kind == "files":
                files = self.files(item, path, published)
                artifacts.append(Artifact(name=name or "", type="files", files=files))
            elif kind == "oci":
                artifacts.append(self.oci(item, index, name, repositories))
        return tuple(artifacts)

    def unique(
        self, seen: dict[str, int], value: str, index: int, at: KeyPath, what: str, fix: str
    ) -> None:
        """Report ``value`` when an earlier artifact has it; remember it otherwise."""
        if value in seen:
            self.problem(
                at,
                f"duplicate {what} {value!r} (also artifacts[{seen[value]}]); {fix}",
            )
        else:
            seen[value] = index

    def files(
        self,
        item: dict[str, object],
        path: KeyPath,
        published: dict[tuple[str, str], KeyPath],
    ) -> tuple[FileSpec, ...]:
        spec = _ARTIFACT("files")
        if "files" not in item:
            self.problem((*path, "files"), f"missing; {spec.missing}", at=path)
            return ()
        raw = item["files"]
        if not isinstance(raw, list) or not raw:
            self.expected((*path, "files"), spec.expected, raw)
            return ()
        specs: list[FileSpec] = []
        for index, entry in enumerate(raw):
            entry_path: KeyPath = (*path, "files", index)
            if not isinstance(entry, dict):
                self.expected(entry_path, "a { platform = ..., path = ... } table", entry)
                continue
            self.check_keys(entry, entry_path, keys.FILE)
            platform = self.string(entry, _FILE("platform"), entry_path)
            file_path = self.string(entry, _FILE("path"), entry_path)
            if platform is None or file_path is None:
                continue
            specs.append(FileSpec(platform=platform, path=file_path))
            if GLOB_MAGIC.search(file_path):
                continue  # what a glob matches is checked when publishing
            key = (platform, PurePosixPath(file_path).name)
            if key in published:
                self.problem(
                    entry_path,
                    f"publishes '{key[0]}/{key[1]}', like {format_key_path(published[key])}; "
                    "change the platform or rename the file",
                )
            else:
                published[key] = entry_path
        return tuple(specs)

    def oci(
        self,
        item: dict[str, object],
        index: int,
        name: str | None,
        repositories: dict[str, int],
    ) -> Artifact:
        path: KeyPath = ("artifacts", index)
        image = self.string(item, _ARTIFACT("path"), path)
        repository = self.string(item, _ARTIFACT("repository"), path)
        if "repository" not in item and name is not None:
            if OCI_REPOSITORY.fullmatch(name):
                repository = name
            else:
                self.problem(
                    (*path, "repository"),
                    f"defaults to the artifact name {name!r}, which is not an OCI repository "
                    f'name ({keys.OCI_GRAMMAR}); set repository = "..."',
                    at=(*path, "name"),
                )
        if repository is not None:
            at = (*path, "repository") if "repository" in item else (*path, "name")
            fix = "give each image its own repository"
            self.unique(repositories, repository, index, at, "OCI repository", fix)
        aliases = self.boolean(item, _ARTIFACT("aliases"), path)
        return Artifact(
            name=name or "",
            type="oci",
            path=image,
            repository=repository,
            aliases=bool(aliases),
        )
