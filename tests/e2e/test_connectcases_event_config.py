"""PutCaseEventConfiguration and GetCaseEventConfiguration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cases_helpers import account_client, code_of, error_of, new_domain
from sqlalchemy import create_engine
from sqlalchemy import text as sql

ACCOUNT = "333333333323"
AWS = Path(sys.executable).with_name("aws")


@pytest.fixture
def domain(cc):
    """A fresh domain per test (five per account is the quota, so each test deletes its own)."""
    domain_id = new_domain(cc)
    yield domain_id
    cc.delete_domain(domainId=domain_id)


def get(cc, domain) -> dict:
    return cc.get_case_event_configuration(domainId=domain)["eventBridge"]


def put(cc, domain, config: dict) -> dict:
    return cc.put_case_event_configuration(domainId=domain, eventBridge=config)


def put_error(cc, domain, config: dict) -> dict:
    return error_of(cc.put_case_event_configuration, domainId=domain, eventBridge=config)


def put_code(cc, domain, config: dict) -> tuple[str, int]:
    error = put_error(cc, domain, config)
    return error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]


def test_disabled_until_configured(cc, domain):
    assert get(cc, domain) == {"enabled": False}


def test_put_then_get_returns_it_as_given(cc, domain):
    custom = cc.create_field(domainId=domain, name="Priority", type="Text")["fieldId"]
    config = {"enabled": True, "includedData": {
        "caseData": {"fields": [{"id": "status"}, {"id": "title"}, {"id": "customer_id"},
                                {"id": custom}],
                     "autoIncludeFields": "System"},
        "relatedItemData": {"includeContent": True}}}
    response = put(cc, domain, config)
    assert set(response) == {"ResponseMetadata"}
    assert get(cc, domain) == config
    # A Put replaces the whole configuration.
    put(cc, domain, {"enabled": False, "includedData": {
        "relatedItemData": {"includeContent": False}}})
    assert get(cc, domain) == {"enabled": False, "includedData": {
        "relatedItemData": {"includeContent": False}}}
    put(cc, domain, {"enabled": True})
    assert get(cc, domain) == {"enabled": True}
    put(cc, domain, {"enabled": True, "includedData": {"caseData": {"fields": []}}})
    assert get(cc, domain) == {"enabled": True, "includedData": {"caseData": {"fields": []}}}


def test_fields_must_exist_and_be_live(cc, domain):
    before = {"enabled": True}
    put(cc, domain, before)
    deleted = cc.create_field(domainId=domain, name="Gone", type="Text")["fieldId"]
    cc.delete_field(domainId=domain, fieldId=deleted)
    for fields in ([{"id": "no-such-field"}], [{"id": deleted}],
                   [{"id": "title"}, {"id": "title"}]):
        error = put_error(cc, domain, {"enabled": True,
                                           "includedData": {"caseData": {"fields": fields}}})
        assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (
            "ValidationException", 400)
    error = put_error(cc, domain, {"enabled": True, "includedData": {
        "caseData": {"fields": [{"id": "title"}, {"id": "no-such-field"}]}}})
    assert "no-such-field" in error["Error"]["Message"]
    # Constraints botocore leaves to the server: the enum and the list's 400 entries.
    assert put_code(cc, domain, {"enabled": True, "includedData": {
        "caseData": {"fields": [], "autoIncludeFields": "Everything"}}}) == (
        "ValidationException", 400)
    assert put_code(cc, domain, {"enabled": True, "includedData": {
        "caseData": {"fields": [{"id": "title"}] * 401}}}) == ("ValidationException", 400)
    assert get(cc, domain) == before  # nothing was stored by the failed calls


def test_fields_deleted_later_are_left_out(cc, domain):
    keep = cc.create_field(domainId=domain, name="Keep", type="Number")["fieldId"]
    drop = cc.create_field(domainId=domain, name="Drop", type="Text")["fieldId"]
    put(cc, domain, {"enabled": True, "includedData": {
        "caseData": {"fields": [{"id": drop}, {"id": "title"}, {"id": keep}]}}})
    cc.delete_field(domainId=domain, fieldId=drop)
    assert get(cc, domain)["includedData"]["caseData"]["fields"] == [{"id": "title"},
                                                                     {"id": keep}]


def test_unknown_domain(cc):
    for call, params in ((cc.get_case_event_configuration, {}),
                         (cc.put_case_event_configuration, {"eventBridge": {"enabled": True}})):
        error = error_of(call, domainId="no-such-domain", **params)
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert (error["Error"]["Code"], error["resourceId"], error["resourceType"]) == (
            "ResourceNotFoundException", "no-such-domain", "Domain")


def test_accounts_are_isolated(server, cc, domain):
    put(cc, domain, {"enabled": True})
    stranger = account_client(server, "333333333324")
    assert code_of(stranger.get_case_event_configuration, domainId=domain) == (
        "ResourceNotFoundException", 404)
    assert put_code(stranger, domain, {"enabled": False}) == (
        "ResourceNotFoundException", 404)
    assert get(cc, domain) == {"enabled": True}
    # Each domain has its own configuration.
    other = new_domain(cc)
    assert get(cc, other) == {"enabled": False}
    cc.delete_domain(domainId=other)


def test_delete_domain_removes_the_configuration(server, cc):
    domain_id = new_domain(cc)
    put(cc, domain_id, {"enabled": True})
    cc.delete_domain(domainId=domain_id)
    assert code_of(cc.get_case_event_configuration, domainId=domain_id) == (
        "ResourceNotFoundException", 404)
    engine = create_engine(server.database_url)
    with engine.connect() as conn:
        left = conn.execute(sql("SELECT count(*) FROM cases_event_configurations "
                                "WHERE domain_id = :d"), {"d": domain_id}).scalar_one()
    engine.dispose()
    assert left == 0


def test_aws_cli_as_the_admin_guide_shows(server, keys, cc, domain):
    env = {**os.environ, "AWS_ENDPOINT_URL": server.endpoint, "AWS_ACCESS_KEY_ID": keys[0],
           "AWS_SECRET_ACCESS_KEY": keys[1], "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    config = {"enabled": True, "includedData": {
        "caseData": {"fields": [{"id": "status"}, {"id": "title"}, {"id": "customer_id"}]},
        "relatedItemData": {"includeContent": True}}}
    subprocess.run([str(AWS), "connectcases", "put-case-event-configuration", "--domain-id",
                    domain, "--event-bridge", json.dumps(config)],
                   capture_output=True, text=True, env=env, check=True)
    out = subprocess.run([str(AWS), "connectcases", "get-case-event-configuration",
                          "--domain-id", domain, "--output", "json"],
                         capture_output=True, text=True, env=env, check=True).stdout
    assert json.loads(out) == {"eventBridge": config}
