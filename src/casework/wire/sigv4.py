"""SigV4 header authentication, computed with botocore's own canonicalisation.

The server rebuilds the request the client signed and lets botocore's ``SigV4Auth`` produce
the canonical request and string to sign, so that Casework and every SDK agree byte for byte.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from hashlib import sha256

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials

from .errors import ServiceError
from .protocol import WireRequest

MAX_SKEW = timedelta(minutes=15)
_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+)\s*,\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+)\s*,\s*Signature=(?P<signature>[0-9a-fA-F]+)\s*$"
)


@dataclass(frozen=True)
class Principal:
    """Who signed a request."""

    access_key_id: str
    account_id: str
    region: str  # from the credential scope: the region the client believes it calls


SecretLookup = Callable[[str], "tuple[str, str] | None"]  # key id -> (secret, account id)


class _ServerSigV4(SigV4Auth):
    """``SigV4Auth`` that signs exactly the headers the client listed as signed."""

    def __init__(self, credentials, service_name, region_name, signed_headers):
        super().__init__(credentials, service_name, region_name)
        self._signed = signed_headers

    def headers_to_sign(self, request):
        headers = HTTPHeaders()
        for name, value in request.headers.items():
            if name.lower() in self._signed:
                headers[name.lower()] = value
        return headers


def _auth_error(code: str, message: str, status: int) -> ServiceError:
    return ServiceError(code, message, status)


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

    amz_date = request.headers.get("x-amz-date")
    try:
        signed_at = datetime.strptime(amz_date or "", "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise _auth_error(
            "IncompleteSignatureException",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
            "header.",
            status,
        ) from None
    now = now or datetime.now(UTC)
    if signed_at < now - MAX_SKEW:
        raise _auth_error(
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is now earlier than "
            f"{_stamp(now - MAX_SKEW)} ({_stamp(now)} - 15 min.)",
            status,
        )
    if signed_at > now + MAX_SKEW:
        raise _auth_error(
            "InvalidSignatureException",
            f"Signature not yet current: {amz_date} is still later than "
            f"{_stamp(now + MAX_SKEW)} ({_stamp(now)} + 15 min.)",
            status,
        )
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

    content_sha = request.headers.get("x-amz-content-sha256")
    if content_sha and content_sha != "UNSIGNED-PAYLOAD" and not hmac.compare_digest(
        content_sha, sha256(request.body).hexdigest()
    ):
        raise _auth_error("InvalidSignatureException",
                          "The provided 'x-amz-content-sha256' header does not match what was "
                          "computed.", status)

    host = request.headers.get("host", "")
    url = f"http://{host}{request.raw_path}"
    if request.query_string:
        url += "?" + request.query_string
    signer_request = AWSRequest(method=request.method, url=url, data=request.body)
    signer = _ServerSigV4(Credentials(key_id, secret), service, region, set(signed))
    signer_request.headers = _headers(request.raw_headers, signed)
    signer_request.context["timestamp"] = amz_date
    canonical = signer.canonical_request(signer_request)
    expected = signer.signature(signer.string_to_sign(signer_request, canonical), signer_request)
    if not hmac.compare_digest(expected, match["signature"].lower()):
        raise _auth_error(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details.",
            status,
        )
    return Principal(key_id, account_id, region)


def _headers(raw: list[tuple[str, str]], signed: list[str]) -> HTTPHeaders:
    headers = HTTPHeaders()
    wanted = set(signed)
    for name, value in raw:
        if name in wanted:
            headers[name] = value  # HTTPHeaders keeps repeats; botocore joins them with ","
    return headers


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")
