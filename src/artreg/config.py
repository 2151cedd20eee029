"""``artreg.toml`` -> frozen dataclasses, every problem collected before failing.

No I/O beyond reading the one file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from artreg.core.tags import DEFAULT_DEV_MATCH, DEFAULT_PREFIX, Category, Convention

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

    def convention(self) -> Convention:
        return self.tags.convention()
