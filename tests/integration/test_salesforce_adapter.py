"""infra/salesforce.py against the Salesforce emulator, through the adapter only: the initial
search (R-10, R-35), collection writes and their per-record results (R-13, R-13a, R-30), the sync
key with and without Calsync_Key__c (R-39), series (R-17), deletes, faults, the changes feed
(R-22, R-23) and auto-created people (R-07)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from core.actions import SfCreate, SfDelete, SfUpdate
from core.fields import NewPerson, Relations, SfEventFields
from core.model import ItemKey, PersonKind, instance_text, sync_key
from infra.salesforce import SalesforceAdapter, SalesforceAuthError
from infra.salesforce_query import URI_CAP

pytestmark = pytest.mark.integration

START = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
NO_RELATIONS = Relations()


# -- builders ---------------------------------------------------------------------------------


@pytest.fixture
def org(salesforce_org):
    return salesforce_org


@pytest.fixture
def adapter(org):
    return SalesforceAdapter.from_client(org.client())


def seed(org, data):
    return org.admin("POST", "seed", json=data)["refs"]


def owner(org, ref="ann", email="ann@corp.example"):
    return seed(org, {"User": [{"_ref": ref, "Username": email, "LastName": ref, "Email": email}]})[
        ref
    ]


def fields(owner_id, n=0, *, start=START, subject=None, relations=NO_RELATIONS, private=False,
           pattern="", minutes=30):  # fmt: skip
    begin = start + timedelta(days=n % 10, minutes=n)
    return SfEventFields(
        owner_id=owner_id,
        subject=subject if subject is not None else f"Meeting {n}",
        start_utc=begin,
        end_utc=begin + timedelta(minutes=minutes),
        is_all_day=False,
        activity_date=None,
        duration_minutes=None,
        location="Room 1",
        show_as="Busy",
        is_private=private,
        relations=relations,
        description="From: x",
        recurrence_pattern=pattern,
    )


def create(owner_id, n=0, **kw):
    key = sync_key(owner_id, ItemKey(f"uid-{n}@example.com"))
    f = fields(owner_id, n, **kw)
    return SfCreate(key, ItemKey(f"uid-{n}@example.com"), f, "R-10")


def events(org, include_deleted=False):
    return [e for e in org.records("Event", include_deleted) if not e.get("IsChild")]


def by_kind(org):
    return org.calls()["by_kind"]


# -- initial search ---------------------------------------------------------------------------


def test_initial_search_resolves_users_contacts_and_leads_with_precedence_R10(org, adapter):
    refs = seed(
        org,
        {
            "User": [
                {
                    "_ref": "ann",
                    "Username": "ann@corp.example",
                    "LastName": "Ann",
                    "Email": "ann@corp.example",
                },
                {
                    "_ref": "old",
                    "Username": "old@corp.example",
                    "LastName": "Old",
                    "Email": "old@corp.example",
                    "IsActive": False,
                },
            ],  # fmt: skip
            "Account": [{"_ref": "acme", "Name": "Acme"}],
            "Contact": [
                {"_ref": "ann_c", "LastName": "Ann", "Email": "ann@corp.example"},
                {
                    "_ref": "lee",
                    "LastName": "Lee",
                    "Email": "lee@acme.example",
                    "AccountId": "@acme",
                },
                {"_ref": "old_c", "LastName": "Old", "Email": "old@corp.example"},
            ],  # fmt: skip
            "Lead": [
                {
                    "_ref": "lee_l",
                    "LastName": "Lee",
                    "Company": "Acme",
                    "Email": "lee@acme.example",
                },
                {"_ref": "lou", "LastName": "Lou", "Company": "Lou", "Email": "lou@lou.example"},
            ],
        },
    )
    found = adapter.search_people(
        [
            "ANN@corp.example",
            "lee@Acme.example",
            "lou@lou.example",
            "old@corp.example",
            "nobody@nowhere.example",
            "",
        ]  # fmt: skip
    )
    assert {e: (p.kind, p.sf_id) for e, p in found.items()} == {
        "ann@corp.example": (PersonKind.USER, refs["ann"]),  # User over Contact
        "lee@acme.example": (PersonKind.CONTACT, refs["lee"]),  # Contact over Lead
        "lou@lou.example": (PersonKind.LEAD, refs["lou"]),
        "old@corp.example": (PersonKind.CONTACT, refs["old_c"]),  # inactive User ignored
    }
    assert found["lee@acme.example"].account_id == refs["acme"]
    assert adapter.user_ids(["Ann@corp.example", "old@corp.example", "lee@acme.example"]) == {
        "ann@corp.example": refs["ann"]
    }
    # the three kinds in one Composite request (one API call), then Users alone again
    assert (by_kind(org)["composite"], by_kind(org)["query"]) == (1, 1)
    assert adapter.calls == 2


def test_people_found_lately_are_not_searched_again_R30(org, adapter):
    """A change's attendees cost no call when they were found in the last minutes; an address
    nobody matched is searched again, so a Contact created for it links at once (R-07)."""
    refs = seed(
        org, {"Contact": [{"_ref": "jane", "LastName": "Jane", "Email": "jane@acme.example"}]}
    )
    first = adapter.search_people(["jane@acme.example", "new@acme.example"])
    assert set(first) == {"jane@acme.example"}
    calls = adapter.calls
    assert adapter.search_people(["Jane@acme.example"])["jane@acme.example"].sf_id == refs["jane"]
    assert adapter.calls == calls  # from the cache
    seed(org, {"Contact": [{"LastName": "New", "Email": "new@acme.example"}]})
    again = adapter.search_people(["jane@acme.example", "new@acme.example"])
    assert set(again) == {"jane@acme.example", "new@acme.example"}
    assert adapter.calls == calls + 1  # only the address not found before


def test_quote_and_backslash_in_an_address_neither_break_nor_widen_the_query_R35(org, adapter):
    refs = seed(
        org,
        {
            "Contact": [
                {"_ref": "ob", "LastName": "O'Brien", "Email": "o'brien@acme.example"},
                {"_ref": "bs", "LastName": "Back", "Email": "back\\slash@acme.example"},
                {"_ref": "other", "LastName": "Other", "Email": "other@acme.example"},
            ]
        },
    )
    hostile = [
        "x' OR Email != 'y",
        "x\\' OR Email != \\'y",
        "x\\",
        "%@acme.example",
        "' OR Name LIKE '%",
    ]
    found = adapter.search_people(["o'brien@acme.example", "back\\slash@acme.example", *hostile])
    assert {e: p.sf_id for e, p in found.items()} == {
        "o'brien@acme.example": refs["ob"],
        "back\\slash@acme.example": refs["bs"],
    }
    assert adapter.accounts_by_domain(["acme.example' OR Name != '", "a_c%"]) == {}


def test_a_thousand_addresses_take_several_chunked_queries_under_the_uri_cap_R30_R35(org):
    """Each chunk of addresses is one query per kind, each under the REST URI cap, five
    queries to a Composite request."""
    client = org.client()
    urls: list[int] = []

    def subrequest_urls(response, *args, **kwargs):
        body = json.loads(response.request.body or b"{}")
        urls.extend(len(sub["url"]) for sub in body.get("compositeRequest", []))

    client.session.hooks["response"].append(subrequest_urls)
    adapter = SalesforceAdapter.from_client(client)
    emails = [
        f"person.number.{i:04d}.with-a-long-name@customer-{i % 7}.example" for i in range(1000)
    ]
    refs = seed(org, {"Contact": [{"_ref": "last", "LastName": "Last", "Email": emails[999]},
                                  {"_ref": "first", "LastName": "First", "Email": emails[0]}]})  # fmt: skip
    found = adapter.search_people(emails)
    assert {e: p.sf_id for e, p in found.items()} == {
        emails[0]: refs["first"],
        emails[999]: refs["last"],
    }
    queries = len(urls)
    assert queries % 3 == 0 and queries // 3 > 1  # several chunks, each asked of the three kinds
    assert by_kind(org)["composite"] == adapter.calls == -(-queries // 5)
    assert "query" not in by_kind(org)
    assert max(urls) + len(org.url) < URI_CAP
    assert max(urls) > URI_CAP // 2  # chunks are filled, not one address per query


# -- creates (R-13, R-13a, R-30, R-39) ----------------------------------------------------------


def test_450_events_cost_three_collection_calls_R30(org, adapter):
    ann = owner(org)
    results = adapter.create_events([create(ann, n) for n in range(450)])
    assert len(results) == 450 and all(r.ok and r.id.startswith("00U") for r in results)
    assert [r.ref for r in results] == [create(ann, n).sync_key for n in range(450)]
    kinds = by_kind(org)
    assert kinds["collections_upsert"] == 3
    assert kinds.get("collections_create", 0) == 0
    assert adapter.calls == 4  # one describe (R-39 field detection) + three collections
    assert len(events(org)) == 450
    assert {e["Calsync_Key__c"] for e in events(org)} == {r.ref for r in results}


@pytest.mark.parametrize("with_key", [True, False], ids=["upsert", "plain create"])
def test_per_record_failures_come_back_while_the_rest_succeed_R13_R13a(org, adapter, with_key):
    org.admin("POST", "config", json={"external_id_field": with_key})
    ann = owner(org)
    lee = seed(org, {"Contact": [{"_ref": "lee", "LastName": "Lee", "Email": "lee@x.example"}]})[
        "lee"
    ]
    creates = [
        create(ann, 0),
        create(ann, 1, subject="x" * 300),  # forced past core's cut to 255
        create(ann, 2, private=True, relations=Relations(who_id=lee, who_ids=(lee,))),
        create(ann, 3, relations=Relations(who_id=lee, who_ids=(lee,))),
    ]
    results = adapter.create_events(creates)
    assert [r.ok for r in results] == [True, False, False, True]
    assert results[1].error_code == "STRING_TOO_LONG" and not results[1].retryable
    assert results[2].error_code == "FIELD_INTEGRITY_EXCEPTION" and not results[2].retryable
    assert [r.ref for r in results] == [c.sync_key for c in creates]
    stored = {e["Id"]: e for e in events(org)}
    assert set(stored) == {results[0].id, results[3].id}
    assert stored[results[3].id]["WhoId"] == lee


def test_relations_and_invitees_travel_with_the_create_R10_R13(org, adapter):
    ann = owner(org)
    bob = owner(org, "bob", "bob@corp.example")
    refs = seed(
        org,
        {
            "Account": [{"_ref": "acme", "Name": "Acme"}],
            "Contact": [
                {"_ref": "c1", "LastName": "One", "Email": "1@acme.example", "AccountId": "@acme"},
                {"_ref": "c2", "LastName": "Two", "Email": "2@acme.example", "AccountId": "@acme"},
            ],
        },
    )
    rel = Relations(who_id=refs["c1"], what_id=refs["acme"], who_ids=(refs["c1"], refs["c2"]),
                    accepted=(bob,))  # fmt: skip
    [result] = adapter.create_events([create(ann, 0, relations=rel)])
    assert result.ok
    rows = [r for r in org.records("EventRelation") if r["EventId"] == result.id]
    assert {r["RelationId"] for r in rows if r["IsParent"]} == {refs["c1"], refs["c2"]}
    assert {r["RelationId"] for r in rows if r["IsWhat"]} == {refs["acme"]}
    assert {r["RelationId"] for r in rows if r["IsInvitee"]} == {bob}


def test_retried_creates_with_the_key_field_never_duplicate_R39_R29(org, adapter):
    ann = owner(org)
    creates = [create(ann, n) for n in range(3)]
    series = create(ann, 9, pattern="RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=4")
    first = adapter.create_events([*creates, series])
    assert all(r.ok for r in first)
    count = len(events(org))
    assert count == 3 + 4  # the series made four occurrences
    again = adapter.create_events([*creates, series])  # a session retried after a crash
    assert [(r.ok, r.id) for r in again] == [(True, r.id) for r in first]
    assert len(events(org)) == count
    # M3: a delete by key (an intent whose answer was lost) finds the Event, or nothing.
    gone = [SfDelete(creates[0].sync_key, "", "R-18", key="uid-0@example.com", owner_id=ann),
            SfDelete(create(ann, 50).sync_key, "", "R-18", owner_id=ann)]  # fmt: skip
    assert [(r.ok, r.id) for r in adapter.delete_events(gone)] == [(True, first[0].id), (True, "")]
    assert first[0].id not in {e["Id"] for e in events(org)}
    assert len(events(org)) == count - 1


def retry(c, start=None):
    """The same create, retried from its intent (which recorded the start it was made with)."""
    return replace(c, retry=True, intent_start=instance_text(start or c.fields.start_utc))


def test_H1b_M8_without_the_key_field_a_retry_finds_its_event_by_calsyncs_marker_R39(org):
    """Audit H1b: after a lost answer the retried create finds the Event it made, even when the
    item was renamed or moved since (the intent's start and the marker decide, never what the
    item says now); M8: an Event a person made with the same owner, start and subject is never
    adopted."""
    org.admin("POST", "config", json={"external_id_field": False})
    adapter = SalesforceAdapter.from_client(org.client())
    ann = owner(org)
    bob = owner(org, "bob", "bob@corp.example")
    made = [create(ann, 0), create(ann, 1, subject="It's a \\ test"), create(bob, 0)]
    results = adapter.create_events(made)
    assert all(r.ok for r in results)
    stored = events(org)
    assert all(e.get("Calsync_Key__c") is None for e in stored)
    by_id = {e["Id"]: e for e in stored}
    assert [by_id[r.id]["Description"] for r in results] == [
        f"From: x\n\ncalsync-key: {c.sync_key}" for c in made
    ]
    moved = replace(
        made[0], fields=fields(ann, 0, subject="Renamed", start=START + timedelta(hours=3))
    )
    again = adapter.create_events([retry(moved, made[0].fields.start_utc), retry(made[1]),
                                   retry(made[2])])  # fmt: skip
    assert [(r.ok, r.id, r.error_code) for r in again] == [(True, r.id, "") for r in results]
    assert len(events(org)) == 3
    # The retry writes the item as it is now: an edit made between the crash and the retry
    # is not lost; the Description and its marker stay as they were written.
    renamed = {e["Id"]: e for e in events(org)}[results[0].id]
    assert renamed["Subject"] == "Renamed"
    assert renamed["StartDateTime"].startswith((START + timedelta(hours=3)).strftime("%Y-%m-%dT%H"))
    assert renamed["Description"] == f"From: x\n\ncalsync-key: {made[0].sync_key}"
    # Its answer lost too, the next retry finds it where that retry moved it.
    [third] = adapter.create_events([retry(moved, made[0].fields.start_utc)])
    assert (third.ok, third.id) == (True, results[0].id) and len(events(org)) == 3
    # A hand-made Event at the same owner, start and subject as a create calsync never made.
    twin = create(ann, 5)
    seed(org, {"Event": [{"OwnerId": ann, "Subject": twin.fields.subject,
                          "StartDateTime": twin.fields.start_utc.isoformat(),
                          "EndDateTime": twin.fields.end_utc.isoformat()}]})  # fmt: skip
    [fresh] = adapter.create_events([retry(twin)])
    assert fresh.ok and len(events(org)) == 5  # a new Event; the hand-made one is left alone
    [deleted] = adapter.delete_events([SfDelete(twin.sync_key, "", "R-18", owner_id=ann,
                                                intent_start=retry(twin).intent_start)])  # fmt: skip
    assert deleted.ok and deleted.id == fresh.id
    assert len(events(org)) == 4 and any(e["Subject"] == twin.fields.subject for e in events(org))


# -- updates, deletes, series (R-15, R-17, R-18) --------------------------------------------------


def test_updates_send_only_the_named_fields_and_report_per_record(org, adapter):
    ann = owner(org)
    a, b = (create(ann, n) for n in range(2))
    ids = [r.id for r in adapter.create_events([a, b])]
    renamed = fields(ann, 0, subject="Renamed")
    too_long = fields(ann, 1, subject="y" * 300)
    results = adapter.update_events([
        SfUpdate(a.sync_key, ids[0], renamed, ("subject",), "R-15"),
        SfUpdate(b.sync_key, ids[1], too_long, ("subject",), "R-15"),
    ])  # fmt: skip
    assert [(r.ok, r.error_code) for r in results] == [(True, ""), (False, "STRING_TOO_LONG")]
    stored = {e["Id"]: e for e in events(org)}
    assert stored[ids[0]]["Subject"] == "Renamed"
    assert stored[ids[0]]["Location"] == "Room 1"
    assert stored[ids[1]]["Subject"] == "Meeting 1"


def test_delete_of_an_already_deleted_event_succeeds_R18(org, adapter):
    ann = owner(org)
    a, b = create(ann, 0), create(ann, 1)
    ids = [r.id for r in adapter.create_events([a, b])]
    first = adapter.delete_events([SfDelete(a.sync_key, ids[0], "R-18")])
    assert [(r.ok, r.id) for r in first] == [(True, ids[0])]
    again = adapter.delete_events(
        [SfDelete(a.sync_key, ids[0], "R-18"), SfDelete(b.sync_key, ids[1], "R-18")]
    )
    assert [(r.ok, r.id, r.error_code) for r in again] == [(True, ids[0], ""), (True, ids[1], "")]
    assert events(org) == []


def test_series_occurrences_are_updated_and_deleted_by_their_start_R17(org, adapter):
    ann = owner(org)
    series = create(ann, 0, pattern="FREQ=WEEKLY;BYDAY=MO;COUNT=4")
    [made] = adapter.create_events([series])
    assert made.ok
    occurrences = sorted(events(org), key=lambda e: e["StartDateTime"])
    assert len(occurrences) == 4 and occurrences[0]["Id"] == made.id
    assert occurrences[0]["IsRecurrence2"] is True
    second = series.fields.start_utc + timedelta(days=7)
    third = series.fields.start_utc + timedelta(days=14)
    moved = fields(ann, 0, subject="Moved one")
    [updated] = adapter.update_events(
        [SfUpdate(series.sync_key, "", moved, ("subject",), "R-17", made.id, second)]
    )
    assert updated.ok and updated.id == occurrences[1]["Id"]
    [deleted] = adapter.delete_events(
        [SfDelete(series.sync_key, "", "R-17", occurrence_of=made.id, occurrence_start=third)]
    )
    assert deleted.ok
    left = {e["Id"]: e["Subject"] for e in events(org)}
    assert left == {
        occurrences[0]["Id"]: "Meeting 0",
        occurrences[1]["Id"]: "Moved one",
        occurrences[3]["Id"]: "Meeting 0",
    }
    # An occurrence that is not there (cancelled twice) is already gone.
    [again] = adapter.delete_events(
        [SfDelete(series.sync_key, "", "R-17", occurrence_of=made.id, occurrence_start=third)]
    )
    assert again.ok


def test_series_delete_removes_every_occurrence_even_after_the_first_was_cancelled_R17(
    org, adapter
):
    ann = owner(org)
    series = create(ann, 0, pattern="FREQ=DAILY;COUNT=5")
    other = create(ann, 1)
    made, kept = adapter.create_events([series, other])
    adapter.delete_events(
        [
            SfDelete(
                series.sync_key,
                "",
                "R-17",
                occurrence_of=made.id,
                occurrence_start=series.fields.start_utc,
            )
        ]  # fmt: skip
    )
    assert len(events(org)) == 5  # 4 occurrences + the other event
    [gone] = adapter.delete_events([SfDelete(series.sync_key, made.id, "R-17", series=True)])
    assert gone.ok
    assert [e["Id"] for e in events(org)] == [kept.id]
    assert by_kind(org).get("delete_series", 0) >= 1


# -- faults -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, code",
    [
        ("UNABLE_TO_LOCK_ROW", "UNABLE_TO_LOCK_ROW"),
        ("503", "SERVER_UNAVAILABLE"),
        ("REQUEST_LIMIT_EXCEEDED", "REQUEST_LIMIT_EXCEEDED"),
    ],
)
def test_lock_errors_503_and_the_daily_limit_give_retryable_results(org, adapter, kind, code):
    ann = owner(org)
    creates = [create(ann, n) for n in range(3)]
    assert adapter.has_key_field()
    org.admin("POST", "faults", json={"kind": kind, "count": 1, "path_contains": "composite"})
    results = adapter.create_events(creates)
    assert [(r.ok, r.error_code, r.retryable) for r in results] == [(False, code, True)] * 3
    assert [r.ref for r in results] == [c.sync_key for c in creates]
    assert events(org) == []
    retried = adapter.create_events(creates)  # the fault was for one call only
    assert all(r.ok for r in retried)


def test_network_failure_fails_every_record_as_retryable(org):
    client = org.client()
    client.base_url = client.base_url.replace(org.url.split("//")[1], "127.0.0.1:9")
    adapter = SalesforceAdapter.from_client(client, key_field=True)
    ann = "005000000000000AAA"
    results = adapter.create_events([create(ann, 0)])
    assert [(r.ok, r.error_code, r.retryable) for r in results] == [(False, "NETWORK_ERROR", True)]


def test_an_expired_session_logs_in_again_once(org):
    logins = []

    def relogin():
        logins.append(1)
        return org.client()

    adapter = SalesforceAdapter.from_client(org.client("expired"), relogin=relogin)
    assert adapter.search_people(["nobody@x.example"]) == {}
    assert logins == [1]
    stuck = SalesforceAdapter.from_client(org.client("expired"), relogin=lambda: org.client("no"))
    with pytest.raises(SalesforceAuthError):
        stuck.user_ids(["a@x.example"])
    with pytest.raises(SalesforceAuthError):
        SalesforceAdapter.from_client(org.client("expired")).create_events([create("x", 0)])


# -- changes feed (R-22, R-23) --------------------------------------------------------------------


def test_changed_events_returns_exactly_the_updated_and_deleted_with_a_watermark_R22_R23(org):
    adapter = SalesforceAdapter.from_client(org.client())
    ann = owner(org)
    bob = owner(org, "bob", "bob@corp.example")
    mine = [create(ann, n) for n in range(4)]
    theirs = create(bob, 0)
    ids = [r.id for r in adapter.create_events([*mine, theirs])]
    now = datetime.fromisoformat(org.admin("POST", "clock", json={"advance_seconds": 120})["now"])
    since = now
    org.admin("POST", "clock", json={"advance_seconds": 60})
    adapter.update_events([SfUpdate(mine[0].sync_key, ids[0], fields(ann, 0, subject="New"),
                                    ("subject",), "R-15")])  # fmt: skip
    adapter.delete_events([SfDelete(mine[1].sync_key, ids[1], "R-18"),
                           SfDelete(theirs.sync_key, ids[4], "R-18")])  # fmt: skip
    adapter.update_events([SfUpdate(theirs.sync_key, ids[4], fields(bob, 0, subject="B"),
                                    ("subject",), "R-15")])  # fmt: skip
    until = datetime.fromisoformat(org.admin("POST", "clock", json={"advance_seconds": 120})["now"])
    states, watermark = adapter.changed_events([ann], since, until)
    got = {s.sf_event_id: s for s in states}
    assert set(got) == {ids[0], ids[1]}
    assert got[ids[0]].deleted is False and got[ids[0]].subject == "New"
    assert got[ids[0]].owner_sf_id == ann and got[ids[0]].sync_key == mine[0].sync_key
    assert got[ids[0]].start_utc == mine[0].fields.start_utc
    assert got[ids[1]].deleted is True and got[ids[1]].owner_sf_id == ann
    assert since < watermark <= until
    assert watermark == until.replace(second=0, microsecond=0)
    # Nothing changed since the watermark: nothing comes back.
    later = datetime.fromisoformat(org.admin("POST", "clock", json={"advance_seconds": 120})["now"])
    assert adapter.changed_events([ann], watermark, later)[0] == []
    # A window inside one minute asks nothing (getUpdated ignores seconds).
    before = adapter.calls
    inside = later.replace(second=5)
    assert adapter.changed_events([ann], inside, inside.replace(second=50)) == ([], inside)
    assert adapter.calls == before


# -- R-07 -----------------------------------------------------------------------------------------


def test_auto_created_contacts_go_under_their_account_and_leads_get_a_company_R07(org, adapter):
    refs = seed(org, {"Account": [{"_ref": "acme", "Name": "Acme",
                                   "Website": "https://www.Acme.example/about"}]})  # fmt: skip
    accounts = adapter.accounts_by_domain(["acme.example", "unknown.example"])
    assert accounts == {"acme.example": refs["acme"]}
    people = [
        NewPerson(
            PersonKind.CONTACT, "jo@acme.example", "Jo", "Mary", account_id=accounts["acme.example"]
        ),
        NewPerson(PersonKind.LEAD, "kim@unknown.example", "Kim", company="Unknown"),
        NewPerson(PersonKind.CONTACT, "bad@acme.example", "Bad", account_id="001000000000000AAA"),
    ]
    results = adapter.create_people(people)
    assert [(r.ref, r.ok) for r in results] == [
        ("jo@acme.example", True),
        ("kim@unknown.example", True),
        ("bad@acme.example", False),
    ]
    assert results[2].error_code in {"INVALID_CROSS_REFERENCE_KEY", "MALFORMED_ID"}
    [contact] = org.records("Contact")
    assert (contact["Id"], contact["AccountId"], contact["FirstName"]) == (
        results[0].id, refs["acme"], "Mary")  # fmt: skip
    [lead] = org.records("Lead")
    assert (lead["Id"], lead["Company"], lead["Email"]) == (
        results[1].id,
        "Unknown",
        "kim@unknown.example",
    )
    found = adapter.search_people(["jo@acme.example", "kim@unknown.example"])
    assert {e: p.kind for e, p in found.items()} == {
        "jo@acme.example": PersonKind.CONTACT,
        "kim@unknown.example": PersonKind.LEAD,
    }
    # A Contact now links the domain even without a Website.
    seed(org, {"Account": [{"_ref": "b", "Name": "B"}],
               "Contact": [{"LastName": "Z", "Email": "z@b.example", "AccountId": "@b"}]})  # fmt: skip
    assert set(adapter.accounts_by_domain(["b.example"])) == {"b.example"}


def test_invitees_added_by_an_update_join_the_event_R16(org, adapter):
    ann = owner(org)
    bob = owner(org, "bob", "bob@corp.example")
    cy = owner(org, "cy", "cy@corp.example")
    a = create(ann, 0, relations=Relations(accepted=(bob,)))
    [made] = adapter.create_events([a])
    later = fields(ann, 0, relations=Relations(accepted=(bob,), declined=(cy,)))
    [result] = adapter.update_events([SfUpdate(a.sync_key, made.id, later, ("relations",), "R-16")])
    assert result.ok and result.message == ""
    rows = [r for r in org.records("EventRelation") if r["EventId"] == made.id]
    assert {(r["RelationId"], r["Status"]) for r in rows if r["IsInvitee"]} == {
        (bob, "Accepted"),
        (cy, "Declined"),
    }


def test_from_config_logs_in_on_the_local_stack(org, monkeypatch):
    from infra.config import Config

    # REQUESTS_CA_BUNDLE is set on our machines: the emulator's certificate must still be used.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    config = Config.from_env(
        {
            "GOOGLE_CLOUD_PROJECT": "calsync-test",
            "FIRESTORE_EMULATOR_HOST": "127.0.0.1:1",  # a local stack: the emulator's session
            "CALSYNC_SF_INSTANCE_URL": org.url,
            "CALSYNC_SF_CA_CERT": str(org.cert),
            "CALSYNC_SF_SESSION_ID": "dev",
        }
    )
    ann = owner(org)
    adapter = SalesforceAdapter.from_config(config)
    assert adapter.user_ids(["ann@corp.example"]) == {"ann@corp.example": ann}
    assert adapter.calls == 1


def test_a_failed_occurrence_lookup_or_delete_call_gives_retryable_results_R17(org, adapter):
    ann = owner(org)
    series = create(ann, 0, pattern="FREQ=DAILY;COUNT=3")
    plain = create(ann, 1)
    made, other = adapter.create_events([series, plain])
    second = series.fields.start_utc + timedelta(days=1)
    org.admin("POST", "faults", json={"kind": "503", "count": 1, "path_contains": "query"})
    [result] = adapter.update_events(
        [
            SfUpdate(
                series.sync_key,
                "",
                fields(ann, 0, subject="X"),
                ("subject",),
                "R-17",
                made.id,
                second,
            )
        ]  # fmt: skip
    )
    assert (result.ok, result.retryable) == (False, True)
    org.admin("POST", "faults", json={"kind": "503", "count": 1, "path_contains": "composite"})
    [result] = adapter.delete_events([SfDelete(plain.sync_key, other.id, "R-18")])
    assert (result.ok, result.error_code, result.retryable) == (False, "SERVER_UNAVAILABLE", True)
    assert len(events(org)) == 4
