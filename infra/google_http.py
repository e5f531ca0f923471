"""The HTTP transport google-auth uses for calsync's own credential calls (IAM signBlob, token
refreshes): google-auth's requests transport, which on a local stack delivers the calls meant for
IAM Credentials and Google's OAuth server to the identity emulator.

google-auth 2.63.0 builds these URLs itself. IAM's is `https://iamcredentials.{universe}/v1/
projects/-/serviceAccounts/{SA}:signBlob`, the universe being the credentials' universe domain
(googleapis.com; impersonated credentials refuse domain-wide delegation in any other universe),
and a user login's refresh always goes to https://oauth2.googleapis.com/token, whatever its file
says. No option moves either, so calsync moves the request instead: the URL google-auth built is
rewritten at the transport, only when CALSYNC_GOOGLE_AUTH_URL is set, which infra/config.py
allows on a local stack only. In production the transport is google-auth's, unchanged
(docs/emulators/google_identity.md).
"""

from __future__ import annotations

from typing import Any

import google.auth.transport.requests
import requests

from infra.config import Config

# Google's hosts that the identity emulator stands in for.
ROUTED_HOSTS = ("https://iamcredentials.googleapis.com", "https://oauth2.googleapis.com")


class RoutedRequest(google.auth.transport.requests.Request):
    """google-auth's transport, with some Google hosts mapped to a local stand-in."""

    def __init__(self, routes: dict[str, str]):
        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE must not replace the system's CAs
        super().__init__(session=session)
        self.routes = routes

    def __call__(self, url: str, method: str = "GET", *args: Any, **kwargs: Any) -> Any:
        for prefix, target in self.routes.items():
            if url.startswith(prefix + "/"):
                url = target + url[len(prefix) :]
                break
        return super().__call__(url, method, *args, **kwargs)


def google_request(config: Config) -> google.auth.transport.requests.Request:
    if config.google_auth_url:
        return RoutedRequest({host: config.google_auth_url for host in ROUTED_HOSTS})
    return google.auth.transport.requests.Request()
