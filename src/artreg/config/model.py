"""The loaded ``artreg.toml``: frozen dataclasses, and the choice of a target."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from artreg.core.retention import RetentionRule
from artreg.core.tags import DEFAULT_DEV_MATCH, DEFAULT_PREFIX, Category, Convention
from artreg.errors import ArtregError

CONFIG_FILENAME = "artreg.toml"


@dataclass(frozen=True)
class Rule:
    """Retention and matching for one category (``[tags.release|extra|dev]``)."""

    keep_forever: bool = False
    keep_last: int | None = None
    expire_after: dt.timedelta | None = None
    protect: tuple[str, ...] = ()
    match: str | None = None
    examples: tuple[str, ...] = ()
    allow_expire: bool = False

    def retention(self) -> RetentionRule:
        """The part of the rule retention reads."""
        return RetentionRule(
            keep_forever=self.keep_forever,
            keep_last=self.keep_last,
            expire_after=self.expire_after,
            protect=self.protect,
            allow_expire=self.allow_expire,
        )


DEFAULT_RULES: dict[Category, Rule] = {
    Category.RELEASE: Rule(keep_forever=True),
    Category.EXTRA: Rule(keep_last=10, expire_after=dt.timedelta(days=180)),
    Category.DEV: Rule(keep_last=30, expire_after=dt.timedelta(days=30), match=DEFAULT_DEV_MATCH),
}


@dataclass(frozen=True)
class TagRules:
    """``[tags]``: the prefix and one rule per category."""

    prefix: str = DEFAULT_PREFIX
    release: Rule = DEFAULT_RULES[Category.RELEASE]
    extra: Rule = DEFAULT_RULES[Category.EXTRA]
    dev: Rule = DEFAULT_RULES[Category.DEV]

    def rule(self, category: Category) -> Rule:
        return {Category.RELEASE: self.release, Category.EXTRA: self.extra, Category.DEV: self.dev}[
            category
        ]

    def convention(self) -> Convention:
        return Convention(
            prefix=self.prefix,
            dev_match=self.dev.match or DEFAULT_DEV_MATCH,
            extra_match=self.extra.match,
        )


@dataclass(frozen=True)
class FileSpec:
    """One file of a files artifact: ``{ platform = "...", path = "..." }``."""

    platform: str
    path: str


@dataclass(frozen=True)
class Artifact:
    """``[[artifacts]]``: files per platform, or an OCI image."""

    name: str
    type: str = "files"  # "files" | "oci"
    files: tuple[FileSpec, ...] = ()
    path: str | None = None  # oci: layout dir, oci-archive or docker-archive
    repository: str | None = None  # oci: pulled as <host>/<repository>:<tag>
    aliases: bool = False  # oci: also tag `latest` and <prefix>MAJOR.MINOR (highest releases)


@dataclass(frozen=True)
class Target:
    """``[targets.NAME]``: where builds are published."""

    name: str
    type: str  # "dir" | "s3"
    path: str | None = None  # dir
    bucket: str | None = None  # s3
    endpoint: str | None = None
    region: str | None = None
    prefix: str = ""
    profile: str | None = None
    tags: TagRules | None = None  # per-target retention overrides, merged over [tags]
    # s3: CA certificates for an https endpoint, relative to the config file's directory
    # (checked when the store is opened, so `lint` works where the file is absent).
    ca_bundle: str | None = None
    ca_bundle_at: str | None = None  # where it is set: "artreg.toml:12: targets.ci.ca_bundle"
    default: bool = False  # used when no --target / ARTREG_TARGET chooses (at most one)


DEFAULT_TARGET = Target(name="local", type="dir", path="public")


@dataclass(frozen=True)
class IndexSettings:
    """``[index]``: how the static index is laid out."""

    page_size: int = 1000  # entries per page, like OCI's ``n``
    newest: int = 10  # newest entries per category repeated in the root index.json


@dataclass(frozen=True)
class GcSettings:
    """``[gc]``: the brakes on garbage collection."""

    grace_period: dt.timedelta = dt.timedelta(hours=24)
    max_delete_fraction: float = 0.5  # of a category, per run, unless --allow-mass-delete


@dataclass(frozen=True)
class SiteSettings:
    """The download site's extras: ``[project] repository``/``site_url``, ``[signing]``,
    ``[latest]``. The signing key itself never lives in artreg.toml."""

    repository: str | None = None  # https://forge/owner/name: commit and tag links
    site_url: str | None = None  # https://host/prefix/ the target is served at
    key_env: str | None = None  # [signing] environment variable holding the private key
    key_file: str | None = None  # [signing] private key file (relative to artreg.toml)
    latest_extras: str | None = None  # [latest] extras: directory of the highest extra build

    @property
    def signing(self) -> bool:
        return self.key_env is not None or self.key_file is not None


@dataclass(frozen=True)
class Config:
    """A loaded, validated ``artreg.toml``."""

    project: str
    tags: TagRules = field(default_factory=TagRules)
    artifacts: tuple[Artifact, ...] = ()
    targets: tuple[Target, ...] = (DEFAULT_TARGET,)
    index: IndexSettings = field(default_factory=IndexSettings)
    gc: GcSettings = field(default_factory=GcSettings)
    path: Path | None = None
    warnings: tuple[str, ...] = ()
    site: SiteSettings = field(default_factory=SiteSettings)

    def convention(self) -> Convention:
        return self.tags.convention()

    def rules_for(self, target: Target) -> TagRules:
        """The retention rules for ``target``: its overrides merged over ``[tags]``."""
        return target.tags if target.tags is not None else self.tags


def resolve_target(config: Config, name: str | None) -> Target:
    """The target named ``name``, else the only one, else the one marked ``default = true``.

    With several targets and none chosen, refuse: a pipeline must never guess
    where it publishes (or deletes).
    """
    names = ", ".join(target.name for target in config.targets)
    where = config.path if config.path is not None else CONFIG_FILENAME
    if name is not None:
        for target in config.targets:
            if target.name == name:
                return target
        raise ArtregError(
            f"unknown target {name!r} (from --target or ARTREG_TARGET); {where} declares: {names}"
        )
    if len(config.targets) == 1:
        return config.targets[0]
    for target in config.targets:
        if target.default:
            return target
    raise ArtregError(
        f"several targets are declared ({names}) and none is chosen; choose one with "
        f"--target NAME or the ARTREG_TARGET environment variable, or mark one with "
        f"default = true in {where}"
    )
