"""``artreg import``: adopt a bucket laid out as ``<version>/<platform>/<file>``.

Garage's ``_releases/`` is the model: builds were uploaded by hand, with no
manifests. Import reads (downloads, never uploads) each file to record its
sha256, writes one build manifest per version, then the index. Nothing is
re-uploaded and no existing object changes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence

from artreg.commands import open_target
from artreg.core.index import HTML_KEY, ROOT_KEY
from artreg.core.keys import key_problem, site_keys, split_file_key
from artreg.core.manifest import ARTREG_DIR, Build, FileEntry, with_checksums
from artreg.core.tags import Convention, classify, decode_tag, encode_tag
from artreg.errors import PreconditionFailed
from artreg.publish.artifacts import guess_content_type
from artreg.publish.execute import INDEX_CACHE
from artreg.publish.lease import default_holder
from artreg.publish.reconcile import Job, Report, reconcile
from artreg.publish.site import SiteReport, moves_latest, refresh_latest, write_build
from artreg.publish.state import read_state
from artreg.render.terminal import counted, print_json
from artreg.stores import ObjectInfo, PutRequest, Store
from artreg.stores.steps import JSON_TYPE


def discover(
    listing: Sequence[ObjectInfo], convention: Convention, managed: Iterable[str] = ()
) -> tuple[dict[str, list[ObjectInfo]], list[str], list[str]]:
    """Group keys ``<version>/<platform>/<file>`` by version.

    Also returns the skipped directories (not a tag) and the refused keys (under
    a tag, but a platform or file name artreg would never write, e.g. ``../..`` or
    ``<script>``), one line each: both are left alone.
    """
    groups: dict[str, list[ObjectInfo]] = defaultdict(list)
    skipped: set[str] = set()
    refused: list[str] = []
    for info in listing:
        key = info.key
        if key.startswith((f"{ARTREG_DIR}/", "v2/")) or key in (ROOT_KEY, HTML_KEY):
            continue
        split = split_file_key(key)
        if split is None:
            continue  # robots.txt and the like: no build's file, left alone
        # The directory may be a tag's encoded form (v0.8.2_feat for v0.8.2+feat).
        tag = decode_tag(split[0], convention)
        if not classify(tag, convention).valid:
            skipped.add(split[0])
            continue
        # The same rule as the keys apply writes (core.keys): what fails it stays foreign.
        problem = key_problem(tag, key)
        if problem is not None:
            refused.append(f"skipped {key!r}: {problem}; left alone")
            continue
        groups[tag].append(info)
    # A build's SHA256SUMS, signature and page are artreg's names in its directory: a
    # directory already holding one (hand-made checksums, a page) stays someone else's.
    present = {info.key for info in listing}
    for tag in sorted(set(groups) - set(managed)):
        taken = [key for key in site_keys(tag) if key in present]
        if taken:
            del groups[tag]
            refused.append(
                f"skipped {encode_tag(tag)}/: {', '.join(repr(k) for k in taken)} is not "
                "artreg's and artreg writes its own there; left alone (move it away to import "
                "this version)"
            )
    return dict(groups), sorted(skipped), refused


def build_for(
    store: Store, tag: str, objects: Sequence[ObjectInfo], convention: Convention
) -> Build:
    """The manifest of one existing version: files hashed by reading them back."""
    files = []
    for info in sorted(objects, key=lambda o: o.key):
        split = split_file_key(info.key)
        assert split is not None  # discover() checked every key
        _, platform, name = split
        digest = hashlib.sha256(store.get(info.key)).hexdigest()
        files.append(
            FileEntry(
                artifact=name,
                platform=platform,
                name=name,
                key=info.key,
                size=info.size,
                sha256=digest,
                content_type=guess_content_type(name),
            )
        )
    category = classify(tag, convention).category
    published = max(o.last_modified for o in objects).replace(microsecond=0)
    commit = tag if category.value == "dev" else None
    build = Build(tag, category, published, commit, files=tuple(files))
    return with_checksums(build)  # its SHA256SUMS is written with it


def run(args: argparse.Namespace) -> int:
    config, target, store = open_target(args)
    convention = config.convention()
    state = read_state(store, convention)
    groups, skipped, refused = discover(store.list(""), convention, state.manifests)
    new = {tag: objs for tag, objs in groups.items() if tag not in state.manifests}
    builds = [build_for(store, tag, objs, convention) for tag, objs in sorted(new.items())]
    if args.dry_run:
        for build in builds:
            print(f"  + {build.key}  {counted(len(build.files), 'file')}  ({build.category})")
    report = Report()
    site = SiteReport()
    etags: dict[str, str] = {}
    if builds and not args.dry_run:
        conditional = store.supports_conditional_writes()
        for build in builds:
            if build.tag not in state.manifests:  # its SHA256SUMS and page, before its manifest
                write_build(store, config, build, site)
            request = PutRequest(
                key=build.key,
                body=build.to_bytes(),
                content_type=JSON_TYPE,
                cache_control=INDEX_CACHE,
            )
            try:
                etags[build.tag] = store.put(request, if_none_match=conditional)
            except PreconditionFailed:
                continue  # another run imported or published it meanwhile
        added = [b for b in builds if b.tag in etags]
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        reconcile(
            Job(
                store=store,
                config=config,
                target=target,
                original=state,
                now=now,
                gc=False,
                allow_mass_delete=False,
                holder=default_holder("artreg import"),
            ),
            report,
            conditional=conditional,
            added=added,
            etags=etags,
        )
        if any(moves_latest(b) for b in added):  # latest/, latest.json and the feed
            refresh_latest(store, config, now=now, known=added, report=site)
    for note in [*report.notes, *site.notes]:
        print(f"artreg: {note}", file=sys.stderr)
    for version in skipped:
        print(
            f"artreg: skipped {version}/: not a tag under this convention; left alone",
            file=sys.stderr,
        )
    for line in refused:
        print(f"artreg: {line}", file=sys.stderr)
    if args.json:
        out = {
            "imported": sorted(etags) if not args.dry_run else [b.tag for b in builds],
            "alreadyManaged": sorted(t for t in groups if t in state.manifests),
            "skipped": skipped,
            "refused": refused,
            "requests": dict(sorted(store.requests.items())),
        }
        print_json(out)
    else:
        verb = "would import" if args.dry_run else "imported"
        print(
            f"{verb} {counted(len(builds), 'build')} "
            f"({counted(sum(len(b.files) for b in builds), 'file')}, "
            f"0 uploaded) into {target.name}; {len(groups) - len(new)} already managed, "
            f"{len(skipped)} skipped, {len(refused)} keys refused"
        )
    return 0
