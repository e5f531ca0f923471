"""Requests per second the Calendar emulator sustains on one core (events.get and events.list).

Starts the emulator pinned to one CPU, fills one calendar with 200 events, then drives it from a
single client thread over one keep-alive connection for a few seconds per call. Prints one line
and writes bench/results/calendar_emulator.json.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import requests

from emulators.launch import free_port, start

HERE = Path(__file__).resolve().parent
RESULT = HERE / "results" / "calendar_emulator.json"
SECONDS = float(os.environ.get("BENCH_SECONDS", "3"))
EVENTS = 200
HEADERS = {"Authorization": "Bearer dev:bench@example.com"}


def measure(session: requests.Session, url: str, params: dict | None = None) -> float:
    """Calls per second of GET `url` for SECONDS, one call at a time."""
    calls, deadline = 0, time.perf_counter() + SECONDS
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        response = session.get(url, params=params, headers=HEADERS)
        response.raise_for_status()
        calls += 1
    return calls / (time.perf_counter() - started)


def main() -> int:
    port = free_port()
    log = Path(tempfile.mkdtemp(prefix="calendar-bench-")) / "emulator.log"
    argv = [sys.executable, "-m", "emulators.google_calendar", "--port", str(port)]
    server = start("calendar-emulator", argv, log, timeout=30, cwd=HERE.parent)
    pinned = False
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(server.process.pid, {min(os.sched_getaffinity(0))})
        pinned = True
    try:
        base = f"http://127.0.0.1:{port}/calendar/v3/calendars/primary/events"
        with requests.Session() as session:
            ids = []
            for i in range(EVENTS):
                body = {
                    "summary": f"bench {i}",
                    "start": {"dateTime": f"2030-01-{1 + i % 28:02d}T{i % 20:02d}:00:00Z"},
                    "end": {"dateTime": f"2030-01-{1 + i % 28:02d}T{i % 20:02d}:30:00Z"},
                }
                ids.append(session.post(base, json=body, headers=HEADERS).json()["id"])
            get_rps = measure(session, f"{base}/{ids[EVENTS // 2]}")
            list_rps = measure(session, base, {"maxResults": "50"})
    finally:
        server.stop()
    result = {
        "events_get_rps": round(get_rps, 1),
        "events_list_50_rps": round(list_rps, 1),
        "seconds_per_call_type": SECONDS,
        "events_in_calendar": EVENTS,
        "pinned_to_one_cpu": pinned,
        "client": "one thread, keep-alive",
    }
    RESULT.parent.mkdir(exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"calendar emulator: events.get {get_rps:.0f} req/s, "
        f"events.list(maxResults=50) {list_rps:.0f} req/s (one core, one keep-alive client)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
