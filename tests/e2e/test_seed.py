"""``casework seed`` fills a store that reads like one written through the API.

The store is seeded before the server starts, then read and written through boto3: seeded
cases have their values, history, related items and contact links, search finds them, and new
writes continue the seeded numbering.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from cases_helpers import text
from conftest import seed, start_server

ACCOUNT = "000000000000"  # the default key's account: `seed` without --account
CONNECT, ITEMS, SUPPORT, COMMUNICATIONS = 60, 3, 25, 2


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    root = tmp_path_factory.mktemp("seeded")
    said = seed(root, "--support-cases", str(SUPPORT), "--communications-per-case",
                str(COMMUNICATIONS), "--connect-cases", str(CONNECT),
                "--related-items-per-case", str(ITEMS))
    assert f"{CONNECT} Connect cases, {CONNECT * ITEMS} related items" in said
    assert f"{SUPPORT} AWS Support cases, {SUPPORT * COMMUNICATIONS} communications" in said
    server = start_server(root)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cc(seeded):
    return seeded.client("connectcases")


@pytest.fixture(scope="module")
def domain(cc):
    found = [d for d in cc.list_domains()["domains"] if d["name"] == "seed"]
    assert len(found) == 1
    return found[0]["domainId"]


def everything(cc, domain) -> list[dict]:
    paginator = cc.get_paginator("search_cases")
    return [c for page in paginator.paginate(domainId=domain, fields=[
        {"id": "title"}, {"id": "customer_id"}, {"id": "status"},
        {"id": "last_updated_datetime"}]) for c in page["cases"]]


def test_search_lists_every_seeded_case_newest_first(cc, domain):
    found = everything(cc, domain)
    assert len(found) == CONNECT
    assert cc.search_cases(domainId=domain)["totalCount"] == CONNECT
    updated = [next(f["value"]["stringValue"] for f in c["fields"]
                    if f["id"] == "last_updated_datetime") for c in found]
    assert updated == sorted(updated, reverse=True)
    assert {next(f["value"]["stringValue"] for f in c["fields"] if f["id"] == "status")
            for c in found} <= {"open", "closed"}


def test_seeded_case_reads_like_a_created_one(cc, domain):
    case = everything(cc, domain)[0]
    fields = cc.list_fields(domainId=domain)["fields"]
    custom = [f for f in fields if f["namespace"] == "Custom"]
    assert {f["type"] for f in custom} == {"Text", "Number", "Boolean", "DateTime",
                                          "SingleSelect", "Url", "User"}
    got = cc.get_case(domainId=domain, caseId=case["caseId"],
                      fields=[{"id": f["fieldId"]} for f in fields])
    values = {f["id"]: f["value"] for f in got["fields"]}
    assert values["case_id"] == text(case["caseId"])
    assert values["title"] == next(f["value"] for f in case["fields"] if f["id"] == "title")
    assert all(f["fieldId"] in values for f in custom)
    history = cc.get_case_audit_events(domainId=domain, caseId=case["caseId"])["auditEvents"]
    assert [e["type"] for e in history] == ["RelatedItem.Created"] * ITEMS + ["Case.Created"]
    created = history[-1]
    assert {f["eventFieldId"]: f["newValue"] for f in created["fields"]}["title"] == \
        values["title"]
    assert created["performedBy"]["iamPrincipalArn"] == f"arn:aws:iam::{ACCOUNT}:root"
    items = cc.search_related_items(domainId=domain, caseId=case["caseId"])["relatedItems"]
    assert sorted(i["type"] for i in items) == ["Comment", "Contact", "Contact"]


def test_search_finds_seeded_values(cc, domain):
    case = everything(cc, domain)[0]
    values = {f["id"]: f["value"]["stringValue"] for f in case["fields"]}
    by_term = cc.search_cases(domainId=domain, searchTerm=values["title"].upper(),
                              maxResults=100)["cases"]
    assert case["caseId"] in [c["caseId"] for c in by_term]
    by_id = cc.search_cases(domainId=domain, searchTerm=case["caseId"])["cases"]
    assert [c["caseId"] for c in by_id] == [case["caseId"]]
    customer = cc.search_cases(domainId=domain, maxResults=100, filter={"field": {"equalTo": {
        "id": "customer_id", "value": text(values["customer_id"])}}})
    assert case["caseId"] in [c["caseId"] for c in customer["cases"]]
    assert customer["totalCount"] == len(customer["cases"])
    # contains: the seeded substring documents (SQLite) name the values that hold a fragment.
    fragment = values["title"][2:9]
    holding = {c["caseId"] for c in everything(cc, domain) if fragment.lower() in
               next(f["value"]["stringValue"] for f in c["fields"] if f["id"] == "title").lower()}
    inside = cc.search_cases(domainId=domain, maxResults=100, filter={"field": {"contains": {
        "id": "title", "value": text(fragment.upper())}}})
    assert {c["caseId"] for c in inside["cases"]} == holding and case["caseId"] in holding
    assert inside["totalCount"] == len(holding)
    # A value the service sets (not in the substring index) is tested case by case.
    by_id = cc.search_cases(domainId=domain, filter={"field": {"contains": {
        "id": "case_id", "value": text(case["caseId"][9:23])}}})["cases"]
    assert [c["caseId"] for c in by_id] == [case["caseId"]]


def test_contacts_link_their_cases(cc, domain):
    case = everything(cc, domain)[0]
    contact = next(i for i in cc.search_related_items(
        domainId=domain, caseId=case["caseId"], filters=[{"contact": {}}])["relatedItems"])
    arn = contact["content"]["contact"]["contactArn"]
    linked = cc.list_cases_for_contact(domainId=domain, contactArn=arn)["cases"]
    assert case["caseId"] in [c["caseId"] for c in linked]
    items = cc.search_all_related_items(domainId=domain, filters=[
        {"contact": {"contactArn": arn}}])["relatedItems"]
    assert {i["caseId"] for i in items} == {c["caseId"] for c in linked}


def test_new_writes_continue_the_seeded_store(seeded, cc, domain):
    template = cc.list_templates(domainId=domain)["templates"][0]["templateId"]
    new = cc.create_case(domainId=domain, templateId=template, fields=[
        {"id": "title", "value": text("written after seeding")}])["caseId"]
    assert cc.search_cases(domainId=domain, maxResults=1)["cases"][0]["caseId"] == new
    assert [c["caseId"] for c in cc.search_cases(domainId=domain,
                                                 searchTerm="after seeding")["cases"]] == [new]
    support = seeded.client("support")
    listed = support.describe_cases(includeResolvedCases=True, maxResults=100)["cases"]
    assert len(listed) == SUPPORT
    one = listed[0]
    assert len(support.describe_communications(caseId=one["caseId"])["communications"]) == \
        COMMUNICATIONS
    assert support.describe_cases(caseIdList=[one["caseId"]], includeResolvedCases=True)[
        "cases"][0]["subject"] == \
        one["subject"]
    made = support.create_case(subject="after seeding", communicationBody="hello")["caseId"]
    display = support.describe_cases(caseIdList=[made])["cases"][0]["displayId"]
    assert display not in {c["displayId"] for c in listed}


SERVICE_SET = {"case_id", "reference_number", "created_datetime", "last_updated_datetime",
               "last_closed_datetime"}  # ids and times the service gives a new case


def test_a_seeded_case_answers_like_one_created_through_the_api(seeded, cc, domain):
    """Write a seeded case again through the API (same values, same related items, same
    user) and compare what GetCase, SearchCases, GetCaseAuditEvents, SearchRelatedItems and
    ListCasesForContact answer for both, field by field; only ids and times may differ."""
    fields = [f["fieldId"] for f in cc.list_fields(domainId=domain)["fields"]]
    seeded_id = next(c["caseId"] for c in everything(cc, domain) if c["fields"][0]["value"] !=
                     text("written after seeding"))  # a seeded case, not the later one
    got = cc.get_case(domainId=domain, caseId=seeded_id, fields=[{"id": f} for f in fields])
    values = {f["id"]: f["value"] for f in got["fields"]}
    user = values["last_updated_user"]["userArnValue"]
    items = cc.search_related_items(domainId=domain, caseId=seeded_id)["relatedItems"]
    items.sort(key=lambda i: i["associationTime"])
    # The API reads a contact's channel and connection time from the contact registry.
    for item in items:
        if item["type"] == "Contact":
            contact = item["content"]["contact"]
            subprocess.run(
                [sys.executable, "-m", "casework", "contacts", "put", "--data-dir",
                 str(seeded.data_dir), "--database-url", seeded.database_url,
                 contact["contactArn"], "--channel", contact["channel"], "--connected-at",
                 contact["connectedToSystemTime"].isoformat()], check=True, capture_output=True)
    made = cc.create_case(
        domainId=domain, templateId=got["templateId"], performedBy={"userArn": user},
        fields=[{"id": f, "value": v} for f, v in values.items() if f not in SERVICE_SET
                and f != "last_updated_user"])["caseId"]
    for item in items:
        cc.create_related_item(domainId=domain, caseId=made, type=item["type"],
                               content=item["content"] if item["type"] != "Contact" else
                               {"contact": {"contactArn": item["content"]["contact"][
                                   "contactArn"]}}, performedBy={"userArn": user})

    def case_view(case_id):
        case = cc.get_case(domainId=domain, caseId=case_id, fields=[{"id": f} for f in fields])
        del case["ResponseMetadata"]
        return case

    seeded_view, made_view = case_view(seeded_id), case_view(made)
    assert seeded_view.keys() == made_view.keys()
    assert seeded_view["templateId"] == made_view["templateId"]
    assert seeded_view["tags"] == made_view["tags"]
    seeded_fields = {f["id"]: f["value"] for f in seeded_view["fields"]}
    made_fields = {f["id"]: f["value"] for f in made_view["fields"]}
    assert seeded_fields.keys() == made_fields.keys()
    for field_id, value in seeded_fields.items():
        if field_id in SERVICE_SET:
            assert value.keys() == made_fields[field_id].keys(), field_id
        else:
            assert value == made_fields[field_id], field_id

    def found(case_id):
        page = cc.search_cases(domainId=domain, searchTerm=case_id,
                               fields=[{"id": f} for f in fields])
        assert page["totalCount"] == 1
        (case,) = page["cases"]
        return case

    seeded_hit, made_hit = found(seeded_id), found(made)
    assert seeded_hit.keys() == made_hit.keys()
    assert {f["id"]: f["value"] for f in seeded_hit["fields"]} == seeded_fields
    assert {f["id"]: f["value"] for f in made_hit["fields"]} == made_fields
    assert seeded_hit["tags"] == made_hit["tags"]

    def history(case_id):
        events = cc.get_case_audit_events(domainId=domain, caseId=case_id)["auditEvents"]
        return [{**e, "eventId": None, "performedTime": None, "fields": [
            {**f, "newValue": None} if f["eventFieldId"] in SERVICE_SET
            or f["eventFieldId"] == "relatedItemId" else f for f in e["fields"]]}
            for e in events]

    seeded_history, made_history = history(seeded_id), history(made)
    assert len(seeded_history) == len(made_history) == 1 + len(items)
    for mine, theirs in zip(seeded_history, made_history, strict=True):
        assert mine.keys() == theirs.keys()
        for key in mine:
            if key == "fields":
                assert sorted(mine[key], key=lambda f: f["eventFieldId"]) == \
                    sorted(theirs[key], key=lambda f: f["eventFieldId"])
            else:
                assert mine[key] == theirs[key], key

    def related(case_id):
        listed = cc.search_related_items(domainId=domain, caseId=case_id)["relatedItems"]
        return sorted(({**i, "relatedItemId": None, "associationTime": None}
                       for i in listed), key=lambda i: repr(i["content"]))

    assert related(seeded_id) == related(made)
    for item in items:
        if item["type"] == "Contact":
            arn = item["content"]["contact"]["contactArn"]
            listed = cc.list_cases_for_contact(domainId=domain, contactArn=arn)["cases"]
            assert {seeded_id, made} <= {c["caseId"] for c in listed}
            by_item = cc.search_all_related_items(domainId=domain, filters=[
                {"contact": {"contactArn": arn}}])["relatedItems"]
            assert {seeded_id, made} <= {i["caseId"] for i in by_item}
