"""The Support API's limits, as AWS has them, each off by default and set by an operator.

* ``CaseCreationLimitExceeded``: CreateCase past ``max_open_cases`` open (unresolved) cases.
* ``AttachmentLimitExceeded``: more than ``attachment_set_limit`` new attachment sets in
  ``limit_window`` seconds; counted from the stored sets, so it holds across processes.
* ``DescribeAttachmentLimitExceeded``: more than ``attachment_download_limit`` DescribeAttachment
  calls in ``limit_window`` seconds (a sliding window per account).
* ``ThrottlingException``: a token bucket per account and operation (``throttle_rate`` tokens a
  second, ``throttle_burst`` deep) on exactly the operations whose model declares the error.

AWS publishes no numbers for any of these. The in-memory ones (downloads, throttling) count
per server process: with several processes behind a load balancer each has its own allowance,
which is what AWS's own per-host throttles look like to a client too.
"""

from __future__ import annotations

import functools
import threading
from collections import deque

from ..handlers import Context
from ..wire.errors import ServiceError
from ..wire.model import load_service
from . import queries, registry


@functools.cache
def throttled_operations() -> frozenset[str]:
    """The Support operations whose model declares ``ThrottlingException``."""
    service = load_service("support")
    return frozenset(name for name, op in service.operations.items()
                     if "ThrottlingException" in op.error_shapes)


class _Buckets:
    """Token buckets by key; thread-safe (handlers run in worker threads)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.state: dict[tuple, tuple[float, int]] = {}  # key -> (tokens, at ms)

    def take(self, key: tuple, now: int, rate: float, burst: int) -> bool:
        with self.lock:
            tokens, at = self.state.get(key, (float(burst), now))
            tokens = min(float(burst), tokens + (now - at) * rate / 1000)
            if tokens < 1:
                self.state[key] = (tokens, now)
                return False
            self.state[key] = (tokens - 1, now)
            return True


class _Windows:
    """Sliding-window counters by key: at most ``limit`` events in any ``window`` ms."""

    def __init__(self):
        self.lock = threading.Lock()
        self.events: dict[str, deque[int]] = {}

    def take(self, key: str, now: int, limit: int, window: int) -> bool:
        with self.lock:
            events = self.events.setdefault(key, deque())
            while events and events[0] <= now - window:
                events.popleft()
            if len(events) >= limit:
                return False
            events.append(now)
            return True


_buckets = _Buckets()
_downloads = _Windows()


def forget_usage() -> None:
    """Start every rate and window count again (``POST /_casework/reset``)."""
    with _buckets.lock:
        _buckets.state.clear()
    with _downloads.lock:
        _downloads.events.clear()


@registry.guard
def throttle(ctx: Context, operation: str) -> None:
    """Refuse a call beyond the account's rate on the operations that can be throttled."""
    rate = ctx.settings.throttle_rate
    if rate > 0 and operation in throttled_operations() and not _buckets.take(
            (ctx.account_id, operation), ctx.now, rate, ctx.settings.throttle_burst):
        raise ServiceError("ThrottlingException", "Rate exceeded")


def check_case_creation(ctx: Context) -> None:
    """CreateCase: the account may not hold more than ``max_open_cases`` open cases."""
    ceiling = ctx.settings.max_open_cases
    if ceiling and queries.count_open_cases(ctx.conn, ctx.account_id) >= ceiling:
        raise ServiceError(
            "CaseCreationLimitExceeded",
            f"You have reached the limit of {ceiling} open cases for this account. "
            "Resolve a case before you create another one.")


def check_attachment_set_creation(ctx: Context) -> None:
    """AddAttachmentsToSet without a set id: too many new sets in a short period?"""
    limit = ctx.settings.attachment_set_limit
    if not limit:
        return
    since = ctx.now - int(ctx.settings.limit_window * 1000)
    if queries.count_attachment_sets_since(ctx.conn, ctx.account_id, since) >= limit:
        raise ServiceError(
            "AttachmentLimitExceeded",
            "The limit for the number of attachment sets created in a short period of time "
            "has been exceeded.")


def check_attachment_download(ctx: Context) -> None:
    """DescribeAttachment: too many calls in a short period?"""
    limit = ctx.settings.attachment_download_limit
    if limit and not _downloads.take(ctx.account_id, ctx.now, limit,
                                     int(ctx.settings.limit_window * 1000)):
        raise ServiceError(
            "DescribeAttachmentLimitExceeded",
            "The limit for the number of DescribeAttachment requests in a short period of time "
            "has been exceeded.")
