"""The local "Sign in with Google" page: an admin types an address and gets back to calsync's
dashboard with an ID token for it, posted the way Google Identity Services' redirect mode posts
it (`credential` and `g_csrf_token` to the page's `login_uri`).

It stands in for Google's sign-in on the local stack only: it asks for no password, so it must
never be reachable from anywhere but this machine (it only posts back to 127.0.0.1/localhost).
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlsplit


class Html(str):
    """A page, not a JSON document."""


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem}"
    "input{font-size:1rem;padding:.5rem;width:100%;box-sizing:border-box;margin:.3rem 0 1rem}"
    "button{font-size:1rem;padding:.5rem 1.2rem}.note{color:#555;font-size:.9rem}"
    ".problem{color:#b00020}"
)


def page(form: dict[str, str], problem: str = "") -> Html:
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{escape(form.get(name, ""))}">'
        for name in ("client_id", "login_uri", "state")
    )
    shown = f'<p class="problem" role="alert">{escape(problem)}</p>' if problem else ""
    return Html(
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>Sign in with Google (local stack)</title><style>{_STYLE}</style></head><body>"
        "<h1>Sign in with Google</h1>"
        '<p class="note">The local stack\'s stand-in for Google sign-in: it signs an ID token for '
        "the address you type, with the local stack's throwaway key. No password.</p>"
        f'{shown}<form method="post" action="/signin">{hidden}'
        '<label for="email">Email</label>'
        f'<input id="email" name="email" type="email" required value="{escape(form.get("email", ""))}">'
        '<button type="submit">Sign in</button></form></body></html>'
    )


def problem(form: dict[str, str]) -> str:
    """Why this sign-in cannot go ahead, "" when it can."""
    email = form.get("email", "").strip()
    local, at, domain = email.rpartition("@")
    if not at or not local or "." not in domain:
        return "Type an email address."
    if not form.get("client_id"):
        return "The page that sent you here named no OAuth client (client_id)."
    target = urlsplit(form.get("login_uri", ""))
    if target.scheme not in ("http", "https") or target.hostname not in ("127.0.0.1", "localhost"):
        return "The local sign-in only returns to pages on this machine (login_uri)."
    return ""


def post_back(login_uri: str, token: str, state: str) -> Html:
    """A page that posts the token to `login_uri` at once (and offers a button without JS)."""
    return Html(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Signing in…</title></head>"
        f'<body onload="document.forms[0].submit()"><form method="post" action="{escape(login_uri)}">'
        f'<input type="hidden" name="credential" value="{escape(token)}">'
        f'<input type="hidden" name="g_csrf_token" value="{escape(state)}">'
        '<noscript><button type="submit">Continue</button></noscript></form></body></html>'
    )
