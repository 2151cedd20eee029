"""Where builds are stored: the :class:`Store` protocol and its two implementations.

``open_store`` builds one from a ``[targets.NAME]`` table. The s3 store (and so
boto3) is imported only when an s3 target is opened: ``artreg lint`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

from artreg.config import Target
from artreg.errors import ConfigError, ContentChanged, NotFound, PreconditionFailed, StoreError
from artreg.stores.base import FileSlice, ObjectInfo, PutRequest, Store

__all__ = [
    "ContentChanged",
    "FileSlice",
    "NotFound",
    "ObjectInfo",
    "PreconditionFailed",
    "PutRequest",
    "Store",
    "StoreError",
    "open_store",
]


def open_store(target: Target, base_dir: Path) -> Store:
    """The store for ``target``; a dir target's path is relative to ``base_dir``."""
    if target.type == "dir":
        from artreg.config.workspace import dir_target_problem
        from artreg.stores.dir import DirStore

        if not target.path:
            raise StoreError(
                f'targets.{target.name}: a dir target needs a path, e.g. path = "public"'
            )
        problem = dir_target_problem(base_dir, target.path)
        if problem is not None:
            raise StoreError(f"targets.{target.name}.path: {problem}")
        return DirStore(base_dir / target.path)
    if target.type == "s3":
        if not target.bucket:
            raise StoreError(
                f'targets.{target.name}: an s3 target needs a bucket, e.g. bucket = "my-bucket"'
            )
        from artreg.stores.s3 import S3Store

        return S3Store(
            target.bucket,
            prefix=target.prefix,
            endpoint=target.endpoint,
            region=target.region,
            profile=target.profile,
            ca_bundle=_ca_bundle(target, base_dir),
        )
    raise StoreError(f'targets.{target.name}: unknown type {target.type!r}; expected "dir" or "s3"')


def _ca_bundle(target: Target, base_dir: Path) -> str | None:
    """The target's ``ca_bundle``, relative to ``base_dir``; a missing file is a config error."""
    if target.ca_bundle is None:
        return None
    path = base_dir / target.ca_bundle
    if not path.is_file():
        where = target.ca_bundle_at or f"targets.{target.name}.ca_bundle"
        found = "a directory" if path.is_dir() else "no such file"
        raise ConfigError(
            [
                f"{where}: {found}: {path}; expected a PEM file of the CA certificates that "
                "signed the endpoint's certificate (a relative path starts from the "
                "directory of artreg.toml)"
            ]
        )
    return str(path)
