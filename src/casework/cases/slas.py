"""SLA related items: their target, and how their status follows time and the case.

Status is derived when read: ``Met`` / ``NotMet`` once the target field reached a target value
(on or before / after ``targetTime``), otherwise ``Active`` until ``targetTime`` and
``Overdue`` after it. Reaching the target is recorded (``completionTime``) by the case update
that makes the field match, or at creation if it already matches; later changes of the field
do not undo it.
"""

from __future__ import annotations

from ..handlers import Context
from . import values
from .common import at
from .errors import invalid
from .fields import require_live_fields
from .queries import related_items

MS_PER_MINUTE = 60_000


def new_content(ctx: Context, domain_id: str, config: dict, case_values: dict) -> dict:
    """The stored content of a new SLA item (times in epoch milliseconds)."""
    field_id = config.get("fieldId")
    if not field_id:
        raise invalid("An SLA of type CaseField needs the fieldId it watches")
    if not config.get("targetFieldValues"):
        raise invalid("An SLA needs targetFieldValues")
    require_live_fields(ctx, domain_id, [field_id], "slaInputConfiguration")
    targets = list(values.check(ctx, domain_id, [
        {"id": field_id, "value": v} for v in config["targetFieldValues"]],
        where="content.sla.slaInputConfiguration.targetFieldValues.{n}.member").values())
    done = any(values.matches(case_values.get(field_id), t) for t in targets)
    return {"name": config["name"], "type": config["type"], "fieldId": field_id,
            "targetFieldValues": targets,
            "targetTime": ctx.now + config["targetSlaMinutes"] * MS_PER_MINUTE,
            "completionTime": ctx.now if done else None}


def updated_content(content: dict, association_time: int, config: dict) -> dict:
    """An SLA's content with a new target duration (UpdateRelatedItem): the deadline counts
    from when the SLA was created, and its status follows from it (``status``)."""
    return {**content,
            "targetTime": association_time + config["targetSlaMinutes"] * MS_PER_MINUTE}


def status(content: dict, now: int) -> str:
    """Active, Overdue, Met or NotMet at ``now`` (epoch milliseconds)."""
    completed = content.get("completionTime")
    if completed is not None:
        return "Met" if completed <= content["targetTime"] else "NotMet"
    return "Overdue" if now > content["targetTime"] else "Active"


def api_content(content: dict, now: int) -> dict:
    """The ``slaConfiguration`` a client sees."""
    return {"slaConfiguration": {
        "name": content["name"], "type": content["type"], "status": status(content, now),
        "fieldId": content["fieldId"], "targetFieldValues": content["targetFieldValues"],
        "targetTime": at(content["targetTime"]),
        "completionTime": at(content.get("completionTime"))}}


def record_progress(ctx: Context, case_seq: int, changed: dict[str, dict]) -> None:
    """Mark the open SLAs of a case whose watched field now holds a target value."""
    for item in related_items.for_case(ctx.conn, case_seq):
        content = item["content"]
        if item["type"] != "Sla" or content.get("completionTime") is not None:
            continue
        field_id = content["fieldId"]
        if field_id in changed and any(values.matches(changed[field_id], t)
                                       for t in content["targetFieldValues"]):
            related_items.save_content(ctx.conn, item["seq"],
                                       {**content, "completionTime": ctx.now},
                                       item["last_updated_user"])

