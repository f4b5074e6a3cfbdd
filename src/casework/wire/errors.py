"""Errors that travel back to the client in the protocol's error shape.

Handlers and the wire layer raise :class:`ServiceError` with an AWS error code. The HTTP status
comes from the service model when the code is a modeled error shape of the operation, so
handlers never hard-code statuses; unmodeled codes (authentication, serialization, ...) carry
their own status.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """An AWS error response: ``code`` is the error shape name, ``fields`` its extra members."""

    def __init__(self, code: str, message: str, status: int | None = None, **fields: Any):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.fields = fields


def validation_error(problems: list[str]) -> ServiceError:
    """One ``ValidationException`` listing every constraint violation, worded as AWS does."""
    count = len(problems)
    noun = "error" if count == 1 else "errors"
    return ServiceError(
        "ValidationException",
        f"{count} validation {noun} detected: " + "; ".join(problems),
        400,
    )


def serialization_error(message: str) -> ServiceError:
    """The request body could not be read as the operation's input shape."""
    return ServiceError("SerializationException", message, 400)


def unknown_operation(message: str, status: int = 400) -> ServiceError:
    """No operation of any served model matches the request."""
    return ServiceError("UnknownOperationException", message, status)


def not_implemented(service: str, operation: str) -> ServiceError:
    """A modeled operation whose handler has not landed yet (never a silent stub)."""
    return ServiceError(
        "NotImplementedException",
        f"Casework does not implement {service} {operation} yet.",
        501,
    )
