"""Filling a rep's calendar for a benchmark: events inserted through the real client, in batch
requests of 50 calls (as Google recommends), with a progress line now and then."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

BATCH = 50


def insert_events(env: dict[str, str], user: str, count: int,
                  body: Callable[[int], dict[str, Any]], every: int = 1000) -> float:  # fmt: skip
    """Insert `count` events, the i-th being `body(i)`, into `user`'s primary calendar; returns
    the seconds it took. Any refused insert stops the benchmark."""
    from googleapiclient.http import BatchHttpRequest

    from emulators.rep import calendar
    from infra.google_calendar import batch_uri_for

    events = calendar(env, user)
    failures: list[BaseException] = []

    def collect(request_id: str, response: Any, exception: BaseException | None) -> None:
        if exception is not None:
            failures.append(exception)

    started = time.monotonic()
    for first in range(0, count, BATCH):
        batch = BatchHttpRequest(callback=collect,
                                 batch_uri=batch_uri_for(env["CALSYNC_CALENDAR_URL"]))  # fmt: skip
        for i in range(first, min(first + BATCH, count)):
            batch.add(events.insert(calendarId="primary", body=body(i)))
        batch.execute()
        done = min(first + BATCH, count)
        if done % every == 0:
            print(f"  {done:,}/{count:,} items in the calendar", flush=True)
    if failures:
        raise SystemExit(f"bench: {len(failures)} inserts failed, first: {failures[0]}")
    return time.monotonic() - started
