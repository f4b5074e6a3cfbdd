"""Time as the tables store it: integer epoch milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MILLISECOND = timedelta(milliseconds=1)


def epoch_ms(moment: datetime) -> int:
    """Exact epoch milliseconds of an aware datetime (no float rounding: ``.001`` stays 1 ms)."""
    return (moment - EPOCH) // MILLISECOND
