"""AWS Support in the console: the queue, a case's page, replies, status and attachments.

Replies and status changes call the support side's domain functions (``support.agent.reply``
and ``move``), the same ones the support-side API under ``/_casework/support/`` calls.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

import orjson
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..support import agent as support_side
from ..support import mail
from ..support.attachments import MAX_ATTACHMENT_BYTES, attachment_file
from ..support.catalog import load_catalog
from ..support.queries import cases as support_queries
from ..wire.errors import ServiceError
from . import queries
from .web import SECURITY_HEADERS, Pages

PAGE = 25
STATUSES = support_side.CASE_STATUSES
AGENT_STATUSES = support_side.AGENT_STATUSES
POLL_SECONDS = 5  # how often an open case page asks for new communications


def _day(text: str | None, end: bool) -> int | None:
    """A ``YYYY-MM-DD`` from a date input as epoch ms (its first or last millisecond, UTC)."""
    if not text:
        return None
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return int(day.timestamp() * 1000) + (86_400_000 - 1 if end else 0)


def mail_states(conn, case_id: str) -> dict[int, dict]:
    """Per communication, the delivery of the e-mail sent about it (``{seq: state}``, see
    ``support.mail.delivery_states``): the case page shows it beside the communication, a
    failed one (``dead``) with its last error."""
    return mail.delivery_states(conn, case_id)


class SupportPages:
    def __init__(self, pages: Pages):
        self.pages = pages
        self.runner = pages.runner
        catalog = load_catalog(pages.settings.catalog)
        self.severities = list(catalog.severity_levels)
        self.services = sorted(catalog.services)

    async def _change(self, request: Request, agent, found, anchor: str, change) -> Response:
        """Run ``change(ctx, case)`` (the support side's reply or move) on the locked case in
        a write of its own, published for the case's account; then back to the case page."""

        def write(conn):
            case = support_queries.find_case_any_account(conn, found.case_id, lock=True)
            ctx = support_side.case_context(conn, case, self.pages.settings,
                                            self.pages.casework.tokens)
            change(ctx, case)
            return ctx

        try:
            ctx = await self.runner.write(write)
        except ValueError as error:
            return await self.case(request, agent, error=str(error), status=400)
        for callback in ctx.after_commit:  # committed: wake the outbox
            callback()
        return RedirectResponse(f"/console/support/cases/{quote(found.case_id)}{anchor}",
                                status_code=303)

    def routes(self) -> list[Route]:
        page = self.pages.page
        case = "/console/support/cases/{case_id}"
        return [
            Route("/console/support", page(self.queue), methods=["GET"]),
            Route(case, page(self.case), methods=["GET"]),
            Route(case + "/updates", page(self.updates), methods=["GET"]),
            Route(case + "/reply", page(self.reply), methods=["POST"]),
            Route(case + "/status", page(self.set_status), methods=["POST"]),
            Route(case + "/attachments/{attachment_id}", page(self.attachment),
                  methods=["GET"]),
        ]

    # ------------------------------------------------------------------ the queue

    async def queue(self, request: Request, agent) -> Response:
        query = request.query_params
        statuses = [s for s in query.getlist("status") if s in STATUSES]
        severities = [s for s in query.getlist("severity") if s in self.severities]
        account = query.get("account") or None
        if account is not None and not agent.may_see(account):
            return self.pages.error(request, 403, f"You have no access to account {account}.")
        accounts = [account] if account else agent.accounts
        sort = query.get("sort") if query.get("sort") in queries.SORTS else "newest"
        text = (query.get("q") or "").strip()[:200] or None
        cursor = support_side.whole_number(query.get("after") or "")
        filters = {"service": (query.get("service") or "").strip()[:100] or None,
                   "created_from": _day(query.get("from"), False),
                   "created_to": _day(query.get("to"), True)}

        def read(conn):
            rows = queries.support_queue(
                conn, account_ids=accounts, statuses=statuses, severities=severities,
                text=text, sort=sort, cursor=cursor, limit=PAGE + 1, **filters)
            return rows, queries.known_accounts(conn, agent.accounts)

        rows, known = await self.runner.read(read)
        more = len(rows) > PAGE
        rows = rows[:PAGE]
        params = [(k, v) for k, v in query.multi_items() if k != "after"]
        next_params = [*params, ("after", str(rows[-1].seq))] if more else None
        return self.pages.render(
            request, "support_queue.html", rows=rows, statuses=STATUSES,
            severities=self.severities, services=self.services, accounts=known, chosen={
                "status": statuses, "severity": severities, "account": account,
                "service": filters["service"] or "", "q": text or "", "sort": sort,
                "from": query.get("from", ""), "to": query.get("to", "")},
            next_params=next_params, first_page=cursor is not None, base_params=params)

    # ------------------------------------------------------------------ a case

    async def _case(self, request: Request, agent):
        case_id = request.path_params["case_id"]
        if len(case_id) > 200:
            return None
        found = await self.runner.read(lambda conn: queries.find_support_case(conn, case_id))
        return found if found is not None and agent.may_see(found.account_id) else None

    def _missing(self, request: Request) -> Response:
        # An ungranted account's case is as unknown as a case that does not exist.
        return self.pages.error(request, 404, "No such case in the accounts you can see.")

    async def case(self, request: Request, agent, error: str | None = None,
                   status: int = 200) -> Response:
        found = await self._case(request, agent)
        if found is None:
            return self._missing(request)
        thread, attached, mail = await self.runner.read(lambda conn: self._thread(conn, found, 0))
        return self.pages.render(
            request, "support_case.html", status=status, case=found, thread=thread,
            attached=attached, mail_states=mail, cc=orjson.loads(found.cc_email_addresses),
            agent_statuses=AGENT_STATUSES, error=error, poll_seconds=POLL_SECONDS,
            max_attachment_bytes=MAX_ATTACHMENT_BYTES)

    @staticmethod
    def _thread(conn, case, after_seq: int):
        thread = queries.communications_after(conn, case.seq, after_seq)
        seqs = [row.seq for row in thread]
        return thread, support_queries.attachments_of(conn, seqs), mail_states(conn, case.case_id)

    async def updates(self, request: Request, agent) -> Response:
        """The communications newer than ``after`` as HTML, and the case's status in a header:
        what the open case page polls for."""
        found = await self._case(request, agent)
        if found is None:
            return self._missing(request)
        after = request.query_params.get("after", "0")
        after_seq = support_side.whole_number(after) or 0
        thread, attached, mail = await self.runner.read(
            lambda conn: self._thread(conn, found, after_seq))
        response = self.pages.render(request, "support_thread.html", case=found, thread=thread,
                                     attached=attached, mail_states=mail)
        response.headers["X-Case-Status"] = found.status
        return response

    async def reply(self, request: Request, agent) -> Response:
        found = await self._case(request, agent)
        if found is None:
            return self._missing(request)
        form = request.scope["console.form"]
        body = str(form.get("body", "")).replace("\r\n", "\n").strip()
        status = str(form.get("status", "pending-customer-action"))
        files = []
        for upload in form.getlist("attachments"):
            if isinstance(upload, UploadFile) and upload.filename:
                data = await upload.read(MAX_ATTACHMENT_BYTES + 1)
                files.append((upload.filename, data))
        return await self._change(request, agent, found, "#latest", lambda ctx, case:
                                  support_side.reply(ctx, case, body, status, files))

    async def set_status(self, request: Request, agent) -> Response:
        found = await self._case(request, agent)
        if found is None:
            return self._missing(request)
        status = str(request.scope["console.form"].get("status", ""))
        return await self._change(request, agent, found, "", lambda ctx, case:
                                  support_side.move(ctx, case, status))

    async def attachment(self, request: Request, agent) -> Response:
        found = await self._case(request, agent)
        if found is None:
            return self._missing(request)
        attachment_id = request.path_params["attachment_id"][:300]
        try:
            name, data = await self.runner.read(lambda conn: attachment_file(
                conn, self.pages.settings, found.account_id, attachment_id))
        except ServiceError as error:
            return self.pages.error(request, 404, error.message)
        headers = {**SECURITY_HEADERS, "Content-Disposition":
                   f"attachment; filename*=UTF-8''{quote(name, safe='')}"}
        return Response(data, media_type="application/octet-stream", headers=headers)
