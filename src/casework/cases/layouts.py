"""Layouts: CreateLayout, GetLayout, UpdateLayout, DeleteLayout, ListLayouts.

Choices where AWS is silent: names are unique among live layouts (ConflictException); a layout
holds at most 100 field slots (a fixed limit, so a ValidationException); a field appears at most
once; ``title`` and ``status`` are refused as the model says they cannot be part of layouts;
deleting a layout that a live template uses as its default layout is a ConflictException;
deleting a deleted layout again changes nothing.
"""

from __future__ import annotations

import uuid

from ..handlers import Context
from . import registry
from .common import arn_of, at, cursor, load_domain, next_token, soft_delete
from .errors import LAYOUT, conflict, invalid, not_found, quota
from .fields import require_live_fields
from .queries import definitions, tags
from .queries.domains import DEFINE

MAX_LAYOUTS = 100
MAX_SLOTS = 100
LIST_PAGE = 100
NOT_CONFIGURABLE = ("title", "status")
PANELS = ("topPanel", "moreInfo")


def _groups(content: dict):
    for panel in PANELS:
        for section in (content.get("basic", {}).get(panel) or {}).get("sections") or []:
            if section.get("fieldGroup") is not None:
                yield section["fieldGroup"]


def _check_content(ctx: Context, domain_id: str, content: dict) -> None:
    ids = [item["id"] for group in _groups(content) for item in group["fields"]]
    fixed = [f for f in NOT_CONFIGURABLE if f in ids]
    if fixed:
        raise invalid(f"Fields {', '.join(fixed)} cannot be part of a layout")
    if len(ids) > MAX_SLOTS:
        raise invalid(f"A layout can hold at most {MAX_SLOTS} fields")
    if len(set(ids)) != len(ids):
        raise invalid("A field can appear only once in a layout")
    require_live_fields(ctx, domain_id, ids, "content")


def load_layout(ctx: Context, domain_id: str, layout_id: str) -> dict:
    """The layout (deleted or not), or 404."""
    found = definitions.find(ctx.conn, domain_id, "layout", layout_id)
    if found is None:
        raise not_found(LAYOUT, layout_id, f"Layout {layout_id} not found")
    return found


def _check_name(ctx: Context, domain_id: str, name: str, layout_id: str | None = None) -> None:
    owner = definitions.live_name_owner(ctx.conn, domain_id, "layout", name)
    if owner is not None and owner != layout_id:
        raise conflict(f"A layout named {name} already exists")


@registry.operation("CreateLayout", writes=True)
def create_layout(ctx: Context, params: dict) -> dict:
    """A layout whose fields all exist and are configurable."""
    domain_id = load_domain(ctx, params["domainId"], DEFINE).domain_id
    _check_name(ctx, domain_id, params["name"])
    _check_content(ctx, domain_id, params["content"])
    if definitions.count(ctx.conn, domain_id, "layout", deleted=False) >= MAX_LAYOUTS:
        raise quota(f"The domain already has {MAX_LAYOUTS} layouts, the most allowed")
    layout_id = str(uuid.uuid4())
    definitions.insert_definition(ctx.conn, domain_id, "layout", layout_id, params["name"],
                                  {"content": params["content"]}, ctx.now)
    return {"layoutId": layout_id, "layoutArn": arn_of(ctx, domain_id, "layout", layout_id)}


def _without_deleted_fields(ctx: Context, domain_id: str, content: dict) -> dict:
    ids = [item["id"] for group in _groups(content) for item in group["fields"]]
    found = definitions.find_many(ctx.conn, domain_id, "field", ids)
    for group in _groups(content):
        group["fields"] = [i for i in group["fields"]
                           if i["id"] in found and not found[i["id"]]["deleted"]]
    return content


@registry.operation("GetLayout", writes=False)
def get_layout(ctx: Context, params: dict) -> dict:
    """The layout, without the fields deleted since."""
    domain_id = load_domain(ctx, params["domainId"]).domain_id
    layout = load_layout(ctx, domain_id, params["layoutId"])
    arn = arn_of(ctx, domain_id, "layout", layout["id"])
    return {"layoutId": layout["id"], "layoutArn": arn, "name": layout["name"],
            "content": _without_deleted_fields(ctx, domain_id, layout["content"]),
            "tags": tags.of(ctx.conn, arn), "deleted": layout["deleted"],
            "createdTime": at(layout["created_at"]),
            "lastModifiedTime": at(layout["modified_at"])}


@registry.operation("UpdateLayout", writes=True)
def update_layout(ctx: Context, params: dict) -> dict:
    """Change a live layout's name or content."""
    domain_id = load_domain(ctx, params["domainId"], DEFINE).domain_id
    layout = load_layout(ctx, domain_id, params["layoutId"])
    if layout["deleted"]:
        raise invalid(f"Layout {layout['id']} is deleted and cannot be updated")
    name = params.get("name", layout["name"])
    _check_name(ctx, domain_id, name, layout["id"])
    content = params.get("content", layout["content"])
    if "content" in params:
        _check_content(ctx, domain_id, content)
    definitions.save(ctx.conn, layout["seq"], name, {"content": content}, ctx.now)
    return {}


@registry.operation("DeleteLayout", writes=True)
def delete_layout(ctx: Context, params: dict) -> dict:
    """Soft-delete a layout no live template uses by default."""
    domain_id = load_domain(ctx, params["domainId"], DEFINE).domain_id
    layout = load_layout(ctx, domain_id, params["layoutId"])
    if layout["deleted"]:
        return {}
    users = [t["id"] for t in definitions.live_bodies_mentioning(
        ctx.conn, domain_id, "template", f'"{layout["id"]}"')
        if (t["layoutConfiguration"] or {}).get("defaultLayout") == layout["id"]]
    if users:
        raise conflict(f"Layout {layout['id']} is the default layout of templates "
                       f"{', '.join(users)}")
    soft_delete(ctx, domain_id, "layout", layout)
    return {}


@registry.operation("ListLayouts", writes=False)
def list_layouts(ctx: Context, params: dict) -> dict:
    """The live layouts by creation."""
    domain_id = load_domain(ctx, params["domainId"]).domain_id
    limit = params.get("maxResults") or LIST_PAGE
    rows = definitions.page(ctx.conn, domain_id, "layout", cursor(ctx, params, "layouts"),
                            limit + 1)
    page = rows[:limit]
    return {
        "layouts": [{"layoutId": r["id"], "name": r["name"],
                     "layoutArn": arn_of(ctx, domain_id, "layout", r["id"])} for r in page],
        "nextToken": next_token(ctx, "layouts", rows, limit, page[-1]["seq"] if page else 0),
    }
