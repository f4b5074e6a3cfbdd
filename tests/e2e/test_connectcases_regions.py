"""Connect Cases is regional, AWS Support is global: boto3 clients signed for different regions
against one real server."""

from __future__ import annotations

import uuid

import pytest
from cases_helpers import error_of, new_case, new_domain, new_template

ACCOUNT = "444455556666"


def regional(server, keys, service: str, region: str):
    return server.client(service, *keys, region=region)


@pytest.fixture(scope="module")
def eu(server, keys):
    return regional(server, keys, "connectcases", "eu-west-1")


def not_found_like_unknown(call, domain_id: str, **params) -> None:
    """The call fails exactly as it does for a domain that never existed."""
    error = error_of(call, domainId=domain_id, **params)
    unknown = str(uuid.uuid4())
    expected = error_of(call, domainId=unknown, **params)
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error["Error"]["Code"] == expected["Error"]["Code"] == "ResourceNotFoundException"
    assert error["Error"]["Message"] == expected["Error"]["Message"].replace(unknown, domain_id)
    assert error["resourceId"] == domain_id and error["resourceType"] == "Domain"


def test_a_domain_lives_in_the_region_it_was_created_through(cc, eu):
    home = cc.create_domain(name="home")
    domain_id = home["domainId"]
    assert home["domainArn"] == f"arn:aws:cases:us-east-1:{ACCOUNT}:domain/{domain_id}"
    template_id = new_template(cc, domain_id)
    case_id = new_case(cc, domain_id, template_id)

    # An eu-west-1 client neither lists, reads nor changes it.
    assert domain_id not in [d["domainId"] for d in eu.list_domains()["domains"]]
    not_found_like_unknown(eu.get_domain, domain_id)
    not_found_like_unknown(eu.list_fields, domain_id)
    not_found_like_unknown(eu.list_templates, domain_id)
    not_found_like_unknown(eu.get_case, domain_id, caseId=case_id, fields=[{"id": "title"}])
    not_found_like_unknown(eu.create_case, domain_id, templateId=template_id,
                           fields=[{"id": "title", "value": {"stringValue": "x"}}])
    not_found_like_unknown(eu.update_case, domain_id, caseId=case_id,
                           fields=[{"id": "title", "value": {"stringValue": "x"}}])
    not_found_like_unknown(eu.create_field, domain_id, name="f", type="Text")
    not_found_like_unknown(eu.search_cases, domain_id)
    not_found_like_unknown(eu.delete_case, domain_id, caseId=case_id)
    not_found_like_unknown(eu.delete_domain, domain_id)
    # Tags go by ARN: the domain's ARN is unknown to eu-west-1, and so is one that names
    # eu-west-1 with the domain's id.
    for arn in (home["domainArn"], home["domainArn"].replace("us-east-1", "eu-west-1")):
        for call, params in ((eu.list_tags_for_resource, {}),
                             (eu.tag_resource, {"tags": {"team": "eu"}})):
            error = error_of(call, arn=arn, **params)
            assert error["Error"]["Code"] == "ResourceNotFoundException"
            assert error["ResponseMetadata"]["HTTPStatusCode"] == 404

    # Nothing changed at home.
    assert cc.get_domain(domainId=domain_id)["name"] == "home"
    assert cc.list_tags_for_resource(arn=home["domainArn"])["tags"] == {}
    assert [c["caseId"] for c in cc.search_cases(domainId=domain_id)["cases"]] == [case_id]


def test_each_region_has_its_own_domains_names_and_quota(cc, eu):
    mine = eu.create_domain(name="home")  # the us-east-1 domain's name is free in eu-west-1
    assert mine["domainArn"] == f"arn:aws:cases:eu-west-1:{ACCOUNT}:domain/{mine['domainId']}"
    listed = eu.list_domains()["domains"]
    assert listed == [{"domainId": mine["domainId"], "domainArn": mine["domainArn"],
                       "name": "home"}]
    assert mine["domainId"] not in [d["domainId"] for d in cc.list_domains()["domains"]]
    # It works as any domain does, through its own region.
    template_id = new_template(eu, mine["domainId"])
    case_id = new_case(eu, mine["domainId"], template_id, title="Bonjour")
    got = eu.get_case(domainId=mine["domainId"], caseId=case_id, fields=[{"id": "title"}])
    assert got["fields"] == [{"id": "title", "value": {"stringValue": "Bonjour"}}]
    eu.tag_resource(arn=mine["domainArn"], tags={"team": "eu"})
    assert eu.list_tags_for_resource(arn=mine["domainArn"])["tags"] == {"team": "eu"}
    # The same name twice in one region is still a conflict.
    assert error_of(eu.create_domain, name="home")["Error"]["Code"] == "ConflictException"
    # The 5-domain quota counts each region apart: fill eu-west-1, us-east-1 still has room.
    for _ in range(4):
        new_domain(eu)
    assert error_of(eu.create_domain, name="sixth")["ResponseMetadata"]["HTTPStatusCode"] == 402
    extra = new_domain(cc)
    cc.delete_domain(domainId=extra)


def test_aws_support_stays_global(server, keys):
    east = regional(server, keys, "support", "us-east-1")
    west = regional(server, keys, "support", "us-west-2")
    case_id = east.create_case(subject="Global", communicationBody="seen everywhere")["caseId"]
    assert west.describe_cases(caseIdList=[case_id])["cases"][0]["subject"] == "Global"
    west.add_communication_to_case(caseId=case_id, communicationBody="from Oregon")
    assert len(east.describe_communications(caseId=case_id)["communications"]) == 2
