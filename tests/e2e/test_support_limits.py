"""The Support API's limits, each with tight settings on a dedicated server, and off by default."""

from __future__ import annotations

import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from conftest import start_server

WINDOW = 3.0  # seconds: --limit-window of the limited server
RATE, BURST = 1, 3  # --throttle-rate and --throttle-burst of the limited server


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    server = start_server(
        tmp_path_factory.mktemp("limited"), "--max-open-cases", "2",
        "--attachment-set-limit", "2", "--attachment-download-limit", "2",
        "--limit-window", str(WINDOW), "--throttle-rate", str(RATE),
        "--throttle-burst", str(BURST))
    yield server
    server.stop()


def drain(support, call, params: dict) -> int:
    """Call until throttled; returns how many calls got through first."""
    for calls in range(BURST + 20):
        try:
            call(**params)
        except support.exceptions.ThrottlingException:
            return calls
    raise AssertionError(f"{BURST + 20} calls in a row were never throttled")


def client_for(server, account: str):
    key, secret = server.new_account(account)
    return server.client("support", key=key, secret=secret)


def code_of(call, **params) -> str:
    with pytest.raises(ClientError) as caught:
        call(**params)
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Message"]
    return error["Error"]["Code"]


def new_case(support) -> str:
    return support.create_case(subject="s", communicationBody="b")["caseId"]


def test_case_creation_limit_counts_open_cases(limited):
    support = client_for(limited, "440000000001")
    first, _second = new_case(support), new_case(support)
    with pytest.raises(support.exceptions.CaseCreationLimitExceeded) as caught:
        new_case(support)
    assert "2 open cases" in caught.value.response["Error"]["Message"]
    support.resolve_case(caseId=first)
    assert new_case(support)
    assert code_of(support.create_case, subject="s", communicationBody="b") == \
        "CaseCreationLimitExceeded"
    # The ceiling is per account.
    assert new_case(client_for(limited, "440000000002"))


def test_attachment_set_creation_limit(limited):
    support = client_for(limited, "440000000003")
    files = [{"fileName": "a.txt", "data": b"a"}]
    set_id = support.add_attachments_to_set(attachments=files)["attachmentSetId"]
    support.add_attachments_to_set(attachments=files)
    with pytest.raises(support.exceptions.AttachmentLimitExceeded):
        support.add_attachments_to_set(attachments=files)
    # Adding to an existing set creates no set, so it is not limited.
    support.add_attachments_to_set(attachmentSetId=set_id, attachments=files)
    time.sleep(WINDOW + 0.1)
    assert support.add_attachments_to_set(attachments=files)["attachmentSetId"]


def test_describe_attachment_limit(limited):
    support = client_for(limited, "440000000004")
    set_id = support.add_attachments_to_set(
        attachments=[{"fileName": "a.txt", "data": b"abc"}])["attachmentSetId"]
    case_id = support.create_case(subject="s", communicationBody="b", attachmentSetId=set_id)[
        "caseId"]
    attachment_id = support.describe_communications(
        caseId=case_id)["communications"][0]["attachmentSet"][0]["attachmentId"]
    for _ in range(2):
        assert support.describe_attachment(attachmentId=attachment_id)["attachment"]["data"] \
            == b"abc"
    with pytest.raises(support.exceptions.DescribeAttachmentLimitExceeded):
        support.describe_attachment(attachmentId=attachment_id)
    time.sleep(WINDOW + 0.1)
    assert support.describe_attachment(attachmentId=attachment_id)["attachment"]


THROTTLED = [
    ("describe_trusted_advisor_checks", {"language": "en"}),
    ("describe_trusted_advisor_check_result", {"checkId": "zXCkfM1nI3"}),
    ("describe_trusted_advisor_check_summaries", {"checkIds": ["zXCkfM1nI3"]}),
    ("describe_trusted_advisor_check_refresh_statuses", {"checkIds": ["zXCkfM1nI3"]}),
    ("describe_supported_languages", {"issueType": "technical", "serviceCode": "general-info",
                                      "categoryCode": "using-aws"}),
    ("describe_create_case_options", {"issueType": "technical", "serviceCode": "general-info",
                                      "categoryCode": "using-aws", "language": "en"}),
]


@pytest.mark.parametrize("index", range(len(THROTTLED)))
def test_throttling_on_the_operations_that_declare_it(limited, index):
    operation, params = THROTTLED[index]
    account = f"4400000001{index:02d}"
    support = client_for(limited, account)
    call = getattr(support, operation)
    started = time.monotonic()
    calls = drain(support, call, params)
    # The burst, plus at most what refilled while the calls ran (a slow machine refills more).
    assert BURST <= calls <= BURST + int((time.monotonic() - started) * RATE) + 1
    # Buckets are per account and operation: another operation is not affected...
    assert support.describe_services(serviceCodeList=["general-info"])["services"]
    # ...and the bucket refills at the configured rate.
    time.sleep(1.1)
    call(**params)


def test_operations_without_throttling_in_their_model_are_never_throttled(limited):
    support = client_for(limited, "440000000005")
    for _ in range(10):
        support.describe_services(serviceCodeList=["general-info"])
        support.describe_severity_levels()


def test_sdk_retries_throttled_calls(limited):
    key, secret = limited.new_account("440000000006")
    support = limited.client("support", key=key, secret=secret)
    patient = boto3.client("support", endpoint_url=limited.endpoint, region_name="us-east-1",
                           aws_access_key_id=key, aws_secret_access_key=secret,
                           config=Config(retries={"max_attempts": 5, "mode": "standard"}))
    drain(support, support.describe_trusted_advisor_checks, {"language": "en"})
    answer = patient.describe_trusted_advisor_checks(language="en")
    assert answer["checks"] and answer["ResponseMetadata"]["RetryAttempts"] >= 1


def test_limits_are_off_by_default(server):
    key, secret = server.new_account("440000000007")
    support = server.client("support", key=key, secret=secret)
    for _ in range(12):
        support.describe_trusted_advisor_check_summaries(checkIds=["zXCkfM1nI3"])
        support.add_attachments_to_set(attachments=[{"fileName": "a", "data": b"a"}])
    for _ in range(4):
        new_case(support)
