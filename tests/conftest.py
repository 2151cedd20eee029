"""Shared fixtures: real S3 servers (moto, s3rver, Ceph RGW) and stores over every backend.

For end-to-end tests:

- ``s3_backend`` (parametrized over moto, s3rver and rgw), ``moto_backend``,
  ``s3rver_backend`` and ``rgw_backend``: an :class:`servers.S3Backend` with ``endpoint``,
  ``env`` (credentials for subprocesses), ``make_bucket()``, ``target()``,
  ``toml(target)``, ``url()``, ``presigned_url()`` and ``client()``. The
  credentials are also set in this process's environment, so boto3 finds them
  through the standard chain.
- ``store`` (parametrized over dir, moto, s3rver and rgw): a ready, empty Store;
  ``store_case`` gives the same store with its backend, for raw checks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import rgw
from servers import (
    AWS_ENV_TO_CLEAR,
    S3Backend,
    Server,
    ServerMissing,
    StoreCase,
    aws_env,
    start_moto,
    start_s3rver,
)

from artreg.config import Target
from artreg.stores import Store, open_store


def _server_or_fail(start: Callable[[], Server]) -> Server:
    # A missing server is a broken setup, not a reason to skip: fail and say how to fix it.
    try:
        return start()
    except ServerMissing as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """moto's S3 server for this test process (conditional writes honoured, like AWS)."""
    logs = tmp_path_factory.mktemp("moto-logs")
    server = _server_or_fail(lambda: start_moto(logs))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3rver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """s3rver for this test process (no conditional writes, website hosting, like Garage)."""
    base = tmp_path_factory.mktemp("s3rver")
    server = _server_or_fail(lambda: start_s3rver(base / "logs", base / "data"))
    yield server
    server.stop()


def _run_dir(config: pytest.Config) -> Path:
    """The temp directory shared by every process of this run (the xdist controller's basetemp)."""
    base: Path = config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
    return base.parent if hasattr(config, "workerinput") else base


@pytest.fixture(scope="session")
def rgw_cluster(pytestconfig: pytest.Config) -> rgw.RgwCluster:
    """The run's one Ceph cluster (radosgw: SigV4 checked, conditional writes, websites).

    Shared by all xdist workers: the first one starts it, the run's main process
    stops it at the end (``pytest_sessionfinish``).
    """
    try:
        return rgw.shared(_run_dir(pytestconfig))
    except rgw.RgwMissing as exc:
        pytest.fail(str(exc), pytrace=False)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):
        rgw.stop_shared(_run_dir(session.config))


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """Test credentials in the environment; the developer's own AWS setup hidden."""
    for name in AWS_ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    env = aws_env(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def moto_backend(moto_server: Server, aws_credentials: dict[str, str]) -> S3Backend:
    return S3Backend(kind="moto", endpoint=moto_server.endpoint, env=dict(aws_credentials))


@pytest.fixture
def s3rver_backend(s3rver: Server, aws_credentials: dict[str, str]) -> S3Backend:
    return S3Backend(kind="s3rver", endpoint=s3rver.endpoint, env=dict(aws_credentials))


@pytest.fixture
def rgw_backend(rgw_cluster: rgw.RgwCluster, aws_credentials: dict[str, str]) -> S3Backend:
    return S3Backend(kind="rgw", endpoint=rgw_cluster.endpoint, env=dict(aws_credentials))


@pytest.fixture(params=["moto", "s3rver", "rgw"])
def s3_backend(request: pytest.FixtureRequest) -> S3Backend:
    """Each S3 server in turn."""
    backend = request.getfixturevalue(f"{request.param}_backend")
    assert isinstance(backend, S3Backend)
    return backend


@pytest.fixture(params=["dir", "moto", "s3rver", "rgw"])
def store_case(request: pytest.FixtureRequest, tmp_path: Path) -> StoreCase:
    """A fresh, empty store on each backend; s3 stores use the prefix ``_releases/``."""
    if request.param == "dir":
        target = Target(name="test", type="dir", path="public")
        return StoreCase("dir", open_store(target, tmp_path), target, tmp_path)
    backend = request.getfixturevalue(f"{request.param}_backend")
    target = backend.target(prefix="_releases/")
    return StoreCase(request.param, open_store(target, tmp_path), target, tmp_path, backend)


@pytest.fixture
def store(store_case: StoreCase) -> Store:
    """A fresh, empty store on each backend (dir, moto, s3rver, rgw)."""
    return store_case.store
