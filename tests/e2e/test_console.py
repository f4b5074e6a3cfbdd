"""The agent console: an agent works AWS Support cases in a browser while a customer uses boto3.

Chromium (Debian's, headless) is driven by Playwright; screenshots of each step are written to
test-artifacts/console/.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from conftest import start_server
from console_helpers import CHROMIUM, PASSWORD, create_agent, screenshot, sign_in
from mail_helpers import Inbox
from playwright.sync_api import expect, sync_playwright
from test_support_agent import Agent
from test_support_mail import wait_for_states

# An open case page asks for news every 5 s: waits for what it shows get a generous deadline,
# well past one poll on a loaded machine (Playwright's default is 5 s).
expect.set_options(timeout=30_000)

CUSTOMER_ACCOUNT = "000000000000"  # the default test/test key's account
OTHER_ACCOUNT = "731500000002"
WAIT_MS = 30_000


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(WAIT_MS)
    opened = context.new_page()
    yield opened
    context.close()


def test_console_answers_with_the_sign_in_page_or_a_redirect_to_it(server):
    answer = httpx.get(f"{server.endpoint}/console")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/sign-in"
    answer = httpx.get(f"{server.endpoint}/console/support?status=opened")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/console/sign-in?next=")
    answer = httpx.get(f"{server.endpoint}/console/sign-in")
    assert answer.status_code == 200
    assert 'name="csrf_token"' in answer.text
    assert "default-src 'self'" in answer.headers["content-security-policy"]


def test_an_agent_works_a_case_end_to_end_while_the_customer_uses_boto3(server, support, page):
    subject = f"Instances unreachable {uuid.uuid4().hex[:8]}"
    case_id = support.create_case(
        subject=subject, communicationBody="Our instances stopped answering.",
        serviceCode="amazon-elastic-compute-cloud-linux", severityCode="high",
        categoryCode="instance-issue", ccEmailAddresses=["ops@example.com"])["caseId"]
    email = create_agent(server, "--accounts", CUSTOMER_ACCOUNT)

    sign_in(page, server, email)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    screenshot(page, "01-overview")
    # The sign-in cookie is HttpOnly and SameSite=Lax (not Secure: this is plain http).
    cookie = next(c for c in page.context.cookies() if c["name"] == "casework_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"]

    page.get_by_role("link", name="AWS Support").click()
    page.get_by_label("Search").fill(subject)
    page.get_by_label("Status").select_option("opened")
    page.get_by_role("button", name="Apply").click()
    rows = page.locator("table.queue tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(subject)
    page.get_by_label("Search").fill("")
    page.get_by_role("button", name="Apply").click()
    screenshot(page, "02-queue")
    page.get_by_label("Search").fill(subject)
    page.get_by_role("button", name="Apply").click()
    page.locator("table.queue tbody tr").first.get_by_role("link").click()

    expect(page.get_by_role("heading", name=subject)).to_be_visible()
    expect(page.locator("#cc-list")).to_have_text("ops@example.com")
    expect(page.locator("#thread")).to_contain_text("Our instances stopped answering.")
    page.get_by_label("Message").fill("We restarted the host. Logs attached.")
    page.get_by_label(re.compile("^Attachments")).set_input_files(
        files=[{"name": "host.log", "mimeType": "text/plain", "buffer": b"host log\n"}])
    page.get_by_label("Then set the status to").select_option("pending-customer-action")
    page.get_by_role("button", name="Send reply").click()
    expect(page.locator("#thread")).to_contain_text("We restarted the host.")
    expect(page.locator("#case-status")).to_have_text("pending-customer-action")

    # boto3 sees the reply, its attachment and the status.
    newest = support.describe_communications(caseId=case_id)["communications"][0]
    assert newest["submittedBy"] == "Amazon Web Services"
    assert newest["body"] == "We restarted the host. Logs attached."
    assert [a["fileName"] for a in newest["attachmentSet"]] == ["host.log"]
    attachment = support.describe_attachment(
        attachmentId=newest["attachmentSet"][0]["attachmentId"])["attachment"]
    assert attachment == {"fileName": "host.log", "data": b"host log\n"}
    case = support.describe_cases(caseIdList=[case_id])["cases"][0]
    assert case["status"] == "pending-customer-action"

    # The agent downloads the attachment from the thread.
    with page.expect_download() as download:
        page.get_by_role("link", name="host.log").click()
    assert download.value.suggested_filename == "host.log"
    assert download.value.path().read_bytes() == b"host log\n"

    # The customer answers through boto3: the open page shows it, and the new status, unasked.
    support.add_communication_to_case(caseId=case_id,
                                      communicationBody="Thanks, they answer again.")
    expect(page.locator("#thread")).to_contain_text("Thanks, they answer again.")
    expect(page.locator("#case-status")).to_have_text("customer-action-completed")
    screenshot(page, "03-case")

    # The agent resolves the case.
    page.get_by_label("Status", exact=True).select_option("resolved")
    page.get_by_role("button", name="Set status").click()
    expect(page.locator("#case-status")).to_have_text("resolved")
    assert support.describe_cases(caseIdList=[case_id], includeResolvedCases=True)[
        "cases"][0]["status"] == "resolved"

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(f"{server.endpoint}/console/support")
    expect(page).to_have_url(re.compile(r"/console/sign-in"))


def test_addresses_without_a_page_get_a_console_page_not_plain_text(server):
    for path in ("/console/no-such-page", "/console/static/no-such-file.css"):
        answer = httpx.get(f"{server.endpoint}{path}")
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("text/html")
        assert "There is no page at this address." in answer.text
    answer = httpx.put(f"{server.endpoint}/console/sign-in")
    assert answer.status_code == 405 and "GET" in answer.headers["allow"].split(", ")
    assert "This page does not take PUT requests." in answer.text
    # A trailing slash is dropped by a redirect to the path alone, whatever Host says.
    answer = httpx.get(f"{server.endpoint}/console/sign-in/?next=%2Fconsole%2Fsupport",
                       headers={"Host": "evil.test"})
    assert answer.status_code == 307
    assert answer.headers["location"] == "/console/sign-in?next=%2Fconsole%2Fsupport"


def test_forms_without_the_csrf_token_or_from_another_origin_are_refused(server, support, page):
    case_id = support.create_case(subject="CSRF target", communicationBody="x")["caseId"]
    sign_in(page, server, create_agent(server, "--accounts", CUSTOMER_ACCOUNT))
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    page.goto(f"{server.endpoint}/console/support/cases/{case_id}")
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    url = f"{server.endpoint}/console/support/cases/{case_id}/status"
    # The browser's cookie goes along; the token does not.
    refused = page.request.post(url, form={"status": "resolved"}, max_redirects=0)
    assert refused.status == 403
    refused = page.request.post(url, form={"status": "resolved", "csrf_token": "forged"},
                                max_redirects=0)
    assert refused.status == 403
    # The right token from a page of another site.
    refused = page.request.post(url, form={"status": "resolved", "csrf_token": token},
                                headers={"Origin": "https://evil.example"}, max_redirects=0)
    assert refused.status == 403
    assert support.describe_cases(caseIdList=[case_id])["cases"][0]["status"] == "opened"
    # The same request from the console's own origin is done.
    done = page.request.post(url, form={"status": "work-in-progress", "csrf_token": token},
                             headers={"Origin": server.endpoint}, max_redirects=0)
    assert done.status == 303
    assert support.describe_cases(caseIdList=[case_id])["cases"][0]["status"] == \
        "work-in-progress"
    # Sign-in itself carries a token too.
    refused = httpx.post(f"{server.endpoint}/console/sign-in",
                         data={"email": "a@example.com", "password": "x"})
    assert refused.status_code == 403


def test_an_agent_sees_only_the_accounts_granted(server, support, page):
    key, secret = server.new_account(OTHER_ACCOUNT)
    other = server.client("support", key=key, secret=secret)
    hidden = other.create_case(subject=f"Other account {uuid.uuid4().hex[:6]}",
                               communicationBody="secret")["caseId"]
    sign_in(page, server, create_agent(server, "--accounts", CUSTOMER_ACCOUNT))
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    answer = page.goto(f"{server.endpoint}/console/support/cases/{hidden}")
    assert answer.status == 404
    answer = page.goto(f"{server.endpoint}/console/support?account={OTHER_ACCOUNT}")
    assert answer.status == 403
    page.goto(f"{server.endpoint}/console/support?q=Other+account")
    expect(page.locator("body")).not_to_contain_text("Other account")
    expect(page.locator("#account option")).to_have_text(["All granted", CUSTOMER_ACCOUNT])
    # Nor the domains of Connect Cases.
    cc = server.client("connectcases", key=key, secret=secret)
    domain = cc.create_domain(name=f"hidden-{uuid.uuid4().hex[:6]}")["domainId"]
    answer = page.goto(f"{server.endpoint}/console/connect/{domain}")
    assert answer.status == 404
    page.goto(f"{server.endpoint}/console/connect")
    expect(page.locator("main")).not_to_contain_text("hidden-")
    # An agent granted every account sees it.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, server, create_agent(server, "--all"))
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    answer = page.goto(f"{server.endpoint}/console/support/cases/{hidden}")
    assert answer.status == 200
    answer = page.goto(f"{server.endpoint}/console/connect/{domain}")
    assert answer.status == 200


def test_ten_failed_sign_ins_in_a_row_lock_the_agent(server, page):
    email = create_agent(server, "--all")
    for _ in range(9):
        sign_in(page, server, email, password="wrong password here")
        expect(page.get_by_role("alert")).to_have_text("The e-mail or the password is wrong.")
    # A success in between starts the count again.
    sign_in(page, server, email)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    for _ in range(10):
        sign_in(page, server, email, password="wrong password here")
    expect(page.get_by_role("alert")).to_contain_text("locked until")
    screenshot(page, "04-locked")
    sign_in(page, server, email)  # the right password, while locked
    expect(page.get_by_role("alert")).to_contain_text("locked until")
    listed = _casework(server, "agents", "list").stdout
    assert f"{email}\t*\tlocked" in listed
    # An operator's new password unlocks the agent.
    new = _casework(server, "agents", "reset-password", email).stdout
    password = re.search(r"^password: (\S+)$", new, re.M).group(1)
    sign_in(page, server, email, password=password)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


def _sign_in(server, email: str, password: str) -> httpx.Response:
    """A sign-in form sent as a browser sends it (its cookie, token and origin)."""
    form = httpx.get(f"{server.endpoint}/console/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    return httpx.post(f"{server.endpoint}/console/sign-in", cookies=form.cookies,
                      data={"email": email, "password": password, "csrf_token": token},
                      headers={"Origin": server.endpoint}, timeout=60)


def test_a_burst_of_sign_ins_checks_no_more_passwords_than_the_lockout_allows(server):
    # Sent at once, fifteen wrong passwords: each is counted before it is checked, so ten
    # are checked, the tenth locking the agent (nine 401s, then 429 "locked until" as for
    # ten in a row), and the other five are refused as locked unchecked.
    email = create_agent(server, "--all")

    def attempt(password: str) -> int:
        return _sign_in(server, email, password).status_code

    with ThreadPoolExecutor(15) as pool:
        statuses = list(pool.map(attempt, [f"wrong password {n:02d}" for n in range(15)]))
    assert sorted(statuses) == [401] * 9 + [429] * 6
    assert attempt(PASSWORD) == 429
    assert f"{email}\t*\tlocked" in _casework(server, "agents", "list").stdout


def test_an_e_mail_no_agent_has_is_locked_as_an_agent_is(server):
    # Eleven wrong passwords in a row, for an agent and for an e-mail nobody has: the same
    # answers (nine 401s, then 429 "locked until"), so they tell nobody who is an agent.
    agent = create_agent(server, "--all")
    nobody = f"nobody-{uuid.uuid4().hex[:10]}@example.com"
    answers = {email: [_sign_in(server, email, f"wrong password {n}") for n in range(11)]
               for email in (agent, nobody)}
    for email, got in answers.items():
        assert [a.status_code for a in got] == [401] * 9 + [429] * 2, email
        assert "The e-mail or the password is wrong." in got[0].text
        assert "locked until" in got[-1].text
    assert _sign_in(server, nobody, PASSWORD).status_code == 429


def _casework(server, *args: str, stdin: str | None = None,
              check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "casework", *args, "--data-dir", str(server.data_dir),
         "--database-url", server.database_url],
        input=stdin, capture_output=True, text=True, env=server.env, check=check)


def test_agents_commands(server):
    email = f"cli-{uuid.uuid4().hex[:8]}@example.com"
    created = _casework(server, "agents", "create", email, "--accounts",
                        f"{CUSTOMER_ACCOUNT},{OTHER_ACCOUNT}").stdout
    password = re.search(r"^password: (\S+)$", created, re.M).group(1)
    assert len(password) >= 24
    assert f"{email}\t{CUSTOMER_ACCOUNT},{OTHER_ACCOUNT}\tok" in \
        _casework(server, "agents", "list").stdout
    again = _casework(server, "agents", "create", email, "--all", check=False)
    assert again.returncode != 0 and "already exists" in again.stderr
    both = _casework(server, "agents", "create", "x@example.com", "--all", "--accounts",
                     CUSTOMER_ACCOUNT, check=False)
    assert both.returncode != 0 and "either --accounts" in both.stderr
    short = _casework(server, "agents", "create", "y@example.com", "--all",
                      "--password-stdin", stdin="short\n", check=False)
    assert short.returncode != 0 and "at least 12" in short.stderr
    assert _casework(server, "agents", "create", "z@example.com", "--all", "--password-stdin",
                     stdin=PASSWORD + "\n").stdout.count("password:") == 0
    assert _casework(server, "agents", "delete", email).stdout.strip() == f"deleted {email}"
    assert email not in _casework(server, "agents", "list").stdout
    gone = _casework(server, "agents", "delete", email, check=False)
    assert gone.returncode != 0 and "no agent" in gone.stderr


CONNECT_ACCOUNT = "731500000003"


def test_a_connect_case_edited_in_the_console_reads_back_through_the_api(server, browser):
    key, secret = server.new_account(CONNECT_ACCOUNT)
    cc = server.client("connectcases", key=key, secret=secret)
    domain = cc.create_domain(name=f"console-{uuid.uuid4().hex[:6]}")["domainId"]
    priority = cc.create_field(domainId=domain, name="Priority", type="Number")["fieldId"]
    layout = cc.create_layout(domainId=domain, name="Agent view", content={"basic": {
        "topPanel": {"sections": [{"fieldGroup": {"name": "Summary", "fields": [
            {"id": "case_reason"}]}}]},
        "moreInfo": {"sections": [{"fieldGroup": {"name": "Details", "fields": [
            {"id": priority}, {"id": "summary"}]}}]}}})["layoutId"]
    template = cc.create_template(domainId=domain, name="Incident", status="Active",
                                  layoutConfiguration={"defaultLayout": layout},
                                  requiredFields=[{"fieldId": "title"}])["templateId"]
    case_id = cc.create_case(domainId=domain, templateId=template, fields=[
        {"id": "title", "value": {"stringValue": "Checkout fails for EU customers"}},
        {"id": "status", "value": {"stringValue": "open"}}])["caseId"]
    cc.create_related_item(domainId=domain, caseId=case_id, type="Comment", content={
        "comment": {"body": "Seen since 09:00", "contentType": "Text/Plain"}})
    email = create_agent(server, "--accounts", CONNECT_ACCOUNT)

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    sign_in(page, server, email)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    page.get_by_role("link", name="Connect Cases").click()
    page.get_by_role("link", name=re.compile("^console-")).click()
    page.get_by_label("Search").fill("checkout")
    page.get_by_role("button", name="Apply").click()
    page.get_by_role("link", name="Checkout fails for EU customers").click()

    # Fields as the template's layout places them, the related items and the history.
    expect(page.get_by_role("group", name="Summary")).to_be_visible()
    expect(page.get_by_role("group", name="Details").get_by_label("Priority")).to_be_visible()
    expect(page.locator("#comments")).to_contain_text("Seen since 09:00")
    expect(page.locator("#audit")).to_contain_text("Case.Created")

    # A required field cannot be emptied: UpdateCase's rule, enforced for the console too.
    page.get_by_label(re.compile("^Title")).fill("")
    page.get_by_role("button", name="Save fields").click()
    expect(page.get_by_role("alert")).to_contain_text("required by the template")

    page.get_by_label(re.compile("^Title")).fill("Checkout fails for EU and UK customers")
    page.get_by_label("Priority").fill("2")
    page.get_by_label("Status", exact=True).select_option("closed")
    page.get_by_role("button", name="Save fields").click()
    expect(page.get_by_role("heading", name="Checkout fails for EU and UK customers")) \
        .to_be_visible()
    page.get_by_label("Add a comment").fill("Rolled back the payment service.")
    page.get_by_role("button", name="Add comment").click()
    expect(page.locator("#comments")).to_contain_text("Rolled back the payment service.")
    screenshot(page, "05-connect-case")
    context.close()

    fields = {f["id"]: f["value"] for f in cc.get_case(
        domainId=domain, caseId=case_id,
        fields=[{"id": "title"}, {"id": "status"}, {"id": priority}])["fields"]}
    assert fields == {"title": {"stringValue": "Checkout fails for EU and UK customers"},
                      "status": {"stringValue": "closed"}, priority: {"doubleValue": 2.0}}
    events = cc.get_case_audit_events(domainId=domain, caseId=case_id)["auditEvents"]
    updated = [e for e in events if e["type"] == "Case.Updated"]
    assert len(updated) == 1  # the refused update recorded nothing
    assert updated[0]["performedBy"]["user"] == {"customEntity": email}
    assert {f["eventFieldId"] for f in updated[0]["fields"]} >= {"title", "status", priority}
    comment = [e for e in events if e["type"] == "RelatedItem.Created"
               and e["performedBy"].get("user") == {"customEntity": email}]
    assert len(comment) == 1 and comment[0]["relatedItemType"] == "Comment"


OVERVIEW_ACCOUNT = "731500000004"


def test_the_overview_shows_open_cases_the_longest_waiting_and_slas_at_risk(server, browser):
    key, secret = server.new_account(OVERVIEW_ACCOUNT)
    customer = server.client("support", key=key, secret=secret)
    opened = {}
    for subject, severity, service, category in [
        ("Database failover did not complete", "urgent",
         "amazon-relational-database-service-postgresql", "general-guidance"),
        ("Slow queries on the reporting cluster", "normal",
         "amazon-relational-database-service-aurora", "performance"),
        ("Lambda timeouts after the runtime upgrade", "high", "aws-lambda",
         "general-guidance"),
        ("How to move instances to a new subnet", "low",
         "amazon-elastic-compute-cloud-linux", "using-aws"),
    ]:
        opened[subject] = customer.create_case(
            subject=subject, communicationBody=f"{subject}. Details follow.",
            severityCode=severity, serviceCode=service, categoryCode=category,
            ccEmailAddresses=["oncall@example.com"])["caseId"]
    agent = create_agent(server, "--accounts", OVERVIEW_ACCOUNT)
    cc = server.client("connectcases", key=key, secret=secret)
    domain = cc.create_domain(name="Storefront support")["domainId"]
    template = cc.create_template(domainId=domain, name="Order issue",
                                  status="Active")["templateId"]
    connect_case = cc.create_case(domainId=domain, templateId=template, fields=[
        {"id": "title", "value": {"stringValue": "Order 1042 never arrived"}},
        {"id": "status", "value": {"stringValue": "open"}}])["caseId"]
    cc.create_related_item(domainId=domain, caseId=connect_case, type="Sla", content={
        "sla": {"slaInputConfiguration": {
            "name": "First answer", "type": "CaseField", "fieldId": "status",
            "targetFieldValues": [{"stringValue": "closed"}], "targetSlaMinutes": 30}}})

    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    sign_in(page, server, agent)
    # One case answered: the others wait, the oldest first.
    page.goto(f"{server.endpoint}/console/support/cases/"
              f"{opened['Lambda timeouts after the runtime upgrade']}")
    page.get_by_label("Message").fill("Which runtime version did you move to?")
    page.get_by_role("button", name="Send reply").click()
    expect(page.locator("#case-status")).to_have_text("pending-customer-action")
    screenshot(page, "06-case-for-docs")
    page.get_by_role("link", name="AWS Support", exact=True).click()
    expect(page.locator("table.queue tbody tr")).to_have_count(4)
    screenshot(page, "07-queue-for-docs")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    expect(page.locator("table.queue tbody tr").first).to_be_visible()
    screenshot(page, "09-queue-phone")
    page.set_viewport_size({"width": 1280, "height": 860})
    page.get_by_label("Severity").select_option("urgent")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("table.queue tbody tr")).to_have_count(1)
    expect(page.locator("table.queue")).to_contain_text("Database failover")

    page.get_by_role("link", name="Overview").click()
    status_chart = page.get_by_role("img", name=re.compile("^Open cases by status"))
    expect(status_chart).to_have_accessible_name(
        "Open cases by status: opened 3, pending-customer-action 1")
    expect(page.get_by_role("img", name=re.compile("^Open cases by severity"))).to_be_visible()
    waiting = page.locator("section", has=page.get_by_role("heading",
                                                          name="Waiting longest"))
    expect(waiting.locator("tbody tr")).to_have_count(3)
    expect(waiting.locator("tbody tr").first).to_contain_text("Database failover")
    expect(waiting).not_to_contain_text("Lambda timeouts")
    expect(page.locator("body")).to_contain_text("First answer")
    screenshot(page, "08-overview")
    page.get_by_role("link", name="First answer").click()
    expect(page.get_by_role("heading", name="Order 1042 never arrived")).to_be_visible()
    context.close()


def test_text_no_database_can_hold_is_refused_before_any_work(server, support, page):
    case_id = support.create_case(subject="NUL target", communicationBody="x")["caseId"]
    sign_in(page, server, create_agent(server, "--accounts", CUSTOMER_ACCOUNT))
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    page.goto(f"{server.endpoint}/console/support/cases/{case_id}")
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    refused = page.request.post(
        f"{server.endpoint}/console/support/cases/{case_id}/reply",
        multipart={"body": "before\x00after", "status": "resolved", "csrf_token": token},
        max_redirects=0)
    assert refused.status == 400
    named = page.request.post(
        f"{server.endpoint}/console/support/cases/{case_id}/reply", max_redirects=0,
        multipart={"body": "ok", "csrf_token": token, "attachments": {
            "name": "a\x00b.txt", "mimeType": "text/plain", "buffer": b"x"}})
    assert named.status == 400
    # A form sent in chunks would be read whole before its size is known: refused.
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    chunked = httpx.post(f"{server.endpoint}/console/support/cases/{case_id}/reply",
                         cookies=cookies, content=iter([b"body=x&csrf_token=", token.encode()]),
                         headers={"Origin": server.endpoint,
                                  "Content-Type": "application/x-www-form-urlencoded"})
    assert chunked.status_code == 411
    # Digits int() cannot read ("²") are no page position: ignored, not a 500.
    for address in ("/console/support?after=%C2%B2",
                    f"/console/support/cases/{case_id}/updates?after=%C2%B2"):
        assert page.request.get(server.endpoint + address).status == 200
    assert page.request.get(f"{server.endpoint}/console/support?q=a%00b").status == 400
    assert page.request.get(f"{server.endpoint}/console/support/cases/a%00b").status == 400
    assert page.request.get(f"{server.endpoint}/console/connect/a%00b").status == 400
    assert len(support.describe_communications(caseId=case_id)["communications"]) == 1


def test_a_session_ends_when_its_time_is_up(tmp_path, browser):
    short = start_server(tmp_path, "--console-session-ttl", "2")
    try:
        email = create_agent(short, "--all")
        context = browser.new_context()
        context.set_default_timeout(WAIT_MS)
        page = context.new_page()
        sign_in(page, short, email)
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        cookie = next(c for c in context.cookies() if c["name"] == "casework_console")
        assert 0 < cookie["expires"] - time.time() <= 3
        # Sent anyway (a browser keeps whatever it likes), the ended session signs nobody in.
        expired = {"casework_console": next(
            c["value"] for c in context.cookies() if c["name"] == "casework_console")}
        deadline = time.monotonic() + 60
        while httpx.get(f"{short.endpoint}/console/overview",
                        cookies=expired).status_code == 200:
            assert time.monotonic() < deadline, "the session outlived its time"
            time.sleep(0.2)
        answer = httpx.get(f"{short.endpoint}/console/overview", cookies=expired)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/console/sign-in")
        context.close()
    finally:
        short.stop()


def test_the_case_page_shows_each_communications_mail_delivered_or_failed(tmp_path, browser):
    inbox = Inbox(refuse={"bounce@example.com"})  # 550 for this one: the mail is dead at once
    inbox.start()
    mailing = start_server(tmp_path, "--smtp-host", "127.0.0.1", "--smtp-port", str(inbox.port))
    try:
        support = mailing.client("support")
        cases = {cc: support.create_case(
            subject=f"Mail to {cc}", communicationBody="Copied to someone.",
            serviceCode="general-info", categoryCode="using-aws", severityCode="low",
            ccEmailAddresses=[cc])["caseId"] for cc in ("ops@example.com", "bounce@example.com")}
        # Both mails settled (read through the support side's API) before the pages are read.
        agent = Agent(mailing)
        for case_id in cases.values():
            wait_for_states(agent, case_id, lambda states: states[0] and
                            states[0]["status"] in ("delivered", "dead"))
        email = create_agent(mailing, "--all")
        context = browser.new_context()
        context.set_default_timeout(WAIT_MS)
        page = context.new_page()
        sign_in(page, mailing, email)
        page.goto(f"{mailing.endpoint}/console/support/cases/{cases['ops@example.com']}")
        expect(page.locator(".mail-state").first).to_contain_text("Mailed to ops@example.com")
        page.goto(f"{mailing.endpoint}/console/support/cases/{cases['bounce@example.com']}")
        failed = page.locator(".mail-state.mail-failed")
        expect(failed).to_contain_text("Mail failed after 1 attempts")
        expect(failed).to_contain_text("550")
        screenshot(page, "05-mail-failed")
        context.close()
    finally:
        mailing.stop()
        inbox.stop()
