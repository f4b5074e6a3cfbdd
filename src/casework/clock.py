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

    On every case read, several times: no datetime objects and no formatting per call; the
    date, which many timestamps share, is formatted once per day, the rest is looked up.
    """
    days, rest = divmod(ms, 86_400_000)
    minute, rest = divmod(rest, 60_000)
    second, milli = divmod(rest, 1000)
    return _iso_day(days) + _HOUR_MINUTE[minute] + _SECOND[second] + _MILLI[milli]


_HOUR_MINUTE = [f"{h:02d}:{m:02d}:" for h in range(24) for m in range(60)]
_SECOND = [f"{s:02d}." for s in range(60)]
_MILLI = [f"{m:03d}Z" for m in range(1000)]


@lru_cache(maxsize=4096)
def _iso_day(days: int) -> str:
    t = time.gmtime(days * 86_400)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T"
