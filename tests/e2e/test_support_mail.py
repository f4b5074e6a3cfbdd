"""E-mail of AWS Support communications, received by a real SMTP server on loopback.

The customer works through boto3, the agent through the support-side API; every message is
checked as the SMTP server received it: envelope recipients, headers, threading and body.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from botocore.exceptions import ClientError
from conftest import free_port, start_server
from mail_helpers import DEADLINE, Inbox, self_signed
from test_support_agent import Agent

ACCOUNT = "460000000001"
OWNER = "owner@acme.test"
FROM = "Casework Support <support@casework.test>"


def smtp_args(inbox: Inbox, *extra: str) -> tuple[str, ...]:
    return ("--smtp-host", "127.0.0.1", "--smtp-port", str(inbox.port), "--mail-from", FROM,
            *extra)


def customer_of(server, account: str = ACCOUNT, email: str = OWNER):
    """A boto3 support client of ``account`` (created with ``email``), signing as a role."""
    out = server.casework("keys", "create", "--account", account, "--email", email,
                          "--principal", "role/AdminRole").stdout
    values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return server.client("support", key=values["AWS_ACCESS_KEY_ID"],
                         secret=values["AWS_SECRET_ACCESS_KEY"])


def display_id(support, case_id: str) -> str:
    return support.describe_cases(caseIdList=[case_id],
                                  includeResolvedCases=True)["cases"][0]["displayId"]


def mail_states(agent: Agent, case_id: str) -> list:
    """Each communication's mail delivery (None where nothing was mailed), oldest first."""
    answer = agent.case(case_id)
    assert answer.status_code == 200, answer.text
    return [c.get("mail") for c in answer.json()["communications"]]


def wait_for_states(agent: Agent, case_id: str, done, timeout: float = DEADLINE) -> list:
    """The case's mail states once ``done(states)`` holds (polled)."""
    deadline = time.monotonic() + timeout
    while True:
        states = mail_states(agent, case_id)
        if done(states):
            return states
        if time.monotonic() > deadline:
            raise AssertionError(f"mail states never reached the condition: {states}")
        time.sleep(0.1)


def outbox_rows(server, case_id: str | None = None) -> list[str]:
    """``casework events list`` lines (of ``case_id`` only, if given)."""
    lines = server.casework("events", "list").stdout.splitlines()
    return [line for line in lines if case_id is None or case_id in line]


@pytest.fixture(scope="module")
def inbox():
    box = Inbox(refuse={"gone@acme.test"}).start()
    yield box
    box.stop()


@pytest.fixture(scope="module")
def mail_server(tmp_path_factory, inbox):
    running = start_server(tmp_path_factory.mktemp("mail"), *smtp_args(inbox))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def customer(mail_server):
    return customer_of(mail_server)


@pytest.fixture(scope="module")
def agent(mail_server):
    return Agent(mail_server)


def test_every_communication_is_mailed_threaded_to_the_cc_line(customer, agent, inbox):
    attachments = customer.add_attachments_to_set(attachments=[
        {"fileName": "trace.log", "data": b"slow query"},
        {"fileName": "plan.txt", "data": b"seq scan"}])["attachmentSetId"]
    case_id = customer.create_case(
        subject="Database is slow", communicationBody="Queries take 10 s.",
        ccEmailAddresses=["ops@acme.test", "Lead <lead@acme.test>"],
        attachmentSetId=attachments)["caseId"]
    number = display_id(customer, case_id)
    [opened] = inbox.of_case(number, 1)
    root = f"<{case_id}@casework.test>"
    assert opened.mail_from == "support@casework.test"
    assert opened.rcpt_tos == ["ops@acme.test", "lead@acme.test"]
    message = opened.message
    assert message["From"] == FROM
    assert message["To"] == "ops@acme.test, lead@acme.test" and message["Cc"] is None
    assert message["Subject"] == f"[Case {number}] Database is slow"
    assert message["Message-ID"] == root
    assert message["In-Reply-To"] is None and message["References"] is None
    assert message.get_content_type() == "text/plain"
    assert opened.body.startswith("AdminRole (Role) <owner@acme.test> wrote on ")
    assert "Queries take 10 s." in opened.body
    assert "Attachments (2):\n  - trace.log\n  - plan.txt\n" in opened.body
    assert f"Case ID: {case_id}" in opened.body

    # The customer's reply: the case's CC line plus the reply's own.
    customer.add_communication_to_case(caseId=case_id, communicationBody="CPU is at 100%.",
                                       ccEmailAddresses=["dba@acme.test", "OPS@acme.test"])
    [_, reply] = inbox.of_case(number, 2)
    assert reply.rcpt_tos == ["ops@acme.test", "lead@acme.test", "dba@acme.test"]
    assert reply.message["Subject"] == f"Re: [Case {number}] Database is slow"
    reply_id = reply.message["Message-ID"]
    assert reply_id.startswith(f"<{case_id}.") and reply_id.endswith("@casework.test>")
    assert reply.message["In-Reply-To"] == root and reply.message["References"] == root
    assert "CPU is at 100%." in reply.body and "Attachments" not in reply.body

    # The agent's answer goes to the account's e-mail too, the CC line copied.
    assert agent.reply(case_id, "We are looking into it.").status_code == 200
    [_, _, answer] = inbox.of_case(number, 3)
    assert answer.rcpt_tos == [OWNER, "ops@acme.test", "lead@acme.test"]
    assert answer.message["To"] == OWNER
    assert answer.message["Cc"] == "ops@acme.test, lead@acme.test"
    assert answer.message["Subject"] == f"Re: [Case {number}] Database is slow"
    assert answer.message["In-Reply-To"] == reply_id
    assert answer.message["References"] == f"{root} {reply_id}"
    assert answer.body.startswith("Amazon Web Services wrote on ")
    assert "We are looking into it." in answer.body
    assert len({m.message["Message-ID"] for m in inbox.of_case(number, 3)}) == 3

    # The support side sees each communication's delivery.
    states = wait_for_states(agent, case_id, lambda s: all(
        state and state["status"] == "delivered" for state in s))
    assert [s["messageId"] for s in states] == [root, reply_id, answer.message["Message-ID"]]
    assert all(s["attempts"] == 1 and "deliveredAt" in s and "lastError" not in s
               for s in states)
    assert states[2]["to"] == [OWNER] and states[2]["cc"] == ["ops@acme.test", "lead@acme.test"]


def test_a_case_nobody_is_copied_on_is_mailed_only_for_agent_replies(customer, agent, inbox,
                                                                     mail_server):
    case_id = customer.create_case(subject="Quiet", communicationBody="No one copied.")["caseId"]
    customer.add_communication_to_case(caseId=case_id, communicationBody="Still no one.")
    assert outbox_rows(mail_server, case_id) == []
    assert mail_states(agent, case_id) == [None, None]
    assert agent.reply(case_id, "Answer to the owner.").status_code == 200
    [answer] = inbox.of_case(display_id(customer, case_id), 1)
    assert answer.rcpt_tos == [OWNER] and answer.message["Cc"] is None


def test_addresses_mail_cannot_go_to_are_left_out(customer, inbox):
    case_id = customer.create_case(subject="Odd CC line", communicationBody="hi",
                                   ccEmailAddresses=["not-an-address", "a@b.test, c@d.test",
                                                     "x@y.test\r\nBcc: z@y.test",
                                                     "jörg@exämple.test", "fine@acme.test"])[
        "caseId"]
    [message] = inbox.of_case(display_id(customer, case_id), 1)
    assert message.rcpt_tos == ["fine@acme.test"]
    assert message.message["Bcc"] is None


def test_text_beyond_ascii_arrives_intact(customer, inbox):
    body = "Requêtes très lentes — 日本語も。\n" + "é" * 2000  # a line longer than SMTP's 998
    case_id = customer.create_case(subject="Base de données lente\nvraiment",
                                   communicationBody=body,
                                   ccEmailAddresses=["intl@acme.test"])["caseId"]
    [message] = inbox.of_case(display_id(customer, case_id), 1)
    assert message.message["Subject"].endswith("] Base de données lente vraiment")
    assert body in message.body
    assert message.message["Content-Transfer-Encoding"] == "quoted-printable"


def test_dry_runs_mail_nothing(customer, mail_server, inbox):
    for call, params in (
            (customer.create_case, {"subject": "Dry", "communicationBody": "dry",
                                    "ccEmailAddresses": ["dry@acme.test"]}),):
        with pytest.raises(ClientError) as raised:
            call(dryRun=True, **params)
        assert raised.value.response["Error"]["Code"] == "DryRunOperationException"
    case_id = customer.create_case(subject="Wet", communicationBody="wet",
                                   ccEmailAddresses=["wet@acme.test"])["caseId"]
    with pytest.raises(ClientError) as raised:
        customer.add_communication_to_case(caseId=case_id, communicationBody="dry reply",
                                           ccEmailAddresses=["dry@acme.test"], dryRun=True)
    assert raised.value.response["Error"]["Code"] == "DryRunOperationException"
    inbox.of_case(display_id(customer, case_id), 1)
    assert len(outbox_rows(mail_server, case_id)) == 1
    assert not any("dry@acme.test" in r for m in inbox.received for r in m.rcpt_tos)


def test_a_refused_message_is_dead_at_once_and_shown_failed(customer, agent, inbox):
    case_id = customer.create_case(subject="Bounce", communicationBody="hi",
                                   ccEmailAddresses=["gone@acme.test"])["caseId"]
    [state] = wait_for_states(agent, case_id, lambda s: s[0] and s[0]["status"] == "dead")
    assert state["attempts"] == 1 and "550" in state["lastError"]
    assert "nextAttemptAt" not in state and "deliveredAt" not in state


def test_no_mail_without_smtp_settings(server):
    support = customer_of(server, "460000000002", "quiet@acme.test")
    case_id = support.create_case(subject="No SMTP", communicationBody="hi",
                                  ccEmailAddresses=["ops@acme.test"])["caseId"]
    support.add_communication_to_case(caseId=case_id, communicationBody="again",
                                      ccEmailAddresses=["ops@acme.test"])
    agent = Agent(server)
    assert agent.reply(case_id, "answer").status_code == 200
    assert mail_states(agent, case_id) == [None, None, None]
    assert outbox_rows(server, case_id) == []


def test_mail_waits_for_a_server_that_is_down(tmp_path):
    inbox = Inbox()  # its port has no listener until start()
    server = start_server(tmp_path, *smtp_args(inbox))
    try:
        support, agent = customer_of(server), Agent(server)
        case_id = support.create_case(subject="Down", communicationBody="hi",
                                      ccEmailAddresses=["ops@acme.test"])["caseId"]
        [state] = wait_for_states(agent, case_id, lambda s: s[0]["attempts"] >= 1)
        assert state["status"] == "pending" and state["lastError"]
        assert "nextAttemptAt" in state
        inbox.start()
        [message] = inbox.of_case(display_id(support, case_id), 1)
        assert message.rcpt_tos == ["ops@acme.test"]
        [state] = wait_for_states(agent, case_id, lambda s: s[0]["status"] == "delivered")
        assert state["attempts"] >= 2
    finally:
        server.stop()
        inbox.stop()


def test_one_connection_carries_many_messages_and_a_closed_one_is_replaced(tmp_path):
    inbox = Inbox().start()
    server = start_server(tmp_path, *smtp_args(inbox))
    try:
        support, agent = customer_of(server), Agent(server)
        case_id = support.create_case(subject="Chatty", communicationBody="one",
                                      ccEmailAddresses=["ops@acme.test"])["caseId"]
        number = display_id(support, case_id)
        inbox.of_case(number, 1)
        for n in range(3):
            support.add_communication_to_case(caseId=case_id, communicationBody=f"more {n}")
            inbox.of_case(number, 2 + n)  # one after the other: the connection is kept
        assert len({m.peer for m in inbox.received}) == 1
        # The SMTP server restarts, closing the kept connection: the next message takes a
        # new one, and that is not a failed attempt.
        inbox.stop()
        again = Inbox(inbox.port).start()
        try:
            support.add_communication_to_case(caseId=case_id, communicationBody="after")
            again.of_case(number, 1)
            states = wait_for_states(agent, case_id, lambda s: all(
                state["status"] == "delivered" for state in s))
            assert [state["attempts"] for state in states] == [1] * 5
        finally:
            again.stop()
    finally:
        server.stop()
        inbox.stop()


def test_mail_pending_when_the_server_is_killed_arrives_after_restart(tmp_path):
    inbox = Inbox()
    first = start_server(tmp_path, *smtp_args(inbox))
    expected: dict[str, int] = {}
    try:
        support, agent = customer_of(first), Agent(first)
        for n in range(3):
            case_id = support.create_case(subject=f"Killed {n}", communicationBody="hi",
                                          ccEmailAddresses=[f"cc{n}@acme.test"])["caseId"]
            support.add_communication_to_case(caseId=case_id, communicationBody="more")
            assert agent.reply(case_id, "answer").status_code == 200
            expected[display_id(support, case_id)] = 3
    finally:
        first.process.kill()  # SIGKILL: no shutdown, mail still pending
        first.process.wait(timeout=30)
    inbox.start()
    second = start_server(tmp_path, *smtp_args(inbox))
    try:
        for number, count in expected.items():
            received = inbox.of_case(number, count)
            assert len({m.message["Message-ID"] for m in received}) == count
        assert len(inbox.received) == 9
    finally:
        second.stop()
        inbox.stop()


def test_a_message_is_dead_after_the_last_attempt(tmp_path):
    inbox = Inbox()  # never started
    server = start_server(tmp_path, *smtp_args(inbox, "--event-max-attempts", "2"))
    try:
        support, agent = customer_of(server), Agent(server)
        case_id = support.create_case(subject="Never", communicationBody="hi",
                                      ccEmailAddresses=["ops@acme.test"])["caseId"]
        [state] = wait_for_states(agent, case_id, lambda s: s[0]["status"] == "dead")
        assert state["attempts"] == 2 and state["lastError"]
        assert any(case_id in line and "\tdead\t" in line for line in outbox_rows(server))
    finally:
        server.stop()


def test_tls_from_the_first_byte_with_a_trusted_certificate(tmp_path):
    context, certificate = self_signed(tmp_path)
    inbox = Inbox(tls=context).start()
    server = start_server(tmp_path, *smtp_args(inbox, "--smtp-tls", "--smtp-ca-file",
                                               str(certificate)))
    try:
        support = customer_of(server)
        case_id = support.create_case(subject="Over TLS", communicationBody="hi",
                                      ccEmailAddresses=["ops@acme.test"])["caseId"]
        [message] = inbox.of_case(display_id(support, case_id), 1)
        assert message.rcpt_tos == ["ops@acme.test"]
    finally:
        server.stop()
        inbox.stop()


def test_starttls_and_login(tmp_path):
    context, certificate = self_signed(tmp_path)
    inbox = Inbox(starttls=context, users={"mailer": "s3cret pass"}).start()
    server = start_server(tmp_path, *smtp_args(inbox, "--smtp-starttls", "--smtp-user", "mailer",
                                               "--smtp-ca-file", str(certificate)),
                          env={"CASEWORK_SMTP_PASSWORD": "s3cret pass"})
    try:
        support = customer_of(server)
        case_id = support.create_case(subject="STARTTLS", communicationBody="hi",
                                      ccEmailAddresses=["ops@acme.test"])["caseId"]
        [message] = inbox.of_case(display_id(support, case_id), 1)
        assert message.user == "mailer"
    finally:
        server.stop()
        inbox.stop()


def test_an_untrusted_certificate_is_not_sent_to(tmp_path):
    context, _ = self_signed(tmp_path)
    inbox = Inbox(tls=context).start()
    server = start_server(tmp_path, *smtp_args(inbox, "--smtp-tls"))
    try:
        support, agent = customer_of(server), Agent(server)
        case_id = support.create_case(subject="Untrusted", communicationBody="hi",
                                      ccEmailAddresses=["ops@acme.test"])["caseId"]
        [state] = wait_for_states(agent, case_id, lambda s: s[0]["attempts"] >= 1)
        assert state["status"] == "pending" and "certificate" in state["lastError"].lower()
        assert inbox.received == []
    finally:
        server.stop()
        inbox.stop()


@pytest.mark.parametrize(("args", "env", "message"), [
    (["--smtp-host", "mail.test", "--smtp-tls", "--smtp-starttls"], {},
     "--smtp-tls: choose one of --smtp-starttls"),
    (["--smtp-host", "mail.test", "--smtp-user", "mailer"], {},
     "--smtp-user: needs the password in CASEWORK_SMTP_PASSWORD"),
    (["--smtp-host", "mail.test"], {"CASEWORK_SMTP_PASSWORD": "pw"},
     "CASEWORK_SMTP_PASSWORD: is set but --smtp-user is not"),
    (["--smtp-host", "mail.test", "--mail-from", "nobody"], {},
     "--mail-from: 'nobody' is not an e-mail address"),
    (["--mail-from", "a@b.test"], {}, "--mail-from: has no effect without --smtp-host"),
    (["--smtp-tls"], {}, "--smtp-tls: has no effect without --smtp-host"),
    (["--smtp-host", "mail.test", "--smtp-port", "70000"], {}, "70000 is not in the range"),
    (["--smtp-host", "mail.test", "--smtp-ca-file", "CERT"], {},
     "--smtp-ca-file: needs --smtp-starttls or --smtp-tls"),
    (["--smtp-host", "mail.test", "--smtp-tls", "--smtp-ca-file", "CERT"], {},
     "--smtp-ca-file: cannot load"),
])
def test_mail_settings_that_cannot_work_stop_the_start(tmp_path, args, env, message):
    junk = tmp_path / "not-a-certificate.pem"
    junk.write_text("not a certificate")
    args = [str(junk) if arg == "CERT" else arg for arg in args]
    done = subprocess.run(
        [sys.executable, "-m", "casework", "serve", "--port", str(free_port()),
         "--data-dir", str(tmp_path / "data"), *args],
        capture_output=True, text=True, timeout=60,
        env={**_clean_env(), **env})
    assert done.returncode != 0
    assert message in done.stderr, done.stderr


def _clean_env() -> dict:
    return {k: v for k, v in os.environ.items()
            if not k.startswith("CASEWORK_SMTP") and k != "CASEWORK_MAIL_FROM"}
