"""Connect Cases layouts and templates."""

from __future__ import annotations

from cases_helpers import code_of, error_of, new_domain

ACCOUNT = "333333333303"


def content(*field_ids, more=()):
    basic = {"topPanel": {"sections": [{"fieldGroup": {
        "name": "Top", "fields": [{"id": f} for f in field_ids]}}]}}
    if more:
        basic["moreInfo"] = {"sections": [{"fieldGroup": {"fields": [{"id": f} for f in more]}}]}
    return {"basic": basic}


def test_layout_life_cycle(cc, domain):
    field_id = cc.create_field(domainId=domain, name="Order", type="Text")["fieldId"]
    created = cc.create_layout(domainId=domain, name="Main",
                               content=content("customer_id", field_id, more=["summary"]))
    layout_id = created["layoutId"]
    assert created["layoutArn"].endswith(f":domain/{domain}/layout/{layout_id}")
    got = cc.get_layout(domainId=domain, layoutId=layout_id)
    assert got["content"] == content("customer_id", field_id, more=["summary"])
    assert (got["name"], got["deleted"], got["tags"]) == ("Main", False, {})
    assert got["createdTime"] == got["lastModifiedTime"]
    cc.update_layout(domainId=domain, layoutId=layout_id, name="Renamed")
    cc.update_layout(domainId=domain, layoutId=layout_id, content=content("summary"))
    got = cc.get_layout(domainId=domain, layoutId=layout_id)
    assert (got["name"], got["content"]) == ("Renamed", content("summary"))
    listed = cc.list_layouts(domainId=domain)["layouts"]
    assert {"layoutId": layout_id, "layoutArn": created["layoutArn"], "name": "Renamed"} in listed
    cc.delete_layout(domainId=domain, layoutId=layout_id)
    assert layout_id not in [x["layoutId"] for x in cc.list_layouts(domainId=domain)["layouts"]]
    assert cc.get_layout(domainId=domain, layoutId=layout_id)["deleted"] is True
    assert code_of(cc.update_layout, domainId=domain, layoutId=layout_id,
                   name="x") == ("ValidationException", 400)
    cc.create_layout(domainId=domain, name="Renamed", content=content())  # name is free again


def test_layout_errors(cc, domain):
    cc.create_layout(domainId=domain, name="Taken", content=content())
    assert code_of(cc.create_layout, domainId=domain, name="Taken",
                   content=content()) == ("ConflictException", 409)
    for bad in (content("no-such-field"), content("title"), content("status"),
                content("summary", "summary"),
                content(*[f"f{i}" for i in range(101)])):
        assert code_of(cc.create_layout, domainId=domain, name="Bad",
                       content=bad) == ("ValidationException", 400)
    error = error_of(cc.get_layout, domainId=domain, layoutId="nope")
    assert (error["resourceId"], error["resourceType"]) == ("nope", "Layout")
    for call in (cc.update_layout, cc.delete_layout):
        assert code_of(call, domainId=domain, layoutId="nope") == (
            "ResourceNotFoundException", 404)


def test_layout_in_use_cannot_be_deleted(cc, domain):
    layout_id = cc.create_layout(domainId=domain, name="Used", content=content())["layoutId"]
    template_id = cc.create_template(domainId=domain, name="Uses layout",
                                     layoutConfiguration={"defaultLayout": layout_id})[
        "templateId"]
    assert code_of(cc.delete_layout, domainId=domain, layoutId=layout_id) == (
        "ConflictException", 409)
    cc.delete_template(domainId=domain, templateId=template_id)
    cc.delete_layout(domainId=domain, layoutId=layout_id)
    assert code_of(cc.create_template, domainId=domain, name="Deleted layout",
                   layoutConfiguration={"defaultLayout": layout_id}) == (
        "ValidationException", 400)


def test_template_life_cycle(cc, domain):
    layout_id = cc.create_layout(domainId=domain, name="For template",
                                 content=content())["layoutId"]
    rule_id = cc.create_case_rule(domainId=domain, name="Always required", rule={
        "required": {"defaultValue": True, "conditions": []}})["caseRuleId"]
    propagation = [{"resourceType": "Cases", "tagMap": {"team": "billing"}}]
    created = cc.create_template(
        domainId=domain, name="Incident", description="incidents",
        layoutConfiguration={"defaultLayout": layout_id},
        requiredFields=[{"fieldId": "customer_id"}], status="Inactive",
        rules=[{"caseRuleId": rule_id, "fieldId": "summary"}],
        tagPropagationConfigurations=propagation)
    template_id = created["templateId"]
    assert created["templateArn"].endswith(f":domain/{domain}/template/{template_id}")
    got = cc.get_template(domainId=domain, templateId=template_id)
    assert (got["name"], got["description"], got["status"], got["deleted"], got["tags"]) == (
        "Incident", "incidents", "Inactive", False, {})
    assert got["layoutConfiguration"] == {"defaultLayout": layout_id}
    assert got["requiredFields"] == [{"fieldId": "customer_id"}]
    assert got["rules"] == [{"caseRuleId": rule_id, "fieldId": "summary"}]
    assert got["tagPropagationConfigurations"] == propagation

    cc.update_template(domainId=domain, templateId=template_id, status="Active",
                       requiredFields=[])
    got = cc.get_template(domainId=domain, templateId=template_id)
    assert (got["status"], got["requiredFields"], got["description"]) == (
        "Active", [], "incidents")

    default = cc.create_template(domainId=domain, name="Defaults")["templateId"]
    assert cc.get_template(domainId=domain, templateId=default)["status"] == "Active"
    summaries = {t["templateId"]: t for t in cc.list_templates(domainId=domain)["templates"]}
    assert summaries[template_id]["tagPropagationConfigurations"] == propagation
    assert summaries[template_id]["status"] == "Active"
    cc.update_template(domainId=domain, templateId=default, status="Inactive")
    active = cc.list_templates(domainId=domain, status=["Active"])["templates"]
    inactive = cc.list_templates(domainId=domain, status=["Inactive"])["templates"]
    assert template_id in [t["templateId"] for t in active]
    assert [t["templateId"] for t in inactive] == [default]
    both = cc.list_templates(domainId=domain, status=["Active", "Inactive"], maxResults=1)
    assert len(both["templates"]) == 1 and both["nextToken"]

    cc.delete_template(domainId=domain, templateId=default)
    assert default not in [t["templateId"] for t in cc.list_templates(domainId=domain)[
        "templates"]]
    assert cc.get_template(domainId=domain, templateId=default)["deleted"] is True
    assert code_of(cc.update_template, domainId=domain, templateId=default,
                   name="x") == ("ValidationException", 400)


def test_template_errors(cc, domain):
    cc.create_template(domainId=domain, name="Dup")
    assert code_of(cc.create_template, domainId=domain, name="Dup") == ("ConflictException", 409)
    for bad in ({"requiredFields": [{"fieldId": "nope"}]},
                {"requiredFields": [{"fieldId": "title"}, {"fieldId": "title"}]},
                {"layoutConfiguration": {"defaultLayout": "nope"}},
                {"rules": [{"caseRuleId": "nope", "fieldId": "title"}]},
                {"status": "Paused"},
                {"tagPropagationConfigurations": [{"resourceType": "Cases",
                                                   "tagMap": {"aws:x": "y"}}]}):
        assert code_of(cc.create_template, domainId=domain, name="Bad", **bad) == (
            "ValidationException", 400), bad
    error = error_of(cc.get_template, domainId=domain, templateId="nope")
    assert (error["resourceId"], error["resourceType"]) == ("nope", "Template")
    for call in (cc.update_template, cc.delete_template):
        assert code_of(call, domainId=domain, templateId="nope") == (
            "ResourceNotFoundException", 404)


def test_quotas_100_layouts_and_100_templates(cc):
    domain = new_domain(cc)
    for i in range(100):
        cc.create_layout(domainId=domain, name=f"l{i}", content=content())
        cc.create_template(domainId=domain, name=f"t{i}")
    assert code_of(cc.create_layout, domainId=domain, name="l100", content=content()) == (
        "ServiceQuotaExceededException", 402)
    assert code_of(cc.create_template, domainId=domain, name="t100") == (
        "ServiceQuotaExceededException", 402)
    pages = [cc.list_templates(domainId=domain, maxResults=60)]
    pages.append(cc.list_templates(domainId=domain, maxResults=60,
                                   nextToken=pages[0]["nextToken"]))
    assert len({t["templateId"] for p in pages for t in p["templates"]}) == 100
    assert "nextToken" not in pages[1]
