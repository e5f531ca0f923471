"""core/labels.py: the colour and private properties each copy carries (R-01, R-02, R-03, R-18)."""

from __future__ import annotations

import pytest

from core.labels import (
    KEYS,
    MAX_KEY,
    MAX_VALUE,
    P_COLOR,
    P_ISSUE,
    P_KEY,
    P_MANUAL,
    P_PREV_COLOR,
    P_STATUS,
    P_UNSYNCED,
    Label,
    LabelState,
    apply_patch,
    patch_for,
)
from core.model import with_props
from tests.core.builders import SETTINGS, meeting, tagged

SAVED = Label(LabelState.SAVED, sync_key="cs1-abc")
ERROR = Label(LabelState.ERROR, "Unbekannte Zeitzone ⏰", "CS-006")
PENDING = Label(LabelState.PENDING, "Waiting for the organizer to synchronize the event", "CS-001")


def settle(item, label, manual=False):
    """Apply the label, then check a second pass has nothing left to do (idempotent)."""
    patch = patch_for(item, label, SETTINGS, manual)
    after = apply_patch(item, patch) if patch else item
    assert patch_for(after, label, SETTINGS, manual) is None
    return after


@pytest.mark.parametrize(
    ("item", "label", "manual", "color", "props"),
    [
        pytest.param(meeting(color_id="5"), SAVED, False, "9", {P_STATUS: "Tracked successfully", P_KEY: "cs1-abc", P_COLOR: "9", P_PREV_COLOR: "5"},
                     id="R-02 autosaved item gets the save colour, its own colour remembered"),
        pytest.param(tagged(meeting()), SAVED, True, "9", {P_STATUS: "Tracked successfully", P_KEY: "cs1-abc", P_COLOR: "9", P_PREV_COLOR: "", P_MANUAL: "1"},
                     id="R-02 tagged item keeps the save colour, wish remembered"),
        pytest.param(tagged(meeting()), ERROR, True, "11", {P_STATUS: "Unbekannte Zeitzone ⏰", P_ISSUE: "CS-006", P_COLOR: "11", P_PREV_COLOR: "", P_MANUAL: "1"},
                     id="R-02 failed item gets the error colour, code and message"),
        pytest.param(meeting(color_id="3"), PENDING, False, "3", {P_STATUS: PENDING.status, P_ISSUE: "CS-001"},
                     id="R-02 pending item keeps its colour: no error label"),
        pytest.param(with_props(meeting(color_id="9"), {P_COLOR: "9", P_PREV_COLOR: "5", P_STATUS: "x", P_KEY: "k"}), Label(LabelState.NONE), False, "5", {},
                     id="R-02 label removed: the user's colour restored"),
        pytest.param(with_props(meeting(color_id="8"), {P_COLOR: "9", P_PREV_COLOR: "4", P_STATUS: "x", P_KEY: "k", P_MANUAL: "1"}),
                     Label(LabelState.UNSYNCED), False, "4", {P_UNSYNCED: "1"}, id="R-18 unsync: labels off, colour back, marker kept"),
        pytest.param(tagged(meeting(), "8"), Label(LabelState.UNSYNCED), False, None, {P_UNSYNCED: "1"}, id="R-18 unsync of a tagged item: default colour back"),
    ],
)  # fmt: skip
def test_labels(item, label, manual, color, props):
    after = settle(item, label, manual)
    assert after.color_id == color
    assert after.props == props


def test_untouched_item_needs_no_patch():
    """R-06: a quiet skip writes nothing to an item calsync never labelled."""
    assert patch_for(meeting(color_id="2"), Label(LabelState.NONE), SETTINGS, False) is None


def test_patch_is_a_patch_without_notifications():
    """R-03: label writes are patches of the user's copy, sendUpdates=none."""
    patch = patch_for(meeting(), SAVED, SETTINGS, False)
    assert patch is not None and patch.send_updates == "none"
    assert (patch.calendar_id, patch.event_id) == ("ann@corp.example", "ev1")


def test_error_then_saved_restores_and_relabels():
    """R-02: an item that failed and then saved goes from the error colour to the save colour."""
    failed = settle(meeting(color_id="5"), ERROR)
    saved = settle(failed, SAVED)
    assert saved.color_id == "9" and saved.props[P_PREV_COLOR] == "5" and P_ISSUE not in saved.props
    assert settle(saved, Label(LabelState.NONE)).color_id == "5"


def test_property_limits():
    """R-02: keys within 44 characters, values within 1024 (Google drops/truncates silently)."""
    assert all(len(k) <= MAX_KEY for k in KEYS)
    long = Label(LabelState.ERROR, "ß" * 5000, "CS-010")
    patch = patch_for(meeting(), long, SETTINGS, False)
    assert patch is not None and all(len(v) <= MAX_VALUE for _, v in patch.set_props)
