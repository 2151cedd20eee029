"""What an S3 failure means, in one message each: botocore's exceptions as StoreError.

Every botocore exception family is mapped (credentials, configuration, TLS,
connection, parameters): none of them is a bug in artreg.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import botocore.exceptions
import urllib3.exceptions

from artreg.errors import NotFound, PreconditionFailed, StoreError

_CREDENTIAL_CODES = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken", "403"}
)
_PRECONDITION_CODES = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict"})
# Every failure on the way to the server (TLS included) and back.
_CONNECTION_ERRORS = (
    botocore.exceptions.ConnectionError,  # EndpointConnection, SSL, ConnectTimeout, Proxy
    botocore.exceptions.HTTPClientError,  # ReadTimeout, ConnectionClosed
)
SHORT_READS = (
    botocore.exceptions.ResponseStreamingError,
    botocore.exceptions.IncompleteReadError,
    urllib3.exceptions.ProtocolError,
)


@contextlib.contextmanager
def translated(
    where: str,
    *,
    endpoint: str | None,
    bucket: str,
    max_attempts: int,
    setup: bool = False,
) -> Iterator[None]:
    """Turn botocore failures into one clear :class:`StoreError` each.

    Every botocore exception family is mapped (credentials, configuration,
    TLS, connection, parameters): none of them is a bug in artreg.
    """
    try:
        yield
    except botocore.exceptions.ClientError as exc:
        raise client_error(exc, where, bucket) from None
    except _CONNECTION_ERRORS as exc:
        raise StoreError(f"{where}: {connection_problem(exc, endpoint, max_attempts)}") from None
    except botocore.exceptions.BotoCoreError as exc:
        raise StoreError(f"{where}: {_setup_problem(exc)}") from None
    except SHORT_READS as exc:
        raise StoreError(
            f"{where}: the connection to {endpoint or 'S3'} broke ({exc}); re-run"
        ) from None
    except (OSError, ValueError) as exc:
        if not setup:
            raise
        # Reading ~/.aws and AWS_*: botocore lets some plain errors through.
        raise StoreError(f"{where}: {_environment_problem(exc)}") from None


def connection_problem(exc: Exception, endpoint_url: str | None, max_attempts: int) -> str:
    """What failed on the way to the server, and the fix (TLS named precisely)."""
    endpoint = endpoint_url or "S3"
    # botocore's text names the URL; the reason is in the wrapped error.
    cause = getattr(exc, "kwargs", {}).get("error")
    text = str(cause) if cause is not None else str(exc)
    lowered = text.lower()
    attempts = f"after {max_attempts} attempts"
    if "hostname mismatch" in lowered or "doesn't match" in lowered:
        return (
            f"cannot connect to {endpoint}: TLS certificate verify failed (it is issued "
            "for another host name); use the host name the certificate names in the "
            "endpoint, or fix the server's certificate"
        )
    if "certificate verify failed" in lowered or "certificate_verify_failed" in lowered:
        why = _after(text, "certificate verify failed:") or "the issuer is not trusted"
        return (
            f"cannot connect to {endpoint}: TLS certificate verify failed ({why}); "
            "if the server's certificate is signed by your own CA, name it with "
            'ca_bundle = "path/to/ca.pem" in the target (or set AWS_CA_BUNDLE)'
        )
    if any(
        marker in lowered
        for marker in ("wrong_version_number", "wrong version number", "record layer failure")
    ) or ("unknown protocol" in lowered):
        return (
            f"cannot connect to {endpoint}: TLS handshake failed (wrong protocol: the "
            "server does not speak TLS on this port); if it serves plain HTTP, use "
            "http:// in the target's endpoint"
        )
    if isinstance(exc, botocore.exceptions.SSLError):
        return (
            f"cannot connect to {endpoint}: TLS failed ({text}); check the endpoint's "
            'scheme and certificate, and ca_bundle = "..." (or AWS_CA_BUNDLE)'
        )
    if isinstance(exc, botocore.exceptions.ConnectionClosedError):
        hint = (
            "; if the server speaks HTTPS, use https:// in the target's endpoint"
            if endpoint.startswith("http://")
            else ""
        )
        return (
            f"cannot reach {endpoint} {attempts}: the server closed the connection "
            f"without an answer{hint}"
        )
    if "connection refused" in lowered:
        why = "connection refused"
    elif any(m in lowered for m in ("name or service not known", "name resolution")):
        why = "host name not found"
    elif isinstance(exc, botocore.exceptions.ConnectTimeoutError):
        why = "connect timeout"
    elif isinstance(exc, botocore.exceptions.ReadTimeoutError):
        why = "read timeout"
    else:
        why = text
    return (
        f"cannot reach {endpoint} {attempts} ({why}); check the target's endpoint in "
        "artreg.toml and that the server is up"
    )


def client_error(exc: botocore.exceptions.ClientError, where: str, bucket: str) -> StoreError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code") or "")
    message = str(error.get("Message") or "")  # Ceph RGW sends none with some codes
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code == "NoSuchBucket":
        return StoreError(
            f"{where}: bucket {bucket!r} does not exist: create it, or fix the "
            "target's bucket (and endpoint) in artreg.toml"
        )
    if code == "SignatureDoesNotMatch":
        return StoreError(
            f"{where}: access denied (SignatureDoesNotMatch): the server knows the access "
            "key but the request's signature does not match: check AWS_SECRET_ACCESS_KEY "
            "(or the secret of AWS_PROFILE) for that key, and the target's endpoint"
        )
    if code in _CREDENTIAL_CODES or status == 403:
        detail = f"{code}: {message}" if message else code or str(status)
        return StoreError(
            f"{where}: access denied ({detail}): check the AWS credentials "
            "(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE) and that they "
            f"may read and write bucket {bucket!r}"
        )
    if code in _PRECONDITION_CODES or status == 412:
        return PreconditionFailed(
            f"{where}: precondition failed ({code}): another writer changed it first; "
            "re-run to reconcile"
        )
    if code in ("NoSuchKey", "404") or status == 404:
        return NotFound(f"{where}: no such object")
    return StoreError(f"{where}: {code or status}: {message or 'no message'}")


def _after(text: str, marker: str) -> str:
    """What follows ``marker`` in ``text`` up to a closing parenthesis or quote."""
    start = text.lower().find(marker)
    if start < 0:
        return ""
    rest = text[start + len(marker) :]
    for stop in (" (_ssl", ")", "'", '"'):
        rest = rest.split(stop, 1)[0]
    return rest.strip()


def _setup_problem(exc: botocore.exceptions.BotoCoreError) -> str:
    """One line for a botocore error that is not a server's answer or a connection."""
    errors = botocore.exceptions
    if isinstance(exc, (errors.NoCredentialsError, errors.PartialCredentialsError)):
        missing = ""
        if isinstance(exc, errors.PartialCredentialsError):
            missing = f" (incomplete credentials in {exc.kwargs.get('provider')}: "
            missing += f"{exc.kwargs.get('cred_var')} is missing)"
        return (
            f"no AWS credentials found{missing}: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (credentials never go in artreg.toml)"
        )
    if isinstance(exc, errors.ProfileNotFound):
        return (
            f"AWS profile {exc.kwargs.get('profile')!r} is not configured: add it to "
            "~/.aws/config, or fix AWS_PROFILE or the target's profile in artreg.toml"
        )
    if isinstance(exc, (errors.CredentialRetrievalError, errors.UnknownCredentialError)):
        return (
            f"the AWS credentials could not be loaded ({exc}); fix the profile's "
            "credential settings in ~/.aws/config, or set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY"
        )
    if isinstance(exc, (errors.InvalidRegionError, errors.NoRegionError)):
        return (
            f"the region is not usable ({exc}); fix the target's region in artreg.toml, "
            "or AWS_REGION / AWS_DEFAULT_REGION"
        )
    if isinstance(exc, (errors.InvalidConfigError, errors.ConfigParseError)):
        return (
            f"the AWS configuration is invalid ({exc}); fix ~/.aws/config (or the file "
            "AWS_CONFIG_FILE names) and the AWS_* variables"
        )
    if isinstance(exc, errors.ParamValidationError):
        return f"the request was refused before sending ({exc}); check the target in artreg.toml"
    if isinstance(exc, (errors.EndpointResolutionError, errors.EndpointProviderError)):
        return (
            f"the endpoint is not usable ({exc}); fix the target's endpoint in artreg.toml "
            "(or AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3)"
        )
    return f"{type(exc).__name__}: {exc}; check the target in artreg.toml and the AWS_* variables"


def _environment_problem(exc: Exception) -> str:
    """One line for a plain exception raised while reading the AWS setup."""
    if isinstance(exc, OSError):  # e.g. a profile's credential_process that does not exist
        return (
            f"the AWS credentials could not be loaded ({exc}); fix the profile's "
            "credential_process in ~/.aws/config, or set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY"
        )
    return (
        f"the AWS configuration is invalid ({exc}); fix ~/.aws/config and the AWS_* "
        "variables (AWS_ENDPOINT_URL, AWS_REGION, ...)"
    )
