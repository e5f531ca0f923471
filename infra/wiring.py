"""Builds the adapters from the configuration, once per process (Cloud Functions reuse warm instances)."""

from __future__ import annotations

from functools import cache

from infra.config import Config
from infra.firestore_store import FirestoreSettingsStore, client_for


@cache
def config() -> Config:
    return Config.from_env()


@cache
def settings_store() -> FirestoreSettingsStore:
    return FirestoreSettingsStore(client_for(config()))
