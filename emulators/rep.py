"""Act as a sales rep on the local stack's Google Calendar: add, tag, move, cancel and list
events, with the real Google client and the Calendar emulator's dev login (`dev:EMAIL`).

    python -m emulators.rep alice@example.com add "Acme call" --with jane@acme.com --color 9
    python -m emulators.rep alice@example.com list
    python -m emulators.rep alice@example.com tag "Acme call"            # the save colour, 9
    python -m emulators.rep alice@example.com move "Acme call" --hours 2
    python -m emulators.rep alice@example.com cancel "Acme call"

An event is named by its id or by its exact title. Each change reaches calsync the way a rep's
change in Google Calendar does: a push notification, a Cloud Task, a sync session.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from googleapiclient.errors import HttpError

SAVE_COLOUR = "9"  # the default save_color (core/settings.py)


class RepError(Exception):
    """Printed as `error: ...` with exit code 2."""


def calendar(env: Mapping[str, str], email: str) -> Any:
    """The events resource of `email`'s calendar on the emulator, logged in as that user."""
    from google.oauth2.credentials import Credentials
    from googleapiclient.discovery import build

    service = build(
        "calendar",
        "v3",
        credentials=Credentials(token=f"dev:{email}"),  # the emulator's dev login for users
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": env["CALSYNC_CALENDAR_URL"]},
    )
    return service.events()


def local_env() -> dict[str, str]:
    """The running local stack's endpoints (`make up` writes them)."""
    from infra.config import load_local_env, local_env_path

    if not load_local_env():
        raise RepError(f"no local stack ({local_env_path()} is missing): run `make up` first")
    return dict(os.environ)


def _find(events: Any, name: str) -> dict[str, Any]:
    listed = events.list(calendarId="primary", maxResults=2500).execute().get("items", [])
    live = [e for e in listed if e.get("status") != "cancelled"]
    found = [e for e in live if e["id"] == name] or [e for e in live if e.get("summary") == name]
    if len(found) == 1:
        return dict(found[0])
    titles = ", ".join(repr(e.get("summary", "")) for e in live) or "none"
    if not found:
        raise RepError(f"no event {name!r} in this calendar; its events: {titles}")
    raise RepError(f"{len(found)} events are called {name!r}; name one by its id (`list`)")


def _when(event: dict[str, Any]) -> str:
    start = event.get("start", {})
    return str(start.get("dateTime") or start.get("date") or "-")


def add(events: Any, title: str, people: list[str], colour: str, days: float,
        hours: float, now: datetime) -> dict[str, Any]:  # fmt: skip
    start = now.replace(minute=0, second=0, microsecond=0) + timedelta(days=days)
    body: dict[str, Any] = {
        "summary": title,
        "start": {"dateTime": start.isoformat(), "timeZone": "UTC"},
        "end": {"dateTime": (start + timedelta(hours=hours)).isoformat(), "timeZone": "UTC"},
    }
    if people:
        body["attendees"] = [{"email": p} for p in people]
    if colour:
        body["colorId"] = colour
    return dict(events.insert(calendarId="primary", body=body, sendUpdates="none").execute())


def move(events: Any, event: dict[str, Any], hours: float) -> dict[str, Any]:
    shifted = {}
    for end in ("start", "end"):
        moment = datetime.fromisoformat(event[end]["dateTime"].replace("Z", "+00:00"))
        shifted[end] = {"dateTime": (moment + timedelta(hours=hours)).isoformat(),
                        "timeZone": event[end].get("timeZone", "UTC")}  # fmt: skip
    return dict(events.patch(calendarId="primary", eventId=event["id"], body=shifted,
                             sendUpdates="none").execute())  # fmt: skip


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m emulators.rep", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1],
    )  # fmt: skip
    parser.add_argument("email", help="the rep, e.g. alice@example.com")
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    new = sub.add_parser("add", help="create an event in the rep's calendar")
    new.add_argument("title")
    new.add_argument("--with", dest="people", action="append", default=[], metavar="EMAIL",
                     help="an attendee (repeat for more)")  # fmt: skip
    new.add_argument("--color", default="", help="its colour id; 9 saves it to Salesforce")
    new.add_argument("--in-days", type=float, default=1.0, help="starts this many days ahead")
    new.add_argument("--hours", type=float, default=1.0, help="how long it lasts")
    sub.add_parser("list", help="the rep's events: id, start, colour, title, calsync's status")
    for name, text in (("tag", "give an event a colour (default 9: save it)"),
                       ("move", "move an event"), ("cancel", "cancel (delete) an event")):  # fmt: skip
        one = sub.add_parser(name, help=text)
        one.add_argument("event", help="its id or exact title")
        if name == "tag":
            one.add_argument("--color", default=SAVE_COLOUR, help="the colour id (default 9)")
        if name == "move":
            one.add_argument("--hours", type=float, default=1.0, help="by this many hours")
    return parser


def run(args: argparse.Namespace, env: Mapping[str, str]) -> str:
    events = calendar(env, args.email)
    if args.action == "add":
        made = add(events, args.title, args.people, args.color, args.in_days, args.hours,
                   datetime.now(UTC))  # fmt: skip
        saved = " (colour 9: calsync saves it)" if args.color == SAVE_COLOUR else ""
        return f"added {made['id']} {made['summary']!r} at {_when(made)}{saved}"
    if args.action == "list":
        listed = events.list(calendarId="primary", maxResults=2500, orderBy="startTime",
                             singleEvents=True).execute().get("items", [])  # fmt: skip
        lines = []
        for e in listed:
            status = e.get("extendedProperties", {}).get("private", {}).get("calsync_status", "")
            lines.append(f"{e['id']}  {_when(e)}  colour {e.get('colorId', '-'):<2}  "
                         f"{e.get('summary', '')}  {status}".rstrip())  # fmt: skip
        return "\n".join(lines) or "no events"
    event = _find(events, args.event)
    if args.action == "tag":
        events.patch(calendarId="primary", eventId=event["id"], body={"colorId": args.color},
                     sendUpdates="none").execute()  # fmt: skip
        return f"tagged {event['id']} {event.get('summary')!r} with colour {args.color}"
    if args.action == "move":
        moved = move(events, event, args.hours)
        return f"moved {event['id']} {event.get('summary')!r} to {_when(moved)}"
    events.delete(calendarId="primary", eventId=event["id"], sendUpdates="none").execute()
    return f"cancelled {event['id']} {event.get('summary')!r}"


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        print(run(args, local_env()))
    except RepError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (HttpError, OSError) as exc:  # the emulator's answer, said in one line
        print(f"error: the Calendar emulator refused or did not answer: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
