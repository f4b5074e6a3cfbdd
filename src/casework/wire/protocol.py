"""The two AWS protocols Casework speaks: JSON 1.1 and REST-JSON.

Each protocol turns a :class:`WireRequest` into the operation's input parameters and a
handler's result (or a :class:`ServiceError`) into a :class:`WireResponse`. The shapes do the
per-member work (see ``shapes.py``); this module only knows where members travel: the JSON
body, the URI, the query string or headers.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

import orjson
from botocore.model import Shape

from .errors import ServiceError, serialization_error
from .model import Operation
from .shapes import decoder, encoder, format_timestamp, parse_timestamp, timestamp_format


@dataclass
class WireRequest:
    """An HTTP request as the gateway received it."""

    method: str
    raw_path: str
    query_string: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names; repeated headers joined with ","
    body: bytes
    raw_headers: list[tuple[str, str]] = field(default_factory=list)  # as sent, in order


@dataclass
class WireResponse:
    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)


def _load_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise serialization_error("The request body is not valid JSON.") from None


def _error_body(op: Operation | None, error: ServiceError) -> dict:
    """The error's JSON members: the message under the shape's own member name, then fields."""
    shape = None
    if op is not None:
        shape = op.error_shapes.get(error.code) or op.service.error_shapes.get(error.code)
    message_key = "message"
    if shape is not None and "Message" in shape.members and "message" not in shape.members:
        message_key = "Message"
    body = {message_key: error.message}
    if shape is not None:
        fields = {k: v for k, v in error.fields.items() if k in shape.members}
        body.update(encoder(shape)(fields))
    else:
        body.update(error.fields)
    return body


def _error_status(op: Operation | None, error: ServiceError) -> int:
    if error.status is not None:
        return error.status
    status = op.error_status(error.code) if op is not None else None
    return status or 400


class Json11:
    """AWS JSON 1.1: ``POST /`` dispatched on ``X-Amz-Target``, everything in the body."""

    content_type = "application/x-amz-json-1.1"

    def parse(self, op: Operation, request: WireRequest) -> dict:
        shape = op.input_shape
        if shape is None:
            return {}
        data = _load_json(request.body) if request.body.strip() else {}
        if not isinstance(data, dict):
            raise serialization_error("The request body must be a JSON object.")
        return decoder(shape)(data, "")

    def serialize(self, op: Operation, result: dict) -> WireResponse:
        shape = op.output_shape
        body = encoder(shape)(result) if shape is not None else {}
        return WireResponse(200, orjson.dumps(body), [("content-type", self.content_type)])

    def serialize_error(self, op: Operation | None, error: ServiceError) -> WireResponse:
        body = {"__type": error.code, **_error_body(op, error)}
        return WireResponse(
            _error_status(op, error), orjson.dumps(body), [("content-type", self.content_type)]
        )


def _scalar_from_text(shape: Shape, text: str, where: str, default_ts: str) -> Any:
    """A scalar sent as text in a URI label, query parameter or header."""
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
    except ValueError:
        raise serialization_error(f"Expected a number at '{where}'") from None
    if kind == "boolean":
        if text not in ("true", "false"):
            raise serialization_error(f"Expected true or false at '{where}'")
        return text == "true"
    if kind == "timestamp":
        fmt = timestamp_format(shape, default_ts)
        return parse_timestamp(float(text) if fmt == "unixTimestamp" else text, fmt, where)
    if kind == "blob":
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise serialization_error(f"Expected base64 at '{where}'") from None
    if shape.serialization.get("jsonvalue"):
        try:
            return orjson.loads(base64.b64decode(text))
        except (binascii.Error, ValueError):
            raise serialization_error(f"Expected base64-encoded JSON at '{where}'") from None
    return text


def _scalar_to_text(shape: Shape, value: Any, default_ts: str) -> str:
    kind = shape.type_name
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp":
        return str(format_timestamp(value, timestamp_format(shape, default_ts)))
    if kind == "blob":
        return base64.b64encode(value).decode("ascii")
    if shape.serialization.get("jsonvalue"):
        return base64.b64encode(orjson.dumps(value)).decode("ascii")
    if kind in ("float", "double") and value == int(value):
        return str(int(value)) if abs(value) < 1e16 else repr(value)
    return str(value)


class RestJson:
    """AWS REST-JSON: method + URI template, members in labels, query, headers and body."""

    content_type = "application/json"

    def parse(self, op: Operation, request: WireRequest, labels: dict[str, str]) -> dict:
        shape = op.input_shape
        if shape is None:
            return {}
        params: dict[str, Any] = {}
        payload = shape.serialization.get("payload")
        bound_query: set[str] = set()
        query_map: tuple[str, Shape] | None = None
        for name, member in shape.members.items():
            where = member.serialization.get("location")
            wire_name = member.serialization.get("name", name)
            if where == "uri":
                if wire_name in labels:
                    params[name] = _scalar_from_text(member, labels[wire_name], name, "iso8601")
            elif where == "querystring":
                if member.type_name == "map":
                    query_map = (name, member)
                    continue
                bound_query.add(wire_name)
                values = request.query.get(wire_name)
                if values is None:
                    continue
                if member.type_name == "list":
                    params[name] = [
                        _scalar_from_text(member.member, v, name, "iso8601") for v in values
                    ]
                else:
                    params[name] = _scalar_from_text(member, values[0], name, "iso8601")
            elif where == "header":
                text = request.headers.get(wire_name.lower())
                if text is None:
                    continue
                if member.type_name == "list":
                    params[name] = [
                        _scalar_from_text(member.member, v.strip(), name, "rfc822")
                        for v in _split_header_list(text)
                    ]
                else:
                    params[name] = _scalar_from_text(member, text, name, "rfc822")
            elif where == "headers":
                prefix = wire_name.lower()
                found = {
                    k[len(prefix):]: v for k, v in request.headers.items() if k.startswith(prefix)
                }
                if found:
                    params[name] = found
        if query_map is not None:
            name, member = query_map
            rest = {k: v for k, v in request.query.items() if k not in bound_query}
            if rest:
                if member.value.type_name == "list":
                    params[name] = rest
                else:
                    params[name] = {k: v[0] for k, v in rest.items()}
        if payload:
            member = shape.members[payload]
            if member.type_name == "blob":
                if request.body:
                    params[payload] = request.body
            elif member.type_name == "string":
                if request.body:
                    params[payload] = request.body.decode("utf-8", "replace")
            elif request.body.strip():
                params[payload] = decoder(member)(_load_json(request.body), payload)
        elif request.body.strip():
            data = _load_json(request.body)
            if not isinstance(data, dict):
                raise serialization_error("The request body must be a JSON object.")
            params.update(decoder(shape)(data, ""))
        return params

    def serialize(self, op: Operation, result: dict) -> WireResponse:
        status = int(op.model.http.get("responseCode") or 200)
        shape = op.output_shape
        headers: list[tuple[str, str]] = []
        if shape is None:
            return WireResponse(status, b"{}", [("content-type", self.content_type)])
        for name, member in shape.members.items():
            where = member.serialization.get("location")
            value = result.get(name)
            if value is None or where is None:
                continue
            wire_name = member.serialization.get("name", name)
            if where == "statusCode":
                status = int(value)
            elif where == "header":
                if member.type_name == "list":
                    text = ",".join(_scalar_to_text(member.member, v, "rfc822") for v in value)
                else:
                    text = _scalar_to_text(member, value, "rfc822")
                headers.append((wire_name.lower(), text))
            elif where == "headers":
                headers.extend((f"{wire_name}{k}".lower(), str(v)) for k, v in value.items())
        payload = shape.serialization.get("payload")
        if payload:
            member = shape.members[payload]
            value = result.get(payload)
            if member.type_name == "blob":
                body = value or b""
                headers.append(("content-type", "application/octet-stream"))
            elif member.type_name == "string":
                body = (value or "").encode()
                headers.append(("content-type", "text/plain"))
            else:
                body = orjson.dumps(encoder(member)(value) if value is not None else {})
                headers.append(("content-type", self.content_type))
        else:
            body = orjson.dumps(encoder(shape)(result))
            headers.append(("content-type", self.content_type))
        return WireResponse(status, body, headers)

    def serialize_error(self, op: Operation | None, error: ServiceError) -> WireResponse:
        headers = [("content-type", self.content_type), ("x-amzn-errortype", error.code)]
        return WireResponse(
            _error_status(op, error), orjson.dumps(_error_body(op, error)), headers
        )


def _split_header_list(text: str) -> list[str]:
    """Split a list header on commas, honouring double-quoted items."""
    items, current, quoted = [], [], False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            items.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    items.append("".join(current).strip())
    return [i[1:-1] if len(i) >= 2 and i[0] == i[-1] == '"' else i for i in items]
