"""Salesforce record Ids: key prefixes, the 18-character case-safe form, and a generator."""

from __future__ import annotations

import itertools
import threading

KEY_PREFIXES = {
    "Account": "001",
    "Contact": "003",
    "User": "005",
    "Profile": "00e",
    "Opportunity": "006",
    "Lead": "00Q",
    "Event": "00U",
    "Organization": "00D",
    "ContentVersion": "068",
    "ContentDocument": "069",
    "ContentDocumentLink": "06A",
    "EventRelation": "0RE",
    "QueryLocator": "01g",
}
TYPE_BY_PREFIX = {prefix: name for name, prefix in KEY_PREFIXES.items()}

_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ALNUM = set(_BASE62)
# Record part of a 15-char Id is 9 base-62 digits; a multiplier coprime to 62**9 spreads the
# counter over the space so Ids look like real ones (mixed case, so the checksum matters).
_SPACE = 62**9
_SPREAD = 1_000_000_007


def checksum(id15: str) -> str:
    """The 3-character suffix: for each 5-char chunk, a bit per upper-case letter."""
    out = []
    for start in (0, 5, 10):
        bits = 0
        for pos, char in enumerate(id15[start : start + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << pos
        out.append(_SUFFIX_ALPHABET[bits])
    return "".join(out)


def normalise(value: object) -> str | None:
    """Return the canonical 18-char Id for a 15- or 18-char Id, or None if it is not one.

    An 18-char Id is case-insensitive: its suffix says which letters are upper case.
    """
    if not isinstance(value, str) or len(value) not in (15, 18) or not set(value) <= _ALNUM:
        return None
    if len(value) == 15:
        return value + checksum(value)
    suffix = value[15:].upper()
    if any(c not in _SUFFIX_ALPHABET for c in suffix):
        return None
    chars = []
    for chunk, code in enumerate(suffix):
        bits = _SUFFIX_ALPHABET.index(code)
        for pos in range(5):
            char = value[chunk * 5 + pos]
            chars.append(char.upper() if bits & (1 << pos) else char.lower())
    id15 = "".join(chars)
    # digits have no case; a suffix asking for an upper-case digit does not fit
    if checksum(id15) != suffix:
        return None
    return id15 + suffix


def type_of(record_id: str) -> str | None:
    return TYPE_BY_PREFIX.get(record_id[:3])


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, rem = divmod(number, 62)
        digits.append(_BASE62[rem])
    return "".join(reversed(digits))


class IdFactory:
    """Hands out unique 18-char Ids per key prefix; thread-safe."""

    def __init__(self, pod: str = "gK0") -> None:
        self._pod = pod
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def new(self, sobject: str) -> str:
        with self._lock:
            n = next(self._counter)
        id15 = KEY_PREFIXES[sobject] + self._pod + _base62((n * _SPREAD) % _SPACE, 9)
        return id15 + checksum(id15)
