"""Amazon Connect Cases honours --throttle-rate / --throttle-burst: 429 ThrottlingException."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from conftest import REGION, start_server

ACCOUNT = "333333333390"


@pytest.fixture(scope="module")
def throttled(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("throttled"), "--throttle-rate", "1",
                          "--throttle-burst", "1")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def keys(throttled):
    return throttled.new_account(ACCOUNT)


def client(server, keys, **retries):
    return boto3.client("connectcases", endpoint_url=server.endpoint, region_name=REGION,
                        aws_access_key_id=keys[0], aws_secret_access_key=keys[1],
                        config=Config(retries=retries))


def test_rapid_calls_get_429_throttling_exception(throttled, keys):
    impatient = client(throttled, keys, total_max_attempts=1)
    errors = []
    for _ in range(5):
        try:
            impatient.list_domains()
        except impatient.exceptions.ThrottlingException as error:
            errors.append(error.response)
    assert errors, "five rapid calls at 1 a second, burst 1, were never throttled"
    error = errors[0]
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert error["Error"]["Code"] == "ThrottlingException"
    assert error["Error"]["Message"] == "Rate exceeded"
    assert error["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"].startswith(
        "ThrottlingException")


def test_standard_retry_mode_waits_out_the_throttle(throttled, keys):
    patient = client(throttled, keys, max_attempts=6, mode="standard")
    attempts = 0
    for _ in range(4):
        answer = patient.list_domains()
        assert answer["domains"] == []
        attempts += answer["ResponseMetadata"]["RetryAttempts"]
    # Four calls at one a second, burst one: the SDK saw 429s and retried them away.
    assert attempts >= 1


def test_buckets_are_per_operation_and_account(throttled, keys):
    impatient = client(throttled, keys, total_max_attempts=1)
    other = throttled.new_account("333333333391")
    stranger = client(throttled, other, total_max_attempts=1)
    with pytest.raises(impatient.exceptions.ThrottlingException):
        for _ in range(5):
            impatient.list_domains()
    # Another account has its own bucket.
    assert stranger.list_domains()["domains"] == []
