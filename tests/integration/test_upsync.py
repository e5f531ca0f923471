"""Up-sync sessions on the emulators: the seed's scenarios through the real clients (SPEC §3)."""

from __future__ import annotations

import pytest

from core.labels import P_ISSUE, P_KEY, P_STATUS
from tests.fixtures.upsync import ALICE, BOB, JANE, LEE, NOBODY

pytestmark = pytest.mark.integration


def test_R01_R02_manual_save_by_colour(org):
    org.enable(ALICE)
    event = org.insert(ALICE, "Acme kickoff", attendees=(ALICE, JANE), colorId="9")
    report = org.sync(ALICE)
    [sf] = org.events()
    assert sf["Subject"] == "Acme kickoff"
    assert sf["OwnerId"] == org.ids["alice"]
    assert sf["WhoId"] == org.ids["jane"]
    assert report.created and not report.failed
    props = org.private_props(ALICE, event["id"])
    assert props[P_STATUS].startswith("Tracked successfully")
    assert props[P_KEY]
    assert org.get(ALICE, event["id"])["colorId"] == "9"


def test_R29_R30_second_session_writes_nothing_and_calls_no_salesforce(org):
    org.enable(ALICE)
    org.insert(ALICE, "Acme kickoff", attendees=(ALICE, JANE), colorId="9")
    org.sync(ALICE)
    sf_before, cal_before = org.sf_calls(), org.calendar_calls()
    org.sync(ALICE)
    assert org.sf_calls() == sf_before
    assert org.calendar_calls() - cal_before == 1  # one incremental list
    assert len(org.events()) == 1
