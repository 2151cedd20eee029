"""Write images into a target as a pull-only registry tree under ``v2/``.

Layout (keys relative to the target root)::

    v2/index.html                              {} : GET /v2/ answers 200
    v2/<repository>/blobs/<digest>             configs and layers (content-addressed)
    v2/<repository>/manifests/<digest>         every manifest and index, by digest
    v2/<repository>/manifests/<oci tag>        the same bytes under each tag
    v2/<repository>/tags/list                  {"name": ..., "tags": [...]}

Writes happen in phases, each complete before the next starts, so a reader
never meets a reference to a missing object: blobs, then child manifests,
then the top manifest or index by digest, then tag manifests, then the tag
list; the caller writes the build manifest only after all of them.

What exists is read with one LIST per repository prefix (blobs, manifests,
tags), and a second run writes nothing. ETags are never predicted (they are
not the md5 of the bytes on every server): a blob or manifest stored under
its digest and present with its size is not written again (content-addressed,
like a blob); a tag manifest is unchanged when its ETag is the one the same
LIST shows for the manifest stored under its digest (the same server, the
same bytes), otherwise it is read back and compared; the small tag list is
read back and compared.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from artreg.config import Artifact
from artreg.core.jsondoc import parse
from artreg.core.manifest import ImageEntry
from artreg.core.plan import Action, Kind, Op
from artreg.core.tags import (
    Category,
    Convention,
    classify,
    classify_is_valid,
    decode_tag,
    encode_tag,
)
from artreg.errors import InvalidOciTag, NotFound
from artreg.oci.image import MAX_MANIFEST_SIZE, OCI_INDEX, OCI_MANIFEST, Image, sha256_digest
from artreg.oci.layout import read_image
from artreg.stores.base import ObjectInfo, PutRequest, Store
from artreg.stores.steps import (
    IMMUTABLE_CACHE,
    JSON_TYPE,
    MUTABLE_CACHE,
    OCTET_TYPE,
    Step,
)

REGISTRY_ROOT_KEY = "v2/index.html"
REGISTRY_ROOT_BODY = b"{}\n"
BLOB_TYPE = OCTET_TYPE
OCI_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
LATEST = "latest"

# Phases, in write order.
_ROOT_AND_BLOBS, _CHILDREN, _TOP, _TAGS, _TAG_LISTS = range(5)


def oci_tag(tag: str) -> str:
    """The OCI tag of an artreg tag ('+' -> '_'); raises :class:`InvalidOciTag`."""
    encoded = encode_tag(tag)
    if not OCI_TAG.fullmatch(encoded):
        raise InvalidOciTag(
            f"tag {tag!r}: {encoded!r} is not a valid OCI tag (expected "
            f"{OCI_TAG.pattern}: a letter, digit or '_' first, then letters, digits, '.', '_' "
            "or '-', at most 128 characters); nothing was uploaded; publish under a valid tag"
        )
    return encoded


def repository_prefix(repository: str) -> str:
    return f"v2/{repository}/"


def blob_key(repository: str, digest: str) -> str:
    return f"v2/{repository}/blobs/{digest}"


def manifest_key(repository: str, reference: str) -> str:
    """``reference`` is an OCI tag or a digest."""
    return f"v2/{repository}/manifests/{reference}"


def tags_list_key(repository: str) -> str:
    return f"v2/{repository}/tags/list"


def tags_list_body(repository: str, tags: Iterable[str]) -> bytes:
    """The distribution spec's tag list: tags in lexical (code-point) order."""
    doc = {"name": repository, "tags": sorted(set(tags))}
    return (json.dumps(doc, indent=1) + "\n").encode()


def aliases_for(release_tags: Iterable[str], convention: Convention) -> dict[str, str]:
    """Alias OCI tags and the release each points at: ``latest`` and ``<prefix>MAJOR.MINOR``.

    ``latest`` names the highest release; ``v1.2`` the highest ``v1.2.*``.
    Tags that are not releases are ignored; an alias that would itself be a
    valid tag under the convention is never produced (it could be a build).
    """
    highest: dict[str, tuple[tuple[int, int, int], str]] = {}
    for tag in release_tags:
        verdict = classify(tag, convention)
        if verdict.category is not Category.RELEASE or verdict.version is None:
            continue
        version = verdict.version
        key = (version.major, version.minor, version.patch)
        for alias in (LATEST, f"{convention.prefix}{version.major}.{version.minor}"):
            if alias not in highest or key > highest[alias][0]:
                highest[alias] = (key, tag)
    return {
        alias: tag
        for alias, (_, tag) in sorted(highest.items())
        if not classify_is_valid(alias, convention) and OCI_TAG.fullmatch(alias)
    }


@dataclass(frozen=True)
class ImageSource:
    """An image to publish: which artifact, into which repository, whether with aliases."""

    artifact: str
    repository: str
    image: Image
    aliases: bool = False

    def entry(self, tag: str) -> ImageEntry:
        top = self.image.top
        return ImageEntry(
            artifact=self.artifact,
            repository=self.repository,
            tag=oci_tag(tag),
            digest=top.digest,
            media_type=top.media_type,
            size=top.size,
        )


def read_images(base: Path, artifacts: Sequence[Artifact]) -> tuple[ImageSource, ...]:
    """Read and validate every ``type = "oci"`` artifact; paths are relative to ``base``."""
    sources: list[ImageSource] = []
    try:
        for artifact in artifacts:
            if artifact.type != "oci" or artifact.path is None:
                continue
            image = read_image(base / artifact.path)
            repository = artifact.repository or artifact.name
            sources.append(ImageSource(artifact.name, repository, image, artifact.aliases))
    except BaseException:
        for source in sources:
            source.image.close()
        raise
    return tuple(sources)


@dataclass(frozen=True)
class RepositoryState:
    """What one repository holds: blobs by digest, manifests by reference, the tag list."""

    blobs: Mapping[str, ObjectInfo]
    manifests: Mapping[str, ObjectInfo]
    tags_list: ObjectInfo | None

    def tags(self) -> list[str]:
        """Every tag with a manifest (digest references contain ':', tags never do)."""
        return sorted(ref for ref in self.manifests if ":" not in ref)


def read_repository(store: Store, repository: str) -> RepositoryState:
    """Three LISTs: ``blobs/``, ``manifests/`` and ``tags/`` of the repository."""

    def listing(sub: str) -> dict[str, ObjectInfo]:
        prefix = f"{repository_prefix(repository)}{sub}"
        found = {}
        for info in store.list(prefix):
            name = info.key[len(prefix) :]
            if name and "/" not in name:  # not a nested repository's key
                found[name] = info
        return found

    tags = listing("tags/")
    return RepositoryState(listing("blobs/"), listing("manifests/"), tags.get("list"))


@dataclass
class ImagesPlan:
    """The image writes of one build, in phases, and what the build manifest records."""

    entries: tuple[ImageEntry, ...] = ()
    phases: list[list[Step]] = field(default_factory=lambda: [[] for _ in range(5)])
    # Held so that staged archive members live as long as the plan that uploads them.
    sources: tuple[ImageSource, ...] = ()

    def close(self) -> None:
        for source in self.sources:
            source.image.close()

    def steps(self) -> list[Step]:
        return [step for phase in self.phases for step in phase]


def plan_images(
    store: Store, sources: Sequence[ImageSource], tag: str, convention: Convention
) -> ImagesPlan:
    """Decide every image write for publishing ``sources`` under ``tag``; writes nothing.

    Raises :class:`InvalidOciTag` before any request when ``tag`` cannot be an OCI tag.
    """
    reference = oci_tag(tag)
    plan = ImagesPlan(entries=tuple(s.entry(tag) for s in sources), sources=tuple(sources))
    if not sources:
        return plan
    if store.head(REGISTRY_ROOT_KEY) is None:
        plan.phases[_ROOT_AND_BLOBS].append(
            _put(
                Op.CREATE,
                REGISTRY_ROOT_KEY,
                REGISTRY_ROOT_BODY,
                JSON_TYPE,
                MUTABLE_CACHE,
                "registry root (GET /v2/)",
            )
        )
    for source in sources:
        _plan_one(plan, store, source, tag, reference, convention)
    return plan


def _plan_one(
    plan: ImagesPlan,
    store: Store,
    source: ImageSource,
    tag: str,
    reference: str,
    convention: Convention,
) -> None:
    repo = source.repository
    image = source.image
    state = read_repository(store, repo)
    for blob in image.blobs:
        have = state.blobs.get(blob.digest)
        if have is not None and have.size == blob.size:
            continue
        request = PutRequest(
            key=blob_key(repo, blob.digest),
            body=blob.body,
            content_type=BLOB_TYPE,
            cache_control=IMMUTABLE_CACHE,
            metadata={"sha256": blob.sha256},
            sha256=blob.sha256,
        )
        op = Op.CREATE if have is None else Op.REPLACE
        action = Action(op, Kind.FILE, request.key, blob.size, f"{repo} blob ({blob.media_type})")
        plan.phases[_ROOT_AND_BLOBS].append(Step(action, request))
    for child in image.children:
        what = f"{repo} manifest" + (f" ({child.platform})" if child.platform else "")
        _manifest(
            plan, _CHILDREN, store, state, repo, child.digest, child.body, child.media_type, what
        )
    kind = "image index" if image.top.is_index else "image manifest"
    top = image.top
    what = f"{repo} {kind}"
    _manifest(plan, _TOP, store, state, repo, top.digest, top.body, top.media_type, what)
    what = f"{repo}:{reference}"
    _manifest(plan, _TAGS, store, state, repo, reference, top.body, top.media_type, what)
    tags = {*state.tags(), reference}
    if source.aliases:
        releases = [decode_tag(t, convention) for t in tags]
        for alias, target in aliases_for([*releases, tag], convention).items():
            target_ref = encode_tag(target)
            tags.add(alias)
            if target_ref == reference:
                body, media_type = top.body, top.media_type
            else:
                have, want = state.manifests.get(alias), state.manifests.get(target_ref)
                if want is None or (have is not None and have.etag == want.etag):
                    continue
                body = store.get(manifest_key(repo, target_ref))
                media_type = _declared_type(body)
            what = f"{repo}:{alias} -> {target_ref}"
            _manifest(plan, _TAGS, store, state, repo, alias, body, media_type, what)
    body = tags_list_body(repo, tags)
    listed = state.tags_list
    if not holds(store, listed, body):
        op = Op.CREATE if listed is None else Op.REPLACE
        key = tags_list_key(repo)
        step = _put(op, key, body, JSON_TYPE, MUTABLE_CACHE, f"{repo} tag list")
        plan.phases[_TAG_LISTS].append(step)


def holds(
    store: Store, listed: ObjectInfo | None, body: bytes, same: ObjectInfo | None = None
) -> bool:
    """Whether the listed object holds exactly ``body``, without predicting its ETag.

    ``same``: an object listed on the same server that holds ``body`` (a
    manifest under its digest): equal ETags mean equal bytes, at no cost.
    Otherwise the object is read back (registry documents are small).
    """
    if listed is None or listed.size != len(body):
        return False
    if same is not None and same.etag == listed.etag:
        return True
    try:
        return store.get(listed.key) == body
    except NotFound:
        return False


def _manifest(
    plan: ImagesPlan,
    phase: int,
    store: Store,
    state: RepositoryState,
    repository: str,
    reference: str,
    body: bytes,
    media_type: str,
    reason: str,
) -> None:
    have = state.manifests.get(reference)
    if ":" in reference:
        # Stored under its digest: present with its size is the same manifest, as for blobs.
        if have is not None and have.size == len(body):
            return
    elif holds(store, have, body, state.manifests.get(sha256_digest(body))):
        return
    key = manifest_key(repository, reference)
    if any(step.action.key == key for step in plan.phases[phase]):
        return
    cache = MUTABLE_CACHE if ":" not in reference else IMMUTABLE_CACHE
    op = Op.CREATE if have is None else Op.REPLACE
    plan.phases[phase].append(_put(op, key, body, media_type, cache, reason))


def _declared_type(body: bytes) -> str:
    """The media type of a stored manifest (an OCI manifest may omit the field)."""
    try:
        doc = parse(body, max_bytes=MAX_MANIFEST_SIZE)
    except ValueError:
        return OCI_MANIFEST
    declared = doc.get("mediaType") if isinstance(doc, dict) else None
    if isinstance(declared, str):
        return declared
    return OCI_INDEX if isinstance(doc, dict) and "manifests" in doc else OCI_MANIFEST


def _put(op: Op, key: str, body: bytes, content_type: str, cache: str, reason: str) -> Step:
    request = PutRequest(key=key, body=body, content_type=content_type, cache_control=cache)
    return Step(Action(op, Kind.FILE, key, len(body), reason), request)


def publish_images(
    store: Store, plan: ImagesPlan, progress: Callable[[int], None] | None = None
) -> dict[str, str]:
    """Carry out ``plan`` phase by phase (each phase in parallel); etags by key."""
    etags: dict[str, str] = {}
    for phase in plan.phases:
        requests = [step.request for step in phase if step.request is not None]
        if requests:
            for request, etag in zip(requests, store.put_many(requests, progress), strict=True):
                etags[request.key] = etag
    return etags
