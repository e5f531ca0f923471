"""What the command line talks to: the local stack (`.calsync/local.env`, written by `make up`)
or a Google Cloud project. Every command names it on stderr (`target: ...`) and checks that it
answers before doing anything, so that a stale local.env or a dead network gives a message in
seconds instead of a hang (F9 of the newcomer trial)."""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from functions.cli.common import NotConfigured

FIRESTORE_TIMEOUT = 10.0  # seconds for the first Firestore read
CONNECT_TIMEOUT = 2.0

# The local stack's endpoints in local.env, with the name the message gives each.
LOCAL_ENDPOINTS = (
    ("FIRESTORE_EMULATOR_HOST", "the Firestore emulator"),
    ("CALSYNC_TASKS_EMULATOR_HOST", "the Cloud Tasks emulator"),
    ("CALSYNC_CALENDAR_URL", "the Google Calendar emulator"),
    ("CALSYNC_SF_INSTANCE_URL", "the Salesforce emulator"),
    ("CALSYNC_FUNCTIONS_URL", "the functions"),
)


@dataclass(frozen=True)
class Target:
    description: str
    local_env: Path | None  # the local stack's endpoints file, None for a project
    env: Mapping[str, str]

    @classmethod
    def of(cls, config: Any, local_env: Path | None, env: Mapping[str, str]) -> Target:
        if local_env is not None:
            return cls(f"local stack ({local_env})", local_env, env)
        database = config.firestore_database
        return cls(f"project {config.project}, Firestore database {database}", None, env)

    def check(self, ping: Callable[[float], None]) -> None:
        """Raise NotConfigured, saying what to do, when the target does not answer; `ping`
        reads Firestore once with a deadline."""
        if self.local_env is not None:
            for name, what in LOCAL_ENDPOINTS:
                address = _host_port(self.env.get(name, ""))
                if address and not _answers(*address):
                    raise NotConfigured(
                        f"the local stack in {self.local_env} is not answering ({what} at "
                        f"{address[0]}:{address[1]}): run `make up`, or `make down` to forget it"
                    )
        try:
            ping(FIRESTORE_TIMEOUT)
        except Exception as exc:
            from functions.cli.failures import explain

            found = explain(exc)
            if found is None:
                raise
            where = "the local stack's Firestore" if self.local_env else self.description
            raise NotConfigured(f"{where}: {found}") from exc


def _host_port(value: str) -> tuple[str, int] | None:
    if not value:
        return None
    parts = urlsplit(value if "//" in value else f"//{value}")
    if parts.hostname is None:
        return None
    default = 443 if parts.scheme == "https" else 80
    return parts.hostname, parts.port or default


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT):
            return True
    except OSError:
        return False
