"""AWS Support case life cycle, end to end through boto3 against a real server."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

from conftest import error_of, start_server

CASE_ID = re.compile(r"^case-000000000000-muen-\d{4}-[0-9a-f]{16}$")
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def new_case(support, **params) -> str:
    params.setdefault("subject", "Instance unreachable")
    params.setdefault("communicationBody", "Since 10:00 UTC")
    return support.create_case(**params)["caseId"]


def describe(support, case_id: str, **params) -> dict:
    return support.describe_cases(caseIdList=[case_id], includeResolvedCases=True,
                                  **params)["cases"][0]


def test_create_case_returns_an_aws_shaped_id_and_stores_every_field(support):
    year = datetime.now(UTC).year
    case_id = new_case(support, serviceCode="amazon-elastic-compute-cloud-linux",
                       categoryCode="instance-issue", severityCode="high", language="en",
                       ccEmailAddresses=["ops@example.com"])
    assert CASE_ID.match(case_id) and f"-muen-{year}-" in case_id
    case = describe(support, case_id)
    assert case["caseId"] == case_id
    assert case["displayId"].isdigit()
    assert case["subject"] == "Instance unreachable"
    assert case["status"] == "opened"
    assert case["serviceCode"] == "amazon-elastic-compute-cloud-linux"
    assert case["categoryCode"] == "instance-issue"
    assert case["severityCode"] == "high"
    assert case["language"] == "en"
    assert case["ccEmailAddresses"] == ["ops@example.com"]
    assert TIME.match(case["timeCreated"])
    first = case["recentCommunications"]["communications"]
    assert [c["body"] for c in first] == ["Since 10:00 UTC"]
    assert first[0]["caseId"] == case_id and first[0]["attachmentSet"] == []


def test_display_ids_are_unique_numbers(support):
    ids = {describe(support, new_case(support))["displayId"] for _ in range(3)}
    assert len(ids) == 3


def test_display_ids_increase_with_each_case_whichever_way_it_is_written(support):
    # A case without attachments is written in one statement sent with the COMMIT on
    # PostgreSQL, one with an attachment set statement by statement: both take their number
    # from the same place (the account's counter on SQLite, one sequence on PostgreSQL).
    shown = []
    for n in range(4):
        extra = {}
        if n % 2:
            extra["attachmentSetId"] = support.add_attachments_to_set(
                attachments=[{"fileName": "log.txt", "data": b"boot"}])["attachmentSetId"]
        shown.append(int(describe(support, new_case(support, **extra))["displayId"]))
    assert shown == sorted(shown) and len(set(shown)) == 4
    assert all(len(str(number)) == 10 for number in shown)


def test_add_communication_is_newest_first_everywhere(support):
    case_id = new_case(support)
    answer = support.add_communication_to_case(
        caseId=case_id, communicationBody="Logs attached", ccEmailAddresses=["ops@example.com"])
    assert answer["result"] is True
    comms = support.describe_communications(caseId=case_id)["communications"]
    assert [c["body"] for c in comms] == ["Logs attached", "Since 10:00 UTC"]
    assert all(c["caseId"] == case_id and TIME.match(c["timeCreated"]) for c in comms)
    assert all(c["submittedBy"] for c in comms)
    recent = describe(support, case_id)["recentCommunications"]["communications"]
    assert recent[0]["body"] == "Logs attached"


def test_communication_with_attachments_round_trips_exact_bytes(support):
    payload = bytes(range(256)) * 100
    added = support.add_attachments_to_set(attachments=[
        {"fileName": "trace.bin", "data": payload}, {"fileName": "notes.txt", "data": b"n"}])
    assert added["attachmentSetId"].startswith("as-")
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$", added["expiryTime"])
    case_id = new_case(support)
    support.add_communication_to_case(caseId=case_id, communicationBody="see files",
                                      attachmentSetId=added["attachmentSetId"])
    newest = support.describe_communications(caseId=case_id)["communications"][0]
    names = [a["fileName"] for a in newest["attachmentSet"]]
    assert names == ["trace.bin", "notes.txt"]
    first_id = newest["attachmentSet"][0]["attachmentId"]
    assert first_id.startswith("attachment-")
    got = support.describe_attachment(attachmentId=first_id)["attachment"]
    assert got == {"fileName": "trace.bin", "data": payload}


def test_pages_count_communications_not_their_attachments(support):
    # Communications and their attachments are read in one statement, one row per attachment:
    # a page still holds maxResults communications, each with all of its attachments.
    case_id = new_case(support)
    for i in range(11):
        added = support.add_attachments_to_set(attachments=[
            {"fileName": f"a{i}.txt", "data": b"a"}, {"fileName": f"b{i}.txt", "data": b"b"}])
        support.add_communication_to_case(caseId=case_id, communicationBody=f"reply {i}",
                                          attachmentSetId=added["attachmentSetId"])
    page = support.describe_communications(caseId=case_id, maxResults=10)
    assert [c["body"] for c in page["communications"]] == [f"reply {i}" for i in range(10, 0, -1)]
    assert [[a["fileName"] for a in c["attachmentSet"]] for c in page["communications"][:2]] \
        == [["a10.txt", "b10.txt"], ["a9.txt", "b9.txt"]]
    rest = support.describe_communications(caseId=case_id, nextToken=page["nextToken"])
    assert [c["body"] for c in rest["communications"]] == ["reply 0", "Since 10:00 UTC"]
    assert [len(c["attachmentSet"]) for c in rest["communications"]] == [2, 0]
    assert "nextToken" not in rest
    recent = describe(support, case_id)["recentCommunications"]
    assert [c["body"] for c in recent["communications"]] == [f"reply {i}" for i in range(10, 5, -1)]
    assert all(len(c["attachments"]) == 2 for c in recent["communications"])
    assert "nextToken" in recent


def test_attachment_set_can_be_extended_up_to_three(support):
    set_id = support.add_attachments_to_set(
        attachments=[{"fileName": "a", "data": b"a"}])["attachmentSetId"]
    again = support.add_attachments_to_set(
        attachmentSetId=set_id, attachments=[{"fileName": "b", "data": b"b"},
                                             {"fileName": "c", "data": b"c"}])
    assert again["attachmentSetId"] == set_id
    error = error_of(support.add_attachments_to_set, attachmentSetId=set_id,
                     attachments=[{"fileName": "d", "data": b"d"}])
    assert error["Error"]["Code"] == "AttachmentSetSizeLimitExceeded"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_attachment_over_five_megabytes_is_refused(support):
    error = error_of(support.add_attachments_to_set,
                     attachments=[{"fileName": "big", "data": b"x" * (5 * 1024 * 1024 + 1)}])
    assert error["Error"]["Code"] == "AttachmentSetSizeLimitExceeded"


def test_attachment_set_is_single_use(support):
    set_id = support.add_attachments_to_set(
        attachments=[{"fileName": "a", "data": b"a"}])["attachmentSetId"]
    case_id = new_case(support, attachmentSetId=set_id)
    error = error_of(support.add_communication_to_case, caseId=case_id,
                     communicationBody="again", attachmentSetId=set_id)
    assert error["Error"]["Code"] == "AttachmentSetIdNotFound"


def test_unknown_ids_give_modeled_errors(support):
    cases = [
        (support.add_communication_to_case,
         {"caseId": "case-000000000000-muen-2026-0000000000000000", "communicationBody": "x"},
         "CaseIdNotFound"),
        (support.describe_communications,
         {"caseId": "case-000000000000-muen-2026-0000000000000000"}, "CaseIdNotFound"),
        (support.resolve_case,
         {"caseId": "case-000000000000-muen-2026-0000000000000000"}, "CaseIdNotFound"),
        (support.describe_cases, {"caseIdList": ["case-nope"]}, "CaseIdNotFound"),
        (support.add_communication_to_case,
         {"caseId": new_case(support), "communicationBody": "x", "attachmentSetId": "as-nope"},
         "AttachmentSetIdNotFound"),
        (support.create_case, {"subject": "s", "communicationBody": "b",
                               "attachmentSetId": "as-nope"}, "AttachmentSetIdNotFound"),
        (support.add_attachments_to_set,
         {"attachmentSetId": "as-nope", "attachments": [{"fileName": "a", "data": b"a"}]},
         "AttachmentSetIdNotFound"),
        (support.describe_attachment, {"attachmentId": "attachment-nope"},
         "AttachmentIdNotFound"),
    ]
    for call, params, code in cases:
        error = error_of(call, **params)
        assert error["Error"]["Code"] == code, (call, error)
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert error["Error"]["Message"]


def test_add_communication_requires_a_case_id(support):
    error = error_of(support.add_communication_to_case, communicationBody="orphan")
    assert error["Error"]["Code"] == "ValidationException"
    assert "at 'caseId'" in error["Error"]["Message"]


def test_server_enforces_maximums_the_sdk_does_not_check(support):
    case_id = new_case(support)
    error = error_of(support.add_communication_to_case, caseId=case_id,
                     communicationBody="x" * 8001)
    message = error["Error"]["Message"]
    assert error["Error"]["Code"] == "ValidationException"
    assert message.startswith("1 validation error detected: Value '")
    assert message.endswith("at 'communicationBody' failed to satisfy constraint: "
                            "Member must have length less than or equal to 8000")
    error = error_of(support.add_communication_to_case, caseId=case_id, communicationBody="x",
                     ccEmailAddresses=[f"a{i}@example.com" for i in range(11)])
    assert "Member must have length less than or equal to 10" in error["Error"]["Message"]
    error = error_of(support.describe_cases, maxResults=101)
    assert error["Error"]["Message"] == (
        "1 validation error detected: Value '101' at 'maxResults' failed to satisfy "
        "constraint: Member must have value less than or equal to 100")
    error = error_of(support.describe_cases, caseIdList=[case_id] * 101)
    assert "at 'caseIdList' failed to satisfy constraint" in error["Error"]["Message"]


def test_several_violations_are_reported_together(server):
    support = server.client("support", parameter_validation=False)
    error = error_of(support.describe_communications, caseId="x", maxResults=5)
    assert error["Error"]["Message"].startswith("1 validation error detected")
    error = error_of(support.create_case, subject="s", communicationBody="",
                     ccEmailAddresses=["a"] * 11)
    message = error["Error"]["Message"]
    assert message.startswith("2 validation errors detected: ")
    assert "at 'communicationBody'" in message and "at 'ccEmailAddresses'" in message


def test_resolve_then_reply_reopens(support):
    case_id = new_case(support)
    first = support.resolve_case(caseId=case_id)
    assert (first["initialCaseStatus"], first["finalCaseStatus"]) == ("opened", "resolved")
    again = support.resolve_case(caseId=case_id)
    assert (again["initialCaseStatus"], again["finalCaseStatus"]) == ("resolved", "resolved")
    assert describe(support, case_id)["status"] == "resolved"
    support.add_communication_to_case(caseId=case_id, communicationBody="still broken")
    assert describe(support, case_id)["status"] == "reopened"


def test_resolved_cases_are_hidden_by_default(support):
    open_id, resolved_id = new_case(support), new_case(support)
    support.resolve_case(caseId=resolved_id)
    listed = support.describe_cases(caseIdList=[open_id, resolved_id])["cases"]
    assert [c["caseId"] for c in listed] == [open_id]
    listed = support.describe_cases(caseIdList=[open_id, resolved_id],
                                    includeResolvedCases=True)["cases"]
    assert [c["caseId"] for c in listed] == [resolved_id, open_id]


def test_include_communications_false_omits_them(support):
    case_id = new_case(support)
    case = support.describe_cases(caseIdList=[case_id], includeCommunications=False)["cases"][0]
    assert "recentCommunications" not in case


def test_recent_communications_are_five_with_a_token_for_the_rest(support):
    case_id = new_case(support, communicationBody="0")
    for i in range(1, 8):
        support.add_communication_to_case(caseId=case_id, communicationBody=str(i))
    recent = describe(support, case_id)["recentCommunications"]
    assert [c["body"] for c in recent["communications"]] == ["7", "6", "5", "4", "3"]
    rest = support.describe_communications(caseId=case_id, nextToken=recent["nextToken"])
    assert [c["body"] for c in rest["communications"]] == ["2", "1", "0"]
    assert "nextToken" not in rest


def test_display_id_and_time_filters(support):
    case_id = new_case(support)
    case = describe(support, case_id)
    by_display = support.describe_cases(displayId=case["displayId"])["cases"]
    assert [c["caseId"] for c in by_display] == [case_id]
    created = case["timeCreated"]
    inclusive = support.describe_cases(caseIdList=[case_id], afterTime=created,
                                       beforeTime=created)["cases"]
    assert [c["caseId"] for c in inclusive] == [case_id]
    later = (datetime.fromisoformat(created) + timedelta(seconds=1)).isoformat()
    assert support.describe_cases(caseIdList=[case_id], afterTime=later)["cases"] == []
    assert support.describe_communications(caseId=case_id, afterTime=later)["communications"] \
        == []
    error = error_of(support.describe_cases, afterTime="yesterday")
    assert error["Error"]["Code"] == "ValidationException"


def test_language_filter(support):
    case_id = new_case(support, language="ja")
    assert [c["caseId"] for c in support.describe_cases(caseIdList=[case_id],
                                                        language="ja")["cases"]] == [case_id]
    assert support.describe_cases(caseIdList=[case_id], language="en")["cases"] == []


def test_paginators_walk_every_page_once(server):
    key, secret = server.new_account("111111111111")
    support = server.client("support", key=key, secret=secret)
    made = [new_case(support, subject=f"case {i}") for i in range(23)]
    pages = list(support.get_paginator("describe_cases").paginate(
        includeCommunications=False, PaginationConfig={"PageSize": 10}))
    assert [len(p["cases"]) for p in pages] == [10, 10, 3]
    seen = [c["caseId"] for p in pages for c in p["cases"]]
    assert seen == list(reversed(made))
    for i in range(24):
        support.add_communication_to_case(caseId=made[0], communicationBody=f"reply {i}")
    pages = list(support.get_paginator("describe_communications").paginate(
        caseId=made[0], PaginationConfig={"PageSize": 10}))
    bodies = [c["body"] for p in pages for c in p["communications"]]
    assert bodies == [f"reply {i}" for i in reversed(range(24))] + ["Since 10:00 UTC"]


def test_forged_or_foreign_tokens_are_refused(server, support):
    for forged in ("eyJ4Ijo1fQ.forged", "é.é", "no-dot"):
        error = error_of(support.describe_cases, nextToken=forged)
        assert error["Error"]["Code"] == "ValidationException", forged
    case_id = new_case(support)
    for i in range(6):
        support.add_communication_to_case(caseId=case_id, communicationBody=str(i))
    token = describe(support, case_id)["recentCommunications"]["nextToken"]
    key, secret = server.new_account("222222222222")
    other = server.client("support", key=key, secret=secret)
    other_case = new_case(other)
    error = error_of(other.describe_communications, caseId=other_case, nextToken=token)
    assert error["Error"]["Code"] == "ValidationException"


def test_accounts_never_see_each_other(server, support):
    case_id = new_case(support)
    set_id = support.add_attachments_to_set(
        attachments=[{"fileName": "a", "data": b"secret"}])["attachmentSetId"]
    support.add_communication_to_case(caseId=case_id, communicationBody="x",
                                      attachmentSetId=set_id)
    attachment_id = support.describe_communications(
        caseId=case_id)["communications"][0]["attachmentSet"][0]["attachmentId"]
    key, secret = server.new_account("333333333333")
    other = server.client("support", key=key, secret=secret)
    assert other.describe_cases(includeResolvedCases=True)["cases"] == []
    for call, params, code in [
        (other.describe_cases, {"caseIdList": [case_id]}, "CaseIdNotFound"),
        (other.describe_communications, {"caseId": case_id}, "CaseIdNotFound"),
        (other.add_communication_to_case, {"caseId": case_id, "communicationBody": "x"},
         "CaseIdNotFound"),
        (other.resolve_case, {"caseId": case_id}, "CaseIdNotFound"),
        (other.describe_attachment, {"attachmentId": attachment_id}, "AttachmentIdNotFound"),
    ]:
        assert error_of(call, **params)["Error"]["Code"] == code
    other_case = new_case(other)
    assert other_case.startswith("case-333333333333-muen-")


def test_attachment_sets_expire(tmp_path):
    server = start_server(tmp_path, "--attachment-set-ttl", "1")
    try:
        support = server.client("support")
        set_id = support.add_attachments_to_set(
            attachments=[{"fileName": "a", "data": b"a"}])["attachmentSetId"]
        time.sleep(1.2)
        for call, params in [
            (support.create_case, {"subject": "s", "communicationBody": "b",
                                   "attachmentSetId": set_id}),
            (support.add_attachments_to_set, {"attachmentSetId": set_id,
                                              "attachments": [{"fileName": "b", "data": b"b"}]}),
        ]:
            assert error_of(call, **params)["Error"]["Code"] == "AttachmentSetExpired"
        assert support.describe_cases()["cases"] == []  # the failed CreateCase left nothing
    finally:
        server.stop()
