"""Case events delivered to a webhook: AWS Support's and Connect Cases' events, their shapes,
their signatures, and what publishes nothing (a rolled-back change, a dry run, a disabled
domain, a server without sinks)."""

from __future__ import annotations

import re
import uuid

import pytest
from botocore.exceptions import ClientError
from cases_helpers import account_client, new_domain, new_template, text
from conftest import REGION, start_server
from events_helpers import Receiver, names, wait_until
from test_support_agent import Agent

SECRET = "webhook-secret-for-tests"
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
CHANGE_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ENVELOPE = ["version", "id", "detail-type", "source", "account", "time", "region", "resources",
            "detail"]


@pytest.fixture(scope="module")
def receiver():
    running = Receiver(SECRET)
    yield running
    running.close()


@pytest.fixture(scope="module")
def hooked(tmp_path_factory, receiver):
    """A server that sends every event to the receiver, signed."""
    running = start_server(tmp_path_factory.mktemp("events"), "--event-webhook", receiver.url,
                           "--event-webhook-secret", SECRET)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def support(hooked):
    return hooked.client("support")


@pytest.fixture(scope="module")
def agent(hooked):
    return Agent(hooked)


def new_support_case(support) -> str:
    return support.create_case(subject="Events", communicationBody="help")["caseId"]


def test_a_support_case_life_publishes_every_documented_event(support, agent, receiver):
    case_id = new_support_case(support)
    support.add_communication_to_case(caseId=case_id, communicationBody="more detail")
    # The support side: origin AMAZON; work-in-progress is not one of the four event names.
    assert agent.reply(case_id, "Which instance?").status_code == 200
    assert agent.status(case_id, "work-in-progress").status_code == 200
    assert agent.status(case_id, "resolved").status_code == 200
    support.add_communication_to_case(caseId=case_id, communicationBody="broken again")
    support.resolve_case(caseId=case_id)
    support.resolve_case(caseId=case_id)  # already resolved: nothing changes, nothing sent
    # The support side reopens it.
    assert agent.status(case_id, "work-in-progress").status_code == 200
    expected = ["CreateCase", "AddCommunicationToCase", "AddCommunicationToCase", "ResolveCase",
                "AddCommunicationToCase", "ReopenCase", "ResolveCase", "ReopenCase"]
    events = receiver.wait_for(case_id, len(expected))
    assert names(events) == expected
    display_id = support.describe_cases(caseIdList=[case_id], includeResolvedCases=True)[
        "cases"][0]["displayId"]
    for event in events:
        assert list(event) == ENVELOPE
        assert event["version"] == "0" and UUID.fullmatch(event["id"])
        assert event["source"] == "aws.support"
        assert event["detail-type"] == "Support Case Update"
        assert event["account"] == "000000000000" and event["region"] == "us-east-1"
        assert TIME.fullmatch(event["time"]) and event["resources"] == []
        detail = event["detail"]
        assert detail["case-id"] == case_id and detail["display-id"] == display_id
    details = [event["detail"] for event in events]
    assert details[0] == {"case-id": case_id, "display-id": display_id, "communication-id": "",
                          "event-name": "CreateCase"}
    assert [d.get("origin") for d in details] == [None, "CUSTOMER", "AMAZON", None, "CUSTOMER",
                                                  None, None, None]
    communication_ids = [d["communication-id"] for d in details
                         if d["event-name"] == "AddCommunicationToCase"]
    assert all(UUID.fullmatch(c) for c in communication_ids)
    assert len(set(communication_ids)) == 3
    assert all(d["communication-id"] == "" for d in details
               if d["event-name"] != "AddCommunicationToCase")
    assert len({event["id"] for event in events}) == len(events)


def test_webhook_requests_are_signed_and_carry_the_event_id(support, receiver):
    case_id = new_support_case(support)
    receiver.wait_for(case_id, 1)
    entry = next(e for e in receiver.received if e["event"]["detail"]["case-id"] == case_id)
    headers = {name.lower(): value for name, value in entry["headers"].items()}
    assert headers["content-type"] == "application/json"
    assert headers["x-casework-event-id"] == entry["event"]["id"]
    assert re.fullmatch(r"sha256=[0-9a-f]{64}", headers["x-casework-signature"])
    assert entry["path"] == "/hooks/casework"
    assert receiver.refused == []  # every signature checked out


def test_a_dry_run_publishes_nothing(hooked, support, receiver):
    case_id = new_support_case(support)
    with pytest.raises(ClientError) as caught:
        support.add_communication_to_case(caseId=case_id, communicationBody="x", dryRun=True)
    assert caught.value.response["Error"]["Code"] == "DryRunOperationException"
    with pytest.raises(ClientError):
        support.create_case(subject="dry", communicationBody="run", dryRun=True)
    # A later change's event arrives, and the case has had no event in between.
    support.add_communication_to_case(caseId=case_id, communicationBody="real")
    events = receiver.wait_for(case_id, 2)
    assert names(events) == ["CreateCase", "AddCommunicationToCase"]
    listed = hooked.casework("events", "list").stdout
    assert listed.count(case_id) == 2


def test_events_list_shows_each_event(hooked, support, receiver):
    case_id = new_support_case(support)
    event = receiver.wait_for(case_id, 1)[0]
    line = next(line for line in wait_until(
        lambda: [line for line in hooked.casework("events", "list").stdout.splitlines()
                 if case_id in line and "\tdelivered\t" in line], "the delivered row"))
    assert line.split("\t") == [event["id"], "CreateCase", case_id, "delivered", "1",
                                "webhook:1"]
    assert case_id not in hooked.casework("events", "list", "--status", "pending").stdout


# ---------------------------------------------------------------------------- Connect Cases

ACCOUNT = "610000000001"


@pytest.fixture(scope="module")
def cc(hooked):
    return account_client(hooked, ACCOUNT)


@pytest.fixture(scope="module")
def cc2(hooked):
    """A second account: the domain quota is 5 per account."""
    return account_client(hooked, "610000000002")


def configure(cc, domain_id: str, enabled: bool = True, fields=None, content=None) -> None:
    configuration = {"enabled": enabled}
    included = {}
    if fields is not None:
        included["caseData"] = {"fields": [{"id": f} for f in fields]}
    if content is not None:
        included["relatedItemData"] = {"includeContent": content}
    if included:
        configuration["includedData"] = included
    cc.put_case_event_configuration(domainId=domain_id, eventBridge=configuration)


def test_connect_cases_events_carry_the_configured_data(cc, receiver):
    domain_id = new_domain(cc)
    template_id = new_template(cc, domain_id)
    priority = cc.create_field(domainId=domain_id, name="Priority", type="Text")["fieldId"]
    configure(cc, domain_id, fields=["title", "status", priority], content=True)
    user = {"userArn": "arn:aws:connect:us-east-1:610000000001:instance/i-1/user/u-1"}
    case_id = cc.create_case(domainId=domain_id, templateId=template_id,
                             fields=[{"id": "title", "value": text("Late parcel")}],
                             performedBy=user)["caseId"]
    cc.update_case(domainId=domain_id, caseId=case_id,
                   fields=[{"id": priority, "value": text("high")}])
    item = cc.create_related_item(domainId=domain_id, caseId=case_id, type="Comment",
                                  content={"comment": {"body": "Called the carrier",
                                                       "contentType": "Text/Plain"}},
                                  performedBy={"customEntity": "bot"})
    item_id = item["relatedItemId"]
    cc.update_related_item(domainId=domain_id, caseId=case_id, relatedItemId=item_id,
                           content={"comment": {"body": "Called twice",
                                                "contentType": "Text/Plain"}})
    cc.delete_related_item(domainId=domain_id, caseId=case_id, relatedItemId=item_id)
    cc.delete_case(domainId=domain_id, caseId=case_id)
    events = receiver.wait_for(case_id, 6)
    assert names(events) == ["CASE.CREATED", "CASE.UPDATED", "RELATED_ITEM.CREATED",
                             "RELATED_ITEM.UPDATED", "RELATED_ITEM.DELETED", "CASE.DELETED"]
    domain_arn = f"arn:aws:cases:{REGION}:{ACCOUNT}:domain/{domain_id}"
    case_arn = f"{domain_arn}/case/{case_id}"
    for event in events:
        assert list(event) == ENVELOPE
        assert event["source"] == "aws.cases"
        assert event["detail-type"] == "Amazon Connect Cases Change"
        assert event["account"] == ACCOUNT and event["region"] == REGION
        assert TIME.fullmatch(event["time"])
        assert event["detail"]["version"] == "0"
        assert CHANGE_TIME.fullmatch(event["detail"]["approximateChangeTime"])
        assert event["detail"]["performedBy"]["iamPrincipalArn"] == \
            f"arn:aws:iam::{ACCOUNT}:root"

    created, updated, item_created, item_updated, item_deleted, deleted = events
    assert created["resources"] == [domain_arn, case_arn]
    detail = created["detail"]
    assert detail["performedBy"]["user"] == user
    assert {"title", "status", "case_id", "created_datetime",
            "last_updated_datetime"} <= set(detail["changedFieldIds"])
    assert detail["case"]["caseId"] == case_id and detail["case"]["templateId"] == template_id
    assert CHANGE_TIME.fullmatch(detail["case"]["createdDateTime"])
    # Only the configured fields that hold a value: the priority is not set yet.
    assert detail["case"]["fields"] == {"title": {"value": text("Late parcel")},
                                        "status": {"value": text("open")}}

    detail = updated["detail"]
    assert detail["changedFieldIds"][0] == priority
    assert "last_updated_datetime" in detail["changedFieldIds"]
    assert "user" not in detail["performedBy"]
    assert detail["case"]["fields"] == {"title": {"value": text("Late parcel")},
                                        "status": {"value": text("open")},
                                        priority: {"value": text("high")}}

    item_arn = f"{case_arn}/related-item/{item_id}"
    assert item_created["resources"] == [domain_arn, item_arn]
    detail = item_created["detail"]
    assert detail["performedBy"]["user"] == {"customEntity": "bot"}
    assert detail["changedAttributes"] == ["comment.body", "comment.contentType"]
    related = detail["relatedItem"]
    assert related["relatedItemType"] == "Comment" and related["relatedItemId"] == item_id
    assert related["caseId"] == case_id and CHANGE_TIME.fullmatch(related["createdDateTime"])
    assert related["comment"] == {"body": "Called the carrier", "contentType": "Text/Plain"}
    assert item_updated["detail"]["changedAttributes"] == ["comment.body"]
    assert item_updated["detail"]["relatedItem"]["comment"]["body"] == "Called twice"
    assert item_deleted["detail"]["relatedItem"]["comment"]["body"] == "Called twice"

    assert deleted["resources"] == [domain_arn, case_arn]
    assert deleted["detail"]["changedFieldIds"] == []
    assert deleted["detail"]["case"]["fields"][priority] == {"value": text("high")}


def test_without_included_data_events_carry_metadata_only(cc, receiver):
    domain_id = new_domain(cc)
    template_id = new_template(cc, domain_id)
    configure(cc, domain_id)
    case_id = cc.create_case(domainId=domain_id, templateId=template_id,
                             fields=[{"id": "title", "value": text("Bare")}])["caseId"]
    contact = "arn:aws:connect:us-east-1:610000000001:instance/i-1/contact/c-1"
    cc.create_related_item(domainId=domain_id, caseId=case_id, type="Contact",
                           content={"contact": {"contactArn": contact}})
    created, item = receiver.wait_for(case_id, 2)
    assert set(created["detail"]["case"]) == {"caseId", "templateId", "createdDateTime"}
    assert set(item["detail"]["relatedItem"]) == {"relatedItemType", "relatedItemId", "caseId",
                                                  "createdDateTime"}
    # includeContent: true adds the content, times as ISO 8601 strings.
    configure(cc, domain_id, content=True)
    cc.create_related_item(domainId=domain_id, caseId=case_id, type="Contact",
                           content={"contact": {"contactArn": contact}})
    third = receiver.wait_for(case_id, 3)[2]["detail"]["relatedItem"]
    assert third["contact"]["contactArn"] == contact
    assert third["contact"]["channel"] == "VOICE"
    assert CHANGE_TIME.fullmatch(third["contact"]["connectedToSystemTime"])


def test_nothing_is_published_while_disabled(cc, receiver):
    domain_id = new_domain(cc)
    template_id = new_template(cc, domain_id)
    never = cc.create_case(domainId=domain_id, templateId=template_id,
                           fields=[{"id": "title", "value": text("Before")}])["caseId"]
    configure(cc, domain_id, enabled=False, fields=["title"])
    cc.update_case(domainId=domain_id, caseId=never, fields=[{"id": "title",
                                                              "value": text("Still off")}])
    configure(cc, domain_id, fields=["title"])
    cc.update_case(domainId=domain_id, caseId=never, fields=[{"id": "title",
                                                              "value": text("On")}])
    events = receiver.wait_for(never, 1)
    assert names(events) == ["CASE.UPDATED"]
    assert events[0]["detail"]["case"]["fields"] == {"title": {"value": text("On")}}


def test_a_batch_publishes_for_the_cases_it_changed(cc2, receiver):
    cc = cc2
    domain_id = new_domain(cc)
    template_id = new_template(cc, domain_id)
    configure(cc, domain_id, fields=["status"])
    case_id = cc.create_case(domainId=domain_id, templateId=template_id,
                             fields=[{"id": "title", "value": text("Batch")}])["caseId"]
    missing = str(uuid.uuid4())
    answer = cc.batch_update_case(domainId=domain_id, fields=[], status="closed",
                                  cases=[{"caseIdentifier": {"caseId": c}}
                                         for c in (case_id, missing)])
    assert [f["caseIdentifier"]["caseId"] for f in answer["failedCases"]] == [missing]
    events = receiver.wait_for(case_id, 2)
    assert names(events) == ["CASE.CREATED", "CASE.UPDATED"]
    assert events[1]["detail"]["case"]["fields"] == {"status": {"value": text("closed")}}
    assert receiver.events(missing) == []


def test_a_merge_publishes_the_changes_it_applies(cc, receiver):
    domain_id = new_domain(cc)
    template_id = new_template(cc, domain_id)
    configure(cc, domain_id, fields=["status"], content=True)
    primary, secondary = (cc.create_case(domainId=domain_id, templateId=template_id, fields=[
        {"id": "title", "value": text(title)}])["caseId"] for title in ("Primary", "Secondary"))
    cc.start_merge_cases(domainId=domain_id, caseId=primary, secondaryCaseIds=[secondary])
    # Each case: its creation, a ConnectCase link to the other, then the merged values (the
    # secondary closed).
    for case_id, other in ((primary, secondary), (secondary, primary)):
        events = receiver.wait_for(case_id, 3)
        assert names(events) == ["CASE.CREATED", "RELATED_ITEM.CREATED", "CASE.UPDATED"]
        link = events[1]["detail"]["relatedItem"]
        assert link["relatedItemType"] == "ConnectCase" and link["connectCase"] == {
            "caseId": other}
    closed = receiver.events(secondary)[2]["detail"]
    assert "status" in closed["changedFieldIds"]
    assert closed["case"]["fields"] == {"status": {"value": text("closed")}}
    assert closed["performedBy"]["iamPrincipalArn"] == f"arn:aws:iam::{ACCOUNT}:root"


def test_a_rolled_back_change_publishes_nothing(cc2, receiver):
    cc = cc2
    domain_id = new_domain(cc)
    configure(cc, domain_id, fields=["title"])
    # Template tags and request tags together exceed 50: CreateCase fails after it has
    # written the case, its audit event and its case event, and all of it is rolled back.
    template_id = cc.create_template(
        domainId=domain_id, name="Tagged", tagPropagationConfigurations=[{
            "resourceType": "Cases", "tagMap": {f"t{n}": "x" for n in range(10)}}])["templateId"]
    with pytest.raises(ClientError) as caught:
        cc.create_case(domainId=domain_id, templateId=template_id,
                       fields=[{"id": "title", "value": text("Too many tags")}],
                       tags={f"r{n}": "y" for n in range(45)})
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    kept = cc.create_case(domainId=domain_id, templateId=template_id,
                          fields=[{"id": "title", "value": text("Kept")}])["caseId"]
    receiver.wait_for(kept, 1)
    titles = [event["detail"]["case"]["fields"]["title"]["value"]["stringValue"]
              for event in receiver.events() if event["source"] == "aws.cases"
              and event["resources"][0].endswith(domain_id)]
    assert titles == ["Kept"]


def test_a_server_without_sinks_stores_no_events(server):
    support = server.client("support")
    support.create_case(subject="Quiet", communicationBody="no sinks")
    assert server.casework("events", "list").stdout == ""


def test_sink_settings_are_checked_at_start(tmp_path):
    for args, option in ((["--event-webhook", "ftp://example.com/x"], "--event-webhook"),
                         (["--eventbridge-endpoint", "localhost:4566"],
                          "--eventbridge-endpoint")):
        with pytest.raises(RuntimeError) as caught:
            start_server(tmp_path, *args)
        assert option in str(caught.value)
