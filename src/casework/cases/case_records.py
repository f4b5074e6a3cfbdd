"""Cases: CreateCase, GetCase, UpdateCase, DeleteCase.

Choices where AWS is silent: ``title`` is always required and ``customer_id`` only when the
template requires it (as the model's CreateCase documentation says); ``status`` starts ``open``;
``reference_number`` is a random 8-digit number (AWS documents it as not unique);
``last_updated_user`` follows ``performedBy.userArn`` and is cleared when a change is made by a
custom entity or without ``performedBy`` (it holds Connect user ARNs only); a ``clientToken``
is remembered for as long as its case exists, and reusing it with a different body is a
ConflictException; template tags propagate first, so a request tag with the same key wins.
"""

from __future__ import annotations

import hashlib
import os
from types import SimpleNamespace

import orjson

from ..handlers import Context
from . import audit, events, registry, rules, slas, values
from .common import (
    arn_of,
    case_not_found,
    field_seqs,
    iso,
    load_domain_case,
    load_domain_later,
    new_id,
    related_item_arn,
)
from .errors import conflict, invalid
from .queries import case_records, related_items, tags
from .queries import merges as merge_queries
from .queries.domains import WRITE
from .templates import live_view, load_template

MAX_TAGS = 50
ALWAYS_REQUIRED = ("title",)


def load_case(ctx: Context, domain_id: str, case_id: str):
    """The case row, or 404 (a change to a case locks it: ``common.load_domain_case``)."""
    found = case_records.find(ctx.conn, domain_id, case_id)
    if found is None:
        raise case_not_found(case_id)
    return found


def _reference_number() -> str:
    """Eight random digits (40 random bits reduced: a bias below one in ten thousand)."""
    return f"{int.from_bytes(os.urandom(5), 'big') % 10**8:08d}"


def _request_hash(params: dict) -> str:
    body = {key: params.get(key) for key in ("templateId", "fields", "performedBy", "tags")}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _user_value(params: dict) -> dict:
    user_arn = (params.get("performedBy") or {}).get("userArn")
    return {"userArnValue": user_arn} if user_arn else {"emptyValue": {}}


def _required(template: dict) -> list[str]:
    return list(ALWAYS_REQUIRED) + [r["fieldId"] for r in template["requiredFields"]]


def _earlier_case(ctx: Context, domain_id: str, earlier, token: str, request_hash: str) -> dict:
    """The answer to a retry: the case the token created, if the request is the same."""
    if earlier.request_hash != request_hash:
        raise conflict(f"clientToken {token} was already used with a different request")
    return {"caseId": earlier.case_id, "caseArn": arn_of(ctx, domain_id, "case", earlier.case_id)}


@registry.operation("CreateCase", writes=True)
def create_case(ctx: Context, params: dict) -> dict:
    """A case from an Active template, with typed, rule-checked values (idempotent by token)."""
    domain_id = params["domainId"]
    token = params.get("clientToken") or None
    # The domain, the token's earlier case, if any, and the new case's number in one round
    # trip (PostgreSQL); the rest of the request is sent with its COMMIT.
    domain = load_domain_later(ctx, domain_id, WRITE)
    earlier = None if token is None else case_records.claim_token_later(
        ctx.conn, domain_id, token)
    seq = case_records.next_seq_later(ctx.conn)
    domain.get()
    template = load_template(ctx, domain_id, params["templateId"])
    if template["deleted"]:
        raise invalid(f"Template {template['id']} is deleted")
    if template["status"] != "Active":
        raise invalid(f"Template {template['id']} is Inactive and cannot create cases")
    request_hash = _request_hash(params)
    found = None if earlier is None else earlier.get()
    if found is not None:
        return _earlier_case(ctx, domain_id, found, token, request_hash)
    given = values.check(ctx, domain_id, params["fields"])
    template = live_view(ctx, domain_id, template)
    stored = {k: v for k, v in given.items() if "emptyValue" not in v}
    missing = [f for f in _required(template) if f not in stored]
    if missing:
        raise invalid(f"Required fields are missing: {', '.join(missing)}")
    stored.setdefault("status", {"stringValue": "open"})
    rules.enforce(ctx, domain_id, template, stored, None)

    case_id = new_id()
    row = {"domain_id": domain_id, "case_id": case_id, "template_id": template["id"],
           "client_token": token, "request_hash": request_hash, "created_at": ctx.now}
    if seq is not None:
        row["seq"] = seq.get()
    case_seq = case_records.insert_case(ctx.conn, row)
    now = {"stringValue": iso(ctx.now)}
    service = {"case_id": {"stringValue": case_id},
               "reference_number": {"stringValue": _reference_number()},
               "created_datetime": now, "last_updated_datetime": now,
               "last_updated_user": _user_value(params)}
    if stored["status"] == {"stringValue": "closed"}:
        service["last_closed_datetime"] = now
    initial = {**stored, **service}
    case_records.write_values(ctx.conn, domain_id, case_seq, initial,
                              field_seqs(ctx, domain_id, initial))
    changed = audit.case_changes({}, initial)
    audit.record(ctx, domain_id, case_seq, "Case.Created", changed,
                 user=params.get("performedBy"))
    events.case_changed(ctx, domain_id, SimpleNamespace(
        seq=case_seq, case_id=case_id, template_id=template["id"], created_at=ctx.now),
        "CASE.CREATED", changed, params.get("performedBy"), initial)

    case_tags = {}
    for propagation in template["tagPropagationConfigurations"] or []:
        case_tags.update(propagation["tagMap"])
    case_tags.update(params.get("tags") or {})
    if len(case_tags) > MAX_TAGS:
        raise invalid(f"A case can have at most {MAX_TAGS} tags, template tags included")
    case_arn = arn_of(ctx, domain_id, "case", case_id)
    tags.put(ctx.conn, domain_id, case_arn, case_tags)
    return {"caseId": case_id, "caseArn": case_arn}


@registry.operation("GetCase", writes=False)
def get_case(ctx: Context, params: dict) -> dict:
    """The requested fields that hold a value, in the order asked, plus template and tags."""
    domain_id = params["domainId"]
    case = load_domain_case(ctx, domain_id, params["caseId"])
    if params.get("nextToken"):
        # Every value fits one page, so no token is ever issued: any token is foreign.
        ctx.tokens.decode("case-fields", ctx.account_id, params["nextToken"])
    stored = case_records.values(ctx.conn, case.seq)
    wanted = dict.fromkeys(item["id"] for item in params["fields"])
    return {"templateId": case.template_id,
            "fields": [{"id": f, "value": stored[f]} for f in wanted if f in stored],
            "tags": tags.of(ctx.conn, arn_of(ctx, domain_id, "case", case.case_id))}


def refuse_while_merging(ctx: Context, domain_id: str, case_id: str, *,
                         deleting: bool = False) -> None:
    """AWS freezes a merge's secondary case, and keeps its primary, until the merge is done."""
    _refuse(merge_queries.running_merge_of(ctx.conn, domain_id, case_id), case_id, deleting)


def refuse_while_merging_later(ctx: Context, domain_id: str, case_id: str) -> None:
    """:func:`refuse_while_merging`, read with the request's next statement and checked when
    it arrives (one round trip less on PostgreSQL)."""
    merge_queries.running_merge_of_later(ctx.conn, domain_id, case_id,
                                         lambda merge: _refuse(merge, case_id, False))


def _refuse(merge: dict | None, case_id: str, deleting: bool) -> None:
    if merge is None:
        return
    if merge["secondary"] == case_id:
        raise conflict(f"Case {case_id} is being merged into case {merge['primary']} and "
                       "cannot be changed until the merge finishes")
    if deleting:
        raise conflict(f"Case {case_id} is the primary case of a running merge and cannot be "
                       "deleted until the merge finishes")


@registry.operation("UpdateCase", writes=True)
def update_case(ctx: Context, params: dict) -> dict:
    """Patch the listed values (``emptyValue`` clears) and the service-maintained ones."""
    domain_id = params["domainId"]
    case = load_domain_case(ctx, domain_id, params["caseId"], lock=True)
    refuse_while_merging(ctx, domain_id, case.case_id)
    current = case_records.values(ctx.conn, case.seq)
    changes = values.check(ctx, domain_id, params["fields"], existing=set(current))
    template = live_view(ctx, domain_id, load_template(ctx, domain_id, case.template_id))
    cleared = sorted(f for f in _required(template)
                     if "emptyValue" in changes.get(f, {}))
    if cleared:
        raise invalid(f"Fields required by the template cannot be emptied: {', '.join(cleared)}")
    merged = {**current, **changes}
    merged = {k: v for k, v in merged.items() if "emptyValue" not in v}
    rules.enforce(ctx, domain_id, template, merged, set(changes))

    now = {"stringValue": iso(ctx.now)}
    service = {"last_updated_datetime": now, "last_updated_user": _user_value(params)}
    if merged.get("status") == {"stringValue": "closed"} and \
            current.get("status") != {"stringValue": "closed"}:
        service["last_closed_datetime"] = now
    writes = {**changes, **service}
    case_records.write_values(ctx.conn, domain_id, case.seq, writes,
                              field_seqs(ctx, domain_id, writes), before=current)
    changed = audit.case_changes(current, writes)
    audit.record(ctx, domain_id, case.seq, "Case.Updated", changed,
                 user=params.get("performedBy"))
    events.case_changed(ctx, domain_id, case, "CASE.UPDATED", changed,
                        params.get("performedBy"), {**merged, **service})
    slas.record_progress(ctx, case.seq, changes)
    return {}


@registry.operation("DeleteCase", writes=True)
def delete_case(ctx: Context, params: dict) -> dict:
    """Remove the case, its values, related items, contact links, tags and history for good."""
    domain_id = params["domainId"]
    case = load_domain_case(ctx, domain_id, params["caseId"], lock=True)
    refuse_while_merging(ctx, domain_id, case.case_id, deleting=True)
    doomed = [arn_of(ctx, domain_id, "case", case.case_id)] + [
        related_item_arn(ctx, domain_id, case.case_id, item["id"])
        for item in related_items.for_case(ctx.conn, case.seq)]
    events.case_changed(ctx, domain_id, case, "CASE.DELETED", [], None)
    audit.forget_case(ctx, case.seq)
    case_records.delete_case(ctx.conn, case.seq, doomed)
    return {}
