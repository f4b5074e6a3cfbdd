"""Case rules: CreateCaseRule, BatchGetCaseRule, ListCaseRules, UpdateCaseRule, DeleteCaseRule,
and their enforcement on case values through a template's rules.

Choices where AWS is silent: names are unique among live rules (ConflictException); at most 100
live rules per domain (CreateCaseRule declares a quota); the fields a rule reads must be live;
a fieldOptions rule needs both its parent and child field, both SingleSelect; deleting a rule
that a live template uses is a ConflictException; deletes are soft (GetCaseRuleResponse carries
``deleted``) and a second delete changes nothing.

Enforcement (CreateCase and UpdateCase): a ``required`` rule that evaluates true makes its field
required unless a ``hidden`` rule on the same field evaluates true (the agent never sees a
hidden field, so it cannot be made to fill it); a ``fieldOptions`` rule restricts the child
field's value to the options mapped to the parent's value ("" for a parent without value) when
the mapping lists that parent value.
"""

from __future__ import annotations

import uuid

from ..handlers import Context
from . import registry
from .common import arn_of, at, cursor, find_definitions, load_domain, next_token
from .conditions import check_limits, evaluate, field_ids
from .errors import CASE_RULE, conflict, invalid, not_found, quota
from .fields import require_live_fields
from .queries import definitions, tags
from .queries.domains import DEFINE

MAX_RULES = 100
LIST_PAGE = 100
RULE_TYPES = {"required": "Required", "hidden": "Hidden", "fieldOptions": "FieldOptions"}


def load_rule(ctx: Context, domain_id: str, rule_id: str) -> dict:
    """The case rule (deleted or not), or 404."""
    found = definitions.find(ctx.conn, domain_id, "case-rule", rule_id)
    if found is None:
        raise not_found(CASE_RULE, rule_id, f"Case rule {rule_id} not found")
    return found


def _check_name(ctx: Context, domain_id: str, name: str, rule_id: str | None = None) -> None:
    owner = definitions.live_name_owner(ctx.conn, domain_id, "case-rule", name)
    if owner is not None and owner != rule_id:
        raise conflict(f"A case rule named {name} already exists")


def _check_rule(ctx: Context, domain_id: str, rule: dict) -> None:
    kind, body = next(iter(rule.items()))
    if kind == "fieldOptions":
        parent, child = body.get("parentFieldId"), body.get("childFieldId")
        if not parent or not child or parent == child:
            raise invalid("A fieldOptions rule needs distinct parentFieldId and childFieldId")
        fields = require_live_fields(ctx, domain_id, [parent, child], "rule")
        if any(fields[f]["type"] != "SingleSelect" for f in (parent, child)):
            raise invalid("fieldOptions rules apply to SingleSelect fields only")
        return
    check_limits(body["conditions"])
    require_live_fields(ctx, domain_id, field_ids(body["conditions"]), "rule")


@registry.operation("CreateCaseRule", writes=True)
def create_case_rule(ctx: Context, params: dict) -> dict:
    """A required, hidden or fieldOptions rule over live fields."""
    domain_id = load_domain(ctx, params["domainId"], DEFINE).domain_id
    _check_name(ctx, domain_id, params["name"])
    _check_rule(ctx, domain_id, params["rule"])
    if definitions.count(ctx.conn, domain_id, "case-rule", deleted=False) >= MAX_RULES:
        raise quota(f"The domain already has {MAX_RULES} case rules, the most allowed")
    rule_id = str(uuid.uuid4())
    definitions.insert_definition(ctx.conn, domain_id, "case-rule", rule_id, params["name"], {
        "description": params.get("description"), "rule": params["rule"]}, ctx.now)
    return {"caseRuleId": rule_id, "caseRuleArn": arn_of(ctx, domain_id, "case-rule", rule_id)}


@registry.operation("BatchGetCaseRule", writes=False)
def batch_get_case_rule(ctx: Context, params: dict) -> dict:
    """The requested rules (deleted ones included) and an error per unknown id."""
    domain_id = load_domain(ctx, params["domainId"]).domain_id
    wanted = list(dict.fromkeys(item["id"] for item in params["caseRules"]))
    found = definitions.find_many(ctx.conn, domain_id, "case-rule", wanted)
    rules, errors = [], []
    for rule_id in wanted:
        rule = found.get(rule_id)
        if rule is None:
            errors.append({"id": rule_id, "errorCode": "ResourceNotFoundException",
                           "message": f"Case rule {rule_id} not found"})
            continue
        arn = arn_of(ctx, domain_id, "case-rule", rule_id)
        rules.append({"caseRuleId": rule_id, "name": rule["name"], "caseRuleArn": arn,
                      "rule": rule["rule"], "description": rule["description"],
                      "deleted": rule["deleted"], "createdTime": at(rule["created_at"]),
                      "lastModifiedTime": at(rule["modified_at"]),
                      "tags": tags.of(ctx.conn, arn)})
    return {"caseRules": rules, "errors": errors, "unprocessedCaseRules": []}


@registry.operation("ListCaseRules", writes=False)
def list_case_rules(ctx: Context, params: dict) -> dict:
    """The live rules by creation, with their types."""
    domain_id = load_domain(ctx, params["domainId"]).domain_id
    limit = params.get("maxResults") or LIST_PAGE
    rows = definitions.page(ctx.conn, domain_id, "case-rule", cursor(ctx, params, "rules"),
                            limit + 1)
    page = rows[:limit]
    return {
        "caseRules": [{"caseRuleId": r["id"], "name": r["name"],
                       "caseRuleArn": arn_of(ctx, domain_id, "case-rule", r["id"]),
                       "ruleType": RULE_TYPES[next(iter(r["rule"]))],
                       "description": r["description"]} for r in page],
        "nextToken": next_token(ctx, "rules", rows, limit, page[-1]["seq"] if page else 0),
    }


@registry.operation("UpdateCaseRule", writes=True)
def update_case_rule(ctx: Context, params: dict) -> dict:
    """Change a live rule's name, description or details."""
    domain_id = load_domain(ctx, params["domainId"], DEFINE).domain_id
    rule = load_rule(ctx, domain_id, params["caseRuleId"])
    if rule["deleted"]:
        raise invalid(f"Case rule {rule['id']} is deleted and cannot be updated")
    name = params.get("name", rule["name"])
    _check_name(ctx, domain_id, name, rule["id"])
    if "rule" in params:
        _check_rule(ctx, domain_id, params["rule"])
    definitions.save(ctx.conn, rule["seq"], name, {
        "description": params.get("description", rule["description"]),
        "rule": params.get("rule", rule["rule"])}, ctx.now)
    return {}


@registry.operation("DeleteCaseRule", writes=True)
def delete_case_rule(ctx: Context, params: dict) -> dict:
    """Soft-delete a rule no live template uses."""
    domain_id = load_domain(ctx, params["domainId"], DEFINE).domain_id
    rule = load_rule(ctx, domain_id, params["caseRuleId"])
    if rule["deleted"]:
        return {}
    users = [t["id"] for t in definitions.live_bodies_mentioning(
        ctx.conn, domain_id, "template", f'"{rule["id"]}"')
        if any(r["caseRuleId"] == rule["id"] for r in t["rules"] or [])]
    if users:
        raise conflict(f"Case rule {rule['id']} is used by templates {', '.join(users)}")
    definitions.mark_deleted(ctx.conn, rule["seq"], ctx.now)
    return {}


def enforce(ctx: Context, domain_id: str, template: dict, values: dict[str, dict],
            touched: set[str] | None) -> None:
    """Raise a ValidationException if ``values`` break a rule bound by the template.

    ``touched`` (UpdateCase) limits required-field checks to rules whose field or inputs the
    update changed, so that a rule added later does not block unrelated updates.
    """
    bindings = template["rules"] or []
    rules = find_definitions(ctx, domain_id, "case-rule", [b["caseRuleId"] for b in bindings])
    hidden, required = set(), []
    for binding in bindings:
        rule = rules.get(binding["caseRuleId"])
        if rule is None or rule["deleted"]:
            continue
        kind, body = next(iter(rule["rule"].items()))
        if kind == "fieldOptions":
            _check_options(body, values, touched)
        elif not binding.get("fieldId"):
            # The rule became required/hidden after it was bound without a field
            # (UpdateCaseRule): it governs nothing until the template names one.
            continue
        elif kind == "hidden" and evaluate(body, values):
            hidden.add(binding["fieldId"])
        elif kind == "required":
            required.append((binding["fieldId"], body))
    missing = sorted({
        field_id for field_id, body in required
        if field_id not in hidden and field_id not in values
        and (touched is None or touched & (field_ids(body["conditions"]) | {field_id}))
        and evaluate(body, values)})
    if missing:
        raise invalid(f"Case rules require values for fields: {', '.join(missing)}")


def _check_options(body: dict, values: dict[str, dict], touched: set[str] | None) -> None:
    parent, child = body["parentFieldId"], body["childFieldId"]
    if touched is not None and not touched & {parent, child}:
        return
    child_value = (values.get(child) or {}).get("stringValue")
    if child_value is None:
        return
    parent_value = (values.get(parent) or {}).get("stringValue") or ""
    for mapping in body["parentChildFieldOptionsMappings"]:
        if mapping["parentFieldOptionValue"] == parent_value:
            if child_value not in mapping["childFieldOptionValues"]:
                raise invalid(f"Value {child_value} of field {child} is not allowed when "
                              f"{parent} is {parent_value or 'empty'}")
            return
