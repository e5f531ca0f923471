"""The randomized fault run (tests/fault_run.py) on the real `infra.session.Session` over the
fakes: many sessions of three users with edits, tags, unsyncs, cancels, Salesforce-side edits and
deletes, interleaved with refusals, lost answers, 503s, crashes before any write, expired sync
tokens, an unreadable group calendar and stale sessions whose lease was taken over; then
quiescence. Audit H1-H3, M2-M5 as a whole (R-29, R-31, R-39).

bench/bench_faults.py runs many more seeds and reports the figures (docs/reliability.md).
"""

from __future__ import annotations

from collections import Counter

import pytest

from core.actions import WriteResult
from tests.fault_run import FaultRun, run

# 484, 711, 999: a sweep stored an invitee's unchanged link every round (its etag), never at rest
SEEDS = [*range(120), 484, 711, 999]


def test_R29_R31_R39_a_randomized_fault_run_duplicates_nothing_loses_nothing_hides_nothing():
    """Each seed: about 120 steps over up to 36 meetings, with or without Calsync_Key__c (chosen
    by the seed), checked after every session that ended well and after quiescence."""
    results = [run(seed) for seed in SEEDS]
    failed = [r.describe() for r in results if not r.ok]
    assert failed == [], "\n".join(failed[:5])
    # The run did what it says: both key modes, and every kind of fault, many times.
    faults: Counter[str] = Counter()
    for r in results:
        faults.update(r.faults)
    kinds = Counter(k.split(" ")[0] for k in faults.elements())
    assert {r.keyed for r in results} == {True, False}
    for kind in ("refuse", "lose", "down", "crash", "takeover", "410", "group", "sf_edit_by_rep",
                 "sf_delete_by_rep"):  # fmt: skip
        assert kinds[kind] >= 20, (kind, kinds)
    assert sum(r.outcomes["crash"] for r in results) >= 100
    assert sum(r.sessions for r in results) >= 5000
    # an invitee whose organiser's Event was deleted settles one round later
    assert all(r.quiescence_rounds <= 5 for r in results)


@pytest.mark.parametrize("bug", ["update dropped", "create doubled", "issue dropped"])
def test_the_fault_run_catches_a_session_that_loses_duplicates_or_hides(bug):
    """The checks can fail: a Salesforce that answers an update without applying it is a lost
    change; one that makes every create twice, a duplicate; an issue store that forgets
    what it is told, a silent failure."""
    bad = 0
    for seed in range(6):
        fr = FaultRun(seed)
        sf, issues = fr.kit.sf, fr.kit.issues
        if bug == "update dropped":
            sf.update_events = lambda ups: [WriteResult(u.sync_key, True, u.sf_event_id)
                                            for u in ups]  # fmt: skip
        elif bug == "create doubled":
            real = sf.create_events

            def twice(creates, real=real):
                real([c for c in creates if not c.retry])
                return real(creates)

            sf.create_events = twice
        else:
            issues.record = lambda opened, closed, now, fence=None: None
        result = fr.run()
        found = {"update dropped": result.lost, "create doubled": result.duplicates,
                 "issue dropped": result.lost or result.silent}[bug]  # fmt: skip
        bad += bool(found)
    assert bad >= 3
