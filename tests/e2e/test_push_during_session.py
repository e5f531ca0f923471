"""R-27 on the whole local stack: a push that lands while the user's session runs is not lost.

Salesforce answers slowly here (as a real org does, ~0.4 s a call), so the first session is
still running when the rep tags a second event; that push finds the session RUNNING and is
coalesced into a follow-up, which saves the second event. Nothing else would: no sweep runs, and
the first session read the calendar before the second event existed."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

import pytest

from emulators import stack
from emulators.demo import ALICE, JANE, SEED, Demo, _admin

pytestmark = pytest.mark.e2e


def test_R27_a_push_while_the_session_runs_reaches_salesforce_by_a_follow_up(tmp_path):
    env: dict[str, str] = {}
    keys = ("FIRESTORE_EMULATOR_HOST", "CALSYNC_TASKS_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT")
    saved = {k: os.environ.pop(k) for k in keys if k in os.environ}
    try:
        with stack.running(whole_stack=True, state=tmp_path) as (env, servers):
            os.environ.update(env)
            forget_wiring()
            run(env, next(s for s in servers if s.name == "functions").log_path)
    finally:
        forget_wiring()  # this process's adapters pointed at a stack that is gone now
        for key in env:
            os.environ.pop(key, None)
        os.environ.update(saved)


def forget_wiring() -> None:
    from infra import wiring

    for name in ("config", "verifier", "settings_store", "_salesforce", "_one_salesforce", "_calendar_of",
                 "session_queue", "budget_recorder"):  # fmt: skip
        getattr(wiring, name).cache_clear()


def run(env: dict[str, str], functions_log) -> None:
    from google.cloud import firestore

    demo = Demo(env, datetime.now(UTC), [])
    demo.salesforce_admin("POST", "seed", json=SEED)
    _admin("settings", "set", "internal_domains", '["example.com"]')
    _admin("users", "enable", ALICE)
    demo.salesforce_admin("POST", "config", json={"latency_ms": 400})
    queue_doc = firestore.Client(project=env["GOOGLE_CLOUD_PROJECT"]).collection(
        "calsync_queue").document(ALICE)  # fmt: skip

    def phase() -> str:
        snapshot = queue_doc.get()
        return str((snapshot.to_dict() or {}).get("phase", "idle")) if snapshot.exists else "idle"

    def subjects() -> set[str]:
        events = demo.salesforce_admin("GET", "records", params={"type": "Event"})["Event"]
        return {e["Subject"] for e in events if not e.get("IsChild")}

    def sf_calls() -> int:
        return int(demo.salesforce_admin("GET", "calls")["total"])

    before = sf_calls()
    demo.add(ALICE, "first", "Before", day=1, attendees=(ALICE, JANE), colorId="9")
    deadline = time.monotonic() + 10
    while sf_calls() == before and time.monotonic() < deadline:  # it has read the calendar
        time.sleep(0.01)
    assert phase() == "running"
    demo.add(ALICE, "second", "During", day=2, attendees=(ALICE, JANE), colorId="9")
    assert phase() == "running"  # its push found the session running
    deadline = time.monotonic() + 30
    while not (subjects() == {"Before", "During"} and phase() == "idle"):
        assert time.monotonic() < deadline, (subjects(), phase())
        time.sleep(0.05)
    log = functions_log.read_text()
    assert '"status": "coalesced"' in log  # the second push joined a follow-up, no task of its own
    assert (queue_doc.get().to_dict() or {})["seq"] >= 2  # ... which ran as a session of its own
