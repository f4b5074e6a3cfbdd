"""Time as the tables store it: integer epoch milliseconds."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MILLISECOND = timedelta(milliseconds=1)


def epoch_ms(moment: datetime) -> int:
    """Exact epoch milliseconds of an aware datetime (no float rounding: ``.001`` stays 1 ms)."""
    return (moment - EPOCH) // MILLISECOND


def iso_ms(ms: int) -> str:
    """``2026-11-23T05:40:01.361Z``: epoch milliseconds as the API's ISO 8601 UTC strings.

    On every case read, so no datetime objects are made.
    """
    t = time.gmtime(ms // 1000)
    return (f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:"
            f"{t.tm_sec:02d}.{ms % 1000:03d}Z")
