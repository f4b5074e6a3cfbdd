"""Connect Cases values that name other AWS resources are checked as AWS documents them:
``customer_id`` holds a Customer Profiles profile ARN, File related items an Amazon Connect
file ARN, Contact related items a contact ARN. End to end through boto3."""

from __future__ import annotations

import pytest
from cases_helpers import error_of, new_case, text

ACCOUNT = "333333333350"
PROFILE_ID = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
PROFILE = f"arn:aws:profile:us-east-1:{ACCOUNT}:domains/retail/profiles/{PROFILE_ID}"
INSTANCE = f"arn:aws:connect:us-east-1:{ACCOUNT}:instance/4a5b6c7d-1111-2222-3333-444455556666"
FILE = f"{INSTANCE}/file/9b8c7d6e-aaaa-bbbb-cccc-ddddeeeeffff"
CONTACT = f"{INSTANCE}/contact/1c2d3e4f-5555-6666-7777-888899990000"
PROFILE_PATTERN = (r"arn:aws[a-z-]*:profile:[a-z0-9-]+:[0-9]{12}:domains/[a-zA-Z0-9_-]+"
                   r"/profiles/[a-zA-Z0-9_-]+")
FILE_PATTERN = (r"arn:aws[a-z-]*:connect:[a-z0-9-]+:[0-9]{12}:instance/[a-zA-Z0-9_-]+"
                r"/file/[a-zA-Z0-9_-]+")
NOT_PROFILES = [
    "cust-42",  # an id of the caller's own CRM, not a profile ARN
    PROFILE_ID,  # a bare profile id
    f"arn:aws:profile:us-east-1:{ACCOUNT}:domains/retail",  # the profiles domain, not a profile
    f"arn:aws:connect:us-east-1:{ACCOUNT}:instance/i-1/contact/c-1",  # another service
    "arn:aws:profile:us-east-1:1234:domains/retail/profiles/p-1",  # not a 12-digit account
]


def message(value: str, path: str, pattern: str) -> str:
    return (f"1 validation error detected: Value '{value}' at '{path}' failed to satisfy "
            f"constraint: Member must satisfy regular expression pattern: {pattern}")


def validation(call, **params) -> str:
    error = error_of(call, **params)
    assert error["Error"]["Code"] == "ValidationException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    return error["Error"]["Message"]


@pytest.fixture(scope="module")
def required(cc, domain) -> str:
    """A template that requires customer_id, as the CreateCase documentation describes."""
    return cc.create_template(domainId=domain, name="Needs a customer",
                              requiredFields=[{"fieldId": "customer_id"}])["templateId"]


def test_customer_id_must_be_a_customer_profiles_profile_arn(cc, domain, required):
    case_id = cc.create_case(domainId=domain, templateId=required, fields=[
        {"id": "title", "value": text("Refund")},
        {"id": "customer_id", "value": text(PROFILE)}])["caseId"]
    got = cc.get_case(domainId=domain, caseId=case_id, fields=[{"id": "customer_id"}])
    assert got["fields"] == [{"id": "customer_id", "value": text(PROFILE)}]
    for bad in NOT_PROFILES:
        assert validation(cc.create_case, domainId=domain, templateId=required, fields=[
            {"id": "title", "value": text("Refund")},
            {"id": "customer_id", "value": text(bad)}]) == message(
            bad, "fields.2.member.value.stringValue", PROFILE_PATTERN)
        assert validation(cc.update_case, domainId=domain, caseId=case_id, fields=[
            {"id": "customer_id", "value": text(bad)}]) == message(
            bad, "fields.1.member.value.stringValue", PROFILE_PATTERN)
    # Nothing was stored by the refused calls.
    got = cc.get_case(domainId=domain, caseId=case_id, fields=[{"id": "customer_id"}])
    assert got["fields"] == [{"id": "customer_id", "value": text(PROFILE)}]


def test_customer_id_stays_optional_when_the_template_does_not_require_it(cc, domain, template):
    case_id = new_case(cc, domain, template)  # no customer at all
    other = f"arn:aws-cn:profile:cn-north-1:{ACCOUNT}:domains/d_2/profiles/p-2"  # any partition
    cc.update_case(domainId=domain, caseId=case_id,
                   fields=[{"id": "customer_id", "value": text(other)}])
    cc.update_case(domainId=domain, caseId=case_id,
                   fields=[{"id": "customer_id", "value": {"emptyValue": {}}}])
    got = cc.get_case(domainId=domain, caseId=case_id, fields=[{"id": "customer_id"}])
    assert got["fields"] in ([], [{"id": "customer_id", "value": {"emptyValue": {}}}])


def test_batch_update_case_refuses_a_customer_id_that_is_not_a_profile_arn(cc, domain, template):
    case_id = new_case(cc, domain, template)
    assert validation(cc.batch_update_case, domainId=domain, cases=[
        {"caseIdentifier": {"caseId": case_id}}], fields=[],
        customerId="cust-42") == message("cust-42", "customerId", PROFILE_PATTERN)
    answer = cc.batch_update_case(domainId=domain, cases=[{"caseIdentifier": {"caseId": case_id}}],
                                  fields=[], customerId=PROFILE)
    assert answer["failedCases"] == []


def test_file_related_items_need_a_connect_file_arn(cc, domain, template):
    case_id = new_case(cc, domain, template)
    item = cc.create_related_item(domainId=domain, caseId=case_id, type="File",
                                  content={"file": {"fileArn": FILE}})
    found = cc.search_related_items(domainId=domain, caseId=case_id)["relatedItems"]
    assert [i["content"] for i in found if i["relatedItemId"] == item["relatedItemId"]] == [
        {"file": {"fileArn": FILE}}]
    for bad in ["report.pdf", "s3://bucket/report.pdf",
                f"{INSTANCE}/attached-file/9b8c7d6e",  # not the ARN's shape
                f"{INSTANCE}/contact/1c2d3e4f",  # a contact, not a file
                f"arn:aws:s3:::bucket/{ACCOUNT}/file/x"]:
        assert validation(cc.create_related_item, domainId=domain, caseId=case_id, type="File",
                          content={"file": {"fileArn": bad}}) == message(
            bad, "content.file.fileArn", FILE_PATTERN)


def test_contact_related_items_need_a_contact_arn_in_aws_wording(cc, domain, template):
    case_id = new_case(cc, domain, template)
    cc.create_related_item(domainId=domain, caseId=case_id, type="Contact",
                           content={"contact": {"contactArn": CONTACT}})
    text_ = validation(cc.create_related_item, domainId=domain, caseId=case_id, type="Contact",
                       content={"contact": {"contactArn": FILE}})
    assert text_.startswith(f"1 validation error detected: Value '{FILE}' at "
                            "'content.contact.contactArn' failed to satisfy constraint: Member "
                            "must satisfy regular expression pattern: ")
