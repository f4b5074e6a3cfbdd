"""Field values: which union member fits which field type, and checking a request's values.

Choices where AWS is silent: an unknown field id is a ValidationException naming it (the
request's resource is the case, not the field); DateTime values are ISO 8601 strings, stored
normalized to UTC milliseconds (``2026-01-02T03:04:05.678Z``) so they sort and compare as
times; single-select values must be active options; fields the service maintains cannot be
written by callers; a ``customer_id`` value must be a Customer Profiles profile ARN, as the
model's CreateCase documentation gives it (``arns.PROFILE_ARN``), else a ValidationException
worded as AWS words a pattern violation.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ..clock import epoch_ms
from ..handlers import Context
from .arns import PROFILE_ARN
from .common import find_definitions, iso
from .errors import check_pattern, invalid
from .queries import options
from .queries.search import SERVICE_MAINTAINED

MEMBER = {"Text": "stringValue", "Url": "stringValue", "SingleSelect": "stringValue",
          "DateTime": "stringValue", "Number": "doubleValue", "Boolean": "booleanValue",
          "User": "userArnValue"}
SUMMARY_MAX = 3000  # the model documents 3000 characters for summary, 4100 for the rest


def _datetime(text: str, field_id: str) -> str:
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        # In UTC, where it is stored: a time zone must not take it out of years 1 to 9999.
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise invalid(f"Value of field {field_id} must be an ISO 8601 date-time in the years "
                      "1 to 9999") from None
    return iso(epoch_ms(moment))


def check(ctx: Context, domain_id: str, items: list[dict], *, existing: set[str] = frozenset(),
          custom_only: bool = False, where: str = "fields.{n}.member.value") -> dict[str, dict]:
    """The request's values as ``{field id: union}``, after every type and option check.

    ``existing`` names the fields the case already holds values for: only those may be
    written once their field is deleted (UpdateCase). ``where`` is the request path of the
    n-th item's value union (1-based, as AWS numbers list members), for error messages.
    """
    ids = [item["id"] for item in items]
    if len(set(ids)) != len(ids):
        raise invalid("fields lists a field more than once")
    found = find_definitions(ctx, domain_id, "field", ids)
    unknown = sorted(f for f in ids if f not in found)
    if unknown:
        raise invalid(f"Fields do not exist: {', '.join(unknown)}")
    deleted = sorted(f for f in ids if found[f]["deleted"] and f not in existing)
    if deleted:
        raise invalid(f"Fields are deleted: {', '.join(deleted)}")
    fixed = sorted(f for f in ids if f in SERVICE_MAINTAINED)
    if fixed:
        raise invalid(f"Fields are maintained by the service and cannot be set: "
                      f"{', '.join(fixed)}")
    if custom_only:
        system = sorted(f for f in ids if found[f]["namespace"] == "System")
        if system:
            raise invalid(f"System fields cannot be used here: {', '.join(system)}")
    result, selects = {}, {}
    for n, item in enumerate(items, 1):
        field_id, union = item["id"], item["value"]
        kind, value = next(iter(union.items()))
        field_type = found[field_id]["type"]
        if kind != "emptyValue" and kind != MEMBER[field_type]:
            raise invalid(f"Field {field_id} is of type {field_type} and takes "
                          f"{MEMBER[field_type]}, not {kind}")
        if kind == "stringValue":
            if field_id == "customer_id":
                check_pattern(value, f"{where.format(n=n)}.stringValue", PROFILE_ARN)
            if field_id == "summary" and len(value) > SUMMARY_MAX:
                raise invalid(f"Value of field summary must be at most {SUMMARY_MAX} characters")
            if field_type == "DateTime":
                union = {kind: _datetime(value, field_id)}
            elif field_type == "SingleSelect":
                selects[field_id] = value
        result[field_id] = union
    for field_id, value in selects.items():
        option = options.find(ctx.conn, domain_id, field_id, [value]).get(value)
        if option is None or not option.active:
            raise invalid(f"{value} is not an active option of field {field_id}")
    return result


def matches(stored: dict | None, target: dict) -> bool:
    """Whether a stored value equals a target union value (SLA targets, rule operands)."""
    if stored is None:
        return "emptyValue" in target
    return stored == target
