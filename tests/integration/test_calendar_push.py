"""Calendar emulator: push notification channels, received by a local HTTP server."""

from __future__ import annotations

import time
import uuid

import pytest
from googleapiclient.errors import HttpError

from tests.fixtures.receiver import Receiver

pytestmark = pytest.mark.integration

ALICE = "alice@example.com"
EVENT = {
    "summary": "x",
    "start": {"dateTime": "2030-01-01T10:00:00Z"},
    "end": {"dateTime": "2030-01-01T11:00:00Z"},
}


@pytest.fixture
def receiver(http_receiver):
    http_receiver.url += "/webhook"
    return http_receiver


def watch(service, address, **extra):
    body = {
        "id": str(uuid.uuid4()),
        "type": "web_hook",
        "address": address,
        "token": "secret-ish",
        **extra,
    }
    return service.events().watch(calendarId="primary", body=body).execute()


def test_watch_sends_sync_then_exists_after_a_change(gcal, receiver):
    service = gcal.service(ALICE)
    channel = watch(service, receiver.url)
    assert channel["kind"] == "api#channel"
    assert channel["resourceId"] and channel["token"] == "secret-ish"
    assert int(channel["expiration"]) > time.time() * 1000

    sync = receiver.next()
    headers = sync.headers
    assert sync.body == b"" and sync.path == "/webhook"
    assert headers["X-Goog-Resource-State"] == "sync"
    assert headers["X-Goog-Message-Number"] == "1"
    assert headers["X-Goog-Channel-ID"] == channel["id"]
    assert headers["X-Goog-Channel-Token"] == "secret-ish"
    assert headers["X-Goog-Resource-ID"] == channel["resourceId"]
    assert headers["X-Goog-Resource-URI"] == channel["resourceUri"]
    assert headers["X-Goog-Channel-Expiration"].endswith("GMT")
    assert headers["Content-Length"] == "0"

    service.events().insert(calendarId="primary", body=EVENT).execute()
    first = receiver.next()
    assert first.headers["X-Goog-Resource-State"] == "exists"
    service.events().insert(calendarId="primary", body=EVENT).execute()
    second = receiver.next()
    numbers = [int(m.headers["X-Goog-Message-Number"]) for m in (sync, first, second)]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3


def test_change_to_another_calendar_does_not_notify(gcal, receiver):
    watch(gcal.service(ALICE), receiver.url)
    assert receiver.next().headers["X-Goog-Resource-State"] == "sync"
    gcal.service("bob@example.com").events().insert(calendarId="primary", body=EVENT).execute()
    assert receiver.nothing_within(0.5)


def test_attendee_copy_change_notifies_the_attendees_channel(gcal, receiver):
    watch(gcal.service("bob@example.com"), receiver.url)
    receiver.next()  # sync
    gcal.service(ALICE).events().insert(
        calendarId="primary", body=EVENT | {"attendees": [{"email": "bob@example.com"}]}
    ).execute()
    assert receiver.next().headers["X-Goog-Resource-State"] == "exists"


def test_stop_ends_the_channel(gcal, receiver):
    service = gcal.service(ALICE)
    channel = watch(service, receiver.url)
    receiver.next()
    service.channels().stop(
        body={"id": channel["id"], "resourceId": channel["resourceId"]}
    ).execute()
    service.events().insert(calendarId="primary", body=EVENT).execute()
    assert receiver.nothing_within(0.5)
    with pytest.raises(HttpError) as caught:
        service.channels().stop(
            body={"id": channel["id"], "resourceId": channel["resourceId"]}
        ).execute()
    assert caught.value.status_code == 404


def test_expired_channel_stops_notifying(gcal, receiver):
    service = gcal.service(ALICE)
    expiration = int(time.time() * 1000) + 800
    channel = watch(service, receiver.url, expiration=str(expiration))
    assert int(channel["expiration"]) == expiration
    receiver.next()
    time.sleep(1.0)
    service.events().insert(calendarId="primary", body=EVENT).execute()
    assert receiver.nothing_within(0.5)


def test_ttl_param_sets_the_expiration(gcal, receiver):
    before = time.time() * 1000
    channel = watch(gcal.service(ALICE), receiver.url, params={"ttl": "60"})
    assert before + 59_000 <= int(channel["expiration"]) <= time.time() * 1000 + 60_000


def test_duplicate_channel_id_is_refused(gcal, receiver):
    service = gcal.service(ALICE)
    channel = watch(service, receiver.url)
    with pytest.raises(HttpError) as caught:
        service.events().watch(
            calendarId="primary",
            body={"id": channel["id"], "type": "web_hook", "address": receiver.url},
        ).execute()
    assert caught.value.status_code == 400


def test_slow_receiver_does_not_slow_writes(gcal):
    slow = Receiver(delay=1.5)
    try:
        service = gcal.service(ALICE)
        watch(service, slow.url)
        started = time.monotonic()
        for _ in range(3):
            service.events().insert(calendarId="primary", body=EVENT).execute()
        assert time.monotonic() - started < 1.0
        assert slow.next(timeout=5).headers["X-Goog-Resource-State"] == "sync"
    finally:
        slow.close()


def test_admin_shows_channels_and_deliveries(gcal, receiver):
    channel = watch(gcal.service(ALICE), receiver.url)
    receiver.next()

    def mine(state):  # a slow receiver of an earlier test may still log late failures
        return [d for d in state["deliveries"] if d["channelId"] == channel["id"]]

    deadline = time.monotonic() + 3
    state = gcal.admin("GET", "channels")
    while not mine(state) and time.monotonic() < deadline:
        time.sleep(0.05)
        state = gcal.admin("GET", "channels")
    assert [c["id"] for c in state["channels"]] == [channel["id"]]
    assert mine(state)[0]["status"] == 200
