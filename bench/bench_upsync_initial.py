"""Initial up-sync of one user with 5,000 items in the window: wall time and calls per saved item.

Starts the whole local stack, seeds Salesforce with Accounts, Contacts and Leads, enables one rep
(with meeting autosave, and without a watch channel so that no push starts a session of its
own), fills their calendar through batch requests (half tagged with the save colour, half meetings
that autosave covers, each with one to three Contacts or Leads), then runs ONE session in this
process, as `python main.py sync EMAIL` does. Firestore RPCs and billed document operations are
counted by wrapping the Firestore client's methods here (bench/firestore_calls.py), and with
them the write commits (what the intents of issue 9 cost in bulk: batched, near 0.01 commits per
saved item). Prints a progress line while filling the calendar
and one summary line; writes bench/results/upsync_initial.json.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Any

import requests

from bench.fill import insert_events
from bench.firestore_calls import FirestoreCalls
from emulators import stack

HERE = Path(__file__).resolve().parent
RESULT = HERE / "results" / "upsync_initial.json"
ITEMS = int(os.environ.get("BENCH_ITEMS", "5000"))
USER = "alice@example.com"
ACCOUNTS, CONTACTS_PER_ACCOUNT, LEADS = 40, 10, 100
TARGET_SF_PER_ITEM = 0.02
COMMITS = ("commit", "batch_write")  # the RPCs that write documents


def seed() -> dict[str, list[dict[str, Any]]]:
    """The rep, ACCOUNTS Accounts with CONTACTS_PER_ACCOUNT Contacts each, and LEADS Leads."""
    accounts = [
        {"_ref": f"a{a}", "Name": f"Account {a}", "Website": f"https://account{a}.test"}
        for a in range(ACCOUNTS)
    ]
    contacts = [
        {"LastName": f"Contact {a}-{c}", "Email": contact(a, c), "AccountId": f"@a{a}"}
        for a in range(ACCOUNTS)
        for c in range(CONTACTS_PER_ACCOUNT)
    ]
    leads = [
        {"LastName": f"Lead {n}", "Company": f"LeadCo {n}", "Email": lead(n)} for n in range(LEADS)
    ]
    rep = {"_ref": "alice", "Username": USER, "LastName": "Alice", "Email": USER}
    return {"User": [rep], "Account": accounts, "Contact": contacts, "Lead": leads}


def contact(account: int, n: int) -> str:
    return f"c{n}@account{account}.test"


def lead(n: int) -> str:
    return f"lead{n}@leadco{n}.test"


def people(i: int) -> list[str]:
    """One to three Contacts or Leads for item `i`, spread over the whole org."""
    out = []
    for k in range(1 + i % 3):
        n = (i * 7 + k * 131) % (ACCOUNTS * CONTACTS_PER_ACCOUNT + LEADS)
        if n < ACCOUNTS * CONTACTS_PER_ACCOUNT:
            out.append(contact(n // CONTACTS_PER_ACCOUNT, n % CONTACTS_PER_ACCOUNT))
        else:
            out.append(lead(n - ACCOUNTS * CONTACTS_PER_ACCOUNT))
    return out


def body(i: int, now: datetime) -> dict[str, Any]:
    """Item `i`: every other one tagged with the save colour, the rest left to autosave; all
    start inside the default window (14 days back, 60 ahead), 15-minute slots, 30 minutes long."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=-13 + i % 72)
    start = day + timedelta(minutes=15 * (i // 72 % 96))
    event: dict[str, Any] = {
        "summary": f"initial {i}",
        "start": {"dateTime": start.isoformat()},
        "end": {"dateTime": (start + timedelta(minutes=30)).isoformat()},
        "attendees": [{"email": USER}, *({"email": p} for p in people(i))],
    }
    if i % 2 == 0:
        event["colorId"] = "9"
    return event


def admin(*argv: str) -> None:
    """`python main.py ...` in-process, without a Functions URL: enabling opens no channel."""
    from functions.cli import run
    from infra import wiring

    if run(list(argv), wiring.settings_store, out=io.StringIO(), services_factory=wiring.services):
        raise SystemExit(f"bench: `python main.py {' '.join(argv)}` failed")


class CalendarRequests:
    """Counts HTTP requests to the Calendar emulator (a batch is one request), in this process."""

    def __init__(self, calendar_url: str) -> None:
        import httplib2

        self.base = calendar_url.split("/calendar/")[0]
        self.count = 0
        original = httplib2.Http.request

        @wraps(original)
        def counted(http: Any, uri: str, *args: Any, **kwargs: Any) -> Any:
            if str(uri).startswith(self.base):
                self.count += 1
            return original(http, uri, *args, **kwargs)

        httplib2.Http.request = counted  # type: ignore[method-assign]


class Usage:
    """Calls calsync makes, read from the emulators' admin endpoints and the Firestore counter."""

    def __init__(self, env: dict[str, str], firestore: FirestoreCalls, http: CalendarRequests):
        self.calendar = env["CALSYNC_CALENDAR_URL"].split("/calendar/")[0] + "/_admin/counters"
        self.calendar_http = http
        self.salesforce = env["CALSYNC_SF_INSTANCE_URL"] + "/_admin/calls"
        self.ca = env["CALSYNC_SF_CA_CERT"]
        self.firestore = firestore

    def snapshot(self) -> dict[str, dict[str, int]]:
        http = requests.Session()
        http.trust_env = False  # else REQUESTS_CA_BUNDLE overrides `verify`
        sf = http.get(self.salesforce, verify=self.ca, timeout=30).json()
        return {
            "calendar": dict(requests.get(self.calendar, timeout=30).json()["counters"]),
            "salesforce": {"total": int(sf["total"]), **sf["by_kind"]},
            "firestore": dict(self.firestore.snapshot()["rpcs"]),
            "firestore_ops": {k: self.firestore.snapshot()[k] for k in ("reads", "writes")},
            "calendar_http": {"requests": self.calendar_http.count},
        }


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}


def sf_events(env: dict[str, str]) -> int:
    http = requests.Session()
    http.trust_env = False
    answer = http.get(
        env["CALSYNC_SF_INSTANCE_URL"] + "/_admin/records",
        params={"type": "Event"},
        verify=env["CALSYNC_SF_CA_CERT"],
        timeout=60,
    )
    return sum(1 for e in answer.json()["Event"] if not e.get("IsChild"))


def measure(env: dict[str, str]) -> dict[str, Any]:
    os.environ.update(env)
    firestore = FirestoreCalls()
    calendar_http = CalendarRequests(env["CALSYNC_CALENDAR_URL"])
    from infra import wiring
    from infra.session import Session

    http = requests.Session()
    http.trust_env = False
    http.post(
        env["CALSYNC_SF_INSTANCE_URL"] + "/_admin/seed",
        json=seed(),
        verify=env["CALSYNC_SF_CA_CERT"],
        timeout=60,
    ).raise_for_status()
    admin("settings", "set", "internal_domains", '["example.com"]')
    admin("users", "enable", USER)
    admin("settings", "set", "autosave_meetings", "true", "--user", USER)
    now = datetime.now(UTC)
    print(f"filling {USER}'s calendar with {ITEMS} items", flush=True)
    fill_seconds = insert_events(env, USER, ITEMS, lambda i: body(i, now), every=1000)
    usage = Usage(env, firestore, calendar_http)
    before = usage.snapshot()
    print("one session, no push: the initial sync", flush=True)
    started = time.perf_counter()
    report = Session(wiring.services(), USER, datetime.now(UTC)).run()
    wall = time.perf_counter() - started
    after = usage.snapshot()
    spent = {side: delta(before[side], after[side]) for side in before}
    saved = len(report.created)
    # Google counts every call in a batch against the quota; a batch is one HTTP request.
    calls = {
        "calendar": sum(
            v for k, v in spent["calendar"].items() if k not in ("batch", "oauth2.token")
        ),
        "calendar_http_requests": spent.pop("calendar_http").get("requests", 0),
        "salesforce": spent["salesforce"].pop("total", 0),
        "firestore": sum(spent["firestore"].values()),
        "firestore_reads": spent["firestore_ops"].get("reads", 0),
        "firestore_writes": spent["firestore_ops"].get("writes", 0),
        # Issue 9: the intents and mappings go out in batched commits, not one per item.
        "firestore_commits": sum(spent["firestore"].get(k, 0) for k in COMMITS),
    }
    per_item = {side: round(n / saved, 4) if saved else None for side, n in calls.items()}
    return {
        "items": ITEMS,
        "saved": saved,
        "sf_events": sf_events(env),
        "failed": len(report.failed),
        "session_wall_s": round(wall, 2),
        "calendar_fill_s": round(fill_seconds, 1),
        "calls": calls,
        "calls_per_saved_item": per_item,
        "calls_by_kind": spent,
        "summary": report.summary().splitlines()[0],
    }


def main() -> int:
    started = time.monotonic()
    with stack.running(whole_stack=True, state=stack.STATE_DIR / "bench") as (env, _servers):
        measured = measure(env)
    result = {
        **measured,
        "target_sf_calls_per_saved_item": TARGET_SF_PER_ITEM,
        "people_in_salesforce": ACCOUNTS * CONTACTS_PER_ACCOUNT + LEADS,
        "cpus": os.cpu_count(),
        "bench_wall_s": round(time.monotonic() - started, 1),
        "date": datetime.now(UTC).date().isoformat(),
    }
    RESULT.parent.mkdir(exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    per_item, calls = result["calls_per_saved_item"], result["calls"]
    sf_ok = per_item["salesforce"] is not None and per_item["salesforce"] <= TARGET_SF_PER_ITEM
    print(
        f"initial up-sync: {result['saved']} of {ITEMS} items saved in "
        f"{result['session_wall_s']:.1f} s; per saved item: "
        f"{per_item['salesforce']} Salesforce ({calls['salesforce']} calls, target "
        f"<= {TARGET_SF_PER_ITEM}: {'met' if sf_ok else 'MISSED'}), "
        f"{per_item['calendar']} Calendar ({calls['calendar']} calls in "
        f"{calls['calendar_http_requests']} HTTP requests), "
        f"{per_item['firestore']} Firestore ({calls['firestore']}), "
        f"{per_item['firestore_commits']} Firestore commits ({calls['firestore_commits']}, "
        f"{calls['firestore_writes']} documents written)"
    )
    return 0 if sf_ok and result["saved"] == ITEMS else 1


if __name__ == "__main__":
    sys.exit(main())
