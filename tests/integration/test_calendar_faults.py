"""Calendar emulator: injected failures (403 rateLimitExceeded, 429, 503), client retries, and
lost answers (APPLY_THEN_503: the write is applied, the client gets 503 backendError)."""

from __future__ import annotations

import pytest
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest

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


# -- APPLY_THEN_503: the write is applied, the answer is lost (issue 9) -------------------------
def timed(summary, **extra):
    return {
        "summary": summary,
        "start": {"dateTime": "2030-03-01T09:00:00Z"},
        "end": {"dateTime": "2030-03-01T09:30:00Z"},
        **extra,
    }


def summaries(gcal):
    items = gcal.service(ALICE).events().list(calendarId="primary").execute()["items"]
    return sorted(e["summary"] for e in items)


def test_lost_answer_on_insert_leaves_the_event_behind(gcal):
    gcal.inject_fault(kind="APPLY_THEN_503", count=1)
    assert summaries(gcal) == []  # reads are not writes: not affected
    events = gcal.service(ALICE).events()
    with pytest.raises(HttpError) as caught:
        events.insert(calendarId="primary", body=timed("saved anyway", id="calsinc0001")).execute()
    assert caught.value.status_code == 503
    assert caught.value.error_details[0]["reason"] == "backendError"
    assert summaries(gcal) == ["saved anyway"]
    # a retry with the same client-chosen id is told the event exists instead of making another
    with pytest.raises(HttpError) as retried:
        events.insert(calendarId="primary", body=timed("saved anyway", id="calsinc0001")).execute()
    assert retried.value.status_code == 409
    assert summaries(gcal) == ["saved anyway"]
    assert gcal.admin("GET", "faults")["faults"] == []


def test_lost_answer_on_patch_keeps_the_patch(gcal):
    events = gcal.service(ALICE).events()
    created = events.insert(calendarId="primary", body=timed("before")).execute()
    gcal.inject_fault(kind="APPLY_THEN_503", count=1, methods=["calendar.events.patch"])
    events.insert(calendarId="primary", body=timed("other insert")).execute()  # not patched
    with pytest.raises(HttpError) as caught:
        events.patch(calendarId="primary", eventId=created["id"], body={"colorId": "9"}).execute()
    assert caught.value.status_code == 503
    stored = events.get(calendarId="primary", eventId=created["id"]).execute()
    assert stored["colorId"] == "9"
    assert stored["etag"] != created["etag"]


def test_a_refused_write_keeps_the_lost_answer_for_the_next_write(gcal):
    gcal.inject_fault(kind="APPLY_THEN_503", count=1)
    events = gcal.service(ALICE).events()
    bad = {"summary": "no end", "start": {"dateTime": "2030-03-01T09:00:00Z"}}
    with pytest.raises(HttpError) as caught:
        events.insert(calendarId="primary", body=bad).execute()
    assert caught.value.status_code == 400  # nothing was applied: the real error comes back
    with pytest.raises(HttpError) as caught:
        events.insert(calendarId="primary", body=timed("applied")).execute()
    assert caught.value.status_code == 503
    assert summaries(gcal) == ["applied"]


def test_lost_answer_inside_a_batch_hits_one_sub_request(gcal):
    service = gcal.service(ALICE)
    gcal.inject_fault(kind="APPLY_THEN_503", count=1, methods=["calendar.events.insert"])
    outcomes = {}

    def collect(request_id, response, exception):
        outcomes[request_id] = exception.status_code if exception else response["summary"]

    batch = BatchHttpRequest(callback=collect, batch_uri=gcal.batch_uri)
    batch.add(service.events().insert(calendarId="primary", body=timed("first")), request_id="1")
    batch.add(service.events().insert(calendarId="primary", body=timed("second")), request_id="2")
    batch.execute()
    assert outcomes == {"1": 503, "2": "second"}
    assert summaries(gcal) == ["first", "second"]  # both applied; one answer lost


def test_lost_answer_fraction_and_describe(gcal):
    gcal.inject_fault(kind="APPLY_THEN_503", fraction=1.0)
    [fault] = gcal.admin("GET", "faults")["faults"]
    assert fault["kind"] == "APPLY_THEN_503" and fault["status"] == 503
    assert "calendar.events.delete" in fault["methods"]
    assert "calendar.events.list" not in fault["methods"]
    events = gcal.service(ALICE).events()
    for name in ("a", "b"):
        with pytest.raises(HttpError):
            events.insert(calendarId="primary", body=timed(name)).execute()
    assert summaries(gcal) == ["a", "b"]


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param({"methods": ["calendar.events.list"]}, id="a read"),
        pytest.param({"status": 429}, id="another status"),
        pytest.param({}, id="neither count nor fraction"),
    ],
)
def test_a_lost_answer_fault_that_cannot_apply_is_refused(gcal, spec):
    body = {"kind": "APPLY_THEN_503", **({"count": 1} if spec else {}), **spec}
    response = gcal.http.post(f"{gcal.url}/_admin/faults", json=body, timeout=10)
    assert response.status_code == 400
    assert gcal.admin("GET", "faults")["faults"] == []
