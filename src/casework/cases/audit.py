"""Audit history: what every change to a case and its related items recorded, GetCaseAuditEvents.

Every write path calls :func:`record` inside its own transaction, so an event exists exactly
when its change was committed. The handlers of CreateCase, UpdateCase and the related-item
operations call it themselves, which gives batch operations and merges built on those handlers
their history for free.

Choices where AWS is silent (fact sheet §9 marks them INFERRED or UNVERIFIED):

- ``Case.Created`` lists every value the case starts with, the service-maintained ones
  (``case_id``, ``reference_number``, ``created_datetime``, ...) included, ``newValue`` only.
- ``Case.Updated`` lists each field whose value actually changed, with ``oldValue`` (absent when
  the field had no value) and ``newValue`` (``emptyValue`` when cleared), including
  ``last_updated_datetime`` and ``last_updated_user``; an update that changes nothing at all is
  not recorded.
- Related-item events carry ``relatedItemType`` and name the item's attributes by their path in
  ``RelatedItemContent`` (``comment.body``, ``contact.contactArn``,
  ``sla.slaConfiguration.targetTime``, ``custom.fields.<field id>``, ...); times are ISO 8601
  strings, as DateTime field values are. ``AuditEvent`` has no member naming the item, so the
  first field of each is ``relatedItemId`` (its ``newValue`` is the item's id). A deletion
  records each attribute's ``oldValue`` with an ``emptyValue`` ``newValue``; an update records
  the attributes that changed.
- ``performedBy.user`` is the request's ``performedBy`` (omitted without one);
  ``iamPrincipalArn`` is the IAM principal of the access key that made the change
  (``arn:aws:iam::<account>:role/<name>`` for a key made with ``--principal role/<name>``), or
  the account's root principal, ``arn:aws:iam::<account>:root``, for a key without one (what AWS
  reports for a caller using an account's own keys) and for changes a merge applies later.
- History is newest first, 25 to a page (the model's default and maximum).
- SLA status changes the service derives itself (``Met`` when the watched field reaches its
  target) are not recorded: they are a consequence of the recorded case update.
"""

from __future__ import annotations

from .. import keys
from ..handlers import Context
from . import registry
from .common import at, cursor, iso, load_domain_case, new_id, next_token
from .queries import audit

PAGE = 25
TOKEN_KIND = "case-audit-events"
EMPTY = {"emptyValue": {}}
# The RelatedItemContent member of each related-item type.
CONTENT_MEMBER = {"Contact": "contact", "Comment": "comment", "File": "file", "Sla": "sla",
                  "ConnectCase": "connectCase", "Custom": "custom"}
_TIMES = frozenset({"connectedToSystemTime", "targetTime", "completionTime"})


def principal_arn(ctx: Context) -> str:
    """The IAM principal the request's changes are attributed to (looked up once a request)."""
    if "principal-arn" not in ctx.memo:
        ctx.memo["principal-arn"] = keys.principal_arn(
            ctx.account_id, ctx.key_principal)
    return ctx.memo["principal-arn"]


def record(ctx: Context, domain_id: str, case_seq: int, event_type: str, fields: list[dict], *,
           user: dict | None = None, related_item_type: str | None = None,
           merge: dict | None = None) -> str | None:
    """Append one event to a case's history in the request's transaction; returns its id.

    ``fields`` are ``AuditEventField`` dicts (see :func:`case_changes` and
    :func:`related_item_changes`); ``user`` is the request's ``performedBy`` (a ``UserUnion``);
    ``merge`` is an ``AuditMergeMetadata`` for events a merge produced. An update that changed
    nothing (no fields) records nothing and returns None.
    """
    if not fields and event_type.endswith(".Updated"):
        return None
    performed_by = {"iamPrincipalArn": principal_arn(ctx)}
    if user:
        performed_by["user"] = user
    event_id = new_id()
    audit.insert_event(ctx.conn, {
        "domain_id": domain_id, "case_seq": case_seq, "event_id": event_id, "type": event_type,
        "related_item_type": related_item_type, "performed_at": ctx.now,
        "performed_by": performed_by, "fields": fields, "merge_metadata": merge})
    return event_id


def _diff(before: dict[str, dict], after: dict[str, dict], order) -> list[dict]:
    """``AuditEventField`` entries for the ids in ``order`` whose value differs."""
    fields = []
    for field_id in dict.fromkeys(order):
        old, new = before.get(field_id), after.get(field_id)
        if old == new:
            continue
        entry = {"eventFieldId": field_id, "newValue": new if new is not None else EMPTY}
        if old is not None:
            entry["oldValue"] = old
        fields.append(entry)
    return fields


def case_changes(before: dict[str, dict], writes: dict[str, dict]) -> list[dict]:
    """The fields a write of ``writes`` (``{field id: FieldValueUnion}``, ``emptyValue``
    clears) changes on a case holding ``before`` (``{}`` for a new case)."""
    after = {**before, **writes}
    after = {k: v for k, v in after.items() if "emptyValue" not in v}
    return _diff(before, after, writes)


def _attributes(item_type: str, content: dict | None) -> dict[str, dict]:
    """A related item's stored content as ``{attribute path: AuditEventFieldValueUnion}``."""
    if content is None:
        return {}
    member = CONTENT_MEMBER[item_type]
    if item_type == "Custom":
        return {f"custom.fields.{f['id']}": f["value"] for f in content["fields"]}
    prefix = "sla.slaConfiguration" if item_type == "Sla" else member
    found = {}
    for key, value in content.items():
        if value is None:
            continue
        path = f"{prefix}.{key}"
        if key == "targetFieldValues":  # the model allows exactly one target value
            for target in value:
                found[path] = target
        elif key in _TIMES:
            found[path] = {"stringValue": iso(value)}
        else:
            found[path] = {"stringValue": str(value)}
    return found


def related_item_changes(item_id: str, item_type: str, before: dict | None,
                         after: dict | None) -> list[dict]:
    """The fields of a related-item event: its id, then each attribute that differs between the
    stored contents ``before`` (None on creation) and ``after`` (None on deletion). Empty when
    an update changed nothing."""
    old, new = _attributes(item_type, before), _attributes(item_type, after)
    changed = _diff(old, new, [*new, *old])
    if not changed and before is not None and after is not None:
        return []
    return [{"eventFieldId": "relatedItemId", "newValue": {"stringValue": item_id}}, *changed]


def _event(row: dict) -> dict:
    event = {"eventId": row["event_id"], "type": row["type"],
             "performedTime": at(row["performed_at"]), "fields": row["fields"],
             "performedBy": row["performed_by"]}
    if row["related_item_type"]:
        event["relatedItemType"] = row["related_item_type"]
    if row["merge_metadata"]:
        event["mergeMetadata"] = row["merge_metadata"]
    return event


@registry.operation("GetCaseAuditEvents", writes=False)
def get_case_audit_events(ctx: Context, params: dict) -> dict:
    """A case's history, newest first, in pages of ``maxResults`` (default 25)."""
    case = load_domain_case(ctx, params["domainId"], params["caseId"])
    limit = params.get("maxResults") or PAGE
    # The token kind names the case, so a token of another case is refused, not misapplied.
    kind = f"{TOKEN_KIND}:{case.case_id}"
    before = cursor(ctx, params, kind, None)
    rows = audit.newest_first(ctx.conn, case.seq, before, limit + 1)
    page = rows[:limit]
    return {"auditEvents": [_event(row) for row in page],
            "nextToken": next_token(ctx, kind, rows, limit, page[-1]["seq"] if page else None)}


def forget_case(ctx: Context, case_seq: int) -> None:
    """Remove a case's history (DeleteCase: AWS documents it as gone with the case)."""
    audit.delete_for_case(ctx.conn, case_seq)
