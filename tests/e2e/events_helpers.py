"""A webhook receiver on loopback for the case-event tests, and waiting for what it gets."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEADLINE = 90.0  # seconds: generous, for a loaded machine and a retry or two


def wait_until(condition: Callable[[], object], what: str, deadline: float = DEADLINE):
    """Poll ``condition`` until it returns something truthy, and return that."""
    end = time.monotonic() + deadline
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Receiver:
    """An HTTP server that takes webhook POSTs like a user's endpoint would.

    Every request's ``X-Casework-Signature`` is checked against ``secret`` (requests that fail
    the check are kept in ``refused`` and answered 401). ``answers`` is a list of statuses to
    answer, one per request, before answering 200 to everything.
    """

    def __init__(self, secret: str | None = None, port: int = 0):
        self.secret = secret
        self.received: list[dict] = []  # {"headers", "body", "event"} of accepted requests
        self.refused: list[dict] = []
        self.answers: list[int] = []
        self.requests = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as most receivers

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = receiver._take(dict(self.headers), body, self.path)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/casework"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def _take(self, headers: dict, body: bytes, path: str) -> int:
        with self._lock:
            self.requests += 1
            if self.answers:
                return self.answers.pop(0)
            entry = {"headers": headers, "body": body, "path": path}
            if self.secret is not None:
                expected = "sha256=" + hmac.new(self.secret.encode(), body,
                                                hashlib.sha256).hexdigest()
                given = headers.get("X-Casework-Signature", "")
                if not hmac.compare_digest(given, expected):
                    self.refused.append(entry)
                    return 401
            entry["event"] = json.loads(body)
            self.received.append(entry)
            return 200

    def events(self, case_id: str | None = None) -> list[dict]:
        """The events received (of one case), in the order they arrived."""
        with self._lock:
            found = [entry["event"] for entry in self.received]
        return [event for event in found if case_id is None or case_of(event) == case_id]

    def wait_for(self, case_id: str | None, count: int, deadline: float = DEADLINE) -> list:
        """Wait until ``count`` events (of one case) arrived; return them."""
        found = wait_until(lambda: len(self.events(case_id)) >= count or None,
                           f"{count} event(s) of {case_id or 'any case'} "
                           f"(have {len(self.events(case_id))})", deadline)
        assert found
        return self.events(case_id)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def case_of(event: dict) -> str | None:
    """The case an AWS Support or Connect Cases event is about."""
    detail = event["detail"]
    if "case-id" in detail:
        return detail["case-id"]
    if "case" in detail:
        return detail["case"]["caseId"]
    if "relatedItem" in detail:
        return detail["relatedItem"]["caseId"]
    return None


def names(events: list[dict]) -> list[str]:
    """The event names (Support) or types (Connect Cases) of ``events``, in order."""
    return [event["detail"].get("event-name") or event["detail"].get("eventType")
            for event in events]
