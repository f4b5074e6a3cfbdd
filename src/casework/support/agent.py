"""The support side of a case: a small internal HTTP API under ``/_casework/support/``.

Used by the agent console and by tests to answer cases as "Amazon Web Services" and move
their status the way AWS's support staff do (fact sheet 5.3):

* ``GET  /_casework/support/cases/{caseId}``: the case, whatever its account;
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

import hmac

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..store import Store
from ..store.engine import now_ms
from . import queries
from .times import iso_ms

TOKEN_SECRET = "agent-api-token"
AGENT = "Amazon Web Services"  # how AWS's own communications are signed
AGENT_STATUSES = ("work-in-progress", "pending-customer-action", "resolved")
MAX_BODY = 8000  # the same bound as a customer's communicationBody


def operator_token(store: Store) -> str:
    """The operator token, created on first use."""
    return store.secret(TOKEN_SECRET)


def rotate_operator_token(store: Store) -> str:
    """Replace the operator token; the old one stops working at once."""
    return store.rotate_secret(TOKEN_SECRET)


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"__type": code, "message": message}, status_code=status)


class AgentApi:
    """The routes, bound to the running store."""

    def __init__(self, store: Store):
        self.store = store

    def routes(self) -> list[Route]:
        base = "/_casework/support/cases/{case_id}"
        return [
            Route(base, self.guarded(self.get_case), methods=["GET"]),
            Route(base + "/communications", self.guarded(self.add_communication),
                  methods=["POST"]),
            Route(base + "/status", self.guarded(self.set_status), methods=["POST"]),
        ]

    def guarded(self, endpoint):
        """Authenticate, read the JSON body, run ``endpoint`` in one transaction."""

        async def run(request: Request):
            given = request.headers.get("authorization", "")
            scheme, _, token = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                    token.strip().encode(), operator_token(self.store).encode()):
                return _error(401, "UnrecognizedClientException",
                              "The operator token is missing or wrong "
                              "(`casework agent token` prints it).")
            body: dict = {}
            if request.method == "POST":
                try:
                    body = await request.json()
                except ValueError:
                    return _error(400, "SerializationException", "The body must be JSON.")
                if not isinstance(body, dict):
                    return _error(400, "SerializationException",
                                  "The body must be a JSON object.")
            return await run_in_threadpool(self._in_transaction, endpoint,
                                           request.path_params["case_id"], body)

        return run

    def _in_transaction(self, endpoint, case_id: str, body: dict) -> JSONResponse:
        with self.store.transaction(write=endpoint is not self.get_case) as conn:
            case = queries.find_case_any_account(conn, case_id,
                                                 lock=endpoint is not self.get_case)
            if case is None:
                return _error(404, "CaseIdNotFound", f"Case ID {case_id} was not found.")
            return endpoint(conn, case, body)

    def get_case(self, conn, case, body: dict) -> JSONResponse:
        return JSONResponse(_case(case))

    def add_communication(self, conn, case, body: dict) -> JSONResponse:
        text = body.get("body")
        if not isinstance(text, str) or not 1 <= len(text) <= MAX_BODY:
            return _error(400, "ValidationException",
                          f"body must be a string of 1 to {MAX_BODY} characters.")
        status = body.get("status", "pending-customer-action")
        if status not in AGENT_STATUSES:
            return _bad_status(status)
        now = now_ms()
        queries.insert_communication(conn, case.seq, text, AGENT, [], now)
        return JSONResponse(_moved(conn, case, status, now))

    def set_status(self, conn, case, body: dict) -> JSONResponse:
        status = body.get("status")
        if status not in AGENT_STATUSES:
            return _bad_status(status)
        return JSONResponse(_moved(conn, case, status, now_ms()))


def _bad_status(status) -> JSONResponse:
    return _error(400, "ValidationException",
                  f"status must be one of {', '.join(AGENT_STATUSES)}; got {status!r}.")


def _moved(conn, case, status: str, now: int) -> dict:
    if status != case.status:
        resolved_at = now if status == "resolved" else None
        queries.set_case_status(conn, case.seq, status, resolved_at)
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
