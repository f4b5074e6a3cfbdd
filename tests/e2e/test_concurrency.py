"""Two ``casework serve`` processes on one fresh database, under concurrent bursts of writes.

Every write operation with a uniqueness or quota rule is fired at both servers at once from
many threads, each burst in a fresh account; then the burst is checked: no 5xx, no duplicate
ids, no quota exceeded, every acknowledged write present. With ``CASEWORK_TEST_POSTGRES_URL``
the two servers share a PostgreSQL database (READ COMMITTED, a connection pool each); without
it, one SQLite file in WAL mode.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from botocore.exceptions import ClientError
from cases_helpers import text
from conftest import POSTGRES_URL, fresh_database_url, postgres_admin, start_server
from sqlalchemy import create_engine
from sqlalchemy import text as sql
from sqlalchemy.engine import make_url

THREADS = 16
_accounts = itertools.count(1)


def start_pair(tmp_path_factory, *args: str):
    """Two servers on one fresh database (and one data directory), started one after the other."""
    first = start_server(tmp_path_factory.mktemp("first"), *args)
    second = start_server(tmp_path_factory.mktemp("second"), "--data-dir", str(first.data_dir),
                          *args, env={"CASEWORK_DATABASE_URL": first.database_url})
    return first, second


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    servers = start_pair(tmp_path_factory, "--merge-duration", "0.2")
    yield servers
    for running in servers:
        running.stop()


def clients(pair, service: str, prefix: str = "7700") -> list:
    """Clients of a fresh account, one per server; no retries, so every error is seen."""
    account = f"{prefix}{next(_accounts):08d}"
    key, secret = pair[0].new_account(account)
    return [running.client(service, key, secret, max_pool_connections=THREADS)
            for running in pair]


def burst(calls: list) -> list:
    """Run the calls at once from THREADS threads; each result is a response or a ClientError.

    Any other exception, and any 5xx, fails the test: a burst may be refused, never broken.
    """
    go = threading.Event()

    def run(call):
        go.wait(30)
        try:
            return call()
        except ClientError as error:
            return error

    with ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(run, call) for call in calls]
        go.set()
        results = [future.result() for future in futures]
    broken = [r.response for r in results if isinstance(r, ClientError)
              and r.response["ResponseMetadata"]["HTTPStatusCode"] >= 500]
    assert not broken, broken[:3]
    return results


def ok(results: list) -> list:
    return [r for r in results if not isinstance(r, ClientError)]


def codes(results: list) -> Counter:
    return Counter(r.response["Error"]["Code"] for r in results if isinstance(r, ClientError))


def spread(clients_: list, count: int, call) -> list:
    """``count`` calls alternating between the servers: ``call(client, index)``."""
    return [lambda c=client, i=i: call(c, i)
            for i, client in zip(range(count), itertools.cycle(clients_), strict=False)]


# --- AWS Support ------------------------------------------------------------------------------

@pytest.mark.parametrize("account", range(3))
def test_support_display_ids_stay_unique(pair, account):
    # A fresh account each time: its very first cases race to create its display-id counter.
    support = clients(pair, "support")
    results = burst(spread(support, 32, lambda c, i: c.create_case(
        subject=f"s{i}", communicationBody="b")))
    created = {r["caseId"] for r in results}
    assert len(created) == 32
    listed = []
    pages = support[0].get_paginator("describe_cases").paginate(
        includeResolvedCases=True, includeCommunications=False)
    for page in pages:
        listed += page["cases"]
    assert {c["caseId"] for c in listed} == created
    display_ids = [c["displayId"] for c in listed]
    assert len(set(display_ids)) == 32


def test_support_attachment_set_is_used_once_and_holds_three(pair):
    support = clients(pair, "support")
    set_id = support[0].add_attachments_to_set(
        attachments=[{"fileName": "a.txt", "data": b"a"}])["attachmentSetId"]
    added = burst(spread(support, 12, lambda c, i: c.add_attachments_to_set(
        attachmentSetId=set_id, attachments=[{"fileName": f"{i}.txt", "data": b"x"}])))
    assert len(ok(added)) == 2
    assert codes(added) == {"AttachmentSetSizeLimitExceeded": 10}
    used = burst(spread(support, 12, lambda c, i: c.create_case(
        subject=f"s{i}", communicationBody="b", attachmentSetId=set_id)))
    assert len(ok(used)) == 1
    assert codes(used) == {"AttachmentSetIdNotFound": 11}
    case_id = ok(used)[0]["caseId"]
    communications = support[1].describe_communications(caseId=case_id)["communications"]
    assert len(communications[0]["attachmentSet"]) == 3
    cases = support[1].describe_cases(includeResolvedCases=True)["cases"]
    assert [c["caseId"] for c in cases] == [case_id]


def test_support_upload_is_completed_and_attached_once(pair):
    support = clients(pair, "support")
    data = b"large file " * 100
    started = support[0].get_attachment_upload_links(fileName="big.bin",
                                                     fileSizeBytes=len(data))
    part = started["uploadUrls"][0]
    etag = httpx.put(part["url"], content=data, timeout=60).headers["ETag"]
    upload_id = started["uploadId"]
    completed = burst(spread(support, 12, lambda c, i: c.complete_attachment_upload(
        uploadId=upload_id, completedUploads=[{"partIndex": 1, "eTag": etag}])))
    assert {r["uploadStatus"] for r in completed} == {"attachment-ready"}
    used = burst(spread(support, 12, lambda c, i: c.create_case(
        subject=f"s{i}", communicationBody="b", uploadIds=[upload_id])))
    assert len(ok(used)) == 1
    assert codes(used) == {"UploadIdNotFound": 11}
    case_id = ok(used)[0]["caseId"]
    communication = support[1].describe_communications(caseId=case_id)["communications"][0]
    assert [a["fileName"] for a in communication["attachmentSet"]] == ["big.bin"]


def test_support_replies_and_resolutions_keep_a_consistent_status(pair):
    support = clients(pair, "support")
    case_id = support[0].create_case(subject="s", communicationBody="b")["caseId"]
    results = burst(spread(support, 24, lambda c, i: (
        c.resolve_case(caseId=case_id) if i % 2 else
        c.add_communication_to_case(caseId=case_id, communicationBody=f"reply {i}"))))
    assert len(ok(results)) == 24
    communications = support[0].describe_communications(caseId=case_id)["communications"]
    assert len(communications) == 13


def test_support_first_refresh_of_a_check(pair):
    support = clients(pair, "support")
    results = burst(spread(support, 12, lambda c, i: c.refresh_trusted_advisor_check(
        checkId="zXCkfM1nI3")))
    assert len(ok(results)) == 12


# --- Amazon Connect Cases ----------------------------------------------------------------------

def domain_and_template(cc) -> tuple[str, str]:
    domain = cc[0].create_domain(name=f"d-{uuid.uuid4().hex[:8]}")["domainId"]
    template = cc[1].create_template(domainId=domain, name="Plain")["templateId"]
    return domain, template


def create_case(client, domain, template, title="t", **extra):
    return client.create_case(domainId=domain, templateId=template,
                              fields=[{"id": "title", "value": text(title)}], **extra)


def listing(call, key: str, **params) -> list:
    """Every item of a paged listing."""
    found, token = [], {}
    while True:
        page = call(**params, **token)
        found += page[key]
        if not page.get("nextToken"):
            return found
        token = {"nextToken": page["nextToken"]}


def all_cases(client, domain) -> list[str]:
    return [c["caseId"] for c in listing(client.search_cases, "cases", domainId=domain)]


def test_domains_at_the_quota(pair):
    cc = clients(pair, "connectcases")
    results = burst(spread(cc, 14, lambda c, i: c.create_domain(name=f"d{i}")))
    assert len(ok(results)) == 5
    assert codes(results) == {"ServiceQuotaExceededException": 9}
    listed = cc[1].list_domains()["domains"]
    assert {d["domainId"] for d in listed} == {r["domainId"] for r in ok(results)}


def test_domain_names_are_unique(pair):
    cc = clients(pair, "connectcases")
    results = burst(spread(cc, 12, lambda c, i: c.create_domain(name="same")))
    assert len(ok(results)) == 1
    assert codes(results) == {"ConflictException": 11}
    assert len(cc[0].list_domains()["domains"]) == 1


def test_cases_without_client_token(pair):
    cc = clients(pair, "connectcases")
    domain, template = domain_and_template(cc)
    results = burst(spread(cc, 40, lambda c, i: create_case(c, domain, template, f"t{i}")))
    created = [r["caseId"] for r in results]
    assert len(set(created)) == 40
    assert sorted(all_cases(cc[0], domain)) == sorted(created)


def test_cases_with_one_client_token(pair):
    cc = clients(pair, "connectcases")
    domain, template = domain_and_template(cc)
    results = burst(spread(cc, 24, lambda c, i: create_case(
        c, domain, template, "same", clientToken="token-1")))
    assert len({r["caseId"] for r in results}) == 1
    # The same token with different bodies: one case, the rest are conflicts.
    mixed = burst(spread(cc, 24, lambda c, i: create_case(
        c, domain, template, f"t{i}", clientToken="token-2")))
    assert len({r["caseId"] for r in ok(mixed)}) == 1
    assert set(codes(mixed)) <= {"ConflictException"}
    assert len(all_cases(cc[1], domain)) == 2


def test_definitions_at_their_quotas(pair):
    cc = clients(pair, "connectcases")
    domain = cc[0].create_domain(name="defs")["domainId"]
    # Fill up to a few below each quota (500 fields, 100 templates, 100 layouts), concurrently.
    filled = burst(spread(cc, 495, lambda c, i: c.create_field(
        domainId=domain, name=f"f{i}", type="Text")))
    filled += burst(spread(cc, 95, lambda c, i: c.create_template(
        domainId=domain, name=f"t{i}")))
    filled += burst(spread(cc, 95, lambda c, i: c.create_layout(
        domainId=domain, name=f"l{i}", content={"basic": {}})))
    assert not codes(filled)
    fields = burst(spread(cc, 16, lambda c, i: c.create_field(
        domainId=domain, name=f"g{i}", type="Text")))
    templates = burst(spread(cc, 16, lambda c, i: c.create_template(
        domainId=domain, name=f"u{i}")))
    layouts = burst(spread(cc, 16, lambda c, i: c.create_layout(
        domainId=domain, name=f"m{i}", content={"basic": {}})))
    for results in (fields, templates, layouts):
        assert len(ok(results)) == 5
        assert codes(results) == {"ServiceQuotaExceededException": 11}
    custom = [f for f in listing(cc[1].list_fields, "fields", domainId=domain)
              if f["namespace"] == "Custom"]
    assert len(custom) == 500
    listed = listing(cc[1].list_templates, "templates", domainId=domain)
    assert len(listed) == 100
    # Names stay unique among live fields.
    same = burst(spread(cc, 12, lambda c, i: c.create_field(
        domainId=domain, name="f0", type="Text")))
    assert codes(same) == {"ConflictException": 12}


def test_field_options_at_the_quota(pair):
    cc = clients(pair, "connectcases")
    domain = cc[0].create_domain(name="options")["domainId"]
    field = cc[0].create_field(domainId=domain, name="pick", type="SingleSelect")["fieldId"]
    results = burst(spread(cc, 24, lambda c, i: c.batch_put_field_options(
        domainId=domain, fieldId=field,
        options=[{"name": f"o{i}-{j}", "value": f"v{i}-{j}", "active": True}
                 for j in range(25)] + [{"name": "shared", "value": "shared",
                                         "active": True}])))
    assert codes(results) == {"ServiceQuotaExceededException": 5}
    listed = listing(cc[1].list_field_options, "options", domainId=domain, fieldId=field)
    assert len(listed) == 19 * 25 + 1


def comment(i: int) -> dict:
    return {"comment": {"body": f"note {i}", "contentType": "Text/Plain"}}


def test_related_items_at_the_quota(pair):
    cc = clients(pair, "connectcases")
    domain, template = domain_and_template(cc)
    case = create_case(cc[0], domain, template)["caseId"]
    filled = burst(spread(cc, 190, lambda c, i: c.create_related_item(
        domainId=domain, caseId=case, type="Comment", content=comment(i))))
    assert not codes(filled)
    results = burst(spread(cc, 24, lambda c, i: c.create_related_item(
        domainId=domain, caseId=case, type="Comment", content=comment(i))))
    assert len(ok(results)) == 10
    assert codes(results) == {"ServiceQuotaExceededException": 14}
    items = listing(cc[1].search_related_items, "relatedItems", domainId=domain, caseId=case)
    assert len(items) == 200
    assert {r["relatedItemId"] for r in ok(filled) + ok(results)} == \
        {i["relatedItemId"] for i in items}


def test_files_at_the_quota(pair):
    cc = clients(pair, "connectcases")
    domain, template = domain_and_template(cc)
    case = create_case(cc[0], domain, template)["caseId"]
    account = cc[0].get_domain(domainId=domain)["domainArn"].split(":")[4]
    instance = f"arn:aws:connect:us-east-1:{account}:instance/{uuid.uuid4()}"
    results = burst(spread(cc, 60, lambda c, i: c.create_related_item(
        domainId=domain, caseId=case, type="File",
        content={"file": {"fileArn": f"{instance}/file/{uuid.uuid4()}"}})))
    assert len(ok(results)) == 50
    assert codes(results) == {"ServiceQuotaExceededException": 10}


def audit_events(client, domain, case) -> list:
    return listing(client.get_case_audit_events, "auditEvents", domainId=domain, caseId=case)


def test_concurrent_updates_of_one_case(pair):
    cc = clients(pair, "connectcases")
    domain, template = domain_and_template(cc)
    case = create_case(cc[0], domain, template)["caseId"]
    results = burst(spread(cc, 32, lambda c, i: c.update_case(
        domainId=domain, caseId=case, fields=[{"id": "title", "value": text(f"t{i}")}])))
    assert len(ok(results)) == 32
    events = audit_events(cc[1], domain, case)
    assert Counter(e["type"] for e in events) == {"Case.Created": 1, "Case.Updated": 32}


def test_batches_over_overlapping_cases(pair):
    cc = clients(pair, "connectcases")
    domain, template = domain_and_template(cc)
    cases = [r["caseId"] for r in burst(spread(cc, 20, lambda c, i: create_case(
        c, domain, template, f"t{i}")))]

    def batch_update(c, i):
        order = cases if i % 2 else cases[::-1]
        return c.batch_update_case(domainId=domain, title=f"b{i}", fields=[],
                                   cases=[{"caseIdentifier": {"caseId": x}} for x in order])

    def batch_comment(c, i, token=None):
        order = cases if i % 2 else cases[::-1]
        extra = {"clientToken": token} if token else {}
        return c.batch_create_related_item(
            domainId=domain, content=comment(0),
            cases=[{"caseIdentifier": {"caseId": x}} for x in order], **extra)

    updates = burst(spread(cc, 12, batch_update))
    assert all(not r["failedCases"] and len(r["successfulCases"]) == 20 for r in updates)
    comments = burst(spread(cc, 12, batch_comment))
    assert all(not r["failedItems"] and len(r["successfulItems"]) == 20 for r in comments)
    once = burst(spread(cc, 12, lambda c, i: batch_comment(c, 0, "token-1")))
    answers = {tuple(sorted(s["relatedItemId"] for s in r["successfulItems"])) for r in once}
    assert len(answers) == 1
    for case in cases:
        items = listing(cc[1].search_related_items, "relatedItems", domainId=domain,
                        caseId=case)
        assert len(items) == 13


def test_merges_claim_their_cases_once(pair):
    cc = clients(pair, "connectcases")
    domain, template = domain_and_template(cc)
    primaries = [create_case(cc[0], domain, template)["caseId"] for _ in range(6)]
    secondary = create_case(cc[1], domain, template)["caseId"]
    results = burst(spread(cc, 12, lambda c, i: c.start_merge_cases(
        domainId=domain, caseId=primaries[i % 6], secondaryCaseIds=[secondary])))
    assert len(ok(results)) == 1
    assert codes(results) == {"ConflictException": 11}
    deadline = time.monotonic() + 20
    while cc[0].get_merge_cases_status(domainId=domain, caseId=secondary)["status"] != \
            "COMPLETED":
        assert time.monotonic() < deadline, "the merge was never applied"
        time.sleep(0.1)
    events = audit_events(cc[1], domain, secondary)
    assert Counter(e["type"] for e in events)["Case.Merged"] == 1
    links = cc[0].search_related_items(domainId=domain, caseId=secondary,
                                       filters=[{"connectCase": {}}])["relatedItems"]
    assert len(links) == 1


@pytest.mark.parametrize("attempt", range(8))
def test_deleting_a_domain_while_it_is_written(pair, attempt):
    cc = clients(pair, "connectcases")
    domain, template = domain_and_template(cc)
    cases = [create_case(cc[0], domain, template)["caseId"] for _ in range(4)]

    def work(c, i):
        if i == 12:
            return c.delete_domain(domainId=domain)
        # Mostly new cases: the writes that no row of the domain's keeps from racing it.
        if i % 4 < 2:
            return create_case(c, domain, template)
        if i % 4 == 2:
            return c.update_case(domainId=domain, caseId=cases[i // 4 % 4],
                                 fields=[{"id": "title", "value": text(f"t{i}")}])
        return c.batch_create_related_item(
            domainId=domain, content=comment(i), clientToken=f"token-{i}",
            cases=[{"caseIdentifier": {"caseId": x}} for x in cases])

    results = burst(spread(cc, 24, work))
    assert set(codes(results)) <= {"ResourceNotFoundException"}
    assert cc[1].list_domains()["domains"] == []
    # No write that overlapped the deletion left a row behind it (a race: several attempts).
    engine = create_engine(pair[0].database_url)
    with engine.connect() as conn:
        left = {table: conn.execute(sql(f"SELECT count(*) FROM {table} WHERE domain_id = :d"),
                                    {"d": domain}).scalar_one()
                for table in ("cases_cases", "cases_case_values", "cases_related_items",
                              "cases_audit_events", "cases_contact_links", "cases_tags")}
    engine.dispose()
    assert left == dict.fromkeys(left, 0)


def test_tags_and_event_configuration(pair):
    cc = clients(pair, "connectcases")
    domain = cc[0].create_domain(name="tagged")["domainId"]
    arn = cc[0].get_domain(domainId=domain)["domainArn"]
    tags = burst(spread(cc, 60, lambda c, i: c.tag_resource(
        arn=arn, tags={"same": str(i), f"k{i}": "v"})))
    assert len(ok(tags)) == 49
    assert codes(tags) == {"ValidationException": 11}
    assert len(cc[1].list_tags_for_resource(arn=arn)["tags"]) == 50
    configured = burst(spread(cc, 12, lambda c, i: c.put_case_event_configuration(
        domainId=domain, eventBridge={"enabled": bool(i % 2)})))
    assert len(ok(configured)) == 12


# --- limits shared by the two processes ---------------------------------------------------------

@pytest.fixture(scope="module")
def limited_pair(tmp_path_factory):
    servers = start_pair(tmp_path_factory, "--throttle-rate", "0.1", "--throttle-burst", "4",
                         "--max-open-cases", "3", "--attachment-download-limit", "3",
                         "--limit-window", "600")
    yield servers
    for running in servers:
        running.stop()


def test_throttle_is_shared_by_the_processes(limited_pair):
    cc = clients(limited_pair, "connectcases")
    started = time.monotonic()
    results = burst(spread(cc, 16, lambda c, i: c.list_domains()))
    refilled = int((time.monotonic() - started) * 0.1) + 1
    # One bucket for the account: the burst of 4 (plus what refilled), not 4 per process.
    assert 4 <= len(ok(results)) <= 4 + refilled < 8
    assert set(codes(results)) == {"ThrottlingException"}
    assert {r.response["ResponseMetadata"]["HTTPStatusCode"] for r in results
            if isinstance(r, ClientError)} == {429}


def test_support_limits_are_shared_by_the_processes(limited_pair):
    support = clients(limited_pair, "support")
    opened = burst(spread(support, 12, lambda c, i: c.create_case(
        subject=f"s{i}", communicationBody="b")))
    assert len(ok(opened)) == 3
    assert codes(opened) == {"CaseCreationLimitExceeded": 9}
    case_id = ok(opened)[0]["caseId"]
    set_id = support[0].add_attachments_to_set(
        attachments=[{"fileName": "a.txt", "data": b"abc"}])["attachmentSetId"]
    support[1].add_communication_to_case(caseId=case_id, communicationBody="file",
                                         attachmentSetId=set_id)
    attachment = support[0].describe_communications(
        caseId=case_id)["communications"][0]["attachmentSet"][0]["attachmentId"]
    read = burst(spread(support, 12, lambda c, i: c.describe_attachment(
        attachmentId=attachment)))
    assert len(ok(read)) == 3
    assert codes(read) == {"DescribeAttachmentLimitExceeded": 9}


# --- a database that refuses connections ------------------------------------------------------

@pytest.mark.skipif(not POSTGRES_URL, reason="a PostgreSQL role's connection limit")
def test_requests_wait_for_the_connections_a_database_allows(tmp_path):
    """A server whose role may open fewer connections than ``--threads`` asks for (a role's
    limit; max_connections and a database's limit alike) sizes its pools to what is left, with
    room for key lookups and background work, and runs every request of a burst on them:
    none answers 5xx."""
    role, password = f"casework_limited_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    database = make_url(fresh_database_url(data_dir)).database
    postgres_admin(f"CREATE ROLE {role} LOGIN PASSWORD '{password}' CONNECTION LIMIT 7")
    postgres_admin(f'ALTER DATABASE "{database}" OWNER TO {role}')
    port = int(make_url(POSTGRES_URL).port or postgres_admin("SHOW port"))
    url = f"postgresql+psycopg://{role}:{password}@127.0.0.1:{port}/{database}"
    server = start_server(tmp_path, "--threads", "8", env={"CASEWORK_DATABASE_URL": url})
    try:
        support = server.client("support", max_pool_connections=THREADS)
        cc = server.client("connectcases", max_pool_connections=THREADS)
        domain = cc.create_domain(name="limited")["domainId"]
        template = cc.create_template(domainId=domain, name="t")["templateId"]
        writes = burst([lambda i=i: support.create_case(subject=f"s{i}", communicationBody="b")
                        for i in range(48)]
                       + [lambda: cc.create_case(domainId=domain, templateId=template,
                                                 fields=[{"id": "title", "value": text("t")}])
                                   for _ in range(48)])
        assert len(ok(writes)) == 96, codes(writes)
        case_ids = [r["caseId"] for r in writes[:48]]
        reads = burst([lambda c=c: support.describe_cases(caseIdList=[c]) for c in case_ids])
        assert sorted(r["cases"][0]["caseId"] for r in reads) == sorted(case_ids)
        log = (tmp_path / "server.log").read_text()
        assert "1 for reads and 1 for writes (--threads 8)" in log, log
        assert "ERROR" not in log, log
    finally:
        server.stop()
        postgres_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        postgres_admin(f"DROP ROLE {role}")
