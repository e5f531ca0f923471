"""The demo scenario that `make demo` plays on the local stack, with a readable summary.

A small org (three reps, an Account with two Contacts, a Lead) gets a dozen calendar items that
cover the seed's scenarios. Nothing calls a sync session directly: each change in the Calendar
emulator sends a push to `calendar_webhook`, which queues a Cloud Task, which runs `sync_user`,
exactly as in Google Cloud; at the end the scheduler's `sweep` runs once. Then it prints, per
item: decision, owner, SF Event id, label and issue.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from emulators.org import event_rows, salesforce_admin
from emulators.rep import calendar

ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"
USERS = (ALICE, BOB, CAROL)
JANE, JOE = "jane@acme.com", "joe@acme.com"  # Contacts of Acme
LEE = "lee@leadco.io"  # a Lead
STRANGER = "someone@unknown-prospect.test"  # nobody in Salesforce

SEED = {
    "User": [
        {"_ref": name, "Username": email, "LastName": name.title(), "Email": email}
        for name, email in (("alice", ALICE), ("bob", BOB), ("carol", CAROL))
    ],
    "Account": [{"_ref": "acme", "Name": "Acme", "Website": "https://acme.com"}],
    "Contact": [
        {"LastName": "Jane", "Email": JANE, "AccountId": "@acme"},
        {"LastName": "Joe", "Email": JOE, "AccountId": "@acme"},
    ],
    "Lead": [{"LastName": "Lee", "Company": "LeadCo", "Email": LEE}],
}


@dataclass
class Demo:
    env: Mapping[str, str]
    now: datetime
    items: list[tuple[str, str, str]]  # (user, event id, what it shows)

    # -- the stack's parts ----------------------------------------------------------------

    def calendar(self, email: str) -> Any:
        return calendar(self.env, email)

    def salesforce_admin(self, method: str, path: str, **kwargs: Any) -> Any:
        return salesforce_admin(self.env, method, path, **kwargs)

    # -- calendar changes, as reps would make them ---------------------------------------

    def add(self, user: str, what: str, summary: str, *, day: float, hours: float = 1,
            attendees: tuple[str, ...] = (), **extra: Any) -> str:  # fmt: skip
        start = self.now.replace(minute=0, second=0, microsecond=0) + timedelta(days=day)
        body: dict[str, Any] = {
            "summary": summary,
            "start": {"dateTime": start.isoformat(), "timeZone": "Europe/Berlin"},
            "end": {"dateTime": (start + timedelta(hours=hours)).isoformat(), "timeZone": "Europe/Berlin"},
            **extra,
        }  # fmt: skip
        if attendees:
            body["attendees"] = [{"email": a} for a in attendees]
        event = self.calendar(user).insert(calendarId="primary", body=body).execute()
        self.items.append((user, event["id"], what))
        return str(event["id"])

    def patch(self, user: str, event_id: str, **body: Any) -> None:
        self.calendar(user).patch(
            calendarId="primary", eventId=event_id, body=body, sendUpdates="none"
        ).execute()

    def respond(self, user: str, event_id: str, answer: str) -> None:
        event = self.calendar(user).get(calendarId="primary", eventId=event_id).execute()
        people = [
            dict(a, responseStatus=answer) if a.get("self") else a for a in event["attendees"]
        ]
        self.patch(user, event_id, attendees=people)


def _admin(*argv: str) -> str:
    """Run one admin command in-process, as `python main.py ...` would; fail loudly on error."""
    from functions.cli import run
    from infra import wiring

    out = io.StringIO()
    code = run(
        list(argv),
        wiring.settings_store,
        out=out,
        services_factory=wiring.services,
        queue_factory=wiring.session_queue,
        config_factory=wiring.config,
    )
    if code != 0:
        raise SystemExit(f"demo: `python main.py {' '.join(argv)}` failed with exit code {code}")
    return out.getvalue().strip()


def _quiet(demo: Demo, seconds: float = 2.5, limit: float = 60) -> float:
    """Wait until no task is queued and Salesforce saw no call for `seconds`; return the wait."""
    from infra import wiring

    queue = wiring.session_queue()
    started = time.monotonic()
    last, still_since = -1, time.monotonic()
    while time.monotonic() - started < limit:
        calls = demo.salesforce_admin("GET", "calls")["total"]
        pending = list(queue._client.list_tasks(parent=wiring.config().tasks_queue_path))
        if calls != last or pending:
            last, still_since = calls, time.monotonic()
        elif time.monotonic() - still_since >= seconds:
            break
        time.sleep(0.2)
    return time.monotonic() - started


def _wait_for(check: Callable[[], bool], limit: float = 30) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if check():
            return time.monotonic() - started
        time.sleep(0.05)
    return None


def _scenario(demo: Demo) -> dict[str, float | None]:
    """The reps' changes; returns a few measured latencies (push → SF Event)."""
    measured: dict[str, float | None] = {}

    def events_now() -> int:
        return len(demo.salesforce_admin("GET", "records", params={"type": "Event"})["Event"])

    before = events_now()
    demo.add(
        ALICE,
        "saved by giving it colour 9 [R-01]",
        "Acme kickoff",
        day=1,
        attendees=(ALICE, JANE),
        colorId="9",
    )
    measured["manual save, push to SF Event"] = _wait_for(lambda: events_now() > before)
    demo.add(
        ALICE,
        "autosaved, then renamed [R-05, R-15]",
        "Acme QBR",
        day=2,
        attendees=(ALICE, JANE, JOE),
    )
    demo.add(
        ALICE,
        "private: not autosaved [R-06]",
        "Dentist",
        day=2.5,
        visibility="private",
        attendees=(ALICE, JANE),
    )
    demo.add(ALICE, "internal: not autosaved [R-06]", "Team standup", day=3, attendees=(ALICE, BOB))
    demo.add(ALICE, "focus time: not autosaved [R-06]", "Deep work", day=3.2, eventType="focusTime")
    demo.add(BOB, "nobody known in Salesforce [R-07]", "Unknown prospect", day=4,
             attendees=(BOB, STRANGER), colorId="9")  # fmt: skip
    demo.add(ALICE, "longer than 14 days [R-09]", "Roadshow", day=5, hours=24 * 16, colorId="9")
    review = demo.add(ALICE, "organiser saves, Bob invited [R-10]", "Pipeline review", day=6,
                      attendees=(ALICE, BOB, JOE))  # fmt: skip
    demo.items.append((BOB, review, "attendee waits for organiser [R-11]"))
    demo.respond(BOB, review, "accepted")
    demo.patch(BOB, review, colorId="9")  # Bob saves before the organiser: he waits
    _quiet(demo)
    demo.patch(ALICE, review, colorId="9")  # now the organiser saves it
    declined = demo.add(ALICE, "saved by its organiser [R-10]", "Acme pricing", day=7,
                        attendees=(ALICE, CAROL, JANE), colorId="9")  # fmt: skip
    demo.items.append((CAROL, declined, "declined, then tagged [R-08]"))
    demo.respond(CAROL, declined, "declined")
    demo.patch(CAROL, declined, colorId="9")
    for user, event_id in _external_invite(demo).items():
        demo.items.append((user, event_id, "outside organiser: own Event [R-12]"))
    lunch = demo.add(CAROL, "saved, then cancelled [R-18]", "Lunch with Lee", day=9,
                     attendees=(CAROL, LEE), colorId="9")  # fmt: skip
    _quiet(demo)
    demo.calendar(CAROL).delete(calendarId="primary", eventId=lunch).execute()
    moved = demo.items[1][1]
    demo.patch(ALICE, moved, summary="Acme QBR at HQ", location="Acme HQ")
    _quiet(demo)
    return measured


def _external_invite(demo: Demo) -> dict[str, str]:
    """R-12: an invitation from outside the org arrives in Alice's and Carol's calendars."""
    start = demo.now.replace(minute=0, second=0, microsecond=0) + timedelta(days=8)
    body = {
        "iCalUID": f"pitch-{int(demo.now.timestamp())}@leadco.io",
        "summary": "LeadCo pitch",
        "organizer": {"email": LEE},
        "start": {"dateTime": start.isoformat(), "timeZone": "UTC"},
        "end": {"dateTime": (start + timedelta(hours=1)).isoformat(), "timeZone": "UTC"},
        "attendees": [
            {"email": LEE, "organizer": True, "responseStatus": "accepted"},
            {"email": ALICE, "responseStatus": "accepted"},
            {"email": CAROL, "responseStatus": "accepted"},
        ],
        "colorId": "9",
    }
    return {
        user: str(demo.calendar(user).import_(calendarId="primary", body=body).execute()["id"])
        for user in (ALICE, CAROL)
    }


def _sweep(env: Mapping[str, str]) -> dict[str, Any]:
    """What Cloud Scheduler does every few minutes (R-28)."""
    from emulators.scheduler import post
    from infra.schedule import JOBS

    answer = post(next(job for job in JOBS if job.function == "sweep"), env)
    answer.raise_for_status()
    return dict(answer.json())


def _rows(demo: Demo) -> list[tuple[str, ...]]:
    from infra import wiring

    services = wiring.services()
    sf_users = {u["Id"]: u["Email"].split("@")[0] for u in
                demo.salesforce_admin("GET", "records", params={"type": "User"})["User"]}  # fmt: skip
    linked = {r["id"]: r["linked_to"] for r in event_rows(demo.env)}
    rows = []
    for user, event_id, what in demo.items:
        copy = demo.calendar(user).get(calendarId="primary", eventId=event_id).execute()
        props = copy.get("extendedProperties", {}).get("private", {})
        mapping = next(
            (m for m in services.mappings.for_user(user) if m.event_id == event_id), None
        )
        label = {"9": "saved", "11": "error"}.get(copy.get("colorId", ""), "-")
        if copy.get("status") == "cancelled":
            decision = "cancelled" + (", SF Event kept?!" if mapping else ", SF Event deleted")
            label = "-"  # the copy is gone: no label to show
        elif mapping is not None:
            decision = "invited to their Event" if mapping.role.value == "invitee" else "saved"
        elif props.get("calsync_issue"):
            decision = "waiting" if props["calsync_issue"] == "CS-001" else "failed"
        else:
            decision = "not saved"
        owner = sf_users.get(mapping.owner_sf_id, "-") if mapping else "-"
        sf_id = (mapping.sf_event_id if mapping else "") or ""
        rows.append((user.split("@")[0], copy.get("summary", "(cancelled)")[:18], what, decision,
                     owner, linked.get(sf_id, "-") if sf_id else "-", label,
                     props.get("calsync_issue", "-"), sf_id or "-"))  # fmt: skip
    return rows


def _print_table(rows: list[tuple[str, ...]]) -> None:
    head = ("rep", "item", "what it shows [rule]", "result", "owner", "linked to", "label",
            "issue", "SF Event")  # fmt: skip
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for row in [head, tuple("-" * w for w in widths), *rows]:
        print(("   " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))).rstrip())


def load_org() -> str:
    """The demo's org on a fresh local stack: Salesforce records, the org's domain, the three
    reps enabled (each with a watch channel). Returns what it loaded, for the admin to read."""
    salesforce_admin(os.environ, "POST", "seed", json=SEED)
    _admin("settings", "set", "internal_domains", '["example.com"]')
    for email in USERS:
        _admin("users", "enable", email)
    return (
        "loaded the demo org:\n"
        f"  Salesforce: Users {', '.join(USERS)}; Account Acme with Contacts {JANE} and "
        f"{JOE}; Lead {LEE}\n"
        f"  calsync: internal_domains example.com; reps enabled: {', '.join(USERS)}"
    )


def run(env: Mapping[str, str]) -> int:
    os.environ.update(env)
    demo = Demo(env, datetime.now(UTC), [])
    print("calsync demo on the local stack (push → Cloud Task → session, as in Google Cloud)\n")
    print("1. a Salesforce org and three reps (each gets a watch channel on their calendar)")
    print("   " + load_org().replace("\n", "\n   "))
    print("   " + _admin("settings", "set", "autosave_meetings", "true", "--user", ALICE))
    print("2. the reps change their calendars; pushes start the sessions")
    measured = _scenario(demo)
    swept = _sweep(env)
    print(f"3. the scheduled sweep (R-28) queued {swept['queued']} sessions and renewed "
          f"{swept['renewed']} channels ({swept['failed']} failed)")  # fmt: skip
    _quiet(demo)
    print("\n4. the result, per item (rules: docs/rules.md)\n")
    rows = _rows(demo)
    _print_table(rows)
    events = demo.salesforce_admin("GET", "records", params={"type": "Event"})["Event"]
    issues = _admin("issues")
    print(
        f"\nSalesforce has {len([e for e in events if not e.get('IsChild')])} Events; open issues:"
    )
    print("   " + issues.replace("\n", "\n   "))
    for name, seconds in measured.items():
        print(f"latency, {name}: " + (f"{seconds:.2f} s" if seconds is not None else "timed out"))
    print("\n" + _dashboard(env))
    failed = [r for r in rows if r[3] == "cancelled, SF Event kept?!"]
    ok = not failed and all(v is not None for v in measured.values())
    print(
        "\nsummary: "
        + ("every scenario played through" if ok else "SOMETHING WENT WRONG (see above)")
    )
    print("to explore this yourself: `make up SEED=demo`, then `.venv/bin/python main.py issues` "
          "(README.md, \"Try it yourself\")")  # fmt: skip
    return 0 if ok else 1


DEMO_ADMIN = "admin@example.com"


def _dashboard(env: Mapping[str, str]) -> str:
    """R-32: where the admin dashboard is on this stack and how to sign in to it."""
    _admin("settings", "set", "admins", json.dumps([DEMO_ADMIN]))
    return (f"6. the sync-issues dashboard (R-32): {env['CALSYNC_FUNCTIONS_URL']}/dashboard\n"
            f"   sign in locally: open it, choose \"Sign in with Google (local stack)\" and type "
            f"{DEMO_ADMIN}\n   (any address in the `admins` setting gets in; `make demo HOLD=1` "
            "keeps the stack up to look)")  # fmt: skip


if __name__ == "__main__":
    sys.exit(run(os.environ))
