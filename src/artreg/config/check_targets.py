"""``[targets.NAME]``: where builds go, at most one default, and each target's overrides."""

from __future__ import annotations

import urllib.parse
from dataclasses import replace

from artreg.config import keys
from artreg.config.check_tags import TagChecks
from artreg.config.model import DEFAULT_TARGET, TagRules, Target
from artreg.config.values import (
    CREDENTIALS_FIX,
    ENDPOINT_HOST,
    TARGET_NAME,
    KeyPath,
    format_key_path,
)
from artreg.config.workspace import dir_target_problem

_TARGET = keys.TARGET.key


class TargetChecks(TagChecks):
    """Each target (its retention overrides are tag rules, hence the base class)."""

    def targets(self, data: dict[str, object], tags: TagRules) -> tuple[Target, ...]:
        if "targets" not in data:
            return (DEFAULT_TARGET,)
        raw = data["targets"]
        if not isinstance(raw, dict):
            self.expected(("targets",), keys.DOCUMENT.key("targets").expected, raw)
            return (DEFAULT_TARGET,)
        if not raw:
            self.problem(
                ("targets",),
                "no target declared; add a [targets.NAME] table, or remove [targets] to "
                "publish to the default directory 'public'",
            )
            return (DEFAULT_TARGET,)
        targets: list[Target] = []
        defaults: list[str] = []
        for name, item in raw.items():
            path: KeyPath = ("targets", name)
            if not TARGET_NAME.fullmatch(name):
                self.problem(
                    path,
                    f"expected a target name of letters, digits, '_' and '-', got {name!r}",
                )
            if not isinstance(item, dict):
                self.expected(path, f"a table ([{format_key_path(path)}])", item)
                continue
            target = self.target(item, path, name, tags)
            is_default = self.boolean(item, _TARGET("default"), path)
            if is_default and defaults:
                self.problem(
                    (*path, "default"),
                    f"only one target may be the default, and targets.{defaults[0]} already "
                    "is; keep default = true on one of them",
                )
            if is_default:
                defaults.append(name)
            if target is not None:
                targets.append(replace(target, default=bool(is_default)))
        return tuple(targets)

    def target(
        self, item: dict[str, object], path: KeyPath, name: str, tags: TagRules
    ) -> Target | None:
        kind = item.get("type")
        self.check_variant_keys(item, path, keys.TARGET)
        if kind is None:
            self.problem((*path, "type"), "missing; expected type = 'dir' or type = 's3'", at=path)
        elif kind not in ("dir", "s3"):
            self.expected((*path, "type"), _TARGET("type").expected, kind)
        prefix = self.string(item, _TARGET("prefix"), path) or ""
        overrides = self.target_tags(item, path, tags)
        if kind == "dir":
            directory = self.string(item, _TARGET("path"), path)
            if directory and self.base is not None:
                problem = dir_target_problem(self.base, directory)
                if problem is not None:
                    self.problem((*path, "path"), problem)
            return Target(name, "dir", path=directory, prefix=prefix, tags=overrides)
        if kind == "s3":
            bucket = self.string(item, _TARGET("bucket"), path)
            endpoint = self.endpoint(item, path)
            region = self.string(item, _TARGET("region"), path)
            profile = self.string(item, _TARGET("profile"), path)
            ca_bundle = self.string(item, _TARGET("ca_bundle"), path)
            return Target(
                name,
                "s3",
                bucket=bucket,
                endpoint=endpoint,
                region=region,
                prefix=prefix,
                profile=profile,
                tags=overrides,
                ca_bundle=ca_bundle,
                ca_bundle_at=self.where((*path, "ca_bundle"))[1] if ca_bundle else None,
            )
        return None

    def endpoint(self, item: dict[str, object], path: KeyPath) -> str | None:
        """An http(s) URL with a host, an optional port and path, nothing else."""
        spec = _TARGET("endpoint")
        expected = spec.expected
        endpoint = self.string(item, spec, path)
        if endpoint is None:
            return None
        key = (*path, "endpoint")
        try:
            parts = urllib.parse.urlsplit(endpoint)
        except ValueError:
            self.expected(key, expected, endpoint)
            return None
        if "@" in parts.netloc:
            self.problem(key, f"contains user:password@; {CREDENTIALS_FIX}")
            return None
        if parts.scheme not in ("http", "https") or not ENDPOINT_HOST.fullmatch(
            parts.netloc.rsplit(":", 1)[0] if not parts.netloc.endswith("]") else parts.netloc
        ):
            self.expected(key, f"{expected} (scheme, then a host name or IP address)", endpoint)
            return None
        try:
            port = parts.port
        except ValueError:
            port = 0
        if port == 0 or parts.netloc.endswith(":"):
            self.expected(key, "a port from 1 to 65535 after the host", endpoint)
            return None
        if "?" in endpoint or "#" in endpoint:
            self.problem(
                key,
                f"expected no query string or fragment ('?...', '#...'), got {endpoint!r}; "
                "the endpoint is the server's base URL, like 'https://s3.example.org:9000'",
            )
            return None
        if any(c.isspace() or not c.isprintable() for c in endpoint):
            self.expected(key, f"{expected} without spaces or control characters", endpoint)
            return None
        return endpoint
