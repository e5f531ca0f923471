"""Batch requests: multipart/mixed in, multipart/mixed out, as BatchHttpRequest speaks it.

Each part is an `application/http` request (`METHOD /calendar/v3/... HTTP/1.1`, headers, body);
each answer part carries `Content-ID: <response-ID>` for the request's `<ID>`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from http import HTTPStatus

from .errors import bad_request

MAX_CALLS = 1000
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")


@dataclass
class SubRequest:
    content_id: str
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass
class SubResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def parse(content_type: str, body: bytes) -> list[SubRequest]:
    if "multipart/mixed" not in content_type.lower():
        raise bad_request("A batch request must be multipart/mixed.")
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        raise bad_request("Malformed batch request body.")
    parts = list(message.iter_parts())
    if len(parts) > MAX_CALLS:
        raise bad_request(
            f"A batch can hold at most {MAX_CALLS} calls.", reason="batchSizeTooLarge"
        )
    requests = []
    for index, part in enumerate(parts, start=1):
        payload = part.get_payload(decode=True) or b""
        content_id = (part.get("Content-ID") or f"<item{index}>").strip()
        requests.append(_parse_http(content_id, payload))
    return requests


def _parse_http(content_id: str, payload: bytes) -> SubRequest:
    split = _BLANK_LINE.search(payload)
    head, body = (payload[: split.start()], payload[split.end() :]) if split else (payload, b"")
    lines = head.decode("utf-8", errors="replace").splitlines()
    if not lines:
        raise bad_request("Empty request in batch.")
    method, _, rest = lines[0].strip().partition(" ")
    target = rest.rsplit(" ", 1)[0] if rest.upper().endswith(("HTTP/1.1", "HTTP/1.0")) else rest
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    if "content-length" in headers and headers["content-length"].isdigit():
        body = body[: int(headers["content-length"])]
    return SubRequest(content_id, method.upper(), target.strip(), headers, body.rstrip(b"\r\n"))


def respond(
    requests: list[SubRequest], run: Callable[[SubRequest], SubResponse]
) -> tuple[str, bytes]:
    """Run each call in order and build the multipart answer; returns (content type, body)."""
    boundary = "batch_emulator_boundary"
    chunks: list[bytes] = []
    for request in requests:
        response = run(request)
        inner_id = request.content_id.strip("<>")
        reason = (
            HTTPStatus(response.status).phrase
            if response.status in HTTPStatus._value2member_map_
            else ""
        )
        head = [f"HTTP/1.1 {response.status} {reason}"]
        head += [f"{k}: {v}" for k, v in response.headers.items()]
        head.append(f"Content-Length: {len(response.body)}")
        chunks.append(
            (
                f"--{boundary}\r\n"
                "Content-Type: application/http\r\n"
                f"Content-ID: <response-{inner_id}>\r\n\r\n" + "\r\n".join(head) + "\r\n\r\n"
            ).encode()
            + response.body
            + b"\r\n"
        )
    chunks.append(f"--{boundary}--\r\n".encode())
    return f"multipart/mixed; boundary={boundary}", b"".join(chunks)
