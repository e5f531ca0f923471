"""Calendar emulator: who may call what (dev tokens, service-account delegation, 401/403)."""

from __future__ import annotations

import google.auth.exceptions
import pytest
import requests
from googleapiclient.errors import HttpError

from tests.fixtures.calendar import make_service_account_key

pytestmark = pytest.mark.integration

ALICE, BOB = "alice@example.com", "bob@example.org"
EVENT = {
    "summary": "x",
    "start": {"dateTime": "2030-01-01T10:00:00Z"},
    "end": {"dateTime": "2030-01-01T11:00:00Z"},
}


def test_request_without_token_is_401_with_the_api_error_shape(gcal):
    response = requests.get(f"{gcal.api_endpoint}calendars/primary/events", timeout=5)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == 401
    assert error["errors"][0]["reason"] == "required"
    assert "WWW-Authenticate" in response.headers


def test_unknown_token_is_401_auth_error(gcal):
    response = requests.get(
        f"{gcal.api_endpoint}calendars/primary/events",
        headers={"Authorization": "Bearer not-a-token"},
        timeout=5,
    )
    assert response.status_code == 401
    assert response.json()["error"]["errors"][0]["reason"] == "authError"


def test_dev_token_acts_as_the_user_on_their_own_calendar_only(gcal):
    alice = gcal.service(ALICE)
    alice.events().insert(calendarId="primary", body=EVENT).execute()
    assert len(alice.events().list(calendarId=ALICE).execute()["items"]) == 1
    with pytest.raises(HttpError) as caught:
        alice.events().list(calendarId=BOB).execute()
    assert caught.value.status_code == 403


def test_address_outside_the_hosted_domains_has_no_calendar(gcal):
    with pytest.raises(HttpError) as caught:
        gcal.service("someone@elsewhere.net").events().list(calendarId="primary").execute()
    assert caught.value.status_code == 404


def test_service_account_with_subject_reads_only_the_subjects_calendar(gcal):
    gcal.service(ALICE).events().insert(
        calendarId="primary", body=EVENT | {"summary": "alice's"}
    ).execute()
    gcal.service(BOB).events().insert(
        calendarId="primary", body=EVENT | {"summary": "bob's"}
    ).execute()

    as_alice = gcal.service(credentials=gcal.delegated_credentials(ALICE))
    items = as_alice.events().list(calendarId="primary").execute()["items"]
    assert [e["summary"] for e in items] == ["alice's"]
    assert items[0]["organizer"]["self"] is True
    with pytest.raises(HttpError) as caught:
        as_alice.events().list(calendarId=BOB).execute()
    assert caught.value.status_code == 403
    assert gcal.counters()["oauth2.token"] == 1  # one JWT-bearer grant, then the cached token


def test_assertion_signed_by_another_key_is_refused(gcal):
    stranger, _ = make_service_account_key()
    credentials = gcal.delegated_credentials(ALICE, info=stranger)
    with pytest.raises(google.auth.exceptions.RefreshError, match="invalid_grant"):
        gcal.service(credentials=credentials).events().list(calendarId="primary").execute()


def test_token_without_a_calendar_scope_is_403(gcal):
    credentials = gcal.delegated_credentials(
        ALICE, scopes=("https://www.googleapis.com/auth/drive",)
    )
    with pytest.raises(HttpError) as caught:
        gcal.service(credentials=credentials).events().list(calendarId="primary").execute()
    assert caught.value.status_code == 403
    assert caught.value.error_details[0]["reason"] == "insufficientPermissions"


def test_readonly_scope_cannot_write(gcal):
    credentials = gcal.delegated_credentials(
        ALICE, scopes=("https://www.googleapis.com/auth/calendar.readonly",)
    )
    service = gcal.service(credentials=credentials)
    assert service.events().list(calendarId="primary").execute()["items"] == []
    with pytest.raises(HttpError) as caught:
        service.events().insert(calendarId="primary", body=EVENT).execute()
    assert caught.value.status_code == 403
