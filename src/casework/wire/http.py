"""HTTP connections that cannot be used to exhaust the server.

uvicorn's httptools protocol, with the limits a server facing untrusted clients needs (all
before any credential is checked, since none is needed to open a socket):

* the request line and each header at most ``MAX_LINE`` bytes, all headers at most
  ``MAX_HEADERS`` (431, or 414 for the request line): an endless header costs no memory;
* a request's headers must arrive within ``header_timeout`` seconds and its body must keep
  coming (no gap longer than ``body_timeout``): a stalled client is cut off. Each connection
  keeps its next deadline as a number and one sweep a process checks them all a few times a
  second: re-arming a timer at every step of every request costs more than the request's
  parsing;
* at most ``max_connections`` open connections: a new one beyond it closes the oldest
  connection still sending its headers (a flood of half-sent requests cannot lock out real
  clients), else the one idle longest between requests, or, when none is, is itself closed;
* an idle kept-alive connection is closed after ``keep_alive_timeout`` seconds, which
  outlasts the idle timeouts of common load balancers (60 s): the side that closes is the
  one that knows the connection is idle, so the proxy closes first and never sends a
  request on a connection this server is closing;
* malformed HTTP gets an AWS-shaped error body instead of plain text;
* no connection is upgraded (Casework serves no WebSocket): a request with ``Upgrade`` is
  answered as plain HTTP and its connection closed, or refused if it has a body.

AWS API requests skip ASGI: the connection hands them to the gateway itself (``open`` at the
headers, ``feed`` per piece of body, ``answer`` when complete) and writes the answer in one
piece. An ASGI request costs a task, a scope, message dicts and uvicorn's checks of every
response header: more than a primary-key read. The parser callbacks do only what a gateway
call needs; uvicorn's per-request scope is built only for requests that go to ASGI.
``answer`` is driven by the future callbacks it waits on (none for a SQLite read, which
completes at once). Everything else (the console, ``/_casework/``) is served by the ASGI app.
The scheme a trusted proxy reports (``X-Forwarded-Proto``) is read here for both kinds of
request (uvicorn's own proxy middleware is off: gateway calls would bypass it).
"""

from __future__ import annotations

import contextvars
import ipaddress
import logging
import resource
import urllib.parse
from dataclasses import dataclass, field
from functools import partial

import httptools
import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from .gateway import new_request_id

MAX_LINE = 16 * 1024
MAX_HEADERS = 64 * 1024
LINGER_SECONDS = 2.0  # how long a refused connection's further bytes are read and dropped
SWEEP_SECONDS = 0.25  # how often deadlines are checked: the precision of every timeout
_DIRECT = object()  # marks a pipelined gateway call in uvicorn's queue of waiting requests
log = logging.getLogger("casework.gateway")


class Proxies:
    """The peers whose ``X-Forwarded-Proto`` is believed (``--forwarded-allow-ips``: addresses,
    networks or ``*``; an empty value believes none)."""

    def __init__(self, allowed: str) -> None:
        """Raises ValueError for an item that is no address or network, rather than taking
        it as a name that never matches (as uvicorn does): a typo would silently distrust the
        proxy."""
        items = [item.strip() for item in allowed.split(",") if item.strip()]
        self.anyone = "*" in items
        self.networks = []
        for item in items:
            if item != "*":
                try:
                    self.networks.append(ipaddress.ip_network(item, strict=False))
                except ValueError:
                    raise ValueError(f"{item!r} is not an IP address or network") from None

    def believe(self, peer: str) -> bool:
        if self.anyone:
            return True
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:  # not an IP peer (a Unix socket)
            return False
        # A server listening on "::" sees IPv4 peers as ::ffff:a.b.c.d.
        mapped = getattr(address, "ipv4_mapped", None)
        return any(address in network or (mapped is not None and mapped in network)
                   for network in self.networks)


@dataclass
class Limits:
    header_timeout: float = 30.0
    body_timeout: float = 30.0
    max_connections: int = 4096
    proxies: Proxies = field(default_factory=lambda: Proxies("127.0.0.1,::1"))


LIMITS = Limits()
# Connections still sending their headers, and connections idle between requests, oldest
# first (a dict keeps insertion order): the ones a new connection may push out.
_awaiting_headers: dict[GuardedHttpToolsProtocol, None] = {}
_idle: dict[GuardedHttpToolsProtocol, None] = {}


def configure(header_timeout: float, body_timeout: float, max_connections: int,
              forwarded_allow_ips: str) -> None:
    """Set the limits and trusted proxies (each server process calls this once, before
    serving)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:  # every connection is a descriptor: take what the system allows
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    # Keep descriptors for the database, attachment files and the listener.
    LIMITS.max_connections = max(16, min(max_connections, soft - 64))
    LIMITS.header_timeout = header_timeout
    LIMITS.body_timeout = body_timeout
    LIMITS.proxies = Proxies(forwarded_allow_ips)


def _forwarded_scheme(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The scheme the trusted proxy says its client used: the last value, which is the one
    that proxy wrote (a proxy that appends keeps what its client sent before it)."""
    found = None
    for name, value in headers:
        if name == b"x-forwarded-proto":
            found = value
    if found is None:
        return None
    scheme = found.decode("latin-1").rsplit(",", 1)[-1].strip()
    return scheme if scheme in ("http", "https") else None


def error_response(status: int, reason: bytes, code: str, message: str) -> bytes:
    """A complete HTTP response with an error body both AWS JSON protocols can read."""
    body = orjson.dumps({"__type": code, "message": message})
    return (b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\nx-amzn-errortype: %s\r\n"
            b"x-amzn-requestid: %s\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
            % (status, reason, code.encode(), new_request_id().encode(), len(body))) + body


_HEADERS_TOO_LARGE = (
    431, b"Request Header Fields Too Large", "RequestHeaderFieldsTooLarge",
    f"Each header must be at most {MAX_LINE} bytes and all headers at most {MAX_HEADERS} bytes.")
# The parser hands whatever follows the headers of an upgrade request to the protocol asked
# for, so such a request's body would never reach it.
_UPGRADE_WITH_BODY = (
    400, b"Bad Request", "BadRequest",
    "A request that asks to upgrade the connection to another protocol cannot have a body.")


_defaults: list = [None, b""]  # the server's default headers last seen, and their lines


def _default_head(server_state) -> bytes:
    """The server's default header lines (``date``, which uvicorn renews every second)."""
    headers = server_state.default_headers
    if headers is not _defaults[0]:
        _defaults[:] = headers, b"".join(b"%s: %s\r\n" % pair for pair in headers)
    return _defaults[1]


class _Sweep:
    """The one timer that enforces every connection's deadline (``_deadline``); it runs while
    the process has connections."""

    def __init__(self):
        self.handle = None
        self.loop = None
        self.connections: set = set()

    def start(self, loop, connections: set) -> None:
        self.loop, self.connections = loop, connections
        self.handle = loop.call_later(SWEEP_SECONDS, self._run)

    def _run(self) -> None:
        now = self.loop.time()
        for conn in [c for c in self.connections if 0.0 < getattr(c, "_deadline", 0.0) <= now]:
            conn._cut_off()
        self.handle = (self.loop.call_later(SWEEP_SECONDS, self._run)
                       if self.connections else None)


_sweep = _Sweep()


class _Busy:
    """Stands for a gateway call in progress where uvicorn looks for its current cycle."""

    response_complete = False


_BUSY = _Busy()


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


class _Call:
    """A gateway request on this connection, from its headers to its answer."""

    __slots__ = ("exchange", "gateway", "head_only", "keep_alive")

    def __init__(self, gateway, exchange, keep_alive: bool, head_only: bool):
        self.gateway, self.exchange = gateway, exchange
        self.keep_alive, self.head_only = keep_alive, head_only


def _gateway_router(app):
    """The app's ``gateway_for(path)``, found through the middleware uvicorn wraps it in."""
    while app is not None and not hasattr(app, "gateway_for"):
        app = getattr(app, "app", None)
    return None if app is None else app.gateway_for


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """See the module docstring."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._gateway_for = _gateway_router(self.app)
        self._direct = False  # the current request is a gateway call
        self._reading: _Call | None = None  # that call, while its body arrives
        self._answering = False  # a gateway call is being answered
        self._close_after = False  # shutting down: close once the answer is out
        self._stalled = False  # the client is not reading its answers: wait to go on

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_bytes = 0
        self._rejection: tuple | None = None  # error_response's arguments
        self._lingering = False
        self._deadline = 0.0  # loop time after which the sweep cuts it off; 0: none
        self._proxied = self.client is not None and LIMITS.proxies.believe(self.client[0])
        if len(self.connections) > LIMITS.max_connections:
            oldest = next(iter(_awaiting_headers), None) or next(iter(_idle), None)
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
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.send_400_response("Invalid HTTP request received.")
        except httptools.HttpParserUpgrade:
            # The parser stops after a request that asks for another protocol: that request
            # is answered as plain HTTP (_should_upgrade), and the connection closed after
            # it, since what the client sends next is not meant to be HTTP.
            self.shutdown()

    def connection_lost(self, exc) -> None:
        self._unlist()
        # Gateway calls that will never be answered give their bodies' memory back.
        if self._reading is not None:
            self._reading.gateway.done(self._reading.exchange)
            self._reading = None
        for call, app in self.pipeline:
            if app is _DIRECT:
                call.gateway.done(call.exchange)
        self.pipeline.clear()
        super().connection_lost(exc)

    # -------------------------------------------------------------- deadlines

    def _await_headers(self) -> None:
        _awaiting_headers[self] = None
        self._arm(LIMITS.header_timeout)

    def _arm(self, seconds: float) -> None:
        self._deadline = self.loop.time() + seconds
        if _sweep.handle is None or _sweep.loop is not self.loop:
            _sweep.start(self.loop, self.connections)

    def _clear_deadline(self) -> None:
        self._deadline = 0.0

    def _unlist(self) -> None:
        """Off the lists a new connection may push out, and without a deadline: closing."""
        _awaiting_headers.pop(self, None)
        _idle.pop(self, None)
        self._clear_deadline()

    def _cut_off(self) -> None:
        """Close a connection that stalled (or must make room); its request, if any, sees
        a disconnect."""
        self._unlist()
        if not self.transport.is_closing():
            self.transport.close()

    # -------------------------------------------------------------- parser callbacks

    def on_message_begin(self) -> None:
        self.url = b""
        self.expect_100_continue = False
        self.headers = []
        self.scope = None  # built in on_headers_complete for a request that goes to ASGI
        self._direct = False
        if self not in _awaiting_headers:  # a kept-alive connection's next request
            _idle.pop(self, None)
            self._header_bytes = 0
            self._await_headers()

    def on_url(self, url: bytes) -> None:
        if len(url) > MAX_LINE:
            self._rejection = (414, b"URI Too Long", "RequestURITooLong",
                               f"The request line must be at most {MAX_LINE} bytes.")
            raise ValueError("request line too long")
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(name) + len(value) > MAX_LINE or self._header_bytes > MAX_HEADERS:
            self._rejection = _HEADERS_TOO_LARGE
            raise ValueError("headers too large")
        name = name.lower()
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self.parser.should_upgrade() and any(
                name == b"transfer-encoding" or (name == b"content-length" and value != b"0")
                for name, value in self.headers):
            self._rejection = _UPGRADE_WITH_BODY
            raise ValueError("an upgrade request with a body")
        _awaiting_headers.pop(self, None)
        self._arm(LIMITS.body_timeout)
        if self._gateway_for is not None:
            url = httptools.parse_url(self.url)
            path = url.path.decode("ascii", "replace")
            gateway = self._gateway_for(urllib.parse.unquote(path) if "%" in path else path)
            if gateway is not None:
                self._open_call(gateway, url)
                return
        if self._answering:
            # An ASGI request pipelined behind a gateway call waits for its answer: uvicorn
            # queues a request while the current cycle is unfinished.
            self.cycle = _BUSY
        url, headers, expect = self.url, self.headers, self.expect_100_continue
        HttpToolsProtocol.on_message_begin(self)  # uvicorn's scope (it resets the three)
        self.url, self.headers, self.expect_100_continue = url, headers, expect
        self.scope["headers"] = headers
        if self._proxied:
            self.scope["scheme"] = _forwarded_scheme(headers) or self.scope["scheme"]
        super().on_headers_complete()
        if self.cycle is not None:
            self.cycle.transport = _HeadWithBody(self.transport)

    def on_body(self, body: bytes) -> None:
        self._arm(LIMITS.body_timeout)  # the client is still sending: it gets more time
        if not self._direct:
            super().on_body(body)
        elif self._reading is not None and not self._reading.gateway.feed(
                self._reading.exchange, body):
            self._ready()  # refused (too large): answered now, the rest is not read

    def on_message_complete(self) -> None:
        self._clear_deadline()
        if not self._direct:
            super().on_message_complete()
        elif self._reading is not None:
            self._ready()

    def on_response_complete(self) -> None:
        """A response is out: the next pipelined request's turn, or the keep-alive wait."""
        cycle = self.cycle
        if cycle is not None and isinstance(cycle.transport, _HeadWithBody):
            cycle.transport.flush()
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        elif self not in _awaiting_headers and self._reading is None:  # idle: keep-alive
            _idle[self] = None
            self._arm(self.timeout_keep_alive)

    def _start_asgi_task(self, cycle, app) -> None:
        if app is _DIRECT:  # a pipelined gateway call's turn (next loop turn: no recursion)
            self._answering = True
            self.loop.call_soon(self._answer, cycle)
        else:
            super()._start_asgi_task(cycle, app)

    def _should_upgrade(self) -> bool:
        """Never: Casework serves no WebSocket, nor any protocol an ``Upgrade`` header may ask
        for. A server may ignore the header (RFC 9110, 7.8); uvicorn's upgrade would hand the
        connection to a WebSocket handshake that no timeout of this class watches."""
        return False

    def shutdown(self) -> None:
        if self._answering or self._reading is not None:
            self._close_after = True  # the call in progress is answered first
        else:
            super().shutdown()

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._stalled:
            self._stalled = False
            self.on_response_complete()

    # -------------------------------------------------------------- gateway calls

    def _open_call(self, gateway, url) -> None:
        """Start a gateway call at its headers (which may already settle its answer)."""
        self._direct = True
        version = self.parser.get_http_version()
        method = self.parser.get_method().decode("ascii", "replace")
        exchange = gateway.open(
            method, url.path.decode("latin-1"), (url.query or b"").decode("latin-1"),
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in self.headers],
            (self._proxied and _forwarded_scheme(self.headers)) or self.scheme or "http",
            self.server)
        keep_alive = version != "1.0" and self.parser.should_keep_alive()
        self._reading = _Call(gateway, exchange, keep_alive, method == "HEAD")
        if exchange.response is not None:
            self._ready()  # refused at the headers: the body is not read
        elif self.expect_100_continue:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _ready(self) -> None:
        """The call being read is complete: answer it now, or after the one before it."""
        call, self._reading = self._reading, None
        if self._answering or (self.cycle is not None and not self.cycle.response_complete):
            self.flow.pause_reading()
            self.pipeline.appendleft((call, _DIRECT))
        else:
            self._answer(call)

    def _answer(self, call: _Call) -> None:
        self._answering = True
        self._step(call, call.gateway.answer(call.exchange),
                   contextvars.copy_context())

    def _step(self, call: _Call, coroutine, context, _done=None) -> None:
        """Run the answer until it waits on a future, and again when that future is done
        (what a task would do, without a task)."""
        try:
            awaited = context.run(coroutine.send, None)
        except StopIteration:
            self._respond(call)
            return
        except BaseException:  # answer() turns errors into responses: a bug or a cancellation
            log.exception("gateway call failed")
            call.gateway.done(call.exchange)
            self._answering = False
            self.transport.close()
            return
        resume = partial(self._step, call, coroutine, context)
        if awaited is None:  # a bare yield (asyncio.sleep(0)): go on at the next turn
            self.loop.call_soon(resume)
        else:
            awaited._asyncio_future_blocking = False
            awaited.add_done_callback(resume)

    def _respond(self, call: _Call) -> None:
        exchange, gateway = call.exchange, call.gateway
        response = exchange.response
        self._answering = False
        if not self.transport.is_closing():
            self.transport.write(b"".join((
                STATUS_LINE[response.status], _default_head(self.server_state),
                gateway.response_head(exchange), b"\r\n",
                b"" if call.head_only else response.body)))
        gateway.done(exchange)
        if exchange.close or not call.keep_alive or self._close_after:
            self.transport.close()
            self.on_response_complete()
        elif self.flow.write_paused:
            self._stalled = True  # go on when the client has read what it was sent
        else:
            self.on_response_complete()

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
