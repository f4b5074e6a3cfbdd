"""The two AWS protocols Casework speaks: JSON 1.1 and REST-JSON.

Each protocol turns a :class:`WireRequest` into the operation's input parameters and a
handler's result (or a :class:`ServiceError`) into a :class:`WireResponse`. The shapes do the
per-member work (see ``shapes.py``); this module only knows where members travel: the JSON
body, the URI, the query string or headers.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import orjson
from botocore.model import Shape

from .errors import ServiceError, serialization_error
from .model import Located, Operation, located
from .shapes import (
    decoder,
    encoder,
    format_timestamp,
    is_document,
    parse_timestamp,
    timestamp_format,
)

_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")


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
    principal: Any = None  # who signed it, once the signature is verified
    scheme: str = "http"
    server: tuple | None = None  # the (address, port) the request reached

    def origin(self) -> str | None:
        """``scheme://host`` the client reached us at (its Host header when well formed,
        else the address it connected to), for URLs handed back to it."""
        host = self.headers.get("host")
        if host is None or not _HOST.match(host):
            host = f"{self.server[0]}:{self.server[1]}" if self.server else None
        return None if host is None else f"{self.scheme}://{host}"

    @classmethod
    def build(cls, method: str, raw_path: str, query_string: str,
              header_pairs: list[tuple[str, str]], body: bytes) -> WireRequest:
        """Assemble a request from its HTTP parts (path still percent-encoded, no query).

        Header names are lower-cased and repeated headers joined with ``,`` as HTTP allows;
        the pairs are also kept in order for SigV4, which signs them as sent.
        """
        raw_headers = [(name.lower(), text) for name, text in header_pairs]
        headers = dict(raw_headers)
        if len(headers) < len(raw_headers):  # a repeated header (rare): join its values
            headers = {}
            for key, text in raw_headers:
                headers[key] = f"{headers[key]},{text}" if key in headers else text
        return cls(
            method=method,
            raw_path=raw_path,
            query_string=query_string,
            query=parse_qs(query_string, keep_blank_values=True) if query_string else {},
            headers=headers,
            body=body,
            raw_headers=raw_headers,
        )


@dataclass
class WireResponse:
    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)
    operation: str | None = None  # "service.Operation", for the access log
    error_code: str | None = None
    error_message: str | None = None


# Deepest JSON nesting a request body may have. The shape codecs recurse once or twice per
# level, so without a bound a body like {"not":{"not":...}} 500 levels deep (a recursive
# shape in Connect Cases' CaseFilter) would exhaust Python's stack and become a 500. Real
# requests stay far below: ten nested case filters are about 30 levels.
MAX_JSON_DEPTH = 100


def _load_json(body: bytes) -> Any:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise serialization_error("The request body is not valid JSON.") from None
    # Each level opens a bracket: a body with few of them needs no walk.
    if (body.count(b"{") + body.count(b"[") > MAX_JSON_DEPTH
            and not _depth_within(data, MAX_JSON_DEPTH)):
        raise serialization_error(
            f"The request body is nested more than {MAX_JSON_DEPTH} levels deep.")
    return data


def _depth_within(data: Any, limit: int) -> bool:
    """Whether no JSON object or array in ``data`` sits deeper than ``limit`` (iteratively)."""
    stack = [(data, 1)] if isinstance(data, dict | list) else []
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return False
        children = value.values() if isinstance(value, dict) else value
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return True


def _error_shape(op: Operation | None, error: ServiceError) -> Shape | None:
    """The modeled shape of an error code: the operation's, else any of the service's."""
    if op is None:
        return None
    return op.error_shapes.get(error.code) or op.service.error_shapes.get(error.code)


def _error_body(op: Operation | None, error: ServiceError) -> dict:
    """The error's JSON members: the message under the shape's own member name, then fields."""
    shape = _error_shape(op, error)
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
        return op.decode_input(data, "")

    def serialize(self, op: Operation, result: dict) -> WireResponse:
        body = op.encode_output(result) if op.encode_output is not None else {}
        return WireResponse(200, orjson.dumps(body), [("content-type", self.content_type)])

    def serialize_error(self, op: Operation | None, error: ServiceError) -> WireResponse:
        body = {"__type": error.code, **_error_body(op, error)}
        return WireResponse(
            _error_status(op, error), orjson.dumps(body), [("content-type", self.content_type)],
            error_code=error.code, error_message=error.message)


_INTEGER_TEXT = re.compile(r"-?[0-9]+")
_FLOAT_TEXT = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_FLOAT_SPECIALS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _scalar_from_text(shape: Shape, text: str, where: str, default_ts: str) -> Any:
    """A scalar sent as text in a URI label, query parameter or header."""
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            # int() would also take " 1", "1_000" and non-ASCII digits; the wire allows none.
            if not _INTEGER_TEXT.fullmatch(text):
                raise ValueError
            return int(text)
        if kind in ("float", "double"):
            if text in _FLOAT_SPECIALS:
                return _FLOAT_SPECIALS[text]
            if not _FLOAT_TEXT.fullmatch(text):
                raise ValueError
            return float(text)
    except ValueError:
        raise serialization_error(f"Expected a number at '{where}'") from None
    if kind == "boolean":
        if text not in ("true", "false"):
            raise serialization_error(f"Expected true or false at '{where}'")
        return text == "true"
    if kind == "timestamp":
        fmt = timestamp_format(shape, default_ts)
        return parse_timestamp(text, fmt, where)
    if kind == "blob":
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise serialization_error(f"Expected base64 at '{where}'") from None
    if shape.serialization.get("jsonvalue"):
        try:
            return orjson.loads(base64.b64decode(text, validate=True))
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
    if kind in ("float", "double"):
        value = float(value)
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        if value == int(value):
            return str(int(value)) if abs(value) < 1e16 else repr(value)
        return repr(value)
    return str(value)


def _header_list_to_text(shape: Shape, values: list, default_ts: str) -> str:
    """A list header: items joined with ``,``; strings holding ``,`` or ``"`` are quoted.

    HTTP dates are never quoted although they contain a comma: readers split them by
    their fixed form (see :func:`_split_header_list`).
    """
    items = []
    for value in values:
        text = _scalar_to_text(shape, value, default_ts)
        if shape.type_name == "string" and ("," in text or '"' in text):
            text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        items.append(text)
    return ", ".join(items)


class RestJson:
    """AWS REST-JSON: method + URI template, members in labels, query, headers and body."""

    content_type = "application/json"

    def parse(self, op: Operation, request: WireRequest, labels: dict[str, str]) -> dict:
        shape = op.input_shape
        if shape is None:
            return {}
        params: dict[str, Any] = {}
        payload = shape.serialization.get("payload")
        for name, wire_name, where, member in op.input_locations:
            if where == "uri":
                if wire_name in labels:
                    params[name] = _scalar_from_text(member, labels[wire_name], name, "iso8601")
            elif where == "querystring":
                value = _query_value(member, wire_name, request.query, name)
                if value is not None:
                    params[name] = value
            elif where == "header":
                text = request.headers.get(wire_name.lower())
                if text is None:
                    continue
                if member.type_name == "list":
                    item = member.member
                    rfc822 = (item.type_name == "timestamp"
                              and timestamp_format(item, "rfc822") == "rfc822")
                    params[name] = [
                        _scalar_from_text(item, v, name, "rfc822")
                        for v in _split_header_list(text, rfc822)
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
        if payload:
            member = shape.members[payload]
            if member.type_name == "blob":
                if request.body:
                    params[payload] = request.body
            elif member.type_name == "string":
                if request.body:
                    try:
                        params[payload] = request.body.decode("utf-8")
                    except UnicodeDecodeError:
                        raise serialization_error("The request body is not valid UTF-8.") from None
            elif request.body.strip():
                data = _load_json(request.body)
                # Clients send "{}" when the payload member is not set, so an empty object
                # means "absent" (an empty structure carries nothing a handler could use).
                if data != {} or is_document(member):
                    params[payload] = decoder(member)(data, payload)
        elif request.body.strip():
            data = _load_json(request.body)
            if not isinstance(data, dict):
                raise serialization_error("The request body must be a JSON object.")
            params.update(op.decode_input(data, ""))
        return params

    def serialize(self, op: Operation, result: dict) -> WireResponse:
        status = int(op.model.http.get("responseCode") or 200)
        shape = op.output_shape
        if shape is None:
            return WireResponse(status, b"{}", [("content-type", self.content_type)])
        headers, code = _located_members(op.output_locations, result)
        status = code or status
        payload = shape.serialization.get("payload")
        if payload:
            member = shape.members[payload]
            value = result.get(payload)
            if value is None:
                body = b""  # an unset payload is an empty body, whatever its type
            elif member.type_name == "blob":
                body = value
                headers.append(("content-type", "application/octet-stream"))
            elif member.type_name == "string":
                body = value.encode()
                headers.append(("content-type", "text/plain"))
            else:
                body = orjson.dumps(encoder(member)(value))
                headers.append(("content-type", self.content_type))
        elif shape.members and all(m.serialization.get("location")
                                   for m in shape.members.values()):
            # Every member travels in the status line or headers: nothing goes in the body.
            # (An output with no members at all still answers "{}", as AWS services do.)
            body = b""
        else:
            body = orjson.dumps(op.encode_output(result))
            headers.append(("content-type", self.content_type))
        return WireResponse(status, body, headers)

    def serialize_error(self, op: Operation | None, error: ServiceError) -> WireResponse:
        headers = [("content-type", self.content_type), ("x-amzn-errortype", error.code)]
        shape = _error_shape(op, error)
        if shape is not None:
            # Error members bound to headers (e.g. Retry-After) travel there, not in the body.
            bound, _ = _located_members(located(shape), error.fields)
            headers.extend(bound)
        return WireResponse(
            _error_status(op, error), orjson.dumps(_error_body(op, error)), headers,
            error_code=error.code, error_message=error.message)


def _query_value(member: Shape, wire_name: str, query: dict[str, list[str]], name: str) -> Any:
    """One query-bound member from the parsed query string, or None when absent."""
    if member.type_name == "map":
        # A query map (httpQueryParams) receives every parameter of the request, the ones
        # also bound to named members included, as servers of the protocol do.
        if not query:
            return None
        if member.value.type_name == "list":
            return {
                k: [_scalar_from_text(member.value.member, v, name, "iso8601") for v in values]
                for k, values in query.items()
            }
        return {k: _scalar_from_text(member.value, values[0], name, "iso8601")
                for k, values in query.items()}
    values = query.get(wire_name)
    if values is None:
        return None
    if member.type_name == "list":
        return [_scalar_from_text(member.member, v, name, "iso8601") for v in values]
    return _scalar_from_text(member, values[0], name, "iso8601")


def _located_members(members: list[Located],
                     values: dict) -> tuple[list[tuple[str, str]], int | None]:
    """Headers for the members bound to headers, and the status code if one is bound."""
    headers: list[tuple[str, str]] = []
    status = None
    for name, wire_name, where, member in members:
        value = values.get(name)
        if value is None:
            continue
        if where == "statusCode":
            status = int(value)
        elif where == "header":
            if member.type_name == "list":
                text = _header_list_to_text(member.member, value, "rfc822")
            else:
                text = _scalar_to_text(member, value, "rfc822")
            headers.append((wire_name.lower(), text))
        elif where == "headers":
            headers.extend((f"{wire_name}{k}".lower(), str(v)) for k, v in value.items())
    return headers, status


_HTTP_DATE = re.compile(r"[A-Za-z]{3},[^,]*")


def _split_header_list(text: str, http_dates: bool = False) -> list[str]:
    """Split a list header on commas, honouring double-quoted items and their escapes.

    An empty header is an empty list. HTTP dates hold a comma of their own
    (``Mon, 16 Dec 2019 23:48:18 GMT``), so a list of them is split by their form instead.
    """
    if not text.strip():
        return []
    if http_dates:
        return [m.strip() for m in _HTTP_DATE.findall(text)]
    items: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for ch in text:
        if escaped:
            current.append(ch)
            escaped = False
        elif quoted and ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            items.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    items.append("".join(current).strip())
    return items
