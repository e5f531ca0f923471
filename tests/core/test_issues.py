"""core/issues.py: the issue catalogue (R-31), ISE-013 as in the seed, docs/issues.md from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import errors, policy
from core.issues import BY_CODE, CATALOGUE, Severity, issue_type, render_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "issues.md"


def test_ise_013_is_the_seeds():
    """R-08, R-31: ISE-013 keeps the seed's meaning and text."""
    entry = issue_type("ISE-013")
    assert (
        entry.title
        == "Meeting for attendees cannot be synchronized until the organizer synchronizes it"
    )
    assert entry.severity is Severity.ERROR


def test_codes_unique_and_complete():
    assert len(BY_CODE) == len(CATALOGUE)
    assert all(t.meaning and t.action and t.rule.startswith("R-") for t in CATALOGUE)
    assert issue_type("CS-001").severity is Severity.PENDING  # not the error label


def test_every_code_used_in_core_is_catalogued():
    import re

    core = Path(policy.__file__).parent
    used = set()
    for path in core.glob("*.py"):
        used |= set(re.findall(r'"((?:CS|ISE)-\d{3})"', path.read_text()))
    assert used <= set(BY_CODE), used - set(BY_CODE)
    for cls in (
        errors.RetryableError,
        errors.PermanentError,
        errors.GoogleRefused,
        errors.NoSalesforceUser,
    ):
        assert cls.code in BY_CODE


def test_unknown_code():
    with pytest.raises(KeyError, match="CS-999"):
        issue_type("CS-999")


def test_docs_table_matches_the_catalogue():
    """R-31: docs/issues.md carries the table rendered from the catalogue."""
    assert render_markdown() in DOC.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("status", "code", "cls", "retry"),
    [
        pytest.param(200, "UNABLE_TO_LOCK_ROW", errors.LockError, True, id="lock error retried"),
        pytest.param(403, "REQUEST_LIMIT_EXCEEDED", errors.RateLimited, True, id="SF rate limit retried"),
        pytest.param(503, "", errors.ServerError, True, id="5xx retried"),
        pytest.param(400, "REQUIRED_FIELD_MISSING", errors.SalesforceValidationError, False, id="validation is permanent"),
    ],
)  # fmt: skip
def test_salesforce_errors_classified(status, code, cls, retry):
    err = errors.classify_salesforce(status, code, "msg")
    assert isinstance(err, cls) and err.retryable is retry and err.code in BY_CODE


def test_google_errors_classified():
    assert isinstance(errors.classify_google(403, "rateLimitExceeded", "m"), errors.RateLimited)
    assert isinstance(errors.classify_google(500, "backendError", "m"), errors.ServerError)
    assert errors.classify_google(403, "forbiddenForNonOrganizer", "m").code == "CS-014"
