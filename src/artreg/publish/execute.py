"""Carrying steps out: files, then index writes in order (the root commits them), then
deletes; a failed index write puts back the pages it had rewritten."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence

from artreg.core import index
from artreg.core.plan import DELETE_ORDER, Action, BuildChange, Kind, Op, order_actions
from artreg.core.tags import (
    Category,
)
from artreg.errors import ArtregError, NotFound, PreconditionFailed, RootRefused
from artreg.publish.artifacts import LocalFile
from artreg.stores.base import PutRequest, Store
from artreg.stores.steps import (
    IMMUTABLE_CACHE,
    JSON_TYPE,
    MUTABLE_CACHE,
    OTHER_CACHE,
    Step,
)

INDEX_CACHE = MUTABLE_CACHE


RELEASE_CACHE = IMMUTABLE_CACHE


def put_step(op: Op, kind: Kind, key: str, body: bytes, content_type: str, reason: str) -> Step:
    request = PutRequest(key=key, body=body, content_type=content_type, cache_control=INDEX_CACHE)
    return Step(Action(op, kind, key, len(body), reason), request)


def build_steps(change: BuildChange, files: Sequence[LocalFile]) -> list[Step]:
    """File uploads and the manifest write of one build change (not the index)."""
    steps: list[Step] = []
    if not change.changed:
        return steps
    build = change.build
    cache = RELEASE_CACHE if build.category is Category.RELEASE else OTHER_CACHE
    by_key = {f.key: f for f in files}
    previous = set(change.stale_keys)
    for key in change.upload_keys:
        local = by_key.get(key)
        if local is None:  # an image's tag: written by artreg.oci.publish, not here
            continue
        request = PutRequest(
            key=key,
            body=local.source,
            content_type=local.content_type,
            cache_control=cache,
            metadata={"sha256": local.sha256},
            sha256=local.sha256,
        )
        op = Op.REPLACE if change.manifest_existed and key not in previous else Op.CREATE
        reason = f"{local.artifact} {local.platform}"
        steps.append(Step(Action(op, Kind.FILE, key, local.size, reason), request))
    body = build.to_bytes()
    op = Op.REPLACE if change.manifest_existed else Op.CREATE
    steps.append(
        Step(
            Action(op, Kind.MANIFEST, build.key, len(body), f"build manifest of {build.tag}"),
            PutRequest(key=build.key, body=body, content_type=JSON_TYPE, cache_control=INDEX_CACHE),
        )
    )
    for key in change.stale_keys:
        if key.startswith("v2/"):  # an image tag: registry keys are left to retention
            continue
        steps.append(Step(Action(Op.DELETE, Kind.FILE, key, 0, f"no longer in {build.tag}")))
    return steps


def ordered(steps: Iterable[Step]) -> list[Step]:
    """Steps in the safe order of :func:`artreg.core.plan.order_actions`."""
    items = list(steps)
    by_action = {id(step.action): step for step in items}
    return [by_action[id(action)] for action in order_actions(step.action for step in items)]


ProgressFn = Callable[[int], None]


def execute(
    store: Store,
    steps: Sequence[Step],
    progress: ProgressFn | None = None,
    index_steps: Callable[[Mapping[str, str]], Sequence[Step]] | None = None,
) -> dict[str, str]:
    """Carry out ``steps``: files in parallel, then manifests, index writes, and deletes.

    Returns the etags of what was written, by key. ``index_steps``, given the
    etags of the manifests just written, supplies the index steps at that point,
    so the root index records the etags the store really assigned.
    """
    etags: dict[str, str] = {}
    writes = [s for s in steps if s.action.op is not Op.DELETE and s.request is not None]
    files = [s for s in writes if s.action.kind is Kind.FILE]
    requests = [s.request for s in files if s.request is not None]
    for request, etag in zip(requests, store.put_many(requests, progress), strict=True):
        etags[request.key] = etag
    for step in writes:
        if step.action.kind is Kind.MANIFEST and step.request is not None:
            etags[step.action.key] = store.put(step.request)
    later = [s for s in steps if s.action.kind not in (Kind.FILE, Kind.MANIFEST)]
    later += [s for s in steps if s.action.op is Op.DELETE and s.action.kind is not Kind.PAGE]
    if index_steps is not None:
        later += index_steps(etags)
    later = ordered(later)
    for step in later:
        if step.action.op is not Op.DELETE and step.request is not None:
            etags[step.action.key] = store.put(step.request)
    for kind in DELETE_ORDER:
        keys = [s.action.key for s in later if s.action.op is Op.DELETE and s.action.kind is kind]
        if keys:
            store.delete(keys)
    return etags


def execute_index(
    store: Store,
    steps: Sequence[Step],
    *,
    root_etag: str | None,
    locked: bool,
    previous: Mapping[str, bytes] | None = None,
) -> None:
    """Index writes in order, then deletes (pages, manifests, files).

    ``locked``: the store honours conditional writes and we hold the lease; the
    root is still written with If-Match (If-None-Match when new), so a run whose
    lease expired and was taken over fails instead of overwriting the new holder.

    Pages (and index.html) are rewritten in place before the root commits
    them. If any write fails before the root is written, those already
    rewritten get their bytes back (``previous``: pages as read while
    planning; the others are read just before being overwritten, index.html
    always), so pages and index.html agree with the root still there,
    unless another run has written the root meanwhile (its pages are its own).
    A locked root write refused although the root is unchanged raises
    :class:`RootRefused`.
    """
    previous = dict(previous or {})
    replaced: list[tuple[PutRequest, bytes]] = []  # rewritten before the root: old bytes
    committed = False
    try:
        for step in steps:
            if step.action.op is Op.DELETE or step.request is None:
                continue
            if step.action.kind is Kind.ROOT:
                if not locked:
                    store.put(step.request)
                elif root_etag is None:
                    store.put(step.request, if_none_match=True)
                else:
                    store.put(step.request, if_match=root_etag)
                committed = True
                continue
            # An index page's HTML twin is never read before it is rewritten: the planner
            # rendered its old bytes from the JSON page it read (``previous``).
            twin = step.action.kind is Kind.PAGE and step.action.key.endswith(".html")
            if (
                step.action.kind in (Kind.PAGE, Kind.HTML)
                and step.action.op is Op.REPLACE
                and not committed
            ):
                key = step.action.key
                before = previous.get(key)
                if before is None and not twin:
                    with contextlib.suppress(NotFound):
                        before = store.get(key)
                if before is not None:
                    replaced.append((step.request, before))
            store.put(step.request)
    except Exception as exc:
        if committed or not replaced:
            if locked and isinstance(exc, PreconditionFailed) and _root_is(store, root_etag):
                raise _refused(store, root_etag) from None
            raise
        if not _root_is(store, root_etag):
            raise  # another run wrote the root (and its own pages) meanwhile
        try:
            for request, body in reversed(replaced):
                store.put(dataclasses.replace(request, body=body, sha256=None))
        except ArtregError as again:
            raise ArtregError(
                f"{exc}; restoring the {len(replaced)} index file(s) rewritten before that "
                f"failed too ({again}): run `artreg verify --repair` once the store answers"
            ) from None
        if locked and isinstance(exc, PreconditionFailed):
            raise _refused(store, root_etag) from None
        raise
    for kind in DELETE_ORDER:
        keys = [s.action.key for s in steps if s.action.op is Op.DELETE and s.action.kind is kind]
        if keys:
            store.delete(keys)


def _root_is(store: Store, etag: str | None) -> bool:
    """Whether the root still has the etag the server gave it when read (None: still missing)."""
    info = store.head(index.ROOT_KEY)
    return etag is None if info is None else info.etag == etag


def _refused(store: Store, etag: str | None) -> RootRefused:
    condition = "If-None-Match: *" if etag is None else f"If-Match: {etag}"
    return RootRefused(
        f"{store.description}: the server refused the conditional write of index.json "
        f"({condition}) although no other run had changed it: its conditional-write handling "
        "is broken (the probe passed, so it is inconsistent, or a proxy alters the request "
        "or the ETags). The index pages and index.html were restored, index.json is unchanged; the "
        "builds' files and manifests are in place. Check what sits between artreg and the "
        "bucket, then re-run"
    )
