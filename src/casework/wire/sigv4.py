"""SigV4 header authentication, computed directly with ``hmac`` and ``hashlib``.

The canonical request is built as AWS's SigV4 specification (and botocore's signer, which every
SDK agrees with) defines it: the path normalised and percent-encoded once more, the query pairs
sorted, the signed headers lower-cased with their values trimmed, the payload's SHA-256. The
derived signing key is cached per (secret, date, region, service), so a request costs two
SHA-256 hashes and one HMAC. ``tests/wire/test_sigv4.py`` proves the result byte for byte
against botocore's signer over random requests.
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from hashlib import sha256
from urllib.parse import quote

from botocore.utils import normalize_url_path

from .errors import ServiceError
from .protocol import WireRequest

MAX_SKEW = timedelta(minutes=15)
_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+)\s*,\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+)\s*,\s*Signature=(?P<signature>[0-9a-fA-F]+)\s*$"
)
# A path that normalizing and encoding leave as it is: non-empty segments of unreserved
# characters, none of them "." or "..".
_PLAIN_PATH = re.compile(r"(?:/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)+/?")
_DATE_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$")
# Payload hashes a client may declare instead of the body's SHA-256. These APIs take small
# JSON bodies, so the body is always signed: a request that opts out is refused.
_UNSIGNED_PAYLOADS = ("UNSIGNED-PAYLOAD", "STREAMING-")
_SIGNING_KEYS: dict[tuple[str, str, str, str], bytes] = {}
_MAX_SIGNING_KEYS = 4096  # distinct (secret, day, region, service) kept; cleared when full


@dataclass(slots=True)
class Principal:
    """Who signed a request."""

    access_key_id: str
    account_id: str
    region: str  # from the credential scope: the region the client believes it calls


SecretLookup = Callable[[str], "tuple[str, str] | None"]  # key id -> (secret, account id)


def _auth_error(code: str, message: str, status: int) -> ServiceError:
    return ServiceError(code, message, status)


@dataclass(slots=True)
class Credential:
    """What the headers alone establish: a well-formed, current signature by a known key.
    Only :func:`verify` (which needs the body) proves that the signature is right."""

    key_id: str
    secret: str
    account_id: str
    region: str
    service: str
    scope_date: str
    amz_date: str
    signed: list[str]
    signature: str
    status: int


def authenticate(
    request: WireRequest,
    signing_name: str,
    lookup: SecretLookup,
    rest: bool,
    now: datetime | None = None,
) -> Principal:
    """Verify the request's SigV4 ``Authorization`` header and return its principal.

    ``rest`` selects the statuses of API Gateway-fronted REST services (403) instead of the
    JSON services' 400, as AWS answers for each protocol.
    """
    return verify(check_headers(request, signing_name, lookup, rest, now), request)


def check_headers(
    request: WireRequest,
    signing_name: str,
    lookup: SecretLookup,
    rest: bool,
    now: datetime | None = None,
) -> Credential:
    """Everything about the signature that the headers can tell, before the body is read:
    the Authorization syntax, scope, service, date window and key."""
    status = 403 if rest else 400
    header = request.headers.get("authorization")
    if not header:
        raise _auth_error("MissingAuthenticationTokenException", "Missing Authentication Token",
                          status)
    match = _AUTH_RE.match(header)
    if match is None:
        raise _auth_error(
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
            "parameters for AWS4-HMAC-SHA256 signatures.",
            status,
        )
    credential = match["credential"].split("/")
    if len(credential) != 5 or credential[4] != "aws4_request":
        raise _auth_error(
            "IncompleteSignatureException",
            f"Credential should be scoped to a valid region and service: '{match['credential']}'.",
            status,
        )
    key_id, scope_date, region, service, _ = credential
    if service != signing_name:
        raise _auth_error(
            "InvalidSignatureException",
            f"Credential should be scoped to correct service: '{signing_name}'.",
            status,
        )
    signed = match["signed"].lower().split(";")
    if "host" not in signed:
        raise _auth_error("InvalidSignatureException",
                          "'Host' must be a 'SignedHeader' in the AWS Authorization.", status)
    if not rest and "x-amz-target" not in signed:
        # The target names the operation: unsigned, a captured request could be replayed
        # against another operation with the same body.
        raise _auth_error("InvalidSignatureException",
                          "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization.",
                          status)

    amz_date = request.headers.get("x-amz-date") or ""
    signed_at = _signed_at(amz_date)
    if signed_at is None:
        raise _auth_error(
            "IncompleteSignatureException",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
            "header.",
            status,
        )
    current = time.time() if now is None else now.timestamp()
    if abs(signed_at - current) > MAX_SKEW.total_seconds():
        raise _skew_error(amz_date, signed_at < current,
                          now or datetime.fromtimestamp(current, UTC), status)
    if scope_date != amz_date[:8]:
        raise _auth_error(
            "InvalidSignatureException",
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{scope_date}' != '{amz_date[:8]}', from '{amz_date}'.",
            status,
        )

    found = lookup(key_id)
    if found is None:
        raise _auth_error("UnrecognizedClientException",
                          "The security token included in the request is invalid.", status)
    secret, account_id = found
    return Credential(key_id, secret, account_id, region, service, scope_date, amz_date, signed,
                      match["signature"].lower(), status)


@lru_cache(maxsize=256)
def _signed_at(amz_date: str) -> float | None:
    """``X-Amz-Date`` in epoch seconds, or None if it is not one. Cached: clients sign with
    the current second, so concurrent requests share a few values."""
    parts = _DATE_RE.match(amz_date)
    if parts is None:
        return None
    try:
        return datetime(*map(int, parts.groups()), tzinfo=UTC).timestamp()
    except ValueError:
        return None


def _skew_error(amz_date: str, expired: bool, now: datetime, status: int) -> ServiceError:
    if expired:
        return _auth_error(
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is now earlier than "
            f"{_stamp(now - MAX_SKEW)} ({_stamp(now)} - 15 min.)",
            status,
        )
    return _auth_error(
        "InvalidSignatureException",
        f"Signature not yet current: {amz_date} is still later than "
        f"{_stamp(now + MAX_SKEW)} ({_stamp(now)} + 15 min.)",
        status,
    )


def verify(credential: Credential, request: WireRequest) -> Principal:
    """Check the payload hash and the signature itself; returns the request's principal."""
    status = credential.status
    content_sha = request.headers.get("x-amz-content-sha256")
    if content_sha is not None:
        if content_sha.startswith(_UNSIGNED_PAYLOADS):
            raise _auth_error(
                "InvalidSignatureException",
                f"'x-amz-content-sha256' must be the SHA-256 of the payload on this service, "
                f"not '{content_sha}'.", status)
        # A plain comparison: the payload's hash is no secret, and a header may hold any
        # character (compare_digest refuses non-ASCII text).
        if content_sha != sha256(request.body).hexdigest():
            raise _auth_error("InvalidSignatureException",
                              "The provided 'x-amz-content-sha256' header does not match what "
                              "was computed.", status)

    c = credential
    canonical = canonical_request(request, c.signed)
    to_sign = (f"AWS4-HMAC-SHA256\n{c.amz_date}\n{c.scope_date}/{c.region}/{c.service}/"
               f"aws4_request\n{sha256(canonical.encode('utf-8')).hexdigest()}")
    key = signing_key(c.secret, c.scope_date, c.region, c.service)
    expected = hmac.digest(key, to_sign.encode("utf-8"), "sha256").hex()
    if not hmac.compare_digest(expected, c.signature):
        raise _auth_error(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details.",
            status,
        )
    return Principal(c.key_id, c.account_id, c.region)


def canonical_request(request: WireRequest, signed: list[str]) -> str:
    """The SigV4 canonical request of ``request`` over the headers named in ``signed``."""
    raw_path = request.raw_path
    if raw_path == "/" or _PLAIN_PATH.fullmatch(raw_path):
        path = raw_path  # "/" (JSON 1.1) and most REST paths: already normal and encoded
    else:
        path = quote(normalize_url_path(raw_path), safe="/~")
    query = ""
    if request.query_string:
        query = "&".join(f"{k}={v}" for k, v in sorted(
            pair.partition("=")[::2] for pair in request.query_string.split("&")))
    values: dict[str, list[str]] = {}
    wanted = set(signed)
    for name, value in request.raw_headers:
        if name in wanted:
            values.setdefault(name, []).append(" ".join(value.split()))
    names = sorted(values)
    headers = "".join(f"{name}:{','.join(values[name])}\n" for name in names)
    payload = values.get("x-amz-content-sha256", [None])[0] or sha256(request.body).hexdigest()
    return f"{request.method.upper()}\n{path}\n{query}\n{headers}\n{';'.join(names)}\n{payload}"


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """The derived SigV4 key, computed once per (secret, date, region, service)."""
    cache_key = (secret, date, region, service)
    key = _SIGNING_KEYS.get(cache_key)
    if key is None:
        key = hmac.digest(f"AWS4{secret}".encode(), date.encode(), "sha256")
        for part in (region, service, "aws4_request"):
            key = hmac.digest(key, part.encode(), "sha256")
        if len(_SIGNING_KEYS) >= _MAX_SIGNING_KEYS:
            _SIGNING_KEYS.clear()
        _SIGNING_KEYS[cache_key] = key
    return key


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")
