"""The sync-issues dashboard (R-32): admin sign-in, the pages, and the actions.

One function serves everything through query arguments (`?item=…`, `?login=1`), so nothing
depends on how Cloud Functions passes sub-paths. GET renders server-side HTML (Jinja2, escaped
by default) that works without JavaScript; POST carries one action (`do=confirm|retry|disable|
logout`) with a CSRF token and answers with a redirect back to the page. A request without a
valid admin session gets a 401 (or 403) and the sign-in page, with no data in it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from flask import Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from core.issues import BY_CODE, CATALOGUE
from core.ports import Channel, SessionQueue
from core.settings import resolve
from core.users import normalise_email
from infra.admin_auth import (
    COOKIE,
    GIS_CSRF,
    AdminAuth,
    AdminSession,
    SignInRefused,
    new_csrf_cookie,
)
from infra.dashboard_data import AGES, Filters, item_history, item_key, overview
from infra.firestore_store import FirestoreSettingsStore
from infra.sidebar import retry_patch

log = logging.getLogger("calsync.dashboard")
COOKIE_PATH = "/dashboard"  # the session goes to this function only, not to its neighbours
TEMPLATES = Path(__file__).resolve().parent / "templates"
DONE = {  # the only messages a redirect may ask the page to show
    "confirmed": "Held deletes released: they go ahead in the user's next session, queued now.",
    "stale": "The held deletes changed since the page was shown; check them again.",
    "retried": "Queued a new session that plans the item again.",
    "queued": "Queued a new session for the user.",
    "disabled": "User disabled: calsync no longer syncs their calendar.",
    "unknown": "No such user.",
}
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                   trim_blocks=True, lstrip_blocks=True)  # fmt: skip
# The catalogue's texts are markdown-ish: `setting` becomes <code>setting</code> (after escaping).
_env.filters["ticks"] = lambda text: Markup(
    re.sub(r"`([^`<>]+)`", r"<code>\1</code>", str(escape(text))))  # fmt: skip


@dataclass
class DashboardServices:
    store: FirestoreSettingsStore
    db: Any  # google.cloud.firestore.Client
    auth: AdminAuth | None  # None: no signing key configured, nobody can sign in
    queue: Callable[[], SessionQueue]
    calendar_for: Callable[[str], Any]  # infra.google_calendar.GoogleCalendar
    functions_url: str
    identity_url: str  # local stack only: the identity emulator's sign-in page
    client_id: str


class Dashboard:
    def __init__(self, services: DashboardServices, now: datetime):
        self.s = services
        self.now = now
        self.url = f"{services.functions_url}/dashboard"
        self.secure = services.functions_url.startswith("https://")

    def handle(self, request: Any) -> Response:
        if self.s.auth is None:
            log.error("dashboard refused: no signing key configured")
            return Response("", 503)
        if request.method == "POST" and request.args.get("login"):
            return self._login(request)
        admins = self._admins()
        try:
            session = self.s.auth.session(request.cookies.get(COOKIE, ""), admins, self.now)
        except SignInRefused as exc:
            if request.method != "GET":
                return Response("", exc.status)
            return self._signin_page(exc.status, request)
        if request.method == "POST":
            if not self.s.auth.check_csrf(session, request.form.get("csrf", "")):
                log.warning(
                    "dashboard POST without a valid CSRF token", extra={"user": session.email}
                )
                return Response("", 403)
            return self._act(session, request.form)
        if request.args.get("item") is not None:
            return self._item_page(session, request.args)
        return self._overview_page(session, request.args)

    # -- sign-in --------------------------------------------------------------------------------

    def _admins(self) -> tuple[str, ...]:
        settings, _ = resolve(self.s.store.org_settings())
        return settings.admins

    def _signin_page(self, status: int, request: Any) -> Response:
        csrf = request.cookies.get(GIS_CSRF) or new_csrf_cookie()
        login_uri = f"{self.url}?login=1"
        local = ""
        if self.s.identity_url:
            local = f"{self.s.identity_url}/signin?" + urlencode(
                {"client_id": self.s.client_id, "login_uri": login_uri, "state": csrf})  # fmt: skip
        html = _env.get_template("signin.html").render(
            status=status, client_id=self.s.client_id, login_uri=login_uri, local_signin=local,
            no_admins=not self._admins())  # fmt: skip
        response = Response(html, status, content_type="text/html; charset=utf-8")
        response.set_cookie(GIS_CSRF, csrf, httponly=False, secure=self.secure, samesite="Lax",
                            path="/")  # fmt: skip
        return _no_store(response)

    def _login(self, request: Any) -> Response:
        assert self.s.auth is not None
        try:
            session = self.s.auth.sign_in(
                request.form.get("credential", ""), request.form.get(GIS_CSRF, ""),
                request.cookies.get(GIS_CSRF, ""), self._admins(), self.now)  # fmt: skip
        except SignInRefused as exc:
            log.warning("dashboard sign-in refused: %s", exc)
            html = _env.get_template("refused.html").render(status=exc.status, url=self.url)
            return _no_store(Response(html, exc.status, content_type="text/html; charset=utf-8"))
        log.info("dashboard sign-in", extra={"user": session.email})
        response = Response("", 303, headers={"Location": self.url})
        response.set_cookie(COOKIE, session.cookie, max_age=int((session.expires - self.now)
                            .total_seconds()), httponly=True, secure=self.secure,
                            samesite="Lax", path=COOKIE_PATH)  # fmt: skip
        response.delete_cookie(GIS_CSRF, path="/")
        return response

    # -- pages ----------------------------------------------------------------------------------

    def _render(self, template: str, session: AdminSession, **values: Any) -> Response:
        assert self.s.auth is not None
        html = _env.get_template(template).render(
            admin=session.email, csrf=self.s.auth.csrf(session), url=self.url, now=self.now,
            catalogue=CATALOGUE, by_code=BY_CODE, ages=AGES, fmt=_fmt, **values)  # fmt: skip
        return _no_store(Response(html, 200, content_type="text/html; charset=utf-8"))

    def _overview_page(self, session: AdminSession, args: Any) -> Response:
        filters = Filters.from_args(args)
        view = overview(self.s.db, self.s.store.list_users(), filters, self.now)
        done = args.get("done", "")
        return self._render("dashboard.html", session, view=view, filters=filters,
                            back=urlencode(filters.query()), done=DONE.get(done, ""),
                            done_user=args.get("who", "") if done in DONE else "")  # fmt: skip

    def _item_page(self, session: AdminSession, args: Any) -> Response:
        try:
            user = normalise_email(args.get("user", ""))
        except ValueError:
            return Response("", 404)
        history = item_history(self.s.db, user, args.get("item", "")[:2000])
        return self._render("item.html", session, history=history)

    # -- actions (POST, CSRF-checked) -----------------------------------------------------------

    def _act(self, session: AdminSession, form: Any) -> Response:
        action = form.get("do", "")
        if action == "logout":
            response = Response("", 303, headers={"Location": self.url})
            response.delete_cookie(COOKIE, path=COOKIE_PATH)
            return response
        back = Filters.from_args(dict(parse_qsl(form.get("back", "")))).query()
        try:
            email = normalise_email(form.get("user", ""))
        except ValueError:
            return self._back(back, "unknown")
        user = self.s.store.get_user(email)
        if user is None:
            return self._back(back, "unknown")
        log.info("dashboard action", extra={"user": email, "action": action,
                                            "status": session.email})  # fmt: skip
        if action == "confirm":
            return self._back(back, self._confirm(email, user.state.held_id,
                                                  form.get("held_id", "")), email)  # fmt: skip
        if action == "retry":
            return self._back(back, self._retry(email, form.get("key", "")), email)
        if action == "disable":
            self._disable(user)
            return self._back(back, "disabled", email)
        return Response("", 400)

    def _back(self, filters: dict[str, str], done: str, who: str = "") -> Response:
        query = urlencode({**filters, "done": done, **({"who": who} if who else {})})
        return Response("", 303, headers={"Location": f"{self.url}?{query}"})

    def _confirm(self, email: str, held_id: str, shown: str) -> str:
        """R-37: release exactly the held set the admin was shown (shared-contracts.md)."""
        if not held_id or held_id != shown:
            return "stale"
        self.s.store.set_state_fields(email, {"deletes_release": held_id})
        self.s.queue().enqueue(email, self.now, reason="deletes confirmed")
        return "confirmed"

    def _retry(self, email: str, key: str) -> str:
        """Plan the item again: touch its copy like the sidebar's Retry, then queue."""
        if key:
            calendar = self.s.calendar_for(email)
            item = calendar.find(email, item_key(key))
            if item is not None:
                calendar.apply_labels([retry_patch(item, self.now)])
        self.s.queue().enqueue(email, self.now, reason="retry")
        return "retried" if key else "queued"

    def _disable(self, user: Any) -> None:
        """Stop syncing the user: disable them and stop their watch channel (best effort)."""
        self.s.store.disable_user(user.email)
        state = user.state
        if not state.channel_id:
            return
        try:
            self.s.calendar_for(user.email).stop(Channel(state.channel_id, state.channel_token,
                                                         state.channel_resource_id,
                                                         state.channel_expiration_ms))  # fmt: skip
        except Exception:  # the user is disabled either way; the webhook refuses their pushes
            log.exception("watch channel not stopped", extra={"user": user.email})
            return
        self.s.store.set_state_fields(user.email, {"channel_id": "", "channel_token": "",
                                                   "channel_resource_id": "",
                                                   "channel_expiration_ms": 0})  # fmt: skip


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def _fmt(moment: Any, with_time: bool = True) -> str:
    """A stored time as text in UTC ("-" when unknown)."""
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment)
        except ValueError:
            return moment or "-"
    if not isinstance(moment, datetime):
        return "-"
    moment = moment.astimezone(UTC) if moment.utcoffset() is not None else moment
    return moment.strftime("%Y-%m-%d %H:%M UTC" if with_time else "%Y-%m-%d")
