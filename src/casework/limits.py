"""Request limits checked at the front door, before an operation's transaction: throttling
(``ThrottlingException``) and AWS Support's ``DescribeAttachmentLimitExceeded``.

Their counters live in the database (``limit_counters``), one row per account and limit, each
taken with one upsert in a short transaction of its own: every server process on the database
shares them, so an account's allowance is the same with one process or ten, as AWS's limits
are per account. The own transaction keeps a read-only operation's transaction read-only, and
a call that then fails still counts, as on AWS.

All limits are off by default, and then cost nothing: no statement is run.

* Throttling: a token bucket per account and operation, ``--throttle-rate`` tokens a second and
  ``--throttle-burst`` deep, on exactly the operations whose model declares
  ``ThrottlingException`` (AWS Support's and Amazon Connect Cases'); a refused call takes no
  token.
* DescribeAttachment: at most ``--attachment-download-limit`` calls per account in a window of
  ``--limit-window`` seconds that starts with the first call after the previous window.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, case, literal

from .config import Settings
from .store.sql import upsert
from .store.tables import limit_counters as counters
from .support.limits import DOWNLOAD_LIMIT_ERROR
from .wire.errors import ServiceError
from .wire.model import Operation, Service


def _smaller(a, b):
    return case((a < b, a), else_=b)


def take_token(conn: Connection, account_id: str, name: str, now: int, rate: float,
               burst: int) -> bool:
    """Take a token from the account's bucket ``name`` (refilled first); False if empty."""
    refilled = _smaller(literal(float(burst)),
                        counters.c.level + (literal(now) - counters.c.at) * (rate / 1000))
    return bool(upsert(
        conn, counters,
        {"account_id": account_id, "name": name, "level": float(burst) - 1, "at": now,
         "admitted": True},
        ["account_id", "name"],
        {"level": case((refilled >= 1, refilled - 1), else_=refilled), "at": now,
         "admitted": refilled >= 1},
        returning=counters.c.admitted))


def count_call(conn: Connection, account_id: str, name: str, now: int, limit: int,
               window_ms: int) -> bool:
    """Count a call in the account's window ``name``; False if the window is full."""
    expired = literal(now) - counters.c.at >= window_ms
    room = counters.c.level < limit
    return bool(upsert(
        conn, counters,
        {"account_id": account_id, "name": name, "level": 1.0, "at": now, "admitted": True},
        ["account_id", "name"],
        {"level": case((expired, 1.0), (room, counters.c.level + 1), else_=counters.c.level),
         "at": case((expired, now), else_=counters.c.at),
         "admitted": expired | room},
        returning=counters.c.admitted))


@dataclass(frozen=True)
class _Bucket:
    rate: float
    burst: int

    def take(self, conn: Connection, account_id: str, name: str, now: int) -> bool:
        return take_token(conn, account_id, name, now, self.rate, self.burst)

    def error(self) -> ServiceError:
        # The status is the model's: 400 for AWS Support, 429 for Amazon Connect Cases.
        return ServiceError("ThrottlingException", "Rate exceeded")


@dataclass(frozen=True)
class _Window:
    limit: int
    window_ms: int
    code: str
    message: str

    def take(self, conn: Connection, account_id: str, name: str, now: int) -> bool:
        return count_call(conn, account_id, name, now, self.limit, self.window_ms)

    def error(self) -> ServiceError:
        return ServiceError(self.code, self.message)


class Limiter:
    """The limits of each operation, built once from the settings and the models."""

    def __init__(self, settings: Settings, services: list[Service]):
        self.rules: dict[tuple[str, str], list[tuple[str, object]]] = {}
        if settings.throttle_rate > 0:
            bucket = _Bucket(settings.throttle_rate, settings.throttle_burst)
            for service in services:
                for op in service.operations.values():
                    if "ThrottlingException" in op.error_shapes:
                        self._add(service.name, op.name,
                                  f"throttle:{service.name}:{op.name}", bucket)
        if settings.attachment_download_limit:
            self._add("support", "DescribeAttachment", "window:support:DescribeAttachment",
                      _Window(settings.attachment_download_limit,
                              int(settings.limit_window * 1000), *DOWNLOAD_LIMIT_ERROR))

    def _add(self, service: str, operation: str, name: str, rule) -> None:
        self.rules.setdefault((service, operation), []).append((name, rule))

    def limited(self, op: Operation) -> bool:
        """Whether any limit applies to the operation (most calls: none, and no cost)."""
        return (op.service.name, op.name) in self.rules

    def take(self, conn: Connection, op: Operation, account_id: str,
             now: int) -> ServiceError | None:
        """Count the call against each limit of its operation, in a write transaction of its
        own (the caller's); the error of the first limit it exceeds, or None."""
        for name, rule in self.rules.get((op.service.name, op.name), ()):
            if not rule.take(conn, account_id, name, now):
                return rule.error()
        return None
