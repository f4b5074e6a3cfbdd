"""Webhooks: each case event POSTed as JSON to every ``--event-webhook`` URL.

The body is the event exactly as EventBridge would carry it. With ``--event-webhook-secret``
every request is signed: ``X-Casework-Signature: sha256=<hex>``, the HMAC-SHA256 of the raw
body under the secret, so a receiver recomputes it over the bytes it got and compares in
constant time. ``X-Casework-Event-Id`` carries the event's ``id``, the same on every retry, so
a receiver can drop the rare duplicate.

A 2xx answer delivers the event. 408, 425, 429 and 5xx answers, timeouts and connection
failures are retried; any other answer (a 3xx, which is not followed, or a 4xx: the receiver
refused the event itself) marks it dead at once.
"""

from __future__ import annotations

import hashlib
import hmac

import httpx

from .. import __version__
from .core import EVENTS, Channel, Message, PermanentFailure, channel_provider

RETRIED_STATUSES = frozenset({408, 425, 429})


def signature(secret: str, body: bytes) -> str:
    """The ``X-Casework-Signature`` value of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookChannel(Channel):
    group = EVENTS

    def __init__(self, number: int, url: str, secret: str | None):
        self.name = f"webhook:{number}"
        self.url = url
        self.secret = secret
        self._client: httpx.AsyncClient | None = None

    async def deliver(self, message: Message) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)
        body = message.payload.encode()
        headers = {"Content-Type": "application/json",
                   "User-Agent": f"casework/{__version__}",
                   "X-Casework-Event-Id": message.message_id}
        if self.secret:
            headers["X-Casework-Signature"] = signature(self.secret, body)
        response = await self._client.post(self.url, content=body, headers=headers)
        status = response.status_code
        if 200 <= status < 300:
            return
        error = f"{self.url} answered HTTP {status}"
        if status >= 500 or status in RETRIED_STATUSES:
            raise RuntimeError(error)
        raise PermanentFailure(error)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()


@channel_provider
def webhook_channels(settings) -> list[Channel]:
    return [WebhookChannel(number, url, settings.event_webhook_secret)
            for number, url in enumerate(settings.event_webhooks, start=1)]
