"""Which build a run publishes: CI variables and git facts -> tag, commit and why.

Pure: the environment and what git said about HEAD come in, a :class:`BuildRef`
comes out (or an ArtregError). The rule, in order:

1. ``--tag`` names the build. A full commit id that is not the build's commit
   is refused: the files on disk were built from that commit, not another.
2. In CI, the CI decides. A run the CI says is for a tag publishes that tag; a
   run it says is for a branch, a pull request or anything else publishes a
   dev build of its commit, even when HEAD carries a tag (the tag's own
   pipeline publishes the release). When CI is detected but no variable says
   tag or branch, the run is a dev build too: releasing is never guessed.
3. Outside CI, the one tag on HEAD (``git describe``), else HEAD's commit id.

Every CI-decided dev build carries a one-line note naming the CI and the
variable that decided, for stderr. docs/ci-variables.md lists :data:`CI_SYSTEMS`.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass

from artreg.errors import ArtregError

_COMMIT_ID = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")
_TAG_REF = "refs/tags/"
# Values of the generic ``CI`` variable that mean "not in CI".
_NOT_CI = frozenset({"", "0", "false", "no", "off"})


@dataclass(frozen=True)
class BuildRef:
    """The tag to publish under, the commit it was built from, and where the tag came from."""

    tag: str
    commit: str | None
    origin: str  # "--tag", "CI_COMMIT_TAG", "GITHUB_REF_NAME", "git describe", "commit id", ...
    note: str | None = None  # one line for stderr: why a CI run publishes a dev build

    def describe(self) -> str:
        """``v1.2.3 (from CI_COMMIT_TAG)``, for messages."""
        return f"{self.tag} (from {self.origin})"


@dataclass(frozen=True)
class GitFacts:
    """What git says about the checkout: HEAD's commit and the tags on it."""

    head: str | None
    head_tags: tuple[str, ...] = ()
    problem: str = "not a git checkout"  # why head is None, for messages
    where: str = "."  # the checkout, for messages


@dataclass(frozen=True)
class CiSystem:
    """Where one CI keeps what a run is for. Variables are read in the order listed."""

    name: str
    markers: tuple[tuple[str, str | None], ...]  # (variable, value or None: any) in every run
    tag_vars: tuple[str, ...] = ()  # non-empty: the run is for this tag
    kind_vars: tuple[str, ...] = ()  # the event or ref type: tag_kinds say tag, others not
    tag_kinds: frozenset[str] = frozenset({"tag"})
    name_vars: tuple[str, ...] = ()  # the tag's name when a kind var says tag
    ref_vars: tuple[str, ...] = ()  # a full ref: refs/tags/X is tag X, anything else is not
    branch_vars: tuple[str, ...] = ()  # non-empty (and no tag): a branch or pull request run
    commit_vars: tuple[str, ...] = ()
    always_says: bool = True  # a tag run always sets tag_vars/kind_vars/ref_vars
    own_vars: tuple[str, ...] | None = None  # detected by these only (not by shared names)

    @property
    def reads(self) -> tuple[str, ...]:
        """Every variable read for this CI (markers excepted)."""
        return (
            *self.tag_vars,
            *self.kind_vars,
            *self.name_vars,
            *self.ref_vars,
            *self.branch_vars,
            *self.commit_vars,
        )

    @property
    def detected_by(self) -> tuple[str, ...]:
        """Variables that reveal this CI without its marker (a tag name alone does not)."""
        if self.own_vars is not None:
            return self.own_vars
        return tuple(v for v in self.reads if v not in self.name_vars)


# Order matters only for naming and for the commit: CIs whose marker is set come
# first, then this order. Woodpecker and GitLab share CI_COMMIT_* (Woodpecker's
# marker is CI=woodpecker); Forgejo and Gitea set GitHub's names too (and
# GITHUB_ACTIONS), so GITHUB_* alone reveal GitHub Actions.
CI_SYSTEMS: tuple[CiSystem, ...] = (
    CiSystem(
        "Forgejo Actions",
        markers=(("FORGEJO_ACTIONS", None),),
        kind_vars=("FORGEJO_REF_TYPE", "GITHUB_REF_TYPE"),
        name_vars=("FORGEJO_REF_NAME", "GITHUB_REF_NAME"),
        ref_vars=("FORGEJO_REF", "GITHUB_REF"),
        branch_vars=("FORGEJO_HEAD_REF", "GITHUB_HEAD_REF"),
        commit_vars=("FORGEJO_SHA", "GITHUB_SHA"),
        own_vars=("FORGEJO_REF_TYPE", "FORGEJO_REF", "FORGEJO_HEAD_REF", "FORGEJO_SHA"),
    ),
    CiSystem(
        "Gitea Actions",
        markers=(("GITEA_ACTIONS", None),),
        kind_vars=("GITEA_REF_TYPE", "GITHUB_REF_TYPE"),
        name_vars=("GITEA_REF_NAME", "GITHUB_REF_NAME"),
        ref_vars=("GITEA_REF", "GITHUB_REF"),
        branch_vars=("GITEA_HEAD_REF", "GITHUB_HEAD_REF"),
        commit_vars=("GITEA_SHA", "GITHUB_SHA"),
        own_vars=("GITEA_REF_TYPE", "GITEA_REF", "GITEA_HEAD_REF", "GITEA_SHA"),
    ),
    CiSystem(
        "GitHub Actions",
        markers=(("GITHUB_ACTIONS", None),),
        kind_vars=("GITHUB_REF_TYPE",),
        name_vars=("GITHUB_REF_NAME",),
        ref_vars=("GITHUB_REF",),
        branch_vars=("GITHUB_HEAD_REF",),
        commit_vars=("GITHUB_SHA",),
    ),
    CiSystem(
        "GitLab CI",
        markers=(("GITLAB_CI", None),),
        tag_vars=("CI_COMMIT_TAG",),
        branch_vars=("CI_COMMIT_BRANCH", "CI_MERGE_REQUEST_IID"),
        commit_vars=("CI_COMMIT_SHA",),
    ),
    CiSystem(
        "Woodpecker",
        markers=(("CI", "woodpecker"), ("CI_SYSTEM_NAME", "woodpecker")),
        tag_vars=("CI_COMMIT_TAG",),
        kind_vars=("CI_PIPELINE_EVENT",),
        tag_kinds=frozenset({"tag", "release"}),  # a forge release is made from a tag
        ref_vars=("CI_COMMIT_REF",),
        branch_vars=("CI_COMMIT_BRANCH",),
        commit_vars=("CI_COMMIT_SHA",),
    ),
    CiSystem(
        "Drone",
        markers=(("DRONE", None), ("CI", "drone")),
        tag_vars=("DRONE_TAG",),
        kind_vars=("DRONE_BUILD_EVENT",),
        ref_vars=("DRONE_COMMIT_REF",),
        branch_vars=("DRONE_BRANCH", "DRONE_PULL_REQUEST"),
        commit_vars=("DRONE_COMMIT_SHA", "DRONE_COMMIT"),
    ),
    CiSystem(
        "Jenkins",
        markers=(("JENKINS_URL", None), ("JENKINS_HOME", None)),
        tag_vars=("TAG_NAME",),
        branch_vars=("BRANCH_NAME", "CHANGE_ID"),
        commit_vars=("GIT_COMMIT",),
        always_says=False,  # a freestyle job sets neither TAG_NAME nor BRANCH_NAME
    ),
    CiSystem(
        "Buildkite",
        markers=(("BUILDKITE", None),),
        tag_vars=("BUILDKITE_TAG",),
        branch_vars=("BUILDKITE_BRANCH",),
        commit_vars=("BUILDKITE_COMMIT",),
    ),
    CiSystem(
        "CircleCI",
        markers=(("CIRCLECI", None),),
        tag_vars=("CIRCLE_TAG",),
        branch_vars=("CIRCLE_BRANCH",),
        commit_vars=("CIRCLE_SHA1",),
    ),
    CiSystem(
        "Travis CI",
        markers=(("TRAVIS", None),),
        tag_vars=("TRAVIS_TAG",),
        branch_vars=("TRAVIS_BRANCH",),
        commit_vars=("TRAVIS_COMMIT",),
    ),
    CiSystem(
        "Bitbucket Pipelines",
        markers=(("BITBUCKET_BUILD_NUMBER", None),),
        tag_vars=("BITBUCKET_TAG",),
        branch_vars=("BITBUCKET_BRANCH", "BITBUCKET_PR_ID"),
        commit_vars=("BITBUCKET_COMMIT",),
    ),
    CiSystem(
        "Azure Pipelines",
        markers=(("TF_BUILD", None),),
        ref_vars=("BUILD_SOURCEBRANCH",),
        commit_vars=("BUILD_SOURCEVERSION",),
    ),
    CiSystem(
        "AppVeyor",
        markers=(("APPVEYOR", None),),
        tag_vars=("APPVEYOR_REPO_TAG_NAME",),
        kind_vars=("APPVEYOR_REPO_TAG",),
        tag_kinds=frozenset({"true"}),
        branch_vars=("APPVEYOR_REPO_BRANCH",),
        commit_vars=("APPVEYOR_REPO_COMMIT",),
    ),
    CiSystem(
        "Semaphore",
        markers=(("SEMAPHORE", None),),
        tag_vars=("SEMAPHORE_GIT_TAG_NAME",),
        kind_vars=("SEMAPHORE_GIT_REF_TYPE",),
        branch_vars=("SEMAPHORE_GIT_BRANCH",),
        commit_vars=("SEMAPHORE_GIT_SHA",),
    ),
)


# Every variable read here (tests clear them all to get a run outside CI).
VARIABLES: tuple[str, ...] = tuple(
    sorted(
        {"CI"}
        | {
            name
            for system in CI_SYSTEMS
            for name in (*(m for m, _ in system.markers), *system.reads)
        }
    )
)


class Says(enum.Enum):
    """What a CI's variables say about the run."""

    TAG = "tag"
    NOT_TAG = "not a tag"
    NOTHING = "nothing"


@dataclass(frozen=True)
class CiVerdict:
    """One CI's reading of the environment."""

    ci: str
    says: Says
    evidence: str  # "DRONE_BUILD_EVENT=push", for messages
    tag: str | None = None
    tag_var: str | None = None
    commit: tuple[str, str] | None = None  # (commit id, variable)


def read_ci(env: Mapping[str, str]) -> list[CiVerdict]:
    """The verdict of every CI detected in ``env``: CIs whose marker is set first."""
    marked: list[CiVerdict] = []
    unmarked: list[CiVerdict] = []
    for system in CI_SYSTEMS:
        marker = next((m for m in system.markers if _marked(env, *m)), None)
        if marker is not None or any(_get(env, v) for v in system.detected_by):
            verdict = _verdict(system, env, marker)
            (marked if marker is not None else unmarked).append(verdict)
    return [*marked, *unmarked]


def _marked(env: Mapping[str, str], name: str, value: str | None) -> bool:
    found = _get(env, name)
    return bool(found) and (value is None or found.lower() == value)


def _verdict(
    system: CiSystem, env: Mapping[str, str], marker: tuple[str, str | None] | None
) -> CiVerdict:
    commit = next(
        ((_get(env, v).lower(), v) for v in system.commit_vars if is_commit_id(_get(env, v))),
        None,
    )

    def verdict(
        says: Says, evidence: str, tag: str | None = None, var: str | None = None
    ) -> CiVerdict:
        return CiVerdict(system.name, says, evidence, tag, var, commit)

    # An explicit event or ref type outranks a tag variable: it says what the run is.
    for kind_var in system.kind_vars:
        kind = _get(env, kind_var)
        if not kind:
            continue
        if kind.lower() not in system.tag_kinds:
            return verdict(Says.NOT_TAG, f"{kind_var}={kind}")
        for var in (*system.tag_vars, *system.name_vars):
            if _get(env, var):
                return verdict(Says.TAG, f"{kind_var}={kind}", _get(env, var), var)
        for var in system.ref_vars:
            ref = _get(env, var)
            if ref.startswith(_TAG_REF) and len(ref) > len(_TAG_REF):
                return verdict(Says.TAG, f"{kind_var}={kind}", ref[len(_TAG_REF) :], var)
        names = " or ".join((*system.tag_vars, *system.name_vars, *system.ref_vars))
        return verdict(Says.NOTHING, f"{kind_var}={kind} but no tag name in {names}")
    for var in system.tag_vars:
        if tag := _get(env, var):
            return verdict(Says.TAG, f"{var}={tag}", tag, var)
    for var in system.ref_vars:
        ref = _get(env, var)
        if ref.startswith(_TAG_REF) and len(ref) > len(_TAG_REF):
            tag = ref[len(_TAG_REF) :]
            # Name the variable users know (GITHUB_REF_NAME) when it agrees.
            origin = next((n for n in system.name_vars if _get(env, n) == tag), var)
            return verdict(Says.TAG, f"{var}={ref}", tag, origin)
        if ref:
            return verdict(Says.NOT_TAG, f"{var}={ref}")
    for var in system.branch_vars:
        if branch := _get(env, var):
            return verdict(Says.NOT_TAG, f"{var}={branch}")
    if marker is not None and system.always_says:
        said = " or ".join((*system.tag_vars, *system.kind_vars, *system.ref_vars))
        return verdict(Says.NOT_TAG, f"{marker[0]}={_get(env, marker[0])} and no {said}")
    seen = marker[0] if marker is not None else next(v for v in system.detected_by if _get(env, v))
    return verdict(Says.NOTHING, f"{seen}={_get(env, seen)}")


def _get(env: Mapping[str, str], name: str) -> str:
    return env.get(name, "").strip()


def is_commit_id(text: str) -> bool:
    """A full commit id: 40 (SHA-1) or 64 (SHA-256) hex digits."""
    return _COMMIT_ID.fullmatch(text) is not None


def decide_build_ref(explicit_tag: str | None, env: Mapping[str, str], git: GitFacts) -> BuildRef:
    """Which build this run publishes, from ``--tag``, the CI's variables and git."""
    verdicts = read_ci(env)
    ci_commit = next((v.commit for v in verdicts if v.commit is not None), None)
    if explicit_tag is not None:
        return _explicit(explicit_tag, ci_commit, git)
    if not verdicts and _get(env, "CI").lower() not in _NOT_CI:
        verdicts = [CiVerdict("CI", Says.NOTHING, f"CI={env['CI'].strip()}")]
    if not verdicts:
        return _from_git(git)
    decided = _combine(verdicts)
    commit = decided.commit or ci_commit
    if decided.says is Says.TAG:
        assert decided.tag is not None and decided.tag_var is not None
        return BuildRef(decided.tag, commit[0] if commit else git.head, decided.tag_var)
    commit_id, origin = commit if commit is not None else (git.head, "commit id")
    if commit_id is None:
        raise ArtregError(
            f"{decided.ci} ({decided.evidence}): this run is a dev build, named after its "
            f"commit, but no CI commit variable is set and {git.where}: {git.problem}; "
            "run from the git checkout, or pass the build's tag with `artreg apply --tag TAG`"
        )
    return BuildRef(commit_id, commit_id, origin, _dev_note(decided, commit_id, git))


def _combine(verdicts: list[CiVerdict]) -> CiVerdict:
    """One verdict from several CIs' (usually one): any "not a tag" wins, tags must agree."""
    not_tag = next((v for v in verdicts if v.says is Says.NOT_TAG), None)
    if not_tag is not None:
        return not_tag
    tagged = [v for v in verdicts if v.says is Says.TAG]
    if len({v.tag for v in tagged}) > 1:
        which = ", ".join(f"{v.tag_var}={v.tag}" for v in tagged)
        return CiVerdict("CI", Says.NOTHING, f"variables disagree ({which})", commit=None)
    return tagged[0] if tagged else verdicts[0]


def _dev_note(decided: CiVerdict, commit: str, git: GitFacts) -> str:
    head_tag = git.head_tags[0] if git.head_tags and git.head == commit else None
    if decided.says is Says.NOT_TAG:
        note = f"{decided.ci}: {decided.evidence}: not a tag run; publishing dev build {commit}"
        if head_tag is not None:
            note += f" (HEAD's tag {head_tag} is published by its own tag pipeline)"
        return note
    example = head_tag or "TAG"
    return (
        f"{decided.ci}: {decided.evidence}, but no CI variable says whether this run is "
        f"for a tag; publishing dev build {commit}. To publish a release, pass "
        f"`--tag {example}` or run in the CI's tag pipeline (see docs/ci-variables.md)"
    )


def _explicit(tag: str, ci_commit: tuple[str, str] | None, git: GitFacts) -> BuildRef:
    commit, where = ci_commit if ci_commit is not None else (git.head, "HEAD")
    if is_commit_id(tag):
        if commit is not None and tag.lower() != commit:
            raise ArtregError(
                f"--tag {tag}: a commit id, but this build is of commit {commit} ({where}); "
                "a dev build is named after the commit its files were built from: check out "
                f"and build {tag} first, or drop --tag to publish {commit}"
            )
        return BuildRef(tag, tag.lower(), "--tag")
    return BuildRef(tag, commit, "--tag")


def _from_git(git: GitFacts) -> BuildRef:
    if git.head is None:
        raise ArtregError(
            f"{git.where}: cannot tell which build this is: {git.problem}; pass the tag "
            "explicitly (`artreg apply --tag v1.2.3`), or run from a git checkout or a CI "
            "tag pipeline (see docs/ci-variables.md)"
        )
    if len(git.head_tags) > 1:
        tags = sorted(git.head_tags)
        raise ArtregError(
            f"{git.where}: HEAD has {len(tags)} tags ({', '.join(tags)}); "
            "say which one this build is with `artreg apply --tag TAG`"
        )
    if git.head_tags:
        return BuildRef(git.head_tags[0], git.head, "git describe")
    return BuildRef(git.head, git.head, "commit id")
