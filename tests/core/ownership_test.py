"""``core.ownership.judge``: artreg deletes only what it can prove it wrote (table + property)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from artreg.core.manifest import manifest_key
from artreg.core.ownership import (
    INTENTS_PREFIX,
    Intent,
    Listed,
    Verdict,
    intent_from_bytes,
    intent_key,
    judge,
    make_intent,
)
from artreg.errors import InvalidIntent

T0 = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
HOUR = dt.timedelta(hours=1)
GRACE = dt.timedelta(hours=24)
DEV = "d" * 40
OLD = 1000 * HOUR
RECORD = intent_key("20250601T120000Z-0123456789abcdef")
CRASHED = make_intent(
    "20250601T120000Z-0123456789abcdef",
    T0,
    "artreg apply (pid 1)",
    {"v1.1.0": ["v1.1.0/linux/amd64/app", "v1.1.0/linux/arm64/app"]},
)
BUILDS = {
    "v1.0.0": ("v1.0.0/linux/amd64/app",),
    DEV: None,  # its manifest is invalid: everything under d.../ is held
}
DOCUMENTS = {"index.json", "index.html", "_artreg/lease.json", "_artreg/index/release/1.json"}

# key, age, expected verdict
CASES = [
    ("v1.0.0/linux/amd64/app", OLD, Verdict.KEEP),
    (manifest_key("v1.0.0"), OLD, Verdict.KEEP),
    (manifest_key(DEV), OLD, Verdict.KEEP),
    ("index.json", OLD, Verdict.KEEP),
    ("_artreg/lease.json", OLD, Verdict.KEEP),
    ("_artreg/index/release/1.json", OLD, Verdict.KEEP),
    ("_artreg/index/dev/9.json", 48 * HOUR, Verdict.DELETE),  # a page the root no longer links
    ("_artreg/index/dev/10.json", HOUR, Verdict.YOUNG),
    ("v1.1.0/linux/amd64/app", 25 * HOUR, Verdict.DELETE),  # named by the crashed run's record
    ("v1.1.0/linux/arm64/app", GRACE, Verdict.YOUNG),  # exactly the grace: kept for now
    (RECORD, OLD, Verdict.KEEP),  # one of its keys is still young
    ("v2/app/blobs/sha256:abc", OLD, Verdict.KEEP),  # a declared repository: swept by images
    (f"{DEV}/linux/amd64/app", OLD, Verdict.HELD),
    # Not artreg's, whatever their age: a shared bucket's other objects.
    ("robots.txt", OLD, Verdict.FOREIGN),
    ("index.htm", OLD, Verdict.FOREIGN),
    ("v0.1.0/linux/amd64/garage", OLD, Verdict.FOREIGN),  # a hand-made tree, no manifest
    ("latest/linux/amd64/garage", OLD, Verdict.FOREIGN),
    ("_other/x", OLD, Verdict.FOREIGN),
    ("_artreg/notes.txt", OLD, Verdict.FOREIGN),
    ("_artreg/builds/not a tag.json", OLD, Verdict.FOREIGN),
    ("v1.0.0/linux/amd64/app.old", OLD, Verdict.FOREIGN),  # in a build's dir, listed by nobody
    ("v1.1.0/linux/amd64/app.sig", OLD, Verdict.FOREIGN),  # the record does not name it
    ("v2/other/blobs/sha256:abc", OLD, Verdict.FOREIGN),  # a repository nobody declares
    ("future/clock/skew", -HOUR, Verdict.FOREIGN),
]


def judged(cases: list[tuple[str, dt.timedelta, Verdict]]) -> dict[str, Verdict]:
    ownership = judge(
        [Listed(key, 10, age) for key, age, _ in cases],
        builds=BUILDS,
        documents=DOCUMENTS,
        intents={RECORD: CRASHED},
        image_repositories=["app"],
        grace=GRACE,
    )
    return {j.key: j.verdict for j in ownership.judged}


def test_table() -> None:
    assert judged(CASES) == {key: verdict for key, _, verdict in CASES}


def test_the_record_goes_once_its_keys_are_settled() -> None:
    settled = [(k, OLD if k.startswith("v1.1.0/") else a, v) for k, a, v in CASES]
    verdicts = judged(settled)
    assert verdicts["v1.1.0/linux/arm64/app"] is Verdict.DELETE
    assert verdicts[RECORD] is Verdict.DELETE
    ownership = judge(
        [Listed(k, 1, a) for k, a, _ in settled],
        builds=BUILDS,
        documents=DOCUMENTS,
        intents={RECORD: CRASHED},
        image_repositories=["app"],
        grace=GRACE,
    )
    order = [j.key for j in ownership.deletions]
    assert order[-1] == RECORD  # after the keys it names


def test_intent_round_trip_and_refusals() -> None:
    assert intent_from_bytes(CRASHED.to_bytes(), RECORD) == CRASHED
    bad_keys = ["//evil.example/x", "../x", "v1.0.0/linux/amd64/app", "v1.1.0/../../x",
                "v1.1.0/<script>/app", "_artreg/builds/v1.0.0.json"]  # fmt: skip
    for key in bad_keys:
        body = CRASHED.to_bytes().replace(b"v1.1.0/linux/amd64/app", key.encode())
        with pytest.raises(InvalidIntent, match="the keys it names alone"):
            intent_from_bytes(body, RECORD)
    with pytest.raises(InvalidIntent):
        intent_from_bytes(CRASHED.to_bytes(), f"{INTENTS_PREFIX}mine.json")
    with pytest.raises(ValueError):
        make_intent(CRASHED.id, T0, "x", {"v1.0.0": ["v1.1.0/linux/amd64/app"]})


# --- the property ---------------------------------------------------------------------------

TAGS = ["v1.0.0", "v1.1.0", "v2.0.0-rc1", DEV, "e" * 40]
PLATFORMS = ["linux/amd64", "linux/arm/v7", "x86_64-unknown-linux-musl"]
NAMES = ["app", "app.sig", "garage"]
OWN_KEYS = [f"{t}/{p}/{n}" for t in TAGS for p in PLATFORMS for n in NAMES]
OTHER_KEYS = [
    "robots.txt",
    "index.htm",
    "index.json",
    "index.html",
    "_artreg/lease.json",
    "latest/linux/amd64/garage",
    "v0.1.0/linux/amd64/garage",
    "_other/x",
    "_artreg/notes",
    "_artreg/index/dev/1.json",
    "_artreg/index/release/7.json",
    "_artreg/builds/junk.json",
    ".artreg-probe-" + "a" * 32,
    "v2/app/blobs/sha256:abc",
    "v2/other/manifests/v1",
    *(manifest_key(t) for t in TAGS),
]
PAGE = re.compile(r"_artreg/index/(release|extra|dev)/[1-9]\d*\.json")
INTENT_IDS = [f"20250601T12000{n}Z-{n:016x}" for n in range(3)]
ALL_KEYS = OWN_KEYS + OTHER_KEYS + [intent_key(i) for i in INTENT_IDS]

ages = st.integers(-2, 60).map(lambda h: dt.timedelta(hours=h))
tag_keys = st.sampled_from(TAGS).flatmap(
    lambda tag: st.tuples(
        st.just(tag),
        st.lists(st.sampled_from([k for k in OWN_KEYS if k.startswith(tag + "/")]), max_size=4),
    )
)


@st.composite
def intents(draw: st.DrawFn) -> dict[str, Intent | None]:
    found: dict[str, Intent | None] = {}
    for intent_id in draw(st.lists(st.sampled_from(INTENT_IDS), unique=True, max_size=3)):
        if draw(st.booleans()) and draw(st.booleans()):
            found[intent_key(intent_id)] = None  # unreadable
            continue
        builds = dict(draw(st.lists(tag_keys, max_size=3)))
        found[intent_key(intent_id)] = make_intent(intent_id, T0, "run", builds)
    return found


@settings(max_examples=400, deadline=None)
@given(
    listing=st.dictionaries(st.sampled_from(ALL_KEYS), ages, max_size=40),
    builds=st.dictionaries(
        st.sampled_from(TAGS),
        st.one_of(st.none(), st.lists(st.sampled_from(OWN_KEYS + OTHER_KEYS), max_size=5)),
        max_size=5,
    ),
    documents=st.sets(st.sampled_from(OTHER_KEYS), max_size=6),
    records=intents(),
    grace=st.integers(0, 30).map(lambda h: dt.timedelta(hours=h)),
)
def test_deletes_only_what_artreg_provably_wrote(
    listing: dict[str, dt.timedelta],
    builds: dict[str, list[str] | None],
    documents: set[str],
    records: dict[str, Intent | None],
    grace: dt.timedelta,
) -> None:
    ownership = judge(
        [Listed(k, 1, a) for k, a in listing.items()],
        builds=builds,
        documents=documents,
        intents=records,
        image_repositories=["app"],
        grace=grace,
    )
    deleted = {j.key for j in ownership.deletions}
    # Computed here, independently: what artreg can prove it wrote...
    named = {
        key
        for intent in records.values()
        if intent is not None
        for keys in intent.builds.values()
        for key in keys
    }
    provable = (
        named
        | {k for k in listing if PAGE.fullmatch(k)}
        | {k for k in listing if k.startswith(".artreg-probe-")}
        | {k for k, intent in records.items() if intent is not None}
    )
    # ... and what a valid live manifest references (a build lists only its own dir's keys).
    referenced = {
        key
        for tag, keys in builds.items()
        if keys is not None
        for key in keys
        if key.startswith(tag + "/")
    }
    held = tuple(f"{tag}/" for tag, keys in builds.items() if keys is None)
    assert deleted <= provable
    assert not deleted & referenced
    assert not deleted & documents
    assert not deleted & {manifest_key(t) for t in builds}
    assert not any(k.startswith(held) for k in deleted)
    assert not any(k.startswith("v2/") for k in deleted)  # images are swept elsewhere
    assert all(listing[k] > grace for k in deleted)
    # A record goes only with (or after) every listed key it names.
    for key in deleted & set(records):
        intent = records[key]
        assert intent is not None
        pending = {k for k in intent.named_keys() if k in listing} - deleted - referenced
        assert not pending, pending
    assert ownership.owned >= len(deleted)
