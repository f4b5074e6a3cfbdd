"""Connect Cases case rules: CRUD, limits, and enforcement on CreateCase and UpdateCase."""

from __future__ import annotations

import pytest
from cases_helpers import code_of, error_of, text

ACCOUNT = "333333333308"
VIP = f"arn:aws:profile:us-east-1:{ACCOUNT}:domains/d/profiles/vip"


def equal(field_id, value, result=True, op="equalTo"):
    member = {"emptyValue": {}} if value is None else (
        {"booleanValue": value} if isinstance(value, bool) else
        {"doubleValue": value} if isinstance(value, float) else {"stringValue": value})
    return {op: {"operandOne": {"fieldId": field_id}, "operandTwo": member, "result": result}}


def required_when(*conditions, default=False):
    return {"required": {"defaultValue": default, "conditions": list(conditions)}}


@pytest.fixture(scope="module")
def selects(cc, domain):
    """Two single-select fields, category (parent) and sub (child), with options."""
    made = {}
    for name, values in (("category", ["hardware", "software"]),
                         ("sub", ["disk", "cpu", "os", "app"])):
        made[name] = cc.create_field(domainId=domain, name=name, type="SingleSelect")["fieldId"]
        cc.batch_put_field_options(domainId=domain, fieldId=made[name], options=[
            {"name": v, "value": v, "active": True} for v in values])
    return made


def test_rule_life_cycle(cc, domain, selects):
    created = cc.create_case_rule(domainId=domain, name="Summary when open",
                                  description="d", rule=required_when(equal("status", "open")))
    rule_id = created["caseRuleId"]
    assert created["caseRuleArn"].endswith(f":domain/{domain}/case-rule/{rule_id}")
    hidden = cc.create_case_rule(domainId=domain, name="Hide", rule={"hidden": {
        "defaultValue": False, "conditions": [equal("status", "closed")]}})["caseRuleId"]
    options = cc.create_case_rule(domainId=domain, name="Options", rule={"fieldOptions": {
        "parentFieldId": selects["category"], "childFieldId": selects["sub"],
        "parentChildFieldOptionsMappings": [
            {"parentFieldOptionValue": "hardware", "childFieldOptionValues": ["disk", "cpu"]}]}})[
        "caseRuleId"]
    got = cc.batch_get_case_rule(domainId=domain, caseRules=[{"id": rule_id}, {"id": "nope"}])
    rule = got["caseRules"][0]
    assert (rule["name"], rule["description"], rule["deleted"], rule["tags"]) == (
        "Summary when open", "d", False, {})
    assert rule["rule"] == required_when(equal("status", "open"))
    assert rule["createdTime"] == rule["lastModifiedTime"]
    assert [e["id"] for e in got["errors"]] == ["nope"] and got["unprocessedCaseRules"] == []
    listed = cc.list_case_rules(domainId=domain)["caseRules"]
    assert {r["caseRuleId"]: r["ruleType"] for r in listed} == {
        rule_id: "Required", hidden: "Hidden", options: "FieldOptions"}
    page = cc.list_case_rules(domainId=domain, maxResults=2)
    rest = cc.list_case_rules(domainId=domain, maxResults=2, nextToken=page["nextToken"])
    assert len(page["caseRules"]) == 2 and len(rest["caseRules"]) == 1
    pages = cc.get_paginator("list_case_rules").paginate(domainId=domain,
                                                         PaginationConfig={"PageSize": 1})
    assert len([r for p in pages for r in p["caseRules"]]) == 3

    cc.update_case_rule(domainId=domain, caseRuleId=rule_id, name="Renamed",
                        rule=required_when(equal("status", "closed")))
    rule = cc.batch_get_case_rule(domainId=domain, caseRules=[{"id": rule_id}])["caseRules"][0]
    assert (rule["name"], rule["description"]) == ("Renamed", "d")
    assert rule["rule"] == required_when(equal("status", "closed"))

    cc.delete_case_rule(domainId=domain, caseRuleId=hidden)
    cc.delete_case_rule(domainId=domain, caseRuleId=hidden)
    assert hidden not in [r["caseRuleId"] for r in cc.list_case_rules(domainId=domain)[
        "caseRules"]]
    assert cc.batch_get_case_rule(domainId=domain, caseRules=[{"id": hidden}])["caseRules"][0][
        "deleted"] is True
    assert code_of(cc.update_case_rule, domainId=domain, caseRuleId=hidden, name="x") == (
        "ValidationException", 400)


def test_rule_errors(cc, domain, selects):
    cc.create_case_rule(domainId=domain, name="Taken", rule=required_when())
    assert code_of(cc.create_case_rule, domainId=domain, name="Taken",
                   rule=required_when()) == ("ConflictException", 409)
    six = [equal("status", "open")] * 6
    nested = [{"andAll": {"conditions": [{"orAll": {"conditions": [equal("status", "x")]}}]}}]
    for bad in (required_when(*six), required_when(*nested),
                required_when(equal("nope", "x")),
                {"fieldOptions": {"parentFieldId": "title", "childFieldId": selects["sub"],
                                  "parentChildFieldOptionsMappings": [
                                      {"parentFieldOptionValue": "", "childFieldOptionValues": []}
                                  ]}},
                {"fieldOptions": {"parentChildFieldOptionsMappings": [
                    {"parentFieldOptionValue": "", "childFieldOptionValues": []}]}}):
        assert code_of(cc.create_case_rule, domainId=domain, name="Bad", rule=bad) == (
            "ValidationException", 400), bad
    five = [{"andAll": {"conditions": [equal("status", "a"), equal("status", "b")]}},
            equal("status", "c"), equal("status", "d"), equal("status", "e")]
    cc.create_case_rule(domainId=domain, name="Five in two levels", rule=required_when(*five))
    error = error_of(cc.update_case_rule, domainId=domain, caseRuleId="nope", name="x")
    assert (error["Error"]["Code"], error["resourceType"]) == ("ResourceNotFoundException",
                                                               "CaseRule")
    assert code_of(cc.delete_case_rule, domainId=domain, caseRuleId="nope") == (
        "ResourceNotFoundException", 404)
    used = cc.create_case_rule(domainId=domain, name="Used", rule=required_when())["caseRuleId"]
    cc.create_template(domainId=domain, name="Uses rule",
                       rules=[{"caseRuleId": used, "fieldId": "summary"}])
    assert code_of(cc.delete_case_rule, domainId=domain, caseRuleId=used) == (
        "ConflictException", 409)


def test_required_and_hidden_rules_are_enforced(cc, domain):
    required = cc.create_case_rule(domainId=domain, name="Summary unless closed", rule={
        "required": {"defaultValue": True, "conditions": [equal("status", "closed", False)]}})[
        "caseRuleId"]
    hidden = cc.create_case_rule(domainId=domain, name="Hidden for VIPs", rule={"hidden": {
        "defaultValue": False, "conditions": [{"andAll": {"conditions": [
            equal("case_reason", None, True, "notEqualTo"),
            equal("customer_id", VIP, True)]}}]}})["caseRuleId"]
    cc.batch_put_field_options(domainId=domain, fieldId="case_reason", options=[
        {"name": "Billing", "value": "billing", "active": True}])
    template = cc.create_template(domainId=domain, name="Ruled", rules=[
        {"caseRuleId": required, "fieldId": "summary"},
        {"caseRuleId": hidden, "fieldId": "summary"}])["templateId"]

    def create(*fields):
        return cc.create_case(domainId=domain, templateId=template, fields=[
            {"id": "title", "value": text("t")}, *fields])["caseId"]

    assert code_of(cc.create_case, domainId=domain, templateId=template,
                   fields=[{"id": "title", "value": text("t")}]) == ("ValidationException", 400)
    create({"id": "summary", "value": text("s")})
    closed = create({"id": "status", "value": text("closed")})
    create({"id": "customer_id", "value": text(VIP)},
           {"id": "case_reason", "value": text("billing")})  # hidden, so not required
    assert code_of(cc.create_case, domainId=domain, templateId=template, fields=[
        {"id": "title", "value": text("t")}, {"id": "customer_id", "value": text(VIP)}]) == (
        "ValidationException", 400)  # case_reason empty: not hidden
    # Reopening the closed case makes the summary required again.
    assert code_of(cc.update_case, domainId=domain, caseId=closed,
                   fields=[{"id": "status", "value": text("open")}]) == (
        "ValidationException", 400)
    cc.update_case(domainId=domain, caseId=closed, fields=[
        {"id": "status", "value": text("open")}, {"id": "summary", "value": text("now")}])


def test_field_options_rule_is_enforced(cc, domain, selects):
    rule = cc.create_case_rule(domainId=domain, name="Sub options", rule={"fieldOptions": {
        "parentFieldId": selects["category"], "childFieldId": selects["sub"],
        "parentChildFieldOptionsMappings": [
            {"parentFieldOptionValue": "hardware", "childFieldOptionValues": ["disk", "cpu"]},
            {"parentFieldOptionValue": "", "childFieldOptionValues": []}]}})["caseRuleId"]
    template = cc.create_template(domainId=domain, name="Dependent", rules=[
        {"caseRuleId": rule, "fieldId": selects["sub"]}])["templateId"]

    def fields(category, sub):
        out = [{"id": "title", "value": text("t")}]
        if category:
            out.append({"id": selects["category"], "value": text(category)})
        if sub:
            out.append({"id": selects["sub"], "value": text(sub)})
        return out

    case_id = cc.create_case(domainId=domain, templateId=template,
                             fields=fields("hardware", "disk"))["caseId"]
    cc.create_case(domainId=domain, templateId=template, fields=fields("software", "app"))
    for category, sub in (("hardware", "os"), (None, "disk")):
        assert code_of(cc.create_case, domainId=domain, templateId=template,
                       fields=fields(category, sub)) == ("ValidationException", 400)
    assert code_of(cc.update_case, domainId=domain, caseId=case_id,
                   fields=[{"id": selects["sub"], "value": text("app")}]) == (
        "ValidationException", 400)
    cc.update_case(domainId=domain, caseId=case_id, fields=[
        {"id": selects["category"], "value": text("software")},
        {"id": selects["sub"], "value": text("app")}])


def test_rule_retyped_after_binding_without_field_governs_nothing(cc, domain, selects):
    rule = cc.create_case_rule(domainId=domain, name="Retyped", rule={"fieldOptions": {
        "parentFieldId": selects["category"], "childFieldId": selects["sub"],
        "parentChildFieldOptionsMappings": [
            {"parentFieldOptionValue": "software", "childFieldOptionValues": ["os"]}]}})[
        "caseRuleId"]
    template = cc.create_template(domainId=domain, name="Bound without field",
                                  rules=[{"caseRuleId": rule}])["templateId"]
    cc.update_case_rule(domainId=domain, caseRuleId=rule, rule=required_when(default=True))
    cc.create_case(domainId=domain, templateId=template,
                   fields=[{"id": "title", "value": text("t")}])
