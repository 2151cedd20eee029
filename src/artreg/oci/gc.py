"""Sweep the image repositories of a target: the I/O around :mod:`artreg.core.images`.

Called by ``reconcile`` (for ``apply``'s retention and ``gc``) after the build
manifests and files of removed builds are gone, and by ``gc --dry-run`` and
``plan`` to show what would go. Per repository: three LISTs (blobs, manifests,
tags) and one GET per manifest stored by digest (they are small); a tag costs
no request when its ETag is that of a manifest stored by digest (equal ETags
from one server, equal bytes; unequal ETags prove nothing, so the tag is read).

Only the repositories ``artreg.toml`` declares (``type = "oci"`` artifacts) are
swept: a repository nothing declares any more is left as it is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from artreg.config import Config
from artreg.core.images import Deletion, Listed, Node, Sweep, decide_sweep, judge_tags, references
from artreg.core.plan import Action, Kind, Op
from artreg.core.tags import Convention
from artreg.errors import NotFound, UnreadableManifest
from artreg.oci.image import sha256_digest
from artreg.oci.publish import (
    blob_key,
    holds,
    manifest_key,
    read_repository,
    tags_list_body,
    tags_list_key,
)
from artreg.stores.base import ObjectInfo, PutRequest, Store
from artreg.stores.steps import JSON_TYPE, MUTABLE_CACHE, Step


def declared_repositories(config: Config) -> list[str]:
    """The image repositories ``artreg.toml`` declares: the only ones a sweep touches."""
    return sorted({a.repository or a.name for a in config.artifacts if a.type == "oci" and a.name})


@dataclass
class ImageSweep:
    """The image deletions of a run, in phases, and what could not be swept."""

    # tags/list rewrites and tag deletes, then digest manifests (batches), then blobs.
    phases: list[list[Step]] = field(default_factory=list)
    young: int = 0
    notes: list[str] = field(default_factory=list)

    def steps(self) -> list[Step]:
        return [step for phase in self.phases for step in phase]


def plan_sweep(
    store: Store,
    repositories: Iterable[str],
    *,
    builds: Iterable[str],
    removed: Iterable[str],
    convention: Convention,
    grace: dt.timedelta,
    clock_now: dt.datetime,
    pinned: AbstractSet[str] = frozenset(),
) -> ImageSweep:
    """Decide the sweep of ``repositories``; reads, writes nothing.

    ``builds``: artreg tags with a build manifest (after retention); ``removed``:
    tags whose builds retention deletes in this run; ``pinned``: digests the run
    is publishing. Ages are LastModified against ``clock_now`` (the real clock).
    """
    builds = tuple(builds)
    removed = tuple(removed)
    sweep = ImageSweep(phases=[[], [], []])
    manifest_phases: list[list[Step]] = []
    for repository in repositories:
        decided = _decide(store, repository, builds, removed, convention, grace, clock_now, pinned)
        if decided is None:
            continue
        one, listed = decided
        sweep.young += one.young
        sweep.notes += [
            f"{repository}: {p}; its manifests and blobs were not swept" for p in one.problems
        ]
        if one.tags:
            body = tags_list_body(repository, one.remaining_tags)
            if not holds(store, listed, body):
                key = tags_list_key(repository)
                request = PutRequest(
                    key=key, body=body, content_type=JSON_TYPE, cache_control=MUTABLE_CACHE
                )
                op = Op.CREATE if listed is None else Op.REPLACE
                action = Action(op, Kind.FILE, key, len(body), f"{repository} tag list")
                sweep.phases[0].append(Step(action, request))
        sweep.phases[0] += [_delete(repository, d) for d in one.tags]
        for n, batch in enumerate(one.manifests):
            while len(manifest_phases) <= n:
                manifest_phases.append([])
            manifest_phases[n] += [_delete(repository, d) for d in batch]
        sweep.phases[2] += [_delete(repository, d) for d in one.blobs]
    sweep.phases[1:2] = manifest_phases or [[]]
    return sweep


def _decide(
    store: Store,
    repository: str,
    builds: Sequence[str],
    removed: Sequence[str],
    convention: Convention,
    grace: dt.timedelta,
    clock_now: dt.datetime,
    pinned: AbstractSet[str],
) -> tuple[Sweep, ObjectInfo | None] | None:
    state = read_repository(store, repository)
    if not state.manifests and not state.blobs:
        return None

    def listed(info: ObjectInfo) -> Listed:
        return Listed(info.size, clock_now - info.last_modified)

    tags = {ref: listed(info) for ref, info in state.manifests.items() if ":" not in ref}
    digests = {
        ref: listed(info) for ref, info in state.manifests.items() if ref.startswith("sha256:")
    }
    blobs = {name: listed(info) for name, info in state.blobs.items()}
    verdicts = judge_tags(tags, builds=builds, removed=removed, convention=convention, grace=grace)
    graph: dict[str, Node] = {}
    for digest in digests:
        try:
            graph[digest] = references(store.get(manifest_key(repository, digest)), digest)
        except (NotFound, UnreadableManifest):
            continue  # deleted meanwhile, or damaged: the mark notices if a kept image needs it
    by_etag = {state.manifests[d].etag: d for d in digests if d in graph}
    tag_digests: dict[str, str] = {}
    for tag, verdict in verdicts.items():
        if verdict.delete:
            continue
        known = by_etag.get(state.manifests[tag].etag)
        if known is not None:
            tag_digests[tag] = known
            continue
        try:
            body = store.get(manifest_key(repository, tag))
        except NotFound:
            continue  # deleted meanwhile: the mark stops, nothing is swept
        digest = sha256_digest(body)
        try:
            graph.setdefault(digest, references(body))
        except UnreadableManifest:
            continue
        tag_digests[tag] = digest
    decided = decide_sweep(
        tags=tags,
        manifests=digests,
        blobs=blobs,
        verdicts=verdicts,
        tag_digests=tag_digests,
        graph=graph,
        grace=grace,
        pinned=pinned,
    )
    return decided, state.tags_list


def _delete(repository: str, deletion: Deletion) -> Step:
    if deletion.kind == "blob":
        key = blob_key(repository, deletion.name)
    else:
        key = manifest_key(repository, deletion.name)
    what = f"{repository} {deletion.kind}: {deletion.reason}"
    return Step(Action(Op.DELETE, Kind.FILE, key, deletion.size, what))


def execute_sweep(store: Store, sweep: ImageSweep) -> None:
    """Carry out ``sweep`` phase by phase: tag lists and tags, manifests, then blobs."""
    for phase in sweep.phases:
        writes = [s.request for s in phase if s.request is not None]
        for request in writes:
            store.put(request)
        deletes = [s.action.key for s in phase if s.action.op is Op.DELETE]
        if deletes:
            store.delete(deletes)
