"""The server process itself: start-up, health, shutdown, durability, the AWS CLI."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from conftest import REGION, start_server


def test_health_reports_status_and_version(server):
    import casework

    answer = httpx.get(f"{server.endpoint}/_casework/health")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "version": casework.__version__,
                             "process": server.process.pid}


def test_unrouted_paths_answer_in_the_shape_of_their_neighbours(server):
    # AWS-shaped JSON under /_casework, S3's XML where presigned transfer URLs live.
    for method, path, status, code in (
            ("GET", "/_casework/nowhere", 404, "UnknownOperationException"),
            ("POST", "/_casework/health", 405, "MethodNotAllowedException")):
        answer = httpx.request(method, f"{server.endpoint}{path}")
        assert (answer.status_code, answer.json()["__type"]) == (status, code)
        assert answer.headers["x-amzn-errortype"] == code
    for method, path, status, code in (
            ("PUT", "/_casework/support/uploads/u-1/parts/1/extra", 404, "NoSuchKey"),
            ("DELETE", "/_casework/support/attachments/a-1", 405, "MethodNotAllowed")):
        answer = httpx.request(method, f"{server.endpoint}{path}")
        assert answer.status_code == status
        assert answer.headers["content-type"] == "application/xml"
        assert f"<Code>{code}</Code>" in answer.text


def test_start_up_prints_endpoint_and_default_credentials(tmp_path):
    running = start_server(tmp_path)
    running.stop()
    log = (tmp_path / "server.log").read_text()
    assert running.endpoint in log
    assert "AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test" in log


def test_sigterm_finishes_the_request_in_flight_and_exits_zero(tmp_path):
    running = start_server(tmp_path)
    body = json.dumps({"subject": "in flight", "communicationBody": "x" * 4000}).encode()
    # Sign the request with botocore, then send it in two halves around the SIGTERM.
    signed = AWSRequest(method="POST", url=f"{running.endpoint}/", data=body, headers={
        "X-Amz-Target": "AWSSupport_20130415.CreateCase",
        "Content-Type": "application/x-amz-json-1.1"})
    SigV4Auth(Credentials("test", "test"), "support", REGION).add_auth(signed)
    host, port = running.endpoint.removeprefix("http://").split(":")
    head = ["POST / HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in signed.headers.items() if k.lower() != "host"]
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body[:100])
        running.process.send_signal(signal.SIGTERM)
        sock.sendall(body[100:])
        reply = b""
        while b'"}' not in reply and (chunk := sock.recv(65536)):
            reply += chunk
    reply = reply.decode()
    assert reply.startswith("HTTP/1.1 200"), reply
    assert '"caseId":"case-000000000000-muen-' in reply
    assert running.process.wait(timeout=30) == 0


def test_acknowledged_writes_survive_a_crash(tmp_path):
    running = start_server(tmp_path)
    case_id = running.client("support").create_case(
        subject="durable", communicationBody="written before the crash")["caseId"]
    running.process.send_signal(signal.SIGKILL)
    running.process.wait()
    again = start_server(tmp_path)
    try:
        cases = again.client("support").describe_cases(caseIdList=[case_id])["cases"]
        assert [c["subject"] for c in cases] == ["durable"]
    finally:
        again.stop()


def test_acknowledged_writes_of_a_group_commit_survive_a_crash_during_the_batch(tmp_path):
    """Writers share commits: kill the server while 16 clients write, and every case it
    acknowledged must be there after the restart (acknowledgement comes after the fsync)."""
    running = start_server(tmp_path)
    acknowledged: list[str] = []
    stop = threading.Event()

    def writer() -> None:
        support = running.client("support")
        while not stop.is_set():
            try:
                acknowledged.append(support.create_case(
                    subject="batched", communicationBody="group commit")["caseId"])
            except Exception:  # the server died under us: that request was not acknowledged
                return

    threads = [threading.Thread(target=writer) for _ in range(16)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 200 and time.monotonic() < deadline:
        time.sleep(0.01)
    running.process.send_signal(signal.SIGKILL)  # mid-batch: writers are still sending
    running.process.wait()
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    assert len(acknowledged) >= 200
    again = start_server(tmp_path)
    try:
        support = again.client("support")
        found = set()
        for start in range(0, len(acknowledged), 100):
            found |= {c["caseId"] for c in support.describe_cases(
                caseIdList=acknowledged[start:start + 100], includeCommunications=False,
                includeResolvedCases=True)["cases"]}
        assert found == set(acknowledged)
    finally:
        again.stop()


def test_workers_share_the_port_and_the_store(tmp_path):
    running = start_server(tmp_path, "--workers", "2")
    try:
        processes = set()
        deadline = time.monotonic() + 30
        while len(processes) < 2 and time.monotonic() < deadline:
            # a new connection each time: the kernel spreads them over the processes
            processes.add(httpx.get(f"{running.endpoint}/_casework/health").json()["process"])
        assert len(processes) == 2
        created: list[str] = []

        def writer() -> None:
            support = running.client("support")
            created.extend(support.create_case(subject="w", communicationBody="b")["caseId"]
                           for _ in range(15))

        threads = [threading.Thread(target=writer) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        cases = running.client("support").describe_cases(caseIdList=created[:90])["cases"]
        assert len(cases) == 90
        assert len({c["displayId"] for c in cases}) == 90
    finally:
        assert running.stop() == 0


def aws(server, *args: str) -> dict:
    env = {**os.environ, "AWS_ENDPOINT_URL": server.endpoint, "AWS_ACCESS_KEY_ID": "test",
           "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": REGION,
           "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    done = subprocess.run([sys.executable, "-m", "awscli", *args, "--output", "json"],
                          capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout) if done.stdout.strip() else {}


def test_aws_cli_adds_a_communication_with_cc_and_attachments(server, tmp_path):
    case_id = aws(server, "support", "create-case", "--subject", "Instance unreachable",
                  "--communication-body", "Since 10:00 UTC")["caseId"]
    # AWS CLI v1 sends a blob given inside JSON as the text itself (it does the base64).
    attachments = tmp_path / "attachments.json"
    attachments.write_text(json.dumps([{"fileName": "app.log", "data": "line 1\nline 2\n"}]))
    set_id = aws(server, "support", "add-attachments-to-set", "--attachments",
                 f"file://{attachments}")["attachmentSetId"]
    answer = aws(server, "support", "add-communication-to-case", "--case-id", case_id,
                 "--communication-body", "Logs attached", "--cc-email-addresses",
                 "ops@example.com", "--attachment-set-id", set_id)
    assert answer == {"result": True}
    comms = aws(server, "support", "describe-communications", "--case-id", case_id)
    newest = comms["communications"][0]
    assert newest["body"] == "Logs attached"
    assert [a["fileName"] for a in newest["attachmentSet"]] == ["app.log"]
    got = server.client("support").describe_attachment(
        attachmentId=newest["attachmentSet"][0]["attachmentId"])
    assert got["attachment"]["data"] == b"line 1\nline 2\n"
