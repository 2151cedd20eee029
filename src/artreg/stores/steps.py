"""The shared vocabulary of a write: steps, content types and cache policies.

A leaf: the engine (:mod:`artreg.publish`), :mod:`artreg.oci` and
:mod:`artreg.render` use these names, and this module imports only
:mod:`artreg.core.plan` and :mod:`artreg.stores.base`, so none of them has
to import another to share them.
"""

from __future__ import annotations

from dataclasses import dataclass

from artreg.core.plan import Action
from artreg.stores.base import PutRequest

# Content types.
JSON_TYPE = "application/json"
HTML_TYPE = "text/html; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"
ATOM_TYPE = "application/atom+xml"
OCTET_TYPE = "application/octet-stream"

# Cache policies (Cache-Control), by how an object may change.
MUTABLE_CACHE = "no-cache"  # rewritten in place: index documents, tags, latest/, the site
IMMUTABLE_CACHE = "public, max-age=31536000, immutable"  # never rewritten: releases, blobs
OTHER_CACHE = "public, max-age=3600"  # extra and dev builds: replaced now and then


@dataclass(frozen=True)
class Step:
    """An action with what it needs to be carried out (a delete needs no request)."""

    action: Action
    request: PutRequest | None = None
