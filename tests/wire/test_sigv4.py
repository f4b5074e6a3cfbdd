"""Our SigV4 verification against botocore's signer, byte for byte, over random requests.

botocore signs a random request (method, percent-encoded path, query, headers with odd
spacing and repeats, body); the server must accept exactly that request and refuse it once any
signed part changes.
"""

from __future__ import annotations

import string
from urllib.parse import quote

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from casework.wire.errors import ServiceError
from casework.wire.protocol import WireRequest
from casework.wire.sigv4 import authenticate

KEY, SECRET, ACCOUNT = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "111122223333"
REGIONS = st.sampled_from(["us-east-1", "eu-west-1", "ap-southeast-2"])
TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
               max_size=12)
SEGMENT = TEXT.map(lambda s: quote(s, safe="-_.~!$'()*+,;=:@"))
PATHS = st.lists(st.one_of(SEGMENT, st.sampled_from([".", "..", ""])), max_size=5).map(
    lambda parts: "/" + "/".join(parts))
QUERY = st.lists(st.tuples(SEGMENT, SEGMENT), max_size=4).map(
    lambda pairs: "&".join(f"{k}={v}" for k, v in pairs))
HEADER_NAMES = st.text(alphabet=string.ascii_lowercase + "-", min_size=1, max_size=10).filter(
    lambda n: n.strip("-") and n not in ("host", "authorization", "x-amz-date",
                                         "content-length", "user-agent", "expect"))
HEADER_VALUES = st.text(alphabet=string.ascii_letters + string.digits + " \t,;=/", max_size=20)
HEADERS = st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=4)


def _lookup(key_id: str):
    return (SECRET, ACCOUNT) if key_id == KEY else None


def _signed(method, path, query, headers, body, region, service) -> WireRequest:
    url = f"http://localhost:4566{path}" + (f"?{query}" if query else "")
    aws = AWSRequest(method=method, url=url, data=body)
    for name, value in headers:
        aws.headers.add_header(name, value)  # repeats kept, as on the wire
    if service == "support":
        aws.headers["X-Amz-Target"] = "AWSSupport_20130415.DescribeCases"
    SigV4Auth(Credentials(KEY, SECRET), service, region).add_auth(aws)
    pairs = [("host", "localhost:4566"),
             *((k, v.decode() if isinstance(v, bytes) else v) for k, v in aws.headers.items())]
    return WireRequest.build(method, path, query, pairs, body)


@settings(max_examples=300, deadline=None)
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]), path=PATHS,
       query=QUERY, headers=HEADERS, body=st.binary(max_size=64), region=REGIONS,
       service=st.sampled_from(["support", "cases"]))
def test_accepts_what_botocore_signs(method, path, query, headers, body, region, service):
    request = _signed(method, path, query, headers, body, region, service)
    principal = authenticate(request, service, _lookup, rest=service == "cases")
    assert (principal.access_key_id, principal.account_id, principal.region) == (
        KEY, ACCOUNT, region)


@settings(max_examples=200, deadline=None)
@given(path=PATHS, query=QUERY, headers=HEADERS, body=st.binary(min_size=1, max_size=64),
       part=st.sampled_from(["body", "path", "query", "header", "method"]))
def test_refuses_any_change_to_a_signed_part(path, query, headers, body, part):
    request = _signed("POST", path, query, headers, body, "us-east-1", "cases")
    if part == "body":
        request.body = bytes([request.body[0] ^ 1]) + request.body[1:]
    elif part == "path":
        request.raw_path += "x"
    elif part == "query":
        request.query_string += "&extra=1"
    elif part == "header":
        request.raw_headers = [(k, v + "x") if k == "x-amz-date" else (k, v)
                               for k, v in request.raw_headers]
        request.headers["x-amz-date"] += "x"
    else:
        request.method = "PUT"
    with pytest.raises(ServiceError) as raised:
        authenticate(request, "cases", _lookup, rest=True)
    assert raised.value.code in ("InvalidSignatureException", "IncompleteSignatureException")


def test_unsigned_payload_and_unsigned_target_are_refused():
    request = _signed("POST", "/", "", [("x-amz-content-sha256", "UNSIGNED-PAYLOAD")], b"{}",
                      "us-east-1", "cases")
    with pytest.raises(ServiceError, match="SHA-256 of the payload"):
        authenticate(request, "cases", _lookup, rest=True)

    aws = AWSRequest(method="POST", url="http://localhost:4566/", data=b"{}")
    SigV4Auth(Credentials(KEY, SECRET), "support", "us-east-1").add_auth(aws)
    pairs = [("host", "localhost:4566"), *aws.headers.items(),
             ("x-amz-target", "AWSSupport_20130415.ResolveCase")]  # added after signing
    request = WireRequest.build("POST", "/", "", pairs, b"{}")
    with pytest.raises(ServiceError, match="'X-Amz-Target' must be a 'SignedHeader'"):
        authenticate(request, "support", _lookup, rest=False)


@pytest.mark.parametrize("host", ["[", "x]", "[::1", "\u00e9\u00e9"])
def test_odd_host_headers_fail_the_signature_not_the_server(host):
    request = _signed("POST", "/", "", [], b"{}", "us-east-1", "cases")
    request.raw_headers = [(k, host if k == "host" else v) for k, v in request.raw_headers]
    with pytest.raises(ServiceError) as raised:
        authenticate(request, "cases", _lookup, rest=True)
    assert raised.value.code == "InvalidSignatureException"
