"""Connect Cases cases: CreateCase, GetCase, UpdateCase, DeleteCase."""

from __future__ import annotations

import math
import re
import uuid
from datetime import datetime

import pytest
from cases_helpers import (
    account_client,
    code_of,
    error_of,
    new_case,
    new_domain,
    new_template,
    text,
)
from conftest import start_server

ACCOUNT = "333333333304"

USER = "arn:aws:connect:us-east-1:333333333304:instance/i-1/user/u-1"
PROFILE = "arn:aws:profile:us-east-1:333333333304:domains/d/profiles/p-1"
SERVICE_FIELDS = ["case_id", "reference_number", "created_datetime", "last_updated_datetime",
                  "last_closed_datetime", "last_updated_user", "status"]


@pytest.fixture(scope="module")
def typed(cc, domain):
    """One custom field of each type, by type name."""
    made = {kind: cc.create_field(domainId=domain, name=kind, type=kind)["fieldId"]
            for kind in ("Text", "Number", "Boolean", "DateTime", "SingleSelect", "Url", "User")}
    cc.batch_put_field_options(domainId=domain, fieldId=made["SingleSelect"], options=[
        {"name": "Gold", "value": "gold", "active": True},
        {"name": "Old", "value": "old", "active": False}])
    return made


def values(cc, domain, case_id, *field_ids):
    got = cc.get_case(domainId=domain, caseId=case_id, fields=[{"id": f} for f in field_ids])
    return {f["id"]: f["value"] for f in got["fields"]}


def test_create_and_get_case(cc, domain, template, typed):
    created = cc.create_case(
        domainId=domain, templateId=template, performedBy={"userArn": USER},
        fields=[{"id": "title", "value": text("Refund")},
                {"id": "customer_id", "value": text(PROFILE)},
                {"id": typed["Number"], "value": {"doubleValue": 4.5}},
                {"id": typed["Boolean"], "value": {"booleanValue": True}},
                {"id": typed["DateTime"], "value": text("2026-01-02T03:04:05+01:00")},
                {"id": typed["SingleSelect"], "value": text("gold")},
                {"id": typed["Url"], "value": text("https://example.com")},
                {"id": typed["User"], "value": {"userArnValue": USER}}],
        tags={"Department": "Shipping"})
    case_id = created["caseId"]
    assert created["caseArn"] == (f"arn:aws:cases:us-east-1:333333333304:domain/{domain}"
                                  f"/case/{case_id}")
    got = cc.get_case(domainId=domain, caseId=case_id, fields=[
        {"id": f} for f in ["title", "customer_id", "summary", *typed.values(), *SERVICE_FIELDS]])
    assert got["templateId"] == template and got["tags"] == {"Department": "Shipping"}
    found = {f["id"]: f["value"] for f in got["fields"]}
    assert "summary" not in found and "last_closed_datetime" not in found
    assert found["title"] == text("Refund") and found["status"] == text("open")
    assert found[typed["Number"]] == {"doubleValue": 4.5}
    assert found[typed["Boolean"]] == {"booleanValue": True}
    assert found[typed["DateTime"]] == text("2026-01-02T02:04:05.000Z")
    assert found[typed["User"]] == {"userArnValue": USER}
    assert found["case_id"] == text(case_id)
    assert re.fullmatch(r"\d{8}", found["reference_number"]["stringValue"])
    assert found["created_datetime"] == found["last_updated_datetime"]
    datetime.fromisoformat(found["created_datetime"]["stringValue"])
    assert found["last_updated_user"] == {"userArnValue": USER}
    # Values come back in the order asked for.
    assert [f["id"] for f in got["fields"]][:2] == ["title", "customer_id"]


def test_create_case_errors(cc, domain, template, typed):
    def fails(fields, template_id=template, **extra):
        return code_of(cc.create_case, domainId=domain, templateId=template_id,
                       fields=fields, **extra)

    title = {"id": "title", "value": text("t")}
    assert fails([]) == ("ValidationException", 400)  # no title
    assert fails([{"id": "title", "value": {"emptyValue": {}}}]) == ("ValidationException", 400)
    assert fails([title, {"id": typed["Number"], "value": text("4")}]) == (
        "ValidationException", 400)
    assert fails([title, {"id": typed["Text"], "value": {"doubleValue": 1}}]) == (
        "ValidationException", 400)
    assert fails([title, {"id": typed["SingleSelect"], "value": text("old")}]) == (
        "ValidationException", 400)  # inactive option
    assert fails([title, {"id": typed["SingleSelect"], "value": text("none")}]) == (
        "ValidationException", 400)
    for moment in ("yesterday", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
        # Not a date-time, or out of years 1 to 9999 once in UTC.
        assert fails([title, {"id": typed["DateTime"], "value": text(moment)}]) == (
            "ValidationException", 400)
    assert fails([title, {"id": "nope", "value": text("x")}]) == ("ValidationException", 400)
    assert fails([title, title]) == ("ValidationException", 400)
    assert fails([title, {"id": "case_id", "value": text("mine")}]) == (
        "ValidationException", 400)
    assert fails([title, {"id": "summary", "value": text("s" * 3001)}]) == (
        "ValidationException", 400)
    assert fails([title, {"id": "status", "value": text("pending")}]) == (
        "ValidationException", 400)
    error = error_of(cc.create_case, domainId=domain, templateId="nope", fields=[title])
    assert (error["Error"]["Code"], error["resourceType"]) == ("ResourceNotFoundException",
                                                               "Template")
    inactive = cc.create_template(domainId=domain, name="Off", status="Inactive")["templateId"]
    assert fails([title], inactive) == ("ValidationException", 400)
    deleted = cc.create_template(domainId=domain, name="Gone")["templateId"]
    cc.delete_template(domainId=domain, templateId=deleted)
    assert fails([title], deleted) == ("ValidationException", 400)
    assert fails([title], tags={"aws:reserved": "x"}) == ("ValidationException", 400)
    assert code_of(cc.create_case, domainId="nope", templateId=template, fields=[title]) == (
        "ResourceNotFoundException", 404)


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_numbers_must_be_finite(cc, domain, template, typed, number):
    # The SDKs send these as "NaN" / "Infinity"; no stored value can hold them.
    error = error_of(cc.create_case, domainId=domain, templateId=template, fields=[
        {"id": "title", "value": text("t")},
        {"id": typed["Number"], "value": {"doubleValue": number}}])
    assert error["Error"]["Code"] == "ValidationException"
    assert error["Error"]["Message"].endswith(
        "at 'fields.2.member.value.doubleValue' failed to satisfy constraint: Member must be "
        "a finite number")


def test_template_required_fields(cc, domain, typed):
    template_id = cc.create_template(domainId=domain, name="Needs customer", requiredFields=[
        {"fieldId": "customer_id"}, {"fieldId": typed["Number"]}])["templateId"]
    assert code_of(cc.create_case, domainId=domain, templateId=template_id,
                   fields=[{"id": "title", "value": text("t")},
                           {"id": "customer_id", "value": text(PROFILE)}]) == (
        "ValidationException", 400)
    case_id = new_case(cc, domain, template_id, fields=[
        {"id": "customer_id", "value": text(PROFILE)},
        {"id": typed["Number"], "value": {"doubleValue": 1}}])
    for field_id in ("customer_id", typed["Number"], "title"):
        assert code_of(cc.update_case, domainId=domain, caseId=case_id,
                       fields=[{"id": field_id, "value": {"emptyValue": {}}}]) == (
            "ValidationException", 400)


def test_client_token_makes_create_idempotent(cc, domain, template):
    token = str(uuid.uuid4())
    first = cc.create_case(domainId=domain, templateId=template, clientToken=token,
                           fields=[{"id": "title", "value": text("once")}])
    again = cc.create_case(domainId=domain, templateId=template, clientToken=token,
                           fields=[{"id": "title", "value": text("once")}])
    assert again["caseId"] == first["caseId"] and again["caseArn"] == first["caseArn"]
    assert code_of(cc.create_case, domainId=domain, templateId=template, clientToken=token,
                   fields=[{"id": "title", "value": text("changed")}]) == (
        "ConflictException", 409)
    # botocore fills in a fresh token when none is given: two calls, two cases.
    one = new_case(cc, domain, template)
    two = new_case(cc, domain, template)
    assert one != two


def test_template_tags_propagate(cc, domain):
    template_id = cc.create_template(domainId=domain, name="Tagged", tagPropagationConfigurations=[
        {"resourceType": "Cases", "tagMap": {"team": "billing", "tier": "1"}}])["templateId"]
    case_id = new_case(cc, domain, template_id, tags={"tier": "2", "extra": "x"})
    assert cc.get_case(domainId=domain, caseId=case_id, fields=[{"id": "title"}])["tags"] == {
        "team": "billing", "tier": "2", "extra": "x"}


def test_update_case(cc, domain, template, typed):
    case_id = new_case(cc, domain, template,
                       fields=[{"id": typed["Text"], "value": text("before")}])
    created = values(cc, domain, case_id, "last_updated_datetime")["last_updated_datetime"]
    cc.update_case(domainId=domain, caseId=case_id, performedBy={"userArn": USER},
                   fields=[{"id": typed["Text"], "value": {"emptyValue": {}}},
                           {"id": "summary", "value": text("more")},
                           {"id": "status", "value": text("closed")}])
    found = values(cc, domain, case_id, typed["Text"], "summary", "title", "status",
                   "last_closed_datetime", "last_updated_datetime", "last_updated_user")
    assert typed["Text"] not in found
    assert found["summary"] == text("more") and found["title"] == text("Refund")
    assert found["status"] == text("closed")
    closed = found["last_closed_datetime"]
    assert found["last_updated_datetime"]["stringValue"] >= created["stringValue"]
    assert found["last_updated_user"] == {"userArnValue": USER}
    cc.update_case(domainId=domain, caseId=case_id, performedBy={"customEntity": "bot"},
                   fields=[{"id": "status", "value": text("open")}])
    found = values(cc, domain, case_id, "status", "last_closed_datetime", "last_updated_user")
    assert found == {"status": text("open"), "last_closed_datetime": closed}
    for bad in ([{"id": "nope", "value": text("x")}],
                [{"id": typed["Number"], "value": {"booleanValue": True}}],
                [{"id": "last_updated_datetime", "value": text("2020-01-01T00:00:00Z")}]):
        assert code_of(cc.update_case, domainId=domain, caseId=case_id, fields=bad) == (
            "ValidationException", 400)
    error = error_of(cc.update_case, domainId=domain, caseId="nope", fields=[])
    assert (error["Error"]["Code"], error["resourceId"], error["resourceType"]) == (
        "ResourceNotFoundException", "nope", "Case")
    # A change looks the domain and the case up together: the missing one is still named.
    missing = "00000000-0000-4000-8000-000000000000"
    error = error_of(cc.update_case, domainId=missing, caseId=case_id, fields=[])
    assert (error["Error"]["Code"], error["resourceId"], error["resourceType"]) == (
        "ResourceNotFoundException", missing, "Domain")


def test_get_case_errors(cc, domain, template):
    error = error_of(cc.get_case, domainId=domain, caseId="nope", fields=[{"id": "title"}])
    assert (error["Error"]["Code"], error["resourceType"]) == ("ResourceNotFoundException",
                                                               "Case")
    case_id = new_case(cc, domain, template)
    # Every value fits one page, so no token was ever issued for a case.
    assert code_of(cc.get_case, domainId=domain, caseId=case_id, fields=[{"id": "title"}],
                   nextToken="forged") == ("ValidationException", 400)
    assert cc.get_case(domainId=domain, caseId=case_id, fields=[{"id": "nope"}])["fields"] == []


def test_delete_case_removes_it_and_its_related_items(cc, domain, template):
    case_id = new_case(cc, domain, template)
    item = cc.create_related_item(domainId=domain, caseId=case_id, type="Comment", content={
        "comment": {"body": "hi", "contentType": "Text/Plain"}})
    cc.tag_resource(arn=item["relatedItemArn"], tags={"k": "v"})
    cc.delete_case(domainId=domain, caseId=case_id)
    for call, params in [(cc.get_case, {"fields": [{"id": "title"}]}),
                         (cc.delete_case, {}), (cc.search_related_items, {}),
                         (cc.update_case, {"fields": []})]:
        assert code_of(call, domainId=domain, caseId=case_id, **params) == (
            "ResourceNotFoundException", 404)
    assert code_of(cc.list_tags_for_resource, arn=item["relatedItemArn"]) == (
        "ResourceNotFoundException", 404)


def test_other_accounts_cannot_reach_cases(server, cc, domain, template):
    case_id = new_case(cc, domain, template)
    stranger = account_client(server, "333333333399")
    assert code_of(stranger.get_case, domainId=domain, caseId=case_id,
                   fields=[{"id": "title"}]) == ("ResourceNotFoundException", 404)
    assert code_of(stranger.delete_case, domainId=domain, caseId=case_id) == (
        "ResourceNotFoundException", 404)
    assert values(cc, domain, case_id, "title") == {"title": text("Refund")}


def test_definition_changes_apply_at_once_on_another_server(tmp_path):
    """Each process keeps the definitions it read under the domain's version: a change made
    through one server holds for the next request on another (two servers, one database)."""
    first = start_server(tmp_path)
    second = start_server(tmp_path)  # the same data directory: its database and master key
    try:
        one, other = first.client("connectcases"), second.client("connectcases")
        domain_id = new_domain(one)
        notes = one.create_field(domainId=domain_id, name="Notes", type="Text")["fieldId"]
        ticket = one.create_field(domainId=domain_id, name="Ticket", type="Text")["fieldId"]
        template_id = new_template(one, domain_id)
        with_notes = [{"id": notes, "value": text("call back")}]
        # The second server reads (and keeps) the template and the fields.
        for _ in range(3):
            new_case(other, domain_id, template_id, fields=with_notes)

        one.update_template(domainId=domain_id, templateId=template_id, status="Inactive")
        response = error_of(other.create_case, domainId=domain_id, templateId=template_id,
                            fields=[{"id": "title", "value": text("Refund")}])
        assert response["Error"]["Code"] == "ValidationException"
        assert "Inactive" in response["Error"]["Message"]

        one.update_template(domainId=domain_id, templateId=template_id, status="Active",
                            requiredFields=[{"fieldId": ticket}])
        response = error_of(other.create_case, domainId=domain_id, templateId=template_id,
                            fields=[{"id": "title", "value": text("Refund")}])
        assert f"Required fields are missing: {ticket}" in response["Error"]["Message"]
        new_case(other, domain_id, template_id, fields=[{"id": ticket, "value": text("T-1")}])

        one.delete_field(domainId=domain_id, fieldId=notes)
        response = error_of(other.create_case, domainId=domain_id, templateId=template_id,
                            fields=[{"id": "title", "value": text("Refund")},
                                    {"id": ticket, "value": text("T-2")}, *with_notes])
        assert f"Fields are deleted: {notes}" in response["Error"]["Message"]
    finally:
        second.stop()
        first.stop()
