"""POST /_casework/reset: refused unless --allow-reset; then every table starts again."""

from __future__ import annotations

import httpx
import pytest
from cases_helpers import new_case, new_domain, new_template
from conftest import error_of, start_server
from test_support_uploads import upload


def test_reset_is_refused_without_allow_reset(server, support):
    case_id = support.create_case(subject="kept", communicationBody="x")["caseId"]
    answer = httpx.post(f"{server.endpoint}/_casework/reset")
    assert answer.status_code == 403
    assert answer.json()["__type"] == "AccessDeniedException"
    assert "--allow-reset" in answer.json()["message"]
    assert support.describe_cases(caseIdList=[case_id])["cases"][0]["subject"] == "kept"


@pytest.fixture(scope="module")
def resettable(tmp_path_factory):
    running = start_server(tmp_path_factory.mktemp("reset"), "--allow-reset",
                           "--attachment-download-limit", "1")
    yield running
    running.stop()


def test_reset_forgets_every_case_domain_account_key_and_file(resettable):
    key, secret = resettable.new_account("470000000001")
    token = resettable.casework("agent", "token").stdout.strip()
    support = resettable.client("support")
    other = resettable.client("support", key=key, secret=secret)
    cc = resettable.client("connectcases")
    support.create_case(subject="before", communicationBody="x")
    other.create_case(subject="other account", communicationBody="y")
    cc.create_domain(name="before-reset")
    set_id = support.add_attachments_to_set(
        attachments=[{"fileName": "a.txt", "data": b"abc"}])["attachmentSetId"]
    with_file = support.create_case(subject="with files", communicationBody="z",
                                    attachmentSetId=set_id)["caseId"]
    attachment = support.describe_communications(caseId=with_file)[
        "communications"][0]["attachmentSet"][0]["attachmentId"]
    support.describe_attachment(attachmentId=attachment)  # uses the one allowed download
    upload_id = upload(support, "big.log", b"large file " * 1000)
    support.add_communication_to_case(caseId=with_file, communicationBody="big",
                                      uploadIds=[upload_id])
    assert list((resettable.data_dir / "attachments").glob("*"))
    resettable.casework("accounts", "set-plan", "000000000000", "basic")

    answer = httpx.post(f"{resettable.endpoint}/_casework/reset")
    assert answer.status_code == 200 and answer.json() == {"status": "reset"}

    assert support.describe_cases(includeResolvedCases=True)["cases"] == []
    assert cc.list_domains()["domains"] == []
    # Back to the plan the default account starts on (enterprise offers "critical").
    codes = [s["code"] for s in support.describe_severity_levels()["severityLevels"]]
    assert "critical" in codes
    assert error_of(other.describe_cases)["Error"]["Code"] == "UnrecognizedClientException"
    accounts = resettable.casework("accounts", "list").stdout.splitlines()
    assert [line.split("\t")[0] for line in accounts] == ["000000000000"]
    assert not list((resettable.data_dir / "attachments").glob("*"))
    # Counters start again: the download limit allows one more call (on a new attachment).
    set_id = support.add_attachments_to_set(
        attachments=[{"fileName": "b.txt", "data": b"def"}])["attachmentSetId"]
    case_id = support.create_case(subject="after", communicationBody="x",
                                  attachmentSetId=set_id)["caseId"]
    attachment = support.describe_communications(caseId=case_id)[
        "communications"][0]["attachmentSet"][0]["attachmentId"]
    assert support.describe_attachment(attachmentId=attachment)["attachment"]["data"] == b"def"
    # The operator token survives a reset.
    assert resettable.casework("agent", "token").stdout.strip() == token


def test_search_after_a_reset_finds_only_the_new_cases(resettable):
    cc = resettable.client("connectcases")
    domain = new_domain(cc)
    new_case(cc, domain, new_template(cc, domain), title="Parcel lost before the reset")
    assert httpx.post(f"{resettable.endpoint}/_casework/reset").status_code == 200

    domain = new_domain(cc)
    case_id = new_case(cc, domain, new_template(cc, domain), title="Parcel late after the reset")
    found = cc.search_cases(domainId=domain, searchTerm="parcel")
    assert [case["caseId"] for case in found["cases"]] == [case_id]
    assert found["totalCount"] == 1
    assert cc.search_cases(domainId=domain, searchTerm="lost")["cases"] == []
