"""The poller of Salesforce changes (infra/sf_poll.py) on the emulators: Firestore, the Salesforce
emulator through simple-salesforce, the Calendar emulator for public calendars' copies
(R-21..R-26, R-30)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.downsync import google_event_id
from core.errors import PermanentError, RetryableError
from infra.google_calendar import Backoff
from infra.history import FirestoreHistory
from infra.public_calendars import CopyCalendar, FirestoreCopyStore, PublicCopies, copy_doc_id
from infra.salesforce import SalesforceAdapter
from infra.sf_ledger import LEDGER, FirestoreLedger, recorder
from infra.sf_poll import POLL_DOC, FirestorePollStore, Poller, PollState
from tests.fixtures.upsync import ALICE, BOB, CAROL, JANE, RecordingQueue, _calendar_config

pytestmark = pytest.mark.integration

INTEGRATION = "integration@calsync.example"  # the emulator's integration user
FAIRS = "fairs@group.calendar.google.com"


@dataclass
class Polling:
    org: Any
    poller: Poller
    queue: RecordingQueue
    store: FirestorePollStore
    copies: FirestoreCopyStore

    def poll(self, advance: float = 0.0):
        """One poll at Salesforce's own time, `advance` seconds later (both clocks agree, as
        they do in production)."""
        now = self.org.sf_org.advance(advance) if advance else self.org.sf_org.now()
        return self.poller.run(now)

    def inbox(self, email: str) -> tuple[str, ...]:
        return self.org.store.get_user(email).state.sf_changed

    def rep(self, email: str = ALICE):
        return self.org.sf_org.as_user(email)

    def event(self, client, subject: str, days: float = 2, **extra: Any) -> str:
        start = self.org.sf_org.now().replace(microsecond=0) + timedelta(days=days)
        body = {"Subject": subject, "StartDateTime": start.isoformat(), "DurationInMinutes": 60,
                **extra}  # fmt: skip
        return str(client.Event.create(body)["id"])


@pytest.fixture
def polling(org, firestore_client, gcal, tmp_path) -> Polling:
    for email, ref in ((ALICE, "alice"), (BOB, "bob")):
        org.store.enable_user(email, org.ids[ref])
    queue = RecordingQueue()
    config = _calendar_config(gcal, tmp_path)
    backoff = Backoff(attempts=3, base=0.001, cap=0.01)
    copies = FirestoreCopyStore(firestore_client)
    public = PublicCopies(copies, lambda email: CopyCalendar(config, email, backoff=backoff),
                          org.services.salesforce, org.services.issues)  # fmt: skip
    store = FirestorePollStore(firestore_client)
    # Alice and Bob were onboarded long ago: the poll does not mark them again.
    onboarded = PollState(owners=tuple(sorted((org.ids["alice"], org.ids["bob"]))))
    firestore_client.collection(POLL_DOC[0]).document(POLL_DOC[1]).set(onboarded.doc())
    poller = Poller(store, org.store, CountingLookups(org.services.mappings), org.services.issues,
                    queue, org.services.salesforce, INTEGRATION, public,
                    FirestoreLedger(firestore_client))  # fmt: skip
    return Polling(org, poller, queue, store, copies)


class CountingLookups:
    """The mapping store, counting the Event ids the poll looks up."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.ids: list[str] = []

    def for_sf_events(self, ids: Any) -> list[Any]:
        wanted = sorted(set(ids))
        self.ids += wanted
        return list(self.store.for_sf_events(wanted))

    def mapped_sf_events(self) -> Any:
        return self.store.mapped_sf_events()


def test_R21_an_event_a_rep_creates_goes_to_their_inbox_and_queues_their_session(polling):
    polling.poll()  # the watermark
    event = polling.event(polling.rep(ALICE), "Call with Jane")
    report = polling.poll()
    assert polling.inbox(ALICE) == (event,)
    assert polling.inbox(BOB) == ()
    assert polling.queue.queued == [(ALICE, "salesforce")]
    assert report.routed == {ALICE: 1} and report.calls == 1


def test_R30_idle_polls_cost_at_most_two_calls_whatever_the_number_of_users(polling):
    for n in range(50):
        polling.org.store.enable_user(f"rep{n:02d}@example.com", f"005gK{n:010d}AAA")
    first = polling.poll()  # marks 50 new owners for their sessions to onboard: nothing read
    assert first.onboarded == 50 and len(polling.queue.queued) == 50
    second = polling.poll(advance=60)
    assert (second.calls, second.onboarded, second.routed) == (1, 0, {})
    fifth_minute = polling.poll(advance=300)  # getDeleted's turn
    assert fifth_minute.calls == 2
    assert len(polling.queue.queued) == 50


def test_R26_what_calsync_wrote_itself_is_not_read_back(polling):
    org = polling.org
    org.insert(ALICE, "Acme kickoff", attendees=(ALICE, JANE), colorId="9")
    org.sync(ALICE)
    [sf] = org.events()
    polling.poll()
    assert polling.inbox(ALICE) == ()
    assert polling.queue.queued == []
    polling.rep(ALICE).Event.update(sf["Id"], {"Subject": "Acme kickoff (moved)"})
    report = polling.poll()
    assert polling.inbox(ALICE) == (sf["Id"],)
    assert report.dropped == {}


def test_R21_a_user_just_enabled_is_onboarded_by_their_own_session_not_by_the_poll(polling):
    org = polling.org
    carol_event = polling.event(polling.rep(CAROL), "Carol's demo")
    far = polling.event(polling.rep(CAROL), "Far away", days=120)
    polling.poll(advance=600)  # long after: no longer a change the poll reads
    org.store.enable_user(CAROL, org.ids["carol"])
    report = polling.poll(advance=5)
    assert (report.onboarded, report.calls) == (1, 1)  # marked: no window read in the poll
    assert polling.inbox(CAROL) == ()
    assert org.store.get_user(CAROL).state.sf_onboard
    assert polling.queue.queued == [(CAROL, "salesforce")]
    org.sync(CAROL, at=org.sf_org.now())
    copies = {e["data"]["id"]: e["data"] for e in org.gcal.raw_events(CAROL)}
    assert copies[google_event_id(carol_event)]["summary"] == "Carol's demo"
    assert google_event_id(far) not in copies  # outside the window
    assert org.store.get_user(CAROL).state.sf_onboard == ""  # done
    assert polling.poll(advance=5).onboarded == 0
    assert polling.queue.queued.count((CAROL, "salesforce")) == 1


def spy_reads(org, monkeypatch) -> list[list[str]]:
    """The Event ids each session reads back from Salesforce (`event_states`)."""
    adapter = org.services.salesforce()
    reads: list[list[str]] = []
    real = adapter.event_states

    def event_states(ids):
        reads.append(sorted(ids))
        return real(ids)

    monkeypatch.setattr(adapter, "event_states", event_states)
    return reads


def test_R26_R22_onboarding_skips_calsyncs_own_events_and_merges_what_changed_meanwhile(
    polling, monkeypatch
):
    org = polling.org
    org.insert(ALICE, "Acme kickoff", attendees=(ALICE, JANE), colorId="9")
    review = org.insert(ALICE, "Acme review", attendees=(ALICE, JANE), colorId="9", days=4)
    org.sync(ALICE)
    ids = {e["Subject"]: e["Id"] for e in org.events()}
    reads = spy_reads(org, monkeypatch)
    polling.poll()
    org.store.disable_user(ALICE)
    polling.poll(advance=5)
    polling.rep(ALICE).Event.update(ids["Acme review"], {"Subject": "Acme review (moved)"})
    assert polling.poll(advance=5).routed == {}  # not an enabled owner now
    org.store.enable_user(ALICE, org.ids["alice"])
    assert polling.poll(advance=5).onboarded == 1  # a new owner again: marked
    assert org.store.get_user(ALICE).state.sf_onboard
    org.sync(ALICE, at=org.sf_org.now())
    assert reads == [[ids["Acme review"]]]  # the kickoff still holds what calsync wrote
    assert org.get(ALICE, review["id"])["summary"] == "Acme review (moved)"
    assert org.store.get_user(ALICE).state.sf_onboard == ""


def test_R21_the_onboarding_mark_is_cleared_only_by_a_session_that_succeeded(polling):
    org = polling.org
    event = polling.event(polling.rep(CAROL), "Carol's demo")
    polling.poll(advance=600)
    org.store.enable_user(CAROL, org.ids["carol"])
    polling.poll(advance=5)
    mark = org.store.get_user(CAROL).state.sf_onboard
    org.gcal.inject_fault(status=503, count=20, methods=["calendar.events.insert"])
    with pytest.raises(RetryableError):
        org.sync(CAROL, at=org.sf_org.now())
    assert org.store.get_user(CAROL).state.sf_onboard == mark  # the retry onboards again
    org.gcal.admin("DELETE", "faults")
    org.sync(CAROL, at=org.sf_org.now())
    assert google_event_id(event) in {e["data"]["id"] for e in org.gcal.raw_events(CAROL)}
    assert org.store.get_user(CAROL).state.sf_onboard == ""


def test_R21_a_mark_set_again_while_the_session_ran_is_kept(polling, monkeypatch):
    """A full re-check marks every owner again; a session that read the window before that
    must not clear the new mark."""
    from infra import sf_changes

    org = polling.org
    org.store.enable_user(CAROL, org.ids["carol"])
    polling.poll()
    real = sf_changes.owners_window

    def window_then_marked(*args):
        found = real(*args)
        org.store.set_state_fields(CAROL, {"sf_onboard": "marked again"})
        return found

    monkeypatch.setattr(sf_changes, "owners_window", window_then_marked)
    org.sync(CAROL, at=org.sf_org.now())
    assert org.store.get_user(CAROL).state.sf_onboard == "marked again"


def test_R21_invitee_child_events_are_never_routed(polling):
    polling.poll()
    alice = polling.rep(ALICE)
    event = polling.event(alice, "Team sync")
    alice.EventRelation.create({"EventId": event, "RelationId": polling.org.ids["bob"]})
    report = polling.poll()
    assert polling.inbox(ALICE) == (event,)
    assert polling.inbox(BOB) == ()
    assert report.dropped.get("invitee's child event") == 1


def test_R23_a_delete_in_salesforce_goes_to_the_user_who_maps_the_event(polling):
    org = polling.org
    org.insert(ALICE, "Acme kickoff", attendees=(ALICE, JANE), colorId="9")
    org.sync(ALICE)
    [sf] = org.events()
    unmapped = polling.event(polling.rep(BOB), "Bob's own")
    polling.poll()
    bob_had = polling.inbox(BOB)
    polling.rep(ALICE).Event.delete(sf["Id"])
    polling.rep(BOB).Event.delete(unmapped)
    report = polling.poll()
    assert polling.inbox(ALICE) == (sf["Id"],)
    assert polling.inbox(BOB) == bob_had  # never synced: nothing to unlabel
    assert report.dropped.get("deleted, never synced") == 1


def test_rows_read_again_in_the_overlap_are_not_routed_twice(polling):
    polling.poll()
    polling.event(polling.rep(ALICE), "Once")
    polling.poll()
    again = polling.poll(advance=30)  # the row is inside the two-minute overlap
    assert again.read >= 1 and again.routed == {}
    assert len(polling.queue.queued) == 1


def test_R23_deletes_purged_before_a_poll_read_them_are_found_by_a_full_check(polling):
    org = polling.org
    org.insert(ALICE, "Acme kickoff", attendees=(ALICE, JANE), colorId="9")
    org.sync(ALICE)
    [sf] = org.events()
    polling.poll()
    polling.rep(ALICE).Event.delete(sf["Id"])
    org.sf_org.advance(90)  # a minute later, Salesforce empties the Recycle Bin, trims the log
    org.sf_org.admin("POST", "recycle_bin/empty")  # gone before any poll saw the row
    org.sf_org.admin("POST", "delete_log/purge")
    quick = polling.poll(advance=30)
    assert not quick.full_check and polling.inbox(ALICE) == ()  # queryAll no longer sees it
    report = polling.poll(advance=300)  # getDeleted's turn: INVALID_REPLICATION_DATE
    assert report.full_check
    assert polling.inbox(ALICE) == (sf["Id"],)


def test_one_poll_at_a_time(polling):
    assert polling.store.claim("someone else") is not None
    assert polling.poll().busy
    assert polling.queue.queued == []


def test_a_failed_poll_leaves_the_watermark_and_reads_again(polling, monkeypatch):
    polling.poll()
    event = polling.event(polling.rep(ALICE), "Retried")
    before = polling.store.read().since
    polling.org.sf_org.admin("POST", "faults", json={"kind": "503", "count": 1})
    with pytest.raises(RetryableError):
        polling.poll()
    assert polling.store.read().since == before
    polling.poll()
    assert polling.inbox(ALICE) == (event,)


def test_R21_CS024_when_salesforce_refuses_the_poller_for_good(polling):
    org = polling.org
    bad = SalesforceAdapter.from_client(org.sf_org.client("not-a-session"))
    polling.poller.salesforce = lambda: bad
    with pytest.raises(PermanentError):
        polling.poll()
    [issue] = [i for i in org.services.issues.open_for_user("") if i.code == "CS-024"]
    assert "cannot be read" in issue.message
    polling.poller.salesforce = org.services.salesforce
    polling.poll()
    assert not [i for i in org.services.issues.open_for_user("") if i.code == "CS-024"]


# -- the echo ledger ---------------------------------------------------------------------


def ledger_docs(polling) -> list[dict]:
    return [d.to_dict() for d in polling.store._db.collection(LEDGER).stream()]


def three_synced(polling) -> list[str]:
    """Alice's three saved items, written to Salesforce by her session (after the poll's
    watermark)."""
    org = polling.org
    polling.poll()
    for n in range(3):
        org.insert(ALICE, f"Acme {n}", attendees=(ALICE, JANE), colorId="9", days=2 + n)
    org.sync(ALICE)
    return sorted(e["Id"] for e in org.events())


def test_R26_calsyncs_own_writes_are_dropped_by_the_ledger_without_a_lookup(polling):
    ids = three_synced(polling)
    [doc] = ledger_docs(polling)
    assert doc["user"] == ALICE and sorted(doc["written"]) == ids
    report = polling.poll(advance=5)
    assert (report.ledger, report.dropped) == (3, {"calsync's own write": 3})
    assert not set(ids) & set(polling.poller.mappings.ids)  # never looked up
    assert polling.inbox(ALICE) == ()


def test_R26_a_ledger_that_disagrees_falls_back_to_the_mappings(polling):
    ids = three_synced(polling)
    [doc] = polling.store._db.collection(LEDGER).stream()
    doc.reference.update({f"written.{ids[0]}": {"subject": "not what Salesforce has"}})
    report = polling.poll(advance=5)
    assert report.ledger == 2
    assert set(ids) & set(polling.poller.mappings.ids) == {ids[0]}
    assert report.dropped == {"calsync's own write": 3}  # the mapping says echo all the same
    assert polling.inbox(ALICE) == ()


def test_R26_a_rep_editing_an_event_calsync_wrote_is_routed_though_the_ledger_names_it(polling):
    ids = three_synced(polling)
    polling.rep(ALICE).Event.update(ids[1], {"Location": "Room 2"})
    report = polling.poll(advance=5)
    assert report.ledger == 2
    assert polling.inbox(ALICE) == (ids[1],)


def test_R26_a_failed_ledger_write_never_fails_the_session_and_the_poll_looks_up(polling):
    class Broken(FirestoreLedger):
        def record(self, *args):
            raise RuntimeError("Firestore said no")

    org = polling.org
    org.services.sf_writes = recorder(Broken(polling.store._db))
    ids = three_synced(polling)  # the session went through
    assert len(ids) == 3 and ledger_docs(polling) == []
    report = polling.poll(advance=5)
    assert report.ledger == 0 and set(ids) <= set(polling.poller.mappings.ids)
    assert report.dropped == {"calsync's own write": 3}


def later(polling, minutes: float) -> FirestoreLedger:
    """The ledger as a process whose clock is `minutes` ahead would see it."""
    return FirestoreLedger(polling.store._db,
                           wall=lambda: datetime.now(UTC) + timedelta(minutes=minutes))  # fmt: skip


def test_R26_the_poll_deletes_ledger_documents_past_their_time(polling):
    three_synced(polling)
    assert len(ledger_docs(polling)) == 1
    polling.poll(advance=5)
    assert len(ledger_docs(polling)) == 1  # still in use
    polling.poller.ledger = later(polling, 16)
    polling.poll(advance=5)
    assert ledger_docs(polling) == []


def test_R26_expiry_is_bounded_per_call(polling):
    for n in range(3):
        FirestoreLedger(polling.store._db).record(
            ALICE, {f"00U00000000000{n}AAA": (("subject", "x"),)}
        )
    assert FirestoreLedger(polling.store._db).expire() == 0
    ledger = later(polling, 20)
    assert (ledger.expire(limit=2), ledger.expire(limit=2)) == (2, 1)
    assert ledger_docs(polling) == []


def test_R26_a_session_writing_many_events_splits_its_entries_over_documents(polling):
    from infra import sf_ledger

    ledger = FirestoreLedger(polling.store._db)
    entries = {f"00U{n:012d}AAA": (("subject", str(n)),) for n in range(5)}
    saved = sf_ledger.PER_DOC
    sf_ledger.PER_DOC = 2
    try:
        ledger.record(ALICE, entries)
    finally:
        sf_ledger.PER_DOC = saved
    assert len(ledger_docs(polling)) == 3
    assert ledger.since(timedelta(minutes=5)) == entries
    assert later(polling, 20).since(timedelta(minutes=5)) == {}  # older than asked


# -- the bound on one poll ---------------------------------------------------------------


def test_R30_a_poll_past_its_bound_leaves_the_rest_to_the_next_and_skips_nothing(polling):
    polling.poll()
    made = [polling.event(polling.rep(ALICE), f"Call {n}") for n in range(5)]
    polling.poller.max_lookups, polling.poller.lookup_chunk = 2, 2
    first = polling.poll(advance=1)
    assert first.partial and len(polling.inbox(ALICE)) == 2
    rounds = 1
    while polling.poll(advance=1).partial:
        rounds += 1
    assert rounds == 2
    assert sorted(polling.inbox(ALICE)) == sorted(made)
    assert sorted(polling.poller.mappings.ids) == sorted(made)  # each looked up once
    assert polling.poll(advance=1).routed == {}


# -- public calendars -------------------------------------------------------------------


def list_public(polling: Polling, team: str, writer: str = CAROL, color: str = "5") -> None:
    polling.org.store.set_org_settings({"sf_public_calendars": [
        {"sf_calendar_id": team, "google_calendar": FAIRS, "color": color, "writer": writer}]})  # fmt: skip


@pytest.fixture
def fairs(polling, gcal) -> str:
    gcal.admin("POST", "calendars", {"id": FAIRS, "members": {CAROL: "writer", ALICE: "reader"}})
    return str(polling.org.sf_org.admin("POST", "calendars", json={"name": "Trade fairs"})["id"])


def copies_in(gcal, calendar: str) -> list[dict]:
    events = [e["data"] for e in gcal.raw_events(calendar)]
    return [e for e in events if e.get("status") != "cancelled"]


def test_R25_a_listed_public_calendar_is_copied_one_way_with_the_admins_colour(
    polling, fairs, gcal
):
    before = polling.event(polling.rep(ALICE), "Expo Berlin", OwnerId=fairs)
    list_public(polling, fairs)
    polling.poll()  # a newly listed calendar: its window is copied whole
    [copy] = copies_in(gcal, FAIRS)
    assert (copy["summary"], copy["colorId"]) == ("Expo Berlin", "5")
    assert copy["extendedProperties"]["private"]["calsync_public"] == before
    assert "attendees" not in copy
    moved = polling.event(polling.rep(ALICE), "Expo Paris", days=4, OwnerId=fairs)
    polling.rep(ALICE).Event.update(before, {"Subject": "Expo Berlin (day 2)"})
    report = polling.poll(advance=5)
    assert report.public == 2
    assert sorted(c["summary"] for c in copies_in(gcal, FAIRS)) == [
        "Expo Berlin (day 2)", "Expo Paris"]  # fmt: skip
    polling.rep(ALICE).Event.delete(moved)
    polling.poll(advance=5)
    assert [c["summary"] for c in copies_in(gcal, FAIRS)] == ["Expo Berlin (day 2)"]
    assert polling.inbox(ALICE) == ()  # never anyone's own event


def test_R25_a_copy_is_never_read_back_and_a_retry_never_makes_a_second(polling, fairs, gcal):
    event = polling.event(polling.rep(ALICE), "Expo", OwnerId=fairs)
    list_public(polling, fairs)
    polling.poll()
    [copy] = copies_in(gcal, FAIRS)
    carol = gcal.service(CAROL).events()
    carol.patch(
        calendarId=FAIRS, eventId=copy["id"], body={"summary": "edited in Google"}
    ).execute()
    polling.poll(advance=5)
    assert copies_in(gcal, FAIRS)[0]["summary"] == "edited in Google"  # not read back
    # a lost record: the retry meets the copy's id (409) and updates it instead
    polling.copies._col.document(copy_doc_id(FAIRS, event)).delete()
    polling.rep(ALICE).Event.update(event, {"Location": "Hall 4"})
    polling.poll(advance=5)
    [again] = copies_in(gcal, FAIRS)
    assert (again["id"], again["location"], again["summary"]) == (copy["id"], "Hall 4", "Expo")


def test_R25_a_new_colour_recolours_every_copy(polling, fairs, gcal):
    polling.event(polling.rep(ALICE), "Expo", OwnerId=fairs)
    list_public(polling, fairs)
    polling.poll()
    list_public(polling, fairs, color="11")
    polling.poll(advance=5)
    assert [c["colorId"] for c in copies_in(gcal, FAIRS)] == ["11"]


def test_R25_CS025_when_the_writer_cannot_write_the_calendar(polling, fairs, gcal):
    polling.event(polling.rep(ALICE), "Expo", OwnerId=fairs)
    list_public(polling, fairs, writer=ALICE)  # a reader only
    polling.poll()
    assert copies_in(gcal, FAIRS) == []
    [issue] = [i for i in polling.org.services.issues.open_for_user("") if i.code == "CS-025"]
    assert FAIRS in issue.message
    list_public(polling, fairs, writer=CAROL)
    polling.poll(advance=5)  # the pending copy is written, the issue closes
    assert [c["summary"] for c in copies_in(gcal, FAIRS)] == ["Expo"]
    assert not [i for i in polling.org.services.issues.open_for_user("") if i.code == "CS-025"]


def test_R21_a_user_enabled_by_email_is_matched_by_the_poll_and_then_polled(polling):
    """`users enable` stores no id when it matched by email; a rep with no calendar items would
    never get one from a session, so the poll matches them (and stores the id) itself."""
    org = polling.org
    polling.poll()
    org.store.enable_user(CAROL)
    event = polling.event(polling.rep(CAROL), "Carol's call")
    polling.poll(advance=5)
    assert org.store.get_user(CAROL).sf_user_id == org.ids["carol"]
    assert polling.inbox(CAROL) == (event,)
    assert set(polling.queue.queued) == {(CAROL, "salesforce")}  # routed, and marked
    assert polling.poll(advance=60).calls == 1  # matched: no more asking


def test_R30_a_user_salesforce_has_no_user_for_is_asked_again_hourly_not_every_poll(polling):
    org = polling.org
    polling.poll()
    org.store.enable_user("nobody@example.com")
    assert polling.poll(advance=5).calls == 2  # the changes, and the match that finds nothing
    assert polling.poll(advance=60).calls == 1
    assert polling.poll(advance=3600).calls == 3  # the hour: asked again (and getDeleted's turn)
    assert org.store.get_user("nobody@example.com").sf_user_id == ""


# -- an edit in Salesforce that no poll has read yet, then a Google edit -------------------


def _saved_meeting(polling: Polling) -> tuple[dict[str, Any], str]:
    org = polling.org
    created = org.insert(ALICE, "Acme kickoff", attendees=(ALICE, JANE), colorId="9")
    org.sync(ALICE)
    [sf] = org.events()
    org.sync(ALICE)  # calsync's label write comes back: an echo
    polling.poll()  # the watermark: calsync's own create is dropped
    assert polling.inbox(ALICE) == ()
    return created, sf["Id"]


def test_R26_a_newer_sf_edit_not_polled_yet_wins_over_the_google_edit_and_is_kept(
    polling, firestore_client
):
    """Old code: the Google edit's session wrote Google's older title over the rep's newer
    Salesforce subject, and the next poll saw calsync's write with a matching fingerprint and
    dropped the rep's change as an echo: lost on both sides."""
    org = polling.org
    created, sf_id = _saved_meeting(polling)
    org.patch(ALICE, created["id"], summary="Renamed in Google")  # t2
    polling.org.sf_org.advance(2)
    polling.rep(ALICE).Event.update(sf_id, {"Subject": "Renamed in Salesforce",
                                            "Location": "Room 2"})  # t1 > t2, not polled  # fmt: skip
    assert polling.inbox(ALICE) == ()
    org.sync(ALICE)  # the push of the Google edit runs the session before any poll
    copy = org.get(ALICE, created["id"])
    assert (copy["summary"], copy.get("location")) == ("Renamed in Salesforce", "Room 2")
    [event] = org.events()
    assert (event["Subject"], event["Location"]) == ("Renamed in Salesforce", "Room 2")
    [mapping] = org.services.mappings.for_user(ALICE)
    history = FirestoreHistory(firestore_client).for_item(ALICE, str(mapping.key))
    assert [(h["field"], h["winner"], h["lost_value"]) for h in history] == [
        ("subject", "salesforce", "Renamed in Google")
    ]
    polling.poll(advance=60)  # the rep's edit is read now: merged already, nothing changes
    org.sync(ALICE)
    org.sync(ALICE)
    assert org.get(ALICE, created["id"])["summary"] == "Renamed in Salesforce"
    assert [e["Subject"] for e in org.events()] == ["Renamed in Salesforce"]


def test_R26_fields_changed_on_both_sides_before_a_poll_both_survive_and_echo_nothing(polling):
    org = polling.org
    created, sf_id = _saved_meeting(polling)
    polling.rep(ALICE).Event.update(sf_id, {"Location": "Room 2"})  # not polled
    org.patch(ALICE, created["id"], summary="Renamed in Google")
    org.sync(ALICE)
    [event] = org.events()
    assert (event["Subject"], event["Location"]) == ("Renamed in Google", "Room 2")
    copy = org.get(ALICE, created["id"])
    assert (copy["summary"], copy.get("location")) == ("Renamed in Google", "Room 2")
    report = polling.poll(advance=60)  # calsync wrote last, and its mapping holds both values
    assert polling.inbox(ALICE) == () and polling.queue.queued == []
    assert report.dropped.get("calsync's own write") == 1


def test_R26_R30_the_update_session_reads_the_event_in_the_people_search_call(polling):
    """Issue 14: reading the Event before writing over it costs no call of its own where the
    people search runs: one Composite request carries both, then the update."""
    org = polling.org
    created, sf_id = _saved_meeting(polling)
    cold = SalesforceAdapter.from_client(org.sf_org.client())  # a new instance: nobody cached
    cold.has_key_field()
    org.services.salesforce = lambda: cold
    org.patch(ALICE, created["id"], summary="Renamed in Google")
    before = dict(org.sf_org.calls()["by_kind"])
    org.sync(ALICE)
    after = org.sf_org.calls()["by_kind"]
    spent = {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}
    assert sum(spent.values()) == 2 and spent.get("composite") == 1, spent
    assert [e["Subject"] for e in org.events()] == ["Renamed in Google"]
