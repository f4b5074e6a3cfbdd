"""HTTP connections that cannot be used to exhaust the server.

uvicorn's httptools protocol, with the limits a server facing untrusted clients needs (all
before any credential is checked, since none is needed to open a socket):

* the request line and each header at most ``MAX_LINE`` bytes, all headers at most
  ``MAX_HEADERS`` (431, or 414 for the request line): an endless header costs no memory;
* a request's headers must arrive within ``header_timeout`` seconds and its body must keep
  coming (no gap longer than ``body_timeout``): a stalled client is cut off;
* at most ``max_connections`` open connections: a new one beyond it closes the oldest
  connection still sending its headers (a flood of half-sent requests cannot lock out real
  clients), or, when none is, is itself closed;
* malformed HTTP gets an AWS-shaped error body instead of plain text.
"""

from __future__ import annotations

import resource
import uuid
from dataclasses import dataclass

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_LINE = 16 * 1024
MAX_HEADERS = 64 * 1024
LINGER_SECONDS = 2.0  # how long a refused connection's further bytes are read and dropped


@dataclass
class Limits:
    header_timeout: float = 30.0
    body_timeout: float = 30.0
    max_connections: int = 4096


LIMITS = Limits()
# Connections still sending their headers, oldest first (a dict keeps insertion order).
_awaiting_headers: dict[GuardedHttpToolsProtocol, None] = {}


def configure(header_timeout: float, body_timeout: float, max_connections: int) -> None:
    """Set the limits (each server process calls this once, before serving)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:  # every connection is a descriptor: take what the system allows
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    # Keep descriptors for the database, attachment files and the listener.
    LIMITS.max_connections = max(16, min(max_connections, soft - 64))
    LIMITS.header_timeout = header_timeout
    LIMITS.body_timeout = body_timeout


def error_response(status: int, reason: bytes, code: str, message: str) -> bytes:
    """A complete HTTP response with an error body both AWS JSON protocols can read."""
    body = orjson.dumps({"__type": code, "message": message})
    return (b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\nx-amzn-errortype: %s\r\n"
            b"x-amzn-requestid: %s\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
            % (status, reason, code.encode(), str(uuid.uuid4()).encode(), len(body))) + body


_HEADERS_TOO_LARGE = (
    431, b"Request Header Fields Too Large", "RequestHeaderFieldsTooLarge",
    f"Each header must be at most {MAX_LINE} bytes and all headers at most {MAX_HEADERS} bytes.")


class _HeadWithBody:
    """The transport of one response: its head waits for the first piece of its body, so that
    both leave in one write (one system call and one packet instead of two). ``flush`` sends
    a head still waiting (a response without a body: HEAD, 204, 304)."""

    __slots__ = ("_head", "_joined", "_transport")

    def __init__(self, transport):
        self._transport = transport
        self._head: bytes | None = None
        self._joined = False

    def write(self, data: bytes) -> None:
        if self._joined:
            self._transport.write(data)
        elif self._head is None:
            self._head = data
        else:
            self._transport.write(self._head + data)
            self._head, self._joined = None, True

    def flush(self) -> None:
        if self._head is not None:
            self._transport.write(self._head)
            self._head, self._joined = None, True

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name):
        return getattr(self._transport, name)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """See the module docstring."""

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_bytes = 0
        self._rejection: tuple | None = None  # error_response's arguments
        self._lingering = False
        self._timer = None
        if len(self.connections) > LIMITS.max_connections:
            oldest = next(iter(_awaiting_headers), None)
            if oldest is None:
                transport.close()
                return
            oldest._cut_off()
        self._await_headers()

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # answered and closing: what the client still sends is dropped
        # The parser keeps a header's pieces until the header ends, so a header that never
        # ends must be stopped here, by counting what arrives before the headers are done.
        if self in _awaiting_headers:
            end = data.find(b"\r\n\r\n")  # where the headers end, if in this piece
            self._header_bytes += len(data) if end < 0 else end
            if self._header_bytes > MAX_HEADERS + MAX_LINE:
                self._rejection = _HEADERS_TOO_LARGE
                self.send_400_response("")
                return
        super().data_received(data)

    def connection_lost(self, exc) -> None:
        _awaiting_headers.pop(self, None)
        self._cancel_timer()
        super().connection_lost(exc)

    # -------------------------------------------------------------- deadlines

    def _await_headers(self) -> None:
        _awaiting_headers[self] = None
        self._arm(LIMITS.header_timeout)

    def _arm(self, seconds: float) -> None:
        self._cancel_timer()
        self._timer = self.loop.call_later(seconds, self._cut_off)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _cut_off(self) -> None:
        """Close a connection that stalled (or must make room); its request, if any, sees
        a disconnect."""
        _awaiting_headers.pop(self, None)
        self._cancel_timer()
        if not self.transport.is_closing():
            self.transport.close()

    # -------------------------------------------------------------- parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self not in _awaiting_headers:  # a kept-alive connection's next request
            self._header_bytes = 0
            self._await_headers()

    def on_url(self, url: bytes) -> None:
        if len(url) > MAX_LINE:
            self._rejection = (414, b"URI Too Long", "RequestURITooLong",
                               f"The request line must be at most {MAX_LINE} bytes.")
            raise ValueError("request line too long")
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(name) + len(value) > MAX_LINE or self._header_bytes > MAX_HEADERS:
            self._rejection = _HEADERS_TOO_LARGE
            raise ValueError("headers too large")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        _awaiting_headers.pop(self, None)
        self._arm(LIMITS.body_timeout)
        super().on_headers_complete()
        if self.cycle is not None:
            self.cycle.transport = _HeadWithBody(self.transport)

    def on_body(self, body: bytes) -> None:
        self._arm(LIMITS.body_timeout)  # the client is still sending: it gets more time
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._cancel_timer()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        cycle = self.cycle
        if cycle is not None and isinstance(cycle.transport, _HeadWithBody):
            cycle.transport.flush()
        super().on_response_complete()

    def send_400_response(self, msg: str) -> None:
        """Malformed HTTP (or a limit above): an AWS-shaped error, then a lingering close.

        Closing at once with unread bytes in the socket would reset the connection and the
        client could lose the answer; so the write side is shut, what still arrives is
        dropped, and the connection is closed a moment later.
        """
        response = error_response(*(self._rejection or (400, b"Bad Request", "BadRequest", msg)))
        if self.transport.is_closing() or self._lingering:
            return
        self._lingering = True
        _awaiting_headers.pop(self, None)
        self.transport.write(response)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._arm(LINGER_SECONDS)
