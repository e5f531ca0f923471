"""core/status.py: the sidebar's words for an item's state (R-33, R-31)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.issues import Issue
from core.labels import P_MANUAL, P_STATUS, P_UNSYNCED
from core.model import ItemKey, ItemStatus, Mapping, Role, with_props
from core.policy import Decision, Verdict
from core.status import StateKind, item_state
from tests.core.builders import ANN, SETTINGS, meeting, tagged

ITEM = meeting()
MAPPING = Mapping(ANN.email, ITEM.key, ANN.email, ITEM.id, ANN.sf_user_id, "00U000000000001",
                  "cs1-x")  # fmt: skip


def props(item, **values):
    return with_props(item, {**item.props, **values})


CASES = [
    pytest.param(replace(ITEM, status=ItemStatus.CANCELLED), MAPPING, None, None,
                 StateKind.CANCELLED, (False, False, False), id="cancelled"),
    pytest.param(props(ITEM, **{P_STATUS: "Tracked successfully"}), MAPPING, None, None,
                 StateKind.SAVED, (True, True, False), id="R-33 saved shows its SF Event"),
    pytest.param(ITEM, replace(MAPPING, role=Role.INVITEE), None, None,
                 StateKind.INVITEE, (False, True, False), id="R-11 invitee"),
    pytest.param(props(ITEM, **{P_MANUAL: "1"}), None, None, None,
                 StateKind.SAVING, (True, False, False), id="R-04 asked, not written yet"),
    pytest.param(tagged(ITEM, "8"), MAPPING, None, None,
                 StateKind.REMOVING, (False, False, False), id="R-18 unsync colour given"),
    pytest.param(ITEM, None, Issue("CS-002", ANN.email, str(ITEM.key), "nobody known"), None,
                 StateKind.FAILED, (True, False, True), id="R-31 failed: code and what to do"),
    pytest.param(ITEM, None, Issue("CS-001", ANN.email, str(ITEM.key)), None,
                 StateKind.WAITING, (True, False, False), id="R-11 waiting"),
    pytest.param(props(ITEM, **{P_UNSYNCED: "1"}), None, None, None,
                 StateKind.UNSYNCED, (True, False, False), id="R-18 unsynced earlier"),
    pytest.param(ITEM, None, None, Decision(Verdict.SKIP, "R-06", "private item (private)"),
                 StateKind.SKIPPED, (True, False, False), id="R-06 skipped says why"),
    pytest.param(ITEM, None, None, Decision(Verdict.SAVE, "R-10", "the user organises it"),
                 StateKind.SAVING, (True, False, False), id="R-05 autosave will save it"),
    pytest.param(ITEM, None, None, None,
                 StateKind.NOT_SAVED, (True, False, False), id="nothing known"),
]  # fmt: skip


@pytest.mark.parametrize(("item", "mapping", "issue", "decision", "kind", "actions"), CASES)
def test_R33_item_state_in_words(item, mapping, issue, decision, kind, actions):
    state = item_state(item, SETTINGS, mapping, issue, decision)
    assert state.kind is kind
    assert (state.can_save, state.can_unsync, state.can_retry) == actions
    assert state.headline


def test_R33_failed_state_carries_code_and_catalogue_fix():
    issue = Issue("CS-010", ANN.email, str(ITEM.key), "Salesforce refused the event: X")
    state = item_state(ITEM, SETTINGS, None, issue)
    assert state.code == "CS-010"
    assert state.detail == "Salesforce refused the event: X"
    assert state.todo.startswith("Read the message")
    assert state.headline == "Not saved: Salesforce refused the record"


def test_R33_skipped_state_names_the_rule_and_reason():
    state = item_state(
        ITEM, SETTINGS, None, None, Decision(Verdict.SKIP, "R-06", "internal meeting")
    )
    assert state.headline == "Not saved: internal meeting"
    assert state.rule == "R-06"


def test_R33_saved_state_links_the_event_id():
    state = item_state(ITEM, SETTINGS, MAPPING, None)
    assert state.sf_event_id == "00U000000000001"
    occurrence = replace(
        MAPPING, key=ItemKey("u", "20250101"), sf_event_id="", occurrence_of="00U9"
    )
    assert item_state(ITEM, SETTINGS, occurrence, None).sf_event_id == "00U9"
