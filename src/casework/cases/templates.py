"""Templates: CreateTemplate, GetTemplate, UpdateTemplate, DeleteTemplate, ListTemplates.

Choices where AWS is silent: a template is ``Active`` unless created ``Inactive``; names are
unique among live templates (ConflictException); references inside the body (default layout,
required fields, rules and the fields they govern) must name live resources, else a
ValidationException; UpdateTemplate changes only the members it is given; deleting a deleted
template again changes nothing.
"""

from __future__ import annotations

import uuid

from ..handlers import Context
from . import registry
from .common import (
    arn_of,
    at,
    cursor,
    find_definition,
    find_definitions,
    load_domain,
    next_token,
    soft_delete,
)
from .errors import TEMPLATE, conflict, invalid, not_found, quota
from .fields import require_live_fields
from .queries import definitions, tags
from .queries.domains import DEFINE

MAX_TEMPLATES = 100
LIST_PAGE = 100
CONFIG = ("description", "layoutConfiguration", "requiredFields", "status", "rules",
          "tagPropagationConfigurations")


def load_template(ctx: Context, domain_id: str, template_id: str) -> dict:
    """The template (deleted or not), or 404."""
    found = find_definition(ctx, domain_id, "template", template_id)
    if found is None:
        raise not_found(TEMPLATE, template_id, f"Template {template_id} not found")
    return found


def _check_name(ctx: Context, domain_id: str, name: str, template_id: str | None = None) -> None:
    owner = definitions.live_name_owner(ctx.conn, domain_id, "template", name)
    if owner is not None and owner != template_id:
        raise conflict(f"A template named {name} already exists")


def _check_body(ctx: Context, domain_id: str, body: dict) -> None:
    layout_id = (body.get("layoutConfiguration") or {}).get("defaultLayout")
    if layout_id is not None:
        layout = definitions.find(ctx.conn, domain_id, "layout", layout_id)
        if layout is None or layout["deleted"]:
            raise invalid(f"Layout {layout_id} does not exist or is deleted")
    required = [r["fieldId"] for r in body.get("requiredFields") or []]
    if len(set(required)) != len(required):
        raise invalid("requiredFields lists a field more than once")
    require_live_fields(ctx, domain_id, required, "requiredFields")
    rules = body.get("rules") or []
    require_live_fields(ctx, domain_id, [r["fieldId"] for r in rules if r.get("fieldId")],
                        "rules")
    rule_ids = {r["caseRuleId"] for r in rules}
    found = definitions.find_many(ctx.conn, domain_id, "case-rule", rule_ids)
    bad = sorted(i for i in rule_ids if i not in found or found[i]["deleted"])
    if bad:
        raise invalid(f"rules refers to case rules that do not exist or are deleted: "
                      f"{', '.join(bad)}")
    for binding in rules:
        kind = next(iter(found[binding["caseRuleId"]]["rule"]))
        if kind != "fieldOptions" and not binding.get("fieldId"):
            raise invalid(f"Case rule {binding['caseRuleId']} needs the fieldId it governs")


@registry.operation("CreateTemplate", writes=True)
def create_template(ctx: Context, params: dict) -> dict:
    """A template whose references are all live; Active unless told otherwise."""
    domain_id = load_domain(ctx, params["domainId"], DEFINE).domain_id
    _check_name(ctx, domain_id, params["name"])
    body = {key: params.get(key) for key in CONFIG}
    body["status"] = body["status"] or "Active"
    _check_body(ctx, domain_id, body)
    if definitions.count(ctx.conn, domain_id, "template", deleted=False) >= MAX_TEMPLATES:
        raise quota(f"The domain already has {MAX_TEMPLATES} templates, the most allowed")
    template_id = str(uuid.uuid4())
    definitions.insert_definition(ctx.conn, domain_id, "template", template_id, params["name"],
                                  body, ctx.now)
    return {"templateId": template_id,
            "templateArn": arn_of(ctx, domain_id, "template", template_id)}


def live_view(ctx: Context, domain_id: str, template: dict) -> dict:
    """The template's configuration without references to deleted fields."""
    required = [r["fieldId"] for r in template["requiredFields"] or []]
    rules = template["rules"] or []
    fields = find_definitions(ctx, domain_id, "field",
                              required + [r["fieldId"] for r in rules if r.get("fieldId")])

    def live(field_id):
        return field_id in fields and not fields[field_id]["deleted"]

    return {**template,
            "requiredFields": [{"fieldId": f} for f in required if live(f)],
            "rules": [r for r in rules if not r.get("fieldId") or live(r["fieldId"])]}


@registry.operation("GetTemplate", writes=False)
def get_template(ctx: Context, params: dict) -> dict:
    """The template, without references to fields deleted since."""
    domain_id = load_domain(ctx, params["domainId"]).domain_id
    template = live_view(ctx, domain_id, load_template(ctx, domain_id, params["templateId"]))
    arn = arn_of(ctx, domain_id, "template", template["id"])
    return {"templateId": template["id"], "templateArn": arn, "name": template["name"],
            **{key: template[key] for key in CONFIG},
            "tags": tags.of(ctx.conn, arn), "deleted": template["deleted"],
            "createdTime": at(template["created_at"]),
            "lastModifiedTime": at(template["modified_at"])}


@registry.operation("UpdateTemplate", writes=True)
def update_template(ctx: Context, params: dict) -> dict:
    """Change the given members of a live template."""
    domain_id = load_domain(ctx, params["domainId"], DEFINE).domain_id
    template = load_template(ctx, domain_id, params["templateId"])
    if template["deleted"]:
        raise invalid(f"Template {template['id']} is deleted and cannot be updated")
    name = params.get("name", template["name"])
    _check_name(ctx, domain_id, name, template["id"])
    body = {key: params[key] if key in params else template[key] for key in CONFIG}
    _check_body(ctx, domain_id, {key: params.get(key) for key in CONFIG})
    definitions.save(ctx.conn, template["seq"], name, body, ctx.now)
    return {}


@registry.operation("DeleteTemplate", writes=True)
def delete_template(ctx: Context, params: dict) -> dict:
    """Soft-delete a template; it can no longer create cases."""
    domain_id = load_domain(ctx, params["domainId"], DEFINE).domain_id
    template = load_template(ctx, domain_id, params["templateId"])
    if template["deleted"]:
        return {}
    soft_delete(ctx, domain_id, "template", template)
    return {}


@registry.operation("ListTemplates", writes=False)
def list_templates(ctx: Context, params: dict) -> dict:
    """The live templates by creation, optionally only those of some statuses."""
    domain_id = load_domain(ctx, params["domainId"]).domain_id
    limit = params.get("maxResults") or LIST_PAGE
    statuses = set(params.get("status") or ("Active", "Inactive"))
    # A domain holds at most 100 live templates: filter them in memory, page by creation order.
    after = cursor(ctx, params, "templates")
    rows = [t for t in definitions.all_live(ctx.conn, domain_id, "template")
            if t["seq"] > after and t["status"] in statuses][:limit + 1]
    page = rows[:limit]
    return {
        "templates": [{"templateId": t["id"], "name": t["name"], "status": t["status"],
                       "templateArn": arn_of(ctx, domain_id, "template", t["id"]),
                       "tagPropagationConfigurations": t["tagPropagationConfigurations"]}
                      for t in page],
        "nextToken": next_token(ctx, "templates", rows, limit, page[-1]["seq"] if page else 0),
    }
