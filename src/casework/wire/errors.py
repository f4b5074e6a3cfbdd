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


# The message of a request refused for a NUL character in some text (shapes.holds_nul).
NUL_REFUSED = ("Text values cannot contain the NUL character (U+0000): no database Casework "
               "stores them in can hold it.")

# A ValidationException spells out this many problems and counts the rest: a request with a
# million bad list items gets a short answer, and costs no million messages.
MAX_LISTED = 10


class Problems(list):
    """The problems a validator appends: every one counted, the first MAX_LISTED kept."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def append(self, problem: str) -> None:
        self.count += 1
        if self.count <= MAX_LISTED:
            super().append(problem)


def validate(validator, params: dict) -> None:
    """Check ``params`` with a compiled validator (``shapes.validator``): a
    ``ValidationException`` worded as AWS words it, if any constraint is violated."""
    problems = Problems()
    validator(params, "", problems)
    if problems.count:
        raise validation_error(problems)


def validation_error(problems: Problems) -> ServiceError:
    """One ``ValidationException`` listing the constraint violations, worded as AWS does."""
    count = problems.count
    noun = "error" if count == 1 else "errors"
    unlisted = count - len(problems)
    return ServiceError(
        "ValidationException",
        f"{count} validation {noun} detected: " + "; ".join(problems)
        + (f"; and {unlisted} more" if unlisted else ""),
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
