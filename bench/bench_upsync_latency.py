"""Up-sync latency: from a change in the Calendar emulator to the SF Event existing (issue 6).

Starts the whole local stack, seeds Salesforce and enables three reps as `make demo` does, then
inserts events tagged with the save colour (an external Contact as attendee), one at a time,
rotating over the reps, and polls the Salesforce emulator until each one's Event exists. Every
change goes the real way: push → calendar_webhook → Cloud Task → sync_user → Salesforce. A second,
shorter run sends a burst (one change every BURST_GAP seconds) to see coalescing at work. Prints a
progress line every 10 changes and one summary line; writes bench/results/upsync_latency.json.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from emulators import stack
from emulators.demo import SEED, USERS, Demo, _admin

HERE = Path(__file__).resolve().parent
RESULT = HERE / "results" / "upsync_latency.json"
CHANGES = int(os.environ.get("BENCH_CHANGES", "100"))
BURST = int(os.environ.get("BENCH_BURST", "30"))
BURST_GAP = 0.1  # seconds between changes in the burst run
# Seconds between one change's Event appearing and the next change, drawn at random, so that the
# next change lands at any point of the previous session's echo (its own label coming back) and
# of the coalescing waits (core/coalesce.py), not always at the same one.
PAUSE = (0.3, 1.3)
POLL = 0.02  # seconds between looks at the Salesforce emulator
LIMIT = 30.0  # a change whose Event is not there after this long counts as lost
CONTACTS = ("jane@acme.com", "joe@acme.com")
TARGET_P95 = 0.5  # issue 14: push -> SF Event p95 on the local stack, one change at a time


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value with `fraction` of the values at or below."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))  # ceil without math
    return ordered[int(rank) - 1]


def spread(latencies: list[float]) -> dict[str, float]:
    if not latencies:
        return {}
    return {
        "p50_s": round(statistics.median(latencies), 3),
        "p95_s": round(percentile(latencies, 0.95), 3),
        "max_s": round(max(latencies), 3),
        "min_s": round(min(latencies), 3),
    }


class Org:
    """The stack seen from outside: one Calendar client per rep, the emulators' admin endpoints."""

    def __init__(self, env: dict[str, str], functions_log: Path):
        self.demo = Demo(env, datetime.now(UTC), [])
        self.events = {email: self.demo.calendar(email) for email in USERS}
        self.calendar_admin = env["CALSYNC_CALENDAR_URL"].split("/calendar/")[0] + "/_admin"
        self.functions_log = functions_log
        self.inserted = 0

    def insert(self, user: str, index: int, subject: str) -> None:
        start = self.demo.now.replace(minute=0, second=0, microsecond=0) + timedelta(
            days=1 + index % 50, hours=index % 8
        )
        body = {
            "summary": subject,
            "start": {"dateTime": start.isoformat()},
            "end": {"dateTime": (start + timedelta(minutes=30)).isoformat()},
            "attendees": [{"email": user}, {"email": CONTACTS[index % len(CONTACTS)]}],
            "colorId": "9",
        }
        self.events[user].insert(calendarId="primary", body=body).execute()
        self.inserted += 1

    def subjects(self) -> set[str]:
        records = self.demo.salesforce_admin("GET", "records", params={"type": "Event"})
        return {e["Subject"] for e in records["Event"] if not e.get("IsChild")}

    def usage(self) -> dict[str, Any]:
        """Calls so far: Salesforce API calls, Calendar calls by method, sync_user sessions."""
        calendar = requests.get(f"{self.calendar_admin}/counters", timeout=10).json()["counters"]
        sf = self.demo.salesforce_admin("GET", "calls")
        log = self.functions_log.read_text(errors="replace")
        return {
            "salesforce": int(sf["total"]),
            "salesforce_by_kind": dict(sf["by_kind"]),
            "calendar_by_method": dict(calendar),
            "sessions": log.count('POST /sync_user HTTP/1.1\\" 200')
            - log.count('"session snoozed"'),
            "snoozes": log.count('"session snoozed"'),
            "sessions_retried": log.count('POST /sync_user HTTP/1.1\\" 503'),
            "pushes": log.count("POST /calendar_webhook"),
            "pushes_coalesced": log.count('"status": "coalesced"'),
        }


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}


def used(before: dict[str, Any], after: dict[str, Any], inserts: int) -> dict[str, Any]:
    """What calsync spent between two `usage()` snapshots (the bench's own inserts left out)."""
    by_method = delta(before["calendar_by_method"], after["calendar_by_method"])
    inserts_key = next((k for k in by_method if k.endswith("insert")), None)
    if inserts_key:
        by_method[inserts_key] -= inserts
        if not by_method[inserts_key]:
            del by_method[inserts_key]
    counts = ("sessions", "snoozes", "sessions_retried", "pushes", "pushes_coalesced")
    return {
        **{name: after[name] - before[name] for name in counts},
        "salesforce_calls": after["salesforce"] - before["salesforce"],
        "salesforce_calls_by_kind": delta(
            before["salesforce_by_kind"], after["salesforce_by_kind"]
        ),
        # Google counts each call inside a batch against the quota; the batch itself and token
        # requests are not API calls.
        "calendar_calls": sum(
            v for k, v in by_method.items() if k not in ("batch", "oauth2.token")
        ),
        "calendar_calls_by_method": by_method,
    }


def wait_until(check: Callable[[], bool], limit: float) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(POLL)
    return False


def one_at_a_time(org: Org, run: str) -> tuple[list[float], int]:
    """CHANGES changes, each after the previous one's Event appeared; returns latencies, lost."""
    latencies: list[float] = []
    lost = 0
    pauses = random.Random(6)
    for i in range(CHANGES):
        user = USERS[i % len(USERS)]
        subject = f"bench {run} {i}"
        started = time.monotonic()
        org.insert(user, i, subject)
        if wait_until(lambda s=subject: s in org.subjects(), LIMIT):
            latencies.append(time.monotonic() - started)
        else:
            lost += 1
        if (i + 1) % 10 == 0:
            done = spread(latencies)
            print(
                f"  {i + 1}/{CHANGES} changes, p50 {done.get('p50_s', 0):.2f} s, "
                f"max {done.get('max_s', 0):.2f} s, lost {lost}",
                flush=True,
            )
        time.sleep(pauses.uniform(*PAUSE))
    return latencies, lost


def burst(org: Org, run: str) -> tuple[list[float], int]:
    """BURST changes BURST_GAP apart from one rep; each latency from its own insert, watched
    while the burst goes on."""
    started: dict[str, float] = {}
    seen: dict[str, float] = {}
    done = threading.Event()

    def watch() -> None:
        deadline = time.monotonic() + BURST * BURST_GAP + LIMIT
        while time.monotonic() < deadline and not (done.is_set() and len(seen) == len(started)):
            now, present = time.monotonic(), org.subjects()
            seen.update({s: now - t for s, t in list(started.items())
                         if s in present and s not in seen})  # fmt: skip
            time.sleep(POLL)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    for i in range(BURST):
        subject = f"bench {run} burst {i}"
        started[subject] = time.monotonic()
        org.insert(USERS[0], CHANGES + i, subject)
        time.sleep(BURST_GAP)
    done.set()
    watcher.join()
    return list(seen.values()), len(started) - len(seen)


def setup(env: dict[str, str]) -> None:
    """As `make demo`: the org in Salesforce, internal domains, three reps with watch channels."""
    os.environ.update(env)
    Demo(env, datetime.now(UTC), []).salesforce_admin("POST", "seed", json=SEED)
    _admin("settings", "set", "internal_domains", '["example.com"]')
    for email in USERS:
        _admin("users", "enable", email)


def measure(env: dict[str, str], functions_log: Path) -> dict[str, Any]:
    setup(env)
    org = Org(env, functions_log)
    run = uuid.uuid4().hex[:6]
    print(f"one at a time: {CHANGES} changes over {len(USERS)} reps", flush=True)
    before = org.usage()
    latencies, lost = one_at_a_time(org, run)
    time.sleep(2)  # let the last session's label writes land before counting
    serial = {
        "changes": CHANGES,
        "lost": lost,
        **spread(latencies),
        **used(before, org.usage(), org.inserted),
    }
    print(f"burst: {BURST} changes {BURST_GAP} s apart", flush=True)
    org.inserted = 0
    before = org.usage()
    latencies, lost = burst(org, run)
    time.sleep(2)
    bursty = {
        "changes": BURST,
        "gap_s": BURST_GAP,
        "lost": lost,
        **spread(latencies),
        **used(before, org.usage(), org.inserted),
    }
    return {"one_at_a_time": serial, "burst": bursty}


def main() -> int:
    started = time.monotonic()
    with stack.running(whole_stack=True, state=stack.STATE_DIR / "bench") as (env, servers):
        functions = next(s for s in servers if s.name == "functions")
        measured = measure(env, functions.log_path)
    serial = measured["one_at_a_time"]
    result = {
        **measured,
        "target_p95_s": TARGET_P95,
        "pause_between_changes_s": list(PAUSE),
        "poll_interval_s": POLL,
        "cpus": os.cpu_count(),
        "wall_s": round(time.monotonic() - started, 1),
        "date": datetime.now(UTC).date().isoformat(),
    }
    RESULT.parent.mkdir(exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    bursty = measured["burst"]
    print(
        f"up-sync latency: p50 {serial.get('p50_s', 0):.2f} s, p95 {serial.get('p95_s', 0):.2f} s, "
        f"max {serial.get('max_s', 0):.2f} s over {CHANGES} changes (target p95 <= {TARGET_P95} s), "
        f"{serial['sessions']} sessions, {serial['salesforce_calls']} SF and "
        f"{serial['calendar_calls']} Calendar calls, {serial['lost']} lost; burst of {BURST}: "
        f"p95 {bursty.get('p95_s', 0):.2f} s, {bursty['sessions']} sessions"
    )
    return 0 if serial["lost"] == 0 and bursty["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
