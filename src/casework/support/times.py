"""AWS Support's time strings (all time members are plain strings in its model)."""

from __future__ import annotations

from datetime import UTC, datetime

from ..clock import epoch_ms
from ..wire.errors import ServiceError


def expiry(ms: int) -> str:
    """``2026-11-23T06:40:01.361+0000``: the form AddAttachmentsToSet uses for ``expiryTime``."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}+0000"


def parse_time(text: str, member: str) -> int:
    """Epoch milliseconds of an ISO 8601 date or date-time; naive times are UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ServiceError(
            "ValidationException",
            f"1 validation error detected: Value '{text[:64]}' at '{member}' failed to satisfy "
            "constraint: Member must be an ISO 8601 date or date-time",
            400,
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return epoch_ms(moment)
