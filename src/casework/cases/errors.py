"""The Connect Cases errors handlers raise, with the members the model gives each one."""

from __future__ import annotations

from ..wire.errors import ServiceError

# resourceType strings are not published; these name the resource as the API does.
DOMAIN, FIELD, LAYOUT, TEMPLATE, CASE_RULE, CASE, RELATED_ITEM = (
    "Domain", "Field", "Layout", "Template", "CaseRule", "Case", "RelatedItem")


def not_found(resource_type: str, resource_id: str, message: str | None = None) -> ServiceError:
    """404 ``ResourceNotFoundException`` naming the missing resource."""
    return ServiceError(
        "ResourceNotFoundException",
        message or f"{resource_type} {resource_id} not found",
        resourceId=resource_id, resourceType=resource_type)


def invalid(message: str) -> ServiceError:
    """400 ``ValidationException`` for a business rule the model cannot express."""
    return ServiceError("ValidationException", message)


def conflict(message: str) -> ServiceError:
    """409 ``ConflictException``."""
    return ServiceError("ConflictException", message)


def quota(message: str) -> ServiceError:
    """402 ``ServiceQuotaExceededException``."""
    return ServiceError("ServiceQuotaExceededException", message)
