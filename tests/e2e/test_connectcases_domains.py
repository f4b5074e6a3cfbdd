"""Connect Cases domains: create, get, list, delete, quotas, isolation between accounts."""

from __future__ import annotations

import re
import uuid

import boto3
import pytest
from cases_helpers import account_client, code_of, error_of, new_domain
from sqlalchemy import create_engine, text

from casework.cases.queries.search import scope

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def account(server):
    return account_client(server, "333333333301")


@pytest.fixture(scope="module")
def other(server):
    return account_client(server, "333333333300")


def test_create_get_list_delete(account):
    created = account.create_domain(name="support")
    domain_id = created["domainId"]
    assert UUID.fullmatch(domain_id)
    assert created["domainArn"] == f"arn:aws:cases:us-east-1:333333333301:domain/{domain_id}"
    assert created["domainStatus"] == "Active"
    got = account.get_domain(domainId=domain_id)
    assert (got["name"], got["domainArn"], got["domainStatus"]) == (
        "support", created["domainArn"], "Active")
    assert got["createdTime"].tzinfo is not None and got["tags"] == {}
    listed = account.list_domains()["domains"]
    assert {"domainId": domain_id, "domainArn": created["domainArn"], "name": "support"} \
        in listed
    account.delete_domain(domainId=domain_id)
    assert code_of(account.get_domain, domainId=domain_id) == ("ResourceNotFoundException", 404)
    error = error_of(account.delete_domain, domainId=domain_id)
    assert error["resourceId"] == domain_id and error["resourceType"] == "Domain"


def test_new_domain_holds_the_system_fields(other):
    connectcases = other
    domain_id = new_domain(connectcases)
    fields = {f["fieldId"]: f for f in connectcases.list_fields(domainId=domain_id)["fields"]}
    for field_id, kind in [("title", "Text"), ("customer_id", "Text"),
                           ("status", "SingleSelect"), ("case_reason", "SingleSelect"),
                           ("created_datetime", "DateTime"), ("last_updated_user", "User"),
                           ("reference_number", "Text"), ("last_closed_datetime", "DateTime")]:
        assert fields[field_id]["type"] == kind
        assert fields[field_id]["namespace"] == "System"
        assert fields[field_id]["fieldArn"].endswith(f"domain/{domain_id}/field/{field_id}")
    options = connectcases.list_field_options(domainId=domain_id, fieldId="status")["options"]
    assert options == [{"name": "Open", "value": "open", "active": True},
                       {"name": "Closed", "value": "closed", "active": True}]


def test_names_are_unique_and_five_domains_is_the_quota(account):
    for domain in account.list_domains()["domains"]:
        account.delete_domain(domainId=domain["domainId"])
    made = [new_domain(account, f"quota-{i}") for i in range(5)]
    assert code_of(account.create_domain, name="quota-0") == ("ConflictException", 409)
    error = error_of(account.create_domain, name="sixth")
    assert error["Error"]["Code"] == "ServiceQuotaExceededException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 402
    first = account.list_domains(maxResults=2)
    assert [d["domainId"] for d in first["domains"]] == made[:2]
    second = account.list_domains(maxResults=2, nextToken=first["nextToken"])
    third = account.list_domains(maxResults=2, nextToken=second["nextToken"])
    assert [d["domainId"] for d in second["domains"] + third["domains"]] == made[2:]
    assert "nextToken" not in third
    account.delete_domain(domainId=made[0])
    new_domain(account, "quota-0")  # the name and the slot are free again
    for domain in account.list_domains()["domains"]:
        account.delete_domain(domainId=domain["domainId"])


def test_names_must_end_with_a_non_space_and_fit(connectcases):
    assert code_of(connectcases.create_domain, name="x" * 101) == ("ValidationException", 400)
    assert code_of(connectcases.list_domains, maxResults=11) == ("ValidationException", 400)


def test_forged_token_is_a_validation_error(connectcases):
    assert code_of(connectcases.list_domains, nextToken="forged") == ("ValidationException", 400)


def test_delete_domain_removes_everything_in_it(other):
    connectcases = other
    domain_id = new_domain(connectcases)
    field_id = connectcases.create_field(domainId=domain_id, name="Order", type="Text")["fieldId"]
    template_id = connectcases.create_template(domainId=domain_id, name="T")["templateId"]
    case_id = connectcases.create_case(
        domainId=domain_id, templateId=template_id,
        fields=[{"id": "title", "value": {"stringValue": "x"}},
                {"id": field_id, "value": {"stringValue": "o-1"}}])["caseId"]
    connectcases.delete_domain(domainId=domain_id)
    for call, params in [
        (connectcases.list_fields, {}),
        (connectcases.get_template, {"templateId": template_id}),
        (connectcases.get_case, {"caseId": case_id, "fields": [{"id": "title"}]}),
    ]:
        assert code_of(call, domainId=domain_id, **params) == ("ResourceNotFoundException", 404)


# Every table that holds rows of a case, by its case's sequence number. On PostgreSQL they have
# no foreign key to the case (migration cases_0010): DeleteCase and DeleteDomain remove them.
CASE_ROWS = ("cases_case_values", "cases_related_items", "cases_contact_links",
             "cases_audit_events")


def rows_of(engine, case_seqs: list[int]) -> dict[str, int]:
    """How many rows each table of a case's rows holds for ``case_seqs``, and their
    search documents (each call reads in a transaction of its own)."""
    seq_column = dict.fromkeys(CASE_ROWS, "case_seq")
    # The search documents: on SQLite the low 31 bits of FTS5's rowid are the case's seq.
    seq_column["cases_search_terms"] = ("rowid & 2147483647" if engine.dialect.name == "sqlite"
                                        else "case_seq")
    if engine.dialect.name == "sqlite":  # SQLite's substring index: one document per value
        seq_column["cases_search_substrings"] = "rowid & 2147483647"
    listed = ", ".join(map(str, case_seqs))
    with engine.connect() as conn:
        return {table: conn.execute(text(
            f"SELECT count(*) FROM {table} WHERE {column} IN ({listed})")).scalar_one()
            for table, column in seq_column.items()}


def vocabulary_of(engine, domain_id: str) -> int:
    """How many words SQLite's vocabulary of the term index holds for the domain (none on
    PostgreSQL, which has no vocabulary)."""
    if engine.dialect.name != "sqlite":
        return 0
    mark = scope(domain_id)
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM cases_search_words WHERE term >= :low "
                                 "AND term < :high"), {"low": mark, "high": mark[:-1] + "y"}
                            ).scalar_one()


def test_deleting_a_case_or_its_domain_leaves_none_of_its_rows(server, other):
    connectcases = other
    domain_id = new_domain(connectcases)
    template_id = connectcases.create_template(domainId=domain_id, name="T")["templateId"]
    case_ids = [connectcases.create_case(
        domainId=domain_id, templateId=template_id,
        fields=[{"id": "title", "value": {"stringValue": f"Zebra printer {n}"}}])["caseId"]
        for n in range(2)]
    contact = ("arn:aws:connect:us-east-1:333333333300:instance/"
               f"{uuid.uuid4()}/contact/{uuid.uuid4()}")
    for case_id in case_ids:
        connectcases.create_related_item(domainId=domain_id, caseId=case_id, type="Contact",
                                         content={"contact": {"contactArn": contact}})
        connectcases.create_related_item(
            domainId=domain_id, caseId=case_id, type="Comment",
            content={"comment": {"body": "Called back", "contentType": "Text/Plain"}})
    engine = create_engine(server.database_url)
    try:
        with engine.connect() as conn:
            seqs = dict(conn.execute(text(
                "SELECT case_id, seq FROM cases_cases WHERE domain_id = :d"),
                {"d": domain_id}).all())
        deleted, kept = (seqs[case_id] for case_id in case_ids)
        documents = {"cases_search_terms": 1}
        if engine.dialect.name == "sqlite":  # the title's and the status's
            documents["cases_search_substrings"] = 2
        assert all(rows_of(engine, [seq]) == {
            "cases_case_values": 6, "cases_related_items": 2, "cases_contact_links": 1,
            "cases_audit_events": 3, **documents} for seq in (deleted, kept))

        connectcases.delete_case(domainId=domain_id, caseId=case_ids[0])
        assert set(rows_of(engine, [deleted]).values()) == {0}
        assert rows_of(engine, [kept])["cases_case_values"] == 6
        assert vocabulary_of(engine, domain_id) > 0 or engine.dialect.name != "sqlite"
        connectcases.delete_domain(domainId=domain_id)
        assert set(rows_of(engine, [deleted, kept]).values()) == {0}
        assert vocabulary_of(engine, domain_id) == 0
    finally:
        engine.dispose()


def test_accounts_never_see_each_others_domains(other, account):
    connectcases = other
    domain_id = new_domain(connectcases)
    assert domain_id not in [d["domainId"] for d in account.list_domains()["domains"]]
    for call in (account.get_domain, account.delete_domain, account.list_fields,
                 account.list_templates):
        assert code_of(call, domainId=domain_id) == ("ResourceNotFoundException", 404)
    assert connectcases.get_domain(domainId=domain_id)["domainId"] == domain_id
    assert uuid.UUID(domain_id)


def test_arns_name_the_region_the_domain_was_created_through(server):
    key, secret = server.new_account("333333333309")
    london, virginia = (
        boto3.client("connectcases", endpoint_url=server.endpoint, region_name=region,
                     aws_access_key_id=key, aws_secret_access_key=secret)
        for region in ("eu-west-2", "us-east-1"))
    created = london.create_domain(name="london")
    domain_id = created["domainId"]
    assert created["domainArn"] == f"arn:aws:cases:eu-west-2:333333333309:domain/{domain_id}"
    template = london.create_template(domainId=domain_id, name="Plain")
    assert template["templateArn"].startswith("arn:aws:cases:eu-west-2:")
    case = london.create_case(domainId=domain_id, templateId=template["templateId"],
                              fields=[{"id": "title", "value": {"stringValue": "Hello"}}])
    assert case["caseArn"].startswith(f"arn:aws:cases:eu-west-2:333333333309:domain/{domain_id}/")
    # The domain is regional: us-east-1 does not see it (test_connectcases_regions.py has more).
    assert virginia.list_domains()["domains"] == []
    assert code_of(virginia.tag_resource, arn=case["caseArn"], tags={"team": "uk"}) == (
        "ResourceNotFoundException", 404)
    london.tag_resource(arn=case["caseArn"], tags={"team": "uk"})
    assert london.list_tags_for_resource(arn=case["caseArn"])["tags"] == {"team": "uk"}
    elsewhere = case["caseArn"].replace(":eu-west-2:", ":us-east-1:")
    assert code_of(london.list_tags_for_resource, arn=elsewhere) == (
        "ResourceNotFoundException", 404)
