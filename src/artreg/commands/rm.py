"""``artreg rm TAG [--release] [--dry-run]``: delete a build now.

Extra and dev builds go on request; a release only with ``--release``. The
keys that go are printed first: the manifest, the files, the checksums,
signature and page, nothing else (a key under the build's directory that its
manifest does not name is left alone). The manifest goes first, then the
index is brought up to date, then the files; ``latest/`` follows.
"""

from __future__ import annotations

import argparse
import sys

from artreg.commands import open_target, parse_now
from artreg.core.yank import plan_removal
from artreg.errors import ArtregError, NotFound
from artreg.publish.lease import default_holder
from artreg.publish.reconcile import Job, Report, reconcile
from artreg.publish.state import read_build, read_state


def run(args: argparse.Namespace) -> int:
    from artreg.publish.site import refresh_latest

    config, target, store = open_target(args)
    now = parse_now(args.now)
    state = read_state(store, config.convention())
    info = state.manifests.get(args.tag)
    if info is None:
        raise ArtregError(f"{args.tag}: no such build on {target.name}; `artreg ls` lists them")
    try:
        build = read_build(store, info.key)
    except NotFound:
        raise ArtregError(f"{args.tag}: its manifest vanished; re-run to see") from None
    removal = plan_removal(build, allow_release=args.release)
    present = {i.key for i in store.list(f"{removal.keys[1].split('/', 1)[0]}/")}
    keys = [removal.keys[0], *(k for k in removal.keys[1:] if k in present)]
    for key in keys:
        print(f"  - {key}")
    if args.dry_run:
        print(f"rm (dry run): {len(keys)} to delete")
        return 0
    store.delete([keys[0]])  # the manifest: from here the build is no longer published
    job = Job(
        store=store,
        config=config,
        target=target,
        original=read_state(store, config.convention()),
        now=now,
        gc=False,
        allow_mass_delete=False,
        holder=default_holder("artreg rm"),
    )
    report = Report()
    reconcile(job, report, conditional=store.supports_conditional_writes())
    store.delete(keys[1:])
    for note in refresh_latest(store, config, now=now).notes:
        print(f"artreg: {note}", file=sys.stderr)
    print(f"{args.tag} removed from {target.name}: {len(keys)} deleted")
    for problem in report.problems:
        print(f"artreg: error: {problem}")
    return 1 if report.problems else 0
