"""Related items: CreateRelatedItem, UpdateRelatedItem, DeleteRelatedItem, SearchRelatedItems.

Choices where AWS is silent: ``type`` must name the content member given; a Contact's
``channel`` and ``connectedToSystemTime`` come from the contact registry (`casework contacts
put`), and a contact it does not know is recorded as a ``VOICE`` contact (Amazon Connect's
original and default channel) connected at the association time; a contact ARN must look like
``arn:<partition>:connect:<region>:<account>:instance/<id>/contact/<id>`` and a file ARN like
``arn:<partition>:connect:<region>:<account>:instance/<id>/file/<id>`` (the Service
Authorization Reference's shapes; a ValidationException worded as AWS words a pattern
violation otherwise); a ConnectCase item
must name another case of the same domain (404 otherwise); Custom items take live custom
fields only, at most 5 (the quota, so a 402); several search filters are OR-ed, as AWS
documents for SearchAllRelatedItems; search results are newest first.
"""

from __future__ import annotations

from ..handlers import Context
from . import audit, events, filters, registry, slas, values
from .arns import CONTACT_ARN, FILE_ARN
from .case_records import load_case, refuse_while_merging, refuse_while_merging_later
from .common import (
    at,
    cursor,
    load_domain_case,
    load_domain_case_later,
    new_id,
    next_token,
    related_item_arn,
)
from .errors import RELATED_ITEM, check_pattern, invalid, not_found, quota
from .queries import case_records, contacts, related_items, tags

MEMBER = {"Contact": "contact", "Comment": "comment", "File": "file", "Sla": "sla",
          "ConnectCase": "connectCase", "Custom": "custom"}
MAX_ITEMS = 200
MAX_OF_TYPE = {"File": 50, "Sla": 10}
MAX_CUSTOM_FIELDS = 5
SEARCH_PAGE = 25
UNKNOWN_CHANNEL = "VOICE"


def _custom_fields(ctx: Context, domain_id: str, fields: list[dict]) -> list[dict]:
    if len(fields) > MAX_CUSTOM_FIELDS:
        raise quota(f"A Custom related item can hold at most {MAX_CUSTOM_FIELDS} fields")
    checked = values.check(ctx, domain_id, fields, custom_only=True,
                           where="content.custom.fields.{n}.member.value")
    return [{"id": f, "value": v} for f, v in checked.items() if "emptyValue" not in v]


def _contact(ctx: Context, contact_arn: str) -> dict:
    check_pattern(contact_arn, "content.contact.contactArn", CONTACT_ARN)
    known = contacts.find(ctx.conn, ctx.account_id, contact_arn)
    if known is None:
        return {"contactArn": contact_arn, "channel": UNKNOWN_CHANNEL,
                "connectedToSystemTime": ctx.now}
    return {"contactArn": contact_arn, "channel": known.channel,
            "connectedToSystemTime": known.connected_at}


def _content(ctx: Context, domain_id: str, case, kind: str, body: dict) -> dict:
    """The stored content of a new item (times in epoch milliseconds)."""
    if kind == "contact":
        return _contact(ctx, body["contactArn"])
    if kind == "sla":
        return slas.new_content(ctx, domain_id, body["slaInputConfiguration"],
                                case_records.values(ctx.conn, case.seq))
    if kind == "connectCase":
        other = load_case(ctx, domain_id, body["caseId"])
        if other.seq == case.seq:
            raise invalid("A case cannot be related to itself")
        return {"caseId": other.case_id}
    if kind == "custom":
        return {"fields": _custom_fields(ctx, domain_id, body["fields"])}
    if kind == "file":
        check_pattern(body["fileArn"], "content.file.fileArn", FILE_ARN)
    return dict(body)


def api_content(item: dict, now: int) -> dict:
    """The RelatedItemContent union of a stored item."""
    kind, content = MEMBER[item["type"]], item["content"]
    if kind == "contact":
        content = {**content, "connectedToSystemTime": at(content["connectedToSystemTime"])}
    elif kind == "sla":
        content = slas.api_content(content, now)
    return {kind: content}


def _arn(ctx: Context, domain_id: str, case_id: str, item_id: str) -> str:
    return related_item_arn(ctx, domain_id, case_id, item_id)


@registry.operation("CreateRelatedItem", writes=True)
def create_related_item(ctx: Context, params: dict) -> dict:
    """Relate a contact, comment, file, SLA, case or custom record to a case."""
    domain_id, case_id = params["domainId"], params["caseId"]
    # Lock the case (its row counts its items), check for a merge and, for a type with a
    # quota of its own, count the items of the type, in one round trip (PostgreSQL); the
    # checks raise in this order when their rows arrive.
    case = load_domain_case_later(ctx, domain_id, case_id, lock=True)
    refuse_while_merging_later(ctx, domain_id, case_id)
    limit = MAX_OF_TYPE.get(params["type"])
    of_type = (related_items.count_of_type(ctx.conn, domain_id, case_id, params["type"])
               if limit is not None else 0)
    case = case.get()
    kind, body = next(iter(params["content"].items()))
    if MEMBER[params["type"]] != kind:
        raise invalid(f"type {params['type']} does not match content member {kind}")
    if case.related_item_count >= MAX_ITEMS:
        raise quota(f"A case can have at most {MAX_ITEMS} related items")
    if limit is not None and of_type >= limit:
        raise quota(f"A case can have at most {limit} related items of type {params['type']}")
    content = _content(ctx, domain_id, case, kind, body)
    item_id = new_id()
    row = {"domain_id": domain_id, "case_seq": case.seq, "related_item_id": item_id,
           "type": params["type"], "content": content, "created_by": params.get("performedBy"),
           "association_time": ctx.now}
    if kind == "contact":
        seq = related_items.insert_item(ctx.conn, row)
        related_items.link_contact(ctx.conn, domain_id, content["contactArn"], case.seq, seq)
    else:  # nothing reads the new row's number back
        related_items.insert_item(ctx.conn, row, number=False)
    changes = audit.related_item_changes(item_id, params["type"], None, content)
    audit.record(ctx, domain_id, case.seq, "RelatedItem.Created", changes,
                 user=params.get("performedBy"), related_item_type=params["type"])
    events.related_item_changed(
        ctx, domain_id, case.case_id, "RELATED_ITEM.CREATED",
        {"id": item_id, "type": params["type"], "content": content,
         "association_time": ctx.now}, changes, params.get("performedBy"))
    return {"relatedItemId": item_id, "relatedItemArn": _arn(ctx, domain_id, case.case_id,
                                                             item_id)}


def _item_to_change(ctx: Context, params: dict) -> tuple[str, object, dict]:
    """(domain id, case, item) named by an update or delete, once the case may change."""
    domain_id = params["domainId"]
    case = load_domain_case(ctx, domain_id, params["caseId"], lock=True)
    refuse_while_merging(ctx, domain_id, case.case_id)
    item_id = params["relatedItemId"]
    item = related_items.find(ctx.conn, case.seq, item_id)
    if item is None:
        raise not_found(RELATED_ITEM, item_id, f"Related item {item_id} not found")
    return domain_id, case, item


@registry.operation("UpdateRelatedItem", writes=True)
def update_related_item(ctx: Context, params: dict) -> dict:
    """Replace a comment's text, a custom item's fields or an SLA's target duration; returns
    the whole item."""
    domain_id, case, item = _item_to_change(ctx, params)
    kind, body = next(iter(params["content"].items()))
    if MEMBER[item["type"]] != kind:
        raise invalid(f"Related item {item['id']} is of type {item['type']}; only Comment, "
                      f"Custom and Sla items can be updated, each with its own content member")
    if kind == "comment":
        content = dict(body)
    elif kind == "custom":
        content = {"fields": _custom_fields(ctx, domain_id, body["fields"])}
    else:
        content = slas.updated_content(item["content"], item["association_time"],
                                       body["slaUpdateConfiguration"])
    user = params.get("performedBy")
    related_items.save_content(ctx.conn, item["seq"], content, user)
    changes = audit.related_item_changes(item["id"], item["type"], item["content"], content)
    audit.record(ctx, domain_id, case.seq, "RelatedItem.Updated", changes, user=user,
                 related_item_type=item["type"])
    item = {**item, "content": content, "last_updated_user": user}
    events.related_item_changed(ctx, domain_id, case.case_id, "RELATED_ITEM.UPDATED", item,
                                changes, user)
    arn = _arn(ctx, domain_id, case.case_id, item["id"])
    return {"relatedItemId": item["id"], "relatedItemArn": arn, "type": item["type"],
            "content": api_content(item, ctx.now),
            "associationTime": at(item["association_time"]),
            "tags": tags.of(ctx.conn, arn), "lastUpdatedUser": user,
            "createdBy": item["created_by"]}


@registry.operation("DeleteRelatedItem", writes=True)
def delete_related_item(ctx: Context, params: dict) -> dict:
    """Remove a related item (not a file) and, for contacts, its link."""
    domain_id, case, item = _item_to_change(ctx, params)
    if item["type"] == "File":
        raise invalid("File related items cannot be deleted; delete the attached file in "
                      "Amazon Connect instead")
    related_items.delete_item(ctx.conn, item["seq"], case.seq)
    changes = audit.related_item_changes(item["id"], item["type"], item["content"], None)
    audit.record(ctx, domain_id, case.seq, "RelatedItem.Deleted", changes,
                 related_item_type=item["type"])
    events.related_item_changed(ctx, domain_id, case.case_id, "RELATED_ITEM.DELETED", item,
                                changes, params.get("performedBy"))
    tags.remove_all(ctx.conn, _arn(ctx, domain_id, case.case_id, item["id"]))
    if item["type"] == "Contact":
        contact_arn = item["content"]["contactArn"]
        remaining = [other["seq"] for other in related_items.for_case(ctx.conn, case.seq)
                     if other["type"] == "Contact"
                     and other["content"]["contactArn"] == contact_arn]
        related_items.unlink_contact(ctx.conn, domain_id, contact_arn, case.seq,
                                     max(remaining, default=None))
    return {}


def _matches(item: dict, filter_: dict, now: int) -> bool:
    kind, wanted = next(iter(filter_.items()))
    if MEMBER[item["type"]] != kind:
        return False
    content = item["content"]
    if kind == "contact":
        return (wanted.get("contactArn") in (None, content["contactArn"])
                and (not wanted.get("channel") or content["channel"] in wanted["channel"]))
    if kind == "file":
        return wanted.get("fileArn") in (None, content["fileArn"])
    if kind == "connectCase":
        return wanted.get("caseId") in (None, content["caseId"])
    if kind == "sla":
        return (wanted.get("name") in (None, content["name"])
                and wanted.get("status") in (None, slas.status(content, now)))
    if kind == "custom":
        tree = wanted.get("fields")
        return tree is None or filters.matches(
            tree, {f["id"]: f["value"] for f in content["fields"]})
    return True  # comment: the filter has no members


@registry.operation("SearchRelatedItems", writes=False, aside=True)
def search_related_items(ctx: Context, params: dict) -> dict:
    """A case's related items matching any of the filters, newest first."""
    domain_id = params["domainId"]
    case = load_domain_case(ctx, domain_id, params["caseId"])
    limit = params.get("maxResults") or SEARCH_PAGE
    before = cursor(ctx, params, "related-items", None)
    wanted = params.get("filters") or []
    filters.check_size(filters.custom_trees(wanted))
    # A case holds at most a few hundred items: filter in memory, page by newest first.
    found = [item for item in related_items.for_case(ctx.conn, case.seq)
             if (before is None or item["seq"] < before)
             and (not wanted or any(_matches(item, f, ctx.now) for f in wanted))][:limit + 1]
    page = found[:limit]
    return {
        "relatedItems": [{
            "relatedItemId": item["id"], "type": item["type"],
            "associationTime": at(item["association_time"]),
            "content": api_content(item, ctx.now),
            "tags": tags.of(ctx.conn, _arn(ctx, domain_id, case.case_id, item["id"])),
            "performedBy": item["created_by"],
        } for item in page],
        "nextToken": next_token(ctx, "related-items", found, limit,
                                page[-1]["seq"] if page else None),
    }
