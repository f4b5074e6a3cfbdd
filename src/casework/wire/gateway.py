"""The AWS gateway: serves every operation of the models it is given.

Per request: read the body, pick the protocol (``X-Amz-Target`` means JSON 1.1, anything else
REST-JSON), authenticate, find the operation, parse and validate on the event loop (pure CPU
work that a thread hand-off would only add to), then await the handler, which the invoker runs
where the database wants it (see ``store/runner.py``), and serialize. Client mistakes become
AWS-shaped 4xx errors; only our own bugs become a 500, logged with their traceback.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from random import getrandbits
from typing import Any

from .errors import NUL_REFUSED, ServiceError, not_implemented, unknown_operation, validate
from .model import Operation, Service
from .protocol import Json11, RestJson, WireRequest, WireResponse
from .shapes import holds_nul
from .sigv4 import Credential, SecretLookup, check_headers, verify

log = logging.getLogger("casework.gateway")
access_log = logging.getLogger("casework.access")
_SIGNATURE_ERRORS = frozenset({
    "MissingAuthenticationTokenException", "IncompleteSignatureException",
    "InvalidSignatureException", "UnrecognizedClientException"})


@dataclass
class _Resolved:
    protocol: Any
    op: Operation
    labels: dict
    credential: Credential


class BodyBudget:
    """Bytes of request bodies the process may hold at once (``--max-body-memory``)."""

    def __init__(self, limit: int):
        self.limit = limit
        self.held = 0

    def reserve(self, size: int) -> bool:
        if self.held + size > self.limit:
            return False
        self.held += size
        return True

    def release(self, size: int) -> None:
        self.held -= size

# await invoke(operation, params, request) -> output dict; the app supplies transactions.
# The request's principal is set: its signature was verified.
Invoker = Callable[[Operation, dict, WireRequest], Awaitable[dict]]


class _RequestIds:
    """Request ids in version-4 UUID form. They must be unique, not secret: a random prefix
    per process (drawn again in a forked child) and a counter for the last 48 bits, so that
    an id costs one format rather than a random draw and a UUID's worth of slicing."""

    def __init__(self):
        self.reset()
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        n = getrandbits(128) & ~(0xF << 76) & ~(0x3 << 62) | (0x4 << 76) | (0x2 << 62)
        h = f"{n:032x}"
        self.prefix = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-"
        self.count = itertools.count(int(h[20:], 16)).__next__

    def new(self) -> str:
        return f"{self.prefix}{self.count() & 0xFFFF_FFFF_FFFF:012x}"


new_request_id = _RequestIds().new


class Exchange:
    """One request through the gateway, from its headers to its answer.

    ``response`` is set as soon as the answer is known: at the headers for a request refused
    before its body is read (then ``close``: the unread body is not waited for), at the body
    for one too large, else by :meth:`Gateway.answer`.
    """

    __slots__ = ("chunks", "close", "request", "request_id", "resolved", "response", "size",
                 "started")

    def __init__(self, request: WireRequest):
        self.started = time.perf_counter()
        self.request_id = new_request_id()
        self.request = request
        self.resolved: _Resolved | None = None
        self.response: WireResponse | None = None
        self.close = False
        self.chunks: list[bytes] = []
        self.size = 0  # bytes of body held, reserved in the gateway's BodyBudget


class Gateway:
    """Serves the given services; ``implemented`` names the operations that have handlers.

    ``wire/http.py``'s connections drive it: :meth:`open` at the headers, :meth:`feed` per
    piece of body, :meth:`answer`, then :meth:`done` (no ASGI messages on the hot path).
    """

    def __init__(
        self,
        services: list[Service],
        implemented: set[tuple[str, str]],
        lookup: SecretLookup,
        invoke: Invoker,
        max_body_bytes: int,
        max_body_memory: int = 256 * 1024 * 1024,
    ):
        self.json = Json11()
        self.rest = RestJson()
        self.targets: dict[str, Operation] = {}
        self.json_services: dict[str, Service] = {}
        self.rest_services: dict[str, Service] = {}
        for service in services:
            if service.protocol == "json":
                self.json_services[service.target_prefix] = service
                for op in service.operations.values():
                    self.targets[f"{service.target_prefix}.{op.name}"] = op
            else:
                self.rest_services[service.signing_name] = service
        self.implemented = implemented
        self.lookup = lookup
        self.invoke = invoke
        self.max_body_bytes = max_body_bytes
        self.bodies = BodyBudget(max_body_memory)

    def open(self, method: str, raw_path: str, query_string: str,
             header_pairs: list[tuple[str, str]], scheme: str = "http",
             server: tuple | None = None) -> Exchange:
        """Start an exchange from the request line and headers (path still percent-encoded).

        Everything the headers can settle is settled here, before a byte of the body is read,
        so that a caller without a valid key cannot make the server buffer anything.
        """
        request = WireRequest.build(method, raw_path, query_string, header_pairs, b"")
        request.scheme, request.server = scheme, server
        exchange = Exchange(request)
        protocol = self._protocol_of(request)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            resolved: _Resolved | WireResponse = protocol.serialize_error(None, self._too_large())
        else:
            resolved = self._resolve(request, protocol)
        if isinstance(resolved, WireResponse):
            exchange.response, exchange.close = resolved, True
        else:
            exchange.resolved = resolved
        return exchange

    def feed(self, exchange: Exchange, chunk: bytes) -> bool:
        """Take a piece of the body; False (and an error answer) once it cannot be held."""
        if exchange.response is not None:
            return False
        error = None
        if exchange.size + len(chunk) > self.max_body_bytes:
            error = self._too_large()
        elif not self.bodies.reserve(len(chunk)):
            error = ServiceError("ServiceUnavailableException", "The server is reading too "
                                 "many request bodies at once; retry later.", 503)
        if error is not None:
            exchange.response = exchange.resolved.protocol.serialize_error(
                exchange.resolved.op, error)
            exchange.close = True
            return False
        exchange.size += len(chunk)
        exchange.chunks.append(chunk)
        return True

    async def answer(self, exchange: Exchange) -> WireResponse:
        """The answer to a request whose body has been fed whole."""
        if exchange.response is None:
            request = exchange.request
            request.body = (exchange.chunks[0] if len(exchange.chunks) == 1
                            else b"".join(exchange.chunks))
            exchange.chunks = []
            exchange.response = await self._complete(request, exchange.resolved)
        return exchange.response

    def response_head(self, exchange: Exchange) -> bytes:
        """The answer's header lines (request id and length included), each ending in CRLF."""
        response = exchange.response
        # UTF-8, not latin-1: a modeled string header may hold any character and must not
        # crash the response after the handler succeeded.
        return "".join([
            f"x-amzn-requestid: {exchange.request_id}\r\n"
            f"content-length: {len(response.body)}\r\n",
            "connection: close\r\n" if exchange.close else "",
            *[f"{name}: {value}\r\n" for name, value in response.headers],
        ]).encode("utf-8")

    def done(self, exchange: Exchange) -> None:
        """The exchange is over (answered or abandoned): its body's memory is given back and
        an answered request is logged."""
        self.bodies.release(exchange.size)
        exchange.size = 0
        response = exchange.response
        if response is not None and (access_log.isEnabledFor(logging.INFO)
                                     or response.status >= 500):
            self._log(exchange.request, response, exchange.request_id, exchange.started)

    def _too_large(self) -> ServiceError:
        return ServiceError("RequestEntityTooLargeException",
                            f"Request body must be at most {self.max_body_bytes} bytes.", 413)

    async def handle(self, request: WireRequest) -> WireResponse:
        """Answer one request whose body has been read."""
        protocol: Any = self._protocol_of(request)
        resolved = self._resolve(request, protocol)
        if isinstance(resolved, WireResponse):
            return resolved
        return await self._complete(request, resolved)

    def _protocol_of(self, request: WireRequest) -> Any:
        """JSON 1.1 for a request to ``/`` naming its operation in ``X-Amz-Target``; REST
        otherwise (a REST service ignores that header, as AWS's endpoints do)."""
        if request.raw_path == "/" and "x-amz-target" in request.headers:
            return self.json
        return self.rest

    def _resolve(self, request: WireRequest, protocol: Any) -> _Resolved | WireResponse:
        """The operation and the caller's credential, from the request line and headers."""
        op: Operation | None = None
        labels: dict = {}
        try:
            if protocol is self.json:
                target = request.headers["x-amz-target"]
                op = self.targets.get(target)
                service = op.service if op else self.json_services.get(target.split(".")[0])
                if service is None:
                    raise unknown_operation(f"Unknown operation {target}")
                credential = check_headers(request, service.signing_name, self.lookup,
                                           rest=False)
                if op is None:
                    raise unknown_operation(f"Unknown operation {target}")
            else:
                service = self._rest_service(request)
                if service is None:
                    raise unknown_operation("No service is served at this endpoint.", 404)
                credential = check_headers(request, service.signing_name, self.lookup,
                                           rest=True)
                found = service.match(request.method, request.raw_path, request.query)
                if found is None:
                    raise unknown_operation(
                        f"No operation matches {request.method} {request.raw_path}", 404)
                op, labels = found
            return _Resolved(protocol, op, labels, credential)
        except ServiceError as error:
            return protocol.serialize_error(op, error)
        except Exception:
            return self._internal_error(protocol, op, request)

    async def _complete(self, request: WireRequest, resolved: _Resolved) -> WireResponse:
        """Verify the signature over the body, parse, validate, invoke and serialize."""
        protocol, op = resolved.protocol, resolved.op
        try:
            principal = verify(resolved.credential, request)
            request.principal = principal
            if protocol is self.json:
                params = protocol.parse(op, request)
            else:
                params = protocol.parse(op, request, resolved.labels)
            if (op.service.name, op.name) not in self.implemented:
                raise not_implemented(op.service.name, op.name)
            if op.validate is not None:
                validate(op.validate, params)
            # JSON writes NUL as \u0000 and a URL as %00: only such a request is walked.
            if (b"\\u0000" in request.body or "%00" in request.raw_path
                    or "%00" in request.query_string) and holds_nul(params):
                raise ServiceError("ValidationException", NUL_REFUSED, 400)
            result = await self.invoke(op, params, request)
            response = protocol.serialize(op, result or {})
        except ServiceError as error:
            response = protocol.serialize_error(op, error)
        except Exception:
            response = self._internal_error(protocol, op, request)
        response.operation = f"{op.service.name}.{op.name}"
        return response

    def _internal_error(self, protocol: Any, op: Operation | None,
                        request: WireRequest) -> WireResponse:
        log.exception("internal error in %s", op.name if op else request.raw_path)
        code = "InternalServerError" if protocol is self.json else "InternalServerException"
        return protocol.serialize_error(op, ServiceError(code, "An internal error occurred.", 500))

    @staticmethod
    def _log(request: WireRequest, response: WireResponse, request_id: str,
             started: float) -> None:
        """One line per request (``--access-log``); errors are logged whatever the setting."""
        principal = request.principal
        fields = {
            "request_id": request_id,
            "operation": response.operation or f"{request.method} {request.raw_path}",
            "account": principal.account_id if principal else None,
            "status": response.status,
            "ms": round((time.perf_counter() - started) * 1000, 2),
        }
        if response.status >= 400:
            fields["error"] = response.error_code
            if response.status in (400, 403) and response.error_code in _SIGNATURE_ERRORS:
                fields["reason"] = response.error_message
        level = logging.ERROR if response.status >= 500 else logging.INFO
        text = " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        access_log.log(level, "%s", text, extra={"casework": fields})

    def _rest_service(self, request: WireRequest) -> Service | None:
        if len(self.rest_services) == 1:
            return next(iter(self.rest_services.values()))
        # Several REST services: the credential scope names the one being called.
        auth = request.headers.get("authorization", "")
        for signing_name, service in self.rest_services.items():
            if f"/{signing_name}/aws4_request" in auth:
                return service
        return None
