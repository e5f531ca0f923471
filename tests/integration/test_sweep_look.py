"""Issue 14, R-28: what a sweep's look at an idle user costs, counted on the Firestore and
Calendar emulators with the real adapters (bench/bench_org_scale.py measures it for 50 reps)."""

from __future__ import annotations

import pytest

from bench.firestore_calls import FirestoreCalls

pytestmark = pytest.mark.integration
ALICE = "alice@example.com"


def test_issue14_R28_an_idle_users_look_is_three_reads_and_one_listing(org):
    org.enable(ALICE)
    for i in range(5):
        org.insert(ALICE, f"Acme {i}", attendees=(ALICE, "jane@acme.com"), colorId="9")
    org.sync(ALICE)
    org.sync(ALICE)  # the labels' echoes
    assert len(org.events()) == 5
    org.services.org_settings_ttl = 60.0
    assert org.sync(ALICE, sweep=True).quiet  # warms this process's org settings
    with FirestoreCalls() as counted:
        before, calendar = counted.snapshot(), org.calendar_calls()
        assert org.sync(ALICE, sweep=True).quiet
        after = counted.snapshot()
    # the user's document, the pending mappings, the open issues; nothing written
    assert (after["reads"] - before["reads"], after["writes"] - before["writes"]) == (3, 0)
    assert org.calendar_calls() - calendar == 1
    org.patch(ALICE, org.calendar(ALICE).list(calendarId="primary").execute()["items"][0]["id"],
              summary="Renamed, its push lost")  # fmt: skip
    report = org.sync(ALICE, sweep=True)
    assert not report.quiet and sorted(e["Subject"] for e in org.events())[-1] == (
        "Renamed, its push lost")  # fmt: skip
