"""The support side of a case: the agent API and the status moves it and customers cause."""

from __future__ import annotations

import time

import httpx
import pytest
from botocore.exceptions import ClientError
from conftest import start_server


class Agent:
    """A support agent talking to ``/_casework/support/`` with the operator token."""

    def __init__(self, server, token: str | None = None):
        self.base = f"{server.endpoint}/_casework/support/cases"
        self.token = token or server.casework("agent", "token").stdout.strip()

    def _headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def case(self, case_id: str) -> httpx.Response:
        return httpx.get(f"{self.base}/{case_id}", headers=self._headers())

    def reply(self, case_id: str, body: str, **extra) -> httpx.Response:
        return httpx.post(f"{self.base}/{case_id}/communications", headers=self._headers(),
                          json={"body": body, **extra})

    def status(self, case_id: str, status) -> httpx.Response:
        return httpx.post(f"{self.base}/{case_id}/status", headers=self._headers(),
                          json={"status": status})


@pytest.fixture(scope="module")
def agent(server):
    return Agent(server)


def new_case(support) -> str:
    return support.create_case(subject="Agent side", communicationBody="help")["caseId"]


def status_of(support, case_id: str) -> str:
    return support.describe_cases(caseIdList=[case_id],
                                  includeResolvedCases=True)["cases"][0]["status"]


def test_the_agent_api_needs_the_operator_token(server, agent):
    case_id = new_case(server.client("support"))
    url = f"{agent.base}/{case_id}"
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": agent.token},
                    {"Authorization": "Basic dGVzdDp0ZXN0"}):
        answer = httpx.get(url, headers=headers)
        assert answer.status_code == 401
        assert answer.json()["__type"] == "UnrecognizedClientException"
        answer = httpx.post(url + "/status", headers=headers, json={"status": "resolved"})
        assert answer.status_code == 401
    assert agent.case(case_id).status_code == 200
    # The token is stable until rotated.
    assert server.casework("agent", "token").stdout.strip() == agent.token


def test_the_agent_sees_every_accounts_cases(server, agent):
    key, secret = server.new_account("450000000001")
    case_id = new_case(server.client("support", key=key, secret=secret))
    found = agent.case(case_id).json()
    assert found["caseId"] == case_id and found["accountId"] == "450000000001"
    assert found["status"] == "opened" and found["severityCode"] == "low"
    assert found["issueType"] == "technical" and "timeResolved" not in found
    missing = agent.case("case-000000000000-muen-2026-0000000000000000")
    assert missing.status_code == 404 and missing.json()["__type"] == "CaseIdNotFound"


def test_the_case_life_cycle_between_agent_and_customer(support, agent):
    case_id = new_case(support)
    picked = agent.status(case_id, "work-in-progress").json()
    assert picked == {"caseId": case_id, "previousStatus": "opened", "status": "work-in-progress"}
    assert status_of(support, case_id) == "work-in-progress"
    # The customer writing while AWS works on it changes nothing.
    support.add_communication_to_case(caseId=case_id, communicationBody="more detail")
    assert status_of(support, case_id) == "work-in-progress"
    asked = agent.reply(case_id, "Which instance id?")
    assert asked.status_code == 200 and asked.json()["status"] == "pending-customer-action"
    comms = support.describe_communications(caseId=case_id)["communications"]
    assert comms[0]["body"] == "Which instance id?"
    assert comms[0]["submittedBy"] == "Amazon Web Services"
    assert comms[0]["attachmentSet"] == []
    support.add_communication_to_case(caseId=case_id, communicationBody="i-0123456789")
    assert status_of(support, case_id) == "customer-action-completed"
    agent.reply(case_id, "Looking at it.", status="work-in-progress")
    assert status_of(support, case_id) == "work-in-progress"
    agent.reply(case_id, "Fixed; resolving.", status="resolved")
    assert status_of(support, case_id) == "resolved"
    assert "timeResolved" in agent.case(case_id).json()
    # Within the reopen window a customer reply reopens the case.
    support.add_communication_to_case(caseId=case_id, communicationBody="It broke again")
    assert status_of(support, case_id) == "reopened"
    assert "timeResolved" not in agent.case(case_id).json()


def test_the_agent_api_refuses_bad_requests(support, agent):
    case_id = new_case(support)
    for answer in (agent.status(case_id, "opened"), agent.status(case_id, None),
                   agent.reply(case_id, "hi", status="all-open")):
        assert answer.status_code == 400 and answer.json()["__type"] == "ValidationException"
    for body in ("", "x" * 8001):
        answer = agent.reply(case_id, body)
        assert answer.status_code == 400 and "1 to 8000" in answer.json()["message"]
    answer = httpx.post(f"{agent.base}/{case_id}/status", content=b"not json",
                        headers=agent._headers())
    assert answer.status_code == 400 and answer.json()["__type"] == "SerializationException"
    answer = agent.reply(case_id, "before\x00after")  # no database can hold it
    assert answer.status_code == 400 and answer.json()["__type"] == "ValidationException"
    assert status_of(support, case_id) == "opened"


def test_rotating_the_token_locks_out_the_old_one(tmp_path):
    server = start_server(tmp_path)
    try:
        old = Agent(server)
        case_id = new_case(server.client("support"))
        assert old.case(case_id).status_code == 200
        new = server.casework("agent", "token", "--rotate").stdout.strip()
        assert new != old.token
        assert old.case(case_id).status_code == 401
        assert Agent(server, new).case(case_id).status_code == 200
    finally:
        server.stop()


def test_resolved_cases_cannot_be_reopened_after_the_window(tmp_path):
    server = start_server(tmp_path, "--reopen-window", "1")
    try:
        support = server.client("support")
        case_id = new_case(support)
        support.resolve_case(caseId=case_id)
        time.sleep(1.2)
        with pytest.raises(ClientError) as caught:
            support.add_communication_to_case(caseId=case_id, communicationBody="again")
        error = caught.value.response
        assert error["Error"]["Code"] == "InvalidParameterValueException"
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert error["Error"]["Message"] == (
            f"Case {case_id} was resolved more than 1 second ago and can no longer be "
            "reopened. Create a new case and mention this case ID in it.")
        assert status_of(support, case_id) == "resolved"
        comms = support.describe_communications(caseId=case_id)["communications"]
        assert [c["body"] for c in comms] == ["help"]
        # Still resolvable (a no-op) and still readable.
        assert support.resolve_case(caseId=case_id)["initialCaseStatus"] == "resolved"
    finally:
        server.stop()



def listing(agent, **params) -> httpx.Response:
    return httpx.get(agent.base, headers=agent._headers(), params=params)


def test_the_agent_lists_cases_by_status_account_and_time_in_pages(server, agent):
    key, secret = server.new_account("450000000002")
    customer = server.client("support", key=key, secret=secret)
    first, second, third = (new_case(customer) for _ in range(3))
    agent.status(second, "resolved")
    agent.status(third, "work-in-progress")

    everything = listing(agent, account="450000000002").json()
    assert [c["caseId"] for c in everything["cases"]] == [third, second, first]
    assert "nextToken" not in everything
    assert everything["cases"][0]["accountId"] == "450000000002"
    assert "communications" not in everything["cases"][0]  # summaries; the case has the thread

    waiting = listing(agent, account="450000000002", status=["opened", "work-in-progress"])
    assert [c["caseId"] for c in waiting.json()["cases"]] == [third, first]
    since = agent.case(second).json()["timeCreated"]
    recent = listing(agent, account="450000000002", since=since).json()
    assert [c["caseId"] for c in recent["cases"]] == [third, second]

    page = listing(agent, account="450000000002", limit=2).json()
    assert [c["caseId"] for c in page["cases"]] == [third, second]
    rest = listing(agent, account="450000000002", limit=2, nextToken=page["nextToken"]).json()
    assert [c["caseId"] for c in rest["cases"]] == [first] and "nextToken" not in rest
    # A token continues only the listing that issued it.
    other = listing(agent, account="450000000002", limit=2, status="opened",
                    nextToken=page["nextToken"])
    assert other.status_code == 400 and other.json()["__type"] == "ValidationException"
    # Without filters the agent sees every account's cases, newest first.
    newest = listing(agent, limit=1).json()["cases"]
    assert [c["caseId"] for c in newest] == [third]


def test_the_case_list_refuses_bad_filters_and_strangers(agent):
    for params in ({"status": "all-open"}, {"account": "12345"}, {"since": "yesterday"},
                   {"limit": "0"}, {"limit": "101"}, {"limit": "ten"}, {"limit": "\u00b2"},
                   {"limit": "0" * 5000 + "1"}, {"nextToken": "forged"}):
        answer = listing(agent, **params)
        assert answer.status_code == 400, params
        assert answer.json()["__type"] == "ValidationException", params
    assert httpx.get(agent.base).status_code == 401


def test_a_fetched_case_holds_its_whole_thread_oldest_first(server, support, agent):
    set_id = support.add_attachments_to_set(
        attachments=[{"fileName": "trace.txt", "data": b"trace"}])["attachmentSetId"]
    case_id = support.create_case(subject="Thread", communicationBody="first",
                                  ccEmailAddresses=["ops@example.com"],
                                  attachmentSetId=set_id)["caseId"]
    agent.reply(case_id, "second")
    for n in range(3, 8):  # more than the five DescribeCases shows
        support.add_communication_to_case(caseId=case_id, communicationBody=f"message {n}")
    thread = agent.case(case_id).json()["communications"]
    assert [c["body"] for c in thread] == ["first", "second", *(f"message {n}"
                                                                 for n in range(3, 8))]
    # The customer's first message, as the customer's own API shows it (oldest last there).
    assert thread[0]["submittedBy"] == support.describe_communications(
        caseId=case_id)["communications"][-1]["submittedBy"]
    assert thread[0]["ccEmailAddresses"] == ["ops@example.com"]
    assert [a["fileName"] for a in thread[0]["attachmentSet"]] == ["trace.txt"]
    assert thread[1]["submittedBy"] == "Amazon Web Services" and thread[1]["attachmentSet"] == []
    assert thread[0]["timeCreated"] <= thread[-1]["timeCreated"]
