"""The s3 store's failure modes: each one clear StoreError, against real servers."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import s3proxy
from s3proxy import Reply, Rule, header, precondition_failed
from servers import S3Backend

from artreg.config import Target
from artreg.errors import StoreError
from artreg.stores import PutRequest, open_store
from artreg.stores.s3 import S3Store
from artreg.stores.s3_errors import client_error


def test_description_names_bucket_prefix_and_endpoint(moto_backend: S3Backend) -> None:
    target = moto_backend.target(prefix="_releases/")
    store = open_store(target, Path("."))
    assert store.description == (f"s3://{target.bucket}/_releases/ at {moto_backend.endpoint}")


def test_missing_bucket_is_one_clear_error(s3_backend: S3Backend) -> None:
    store = S3Store("no-such-bucket-here", endpoint=s3_backend.endpoint)

    for action in (
        store.list,
        lambda: store.put(PutRequest("k", b"x", "text/plain")),
        lambda: store.get("k"),
    ):
        with pytest.raises(StoreError) as excinfo:
            action()
        message = str(excinfo.value)
        assert "bucket 'no-such-bucket-here' does not exist" in message
        assert s3_backend.endpoint in message
        assert "artreg.toml" in message


def test_wrong_credentials_are_one_clear_error(
    s3rver_backend: S3Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # moto checks no credentials; s3rver checks the access key id (not SigV4 signatures).
    bucket = s3rver_backend.make_bucket()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "UNKNOWNKEY")
    store = S3Store(bucket, endpoint=s3rver_backend.endpoint)

    with pytest.raises(StoreError) as excinfo:
        store.list()
    message = str(excinfo.value)
    assert "access denied (InvalidAccessKeyId" in message
    assert bucket in message
    assert "AWS_ACCESS_KEY_ID" in message
    assert store.requests["ListObjectsV2"] == 1  # not retried


@pytest.mark.parametrize(
    ("code", "status"), [("SignatureDoesNotMatch", 403), ("AccessDenied", 403)]
)
def test_signature_and_permission_errors_say_check_credentials(
    aws_credentials: dict[str, str], code: str, status: int
) -> None:
    # Neither test server checks SigV4 signatures or policies: map a synthesized answer.
    import botocore.exceptions

    store = S3Store("bucket", endpoint="http://127.0.0.1:9")
    error = botocore.exceptions.ClientError(
        {"Error": {"Code": code, "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "ListObjectsV2",
    )
    message = str(client_error(error, "where", store.bucket))
    assert f"access denied ({code}" in message
    assert "AWS_SECRET_ACCESS_KEY" in message


def test_missing_credentials_are_one_clear_error(
    moto_backend: S3Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = moto_backend.make_bucket()
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    with pytest.raises(StoreError) as excinfo:
        S3Store(bucket, endpoint=moto_backend.endpoint, max_attempts=1).list()
    assert "no AWS credentials found" in str(excinfo.value)
    assert "never go in artreg.toml" in str(excinfo.value)


def test_unknown_profile_is_one_clear_error(aws_credentials: dict[str, str]) -> None:
    with pytest.raises(StoreError) as excinfo:
        S3Store("bucket", endpoint="http://127.0.0.1:9", profile="nobody")
    assert "profile 'nobody'" in str(excinfo.value)


def test_credentials_come_from_aws_profile(
    moto_backend: S3Backend, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bucket = moto_backend.make_bucket()
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[publisher]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    target = Target(
        name="web", type="s3", bucket=bucket, endpoint=moto_backend.endpoint, profile="publisher"
    )

    store = open_store(target, tmp_path)
    store.put(PutRequest("k", b"x", "text/plain"))
    assert store.get("k") == b"x"


def test_endpoint_down_fails_after_bounded_retries(aws_credentials: dict[str, str]) -> None:
    with socket.socket() as sock:  # a port nobody listens on while it stays bound
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        endpoint = f"http://127.0.0.1:{port}"
        store = S3Store("bucket", endpoint=endpoint, max_attempts=2, connect_timeout=1)

        with pytest.raises(StoreError) as excinfo:
            store.list()

    assert f"cannot reach {endpoint} after 2 attempts" in str(excinfo.value)
    assert store.requests["ListObjectsV2"] == 2  # the retry is counted too


def test_website_buckets_serve_stored_headers_to_anonymous_clients(
    s3_backend: S3Backend,
) -> None:
    import urllib.request

    target = s3_backend.target(prefix="_releases/", website=True)
    store = open_store(target, Path("."))
    store.put(PutRequest("v2/index.html", b"{}", "application/json"))
    store.put(
        PutRequest(
            "v2/r/manifests/sha256:ab",
            b"m",
            "application/vnd.oci.image.manifest.v1+json",
            cache_control="max-age=60",
        )
    )

    url = s3_backend.url(str(target.bucket), "_releases/v2/r/manifests/sha256:ab")
    with urllib.request.urlopen(url) as response:  # no credentials: a website client
        assert response.headers["Content-Type"] == "application/vnd.oci.image.manifest.v1+json"
        assert response.headers["Cache-Control"] == "max-age=60"
        assert response.read() == b"m"
    if s3_backend.kind == "s3rver":  # s3rver also does index documents, like Garage
        index = s3_backend.url(str(target.bucket), "_releases/v2/")
        with urllib.request.urlopen(index) as response:
            assert response.read() == b"{}"


# Each a broken AWS setup outside artreg.toml; each must be one line, exit 1 (issue 9).
AWS_CONFIG = (
    "[default]\nregion = us-east-1\n"
    "[profile broken]\ncredential_process = /nonexistent/credential-helper\n"
    "[profile loop]\nsource_profile = loop\nrole_arn = arn:aws:iam::123456789012:role/x\n"
)
BROKEN_SETUPS = {
    "key-id-without-secret": (
        {"AWS_SECRET_ACCESS_KEY": None},
        "AWS_SECRET_ACCESS_KEY is missing",
    ),
    "unknown-profile-in-env": ({"AWS_PROFILE": "nobody"}, "AWS profile 'nobody' is not"),
    "missing-credential-process": (
        {"AWS_PROFILE": "broken", "AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None},
        "credential_process",
    ),
    "profile-loop": (
        {"AWS_PROFILE": "loop", "AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None},
        "the AWS configuration is invalid (Infinite loop",
    ),
    "unparsable-config": ({"AWS_CONFIG_FILE": "garbage"}, "Unable to parse config file"),
    "bad-region": ({"AWS_DEFAULT_REGION": "no such region!"}, "the region is not usable"),
    "bad-endpoint-in-env": ({"AWS_ENDPOINT_URL": "not-a-url"}, "Invalid endpoint: not-a-url"),
    "endpoint-in-env-with-query": (
        {"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9/?x=1"},
        "the endpoint is not usable",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN_SETUPS))
def test_a_broken_aws_setup_is_one_clear_error(
    case: str,
    moto_backend: S3Backend,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from artreg.cli import main

    changes, fragment = BROKEN_SETUPS[case]
    bucket = moto_backend.make_bucket()
    client = moto_backend.client()  # made before the setup is broken
    config_file = tmp_path / "aws-config"
    config_file.write_text(AWS_CONFIG)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config_file))
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    for name, value in changes.items():
        if value is None:
            monkeypatch.delenv(name)
        elif name == "AWS_CONFIG_FILE":
            config_file.write_text("this is not an ini file\n= =\n")
        else:
            monkeypatch.setenv(name, value)
    # The endpoint cases come from the environment: the target names none.
    endpoint = "" if "ENDPOINT" in " ".join(changes) else f'endpoint = "{moto_backend.endpoint}"\n'
    (tmp_path / "app").write_bytes(b"app\n")
    config = tmp_path / "artreg.toml"
    config.write_text(
        '[[artifacts]]\nname = "app"\nfiles = [{ platform = "linux/amd64", path = "app" }]\n'
        f'[targets.web]\ntype = "s3"\nbucket = "{bucket}"\n{endpoint}'
    )
    code = main(["apply", "--config", str(config), "--tag", "v1.0.0"])
    out, err = capsys.readouterr()
    assert (code, out) == (1, ""), err
    assert "Traceback" not in err and "internal error" not in err, err
    assert err.startswith("artreg: error: ") and err.count("\n") == 1, err
    assert fragment in err, err
    assert "Contents" not in client.list_objects_v2(Bucket=bucket)  # nothing was written


def _refuse_if_match(quoted_only: bool) -> Rule:
    """Answer 412 to a PutObject carrying If-Match: any, or only a quoted one (Ceph RGW 16)."""

    def rule(method: str, path: str, headers: dict[str, str]) -> Reply | None:
        value = header(headers, "If-Match")
        if method == "PUT" and value is not None and (value.startswith('"') or not quoted_only):
            return Reply(412, precondition_failed(path))
        return None

    return rule


def test_probe_falls_back_when_if_match_is_refused(moto_backend: S3Backend) -> None:
    # If-None-Match is honoured, If-Match never matches: compare-and-swap cannot work.
    bucket = moto_backend.make_bucket()
    with s3proxy.running(moto_backend.endpoint, _refuse_if_match(quoted_only=False)) as proxy:
        store = S3Store(bucket, endpoint=proxy.endpoint)
        assert store.supports_conditional_writes() is False
        sent = [e for e in proxy.exchanges if e.method == "PUT"]
    assert any(header(e.headers, "If-None-Match") == "*" for e in sent)
    assert any(header(e.headers, "If-Match") for e in sent)
    assert store.list() == []  # the probe cleaned up after itself


def test_if_match_goes_out_in_the_form_the_probe_checked(moto_backend: S3Backend) -> None:
    # Ceph RGW 16 refuses a quoted If-Match and accepts the bare etag.
    bucket = moto_backend.make_bucket()
    with s3proxy.running(moto_backend.endpoint, _refuse_if_match(quoted_only=True)) as proxy:
        store = S3Store(bucket, endpoint=proxy.endpoint)
        assert store.supports_conditional_writes() is True
        probed = {header(e.headers, "If-Match") for e in proxy.exchanges} - {None}
        old = store.put(PutRequest("index.json", b"v1", "application/json"))
        store.put(PutRequest("index.json", b"v2", "application/json"), if_match=old)
        sent = header(proxy.exchanges[-1].headers, "If-Match")
    assert sent == old
    assert probed and all(not value.startswith('"') for value in probed if value)
    assert store.get("index.json") == b"v2"


def test_the_probe_is_not_fooled_by_a_server_ignoring_if_match(
    moto_backend: S3Backend,
) -> None:
    # A proxy that drops If-Match: every conditional write would go through.
    def drop(method: str, path: str, headers: dict[str, str]) -> Reply | None:
        for name in [k for k in headers if k.lower() == "if-match"]:
            del headers[name]
        return None

    bucket = moto_backend.make_bucket()
    with s3proxy.running(moto_backend.endpoint, drop) as proxy:
        assert S3Store(bucket, endpoint=proxy.endpoint).supports_conditional_writes() is False
