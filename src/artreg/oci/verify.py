"""Check the published images that build manifests record (what ``artreg verify`` runs).

Per image: ``GET /v2/``, the tag's manifest, the same bytes under its digest,
every child manifest (by digest, re-hashed: they are small), every referenced
blob present with its size, and the digest the build recorded; per repository,
``tags/list`` agreeing with the tag manifests present. With ``deep``, every blob
is also downloaded and re-hashed (one at a time).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from artreg.core.images import MAX_INDEX_DEPTH
from artreg.core.jsondoc import parse
from artreg.core.manifest import Build
from artreg.errors import Malformed, NotFound
from artreg.oci.image import (
    INDEX_TYPES,
    MANIFEST_TYPES,
    MAX_MANIFEST_SIZE,
    SHA256_DIGEST,
    sha256_digest,
)
from artreg.oci.publish import (
    REGISTRY_ROOT_KEY,
    RepositoryState,
    blob_key,
    manifest_key,
    read_repository,
    tags_list_key,
)
from artreg.render.terminal import counted
from artreg.stores.base import ObjectInfo, Store


@dataclass
class Reachable:
    """Digests reachable from some roots of one repository, and what could not be read."""

    manifests: set[str] = field(default_factory=set)
    blobs: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


def _listed_tags(store: Store, repository: str) -> list[str] | None:
    """The tags ``tags/list`` lists; None when it is missing or unreadable."""
    try:
        doc = parse(store.get(tags_list_key(repository)), max_bytes=MAX_MANIFEST_SIZE)
    except (NotFound, Malformed):
        return None
    tags = doc.get("tags") if isinstance(doc, dict) else None
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else None


def _verify_tag(
    store: Store,
    repository: str,
    reference: str,
    deep: bool,
    state: RepositoryState,
    listed: list[str] | None,
) -> tuple[list[str], str | None]:
    """Problems with one tag, and the digest of its manifest (None when it is missing)."""
    problems: list[str] = []
    where = f"{store.description}: {repository}"
    try:
        body = store.get(manifest_key(repository, reference))
    except NotFound:
        return [f"{where}:{reference}: the tag's manifest is missing"], None
    digest = sha256_digest(body)
    stored = state.manifests.get(digest)
    if stored is None:
        problems.append(f"{where}: {digest} (tag {reference}) is not stored by digest")
    elif stored.size != len(body):
        problems.append(
            f"{where}: {digest} by digest has {counted(stored.size, 'byte')}, the tag {len(body)}"
        )
    found = Reachable()
    _walk(store, repository, digest, body, found, state.blobs, deep, 0)
    problems += found.problems
    if reference not in (listed or ()):
        problems.append(f"{where}: tags/list does not list {reference!r}")
    return problems, digest


@dataclass
class ImageFindings:
    """What :func:`verify_images` found, and how many images it checked."""

    problems: list[str] = field(default_factory=list)
    images: int = 0


def verify_images(store: Store, builds: Iterable[Build], deep: bool = False) -> ImageFindings:
    """Every image the build manifests record, each repository listed once.

    Per image, the checks of the module docstring, plus the tag's manifest having
    the digest the build recorded; per repository, ``tags/list`` agreeing with
    the tag manifests present (both ways).
    """
    found = ImageFindings()
    repositories: dict[str, tuple[RepositoryState, list[str] | None]] = {}
    for build in builds:
        for image in build.images:
            repository = image.repository
            if not repositories and store.head(REGISTRY_ROOT_KEY) is None:
                found.problems.append(
                    f"{store.description}: {REGISTRY_ROOT_KEY} is missing: GET /v2/ fails"
                )
            if repository not in repositories:
                repositories[repository] = (
                    read_repository(store, repository),
                    _listed_tags(store, repository),
                )
            state, listed = repositories[repository]
            found.images += 1
            problems, digest = _verify_tag(store, repository, image.tag, deep, state, listed)
            if digest is not None and digest != image.digest:
                problems.append(
                    f"{store.description}: {repository}:{image.tag} is {digest}, "
                    f"build {build.tag} recorded {image.digest}"
                )
            # tags/list is checked once per repository, below.
            found.problems += [
                p for p in problems if not p.endswith(f"tags/list does not list {image.tag!r}")
            ]
    for repository, (state, listed) in sorted(repositories.items()):
        where = f"{store.description}: {repository}"
        if listed is None:
            found.problems.append(f"{where}: tags/list is missing or unreadable")
            continue
        present = set(state.tags())
        for tag in sorted(present - set(listed)):
            found.problems.append(f"{where}: tags/list does not list {tag!r}, which has a manifest")
        for tag in sorted(set(listed) - present):
            found.problems.append(f"{where}: tags/list lists {tag!r}, which has no manifest")
    return found


def _walk(
    store: Store,
    repository: str,
    digest: str,
    body: bytes,
    found: Reachable,
    blobs: Mapping[str, ObjectInfo],
    deep: bool,
    depth: int,
) -> None:
    where = f"{store.description}: {repository}@{digest[:19]}"
    if digest in found.manifests:
        return
    found.manifests.add(digest)
    try:
        doc = parse(body, max_bytes=MAX_MANIFEST_SIZE)
    except ValueError:
        found.problems.append(f"{where}: the manifest is not JSON")
        return
    if not isinstance(doc, dict):
        found.problems.append(f"{where}: the manifest is not a JSON object")
        return
    media_type = doc.get("mediaType")
    if "manifests" in doc or media_type in INDEX_TYPES:
        for n, child in enumerate(doc.get("manifests") or ()):
            child_digest = child.get("digest") if isinstance(child, dict) else None
            if not isinstance(child_digest, str) or not SHA256_DIGEST.fullmatch(child_digest):
                found.problems.append(f"{where}: manifests[{n}] has no valid digest")
                continue
            try:
                child_body = store.get(manifest_key(repository, child_digest))
            except NotFound:
                found.problems.append(f"{where}: child manifest {child_digest} is missing")
                continue
            if sha256_digest(child_body) != child_digest:
                found.problems.append(f"{where}: child manifest {child_digest} has other content")
                continue
            if depth < MAX_INDEX_DEPTH:
                _walk(store, repository, child_digest, child_body, found, blobs, deep, depth + 1)
        return
    if media_type is not None and media_type not in MANIFEST_TYPES and "config" not in doc:
        found.problems.append(f"{where}: unknown manifest media type {media_type!r}")
        return
    descriptors = [doc.get("config"), *(doc.get("layers") or ())]
    for desc in descriptors:
        if not isinstance(desc, dict) or desc.get("urls"):
            continue  # foreign layers are fetched from their urls
        blob = desc.get("digest")
        size = desc.get("size")
        if not isinstance(blob, str) or not SHA256_DIGEST.fullmatch(blob):
            found.problems.append(f"{where}: a descriptor has no valid digest")
            continue
        found.blobs.add(blob)
        info = blobs.get(blob)
        if info is None:
            found.problems.append(f"{where}: blob {blob} is missing")
        elif info.size != size:
            found.problems.append(f"{where}: blob {blob} has {info.size} bytes, expected {size}")
        elif deep:
            body = store.get(blob_key(repository, blob))
            if "sha256:" + hashlib.sha256(body).hexdigest() != blob:
                found.problems.append(f"{where}: blob {blob} does not match its digest")
