"""Which build a run publishes: every CI's tag, branch and bare runs, and properties."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from artreg.core.ci import (
    CI_SYSTEMS,
    VARIABLES,
    BuildRef,
    GitFacts,
    decide_build_ref,
    read_ci,
)
from artreg.errors import ArtregError

HEAD = "a" * 40
CI_SHA = "c" * 40
TAGGED = GitFacts(HEAD, ("v1.0.0",), where="/repo")
DOCS = Path(__file__).parent.parent.parent / "docs" / "ci-variables.md"

# (env, tag it publishes, origin, variable named in the stderr note or None).
# DEV means a dev build of CI_SHA when the env carries a commit, else of HEAD.
DEV = "dev"
CASES: dict[str, tuple[dict[str, str], str, str, str | None]] = {
    # GitHub Actions
    "github tag": (
        {
            "GITHUB_ACTIONS": "true",
            "GITHUB_REF": "refs/tags/v2.0.0",
            "GITHUB_REF_TYPE": "tag",
            "GITHUB_REF_NAME": "v2.0.0",
            "GITHUB_SHA": CI_SHA,
        },
        "v2.0.0",
        "GITHUB_REF_NAME",
        None,
    ),
    "github branch": (
        {
            "GITHUB_ACTIONS": "true",
            "GITHUB_REF": "refs/heads/main",
            "GITHUB_REF_TYPE": "branch",
            "GITHUB_REF_NAME": "main",
            "GITHUB_SHA": CI_SHA,
        },
        DEV,
        "GITHUB_SHA",
        "GITHUB_REF_TYPE=branch",
    ),
    "github pull request": (
        {
            "GITHUB_ACTIONS": "true",
            "GITHUB_REF": "refs/pull/7/merge",
            "GITHUB_HEAD_REF": "feature",
            "GITHUB_SHA": CI_SHA,
        },
        DEV,
        "GITHUB_SHA",
        "GITHUB_REF=refs/pull/7/merge",
    ),
    "only GITHUB_REF_TYPE=branch": ({"GITHUB_REF_TYPE": "branch"}, DEV, "commit id", "branch"),
    "github marker, no ref": ({"GITHUB_ACTIONS": "true"}, DEV, "commit id", "GITHUB_ACTIONS"),
    "github tag ref without type": (
        {"GITHUB_REF": "refs/tags/v2.0.1"},
        "v2.0.1",
        "GITHUB_REF",
        None,
    ),
    # Forgejo / Gitea Actions (GitHub's names, plus their own)
    "forgejo tag": (
        {
            "FORGEJO_ACTIONS": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_REF": "refs/tags/v2.1.0",
            "GITHUB_REF_TYPE": "tag",
            "GITHUB_REF_NAME": "v2.1.0",
            "GITHUB_SHA": CI_SHA,
        },
        "v2.1.0",
        "GITHUB_REF_NAME",
        None,
    ),
    "forgejo branch by its own names": (
        {"FORGEJO_ACTIONS": "true", "FORGEJO_REF_TYPE": "branch", "FORGEJO_SHA": CI_SHA},
        DEV,
        "FORGEJO_SHA",
        "Forgejo Actions: FORGEJO_REF_TYPE=branch",
    ),
    "gitea branch": (
        {"GITEA_ACTIONS": "true", "GITHUB_REF": "refs/heads/main", "GITHUB_SHA": CI_SHA},
        DEV,
        "GITHUB_SHA",
        "Gitea Actions: GITHUB_REF=refs/heads/main",
    ),
    # GitLab CI
    "gitlab tag": (
        {"GITLAB_CI": "true", "CI": "true", "CI_COMMIT_TAG": "v3.0.0", "CI_COMMIT_SHA": CI_SHA},
        "v3.0.0",
        "CI_COMMIT_TAG",
        None,
    ),
    "gitlab branch": (
        {"GITLAB_CI": "true", "CI": "true", "CI_COMMIT_BRANCH": "main", "CI_COMMIT_SHA": CI_SHA},
        DEV,
        "CI_COMMIT_SHA",
        "GitLab CI: CI_COMMIT_BRANCH=main",
    ),
    "gitlab merge request": (
        {"GITLAB_CI": "true", "CI_MERGE_REQUEST_IID": "12", "CI_COMMIT_SHA": CI_SHA},
        DEV,
        "CI_COMMIT_SHA",
        "CI_MERGE_REQUEST_IID=12",
    ),
    "gitlab, no tag variable": (
        {"GITLAB_CI": "true", "CI_COMMIT_TAG": ""},
        DEV,
        "commit id",
        "GITLAB_CI=true and no CI_COMMIT_TAG",
    ),
    # Woodpecker
    "woodpecker tag": (
        {
            "CI": "woodpecker",
            "CI_PIPELINE_EVENT": "tag",
            "CI_COMMIT_TAG": "v4.0.0",
            "CI_COMMIT_REF": "refs/tags/v4.0.0",
            "CI_COMMIT_SHA": CI_SHA,
        },
        "v4.0.0",
        "CI_COMMIT_TAG",
        None,
    ),
    "woodpecker push": (
        {
            "CI": "woodpecker",
            "CI_PIPELINE_EVENT": "push",
            "CI_COMMIT_BRANCH": "main",
            "CI_COMMIT_REF": "refs/heads/main",
            "CI_COMMIT_SHA": CI_SHA,
        },
        DEV,
        "CI_COMMIT_SHA",
        "Woodpecker: CI_PIPELINE_EVENT=push",
    ),
    "woodpecker cron with a stray tag variable": (
        {"CI": "woodpecker", "CI_PIPELINE_EVENT": "cron", "CI_COMMIT_TAG": "v4.0.0"},
        DEV,
        "commit id",
        "CI_PIPELINE_EVENT=cron",
    ),
    "woodpecker release event": (
        {"CI": "woodpecker", "CI_PIPELINE_EVENT": "release", "CI_COMMIT_TAG": "v4.1.0"},
        "v4.1.0",
        "CI_COMMIT_TAG",
        None,
    ),
    "woodpecker tag event by ref only": (
        {"CI": "woodpecker", "CI_PIPELINE_EVENT": "tag", "CI_COMMIT_REF": "refs/tags/v4.0.1"},
        "v4.0.1",
        "CI_COMMIT_REF",
        None,
    ),
    # Drone
    "drone tag": (
        {
            "DRONE": "true",
            "CI": "true",
            "DRONE_BUILD_EVENT": "tag",
            "DRONE_TAG": "v5.0.0",
            "DRONE_COMMIT_SHA": CI_SHA,
        },
        "v5.0.0",
        "DRONE_TAG",
        None,
    ),
    "drone branch (the issue's case)": (
        {"DRONE_BRANCH": "main", "DRONE_COMMIT_SHA": CI_SHA},
        DEV,
        "DRONE_COMMIT_SHA",
        "Drone: DRONE_BRANCH=main",
    ),
    "drone push": (
        {"DRONE": "true", "CI": "true", "DRONE_BUILD_EVENT": "push", "DRONE_BRANCH": "main"},
        DEV,
        "commit id",
        "DRONE_BUILD_EVENT=push",
    ),
    "drone tag event without a tag name": (
        {"DRONE": "true", "DRONE_BUILD_EVENT": "tag"},
        DEV,
        "commit id",
        "DRONE_BUILD_EVENT=tag but no tag name",
    ),
    # Jenkins (multibranch pipelines set TAG_NAME / BRANCH_NAME)
    "jenkins tag": (
        {
            "JENKINS_URL": "https://ci.example.org/",
            "TAG_NAME": "v6.0.0",
            "BRANCH_NAME": "v6.0.0",
            "GIT_COMMIT": CI_SHA,
        },
        "v6.0.0",
        "TAG_NAME",
        None,
    ),
    "jenkins branch": (
        {"JENKINS_URL": "https://ci.example.org/", "BRANCH_NAME": "main", "GIT_COMMIT": CI_SHA},
        DEV,
        "GIT_COMMIT",
        "Jenkins: BRANCH_NAME=main",
    ),
    "jenkins freestyle job": (
        {"JENKINS_URL": "https://ci.example.org/", "GIT_COMMIT": CI_SHA},
        DEV,
        "GIT_COMMIT",
        "no CI variable says whether this run is for a tag",
    ),
    # Buildkite (always sets BUILDKITE_TAG, empty on branch builds)
    "buildkite tag": (
        {
            "BUILDKITE": "true",
            "BUILDKITE_TAG": "v7.0.0",
            "BUILDKITE_BRANCH": "v7.0.0",
            "BUILDKITE_COMMIT": CI_SHA,
        },
        "v7.0.0",
        "BUILDKITE_TAG",
        None,
    ),
    "buildkite branch": (
        {
            "BUILDKITE": "true",
            "BUILDKITE_TAG": "",
            "BUILDKITE_BRANCH": "main",
            "BUILDKITE_COMMIT": "HEAD",  # not a commit id: git's HEAD is used
        },
        DEV,
        "commit id",
        "Buildkite: BUILDKITE_BRANCH=main",
    ),
    # Others that follow the same pattern
    "circleci tag": ({"CIRCLECI": "true", "CIRCLE_TAG": "v8.0.0"}, "v8.0.0", "CIRCLE_TAG", None),
    "circleci branch": (
        {"CIRCLECI": "true", "CIRCLE_BRANCH": "main", "CIRCLE_SHA1": CI_SHA},
        DEV,
        "CIRCLE_SHA1",
        "CIRCLE_BRANCH=main",
    ),
    "travis branch": (
        {"TRAVIS": "true", "TRAVIS_TAG": "", "TRAVIS_BRANCH": "main"},
        DEV,
        "commit id",
        "TRAVIS_BRANCH=main",
    ),
    "bitbucket tag": (
        {"BITBUCKET_BUILD_NUMBER": "3", "BITBUCKET_TAG": "v9.0.0"},
        "v9.0.0",
        "BITBUCKET_TAG",
        None,
    ),
    "azure tag": (
        {"TF_BUILD": "True", "BUILD_SOURCEBRANCH": "refs/tags/v9.1.0"},
        "v9.1.0",
        "BUILD_SOURCEBRANCH",
        None,
    ),
    "azure branch": (
        {"TF_BUILD": "True", "BUILD_SOURCEBRANCH": "refs/heads/main"},
        DEV,
        "commit id",
        "BUILD_SOURCEBRANCH=refs/heads/main",
    ),
    "appveyor not a tag": (
        {"APPVEYOR": "True", "APPVEYOR_REPO_TAG": "false", "APPVEYOR_REPO_BRANCH": "main"},
        DEV,
        "commit id",
        "APPVEYOR_REPO_TAG=false",
    ),
    "semaphore tag": (
        {
            "SEMAPHORE": "true",
            "SEMAPHORE_GIT_REF_TYPE": "tag",
            "SEMAPHORE_GIT_TAG_NAME": "v9.2.0",
        },
        "v9.2.0",
        "SEMAPHORE_GIT_TAG_NAME",
        None,
    ),
    # Generic CI: a CI artreg does not know
    "CI=true alone": ({"CI": "true"}, DEV, "commit id", "CI=true, but no CI variable says"),
    "CI=false is not CI": ({"CI": "false"}, "v1.0.0", "git describe", None),
    "no CI": ({}, "v1.0.0", "git describe", None),
    "a tag name alone is not CI": ({"GITHUB_REF_NAME": "main"}, "v1.0.0", "git describe", None),
    # Mixed environments: "not a tag" wins, disagreeing tags are a dev build
    "two CIs disagree on the tag": (
        {"CI_COMMIT_TAG": "v2.0.0", "GITHUB_REF_TYPE": "tag", "GITHUB_REF_NAME": "v3.0.0"},
        DEV,
        "commit id",
        "variables disagree",
    ),
    "one CI says branch": (
        {"CI_COMMIT_TAG": "v2.0.0", "DRONE_BRANCH": "main"},
        DEV,
        "commit id",
        "DRONE_BRANCH=main",
    ),
}


@pytest.mark.parametrize(("env", "tag", "origin", "note"), CASES.values(), ids=CASES.keys())
def test_every_ci(env: dict[str, str], tag: str, origin: str, note: str | None) -> None:
    ref = decide_build_ref(None, env, TAGGED)
    if tag == DEV:
        commit = CI_SHA if origin != "commit id" else HEAD
        assert (ref.tag, ref.commit, ref.origin) == (commit, commit, origin)
    else:
        assert (ref.tag, ref.origin) == (tag, origin)
    if note is None:
        assert ref.note is None
    else:
        assert ref.note is not None and note in ref.note
        assert "\n" not in ref.note


def test_a_branch_run_names_the_tag_it_did_not_publish() -> None:
    ref = decide_build_ref(None, {"DRONE_BRANCH": "main", "DRONE_COMMIT_SHA": HEAD}, TAGGED)
    assert ref.note == (
        f"Drone: DRONE_BRANCH=main: not a tag run; publishing dev build {HEAD} "
        "(HEAD's tag v1.0.0 is published by its own tag pipeline)"
    )


def test_unknown_ci_says_how_to_publish_a_release() -> None:
    ref = decide_build_ref(None, {"CI": "true"}, TAGGED)
    assert ref.note == (
        "CI: CI=true, but no CI variable says whether this run is for a tag; publishing "
        f"dev build {HEAD}. To publish a release, pass `--tag v1.0.0` or run in the CI's "
        "tag pipeline (see docs/ci-variables.md)"
    )


def test_ci_commit_is_recorded_for_a_ci_tag() -> None:
    ref = decide_build_ref(None, {"GITLAB_CI": "true", "CI_COMMIT_TAG": "v2.0.0"}, TAGGED)
    assert ref == BuildRef("v2.0.0", HEAD, "CI_COMMIT_TAG")
    env = {"CI_COMMIT_TAG": "v2.0.0", "CI_COMMIT_SHA": CI_SHA.upper()}
    assert decide_build_ref(None, env, TAGGED).commit == CI_SHA


def test_explicit_tag_wins_over_ci_and_git() -> None:
    env = {"DRONE_BRANCH": "main", "DRONE_COMMIT_SHA": CI_SHA}
    assert decide_build_ref("v9.9.9", env, TAGGED) == BuildRef("v9.9.9", CI_SHA, "--tag")


def test_explicit_commit_id_of_the_build_is_fine() -> None:
    assert decide_build_ref(HEAD, {}, TAGGED) == BuildRef(HEAD, HEAD, "--tag")
    assert decide_build_ref(HEAD.upper(), {}, TAGGED).commit == HEAD


def test_explicit_commit_id_of_another_commit_is_refused() -> None:
    other = "b" * 40
    with pytest.raises(ArtregError) as info:
        decide_build_ref(other, {}, TAGGED)
    assert str(info.value) == (
        f"--tag {other}: a commit id, but this build is of commit {HEAD} (HEAD); a dev build "
        "is named after the commit its files were built from: check out and build "
        f"{other} first, or drop --tag to publish {HEAD}"
    )
    with pytest.raises(ArtregError, match=r"\(GITHUB_SHA\)"):
        decide_build_ref(other, {"GITHUB_SHA": CI_SHA}, TAGGED)


def test_explicit_commit_id_outside_git_is_recorded_as_the_commit() -> None:
    other = "b" * 64
    assert decide_build_ref(other, {}, GitFacts(None)) == BuildRef(other, other, "--tag")


def test_dev_build_without_any_commit_is_an_error() -> None:
    with pytest.raises(ArtregError, match=r"Drone \(DRONE_BRANCH=main\): this run is a dev"):
        decide_build_ref(None, {"DRONE_BRANCH": "main"}, GitFacts(None, where="/w"))


def test_several_tags_on_head_outside_ci_are_refused() -> None:
    with pytest.raises(ArtregError, match="HEAD has 2 tags"):
        decide_build_ref(None, {}, GitFacts(HEAD, ("v1.0.0", "v1.0.0-rc.1")))
    # In a branch pipeline they do not matter: it is a dev build anyway.
    assert decide_build_ref(None, {"CI": "true"}, GitFacts(HEAD, ("a", "b"))).tag == HEAD


def test_every_variable_is_in_the_docs_table() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for system in CI_SYSTEMS:
        assert f"| {system.name} |" in text, system.name
        for name in (*(m for m, _ in system.markers), *system.reads):
            assert re.search(rf"`{name}(=[^`]*)?`", text), (system.name, name)


# -- properties -----------------------------------------------------------------

ALL_VARS = list(VARIABLES)
values = st.one_of(
    st.sampled_from(["", "true", "tag", "v1.0.0", "refs/tags/v1.0.0", "main", CI_SHA]),
    st.text(max_size=12),
)


@st.composite
def branch_runs(draw: st.DrawFn) -> dict[str, str]:
    """Any environment in which one CI's own variables say the run is not for a tag."""
    system = draw(st.sampled_from([s for s in CI_SYSTEMS if s.kind_vars or s.branch_vars]))
    own = set(system.reads)
    noise = draw(st.dictionaries(st.sampled_from([v for v in ALL_VARS if v not in own]), values))
    env = dict(noise)
    signal = draw(
        st.sampled_from(
            [("kind", v) for v in system.kind_vars]
            + [("branch", v) for v in system.branch_vars]
            + [("ref", v) for v in system.ref_vars]
        )
    )
    kind, var = signal
    if kind == "kind":
        env[var] = draw(st.sampled_from(["push", "branch", "pull_request", "cron", "false"]))
    elif kind == "ref":
        env[var] = draw(st.sampled_from(["refs/heads/main", "refs/pull/1/merge"]))
    else:
        env[var] = draw(st.sampled_from(["main", "v1.0.0", "release/1.x"]))
    # Its other variables may be set too, but never to a tag.
    for other in (*system.branch_vars, *system.commit_vars):
        if other != var and draw(st.booleans()):
            env[other] = draw(st.sampled_from(["main", CI_SHA, "HEAD"]))
    return env


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(branch_runs(), st.sampled_from([(), ("v1.0.0",), ("v1.0.0", "v1.0.0-rc.1")]))
def test_a_run_that_says_branch_never_publishes_a_tag(
    env: dict[str, str], head_tags: tuple[str, ...]
) -> None:
    ref = decide_build_ref(None, env, GitFacts(HEAD, head_tags))
    assert ref.tag == ref.commit  # a dev build of its commit
    assert re.fullmatch(r"[0-9a-f]{40}", ref.tag)
    assert ref.note is not None and "dev build" in ref.note


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(ALL_VARS), values))
def test_any_ci_environment_publishes_a_tag_only_when_a_ci_said_so(env: dict[str, str]) -> None:
    verdicts = read_ci(env)
    try:
        ref = decide_build_ref(None, env, TAGGED)
    except ArtregError:
        return  # e.g. a kind var with no tag name and no commit: refused, not guessed
    if ref.origin == "git describe":
        assert not verdicts and env.get("CI", "").strip().lower() in {"", "0", "false", "no", "off"}
    elif ref.tag != ref.commit:
        said = {v.tag for v in verdicts if v.says.name == "TAG"}
        assert said == {ref.tag}


@given(st.dictionaries(st.text(min_size=1, max_size=8), values), st.text(min_size=1))
def test_explicit_tag_always_wins(env: dict[str, str], tag: str) -> None:
    if re.fullmatch(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}", tag):
        return
    assert decide_build_ref(tag, env, TAGGED).tag == tag
