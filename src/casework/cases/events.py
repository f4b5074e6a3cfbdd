"""Connect Cases' ``Amazon Connect Cases Change`` events, as the domain's event configuration says.

Nothing is published for a domain whose ``PutCaseEventConfiguration`` is missing or has
``enabled: false``. Otherwise every change publishes one event in the change's transaction:
``source`` ``aws.cases``, in the domain's region, with the domain's ARN and the case's (or the
related item's) ARN as ``resources``, and a ``detail`` of ``version`` ``"0"``, ``eventType``,
``approximateChangeTime`` (ISO 8601, milliseconds) and ``performedBy`` (the request's
``performedBy`` as ``user``, and the ``iamPrincipalArn`` of the caller, as the audit history
records them), plus:

* case events (``CASE.CREATED``, ``CASE.UPDATED``, ``CASE.DELETED``): ``changedFieldIds`` (the
  fields whose value the change set or changed, service-maintained ones included, as the audit
  history lists them) and ``case`` with ``caseId``, ``templateId``, ``createdDateTime`` and,
  when ``includedData.caseData`` is configured, ``fields``: an object keyed by field id of the
  configured fields that hold a value after the change (``{"value": {<FieldValueUnion>}}``);
* related-item events (``RELATED_ITEM.CREATED``, ``RELATED_ITEM.UPDATED``,
  ``RELATED_ITEM.DELETED``): ``changedAttributes`` (the item's attributes by their path in
  ``RelatedItemContent``, as the audit history names them: ``comment.body``, ...) and
  ``relatedItem`` with ``relatedItemType``, ``relatedItemId``, ``caseId``, ``createdDateTime``
  and, when ``includedData.relatedItemData.includeContent`` is true, the content under its
  ``RelatedItemContent`` member (``comment``, ``contact``, ...).

Choices where AWS is silent: ``CASE.DELETED`` carries ``changedFieldIds: []`` and the
configured fields the case held when it was deleted; a deleted related item's event carries
the content it had; a field deleted from the domain after the configuration was put is left
out, as GetCaseEventConfiguration leaves it out; an update that changed nothing publishes
nothing (as it records no audit event); a merge publishes ``CASE.UPDATED`` for both cases and
the related-item events of what it moved, dropped and linked.
"""

from __future__ import annotations

from datetime import datetime

from ..clock import iso_ms
from ..outbox.events import publish_event, wanted
from . import arns, audit
from .common import region_of
from .queries import definitions, event_configuration

SOURCE = "aws.cases"
DETAIL_TYPE = "Amazon Connect Cases Change"


def _configuration(ctx, domain_id: str) -> dict | None:
    """The domain's configuration when publishing is enabled (read once a request), else
    None; its case fields are narrowed to the live ones."""
    key = f"event-configuration:{domain_id}"
    if key not in ctx.memo:
        found = event_configuration.find(ctx.conn, domain_id)
        if found is not None and found.get("enabled"):
            case_data = (found.get("includedData") or {}).get("caseData")
            if case_data is not None and case_data.get("fields"):
                ids = [item["id"] for item in case_data["fields"]]
                known = definitions.find_many(ctx.conn, domain_id, "field", ids)
                case_data["fields"] = [{"id": f} for f in ids
                                       if f in known and not known[f]["deleted"]]
        else:
            found = None
        ctx.memo[key] = found
    return ctx.memo[key]


def _performed_by(ctx, user: dict | None) -> dict:
    performed = {}
    if user:
        performed["user"] = user
    performed["iamPrincipalArn"] = audit.principal_arn(ctx)
    return performed


def _jsonable(value):
    """Content as JSON: datetimes (contact and SLA times) become ISO 8601 strings."""
    if isinstance(value, datetime):
        return iso_ms(int(value.timestamp() * 1000))
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    return value


def case_changed(ctx, domain_id: str, case, event_type: str, fields: list[dict],
                 user: dict | None, values: dict[str, dict] | None = None) -> None:
    """Publish a case event. ``case`` is the case row, ``fields`` the audit fields of the
    change (``audit.case_changes``), ``values`` the case's values after it (read from the
    case when not given)."""
    if not wanted(ctx):
        return
    configuration = _configuration(ctx, domain_id)
    if configuration is None:
        return
    changed = [field["eventFieldId"] for field in fields]
    if not changed and event_type == "CASE.UPDATED":
        return
    region = region_of(ctx, domain_id)
    body = {"caseId": case.case_id, "templateId": case.template_id,
            "createdDateTime": iso_ms(case.created_at)}
    case_data = (configuration.get("includedData") or {}).get("caseData")
    if case_data is not None:
        if values is None:
            from .queries import case_records

            values = case_records.values(ctx.conn, case.seq)
        body["fields"] = {item["id"]: {"value": values[item["id"]]}
                          for item in case_data["fields"]
                          if item["id"] in values and "emptyValue" not in values[item["id"]]}
    detail = {"version": "0", "eventType": event_type,
              "approximateChangeTime": iso_ms(ctx.now), "changedFieldIds": changed,
              "performedBy": _performed_by(ctx, user), "case": body}
    resources = [arns.domain_arn(region, ctx.account_id, domain_id),
                 arns.item_arn(region, ctx.account_id, domain_id, "case", case.case_id)]
    publish_event(ctx, source=SOURCE, detail_type=DETAIL_TYPE, region=region,
                  resources=resources, detail=detail, kind=event_type, case_id=case.case_id)


def related_item_changed(ctx, domain_id: str, case_id: str, event_type: str, item: dict,
                         fields: list[dict], user: dict | None) -> None:
    """Publish a related-item event. ``item`` has ``id``, ``type``, ``content`` (stored: as
    it is after the change, or was before a deletion) and ``association_time``; ``fields``
    are the audit fields of the change (``audit.related_item_changes``)."""
    if not wanted(ctx):
        return
    configuration = _configuration(ctx, domain_id)
    if configuration is None:
        return
    changed = [field["eventFieldId"] for field in fields
               if field["eventFieldId"] != "relatedItemId"]
    if not changed and event_type == "RELATED_ITEM.UPDATED":
        return
    region = region_of(ctx, domain_id)
    body = {"relatedItemType": item["type"], "relatedItemId": item["id"], "caseId": case_id,
            "createdDateTime": iso_ms(item["association_time"])}
    related_data = (configuration.get("includedData") or {}).get("relatedItemData")
    if related_data is not None and related_data.get("includeContent"):
        from .related_items import api_content

        body.update(_jsonable(api_content(item, ctx.now)))
    detail = {"version": "0", "eventType": event_type,
              "approximateChangeTime": iso_ms(ctx.now), "changedAttributes": changed,
              "performedBy": _performed_by(ctx, user), "relatedItem": body}
    resources = [arns.domain_arn(region, ctx.account_id, domain_id),
                 arns.related_item_arn(region, ctx.account_id, domain_id, case_id, item["id"])]
    publish_event(ctx, source=SOURCE, detail_type=DETAIL_TYPE, region=region,
                  resources=resources, detail=detail, kind=event_type, case_id=case_id)
