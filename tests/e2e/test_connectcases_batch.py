"""Connect Cases batch operations: BatchUpdateCase and BatchCreateRelatedItem."""

from __future__ import annotations

import uuid

import pytest
from cases_helpers import account_client, code_of, error_of, new_case, text

ACCOUNT = "333333333340"
INSTANCE = f"arn:aws:connect:us-east-1:{ACCOUNT}:instance/i-1"
AGENT = f"{INSTANCE}/user/agent-1"
CUSTOMER = f"arn:aws:profile:us-east-1:{ACCOUNT}:domains/d/profiles/p-1"
COMMENT = {"comment": {"body": "Outage acknowledged", "contentType": "Text/Plain"}}


@pytest.fixture(scope="module")
def priority(cc, domain):
    """A custom Text field called Priority."""
    return cc.create_field(domainId=domain, name="Priority", type="Text")["fieldId"]


def by_id(case_id: str) -> dict:
    return {"caseIdentifier": {"caseId": case_id}}


def values(cc, domain, case_id, *field_ids) -> dict:
    got = cc.get_case(domainId=domain, caseId=case_id, fields=[{"id": f} for f in field_ids])
    return {f["id"]: f["value"] for f in got["fields"]}


def comments(cc, domain, case_id) -> list[dict]:
    return cc.search_related_items(domainId=domain, caseId=case_id,
                                   filters=[{"comment": {}}])["relatedItems"]


def test_update_sets_top_level_members_and_fields_on_every_case(cc, domain, template, priority):
    cases = [new_case(cc, domain, template, title=f"case {n}") for n in range(3)]
    answer = cc.batch_update_case(
        domainId=domain, cases=[by_id(c) for c in cases], title="Outage", status="closed",
        customerId=CUSTOMER, performedBy={"userArn": AGENT},
        fields=[{"fieldIdentifier": {"name": "Priority"}, "value": text("high")},
                {"fieldIdentifier": {"id": "summary"}, "value": text("Region down")}])
    assert answer["successfulCases"] == [{"caseIdentifier": {"caseId": c}} for c in cases]
    assert answer["failedCases"] == []
    for case_id in cases:
        got = values(cc, domain, case_id, "title", "status", "customer_id", priority, "summary",
                     "last_updated_user", "last_closed_datetime")
        assert got["title"] == text("Outage") and got["status"] == text("closed")
        assert got["customer_id"] == text(CUSTOMER) and got[priority] == text("high")
        assert got["summary"] == text("Region down")
        assert got["last_updated_user"] == {"userArnValue": AGENT}
        assert "last_closed_datetime" in got
    # fields may be empty when a top-level member is given; emptyValue clears.
    cc.batch_update_case(domainId=domain, cases=[by_id(cases[0])], status="open", fields=[
        {"fieldIdentifier": {"id": priority}, "value": {"emptyValue": {}}}])
    got = values(cc, domain, cases[0], "status", priority, "title")
    assert got == {"status": text("open"), "title": text("Outage")}
    only_title = cc.batch_update_case(domainId=domain, cases=[by_id(cases[1])], fields=[],
                                      title="Renamed")
    assert only_title["successfulCases"] == [{"caseIdentifier": {"caseId": cases[1]}}]
    assert values(cc, domain, cases[1], "title")["title"] == text("Renamed")


def test_each_case_succeeds_or_fails_on_its_own(cc, domain, template, priority):
    strict = cc.create_template(domainId=domain, name="Strict",
                                requiredFields=[{"fieldId": priority}])["templateId"]
    plain = new_case(cc, domain, template, title="plain")
    guarded = new_case(cc, domain, strict, title="guarded",
                       fields=[{"id": priority, "value": text("p1")}])
    missing = str(uuid.uuid4())
    answer = cc.batch_update_case(
        domainId=domain, cases=[by_id(plain), by_id(missing), by_id(guarded)], title="Changed",
        fields=[{"fieldIdentifier": {"id": priority}, "value": {"emptyValue": {}}}])
    assert answer["successfulCases"] == [{"caseIdentifier": {"caseId": plain}}]
    failed = {f["caseIdentifier"]["caseId"]: f for f in answer["failedCases"]}
    assert set(failed) == {missing, guarded}
    assert failed[missing]["errorCode"] == "CASE_NOT_FOUND"
    assert failed[guarded]["errorCode"] == "VALIDATION_ERROR"
    assert priority in failed[guarded]["errorMessage"]
    # The failing case kept everything (its title too); the others were updated.
    assert values(cc, domain, guarded, "title", priority) == {
        "title": text("guarded"), priority: text("p1")}
    assert values(cc, domain, plain, "title")["title"] == text("Changed")
    # A value of the wrong type fails each case with the UpdateCase rule's message.
    typed = cc.batch_update_case(domainId=domain, cases=[by_id(plain)], fields=[
        {"fieldIdentifier": {"id": priority}, "value": {"doubleValue": 2.0}}])
    assert typed["successfulCases"] == []
    assert [f["errorCode"] for f in typed["failedCases"]] == ["VALIDATION_ERROR"]
    assert "takes stringValue" in typed["failedCases"][0]["errorMessage"]


def test_a_deleted_field_fails_only_cases_that_never_held_it(cc, domain, template):
    legacy = cc.create_field(domainId=domain, name="Legacy", type="Text")["fieldId"]
    holder = new_case(cc, domain, template, fields=[{"id": legacy, "value": text("old")}])
    other = new_case(cc, domain, template)
    cc.delete_field(domainId=domain, fieldId=legacy)
    answer = cc.batch_update_case(domainId=domain, cases=[by_id(holder), by_id(other)], fields=[
        {"fieldIdentifier": {"id": legacy}, "value": text("new")}])
    assert answer["successfulCases"] == [{"caseIdentifier": {"caseId": holder}}]
    assert [(f["caseIdentifier"]["caseId"], f["errorCode"]) for f in answer["failedCases"]] == [
        (other, "VALIDATION_ERROR")]
    assert values(cc, domain, holder, legacy)[legacy] == text("new")
    # By name, a deleted field does not resolve at all: the whole request fails.
    assert code_of(cc.batch_update_case, domainId=domain, cases=[by_id(holder)], fields=[
        {"fieldIdentifier": {"name": "Legacy"}, "value": text("x")}]) == (
        "ValidationException", 400)


def test_whole_request_failures_change_nothing(server, cc, domain, template, priority):
    case_id = new_case(cc, domain, template, title="untouched")
    one = [by_id(case_id)]
    good_field = [{"fieldIdentifier": {"id": priority}, "value": text("x")}]
    bad = [
        ({"cases": one + one, "fields": good_field}, "more than once"),
        ({"cases": one, "fields": []}, "changes nothing"),
        ({"cases": one, "fields": [{"fieldIdentifier": {"id": "no-such-field"},
                                    "value": text("x")}]}, "no-such-field"),
        ({"cases": one, "fields": [{"fieldIdentifier": {"name": "Nope"},
                                    "value": text("x")}]}, "Nope"),
        ({"cases": one, "fields": [{"fieldIdentifier": {"name": "a|b"}, "value": text("x")}]},
         "pipe"),
        ({"cases": one, "fields": [{"fieldIdentifier": {"name": "a,b"}, "value": text("x")}]},
         "comma"),
        ({"cases": one, "fields": [{"fieldIdentifier": {"id": "title"}, "value": text("x")}]},
         "top-level"),
        ({"cases": one, "fields": [{"fieldIdentifier": {"name": "Status"},
                                    "value": text("closed")}]}, "top-level"),
        ({"cases": one, "fields": [{"fieldIdentifier": {"id": "customer_id"},
                                    "value": text("x")}]}, "top-level"),
        ({"cases": one, "fields": [*good_field, {"fieldIdentifier": {"name": "Priority"},
                                                 "value": text("y")}]}, "same field"),
        ({"cases": one, "fields": good_field, "status": "bad status!"}, "status"),
    ]
    for params, words in bad:
        if words != "changes nothing":
            params = {"title": "changed", **params}
        error = error_of(cc.batch_update_case, domainId=domain, **params)
        assert error["Error"]["Code"] == "ValidationException", params
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert words in error["Error"]["Message"], (words, error["Error"]["Message"])
    error = error_of(cc.batch_update_case, domainId=domain, title="changed", fields=[],
                     cases=[*one, {"caseIdentifier": {"referenceId": "REF-1"}}])
    assert error["Error"]["Code"] == "ResourceNotFoundException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error["resourceId"] == "REF-1" and error["resourceType"] == "Case"
    assert code_of(cc.batch_update_case, domainId="no-such-domain", cases=one, fields=[],
                   title="x") == ("ResourceNotFoundException", 404)
    stranger = account_client(server, "333333333342")
    assert code_of(stranger.batch_update_case, domainId=domain, cases=one, fields=[],
                   title="x") == ("ResourceNotFoundException", 404)
    assert values(cc, domain, case_id, "title", priority) == {"title": text("untouched")}
    # The model's limits: 1..100 cases, at most 220 fields.
    many = [by_id(str(uuid.uuid4())) for _ in range(101)]
    assert code_of(cc.batch_update_case, domainId=domain, cases=many, fields=[], title="x") == (
        "ValidationException", 400)


def test_client_token_retries_return_the_first_answer(cc, domain, template):
    case_id = new_case(cc, domain, template)
    token = str(uuid.uuid4())
    params = {"domainId": domain, "cases": [by_id(case_id)], "fields": [], "title": "First",
              "clientToken": token}
    first = cc.batch_update_case(**params)
    # Someone changes the case; a retry of the batch must not apply it again.
    cc.update_case(domainId=domain, caseId=case_id, fields=[{"id": "title",
                                                             "value": text("Later")}])
    retry = cc.batch_update_case(**params)
    assert retry["successfulCases"] == first["successfulCases"]
    assert retry["failedCases"] == first["failedCases"]
    assert values(cc, domain, case_id, "title")["title"] == text("Later")
    error = error_of(cc.batch_update_case, **{**params, "title": "Different"})
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (
        "ConflictException", 409)
    assert token in error["Error"]["Message"]
    # Tokens belong to one operation: the same token on BatchCreateRelatedItem is new.
    created = cc.batch_create_related_item(domainId=domain, content=COMMENT,
                                           cases=[by_id(case_id)], clientToken=token)
    assert len(created["successfulItems"]) == 1
    # A failed request remembers nothing: the token stays free for a corrected retry.
    fresh = str(uuid.uuid4())
    assert code_of(cc.batch_update_case, domainId=domain, cases=[by_id(case_id)], fields=[],
                   clientToken=fresh) == ("ValidationException", 400)
    ok = cc.batch_update_case(domainId=domain, cases=[by_id(case_id)], fields=[], title="Fixed",
                              clientToken=fresh)
    assert ok["successfulCases"] == [{"caseIdentifier": {"caseId": case_id}}]
    # Without a token of its own the SDK makes one per call: each call applies.
    cc.batch_update_case(domainId=domain, cases=[by_id(case_id)], fields=[], title="A")
    cc.batch_update_case(domainId=domain, cases=[by_id(case_id)], fields=[], title="B")
    assert values(cc, domain, case_id, "title")["title"] == text("B")


def test_create_related_item_adds_one_comment_to_many_cases(cc, domain, template):
    cases = [new_case(cc, domain, template) for _ in range(3)]
    missing = str(uuid.uuid4())
    answer = cc.batch_create_related_item(
        domainId=domain, content=COMMENT, performedBy={"customEntity": "bulk tool"},
        cases=[by_id(cases[0]), by_id(missing), by_id(cases[1]), by_id(cases[2])])
    assert [s["caseIdentifier"] for s in answer["successfulItems"]] == [
        {"caseId": c} for c in cases]
    assert answer["failedItems"] == [{"caseIdentifier": {"caseId": missing},
                                      "errorCode": "CASE_NOT_FOUND",
                                      "errorMessage": f"Case {missing} not found"}]
    for case_id, entry in zip(cases, answer["successfulItems"], strict=True):
        assert entry["relatedItemArn"].endswith(
            f":domain/{domain}/case/{case_id}/related-item/{entry['relatedItemId']}")
        (item,) = comments(cc, domain, case_id)
        assert item["relatedItemId"] == entry["relatedItemId"]
        assert item["content"] == COMMENT
        assert item["performedBy"] == {"customEntity": "bulk tool"}
    ids = {entry["relatedItemId"] for entry in answer["successfulItems"]}
    assert len(ids) == 3


def test_create_related_item_errors(server, cc, domain, template):
    case_id = new_case(cc, domain, template)
    one = [by_id(case_id)]
    contact = {"contact": {"contactArn": f"{INSTANCE}/contact/c-1"}}
    for content in (contact, {"connectCase": {"caseId": case_id}},
                    {"file": {"fileArn": f"{INSTANCE}/file/f-1"}}):
        error = error_of(cc.batch_create_related_item, domainId=domain, content=content,
                         cases=one)
        assert error["Error"]["Code"] == "ValidationException"
        assert "Comment" in error["Error"]["Message"]
    assert code_of(cc.batch_create_related_item, domainId=domain, content=COMMENT,
                   cases=one + one) == ("ValidationException", 400)
    assert code_of(cc.batch_create_related_item, domainId=domain, content=COMMENT,
                   cases=[*one, {"caseIdentifier": {"referenceId": "r-9"}}]) == (
        "ResourceNotFoundException", 404)
    assert code_of(cc.batch_create_related_item, domainId="nope", content=COMMENT,
                   cases=one) == ("ResourceNotFoundException", 404)
    stranger = account_client(server, "333333333343")
    assert code_of(stranger.batch_create_related_item, domainId=domain, content=COMMENT,
                   cases=one) == ("ResourceNotFoundException", 404)
    assert code_of(cc.batch_create_related_item, domainId=domain, cases=one,
                   content={"comment": {"body": "x" * 15001, "contentType": "Text/Plain"}}) == (
        "ValidationException", 400)
    assert comments(cc, domain, case_id) == []  # nothing was created by any of them


def test_create_related_item_quota_fails_only_the_full_case(cc, domain, template):
    full, roomy = new_case(cc, domain, template), new_case(cc, domain, template)
    for n in range(200):
        cc.create_related_item(domainId=domain, caseId=full, type="Comment", content={
            "comment": {"body": f"note {n}", "contentType": "Text/Plain"}})
    answer = cc.batch_create_related_item(domainId=domain, content=COMMENT,
                                          cases=[by_id(full), by_id(roomy)])
    assert [s["caseIdentifier"]["caseId"] for s in answer["successfulItems"]] == [roomy]
    assert [(f["caseIdentifier"]["caseId"], f["errorCode"]) for f in answer["failedItems"]] == [
        (full, "SERVICE_QUOTA_EXCEEDED")]


def test_create_related_item_client_token(cc, domain, template):
    case_id = new_case(cc, domain, template)
    params = {"domainId": domain, "content": COMMENT, "cases": [by_id(case_id)],
              "clientToken": str(uuid.uuid4())}
    first = cc.batch_create_related_item(**params)
    again = cc.batch_create_related_item(**params)
    assert again["successfulItems"] == first["successfulItems"]
    assert len(comments(cc, domain, case_id)) == 1
    other = {"comment": {"body": "something else", "contentType": "Text/Plain"}}
    assert code_of(cc.batch_create_related_item, **{**params, "content": other}) == (
        "ConflictException", 409)

