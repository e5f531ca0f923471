"""Calendar emulator: a second, independent client (gcsa) lists and inserts events."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

pytestmark = pytest.mark.integration

ALICE = "alice@example.com"


@pytest.fixture
def gcsa_calendar(gcal, monkeypatch):
    """gcsa builds its client with Google's URL; send it to the emulator instead."""
    import gcsa._services.authentication as authentication
    from gcsa.google_calendar import GoogleCalendar
    from googleapiclient import discovery

    def build(name, version, credentials):
        return discovery.build(
            name,
            version,
            credentials=credentials,
            static_discovery=True,
            client_options={"api_endpoint": gcal.api_endpoint},
        )

    monkeypatch.setattr(authentication, "discovery", SimpleNamespace(build=build))
    return GoogleCalendar(ALICE, credentials=gcal.dev_credentials(ALICE))


def test_gcsa_inserts_and_lists(gcal, gcsa_calendar):
    from gcsa.event import Event

    tz = ZoneInfo("Europe/Berlin")
    start = datetime(2030, 7, 1, 9, 0, tzinfo=tz)
    added = gcsa_calendar.add_event(
        Event("From gcsa", start=start, end=datetime(2030, 7, 1, 10, 0, tzinfo=tz))
    )
    assert added.id

    found = list(
        gcsa_calendar.get_events(
            time_min=datetime(2030, 7, 1, tzinfo=tz),
            time_max=datetime(2030, 7, 2, tzinfo=tz),
            timezone="Europe/Berlin",
        )
    )
    assert [e.summary for e in found] == ["From gcsa"]
    assert found[0].start == start

    # and the emulator really holds it: the Google client sees the same event
    fetched = gcal.service(ALICE).events().get(calendarId="primary", eventId=added.id).execute()
    assert fetched["summary"] == "From gcsa"
