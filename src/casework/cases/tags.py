"""Tags: TagResource, UntagResource, ListTagsForResource on every taggable ARN (domain, field,
layout, template, case rule, case, related item).

A malformed ARN is a ValidationException; an ARN of another account, an unknown resource or a
hard-deleted one is a ResourceNotFoundException; soft-deleted definitions keep their tags.
AWS's tag rules apply: at most 50 tags, keys of 1-128 characters not starting with ``aws:``,
values of at most 256, both from the characters AWS allows; removing a missing key is not an
error.
"""

from __future__ import annotations

import re

from ..handlers import Context
from . import arns, registry
from .errors import invalid, not_found
from .queries import case_records, definitions, domains, related_items
from .queries import tags as tag_rows

MAX_TAGS = 50
_KEY = re.compile(r"[a-zA-Z0-9 _.:/=+\-@]{1,128}")
_VALUE = re.compile(r"[a-zA-Z0-9 _.:/=+\-@]{0,256}")


def _resource(ctx: Context, arn: str, lock: str | None = None) -> str:
    """The domain id of the existing resource ``arn`` names, or the error AWS would give.

    Tagging and untagging pass ``lock`` (``domains.DEFINE``): tag changes in a domain run one
    at a time, so that the 50-tag limit holds; a tagged case is locked as any change to it.
    """
    parts = arns.parse(arn)
    if parts is None:
        raise invalid(f"{arn} is not a valid Amazon Connect Cases resource ARN")
    missing = not_found("Arn", arn, f"Resource {arn} not found")
    if parts["account"] != ctx.account_id:
        raise missing
    domain = domains.find(ctx.conn, ctx.account_id, parts["domain"], lock)
    # The ARN must name the request's region too: another region's resources are unknown here.
    if domain is None or domain.region != parts["region"] or domain.region != ctx.region:
        raise missing
    kind, item_id = parts["kind"], parts["item"]
    if kind == "case":
        case = case_records.find(ctx.conn, domain.domain_id, item_id, lock=lock is not None)
        if case is None or (parts["related"] is not None and related_items.find(
                ctx.conn, case.seq, parts["related"]) is None):
            raise missing
    elif kind is not None and definitions.find(ctx.conn, domain.domain_id, kind,
                                               item_id) is None:
        raise missing
    return domain.domain_id


@registry.operation("TagResource", writes=True)
def tag_resource(ctx: Context, params: dict) -> dict:
    """Add or overwrite tags."""
    domain_id = _resource(ctx, params["arn"], domains.DEFINE)
    new = params["tags"]
    for key, value in new.items():
        if not _KEY.fullmatch(key) or key.lower().startswith("aws:"):
            raise invalid(f"Tag key {key!r} must be 1-128 letters, digits, spaces or "
                          "_.:/=+-@ and must not start with aws:")
        if value is None or not _VALUE.fullmatch(value):
            raise invalid(f"Tag value of {key!r} must be at most 256 letters, digits, spaces "
                          "or _.:/=+-@")
    current = tag_rows.of(ctx.conn, params["arn"])
    if len(current.keys() | new.keys()) > MAX_TAGS:
        raise invalid(f"A resource can have at most {MAX_TAGS} tags")
    tag_rows.put(ctx.conn, domain_id, params["arn"], new)
    return {}


@registry.operation("UntagResource", writes=True)
def untag_resource(ctx: Context, params: dict) -> dict:
    """Remove tag keys."""
    _resource(ctx, params["arn"], domains.DEFINE)
    tag_rows.remove(ctx.conn, params["arn"], params["tagKeys"])
    return {}


@registry.operation("ListTagsForResource", writes=False)
def list_tags_for_resource(ctx: Context, params: dict) -> dict:
    """The resource's tags."""
    _resource(ctx, params["arn"])
    return {"tags": tag_rows.of(ctx.conn, params["arn"])}
