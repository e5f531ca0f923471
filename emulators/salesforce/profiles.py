"""The standard profiles every org starts with (Profile, key prefix 00e); a User needs one.

The emulator's profiles are fixed: they are made at start and on reset, and cannot be created,
changed or deleted through the API (a real org can clone custom ones).
"""

from __future__ import annotations

from datetime import datetime

from .ids import IdFactory
from .store import Store

SYSTEM_ADMINISTRATOR = "System Administrator"
STANDARD_USER = "Standard User"

# (Name, UserType of the users it is for)
STANDARD_PROFILES = (
    (SYSTEM_ADMINISTRATOR, "Standard"),
    (STANDARD_USER, "Standard"),
    ("Read Only", "Standard"),
    ("Marketing User", "Standard"),
    ("Contract Manager", "Standard"),
    ("Solution Manager", "Standard"),
    ("Standard Platform User", "Standard"),
    ("Minimum Access - Salesforce", "Standard"),
    ("Chatter Free User", "CsnOnly"),
)
USER_TYPES = ("Standard", "CsnOnly")


def install(store: Store, new_ids: IdFactory, now: datetime) -> dict[str, str]:
    """Put the standard profiles into a fresh store; returns name -> Id."""
    made: dict[str, str] = {}
    for name, user_type in STANDARD_PROFILES:
        record_id = new_ids.new("Profile")
        store.put(
            "Profile",
            {
                "Id": record_id,
                "Name": name,
                "UserType": user_type,
                "Description": None,
                "CreatedDate": now,
                "CreatedById": None,
                "LastModifiedDate": now,
                "LastModifiedById": None,
                "SystemModstamp": now,
                "IsDeleted": False,
            },
        )
        made[name] = record_id
    return made
