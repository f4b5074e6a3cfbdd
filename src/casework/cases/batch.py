"""Batch operations: BatchUpdateCase and BatchCreateRelatedItem.

Each listed case goes through the single-case handler (UpdateCase, CreateRelatedItem) inside a
SAVEPOINT of the request's transaction, so every rule of those operations applies unchanged, one
case's failure undoes only that case's changes, and its ServiceError becomes the case's entry in
the failure list (the model's error codes: CASE_NOT_FOUND, VALIDATION_ERROR, CONFLICT, ...).
The whole request fails, changing nothing, for the reasons the model's documentation lists.

Choices where AWS is silent: a clientToken is scoped to the domain and the operation and
remembered for 24 hours; its answer is the first one given, even if the cases have changed
since. Casework assigns no reference IDs (like cases created before AWS introduced them), so a
``referenceId`` never matches a case and fails the request with ResourceNotFoundException. A
field named in ``fields`` must be live (a name resolves among live fields only; a deleted field
given by id fails each case that holds no value for it, as UpdateCase does). A case that is
the secondary case of a running merge fails with CONFLICT, as AWS documents for merges.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable

import orjson

from ..handlers import Context
from ..wire.errors import ServiceError
from . import case_records, registry, related_items
from .arns import PROFILE_ARN
from .common import load_domain
from .errors import CASE, DOMAIN, check_pattern, conflict, invalid, not_found
from .queries import batches, definitions
from .queries import case_records as case_rows
from .queries.domains import WRITE

log = logging.getLogger(__name__)

TOKEN_TTL_MS = 24 * 3600 * 1000
# The members of the case that BatchUpdateCase sets through top-level parameters only.
TOP_LEVEL = {"title": "title", "status": "status", "customerId": "customer_id"}
FIELD_NAME_FORBIDDEN = ("|", ",")
ERROR_CODES = {"ValidationException": "VALIDATION_ERROR", "ConflictException": "CONFLICT",
               "ThrottlingException": "THROTTLED", "AccessDeniedException": "ACCESS_DENIED",
               "ServiceQuotaExceededException": "SERVICE_QUOTA_EXCEEDED"}


def _request_hash(params: dict) -> str:
    body = {key: value for key, value in params.items() if key != "clientToken"}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _case_ids(ctx: Context, params: dict) -> list[str]:
    """The listed case ids, after the whole-request checks on case identifiers."""
    identifiers = [entry["caseIdentifier"] for entry in params["cases"]]
    seen: set[str] = set()
    for identifier in identifiers:
        # Reference IDs are unique regardless of case; case ids are compared as given.
        key = (f"caseId:{identifier['caseId']}" if "caseId" in identifier
               else f"referenceId:{identifier['referenceId'].lower()}")
        if key in seen:
            raise invalid(f"cases lists the same case more than once: {key.split(':', 1)[1]}")
        seen.add(key)
    for identifier in identifiers:
        if "referenceId" in identifier:
            reference = identifier["referenceId"]
            raise not_found(CASE, reference,
                            f"No case in domain {params['domainId']} has reference ID "
                            f"{reference}")
    return [identifier["caseId"] for identifier in identifiers]


def _failure(error: ServiceError) -> tuple[str, str]:
    """The batch error code and message of a single-case operation's error."""
    if error.code == "ResourceNotFoundException":
        kind = error.fields.get("resourceType")
        code = {CASE: "CASE_NOT_FOUND", DOMAIN: "DOMAIN_NOT_FOUND"}.get(kind, "VALIDATION_ERROR")
        return code, error.message
    return ERROR_CODES.get(error.code, "INTERNAL_ERROR"), error.message


def _per_case(ctx: Context, domain_id: str, case_ids: list[str],
              work: Callable[[str], dict]) -> tuple[list[dict], list[dict]]:
    """Run ``work(case_id)`` for each case in a savepoint: (successes, failures).

    The cases are locked up front in one fixed order, as each single-case operation would
    lock its case: two batches over the same cases, listed in different orders, then run one
    after the other instead of deadlocking.
    """
    case_rows.lock_many(ctx.conn, domain_id, case_ids)
    done, failed = [], []
    for case_id in case_ids:
        identifier = {"caseId": case_id}
        try:
            with ctx.conn.begin_nested():
                done.append({"caseIdentifier": identifier, **work(case_id)})
        except ServiceError as error:
            code, message = _failure(error)
            failed.append({"caseIdentifier": identifier, "errorCode": code,
                           "errorMessage": message})
        except Exception:  # the savepoint is rolled back; the other cases still count
            log.exception("batch operation failed on case %s", case_id)
            failed.append({"caseIdentifier": identifier, "errorCode": "INTERNAL_ERROR",
                           "errorMessage": "An unexpected error occurred on the server"})
    return done, failed


def _idempotent(ctx: Context, operation: str, params: dict,
                run: Callable[[str], dict]) -> dict:
    """Run the batch once per clientToken: a retry gets the first answer, a reuse a 409."""
    domain_id = load_domain(ctx, params["domainId"], WRITE).domain_id
    token = params.get("clientToken") or None
    if token is None:
        return run(domain_id)
    request_hash = _request_hash(params)
    batches.forget_before(ctx.conn, ctx.now - TOKEN_TTL_MS)
    claimed = batches.claim(ctx.conn, domain_id, operation, token, request_hash, ctx.now)
    if claimed is None:
        earlier_hash, answer = batches.find(ctx.conn, domain_id, operation, token)
        if earlier_hash != request_hash or answer is None:
            raise conflict(f"clientToken {token} was already used with a different request")
        return answer
    answer = run(domain_id)
    batches.save_response(ctx.conn, claimed, answer)
    return answer


def _resolve_fields(ctx: Context, domain_id: str, given: list[dict]) -> list[dict]:
    """``fields`` as UpdateCase's FieldValue list, by id, after the whole-request checks."""
    ids = [f["fieldIdentifier"]["id"] for f in given if "id" in f["fieldIdentifier"]]
    known = definitions.find_many(ctx.conn, domain_id, "field", ids)
    resolved = []
    for item in given:
        identifier = item["fieldIdentifier"]
        if "name" in identifier:
            name = identifier["name"]
            if any(char in name for char in FIELD_NAME_FORBIDDEN):
                raise invalid(f"Field name {name} contains a pipe (|) or comma (,)")
            field_id = definitions.live_name_owner(ctx.conn, domain_id, "field", name)
            if field_id is None:
                raise invalid(f"No field named {name} exists in domain {domain_id}")
        else:
            field_id = identifier["id"]
            if field_id not in known:
                raise invalid(f"No field with id {field_id} exists in domain {domain_id}")
        if field_id in TOP_LEVEL.values():
            raise invalid(f"Set field {field_id} through the top-level title, status and "
                          f"customerId parameters, not through fields")
        resolved.append({"id": field_id, "value": item["value"]})
    repeated = sorted(f for f, n in Counter(f["id"] for f in resolved).items() if n > 1)
    if repeated:
        raise invalid(f"fields names the same field more than once: {', '.join(repeated)}")
    return resolved


@registry.operation("BatchUpdateCase", writes=True)
def batch_update_case(ctx: Context, params: dict) -> dict:
    """Apply the same title/status/customerId and field values to up to 100 cases."""

    def run(domain_id: str) -> dict:
        case_ids = _case_ids(ctx, params)
        if "customerId" in params:  # a bad profile ARN fails the request, not each case
            check_pattern(params["customerId"], "customerId", PROFILE_ARN)
        fields = _resolve_fields(ctx, domain_id, params["fields"])
        fields += [{"id": field_id, "value": {"stringValue": params[member]}}
                   for member, field_id in TOP_LEVEL.items() if member in params]
        if not fields:
            raise invalid("The request changes nothing: give fields, or a title, status or "
                          "customerId")

        def update(case_id: str) -> dict:
            update_params = {"domainId": domain_id, "caseId": case_id, "fields": fields}
            if "performedBy" in params:
                update_params["performedBy"] = params["performedBy"]
            case_records.update_case(ctx, update_params)
            return {}

        done, failed = _per_case(ctx, domain_id, case_ids, update)
        return {"successfulCases": done, "failedCases": failed}

    return _idempotent(ctx, "BatchUpdateCase", params, run)


@registry.operation("BatchCreateRelatedItem", writes=True)
def batch_create_related_item(ctx: Context, params: dict) -> dict:
    """Add the same comment to up to 100 cases."""

    def run(domain_id: str) -> dict:
        kind = next(iter(params["content"]))
        if kind != "comment":
            raise invalid(f"BatchCreateRelatedItem creates Comment related items only, not "
                          f"{kind}")
        case_ids = _case_ids(ctx, params)

        def create(case_id: str) -> dict:
            item_params = {"domainId": domain_id, "caseId": case_id, "type": "Comment",
                           "content": params["content"]}
            if "performedBy" in params:
                item_params["performedBy"] = params["performedBy"]
            return related_items.create_related_item(ctx, item_params)

        done, failed = _per_case(ctx, domain_id, case_ids, create)
        return {"successfulItems": done, "failedItems": failed}

    return _idempotent(ctx, "BatchCreateRelatedItem", params, run)
