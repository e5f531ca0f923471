"""The HTTP transport google-auth uses for calsync's own credential calls (IAM signBlob, token
refreshes): google-auth's requests transport, which on a local stack delivers IAM Credentials
calls to the identity emulator.

google-auth 2.63.0 builds the IAM URL itself: `https://iamcredentials.{universe}/v1/projects/-/
serviceAccounts/{SA}:signBlob`, the universe being the credentials' universe domain
(googleapis.com; impersonated credentials refuse domain-wide delegation in any other universe).
No option moves it, so calsync moves the request instead: the URL google-auth built is rewritten
at the transport, only when CALSYNC_IAM_URL is set, which infra/config.py allows on a local stack
only. In production the transport is google-auth's, unchanged (docs/emulators/google_identity.md).
"""

from __future__ import annotations

from typing import Any

import google.auth.transport.requests
import requests

from infra.config import Config

IAM_CREDENTIALS = "https://iamcredentials.googleapis.com"


class RoutedRequest(google.auth.transport.requests.Request):
    """google-auth's transport, with Google API hosts mapped to local stand-ins."""

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
    if config.iam_url:
        return RoutedRequest({IAM_CREDENTIALS: config.iam_url})
    return google.auth.transport.requests.Request()
