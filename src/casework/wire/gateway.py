"""The AWS gateway: an ASGI app that serves every operation of the models it is given.

Per request: read the body, pick the protocol (``X-Amz-Target`` means JSON 1.1, anything else
REST-JSON), authenticate, find the operation, parse and validate on the event loop (pure CPU
work that a thread hand-off would only add to), then await the handler, which the invoker runs
where the database wants it (see ``store/runner.py``), and serialize. Client mistakes become
AWS-shaped 4xx errors; only our own bugs become a 500, logged with their traceback.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from .errors import ServiceError, not_implemented, unknown_operation, validation_error
from .model import Operation, Service
from .protocol import Json11, RestJson, WireRequest, WireResponse
from .sigv4 import Principal, SecretLookup, authenticate

log = logging.getLogger("casework.gateway")

# await invoke(operation, params, principal) -> output dict; the app supplies transactions.
Invoker = Callable[[Operation, dict, Principal], Awaitable[dict]]


class Gateway:
    """Serves the given services; ``implemented`` names the operations that have handlers."""

    def __init__(
        self,
        services: list[Service],
        implemented: set[tuple[str, str]],
        lookup: SecretLookup,
        invoke: Invoker,
        max_body_bytes: int,
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

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        request_id = str(uuid.uuid4())
        header_pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        request = WireRequest.build(
            method=scope["method"],
            raw_path=scope.get("raw_path", scope["path"].encode()).decode("latin-1").split("?")[0],
            query_string=scope.get("query_string", b"").decode("latin-1"),
            header_pairs=header_pairs,
            body=b"",
        )
        request.body, too_large = await self._read_body(receive, request.headers)
        headers = request.headers
        if too_large:
            protocol = self.json if "x-amz-target" in headers else self.rest
            response = protocol.serialize_error(None, ServiceError(
                "RequestEntityTooLargeException",
                f"Request body must be at most {self.max_body_bytes} bytes.", 413))
        else:
            response = await self.handle(request)
        out = [(b"x-amzn-requestid", request_id.encode()),
               (b"content-length", str(len(response.body)).encode())]
        # UTF-8, not latin-1: a modeled string header may hold any character and must not crash
        # the response after the handler succeeded.
        out.extend((k.encode("latin-1"), v.encode("utf-8")) for k, v in response.headers)
        await send({"type": "http.response.start", "status": response.status, "headers": out})
        await send({"type": "http.response.body", "body": response.body})

    async def _read_body(self, receive: Callable, headers: dict[str, str]) -> tuple[bytes, bool]:
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            return b"", True
        chunks, size = [], 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return b"", True
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks), False

    async def handle(self, request: WireRequest) -> WireResponse:
        """Answer one request."""
        target = request.headers.get("x-amz-target")
        protocol: Any = self.json if target is not None else self.rest
        op: Operation | None = None
        try:
            if target is not None:
                op = self.targets.get(target)
                service = op.service if op else self.json_services.get(target.split(".")[0])
                if service is None:
                    raise unknown_operation(f"Unknown operation {target}")
                principal = authenticate(request, service.signing_name, self.lookup, rest=False)
                if op is None:
                    raise unknown_operation(f"Unknown operation {target}")
                params = protocol.parse(op, request)
            else:
                service = self._rest_service(request)
                if service is None:
                    raise unknown_operation("No service is served at this endpoint.", 404)
                principal = authenticate(request, service.signing_name, self.lookup, rest=True)
                found = service.match(request.method, request.raw_path, request.query)
                if found is None:
                    raise unknown_operation(
                        f"No operation matches {request.method} {request.raw_path}", 404)
                op, labels = found
                params = protocol.parse(op, request, labels)
            if (op.service.name, op.name) not in self.implemented:
                raise not_implemented(op.service.name, op.name)
            if op.validate is not None:
                problems: list[str] = []
                op.validate(params, "", problems)
                if problems:
                    raise validation_error(problems)
            result = await self.invoke(op, params, principal)
            return protocol.serialize(op, result or {})
        except ServiceError as error:
            return protocol.serialize_error(op, error)
        except Exception:
            log.exception("internal error in %s", op.name if op else request.raw_path)
            code = "InternalServerError" if protocol is self.json else "InternalServerException"
            return protocol.serialize_error(
                op, ServiceError(code, "An internal error occurred.", 500))

    def _rest_service(self, request: WireRequest) -> Service | None:
        if len(self.rest_services) == 1:
            return next(iter(self.rest_services.values()))
        # Several REST services: the credential scope names the one being called.
        auth = request.headers.get("authorization", "")
        for signing_name, service in self.rest_services.items():
            if f"/{signing_name}/aws4_request" in auth:
                return service
        return None
