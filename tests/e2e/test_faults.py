"""Fault injection (``--faults`` / ``CASEWORK_FAULTS``): modeled errors with their real status,
seen by boto3's retry logic, latency, per-key rules, live reload and the health report."""

from __future__ import annotations

import json
import os
import time

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from conftest import REGION, error_of, start_server


def write_rules(path, rules) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(rules))
    os.replace(temporary, path)  # a new file: seen at the next call


def code_of(call) -> str:
    return error_of(call)["Error"]["Code"]


def client(server, service, key="test", secret="test", attempts=3):
    return boto3.client(service, endpoint_url=server.endpoint, region_name=REGION,
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        config=Config(retries={"mode": "standard", "total_max_attempts": attempts}))


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    rules = root / "faults.json"
    write_rules(rules, [])
    running = start_server(root, env={"CASEWORK_FAULTS": str(rules)})
    yield running, rules
    running.stop()


def test_injected_errors_have_their_real_status_and_boto3_retries_them(faulty):
    server, rules = faulty
    write_rules(rules, [{"service": "connectcases", "operation": "ListDomains",
                         "error": "ThrottlingException", "rate": 1.0},
                        {"service": "support", "operation": "DescribeServices",
                         "error": "InternalServerError", "rate": 1.0}])
    cases = client(server, "connectcases")
    with pytest.raises(ClientError) as caught:
        cases.list_domains()
    answer = caught.value.response
    assert (answer["Error"]["Code"], answer["ResponseMetadata"]["HTTPStatusCode"]) == (
        "ThrottlingException", 429)
    assert answer["ResponseMetadata"]["RetryAttempts"] == 2  # standard mode retried twice
    support = client(server, "support")
    with pytest.raises(ClientError) as caught:
        support.describe_services()
    answer = caught.value.response
    assert (answer["Error"]["Code"], answer["ResponseMetadata"]["HTTPStatusCode"]) == (
        "InternalServerError", 500)
    assert answer["ResponseMetadata"]["RetryAttempts"] == 2
    # Other operations are untouched.
    assert support.describe_severity_levels()["severityLevels"]
    assert cases.create_domain(name="faults")["domainId"]
    health = httpx.get(f"{server.endpoint}/_casework/health").json()
    assert health["faults"]["file"] == str(rules)
    assert [r["error"] for r in health["faults"]["rules"]] == ["ThrottlingException",
                                                               "InternalServerError"]
    # Rate 0: never fails.
    write_rules(rules, [{"service": "*", "operation": "*", "error": "ThrottlingException",
                         "rate": 0.0}])
    assert cases.list_domains()["domains"]
    assert support.describe_services()["services"]


def test_rules_for_some_keys_only_and_latency(faulty):
    server, rules = faulty
    key_id, secret = server.new_account("999900000001")
    write_rules(rules, [{"service": "*", "operation": "*", "error": "ThrottlingException",
                         "rate": 1.0, "accessKeyIds": [key_id]},
                        {"service": "support", "operation": "DescribeSeverityLevels",
                         "latencyMs": 400}])
    flaky = client(server, "connectcases", key_id, secret, attempts=1)
    assert code_of(flaky.list_domains) == "ThrottlingException"
    assert client(server, "connectcases").list_domains()["ResponseMetadata"][
        "HTTPStatusCode"] == 200
    started = time.monotonic()
    client(server, "support").describe_severity_levels()
    assert time.monotonic() - started >= 0.4  # a lower bound only: sleep guarantees it


def test_a_bad_edit_keeps_the_previous_rules_and_is_reported(faulty):
    server, rules = faulty
    write_rules(rules, [{"service": "connectcases", "operation": "ListDomains",
                         "error": "ThrottlingException"}])
    cases = client(server, "connectcases", attempts=1)
    assert code_of(cases.list_domains) == "ThrottlingException"
    write_rules(rules, [{"service": "connectcases", "error": "NoSuchError"}])
    assert code_of(cases.list_domains) == "ThrottlingException"
    health = httpx.get(f"{server.endpoint}/_casework/health").json()
    assert "NoSuchError" in health["faults"]["error"]
    write_rules(rules, [])
    assert cases.list_domains()["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "error" not in httpx.get(f"{server.endpoint}/_casework/health").json()["faults"]


@pytest.mark.parametrize("rules, problem", [
    ({"service": "support"}, "JSON list"),
    ([{"service": "s3"}], "service must be"),
    ([{"service": "support", "operation": "ListDomains"}], "no operation"),
    ([{"service": "support", "error": "ConflictException"}], "not a modeled error"),
    ([{"error": "ThrottlingException", "rate": 2}], "rate"),
    ([{"latencyMs": -1}], "latencyMs"),
    ([{"accessKeyIds": "AKIA"}], "accessKeyIds"),
    ([{"oops": 1}], "unknown member"),
])
def test_a_bad_faults_file_stops_the_start(tmp_path, rules, problem):
    path = tmp_path / "faults.json"
    path.write_text(json.dumps(rules))
    with pytest.raises(RuntimeError, match=problem):
        start_server(tmp_path, "--faults", str(path))


def test_off_by_default(server):
    assert "faults" not in httpx.get(f"{server.endpoint}/_casework/health").json()
