"""Requests per second the Salesforce emulator sustains on one core (record GET and a query).

Starts the emulator pinned to one CPU, creates 200 Events in one collections call, then drives
it from a single client thread over one keep-alive HTTPS connection for a few seconds per call
type. Prints one line and writes bench/results/salesforce_emulator.json.
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
RESULT = HERE / "results" / "salesforce_emulator.json"
SECONDS = float(os.environ.get("BENCH_SECONDS", "3"))
EVENTS = 200
HEADERS = {"Authorization": "Bearer dev"}
QUERY = (
    "SELECT Id, Subject, StartDateTime FROM Event WHERE StartDateTime >= 2030-01-10T00:00:00Z "
    "AND StartDateTime < 2030-01-11T00:00:00Z ORDER BY StartDateTime LIMIT 10"
)


def measure(session: requests.Session, url: str, params: dict | None = None) -> float:
    """Calls per second of GET `url` for SECONDS, one call at a time."""
    calls, deadline = 0, time.perf_counter() + SECONDS
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        session.get(url, params=params, headers=HEADERS).raise_for_status()
        calls += 1
    return calls / (time.perf_counter() - started)


def main() -> int:
    port = free_port()
    tls = Path(tempfile.mkdtemp(prefix="salesforce-bench-"))
    argv = [
        sys.executable,
        "-m",
        "emulators.salesforce",
        "--port",
        str(port),
        "--tls-dir",
        str(tls),
    ]
    server = start("salesforce-emulator", argv, tls / "emulator.log", timeout=30, cwd=HERE.parent)
    pinned = False
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(server.process.pid, {min(os.sched_getaffinity(0))})
        pinned = True
    try:
        base = f"https://127.0.0.1:{port}/services/data/v59.0"
        with requests.Session() as session:
            session.trust_env = False  # else REQUESTS_CA_BUNDLE overrides verify
            session.verify = str(tls / "cert.pem")
            records = [
                {
                    "attributes": {"type": "Event"},
                    "Subject": f"bench {i}",
                    "StartDateTime": f"2030-01-{1 + i % 28:02d}T{i % 20:02d}:00:00Z",
                    "DurationInMinutes": 30,
                }
                for i in range(EVENTS)
            ]
            created = session.post(
                f"{base}/composite/sobjects", headers=HEADERS, json={"records": records}
            ).json()
            event_id = created[EVENTS // 2]["id"]
            get_rps = measure(session, f"{base}/sobjects/Event/{event_id}")
            query_rps = measure(session, f"{base}/query", {"q": QUERY})
    finally:
        server.stop()
    result = {
        "event_get_rps": round(get_rps, 1),
        "query_10_rows_rps": round(query_rps, 1),
        "seconds_per_call_type": SECONDS,
        "events_in_org": EVENTS,
        "pinned_to_one_cpu": pinned,
        "client": "one thread, keep-alive HTTPS",
    }
    RESULT.parent.mkdir(exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"salesforce emulator: GET sobjects/Event/{{id}} {get_rps:.0f} req/s, "
        f"SOQL query (10 rows) {query_rps:.0f} req/s (one core, one keep-alive HTTPS client)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
