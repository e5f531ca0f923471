"""infra/salesforce_query.py: escaped IN lists chunked under the REST URI cap (R-35, R-30) and
Salesforce's wire values."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from urllib.parse import quote_plus

import pytest

from infra.salesforce import format_like, website_host
from infra.salesforce_query import (
    chunked_in,
    chunked_or,
    encoded_url_bytes,
    parse_date,
    parse_datetime,
    utc_literal,
)

PREFIX = "https://x.my.salesforce.com/services/data/v62.0/query/"
TEMPLATE = "SELECT Id FROM Contact WHERE Email IN {values}"


def test_values_are_escaped_R35():
    [soql] = chunked_in(TEMPLATE, ["o'brien@x.example", "back\\slash@x.example"], PREFIX)
    assert soql == (
        "SELECT Id FROM Contact WHERE Email IN ('o\\'brien@x.example','back\\\\slash@x.example')"
    )


def test_chunks_stay_under_the_limit_and_keep_every_value_once_R30():
    emails = [f"someone.{i:05d}+tag&more=1@example.com" for i in range(3000)] * 2
    chunks = list(chunked_in(TEMPLATE, emails, PREFIX, max_url_bytes=8_000))
    assert len(chunks) > 1
    assert all(encoded_url_bytes(PREFIX, c) <= 8_000 for c in chunks)
    assert all(encoded_url_bytes(PREFIX, c) > 7_000 for c in chunks[:-1])  # filled
    inside = [v for c in chunks for v in c[c.index("(") + 1 : c.rindex(")")].split(",")]
    assert inside == [f"'{e}'" for e in dict.fromkeys(emails)]


def test_encoded_length_is_what_requests_sends():
    soql = "SELECT Id FROM Lead WHERE Email IN ('a+b@x.example','ü@x.example')"
    assert encoded_url_bytes(PREFIX, soql) == len(PREFIX + "?q=" + quote_plus(soql))


def test_no_values_no_query_and_a_bad_template_is_refused():
    assert list(chunked_in(TEMPLATE, [], PREFIX)) == []
    with pytest.raises(ValueError):
        list(chunked_in("SELECT Id FROM Lead", ["a"], PREFIX))
    with pytest.raises(ValueError):
        list(chunked_in(TEMPLATE, ["x" * 20_000], PREFIX))


def test_or_clauses_are_chunked_too():
    clauses = [f"Website LIKE {format_like(f'd{i}.example')}" for i in range(2000)]
    chunks = list(chunked_or("SELECT Id FROM Account WHERE ({clauses})", clauses, PREFIX, 4_000))
    assert len(chunks) > 1 and all(encoded_url_bytes(PREFIX, c) <= 4_000 for c in chunks)
    assert sum(c.count(" LIKE ") for c in chunks) == 2000


def test_like_patterns_escape_wildcards_and_quotes_R35():
    assert format_like("a_b%c'd.example") == "'%a\\_b\\%c\\'d.example%'"
    assert format_like("acme.example", suffix=True) == "'%@acme.example'"


@pytest.mark.parametrize(
    "website, host",
    [
        ("https://www.Acme.example/about", "acme.example"),
        ("acme.example", "acme.example"),
        ("http://acme.example:8080", "acme.example"),
        ("", ""),
    ],
)
def test_website_host(website, host):
    assert website_host(website) == host


def test_wire_values():
    nine = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
    assert parse_datetime("2026-05-04T09:00:00.000+0000") == nine
    assert parse_datetime("2026-05-04T11:00:00.000+0200") == nine
    assert parse_datetime("2026-05-04T09:00:00Z") == nine
    assert parse_datetime(None) is None
    assert parse_date("2026-05-04") == date(2026, 5, 4)
    paris = timezone(timedelta(hours=2))
    assert (
        utc_literal(datetime(2026, 5, 4, 11, 0, 0, 123, tzinfo=paris))
        == "2026-05-04T09:00:00+00:00"
    )
    with pytest.raises(ValueError):
        utc_literal(datetime(2026, 5, 4, 9))
