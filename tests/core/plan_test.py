from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from artreg.core.manifest import Build, FileEntry
from artreg.core.plan import Action, BuildChange, Kind, Op, order_actions, plan_build, summarize
from artreg.core.tags import Category
from artreg.errors import ArtregError, ReleaseImmutable

T1 = dt.datetime(2025, 6, 1, 10, tzinfo=dt.timezone.utc)
T2 = dt.datetime(2025, 6, 1, 11, tzinfo=dt.timezone.utc)
DEV = "d" * 40
# Invariant 1 of the design, spelled out here rather than read from the code under test.
# index.json is the commit point (see core/plan.py); only latest/ and the feed follow it.
# An intent record is written before the files it names and deleted after them.
WRITE_ORDER = (
    Kind.INTENT,
    Kind.FILE,
    Kind.SITE,
    Kind.MANIFEST,
    Kind.PAGE,
    Kind.HTML,
    Kind.ROOT,
    Kind.LATEST,
)
DELETE_ORDER = (Kind.LATEST, Kind.PAGE, Kind.MANIFEST, Kind.FILE, Kind.SITE, Kind.INTENT)


def build(tag: str, category: Category, when: dt.datetime, **files: str) -> Build:
    """A build whose files are ``platform-with-dashes=content-digit``."""
    entries = tuple(
        FileEntry(
            artifact="app",
            platform=platform.replace("_", "/"),
            name="app",
            key=f"{tag}/{platform.replace('_', '/')}/app",
            size=len(digit),
            sha256=digit * 64,
        )
        for platform, digit in sorted(files.items())
    )
    return Build(tag=tag, category=category, published=when, commit=None, files=entries)


AMD = f"{DEV}/linux/amd64/app"
ARM = f"{DEV}/linux/arm64/app"


@pytest.mark.parametrize(
    ("existing", "new", "expected"),
    [
        pytest.param(
            None,
            build(DEV, Category.DEV, T2, linux_amd64="1", linux_arm64="2"),
            BuildChange(
                build(DEV, Category.DEV, T2, linux_amd64="1", linux_arm64="2"),
                (AMD, ARM),
                write_manifest=True,
                manifest_existed=False,
                stale_keys=(),
            ),
            id="new",
        ),
        pytest.param(
            build(DEV, Category.DEV, T1, linux_amd64="1", linux_arm64="2"),
            build(DEV, Category.DEV, T2, linux_amd64="1", linux_arm64="2"),
            # The existing manifest is kept, publish time included.
            BuildChange(
                build(DEV, Category.DEV, T1, linux_amd64="1", linux_arm64="2"),
                (),
                write_manifest=False,
                manifest_existed=True,
                stale_keys=(),
            ),
            id="identical",
        ),
        pytest.param(
            build(DEV, Category.DEV, T1, linux_amd64="1", linux_arm64="2"),
            build(DEV, Category.DEV, T2, linux_amd64="1", linux_arm64="3"),
            BuildChange(
                build(DEV, Category.DEV, T2, linux_amd64="1", linux_arm64="3"),
                (ARM,),
                write_manifest=True,
                manifest_existed=True,
                stale_keys=(),
            ),
            id="changed-dev",
        ),
        pytest.param(
            build(DEV, Category.DEV, T1, linux_amd64="1", linux_arm64="2"),
            build(DEV, Category.DEV, T2, linux_amd64="1"),
            BuildChange(
                build(DEV, Category.DEV, T2, linux_amd64="1"),
                (),
                write_manifest=True,
                manifest_existed=True,
                stale_keys=(ARM,),
            ),
            id="file-removed",
        ),
        pytest.param(
            build(DEV, Category.DEV, T1, linux_amd64="1"),
            build(DEV, Category.DEV, T2, linux_amd64="1", linux_arm64="2"),
            BuildChange(
                build(DEV, Category.DEV, T2, linux_amd64="1", linux_arm64="2"),
                (ARM,),
                write_manifest=True,
                manifest_existed=True,
                stale_keys=(),
            ),
            id="file-added",
        ),
    ],
)
def test_plan_build(existing: Build | None, new: Build, expected: BuildChange) -> None:
    change = plan_build(new, existing)
    assert change == expected
    assert change.changed is expected.write_manifest


@pytest.mark.parametrize(
    ("existing", "new", "detail"),
    [
        pytest.param(
            build("v1.0.0", Category.RELEASE, T1, linux_amd64="1"),
            build("v1.0.0", Category.RELEASE, T2, linux_amd64="2"),
            "v1.0.0/linux/amd64/app has sha256 111111111111... published, 222222222222... now",
            id="changed",
        ),
        pytest.param(
            build("v1.0.0", Category.RELEASE, T1, linux_amd64="1"),
            build("v1.0.0", Category.RELEASE, T2, linux_amd64="1", linux_arm64="2"),
            "v1.0.0/linux/arm64/app is new",
            id="file-added",
        ),
        pytest.param(
            build("v1.0.0", Category.RELEASE, T1, linux_amd64="1", linux_arm64="2"),
            build("v1.0.0", Category.RELEASE, T2, linux_amd64="1"),
            "v1.0.0/linux/arm64/app would disappear",
            id="file-removed",
        ),
    ],
)
def test_changed_release_is_refused(existing: Build, new: Build, detail: str) -> None:
    with pytest.raises(ReleaseImmutable) as info:
        plan_build(new, existing)
    assert isinstance(info.value, ArtregError)
    assert info.value.message == (
        f"release v1.0.0 is already published with other content ({detail}); a published "
        "release is immutable: publish a new version instead (nothing was written)"
    )


def test_identical_release_is_a_no_op() -> None:
    existing = build("v1.0.0", Category.RELEASE, T1, linux_amd64="1")
    change = plan_build(build("v1.0.0", Category.RELEASE, T2, linux_amd64="1"), existing)
    assert not change.changed
    assert change.build is existing


def test_refusal_lists_at_most_five_differences() -> None:
    old = build("v1.0.0", Category.RELEASE, T1, **{f"os_a{n}": "1" for n in range(7)})
    new = build("v1.0.0", Category.RELEASE, T2, **{f"os_a{n}": "2" for n in range(7)})
    with pytest.raises(ReleaseImmutable) as info:
        plan_build(new, old)
    assert info.value.message.count("has sha256") == 5
    assert "now ...)" in info.value.message


# -- order_actions ------------------------------------------------------------

actions = st.builds(
    Action,
    op=st.sampled_from(Op),
    kind=st.sampled_from(Kind),
    key=st.text("abc/", min_size=1, max_size=6),
    size=st.integers(0, 10),
    reason=st.text("xyz", max_size=3),
)


@given(st.lists(actions, max_size=30))
def test_order_actions(items: list[Action]) -> None:
    ordered = order_actions(items)
    assert sorted(map(id, ordered)) == sorted(map(id, items))  # a permutation
    ops = [a.op is Op.DELETE for a in ordered]
    assert ops == sorted(ops)  # every write before every delete
    writes = [a for a in ordered if a.op is not Op.DELETE]
    deletes = [a for a in ordered if a.op is Op.DELETE]
    write_ranks = [WRITE_ORDER.index(a.kind) for a in writes]
    assert write_ranks == sorted(write_ranks)  # files, manifests, pages, html, root
    delete_rank = {kind: n for n, kind in enumerate(DELETE_ORDER)}
    delete_ranks = [delete_rank.get(a.kind, len(DELETE_ORDER)) for a in deletes]
    assert delete_ranks == sorted(delete_ranks)  # pages, manifests, files
    for kind in Kind:  # stable: within a kind and op, the input order is kept
        for is_delete in (False, True):
            ours = [id(a) for a in items if a.kind is kind and (a.op is Op.DELETE) is is_delete]
            assert [id(a) for a in ordered if id(a) in set(ours)] == ours


def test_order_actions_example() -> None:
    def act(op: Op, kind: Kind) -> Action:
        return Action(op, kind, f"{op.value}-{kind.value}", 0, "")

    given_order = [act(op, kind) for op in (Op.DELETE, Op.CREATE) for kind in Kind]
    assert [(a.op, a.kind) for a in order_actions(given_order)] == [
        (Op.CREATE, Kind.INTENT),
        (Op.CREATE, Kind.FILE),
        (Op.CREATE, Kind.SITE),  # a build's SHA256SUMS and page go with its files
        (Op.CREATE, Kind.MANIFEST),
        (Op.CREATE, Kind.PAGE),
        (Op.CREATE, Kind.HTML),
        (Op.CREATE, Kind.ROOT),
        (Op.CREATE, Kind.LATEST),  # latest/ follows the index
        (Op.DELETE, Kind.LATEST),
        (Op.DELETE, Kind.PAGE),
        (Op.DELETE, Kind.MANIFEST),
        (Op.DELETE, Kind.FILE),
        (Op.DELETE, Kind.SITE),
        (Op.DELETE, Kind.INTENT),
        (Op.DELETE, Kind.ROOT),
        (Op.DELETE, Kind.HTML),
    ]


def test_summarize() -> None:
    summary = summarize(
        [
            Action(Op.CREATE, Kind.FILE, "f", 10, ""),
            Action(Op.REPLACE, Kind.MANIFEST, "m", 5, ""),
            Action(Op.CREATE, Kind.PAGE, "p", 7, ""),
            Action(Op.REPLACE, Kind.ROOT, "r", 7, ""),
            Action(Op.DELETE, Kind.FILE, "old", 0, ""),
        ]
    )
    assert (summary.uploaded, summary.uploaded_bytes) == (2, 15)
    assert (summary.index_written, summary.deleted) == (2, 1)
