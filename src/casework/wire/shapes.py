"""Shape-driven codecs, compiled once per shape from the botocore model.

Three kinds of compiled functions live here, all built lazily and cached per shape so that a
request costs work proportional to its own size, never to the model's:

* ``decoder(shape)``: JSON value (as parsed from a request body) -> Python value, raising
  ``SerializationException`` for a value of the wrong JSON type;
* ``validator(shape)``: checks every constraint the model declares (required, length, range,
  enum, pattern, union) and collects AWS-worded problems;
* ``encoder(shape)``: Python value returned by a handler -> JSON-ready value holding only
  modeled members (blobs base64, timestamps per the shape's format).

Python representations: strings ``str``, integers ``int``, floats ``float``, booleans ``bool``,
blobs ``bytes``, timestamps timezone-aware ``datetime``, documents plain JSON values.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from botocore.model import Shape

from .errors import serialization_error

Decoder = Callable[[Any, str], Any]
Encoder = Callable[[Any], Any]
Validator = Callable[[Any, str, list], None]

_MAX_RENDERED = 128  # longer values are abbreviated in validation messages


# --------------------------------------------------------------------------- timestamps


def parse_timestamp(value: Any, fmt: str, path: str) -> datetime:
    """Read a timestamp sent as epoch seconds, ISO 8601 or RFC 822 (per ``fmt``)."""
    try:
        if fmt == "unixTimestamp":
            if isinstance(value, str):
                value = float(value)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError
            return datetime.fromtimestamp(value, UTC)
        if not isinstance(value, str):
            raise TypeError
        parsed = parsedate_to_datetime(value) if fmt == "rfc822" else datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise serialization_error(f"Expected a {fmt} timestamp at '{path}'") from None


def format_timestamp(value: datetime, fmt: str) -> Any:
    """Write a timestamp as epoch seconds, ISO 8601 (milliseconds, ``Z``) or RFC 822."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if fmt == "unixTimestamp":
        seconds = value.timestamp()
        return int(seconds) if seconds == int(seconds) else round(seconds, 3)
    if fmt == "rfc822":
        return format_datetime(value.astimezone(UTC), usegmt=True)
    value = value.astimezone(UTC)
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def timestamp_format(shape: Shape, default: str) -> str:
    return shape.serialization.get("timestampFormat") or default


# --------------------------------------------------------------------------- caching


def is_document(shape: Shape) -> bool:
    """botocore models a document as a member-less ``structure`` flagged ``document``."""
    return bool(shape.metadata.get("document"))


def _cached(builder: Callable[[Shape, Any], Callable]) -> Callable[[Shape, Any], Callable]:
    """Memoise a builder per (model, shape, traits) and tie the knot for recursive shapes."""
    # Shape names repeat across models, so each model (its shape resolver) has its own table.
    # Weak keys: a model that goes away takes its compiled functions with it, and a new model
    # can never be handed a dead one's entries (as keying on id() could after reuse).
    caches: weakref.WeakKeyDictionary[Any, dict[tuple, Callable]] = weakref.WeakKeyDictionary()

    def build(shape: Shape, option: Any = None) -> Callable:
        cache = caches.setdefault(shape._shape_resolver, {})
        key = (shape.name, repr(sorted(shape.serialization.items())), option)
        found = cache.get(key)
        if found is not None:
            return found
        slot: list[Callable] = []
        cache[key] = lambda *args: slot[0](*args)  # forward reference while building
        func = builder(shape, option)
        slot.append(func)
        cache[key] = func
        return func

    return build


# --------------------------------------------------------------------------- decoding


def _type_error(path: str, expected: str) -> Exception:
    where = f" at '{path}'" if path else ""
    return serialization_error(f"Expected {expected}{where}")


def _member_path(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


@_cached
def decoder(shape: Shape, default_ts: str | None = None) -> Decoder:
    """Compile a JSON-body decoder; ``default_ts`` is the protocol's body timestamp format."""
    default_ts = default_ts or "unixTimestamp"
    kind = shape.type_name

    if is_document(shape):
        # A document is any JSON value, taken as it came.
        return lambda value, path: value

    if kind == "structure":
        # Members bound to the URI, query string or headers never come from a JSON body.
        members = {
            m.serialization.get("name", name): (name, decoder(m, default_ts))
            for name, m in shape.members.items()
            if not m.serialization.get("location")
        }

        def decode_structure(value: Any, path: str) -> dict:
            if not isinstance(value, dict):
                raise _type_error(path, "an object")
            out = {}
            for wire_name, item in value.items():
                found = members.get(wire_name)
                if found is None or item is None:
                    continue  # unknown members are ignored, JSON null means "not set"
                name, decode = found
                out[name] = decode(item, _member_path(path, name))
            return out

        return decode_structure

    if kind == "list":
        decode_item = decoder(shape.member, default_ts)

        def decode_list(value: Any, path: str) -> list:
            if not isinstance(value, list):
                raise _type_error(path, "a list")
            return [
                None if item is None else decode_item(item, f"{path}.{i}.member")
                for i, item in enumerate(value, 1)
            ]

        return decode_list

    if kind == "map":
        decode_value = decoder(shape.value, default_ts)

        def decode_map(value: Any, path: str) -> dict:
            if not isinstance(value, dict):
                raise _type_error(path, "an object")
            return {
                k: None if v is None else decode_value(v, f"{path}.{k}") for k, v in value.items()
            }

        return decode_map

    if kind == "string":

        def decode_string(value: Any, path: str) -> str:
            if not isinstance(value, str):
                raise _type_error(path, "a string")
            return value

        return decode_string

    if kind in ("integer", "long"):

        def decode_integer(value: Any, path: str) -> int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise _type_error(path, "an integer")
            return value

        return decode_integer

    if kind in ("float", "double"):

        def decode_float(value: Any, path: str) -> float:
            if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity"):
                return float(value.replace("Infinity", "inf"))
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _type_error(path, "a number")
            return float(value)

        return decode_float

    if kind == "boolean":

        def decode_boolean(value: Any, path: str) -> bool:
            if not isinstance(value, bool):
                raise _type_error(path, "a boolean")
            return value

        return decode_boolean

    if kind == "blob":

        def decode_blob(value: Any, path: str) -> bytes:
            if not isinstance(value, str):
                raise _type_error(path, "a base64 string")
            try:
                return base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise _type_error(path, "a base64 string") from None

        return decode_blob

    if kind == "timestamp":
        fmt = timestamp_format(shape, default_ts)
        return lambda value, path: parse_timestamp(value, fmt, path)

    # document (and anything else free-form): any JSON value as it came
    return lambda value, path: value


# --------------------------------------------------------------------------- encoding


def _as_is(value: Any) -> Any:
    """The encoder of values that are already what JSON carries (strings, numbers, ...)."""
    return value


@_cached
def encoder(shape: Shape, default_ts: str | None = None) -> Encoder:
    """Compile an encoder from handler output to a JSON-ready value for this shape."""
    default_ts = default_ts or "unixTimestamp"
    kind = shape.type_name

    if is_document(shape):
        return _as_is

    if kind == "structure":
        members = [
            (name, m.serialization.get("name", name), encoder(m, default_ts))
            for name, m in shape.members.items()
            if not m.serialization.get("location")
        ]
        # Members carried as they are under their own name need no work; only the others go
        # through their encoders (most output members are strings).
        names = frozenset(name for name, _, _ in members)
        plain = frozenset(name for name, wire_name, encode in members
                          if encode is _as_is and wire_name == name)
        coded = [member for member in members if member[0] not in plain]
        renamed = [name for name, wire_name, _ in coded if wire_name != name]

        def encode_structure(value: dict) -> dict:
            if value.keys() <= names and None not in value.values():
                # What handlers return: only members, none of them None. Two scans in C
                # instead of a comprehension in Python.
                if not coded:
                    return value
                out = dict(value)
                for name in renamed:
                    out.pop(name, None)
            else:
                out = {k: v for k, v in value.items() if v is not None and k in plain}
            for name, wire_name, encode in coded:
                item = value.get(name)
                if item is not None:
                    out[wire_name] = encode(item)
            return out

        return encode_structure

    if kind == "list":
        encode_item = encoder(shape.member, default_ts)
        if encode_item is _as_is:
            return _as_is
        return lambda value: [encode_item(item) for item in value] if value else value

    if kind == "map":
        encode_value = encoder(shape.value, default_ts)
        if encode_value is _as_is:
            return _as_is
        return lambda value: {k: encode_value(v) for k, v in value.items()}

    if kind == "blob":
        return lambda value: base64.b64encode(value).decode("ascii")

    if kind == "timestamp":
        fmt = timestamp_format(shape, default_ts)
        return lambda value: format_timestamp(value, fmt)

    if kind in ("float", "double"):

        def encode_float(value: float) -> Any:
            if math.isnan(value):
                return "NaN"
            if math.isinf(value):
                return "Infinity" if value > 0 else "-Infinity"
            return value

        return encode_float

    return _as_is


# --------------------------------------------------------------------------- validation


def holds_nul(value: Any) -> bool:
    """Whether a parsed value holds the NUL character in any string (key or value), which
    PostgreSQL's text columns cannot store."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(holds_nul(k) or holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(holds_nul(v) for v in value)
    return False


def render_value(value: Any) -> str:
    """A value as AWS prints it in validation messages (Java-ish, abbreviated when long)."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, bytes):
        text = f"java.nio.HeapByteBuffer[pos=0 lim={len(value)} cap={len(value)}]"
    elif isinstance(value, list):
        text = _joined("[", (render_value(v) for v in value), "]")
    elif isinstance(value, dict):
        text = _joined("{", (f"{k}={render_value(v)}" for k, v in value.items()), "}")
    elif isinstance(value, datetime):
        text = format_timestamp(value, "iso8601")
    else:
        text = str(value)
    if len(text) > _MAX_RENDERED:
        text = text[:_MAX_RENDERED] + "..."
    return text


def _joined(opening: str, items, closing: str) -> str:
    """``opening`` + the items joined by ", " + ``closing``, stopping once it is longer than a
    message shows (a list of a million items is not rendered whole to show 128 characters)."""
    text = opening
    for n, item in enumerate(items):
        text += (", " if n else "") + item
        if len(text) > _MAX_RENDERED:
            return text
    return text + closing


def _problem(value: Any, path: str, constraint: str, sensitive: bool) -> str:
    if value is None:
        shown = "Value null"
    elif sensitive:
        shown = "Value"
    else:
        shown = f"Value '{render_value(value)}'"
    return f"{shown} at '{path}' failed to satisfy constraint: {constraint}"


def _scalar_constraints(shape: Shape) -> list[Callable[[Any], str | None]]:
    """Checks of one value against its own shape's constraints; each returns a message or None."""
    meta = shape.metadata
    kind = shape.type_name
    checks: list[Callable[[Any], str | None]] = []
    low, high = meta.get("min"), meta.get("max")
    if kind in ("float", "double"):
        # The protocols carry NaN and the infinities (as strings); no value the services keep
        # can hold them (JSON has no such numbers), so they are refused, not stored as null.
        checks.append(lambda v: None if math.isfinite(v) else "Member must be a finite number")
    if kind in ("integer", "long", "float", "double"):
        if low is not None:
            checks.append(
                lambda v, lo=low: None if v >= lo
                else f"Member must have value greater than or equal to {lo}"
            )
        if high is not None:
            checks.append(
                lambda v, hi=high: None if v <= hi
                else f"Member must have value less than or equal to {hi}"
            )
    elif kind in ("string", "blob", "list", "map"):
        if low is not None:
            checks.append(
                lambda v, lo=low: None if len(v) >= lo
                else f"Member must have length greater than or equal to {lo}"
            )
        if high is not None:
            checks.append(
                lambda v, hi=high: None if len(v) <= hi
                else f"Member must have length less than or equal to {hi}"
            )
    if kind == "string":
        enum = getattr(shape, "enum", None) or meta.get("enum")
        if enum:
            allowed = frozenset(enum)
            text = "Member must satisfy enum value set: [" + ", ".join(enum) + "]"
            checks.append(lambda v: None if v in allowed else text)
        pattern = meta.get("pattern")
        if pattern:
            # The whole value must match, as AWS's service-side validators (Java
            # ``Matcher.matches``) do; the models' patterns are written for that: e.g.
            # ``(?!aws:)[a-zA-Z+-=._:/]+`` would accept "aws:x" and "#!" if a match anywhere
            # were enough, and ``[A-Za-z0-9\-._/:#=+-]*`` would accept anything.
            fullmatch = re.compile(pattern).fullmatch
            text = f"Member must satisfy regular expression pattern: {pattern}"
            checks.append(lambda v: None if fullmatch(v) else text)
    return checks


@_cached
def validator(shape: Shape, _option: Any = None) -> Validator:
    """Compile a validator that appends AWS-worded problems for every violated constraint."""
    kind = shape.type_name
    sensitive = bool(shape.metadata.get("sensitive"))
    if is_document(shape):
        return lambda value, path, problems: None  # documents declare no constraints
    own = _scalar_constraints(shape)

    def check_own(value: Any, path: str, problems: list) -> bool:
        ok = True
        for check in own:
            message = check(value)
            if message:
                problems.append(_problem(value, path, message, sensitive))
                ok = False
        return ok

    if kind == "structure":
        required = [name for name in shape.required_members]
        members = [(name, validator(m)) for name, m in shape.members.items()]
        is_union = bool(shape.metadata.get("union"))

        def validate_structure(value: dict, path: str, problems: list) -> None:
            for name in required:
                if value.get(name) is None:
                    problems.append(
                        _problem(None, _member_path(path, name), "Member must not be null", False)
                    )
            if is_union:
                present = sum(1 for v in value.values() if v is not None)
                if present != 1:
                    problems.append(
                        _problem(value, path or shape.name,
                                 "Member must have exactly one member set", sensitive)
                    )
            for name, validate in members:
                item = value.get(name)
                if item is not None:
                    validate(item, _member_path(path, name), problems)

        return validate_structure

    if kind == "list":
        validate_item = validator(shape.member)

        def validate_list(value: list, path: str, problems: list) -> None:
            if not check_own(value, path, problems):
                return  # too long (or short): its items are not worth a message each
            for i, item in enumerate(value, 1):
                item_path = f"{path}.{i}.member"
                if item is None:
                    problems.append(_problem(None, item_path, "Member must not be null", False))
                else:
                    validate_item(item, item_path, problems)

        return validate_list

    if kind == "map":
        key_checks = _scalar_constraints(shape.key)
        value_shape = shape.value
        validate_value = validator(value_shape)
        scalar_values = value_shape.type_name not in ("structure", "list", "map")
        value_checks = _scalar_constraints(value_shape) if scalar_values else []

        def validate_map(value: dict, path: str, problems: list) -> None:
            check_own(value, path, problems)
            for label, checks, items in (
                ("Map keys", key_checks, value.keys()),
                ("Map value", value_checks, value.values()),
            ):
                failed = sorted({m for item in items if item is not None
                                 for c in checks if (m := c(item))})
                if failed:
                    problems.append(_problem(
                        value, path, f"{label} must satisfy constraint: [{', '.join(failed)}]",
                        sensitive,
                    ))
            for k, item in value.items():
                if item is None:
                    problems.append(_problem(None, f"{path}.{k}", "Member must not be null", False))
                elif not scalar_values:
                    validate_value(item, f"{path}.{k}", problems)

        return validate_map

    if not own:
        return lambda value, path, problems: None
    return check_own
