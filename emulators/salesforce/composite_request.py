"""The Composite resource (`POST composite`): up to 25 subrequests in one API call, executed in
order as the same user, with `@{referenceId.path}` references to earlier answers.

As the REST API reference states it: at most 25 subrequests, at most 5 of them queries
(query/queryAll) or sObject Collections; every subrequest needs `method`, `url` (under
/services/data/vXX.X/) and a unique `referenceId`; only sObject, query, queryAll and
composite/sobjects resources; Accept, Authorization and Content-Type may not be given per
subrequest. The whole request answers 200 with `compositeResponse`, one result per subrequest
(`body`, `httpHeaders`, `httpStatusCode`, `referenceId`). With `allOrNone` a failure rolls
every subrequest back and the others answer 400 PROCESSING_HALTED; without it, only subrequests
that refer to a failed one are not executed. The error messages are modelled, not copied.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .errors import ApiError, bad_request

MAX_SUBREQUESTS = 25
MAX_QUERIES_AND_COLLECTIONS = 5
METHODS = ("GET", "POST", "PATCH", "DELETE")
FORBIDDEN_HEADERS = {"accept", "authorization", "content-type"}
REFERENCE = re.compile(r"@\{([A-Za-z][A-Za-z0-9_]*)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}")
REFERENCE_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")
HALTED_ROLLED_BACK = (
    "The transaction was rolled back since another operation in the same transaction failed."
)


class _Unresolved(Exception):
    def __init__(self, text: str):
        super().__init__(text)
        self.text = text


def check(body: Any) -> list[dict[str, Any]]:
    """The subrequests, or a 400 for the whole request when the body breaks the rules."""
    if not isinstance(body, dict) or not isinstance(body.get("compositeRequest"), list):
        raise bad_request("JSON_PARSER_ERROR", "Expected a body with a compositeRequest list")
    subs = body["compositeRequest"]
    if not subs:
        raise bad_request("INVALID_API_INPUT", "compositeRequest must not be empty")
    if len(subs) > MAX_SUBREQUESTS:
        raise bad_request("INVALID_API_INPUT",
                          f"Exceeded max limit of subrequests allowed: {MAX_SUBREQUESTS}")  # fmt: skip
    seen: set[str] = set()
    heavy = 0
    for sub in subs:
        if not isinstance(sub, dict):
            raise bad_request("JSON_PARSER_ERROR", "Each subrequest must be an object")
        ref, method, url = sub.get("referenceId"), sub.get("method"), sub.get("url")
        if not isinstance(ref, str) or not REFERENCE_ID.match(ref):
            raise bad_request("INVALID_API_INPUT", "Each subrequest needs a referenceId that "
                              "starts with a letter (letters, digits, underscores)")  # fmt: skip
        if ref in seen:
            raise bad_request("INVALID_API_INPUT", f"Duplicate referenceId: {ref}")
        seen.add(ref)
        if method not in METHODS:
            raise bad_request("INVALID_API_INPUT", f"Unsupported method for {ref}: {method!r}")
        if not isinstance(url, str) or not re.match(r"^/services/data/v\d{2,3}\.\d/", url):
            raise bad_request("INVALID_API_INPUT",
                              f"The url of {ref} must start with /services/data/vXX.X/")  # fmt: skip
        headers = sub.get("httpHeaders") or {}
        if not isinstance(headers, dict) or FORBIDDEN_HEADERS & {h.lower() for h in headers}:
            raise bad_request("INVALID_API_INPUT", "Accept, Authorization and Content-Type "
                              "cannot be set on a subrequest")  # fmt: skip
        resource = url.split("/")[4].split("?")[0] if len(url.split("/")) > 4 else ""
        if (
            resource in ("query", "queryAll")
            or url.split("?")[0].rstrip("/").endswith("/composite/sobjects")
            or "/composite/sobjects/" in url
        ):
            heavy += 1
        if resource not in ("sobjects", "query", "queryAll", "composite") or (
            resource == "composite" and "/composite/sobjects" not in url
        ):
            raise bad_request("INVALID_API_INPUT", f"The resource of {ref} is not supported in "
                              "a composite request")  # fmt: skip
    if heavy > MAX_QUERIES_AND_COLLECTIONS:
        raise bad_request("INVALID_API_INPUT", "A composite request can have at most "
                          f"{MAX_QUERIES_AND_COLLECTIONS} query and sObject Collections "
                          "subrequests")  # fmt: skip
    return subs


def run(subs: list[dict[str, Any]], all_or_none: bool, store: Any,
        execute: Callable[[str, str, Any, dict[str, str]], tuple[int, Any, dict[str, str]]],
        ) -> list[dict[str, Any]]:  # fmt: skip
    """Execute the subrequests in order; `execute(method, url, body, headers)` answers one as
    (status, body, headers) and raises ApiError for its errors."""
    results: list[dict[str, Any]] = []
    answers: dict[str, Any] = {}
    failed: set[str] = set()
    for sub in subs:
        ref = sub["referenceId"]
        try:
            url = _resolve_text(sub["url"], answers, failed)
            body = _resolve(sub.get("body"), answers, failed)
        except _Unresolved as exc:
            failed.add(ref)
            results.append(_error(ref, 400, "PROCESSING_HALTED",
                                  f"Invalid reference specified. No value for {exc.text} found. "
                                  "The subrequest it refers to failed or has no such field."))  # fmt: skip
            continue
        mark = store.mark()
        try:
            status, answer, headers = execute(
                sub["method"], url, body, sub.get("httpHeaders") or {}
            )
        except ApiError as exc:
            store.rollback_to(mark)
            failed.add(ref)
            results.append({"body": exc.body(), "httpHeaders": {}, "httpStatusCode": exc.status,
                            "referenceId": ref})  # fmt: skip
            continue
        answers[ref] = answer
        results.append({"body": answer, "httpHeaders": headers, "httpStatusCode": status,
                        "referenceId": ref})  # fmt: skip
    if all_or_none and failed:
        store.rollback_to(0)
        for result in results:
            if result["referenceId"] not in failed:
                result.update(_error(result["referenceId"], 400, "PROCESSING_HALTED",
                                     HALTED_ROLLED_BACK))  # fmt: skip
    return results


def _error(ref: str, status: int, code: str, message: str) -> dict[str, Any]:
    return {"body": [{"errorCode": code, "message": message}], "httpHeaders": {},
            "httpStatusCode": status, "referenceId": ref}  # fmt: skip


def _lookup(ref: str, path: str, answers: dict[str, Any], failed: set[str]) -> Any:
    if ref in failed or ref not in answers:
        raise _Unresolved(f"{ref}{path}")
    value = answers[ref]
    for name, index in re.findall(r"\.([A-Za-z0-9_]+)|\[(\d+)\]", path):
        try:
            value = value[int(index)] if index else value[name]
        except (KeyError, IndexError, TypeError):
            raise _Unresolved(f"{ref}{path}") from None
    return value


def _resolve_text(text: str, answers: dict[str, Any], failed: set[str]) -> str:
    def one(match: re.Match[str]) -> str:
        value = _lookup(match.group(1), match.group(2), answers, failed)
        return value if isinstance(value, str) else json.dumps(value)

    return REFERENCE.sub(one, text)


def _resolve(value: Any, answers: dict[str, Any], failed: set[str]) -> Any:
    if isinstance(value, str):
        whole = REFERENCE.fullmatch(value)
        if whole:  # a whole-value reference keeps the referenced value's type
            return _lookup(whole.group(1), whole.group(2), answers, failed)
        return _resolve_text(value, answers, failed)
    if isinstance(value, list):
        return [_resolve(v, answers, failed) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, answers, failed) for k, v in value.items()}
    return value


def split_url(url: str) -> tuple[str, dict[str, str]]:
    """A subrequest's url as (path, query parameters)."""
    parts = urlsplit(url)
    return unquote(parts.path), dict(parse_qsl(parts.query, keep_blank_values=True))
