"""Case events in EventBridge's envelope, enqueued to every configured event channel.

The services build their ``detail`` (``support/events.py``, ``cases/events.py``); this module
wraps it as EventBridge delivers events (``version``, ``id``, ``detail-type``, ``source``,
``account``, ``time`` in UTC seconds, ``region``, ``resources``, ``detail``) and writes it in
the change's transaction.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from .core import EVENTS, channel_names, publish


def wanted(ctx) -> bool:
    """Whether any event channel is configured: without one, events are not even built."""
    return bool(channel_names(ctx.settings, EVENTS))


def time_of(ms: int) -> str:
    """An event's ``time``: UTC, whole seconds (``2022-02-21T15:51:19Z``)."""
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def publish_event(ctx, *, source: str, detail_type: str, region: str, resources: list[str],
                  detail: dict, kind: str, case_id: str | None,
                  account_id: str | None = None) -> str:
    """Enqueue one event in the transaction of ``ctx``; returns its ``id``."""
    event_id = str(uuid.uuid4())
    account = account_id or ctx.account_id
    event = {"version": "0", "id": event_id, "detail-type": detail_type, "source": source,
             "account": account, "time": time_of(ctx.now), "region": region,
             "resources": resources, "detail": detail}
    publish(ctx, EVENTS, message_id=event_id, case_id=case_id, kind=kind, payload=event,
            account_id=account)
    return event_id
