"""The image sweep decision: tags judged, manifests and blobs marked from kept tags, grace."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from artreg.core.images import Listed, Node, Sweep, TagVerdict, decide_sweep, judge_tags, references
from artreg.core.tags import Convention
from artreg.errors import UnreadableManifest

HOUR = dt.timedelta(hours=1)
GRACE = 24 * HOUR
OLD = Listed(10, 100 * HOUR)
YOUNG = Listed(10, HOUR)
V = Convention()
DEV = "0123456789abcdef0123456789abcdef01234567"


def d(name: str) -> str:
    """A digest named for readability."""
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


def keep(tag: str) -> TagVerdict:
    return TagVerdict(tag, False, "kept")


def drop(tag: str) -> TagVerdict:
    return TagVerdict(tag, True, "gone")


@pytest.mark.parametrize(
    ("tag", "age", "expected"),
    [
        ("v1.0.0", OLD, (False, "tag of the build v1.0.0")),
        ("v1.0.0_feat", OLD, (False, "tag of the build v1.0.0+feat")),
        ("v0.9.0-rc.1", YOUNG, (True, "retention: the build v0.9.0-rc.1 is removed")),
        ("v0.8.2_feat", OLD, (True, "tag of a build that no longer exists, 4 days old")),
        ("v0.8.3", YOUNG, (False, "no build manifest, but only 1.0 h old")),
        ("latest", OLD, (False, "not a build tag (an alias or another tool's tag)")),
        ("v1.0", OLD, (False, "not a build tag (an alias or another tool's tag)")),
        ("nightly", OLD, (False, "not a build tag (an alias or another tool's tag)")),
        (DEV, Listed(1, GRACE), (False, "no build manifest, but only 24.0 h old")),
        (DEV, Listed(1, GRACE + HOUR), (True, "tag of a build that no longer exists, 25.0 h old")),
    ],
)
def test_judge_tags(tag: str, age: Listed, expected: tuple[bool, str]) -> None:
    verdicts = judge_tags(
        {tag: age},
        builds=["v1.0.0", "v1.0.0+feat"],
        removed=["v0.9.0-rc.1"],
        convention=V,
        grace=GRACE,
    )
    assert (verdicts[tag].delete, verdicts[tag].reason) == expected


def _manifest(*blobs: str) -> bytes:
    layers = [{"mediaType": "x", "digest": b, "size": 1} for b in blobs[1:]]
    layers.append({"mediaType": "x", "digest": d("foreign"), "size": 1, "urls": ["http://x"]})
    doc = {"config": {"mediaType": "c", "digest": blobs[0], "size": 1}, "layers": layers}
    return json.dumps(doc).encode()


def test_references_of_manifests_and_indexes() -> None:
    body = _manifest(d("cfg"), d("l1"), d("l2"))
    assert references(body) == Node(blobs=(d("cfg"), d("l1"), d("l2")))
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    assert references(body, digest).blobs == (d("cfg"), d("l1"), d("l2"))
    index = json.dumps({"manifests": [{"digest": d("a")}, {"digest": d("b")}]}).encode()
    assert references(index) == Node(manifests=(d("a"), d("b")))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"nope", "not JSON"),
        (b"[]", "not a JSON object"),
        (b'{"manifests": {}}', "'manifests' is not a list"),
        (b'{"manifests": [{"digest": "md5:x"}]}', "manifests[] has no valid sha256 digest"),
        (b'{"config": {"digest": 3}}', "a config or layer has no valid sha256 digest"),
    ],
)
def test_unreadable_manifests(body: bytes, message: str) -> None:
    with pytest.raises(UnreadableManifest, match=message.replace("[", r"\[").replace("]", r"\]")):
        references(body)
    with pytest.raises(UnreadableManifest, match="does not match its digest"):
        references(b"{}", d("other"))


# Two versions sharing a base layer, behind an index each; "old" is expired.
GRAPH = {
    d("new-index"): Node(manifests=(d("new-amd64"),)),
    d("new-amd64"): Node(blobs=(d("new-config"), d("base"), d("new-layer"))),
    d("old-index"): Node(manifests=(d("old-amd64"),)),
    d("old-amd64"): Node(blobs=(d("old-config"), d("base"), d("old-layer"))),
}
BLOBS = ("new-config", "base", "new-layer", "old-config", "old-layer")


def sweep(**overrides: object) -> Sweep:
    args: dict[str, object] = {
        "tags": {"v2": OLD, "v1": OLD},
        "manifests": {digest: OLD for digest in GRAPH},
        "blobs": {d(name): OLD for name in BLOBS},
        "verdicts": {"v2": keep("v2"), "v1": drop("v1")},
        "tag_digests": {"v2": d("new-index")},
        "graph": GRAPH,
        "grace": GRACE,
    }
    args.update(overrides)
    return decide_sweep(**args)  # type: ignore[arg-type]


def names(result: Sweep) -> dict[str, list[list[str]] | list[str]]:
    reverse = {
        d(n): n for n in [*BLOBS, *(f"{v}-{p}" for v in ("new", "old") for p in ("index", "amd64"))]
    }
    reverse.update({d(n): n for n in ("stray", "young")})
    return {
        "tags": [x.name for x in result.tags],
        "manifests": [[reverse[x.name] for x in batch] for batch in result.manifests],
        "blobs": sorted(reverse[x.name] for x in result.blobs),
    }


def test_the_expired_version_goes_the_shared_layer_stays() -> None:
    result = sweep()
    assert names(result) == {
        "tags": ["v1"],
        "manifests": [["old-index"], ["old-amd64"]],  # the index before its child
        "blobs": ["old-config", "old-layer"],
    }
    assert result.remaining_tags == ("v2",)
    assert result.problems == ()
    [deleted] = result.tags
    assert (deleted.kind, deleted.reason) == ("tag", "gone")
    assert result.blobs[0].reason == "unreferenced by any kept image, 4 days old"


def test_nothing_younger_than_the_grace_period_goes() -> None:
    young = {digest: YOUNG for digest in GRAPH}
    result = sweep(manifests=young, blobs={d(n): YOUNG for n in BLOBS})
    assert names(result) == {"tags": ["v1"], "manifests": [], "blobs": []}
    assert result.young == 4  # old-index, old-amd64, old-config, old-layer


def test_a_young_manifest_protects_the_old_blobs_it_references() -> None:
    # A concurrent run tagged nothing yet, but its fresh manifest re-uses old-layer.
    graph = {**GRAPH, d("young"): Node(blobs=(d("old-layer"),))}
    manifests = {**{digest: OLD for digest in GRAPH}, d("young"): YOUNG}
    result = sweep(graph=graph, manifests=manifests)
    assert names(result)["blobs"] == ["old-config"]


def test_pinned_digests_stay() -> None:
    result = sweep(pinned=frozenset({d("old-layer"), d("old-amd64")}))
    assert names(result) == {
        "tags": ["v1"],
        "manifests": [["old-index"]],
        "blobs": [],  # old-amd64 is pinned: what it references stays too
    }


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"tag_digests": {}}, "the manifest of the kept tag 'v2' could not be read"),
        (
            {"graph": {k: v for k, v in GRAPH.items() if k != d("new-amd64")}},
            f"the manifest {d('new-amd64')}, which a kept image needs, is unreadable",
        ),
        (
            {
                "manifests": {k: OLD for k in GRAPH if k != d("new-amd64")},
                "graph": {k: v for k, v in GRAPH.items() if k != d("new-amd64")},
            },
            f"the manifest {d('new-amd64')}, which a kept image needs, is missing",
        ),
    ],
)
def test_an_incomplete_mark_sweeps_only_tags(overrides: dict[str, object], problem: str) -> None:
    result = sweep(**overrides)
    assert result.problems == (problem,)
    assert names(result) == {"tags": ["v1"], "manifests": [], "blobs": []}


def test_nested_indexes_are_deleted_outermost_first() -> None:
    graph = {
        d("a"): Node(manifests=(d("b"),)),
        d("b"): Node(manifests=(d("c"),)),
        d("c"): Node(blobs=(d("x"),)),
    }
    result = decide_sweep(
        tags={},
        manifests={digest: OLD for digest in graph},
        blobs={d("x"): OLD},
        verdicts={},
        tag_digests={},
        graph=graph,
        grace=GRACE,
    )
    assert [[x.name for x in batch] for batch in result.manifests] == [[d("a")], [d("b")], [d("c")]]
    assert [x.name for x in result.blobs] == [d("x")]


# -- properties over random repositories -------------------------------------------

_MANIFESTS = [d(f"m{n}") for n in range(8)]
_BLOBS = [d(f"b{n}") for n in range(8)]


@st.composite
def repositories(draw: st.DrawFn) -> dict[str, object]:
    manifest_names = draw(st.lists(st.sampled_from(_MANIFESTS), unique=True, max_size=8))
    blob_names = draw(st.lists(st.sampled_from(_BLOBS), unique=True, max_size=8))
    graph = {}
    for name in manifest_names:
        if draw(st.booleans()):
            children = (
                draw(st.lists(st.sampled_from(manifest_names), max_size=3))
                if manifest_names
                else []
            )
            graph[name] = Node(manifests=tuple(c for c in children if c != name))
        else:
            blobs = draw(st.lists(st.sampled_from(blob_names), max_size=3)) if blob_names else []
            graph[name] = Node(blobs=tuple(blobs))
    ages = st.sampled_from([OLD, YOUNG, Listed(3, GRACE)])
    tags = draw(st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), ages, max_size=4))
    verdicts = {t: TagVerdict(t, draw(st.booleans()), "r") for t in tags}
    tag_digests = {t: draw(st.sampled_from(manifest_names)) for t in tags} if manifest_names else {}
    return {
        "tags": tags,
        "manifests": {m: draw(ages) for m in manifest_names},
        "blobs": {b: draw(ages) for b in blob_names},
        "verdicts": verdicts,
        "tag_digests": tag_digests,
        "graph": graph,
        "grace": GRACE,
    }


def _reachable(repo: dict[str, object]) -> set[str]:
    graph: dict[str, Node] = repo["graph"]  # type: ignore[assignment]
    verdicts: dict[str, TagVerdict] = repo["verdicts"]  # type: ignore[assignment]
    digests: dict[str, str] = repo["tag_digests"]  # type: ignore[assignment]
    stack = [digests[t] for t, v in verdicts.items() if not v.delete and t in digests]
    seen: set[str] = set()
    while stack:
        digest = stack.pop()
        if digest in seen:
            continue
        seen.add(digest)
        node = graph.get(digest, Node())
        seen.update(node.blobs)
        stack += node.manifests
    return seen


@settings(max_examples=300, deadline=None)
@given(repositories())
def test_never_deletes_what_a_kept_tag_reaches_nor_anything_young(repo: dict[str, object]) -> None:
    result = decide_sweep(**repo)  # type: ignore[arg-type]
    reachable = _reachable(repo)
    listed: dict[str, dict[str, Listed]] = {
        "manifest": repo["manifests"],  # type: ignore[dict-item]
        "blob": repo["blobs"],  # type: ignore[dict-item]
    }
    for deletion in result.deletions():
        if deletion.kind == "tag":
            assert repo["verdicts"][deletion.name].delete  # type: ignore[index]
            continue
        assert deletion.name not in reachable
        assert listed[deletion.kind][deletion.name].age > GRACE


@settings(max_examples=300, deadline=None)
@given(repositories())
def test_sweeping_twice_deletes_nothing_more(repo: dict[str, object]) -> None:
    first = decide_sweep(**repo)  # type: ignore[arg-type]
    gone = {(x.kind, x.name) for x in first.deletions()}
    after = dict(repo)
    after["tags"] = {t: a for t, a in repo["tags"].items() if ("tag", t) not in gone}  # type: ignore[attr-defined]
    after["verdicts"] = {t: repo["verdicts"][t] for t in after["tags"]}  # type: ignore[index, attr-defined]
    after["manifests"] = {
        m: a
        for m, a in repo["manifests"].items()
        if ("manifest", m) not in gone  # type: ignore[attr-defined]
    }
    after["blobs"] = {b: a for b, a in repo["blobs"].items() if ("blob", b) not in gone}  # type: ignore[attr-defined]
    second = decide_sweep(**after)  # type: ignore[arg-type]
    assert [x for x in second.deletions() if x.kind != "tag"] == []
    assert second.tags == ()
