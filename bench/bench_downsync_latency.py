"""Down-sync latency and cost: from a rep's change in Salesforce to its copy in their Google
calendar (issue 10, R-21), through the org's Flow and through the scheduled poll alone.

Starts the whole local stack, seeds Salesforce and enables three reps as `make demo` does, then:

1. Idle cost: 50 more enabled users (Salesforce User ids of their own, no calendar), and polls
   with nothing changed: Salesforce calls per poll, as the Salesforce emulator counts them, for
   an ordinary poll and for the one every five minutes that also asks getDeleted.
2. The Flow path: CHANGES Events created one at a time by the reps in their own Salesforce
   sessions (rotating over the three); the emulator's Flow calls `salesforce_webhook`, which
   queues the owner's session; each latency runs from the create to the copy existing in the
   Calendar emulator (read through its admin endpoint, which counts no API call). Also counted:
   Calendar API calls and sessions per down-synced change.
3. Edits and deletes: EDITS of those Events changed one at a time by their owners (a new
   Subject, R-22), each latency from the update to the copy showing the new summary; then
   DELETES others deleted (R-23), each from the delete to the copy's calsync label gone. The
   Flow sends nothing for a delete (as in a real org: deletes reach calsync through the poll),
   so the bench calls the poll job right after each delete, as Cloud Scheduler would at the next
   minute: a delete's latency leaves out that wait. Counted per sub-phase as in 2.
4. Polling alone: the Flow off, the local Cloud Scheduler running the `sf-poll` job on its
   schedule (every minute), CHANGES Events created at an even pace over POLL_SPREAD_S seconds;
   each latency from its create to its copy.

Nothing calls a session directly. Prints a progress line every 10 changes and one summary line;
writes bench/results/downsync_latency.json.
"""

from __future__ import annotations

import json
import os
import random
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from bench.bench_upsync_latency import setup, spread
from core.downsync import google_event_id
from emulators import stack
from emulators.demo import USERS, Demo, _job

HERE = Path(__file__).resolve().parent
RESULT = HERE / "results" / "downsync_latency.json"
CHANGES = int(os.environ.get("BENCH_CHANGES", "100"))
EDITS = int(os.environ.get("BENCH_EDITS", "30"))  # of the Flow phase's Events
DELETES = int(os.environ.get("BENCH_DELETES", "30"))  # others of them
IDLE_USERS = 50
IDLE_POLLS = 5
POLL_SPREAD_S = float(os.environ.get("BENCH_POLL_SPREAD", "120"))  # two poll intervals
POLL_INTERVAL_S = 60.0  # the sf-poll job's schedule (infra/schedule.py)
PAUSE = (0.3, 1.3)  # seconds between one copy appearing and the next change (random)
LOOK = 0.02  # seconds between looks at the Calendar emulator, Flow path
LIMIT = 30.0  # a Flow change whose copy is not there after this long counts as lost
TARGET_FLOW_P95 = 1.0
TARGET_POLL_P95 = POLL_INTERVAL_S + 5.0
TARGET_IDLE_CALLS = 2
TARGET_GOOGLE_CALLS = 2


class Org:
    """The stack seen from outside: the reps' Salesforce sessions, the emulators' counters."""

    def __init__(self, env: dict[str, str], functions_log: Path):
        self.env = env
        self.demo = Demo(env, datetime.now(UTC), [])
        self.reps = {email: self.demo.rep(email) for email in USERS}
        self.calendar_admin = env["CALSYNC_CALENDAR_URL"].split("/calendar/")[0] + "/_admin"
        self.functions_log = functions_log
        self.created = 0
        self.made: list[tuple[str, str]] = []  # (owner, SF id) of the Flow phase's copied Events

    def create(self, user: str, index: int, subject: str) -> str:
        start = self.demo.now.replace(minute=0, second=0, microsecond=0) + timedelta(
            days=1 + index % 50, hours=index % 8
        )
        body = {"Subject": subject, "StartDateTime": start.isoformat(),
                "EndDateTime": (start + timedelta(minutes=30)).isoformat()}  # fmt: skip
        self.created += 1
        return str(self.reps[user].Event.create(body)["id"])

    def copies(self, user: str) -> set[str]:
        """Ids of the live events in the user's calendar (admin view: no API call counted)."""
        got = requests.get(f"{self.calendar_admin}/calendars/{user}/events", timeout=10).json()
        return {e["data"]["id"] for e in got["items"] if e["data"].get("status") != "cancelled"}

    def copy(self, user: str, gid: str) -> dict[str, Any] | None:
        """The stored copy (admin view: no API call counted), cancelled or not; None if none."""
        got = requests.get(f"{self.calendar_admin}/calendars/{user}/events", timeout=10).json()
        return next((e["data"] for e in got["items"] if e["data"]["id"] == gid), None)

    def usage(self) -> dict[str, Any]:
        calendar = requests.get(f"{self.calendar_admin}/counters", timeout=10).json()["counters"]
        log = self.functions_log.read_text(errors="replace")
        return {
            "salesforce": int(self.demo.salesforce_admin("GET", "calls")["total"]),
            "calendar_by_method": dict(calendar),
            "sessions": log.count('POST /sync_user HTTP/1.1\\" 200'),
            "callouts": log.count('POST /salesforce_webhook HTTP/1.1\\" 200'),
            "polls": log.count('POST /sf_poll HTTP/1.1\\" 200'),
        }


def used(
    before: dict[str, Any], after: dict[str, Any], changes: int, created: int
) -> dict[str, Any]:
    """Per down-synced change: Calendar API calls (batch and token requests are not calls),
    Salesforce calls (the bench's own creates left out), sessions."""
    by_method = {k: v - before["calendar_by_method"].get(k, 0)
                 for k, v in after["calendar_by_method"].items()
                 if v != before["calendar_by_method"].get(k, 0)}  # fmt: skip
    calendar_calls = sum(v for k, v in by_method.items() if k not in ("batch", "oauth2.token"))
    salesforce = after["salesforce"] - before["salesforce"] - created
    return {
        "calendar_calls": calendar_calls,
        "calendar_calls_per_change": round(calendar_calls / max(changes, 1), 2),
        "calendar_calls_by_method": by_method,
        "salesforce_calls": salesforce,
        "salesforce_calls_per_change": round(salesforce / max(changes, 1), 2),
        "sessions": after["sessions"] - before["sessions"],
        "callouts": after["callouts"] - before["callouts"],
        "polls": after["polls"] - before["polls"],
    }


def wait_until(check: Callable[[], bool], limit: float) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(LOOK)
    return False


def settled(org: Org, still: float = 3.0, limit: float = 300) -> None:
    """Wait until no session task is queued and Salesforce has had no call for `still` s."""
    from infra import wiring

    client = wiring.session_queue()._client
    queue = wiring.config().tasks_queue_path
    last, since, started = -1, time.monotonic(), time.monotonic()
    while time.monotonic() - started < limit:
        calls = org.usage()["salesforce"]
        if list(client.list_tasks(parent=queue)) or calls != last:
            last, since = calls, time.monotonic()
        elif time.monotonic() - since >= still:
            return
        time.sleep(0.5)


def idle(org: Org) -> dict[str, Any]:
    """Salesforce calls per poll with IDLE_USERS more enabled users and nothing changed."""
    from infra import wiring

    store = wiring.settings_store()
    for n in range(IDLE_USERS):
        store.enable_user(f"idle{n:02d}@example.com", f"005gK{n:010d}IDL")
    _job(org.env, "sf_poll")  # marks the new owners: their sessions read their windows once
    settled(org)  # those onboarding sessions' calls are not the poll's
    calls = []
    for _ in range(IDLE_POLLS):
        before = org.usage()["salesforce"]
        answer = _job(org.env, "sf_poll")
        calls.append((org.usage()["salesforce"] - before, answer["calls"]))
        time.sleep(1)
    # The fifth minute: the poll also asks getDeleted (Salesforce's replication calls).
    poll_doc = wiring.client_for(wiring.config()).collection("calsync_org").document("sf_poll")
    long_ago = datetime.now(UTC) - timedelta(minutes=6)
    poll_doc.update({"deletes_checked_at": long_ago, "deleted_through": long_ago})
    before = org.usage()["salesforce"]
    answer = _job(org.env, "sf_poll")
    with_deletes = (org.usage()["salesforce"] - before, answer["calls"])
    enabled = len([u for u in store.list_users() if u.enabled])
    return {
        "enabled_users": enabled,
        "calls_per_idle_poll": [c for c, _ in calls],
        "calls_the_poller_counted": [c for _, c in calls],
        "calls_with_getdeleted": with_deletes[0],
        "max_calls_per_poll": max([c for c, _ in calls] + [with_deletes[0]]),
    }


def flow_path(org: Org, run: str) -> dict[str, Any]:
    org.demo.flow(True)
    latencies: list[float] = []
    lost = 0
    pauses = random.Random(10)
    before, org.created = org.usage(), 0
    for i in range(CHANGES):
        user = USERS[i % len(USERS)]
        started = time.monotonic()
        sf_id = org.create(user, i, f"bench {run} flow {i}")
        gid = google_event_id(sf_id)
        if wait_until(lambda u=user, g=gid: g in org.copies(u), LIMIT):
            latencies.append(time.monotonic() - started)
            org.made.append((user, sf_id))  # the edits and deletes phase changes these
        else:
            lost += 1
        if (i + 1) % 10 == 0:
            done = spread(latencies)
            print(f"  {i + 1}/{CHANGES} changes, p50 {done.get('p50_s', 0):.2f} s, "
                  f"max {done.get('max_s', 0):.2f} s, lost {lost}", flush=True)  # fmt: skip
        time.sleep(pauses.uniform(*PAUSE))
    time.sleep(3)  # the copies' own pushes and their sessions land before counting
    return {"changes": CHANGES, "lost": lost, **spread(latencies),
            **used(before, org.usage(), CHANGES, org.created)}  # fmt: skip


Change = Callable[[str, str, int], None]  # (owner, SF id, index): one Salesforce call
Done = Callable[[dict[str, Any] | None, int], bool]  # (the stored copy or None, index)


def one_by_one(org: Org, what: str, items: list[tuple[str, str]], change: Change, done: Done
               ) -> dict[str, Any]:  # fmt: skip
    """Each item changed in Salesforce by its owner, then waited for until `done(copy, i)`."""
    latencies: list[float] = []
    lost = 0
    pauses = random.Random(len(what))
    before = org.usage()
    for i, (user, sf_id) in enumerate(items):
        gid = google_event_id(sf_id)
        started = time.monotonic()
        change(user, sf_id, i)
        if wait_until(lambda u=user, g=gid, n=i: done(org.copy(u, g), n), LIMIT):
            latencies.append(time.monotonic() - started)
        else:
            lost += 1
        if (i + 1) % 10 == 0:
            got = spread(latencies)
            print(f"  {i + 1}/{len(items)} {what}, p50 {got.get('p50_s', 0):.2f} s, "
                  f"max {got.get('max_s', 0):.2f} s, lost {lost}", flush=True)  # fmt: skip
        time.sleep(pauses.uniform(*PAUSE))
    time.sleep(3)  # the copies' own pushes and their sessions land before counting
    return {"changes": len(items), "lost": lost, **spread(latencies),
            **used(before, org.usage(), len(items), len(items))}  # fmt: skip


def edits_and_deletes(org: Org, run: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """R-22 and R-23 on the Flow phase's Events: EDITS new Subjects, then DELETES deletes."""
    edits = org.made[:EDITS]
    deletes = org.made[EDITS : EDITS + DELETES]

    def edit(user: str, sf_id: str, i: int) -> None:
        org.reps[user].Event.update(sf_id, {"Subject": f"bench {run} edit {i}"})

    def edited(copy: dict[str, Any] | None, i: int) -> bool:
        return copy is not None and copy.get("summary") == f"bench {run} edit {i}"

    def delete(user: str, sf_id: str, i: int) -> None:
        org.reps[user].Event.delete(sf_id)
        # No Flow callout for a delete: the poll finds it, called now rather than next minute.
        _job(org.env, "sf_poll")

    def unlabelled(copy: dict[str, Any] | None, i: int) -> bool:
        # By default the copy stays, unlabelled; a cancelled or missing one counts too.
        if copy is None or copy.get("status") == "cancelled":
            return True
        return "calsync_key" not in copy.get("extendedProperties", {}).get("private", {})

    print(f"edits in Salesforce: {len(edits)}, one at a time, through the Flow", flush=True)
    edited_cost = one_by_one(org, "edits", edits, edit, edited)
    # The Flow phase's creates and these edits are still ahead of the poll's watermark: one poll
    # reads them, and its sessions settle, before the deletes are counted.
    _job(org.env, "sf_poll")
    settled(org)
    print(f"deletes in Salesforce: {len(deletes)}, one at a time, each with a poll", flush=True)
    deleted_cost = one_by_one(org, "deletes", deletes, delete, unlabelled)
    return edited_cost, deleted_cost


def poll_path(org: Org, run: str) -> dict[str, Any]:
    """The Flow off; the local Cloud Scheduler runs the poll job every minute meanwhile."""
    from emulators.scheduler import serve
    from infra.schedule import JOBS

    org.demo.flow(False)
    job = next(j for j in JOBS if j.function == "sf_poll")
    threading.Thread(target=serve, kwargs={"env": org.env, "jobs": (job,)}, daemon=True).start()
    gap = POLL_SPREAD_S / CHANGES
    pending: dict[str, tuple[str, float]] = {}  # google id → (user, created at)
    latencies: list[float] = []
    begun = time.monotonic()
    deadline = begun + POLL_SPREAD_S + POLL_INTERVAL_S + 30
    before, org.created = org.usage(), 0
    made = shown = 0
    while (made < CHANGES or pending) and time.monotonic() < deadline:
        while made < CHANGES and begun + made * gap <= time.monotonic():
            user = USERS[made % len(USERS)]
            gid = google_event_id(org.create(user, CHANGES + made, f"bench {run} poll {made}"))
            pending[gid] = (user, time.monotonic())
            made += 1
        for user in {u for u, _ in pending.values()}:
            now, present = time.monotonic(), org.copies(user)
            for gid in [g for g, (u, _) in pending.items() if u == user and g in present]:
                latencies.append(now - pending.pop(gid)[1])
        if len(latencies) // 10 > shown:
            shown = len(latencies) // 10
            print(f"  {len(latencies)}/{CHANGES} copies, {made} changes made, p50 "
                  f"{spread(latencies).get('p50_s', 0):.1f} s", flush=True)  # fmt: skip
        time.sleep(0.2)
    time.sleep(3)
    org.demo.flow(True)
    return {"changes": CHANGES, "spread_over_s": POLL_SPREAD_S, "lost": len(pending),
            **spread(latencies), **used(before, org.usage(), CHANGES, org.created)}  # fmt: skip


def main() -> int:
    started = time.monotonic()
    with stack.running(whole_stack=True, state=stack.STATE_DIR / "bench-downsync") as (
        env,
        servers,
    ):
        functions = next(s for s in servers if s.name == "functions")
        setup(env)
        org = Org(env, functions.log_path)
        _job(env, "sf_poll")  # the watermark; the reps are matched to their Salesforce Users
        run = os.urandom(3).hex()
        print(
            f"idle: {IDLE_USERS} more enabled users, {IDLE_POLLS} polls with no change", flush=True
        )
        idle_cost = idle(org)
        print(f"through the Flow: {CHANGES} changes over {len(USERS)} reps", flush=True)
        flow = flow_path(org, run)
        sf_edits, sf_deletes = edits_and_deletes(org, run)
        print(f"polling alone: {CHANGES} changes over {POLL_SPREAD_S:.0f} s, the poll every "
              f"{POLL_INTERVAL_S:.0f} s", flush=True)  # fmt: skip
        poll = poll_path(org, run)
    result = {
        "flow": flow,
        "sf_edits": sf_edits,
        "sf_deletes": sf_deletes,
        "poll_only": poll,
        "idle": idle_cost,
        "targets": {
            "flow_p95_s": TARGET_FLOW_P95,
            "poll_p95_s": TARGET_POLL_P95,
            "idle_sf_calls_per_poll": TARGET_IDLE_CALLS,
            "google_calls_per_change": TARGET_GOOGLE_CALLS,
        },  # fmt: skip
        "flow_delay_ms": 200,  # the emulated Flow's asynchronous path waits this long
        "cpus": os.cpu_count(),
        "wall_s": round(time.monotonic() - started, 1),
        "date": datetime.now(UTC).date().isoformat(),
    }
    RESULT.parent.mkdir(exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"down-sync latency: Flow p50 {flow.get('p50_s', 0):.2f} s, p95 {flow.get('p95_s', 0):.2f} s "
        f"(target < {TARGET_FLOW_P95} s); polling alone p50 {poll.get('p50_s', 0):.1f} s, "
        f"p95 {poll.get('p95_s', 0):.1f} s (target < {TARGET_POLL_P95:.0f} s); "
        f"edit p50 {sf_edits.get('p50_s', 0):.2f} s, delete p50 {sf_deletes.get('p50_s', 0):.2f} s; "
        f"{flow['calendar_calls_per_change']} / {sf_edits['calendar_calls_per_change']} / "
        f"{sf_deletes['calendar_calls_per_change']} Calendar calls per create / edit / delete; "
        f"idle poll with {idle_cost['enabled_users']} users: "
        f"{idle_cost['max_calls_per_poll']} SF calls at most; "
        f"lost {flow['lost']} + {sf_edits['lost']} + {sf_deletes['lost']} + {poll['lost']}"
    )
    phases = (flow, sf_edits, sf_deletes, poll)
    return 0 if all(p["lost"] == 0 for p in phases) else 1


if __name__ == "__main__":
    sys.exit(main())
