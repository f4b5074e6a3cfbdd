"""Casework's own log lines (``casework.*`` loggers): text or JSON, requests on demand."""

from __future__ import annotations

import logging
import sys
import time

import orjson

from .config import Settings


class JsonFormatter(logging.Formatter):
    """One JSON object per line; a request's fields (``extra={"casework": ...}``) inline."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
                 + f".{int(record.msecs):03d}Z",
                 "level": record.levelname.lower(), "logger": record.name}
        fields = getattr(record, "casework", None)
        if fields is not None:
            entry.update(fields)
        else:
            entry["message"] = record.getMessage()
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def configure(settings: Settings) -> None:
    """Send ``casework.*`` logs to stderr in the chosen format; request lines only with
    ``--access-log`` (errors and refused signatures at warning and above always)."""
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger("casework")
    root.handlers[:] = [handler]
    root.propagate = False
    root.setLevel(settings.log_level.upper())
    logging.getLogger("casework.access").setLevel(
        logging.INFO if settings.access_log else logging.WARNING)
