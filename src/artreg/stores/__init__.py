"""Where builds are stored: the :class:`Store` protocol and its two implementations.

``open_store`` builds one from a ``[targets.NAME]`` table. The s3 store (and so
boto3) is imported only when an s3 target is opened: ``artreg lint`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

from artreg.config import Target
from artreg.stores.base import (
    ContentChanged,
    FileSlice,
    NotFound,
    ObjectInfo,
    PreconditionFailed,
    PutRequest,
    Store,
    StoreError,
)

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
        from artreg.stores.dir import DirStore

        if not target.path:
            raise StoreError(
                f'targets.{target.name}: a dir target needs a path, e.g. path = "public"'
            )
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
        )
    raise StoreError(f'targets.{target.name}: unknown type {target.type!r}; expected "dir" or "s3"')
