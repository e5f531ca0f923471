"""Push notification channels (events.watch, channels.stop) and their delivery thread.

A notification is a POST with no body and X-Goog-* headers: `sync` (message 1) when the channel
is made, then `exists` after every change to the watched calendar. Delivery runs on a background
thread so that API writes never wait for a receiver.
"""

from __future__ import annotations

import http.client
import queue
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import quote, urlsplit

from . import errors
from .store import new_opaque

DEFAULT_TTL_SECONDS = 604800  # the documented default: 7 days
MAX_TTL_SECONDS = 30 * 86400  # not documented by Google; the emulator's own ceiling
RETRY_STATUSES = (500, 502, 503, 504)
WORKERS = 4
USER_AGENT = "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)"


@dataclass
class Channel:
    id: str
    resource_id: str
    resource_uri: str
    calendar: str
    address: str
    token: str | None
    expiration_ms: int
    owner: str
    last_number: int = 0

    def expired(self, now_ms: int) -> bool:
        return now_ms >= self.expiration_ms

    def describe(self) -> dict[str, Any]:
        body = {
            "kind": "api#channel",
            "id": self.id,
            "resourceId": self.resource_id,
            "resourceUri": self.resource_uri,
            "expiration": str(self.expiration_ms),
        }
        if self.token is not None:
            body["token"] = self.token
        return body


@dataclass
class Message:
    channel: Channel
    state: str
    number: int


def _now_ms() -> int:
    return int(time.time() * 1000)


class PushHub:
    def __init__(self, api_base: str) -> None:
        self.api_base = api_base
        self.channels: dict[str, Channel] = {}
        self.deliveries: deque[dict[str, Any]] = deque(maxlen=2000)
        self.lock = threading.Lock()
        # A few delivery threads; one channel always uses the same one, so its order is kept and a
        # slow receiver only holds up the channels that share its thread.
        self.outboxes: list[queue.Queue[Message]] = [queue.Queue() for _ in range(WORKERS)]
        for number, outbox in enumerate(self.outboxes):
            threading.Thread(
                target=self._deliver_forever, args=(outbox,), name=f"push-{number}", daemon=True
            ).start()

    # --- API -----------------------------------------------------------------------------------

    def watch(
        self, actor: str, calendar: str, calendar_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        channel_id = body.get("id")
        if not channel_id:
            raise errors.required("channel id")
        if len(str(channel_id)) > 64:
            raise errors.bad_request("Channel id is too long (at most 64 characters).")
        if body.get("type") not in ("web_hook", "webhook"):
            raise errors.bad_request(f"Unknown channel type: {body.get('type')}")
        address = body.get("address")
        if not address or urlsplit(str(address)).scheme not in ("http", "https"):
            raise errors.required("channel address")
        token = body.get("token")
        if token is not None and len(str(token)) > 256:
            raise errors.bad_request("Channel token is too long (at most 256 characters).")
        with self.lock:
            if channel_id in self.channels:
                raise errors.bad_request(
                    f"Channel id {channel_id} not unique", reason="channelIdNotUnique"
                )
            channel = Channel(
                id=str(channel_id),
                resource_id=new_opaque(),
                resource_uri=f"{self.api_base}/calendars/{quote(calendar_id, safe='@')}/events?alt=json",
                calendar=calendar,
                address=str(address),
                token=None if token is None else str(token),
                expiration_ms=_expiration(body),
                owner=actor,
            )
            self.channels[channel.id] = channel
            self._enqueue(channel, "sync")
        return channel.describe()

    def stop(self, body: dict[str, Any]) -> None:
        channel_id, resource_id = body.get("id"), body.get("resourceId")
        if not channel_id or not resource_id:
            raise errors.required("channel id and resourceId")
        with self.lock:
            channel = self.channels.get(str(channel_id))
            if channel is None or channel.resource_id != resource_id:
                raise errors.ApiError(
                    404, "notFound", f"Channel '{channel_id}' not found for project 'emulator'"
                )
            del self.channels[channel.id]

    def notify(self, calendar: str) -> None:
        """Called after a change to `calendar`: one `exists` message per live channel on it."""
        now = _now_ms()
        with self.lock:
            for channel in list(self.channels.values()):
                if channel.expired(now):
                    del self.channels[channel.id]
                elif channel.calendar == calendar:
                    self._enqueue(channel, "exists")

    def reset(self) -> None:
        with self.lock:
            self.channels.clear()
            self.deliveries.clear()

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "channels": [
                    {**c.describe(), "calendar": c.calendar, "address": c.address, "owner": c.owner}
                    for c in self.channels.values()
                ],
                "deliveries": list(self.deliveries),
                "pending": sum(outbox.qsize() for outbox in self.outboxes),
            }

    # --- delivery ------------------------------------------------------------------------------

    def _enqueue(self, channel: Channel, state: str) -> None:
        # Numbers grow but skip values, as Google's do; `sync` is always 1.
        channel.last_number = (
            1 if state == "sync" else channel.last_number + 1 + (channel.last_number % 2)
        )
        outbox = self.outboxes[zlib.crc32(channel.id.encode()) % WORKERS]
        outbox.put(Message(channel, state, channel.last_number))

    def _deliver_forever(self, outbox: queue.Queue[Message]) -> None:
        while True:
            message = outbox.get()
            try:
                self._deliver(message)
            except Exception as exc:  # noqa: BLE001 - a bad receiver must not kill the thread
                self._log(message, None, f"{type(exc).__name__}: {exc}")

    def _deliver(self, message: Message) -> None:
        channel = message.channel
        with self.lock:
            live = self.channels.get(channel.id) is channel and not channel.expired(_now_ms())
        if not live:
            self._log(message, None, "channel stopped or expired")
            return
        headers = {
            "X-Goog-Channel-ID": channel.id,
            "X-Goog-Channel-Expiration": formatdate(channel.expiration_ms / 1000, usegmt=True),
            "X-Goog-Message-Number": str(message.number),
            "X-Goog-Resource-ID": channel.resource_id,
            "X-Goog-Resource-State": message.state,
            "X-Goog-Resource-URI": channel.resource_uri,
            "User-Agent": USER_AGENT,
            "Content-Length": "0",
        }
        if channel.token is not None:
            headers["X-Goog-Channel-Token"] = channel.token
        for attempt in range(4):
            status = _post(channel.address, headers)
            if status not in RETRY_STATUSES:
                break
            time.sleep(0.2 * 2**attempt)
        self._log(message, status, None)

    def _log(self, message: Message, status: int | None, error: str | None) -> None:
        entry = {
            "channelId": message.channel.id,
            "state": message.state,
            "messageNumber": message.number,
            "status": status,
            "error": error,
            "at": time.time(),
        }
        with self.lock:
            self.deliveries.append(entry)


def _expiration(body: dict[str, Any]) -> int:
    now = _now_ms()
    ttl = DEFAULT_TTL_SECONDS
    params = body.get("params") or {}
    if params.get("ttl") not in (None, ""):
        try:
            ttl = int(params["ttl"])
        except (TypeError, ValueError):
            raise errors.bad_request("Invalid value for: params.ttl") from None
    expiration = now + min(ttl, MAX_TTL_SECONDS) * 1000
    if body.get("expiration") not in (None, ""):
        try:
            expiration = min(expiration, int(body["expiration"]))
        except (TypeError, ValueError):
            raise errors.bad_request("Invalid value for: expiration") from None
    return expiration


def _post(address: str, headers: dict[str, str]) -> int:
    parts = urlsplit(address)
    conn_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    conn = conn_class(parts.hostname or "127.0.0.1", parts.port, timeout=5)
    try:
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        conn.request("POST", path, body=b"", headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()
