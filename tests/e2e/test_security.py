"""Secrets at rest, scoped keys and principals, presigned URLs bound to their key, the
per-account contact registry, and junk at the ``/_casework/`` routes, each tried against a
real server the way an attacker (or a careless operator) would."""

from __future__ import annotations

import base64
import os
import secrets
import signal
import socket
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from alembic import command
from alembic.config import Config
from conftest import POSTGRES_URL, error_of, start_server
from sqlalchemy import create_engine, text

from casework.store.engine import MIGRATIONS

MIB = 1024 * 1024


def keys_of(out: str) -> tuple[str, str]:
    values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return values["AWS_ACCESS_KEY_ID"], values["AWS_SECRET_ACCESS_KEY"]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def raw_database_bytes(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in data_dir.glob("casework.db*"))


@pytest.fixture(scope="module")
def tight(tmp_path_factory):
    """A server of this module's own (keys are created and deleted here)."""
    running = start_server(tmp_path_factory.mktemp("security"))
    yield running
    running.stop()


# --- secrets at rest -------------------------------------------------------------------------


def test_data_dir_and_every_file_in_it_are_private_whatever_the_umask(tmp_path):
    old = os.umask(0)  # the most careless umask there is: the server must not inherit it
    try:
        server = start_server(tmp_path)
    finally:
        os.umask(old)
    try:
        support = server.client("support")
        started = support.get_attachment_upload_links(fileName="a.bin", fileSizeBytes=10)
        url = started["uploadUrls"][0]["url"]
        assert httpx.put(url, content=b"0123456789").status_code == 200
        support.create_case(subject="private", communicationBody="bytes")
        data_dir = server.data_dir
        assert mode(data_dir) == 0o700
        names = {p.name for p in data_dir.iterdir()}
        assert {"master.key", "attachments"} <= names
        if not POSTGRES_URL:
            sqlite_files = {"casework.db", "casework.db-wal", "casework.db-shm",
                            "casework.db-writer"}  # -writer: the processes' turns at writing
            assert sqlite_files <= names
        for path in data_dir.rglob("*"):
            assert mode(path) == (0o700 if path.is_dir() else 0o600), path
        assert any(p.name.endswith(".part") for p in data_dir.rglob("*"))
    finally:
        server.stop()


def test_secrets_are_sealed_in_the_database_and_printed_only_at_creation(tight):
    created = tight.casework("keys", "create", "--account", "777700000001").stdout
    key_id, secret = keys_of(created)
    support = tight.client("support", key=key_id, secret=secret)
    assert support.describe_severity_levels()["severityLevels"]
    listed = tight.casework("keys", "list").stdout
    assert key_id in listed and secret not in listed
    engine = create_engine(tight.database_url)
    with engine.connect() as conn:
        dump = repr(conn.execute(text("SELECT * FROM access_keys")).all())
        plaintext = conn.scalar(text("SELECT count(*) FROM access_keys "
                                     "WHERE secret_access_key IS NOT NULL"))
    engine.dispose()
    assert key_id in dump and secret not in dump
    assert plaintext == 0  # the default test key is sealed too
    if not POSTGRES_URL:
        raw = raw_database_bytes(tight.data_dir)
        assert secret.encode() not in raw
        # The master key itself is in its own file, not in the database.
        master = (tight.data_dir / "master.key").read_text().strip()
        assert master.encode() not in raw
        assert base64.b64decode(master) not in raw


def _old_schema_database(tmp_path: Path) -> tuple[Path, str]:
    """A data directory as the previous release left it: plaintext secrets, 0644 files, one
    contact registry for every account."""
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    os.chmod(data_dir, 0o755)
    if POSTGRES_URL:
        from conftest import fresh_database_url
        url = fresh_database_url(data_dir)
    else:
        url = f"sqlite:///{data_dir / 'casework.db'}"
    engine = create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as conn:
        config.attributes["connection"] = conn
        for head in ("cases_0004_domain_region", "support_0002", "uploads_0001"):
            command.upgrade(config, head)
        conn.execute(text("INSERT INTO accounts VALUES ('777700000002', 'old@example.com', 0)"))
        conn.execute(text("INSERT INTO access_keys VALUES ('AKIAOLDPLAINTEXT0001', "
                          "'old-plaintext-secret-0123456789abcdefghij', '777700000002', 0)"))
        conn.execute(text("INSERT INTO cases_contacts VALUES ("
                          "'arn:aws:connect:us-east-1:777700000002:instance/i/contact/c', "
                          "'CHAT', 1700000000000)"))
        conn.commit()
    engine.dispose()
    if not POSTGRES_URL:
        for path in data_dir.iterdir():
            os.chmod(path, 0o644)
    return data_dir, url


def test_an_old_data_dir_is_sealed_and_tightened_at_start(tmp_path):
    data_dir, url = _old_schema_database(tmp_path)
    server = start_server(tmp_path, env={"CASEWORK_DATABASE_URL": url})
    try:
        secret = "old-plaintext-secret-0123456789abcdefghij"
        support = server.client("support", key="AKIAOLDPLAINTEXT0001", secret=secret)
        case_id = support.create_case(subject="after upgrade", communicationBody="works")["caseId"]
        assert support.describe_cases(caseIdList=[case_id])["cases"]
        engine = create_engine(url)
        with engine.connect() as conn:
            dump = repr(conn.execute(text("SELECT * FROM access_keys")).all())
            contact = conn.execute(text("SELECT account_id, channel FROM "
                                        "cases_account_contacts")).all()
        engine.dispose()
        assert secret not in dump
        assert [tuple(row) for row in contact] == [("777700000002", "CHAT")]
        if not POSTGRES_URL:
            assert mode(data_dir) == 0o700
            for path in data_dir.glob("casework.db*"):
                assert mode(path) == 0o600, path
            # A checkpoint moves the WAL into the main file: the secret must be in neither.
            server.stop()
            import sqlite3
            sqlite3.connect(data_dir / "casework.db").execute(
                "PRAGMA wal_checkpoint(TRUNCATE)").close()
            assert secret.encode() not in raw_database_bytes(data_dir)
    finally:
        if server.process.poll() is None:
            server.stop()


def test_master_key_from_the_environment_and_a_wrong_one_is_refused(tmp_path):
    master = base64.b64encode(secrets.token_bytes(32)).decode()
    env = {"CASEWORK_MASTER_KEY": master}
    server = start_server(tmp_path, env=env)
    key_id, secret = keys_of(server.casework("keys", "create", "--account",
                                             "777700000003").stdout)
    assert server.client("support", key=key_id, secret=secret).describe_services()
    assert not (server.data_dir / "master.key").exists()
    server.stop()
    # Another master key: the server refuses to start rather than fail every signature.
    wrong = base64.b64encode(secrets.token_bytes(32)).decode()
    with pytest.raises(RuntimeError, match="not the one this database"):
        start_server(tmp_path, env={"CASEWORK_MASTER_KEY": wrong,
                                    "CASEWORK_DATABASE_URL": server.database_url})
    # None at all (a key file would be made): refused the same way.
    with pytest.raises(RuntimeError, match="not the one this database"):
        start_server(tmp_path, env={"CASEWORK_DATABASE_URL": server.database_url})
    with pytest.raises(RuntimeError, match="32 random bytes"):
        start_server(tmp_path, env={"CASEWORK_MASTER_KEY": "too-short",
                                    "CASEWORK_DATABASE_URL": server.database_url})
    again = start_server(tmp_path, env={**env, "CASEWORK_DATABASE_URL": server.database_url})
    try:
        assert again.client("support", key=key_id, secret=secret).describe_services()
    finally:
        again.stop()


@pytest.mark.parametrize("how", [("--no-default-key",), ()])
def test_no_default_key_disables_test_test(tmp_path, how):
    env = {} if how else {"CASEWORK_DEFAULT_KEY": "false"}
    server = start_server(tmp_path, *how, env=env)
    try:
        error = error_of(server.client("support").describe_services)
        assert error["Error"]["Code"] == "UnrecognizedClientException"
        error = error_of(server.client("connectcases").list_domains)
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
        banner = (tmp_path / "server.log").read_text()
        assert "AWS_SECRET_ACCESS_KEY=test" not in banner and "no default key" in banner
        assert "\ttest\t" not in server.casework("keys", "list").stdout
        key_id, secret = server.new_account("777700000004")
        assert server.client("support", key=key_id, secret=secret).describe_services()
    finally:
        server.stop()


# --- principals: submittedBy ---------------------------------------------------------------


def test_submitted_by_names_the_keys_principal_and_the_account_email(tight):
    account = "777700000005"
    def key(*extra):
        out = tight.casework("keys", "create", "--account", account, "--email",
                             "janedoe@example.com", *extra).stdout
        key_id, secret = keys_of(out)
        return tight.client("support", key=key_id, secret=secret)
    role, user, root = key("--principal", "role/AdminRole"), key("--principal", "user/jane"), key()
    case_id = role.create_case(subject="who", communicationBody="first")["caseId"]
    user.add_communication_to_case(caseId=case_id, communicationBody="second")
    root.add_communication_to_case(caseId=case_id, communicationBody="third")
    comms = root.describe_communications(caseId=case_id)["communications"]
    assert {c["body"]: c["submittedBy"] for c in comms} == {
        "first": "AdminRole (Role) <janedoe@example.com>",
        "second": "jane (User) <janedoe@example.com>",
        "third": "root (Root) <janedoe@example.com>",
    }
    recent = root.describe_cases(caseIdList=[case_id])["cases"][0]
    assert recent["submittedBy"] == "janedoe@example.com"  # CaseDetails: the account's e-mail
    assert recent["recentCommunications"]["communications"][-1]["submittedBy"].startswith(
        "AdminRole (Role)")
    listed = tight.casework("keys", "list").stdout
    assert "role/AdminRole" in listed and "user/jane" in listed
    for bad in ("admin", "group/x", "role/", "role/" + "x" * 65, "role/a b"):
        failed = subprocess.run(
            [sys.executable, "-m", "casework", "keys", "create", "--account", account,
             "--principal", bad, "--data-dir", str(tight.data_dir), "--database-url",
             tight.database_url], capture_output=True, text=True, env=tight.env)
        assert failed.returncode == 2 and "--principal" in failed.stderr, bad


# --- scoped keys ---------------------------------------------------------------------------


def test_scoped_keys_are_refused_outside_their_allowance_before_any_work(tight):
    account = "777700000006"
    full_id, full_secret = keys_of(tight.casework("keys", "create", "--account",
                                                  account).stdout)
    out = tight.casework("keys", "create", "--account", account, "--principal",
                         "role/Dashboard", "--allow",
                         "connectcases:Get*,connectcases:List*,support:Describe*").stdout
    ro_id, ro_secret = keys_of(out)
    full = tight.client("support", key=full_id, secret=full_secret)
    full_cc = tight.client("connectcases", key=full_id, secret=full_secret)
    ro = tight.client("support", key=ro_id, secret=ro_secret)
    ro_cc = tight.client("connectcases", key=ro_id, secret=ro_secret)
    case_id = full.create_case(subject="seen", communicationBody="by dashboards")["caseId"]
    domain = full_cc.create_domain(name="scoped")["domainId"]
    # Allowed: reads.
    assert ro.describe_cases(caseIdList=[case_id])["cases"][0]["caseId"] == case_id
    assert ro_cc.get_domain(domainId=domain)["name"] == "scoped"
    assert ro_cc.list_domains()["domains"]
    # Denied, with AWS's codes and statuses, and nothing done.
    error = error_of(ro.create_case, subject="no", communicationBody="no")
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (
        "AccessDeniedException", 400)
    assert error["Error"]["Message"] == (f"User: arn:aws:iam::{account}:role/Dashboard is not "
                                         "authorized to perform: support:CreateCase")
    error = error_of(ro.resolve_case, caseId=case_id)
    assert error["Error"]["Code"] == "AccessDeniedException"
    error = error_of(ro.add_communication_to_case, caseId=case_id, communicationBody="x",
                     ccEmailAddresses=["not an address"])  # refused before validation runs
    assert error["Error"]["Code"] == "AccessDeniedException"
    error = error_of(ro_cc.create_domain, name="no")
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (
        "AccessDeniedException", 403)
    assert "cases:CreateDomain" in error["Error"]["Message"]
    error = error_of(ro_cc.search_cases, domainId=domain)  # Search* is not Get*/List*
    assert error["Error"]["Code"] == "AccessDeniedException"
    error = error_of(ro.create_case, subject="dry", communicationBody="run")
    assert error["Error"]["Code"] == "AccessDeniedException"
    assert len(full.describe_cases()["cases"]) == 1
    assert len(full_cc.list_domains()["domains"]) == 1
    assert full.describe_communications(caseId=case_id)["communications"][0]["body"] == \
        "by dashboards"
    # keys list shows each key's allowance.
    lines = {line.split("\t")[0]: line for line in tight.casework("keys", "list").stdout
             .splitlines()}
    assert lines[ro_id].endswith("connectcases:Get*,connectcases:List*,support:Describe*")
    assert lines[full_id].endswith("\t*")


def test_allowance_patterns_are_iam_style(tight):
    account = "777700000007"
    out = tight.casework("keys", "create", "--account", account, "--allow",
                         "cases:createdomain, support:describe?ervices").stdout
    key_id, secret = keys_of(out)
    cc = tight.client("connectcases", key=key_id, secret=secret)
    support = tight.client("support", key=key_id, secret=secret)
    assert cc.create_domain(name="iam-style")["domainId"]  # "cases:" is Connect Cases' prefix
    assert support.describe_services()["services"]  # case-insensitive, ? wildcard
    assert error_of(cc.list_domains)["Error"]["Code"] == "AccessDeniedException"
    assert error_of(support.describe_severity_levels)["Error"]["Code"] == "AccessDeniedException"
    for bad in ("connectcases:Nope*", "s3:GetObject", "support", "", "support:Describe Cases"):
        failed = subprocess.run(
            [sys.executable, "-m", "casework", "keys", "create", "--account", account,
             "--allow", bad, "--data-dir", str(tight.data_dir), "--database-url",
             tight.database_url], capture_output=True, text=True, env=tight.env)
        assert failed.returncode == 2 and "--allow" in failed.stderr, (bad, failed.stderr)


# --- presigned URLs are bound to their key ---------------------------------------------------


def test_presigned_urls_die_with_the_key_that_issued_them(tight):
    key_id, secret = keys_of(tight.casework("keys", "create", "--account",
                                            "777700000008").stdout)
    support = tight.client("support", key=key_id, secret=secret)
    started = support.get_attachment_upload_links(fileName="k.txt", fileSizeBytes=4)
    upload_url = started["uploadUrls"][0]["url"]
    assert f"X-Casework-Key={key_id}" in upload_url
    set_id = support.add_attachments_to_set(attachments=[{"fileName": "s.txt",
                                                          "data": b"small"}])["attachmentSetId"]
    case_id = support.create_case(subject="s", communicationBody="b", attachmentSetId=set_id)[
        "caseId"]
    attachment_id = support.describe_communications(caseId=case_id)["communications"][0][
        "attachmentSet"][0]["attachmentId"]
    download_url = support.get_attachment_download_link(attachmentId=attachment_id)[
        "downloadUrl"]["url"]
    assert httpx.get(download_url).content == b"small"
    # Swapping in another key id breaks the signature.
    parts = urlsplit(download_url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    other = f"{parts.scheme}://{parts.netloc}{parts.path}?" + urlencode(
        {**query, "X-Casework-Key": "test"})
    assert "SignatureDoesNotMatch" in httpx.get(other).text
    tight.casework("keys", "delete", key_id)
    refused = httpx.get(download_url)
    assert refused.status_code == 403 and "<Code>InvalidAccessKeyId</Code>" in refused.text
    refused = httpx.put(upload_url, content=b"abcd")
    assert refused.status_code == 403 and "<Code>InvalidAccessKeyId</Code>" in refused.text


# --- the contact registry is per account -----------------------------------------------------


def test_contact_details_never_show_through_another_accounts_item(tight):
    owner, stranger = "777700000009", "777700000010"
    contact = f"arn:aws:connect:us-east-1:{owner}:instance/i-1/contact/{uuid.uuid4()}"
    tight.casework("contacts", "put", contact, "--channel", "CHAT", "--connected-at",
                   "2026-01-02T03:04:05Z")
    elsewhere = tight.casework("contacts", "put", contact, "--account", stranger, "--channel",
                               "TASK", "--connected-at", "2025-01-01T00:00:00Z").stdout
    assert elsewhere.startswith(stranger)

    def related(account):
        key_id, secret = keys_of(tight.casework("keys", "create", "--account", account).stdout)
        cc = tight.client("connectcases", key=key_id, secret=secret)
        domain = cc.create_domain(name="contacts")["domainId"]
        template = cc.create_template(domainId=domain, name="t")["templateId"]
        case_id = cc.create_case(domainId=domain, templateId=template, fields=[
            {"id": "title", "value": {"stringValue": "c"}}])["caseId"]
        cc.create_related_item(domainId=domain, caseId=case_id, type="Contact",
                               content={"contact": {"contactArn": contact}})
        return cc.search_related_items(domainId=domain, caseId=case_id)["relatedItems"][0][
            "content"]["contact"]

    mine = related(owner)
    assert mine["channel"] == "CHAT" and mine["connectedToSystemTime"].year == 2026
    theirs = related(stranger)  # the stranger's own registration, not the owner's
    assert theirs["channel"] == "TASK" and theirs["connectedToSystemTime"].year == 2025
    third = related("777700000011")  # registered nowhere for this account: the default
    assert third["channel"] == "VOICE"


# --- junk at the /_casework/ routes ----------------------------------------------------------


def test_presigned_urls_with_junk_get_s3_errors_never_500(tight):
    support = tight.client("support")
    started = support.get_attachment_upload_links(fileName="j.bin", fileSizeBytes=4)
    url = started["uploadUrls"][0]["url"]
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    junk_queries = [
        "X-Casework-Expires=%C2%B2&X-Casework-Key=test&X-Casework-Signature=" + "0" * 64,
        "X-Casework-Expires=" + "9" * 5000 + "&X-Casework-Key=test&X-Casework-Signature="
        + "0" * 64,
        "X-Casework-Expires=1&X-Casework-Key=%00&X-Casework-Signature=zz",
        "X-Casework-Expires=-1",
        "%ff%fe=%ff",
        "",
    ]
    paths = [parts.path, parts.path.rsplit("/", 1)[0] + "/" + "9" * 5000,
             parts.path.rsplit("/", 1)[0] + "/%C2%B2", "/_casework/support/attachments/x",
             "/_casework/support/attachments/" + "%ff" * 100]
    for path in paths:
        for junk in junk_queries:
            for method in ("GET", "PUT"):
                answer = httpx.request(method, f"{base}{path}?{junk}", content=b"abcd")
                assert 400 <= answer.status_code < 500, (path[:80], junk[:80], answer.text)
                if answer.status_code != 404 and answer.status_code != 405:
                    assert answer.text.startswith("<?xml") and "<Code>" in answer.text
    # A properly signed URL with a 5,000-digit part number: the signature covers the path.
    huge = parts.path.rsplit("/", 1)[0] + "/" + "9" * 5000
    answer = httpx.put(f"{base}{huge}?{urlencode(query)}", content=b"abcd")
    assert answer.status_code == 403 and "SignatureDoesNotMatch" in answer.text
    # The real URL still works.
    assert httpx.put(url, content=b"abcd").status_code == 200


def test_agent_api_junk_gets_400_json(tight):
    support = tight.client("support")
    case_id = support.create_case(subject="agent junk", communicationBody="b")["caseId"]
    token = tight.casework("agent", "token").stdout.strip()
    url = f"{tight.endpoint}/_casework/support/cases/{case_id}/communications"
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    bodies = [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"body": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"body": "a\\ud800b"}',
        b'{"body": "a\xed\xa0\x80b"}',
        b'{"body": "\xff"}',
        b"not json",
        b"",
        b'{"body": 1e999999}',
        b'{"body": "x", "status": {"a": [1]}}',
    ]
    for body in bodies:
        answer = httpx.post(url, content=body, headers=auth)
        assert answer.status_code == 400, (body[:40], answer.text)
        assert answer.json()["__type"] in ("SerializationException", "ValidationException")
    # Nothing was added, and the API still works.
    assert len(support.describe_communications(caseId=case_id)["communications"]) == 1
    ok = httpx.post(url, json={"body": "fine"}, headers=auth)
    assert ok.status_code == 200
    junk_paths = ["/_casework/support/cases/" + "%ff" * 50, "/_casework/support/cases/%00",
                  "/_casework/support/cases/" + "x" * 10_000 + "/status"]
    for path in junk_paths:
        answer = httpx.post(tight.endpoint + path, json={"status": "resolved"}, headers=auth)
        assert 400 <= answer.status_code < 500, (path[:60], answer.text)


# --- abandoned temporary part files ----------------------------------------------------------


def test_sigkill_during_a_part_leaves_no_temporary_file_after_restart(tmp_path):
    server = start_server(tmp_path)
    support = server.client("support")
    started = support.get_attachment_upload_links(fileName="big.bin", fileSizeBytes=4 * MIB)
    url = urlsplit(started["uploadUrls"][0]["url"])
    sock = socket.create_connection((url.hostname, url.port))
    sock.sendall((f"PUT {url.path}?{url.query} HTTP/1.1\r\nHost: {url.netloc}\r\n"
                  f"Content-Length: {4 * MIB}\r\n\r\n").encode() + b"x" * (2 * MIB))
    attachments = server.data_dir / "attachments"
    deadline = time.monotonic() + 30
    while not list(attachments.rglob("*.part.tmp")) and time.monotonic() < deadline:
        time.sleep(0.05)
    temporary = list(attachments.rglob("*.part.tmp"))
    assert temporary, "the part was not being written"
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=30)
    sock.close()
    assert all(path.exists() for path in temporary)
    again = start_server(tmp_path)
    try:
        assert not list(attachments.rglob("*.part.tmp"))
        # The upload itself is intact: the part can be sent again.
        links = again.client("support").get_attachment_upload_links(
            fileName="big.bin", uploadId=started["uploadId"])
        answer = httpx.put(links["uploadUrls"][0]["url"], content=b"y" * 4 * MIB, timeout=60)
        assert answer.status_code == 200
    finally:
        again.stop()


# --- listing tokens are bound to their domain and filters ------------------------------------


def test_definition_listing_tokens_only_work_for_their_domain_and_filters(tight):
    key_id, secret = keys_of(tight.casework("keys", "create", "--account",
                                            "777700000012").stdout)
    cc = tight.client("connectcases", key=key_id, secret=secret)
    one, two = (cc.create_domain(name=f"tokens-{n}")["domainId"] for n in (1, 2))
    for domain in (one, two):
        for n in range(3):
            cc.create_template(domainId=domain, name=f"t{n}", status="Active")
            cc.create_layout(domainId=domain, name=f"l{n}", content={"basic": {}})
    field = cc.create_field(domainId=one, name="choice", type="SingleSelect")["fieldId"]
    other_field = cc.create_field(domainId=one, name="other", type="SingleSelect")["fieldId"]
    for f in (field, other_field):
        cc.batch_put_field_options(domainId=one, fieldId=f, options=[
            {"name": n, "value": n, "active": True} for n in ("a", "b", "c")])
    listings = [
        (cc.list_fields, {}, "fields"),
        (cc.list_templates, {}, "templates"),
        (cc.list_layouts, {}, "layouts"),
    ]
    for call, extra, key in listings:
        first = call(domainId=one, maxResults=1, **extra)
        token = first["nextToken"]
        assert call(domainId=one, maxResults=1, nextToken=token, **extra)[key]
        error = error_of(call, domainId=two, maxResults=1, nextToken=token, **extra)
        assert error["Error"]["Code"] == "ValidationException", key
    # Bound to the filters too: a token of the Active listing is not one of the Inactive.
    token = cc.list_templates(domainId=one, maxResults=1, status=["Active"])["nextToken"]
    error = error_of(cc.list_templates, domainId=one, maxResults=1, status=["Inactive"],
                     nextToken=token)
    assert error["Error"]["Code"] == "ValidationException"
    token = cc.list_field_options(domainId=one, fieldId=field, maxResults=1)["nextToken"]
    assert cc.list_field_options(domainId=one, fieldId=field, maxResults=1,
                                 nextToken=token)["options"]
    error = error_of(cc.list_field_options, domainId=one, fieldId=other_field, maxResults=1,
                     nextToken=token)
    assert error["Error"]["Code"] == "ValidationException"


def test_a_sealed_secret_moved_to_another_key_opens_for_neither(tight):
    """Sealing binds a secret to its key id: copying one key's sealed secret onto another key
    (by someone who can write the database but not read the master key) gains nothing."""
    victim_id, victim_secret = keys_of(tight.casework("keys", "create", "--account",
                                                      "777700000013").stdout)
    attacker_id, _ = keys_of(tight.casework("keys", "create", "--account",
                                            "777700000014").stdout)
    engine = create_engine(tight.database_url)
    with engine.begin() as conn:
        sealed = conn.scalar(text("SELECT secret_sealed FROM access_keys "
                                  "WHERE access_key_id = :k"), {"k": victim_id})
        conn.execute(text("UPDATE access_keys SET secret_sealed = :s WHERE access_key_id = :k"),
                     {"s": sealed, "k": attacker_id})
    engine.dispose()
    # The attacker's key has never been used, so the server has nothing of it cached.
    stolen = tight.client("support", key=attacker_id, secret=victim_secret)
    error = error_of(stolen.describe_services)
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (
        "UnrecognizedClientException", 400)
    assert tight.client("support", key=victim_id, secret=victim_secret).describe_services()


def test_connect_cases_history_names_the_keys_principal(tight):
    account = "777700000015"
    key_id, secret = keys_of(tight.casework("keys", "create", "--account", account,
                                            "--principal", "user/jane").stdout)
    cc = tight.client("connectcases", key=key_id, secret=secret)
    domain = cc.create_domain(name="who")["domainId"]
    template = cc.create_template(domainId=domain, name="t")["templateId"]
    case_id = cc.create_case(domainId=domain, templateId=template, fields=[
        {"id": "title", "value": {"stringValue": "c"}}])["caseId"]
    root_id, root_secret = keys_of(tight.casework("keys", "create", "--account",
                                                  account).stdout)
    root = tight.client("connectcases", key=root_id, secret=root_secret)
    root.update_case(domainId=domain, caseId=case_id, fields=[
        {"id": "title", "value": {"stringValue": "d"}}])
    events = root.get_case_audit_events(domainId=domain, caseId=case_id)["auditEvents"]
    assert [e["performedBy"]["iamPrincipalArn"] for e in events] == [
        f"arn:aws:iam::{account}:root", f"arn:aws:iam::{account}:user/jane"]
