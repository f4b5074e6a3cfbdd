"""TagResource, UntagResource and ListTagsForResource on every taggable Connect Cases ARN."""

from __future__ import annotations

import pytest
from cases_helpers import account_client, code_of, error_of, new_case, new_domain

ACCOUNT = "333333333307"


@pytest.fixture(scope="module")
def arns(cc):
    """One ARN of each taggable kind."""
    domain = cc.create_domain(name="tagged")
    domain_id = domain["domainId"]
    field = cc.create_field(domainId=domain_id, name="F", type="Text")
    layout = cc.create_layout(domainId=domain_id, name="L", content={"basic": {}})
    rule = cc.create_case_rule(domainId=domain_id, name="R", rule={
        "required": {"defaultValue": False, "conditions": []}})
    template = cc.create_template(domainId=domain_id, name="T")
    case = cc.create_case(domainId=domain_id, templateId=template["templateId"],
                          fields=[{"id": "title", "value": {"stringValue": "x"}}])
    item = cc.create_related_item(domainId=domain_id, caseId=case["caseId"], type="Comment",
                                  content={"comment": {"body": "b", "contentType": "Text/Plain"}})
    return {"domain": domain["domainArn"], "field": field["fieldArn"],
            "layout": layout["layoutArn"], "case-rule": rule["caseRuleArn"],
            "template": template["templateArn"], "case": case["caseArn"],
            "related-item": item["relatedItemArn"], "domain_id": domain_id,
            "ids": {"field": field["fieldId"], "layout": layout["layoutId"],
                    "case-rule": rule["caseRuleId"], "template": template["templateId"],
                    "case": case["caseId"]}}


KINDS = ["domain", "field", "layout", "case-rule", "template", "case", "related-item"]


@pytest.mark.parametrize("kind", KINDS)
def test_tag_list_untag(cc, arns, kind):
    arn = arns[kind]
    assert cc.list_tags_for_resource(arn=arn)["tags"] == {}
    cc.tag_resource(arn=arn, tags={"team": "billing", "env": "prod"})
    cc.tag_resource(arn=arn, tags={"env": "dev"})
    assert cc.list_tags_for_resource(arn=arn)["tags"] == {"team": "billing", "env": "dev"}
    cc.untag_resource(arn=arn, tagKeys=["env", "missing"])
    assert cc.list_tags_for_resource(arn=arn)["tags"] == {"team": "billing"}
    cc.untag_resource(arn=arn, tagKeys=["team"])


def test_tags_show_in_get_responses(cc, arns):
    domain_id, ids = arns["domain_id"], arns["ids"]
    for kind in KINDS:
        cc.tag_resource(arn=arns[kind], tags={"shown": kind})
    assert cc.get_domain(domainId=domain_id)["tags"] == {"shown": "domain"}
    assert cc.batch_get_field(domainId=domain_id, fields=[{"id": ids["field"]}])["fields"][0][
        "tags"] == {"shown": "field"}
    assert cc.get_layout(domainId=domain_id, layoutId=ids["layout"])["tags"] == {
        "shown": "layout"}
    assert cc.get_template(domainId=domain_id, templateId=ids["template"])["tags"] == {
        "shown": "template"}
    assert cc.batch_get_case_rule(domainId=domain_id, caseRules=[{"id": ids["case-rule"]}])[
        "caseRules"][0]["tags"] == {"shown": "case-rule"}
    assert cc.get_case(domainId=domain_id, caseId=ids["case"], fields=[{"id": "title"}])[
        "tags"] == {"shown": "case"}
    item = cc.search_related_items(domainId=domain_id, caseId=ids["case"])["relatedItems"][0]
    assert item["tags"] == {"shown": "related-item"}
    for kind in KINDS:
        cc.untag_resource(arn=arns[kind], tagKeys=["shown"])


def test_tag_rules(cc, arns):
    arn = arns["case"]
    for bad in ({"aws:owner": "x"}, {"AWS:owner": "x"}, {"k" * 129: "v"}, {"k": "v" * 257},
                {"bad!key": "v"}, {f"k{i}": "v" for i in range(51)}):
        assert code_of(cc.tag_resource, arn=arn, tags=bad) == ("ValidationException", 400), bad
    cc.tag_resource(arn=arn, tags={f"k{i}": "v" for i in range(50)})
    assert code_of(cc.tag_resource, arn=arn, tags={"one-more": "v"}) == (
        "ValidationException", 400)
    cc.tag_resource(arn=arn, tags={"k0": "overwrite is fine"})
    cc.untag_resource(arn=arn, tagKeys=[f"k{i}" for i in range(50)])
    assert code_of(cc.untag_resource, arn=arn, tagKeys=["aws:x"]) == ("ValidationException", 400)


def test_unknown_foreign_and_malformed_arns(server, cc, arns):
    domain_arn = arns["domain"]
    for missing in (f"{domain_arn}/case/nope", f"{domain_arn}/field/nope",
                    f"{arns['case']}/related-item/nope",
                    f"arn:aws:cases:us-east-1:{ACCOUNT}:domain/nope"):
        error = error_of(cc.list_tags_for_resource, arn=missing)
        assert (error["Error"]["Code"], error["resourceId"]) == ("ResourceNotFoundException",
                                                                 missing)
        assert code_of(cc.tag_resource, arn=missing, tags={"a": "b"}) == (
            "ResourceNotFoundException", 404)
        assert code_of(cc.untag_resource, arn=missing, tagKeys=["a"]) == (
            "ResourceNotFoundException", 404)
    assert code_of(cc.list_tags_for_resource, arn="not-an-arn") == ("ValidationException", 400)
    stranger = account_client(server, "333333333397")
    for kind in KINDS:
        assert code_of(stranger.list_tags_for_resource, arn=arns[kind]) == (
            "ResourceNotFoundException", 404)
        assert code_of(stranger.tag_resource, arn=arns[kind], tags={"a": "b"}) == (
            "ResourceNotFoundException", 404)


def test_soft_deleted_resources_keep_tags_and_hard_deleted_lose_them(cc):
    domain_id = new_domain(cc)
    field = cc.create_field(domainId=domain_id, name="F", type="Text")
    cc.tag_resource(arn=field["fieldArn"], tags={"a": "b"})
    cc.delete_field(domainId=domain_id, fieldId=field["fieldId"])
    assert cc.list_tags_for_resource(arn=field["fieldArn"])["tags"] == {"a": "b"}
    template_id = cc.create_template(domainId=domain_id, name="T")["templateId"]
    case_id = new_case(cc, domain_id, template_id)
    case_arn = f"arn:aws:cases:us-east-1:{ACCOUNT}:domain/{domain_id}/case/{case_id}"
    cc.tag_resource(arn=case_arn, tags={"a": "b"})
    cc.delete_case(domainId=domain_id, caseId=case_id)
    assert code_of(cc.list_tags_for_resource, arn=case_arn) == ("ResourceNotFoundException", 404)
    cc.delete_domain(domainId=domain_id)
    assert code_of(cc.list_tags_for_resource, arn=field["fieldArn"]) == (
        "ResourceNotFoundException", 404)
