"""Calendar emulator: injected failures (403 rateLimitExceeded, 429, 503) and client retries."""

from __future__ import annotations

import pytest
from googleapiclient.errors import HttpError

pytestmark = pytest.mark.integration

ALICE = "alice@example.com"


def list_request(gcal):
    request = gcal.service(ALICE).events().list(calendarId="primary")
    request._sleep = lambda seconds: None  # the library's backoff, skipped to keep tests fast
    return request


@pytest.mark.parametrize(
    "status, reason",
    [(403, "rateLimitExceeded"), (429, "rateLimitExceeded"), (503, "backendError")],
)
def test_next_call_fails_with_the_real_error_shape(gcal, status, reason):
    gcal.inject_fault(status=status, count=1)
    with pytest.raises(HttpError) as caught:
        list_request(gcal).execute()
    assert caught.value.status_code == status
    assert caught.value.error_details[0]["reason"] == reason
    assert list_request(gcal).execute()["items"] == []  # only the next call failed


def test_client_retries_get_through_n_failures(gcal):
    gcal.inject_fault(status=503, count=2)
    assert list_request(gcal).execute(num_retries=3)["items"] == []
    assert gcal.counters()["calendar.events.list"] == 3


def test_quota_exceeded_is_not_retried_by_the_client(gcal):
    gcal.inject_fault(status=403, reason="quotaExceeded", count=1)
    with pytest.raises(HttpError) as caught:
        list_request(gcal).execute(num_retries=3)
    assert caught.value.error_details[0]["reason"] == "quotaExceeded"
    assert gcal.counters()["calendar.events.list"] == 1


def test_fraction_of_calls_fails_and_method_filter(gcal):
    gcal.inject_fault(status=429, fraction=1.0, methods=["calendar.events.insert"])
    assert list_request(gcal).execute()["items"] == []
    with pytest.raises(HttpError) as caught:
        gcal.service(ALICE).events().insert(
            calendarId="primary",
            body={"start": {"date": "2030-01-01"}, "end": {"date": "2030-01-02"}},
        ).execute()
    assert caught.value.status_code == 429
    gcal.admin("DELETE", "faults")
    gcal.service(ALICE).events().insert(
        calendarId="primary", body={"start": {"date": "2030-01-01"}, "end": {"date": "2030-01-02"}}
    ).execute()
