"""GetCaseAuditEvents: the history every change to a case and its related items leaves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cases_helpers import account_client, code_of, error_of, new_case, new_domain, text
from sqlalchemy import create_engine
from sqlalchemy import text as sql

ACCOUNT = "333333333320"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
INSTANCE = f"arn:aws:connect:us-east-1:{ACCOUNT}:instance/i-1"
AGENT = {"userArn": f"{INSTANCE}/user/agent-1"}
BOT = {"customEntity": "triage bot"}
COMMENT = {"comment": {"body": "Called the customer", "contentType": "Text/Plain"}}


@pytest.fixture(scope="module")
def amount(cc, domain):
    return cc.create_field(domainId=domain, name="Amount", type="Number")["fieldId"]


@pytest.fixture(scope="module")
def note(cc, domain):
    return cc.create_field(domainId=domain, name="Note", type="Text")["fieldId"]


def history(cc, domain, case_id, **extra) -> list[dict]:
    return cc.get_case_audit_events(domainId=domain, caseId=case_id, **extra)["auditEvents"]


def by_id(event: dict) -> dict:
    """An event's fields as ``{eventFieldId: (oldValue or None, newValue)}``."""
    return {f["eventFieldId"]: (f.get("oldValue"), f["newValue"]) for f in event["fields"]}


def assert_recent(moment: datetime) -> None:
    assert abs(datetime.now(UTC) - moment) < timedelta(seconds=30)


def test_case_created_records_every_initial_value(cc, domain, template, amount):
    case_id = new_case(cc, domain, template, title="Broken kettle", performedBy=AGENT,
                       fields=[{"id": amount, "value": {"doubleValue": 12.5}},
                               {"id": "summary", "value": {"emptyValue": {}}}])
    [event] = history(cc, domain, case_id)
    assert event["type"] == "Case.Created"
    assert "relatedItemType" not in event
    assert uuid.UUID(event["eventId"])
    assert_recent(event["performedTime"])
    assert event["performedBy"] == {"user": AGENT, "iamPrincipalArn": ROOT}
    fields = by_id(event)
    assert all(old is None for old, _ in fields.values())
    values = {field_id: new for field_id, (_, new) in fields.items()}
    assert values["title"] == text("Broken kettle")
    assert values[amount] == {"doubleValue": 12.5}
    assert values["status"] == text("open")
    assert values["case_id"] == text(case_id)
    assert values["last_updated_user"] == {"userArnValue": AGENT["userArn"]}
    assert values["created_datetime"] == values["last_updated_datetime"]
    assert len(values["reference_number"]["stringValue"]) == 8
    # Fields without a value are not part of what the case started with.
    assert "summary" not in values and "last_closed_datetime" not in values
    case = cc.get_case(domainId=domain, caseId=case_id,
                       fields=[{"id": "reference_number"}, {"id": "created_datetime"}])
    assert {f["id"]: f["value"] for f in case["fields"]} == {
        "reference_number": values["reference_number"],
        "created_datetime": values["created_datetime"]}


def test_case_updated_records_old_and_new_values_of_what_changed(cc, domain, template, amount,
                                                                 note):
    case_id = new_case(cc, domain, template, title="Before", performedBy=AGENT,
                       fields=[{"id": amount, "value": {"doubleValue": 1}},
                               {"id": note, "value": text("keep me")}])
    time.sleep(0.01)  # a later millisecond, so last_updated_datetime visibly changes
    cc.update_case(domainId=domain, caseId=case_id, performedBy=BOT, fields=[
        {"id": "title", "value": text("After")},
        {"id": amount, "value": {"emptyValue": {}}},
        {"id": "summary", "value": text("new summary")},
        {"id": note, "value": text("keep me")},  # written again, unchanged
        {"id": "status", "value": text("closed")},
    ])
    updated, created = history(cc, domain, case_id)
    assert created["type"] == "Case.Created" and updated["type"] == "Case.Updated"
    assert updated["performedBy"] == {"user": BOT, "iamPrincipalArn": ROOT}
    fields = by_id(updated)
    assert fields["title"] == (text("Before"), text("After"))
    assert fields[amount] == ({"doubleValue": 1.0}, {"emptyValue": {}})
    assert fields["summary"] == (None, text("new summary"))
    assert fields["status"] == (text("open"), text("closed"))
    # A custom entity is no Connect user: last_updated_user is cleared.
    assert fields["last_updated_user"] == ({"userArnValue": AGENT["userArn"]},
                                           {"emptyValue": {}})
    old_time, new_time = fields["last_updated_datetime"]
    assert old_time["stringValue"] < new_time["stringValue"]
    assert fields["last_closed_datetime"] == (None, new_time)
    assert note not in fields
    assert set(fields) == {"title", amount, "summary", "status", "last_updated_user",
                           "last_updated_datetime", "last_closed_datetime"}
    # Without performedBy the event names the IAM principal only.
    cc.update_case(domainId=domain, caseId=case_id, fields=[{"id": "title", "value": text("3")}])
    newest = history(cc, domain, case_id)[0]
    assert newest["performedBy"] == {"iamPrincipalArn": ROOT}
    assert by_id(newest)["title"] == (text("After"), text("3"))
    assert "last_updated_user" not in by_id(newest)  # it was already empty


def test_rejected_changes_and_idempotent_retries_leave_no_history(cc, domain, template, amount):
    token = str(uuid.uuid4())
    case_id = new_case(cc, domain, template, clientToken=token)
    assert new_case(cc, domain, template, clientToken=token) == case_id
    assert code_of(cc.update_case, domainId=domain, caseId=case_id, fields=[
        {"id": "summary", "value": text("written, then rolled back")},
        {"id": amount, "value": text("not a number")}]) == ("ValidationException", 400)
    assert code_of(cc.update_related_item, domainId=domain, caseId=case_id,
                   relatedItemId="nope", content=COMMENT) == ("ResourceNotFoundException", 404)
    assert [e["type"] for e in history(cc, domain, case_id)] == ["Case.Created"]


def test_comment_created_updated_deleted(cc, domain, template):
    case_id = new_case(cc, domain, template)
    item_id = cc.create_related_item(domainId=domain, caseId=case_id, type="Comment",
                                     content=COMMENT, performedBy=AGENT)["relatedItemId"]
    cc.update_related_item(domainId=domain, caseId=case_id, relatedItemId=item_id,
                           content={"comment": {"body": "Called twice",
                                                "contentType": "Text/Plain"}},
                           performedBy=BOT)
    cc.delete_related_item(domainId=domain, caseId=case_id, relatedItemId=item_id)
    deleted, updated, created, case_created = history(cc, domain, case_id)
    assert [e["type"] for e in (deleted, updated, created, case_created)] == [
        "RelatedItem.Deleted", "RelatedItem.Updated", "RelatedItem.Created", "Case.Created"]
    assert {e["relatedItemType"] for e in (deleted, updated, created)} == {"Comment"}
    identity = (None, text(item_id))
    assert created["fields"][0] == {"eventFieldId": "relatedItemId", "newValue": text(item_id)}
    assert by_id(created) == {"relatedItemId": identity,
                              "comment.body": (None, text("Called the customer")),
                              "comment.contentType": (None, text("Text/Plain"))}
    assert created["performedBy"] == {"user": AGENT, "iamPrincipalArn": ROOT}
    assert by_id(updated) == {"relatedItemId": identity,
                              "comment.body": (text("Called the customer"),
                                               text("Called twice"))}
    assert updated["performedBy"] == {"user": BOT, "iamPrincipalArn": ROOT}
    assert by_id(deleted) == {"relatedItemId": identity,
                              "comment.body": (text("Called twice"), {"emptyValue": {}}),
                              "comment.contentType": (text("Text/Plain"), {"emptyValue": {}})}
    assert deleted["performedBy"] == {"iamPrincipalArn": ROOT}
    assert len({e["eventId"] for e in (deleted, updated, created, case_created)}) == 4


def test_every_related_item_type(server, cc, domain, template, amount, note):
    case_id = new_case(cc, domain, template)
    other = new_case(cc, domain, template, title="Other")
    contact = f"{INSTANCE}/contact/audit-1"
    server.casework("contacts", "put", contact, "--channel", "CHAT",
                    "--connected-at", "2026-03-04T05:06:07.500Z")

    def create(kind, content):
        return cc.create_related_item(domainId=domain, caseId=case_id, type=kind,
                                      content=content)["relatedItemId"]

    ids = {
        "Contact": create("Contact", {"contact": {"contactArn": contact}}),
        "File": create("File", {"file": {"fileArn": f"{INSTANCE}/file/f-1"}}),
        "ConnectCase": create("ConnectCase", {"connectCase": {"caseId": other}}),
        "Custom": create("Custom", {"custom": {"fields": [
            {"id": amount, "value": {"doubleValue": 3}}, {"id": note, "value": text("x")}]}}),
        "Sla": create("Sla", {"sla": {"slaInputConfiguration": {
            "name": "Close fast", "type": "CaseField", "fieldId": "status",
            "targetFieldValues": [text("closed")], "targetSlaMinutes": 60}}}),
    }
    events = {e["relatedItemType"]: e for e in history(cc, domain, case_id)
              if e["type"] == "RelatedItem.Created"}
    assert set(events) == set(ids)
    for kind, item_id in ids.items():
        assert by_id(events[kind])["relatedItemId"] == (None, text(item_id))
    created = {kind: {f: new for f, (_, new) in by_id(e).items()} for kind, e in events.items()}
    assert created["Contact"]["contact.contactArn"] == text(contact)
    assert created["Contact"]["contact.channel"] == text("CHAT")
    assert created["Contact"]["contact.connectedToSystemTime"] == text(
        "2026-03-04T05:06:07.500Z")
    assert created["File"]["file.fileArn"] == text(f"{INSTANCE}/file/f-1")
    assert created["ConnectCase"]["connectCase.caseId"] == text(other)
    assert created["Custom"][f"custom.fields.{amount}"] == {"doubleValue": 3.0}
    assert created["Custom"][f"custom.fields.{note}"] == text("x")
    sla = created["Sla"]
    assert sla["sla.slaConfiguration.name"] == text("Close fast")
    assert sla["sla.slaConfiguration.fieldId"] == text("status")
    assert sla["sla.slaConfiguration.targetFieldValues"] == text("closed")
    target = datetime.fromisoformat(sla["sla.slaConfiguration.targetTime"]["stringValue"])
    assert target - events["Sla"]["performedTime"] == timedelta(minutes=60)

    # A custom item's update replaces its fields: dropped ones become empty, kept ones unlisted.
    cc.update_related_item(domainId=domain, caseId=case_id, relatedItemId=ids["Custom"],
                           content={"custom": {"fields": [
                               {"id": amount, "value": {"doubleValue": 4}}]}})
    newest = history(cc, domain, case_id)[0]
    assert (newest["type"], newest["relatedItemType"]) == ("RelatedItem.Updated", "Custom")
    assert by_id(newest) == {
        "relatedItemId": (None, text(ids["Custom"])),
        f"custom.fields.{amount}": ({"doubleValue": 3.0}, {"doubleValue": 4.0}),
        f"custom.fields.{note}": (text("x"), {"emptyValue": {}})}
    cc.delete_related_item(domainId=domain, caseId=case_id, relatedItemId=ids["Contact"])
    newest = history(cc, domain, case_id)[0]
    assert (newest["type"], newest["relatedItemType"]) == ("RelatedItem.Deleted", "Contact")
    assert by_id(newest)["contact.contactArn"] == (text(contact), {"emptyValue": {}})
    # Relating a case records the change on the case it was made to only.
    assert [e["type"] for e in history(cc, domain, other)] == ["Case.Created"]


def test_pages_newest_first(cc, domain, template):
    case_id = new_case(cc, domain, template, title="0")
    for number in range(1, 31):
        cc.update_case(domainId=domain, caseId=case_id,
                       fields=[{"id": "title", "value": text(str(number))}])
    first = cc.get_case_audit_events(domainId=domain, caseId=case_id)
    assert len(first["auditEvents"]) == 25  # the default page
    rest = cc.get_case_audit_events(domainId=domain, caseId=case_id,
                                    nextToken=first["nextToken"])
    assert len(rest["auditEvents"]) == 6 and "nextToken" not in rest
    titles = [by_id(e)["title"][1]["stringValue"]
              for e in first["auditEvents"] + rest["auditEvents"]]
    assert titles == [str(n) for n in range(30, -1, -1)]

    seen, token = [], None
    while True:
        page = cc.get_case_audit_events(domainId=domain, caseId=case_id, maxResults=7,
                                        **({"nextToken": token} if token else {}))
        assert len(page["auditEvents"]) <= 7
        seen += [e["eventId"] for e in page["auditEvents"]]
        token = page.get("nextToken")
        if not token:
            break
    assert len(seen) == len(set(seen)) == 31
    exact = cc.get_case_audit_events(domainId=domain, caseId=case_id, maxResults=25,
                                     nextToken=cc.get_case_audit_events(
                                         domainId=domain, caseId=case_id,
                                         maxResults=6)["nextToken"])
    assert len(exact["auditEvents"]) == 25 and "nextToken" not in exact

    # A token belongs to its case: another case's, or a forged one, is a validation error.
    other = new_case(cc, domain, template)
    for bad in (first["nextToken"], "forged", first["nextToken"][:-2] + "xx"):
        assert code_of(cc.get_case_audit_events, domainId=domain, caseId=other,
                       nextToken=bad) == ("ValidationException", 400)
    assert code_of(cc.get_case_audit_events, domainId=domain, caseId=case_id,
                   nextToken="forged") == ("ValidationException", 400)
    # maxResults above the model's 25 (botocore checks only the minimum itself).
    assert code_of(cc.get_case_audit_events, domainId=domain, caseId=case_id,
                   maxResults=26) == ("ValidationException", 400)


def audit_rows(server, domain_id: str) -> int:
    engine = create_engine(server.database_url)
    with engine.connect() as conn:
        count = conn.execute(sql("SELECT count(*) FROM cases_audit_events "
                                 "WHERE domain_id = :d"), {"d": domain_id}).scalar_one()
    engine.dispose()
    return count


def test_deleted_case_has_no_history(server, cc):
    domain = new_domain(cc)
    template = cc.create_template(domainId=domain, name="Plain")["templateId"]
    case_id = new_case(cc, domain, template)
    cc.create_related_item(domainId=domain, caseId=case_id, type="Comment", content=COMMENT)
    kept = new_case(cc, domain, template)
    assert audit_rows(server, domain) == 3
    cc.delete_case(domainId=domain, caseId=case_id)
    error = error_of(cc.get_case_audit_events, domainId=domain, caseId=case_id)
    assert error["Error"]["Code"] == "ResourceNotFoundException"
    assert (error["resourceType"], error["resourceId"]) == ("Case", case_id)
    assert audit_rows(server, domain) == 1  # only the other case's
    assert len(history(cc, domain, kept)) == 1
    cc.delete_domain(domainId=domain)
    assert audit_rows(server, domain) == 0


def test_unknown_domain_and_case(cc, domain):
    error = error_of(cc.get_case_audit_events, domainId="no-such-domain", caseId="c")
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert (error["Error"]["Code"], error["resourceType"], error["resourceId"]) == (
        "ResourceNotFoundException", "Domain", "no-such-domain")
    error = error_of(cc.get_case_audit_events, domainId=domain, caseId="no-such-case")
    assert (error["Error"]["Code"], error["resourceType"], error["resourceId"]) == (
        "ResourceNotFoundException", "Case", "no-such-case")


def test_other_accounts_cannot_read_history(server, cc, domain, template):
    case_id = new_case(cc, domain, template)
    stranger = account_client(server, "333333333321")
    error = error_of(stranger.get_case_audit_events, domainId=domain, caseId=case_id)
    assert (error["Error"]["Code"], error["resourceType"]) == ("ResourceNotFoundException",
                                                                "Domain")
    # The stranger's own changes are attributed to the stranger's account.
    own = new_domain(stranger)
    own_template = stranger.create_template(domainId=own, name="Plain")["templateId"]
    own_case = new_case(stranger, own, own_template)
    [event] = history(stranger, own, own_case)
    assert event["performedBy"] == {"iamPrincipalArn": "arn:aws:iam::333333333321:root"}
    # A token of one account is refused in another, even for a case id it knows.
    for number in range(26):
        cc.update_case(domainId=domain, caseId=case_id,
                       fields=[{"id": "title", "value": text(str(number))}])
    token = cc.get_case_audit_events(domainId=domain, caseId=case_id)["nextToken"]
    assert code_of(stranger.get_case_audit_events, domainId=own, caseId=own_case,
                   nextToken=token) == ("ValidationException", 400)


def test_aws_cli_reads_history(server):
    key, secret = server.new_account("333333333322")
    cli = server.client("connectcases", key=key, secret=secret)
    own = new_domain(cli)
    case_id = new_case(cli, own, cli.create_template(domainId=own, name="P")["templateId"])
    env = {**os.environ, "AWS_ENDPOINT_URL": server.endpoint, "AWS_ACCESS_KEY_ID": key,
           "AWS_SECRET_ACCESS_KEY": secret, "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    out = subprocess.run([str(Path(sys.executable).with_name("aws")), "connectcases",
                          "get-case-audit-events", "--domain-id", own, "--case-id", case_id,
                          "--output", "json"], capture_output=True, text=True, env=env,
                         check=True).stdout
    [event] = json.loads(out)["auditEvents"]
    assert event["type"] == "Case.Created"
    assert event["performedTime"].endswith("Z")
