"""Request logging: off by default, one line per request with --access-log (text or JSON),
refused signatures with their reason, server errors always."""

from __future__ import annotations

import json
import time

from conftest import error_of, start_server


def log_lines(server, wanted: int, timeout: float = 10) -> list[str]:
    """The server log's lines once at least ``wanted`` request lines are in it."""
    log = server.data_dir.parent / "server.log"
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in log.read_text().splitlines() if "casework.access" in line
                 or line.startswith("{")]
        if len(lines) >= wanted or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_requests_are_not_logged_by_default(server, support):
    support.describe_severity_levels()
    log = (server.data_dir.parent / "server.log").read_text()
    assert "DescribeSeverityLevels" not in log


def test_access_log_names_operation_account_status_latency_and_request_id(tmp_path):
    running = start_server(tmp_path, "--access-log")
    try:
        support = running.client("support")
        answer = support.describe_severity_levels()
        request_id = answer["ResponseMetadata"]["RequestId"]
        error_of(running.client("support", secret="wrong").describe_severity_levels)
        lines = log_lines(running, 2)
    finally:
        running.stop()
    ok = next(line for line in lines if request_id in line)
    assert "operation=support.DescribeSeverityLevels" in ok
    assert "account=000000000000" in ok and "status=200" in ok and " ms=" in ok
    refused = next(line for line in lines if "status=400" in line)
    assert "error=InvalidSignatureException" in refused
    assert "reason=The request signature we calculated does not match" in refused


def test_json_log_format_has_the_same_fields(tmp_path):
    running = start_server(tmp_path, "--access-log", "--log-format", "json")
    try:
        answer = running.client("connectcases").list_domains()
        request_id = answer["ResponseMetadata"]["RequestId"]
        lines = log_lines(running, 1)
    finally:
        running.stop()
    entries = [json.loads(line) for line in lines]
    entry = next(e for e in entries if e.get("request_id") == request_id)
    assert entry["operation"] == "connectcases.ListDomains"
    assert entry["account"] == "000000000000" and entry["status"] == 200
    assert entry["logger"] == "casework.access" and entry["level"] == "info"
    assert isinstance(entry["ms"], float) and entry["time"].endswith("Z")
