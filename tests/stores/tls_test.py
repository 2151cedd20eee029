"""https endpoints: a company CA named by ``ca_bundle`` or AWS_CA_BUNDLE, and every TLS
or connection failure as one line, exit 1.

Real TLS: a CA and a server certificate for IP:127.0.0.1 made with the openssl
CLI, and a TLS-terminating proxy (:mod:`tls_proxy`) in front of moto.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from publishing import CI_VARIABLES
from servers import REGION, S3Backend, Server, free_port
from tls_proxy import Certificates, TlsProxy, make_certificates, tls_in_front_of

from artreg.cli import main
from artreg.config import Target
from artreg.errors import StoreError
from artreg.stores import PutRequest, open_store

NOW = "2025-06-01T12:00:00Z"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    if shutil.which("openssl") is None:
        pytest.fail("openssl is not installed: run `make test` (scripts/install-system-deps.sh)")
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def tls(certificates: Certificates, moto_server: Server) -> Iterator[TlsProxy]:
    with tls_in_front_of(certificates, moto_server.port) as proxy:
        yield proxy


@pytest.fixture
def clean_env(
    aws_credentials: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> pytest.MonkeyPatch:
    for name in (*CI_VARIABLES, "AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def project(root: Path, bucket: str, endpoint: str, extra: str = "") -> Path:
    (root / "out").mkdir(parents=True, exist_ok=True)
    (root / "out" / "app").write_bytes(b"app\n")
    config = root / "artreg.toml"
    config.write_text(
        '[project]\nname = "demo"\n\n'
        '[[artifacts]]\nname = "app"\nfiles = [{ platform = "linux/amd64", path = "out/app" }]\n\n'
        f'[targets.web]\ntype = "s3"\nbucket = "{bucket}"\nendpoint = "{endpoint}"\n'
        f'region = "{REGION}"\n{extra}'
    )
    return config


def apply(config: Path, *extra: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    argv = ["apply", "--config", str(config), "--tag", "v1.0.0", "--now", NOW, *extra]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def one_error(result: tuple[int, str, str], *fragments: str) -> str:
    code, out, err = result
    assert code == 1, err
    assert out == ""
    assert "Traceback" not in err and "internal error" not in err, err
    assert err.count("artreg: error:") == 1 and len(err.strip().splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err, err
    return err


def test_an_untrusted_certificate_is_one_line_naming_the_fix_and_aws_ca_bundle_works(
    tls: TlsProxy,
    certificates: Certificates,
    moto_backend: S3Backend,
    clean_env: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    config = project(tmp_path, moto_backend.make_bucket(), tls.endpoint)
    one_error(
        apply(config),
        tls.endpoint,
        "TLS certificate verify failed",
        'ca_bundle = "path/to/ca.pem"',
        "AWS_CA_BUNDLE",
    )
    assert tls.handshake_failures >= 1  # it really was the handshake that failed
    # The standard variable names the CA (the target sets no ca_bundle to override it).
    clean_env.setenv("AWS_CA_BUNDLE", str(certificates.ca))
    code, _, err = apply(config)
    assert code == 0, err


def test_ca_bundle_in_the_target_is_relative_to_the_config_file(
    tls: TlsProxy,
    certificates: Certificates,
    moto_backend: S3Backend,
    clean_env: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    bucket = moto_backend.make_bucket()
    root = tmp_path / "project"
    (root / "certs").mkdir(parents=True)
    shutil.copy(certificates.ca, root / "certs" / "company-ca.pem")
    config = project(root, bucket, tls.endpoint, 'ca_bundle = "certs/company-ca.pem"\n')
    clean_env.chdir(tmp_path)  # not the config's directory: the path must still resolve
    code, out, err = apply(config)
    assert code == 0, err
    objects = moto_backend.client().list_objects_v2(Bucket=bucket)["Contents"]
    assert "v1.0.0/linux/amd64/app" in {o["Key"] for o in objects}
    code, out, err = apply(config, "--json")
    assert code == 0, err
    assert '"uploaded": 0' in out


def test_the_targets_ca_bundle_wins_over_aws_ca_bundle(
    tls: TlsProxy,
    certificates: Certificates,
    moto_backend: S3Backend,
    clean_env: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    config = project(
        tmp_path, moto_backend.make_bucket(), tls.endpoint, f'ca_bundle = "{certificates.ca}"\n'
    )
    other = make_certificates(tmp_path / "other-ca")  # a CA that signed nothing here
    clean_env.setenv("AWS_CA_BUNDLE", str(other.ca))
    code, _, err = apply(config)
    assert code == 0, err


def test_a_missing_ca_bundle_is_a_config_error_with_its_line(
    moto_backend: S3Backend, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = project(
        tmp_path, moto_backend.make_bucket(), "https://127.0.0.1:9", 'ca_bundle = "ca/nope.pem"\n'
    )
    one_error(
        apply(config),
        f"{config}:13: targets.web.ca_bundle: no such file: {tmp_path / 'ca' / 'nope.pem'}",
        "PEM file",
    )
    lint = io.StringIO()
    with contextlib.redirect_stdout(lint), contextlib.redirect_stderr(lint):
        assert main(["lint", "--config", str(config)]) == 0  # lint does not need the file


def test_https_against_a_plain_http_server_is_one_line(
    moto_server: Server, moto_backend: S3Backend, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    endpoint = f"https://127.0.0.1:{moto_server.port}"
    config = project(tmp_path, moto_backend.make_bucket(), endpoint)
    one_error(apply(config), endpoint, "wrong protocol", "use http://")


def test_plain_http_against_a_tls_server_is_one_line(
    tls: TlsProxy, moto_backend: S3Backend, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    endpoint = f"http://127.0.0.1:{tls.port}"
    config = project(tmp_path, moto_backend.make_bucket(), endpoint)
    one_error(apply(config), endpoint, "use https://")


def test_a_certificate_for_another_host_is_one_line(
    tls: TlsProxy,
    certificates: Certificates,
    moto_backend: S3Backend,
    clean_env: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    endpoint = f"https://localhost:{tls.port}"  # the certificate names IP:127.0.0.1 only
    extra = f'ca_bundle = "{certificates.ca}"\n'
    config = project(tmp_path, moto_backend.make_bucket(), endpoint, extra)
    one_error(apply(config), endpoint, "issued for another host name")


def test_https_connection_refused_is_one_line(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    endpoint = f"https://127.0.0.1:{free_port()}"
    one_error(apply(project(tmp_path, "bucket", endpoint)), endpoint, "connection refused")


def test_the_store_itself_speaks_tls_with_a_ca_bundle(
    tls: TlsProxy,
    certificates: Certificates,
    moto_backend: S3Backend,
    clean_env: pytest.MonkeyPatch,
) -> None:
    target = Target(
        name="web",
        type="s3",
        bucket=moto_backend.make_bucket(),
        endpoint=tls.endpoint,
        region=REGION,
        ca_bundle=str(certificates.ca),
    )
    store = open_store(target, Path("/"))
    store.put(PutRequest("k", b"over tls", "text/plain"))
    assert store.get_with_etag("k")[0] == b"over tls"
    untrusted = open_store(dataclasses.replace(target, ca_bundle=None), Path("/"))
    with pytest.raises(StoreError, match="certificate verify failed"):
        untrusted.get("k")
