"""SOQL for the Salesforce adapter: escaped `IN (...)` lists chunked under the REST URI cap, and
parsing of Salesforce's wire values (R-35, API-FACTS B3).

Every value goes through simple_salesforce's `format_soql`, so a quote or backslash in an address
or title can neither break a query nor widen it (R-35). A SOQL query over REST is a GET with the
statement in `q=`: URI plus headers may not exceed 16,384 bytes (414/431), so long IN lists are
split into as few queries as fit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from urllib.parse import quote_plus

from simple_salesforce.format import format_soql

URI_CAP = 16_384
# Headers (Authorization with a ~112-byte token, User-Agent, Accept, ...) count towards the
# same cap; 2 kB leaves room for them and for a longer instance URL.
HEADER_ALLOWANCE = 2_048
MAX_URL_BYTES = URI_CAP - HEADER_ALLOWANCE
VALUES_MARK = "{values}"


def soql_value(value: object) -> str:
    """One value as a SOQL literal, escaped by simple_salesforce (R-35)."""
    return format_soql("{}", value)


def chunked_in(template: str, values: Iterable[object], url_prefix: str,
               max_url_bytes: int = MAX_URL_BYTES) -> Iterator[str]:  # fmt: skip
    """SOQL statements made from `template`, whose `{values}` becomes an escaped `(v1,v2,...)`
    list, each statement's GET URL (`url_prefix` + `?q=` + the form-encoded statement, as
    requests encodes it) at most `max_url_bytes` long. Duplicates are dropped; an empty
    `values` yields nothing.

    Form encoding is per character, so a statement's encoded length is the sum of its pieces'.
    """
    if template.count(VALUES_MARK) != 1:
        raise ValueError(f"the template needs exactly one {VALUES_MARK}")
    head, tail = template.split(VALUES_MARK)
    fixed = len(url_prefix) + len("?q=") + _enc(head) + _enc("()") + _enc(tail)
    chunk: list[str] = []
    size = fixed
    for literal in dict.fromkeys(soql_value(v) for v in values):
        cost = _enc(literal) + (_enc(",") if chunk else 0)
        if fixed + _enc(literal) > max_url_bytes:
            raise ValueError("one value alone exceeds the URL limit")
        if chunk and size + cost > max_url_bytes:
            yield f"{head}({','.join(chunk)}){tail}"
            chunk, size, cost = [], fixed, _enc(literal)
        chunk.append(literal)
        size += cost
    if chunk:
        yield f"{head}({','.join(chunk)}){tail}"


def chunked_or(template: str, clauses: Iterable[str], url_prefix: str,
               max_url_bytes: int = MAX_URL_BYTES) -> Iterator[str]:  # fmt: skip
    """Like `chunked_in`, for already escaped clauses joined by OR in `template`'s `{clauses}`
    (e.g. one LIKE per domain)."""
    head, sep, tail = template.partition("{clauses}")
    if not sep:
        raise ValueError("the template needs {clauses}")
    fixed = len(url_prefix) + len("?q=") + _enc(head) + _enc(tail)
    chunk: list[str] = []
    size = fixed
    for clause in dict.fromkeys(clauses):
        cost = _enc(clause) + (_enc(" OR ") if chunk else 0)
        if chunk and size + cost > max_url_bytes:
            yield head + " OR ".join(chunk) + tail
            chunk, size, cost = [], fixed, _enc(clause)
        chunk.append(clause)
        size += cost
    if chunk:
        yield head + " OR ".join(chunk) + tail


def encoded_url_bytes(url_prefix: str, soql: str) -> int:
    """The length of the GET URL that carries `soql` (for tests and assertions)."""
    return len(url_prefix) + len("?q=") + _enc(soql)


def _enc(text: str) -> int:
    return len(quote_plus(text))


def parse_datetime(value: str | None) -> datetime | None:
    """Salesforce's `2026-05-04T09:00:00.000+0000` (or `Z`) as an aware UTC datetime."""
    if not value:
        return None
    text = value.replace("Z", "+00:00")
    if len(text) >= 5 and text[-5] in "+-" and text[-3] != ":":
        text = f"{text[:-2]}:{text[-2:]}"  # +0000 → +00:00 for Python 3.10-compatible parsing
    return datetime.fromisoformat(text).astimezone(UTC)


def parse_date(value: str | None) -> date | None:
    return date.fromisoformat(value[:10]) if value else None


def utc_literal(moment: datetime) -> str:
    """An aware datetime as a SOQL datetime literal (whole seconds, UTC)."""
    if moment.utcoffset() is None:
        raise ValueError("SOQL datetimes must be timezone-aware")
    return soql_value(moment.astimezone(UTC).replace(microsecond=0))
