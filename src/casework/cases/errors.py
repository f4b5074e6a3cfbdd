"""The Connect Cases errors handlers raise, with the members the model gives each one."""

from __future__ import annotations

import re

from ..wire.errors import ServiceError
from ..wire.shapes import render_value

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


def check_pattern(value: str, path: str, pattern: str) -> None:
    """400 ``ValidationException`` worded as AWS words a pattern violation, unless ``value``
    matches ``pattern`` whole."""
    if not re.fullmatch(pattern, value):
        raise ServiceError(
            "ValidationException",
            f"1 validation error detected: Value '{render_value(value)}' at '{path}' failed to "
            f"satisfy constraint: Member must satisfy regular expression pattern: {pattern}")
