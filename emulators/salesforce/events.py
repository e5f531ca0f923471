"""Event and EventRelation rules: time fields kept consistent, validation in the real error
shapes, who/what relations, invitee child events, and Lightning event series (Recurrence2)."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any

from . import ids, recurrence
from .errors import ApiError, bad_request
from .org import Org, register
from .store import Record
from .timeutil import midnight

MAX_DAYS = 14
MAX_SERIES_MINUTES = 24 * 60
MAX_CONTACTS = 50
MAX_INVITEES, MAX_SERIES_INVITEES = 1000, 100
# Fields an invitee's child event copies from its parent.
CHILD_COPIES = (
    "Subject",
    "Location",
    "Description",
    "StartDateTime",
    "EndDateTime",
    "ActivityDateTime",
    "ActivityDate",
    "EndDate",
    "DurationInMinutes",
    "IsAllDayEvent",
    "ShowAs",
    "IsPrivate",
    "Type",
    "WhoId",
    "WhatId",
    "AccountId",
)
CHILD_WRITABLE = {"IsReminderSet", "ReminderDateTime"}


def integrity(message: str, *fields: str) -> ApiError:
    return bad_request("FIELD_INTEGRITY_EXCEPTION", message, list(fields))


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


# -- time fields -------------------------------------------------------------------------------
def _set_times(old: Record | None, rec: Record, given: dict[str, Any]) -> None:
    if rec["IsAllDayEvent"]:
        _all_day(old, rec, given)
    else:
        _timed(old, rec, given)
    if rec["DurationInMinutes"] > MAX_DAYS * 1440:
        raise integrity("Event duration can't exceed 14 days.", "EndDateTime")


def _given_start(given: dict[str, Any]) -> datetime | None:
    start, activity = given.get("StartDateTime"), given.get("ActivityDateTime")
    if start and activity and start != activity:
        raise integrity("ActivityDateTime must be null or equal StartDateTime.", "ActivityDateTime")
    return start or activity


def _timed(old: Record | None, rec: Record, given: dict[str, Any]) -> None:
    start = _given_start(given)
    if start is None and old is not None:
        start = old["StartDateTime"]
    if start is None:
        raise bad_request(
            "REQUIRED_FIELD_MISSING",
            "Required fields are missing: [StartDateTime]",
            ["StartDateTime"],
        )
    end, duration = given.get("EndDateTime"), given.get("DurationInMinutes")
    if end is not None and duration is not None and _minutes(end - start) != duration:
        raise integrity("DurationInMinutes and EndDateTime don't match.", "DurationInMinutes")
    if end is None and duration is None:
        if old is None or old["DurationInMinutes"] is None:
            raise bad_request(
                "REQUIRED_FIELD_MISSING",
                "Required fields are missing: [EndDateTime]",
                ["EndDateTime"],
            )
        duration = old["DurationInMinutes"]  # moving an event keeps its length
    if end is None:
        end = start + timedelta(minutes=duration)
    if end < start:
        raise integrity("End Date Time can't be earlier than Start Date Time.", "EndDateTime")
    rec.update(
        StartDateTime=start,
        ActivityDateTime=start,
        ActivityDate=start.date(),
        EndDateTime=end,
        EndDate=end.date(),
        DurationInMinutes=_minutes(end - start),
    )


def _all_day(old: Record | None, rec: Record, given: dict[str, Any]) -> None:
    day: date | None = given.get("ActivityDate")
    start = _given_start(given)
    if day and start and start.date() != day:
        raise integrity("ActivityDate must be null or equal StartDateTime.", "ActivityDate")
    day = day or (start.date() if start else None)
    if day is None and old is not None:
        day = old["ActivityDate"] or old["StartDateTime"].date()
    if day is None:
        raise bad_request(
            "REQUIRED_FIELD_MISSING",
            "Required fields are missing: [ActivityDate]",
            ["ActivityDate"],
        )
    end, duration = given.get("EndDateTime"), given.get("DurationInMinutes")
    if end is not None:
        days = (end.date() - day).days + 1
    elif duration is not None:
        days = max(1, math.ceil(duration / 1440))
    elif old is not None and old["DurationInMinutes"]:
        days = max(1, math.ceil(old["DurationInMinutes"] / 1440))
    else:
        days = 1
    if days < 1:
        raise integrity("End Date Time can't be earlier than Start Date Time.", "EndDateTime")
    last = day + timedelta(days=days - 1)
    # all-day events: midnight UTC of first and last day, the end day inclusive
    rec.update(
        StartDateTime=midnight(day),
        EndDateTime=midnight(last),
        ActivityDate=day,
        ActivityDateTime=None,
        EndDate=last,
        DurationInMinutes=days * 1440,
    )


# -- relations ---------------------------------------------------------------------------------
def relations(org: Org, event_id: str) -> list[Record]:
    return [r for r in org.store.having("EventRelation", "EventId", event_id) if not r["IsDeleted"]]


def _who_list(org: Org, old: Record | None, rec: Record, given: dict[str, Any]) -> list[str]:
    current = [r["RelationId"] for r in relations(org, rec["Id"]) if r["IsParent"]] if old else []
    if "EventWhoIds" in given:
        whos = list(dict.fromkeys(given["EventWhoIds"] or []))
    elif "WhoId" in given:
        old_primary = old["WhoId"] if old else None
        rest = [w for w in current if w not in (old_primary, given["WhoId"])]
        whos = ([given["WhoId"]] if given["WhoId"] else []) + rest
    else:
        whos = current
    return whos


def _check_links(org: Org, rec: Record, whos: list[str], what: str | None) -> None:
    if rec["IsPrivate"] and (whos or what):
        raise integrity(
            "You can't relate a private event to contacts, leads, accounts or opportunities.",
            "IsPrivate",
        )
    leads = [w for w in whos if ids.type_of(w) == "Lead"]
    if leads and len(whos) > 1:
        raise integrity(
            "An event can be related to one lead, or to up to 50 contacts.", "EventWhoIds"
        )
    if len(whos) > MAX_CONTACTS:
        raise integrity("An event can be related to up to 50 contacts.", "EventWhoIds")


def _apply_links(org: Org, event: Record, whos: list[str], what: str | None) -> None:
    """Make the event's IsParent / IsWhat relation rows match `whos` and `what`."""
    rows = {r["RelationId"]: r for r in relations(org, event["Id"])}
    for relation_id, row in rows.items():
        want_parent = relation_id in whos
        want_what = relation_id == what
        if row["IsParent"] == want_parent and row["IsWhat"] == want_what:
            continue
        if not (want_parent or want_what or row["IsInvitee"]):
            org.remove("EventRelation", row)
        else:
            org.touch("EventRelation", row, {"IsParent": want_parent, "IsWhat": want_what})
    for relation_id in [*whos, *([what] if what else [])]:
        if relation_id not in rows:
            _new_relation(
                org,
                event,
                relation_id,
                parent=relation_id in whos,
                what=relation_id == what,
                invitee=False,
            )


def _new_relation(
    org: Org,
    event: Record,
    relation_id: str,
    *,
    parent: bool,
    what: bool,
    invitee: bool,
    status: str = "New",
) -> Record:
    now = org.clock.now()
    user = org.running_user or event["OwnerId"]
    row = {
        "Id": org.ids.new("EventRelation"),
        "EventId": event["Id"],
        "RelationId": relation_id,
        "IsParent": parent,
        "IsWhat": what,
        "IsInvitee": invitee,
        "Status": status,
        "Response": None,
        "RespondedDate": None,
        "AccountId": None,
        "IsDeleted": False,
        "CreatedDate": now,
        "LastModifiedDate": now,
        "SystemModstamp": now,
        "CreatedById": user,
        "LastModifiedById": user,
    }
    org.store.put("EventRelation", row)
    return row


def refresh(org: Org, event: Record) -> Record:
    """Recompute the event's derived fields from its relation rows; sync invitee children."""
    rows = relations(org, event["Id"])
    whos = [r["RelationId"] for r in rows if r["IsParent"]]
    what = next((r["RelationId"] for r in rows if r["IsWhat"]), None)
    primary = event["WhoId"] if event["WhoId"] in whos else (whos[0] if whos else None)
    invitees = [r for r in rows if r["IsInvitee"]]
    account = _account_of(org, what, primary)
    changes = {
        "WhoId": primary,
        "WhatId": what,
        "WhoCount": len(whos),
        "WhatCount": 1 if what else 0,
        "AccountId": account,
        "IsGroupEvent": bool(invitees),
        "GroupEventType": "1" if invitees else "0",
    }
    if any(event.get(k) != v for k, v in changes.items()):
        event = org.touch("Event", event, changes)
    for row in rows:
        if row["AccountId"] != account:
            org.touch("EventRelation", row, {"AccountId": account})
    _sync_children(
        org, event, [r["RelationId"] for r in invitees if ids.type_of(r["RelationId"]) == "User"]
    )
    return event


def _account_of(org: Org, what: str | None, who: str | None) -> str | None:
    for record_id in (what, who):
        found = org.find(record_id) if record_id else None
        if not found:
            continue
        sobject, rec = found
        if sobject == "Account":
            return rec["Id"]
        if sobject in ("Opportunity", "Contact") and rec.get("AccountId"):
            return rec["AccountId"]
    return None


def children(org: Org, event_id: str) -> list[Record]:
    return [e for e in org.store.having("Event", "_parent", event_id) if not e["IsDeleted"]]


def _sync_children(org: Org, event: Record, user_ids: list[str]) -> None:
    existing = {c["OwnerId"]: c for c in children(org, event["Id"])}
    for owner, child in existing.items():
        if owner not in user_ids:
            org.remove("Event", child)
            continue
        changes = {k: event.get(k) for k in CHILD_COPIES if child.get(k) != event.get(k)}
        if changes:
            org.touch("Event", child, changes)
    for owner in user_ids:
        if owner in existing:
            continue
        now = org.clock.now()
        child = {
            **{k: v for k, v in event.items() if not k.startswith("_")},
            "Id": org.ids.new("Event"),
            "OwnerId": owner,
            "IsChild": True,
            "IsGroupEvent": True,
            "GroupEventType": "1",
            "IsReminderSet": False,
            "ReminderDateTime": None,
            "CreatedDate": now,
            "LastModifiedDate": now,
            "SystemModstamp": now,
            "_parent": event["Id"],
            "Calsync_Key__c": None,
        }
        org.store.put("Event", child)


# -- hooks -------------------------------------------------------------------------------------
class EventRules:
    def before_save(self, org: Org, old: Record | None, rec: Record, given: dict[str, Any]) -> None:
        if old is not None and old["IsChild"]:
            blocked = sorted(set(given) - CHILD_WRITABLE)
            if blocked:
                raise integrity(
                    "Only reminder fields can be changed on an invitee's event.", *blocked
                )
        _set_times(old, rec, given)
        whos = _who_list(org, old, rec, given)
        rec["WhoId"] = whos[0] if whos else None
        _check_links(org, rec, whos, rec["WhatId"])
        rec["_whos"] = whos
        self._check_recurrence(org, old, rec, given)

    def _check_recurrence(
        self, org: Org, old: Record | None, rec: Record, given: dict[str, Any]
    ) -> None:
        if rec["IsRecurrence"] and rec["IsRecurrence2"]:
            raise integrity("IsRecurrence and IsRecurrence2 can't both be true.", "IsRecurrence2")
        series = rec["IsRecurrence"] or rec["IsRecurrence2"]
        if series and rec["DurationInMinutes"] > MAX_SERIES_MINUTES:
            raise integrity("Recurring events can't be longer than 24 hours.", "DurationInMinutes")
        if old is not None:
            return
        pattern = given.get("Recurrence2PatternText")
        if rec["IsRecurrence2"] and not pattern:
            raise bad_request(
                "REQUIRED_FIELD_MISSING",
                "Required fields are missing: [Recurrence2PatternText]",
                ["Recurrence2PatternText"],
            )
        if pattern:
            owner = org.user(rec["OwnerId"]) or {}
            rec.update(
                IsRecurrence2=True,
                Recurrence2PatternText=recurrence.normalise(pattern),
                Recurrence2PatternVersion="1",
                Recurrence2PatternTimeZone=owner.get("TimeZoneSidKey") or "GMT",
                Recurrence2PatternStartDate=rec["StartDateTime"],
            )
            if rec["DurationInMinutes"] > MAX_SERIES_MINUTES:
                raise integrity(
                    "Recurring events can't be longer than 24 hours.", "DurationInMinutes"
                )

    def after_save(self, org: Org, old: Record | None, rec: Record, given: dict[str, Any]) -> None:
        whos = rec.pop("_whos", [])
        if rec["IsChild"]:
            return
        _apply_links(org, rec, whos, rec["WhatId"])
        current = refresh(org, org.store.get("Event", rec["Id"]) or rec)
        if old is None and current["IsRecurrence2"]:
            _expand_series(org, current, whos)

    def after_delete(self, org: Org, rec: Record) -> None:
        for row in relations(org, rec["Id"]):
            org.remove("EventRelation", row)
        for child in children(org, rec["Id"]):
            org.remove("Event", child)


def _expand_series(org: Org, first: Record, whos: list[str]) -> None:
    """Create one Event per occurrence; the created record becomes the first occurrence."""
    owner = org.user(first["OwnerId"]) or {}
    starts = recurrence.occurrences(
        first["Recurrence2PatternText"], first["StartDateTime"], owner.get("TimeZoneSidKey")
    )
    series = first["Id"]
    length = timedelta(minutes=first["DurationInMinutes"])
    if not starts:
        starts = [first["StartDateTime"]]
    head, *rest = starts
    first = org.touch("Event", first, {**_moved(first, head, length), "_series": series})
    key = first.get("Calsync_Key__c")
    for start in rest:
        now = org.clock.now()
        occurrence = {
            **{k: v for k, v in first.items() if not k.startswith("_")},
            **_moved(first, start, length),
            "Id": org.ids.new("Event"),
            "CreatedDate": now,
            "LastModifiedDate": now,
            "SystemModstamp": now,
            "Calsync_Key__c": None,
            "_series": series,
        }
        org.store.put("Event", occurrence)
        _apply_links(org, occurrence, whos, occurrence["WhatId"])
        refresh(org, occurrence)
    del key


def _moved(event: Record, start: datetime, length: timedelta) -> dict[str, Any]:
    if event["IsAllDayEvent"]:
        day = start.date()
        last = day + timedelta(days=length.days - 1)
        return {
            "StartDateTime": midnight(day),
            "EndDateTime": midnight(last),
            "ActivityDate": day,
            "EndDate": last,
        }
    return {
        "StartDateTime": start,
        "ActivityDateTime": start,
        "ActivityDate": start.date(),
        "EndDateTime": start + length,
        "EndDate": (start + length).date(),
    }


def delete_from_this_onwards(org: Org, record_id: str) -> None:
    """DELETE sobjects/Event/{id}/fromThisEventOnwards."""
    event = org.live("Event", record_id)
    if not event["IsRecurrence2"] or event["IsRecurrence2Exclusion"] or not event.get("_series"):
        raise integrity("This event isn't an occurrence of an event series.", "Id")
    for other in list(org.store.rows("Event")):
        if (
            other.get("_series") == event["_series"]
            and not other["IsDeleted"]
            and other["StartDateTime"] >= event["StartDateTime"]
        ):
            org.refusals.check("Event", "delete", other)  # a delete trigger sees each one
            org.remove("Event", other)


class RelationRules:
    def before_save(self, org: Org, old: Record | None, rec: Record, given: dict[str, Any]) -> None:
        found = org.find(rec["EventId"])
        if not found or found[1]["IsDeleted"]:
            raise bad_request(
                "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ["EventId"]
            )
        event = found[1]
        if event["IsChild"]:
            raise integrity("You can't add relations to an invitee's child event.", "EventId")
        kind = ids.type_of(rec["RelationId"])
        if old is None:
            if kind in ("Account", "Opportunity"):
                rec["IsWhat"], rec["IsInvitee"], rec["IsParent"] = True, False, False
            elif not ("IsInvitee" in given or "IsParent" in given):
                rec["IsInvitee"] = True
            if any(r["RelationId"] == rec["RelationId"] for r in relations(org, event["Id"])):
                raise bad_request(
                    "DUPLICATE_VALUE",
                    "duplicate value found: RelationId "
                    "duplicates value on another relation of this event",
                    ["RelationId"],
                )
        if rec["IsParent"] and kind not in ("Contact", "Lead"):
            raise integrity("Only contacts and leads can be related people.", "IsParent")
        if rec["IsInvitee"] and kind not in ("User", "Contact", "Lead"):
            raise integrity("Only users, contacts and leads can be invited.", "IsInvitee")
        others = [r for r in relations(org, event["Id"]) if r["Id"] != rec["Id"]]
        whos = [r["RelationId"] for r in others if r["IsParent"]]
        whats = [r["RelationId"] for r in others if r["IsWhat"]]
        if rec["IsParent"]:
            whos.append(rec["RelationId"])
        if rec["IsWhat"]:
            if whats:
                raise integrity("An event can be related to only one record.", "RelationId")
            whats.append(rec["RelationId"])
        _check_links(org, event, whos, whats[0] if whats else None)
        invitees = sum(1 for r in others if r["IsInvitee"]) + int(rec["IsInvitee"])
        cap = MAX_SERIES_INVITEES if event["IsRecurrence2"] else MAX_INVITEES
        if invitees > cap:
            raise integrity(f"An event can have up to {cap} invitees.", "RelationId")

    def after_save(self, org: Org, old: Record | None, rec: Record, given: dict[str, Any]) -> None:
        event = org.store.get("Event", rec["EventId"])
        if event:
            refresh(org, org.touch("Event", event, {}))

    def after_delete(self, org: Org, rec: Record) -> None:
        event = org.store.get("Event", rec["EventId"])
        if event and not event["IsDeleted"]:
            refresh(org, org.touch("Event", event, {}))


register("Event", EventRules())
register("EventRelation", RelationRules())
