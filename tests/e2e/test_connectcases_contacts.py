"""ListCasesForContact through boto3 and the AWS CLI, and the index behind it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cases_helpers import account_client, code_of, error_of, new_case
from sqlalchemy import create_engine, text

from casework.cases.queries.related_items import cases_for_contact_query

ACCOUNT = "333333333306"
CONTACT = f"arn:aws:connect:us-east-1:{ACCOUNT}:instance/i-1/contact/c-1"
AWS = Path(sys.executable).with_name("aws")


def link(cc, domain, case_id, contact=CONTACT) -> str:
    return cc.create_related_item(domainId=domain, caseId=case_id, type="Contact", content={
        "contact": {"contactArn": contact}})["relatedItemId"]


def test_most_recent_link_first_with_pages(cc, domain, template):
    contact = CONTACT + "-pages"
    cases = [new_case(cc, domain, template) for _ in range(13)]
    for case_id in cases:
        link(cc, domain, case_id, contact)
    link(cc, domain, cases[0], contact)  # linked again: now the most recent, listed once
    first = cc.list_cases_for_contact(domainId=domain, contactArn=contact)
    assert len(first["cases"]) == 10
    rest = cc.list_cases_for_contact(domainId=domain, contactArn=contact,
                                     nextToken=first["nextToken"])
    assert "nextToken" not in rest
    listed = [c["caseId"] for c in first["cases"] + rest["cases"]]
    assert listed == [cases[0], *cases[:0:-1]]
    assert {c["templateId"] for c in first["cases"]} == {template}
    small = cc.list_cases_for_contact(domainId=domain, contactArn=contact, maxResults=1)
    assert [c["caseId"] for c in small["cases"]] == [cases[0]]


def test_unlinking_and_deleting(cc, domain, template):
    contact = CONTACT + "-unlink"
    case_id = new_case(cc, domain, template)
    first, second = link(cc, domain, case_id, contact), link(cc, domain, case_id, contact)
    cc.delete_related_item(domainId=domain, caseId=case_id, relatedItemId=second)
    assert [c["caseId"] for c in cc.list_cases_for_contact(
        domainId=domain, contactArn=contact)["cases"]] == [case_id]
    cc.delete_related_item(domainId=domain, caseId=case_id, relatedItemId=first)
    assert cc.list_cases_for_contact(domainId=domain, contactArn=contact)["cases"] == []
    link(cc, domain, case_id, contact)
    cc.delete_case(domainId=domain, caseId=case_id)
    assert cc.list_cases_for_contact(domainId=domain, contactArn=contact)["cases"] == []


def test_errors_and_isolation(server, cc, domain, template):
    error = error_of(cc.list_cases_for_contact, domainId="nope", contactArn=CONTACT)
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"],
            error["resourceType"]) == ("ResourceNotFoundException", 404, "Domain")
    for bad in ({"maxResults": 11}, {"nextToken": "forged"}):
        assert code_of(cc.list_cases_for_contact, domainId=domain, contactArn=CONTACT,
                       **bad) == ("ValidationException", 400)
    assert cc.list_cases_for_contact(domainId=domain, contactArn=CONTACT + "-none")[
        "cases"] == []
    stranger = account_client(server, "333333333398")
    assert code_of(stranger.list_cases_for_contact, domainId=domain, contactArn=CONTACT) == (
        "ResourceNotFoundException", 404)


def test_aws_cli(server, keys, cc, domain, template):
    contact = CONTACT + "-cli"
    case_id = new_case(cc, domain, template)
    link(cc, domain, case_id, contact)
    env = {**os.environ, "AWS_ENDPOINT_URL": server.endpoint, "AWS_ACCESS_KEY_ID": keys[0],
           "AWS_SECRET_ACCESS_KEY": keys[1], "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    out = subprocess.run([str(AWS), "connectcases", "list-cases-for-contact", "--domain-id",
                          domain, "--contact-arn", contact, "--output", "json"],
                         capture_output=True, text=True, env=env, check=True).stdout
    assert json.loads(out)["cases"] == [{"caseId": case_id, "templateId": template}]
    failed = subprocess.run([str(AWS), "connectcases", "list-cases-for-contact", "--domain-id",
                             "nope", "--contact-arn", contact], capture_output=True, text=True,
                            env=env)
    assert failed.returncode != 0 and "ResourceNotFoundException" in failed.stderr


def test_listing_reads_one_index_range(server):
    """The query plan of the listing: an index search, never a scan of links or cases."""
    engine = create_engine(server.database_url)
    statement = cases_for_contact_query().params(domain_id="d", contact_arn=CONTACT,
                                                 before_link=5, limit=11)
    with engine.connect() as conn:
        sql = str(statement.compile(conn, compile_kwargs={"literal_binds": True}))
        if engine.dialect.name == "sqlite":
            plan = [row[-1] for row in conn.execute(text(f"EXPLAIN QUERY PLAN {sql}"))]
            scans = [step for step in plan if step.startswith("SCAN")]
        else:
            # Tiny test tables make a sequential scan cheapest; forbid it to see the index
            # the planner would use at scale.
            conn.execute(text("SET enable_seqscan = off"))
            plan = [row[0] for row in conn.execute(text(f"EXPLAIN {sql}"))]
            scans = [step for step in plan if "Seq Scan" in step]
    engine.dispose()
    assert any("ix_cases_contact_links_listing" in step for step in plan), plan
    assert not scans, plan
