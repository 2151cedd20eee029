"""Which objects of a target artreg wrote, and which of them it may delete.

The bucket is shared: artreg deletes only what it can prove it wrote, and can
say why it believes it wrote each key:

- a file listed by a valid build manifest (the manifest only lists keys under
  its own build's directory, see :mod:`artreg.core.keys`);
- its own documents: ``index.json``, ``index.html``, build manifests, index
  pages, the lease and intent records under ``_artreg/``;
- a key under ``v2/<repository>/`` of a repository ``artreg.toml`` declares
  (swept by reachability in :mod:`artreg.core.images`, not here);
- a key named by an **intent record**, ``_artreg/intents/<id>.json``, which a
  run writes BEFORE it uploads or deletes a build's files: a run that dies
  midway leaves the record, so its leftovers are known and can be collected.

Everything else under the target is not artreg's: reported, left alone,
forever. A key that a valid live manifest lists is never deleted, and nothing
under the directory of a build whose manifest is unreadable or invalid is
either (artreg cannot tell what that manifest lists).

Pure: ages are computed by the caller (from the real clock), no I/O.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from artreg.core.keys import owned_key_problem
from artreg.core.manifest import ARTREG_DIR, format_time, manifest_key, parse_time
from artreg.core.tags import encode_tag, unsafe_reason
from artreg.errors import InvalidIntent

INTENTS_PREFIX = f"{ARTREG_DIR}/intents/"
INTENT_KIND = "artreg.intent"
INTENT_SCHEMA_VERSION = 1
# <UTC time>-<random>: sortable, and unique across runs and machines.
INTENT_ID = re.compile(r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{16}")
_INTENT_KEY = re.compile(rf"{re.escape(INTENTS_PREFIX)}({INTENT_ID.pattern})\.json")
_PAGE_KEY = re.compile(
    rf"{re.escape(ARTREG_DIR)}/index/(?:release|extra|dev)/[1-9][0-9]*\.(?:json|html)"
)
# The S3 store's conditional-write probe (deleted at once; a crash can leave it).
_PROBE_KEY = re.compile(r"\.artreg-probe-[0-9a-f]{32}")


@dataclass(frozen=True)
class Intent:
    """What a run was about to write or delete: per build tag, keys under its directory."""

    id: str
    created: dt.datetime
    holder: str
    builds: Mapping[str, tuple[str, ...]]  # tag -> keys

    @property
    def key(self) -> str:
        return intent_key(self.id)

    def named_keys(self) -> set[str]:
        return {key for keys in self.builds.values() for key in keys}

    def to_bytes(self) -> bytes:
        doc: dict[str, Any] = {
            "schemaVersion": INTENT_SCHEMA_VERSION,
            "kind": INTENT_KIND,
            "created": format_time(self.created),
            "holder": self.holder,
            "builds": [
                {"tag": tag, "keys": sorted(set(keys))} for tag, keys in sorted(self.builds.items())
            ],
        }
        return (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()


def intent_key(intent_id: str) -> str:
    return f"{INTENTS_PREFIX}{intent_id}.json"


def make_intent(
    intent_id: str, created: dt.datetime, holder: str, builds: Mapping[str, Iterable[str]]
) -> Intent:
    """An intent for ``builds``; every key is checked with the rule of core.keys."""
    checked: dict[str, tuple[str, ...]] = {}
    for tag, keys in builds.items():
        listed = tuple(sorted(set(keys)))
        for key in listed:
            problem = owned_key_problem(tag, key)
            if problem is not None:
                raise ValueError(f"intent for {tag}: {problem}")  # a bug: artreg made the key
        checked[tag] = listed
    return Intent(intent_id, created, holder, checked)


def intent_from_bytes(body: bytes, key: str) -> Intent:
    """Read the intent record at ``key``; every key it names must be under its build's directory."""
    found = _INTENT_KEY.fullmatch(key)

    def bad(detail: str) -> InvalidIntent:
        return InvalidIntent(
            f"{key}: not a valid artreg intent record ({detail}); artreg leaves it and the "
            "keys it names alone: remove it by hand once you know what it covers"
        )

    if found is None:
        raise bad("its name is not _artreg/intents/<YYYYMMDDTHHMMSSZ>-<16 hex>.json")
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise bad(f"expected a JSON object, found {type(data).__name__}")
    if data.get("kind") != INTENT_KIND or data.get("schemaVersion") != INTENT_SCHEMA_VERSION:
        raise bad(f"kind/schemaVersion: expected {INTENT_KIND!r} version 1")
    builds: dict[str, tuple[str, ...]] = {}
    try:
        created = parse_time(str(data["created"]))
        holder = str(data["holder"])
        items = data["builds"]
        if not isinstance(items, list):
            raise bad("builds: expected an array")
        for n, item in enumerate(items):
            tag = item["tag"]
            keys = item["keys"]
            if not isinstance(tag, str) or not isinstance(keys, list):
                raise bad(f"builds[{n}]: expected a tag string and a keys array")
            reason = unsafe_reason(tag)
            if reason is not None:
                raise bad(f"builds[{n}].tag {tag!r}: {reason}")
            for k in keys:
                problem = owned_key_problem(tag, k) if isinstance(k, str) else "a key is a string"
                if problem is not None:
                    raise bad(f"builds[{n}]: {problem}")
            builds[tag] = tuple(keys)
    except (KeyError, TypeError, ValueError) as exc:
        raise bad(f"{type(exc).__name__}: {exc}") from None
    return Intent(found.group(1), created, holder, builds)


class Verdict(str, enum.Enum):
    """What happens to one listed key."""

    KEEP = "keep"  # artreg's and in use (or swept elsewhere)
    DELETE = "delete"  # artreg's, unused, past the grace period
    YOUNG = "young"  # artreg's, unused, still within the grace period
    HELD = "held"  # under a build whose manifest is invalid: left alone
    FOREIGN = "foreign"  # not artreg's: left alone, forever


@dataclass(frozen=True)
class Listed:
    """One listed object: what ownership needs of it."""

    key: str
    size: int
    age: dt.timedelta


@dataclass(frozen=True)
class Judged:
    """One key's verdict, and why artreg believes it wrote it (None when it did not)."""

    listed: Listed
    verdict: Verdict
    why: str

    @property
    def key(self) -> str:
        return self.listed.key


@dataclass
class Ownership:
    """Every listed key, judged."""

    judged: list[Judged] = dataclasses.field(default_factory=list)

    def of(self, verdict: Verdict) -> list[Judged]:
        return [j for j in self.judged if j.verdict is verdict]

    @property
    def deletions(self) -> list[Judged]:
        """Keys to delete: files before the intent records that name them."""
        doomed = self.of(Verdict.DELETE)
        return sorted(doomed, key=lambda j: (j.key.startswith(INTENTS_PREFIX), j.key))

    @property
    def owned(self) -> int:
        """How many listed keys artreg can prove it wrote (the brake's denominator)."""
        return sum(1 for j in self.judged if j.verdict not in (Verdict.FOREIGN, Verdict.HELD))


def judge(
    listing: Iterable[Listed],
    *,
    builds: Mapping[str, Sequence[str] | None],
    documents: AbstractSet[str],
    intents: Mapping[str, Intent | None],
    image_repositories: Iterable[str],
    grace: dt.timedelta,
) -> Ownership:
    """Judge every listed key (see the module docstring).

    ``builds``: each listed build manifest's tag -> the file keys of its valid
    build, or None when the manifest is unreadable or invalid. ``documents``:
    artreg's documents in use (root, index.html, the pages the root links, the
    lease). ``intents``: intent record key -> the record, None when unreadable.
    ``image_repositories``: the repositories artreg.toml declares.
    """
    items = list(listing)
    referenced, held = _listed_by_manifests(builds)
    manifests = {manifest_key(tag) for tag in builds}
    trees = tuple(f"v2/{repository}/" for repository in image_repositories)
    named = _named_by_intents(intents)

    def one(item: Listed) -> Judged:
        key = item.key
        if key in referenced:
            return Judged(item, Verdict.KEEP, referenced[key])
        if key in manifests:
            return Judged(item, Verdict.KEEP, "a build manifest")
        if key in documents:
            return Judged(item, Verdict.KEEP, "an artreg document in use")
        if key.startswith(trees):
            return Judged(item, Verdict.KEEP, "in a declared image repository (swept by images)")
        if key.startswith(held):
            return Judged(item, Verdict.HELD, "under a build whose manifest is invalid")
        if key in named:
            return _unused(item, named[key], grace)
        if _PAGE_KEY.fullmatch(key):
            return _unused(item, "an index page the root no longer links", grace)
        if _PROBE_KEY.fullmatch(key):
            return _unused(item, "a conditional-write probe left by a run", grace)
        return Judged(item, Verdict.FOREIGN, "not artreg's")

    out = Ownership([one(item) for item in items])
    _settle_intents(out, intents, {item.key for item in items}, grace)
    return out


def _listed_by_manifests(
    builds: Mapping[str, Sequence[str] | None],
) -> tuple[dict[str, str], tuple[str, ...]]:
    """Key -> why (the manifest listing it), and the directories of invalid manifests."""
    referenced: dict[str, str] = {}
    held: list[str] = []
    for tag, keys in builds.items():
        if keys is None:
            held.append(f"{encode_tag(tag)}/")
            continue
        for key in keys:
            if owned_key_problem(tag, key) is None:  # valid builds already; belt and braces
                referenced.setdefault(key, f"listed by {manifest_key(tag)}")
    return referenced, tuple(held)


def _named_by_intents(intents: Mapping[str, Intent | None]) -> dict[str, str]:
    """Key -> why (the readable intent record naming it)."""
    named: dict[str, str] = {}
    for record, intent in sorted(intents.items()):
        if intent is None:
            continue
        for tag, keys in intent.builds.items():
            for key in keys:
                if owned_key_problem(tag, key) is None:
                    named.setdefault(key, f"named by the intent record {record}")
    return named


def _settle_intents(
    out: Ownership,
    intents: Mapping[str, Intent | None],
    present: AbstractSet[str],
    grace: dt.timedelta,
) -> None:
    """An intent record goes once every key it names is gone, in use, or going now."""
    verdicts = {j.key: j.verdict for j in out.judged}
    for n, judged in enumerate(out.judged):
        intent = intents.get(judged.key)
        if intent is None or _INTENT_KEY.fullmatch(judged.key) is None:
            if judged.key.startswith(INTENTS_PREFIX) and judged.verdict is Verdict.FOREIGN:
                out.judged[n] = dataclasses.replace(
                    judged, verdict=Verdict.HELD, why="an unreadable intent record"
                )
            continue
        settled = all(
            key not in present or verdicts.get(key) in (Verdict.KEEP, Verdict.DELETE)
            for key in intent.named_keys()
        )
        why = f"the intent record of {intent.holder} ({format_time(intent.created)})"
        if judged.listed.age <= grace:
            out.judged[n] = Judged(judged.listed, Verdict.YOUNG, why)
        elif settled:
            out.judged[n] = Judged(judged.listed, Verdict.DELETE, why + ", all its keys settled")
        else:
            out.judged[n] = Judged(judged.listed, Verdict.KEEP, why + ", keys still pending")


def _unused(item: Listed, why: str, grace: dt.timedelta) -> Judged:
    return Judged(item, Verdict.DELETE if item.age > grace else Verdict.YOUNG, why)
