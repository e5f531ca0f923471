"""An SF Event as the REST API spells it: field names, UTC timestamps, relations, and calsync's
own marker for orgs without Calsync_Key__c (R-39).

Without the External ID field, calsync writes the sync key as the Description's last line
(`MARKER_PREFIX` + key): a retry after a lost answer then finds the Event calsync made by that
marker (and its owner and creation time), never by what the item says now, and never adopts an
Event a person or another tool made (audit H1, M8). The marker is taken off again whenever a
Description is read.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from core import fields
from core.fields import MAX_DESCRIPTION, SfEventFields

KEY_FIELD = "Calsync_Key__c"
MARKER_PREFIX = "calsync-key: "
_MARKER = re.compile(r"(?:\n\n)?" + re.escape(MARKER_PREFIX) + r"(cs1-[0-9a-f]{40})\s*$")

# The API fields that carry each synced field (core.fields names) and the Event's links.
API_NAMES: dict[str, tuple[str, ...]] = {
    fields.SUBJECT: ("Subject",),
    fields.WHEN: ("StartDateTime", "EndDateTime", "ActivityDateTime", "ActivityDate",
                  "IsAllDayEvent", "DurationInMinutes"),
    fields.LOCATION: ("Location",),
    fields.PRIVATE: ("IsPrivate",),
    fields.SHOW_AS: ("ShowAs",),
    fields.DESCRIPTION: ("Description",),
    # the rep's Name and Related To choice (a re-link in the sidebar) goes up as these.
    fields.LINKS: ("WhoId", "WhatId", "EventWhoIds"),
    "relations": ("WhoId", "WhatId", "EventWhoIds", "AcceptedEventInviteeIds",
                  "DeclinedEventInviteeIds", "UndecidedEventInviteeIds"),
}  # fmt: skip


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def event_values(f: SfEventFields, send: tuple[str, ...] | None = None) -> dict[str, object]:
    """The Event's fields in the REST API's names and wire formats; only those of the synced
    fields in `send` (core.fields names, "relations") when it is given."""
    r = f.relations
    values: dict[str, object] = {
        "OwnerId": f.owner_id,
        "Subject": f.subject,
        "IsAllDayEvent": f.is_all_day,
        "Location": f.location,
        "ShowAs": f.show_as,
        "IsPrivate": f.is_private,
    }
    if f.is_all_day:
        assert f.activity_date is not None
        values["ActivityDate"] = f.activity_date.isoformat()
        values["StartDateTime"] = iso(f.start_utc)
        values["DurationInMinutes"] = f.duration_minutes
    else:
        assert f.end_utc is not None
        values["StartDateTime"] = iso(f.start_utc)
        values["EndDateTime"] = iso(f.end_utc)
        values["ActivityDateTime"] = iso(f.start_utc)
    if r.who_id:
        values["WhoId"] = r.who_id
    if r.what_id:
        values["WhatId"] = r.what_id
    if len(r.who_ids) > 1:
        values["EventWhoIds"] = list(r.who_ids)
    for name, ids in (("AcceptedEventInviteeIds", r.accepted),
                      ("DeclinedEventInviteeIds", r.declined),
                      ("UndecidedEventInviteeIds", r.undecided)):  # fmt: skip
        if ids:
            values[name] = list(ids)
    if f.description is not None:
        values["Description"] = f.description
    if f.recurrence_pattern:
        values["Recurrence2PatternText"] = f.recurrence_pattern
    if f.sync_key:
        values[KEY_FIELD] = f.sync_key
    if send is not None:
        wanted = {n for name in send for n in API_NAMES.get(name, ())}
        values = {k: v for k, v in values.items() if k in wanted}
    return values


def with_marker(description: str | None, sync_key: str) -> str:
    """The Description with calsync's marker as its last line, within Salesforce's limit."""
    marker = MARKER_PREFIX + sync_key
    text = strip_marker(description or "")
    room = MAX_DESCRIPTION - len(marker) - 2
    text = fields.cut(text, room) if text else ""
    return f"{text}\n\n{marker}" if text else marker


def marker_of(description: str | None) -> str:
    """The sync key in a Description's marker, "" when there is none."""
    match = _MARKER.search(description or "")
    return match.group(1) if match else ""


def strip_marker(description: str) -> str:
    """A Description as people wrote it: calsync's marker line taken off."""
    return _MARKER.sub("", description)
