"""Test-only endpoints under /_admin/: reset, dump, counters, seed, limits, faults, clock.

Faults are of two families: call faults (usage.py: 503, UNABLE_TO_LOCK_ROW,
REQUEST_LIMIT_EXCEEDED, APPLY_THEN_503) and record refusals (refusals.py:
FIELD_CUSTOM_VALIDATION_EXCEPTION); one POST /_admin/faults adds either, DELETE clears both.
"""

from __future__ import annotations

import random
from typing import Any

from . import query, refusals, seed
from .api import Emulator, Response
from .errors import bad_request, not_found
from .usage import Fault


def handle(emu: Emulator, method: str, path: str, params: dict[str, str], body: Any) -> Response:
    org = emu.org
    name = path.removeprefix("/_admin/").strip("/")
    if (method, name) == ("POST", "reset"):
        with org.lock:
            org.reset()
            org.running_user = org.admin_user_id
            refs = seed.load(org, emu.seed) if emu.seed else {}
            org.running_user = ""
        emu.usage.reset()
        emu.cursors.clear()
        emu.sessions.expire_all()
        emu.page_size = None
        emu.latency_ms = 0
        if emu.flow is not None:
            emu.flow.reset()
        return Response(200, {"ok": True, "admin_user_id": org.admin_user_id,
                              "org_id": org.org_id, **refs})  # fmt: skip
    if (method, name) == ("GET", "records"):
        return Response(200, _dump(emu, params))
    if (method, name) == ("GET", "calls"):
        return Response(200, _calls(emu))
    if (method, name) == ("POST", "query"):  # SOQL for tests and benchmarks, not counted
        with org.lock:
            total, rows = query.run(org, str(body.get("q", "")),
                                    include_deleted=bool(body.get("include_deleted")),
                                    base="/services/data/v62.0")  # fmt: skip
        return Response(200, {"totalSize": total, "records": rows})
    if (method, name) == ("POST", "seed"):
        with org.lock:
            org.store.begin()
            org.running_user = org.admin_user_id
            try:
                refs = seed.load(org, body)
                org.store.commit()
            except Exception:
                org.store.rollback()
                raise
            finally:
                org.running_user = ""
        return Response(200, refs)
    if (method, name) == ("POST", "limits"):
        emu.usage.set_limit(body.get("max"), body.get("used"))
        return Response(200, emu.usage.snapshot())
    if (method, name) == ("GET", "faults"):
        return Response(200, _faults(emu))
    if (method, name) == ("POST", "faults"):
        return _add_fault(emu, body)
    if (method, name) == ("DELETE", "faults"):
        emu.usage.clear_faults()
        with org.lock:
            org.refusals.clear()
        return Response(200, {"ok": True})
    if (method, name) == ("POST", "config"):
        return _config(emu, body)
    if (method, name) == ("POST", "jwt_certs"):
        emu.sessions.register_cert(str(body["pem"]).encode())
        return Response(200, {"ok": True})
    if (method, name) == ("POST", "sessions/expire"):
        emu.sessions.expire_all()
        return Response(200, {"ok": True})
    if (method, name) == ("POST", "sharing"):
        with org.lock:
            org.sharing.configure(body)
        return Response(200, {"ok": True})
    if name == "flow" or name.startswith("flow/"):
        return _flow(emu, method, name, body)
    if (method, name) == ("POST", "sessions"):
        return _session_for(emu, body)
    if (method, name) == ("POST", "recycle_bin/empty"):
        with org.lock:
            purged = org.empty_recycle_bin()
        return Response(200, {"purged": purged})
    if (method, name) == ("POST", "delete_log/purge"):
        with org.lock:
            org.delete_log_purged_at = org.clock.now().replace(second=0, microsecond=0)
        return Response(200, {"purged_at": org.delete_log_purged_at.isoformat()})
    if (method, name) == ("POST", "calendars"):
        with org.lock:
            record_id = org.add_calendar(str(body.get("name", "")), str(body.get("type", "Public")))
        return Response(200, {"id": record_id})
    if (method, name) == ("POST", "clock"):
        now = org.clock.advance(float(body.get("advance_seconds", 0)))
        return Response(200, {"now": now.isoformat()})
    raise not_found()


def _flow(emu: Emulator, method: str, name: str, body: Any) -> Response:
    """The Flow on Event (flow.py): its settings, the callouts it sent, the org's certificate
    (what an admin exports from Certificate and Key Management for calsync's Secret Manager)."""
    if emu.flow is None:
        raise not_found()
    if (method, name) == ("GET", "flow/certificate"):
        return Response(200, {"pem": emu.flow.cert_pem.decode()})
    if (method, name) == ("POST", "flow"):
        return Response(200, emu.flow.configure(body, emu.org.org_id, emu.org.admin_user_id))
    if (method, name) == ("GET", "flow"):
        with emu.flow._lock:
            sent = list(emu.flow.sent)
        return Response(200, {**emu.flow.describe(), "sent": sent})
    if (method, name) == ("DELETE", "flow"):
        emu.flow.reset()
        return Response(200, {"ok": True})
    raise not_found()


def _session_for(emu: Emulator, body: Any) -> Response:
    """A session of one user, standing in for that person's own login (edits "in the UI": their
    LastModifiedById, and the Flow runs as them)."""
    username = str((body or {}).get("username", "")).lower()
    with emu.org.lock:
        found = [r["Id"] for r in emu.org.store.rows("User")
                 if not r["IsDeleted"] and r["IsActive"] and r["Username"].lower() == username]  # fmt: skip
    if not found:
        raise bad_request("INVALID_INPUT", f"no active user {username!r}")
    return Response(200, {"access_token": emu.sessions.issue(found[0]), "user_id": found[0]})


def _dump(emu: Emulator, params: dict[str, str]) -> dict[str, Any]:
    org = emu.org
    wanted = [params["type"]] if params.get("type") else list(org.schema)
    with org.lock:
        out: dict[str, Any] = {}
        for type_name in wanted:
            sobject = org.sobject(type_name)
            out[sobject.name] = [
                org.render(sobject, r)
                for r in org.store.rows(sobject.name)
                if params.get("include_deleted") or not r["IsDeleted"]
            ]
        return out


def _calls(emu: Emulator) -> dict[str, Any]:
    snapshot = emu.usage.snapshot()
    with emu.org.lock:
        refused = emu.org.refusals.injected
    if refused:
        snapshot["injected_faults"] = {**snapshot["injected_faults"], refusals.KIND: refused}  # type: ignore[dict-item]
    return snapshot


def _faults(emu: Emulator) -> dict[str, Any]:
    with emu.org.lock:
        records = emu.org.refusals.describe()
    return {"calls": emu.usage.describe_faults(), "records": records}


def _add_fault(emu: Emulator, body: Any) -> Response:
    if isinstance(body, dict) and body.get("kind") == refusals.KIND:
        with emu.org.lock:
            emu.org.refusals.add(body, emu.org.schema)
        return Response(200, {"ok": True})
    if not isinstance(body, dict) or ("count" not in body and "fraction" not in body):
        raise bad_request("INVALID_INPUT", "give kind and count or fraction")
    fault = Fault(
        kind=str(body.get("kind", "503")),
        remaining=int(body["count"]) if "count" in body else None,
        fraction=float(body.get("fraction", 0.0)),
        methods=tuple(m.upper() for m in body.get("methods", [])),
        path_contains=str(body.get("path_contains", "")),
        rng=random.Random(body.get("seed")),
    )
    try:
        emu.usage.add_fault(fault)
    except ValueError as exc:
        raise bad_request("INVALID_INPUT", str(exc)) from None
    return Response(200, {"ok": True})


def _config(emu: Emulator, body: Any) -> Response:
    if "external_id_field" in body:
        with emu.org.lock:
            emu.org.set_external_id_field(bool(body["external_id_field"]))
    if "query_page_size" in body:
        emu.page_size = int(body["query_page_size"]) or None
    if "latency_ms" in body:
        emu.latency_ms = max(0, int(body["latency_ms"]))
    return Response(200, {"external_id_field": emu.org.external_id_field,
                          "query_page_size": emu.page_size, "latency_ms": emu.latency_ms})  # fmt: skip
