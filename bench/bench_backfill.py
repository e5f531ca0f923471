"""A backfill of one user's 10,000 older items (R-38): items per second, calls per saved item,
and the time a run takes to resume after an interruption.

Starts the whole local stack, seeds Salesforce as the initial up-sync benchmark does, enables one
rep with meeting autosave, fills their calendar with meetings that all lie before the sliding
window (each with one to three Contacts or Leads), then runs `python main.py backfill`'s engine in
this process: interrupted (as Ctrl-C) after half the batches, then run again to the end. Writes
bench/results/backfill.json and prints one summary line.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.bench_upsync_initial import (
    USER,
    CalendarRequests,
    FirestoreCalls,
    Usage,
    admin,
    delta,
    people,
    seed,
    sf_events,
)
from bench.fill import insert_events
from emulators import stack

ITEMS = int(os.environ.get("BENCH_BACKFILL_ITEMS", "10000"))
RESULT = stack.ROOT / "bench" / "results" / "backfill.json"
FLOOR = 1 / 200  # one sObject Collection call per 200 saved items


def body(i: int, now: datetime) -> dict[str, Any]:
    """Item `i`: a meeting 15 to 15 + ITEMS/20 days ago, 20 per day, 30 minutes each."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=15 + i // 20)
    start = day + timedelta(hours=7, minutes=30 * (i % 20))
    return {
        "summary": f"older {i}",
        "start": {"dateTime": start.isoformat()},
        "end": {"dateTime": (start + timedelta(minutes=30)).isoformat()},
        "attendees": [{"email": USER}, *({"email": p} for p in people(i))],
    }


class Interrupt:
    """The progress callback: Ctrl-C once `stop_at` batches are done; records when each
    checkpoint arrived."""

    def __init__(self, stop_at: int | None) -> None:
        self.stop_at = stop_at
        self.seen: list[tuple[float, int]] = []

    def __call__(self, cp: Any) -> None:
        self.seen.append((time.perf_counter(), cp.batches))
        if self.stop_at is not None and cp.batches >= self.stop_at:
            raise KeyboardInterrupt


def measure(env: dict[str, str]) -> dict[str, Any]:
    os.environ.update(env)
    firestore = FirestoreCalls()
    http_count = CalendarRequests(env["CALSYNC_CALENDAR_URL"])
    import requests

    from infra import wiring
    from infra.backfill import PAGE_SIZE

    http = requests.Session()
    http.trust_env = False
    http.post(env["CALSYNC_SF_INSTANCE_URL"] + "/_admin/seed", json=seed(),
              verify=env["CALSYNC_SF_CA_CERT"], timeout=60).raise_for_status()  # fmt: skip
    admin("settings", "set", "internal_domains", '["example.com"]')
    admin("users", "enable", USER)
    admin("settings", "set", "autosave_meetings", "true", "--user", USER)
    now = datetime.now(UTC)
    print(f"filling {USER}'s calendar with {ITEMS} items before the window", flush=True)
    fill_seconds = insert_events(env, USER, ITEMS, lambda i: body(i, now), every=2000)
    since = (now - timedelta(days=20 + ITEMS // 20)).date()
    engine = wiring.backfill()
    until = (now - timedelta(days=14)).date()
    usage = Usage(env, firestore, http_count)
    before = usage.snapshot()
    half = ITEMS // PAGE_SIZE // 2
    print(f"backfill from {since} to {until}: interrupted after {half} batches", flush=True)
    first = Interrupt(half)
    started = time.perf_counter()
    cp = engine.prepare(USER, since, until, (USER,))
    try:
        engine.run(cp, holder="bench:1", progress=first)
    except KeyboardInterrupt:
        pass
    first_wall = time.perf_counter() - started
    print("run again: it resumes at its checkpoint", flush=True)
    second = Interrupt(None)
    started = time.perf_counter()
    cp = engine.prepare(USER, since, until, (USER,))
    resumed_after = cp.read
    cp = engine.run(cp, holder="bench:2", progress=second)
    second_wall = time.perf_counter() - started
    # The time to resume: from the command's start until its first new batch is checkpointed
    # (the first progress call comes before any batch, the second after the first).
    first_new = second.seen[1][0] if len(second.seen) > 1 else time.perf_counter()
    after = usage.snapshot()
    spent = {side: delta(before[side], after[side]) for side in before}
    calls = {
        "calendar": sum(
            v for k, v in spent["calendar"].items() if k not in ("batch", "oauth2.token")
        ),  # fmt: skip
        "calendar_http_requests": spent.pop("calendar_http").get("requests", 0),
        "salesforce": spent["salesforce"].pop("total", 0),
        "firestore": sum(spent["firestore"].values()),
    }
    saved = cp.saved
    return {
        "items": ITEMS,
        "read": cp.read,
        "saved": saved,
        "skipped": cp.skipped,
        "failed": cp.failed,
        "status": cp.status.value,
        "sf_events": sf_events(env),
        "batches": cp.batches,
        "items_per_s": round(cp.read / cp.busy_seconds, 1) if cp.busy_seconds else None,
        "wall_s": round(first_wall + second_wall, 1),
        "interrupted_after_items": resumed_after,
        "resume_to_first_batch_s": round(first_new - started, 2),
        "calendar_fill_s": round(fill_seconds, 1),
        "calls": calls,
        "calls_per_saved_item": {
            k: round(n / saved, 4) if saved else None for k, n in calls.items()
        },  # fmt: skip
        "calls_by_kind": spent,
    }


def main() -> int:
    started = time.monotonic()
    with stack.running(whole_stack=True, state=stack.STATE_DIR / "bench") as (env, _servers):
        measured = measure(env)
    result = {
        **measured,
        "sf_floor_per_saved_item": FLOOR,
        "cpus": os.cpu_count(),
        "bench_wall_s": round(time.monotonic() - started, 1),
        "date": datetime.now(UTC).date().isoformat(),
    }
    RESULT.parent.mkdir(exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    per = result["calls_per_saved_item"]
    print(
        f"backfill: {result['saved']:,} of {ITEMS:,} items saved ({result['sf_events']:,} SF "
        f"Events) at {result['items_per_s']} items/s; per saved item {per['salesforce']} "
        f"Salesforce calls (floor {FLOOR}), {per['calendar']} Calendar, {per['firestore']} "
        f"Firestore; resumed after {result['interrupted_after_items']:,} items, first batch "
        f"{result['resume_to_first_batch_s']} s after the restart"
    )
    ok = result["saved"] == ITEMS == result["sf_events"] and result["status"] == "done"
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
