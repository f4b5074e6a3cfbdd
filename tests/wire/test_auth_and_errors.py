"""The wire as a client sees it: SigV4 failures, error shapes, request ids, bad bodies.

Raw HTTP (httpx) against a real ``casework serve``, signed with botocore's own SigV4 signer
where a signature is needed, so that every byte is what an SDK would send.
"""

from __future__ import annotations

import json
import socket
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from conftest import REGION

from casework.config import Settings

ARN = "arn:aws:cases:us-east-1:000000000000:domain/d-missing"
ARN_PATH = "/tags/" + ARN.replace(":", "%3A").replace("/", "%2F")


class _SignedAt(SigV4Auth):
    """botocore's SigV4 signer with the signing time chosen by the test."""

    def __init__(self, credentials, service, region, moment: datetime):
        super().__init__(credentials, service, region)
        self.moment = moment

    def add_auth(self, request):
        request.context["timestamp"] = self.moment.strftime(SIGV4_TIMESTAMP)
        self._modify_request_before_signing(request)
        canonical = self.canonical_request(request)
        signature = self.signature(self.string_to_sign(request, canonical), request)
        self._inject_signature_to_request(request, signature)


# Two calls, one per protocol: (signing name, method, path, headers, body).
SUPPORT_CALL = ("support", "POST", "/", {
    "X-Amz-Target": "AWSSupport_20130415.DescribeSeverityLevels",
    "Content-Type": "application/x-amz-json-1.1"}, b"{}")
CASES_CALL = ("cases", "GET", ARN_PATH, {}, b"")
PROTOCOLS = [
    pytest.param(SUPPORT_CALL, 400, id="json1.1"),
    pytest.param(CASES_CALL, 403, id="rest-json"),
]


def send(server, call, key="test", secret="test", moment=None, body=None, sign=True,
         extra_headers=None) -> httpx.Response:
    """Send ``call`` signed (or not) as botocore signs; ``body`` replaces the signed body."""
    service, method, path, headers, signed_body = call
    url = server.endpoint + path
    request = AWSRequest(method=method, url=url, data=signed_body, headers=dict(headers))
    if sign:
        _SignedAt(Credentials(key, secret), service, REGION,
                  moment or datetime.now(UTC)).add_auth(request)
    out_headers = {k: v for k, v in request.headers.items()}
    out_headers.update(extra_headers or {})
    return httpx.request(method, url, headers=out_headers,
                         content=signed_body if body is None else body, timeout=30)


def error_of(response: httpx.Response) -> tuple[int, str, str]:
    """(status, code, message) as an SDK reads them for either protocol."""
    body = response.json()
    code = body.get("__type") or response.headers.get("x-amzn-errortype")
    return response.status_code, code, body.get("message") or body.get("Message")


# --------------------------------------------------------------------------- authentication


@pytest.mark.parametrize(("call", "status"), PROTOCOLS)
def test_signed_request_is_accepted(server, call, status):
    response = send(server, call)
    assert response.status_code < 400 or error_of(response)[1] == "ResourceNotFoundException"


@pytest.mark.parametrize(("call", "status"), PROTOCOLS)
def test_no_signature(server, call, status):
    assert error_of(send(server, call, sign=False)) == (
        status, "MissingAuthenticationTokenException", "Missing Authentication Token")


@pytest.mark.parametrize(("call", "status"), PROTOCOLS)
def test_unknown_access_key(server, call, status):
    assert error_of(send(server, call, key="AKIANOSUCHKEY0000000")) == (
        status, "UnrecognizedClientException",
        "The security token included in the request is invalid.")


@pytest.mark.parametrize(("call", "status"), PROTOCOLS)
def test_wrong_secret(server, call, status):
    code_status = error_of(send(server, call, secret="not-the-secret"))
    assert code_status[:2] == (status, "InvalidSignatureException")
    assert code_status[2].startswith(
        "The request signature we calculated does not match the signature you provided.")


@pytest.mark.parametrize("declared", [b"0" * 64, "\u00e9".encode(), b"\xe9"],
                         ids=["other hash", "utf-8", "latin-1"])
@pytest.mark.parametrize(("call", "status"), PROTOCOLS)
def test_payload_hash_that_does_not_match(server, call, status, declared):
    # Checked before the signature; a header of any bytes is refused like a wrong hash.
    response = send(server, call, extra_headers={"X-Amz-Content-Sha256": declared})
    assert error_of(response) == (
        status, "InvalidSignatureException",
        "The provided 'x-amz-content-sha256' header does not match what was computed.")


@pytest.mark.parametrize(("call", "status"), PROTOCOLS)
def test_signature_expired(server, call, status):
    moment = datetime.now(UTC) - timedelta(minutes=20)
    got_status, code, message = error_of(send(server, call, moment=moment))
    assert (got_status, code) == (status, "InvalidSignatureException")
    stamp = moment.strftime("%Y%m%dT%H%M%SZ")
    assert message.startswith(f"Signature expired: {stamp} is now earlier than ")
    assert message.endswith(" - 15 min.)")


@pytest.mark.parametrize(("call", "status"), PROTOCOLS)
def test_signature_from_the_future(server, call, status):
    moment = datetime.now(UTC) + timedelta(minutes=20)
    got_status, code, message = error_of(send(server, call, moment=moment))
    assert (got_status, code) == (status, "InvalidSignatureException")
    stamp = moment.strftime("%Y%m%dT%H%M%SZ")
    assert message.startswith(f"Signature not yet current: {stamp} is still later than ")


@pytest.mark.parametrize(("call", "status"), PROTOCOLS)
def test_a_few_minutes_of_clock_skew_is_fine(server, call, status):
    response = send(server, call, moment=datetime.now(UTC) - timedelta(minutes=10))
    assert response.status_code < 400 or error_of(response)[1] == "ResourceNotFoundException"


@pytest.mark.parametrize(("call", "status"), [
    pytest.param((*SUPPORT_CALL[:4], b'{"language": "en"}'), 400, id="json1.1"),
    pytest.param(("cases", "POST", ARN_PATH, {"Content-Type": "application/json"},
                  b'{"tags": {"team": "blue"}}'), 403, id="rest-json"),
])
def test_tampered_body(server, call, status):
    tampered = call[4].replace(b'n"', b'N"').replace(b"blue", b"gold")
    assert tampered != call[4]
    got_status, code, message = error_of(send(server, call, body=tampered))
    assert (got_status, code) == (status, "InvalidSignatureException")
    assert message.startswith("The request signature we calculated does not match")


@pytest.mark.parametrize(("call", "status"), PROTOCOLS)
def test_tampered_signed_header(server, call, status):
    response = send(server, call, extra_headers={"X-Amz-Date": "20200101T000000Z"})
    assert error_of(response)[:2] == (status, "InvalidSignatureException")


@pytest.mark.parametrize(("call", "status"), PROTOCOLS)
def test_garbled_authorization_header(server, call, status):
    response = send(server, call, sign=False, extra_headers={
        "Authorization": "AWS4-HMAC-SHA256 Credential=test", "X-Amz-Date": "20200101T000000Z"})
    assert error_of(response) == (
        status, "IncompleteSignatureException",
        "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
        "parameters for AWS4-HMAC-SHA256 signatures.")


def test_credential_scoped_to_another_service(server):
    call = ("support", *CASES_CALL[1:])  # a Connect Cases request signed for 'support'
    assert error_of(send(server, call)) == (
        403, "InvalidSignatureException", "Credential should be scoped to correct service: "
                                          "'cases'.")


def test_sdk_signed_labels_and_query_strings_verify(server, connectcases):
    # botocore escapes the ARN in the path and signs the escaped form; a query string too.
    with pytest.raises(ClientError) as caught:
        connectcases.list_tags_for_resource(arn=ARN)
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as caught:
        connectcases.untag_resource(arn=ARN, tagKeys=["team", "a/b:c=d", "x+y"])
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


# --------------------------------------------------------------------------- request ids


def test_every_response_carries_a_request_id(server):
    responses = [
        send(server, SUPPORT_CALL),                                      # success
        send(server, CASES_CALL),                                        # REST answer
        send(server, SUPPORT_CALL, sign=False),                          # auth failure
        send(server, CASES_CALL, sign=False),
        send(server, SUPPORT_CALL, body=b"{"),                           # bad signature
        send(server, ("support", "POST", "/", {**SUPPORT_CALL[3],
              "X-Amz-Target": "AWSSupport_20130415.Nope"}, b"{}")),      # unknown target
        send(server, ("cases", "GET", "/nowhere", {}, b"")),             # unknown route
        send(server, ("support", "POST", "/", {**SUPPORT_CALL[3],
              "X-Amz-Target": "AWSSupport_20130415.CreateCase"}, b"{}")),  # validation
    ]
    ids = [r.headers.get("x-amzn-RequestId") for r in responses]
    for response, request_id in zip(responses, ids, strict=True):
        assert request_id, response.text
        uuid.UUID(request_id)
    assert len(set(ids)) == len(ids)


def test_a_rest_path_ignores_x_amz_target(server):
    # The header names a JSON 1.1 operation only on "/": a REST call carrying one is still
    # answered as REST (here the tags of a missing domain), signed with or without it.
    for signed in (True, False):
        headers = {"X-Amz-Target": "Foo.Bar"}
        call = ("cases", *CASES_CALL[1:3], headers if signed else {}, b"")
        response = send(server, call, extra_headers=None if signed else headers)
        assert response.status_code == 404
        assert response.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
        assert "__type" not in response.json()


def test_sdk_sees_the_request_id(support):
    metadata = support.describe_severity_levels()["ResponseMetadata"]
    assert uuid.UUID(metadata["RequestId"])


# --------------------------------------------------------------------------- error shapes


def test_json11_error_shape(server):
    call = ("support", "POST", "/", {**SUPPORT_CALL[3],
            "X-Amz-Target": "AWSSupport_20130415.CreateCase"}, b'{"subject": "s"}')
    response = send(server, call)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/x-amz-json-1.1"
    assert response.json() == {
        "__type": "ValidationException",
        "message": "1 validation error detected: Value null at 'communicationBody' failed to "
                   "satisfy constraint: Member must not be null",
    }


def test_json11_modeled_error(server):
    call = ("support", "POST", "/", {**SUPPORT_CALL[3],
            "X-Amz-Target": "AWSSupport_20130415.DescribeCases"},
            b'{"caseIdList": ["case-000000000000-muen-2013-0000000000000000"]}')
    response = send(server, call)
    body = response.json()
    assert (response.status_code, body["__type"]) == (400, "CaseIdNotFound")
    assert set(body) == {"__type", "message"}


def test_rest_json_error_shape(server):
    call = ("cases", "POST", "/domains", {"Content-Type": "application/json"},
            b'{"name": "  "}')
    response = send(server, call)
    assert response.status_code == 400
    assert response.headers["x-amzn-ErrorType"] == "ValidationException"
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "message": "1 validation error detected: Value '  ' at 'name' failed to satisfy "
                   r"constraint: Member must satisfy regular expression pattern: .*[\S]",
    }


def test_rest_json_modeled_error_members(server, connectcases):
    response = send(server, ("cases", "POST", "/domains/d-nosuchdomain", {}, b""))
    status, code, message = error_of(response)
    assert (status, code) == (404, "ResourceNotFoundException")
    assert "__type" not in response.json()
    # Only members of the modeled error shape travel in the body.
    modeled = set(connectcases.meta.service_model.shape_for(
        "ResourceNotFoundException").members)
    assert set(response.json()) <= modeled
    assert message


# --------------------------------------------------------------------------- bad bodies


@pytest.mark.parametrize(("call", "body", "message"), [
    pytest.param(SUPPORT_CALL, b"{not json", "The request body is not valid JSON.",
                 id="json1.1-not-json"),
    pytest.param(SUPPORT_CALL, b"\xff\xfe\x00", "The request body is not valid JSON.",
                 id="json1.1-not-utf8"),
    pytest.param(SUPPORT_CALL, b"[]", "The request body must be a JSON object.",
                 id="json1.1-array"),
    pytest.param(SUPPORT_CALL, b'{"language": 5}', "Expected a string at 'language'",
                 id="json1.1-wrong-type"),
    pytest.param(("cases", "POST", "/domains", {"Content-Type": "application/json"}, b""),
                 b"name=x", "The request body is not valid JSON.", id="rest-json-not-json"),
    pytest.param(("cases", "POST", "/domains", {"Content-Type": "application/json"}, b""),
                 b'{"name": ["a"]}', "Expected a string at 'name'", id="rest-json-wrong-type"),
    pytest.param(("cases", "POST", "/domains-list?maxResults=many", {}, b""), b"",
                 "Expected a number at 'maxResults'", id="rest-json-query-type"),
    # A recursive shape (CaseFilter.not) nested 500 deep once overflowed the stack: a 500.
    pytest.param(("cases", "POST", "/domains/d/cases-search", {}, b""),
                 b'{"filter":' + b'{"not":' * 500 + b"{}" + b"}" * 501,
                 "The request body is nested more than 100 levels deep.", id="rest-json-deep"),
    pytest.param(SUPPORT_CALL, b"[" * 300 + b"]" * 300,
                 "The request body is nested more than 100 levels deep.", id="json1.1-deep"),
])
def test_unreadable_bodies_are_serialization_errors(server, call, body, message):
    # Sign the body that is actually sent: these are well-signed requests with bad content.
    response = send(server, (*call[:4], body))
    assert error_of(response) == (400, "SerializationException", message)
    assert response.headers.get("x-amzn-RequestId")


def test_declared_oversized_body_is_413(server):
    limit = Settings().max_body_bytes
    host, port = urlsplit(server.endpoint).netloc.split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            f"POST / HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: {limit + 1}\r\n"
            "X-Amz-Target: AWSSupport_20130415.CreateCase\r\n"
            "Content-Type: application/x-amz-json-1.1\r\n\r\n".encode())
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert b"x-amzn-requestid:" in head.lower()
    assert json.loads(body)["__type"] == "RequestEntityTooLargeException"


def test_streamed_oversized_body_is_413(server):
    limit = Settings().max_body_bytes
    chunk = b"x" * (1 << 20)

    def body():  # no Content-Length: the server has to count while reading
        sent = 0
        while sent <= limit:
            yield chunk
            sent += len(chunk)

    # Signed (the body is left out of the signature), since an unsigned request is refused
    # before its body is read.
    signed = AWSRequest(method="POST", url=server.endpoint + "/domains", data=b"",
                        headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials("test", "test"), "cases", REGION).add_auth(signed)
    headers = {k: v for k, v in signed.headers.items() if k.lower() != "x-amz-content-sha256"}
    response = httpx.post(server.endpoint + "/domains", content=body(), timeout=60,
                          headers=headers)
    assert response.status_code == 413
    assert response.headers["x-amzn-ErrorType"] == "RequestEntityTooLargeException"
    assert response.headers.get("x-amzn-RequestId")
