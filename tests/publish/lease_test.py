"""The index lease on a real dir store, with a fake clock: nothing here waits for real."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from pathlib import Path

import pytest
from fuzzing import fuzz
from hostile import mutated, raw_bytes
from hypothesis import given

from artreg.errors import ArtregError, InvalidLease, LeaseTimeout, PreconditionFailed
from artreg.publish.lease import DEFAULT_TTL, LEASE_KEY, TTL_ENV, Lease, parse_lease, ttl_from_env
from artreg.stores import PutRequest
from artreg.stores.dir import DirStore

START = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.timezone.utc).timestamp()


class FakeClock:
    """time.time and time.sleep for the lease: sleeping advances the clock."""

    def __init__(self) -> None:
        self.now = START
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def store(tmp_path: Path) -> DirStore:
    return DirStore(tmp_path / "public")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def lease(store: DirStore, clock: FakeClock, holder: str, **kwargs: dt.timedelta) -> Lease:
    kwargs.setdefault("ttl", dt.timedelta(minutes=5))
    kwargs.setdefault("wait", dt.timedelta(minutes=10))
    return Lease(store, holder, clock=clock.time, sleep=clock.sleep, **kwargs)


def record(store: DirStore) -> dict[str, str]:
    data: dict[str, str] = json.loads(store.get(LEASE_KEY))
    return data


def test_acquire_writes_the_record_and_release_deletes_it(
    store: DirStore, clock: FakeClock
) -> None:
    assert store.supports_conditional_writes()
    with lease(store, clock, "run A") as held:
        data = record(store)
        assert data == {
            "holder": "run A",
            "token": held.token,
            "acquired": "2025-06-01T12:00:00Z",
            "expires": "2025-06-01T12:05:00Z",
        }
        assert held.takeovers == 0
    assert store.head(LEASE_KEY) is None
    assert clock.slept == []


def test_a_held_lease_blocks_and_the_timeout_names_the_holder(
    store: DirStore, clock: FakeClock
) -> None:
    first = lease(store, clock, "artreg apply v1.0.0 (pid 42 on ci-7)", ttl=dt.timedelta(hours=1))
    first.acquire()
    second = lease(store, clock, "run B", wait=dt.timedelta(seconds=30))
    with pytest.raises(LeaseTimeout) as caught:
        second.acquire()
    message = caught.value.message
    assert "_artreg/lease.json is held by artreg apply v1.0.0 (pid 42 on ci-7)" in message
    assert "since 2025-06-01T12:00:00Z" in message
    assert "its lease expires at 2025-06-01T13:00:00Z" in message
    assert store.description in message
    # It waited (backing off) a little over its 30 s, and did not touch the lease.
    assert 30 < sum(clock.slept) < 32
    assert clock.slept[0] < clock.slept[-1] <= 1.0
    assert record(store)["holder"] == "artreg apply v1.0.0 (pid 42 on ci-7)"
    # The holder still owns it and releases it.
    first.release()
    assert store.head(LEASE_KEY) is None


def test_contention_then_release(store: DirStore, clock: FakeClock) -> None:
    first = lease(store, clock, "run A")
    first.acquire()
    second = lease(store, clock, "run B")
    released = False
    real_sleep = clock.sleep

    def sleep(seconds: float) -> None:
        nonlocal released
        real_sleep(seconds)
        if clock.now - START > 5 and not released:
            first.release()  # run A finishes while B waits
            released = True

    second.sleep = sleep
    second.acquire()
    assert released
    assert record(store)["holder"] == "run B"
    assert second.takeovers == 0
    assert 5 < second.waited < 7


def test_takeover_after_expiry(store: DirStore, clock: FakeClock) -> None:
    crashed = lease(store, clock, "crashed run", ttl=dt.timedelta(minutes=5))
    crashed.acquire()  # and never releases: the process died
    clock.now += 299
    patient = lease(store, clock, "next run", wait=dt.timedelta(seconds=0.5))
    with pytest.raises(LeaseTimeout):
        patient.acquire()  # 1 s before expiry: still held
    clock.now += 2
    successor = lease(store, clock, "next run")
    successor.acquire()
    assert successor.takeovers == 1
    assert record(store)["holder"] == "next run"
    # The crashed run coming back to life must not delete its successor's lease.
    crashed.release()
    assert record(store)["holder"] == "next run"
    successor.release()
    assert store.head(LEASE_KEY) is None


def test_an_unreadable_lease_is_taken_over(store: DirStore, clock: FakeClock) -> None:
    store.put(PutRequest(LEASE_KEY, b"{half a lease", "application/json"))
    taker = lease(store, clock, "run C")
    taker.acquire()
    assert taker.takeovers == 1
    assert record(store)["holder"] == "run C"


def test_ttl_from_the_environment(
    store: DirStore, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert ttl_from_env({}) == DEFAULT_TTL == dt.timedelta(minutes=5)
    assert ttl_from_env({TTL_ENV: "2.5"}) == dt.timedelta(seconds=2.5)
    for bad in ("0", "-1", "soon", "nan", "inf"):
        with pytest.raises(ArtregError, match=f"{TTL_ENV}='{bad}': expected a positive number"):
            ttl_from_env({TTL_ENV: bad})
    monkeypatch.setenv(TTL_ENV, "7")
    held = Lease(store, "run D", clock=clock.time, sleep=clock.sleep)
    assert held.ttl == dt.timedelta(seconds=7)
    held.acquire()
    assert record(store)["expires"] == "2025-06-01T12:00:07Z"


class RefusingIfMatch(DirStore):
    """A store whose If-Match never matches (Ceph RGW 16 with a quoted ETag)."""

    def put(
        self, req: PutRequest, *, if_none_match: bool = False, if_match: str | None = None
    ) -> str:
        if if_match is not None:
            raise PreconditionFailed(f"{self.description}: put {req.key!r}: 412")
        return super().put(req, if_none_match=if_none_match)


def test_a_takeover_the_server_always_refuses_times_out(tmp_path: Path, clock: FakeClock) -> None:
    store = RefusingIfMatch(tmp_path / "public")
    lease(store, clock, "crashed run").acquire()
    clock.now += dt.timedelta(minutes=6).total_seconds()  # it has expired

    def bounded(seconds: float) -> None:
        assert clock.now - START < 3600, "still trying to take the lease over after an hour"
        clock.sleep(seconds)

    waiting = Lease(store, "run B", clock=clock.time, sleep=bounded, wait=dt.timedelta(minutes=10))
    with pytest.raises(LeaseTimeout) as excinfo:
        waiting.acquire()
    message = str(excinfo.value)
    assert "taking it over (If-Match on its ETag) kept failing" in message
    assert f"delete {LEASE_KEY}" in message
    assert record(store)["holder"] == "crashed run"


# --- a lease read back from the target is hostile until checked ----------------------------

LEASE = {
    "holder": "artreg apply v1.0.0 (pid 1 on ci)",
    "token": "0123456789abcdef",
    "acquired": "2025-06-01T12:00:00Z",
    "expires": "2025-06-01T12:05:00Z",
}


@pytest.mark.parametrize(
    "body",
    [
        b'{"expires": 1e999}',
        b'{"holder": ' + b"1" * 5000 + b"}",
        b"[" * 100_000 + b"]" * 100_000,
        json.dumps({**LEASE, "expires": "9999-12-31T23:59:59-23:59"}).encode(),
        json.dumps({**LEASE, "holder": "x\nforged line"}).encode(),
        json.dumps({**LEASE, "acquired": 5}).encode(),
    ],
)
def test_a_planted_lease_is_one_error_and_taken_over(
    store: DirStore, clock: FakeClock, body: bytes
) -> None:
    with pytest.raises(InvalidLease, match=r"^_artreg/lease\.json: not a valid artreg lease: "):
        parse_lease(body)
    store.put(PutRequest(LEASE_KEY, body, "application/json"))
    lease = Lease(store, "me", clock=clock.time, sleep=clock.sleep)
    with lease:
        assert lease.takeovers == 1


@fuzz()
@given(mutated(LEASE))
def test_damaged_leases_read_or_raise_the_one_error(body: bytes) -> None:
    try:
        record = parse_lease(body)
    except InvalidLease:
        return
    assert record.holder.isprintable() and record.expires.tzinfo is not None


@fuzz()
@given(raw_bytes)
def test_raw_leases_read_or_raise_the_one_error(body: bytes) -> None:
    with contextlib.suppress(InvalidLease):
        parse_lease(body)
