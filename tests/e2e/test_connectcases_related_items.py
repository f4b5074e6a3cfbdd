"""Connect Cases related items: Contact, Comment, File, Sla, ConnectCase and Custom."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from cases_helpers import code_of, error_of, new_case, text

from casework.cases import slas

ACCOUNT = "333333333305"
INSTANCE = f"arn:aws:connect:us-east-1:{ACCOUNT}:instance/i-1"
COMMENT = {"comment": {"body": "Called the customer", "contentType": "Text/Plain"}}
FILE = f"{INSTANCE}/file/f-1"


@pytest.fixture
def case(cc, domain, template):
    return new_case(cc, domain, template)


def add(cc, domain, case_id, kind, content, **extra):
    return cc.create_related_item(domainId=domain, caseId=case_id, type=kind, content=content,
                                  **extra)


def search(cc, domain, case_id, *filters, **extra):
    return cc.search_related_items(domainId=domain, caseId=case_id, filters=list(filters),
                                   **extra)["relatedItems"]


def test_contact_takes_channel_and_time_from_the_registry(server, cc, domain, case):
    known = f"{INSTANCE}/contact/known-1"
    server.casework("contacts", "put", known, "--channel", "CHAT",
                    "--connected-at", "2026-03-04T05:06:07.500Z")
    created = add(cc, domain, case, "Contact", {"contact": {"contactArn": known}},
                  performedBy={"userArn": f"{INSTANCE}/user/u-1"})
    assert created["relatedItemArn"].endswith(
        f":domain/{domain}/case/{case}/related-item/{created['relatedItemId']}")
    unknown = f"{INSTANCE}/contact/unknown-1"
    add(cc, domain, case, "Contact", {"contact": {"contactArn": unknown}})
    items = search(cc, domain, case)
    assert [i["content"]["contact"]["contactArn"] for i in items] == [unknown, known]
    newest, oldest = items
    assert oldest["content"]["contact"]["channel"] == "CHAT"
    assert oldest["content"]["contact"]["connectedToSystemTime"] == datetime(
        2026, 3, 4, 5, 6, 7, 500000, tzinfo=UTC)
    assert oldest["performedBy"] == {"userArn": f"{INSTANCE}/user/u-1"}
    assert oldest["type"] == "Contact" and oldest["tags"] == {}
    assert newest["content"]["contact"]["channel"] == "VOICE"
    assert newest["content"]["contact"]["connectedToSystemTime"] == newest["associationTime"]
    chat = search(cc, domain, case, {"contact": {"channel": ["CHAT", "TASK"]}})
    assert [i["relatedItemId"] for i in chat] == [created["relatedItemId"]]
    by_arn = search(cc, domain, case, {"contact": {"contactArn": unknown}})
    assert [i["content"]["contact"]["contactArn"] for i in by_arn] == [unknown]
    assert code_of(cc.create_related_item, domainId=domain, caseId=case, type="Contact",
                   content={"contact": {"contactArn": "not-an-arn"}}) == (
        "ValidationException", 400)


def test_comment_update_and_delete(cc, domain, case):
    item_id = add(cc, domain, case, "Comment", COMMENT,
                  performedBy={"customEntity": "agent smith"})["relatedItemId"]
    updated = cc.update_related_item(
        domainId=domain, caseId=case, relatedItemId=item_id,
        content={"comment": {"body": "Called twice", "contentType": "Text/Plain"}},
        performedBy={"userArn": f"{INSTANCE}/user/u-2"})
    assert updated["content"] == {"comment": {"body": "Called twice",
                                              "contentType": "Text/Plain"}}
    assert (updated["type"], updated["createdBy"], updated["lastUpdatedUser"]) == (
        "Comment", {"customEntity": "agent smith"}, {"userArn": f"{INSTANCE}/user/u-2"})
    assert updated["relatedItemArn"].endswith(item_id) and updated["tags"] == {}
    assert search(cc, domain, case, {"comment": {}})[0]["content"]["comment"]["body"] == \
        "Called twice"
    cc.delete_related_item(domainId=domain, caseId=case, relatedItemId=item_id)
    assert search(cc, domain, case) == []
    error = error_of(cc.delete_related_item, domainId=domain, caseId=case,
                     relatedItemId=item_id)
    assert (error["Error"]["Code"], error["resourceType"]) == ("ResourceNotFoundException",
                                                               "RelatedItem")
    assert code_of(cc.update_related_item, domainId=domain, caseId=case, relatedItemId="nope",
                   content=COMMENT) == ("ResourceNotFoundException", 404)


def test_type_must_match_content(cc, domain, case):
    assert code_of(cc.create_related_item, domainId=domain, caseId=case, type="File",
                   content=COMMENT) == ("ValidationException", 400)
    contact = add(cc, domain, case, "Contact",
                  {"contact": {"contactArn": f"{INSTANCE}/contact/c-9"}})["relatedItemId"]
    assert code_of(cc.update_related_item, domainId=domain, caseId=case,
                   relatedItemId=contact, content=COMMENT) == ("ValidationException", 400)
    assert code_of(cc.create_related_item, domainId=domain, caseId="nope", type="Comment",
                   content=COMMENT) == ("ResourceNotFoundException", 404)


def test_files_cannot_be_deleted(cc, domain, case):
    item_id = add(cc, domain, case, "File", {"file": {"fileArn": FILE}})["relatedItemId"]
    assert search(cc, domain, case, {"file": {"fileArn": FILE}})[0]["content"] == {
        "file": {"fileArn": FILE}}
    assert search(cc, domain, case, {"file": {"fileArn": FILE + "x"}}) == []
    assert code_of(cc.delete_related_item, domainId=domain, caseId=case,
                   relatedItemId=item_id) == ("ValidationException", 400)


def test_connect_case_links_another_case(cc, domain, template, case):
    other = new_case(cc, domain, template)
    add(cc, domain, case, "ConnectCase", {"connectCase": {"caseId": other}})
    found = search(cc, domain, case, {"connectCase": {"caseId": other}})
    assert found[0]["content"] == {"connectCase": {"caseId": other}}
    assert code_of(cc.create_related_item, domainId=domain, caseId=case, type="ConnectCase",
                   content={"connectCase": {"caseId": "nope"}}) == (
        "ResourceNotFoundException", 404)
    assert code_of(cc.create_related_item, domainId=domain, caseId=case, type="ConnectCase",
                   content={"connectCase": {"caseId": case}}) == ("ValidationException", 400)


def test_custom_items(cc, domain, case):
    fields = [cc.create_field(domainId=domain, name=f"custom {i}", type="Number")["fieldId"]
              for i in range(6)]
    order = cc.create_field(domainId=domain, name="order id", type="Text")["fieldId"]
    item_id = add(cc, domain, case, "Custom", {"custom": {"fields": [
        {"id": order, "value": text("Order-17")},
        {"id": fields[0], "value": {"doubleValue": 3}}]}})["relatedItemId"]
    matching = {"custom": {"fields": {"andAll": [
        {"field": {"contains": {"id": order, "value": text("order")}}},
        {"field": {"greaterThan": {"id": fields[0], "value": {"doubleValue": 2}}}}]}}}
    assert [i["relatedItemId"] for i in search(cc, domain, case, matching)] == [item_id]
    assert search(cc, domain, case, {"custom": {"fields": {"not": {"field": {"equalTo": {
        "id": order, "value": text("Order-17")}}}}}}) == []
    updated = cc.update_related_item(domainId=domain, caseId=case, relatedItemId=item_id,
                                     content={"custom": {"fields": [
                                         {"id": fields[1], "value": {"doubleValue": 9}}]}})
    assert updated["content"] == {"custom": {"fields": [
        {"id": fields[1], "value": {"doubleValue": 9.0}}]}}
    too_many = [{"id": f, "value": {"doubleValue": 1}} for f in fields]
    assert code_of(cc.create_related_item, domainId=domain, caseId=case, type="Custom",
                   content={"custom": {"fields": too_many}}) == (
        "ServiceQuotaExceededException", 402)
    assert code_of(cc.update_related_item, domainId=domain, caseId=case, relatedItemId=item_id,
                   content={"custom": {"fields": too_many}}) == (
        "ServiceQuotaExceededException", 402)
    for bad in ([{"id": "title", "value": text("x")}],
                [{"id": fields[0], "value": text("x")}],
                [{"id": "nope", "value": text("x")}]):
        assert code_of(cc.create_related_item, domainId=domain, caseId=case, type="Custom",
                       content={"custom": {"fields": bad}}) == ("ValidationException", 400)


def test_sla_is_met_when_the_case_reaches_the_target(cc, domain, case):
    config = {"name": "Close in an hour", "type": "CaseField", "fieldId": "status",
              "targetFieldValues": [text("closed")], "targetSlaMinutes": 60}
    add(cc, domain, case, "Sla", {"sla": {"slaInputConfiguration": config}})
    sla = search(cc, domain, case, {"sla": {}})[0]["content"]["sla"]["slaConfiguration"]
    assert (sla["status"], sla["fieldId"], sla["targetFieldValues"]) == (
        "Active", "status", [text("closed")])
    assert (sla["targetTime"] - search(cc, domain, case)[0]["associationTime"]).seconds == 3600
    assert "completionTime" not in sla
    assert search(cc, domain, case, {"sla": {"status": "Met"}}) == []
    cc.update_case(domainId=domain, caseId=case, fields=[{"id": "status",
                                                          "value": text("closed")}])
    sla = search(cc, domain, case, {"sla": {"status": "Met", "name": "Close in an hour"}})[0][
        "content"]["sla"]["slaConfiguration"]
    assert sla["status"] == "Met" and sla["completionTime"] <= sla["targetTime"]
    for bad in ({**config, "fieldId": "nope"}, {**config, "targetFieldValues": [text("gone")]},
                {k: v for k, v in config.items() if k != "fieldId"}):
        assert code_of(cc.create_related_item, domainId=domain, caseId=case, type="Sla",
                       content={"sla": {"slaInputConfiguration": bad}}) == (
            "ValidationException", 400)


def test_sla_target_duration_is_updated_from_its_creation(cc, domain, case):
    config = {"name": "Close in an hour", "type": "CaseField", "fieldId": "status",
              "targetFieldValues": [text("closed")], "targetSlaMinutes": 60}
    item_id = add(cc, domain, case, "Sla", {"sla": {"slaInputConfiguration": config}})[
        "relatedItemId"]
    updated = cc.update_related_item(
        domainId=domain, caseId=case, relatedItemId=item_id,
        content={"sla": {"slaUpdateConfiguration": {"targetSlaMinutes": 240}}})
    sla = updated["content"]["sla"]["slaConfiguration"]
    assert (sla["targetTime"] - updated["associationTime"]).total_seconds() == 4 * 3600
    assert (sla["status"], sla["name"], sla["targetFieldValues"]) == (
        "Active", "Close in an hour", [text("closed")])
    assert search(cc, domain, case, {"sla": {}})[0]["content"]["sla"]["slaConfiguration"][
        "targetTime"] == sla["targetTime"]
    # Each kind of item takes its own content member only.
    comment = add(cc, domain, case, "Comment", COMMENT)["relatedItemId"]
    for item, content in ((item_id, COMMENT), (comment, {"sla": {"slaUpdateConfiguration": {
            "targetSlaMinutes": 5}}})):
        assert code_of(cc.update_related_item, domainId=domain, caseId=case,
                       relatedItemId=item, content=content) == ("ValidationException", 400)


def test_sla_goes_overdue_then_not_met_as_real_time_passes(cc, domain, template):
    """The shortest SLA AWS allows is a minute, so this test waits one out."""
    config = {"name": "Close in a minute", "type": "CaseField", "fieldId": "status",
              "targetFieldValues": [text("closed")], "targetSlaMinutes": 1}
    late, never = new_case(cc, domain, template), new_case(cc, domain, template)
    for case_id in (late, never):
        add(cc, domain, case_id, "Sla", {"sla": {"slaInputConfiguration": config}})

    def sla_of(case_id):
        return search(cc, domain, case_id, {"sla": {}})[0]["content"]["sla"]["slaConfiguration"]

    target = sla_of(late)["targetTime"]
    assert sla_of(late)["status"] == "Active"
    time.sleep(max(0.0, (target - datetime.now(UTC)).total_seconds()) + 1)
    assert sla_of(late)["status"] == sla_of(never)["status"] == "Overdue"
    assert [i["content"]["sla"]["slaConfiguration"]["name"] for i in search(
        cc, domain, late, {"sla": {"status": "Overdue"}})] == ["Close in a minute"]
    cc.update_case(domainId=domain, caseId=late,
                   fields=[{"id": "status", "value": text("closed")}])
    closed = sla_of(late)
    assert closed["status"] == "NotMet" and closed["completionTime"] > closed["targetTime"]
    assert sla_of(never)["status"] == "Overdue"


def test_sla_status_follows_the_clock():
    content = {"targetTime": 1_000, "completionTime": None}
    assert slas.status(content, 999) == "Active"
    assert slas.status(content, 1_001) == "Overdue"
    assert slas.status({**content, "completionTime": 1_000}, 5_000) == "Met"
    assert slas.status({**content, "completionTime": 1_001}, 5_000) == "NotMet"


def test_search_pages_and_or_filters(cc, domain, case):
    made = [add(cc, domain, case, "Comment", COMMENT)["relatedItemId"] for _ in range(3)]
    made.append(add(cc, domain, case, "File", {"file": {"fileArn": FILE}})["relatedItemId"])
    first = cc.search_related_items(domainId=domain, caseId=case, maxResults=3)
    rest = cc.search_related_items(domainId=domain, caseId=case, maxResults=3,
                                   nextToken=first["nextToken"])
    assert [i["relatedItemId"] for i in first["relatedItems"] + rest["relatedItems"]] == \
        made[::-1]
    assert "nextToken" not in rest
    both = search(cc, domain, case, {"file": {}}, {"comment": {}})
    assert len(both) == 4
    assert search(cc, domain, case, {"contact": {}}) == []
    assert code_of(cc.search_related_items, domainId=domain, caseId=case,
                   nextToken="forged") == ("ValidationException", 400)


def test_quotas_per_case(cc, domain, template):
    case_id = new_case(cc, domain, template)
    for i in range(10):
        add(cc, domain, case_id, "Sla", {"sla": {"slaInputConfiguration": {
            "name": f"s{i}", "type": "CaseField", "fieldId": "status",
            "targetFieldValues": [text("closed")], "targetSlaMinutes": 5}}})
    assert code_of(cc.create_related_item, domainId=domain, caseId=case_id, type="Sla",
                   content={"sla": {"slaInputConfiguration": {
                       "name": "s10", "type": "CaseField", "fieldId": "status",
                       "targetFieldValues": [text("closed")], "targetSlaMinutes": 5}}}) == (
        "ServiceQuotaExceededException", 402)
    for _ in range(50):
        add(cc, domain, case_id, "File", {"file": {"fileArn": FILE}})
    assert code_of(cc.create_related_item, domainId=domain, caseId=case_id, type="File",
                   content={"file": {"fileArn": FILE}}) == ("ServiceQuotaExceededException", 402)
    comments = [add(cc, domain, case_id, "Comment", COMMENT)["relatedItemId"]
                for _ in range(140)]
    error = error_of(cc.create_related_item, domainId=domain, caseId=case_id, type="Comment",
                     content=COMMENT)
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (
        "ServiceQuotaExceededException", 402)
    # A deleted item leaves room for one more, and no more.
    cc.delete_related_item(domainId=domain, caseId=case_id, relatedItemId=comments[0])
    add(cc, domain, case_id, "Comment", COMMENT)
    assert code_of(cc.create_related_item, domainId=domain, caseId=case_id, type="Comment",
                   content=COMMENT) == ("ServiceQuotaExceededException", 402)
