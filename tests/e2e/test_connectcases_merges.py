"""Connect Cases merges: StartMergeCases and GetMergeCasesStatus against a real server.

The module's server keeps each merge IN_PROGRESS for MERGE_SECONDS (``--merge-duration``), so
that the running state, and what is refused while it lasts, can be seen.
"""

from __future__ import annotations

import time
import uuid

import pytest
from cases_helpers import code_of, error_of, new_case, new_domain, text
from conftest import start_server

ACCOUNT = "333333333341"
INSTANCE = f"arn:aws:connect:us-east-1:{ACCOUNT}:instance/i-1"
AGENT = f"{INSTANCE}/user/merger"
CUSTOMER = f"arn:aws:profile:us-east-1:{ACCOUNT}:domains/d/profiles/p-1"
MERGE_SECONDS = 4.0  # long enough for a slow machine to look at the running state


@pytest.fixture(scope="module")
def slow(tmp_path_factory):
    """A server of its own whose merges take MERGE_SECONDS."""
    running = start_server(tmp_path_factory.mktemp("merges"), "--merge-duration",
                           str(MERGE_SECONDS))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def cc(slow):
    key, secret = slow.new_account(ACCOUNT)
    return slow.client("connectcases", key=key, secret=secret)


@pytest.fixture(scope="module")
def custom(cc, domain):
    """Three custom Text fields: picked, kept, filled."""
    return {name: cc.create_field(domainId=domain, name=name, type="Text")["fieldId"]
            for name in ("picked", "kept", "filled")}


def status(cc, domain, case_id) -> dict:
    answer = cc.get_merge_cases_status(domainId=domain, caseId=case_id)
    answer.pop("ResponseMetadata")
    return answer


def wait_completed(cc, domain, secondary, timeout=20.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = status(cc, domain, secondary)
        if answer["status"] == "COMPLETED":
            return answer
        time.sleep(0.1)
    raise AssertionError(f"merge of {secondary} did not complete in {timeout} s")


def values(cc, domain, case_id, *field_ids) -> dict:
    got = cc.get_case(domainId=domain, caseId=case_id, fields=[{"id": f} for f in field_ids])
    return {f["id"]: f["value"] for f in got["fields"]}


def items(cc, domain, case_id) -> list[dict]:
    return cc.search_related_items(domainId=domain, caseId=case_id)["relatedItems"]


def comment(cc, domain, case_id, body: str) -> str:
    return cc.create_related_item(domainId=domain, caseId=case_id, type="Comment", content={
        "comment": {"body": body, "contentType": "Text/Plain"}})["relatedItemId"]


def contact(cc, domain, case_id, name: str) -> dict:
    return cc.create_related_item(domainId=domain, caseId=case_id, type="Contact", content={
        "contact": {"contactArn": f"{INSTANCE}/contact/{name}"}})


def merge(cc, domain, primary, secondary, **extra):
    return cc.start_merge_cases(domainId=domain, caseId=primary, secondaryCaseIds=[secondary],
                                **extra)


def test_merge_runs_then_moves_values_and_items_and_links_the_cases(cc, domain, template,
                                                                   custom):
    picked, kept, filled = custom["picked"], custom["kept"], custom["filled"]
    primary = new_case(cc, domain, template, title="Primary", fields=[
        {"id": picked, "value": text("p-picked")}, {"id": kept, "value": text("p-kept")},
        {"id": "summary", "value": text("primary summary")}])
    secondary = new_case(cc, domain, template, title="Secondary", fields=[
        {"id": picked, "value": text("s-picked")}, {"id": kept, "value": text("s-kept")},
        {"id": filled, "value": text("s-filled")}, {"id": "assigned_queue", "value": text("q2")},
        {"id": "customer_id", "value": text(CUSTOMER)}])
    third = new_case(cc, domain, template, title="Third")
    comment(cc, domain, primary, "on the primary")
    shared = contact(cc, domain, primary, "shared")
    moved_comment = comment(cc, domain, secondary, "moves along")
    cc.tag_resource(arn=contact(cc, domain, secondary, "shared")["relatedItemArn"],
                    tags={"from": "secondary"})
    cc.tag_resource(arn=shared["relatedItemArn"], tags={"keep": "primary"})
    own_contact = contact(cc, domain, secondary, "own")
    link = cc.create_related_item(domainId=domain, caseId=secondary, type="ConnectCase",
                                  content={"connectCase": {"caseId": third}})
    cc.create_related_item(domainId=domain, caseId=secondary, type="Custom", content={
        "custom": {"fields": [{"id": kept, "value": text("custom stays")}]}})
    cc.create_related_item(domainId=domain, caseId=secondary, type="File",
                           content={"file": {"fileArn": f"{INSTANCE}/file/f-1"}})
    secondary_arn = cc.create_related_item(domainId=domain, caseId=secondary, type="Comment",
                                           content={"comment": {"body": "tagged",
                                                                "contentType": "Text/Plain"}}
                                           )["relatedItemArn"]
    cc.tag_resource(arn=secondary_arn, tags={"team": "billing"})

    answer = merge(cc, domain, primary, secondary, performedBy={"userArn": AGENT},
                   fieldsConfiguration=[{"sourceCaseId": secondary,
                                         "fieldIds": [{"id": picked}]}],
                   relatedItemsConfiguration={"comment": True, "contact": True,
                                              "connectCase": True, "custom": False})
    assert set(answer) == {"ResponseMetadata"}
    running = {"status": "IN_PROGRESS", "primaryCaseId": primary,
               "secondaryCaseIds": [secondary]}
    assert status(cc, domain, primary) == running
    assert status(cc, domain, secondary) == running

    # While it runs: no other merge of either case; the secondary cannot be changed by batch.
    assert code_of(cc.start_merge_cases, domainId=domain, caseId=primary,
                   secondaryCaseIds=[third]) == ("ConflictException", 409)
    assert code_of(cc.start_merge_cases, domainId=domain, caseId=third,
                   secondaryCaseIds=[secondary]) == ("ConflictException", 409)
    batch = cc.batch_update_case(domainId=domain, fields=[], title="Touched",
                                 cases=[{"caseIdentifier": {"caseId": secondary}},
                                        {"caseIdentifier": {"caseId": third}}])
    assert [f["errorCode"] for f in batch["failedCases"]] == ["CONFLICT"]
    assert batch["successfulCases"] == [{"caseIdentifier": {"caseId": third}}]
    noted = cc.batch_create_related_item(domainId=domain, content={"comment": {
        "body": "late", "contentType": "Text/Plain"}},
        cases=[{"caseIdentifier": {"caseId": secondary}}])
    assert [f["errorCode"] for f in noted["failedItems"]] == ["CONFLICT"]
    # Nor one case at a time (see the test of what a running merge freezes).
    assert code_of(cc.update_case, domainId=domain, caseId=secondary, fields=[
        {"id": "summary", "value": text("secondary summary")}]) == ("ConflictException", 409)

    assert wait_completed(cc, domain, secondary) == {**running, "status": "COMPLETED"}
    error = error_of(cc.get_merge_cases_status, domainId=domain, caseId=primary)
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (
        "ResourceNotFoundException", 404)
    assert error["resourceId"] == primary

    merged = values(cc, domain, primary, "title", picked, kept, filled, "summary",
                    "assigned_queue", "customer_id", "status", "last_updated_user")
    assert merged == {"title": text("Primary"), picked: text("s-picked"), kept: text("p-kept"),
                      filled: text("s-filled"), "summary": text("primary summary"),
                      "assigned_queue": text("q2"), "status": text("open"),
                      "last_updated_user": {"userArnValue": AGENT}}
    closed = values(cc, domain, secondary, "title", "status", "last_closed_datetime")
    assert closed["status"] == text("closed") and "last_closed_datetime" in closed

    on_primary = items(cc, domain, primary)
    on_secondary = items(cc, domain, secondary)
    kinds = sorted(i["type"] for i in on_primary)
    assert kinds == ["Comment", "Comment", "Comment", "ConnectCase", "ConnectCase", "Contact",
                     "Contact"]
    by_id = {i["relatedItemId"]: i for i in on_primary}
    assert by_id[moved_comment]["content"]["comment"]["body"] == "moves along"
    assert by_id[own_contact["relatedItemId"]]["type"] == "Contact"
    assert by_id[link["relatedItemId"]]["content"] == {"connectCase": {"caseId": third}}
    new_link = [i for i in on_primary if i["type"] == "ConnectCase"
                and i["content"]["connectCase"]["caseId"] == secondary]
    assert len(new_link) == 1 and new_link[0]["performedBy"] == {"userArn": AGENT}
    # The shared contact: the primary keeps its item and gains the secondary's tag keys.
    shared_items = [i for i in on_primary if i["type"] == "Contact"
                    and i["content"]["contact"]["contactArn"].endswith("/shared")]
    assert [i["relatedItemId"] for i in shared_items] == [shared["relatedItemId"]]
    assert shared_items[0]["tags"] == {"keep": "primary", "from": "secondary"}
    # Tags follow a moved item to its new ARN.
    moved_arn = secondary_arn.replace(f"/case/{secondary}/", f"/case/{primary}/")
    assert cc.list_tags_for_resource(arn=moved_arn)["tags"] == {"team": "billing"}
    # Custom (not selected) and File (never moved) stay; the secondary links to the primary.
    assert sorted(i["type"] for i in on_secondary) == ["ConnectCase", "Custom", "File"]
    back = [i for i in on_secondary if i["type"] == "ConnectCase"]
    assert back[0]["content"] == {"connectCase": {"caseId": primary}}
    # ListCasesForContact follows the moved contact.
    found = cc.list_cases_for_contact(domainId=domain, contactArn=f"{INSTANCE}/contact/own")
    assert [c["caseId"] for c in found["cases"]] == [primary]
    shared_cases = cc.list_cases_for_contact(domainId=domain,
                                             contactArn=f"{INSTANCE}/contact/shared")
    assert [c["caseId"] for c in shared_cases["cases"]] == [primary]

    # Both cases record the merge in their history, under one merge id.
    merge_ids = set()
    for case_id in (primary, secondary):
        events = cc.get_case_audit_events(domainId=domain, caseId=case_id)["auditEvents"]
        merged_events = [e for e in events if e["type"] == "Case.Merged"]
        assert len(merged_events) == 1
        metadata = merged_events[0]["mergeMetadata"]
        assert (metadata["primaryCaseId"], metadata["secondaryCaseId"]) == (primary, secondary)
        merge_ids.add(metadata["mergeEventId"])
    assert len(merge_ids) == 1

    # Afterwards the secondary can be reopened and updated, but never merged again.
    cc.update_case(domainId=domain, caseId=secondary,
                   fields=[{"id": "status", "value": text("open")}])
    assert code_of(cc.start_merge_cases, domainId=domain, caseId=third,
                   secondaryCaseIds=[secondary]) == ("ConflictException", 409)
    assert code_of(cc.start_merge_cases, domainId=domain, caseId=secondary,
                   secondaryCaseIds=[third]) == ("ConflictException", 409)
    assert status(cc, domain, secondary)["status"] == "COMPLETED"


def test_without_related_items_configuration_only_the_links_are_added(cc, domain, template,
                                                                       custom):
    picked = custom["picked"]
    primary = new_case(cc, domain, template, fields=[{"id": picked, "value": text("p")}])
    secondary = new_case(cc, domain, template, fields=[{"id": picked, "value": text("s")}])
    comment(cc, domain, secondary, "stays")
    merge(cc, domain, primary, secondary,
          fieldsConfiguration=[{"sourceCaseId": secondary, "fieldIds": [{"id": picked}]}])
    wait_completed(cc, domain, secondary)
    assert values(cc, domain, primary, picked) == {picked: text("s")}
    assert [i["type"] for i in items(cc, domain, primary)] == ["ConnectCase"]
    assert sorted(i["type"] for i in items(cc, domain, secondary)) == ["Comment", "ConnectCase"]


def test_start_merge_validation(cc, domain, template, custom):
    primary = new_case(cc, domain, template)
    secondary = new_case(cc, domain, template, fields=[
        {"id": custom["picked"], "value": text("v")}])
    closed = new_case(cc, domain, template, fields=[{"id": "status", "value": text("closed")}])
    customer_a = new_case(cc, domain, template, fields=[
        {"id": "customer_id", "value": text(CUSTOMER)}])
    customer_b = new_case(cc, domain, template, fields=[
        {"id": "customer_id", "value": text(CUSTOMER + "-b")}])

    def fields(*ids, source=secondary):
        return [{"sourceCaseId": source, "fieldIds": [{"id": f} for f in ids]}]

    bad = [
        ((primary, primary), {}, "itself"),
        ((closed, secondary), {}, "closed"),
        ((primary, closed), {}, "closed"),
        ((customer_a, customer_b), {}, "different customers"),
        ((primary, secondary), {"fieldsConfiguration": fields("title")}, "cannot be merged"),
        ((primary, secondary), {"fieldsConfiguration": fields("status")}, "cannot be merged"),
        ((primary, secondary), {"fieldsConfiguration": fields("nope")}, "does not exist"),
        ((primary, secondary), {"fieldsConfiguration": fields(custom["kept"])}, "no value"),
        ((primary, secondary),
         {"fieldsConfiguration": fields(custom["picked"], custom["picked"])}, "more than once"),
        ((primary, secondary),
         {"fieldsConfiguration": fields(custom["picked"], source=primary)}, "sourceCaseId"),
        ((primary, secondary), {"fieldsConfiguration": fields() + fields()}, "at most one"),
    ]
    for (first, second), extra, words in bad:
        error = error_of(cc.start_merge_cases, domainId=domain, caseId=first,
                         secondaryCaseIds=[second], **extra)
        assert error["Error"]["Code"] == "ValidationException", (words, error)
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert words in error["Error"]["Message"], (words, error["Error"]["Message"])
    assert code_of(cc.start_merge_cases, domainId=domain, caseId=primary,
                   secondaryCaseIds=[secondary, closed]) == ("ValidationException", 400)
    # The same customer, or a customer on one side only, is fine: no merge was started above.
    for case_id in (primary, secondary, closed, customer_a, customer_b):
        assert code_of(cc.get_merge_cases_status, domainId=domain, caseId=case_id) == (
            "ResourceNotFoundException", 404)
    merge(cc, domain, customer_a, primary)
    wait_completed(cc, domain, primary)


def test_unknown_and_foreign_cases_are_not_found(slow, cc, domain, template):
    primary = new_case(cc, domain, template)
    other_domain = new_domain(cc)
    elsewhere = new_case(cc, other_domain, cc.create_template(
        domainId=other_domain, name="T")["templateId"])
    missing = str(uuid.uuid4())
    for first, second in ((primary, missing), (missing, primary), (primary, elsewhere)):
        error = error_of(cc.start_merge_cases, domainId=domain, caseId=first,
                         secondaryCaseIds=[second])
        assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (
            "ResourceNotFoundException", 404)
        assert error["resourceType"] == "Case"
        assert error["resourceId"] == (missing if missing in (first, second) else elsewhere)
    assert code_of(cc.start_merge_cases, domainId="no-such-domain", caseId=primary,
                   secondaryCaseIds=[elsewhere]) == (
        "ResourceNotFoundException", 404)
    assert code_of(cc.get_merge_cases_status, domainId="no-such-domain", caseId=primary) == (
        "ResourceNotFoundException", 404)
    assert code_of(cc.get_merge_cases_status, domainId=domain, caseId=missing) == (
        "ResourceNotFoundException", 404)
    key, secret = slow.new_account("333333333344")
    stranger = slow.client("connectcases", key=key, secret=secret)
    assert code_of(stranger.get_merge_cases_status, domainId=domain, caseId=primary) == (
        "ResourceNotFoundException", 404)
    assert code_of(stranger.start_merge_cases, domainId=domain, caseId=primary,
                   secondaryCaseIds=[elsewhere]) == ("ResourceNotFoundException", 404)


def commented_pair(cc, domain, template, on_primary: int) -> tuple[str, str]:
    """A primary case holding ``on_primary`` comments and a secondary holding two."""
    primary, secondary = new_case(cc, domain, template), new_case(cc, domain, template)
    for n in range(on_primary):
        comment(cc, domain, primary, f"note {n}")
    comment(cc, domain, secondary, "one")
    comment(cc, domain, secondary, "two")
    return primary, secondary


def assert_full(cc, domain, case_id) -> None:
    """The case holds the 200 related items a case may hold."""
    assert code_of(cc.create_related_item, domainId=domain, caseId=case_id, type="Comment",
                   content={"comment": {"body": "over", "contentType": "Text/Plain"}}) == (
        "ServiceQuotaExceededException", 402)


def test_related_item_quota_refuses_the_merge(cc, domain, template):
    primary, secondary = commented_pair(cc, domain, template, 198)
    # 198 + 2 moved + the new link = 201: refused; without moving comments it fits.
    error = error_of(cc.start_merge_cases, domainId=domain, caseId=primary,
                     secondaryCaseIds=[secondary], relatedItemsConfiguration={"comment": True})
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (
        "ServiceQuotaExceededException", 402)
    merge(cc, domain, primary, secondary, relatedItemsConfiguration={"comment": False})
    wait_completed(cc, domain, secondary)
    assert len(cc.search_related_items(domainId=domain, caseId=primary,
                                       maxResults=25)["relatedItems"]) == 25
    # 198 and the link: room for one more.
    comment(cc, domain, primary, "last")
    assert_full(cc, domain, primary)


def test_moved_items_count_on_their_new_case(cc, domain, template):
    primary, secondary = commented_pair(cc, domain, template, 195)
    merge(cc, domain, primary, secondary, relatedItemsConfiguration={"comment": True})
    wait_completed(cc, domain, secondary)
    # 195 + 2 moved + the link = 198: room for two more.
    comment(cc, domain, primary, "199")
    comment(cc, domain, primary, "200")
    assert_full(cc, domain, primary)


def test_while_a_merge_runs_its_secondary_is_frozen_and_its_primary_kept(cc, domain, template,
                                                                          custom):
    primary = new_case(cc, domain, template)
    secondary = new_case(cc, domain, template)
    note = comment(cc, domain, secondary, "before")
    merge(cc, domain, primary, secondary, relatedItemsConfiguration={"comment": True})
    frozen = [
        (cc.update_case, {"caseId": secondary,
                          "fields": [{"id": custom["kept"], "value": text("x")}]}),
        (cc.delete_case, {"caseId": secondary}),
        (cc.create_related_item, {"caseId": secondary, "type": "Comment", "content": {
            "comment": {"body": "late", "contentType": "Text/Plain"}}}),
        (cc.update_related_item, {"caseId": secondary, "relatedItemId": note, "content": {
            "comment": {"body": "edited", "contentType": "Text/Plain"}}}),
        (cc.delete_related_item, {"caseId": secondary, "relatedItemId": note}),
        (cc.delete_case, {"caseId": primary}),
    ]
    for call, params in frozen:
        error = error_of(call, domainId=domain, **params)
        assert error["Error"]["Code"] == "ConflictException", (call, error)
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 409
    # The primary itself may still change while it waits for the merge.
    cc.update_case(domainId=domain, caseId=primary,
                   fields=[{"id": custom["kept"], "value": text("still mine")}])
    wait_completed(cc, domain, secondary)
    assert values(cc, domain, primary, custom["kept"])[custom["kept"]] == text("still mine")
    cc.delete_case(domainId=domain, caseId=primary)  # free again once the merge is done


def test_a_merge_interrupted_by_a_crash_completes_after_restart(tmp_path):
    first = start_server(tmp_path, "--merge-duration", "3")
    try:
        cc = first.client("connectcases")
        domain = new_domain(cc)
        template = cc.create_template(domainId=domain, name="T")["templateId"]
        primary, secondary = new_case(cc, domain, template), new_case(cc, domain, template)
        comment(cc, domain, secondary, "survives the crash")
        merge(cc, domain, primary, secondary, relatedItemsConfiguration={"comment": True})
        assert status(cc, domain, secondary)["status"] == "IN_PROGRESS"
    finally:
        first.process.kill()  # no graceful stop, as a power cut would do it
        first.process.wait(timeout=30)
    again = start_server(tmp_path)
    try:
        cc = again.client("connectcases")
        assert wait_completed(cc, domain, secondary)["primaryCaseId"] == primary
        assert [i["content"]["comment"]["body"] for i in items(cc, domain, primary)
                if i["type"] == "Comment"] == ["survives the crash"]
        assert values(cc, domain, secondary, "status")["status"] == text("closed")
    finally:
        again.stop()
