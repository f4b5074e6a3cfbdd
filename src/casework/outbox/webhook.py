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

import asyncio
import hashlib
import hmac
import http.client
import ssl
import threading
from urllib.parse import urlsplit

from .. import __version__
from .core import EVENTS, Channel, Message, PermanentFailure, channel_provider

RETRIED_STATUSES = frozenset({408, 425, 429})
# A kept-alive connection the receiver closed meanwhile fails on the next request: that one
# request is sent again at once on a new connection.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


def signature(secret: str, body: bytes) -> str:
    """The ``X-Casework-Signature`` value of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookChannel(Channel):
    """POSTs on one kept-alive connection, in a thread: the standard library's client costs a
    small fraction of the CPU of an async one, and the event loop stays free for requests."""

    group = EVENTS

    def __init__(self, number: int, url: str, secret: str | None):
        self.name = f"webhook:{number}"
        self.url = url
        self.secret = secret
        parts = urlsplit(url)
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname, parts.port
        self._target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._host_header = parts.netloc.rpartition("@")[2]
        self._connection: http.client.HTTPConnection | None = None
        # A delivery abandoned at its timeout may still hold the connection in its thread:
        # the next one waits for it (at most the socket's timeout) rather than share it.
        self._lock = threading.Lock()

    def _connect(self) -> http.client.HTTPConnection:
        if self._https:
            return http.client.HTTPSConnection(self._host, self._port, timeout=self.timeout,
                                               context=ssl.create_default_context())
        return http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)

    def _post(self, body: bytes, headers: dict) -> int:
        with self._lock:
            return self._post_locked(body, headers)

    def _post_locked(self, body: bytes, headers: dict) -> int:
        reused = self._connection is not None
        if self._connection is None:
            self._connection = self._connect()
        try:
            self._connection.request("POST", self._target, body=body, headers=headers)
            response = self._connection.getresponse()
            response.read()
        except _STALE:
            self._close()
            if not reused:
                raise
            return self._post_locked(body, headers)
        except BaseException:
            self._close()
            raise
        if response.will_close:
            self._close()
        return response.status

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def deliver(self, message: Message) -> None:
        body = message.payload.encode()
        headers = {"Host": self._host_header, "Content-Type": "application/json",
                   "User-Agent": f"casework/{__version__}",
                   "X-Casework-Event-Id": message.message_id}
        if self.secret:
            headers["X-Casework-Signature"] = signature(self.secret, body)
        status = await asyncio.to_thread(self._post, body, headers)
        if 200 <= status < 300:
            return
        error = f"{self.url} answered HTTP {status}"
        if status >= 500 or status in RETRIED_STATUSES:
            raise RuntimeError(error)
        raise PermanentFailure(error)

    async def close(self) -> None:
        self._close()


@channel_provider
def webhook_channels(settings) -> list[Channel]:
    return [WebhookChannel(number, url, settings.event_webhook_secret)
            for number, url in enumerate(settings.event_webhooks, start=1)]
