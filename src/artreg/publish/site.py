"""Write the download site around a publish: checksums, signature, pages, latest/, feed.

The edge around :mod:`artreg.render.bundle`: reads what it needs (the root
index, the previous ``_artreg/mirrors.json``, the highest release's manifest),
signs with ssh-keygen, and writes through the store. Called after a build's
manifest and the index are written, so ``latest/`` never points at a
half-published build.

Cost per call: reads 2-3 objects (index.json, mirrors.json, the highest
release's manifest when it is not the build just published); writes the
build's SHA256SUMS, its signature and page, then, only when ``latest/``
moves, one server-side copy per file plus SHA256SUMS (and .sig), and always
the record, latest.json and the feed.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from artreg.config import Config
from artreg.core import index
from artreg.core.checksums import signature_key
from artreg.core.forge import parse_repository
from artreg.core.index import Entry, entry_from_build
from artreg.core.keys import PAGE_NAME, SIGNATURE_NAME, SUMS_NAME
from artreg.core.latest import (
    FEED_KEY,
    LATEST_DIR,
    LATEST_JSON_KEY,
    RECORD_KEY,
    SITE_ROOT_DOCUMENTS,
    Mirror,
    documents_from_record,
    highest_by_directory,
    made_from,
    mirror,
    mirrors_from_record,
    record_document,
    record_is_complete,
    record_left,
    record_made_from,
)
from artreg.core.manifest import Build, build_from_bytes, manifest_key
from artreg.core.plan import Action, Kind, Op
from artreg.core.retention import Decision
from artreg.core.signing import ALLOWED_SIGNERS_KEY, identity
from artreg.core.tags import PUBLISHED_CATEGORIES, Category, encode_tag
from artreg.core.yank import YANKS_KEY, yank_record, yanks_document, yanks_from_document
from artreg.errors import ArtregError, NotFound
from artreg.publish.signing import SigningKey, sign
from artreg.render.bundle import (
    ReleaseObjects,
    SiteObject,
    build_objects,
    release_objects,
    signers_object,
    sums_of,
)
from artreg.render.site import (
    Section,
    Site,
    Yanks,
    build_page_key,
    render_build_page,
    render_root_page,
)
from artreg.stores.base import ObjectInfo, PutRequest, Store
from artreg.stores.steps import HTML_TYPE, JSON_TYPE, MUTABLE_CACHE

SITE_CACHE = MUTABLE_CACHE


@dataclass
class SiteReport:
    """What the site writes did: keys, and the same as actions for the apply report."""

    written: list[str] = field(default_factory=list)
    copied: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    bytes_written: int = 0
    actions: list[Action] = field(default_factory=list)


def site_of(config: Config) -> Site:
    settings = config.site
    repository = parse_repository(settings.repository) if settings.repository else None
    return Site(
        project=config.project,
        repository=repository,
        site_url=settings.site_url,
        signer=identity(config.project) if settings.signing else None,
    )


def _signing_key(config: Config) -> SigningKey:
    key_file = config.site.key_file
    if key_file is not None and config.path is not None:
        path = Path(key_file).expanduser()
        key_file = str(path if path.is_absolute() else config.path.parent / path)
    return SigningKey(key_env=config.site.key_env, key_file=key_file)


def _put(store: Store, obj: SiteObject, report: SiteReport, kind: Kind = Kind.LATEST) -> None:
    store.put(
        PutRequest(
            key=obj.key, body=obj.body, content_type=obj.content_type, cache_control=SITE_CACHE
        )
    )
    report.written.append(obj.key)
    report.bytes_written += len(obj.body)
    report.actions.append(Action(Op.CREATE, kind, obj.key, len(obj.body), _why(obj.key)))


def _why(key: str) -> str:
    name = key.rsplit("/", 1)[-1]
    return SITE_REASONS.get(name, "site: latest/ mirror" if "/" in key else "site document")


SITE_REASONS = {
    SUMS_NAME: "site: checksums (sha256sum -c)",
    SIGNATURE_NAME: "site: signature of SHA256SUMS",
    PAGE_NAME: "site: build page",
    LATEST_JSON_KEY: "site: the highest release for scripts",
    FEED_KEY: "site: Atom feed of releases",
    RECORD_KEY.rsplit("/", 1)[-1]: "site: the record of latest/ keys artreg wrote",
    ALLOWED_SIGNERS_KEY.rsplit("/", 1)[-1]: "site: the key that signs SHA256SUMS",
}


def plan_build_site(config: Config, build: Build) -> list[Action]:
    """What :func:`write_build` will write for ``build`` (for ``plan``; nothing signed yet:
    the signature's size is known once ssh-keygen made it)."""
    actions = [
        Action(Op.CREATE, Kind.SITE, obj.key, len(obj.body), _why(obj.key))
        for obj in build_objects(site_of(config), build, signature=None)
    ]
    if config.site.signing:
        key = signature_key(encode_tag(build.tag))
        actions.insert(1, Action(Op.CREATE, Kind.SITE, key, 0, _why(key)))
    return actions


def plan_latest(config: Config, root: index.RootIndex | None, build: Build) -> list[Action]:
    """What :func:`refresh_latest` will do after publishing ``build`` (for ``plan``): the
    copies when it becomes the highest release (or extra), then the site documents."""
    if not moves_latest(build):
        return []
    entry = entry_from_build(build)
    newest = [entry]
    if root is not None:
        newest += _mirrorable(root)
    signed = config.site.signing
    highest = highest_by_directory(newest, config.convention(), config.site.latest_extras)
    actions = [
        Action(Op.CREATE, Kind.LATEST, dst, 0, f"site: latest/ copy of {src}")
        for directory, top in highest.items()
        if top is not None and top.tag == build.tag
        for dst, src in mirror(entry, directory=directory, signed=signed).copies
    ]
    record = Action(Op.REPLACE, Kind.LATEST, RECORD_KEY, 0, _why(RECORD_KEY))
    keys = [*([LATEST_JSON_KEY] if highest[LATEST_DIR] else []), FEED_KEY]
    return [record, *actions, *(Action(Op.REPLACE, Kind.LATEST, k, 0, _why(k)) for k in keys)]


def _mirrorable(root: index.RootIndex) -> list[Entry]:
    """The newest releases and extra builds ``root`` lists: those latest/ may serve."""
    return [e for c in (Category.RELEASE, Category.EXTRA) for e in root.category(c).newest]


def moves_latest(build: Build) -> bool:
    """Whether publishing or removing ``build`` may change latest/, latest.json or the feed."""
    return build.category in (Category.RELEASE, Category.EXTRA)


def removals_move_latest(decisions: Iterable[Decision]) -> bool:
    """Whether retention removed a release or an extra build (latest/ may have served it)."""
    return any(not d.keep and d.category in (Category.RELEASE, Category.EXTRA) for d in decisions)


def write_build(
    store: Store,
    config: Config,
    build: Build,
    report: SiteReport,
    environ: Mapping[str, str] | None = None,
) -> None:
    """The build's SHA256SUMS, signature (when configured) and page."""
    site = site_of(config)
    signature = None
    if config.site.signing:
        signed = sign(sums_of(build), _signing_key(config), environ)
        signature = signed.signature
        signers = signers_object(site.signer or "", signed.public_key)
        try:
            current = store.get(signers.key)
        except NotFound:
            current = None
        if current != signers.body:
            _put(store, signers, report)
    for obj in build_objects(site, build, signature=signature):
        _put(store, obj, report, Kind.SITE)


def _read_json(store: Store, key: str) -> object:
    try:
        return json.loads(store.get(key))
    except (NotFound, ValueError):
        return None


def refresh_latest(
    store: Store,
    config: Config,
    *,
    now: dt.datetime,
    known: Sequence[Build] = (),
    yanks: Mapping[str, str] | None = None,
    report: SiteReport | None = None,
    environ: Mapping[str, str] | None = None,
) -> SiteReport:
    """Move ``latest/`` (and the extras directory) to the highest builds the root index
    lists, then write the record, latest.json and the feed, then delete recorded keys the
    new trees lack. ``known``: manifests already in hand (the builds just published)."""
    report = report or SiteReport()
    yanks = dict(read_yanks(store) if yanks is None else yanks)
    root_doc = _read_json(store, index.ROOT_KEY)
    if root_doc is None:
        return report
    root = index.parse_root(root_doc)
    newest = _mirrorable(root)
    planned = _plan_latest(store, config, newest, yanks, known, now, report)
    _write_latest(store, config, planned, report, environ)
    return report


@dataclass
class _LatestPlan:
    result: ReleaseObjects
    owners: dict[str, Build | None]  # directory -> the build it will serve
    documents: set[str]  # the site documents artreg writes (none that are someone else's)
    blocked: set[str]  # directories left alone: a copy would overwrite someone else's key
    sources: list[str]  # what they are made from (see core.latest.made_from)


def _plan_latest(
    store: Store,
    config: Config,
    newest: Sequence[Entry],
    yanks: Mapping[str, str],
    known: Sequence[Build],
    now: dt.datetime,
    report: SiteReport,
) -> _LatestPlan:
    """Reads the record and the manifests of the highest builds; plans copies and writes."""
    by_tag = {b.tag: b for b in known}

    def manifest(tag: str | None) -> Build | None:
        if tag is None:
            return None
        if tag not in by_tag:
            by_tag[tag] = build_from_bytes(store.get(manifest_key(tag)), manifest_key(tag))
        return by_tag[tag]

    extras_dir = config.site.latest_extras
    highest = highest_by_directory(newest, config.convention(), extras_dir, yanks)
    latest = highest[LATEST_DIR]
    extras = None
    if extras_dir is not None:
        extra = highest[extras_dir]
        extras = (extras_dir, manifest(extra.tag if extra else None))
    record_doc = _read_json(store, RECORD_KEY)
    previous: dict[str, Mirror] = {m.directory: m for m in mirrors_from_record(record_doc)}
    foreign = _foreign_documents(store, record_doc, previous, report)
    sources = made_from(newest, yanks)

    def plan(blocked: AbstractSet[str]) -> ReleaseObjects:
        return release_objects(
            site_of(config),
            [e for e in newest if e.category is Category.RELEASE],
            latest=manifest(latest.tag if latest else None),
            previous=previous,
            generated=now,
            signed=config.site.signing,
            yanks=Yanks(dict(yanks)),
            extras=extras,
            blocked=blocked,
            foreign=foreign,
            sources=sources,
        )

    result = plan(frozenset())
    blocked = _blocked(store, result.plan.copies, previous, report)
    if blocked:
        result = plan(blocked)
    owners = {m.directory: by_tag.get(m.tag) for m in result.mirrors}
    return _LatestPlan(result, owners, set(SITE_ROOT_DOCUMENTS) - foreign, blocked, sources)


def _write_latest(
    store: Store,
    config: Config,
    planned: _LatestPlan,
    report: SiteReport,
    environ: Mapping[str, str] | None,
) -> None:
    """The record (before the copies when a tree moves), copies, documents, deletes."""
    result = planned.result
    record, *documents = result.objects
    moving = bool(result.plan.copies or result.plan.deletes)
    if moving:  # the record first (not complete): every key copied is provably ours
        _put(store, record, report)

    def copy(pair: tuple[str, str]) -> None:
        dst, src = pair
        owner = planned.owners.get(dst.split("/", 1)[0])
        _copy(store, config, src, dst, owner, report, environ)

    # The files in parallel (server-side copies: no bytes through this machine), then
    # SHA256SUMS and its signature: a client never sees new sums over old files for long.
    sums = {SUMS_NAME, SIGNATURE_NAME}
    files = [c for c in result.plan.copies if c[0].split("/", 1)[-1] not in sums]
    _in_parallel(copy, files, COPY_WORKERS)
    for pair in [c for c in result.plan.copies if c[0].split("/", 1)[-1] in sums]:
        copy(pair)
    for dst, src in result.plan.copies:  # reported in plan order, whatever finished first
        report.copied.append(dst)
        report.actions.append(
            Action(Op.CREATE, Kind.LATEST, dst, 0, f"site: latest/ copy of {src}")
        )
    for obj in documents:
        _put(store, obj, report)
    if result.plan.deletes:
        store.delete(list(result.plan.deletes))
        report.deleted += result.plan.deletes
        report.actions += [
            Action(Op.DELETE, Kind.LATEST, key, 0, "site: no longer in latest/")
            for key in result.plan.deletes
        ]
    if not moving:  # last: it says the documents were made from these builds
        _put(store, record, report)
    else:  # the trees are whole: the final record
        doc = record_document(
            result.mirrors, planned.documents, sources=planned.sources, left=planned.blocked
        )
        _put(store, SiteObject(RECORD_KEY, _json(doc), JSON_TYPE), report)


def latest_is_current(store: Store, config: Config, root: index.RootIndex | None) -> bool:
    """Whether ``latest/`` (and the extras directory) serve the highest builds ``root``
    lists, whole: false after a run stopped between the index and the end of the site
    writes (two GETs: the record and the yanks)."""
    if root is None:
        return True
    doc = _read_json(store, RECORD_KEY)
    newest = _mirrorable(root)
    yanks = read_yanks(store)
    wanted = highest_by_directory(newest, config.convention(), config.site.latest_extras, yanks)
    recorded = {m.directory: m.tag for m in mirrors_from_record(doc)}
    if doc is None:
        return all(top is None for top in wanted.values())
    if record_made_from(doc) != made_from(newest, yanks):
        return False  # the feed and latest.json were made from other builds
    left = record_left(doc)
    return record_is_complete(doc) and all(
        d in left or recorded.get(d) == (top.tag if top else None) for d, top in wanted.items()
    )


def _blocked(
    store: Store,
    copies: Sequence[tuple[str, str]],
    previous: Mapping[str, Mirror],
    report: SiteReport,
) -> set[str]:
    """The ``latest`` directories where a copy would overwrite a key artreg did not write:
    left alone, said why (one LIST per directory that moves; a file made by hand under
    ``latest/`` is never overwritten, one beside the mirrored files stays as it is)."""
    blocked = set()
    targets: dict[str, set[str]] = {}
    for dst, _ in copies:
        targets.setdefault(dst.split("/", 1)[0], set()).add(dst)
    for directory, keys in sorted(targets.items()):
        recorded = set(previous[directory].keys) if directory in previous else set()
        present = {i.key for i in store.list(f"{directory}/")}
        strangers = sorted((keys & present) - recorded)
        if strangers:
            blocked.add(directory)
            shown = ", ".join(strangers[:3]) + (" ..." if len(strangers) > 3 else "")
            report.notes.append(
                f"{directory}/ holds keys artreg did not write ({shown}); artreg leaves "
                f"{directory}/ alone: move them away to get stable {directory}/ URLs"
            )
    return blocked


def _foreign_documents(
    store: Store, record_doc: object, previous: Mapping[str, Mirror], report: SiteReport
) -> set[str]:
    """``latest.json`` and the feed when they exist and artreg never wrote them.

    A record lists the documents written with it; before the first record (or from an
    older one without that list), one HEAD each tells."""
    written = documents_from_record(record_doc)
    foreign = set()
    for key in (LATEST_JSON_KEY, FEED_KEY):
        if key in written or (LATEST_DIR in previous and key == LATEST_JSON_KEY):
            continue
        if store.head(key) is not None:
            foreign.add(key)
            report.notes.append(f"{key}: not artreg's; left alone (move it away to publish it)")
    return foreign


COPY_WORKERS = 8
T = TypeVar("T")


def _in_parallel(work: Callable[[T], None], items: Sequence[T], workers: int) -> None:
    """``work`` over ``items`` on a bounded thread pool; the first failure is raised once
    every started item has finished (none is left half-done in the background)."""
    if len(items) <= 1:
        for item in items:
            work(item)
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        futures = [pool.submit(work, item) for item in items]
        concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_EXCEPTION)
        for future in futures:
            future.cancel()
    for future in futures:
        failure = None if future.cancelled() else future.exception()
        if failure is not None:
            raise failure


def _copy(
    store: Store,
    config: Config,
    src: str,
    dst: str,
    owner: Build | None,
    report: SiteReport,
    environ: Mapping[str, str] | None,
) -> None:
    try:
        store.copy(src, dst)
    except NotFound:
        if owner is None:
            raise
        # a build published before checksums existed: write its site objects, then copy
        write_build(store, config, owner, report, environ)
        store.copy(src, dst)


def _json(document: object) -> bytes:
    return (json.dumps(document, indent=1, sort_keys=True) + "\n").encode()


def recorded_site_keys(store: Store, listing: Sequence[ObjectInfo]) -> tuple[str, ...]:
    """Every ``latest`` key the record says artreg wrote (none when it is absent from
    ``listing`` or unreadable: then no request is made and nothing there is artreg's)."""
    if not any(info.key == RECORD_KEY for info in listing):
        return ()
    return tuple(key for m in mirrors_from_record(_read_json(store, RECORD_KEY)) for key in m.keys)


def read_yanks(store: Store) -> dict[str, str]:
    """tag -> reason of every yanked build (none when the record is absent or not artreg's)."""
    return {tag: y.reason for tag, y in yanks_from_document(_read_json(store, YANKS_KEY)).items()}


def set_yank(
    store: Store, config: Config, tag: str, reason: str | None, *, now: dt.datetime
) -> SiteReport:
    """Yank ``tag`` (``reason`` given) or unyank it (None): the record, the build's page,
    ``latest/``, ``latest.json``, the feed and the root page follow."""
    try:
        build = build_from_bytes(store.get(manifest_key(tag)), manifest_key(tag))
    except NotFound:
        raise ArtregError(
            f"{tag}: no such build on this target; `artreg ls` lists the published ones"
        ) from None
    current = yanks_from_document(_read_json(store, YANKS_KEY))
    if reason is None:
        if current.pop(tag, None) is None:
            raise ArtregError(f"{tag}: not yanked")
    else:
        current[tag] = yank_record(reason, now)
    report = SiteReport()
    _put(store, SiteObject(YANKS_KEY, _json(yanks_document(current)), JSON_TYPE), report)
    yanks = {t: y.reason for t, y in current.items()}
    site = site_of(config)
    signed = store.head(signature_key(encode_tag(tag))) is not None
    page = render_build_page(site, build, yanked=yanks.get(tag), signed=signed)
    _put(store, SiteObject(build_page_key(tag), page.encode(), HTML_TYPE), report)
    refresh_latest(store, config, now=now, yanks=yanks, report=report)
    root_doc = _read_json(store, index.ROOT_KEY)
    if root_doc is not None:
        root = index.parse_root(root_doc)
        sections = {
            c: Section(root.category(c).newest, root.category(c).count, root.category(c).page_ids)
            for c in PUBLISHED_CATEGORIES
        }
        releases = [e for e in sections[Category.RELEASE].rows if e.tag not in yanks]
        html = render_root_page(
            site,
            sections,
            latest=releases[0] if releases else None,
            generated=now,
            yanks=Yanks(yanks),
        )
        _put(store, SiteObject(index.HTML_KEY, html.encode(), HTML_TYPE), report)
    return report
