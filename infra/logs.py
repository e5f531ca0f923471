"""Structured logs: one JSON object per line, which Cloud Logging reads (`severity`, `message`).

Only ids, codes and counts go into a record (R-35): the allowed extra fields are listed here, so
a title, description or attendee list passed by mistake is dropped, never logged.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any, TextIO

ALLOWED_FIELDS = frozenset(
    {
        "user",
        "item",
        "sf_event",
        "rule",
        "code",
        "task",
        "channel",
        "session",
        "count",
        "action",
        "status",
        "duration_ms",
        "calls",
    }
)
_STANDARD = frozenset(vars(logging.makeLogRecord({})))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key in ALLOWED_FIELDS:
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
        return json.dumps(entry, default=str)


def configure(stream: TextIO | None = None, level: int = logging.INFO) -> None:
    """Send calsync's logs to stdout (or `stream`) as JSON lines (idempotent)."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level)
