"""AWS protocol compliance cases, run backwards against our server-side wire layer.

The cases (botocore's own, ``tests/unit/protocols/`` of its sdist) describe clients:
``params`` -> HTTP request, and HTTP response -> parsed ``result``. A server has to do the
reverse, so:

* input cases: the HTTP request a client sends (``serialized``) must dispatch to the case's
  operation and our parser must yield exactly ``params``;
* output cases: from ``result`` (or the modeled error) our serializer must produce a response
  that botocore's own parser reads back as that ``result`` / error.

The cases come from the source distribution of the installed botocore on PyPI
(``protocol_suite.py`` downloads and caches them); nothing is copied into the repository.
Cases about client-only behaviour are listed once in ``CLIENT_ONLY`` and left out of the
parametrisation.
"""

from __future__ import annotations

import copy
import json
import math
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import botocore
import pytest
from botocore.compat import HTTPHeaders
from botocore.model import ServiceModel, Shape
from botocore.parsers import create_parser
from protocol_suite import FILES, suite_dir

from casework.wire.errors import ServiceError
from casework.wire.gateway import Gateway
from casework.wire.model import Service
from casework.wire.protocol import Json11, RestJson, WireRequest

TOTAL_CASES = 316  # what the README promises; a changed data set should be looked at, not run

# The one list of cases left out, each with its reason: they test what only a client does.
CLIENT_ONLY: dict[str, str] = {
    # host prefixes and endpoint paths are applied by clients; a server sees only the request
    "AwsJson11EndpointTrait": "client adds a host prefix from the endpoint trait",
    "AwsJson11EndpointTraitWithHostLabel": "client builds the host from a host label",
    "AwsJson11HostWithPath": "client prepends the endpoint's path to the URI",
    "RestJsonEndpointTrait": "client adds a host prefix from the endpoint trait",
    "RestJsonEndpointTraitWithHostLabel": "client builds the host from a host label",
    "RestJsonHostWithPath": "client prepends the endpoint's path to the URI",
    # values a client fills in when the caller leaves them out
    "RestJsonQueryIdempotencyTokenAutoFill": "client generates the idempotency token",
    # request compression is the client's transport choice
    "SDKAppliedContentEncoding_awsJson1_1": "client gzips the request body",
    "SDKAppendsGzipAndIgnoresHttpProvidedEncoding_awsJson1_1": "client gzips the request body",
    "SDKAppliedContentEncoding_restJson1": "client gzips the request body",
    "SDKAppendedGzipAfterProvidedEncoding_restJson1": "client gzips the request body",
    # checksums are computed by the client
    "RestJsonHttpChecksumRequired": "client computes Content-MD5",
    # query precedence: the client drops map entries that a named query member overrides
    "RestJsonQueryPrecedence": "client drops overridden map entries; lost on the wire",
    "RestJsonQueryParamsStringListMap": "client-side map; servers put every parameter in the "
                                        "map (checked by RestJsonAllQueryStringTypes)",
    # legacy spellings of an error code that clients must still read; a server writes one
    "AwsJson11FooErrorUsingXAmznErrorType": "client reads a legacy error-code spelling",
    "AwsJson11FooErrorUsingXAmznErrorTypeWithUri": "client reads a legacy error-code spelling",
    "AwsJson11FooErrorUsingXAmznErrorTypeWithUriAndNamespace": "client reads a legacy spelling",
    "AwsJson11FooErrorUsingCode": "client reads a legacy error-code spelling",
    "AwsJson11FooErrorUsingCodeAndNamespace": "client reads a legacy error-code spelling",
    "AwsJson11FooErrorUsingCodeUriAndNamespace": "client reads a legacy error-code spelling",
    "AwsJson11FooErrorWithDunderTypeAndNamespace": "client reads a legacy error-code spelling",
    "AwsJson11FooErrorWithDunderTypeUriAndNamespace": "client reads a legacy error-code spelling",
    "RestJsonFooErrorUsingXAmznErrorTypeWithUri": "client reads a legacy error-code spelling",
    "RestJsonFooErrorUsingXAmznErrorTypeWithUriAndNamespace": "client reads a legacy spelling",
    "RestJsonFooErrorUsingCode": "client reads a legacy error-code spelling",
    "RestJsonFooErrorUsingCodeAndNamespace": "client reads a legacy error-code spelling",
    "RestJsonFooErrorUsingCodeUriAndNamespace": "client reads a legacy error-code spelling",
    "RestJsonFooErrorWithDunderType": "client reads a legacy error-code spelling",
    "RestJsonFooErrorWithDunderTypeAndNamespace": "client reads a legacy error-code spelling",
    "RestJsonFooErrorWithDunderTypeUriAndNamespace": "client reads a legacy error-code spelling",
}

# Output cases that botocore's own parser (the installed version) cannot read back even from
# the suite's own response. They still run: our response is compared with the case's
# ``response`` (status, headers, body) instead of going through botocore.
BOTOCORE_CANNOT_PARSE: dict[str, str] = {
    "RestJsonInputAndOutputWithQuotedStringHeaders": "splits list headers on every comma",
    "RestJsonInputAndOutputWithTimestampHeaders": "splits HTTP dates in list headers apart",
    "RestJsonHttpPayloadWithUnsetUnion": "rejects an empty body for a union payload",
}


def _load() -> dict[str, list[tuple[dict, dict]]]:
    """Every (suite, case) per file, with the suite given a name our ``Service`` needs."""
    directory = suite_dir()
    out: dict[str, list[tuple[dict, dict]]] = {}
    for name in FILES:
        out[name] = [
            (suite, case)
            for suite in json.loads((directory / name).read_text())
            for case in suite["cases"]
        ]
    return out


CASES = _load()


def _params(name: str) -> list:
    return [
        pytest.param(suite, case, id=case["id"])
        for suite, case in CASES[name]
        if case["id"] not in CLIENT_ONLY
    ]


def service_for(suite: dict, case: dict) -> Service:
    """The suite's model with the case's operation, wrapped in our ``Service``."""
    metadata = dict(suite["metadata"])
    # The suites leave out the endpoint prefix that a real model always has; our Service reads
    # the signing name from it.
    metadata.setdefault("endpointPrefix", "protocoltest")
    given = copy.deepcopy(case["given"])
    description = {
        "metadata": metadata,
        "shapes": copy.deepcopy(suite["shapes"]),
        "operations": {given["name"]: given},
    }
    return Service(ServiceModel(description, service_name="protocoltest"))


# --------------------------------------------------------------------------- value normalisation


def _walk(shape: Shape | None, value: Any, leaf) -> Any:
    """Rebuild ``value`` along its shape, passing each scalar through ``leaf(kind, value)``."""
    if value is None or shape is None or shape.metadata.get("document"):
        return value
    kind = shape.type_name
    if kind == "structure":
        return {name: _walk(shape.members.get(name), item, leaf)
                for name, item in value.items() if item is not None}
    if kind == "list":
        return [_walk(shape.member, item, leaf) for item in value]
    if kind == "map":
        return {k: _walk(shape.value, v, leaf) for k, v in value.items()}
    return leaf(kind, value)


def _suite_scalar(kind: str, value: Any) -> Any:
    # Written out here rather than borrowed from wire/shapes.py: the suite checks that code.
    if kind == "timestamp" and isinstance(value, datetime):
        seconds = value.timestamp()
        return int(seconds) if seconds == int(seconds) else round(seconds, 3)
    if kind == "blob" and isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8")
    if kind in ("float", "double") and isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
    return value


def _handler_scalar(kind: str, value: Any) -> Any:
    if kind == "timestamp":
        return datetime.fromtimestamp(value, UTC)
    if kind == "blob":
        return value.encode("utf-8")
    if kind in ("float", "double") and isinstance(value, str):
        return float(value.replace("Infinity", "inf"))
    return value


def comparable(shape: Shape | None, value: Any) -> Any:
    """A parsed Python value in the suites' notation: epoch numbers, text blobs, 'NaN'."""
    return _walk(shape, value, _suite_scalar)


def handler_value(shape: Shape | None, value: Any) -> Any:
    """A case's ``result`` as a handler returns it: datetimes, bytes, floats."""
    return _walk(shape, value, _handler_scalar)


def expected_params(shape: Shape | None, params: Any, top: bool = True) -> Any:
    """The case's ``params`` as a server can know them.

    Members set to null are never sent, and neither are empty query lists or header maps
    (there is no way to write one); a server cannot tell either from absence.
    """
    if shape is None or params is None:
        return params
    if shape.metadata.get("document"):
        return params
    kind = shape.type_name
    if kind == "structure":
        out = {}
        for name, item in params.items():
            member = shape.members[name]
            if item is None:
                continue
            location = member.serialization.get("location")
            if top and location in ("querystring", "headers") and item in ([], {}):
                continue  # nothing is sent for an empty query list or header map
            if location == "header" and member.serialization.get("jsonvalue"):
                # The suite writes a JSON-valued header as its JSON text; handlers get the
                # decoded value, as botocore's own parser hands it to callers.
                item = json.loads(item)
            out[name] = expected_params(member, item, top=False)
        return out
    if kind == "list":
        return [expected_params(shape.member, item, top=False) for item in params]
    if kind == "map":
        return {k: expected_params(shape.value, v, top=False) for k, v in params.items()}
    return params


# --------------------------------------------------------------------------- input cases


def wire_request(serialized: dict) -> WireRequest:
    """The HTTP request a client sent, as our gateway would hand it to the protocol layer."""
    parts = urlsplit(serialized["uri"])
    body = serialized.get("body", "")
    return WireRequest.build(
        method=serialized["method"],
        raw_path=parts.path,
        query_string=parts.query,
        header_pairs=list(serialized.get("headers", {}).items()),
        body=body.encode("utf-8") if isinstance(body, str) else body,
    )


def parse_input(service: Service, request: WireRequest) -> tuple[str, dict]:
    """Dispatch and parse as the gateway does; returns (operation name, params)."""
    if service.protocol == "json":
        gateway = Gateway([service], set(), lookup=lambda key: None,
                          invoke=lambda op, params, principal: {}, max_body_bytes=1 << 20)
        op = gateway.targets.get(request.headers.get("x-amz-target", ""))
        assert op is not None, f"no operation for target {request.headers.get('x-amz-target')}"
        return op.name, Json11().parse(op, request)
    found = service.match(request.method, request.raw_path, request.query)
    assert found is not None, f"no route for {request.method} {request.raw_path}"
    op, labels = found
    return op.name, RestJson().parse(op, request, labels)


def check_input(suite: dict, case: dict) -> None:
    service = service_for(suite, case)
    name = case["given"]["name"]
    op_name, params = parse_input(service, wire_request(case["serialized"]))
    assert op_name == name
    shape = service.operations[name].input_shape
    assert comparable(shape, params) == expected_params(shape, case["params"])


@pytest.mark.parametrize(("suite", "case"), _params("input/json.json"))
def test_json11_input(suite, case):
    check_input(suite, case)


@pytest.mark.parametrize(("suite", "case"), _params("input/rest-json.json"))
def test_rest_json_input(suite, case):
    check_input(suite, case)


# --------------------------------------------------------------------------- output cases


def botocore_reads(service: Service, response, shape: Shape | None, error: bool) -> dict:
    """What botocore's own parser makes of our response (modeled error members merged)."""
    parser = create_parser(service.protocol)
    headers = HTTPHeaders()
    for key, value in response.headers:
        headers[key] = value
    raw = {"status_code": response.status, "headers": headers, "body": response.body}
    parsed = parser.parse(raw, shape)
    if error:
        # As botocore's client does: read the code, then the modeled error shape's members.
        error_shape = service.model.shape_for_error_code(parsed["Error"]["Code"])
        if error_shape is not None:
            modeled = parser.parse(dict(raw), error_shape)
            modeled.pop("ResponseMetadata", None)
            parsed.update(comparable(error_shape, modeled))
    parsed.pop("ResponseMetadata", None)
    return parsed


def same_as_case_response(response, case: dict) -> None:
    """Our response against the suite's own: status, every header it lists, and the body."""
    expected = case["response"]
    assert response.status == expected.get("status_code", 200)
    ours = {k.lower(): v for k, v in response.headers}
    for name, value in expected.get("headers", {}).items():
        if name.lower() == "content-length":
            assert len(response.body) == int(value)
        else:
            assert ours.get(name.lower()) == value, name
    body = expected.get("body", "")
    if body.strip():
        assert json.loads(response.body) == json.loads(body)
    else:
        assert response.body == b""


def check_output(suite: dict, case: dict) -> None:
    service = service_for(suite, case)
    op = service.operations[case["given"]["name"]]
    protocol = Json11() if service.protocol == "json" else RestJson()
    if "error" in case or "errorCode" in case:
        code = case["errorCode"]
        error_shape = service.model.shape_for_error_code(code)
        fields = handler_value(error_shape, dict(case.get("error", {})))
        message = fields.pop("Message", None) or fields.pop("message", None) or ""
        response = protocol.serialize_error(op, ServiceError(code, message, **fields))
        assert response.status == case["response"]["status_code"]
        parsed = botocore_reads(service, response, op.output_shape, error=True)
        expected = {"Error": {"Code": code, "Message": case.get("errorMessage", "")},
                    **case.get("error", {})}
        assert parsed == expected
        return
    result = handler_value(op.output_shape, case["result"])
    response = protocol.serialize(op, result)
    if case["id"] in BOTOCORE_CANNOT_PARSE:
        same_as_case_response(response, case)
        return
    assert response.status == case["response"].get("status_code", 200)
    parsed = comparable(op.output_shape, botocore_reads(service, response, op.output_shape,
                                                        error=False))
    payload = op.output_shape.serialization.get("payload") if op.output_shape else None
    if payload and parsed.get(payload) == "" and payload not in case["result"]:
        # botocore reads a blob or string payload from the body even when it is empty; an
        # empty body is how an unset payload travels.
        del parsed[payload]
    assert parsed == case["result"]


@pytest.mark.parametrize(("suite", "case"), _params("output/json.json"))
def test_json11_output(suite, case):
    check_output(suite, case)


@pytest.mark.parametrize(("suite", "case"), _params("output/rest-json.json"))
def test_rest_json_output(suite, case):
    check_output(suite, case)


# --------------------------------------------------------------------------- bookkeeping


def test_every_case_is_run_or_excluded_for_a_reason(capsys):
    """The exclusion list names real cases only, and run + excluded covers all of them."""
    ids = [case["id"] for cases in CASES.values() for _, case in cases]
    assert len(ids) == TOTAL_CASES
    unknown = (set(CLIENT_ONLY) | set(BOTOCORE_CANNOT_PARSE)) - set(ids)
    assert not unknown, f"listed ids that are no case: {sorted(unknown)}"
    excluded = [i for i in ids if i in CLIENT_ONLY]
    with capsys.disabled():
        print(f"\nprotocol compliance: {len(ids) - len(excluded)} cases run, "
              f"{len(excluded)} excluded as client-only:")
        for case_id in excluded:
            print(f"  {case_id}: {CLIENT_ONLY[case_id]}")
        print(f"checked against the suite's response (botocore {botocore.__version__} "
              "cannot parse it):")
        for case_id, reason in BOTOCORE_CANNOT_PARSE.items():
            print(f"  {case_id}: {reason}")

