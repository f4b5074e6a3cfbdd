"""Domains: CreateDomain, GetDomain, ListDomains, DeleteDomain.

A new domain holds the system fields (namespace ``System``) and the locked ``open``/``closed``
options of ``status``; nothing else (no templates, layouts or rules), as the console shows a
fresh domain. Domains are ``Active`` at once: there is no provisioning to wait for.

Connect Cases is regional: a domain lives in the region of the request that created it (the
SigV4 signing region), and only requests signed for that region see it (``load_domain``).
The 5-domain quota and the unique names are per account and region, as AWS service quotas
and resources are.
"""

from __future__ import annotations

import uuid

from ..handlers import Context
from . import arns, registry
from .common import at, cursor, load_domain, next_token
from .errors import conflict, quota
from .queries import definitions, domains, options, tags
from .queries.domains import DELETE

MAX_DOMAINS = 5
LIST_PAGE = 10  # the model's maximum for ListDomains

# (id, name, type): ids are fixed; names are the console's labels. assigned_user holds a Connect
# user ARN, so it is typed User like last_updated_user (the API has userArnValue for exactly
# that); the admin guide's table calls it Text.
SYSTEM_FIELDS = (
    ("case_id", "Case ID", "Text"),
    ("title", "Title", "Text"),
    ("customer_id", "Customer", "Text"),
    ("status", "Status", "SingleSelect"),
    ("case_reason", "Case Reason", "SingleSelect"),
    ("summary", "Summary", "Text"),
    ("reference_number", "Reference number", "Text"),
    ("created_datetime", "Date/Time Opened", "DateTime"),
    ("last_updated_datetime", "Date/Time Updated", "DateTime"),
    ("last_closed_datetime", "Date/Time Closed", "DateTime"),
    ("assigned_queue", "Assigned queue", "Text"),
    ("assigned_user", "Assigned user", "User"),
    ("last_updated_user", "Last Updated User", "User"),
)
STATUS_OPTIONS = (("open", "Open"), ("closed", "Closed"))


@registry.operation("CreateDomain", writes=True)
def create_domain(ctx: Context, params: dict) -> dict:
    """A new, Active domain holding the system fields and status options."""
    name = params["name"]
    # One CreateDomain of the account at a time: the quota and the name are checked and used
    # by the same request.
    domains.lock_account(ctx.conn, ctx.account_id)
    if domains.name_taken(ctx.conn, ctx.account_id, ctx.region, name):
        raise conflict(f"A domain named {name} already exists")
    if domains.count(ctx.conn, ctx.account_id, ctx.region) >= MAX_DOMAINS:
        raise quota(f"The account already has {MAX_DOMAINS} domains in {ctx.region}, the most "
                    "allowed")
    domain_id = str(uuid.uuid4())
    domains.insert_domain(ctx.conn, ctx.account_id, domain_id, name, ctx.region, ctx.now)
    body = {"namespace": "System", "description": None, "attributes": None}
    definitions.insert_many(ctx.conn, [
        {"domain_id": domain_id, "kind": "field", "item_id": field_id, "name": label,
         "body": {**body, "type": kind}, "created_at": ctx.now, "modified_at": ctx.now}
        for field_id, label, kind in SYSTEM_FIELDS])
    for value, label in STATUS_OPTIONS:
        options.add(ctx.conn, domain_id, "status", value, label, True)
    return {"domainId": domain_id,
            "domainArn": arns.domain_arn(ctx.region, ctx.account_id, domain_id),
            "domainStatus": "Active"}


@registry.operation("GetDomain", writes=False)
def get_domain(ctx: Context, params: dict) -> dict:
    """The domain's id, ARN, name, creation time, status and tags."""
    domain = load_domain(ctx, params["domainId"])
    arn = arns.domain_arn(domain.region, ctx.account_id, domain.domain_id)
    return {"domainId": domain.domain_id, "domainArn": arn, "name": domain.name,
            "createdTime": at(domain.created_at), "domainStatus": "Active",
            "tags": tags.of(ctx.conn, arn)}


@registry.operation("ListDomains", writes=False)
def list_domains(ctx: Context, params: dict) -> dict:
    """The account's domains in the request's region, oldest first."""
    limit = params.get("maxResults") or LIST_PAGE
    rows = domains.page(ctx.conn, ctx.account_id, ctx.region, cursor(ctx, params, "domains"),
                        limit + 1)
    page = rows[:limit]
    return {
        "domains": [{"domainId": r.domain_id, "name": r.name,
                     "domainArn": arns.domain_arn(r.region, ctx.account_id, r.domain_id)}
                    for r in page],
        "nextToken": next_token(ctx, "domains", rows, limit, page[-1].seq if page else 0),
    }


@registry.operation("DeleteDomain", writes=True)
def delete_domain(ctx: Context, params: dict) -> dict:
    """Remove the domain and everything in it."""
    domain = load_domain(ctx, params["domainId"], DELETE)
    domains.lock_merges(ctx.conn, domain.domain_id)
    domains.delete_domain(ctx.conn, domain.domain_id)
    return {}
