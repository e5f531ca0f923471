"""The low findings of the session audit (/work/shared/audits/2026-12-session-audit.md, at commit
4df574a) that had no test naming them: L2 (SOQL), L5 (coalescing and the sweep), L6 (privacy of
logs), L8 (Google write results). Each docstring says what the old code did."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import GoogleRefused
from core.model import Visibility
from core.outcome import GOOGLE_REFUSED, TRY_AGAIN
from core.users import SyncState
from emulators.salesforce.soql import tokenize, unescape
from infra.channels import close_channel, stop_channel
from infra.logs import JsonFormatter
from infra.salesforce import format_like, plausible_email
from infra.salesforce_query import chunked_in
from infra.tasks import task_id
from tests.session_kit import ALICE, JANE, Kit

PREFIX = "https://org.example/services/data/v62.0/query"
TEMPLATE = "SELECT Id FROM Contact WHERE Email IN {values}"

# -- L2: SOQL escaping round trip through the emulator's parser ------------------------------

# Any text Salesforce stores: no lone surrogates (not encodable), quotes, backslashes, newlines,
# wildcards, NUL, U+2028, emoji, the template's own mark.
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)),
    max_size=40,
) | st.sampled_from(["' OR Id != null OR Email = '", "\\'", "{values}", "%_", "\u2028\x00"])


@settings(max_examples=300, deadline=None)
@given(st.lists(TEXT, min_size=1, max_size=12))
def test_L2_R35_in_lists_round_trip_through_the_emulators_soql_parser(values):
    """Old test: two hand-picked strings. Every value chunked_in writes decodes, through the
    emulator's tokenizer and its unescaping (Salesforce's escape rules), to exactly the value,
    and the statement keeps its structure: one string token per value, nothing else injected."""
    decoded = []
    for statement in chunked_in(TEMPLATE, values, PREFIX):
        tokens = tokenize(statement)
        words = [t.text.upper() for t in tokens if t.kind == "word"]
        assert words == ["SELECT", "ID", "FROM", "CONTACT", "WHERE", "EMAIL", "IN"]
        strings = [t for t in tokens if t.kind == "string"]
        decoded += ["".join(c for c, _ in unescape(t.text, like=False)) for t in strings]
    assert decoded == list(dict.fromkeys(values))


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_L2_R35_like_patterns_match_the_literal_text_only(domain):
    """format_like escapes % and _ (R-07's domain lookups): decoded, the pattern is the domain
    between two real wildcards, and no character of the domain is a wildcard."""
    [token] = [t for t in tokenize(format_like(domain)) if t.kind == "string"]
    chars = unescape(token.text, like=True)
    assert chars[0] == ("%", True) and chars[-1] == ("%", True)
    assert [c for c, _ in chars[1:-1]] == list(domain)
    assert not any(wild for _, wild in chars[1:-1])


@pytest.mark.parametrize("bad", ["ann\ud800@acme.example", "a" * 15_000 + "@acme.example",
                                 "no-at-sign", "two@@acme.example", ""])  # fmt: skip
def test_L2_H3_an_unencodable_or_oversize_address_is_dropped_not_fatal(bad):
    """Old code: one lone surrogate raised UnicodeEncodeError and a 14 KB address ValueError in
    chunked_in, and all of a session's addresses went into that one search: the whole session
    failed, every time. Such an address is now not searched for; the session saves the item
    with the people it can find."""
    assert not plausible_email(bad)
    kit = Kit()
    kit.user(ALICE)
    kit.contact(JANE)
    item = kit.meeting(ALICE, "With an odd guest", with_=(JANE, bad) if bad else (JANE,))
    assert kit.attempt(ALICE) == "ok"
    assert len(kit.events_for(ALICE, item)) == 1


# -- L5: coalescing and the sweep --------------------------------------------------------------


def test_L5_R28_task_names_carry_no_address_and_one_session_one_name():
    """Old code: task names ignored the reason; a push and the sweep in one 1-second bucket got
    one name and the sweep's task was the one dropped (AlreadyExists). Task names are now one
    per queued session (the sweep's are never coalesced into a push: the integration test
    test_R28_L5_the_sweeps_sessions_are_never_coalesced_into_a_push), with no address in them."""
    assert task_id(ALICE, "s1") != task_id(ALICE, "s2")
    assert task_id(ALICE, "s1") == task_id(ALICE.upper(), "s1")
    assert ALICE not in task_id(ALICE, "s1") and "alice" not in task_id(ALICE, "s1")


def test_L5_R27_a_disable_during_the_first_session_stays():
    """Old code: matching the Salesforce User called enable_user, which set enabled: True, so a
    `users disable` landing during the user's first session was undone."""
    kit = Kit()
    kit.user(ALICE)
    kit.store.enable_user(ALICE)  # no sf_user_id yet: the session matches it
    kit.contact(JANE)
    kit.meeting(ALICE, "First")
    real = kit.sf.search_people

    def meanwhile(emails):
        kit.store.disable_user(ALICE)  # the admin's `users disable`
        return real(emails)

    kit.sf.search_people = meanwhile
    kit.sync(ALICE)
    user = kit.store.get_user(ALICE)
    assert user is not None and not user.enabled and user.sf_user_id == kit.sf_ids[ALICE]


class Stopping:
    def __init__(self, fail: bool) -> None:
        self.fail, self.stopped = fail, []

    def stop(self, channel):
        if self.fail:
            raise GoogleRefused("Not Found", status=404)
        self.stopped.append(channel.id)


@pytest.mark.parametrize("fail", [False, True], ids=["stopped", "stop refused"])
def test_L5_R27_a_disabled_users_channel_is_stopped_and_a_failure_is_logged(fail, caplog):
    """Old code: `users disable` never stopped the watch channel (Google pushed, refused, for up
    to 7 days) and open_channel swallowed every exception when stopping the old channel, without
    a log: leaked channels were invisible."""
    kit = Kit()
    kit.user(ALICE)
    kit.store.save_sync_state(ALICE, SyncState(channel_id="calsync-1", channel_token="t"))
    kit.store.disable_user(ALICE)
    calendar = Stopping(fail)
    with caplog.at_level(logging.WARNING):
        stopped = close_channel(kit.store, calendar, kit.store.get_user(ALICE))
    assert stopped is not fail and calendar.stopped == ([] if fail else ["calsync-1"])
    assert kit.store.get_user(ALICE).state.channel_id == ""  # forgotten either way
    warned = [r for r in caplog.records if r.getMessage() == "channel not stopped"]
    assert len(warned) == (1 if fail else 0)
    if fail:
        assert warned[0].channel == "calsync-1" and warned[0].code
    user = kit.store.get_user(ALICE)
    assert stop_channel(Stopping(True), user, replace_channel()) is False


def replace_channel():
    from core.ports import Channel

    return Channel("calsync-2", "t", "r", 0)


# -- L6: nothing of the calendar's content in any log record ------------------------------------

SECRET_TITLE = "Project Nightingale acquisition"
SECRET_TEXT = "strike price 41.20 per share"
SECRET_GUEST = "cfo.private@target-company.example"


def test_L6_R35_a_session_logs_no_title_description_or_attendee(caplog):
    """Old test: tests/infra/test_logs.py formatted one hand-made record. Every record of a whole
    session (root logger, every library's logger, all levels), with refusals and a lost answer
    so that the failure paths log too, over a private item with a distinctive title,
    description and guest: none of them appears in a record's message, its arguments, or the
    JSON line Cloud Logging would get."""
    kit = Kit()
    kit.user(ALICE)
    kit.contact(JANE)
    item = kit.meeting(ALICE, SECRET_TITLE, with_=(JANE, SECRET_GUEST))
    kit.google.put(replace(kit.current(item), description=SECRET_TEXT,
                           visibility=Visibility.PRIVATE))  # fmt: skip
    other = kit.meeting(ALICE, SECRET_TITLE + " (2)", with_=(SECRET_GUEST,))
    kit.faults.refuse.append(("sf_create", lambda c: c.key == other.key))
    kit.faults.lose.append(("label", lambda p: True))
    with caplog.at_level(logging.DEBUG):
        kit.attempt(ALICE)
        kit.faults.lose.clear()
        kit.attempt(ALICE)
        kit.edit(item, title=SECRET_TITLE + " v2")
        kit.attempt(ALICE)
    assert len(kit.events(ALICE)) == 1 and caplog.records  # the session did its work, and logged
    formatter = JsonFormatter()
    for record in caplog.records:
        texts = [record.getMessage(), repr(record.args), formatter.format(record)]
        for secret in (SECRET_TITLE, SECRET_TEXT, SECRET_GUEST, "Nightingale", "cfo.private"):
            assert not any(secret in t for t in texts), (record.name, record.getMessage())


# -- L8: Google write results are checked --------------------------------------------------------


@pytest.mark.parametrize("how", ["refuse", "down"])
def test_L8_R22_a_failed_google_patch_is_an_issue_and_is_sent_again(how):
    """Old code: the results of Google field patches and deletes were discarded while the mapping
    already recorded the patched values, so a failed patch would later read as a Google-side
    change and overwrite Salesforce. Now a refused patch is CS-014 (Google refused), a 503 is
    retried, the mapping keeps the old fingerprint, and the change reaches Google once it can."""
    kit = Kit()
    kit.user(ALICE)
    kit.contact(JANE)
    item = kit.meeting(ALICE, "Quarterly review")
    kit.sync(ALICE)
    [event] = kit.events(ALICE)
    kit.later(seconds=5)
    event.subject, event.modified = "Renamed in Salesforce", kit.now
    kit.store.add_sf_changes(ALICE, [event.id])
    kit.faults.refuse.append(("patch", lambda p: True)) if how == "refuse" else \
        kit.faults.down.append(("patch", lambda p: True))  # fmt: skip
    outcome = kit.attempt(ALICE)
    assert kit.current(item).title == "Quarterly review"
    if how == "refuse":
        assert outcome == "ok" and kit.issue_for(ALICE, item).code == GOOGLE_REFUSED
    else:
        assert outcome == "retry" and kit.issue_for(ALICE, item).code == TRY_AGAIN
    assert event.subject == "Renamed in Salesforce"  # Google's old title did not win
    kit.faults.refuse.clear()
    kit.faults.down.clear()
    kit.sync(ALICE, sweep=True)
    assert kit.current(item).title == "Renamed in Salesforce" == event.subject
    assert kit.open_issues() == []


def test_L8_R23_a_failed_google_delete_is_an_issue_not_a_forgotten_mapping():
    """R-23 with delete_from_calendar: the Google delete's result is read; refused, the item
    keeps an issue instead of a mapping forgotten as if the copy were gone."""
    kit = Kit()
    kit.store.set_org_settings({"delete_from_calendar": True})
    kit.user(ALICE)
    kit.contact(JANE)
    item = kit.meeting(ALICE, "Quarterly review")
    kit.sync(ALICE)
    [event] = kit.events(ALICE)
    kit.later(seconds=5)
    event.deleted, event.modified = True, kit.now
    kit.store.add_sf_changes(ALICE, [event.id])
    real = kit.google.calendar(ALICE).delete_events
    refused = []

    def delete_events(targets, if_match=()):
        refused.extend(targets)
        from core.actions import WriteResult

        return [WriteResult(t[1], False, "", "forbidden", "refused") for t in targets]

    calendar = kit.google.calendar(ALICE)
    calendar.delete_events = delete_events
    kit.services.calendar_for = lambda email: calendar
    kit.sync(ALICE)
    assert refused and kit.current(item).status.value == "confirmed"
    assert kit.issue_for(ALICE, item).code == GOOGLE_REFUSED
    calendar.delete_events = real
    kit.sync(ALICE, sweep=True)  # Google takes the delete now
    assert (item.calendar_id, item.id) not in kit.google.items or \
        kit.current(item).status.value == "cancelled"  # fmt: skip
    assert kit.open_issues() == []
