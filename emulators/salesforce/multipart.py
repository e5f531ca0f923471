"""Request-size limits and multipart/form-data bodies, as the REST API takes blob data.

From the REST API guide ("Insert or Update Blob Data"): a non-multipart (JSON) request is
limited to 50 MB of text, i.e. 37.5 MB of base64-encoded file; Salesforce answers a larger one
with 400 JSON_PARSER_ERROR "Maximum size of request reached. Maximum size of request is 52428800
bytes." (seen in simple-salesforce issue #195). A multipart request, through sObject Basic
Information or sObject Rows, takes up to 2 GB for ContentVersion and 500 MB for other objects.
Its first part carries the non-binary fields as JSON (any part name, Content-Type
application/json); the second carries the file, named after the blob field (VersionData for
ContentVersion) with a filename. More than one part of either kind, or no JSON part, is 400
INVALID_MULTIPART_REQUEST with Salesforce's messages.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from .errors import ApiError, bad_request

JSON_LIMIT = 52_428_800  # bytes of a non-multipart request (50 MB)
MULTIPART_LIMITS = {"ContentVersion": 2 * 1024**3}  # bytes, sObject Basic Information / Rows
MULTIPART_DEFAULT_LIMIT = 500 * 1024**2


def too_large(limit: int) -> ApiError:
    return bad_request(
        "JSON_PARSER_ERROR",
        f"Maximum size of request reached. Maximum size of request is {limit} bytes.",
    )


def invalid(message: str) -> ApiError:
    return bad_request("INVALID_MULTIPART_REQUEST", message)


def is_multipart(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == "multipart/form-data"


def multipart_limit(path: str) -> int:
    """The size limit of a multipart request to this path (…/sobjects/{name}[/…])."""
    parts = path.split("/")
    if "sobjects" in parts:
        index = parts.index("sobjects")
        if index + 1 < len(parts):
            return MULTIPART_LIMITS.get(parts[index + 1], MULTIPART_DEFAULT_LIMIT)
    return MULTIPART_DEFAULT_LIMIT


@dataclass
class Part:
    name: str
    filename: str | None
    content_type: str
    data: bytes


@dataclass
class Body:
    """A parsed multipart body: the JSON fields, and the one blob keyed by its part name."""

    fields: dict[str, object]
    blobs: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # name → (filename, data)


_PARAM = re.compile(r';\s*([\w*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


def _params(header: str) -> dict[str, str]:
    out = {}
    for key, value in _PARAM.findall(";" + header.split(";", 1)[1] if ";" in header else ""):
        value = value.strip()
        if value.startswith('"') and value.endswith('"'):
            value = value[1:-1].replace('\\"', '"')
        out[key.lower()] = value
    return out


def _boundary(content_type: str) -> bytes:
    boundary = _params(content_type).get("boundary", "")
    if not boundary or len(boundary) > 70:
        raise invalid("The multipart boundary is missing or longer than 70 characters")
    return boundary.encode("latin-1")


def parts(content_type: str, raw: bytes) -> list[Part]:
    delimiter = b"--" + _boundary(content_type)
    chunks = raw.split(delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise invalid("The multipart body does not end with its closing boundary")
    out = []
    for chunk in chunks[1:-1]:
        chunk = chunk[2:] if chunk.startswith(b"\r\n") else chunk
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise invalid("A part of the multipart body has no blank line after its headers")
        data = data[:-2] if data.endswith(b"\r\n") else data
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        disposition = _params(headers.get("content-disposition", ""))
        out.append(Part(disposition.get("name", ""), disposition.get("filename"),
                        headers.get("content-type", ""), data))  # fmt: skip
    return out


def parse(content_type: str, raw: bytes) -> Body:
    """The JSON part's fields and the binary part, or INVALID_MULTIPART_REQUEST."""
    found = parts(content_type, raw)
    structured = [
        p for p in found
        if p.filename is None and p.content_type.split(";")[0].strip().lower()
        in ("application/json", "application/xml", "text/xml")
    ]  # fmt: skip
    binary = [p for p in found if p not in structured]
    if not structured:
        raise invalid("Multipart message must include a non-binary part")
    if len(structured) > 1:
        raise invalid("Cannot include more than one non-binary part")
    if len(binary) > 1:
        raise invalid("Cannot include more than one binary part")
    try:
        fields = json.loads(structured[0].data)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("JSON_PARSER_ERROR", "The JSON part is not valid JSON") from None
    if not isinstance(fields, dict):
        raise bad_request("JSON_PARSER_ERROR", "The JSON part must be a JSON object")
    blobs = {}
    for p in binary:
        if not p.filename:
            # emulator wording: Salesforce needs the filename on the binary part
            raise invalid(f"The binary part {p.name!r} has no filename")
        blobs[p.name] = (p.filename, p.data)
    return Body(fields, blobs)
