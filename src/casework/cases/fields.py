"""Fields and their options: CreateField, BatchGetField, ListFields, UpdateField, DeleteField,
BatchPutFieldOptions, ListFieldOptions.

Choices where AWS is silent: field names are unique among the domain's live fields (system
ones included) and a clash is a ConflictException; ``attributes`` only fit Text fields; system
fields cannot be updated or deleted; deleting a deleted field again succeeds and changes
nothing; at most 100 fields can be deleted per domain, as AWS documents for layouts and
templates (DeleteField declares the quota error); options are listed in the order they were
first added; per-item error codes are the names of the exceptions a single call would raise.
"""

from __future__ import annotations

import uuid

from ..handlers import Context
from . import registry
from .common import arn_of, at, cursor, load_domain, next_token, soft_delete
from .domains import SYSTEM_FIELDS
from .errors import FIELD, conflict, invalid, not_found, quota
from .queries import definitions, options, tags
from .queries.domains import DEFINE

MAX_FIELDS = 500
MAX_OPTIONS = 500
LIST_PAGE = 100
# The built-in status options cannot be renamed or deactivated.
LOCKED_OPTIONS = {"status": {"open": ("Open", True), "closed": ("Closed", True)}}


def load_field(ctx: Context, domain_id: str, field_id: str) -> dict:
    """The field (deleted or not), or 404."""
    found = definitions.find(ctx.conn, domain_id, "field", field_id)
    if found is None:
        raise not_found(FIELD, field_id, f"Field {field_id} not found")
    return found


def _check_attributes(kind: str, attributes: dict | None) -> None:
    if attributes is not None and kind != "Text":
        raise invalid(f"attributes are only supported for Text fields, not {kind}")


def _check_name(ctx: Context, domain_id: str, name: str, field_id: str | None = None) -> None:
    owner = definitions.live_name_owner(ctx.conn, domain_id, "field", name)
    if owner is not None and owner != field_id:
        raise conflict(f"A field named {name} already exists")


def field_arn(ctx: Context, domain_id: str, field_id: str) -> str:
    """The ARN of a field."""
    return arn_of(ctx, domain_id, "field", field_id)


@registry.operation("CreateField", writes=True)
def create_field(ctx: Context, params: dict) -> dict:
    """A custom field of any of the seven types."""
    domain_id = load_domain(ctx, params["domainId"], DEFINE).domain_id
    _check_attributes(params["type"], params.get("attributes"))
    _check_name(ctx, domain_id, params["name"])
    # System fields are never deleted, so the live custom fields are the rest.
    live_custom = definitions.count(ctx.conn, domain_id, "field", deleted=False) - len(
        SYSTEM_FIELDS)
    if live_custom >= MAX_FIELDS:
        raise quota(f"The domain already has {MAX_FIELDS} fields, the most allowed")
    field_id = str(uuid.uuid4())
    definitions.insert_definition(ctx.conn, domain_id, "field", field_id, params["name"], {
        "type": params["type"], "namespace": "Custom",
        "description": params.get("description"), "attributes": params.get("attributes"),
    }, ctx.now)
    return {"fieldId": field_id, "fieldArn": field_arn(ctx, domain_id, field_id)}


def _field_response(ctx: Context, domain_id: str, field: dict) -> dict:
    arn = field_arn(ctx, domain_id, field["id"])
    return {"fieldId": field["id"], "name": field["name"], "fieldArn": arn,
            "description": field["description"], "type": field["type"],
            "namespace": field["namespace"], "tags": tags.of(ctx.conn, arn),
            "deleted": field["deleted"], "createdTime": at(field["created_at"]),
            "lastModifiedTime": at(field["modified_at"]), "attributes": field["attributes"]}


@registry.operation("BatchGetField", writes=False)
def batch_get_field(ctx: Context, params: dict) -> dict:
    """The requested fields (deleted ones included) and an error per unknown id."""
    domain_id = load_domain(ctx, params["domainId"]).domain_id
    wanted = [item["id"] for item in params["fields"]]
    found = definitions.find_many(ctx.conn, domain_id, "field", wanted)
    fields, errors, seen = [], [], set()
    for field_id in wanted:
        if field_id in seen:
            continue
        seen.add(field_id)
        if field_id in found:
            fields.append(_field_response(ctx, domain_id, found[field_id]))
        else:
            errors.append({"id": field_id, "errorCode": "ResourceNotFoundException",
                           "message": f"Field {field_id} not found"})
    return {"fields": fields, "errors": errors}


@registry.operation("ListFields", writes=False)
def list_fields(ctx: Context, params: dict) -> dict:
    """The live fields, system fields first, then custom ones by creation."""
    domain_id = load_domain(ctx, params["domainId"]).domain_id
    limit = params.get("maxResults") or LIST_PAGE
    rows = definitions.page(ctx.conn, domain_id, "field", cursor(ctx, params, "fields"),
                            limit + 1)
    page = rows[:limit]
    return {
        "fields": [{"fieldId": f["id"], "fieldArn": field_arn(ctx, domain_id, f["id"]),
                    "name": f["name"], "type": f["type"], "namespace": f["namespace"],
                    "attributes": f["attributes"]} for f in page],
        "nextToken": next_token(ctx, "fields", rows, limit, page[-1]["seq"] if page else 0),
    }


@registry.operation("UpdateField", writes=True)
def update_field(ctx: Context, params: dict) -> dict:
    """Change a live custom field's name, description or attributes."""
    domain_id = load_domain(ctx, params["domainId"], DEFINE).domain_id
    field = load_field(ctx, domain_id, params["fieldId"])
    if field["deleted"]:
        raise invalid(f"Field {field['id']} is deleted and cannot be updated")
    if field["namespace"] == "System":
        raise invalid(f"System field {field['id']} cannot be updated")
    name = params.get("name", field["name"])
    _check_name(ctx, domain_id, name, field["id"])
    if "attributes" in params:
        _check_attributes(field["type"], params["attributes"])
    body = {key: params.get(key, field[key]) for key in ("description", "attributes")}
    definitions.save(ctx.conn, field["seq"], name,
                     {"type": field["type"], "namespace": field["namespace"], **body}, ctx.now)
    return {}


@registry.operation("DeleteField", writes=True)
def delete_field(ctx: Context, params: dict) -> dict:
    """Soft-delete a custom field."""
    domain_id = load_domain(ctx, params["domainId"], DEFINE).domain_id
    field = load_field(ctx, domain_id, params["fieldId"])
    if field["namespace"] == "System":
        raise invalid(f"System field {field['id']} cannot be deleted")
    if field["deleted"]:
        return {}
    soft_delete(ctx, domain_id, "field", field)
    return {}


@registry.operation("BatchPutFieldOptions", writes=True)
def batch_put_field_options(ctx: Context, params: dict) -> dict:
    """Upsert options by value; per-option problems come back as errors."""
    domain_id = load_domain(ctx, params["domainId"], DEFINE).domain_id
    field = load_field(ctx, domain_id, params["fieldId"])
    if field["deleted"]:
        raise invalid(f"Field {field['id']} is deleted")
    if field["type"] != "SingleSelect":
        raise invalid(f"Options can only be set on SingleSelect fields; {field['id']} is "
                      f"{field['type']}")
    requested = params["options"]
    existing = options.find(ctx.conn, domain_id, field["id"], [o["value"] for o in requested])
    locked = LOCKED_OPTIONS.get(field["id"], {}) if field["namespace"] == "System" else {}
    new_values = {o["value"] for o in requested} - set(existing)
    if options.count(ctx.conn, domain_id, field["id"]) + len(new_values) > MAX_OPTIONS:
        raise quota(f"A field can have at most {MAX_OPTIONS} options")
    errors, seen = [], set()
    for option in requested:
        value, name, active = option["value"], option["name"], option["active"]
        if value in seen:
            errors.append({"value": value, "errorCode": "ValidationException",
                           "message": f"Option value {value} appears more than once"})
            continue
        seen.add(value)
        if value in locked:
            if (name, active) != locked[value]:
                errors.append({"value": value, "errorCode": "ValidationException",
                               "message": f"Option {value} of {field['id']} cannot be changed"})
            continue
        if value in existing:
            options.change(ctx.conn, existing[value].seq, name, active)
        else:
            options.add(ctx.conn, domain_id, field["id"], value, name, active)
    return {"errors": errors}


@registry.operation("ListFieldOptions", writes=False)
def list_field_options(ctx: Context, params: dict) -> dict:
    """A field's options in the order they were added, or the one with ``values``."""
    domain_id = load_domain(ctx, params["domainId"]).domain_id
    field = load_field(ctx, domain_id, params["fieldId"])
    limit = params.get("maxResults") or LIST_PAGE
    values = params.get("values") or [None]
    rows = options.page(ctx.conn, domain_id, field["id"], cursor(ctx, params, "options"),
                        limit + 1, values[0])
    page = rows[:limit]
    return {
        "options": [{"name": r.name, "value": r.value, "active": r.active} for r in page],
        "nextToken": next_token(ctx, "options", rows, limit, page[-1].seq if page else 0),
    }


def require_live_fields(ctx: Context, domain_id: str, field_ids, where: str) -> dict[str, dict]:
    """The fields of ``field_ids``, or a ValidationException naming those missing or deleted."""
    found = definitions.find_many(ctx.conn, domain_id, "field", field_ids)
    bad = sorted({f for f in field_ids if f not in found or found[f]["deleted"]})
    if bad:
        raise invalid(f"{where} refers to fields that do not exist or are deleted: "
                      f"{', '.join(bad)}")
    return found
