"""artreg: publish build artifacts and OCI images to a static S3 bucket, and keep it tidy."""

from __future__ import annotations

__version__ = "0.1.0"
