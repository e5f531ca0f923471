"""The SettingsStore port: one contract, run on the in-memory fake and on Firestore (the real emulator)."""

import pytest

from core.users import HeldDelete, SyncState
from infra.firestore_store import FirestoreSettingsStore
from tests.fakes import InMemorySettingsStore


@pytest.fixture(
    params=[
        pytest.param("memory", id="fake"),
        pytest.param("firestore", id="firestore", marks=pytest.mark.integration),
    ]
)
def store(request):
    if request.param == "memory":
        return InMemorySettingsStore()
    return FirestoreSettingsStore(request.getfixturevalue("firestore_client"))


def test_enable_creates_a_user_and_is_idempotent(store):
    first = store.enable_user("Ann@Example.com", sf_user_id="005000000000001AAA")
    again = store.enable_user("ann@example.com")
    assert first.email == "ann@example.com" and first.enabled
    assert again.sf_user_id == "005000000000001AAA"  # an empty id keeps the stored one
    assert [u.email for u in store.list_users()] == ["ann@example.com"]


def test_disable_and_re_enable(store):
    store.enable_user("bob@example.com")
    store.disable_user("bob@example.com")
    assert store.get_user("bob@example.com").enabled is False
    store.enable_user("bob@example.com")
    assert store.get_user("bob@example.com").enabled is True


def test_unknown_user(store):
    assert store.get_user("nobody@example.com") is None
    with pytest.raises(KeyError):
        store.set_user_settings("nobody@example.com", {"autosave_meetings": True})
    with pytest.raises(KeyError):
        store.disable_user("nobody@example.com")


def test_users_are_listed_by_email(store):
    for email in ["cy@example.com", "ann@example.com", "bob@example.com"]:
        store.enable_user(email)
    assert [u.email for u in store.list_users()] == [
        "ann@example.com",
        "bob@example.com",
        "cy@example.com",
    ]


def test_settings_merge(store):
    store.set_org_settings({"internal_domains": ["example.com"], "window_past_days": 7})
    store.set_org_settings({"window_past_days": 10})
    assert store.org_settings() == {"internal_domains": ["example.com"], "window_past_days": 10}
    store.enable_user("ann@example.com")
    store.set_user_settings("ann@example.com", {"autosave_meetings": True})
    store.set_user_settings("ann@example.com", {"autosave_appointments": False})
    assert store.get_user("ann@example.com").settings == {
        "autosave_meetings": True,
        "autosave_appointments": False,
    }


def test_sync_state_round_trips(store):
    store.enable_user("ann@example.com")
    state = SyncState(
        calendar_sync_token="tok",
        group_sync_tokens={"team.sales@example.com": "t2"},
        window_end="2027-01-25",
        channel_id="c1",
        channel_expiration_ms=123,
        held_deletes=(HeldDelete("cs1-a", "uid1", "00U000000000001AAA", "Call", ""),),
        held_id="h1",
        deletes_release="h1",
        recent_deletes=("2026-12-01T10:00:00Z 3",),
    )
    store.save_sync_state("ann@example.com", state)
    assert store.get_user("ann@example.com").state == state


def test_get_users_reads_only_the_addresses_asked(store):
    for email in ["ann@example.com", "bob@example.com", "cy@example.com"]:
        store.enable_user(email)
    found = store.get_users(["BOB@example.com", "ann@example.com", "x@acme.com", "not an address"])
    assert [u.email for u in found] == ["ann@example.com", "bob@example.com"]


def test_R34_user_found_by_channel_id(store):
    store.enable_user("ann@example.com")
    store.enable_user("bob@example.com")
    store.save_sync_state("bob@example.com", SyncState(channel_id="ch-b", channel_token="t"))
    assert store.user_for_channel("ch-b").email == "bob@example.com"
    assert store.user_for_channel("ch-x") is None
    assert store.user_for_channel("") is None


def test_M1_state_fields_are_written_alone(store):
    """Audit M1: a writer sets only its own fields; a channel renewed meanwhile survives."""
    store.enable_user("ann@example.com")
    store.save_sync_state("ann@example.com", SyncState(channel_id="old", calendar_sync_token="t1"))
    store.set_state_fields("ann@example.com", {"channel_id": "new", "channel_token": "secret"})
    store.set_state_fields("ann@example.com", {"calendar_sync_token": "t2"})
    state = store.get_user("ann@example.com").state
    assert (state.channel_id, state.channel_token, state.calendar_sync_token) == (
        "new",
        "secret",
        "t2",
    )


def test_R37_held_deletes_round_trip(store):
    store.enable_user("ann@example.com")
    held = (HeldDelete("cs1-a", "uid1", "00U000000000001AAA", "Call", "2026-12-03T10:00:00Z"),)
    store.set_state_fields("ann@example.com", {"held_deletes": held, "held_id": "h1"})
    state = store.get_user("ann@example.com").state
    assert state.held_deletes == held and state.held_id == "h1"


def test_state_fields_refuse_unknown_names_and_users(store):
    store.enable_user("ann@example.com")
    with pytest.raises(KeyError):
        store.set_state_fields("ann@example.com", {"no_such_field": 1})
    with pytest.raises(KeyError):
        store.set_state_fields("nobody@example.com", {"window_end": "2027-01-01"})


def test_remove_forgets_the_user(store):
    store.enable_user("ann@example.com")
    store.set_user_settings("ann@example.com", {"autosave_meetings": True})
    store.remove_user("ann@example.com")
    assert store.get_user("ann@example.com") is None and store.list_users() == []
    with pytest.raises(KeyError):
        store.remove_user("ann@example.com")


def test_unset_removes_org_values_and_user_overrides_only(store):
    store.set_org_settings({"window_past_days": 30, "save_color": "7"})
    store.unset_org_settings(["window_past_days", "never_set"])
    assert store.org_settings() == {"save_color": "7"}
    store.enable_user("ann@example.com")
    store.set_user_settings(
        "ann@example.com", {"autosave_meetings": True, "safe_description": False}
    )
    store.unset_user_settings("ann@example.com", ["autosave_meetings"])
    assert store.get_user("ann@example.com").settings == {"safe_description": False}
    with pytest.raises(KeyError):
        store.unset_user_settings("nobody@example.com", ["autosave_meetings"])


def test_R21_sf_changes_are_added_and_removed_never_replaced(store):
    """The poller and the Flow add changed SF Event ids while a session removes what it read:
    neither may lose the other's (audit M1's lesson for the down-sync inbox)."""
    store.enable_user("ann@example.com")
    store.add_sf_changes("ann@example.com", ["00U1", "00U2"])
    store.add_sf_changes("ann@example.com", ["00U2", "00U3"])
    store.remove_sf_changes("ann@example.com", ["00U1", "00U2"])
    assert store.get_user("ann@example.com").state.sf_changed == ("00U3",)
