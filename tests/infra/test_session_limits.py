"""Limits (R-17, R-30, R-35): the findings M9 and L4 of the session audit
(/work/shared/audits/2026-12-session-audit.md, at commit 4df574a) on the real
`infra.session.Session` over the in-memory fakes: no series floods Salesforce, and what
a session reads does not cost it more than the change needs.
"""

from __future__ import annotations

import pytest

from core import fields
from core.actions import SfCreate
from core.series import MAX_INSTANCES
from tests.session_kit import ALICE, JANE, Kit

RULES = [
    pytest.param(("RRULE:FREQ=MINUTELY;INTERVAL=5",), id="FREQ=MINUTELY;INTERVAL=5"),
    pytest.param(("RRULE:FREQ=HOURLY",), id="FREQ=HOURLY"),
    pytest.param(("RRULE:FREQ=DAILY;BYHOUR=8,9,10,11,12,13,14,15,16,17",), id="DAILY;BYHOUR=8..17"),
    pytest.param(("RRULE:FREQ=SECONDLY",), id="FREQ=SECONDLY"),
]  # fmt: skip


def series_kit(rule: tuple[str, ...], **kw):
    kit = Kit()
    kit.store.set_org_settings({"recurring_enabled": True})
    kit.user(ALICE)
    kit.contact(JANE)
    series = kit.meeting(ALICE, "Series", recurrence=rule, **kw)
    other = kit.meeting(ALICE, "Plain meeting")
    return kit, series, other


@pytest.mark.parametrize("rule", RULES)
def test_M9_R17_a_sub_daily_series_is_refused_with_CS019_not_expanded(rule):
    """Old code: a rule Salesforce cannot express was saved instance by instance over the whole
    window with no cap ("FREQ=MINUTELY;INTERVAL=5 -> 20,197 creates")."""
    kit, series, other = series_kit(rule)
    report = kit.sync(ALICE)
    assert report.plan is not None and len(report.plan.of(SfCreate)) == 1  # the plain one
    assert kit.events_for(ALICE, series) == [] and len(kit.events_for(ALICE, other)) == 1
    assert kit.issue_for(ALICE, series).code == "CS-019"
    assert kit.current(series).color_id == "11"


def test_M9_R17_instance_by_instance_is_capped_at_MAX_INSTANCES():
    """A daily rule with an EXDATE (Salesforce takes none) is saved one by one: from 3 days ahead
    to the default window's end that is 56 instances (allowed); over a window of 180 days ahead, more than
    MAX_INSTANCES (refused with CS-019, nothing created)."""
    daily = ("RRULE:FREQ=DAILY", "EXDATE:20261215T090000Z")
    kit, series, _ = series_kit(daily)
    kit.sync(ALICE)
    assert 50 < len(kit.events(ALICE)) - 1 <= MAX_INSTANCES and kit.codes(ALICE) == []
    kit, series, _ = series_kit(daily)
    kit.store.set_org_settings({"window_future_days": 180})
    kit.sync(ALICE)
    assert kit.events_for(ALICE, series) == [] and kit.issue_for(ALICE, series).code == "CS-019"
    assert len(kit.events(ALICE)) == 1


def test_M9_R05_an_autosaved_series_with_a_never_occurring_rule_is_skipped():
    """L4: `FREQ=DAILY;BYMONTH=2;BYMONTHDAY=-30` never happens; dateutil would walk every day up
    to year 9999 looking for it in each session's window check. It is answered without that
    walk (tests/core/test_series_limits.py bounds it) and the session goes on."""
    kit = Kit()
    kit.user(ALICE, autosave_meetings=True)
    kit.contact(JANE)
    never = kit.meeting(ALICE, "Never", tag=False,
                        recurrence=("RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=-30",))  # fmt: skip
    other = kit.meeting(ALICE, "Plain", tag=False)
    kit.sync(ALICE)
    assert kit.events_for(ALICE, never) == [] and len(kit.events_for(ALICE, other)) == 1
    assert kit.open_issues() == []


def test_L4_R14_R30_a_session_does_not_rebuild_descriptions_it_does_not_write(monkeypatch):
    """Old code: `save_target` built the whole Safe Description of every saved item in every
    session just to read its notes (and once per instance of a series). Now the description is
    built only when it is written: at the create."""
    kit = Kit()
    kit.user(ALICE)
    kit.contact(JANE)
    items = [kit.meeting(ALICE, f"M{i}", description="<a " * 2000) for i in range(5)]
    built: list[int] = []
    original = fields.safe_description
    monkeypatch.setattr(fields, "safe_description", lambda item: built.append(1) or original(item))
    kit.sync(ALICE)
    assert len(built) == 5
    for item in items:
        kit.edit(item, title=item.title + " (moved)")
    kit.sync(ALICE)
    assert len(built) == 5  # five updates, no description built
