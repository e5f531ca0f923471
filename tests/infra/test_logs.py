"""R-35: logs carry ids and codes, never titles, descriptions or attendee lists."""

import json
import logging

from infra.logs import JsonFormatter


def render(message: str, **extra) -> dict:
    record = logging.makeLogRecord({"msg": message, "levelname": "WARNING", "name": "calsync"})
    for key, value in extra.items():
        setattr(record, key, value)
    return json.loads(JsonFormatter().format(record))


def test_R35_ids_and_codes_are_kept():
    entry = render("item failed", user="ann@example.com", item="abc123", code="CS-101")
    assert entry == {
        "severity": "WARNING",
        "message": "item failed",
        "logger": "calsync",
        "user": "ann@example.com",
        "item": "abc123",
        "code": "CS-101",
    }


def test_R35_content_fields_are_dropped():
    entry = render("item failed", title="Secret merger", description="notes", attendees=["x@y.com"])
    assert "title" not in entry and "description" not in entry and "attendees" not in entry
    assert "Secret merger" not in json.dumps(entry)
