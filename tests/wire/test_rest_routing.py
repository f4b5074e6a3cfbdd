"""Dispatch: REST-JSON routes (method + URI template) and JSON 1.1 targets, from the models.

Requests are made by botocore's own serializer, so labels and query strings are encoded
exactly as the SDKs encode them.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import orjson
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, create_request_object, prepare_request_dict
from botocore.credentials import Credentials
from botocore.serialize import create_serializer

from casework.wire.gateway import Gateway
from casework.wire.model import load_service
from casework.wire.protocol import RestJson, WireRequest

SUPPORT = load_service("support")
CASES = load_service("connectcases")
ARN = "arn:aws:cases:us-east-1:000000000000:domain/d-1234/case/c-9"
KEY, SECRET, ACCOUNT = "AKIDROUTING", "routing-secret", "000000000000"


def label_values(op) -> dict[str, str]:
    """A distinct value for every URI label of an operation (some need escaping)."""
    values = {}
    for name, member in op.input_shape.members.items():
        if member.serialization.get("location") == "uri":
            values[name] = ARN if name == "arn" else f"{name}-v/1:2 3"
    return values


def botocore_request(service, operation: str, params: dict) -> WireRequest:
    """The request botocore would send for these params, as our gateway receives it."""
    op_model = service.model.operation_model(operation)
    serializer = create_serializer(service.protocol, include_validation=False)
    request_dict = serializer.serialize_to_request(params, op_model)
    prepare_request_dict(request_dict, endpoint_url="http://localhost")
    prepared = create_request_object(request_dict).prepare()
    url = urlsplit(prepared.url)
    body = prepared.body or b""
    return WireRequest.build(prepared.method, url.path, url.query,
                             list(prepared.headers.items()),
                             body if isinstance(body, bytes) else body.encode())


@pytest.mark.parametrize("operation", sorted(CASES.operations))
def test_every_connectcases_operation_routes_back_to_itself(operation):
    op = CASES.operations[operation]
    labels = label_values(op)
    request = botocore_request(CASES, operation, labels)
    found = CASES.match(request.method, request.raw_path, request.query)
    assert found is not None, f"{request.method} {request.raw_path}"
    matched, decoded = found
    assert matched.name == operation
    wire_names = {op.input_shape.members[n].serialization.get("name", n): n for n in labels}
    assert {wire_names[k]: v for k, v in decoded.items()} == labels


def test_arn_label_is_percent_decoded():
    request = botocore_request(CASES, "ListTagsForResource", {"arn": ARN})
    # botocore escapes ':' and '/' inside the label, so the ARN stays one path segment.
    assert request.raw_path == "/tags/" + ARN.replace(":", "%3A").replace("/", "%2F")
    op, labels = CASES.match(request.method, request.raw_path, request.query)
    assert (op.name, labels) == ("ListTagsForResource", {"arn": ARN})


def test_same_path_different_methods():
    path = "/tags/" + ARN.replace(":", "%3A").replace("/", "%2F")
    assert CASES.match("GET", path, {})[0].name == "ListTagsForResource"
    assert CASES.match("POST", path, {})[0].name == "TagResource"
    assert CASES.match("DELETE", path, {"tagKeys": ["a"]})[0].name == "UntagResource"
    assert CASES.match("PATCH", path, {}) is None


def test_repeated_query_keys_become_a_list():
    request = botocore_request(CASES, "UntagResource", {"arn": ARN, "tagKeys": ["team", "cost"]})
    assert request.query_string.count("tagKeys=") == 2
    op, labels = CASES.match(request.method, request.raw_path, request.query)
    params = RestJson().parse(op, request, labels)
    assert params == {"arn": ARN, "tagKeys": ["team", "cost"]}


def test_a_single_query_value_is_still_a_list():
    request = botocore_request(CASES, "UntagResource", {"arn": ARN, "tagKeys": ["team"]})
    op, labels = CASES.match(request.method, request.raw_path, request.query)
    assert RestJson().parse(op, request, labels)["tagKeys"] == ["team"]


def test_query_values_are_percent_decoded_and_typed():
    request = botocore_request(CASES, "ListFieldOptions", {
        "domainId": "d", "fieldId": "f", "maxResults": 5, "nextToken": "a/b+c=",
        "values": ["x y", "ü"],
    })
    op, labels = CASES.match(request.method, request.raw_path, request.query)
    assert RestJson().parse(op, request, labels) == {
        "domainId": "d", "fieldId": "f", "maxResults": 5, "nextToken": "a/b+c=",
        "values": ["x y", "ü"],
    }


def test_trailing_slash_templates_match_with_and_without_it():
    assert CASES.match("POST", "/domains/d/cases/c/related-items/", {})[0].name == (
        "CreateRelatedItem")
    assert CASES.match("POST", "/domains/d/cases/c/related-items", {})[0].name == (
        "CreateRelatedItem")


def test_literal_segments_win_over_labels():
    # '/domains/{domainId}/cases' (CreateCase) and '/domains/{domainId}' (GetDomain) share
    # a prefix; 'fields-batch' is a literal next to the '{fieldId}' label of other routes.
    assert CASES.match("POST", "/domains/d/cases", {})[0].name == "CreateCase"
    assert CASES.match("POST", "/domains/d", {})[0].name == "GetDomain"
    assert CASES.match("POST", "/domains/d/fields-batch", {})[0].name == "BatchGetField"
    assert CASES.match("PUT", "/domains/d/fields/fields-batch", {})[0].name == "UpdateField"


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/"),
    ("POST", "/nothing-here"),
    ("POST", "/domains/d/unknown"),
    ("POST", "/domains//cases"),         # an empty label is no label
    ("POST", "/Domains/d/cases"),        # literals are case-sensitive
    ("GET", "/domains/d/cases/c"),       # right path, wrong method
    ("GET", "/tags"),                    # label missing
    ("POST", "/domains/d/cases/c/related-items/r/extra"),
])
def test_unknown_routes_match_nothing(method, path):
    assert CASES.match(method, path, {}) is None


def test_every_support_target_dispatches_to_its_operation():
    gateway = _gateway()
    for name in SUPPORT.operations:
        assert gateway.targets[f"AWSSupport_20130415.{name}"].name == name
    assert len([t for t in gateway.targets if t.startswith("AWSSupport_20130415.")]) == (
        len(SUPPORT.operations))


# --------------------------------------------------------------------------- through the gateway


def _gateway() -> Gateway:
    # One access key; invoke is never reached by these requests.
    return Gateway([SUPPORT, CASES], implemented=set(),
                   lookup=lambda key: (SECRET, ACCOUNT) if key == KEY else None,
                   invoke=lambda op, params, principal: {}, max_body_bytes=1 << 20)


def _handle(request: WireRequest):
    return asyncio.run(_gateway().handle(request))


def _signed(method: str, path: str, service: str, body: bytes = b"",
            headers: dict | None = None) -> WireRequest:
    aws = AWSRequest(method=method, url=f"http://localhost{path}", data=body,
                     headers=headers or {})
    signer = SigV4Auth(Credentials(KEY, SECRET), service, "us-east-1")
    signer.add_auth(aws)
    raw_path, _, query = path.partition("?")
    pairs = [("host", "localhost"), *aws.headers.items()]
    return WireRequest.build(method, raw_path, query, pairs, body)


def _error(response) -> tuple[int, str, str]:
    body = orjson.loads(response.body)
    headers = dict(response.headers)
    code = body.get("__type") or headers.get("x-amzn-errortype")
    return response.status, code, body.get("message")


def test_unknown_rest_route_is_unknown_operation():
    response = _handle(_signed("POST", "/domains/d/unknown", "cases"))
    assert _error(response) == (
        404, "UnknownOperationException", "No operation matches POST /domains/d/unknown")


def test_unknown_json_target_is_unknown_operation():
    request = _signed("POST", "/", "support", b"{}", {
        "X-Amz-Target": "AWSSupport_20130415.DescribeEverything",
        "Content-Type": "application/x-amz-json-1.1"})
    assert _error(_handle(request)) == (
        400, "UnknownOperationException",
        "Unknown operation AWSSupport_20130415.DescribeEverything")


def test_unknown_json_service_prefix_is_unknown_operation():
    request = _signed("POST", "/", "support", b"{}", {
        "X-Amz-Target": "DynamoDB_20120810.ListTables",
        "Content-Type": "application/x-amz-json-1.1"})
    assert _error(_handle(request)) == (
        400, "UnknownOperationException", "Unknown operation DynamoDB_20120810.ListTables")


def test_known_route_without_handler_is_not_implemented():
    path = "/tags/" + ARN.replace(":", "%3A").replace("/", "%2F")
    assert _error(_handle(_signed("GET", path, "cases"))) == (
        501, "NotImplementedException",
        "Casework does not implement connectcases ListTagsForResource yet.")

