"""Attacks on a real server's edges: nothing unauthenticated may hold memory or descriptors
without bound, malformed requests get AWS-shaped 4xx answers, and signed requests keep
succeeding meanwhile. Every attack is bounded in bytes, sockets and time."""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from conftest import REGION, start_server

MiB = 1024 * 1024
MISSING_ARN = "arn:aws:cases:us-east-1:000000000000:domain/d-missing"


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def address(server) -> tuple[str, int]:
    host, port = server.endpoint.removeprefix("http://").split(":")
    return host, int(port)


def read_response(sock: socket.socket, timeout: float = 10) -> tuple[int, dict]:
    """Status and JSON body of the one response on ``sock`` (the server closes after it)."""
    sock.settimeout(timeout)
    data = b""
    while not _whole(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body) if body else {}


def _whole(data: bytes) -> bool:
    """Whether ``data`` holds a whole response (head and the body its length announces)."""
    end = data.find(b"\r\n\r\n")
    return end >= 0 and len(data) >= end + 4 + _length(data)


def _length(data: bytes) -> int:
    head = data.split(b"\r\n\r\n")[0].lower()
    for line in head.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def signed_head(server, body_length: int, target: str = "DescribeCases") -> bytes:
    """The head of a correctly signed JSON 1.1 request whose body is ``body_length`` bytes of
    spaces then ``{}`` (valid JSON, so only its size matters)."""
    body = b" " * (body_length - 2) + b"{}"
    request = AWSRequest(method="POST", url=f"{server.endpoint}/", data=body, headers={
        "X-Amz-Target": f"AWSSupport_20130415.{target}",
        "Content-Type": "application/x-amz-json-1.1"})
    SigV4Auth(Credentials("test", "test"), "support", REGION).add_auth(request)
    host, port = address(server)
    lines = ["POST / HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in request.headers.items() if k.lower() != "host"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    running = start_server(tmp_path_factory.mktemp("guarded"), "--header-timeout", "2",
                           "--body-timeout", "2", "--keep-alive-timeout", "5",
                           "--max-connections", "64",
                           "--max-body-memory", str(4 * MiB))
    yield running
    running.stop()


def still_serves(server) -> None:
    support = server.client("support")
    case_id = support.create_case(subject="still here", communicationBody="ok")["caseId"]
    assert support.describe_cases(caseIdList=[case_id])["cases"][0]["subject"] == "still here"


def test_an_endless_header_is_refused_with_431_and_costs_no_memory(guarded):
    pid = guarded.process.pid
    before = rss_mb(pid)
    for _ in range(4):
        with socket.create_connection(address(guarded)) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Big: ")
            sent = 0
            # The server must answer long before 100 MB; read its answer as soon as it comes
            # (sending on after it closes would reset the connection and lose the answer).
            while sent < 100 * MiB and not select.select([sock], [], [], 0)[0]:
                sock.sendall(b"a" * 16384)
                sent += 16384
            status, body = read_response(sock)
        assert status == 431
        assert body["__type"] == "RequestHeaderFieldsTooLarge"
        assert sent < 8 * MiB
    assert rss_mb(pid) - before < 20
    still_serves(guarded)


def test_a_64_kb_request_line_is_refused_with_414(guarded):
    with socket.create_connection(address(guarded)) as sock:
        sock.sendall(b"GET /" + b"a" * 65536 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        status, body = read_response(sock)
    assert status == 414
    assert body["__type"] == "RequestURITooLong"


@pytest.mark.parametrize("head", [
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"NOT HTTP AT ALL\r\n\r\n",
])
def test_malformed_http_gets_an_aws_shaped_400(guarded, head):
    with socket.create_connection(address(guarded)) as sock:
        sock.sendall(head)
        status, body = read_response(sock)
    assert status == 400
    assert body["__type"] == "BadRequest"


def test_an_unsigned_request_is_refused_before_its_body_is_read(guarded):
    """29 MiB announced without credentials: the answer comes before any body is sent."""
    with socket.create_connection(address(guarded)) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: AWSSupport_20130415."
                     b"DescribeCases\r\nContent-Type: application/x-amz-json-1.1\r\n"
                     b"Content-Length: 30408704\r\n\r\n")
        status, body = read_response(sock)
    assert status == 400
    assert body["__type"] == "MissingAuthenticationTokenException"


def test_stalled_bodies_are_cut_off_and_bounded_in_memory(guarded):
    """Signed requests that announce 29 MiB, send 3 MiB and stall: together they may hold
    at most --max-body-memory (4 MiB here); the rest are refused with 503; all are cut off
    after --body-timeout."""
    pid = guarded.process.pid
    before = rss_mb(pid)
    sockets, answers = [], []
    for _ in range(6):
        sock = socket.create_connection(address(guarded))
        sock.sendall(signed_head(guarded, 29 * MiB))
        with contextlib.suppress(OSError):  # a refused body may be closed mid-send
            sock.sendall(b" " * (3 * MiB))
        sockets.append(sock)
    time.sleep(0.5)
    assert rss_mb(pid) - before < 40  # 6 x 3 MiB would be 18 MiB even before copies
    still_serves(guarded)
    deadline = time.monotonic() + 15
    for sock in sockets:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        answers.append(data)
        sock.close()
    refused = [a for a in answers if a.startswith(b"HTTP/1.1 503")]
    cut_off = [a for a in answers if a == b""]
    assert refused, answers  # the budget said no to some
    assert len(refused) + len(cut_off) == 6, answers
    assert all(b"ServiceUnavailableException" in a for a in refused)
    still_serves(guarded)


def test_a_flood_of_half_sent_requests_cannot_lock_out_real_clients(guarded):
    pid = guarded.process.pid
    flood = []
    try:
        for _ in range(300):  # far beyond --max-connections 64
            sock = socket.create_connection(address(guarded))
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Partial: ")
            flood.append(sock)
        assert open_fds(pid) < 64 + 40
        health = httpx.get(f"{guarded.endpoint}/_casework/health", timeout=5)
        assert health.status_code == 200
        still_serves(guarded)
    finally:
        for sock in flood:
            sock.close()


def test_half_sent_headers_are_closed_after_the_header_timeout(guarded):
    with socket.create_connection(address(guarded)) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
        sock.settimeout(10)
        started = time.monotonic()
        assert sock.recv(100) == b""  # closed by the server, no answer
        assert time.monotonic() - started < 8


def answer_on(sock: socket.socket, server) -> bytes:
    """Send one signed DescribeCases on ``sock`` and return its whole answer."""
    sock.sendall(signed_head(server, 2) + b"{}")
    sock.settimeout(10)
    data = b""
    while not _whole(data):
        chunk = sock.recv(65536)
        assert chunk, f"closed before the answer: {data[:200]!r}"
        data += chunk
    return data


def test_an_idle_kept_alive_connection_is_closed_and_a_busy_one_is_not(guarded):
    """After an answer the connection stays open for the next request (HTTP/1.1 keep-alive)
    for --keep-alive-timeout seconds, then the server closes it."""
    with socket.create_connection(address(guarded)) as sock:
        for _ in range(3):  # requests in a row on one connection: each one is answered
            data = answer_on(sock, guarded)
            assert data.startswith(b"HTTP/1.1 200"), data[:200]
            assert b"connection: close" not in data.lower()
        started = time.monotonic()
        assert sock.recv(100) == b""  # then idle: closed by the server
        assert 3 < time.monotonic() - started < 10


def test_a_connection_idle_for_longer_than_a_client_pauses_is_kept(server):
    """A client that pauses between calls reuses its connection: closing it after a few
    seconds would race the client's next request on it (a load balancer in front, whose
    idle timeout is typically 60 s, or an SDK making one attempt, would see the connection
    reset)."""
    with socket.create_connection(address(server)) as sock:
        assert answer_on(sock, server).startswith(b"HTTP/1.1 200")
        time.sleep(6)
        assert answer_on(sock, server).startswith(b"HTTP/1.1 200")


def test_idle_connections_give_way_to_new_ones(guarded):
    """Past --max-connections a new connection closes the one idle longest: many clients'
    kept-alive connections cannot lock out the next client."""
    pid = guarded.process.pid
    idle = []
    try:
        for _ in range(80):  # beyond --max-connections 64, each answered, then left idle
            sock = socket.create_connection(address(guarded))
            idle.append(sock)
            assert answer_on(sock, guarded).startswith(b"HTTP/1.1 200")
        assert open_fds(pid) < 64 + 40
        idle[0].settimeout(1)
        assert idle[0].recv(100) == b""  # the oldest was closed to make room
        assert answer_on(idle[-1], guarded).startswith(b"HTTP/1.1 200")  # the newest kept
        still_serves(guarded)
    finally:
        for sock in idle:
            sock.close()


@pytest.mark.parametrize("host", ["[", "x]", "[::1"])
@pytest.mark.parametrize("protocol", ["json", "rest"])
def test_odd_host_headers_get_a_4xx(guarded, host, protocol):
    if protocol == "json":
        request = AWSRequest(method="POST", url=f"{guarded.endpoint}/", data=b"{}", headers={
            "X-Amz-Target": "AWSSupport_20130415.DescribeCases",
            "Content-Type": "application/x-amz-json-1.1"})
        SigV4Auth(Credentials("test", "test"), "support", REGION).add_auth(request)
    else:
        request = AWSRequest(method="POST", url=f"{guarded.endpoint}/domains-list", data=b"{}")
        SigV4Auth(Credentials("test", "test"), "cases", REGION).add_auth(request)
    headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
    answer = httpx.post(request.url, content=request.body, headers={**headers, "Host": host})
    assert 400 <= answer.status_code < 500
    assert answer.json()["__type" if protocol == "json" else "message"]


def test_the_target_and_the_payload_must_be_signed(guarded):
    # X-Amz-Target added after signing: the signature could be replayed for any operation.
    request = AWSRequest(method="POST", url=f"{guarded.endpoint}/", data=b"{}", headers={
        "Content-Type": "application/x-amz-json-1.1"})
    SigV4Auth(Credentials("test", "test"), "support", REGION).add_auth(request)
    headers = {**dict(request.headers), "X-Amz-Target": "AWSSupport_20130415.ResolveCase"}
    answer = httpx.post(request.url, content=request.body, headers=headers)
    assert answer.status_code == 400
    assert answer.json()["__type"] == "InvalidSignatureException"
    assert "'X-Amz-Target' must be a 'SignedHeader'" in answer.json()["message"]
    # UNSIGNED-PAYLOAD: the body would be left out of the signature.
    request = AWSRequest(method="POST", url=f"{guarded.endpoint}/domains-list", data=b"{}",
                         headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    SigV4Auth(Credentials("test", "test"), "cases", REGION).add_auth(request)
    answer = httpx.post(request.url, content=request.body, headers=dict(request.headers))
    assert answer.status_code == 403
    assert answer.headers["x-amzn-errortype"] == "InvalidSignatureException"
    assert "SHA-256 of the payload" in answer.json()["message"]


def _responses(sock: socket.socket, count: int, timeout: float = 10) -> list[tuple[int, dict]]:
    """The next ``count`` responses on ``sock``, in the order they arrive."""
    sock.settimeout(timeout)
    data, found = b"", []
    while len(found) < count:
        end = data.find(b"\r\n\r\n")
        if end >= 0 and len(data) >= end + 4 + _length(data):
            size = end + 4 + _length(data)
            head, body = data[:end], data[end + 4:size]
            found.append((int(head.split()[1]), json.loads(body) if body else {}))
            data = data[size:]
            continue
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {len(found)} of {count} responses"
        data += chunk
    return found


def test_pipelined_requests_are_answered_in_order(guarded):
    # AWS calls are answered by the connection itself, other routes by the ASGI app: requests
    # sent back to back on one connection, of both kinds, must come back in the order sent.
    host, port = address(guarded)
    health = f"GET /_casework/health HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    cases = signed_head(guarded, 2) + b"{}"
    services = signed_head(guarded, 2, "DescribeServices") + b"{}"
    with socket.create_connection((host, port)) as sock:
        sock.sendall(cases + health + services + cases)
        answers = _responses(sock, 4)
    assert [status for status, _ in answers] == [200, 200, 200, 200]
    assert "cases" in answers[0][1]
    assert answers[1][1]["status"] == "ok"
    assert "services" in answers[2][1]
    assert "cases" in answers[3][1]


@pytest.mark.parametrize("upgrade", ["websocket", "h2c"])
def test_a_request_asking_for_another_protocol_is_answered_as_http(guarded, upgrade):
    # The server speaks HTTP only: an Upgrade header is ignored (the request answered, then
    # the connection closed), never a connection left waiting for a handshake. 404: the tags
    # of a domain that does not exist, read through the AWS path.
    host, port = address(guarded)
    asks = f"Upgrade: {upgrade}\r\nConnection: Upgrade\r\n".encode()
    head = signed_head(guarded, 2)
    signed = head[:-2] + asks + b"\r\n{}"
    unsigned = (f"POST / HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: 2\r\n"
                f"X-Amz-Target: AWSSupport_20130415.DescribeCases\r\n").encode() + asks
    health = (f"GET /_casework/health HTTP/1.1\r\nHost: {host}:{port}\r\n"
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
              ).encode() + asks
    tags = AWSRequest(method="GET", url=f"{guarded.endpoint}/tags/{quote(MISSING_ARN, '')}")
    SigV4Auth(Credentials("test", "test"), "cases", REGION).add_auth(tags)
    lines = [f"GET {urlsplit(tags.url).path} HTTP/1.1", f"Host: {host}:{port}"] + [
        f"{k}: {v}" for k, v in tags.headers.items() if k.lower() != "host"]
    get = ("\r\n".join(lines) + "\r\n").encode() + asks
    for request, status in ((health + b"\r\n", 200), (get + b"\r\n", 404)):
        with socket.create_connection((host, port)) as sock:
            sock.sendall(request)
            assert read_response(sock, timeout=5)[0] == status
            sock.settimeout(5)
            assert sock.recv(1) == b""  # closed after the answer
    # The parser would hand a body to the protocol asked for: such a request is refused.
    for request in (signed, unsigned + b"\r\n{}"):
        with socket.create_connection((host, port)) as sock:
            sock.sendall(request)
            assert read_response(sock, timeout=5) == (400, {
                "__type": "BadRequest", "message": "A request that asks to upgrade the "
                "connection to another protocol cannot have a body."})


def test_text_holding_nul_is_refused_on_every_database(guarded):
    # PostgreSQL's text columns cannot hold NUL: a 400 on either database, never a 500.
    support, cases = guarded.client("support"), guarded.client("connectcases")
    refused = ("Text values cannot contain the NUL character (U+0000): no database Casework "
               "stores them in can hold it.")
    calls = [
        (support.create_case, {"subject": "a\x00b", "communicationBody": "x"}),
        (support.add_attachments_to_set, {"attachments": [{"fileName": "a\x00b",
                                                           "data": b"x"}]}),
        (cases.create_domain, {"name": "a\x00b"}),
        (cases.get_domain, {"domainId": "d\x00x"}),  # a path label: %00
        (cases.list_tags_for_resource, {"arn": MISSING_ARN + "\x00"}),
    ]
    for call, params in calls:
        with pytest.raises(ClientError) as caught:
            call(**params)
        error = caught.value.response
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert (error["Error"]["Code"], error["Error"]["Message"]) == (
            "ValidationException", refused)
    still_serves(guarded)


def test_a_huge_invalid_list_gets_a_short_answer(guarded):
    # A million empty upload ids (3 MB): one problem, the list's length, not a million lines.
    body = json.dumps({"subject": "s", "communicationBody": "b",
                       "uploadIds": [""] * 1_000_000}).encode()
    request = AWSRequest(method="POST", url=f"{guarded.endpoint}/", data=body, headers={
        "X-Amz-Target": "AWSSupport_20130415.CreateCase",
        "Content-Type": "application/x-amz-json-1.1"})
    SigV4Auth(Credentials("test", "test"), "support", REGION).add_auth(request)
    answer = httpx.post(request.url, content=body, headers=dict(request.headers), timeout=60)
    assert answer.status_code == 400
    assert answer.json()["__type"] == "ValidationException"
    assert answer.json()["message"].startswith("1 validation error detected: Value '[, , ")
    assert answer.json()["message"].endswith(
        "at 'uploadIds' failed to satisfy constraint: Member must have length less than or "
        "equal to 10")
    still_serves(guarded)


def test_expect_100_continue_is_answered_before_the_body(guarded):
    head = signed_head(guarded, 2).replace(b"\r\n\r\n", b"\r\nExpect: 100-continue\r\n\r\n")
    with socket.create_connection(address(guarded)) as sock:
        sock.sendall(head)
        sock.settimeout(10)
        interim = b""
        while b"\r\n\r\n" not in interim:
            chunk = sock.recv(65536)
            assert chunk, "closed before 100 Continue"
            interim += chunk
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        rest = interim[len(b"HTTP/1.1 100 Continue\r\n\r\n"):]
        assert not rest
        sock.sendall(b"{}")
        [(status, body)] = _responses(sock, 1)
    assert status == 200 and "cases" in body
