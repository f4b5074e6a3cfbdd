"""Connect Cases fields and field options."""

from __future__ import annotations

from cases_helpers import (
    code_of,
    error_of,
    new_case,
    new_domain,
    new_template,
    text,
)

ACCOUNT = "333333333302"

TYPES = ["Text", "Number", "Boolean", "DateTime", "SingleSelect", "Url", "User"]


def test_create_every_type_and_read_it_back(cc, domain):
    made = {}
    for kind in TYPES:
        created = cc.create_field(domainId=domain, name=f"{kind} field", type=kind,
                                            description=f"a {kind}")
        assert created["fieldArn"].endswith(f":domain/{domain}/field/{created['fieldId']}")
        made[kind] = created["fieldId"]
    multiline = cc.create_field(domainId=domain, name="Notes", type="Text",
                                          attributes={"text": {"isMultiline": True}})["fieldId"]
    got = cc.batch_get_field(domainId=domain, fields=[
        {"id": made[k]} for k in TYPES] + [{"id": multiline}, {"id": "nope"}, {"id": "title"}])
    by_id = {f["fieldId"]: f for f in got["fields"]}
    for kind in TYPES:
        field = by_id[made[kind]]
        assert (field["type"], field["namespace"], field["name"], field["description"],
                field["deleted"], field["tags"]) == (kind, "Custom", f"{kind} field",
                                                     f"a {kind}", False, {})
        assert field["createdTime"] == field["lastModifiedTime"]
    assert by_id[multiline]["attributes"] == {"text": {"isMultiline": True}}
    assert by_id["title"]["namespace"] == "System"
    assert got["errors"] == [{"id": "nope", "errorCode": "ResourceNotFoundException",
                              "message": "Field nope not found"}]
    listed = {f["fieldId"]: f for f in cc.list_fields(domainId=domain)["fields"]}
    assert listed[multiline]["attributes"] == {"text": {"isMultiline": True}}
    assert all(made[k] in listed for k in TYPES)


def test_create_field_errors(cc, domain):
    cc.create_field(domainId=domain, name="Unique", type="Text")
    assert code_of(cc.create_field, domainId=domain, name="Unique",
                   type="Number") == ("ConflictException", 409)
    assert code_of(cc.create_field, domainId=domain, name="Title",
                   type="Text") == ("ConflictException", 409)
    assert code_of(cc.create_field, domainId=domain, name="Bad", type="Number",
                   attributes={"text": {"isMultiline": False}}) == ("ValidationException", 400)
    assert code_of(cc.create_field, domainId=domain, name="Bad",
                   type="Color") == ("ValidationException", 400)
    error = error_of(cc.create_field, domainId="no-such-domain", name="x",
                     type="Text")
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert (error["resourceId"], error["resourceType"]) == ("no-such-domain", "Domain")


def test_list_fields_pages(cc):
    domain = new_domain(cc)
    for i in range(3):
        cc.create_field(domainId=domain, name=f"f{i}", type="Text")
    first = cc.list_fields(domainId=domain, maxResults=10)
    rest = cc.list_fields(domainId=domain, maxResults=10, nextToken=first["nextToken"])
    names = [f["name"] for f in first["fields"] + rest["fields"]]
    assert len(first["fields"]) == 10 and "nextToken" not in rest
    assert names[0] == "Case ID" and names[-3:] == ["f0", "f1", "f2"]
    assert len(names) == 16


def test_update_field(cc, domain):
    field_id = cc.create_field(domainId=domain, name="Before", type="Text")["fieldId"]
    cc.update_field(domainId=domain, fieldId=field_id, name="After",
                              description="changed", attributes={"text": {"isMultiline": True}})
    field = cc.batch_get_field(domainId=domain, fields=[{"id": field_id}])["fields"][0]
    assert (field["name"], field["description"], field["attributes"]) == (
        "After", "changed", {"text": {"isMultiline": True}})
    assert field["lastModifiedTime"] >= field["createdTime"]
    assert code_of(cc.update_field, domainId=domain, fieldId=field_id,
                   name="Status") == ("ConflictException", 409)
    assert code_of(cc.update_field, domainId=domain, fieldId="title",
                   name="Headline") == ("ValidationException", 400)
    error = error_of(cc.update_field, domainId=domain, fieldId="nope", name="x")
    assert (error["Error"]["Code"], error["resourceType"]) == ("ResourceNotFoundException",
                                                               "Field")


def test_delete_field_and_its_consequences(cc):
    domain = new_domain(cc)
    field_id = cc.create_field(domainId=domain, name="Order", type="Text")["fieldId"]
    other = cc.create_field(domainId=domain, name="Other", type="Text")["fieldId"]
    color = cc.create_field(domainId=domain, name="Color",
                                      type="SingleSelect")["fieldId"]
    layout_id = cc.create_layout(domainId=domain, name="L", content={"basic": {
        "topPanel": {"sections": [{"fieldGroup": {"fields": [{"id": field_id},
                                                             {"id": "customer_id"}]}}]}}})[
        "layoutId"]
    template_id = new_template(cc, domain, requiredFields=[{"fieldId": field_id}])
    with_value = new_case(cc, domain, template_id,
                          fields=[{"id": field_id, "value": text("o-1")}])
    without_value = new_case(cc, domain, template_id,
                             fields=[{"id": field_id, "value": text("o-2")},
                                     {"id": other, "value": text("x")}])
    cc.update_case(domainId=domain, caseId=without_value,
                             fields=[{"id": other, "value": {"emptyValue": {}}}])
    cc.delete_field(domainId=domain, fieldId=field_id)
    cc.delete_field(domainId=domain, fieldId=field_id)  # again: nothing changes
    cc.delete_field(domainId=domain, fieldId=other)
    cc.delete_field(domainId=domain, fieldId=color)

    listed = [f["fieldId"] for f in cc.list_fields(domainId=domain)["fields"]]
    assert field_id not in listed
    got = cc.batch_get_field(domainId=domain, fields=[{"id": field_id}])["fields"]
    assert got[0]["deleted"] is True
    assert code_of(cc.update_field, domainId=domain, fieldId=field_id,
                   name="x") == ("ValidationException", 400)
    error = error_of(cc.create_case, domainId=domain, templateId=template_id,
                     fields=[{"id": "title", "value": text("t")},
                             {"id": field_id, "value": text("o-3")}])
    assert error["Error"]["Code"] == "ValidationException" and field_id in error["Error"][
        "Message"]
    # The template no longer requires the deleted field, so a case without it is fine.
    new_case(cc, domain, template_id)
    case = cc.get_case(domainId=domain, caseId=with_value, fields=[{"id": field_id}])
    assert case["fields"] == [{"id": field_id, "value": {"stringValue": "o-1"}}]
    cc.update_case(domainId=domain, caseId=with_value,
                             fields=[{"id": field_id, "value": text("o-1b")}])
    cc.update_case(domainId=domain, caseId=with_value,
                             fields=[{"id": field_id, "value": {"emptyValue": {}}}])
    assert code_of(cc.update_case, domainId=domain, caseId=without_value,
                   fields=[{"id": other, "value": text("y")}]) == ("ValidationException", 400)
    template = cc.get_template(domainId=domain, templateId=template_id)
    assert template["requiredFields"] == []
    layout = cc.get_layout(domainId=domain, layoutId=layout_id)
    assert layout["content"]["basic"]["topPanel"]["sections"][0]["fieldGroup"]["fields"] == [
        {"id": "customer_id"}]
    assert code_of(cc.batch_put_field_options, domainId=domain, fieldId=color,
                   options=[{"name": "Red", "value": "red", "active": True}]) == (
        "ValidationException", 400)
    assert code_of(cc.delete_field, domainId=domain,
                   fieldId="status") == ("ValidationException", 400)
    assert code_of(cc.delete_field, domainId=domain,
                   fieldId="nope") == ("ResourceNotFoundException", 404)


def test_field_options_upsert_filter_and_errors(cc, domain):
    field_id = cc.create_field(domainId=domain, name="Priority",
                                         type="SingleSelect")["fieldId"]
    result = cc.batch_put_field_options(domainId=domain, fieldId=field_id, options=[
        {"name": "Low", "value": "low", "active": True},
        {"name": "High", "value": "high", "active": True},
        {"name": "Twice", "value": "low", "active": False}])
    assert [e["value"] for e in result["errors"]] == ["low"]
    cc.batch_put_field_options(domainId=domain, fieldId=field_id, options=[
        {"name": "Very high", "value": "high", "active": False},
        {"name": "Medium", "value": "medium", "active": True}])
    options = cc.list_field_options(domainId=domain, fieldId=field_id)["options"]
    assert options == [{"name": "Low", "value": "low", "active": True},
                       {"name": "Very high", "value": "high", "active": False},
                       {"name": "Medium", "value": "medium", "active": True}]
    only = cc.list_field_options(domainId=domain, fieldId=field_id, values=["medium"])
    assert only["options"] == [{"name": "Medium", "value": "medium", "active": True}]
    first = cc.list_field_options(domainId=domain, fieldId=field_id, maxResults=2)
    rest = cc.list_field_options(domainId=domain, fieldId=field_id, maxResults=2,
                                           nextToken=first["nextToken"])
    assert [o["value"] for o in first["options"] + rest["options"]] == ["low", "high", "medium"]

    locked = cc.batch_put_field_options(domainId=domain, fieldId="status", options=[
        {"name": "Gone", "value": "closed", "active": False},
        {"name": "Open", "value": "open", "active": True},
        {"name": "Pending", "value": "pending", "active": True}])["errors"]
    assert [e["value"] for e in locked] == ["closed"] and locked[0]["errorCode"]
    statuses = cc.list_field_options(domainId=domain, fieldId="status")["options"]
    assert [o["value"] for o in statuses] == ["open", "closed", "pending"]

    text_field = cc.create_field(domainId=domain, name="Plain", type="Text")["fieldId"]
    assert code_of(cc.batch_put_field_options, domainId=domain, fieldId=text_field,
                   options=[]) == ("ValidationException", 400)
    assert code_of(cc.batch_put_field_options, domainId=domain, fieldId="nope",
                   options=[]) == ("ResourceNotFoundException", 404)
    assert code_of(cc.list_field_options, domainId=domain,
                   fieldId="nope") == ("ResourceNotFoundException", 404)


def test_quotas_500_fields_and_500_options(cc):
    domain = new_domain(cc)
    select = cc.create_field(domainId=domain, name="Many",
                                       type="SingleSelect")["fieldId"]
    for batch in range(10):
        cc.batch_put_field_options(domainId=domain, fieldId=select, options=[
            {"name": f"o{batch}-{i}", "value": f"o{batch}-{i}", "active": True}
            for i in range(50)])
    error = error_of(cc.batch_put_field_options, domainId=domain, fieldId=select,
                     options=[{"name": "one more", "value": "one-more", "active": True}])
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (
        "ServiceQuotaExceededException", 402)
    # Updating an existing option is not a new one.
    cc.batch_put_field_options(domainId=domain, fieldId=select, options=[
        {"name": "renamed", "value": "o0-0", "active": False}])
    for i in range(499):
        cc.create_field(domainId=domain, name=f"n{i}", type="Number")
    assert code_of(cc.create_field, domainId=domain, name="n500",
                   type="Number") == ("ServiceQuotaExceededException", 402)
