"""calsync at org scale on the local stack (issue 14): 50 reps, 1,000 items each.

1. Initial syncs: every rep's calendar is filled (half tagged with the save colour, half meetings
   that autosave takes, one to three Contacts or Leads each), then all 50 sessions are queued at
   once and run through Cloud Tasks (the emulator dispatches concurrently, with terraform's
   rate limits). Measured: wall time, items per second, calls per saved item.
2. The scheduler's sweep opens every rep's watch channel (and reads back the initial syncs'
   labels).
3. An hour of activity compressed into ACTIVITY_S seconds: every rep tags new events, edits
   saved ones and unsyncs some, at random times; each change goes push -> webhook -> task ->
   session. Measured: latency from the change to Salesforce (p50/p95), calls per saved change,
   sessions per push.
4. An idle poll (its own job, every minute), then an idle sweep: nothing changed; what one rep
   costs the sweep (target: 1 Calendar call, 0 Salesforce calls, at most 3 Firestore
   operations), the sweep's listing of the users included; the poll's cost is reported apart.

Calls are counted where they land: Salesforce and Calendar by the emulators (`/_admin/calls`,
`/_admin/counters`, the benchmark's own calls left out), Firestore in the functions process
(bench/counting_functions.py: RPCs and billed document reads and writes). Prints progress and one
summary line; writes bench/results/org_scale.json.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from bench.bench_upsync_latency import percentile
from emulators import stack

HERE = Path(__file__).resolve().parent
RESULT = HERE / "results" / "org_scale.json"
USERS = int(os.environ.get("BENCH_USERS", "50"))
ITEMS = int(os.environ.get("BENCH_ITEMS_PER_USER", "1000"))
ACTIVITY_S = float(os.environ.get("BENCH_ACTIVITY_SECONDS", "180"))  # stands for one hour
ACTIONS_PER_USER = int(os.environ.get("BENCH_ACTIONS_PER_USER", "12"))  # per rep and hour
ACCOUNTS, CONTACTS_PER_ACCOUNT, LEADS = 40, 10, 100
BATCH = 50
POLL = 0.25
LICENCES = USERS
DAILY_BUDGET = 100_000 + 1_000 * LICENCES  # Enterprise edition (API-FACTS B3)
BUSY_HOURS = 8  # a working day of this activity; the other hours only sweep (no SF calls)
TARGET_IDLE = {"calendar": 1, "salesforce": 0, "firestore_ops": 3}


def rep(n: int) -> str:
    return f"rep{n:02d}@example.com"


def person(k: int) -> str:
    k %= ACCOUNTS * CONTACTS_PER_ACCOUNT + LEADS
    if k < ACCOUNTS * CONTACTS_PER_ACCOUNT:
        return f"c{k % CONTACTS_PER_ACCOUNT}@account{k // CONTACTS_PER_ACCOUNT}.test"
    return f"lead{k - ACCOUNTS * CONTACTS_PER_ACCOUNT}@leadco.test"


def seed() -> dict[str, list[dict[str, Any]]]:
    users = [{"Username": rep(n), "LastName": f"Rep {n}", "Email": rep(n)} for n in range(USERS)]
    accounts = [{"_ref": f"a{a}", "Name": f"Account {a}", "Website": f"https://account{a}.test"}
                for a in range(ACCOUNTS)]  # fmt: skip
    contacts = [{"LastName": f"C {a}-{c}", "Email": f"c{c}@account{a}.test", "AccountId": f"@a{a}"}
                for a in range(ACCOUNTS) for c in range(CONTACTS_PER_ACCOUNT)]  # fmt: skip
    leads = [{"LastName": f"Lead {n}", "Company": f"LeadCo {n}", "Email": f"lead{n}@leadco.test"}
             for n in range(LEADS)]  # fmt: skip
    return {"User": users, "Account": accounts, "Contact": contacts, "Lead": leads}


def item(user: int, i: int, now: datetime) -> dict[str, Any]:
    day = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=-13 + i % 72)
    start = day + timedelta(minutes=15 * (i // 72 % 96))
    event: dict[str, Any] = {
        "summary": f"r{user}-i{i}",
        "start": {"dateTime": start.isoformat()},
        "end": {"dateTime": (start + timedelta(minutes=30)).isoformat()},
        "attendees": [{"email": rep(user)},
                      *({"email": person(i * 7 + k * 131 + user)} for k in range(1 + i % 3))],
    }  # fmt: skip
    if i % 2 == 0:
        event["colorId"] = "9"
    return event


class Stack:
    """The stack seen from the benchmark: clients, admin endpoints and counters."""

    def __init__(self, env: dict[str, str], functions_log: Path, tasks_log: Path):
        self.env = env
        self.functions_log = functions_log
        self.tasks_log = tasks_log
        self.calendar_base = env["CALSYNC_CALENDAR_URL"].split("/calendar/")[0]
        self.sf = requests.Session()
        self.sf.trust_env = False
        self.sf.verify = env["CALSYNC_SF_CA_CERT"]
        self.http = requests.Session()
        self.http.trust_env = False
        self.own_calendar_calls = 0
        self._lock = threading.Lock()
        self._events: dict[str, Any] = {}

    def events(self, user: str) -> Any:
        """A Calendar client acting as the rep (the emulator's dev token)."""
        if user not in self._events:
            from google.oauth2.credentials import Credentials
            from googleapiclient.discovery import build

            self._events[user] = build(
                "calendar", "v3", credentials=Credentials(token=f"dev:{user}"),
                static_discovery=True, cache_discovery=False,
                client_options={"api_endpoint": self.env["CALSYNC_CALENDAR_URL"]},
            ).events()  # fmt: skip
        return self._events[user]

    def own(self, calls: int = 1) -> None:
        with self._lock:
            self.own_calendar_calls += calls

    def sf_admin(self, method: str, name: str, **kwargs: Any) -> Any:
        url = f"{self.env['CALSYNC_SF_INSTANCE_URL']}/_admin/{name}"
        answer = self.sf.request(method, url, timeout=300, **kwargs)
        answer.raise_for_status()
        return answer.json()

    def soql(self, q: str) -> list[dict[str, Any]]:
        return list(self.sf_admin("POST", "query", json={"q": q})["records"])

    def usage(self) -> dict[str, Any]:
        calendar = self.http.get(f"{self.calendar_base}/_admin/counters", timeout=30).json()
        firestore = self.http.get(self.env["CALSYNC_FUNCTIONS_URL"] + "/_bench/firestore",
                                  timeout=30).json()  # fmt: skip
        log = self.functions_log.read_text(errors="replace")
        with self._lock:
            own = self.own_calendar_calls
        return {
            "salesforce": self.sf_admin("GET", "calls"),
            "calendar": dict(calendar["counters"]),
            "calendar_own": own,
            "firestore": firestore,
            "sessions": log.count('POST /sync_user HTTP/1.1\\" 200') - log.count("session snoozed"),
            "snoozes": log.count("session snoozed"),
            "retried": log.count('POST /sync_user HTTP/1.1\\" 503'),
            "pushes": log.count("POST /calendar_webhook"),
            "attempt_lines": len(self.tasks_log.read_text(errors="replace").splitlines()),
        }

    def attempt_ms(self, since_line: int) -> list[float]:
        """Durations of the task attempts logged after `since_line` (the emulator's log)."""
        lines = self.tasks_log.read_text(errors="replace").splitlines()[since_line:]
        return [float(line.rsplit(" in ", 1)[1].split()[0]) for line in lines
                if " attempt " in line and line.endswith(" ms")]  # fmt: skip

    def quiet(self, limit: float = 900, still: float = 3.0) -> float:
        """Wait until no task is queued and no Salesforce or Calendar call came for `still` s."""
        from infra import wiring

        client = wiring.session_queue()._client
        started = time.monotonic()
        last: tuple[int, int] | None = None
        since = time.monotonic()
        while time.monotonic() - started < limit:
            calls = (int(self.sf_admin("GET", "calls")["total"]),
                     sum(self.http.get(f"{self.calendar_base}/_admin/counters",
                                       timeout=30).json()["counters"].values()))  # fmt: skip
            pending = list(client.list_tasks(parent=wiring.config().tasks_queue_path))
            if pending or calls != last:
                last, since = calls, time.monotonic()
            elif time.monotonic() - since >= still:
                break
            time.sleep(0.5)
        return time.monotonic() - started


def spent(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What calsync spent between two `usage()` snapshots."""
    by_method = {k: after["calendar"][k] - before["calendar"].get(k, 0)
                 for k in after["calendar"]}  # fmt: skip
    calendar = sum(v for k, v in by_method.items() if k not in ("batch", "oauth2.token"))
    sf_kinds = {k: v - before["salesforce"]["by_kind"].get(k, 0)
                for k, v in after["salesforce"]["by_kind"].items()}  # fmt: skip
    fs_rpcs = {k: v - before["firestore"]["rpcs"].get(k, 0)
               for k, v in after["firestore"]["rpcs"].items()}  # fmt: skip
    return {
        "salesforce": after["salesforce"]["total"] - before["salesforce"]["total"],
        "salesforce_by_kind": {k: v for k, v in sf_kinds.items() if v},
        "calendar": calendar - (after["calendar_own"] - before["calendar_own"]),
        "calendar_by_method": {k: v for k, v in by_method.items() if v},
        "firestore_rpcs": sum(fs_rpcs.values()),
        "firestore_rpcs_by_method": {k: v for k, v in fs_rpcs.items() if v},
        "firestore_reads": after["firestore"]["reads"] - before["firestore"]["reads"],
        "firestore_writes": after["firestore"]["writes"] - before["firestore"]["writes"],
        **{k: after[k] - before[k] for k in ("sessions", "snoozes", "retried", "pushes")},
        "attempts_from_line": before["attempt_lines"],
    }


def per(counts: dict[str, Any], n: int) -> dict[str, float | None]:
    keys = ("salesforce", "calendar", "firestore_rpcs", "firestore_reads", "firestore_writes")
    return {k: round(counts[k] / n, 4) if n else None for k in keys}


# -- 1. initial syncs ---------------------------------------------------------------------------


def fill(bench: Stack, now: datetime) -> dict[int, dict[int, str]]:
    """Every rep's calendar; returns rep -> item number -> event id."""
    from googleapiclient.http import BatchHttpRequest

    from infra.google_calendar import batch_uri_for

    ids: dict[int, dict[int, str]] = {u: {} for u in range(USERS)}

    def one(user: int) -> None:
        events = bench.events(rep(user))
        for first in range(0, ITEMS, BATCH):

            def keep(request_id: str, response: Any, exception: Any, user: int = user) -> None:
                if exception is not None:
                    raise SystemExit(f"bench: an insert failed: {exception}")
                ids[user][int(response["summary"].split("-i")[1])] = response["id"]

            batch = BatchHttpRequest(callback=keep,
                                     batch_uri=batch_uri_for(bench.env["CALSYNC_CALENDAR_URL"]))  # fmt: skip
            for i in range(first, min(first + BATCH, ITEMS)):
                batch.add(events.insert(calendarId="primary", body=item(user, i, now)))
            batch.execute()

    with ThreadPoolExecutor(max_workers=4) as pool:
        for done, _ in enumerate(pool.map(one, range(USERS)), start=1):
            if done % 10 == 0:
                print(f"  {done}/{USERS} calendars filled", flush=True)
    return ids


def sf_event_count(bench: Stack) -> int:
    return int(bench.sf_admin("POST", "query", json={
        "q": "SELECT COUNT() FROM Event WHERE IsChild = false"})["totalSize"])  # fmt: skip


def initial_syncs(bench: Stack) -> dict[str, Any]:
    from infra import wiring

    queue = wiring.session_queue()
    before = bench.usage()
    started = time.monotonic()
    for n in range(USERS):
        queue.enqueue(rep(n), datetime.now(UTC), reason="initial")
    expected = USERS * ITEMS
    while time.monotonic() - started < 1800:
        saved = sf_event_count(bench)
        if saved >= expected:
            break
        print(f"  {saved}/{expected} items saved after {time.monotonic() - started:.0f} s",
              flush=True)  # fmt: skip
        time.sleep(5)
    wall = time.monotonic() - started
    bench.quiet()
    used = spent(before, bench.usage())
    saved = sf_event_count(bench)
    return {"users": USERS, "items_per_user": ITEMS, "saved": saved,
            "wall_s": round(wall, 1), "items_per_s": round(saved / wall, 1),
            "calls": used, "calls_per_saved_item": per(used, saved)}  # fmt: skip


_last_sweep_minute = [-1]


def sweep(bench: Stack) -> dict[str, Any]:
    """The scheduler's call (R-28), signed as Cloud Scheduler signs it. Sweep tasks are named
    after their minute (infra/tasks.py), so a second sweep waits for the next minute, as the
    scheduler's ten-minute period always does."""
    from emulators.demo import _sweep

    while int(time.time()) // 60 == _last_sweep_minute[0]:
        time.sleep(1)
    _last_sweep_minute[0] = int(time.time()) // 60
    return _sweep(bench.env)


# -- 3. activity ---------------------------------------------------------------------------------


class Activity:
    """Changes at random times; a watcher notes when each one shows in Salesforce."""

    def __init__(self, bench: Stack, ids: dict[int, dict[int, str]], now: datetime):
        self.bench, self.ids, self.now = bench, ids, now
        self.rng = random.Random(14)
        self.pending: dict[str, tuple[str, float]] = {}  # subject -> (kind, done at)
        self.latency: dict[str, list[float]] = {"tag": [], "edit": [], "unsync": []}
        self.lock = threading.Lock()
        self.touched: set[tuple[int, int]] = set()
        self.counter = 0

    def plan(self) -> list[tuple[float, int, str, int]]:
        actions = []
        for user in range(USERS):
            for _ in range(ACTIONS_PER_USER):
                kind = self.rng.choices(("tag", "edit", "unsync"), (4, 4, 2))[0]
                actions.append(
                    (self.rng.uniform(0, ACTIVITY_S), user, kind, self.rng.randrange(0, ITEMS, 2))
                )  # a tagged (saved) item
        return sorted(actions)

    def act(self, user: int, kind: str, i: int) -> None:
        events = self.bench.events(rep(user))
        with self.lock:  # each saved item is edited or unsynced once at most
            self.counter += 1
            n = self.counter
            while kind != "tag" and (user, i) in self.touched:
                i = (i + 2) % ITEMS
            self.touched.add((user, i))
        if kind == "tag":
            body = item(user, ITEMS + n, self.now)
            subject = body["summary"] = f"r{user}-new{n}"
            body["colorId"] = "9"
            events.insert(calendarId="primary", body=body).execute()
        elif kind == "edit":
            subject = f"r{user}-i{i}-edit{n}"
            events.patch(calendarId="primary", eventId=self.ids[user][i],
                         body={"summary": subject}, sendUpdates="none").execute()  # fmt: skip
        else:
            subject = f"r{user}-i{i}"  # as saved: an item is edited or unsynced, not both
            events.patch(calendarId="primary", eventId=self.ids[user][i],
                         body={"colorId": "8"}, sendUpdates="none").execute()  # fmt: skip
        self.bench.own()
        with self.lock:
            self.pending[subject] = (kind, time.monotonic())

    def watch(self, stop: threading.Event) -> None:
        while not stop.is_set() or self.pending:
            with self.lock:
                subjects = list(self.pending)
            if subjects:
                quoted = ",".join("'" + s + "'" for s in subjects)
                rows = self.bench.soql(f"SELECT Subject FROM Event WHERE IsChild = false "
                                       f"AND Subject IN ({quoted})")  # fmt: skip
                present = {r["Subject"] for r in rows}
                now = time.monotonic()
                with self.lock:
                    for subject in subjects:
                        kind, done = self.pending[subject]
                        if (subject in present) != (kind == "unsync"):
                            self.latency[kind].append(now - done)
                            del self.pending[subject]
            if stop.is_set() and time.monotonic() > self.give_up:
                break
            time.sleep(POLL)

    def run(self) -> dict[str, Any]:
        actions = self.plan()
        stop = threading.Event()
        self.give_up = float("inf")
        watcher = threading.Thread(target=self.watch, args=(stop,), daemon=True)
        watcher.start()
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=6) as pool:
            for at, user, kind, i in actions:
                time.sleep(max(0.0, started + at - time.monotonic()))
                pool.submit(self.act, user, kind, i)
        self.give_up = time.monotonic() + 120
        stop.set()
        watcher.join()
        every = [x for values in self.latency.values() for x in values]
        return {
            "actions": len(actions),
            "by_kind": {k: len(v) for k, v in self.latency.items()},
            "lost": len(self.pending),
            "latency_s": spread(every),
            "latency_by_kind_s": {k: spread(v) for k, v in self.latency.items()},
        }


def spread(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {"p50": round(statistics.median(values), 3), "p95": round(percentile(values, 0.95), 3),
            "max": round(max(values), 3)}  # fmt: skip


# -- the whole run -------------------------------------------------------------------------------


def measure(env: dict[str, str], functions_log: Path, tasks_log: Path) -> dict[str, Any]:
    os.environ.update(env)
    from infra import wiring

    bench = Stack(env, functions_log, tasks_log)
    bench.sf_admin("POST", "seed", json=seed())
    store = wiring.settings_store()
    store.set_org_settings({"internal_domains": ["example.com"]})
    for n in range(USERS):
        store.enable_user(rep(n))
        store.set_user_settings(rep(n), {"autosave_meetings": True})
    now = datetime.now(UTC)
    print(f"1. filling {USERS} calendars with {ITEMS} items each", flush=True)
    started = time.monotonic()
    ids = fill(bench, now)
    fill_s = time.monotonic() - started
    print(f"   initial syncs of {USERS} reps at once, through the queue", flush=True)
    line = bench.usage()["attempt_lines"]
    initial = initial_syncs(bench)
    initial["session_s"] = spread([ms / 1000 for ms in bench.attempt_ms(line)])
    print(f"   {initial['saved']} items saved in {initial['wall_s']} s", flush=True)
    print("2. the sweep opens every rep's watch channel", flush=True)
    before = bench.usage()
    opened = sweep(bench)
    bench.quiet()
    first_sweep = {"answer": opened, "calls": spent(before, bench.usage())}
    print(f"3. an hour of activity in {ACTIVITY_S:.0f} s: {USERS * ACTIONS_PER_USER} changes",
          flush=True)  # fmt: skip
    before = bench.usage()
    activity = Activity(bench, ids, now).run()
    bench.quiet()
    used = spent(before, bench.usage())
    changes = activity["actions"]
    durations = [ms / 1000 for ms in bench.attempt_ms(used["attempts_from_line"])]
    activity.update({"calls": used, "calls_per_change": per(used, changes),
                     "task_attempt_s": spread(durations),
                     "sessions_per_push": round(used["sessions"] / used["pushes"], 3)
                     if used["pushes"] else None})  # fmt: skip
    print("4. an idle poll, then an idle sweep", flush=True)
    from emulators.demo import _job

    before = bench.usage()
    polled = _job(bench.env, "sf_poll")  # its own job runs every minute: the sweep finds it fresh
    idle_poll = {"answer": polled, "calls": spent(before, bench.usage())}
    before = bench.usage()
    answered = sweep(bench)
    bench.quiet()
    used = spent(before, bench.usage())
    idle = {"answer": answered, "calls": used, "per_user": per(used, USERS), "poll": idle_poll}
    idle["per_user"]["firestore_ops"] = round(
        (used["firestore_reads"] + used["firestore_writes"]) / USERS, 2
    )
    hour = activity["calls"]["salesforce"]
    day = {"daily_budget": DAILY_BUDGET, "calls_per_busy_hour": hour,
           "busy_hours": BUSY_HOURS, "calls_per_day": hour * BUSY_HOURS,
           "share_of_budget": round(hour * BUSY_HOURS / DAILY_BUDGET, 4),
           "initial_syncs_share": round(initial["calls"]["salesforce"] / DAILY_BUDGET, 4)}  # fmt: skip
    return {"fill_s": round(fill_s, 1), "initial": initial, "first_sweep": first_sweep,
            "activity": activity, "idle_sweep": idle, "budget_day": day}  # fmt: skip


def main() -> int:
    started = time.monotonic()
    with stack.running(whole_stack=True, state=stack.STATE_DIR / "bench",
                       functions_module="bench.counting_functions") as (env, servers):  # fmt: skip
        logs = {s.name: s.log_path for s in servers}
        measured = measure(env, logs["functions"], logs["cloud-tasks"])
    result = {**measured, "cpus": os.cpu_count(), "bench_wall_s": round(time.monotonic() - started, 1),
              "date": datetime.now(UTC).date().isoformat(), "target_idle_per_user": TARGET_IDLE}  # fmt: skip
    RESULT.parent.mkdir(exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2, default=str) + "\n")
    initial, activity, idle = result["initial"], result["activity"], result["idle_sweep"]
    print(
        f"org scale: {USERS} reps x {ITEMS} items saved in {initial['wall_s']} s "
        f"({initial['items_per_s']} items/s, {initial['calls_per_saved_item']['salesforce']} SF "
        f"calls per item); activity: p50 {activity['latency_s'].get('p50')} s, p95 "
        f"{activity['latency_s'].get('p95')} s, {activity['calls_per_change']['salesforce']} SF "
        f"calls per change, {activity['sessions_per_push']} sessions per push, "
        f"{activity['lost']} lost; idle sweep per rep: {idle['per_user']['calendar']} Calendar, "
        f"{idle['per_user']['salesforce']} SF, {idle['per_user']['firestore_ops']} Firestore ops; "
        f"a day: {result['budget_day']['share_of_budget']:.1%} of {DAILY_BUDGET:,} SF calls"
    )
    return 0 if initial["saved"] >= USERS * ITEMS and activity["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
