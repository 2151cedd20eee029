"""``artreg ls``: published builds by category, from the manifests."""

from __future__ import annotations

import argparse
import sys

from artreg.commands import open_target
from artreg.core.index import Entry, entry_from_build, sort_entries
from artreg.core.tags import PUBLISHED_CATEGORIES, Category
from artreg.errors import InvalidManifest, NotFound
from artreg.publish.state import describe_reclassified, read_build, read_state
from artreg.render.terminal import human_size, print_json


def run(args: argparse.Namespace) -> int:
    config, _, store = open_target(args)
    state = read_state(store, config.convention())
    wanted = [Category(args.category)] if args.category else list(PUBLISHED_CATEGORIES)
    listing: dict[Category, list[Entry]] = {category: [] for category in wanted}
    damaged = 0
    # Every manifest is read: a build is listed under the category it records,
    # whatever the configuration now says of its tag.
    for tag, info in sorted(state.manifests.items()):
        try:
            entry = entry_from_build(read_build(store, info.key))
        except InvalidManifest as exc:
            damaged += 1
            print(f"artreg: warning: {exc.message}; not listed", file=sys.stderr)
            continue
        except NotFound:
            continue  # deleted since the listing
        if entry.category is not state.categories[tag]:
            note = describe_reclassified(tag, entry.category, config.convention())
            print(f"artreg: warning: {note}", file=sys.stderr)
        if entry.category in listing:
            listing[entry.category].append(entry)
    listing = {category: sort_entries(entries) for category, entries in listing.items()}
    for key in state.unreadable:
        print(f"artreg: warning: {key}: names no valid tag; not listed", file=sys.stderr)
    if args.json:
        out = {c.value: [e.to_json() for e in entries] for c, entries in listing.items()}
        print_json(out)
        return 1 if damaged else 0
    for category, entries in listing.items():
        print(f"{category} ({len(entries)})")
        for entry in entries:
            platforms = ", ".join(entry.platforms)
            print(
                f"  {entry.tag:<44} {entry.published:%Y-%m-%d %H:%M}  "
                f"{human_size(entry.size):>9}  {platforms}"
            )
    return 1 if damaged else 0
