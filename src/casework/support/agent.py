"""The support side of a case: a small internal HTTP API under ``/_casework/support/``.

Used by operators' scripts and by tests to answer cases as "Amazon Web Services" and move
their status the way AWS's support staff do (fact sheet 5.3); the agent console
(``casework.console``) calls the same :func:`reply` and :func:`move`:

* ``GET  /_casework/support/cases``: every account's cases, newest first, filtered by
  ``status`` (repeatable), ``account`` and ``since`` (created at or after an ISO 8601 time),
  in pages of ``limit`` (1-100, default 100) continued with ``nextToken``;
* ``GET  /_casework/support/cases/{caseId}``: the case, whatever its account, with its whole
  thread of communications (oldest first); a communication that was e-mailed carries
  ``mail``: its delivery state (``pending``, ``delivered`` or ``dead``), attempts, recipients
  and last error (``support/mail.py``);
* ``POST /_casework/support/cases/{caseId}/communications`` ``{"body": ..., "status": ...}``:
  adds a communication from "Amazon Web Services" and sets the status (default
  ``pending-customer-action``: an answer usually waits for the customer);
* ``POST /_casework/support/cases/{caseId}/status`` ``{"status": ...}``: picks a case up
  (``work-in-progress``), asks the customer (``pending-customer-action``) or resolves it.

Every request is authenticated with ``Authorization: Bearer <operator token>``: a random
token kept in the database, printed (or rotated) by ``casework agent token``. A token rather
than SigV4 because the callers are Casework's own console and operators' scripts, not AWS
SDKs, and because it keeps support-side power apart from customer access keys.
"""

from __future__ import annotations

import hashlib
import hmac
import re

import orjson
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..clock import iso_ms
from ..config import Settings
from ..handlers import Context
from ..store import Store
from ..store.engine import now_ms
from ..store.runner import Runner
from ..store.tables import server_secrets
from ..tokens import TokenSigner
from ..wire.errors import NUL_REFUSED, ServiceError
from ..wire.shapes import holds_nul
from . import events, mail
from .attachments import (
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS_PER_SET,
    new_attachment_id,
    new_set_id,
)
from .cases import communication_view
from .queries import cases as case_queries
from .times import parse_time

TOKEN_SECRET = "agent-api-token"
AGENT = "Amazon Web Services"  # how AWS's own communications are signed
AGENT_STATUSES = ("work-in-progress", "pending-customer-action", "resolved")
MAX_BODY = 8000  # the same bound as a customer's communicationBody
_CASE_ID = re.compile(r"[\x21-\x7e]{1,200}")
# Every status a case can have (AWS's CaseDetails.status documentation).
CASE_STATUSES = ("opened", "pending-customer-action", "reopened", "resolved", "unassigned",
                 "work-in-progress", "customer-action-completed")
PAGE_SIZE = 100  # default and maximum page size of the case list, as DescribeCases
_ACCOUNT = re.compile(r"^[0-9]{12}$")


def whole_number(text: str) -> int | None:
    """``text`` as a number when it is 1 to 9 ASCII digits, else None (``str.isdigit`` alone
    admits digits such as "²", which ``int`` refuses, as it refuses more than 4,300 digits)."""
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None


def operator_token(store: Store) -> str:
    """The operator token, created on first use."""
    return store.secret(TOKEN_SECRET)


def rotate_operator_token(store: Store) -> str:
    """Replace the operator token; the old one stops working at once."""
    return store.rotate_secret(TOKEN_SECRET)


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"__type": code, "message": message}, status_code=status)


class AgentApi:
    """The routes, bound to the running store (and settings: where case events go)."""

    def __init__(self, store: Store, settings: Settings, runner: Runner, tokens: TokenSigner):
        self.store = store
        self.settings = settings
        self.runner = runner  # reads and writes take the same path as the API's handlers
        self.tokens = tokens

    def routes(self) -> list[Route]:
        base = "/_casework/support/cases/{case_id}"
        return [
            Route("/_casework/support/cases", self.list_cases, methods=["GET"]),
            Route(base, self.guarded(self.get_case), methods=["GET"]),
            Route(base + "/communications", self.guarded(self.add_communication),
                  methods=["POST"]),
            Route(base + "/status", self.guarded(self.set_status), methods=["POST"]),
        ]

    def guarded(self, endpoint):
        """Authenticate, read the JSON body, run ``endpoint`` in one transaction."""

        async def run(request: Request):
            if (refused := await self._refused(request)) is not None:
                return refused
            body: dict = {}
            if request.method == "POST":
                # orjson, not json: it refuses nesting deeper than 1,024 levels (json recurses
                # until RecursionError) and lone surrogates, which no database could store.
                try:
                    body = orjson.loads(await request.body())
                except orjson.JSONDecodeError:
                    return _error(400, "SerializationException",
                                  "The body must be JSON (UTF-8, nested at most 1,024 deep).")
                if not isinstance(body, dict):
                    return _error(400, "SerializationException",
                                  "The body must be a JSON object.")
                if holds_nul(body):
                    return _error(400, "ValidationException", NUL_REFUSED)
            return await self._on_case(endpoint, request.path_params["case_id"], body)

        return run

    async def _refused(self, request: Request) -> JSONResponse | None:
        """A 401 unless the request carries the operator token."""
        given = request.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        expected = await self._token()
        if scheme.lower() != "bearer" or not hmac.compare_digest(
                token.strip().encode(), expected.encode()):
            return _error(401, "UnrecognizedClientException",
                          "The operator token is missing or wrong "
                          "(`casework agent token` prints it).")
        return None

    async def list_cases(self, request: Request) -> JSONResponse:
        if (refused := await self._refused(request)) is not None:
            return refused
        query = request.query_params
        statuses = query.getlist("status")
        if bad := [status for status in statuses if status not in CASE_STATUSES]:
            return _error(400, "ValidationException", f"status must be one of "
                          f"{', '.join(CASE_STATUSES)}; got {bad[0]!r}.")
        account = query.get("account")
        if account is not None and not _ACCOUNT.match(account):
            return _error(400, "ValidationException", "account must be a 12-digit account id.")
        since = query.get("since")
        try:
            since_ms = parse_time(since, "since") if since is not None else None
        except ServiceError as error:
            return _error(400, error.code, error.message)
        limit_text = query.get("limit", str(PAGE_SIZE))
        limit = whole_number(limit_text)
        if limit is None or not 1 <= limit <= PAGE_SIZE:
            return _error(400, "ValidationException",
                          f"limit must be a whole number from 1 to {PAGE_SIZE}.")
        # A token continues only the listing that issued it: same filters, same page size.
        listing = hashlib.sha256(repr((sorted(statuses), account, since_ms,
                                       limit_text)).encode()).hexdigest()[:16]
        below = None
        if (token := query.get("nextToken")) is not None:
            try:
                cursor = self.tokens.decode("agent-cases", "", token)
            except ServiceError as error:
                return _error(400, error.code, error.message)
            if not isinstance(cursor, list) or len(cursor) != 2 or cursor[0] != listing:
                return _error(400, "ValidationException", f"Invalid nextToken: {token[:64]}")
            below = cursor[1]
        rows = await self.runner.read(lambda conn: case_queries.list_cases_any_account(
            conn, statuses=statuses, account_id=account, since=since_ms, below_seq=below,
            limit=limit + 1))
        page = {"cases": [_case(row) for row in rows[:limit]]}
        if len(rows) > limit:
            page["nextToken"] = self.tokens.encode("agent-cases", "",
                                                   [listing, rows[limit - 1].seq])
        return JSONResponse(page)

    async def _token(self) -> str:
        """The operator token (created on first use)."""
        token = await self.runner.read(lambda conn: conn.scalar(
            select(server_secrets.c.value).where(server_secrets.c.name == TOKEN_SECRET)))
        return token if token is not None else await run_in_threadpool(operator_token,
                                                                         self.store)

    async def _on_case(self, endpoint, case_id: str, body: dict) -> JSONResponse:
        """Run ``endpoint(ctx, case, body)`` in a transaction of its own (a write, the case
        locked, unless it only reads); a case id no case has is a 404."""
        if not _CASE_ID.fullmatch(case_id):  # no database need see NULs or 10 KB ids
            return _error(404, "CaseIdNotFound", f"Case ID {case_id[:100]} was not found.")
        writes = endpoint is not self.get_case

        def run(conn):
            case = case_queries.find_case_any_account(conn, case_id, lock=writes)
            if case is None:
                return _error(404, "CaseIdNotFound", f"Case ID {case_id} was not found."), []
            # The case's account is the one its events are published for.
            ctx = case_context(conn, case, self.settings, self.tokens)
            return endpoint(ctx, case, body), ctx.after_commit

        answer, after_commit = await (self.runner.write(run) if writes
                                      else self.runner.read(run))
        for callback in after_commit:  # committed: wake the outbox
            callback()
        return answer

    def get_case(self, ctx: Context, case, body: dict) -> JSONResponse:
        conn = ctx.conn
        thread = case_queries.whole_thread(conn, case.seq)
        attached = case_queries.attachments_of(conn, [row.seq for row in thread])
        mailed = mail.delivery_states(conn, case.case_id)
        found = _case(case)
        found["communications"] = [
            {**communication_view(row, case.case_id, attached),
             "ccEmailAddresses": orjson.loads(row.cc_email_addresses),
             **({"mail": mailed[row.seq]} if row.seq in mailed else {})}
            for row in thread]
        return JSONResponse(found)

    def add_communication(self, ctx: Context, case, body: dict) -> JSONResponse:
        text = body.get("body")
        if not isinstance(text, str) or not 1 <= len(text) <= MAX_BODY:
            return _error(400, "ValidationException",
                          f"body must be a string of 1 to {MAX_BODY} characters.")
        status = body.get("status", "pending-customer-action")
        if status not in AGENT_STATUSES:
            return _bad_status(status)
        return JSONResponse(reply(ctx, case, text, status, []))

    def set_status(self, ctx: Context, case, body: dict) -> JSONResponse:
        status = body.get("status")
        if status not in AGENT_STATUSES:
            return _bad_status(status)
        return JSONResponse(move(ctx, case, status))


def _bad_status(status) -> JSONResponse:
    return _error(400, "ValidationException",
                  f"status must be one of {', '.join(AGENT_STATUSES)}; got {status!r}.")


# --- the support side's domain rules, shared by this API and the agent console ---------------


def case_context(conn, case, settings, tokens) -> Context:
    """The handler context of a support-side change to ``case``: its account is the one the
    change's events are published for. After the commit, run ``ctx.after_commit``."""
    return Context(conn=conn, account_id=case.account_id, access_key_id="",
                   region=events.REGION, settings=settings, tokens=tokens, now=now_ms())


def reply(ctx: Context, case, body: str, status: str, files: list[tuple[str, bytes]]) -> dict:
    """Add a communication from "Amazon Web Services" to ``case`` (a row locked by the caller)
    with ``files`` (``(file name, bytes)``, at most 3 of at most 5 MB: an attachment set's
    bounds) as its attachments, then move the case to ``status``.

    The attachments go into a set of the case's account, used at once by the communication,
    so that DescribeCommunications lists them and DescribeAttachment serves them to the
    customer exactly as the customer's own. Raises ValueError for a reply out of bounds.
    """
    if not 1 <= len(body) <= MAX_BODY:
        raise ValueError(f"The reply must be 1 to {MAX_BODY} characters long.")
    if status not in AGENT_STATUSES:
        raise ValueError(f"The status must be one of {', '.join(AGENT_STATUSES)}.")
    if len(files) > MAX_ATTACHMENTS_PER_SET:
        raise ValueError(f"A reply carries at most {MAX_ATTACHMENTS_PER_SET} attachments.")
    for name, data in files:
        if not name or len(name) > 255:
            raise ValueError("An attachment needs a file name of at most 255 characters.")
        if len(data) > MAX_ATTACHMENT_BYTES:
            raise ValueError(f"The attachment {name} is larger than the 5 MB an attachment "
                             "may be.")
    conn, now = ctx.conn, ctx.now
    communication_seq = case_queries.insert_communication(conn, case.seq, body, AGENT, [], now)
    if files:
        set_id = new_set_id()
        case_queries.insert_attachment_set(conn, case.account_id, set_id, now, now)
        for position, (name, data) in enumerate(files):
            case_queries.insert_attachment(conn, {
                "attachment_id": new_attachment_id(), "attachment_set_id": set_id,
                "account_id": case.account_id, "position": position, "file_name": name,
                "size": len(data), "data": data})
        case_queries.consume_attachment_set(conn, set_id, communication_seq)
    # Mailed to the account and the case's CC line, in this transaction (SMTP configured);
    # after the attachments, so that the message names them.
    mail.publish_agent_reply(ctx, case, communication_seq, body)
    events.case_updated(ctx, case.case_id, case.display_id, "AddCommunicationToCase",
                        communication_seq=communication_seq, origin=events.AMAZON)
    return move(ctx, case, status)


def move(ctx: Context, case, status: str) -> dict:
    """Set the status of ``case`` (a row locked by the caller) as support staff do:
    ``work-in-progress``, ``pending-customer-action`` or ``resolved``."""
    if status not in AGENT_STATUSES:
        raise ValueError(f"The status must be one of {', '.join(AGENT_STATUSES)}.")
    if status != case.status:
        resolved_at = ctx.now if status == "resolved" else None
        case_queries.set_case_status(ctx.conn, case.seq, status, resolved_at)
        events.status_moved(ctx, case.case_id, case.display_id, case.status, status)
    return {"caseId": case.case_id, "previousStatus": case.status, "status": status}


def _case(case) -> dict:
    found = {
        "caseId": case.case_id,
        "accountId": case.account_id,
        "displayId": case.display_id,
        "subject": case.subject,
        "status": case.status,
        "serviceCode": case.service_code,
        "categoryCode": case.category_code,
        "severityCode": case.severity_code,
        "language": case.language,
        "issueType": case.issue_type,
        "timeCreated": iso_ms(case.created_at),
    }
    if case.resolved_at is not None:
        found["timeResolved"] = iso_ms(case.resolved_at)
    return found
