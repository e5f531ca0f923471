"""The sidebar's Name and Related To choices, signed (R-33, audit L3: no confused deputy).

The add-on writes a choice into the user's own copy only after checking that the user may link
that record (infra/salesforce_records.py), and signs it: an HMAC over the copy's owner, the item
key, which choice it is and the record id, with a key only calsync holds (Secret Manager in
production, a local file on the local stack). The Google adapter keeps a `calsync_who` /
`calsync_what` property only when its signature verifies, so anything else that can patch the
copy (the rep by hand, another app with calendar scope) cannot make the integration user link an
Event to a record of its choosing: the core only ever sees choices the add-on made.

Value format: `<record id>.<signature>`, the signature being the first 24 bytes of
HMAC-SHA256, base64url without padding (32 characters; private properties hold 1,024).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

from core.labels import P_WHAT, P_WHO

CHOICE_PROPS = (P_WHO, P_WHAT)
_CONTEXT = "calsync-sidebar-choice-v1"
_RECORD_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
_MIN_KEY_BYTES = 16


class SigningKeyError(ValueError):
    """The signing key is missing or too short; the message says which."""


@dataclass(frozen=True)
class ChoiceSigner:
    """Signs and verifies sidebar choices with one key."""

    key: bytes

    def __post_init__(self) -> None:
        if len(self.key) < _MIN_KEY_BYTES:
            raise SigningKeyError(f"the signing key needs at least {_MIN_KEY_BYTES} bytes")

    @classmethod
    def from_text(cls, text: str) -> ChoiceSigner:
        return cls(text.strip().encode("utf-8"))

    def derive(self, purpose: str) -> bytes:
        """A separate key for another use of the same secret (the dashboard's sessions)."""
        return hmac.new(self.key, f"calsync-derive\n{purpose}".encode(), hashlib.sha256).digest()

    def _mac(self, owner: str, item_key: str, prop: str, record_id: str) -> str:
        message = "\n".join((_CONTEXT, owner.strip().lower(), item_key, prop, record_id))
        digest = hmac.new(self.key, message.encode("utf-8"), hashlib.sha256).digest()[:24]
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def sign(self, owner: str, item_key: str, prop: str, record_id: str) -> str:
        """The property value that records `record_id` as `prop` (P_WHO or P_WHAT) on the
        copy of `owner` (the calendar's address) of the item keyed `item_key`."""
        if prop not in CHOICE_PROPS:
            raise ValueError(f"{prop!r} is not a sidebar choice")
        if not _RECORD_ID.match(record_id):
            raise ValueError("not a Salesforce record id")
        return f"{record_id}.{self._mac(owner, item_key, prop, record_id)}"

    def verify(self, owner: str, item_key: str, prop: str, value: str) -> str:
        """The record id of a signed value, or "" when the value was not signed for this
        owner, item and choice (hand-written, copied from another item, or forged)."""
        record_id, dot, mac = value.rpartition(".")
        if not dot or prop not in CHOICE_PROPS or not _RECORD_ID.match(record_id):
            return ""
        expected = self._mac(owner, item_key, prop, record_id)
        return record_id if hmac.compare_digest(mac, expected) else ""
