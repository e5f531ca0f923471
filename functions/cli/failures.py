"""Errors from the services, said in one line with what to do (the command line shows no
tracebacks, F2 of the newcomer trial). `explain` returns None for an error it does not know."""

from __future__ import annotations

from functions.cli.common import CliError, Failed, NotConfigured

ADC_HINT = "run `gcloud auth application-default login` (docs/deploy.md, step 7)"


def explain(exc: BaseException, email: str = "") -> CliError | None:
    """The CliError to show for `exc` (raised while working on `email`, if any)."""
    for check in (_calsync, _config, _google_auth, _google_api, _network, _files):
        found = check(exc, email)
        if found is not None:
            return found
    return None


def _calsync(exc: BaseException, email: str) -> CliError | None:
    from core.errors import CalsyncError, GoogleRefused, RetryableError
    from infra.salesforce import SalesforceAuthError

    if not isinstance(exc, CalsyncError):
        return None
    from infra.session import SessionFailed

    if isinstance(exc, SessionFailed) and exc.__cause__ is not None:
        # The session recorded CS-020; say the cause as its own error would be said.
        cause = explain(exc.__cause__, email)
        if cause is not None:
            return type(cause)(f"{cause}; recorded as issue CS-020")
    who = email or "the user"
    if isinstance(exc, GoogleRefused):
        if exc.status == 404:
            return Failed(
                f"Google Calendar has no calendar for {who} (404 notFound); "
                "is the address in your Workspace?"
            )
        if exc.status == 401:
            return Failed(
                f"Google refused to act as {who} ({exc.message}); check the domain-wide "
                "delegation of calsync's service account (docs/deploy.md)"
            )
        return Failed(f"Google Calendar refused ({exc.status}): {exc.message}")
    if isinstance(exc, SalesforceAuthError):
        return Failed(f"Salesforce refused calsync's login: {exc.message}")
    if isinstance(exc, RetryableError):
        return Failed(f"{exc.message}; try again in a minute")
    return Failed(exc.message)


def _config(exc: BaseException, email: str) -> CliError | None:
    from infra.config import ConfigError

    return NotConfigured(str(exc)) if isinstance(exc, ConfigError) else None


def _google_auth(exc: BaseException, email: str) -> CliError | None:
    from google.auth import exceptions as auth

    if isinstance(exc, auth.DefaultCredentialsError):
        return NotConfigured(f"no Google credentials on this machine: {ADC_HINT}")
    if isinstance(exc, auth.RefreshError):
        return NotConfigured(f"Google refused this machine's credentials ({exc}): {ADC_HINT}")
    if isinstance(exc, auth.TransportError):
        return Failed(f"Google's sign-in could not be reached ({type(exc).__name__})")
    return None


def _google_api(exc: BaseException, email: str) -> CliError | None:
    from google.api_core import exceptions as api

    if isinstance(exc, api.PermissionDenied):
        return NotConfigured(
            f"Google Cloud refused your account ({exc.message}); it needs the roles of "
            "docs/deploy.md, step 7"
        )
    if isinstance(exc, api.NotFound):
        return NotConfigured(f"not found in Google Cloud: {exc.message}")
    if isinstance(exc, (api.DeadlineExceeded, api.ServiceUnavailable, api.RetryError)):
        return Failed(f"Firestore or Cloud Tasks did not answer in time ({type(exc).__name__})")
    if isinstance(exc, api.GoogleAPICallError):
        return Failed(f"Google Cloud refused the call ({exc.code}): {exc.message}")
    return None


def _network(exc: BaseException, email: str) -> CliError | None:
    import requests

    if isinstance(exc, requests.Timeout):
        return Failed(f"no answer in time from {_host(exc)}")
    if isinstance(exc, requests.ConnectionError):
        return Failed(f"cannot connect to {_host(exc)}")
    return None


def _host(exc: BaseException) -> str:
    request = getattr(exc, "request", None)
    url = getattr(request, "url", "") or ""
    return url.split("/")[2] if url.count("/") >= 2 else "the service"


def _files(exc: BaseException, email: str) -> CliError | None:
    if isinstance(exc, (FileNotFoundError, PermissionError)):
        return NotConfigured(f"cannot read {exc.filename}: {exc.strerror}")
    return None
