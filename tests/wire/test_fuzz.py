"""Robustness: inputs generated from the model shapes, and junk, never get a 500.

For every operation of both models, hypothesis builds requests two ways and sends them,
properly signed, to a real server of our own (so the generated data stays out of other
tests' way):

* shaped: values of the right JSON type for every member, with lengths, ranges, enums and
  patterns sometimes met and sometimes not;
* junk: wrong types at real member names, huge strings, deep nesting, invalid UTF-8, bad
  base64, strange labels and query values.

Every answer must be an AWS-shaped response below 500.
"""

from __future__ import annotations

import base64
import contextlib
import os
from urllib.parse import quote, urlencode

import httpx
import orjson
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.model import Shape
from conftest import REGION, start_server
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casework.wire.model import Operation, load_service

SERVICES = [load_service("support"), load_service("connectcases")]
OPERATIONS = [op for service in SERVICES for op in service.operations.values()]
# Six examples per operation and kind keep the suite near ten seconds; set
# CASEWORK_FUZZ_EXAMPLES=200 for a deeper hunt.
FUZZ = settings(max_examples=int(os.environ.get("CASEWORK_FUZZ_EXAMPLES", "6")),
                deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    running = start_server(tmp_path_factory.mktemp("fuzz"))
    with httpx.Client(timeout=60) as client:
        yield running, client
    running.stop()


@pytest.fixture(scope="module")
def known(fuzz_server) -> dict[str, list[str]]:
    """Ids of real resources, so that generated requests get past 'not found' into handlers.

    Built with the SDKs; a resource whose operation is not implemented yet is left out.
    """
    server, _ = fuzz_server
    ids: dict[str, list[str]] = {}
    support = server.client("support")
    cases = server.client("connectcases")
    steps = [
        ("caseId", lambda: support.create_case(subject="fuzz", communicationBody="b")["caseId"]),
        ("domainId", lambda: cases.create_domain(name="fuzz")["domainId"]),
        ("fieldId", lambda: cases.create_field(domainId=ids["domainId"][0], name="fuzz",
                                               type="Text")["fieldId"]),
        ("templateId", lambda: cases.create_template(domainId=ids["domainId"][0],
                                                     name="fuzz")["templateId"]),
        ("caseId", lambda: cases.create_case(
            domainId=ids["domainId"][0], templateId=ids["templateId"][0],
            fields=[{"id": "title", "value": {"stringValue": "fuzz"}}])["caseId"]),
    ]
    for name, create in steps:
        # Skipped when not implemented yet (or when it needs one that is not).
        with contextlib.suppress(ClientError, KeyError, IndexError):
            ids.setdefault(name, []).append(create())
    return ids


# --------------------------------------------------------------------------- shaped values

JSON_SCALARS = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(
    allow_nan=False, allow_infinity=False) | st.text(max_size=20)
ANY_JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)


def _sized(shape: Shape, cap: int) -> tuple[int, int]:
    """Sizes around the declared bounds: just inside and just outside them."""
    low = int(shape.metadata.get("min", 0))
    high = int(shape.metadata.get("max", cap))
    return max(0, low - 1), min(high + 1, max(low + 1, cap))


def shaped(shape: Shape, depth: int = 0, known: dict | None = None,
           name: str = "") -> st.SearchStrategy:
    """JSON values of the shape's type; constraints are met only some of the time.

    ``known`` maps member names (``domainId``, ``caseId``...) to ids of real resources,
    which string members of that name use half of the time.
    """
    known = known or {}
    if shape.type_name == "string" and known.get(name):
        return st.sampled_from(known[name]) | shaped(shape, depth)
    kind = shape.type_name
    if shape.metadata.get("document"):
        return ANY_JSON
    if kind == "structure":
        members = {
            m.serialization.get("name", name): m for name, m in shape.members.items()
            if not m.serialization.get("location")
        }
        if depth > 3 or not members:
            return st.just({})
        if shape.metadata.get("union"):
            return st.one_of(
                st.just({}),
                *[st.fixed_dictionaries({n: shaped(m, depth + 1, known, n)})
                  for n, m in members.items()],
            )
        required = set(shape.required_members)
        return st.fixed_dictionaries(
            {n: shaped(m, depth + 1, known, n) for n, m in members.items() if n in required},
            optional={n: shaped(m, depth + 1, known, n) for n, m in members.items()
                      if n not in required},
        )
    if kind == "list":
        low, high = _sized(shape, 4)
        return st.lists(shaped(shape.member, depth + 1, known, name), min_size=min(low, 3),
                        max_size=min(high, 4 if depth else 12))
    if kind == "map":
        return st.dictionaries(shaped(shape.key, depth + 1), shaped(shape.value, depth + 1),
                               max_size=4)
    if kind == "string":
        options = []
        enum = getattr(shape, "enum", None)
        if enum:
            options.append(st.sampled_from(enum))
        pattern = shape.metadata.get("pattern")
        if pattern:
            options.append(st.from_regex(pattern, fullmatch=True).filter(lambda s: len(s) < 600))
        low, high = _sized(shape, 40)
        options.append(st.text(min_size=low, max_size=min(high, 40)))
        if high > 40:
            options.append(st.sampled_from([high - 1, high, high + 1]).map(lambda n: "y" * n))
        return st.one_of(options)
    if kind in ("integer", "long"):
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        around = [v for b in (low, high) if b is not None for v in (b - 1, b, b + 1)]
        return st.sampled_from(around or [0]) | st.integers(-(2**31), 2**31 - 1)
    if kind in ("float", "double"):
        return st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(
            ["NaN", "Infinity", "-Infinity"])
    if kind == "boolean":
        return st.booleans()
    if kind == "blob":
        return st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode())
    if kind == "timestamp":
        return st.integers(0, 2**33) | st.floats(0, 2e9) | st.sampled_from(
            ["2024-02-29T12:00:00Z", "2024-02-29T12:00:00.123+02:00", "yesterday"])
    return ANY_JSON


def text_for(shape: Shape, choices: list[str] | None = None) -> st.SearchStrategy:
    """Text for a label, query value or header: valid forms and others."""
    if choices:
        return st.sampled_from(choices) | text_for(shape)
    kind = shape.type_name
    if kind in ("integer", "long"):
        return st.integers(-5, 200).map(str) | st.sampled_from(["", "1.5", "ten", "9" * 30])
    if kind == "boolean":
        return st.sampled_from(["true", "false", "TRUE", "1", ""])
    if kind == "list":
        return text_for(shape.member)
    low, high = _sized(shape, 30)
    return st.text(min_size=max(low, 1), max_size=min(high, 30)) | st.sampled_from(
        ["arn:aws:cases:us-east-1:000000000000:domain/d/case/c", "..", "%", "a/b", " "])


# --------------------------------------------------------------------------- junk values

HUGE = st.integers(10_000, 400_000).map(lambda n: "z" * n)
DEEP = st.integers(50, 5_000).map(lambda n: "[" * n + "]" * n)


def junk_bodies(op: Operation, known: dict) -> st.SearchStrategy:
    """Bodies a careless or hostile client might send to this operation."""
    shape = op.input_shape
    names = list(shape.members) if shape is not None else []
    keys = st.sampled_from(names) if names else st.text(max_size=8)
    wrong_types = st.dictionaries(keys, ANY_JSON | HUGE, min_size=1, max_size=len(names) or 1)
    nested = st.dictionaries(keys, st.integers(1, 1_500).map(
        lambda n: orjson.Fragment(b'{"not":' * n + b"{}" + b"}" * n)), min_size=1, max_size=1)
    raw = st.one_of(
        st.binary(max_size=200),                                     # anything, invalid UTF-8
        st.just(b'{"subject": "\xff\xfe", "name": "\xc3\x28"}'),     # invalid UTF-8 in strings
        DEEP.map(str.encode),                                        # deep nesting
        st.just(b"{" * 100_000),                                     # unterminated, deep
        st.sampled_from([b"null", b"[]", b'"text"', b"1e999", b"{}}", b'{"a":1,}']),
    )
    return st.one_of(
        wrong_types.map(orjson.dumps),
        nested.map(orjson.dumps),
        bad_blobs(op, known).map(orjson.dumps),
        raw,
    )


def bad_blobs(op: Operation, known: dict) -> st.SearchStrategy:
    """A shaped body with every blob replaced by text that is not base64."""
    shape = op.input_shape
    if shape is None:
        return st.just({})

    def spoil(value, member: Shape):
        if member.type_name == "blob":
            return "not*base64!"
        if member.type_name == "structure" and isinstance(value, dict):
            wire = {m.serialization.get("name", n): m for n, m in member.members.items()}
            return {k: spoil(v, wire[k]) if k in wire else v for k, v in value.items()}
        if member.type_name == "list" and isinstance(value, list):
            return [spoil(v, member.member) for v in value]
        return value

    return shaped(shape, known=known).map(lambda body: spoil(body, shape))


# --------------------------------------------------------------------------- requests


def build(op: Operation, body: dict | bytes, texts: dict[str, str]) -> tuple[str, str, dict,
                                                                             bytes]:
    """(method, path?query, headers, body) for the operation's protocol."""
    service = op.service
    if service.protocol == "json":
        headers = {"X-Amz-Target": f"{service.target_prefix}.{op.name}",
                   "Content-Type": "application/x-amz-json-1.1"}
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        return "POST", "/", headers, data
    http = op.model.http
    path, _, literal_query = http["requestUri"].partition("?")
    query: list[tuple[str, str]] = []
    headers = {"Content-Type": "application/json"}
    shape = op.input_shape
    for name, member in (shape.members.items() if shape is not None else []):
        where = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        text = texts.get(name)
        if where == "uri":
            path = path.replace(f"{{{wire}}}", quote(text or "x", safe=""))
        elif where == "querystring" and text is not None:
            query.extend((wire, t) for t in text.split("\x00"))
        elif where == "header" and text is not None:
            headers[wire] = text.encode("utf-8", "replace").decode("latin-1")
    query_string = urlencode(query, quote_via=quote)
    if literal_query:
        query_string = literal_query + ("&" + query_string if query_string else "")
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return http["method"], path + ("?" + query_string if query_string else ""), headers, data


def texts_for(op: Operation, known: dict[str, list[str]]) -> st.SearchStrategy:
    """Values for the members that travel outside the body (labels, query, headers)."""
    shape = op.input_shape
    located = {name: m for name, m in (shape.members.items() if shape is not None else [])
               if m.serialization.get("location") in ("uri", "querystring", "header")}
    strategies = {}
    for name, member in located.items():
        if member.type_name == "list":
            strategies[name] = st.lists(text_for(member.member), min_size=1, max_size=3).map(
                "\x00".join)
        else:
            strategies[name] = text_for(member, known.get(name))
    required = set(shape.required_members) if shape is not None else set()
    return st.fixed_dictionaries(
        {n: s for n, s in strategies.items() if n in required},
        optional={n: s for n, s in strategies.items() if n not in required},
    )


def send_and_check(fuzz_server, op: Operation, body, texts: dict[str, str]) -> None:
    server, client = fuzz_server
    method, target, headers, data = build(op, body, texts)
    url = server.endpoint + target
    request = AWSRequest(method=method, url=url, data=data, headers=headers)
    SigV4Auth(Credentials("test", "test"), op.service.signing_name, REGION).add_auth(request)
    response = client.request(method, url, headers=dict(request.headers.items()),
                              content=data)
    text = response.text
    assert "Traceback" not in text
    assert response.headers.get("x-amzn-RequestId")
    if response.status_code >= 400:
        error = response.json()
        code = error.get("__type") or response.headers.get("x-amzn-errortype")
        assert code, text
    assert response.status_code < 500, f"{op.name} {method} {target}: {response.status_code} " \
                                       f"{text[:500]}"


# --------------------------------------------------------------------------- the tests

IDS = [f"{op.service.name}.{op.name}" for op in OPERATIONS]


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_shaped_inputs_never_get_a_500(fuzz_server, known, op):
    body = shaped(op.input_shape, known=known) if op.input_shape is not None else st.just({})

    @FUZZ
    @given(body=body, texts=texts_for(op, known))
    def run(body, texts):
        send_and_check(fuzz_server, op, body, texts)

    run()


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_junk_never_gets_a_500(fuzz_server, known, op):
    @FUZZ
    @given(body=junk_bodies(op, known), texts=texts_for(op, known))
    def run(body, texts):
        send_and_check(fuzz_server, op, body, texts)

    run()


# --------------------------------------------------------------------------- /_casework/ routes
#
# Casework's own routes take no SigV4, so they are the first thing an attacker without keys
# reaches: presigned attachment URLs (S3-style XML errors), the agent API (JSON errors,
# bearer token) and the health check. Same rule: never a 500, never a traceback.

WEIRD_TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["²", "%C2%B2", "-1", "0", "1e3", "0x10", " 1", "١٢", "9" * 5000, "",
                     "%00", "%ff", "..", "../..", "a\ud800b".encode("utf-8", "surrogatepass")
                     .decode("latin-1")]),
    st.integers(0, 2**70).map(str),
)
METHODS = st.sampled_from(["GET", "PUT", "POST", "DELETE", "HEAD", "PATCH", "OPTIONS"])


@pytest.fixture(scope="module")
def casework_routes(fuzz_server, known) -> dict:
    """A real presigned upload URL, download URL, case id and agent token to mutate."""
    server, _ = fuzz_server
    support = server.client("support")
    started = support.get_attachment_upload_links(fileName="fuzz.bin", fileSizeBytes=8)
    set_id = support.add_attachments_to_set(
        attachments=[{"fileName": "f.txt", "data": b"fuzz"}])["attachmentSetId"]
    case_id = support.create_case(subject="fuzz", communicationBody="b",
                                  attachmentSetId=set_id)["caseId"]
    attachment = support.describe_communications(caseId=case_id)["communications"][0][
        "attachmentSet"][0]["attachmentId"]
    download = support.get_attachment_download_link(attachmentId=attachment)["downloadUrl"]["url"]
    return {"upload": started["uploadUrls"][0]["url"], "download": download,
            "case": case_id, "token": server.casework("agent", "token").stdout.strip()}


def _split(url: str) -> tuple[str, list[str], dict[str, str]]:
    from urllib.parse import parse_qsl, urlsplit
    parts = urlsplit(url)
    return parts.path, parts.path.split("/"), dict(parse_qsl(parts.query))


def _check_casework(response: httpx.Response, xml: bool) -> None:
    assert response.status_code < 500, response.text[:300]
    assert "Traceback" not in response.text
    if response.status_code >= 400 and response.status_code not in (404, 405) and xml \
            and response.request.method != "HEAD":
        assert response.text.startswith("<?xml") and "<Code>" in response.text, response.text


@pytest.mark.parametrize("which", ["upload", "download"])
def test_presigned_urls_with_junk_never_get_a_500(fuzz_server, casework_routes, which):
    server, client = fuzz_server
    _, segments, query = _split(casework_routes[which])

    @FUZZ
    @given(method=METHODS, field=st.sampled_from(
        ["X-Casework-Expires", "X-Casework-Key", "X-Casework-Signature", "segment", "extra"]),
        value=WEIRD_TEXT, body=st.binary(max_size=64),
        md5=st.none() | st.sampled_from(["", "!!", "AAAA", "1B2M2Y8AsgTpgAmY7PhCfg=="]))
    def run(method, field, value, body, md5):
        mutated, parts = dict(query), list(segments)
        if field == "segment":
            parts[-1] = quote(value, safe="")
        elif field == "extra":
            mutated[value] = value
        else:
            mutated[field] = value
        url = f"{server.endpoint}{'/'.join(parts)}?{urlencode(mutated, quote_via=quote)}"
        headers = {"Content-MD5": md5} if md5 is not None else {}
        response = client.request(method, url, content=body, headers=headers)
        _check_casework(response, xml=True)

    run()


def test_agent_api_with_junk_never_gets_a_500(fuzz_server, casework_routes):
    server, client = fuzz_server
    token = casework_routes["token"]
    bodies = st.one_of(
        st.binary(max_size=200),
        DEEP.map(str.encode),
        st.just(b"[" * 100_000),
        st.just(b'{"body": "a\\ud800b"}'),
        st.just(b'{"body": "a\xed\xa0\x80b", "status": "resolved"}'),
        st.dictionaries(st.sampled_from(["body", "status"]), ANY_JSON | HUGE,
                        max_size=2).map(orjson.dumps),
    )

    @FUZZ
    @given(method=METHODS, case=st.sampled_from([casework_routes["case"]]) | WEIRD_TEXT,
           tail=st.sampled_from(["", "/communications", "/status", "/x", "/status/extra"]),
           auth=st.sampled_from([f"Bearer {token}", "Bearer nope", "", f"bearer  {token}",
                                 "Basic x", "Bearer " + "é" * 10]),
           body=bodies)
    def run(method, case, tail, auth, body):
        url = f"{server.endpoint}/_casework/support/cases/{quote(case, safe='')}{tail}"
        headers = [(b"Authorization", auth.encode("utf-8"))] if auth else []
        response = client.request(method, url, content=body, headers=headers)
        _check_casework(response, xml=False)
        if method != "HEAD" and response.status_code >= 400 \
                and response.status_code not in (404, 405):
            assert response.json()["__type"]

    run()


def test_health_with_junk_never_gets_a_500(fuzz_server):
    server, client = fuzz_server

    @FUZZ
    @given(method=METHODS, query=WEIRD_TEXT, body=st.binary(max_size=64),
           suffix=st.sampled_from(["", "/", "/x", "%00", "/../health"]))
    def run(method, query, body, suffix):
        url = f"{server.endpoint}/_casework/health{suffix}?{quote(query, safe='=&')}"
        response = client.request(method, url, content=body)
        _check_casework(response, xml=False)

    run()
