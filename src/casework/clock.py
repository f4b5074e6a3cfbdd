"""Time as the tables store it: integer epoch milliseconds."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MILLISECOND = timedelta(milliseconds=1)


def epoch_ms(moment: datetime) -> int:
    """Exact epoch milliseconds of an aware datetime (no float rounding: ``.001`` stays 1 ms)."""
    return (moment - EPOCH) // MILLISECOND


def iso_ms(ms: int) -> str:
    """``2026-11-23T05:40:01.361Z``: epoch milliseconds as the API's ISO 8601 UTC strings.

    On every case read, several times: no datetime objects are made, and the date, which
    many timestamps share, is formatted once per day.
    """
    days, rest = divmod(ms, 86_400_000)
    seconds, milli = divmod(rest, 1000)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    return f"{_iso_day(days)}{hours:02d}:{minutes:02d}:{seconds:02d}.{milli:03d}Z"


@lru_cache(maxsize=4096)
def _iso_day(days: int) -> str:
    t = time.gmtime(days * 86_400)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T"
