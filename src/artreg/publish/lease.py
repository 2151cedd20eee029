"""A lease object that serialises index updates on stores with conditional writes.

Taken with ``If-None-Match: *``; expires after its TTL and is then taken over
with ``If-Match`` on the expired lease's etag, so a crashed run never blocks
publishing for longer than the TTL. Stores without conditional writes (Garage,
s3rver) do not use it: they converge instead (see ``docs/spec.md``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType

from artreg.core.jsondoc import Fields, load
from artreg.core.manifest import ARTREG_DIR, format_time
from artreg.errors import ArtregError, InvalidLease, LeaseTimeout, NotFound, PreconditionFailed
from artreg.stores.base import PutRequest, Store

LEASE_KEY = f"{ARTREG_DIR}/lease.json"
DEFAULT_TTL = dt.timedelta(minutes=5)
DEFAULT_WAIT = dt.timedelta(minutes=10)
TTL_ENV = "ARTREG_LEASE_TTL"  # seconds; overrides DEFAULT_TTL (tests, slow links)


@dataclass(frozen=True)
class LeaseRecord:
    holder: str
    token: str
    acquired: dt.datetime
    expires: dt.datetime


MAX_LEASE_BYTES = 64 * 1024


def parse_lease(body: bytes) -> LeaseRecord:
    """Read a lease object; :class:`InvalidLease` for anything malformed."""

    def fail(detail: str) -> InvalidLease:
        return InvalidLease(f"{LEASE_KEY}: not a valid artreg lease: {detail}")

    fields = Fields(load(body, fail, max_bytes=MAX_LEASE_BYTES), fail)
    holder = fields.string("holder", max_length=1024)
    if not holder.isprintable():
        raise fields.bad("holder", "printable text", holder)
    return LeaseRecord(
        holder=holder,
        token=fields.string("token", max_length=256),
        acquired=fields.time("acquired"),
        expires=fields.time("expires"),
    )


def _parse(body: bytes) -> LeaseRecord | None:
    """The lease record, or None when unreadable (an unreadable lease is taken over)."""
    try:
        return parse_lease(body)
    except InvalidLease:
        return None


def ttl_from_env(environ: Mapping[str, str] | None = None) -> dt.timedelta:
    """The lease TTL: ``ARTREG_LEASE_TTL`` seconds when set, else five minutes."""
    text = (os.environ if environ is None else environ).get(TTL_ENV, "").strip()
    if not text:
        return DEFAULT_TTL
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds > 0 or seconds == float("inf"):
        raise ArtregError(f"{TTL_ENV}={text!r}: expected a positive number of seconds, like 300")
    return dt.timedelta(seconds=seconds)


def default_holder(what: str) -> str:
    return f"{what} (pid {os.getpid()} on {socket.gethostname()})"


class Lease:
    """Context manager: hold the target's lease while the index is rewritten."""

    def __init__(
        self,
        store: Store,
        holder: str,
        *,
        ttl: dt.timedelta | None = None,
        wait: dt.timedelta = DEFAULT_WAIT,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.holder = holder
        self.ttl = ttl_from_env() if ttl is None else ttl
        self.wait = wait
        self.clock = clock
        self.sleep = sleep
        self.token = secrets.token_hex(8)
        self.takeovers = 0
        self.waited = 0.0

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.timezone.utc)

    def _body(self) -> bytes:
        now = self._now()
        record = {
            "holder": self.holder,
            "token": self.token,
            "acquired": format_time(now),
            "expires": format_time(now + self.ttl),
        }
        return (json.dumps(record, sort_keys=True) + "\n").encode()

    def _request(self) -> PutRequest:
        return PutRequest(
            key=LEASE_KEY,
            body=self._body(),
            content_type="application/json",
            cache_control="no-cache",
        )

    def acquire(self) -> None:
        start = self.clock()
        delay = 0.05
        while True:
            try:
                self.store.put(self._request(), if_none_match=True)
                return
            except PreconditionFailed:
                pass
            current = self._current()
            if current is not None:
                record, etag = current
                if record is None or record.expires <= self._now():
                    try:
                        self.store.put(self._request(), if_match=etag)
                        self.takeovers += 1
                        return
                    except (PreconditionFailed, NotFound):
                        pass  # someone else took it over or released it first
                    if self.clock() - start > self.wait.total_seconds():
                        # Bounded too: a server refusing every If-Match would loop forever.
                        raise LeaseTimeout(
                            f"{self.store.description}: {LEASE_KEY} "
                            + (
                                f"expired at {format_time(record.expires)}"
                                if record
                                else "is unreadable"
                            )
                            + f", but taking it over (If-Match on its ETag) kept failing for "
                            f"{self.clock() - start:.0f} s: the server refuses conditional "
                            f"writes it claimed to honour. If no run is publishing, delete "
                            f"{LEASE_KEY} and re-run"
                        )
                elif self.clock() - start > self.wait.total_seconds():
                    raise LeaseTimeout(
                        f"{self.store.description}: {LEASE_KEY} is held by {record.holder} "
                        f"since {format_time(record.acquired)}; waited "
                        f"{self.clock() - start:.0f} s. If that run is still going, retry "
                        f"later; if it died, its lease expires at {format_time(record.expires)}"
                    )
            self.sleep(delay)
            self.waited += delay
            delay = min(delay * 1.5, 1.0)

    def _current(self) -> tuple[LeaseRecord | None, str] | None:
        info = self.store.head(LEASE_KEY)
        if info is None:
            return None
        try:
            body = self.store.get(LEASE_KEY)
        except NotFound:
            return None
        return _parse(body), info.etag

    def release(self) -> None:
        """Delete the lease if it is still ours (a slow run may have lost it)."""
        current = self._current()
        if current is not None and current[0] is not None and current[0].token == self.token:
            self.store.delete([LEASE_KEY])

    def __enter__(self) -> Lease:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
