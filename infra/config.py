"""One typed configuration, built from the environment; the local stack and production differ only in values."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


def local_env_path() -> Path:
    """Where `make up` writes the local stack's endpoints (CALSYNC_STATE_DIR moves it, for tests)."""
    state = (
        os.environ.get("CALSYNC_STATE_DIR") or Path(__file__).resolve().parent.parent / ".calsync"
    )
    return Path(state) / "local.env"


class ConfigError(ValueError):
    """The environment lacks or garbles a value; the message names the variable."""


# Variables that point calsync at local stand-ins or weaken a check: refused unless the stack is
# local (FIRESTORE_EMULATOR_HOST set), so that a stray one in production fails loudly.
LOCAL_ONLY = {
    "CALSYNC_GOOGLE_CERTS_URL": "ID tokens are checked against Google's own certificates",
    "CALSYNC_GOOGLE_AUTH_URL": "IAM Credentials and Google's OAuth server are Google's own",
    "CALSYNC_SF_SESSION_ID": "calsync logs in to Salesforce with the JWT bearer flow, never with "
    "a fixed session",
    "CALSYNC_SF_CA_CERT": "Salesforce's certificate is checked against the system's CAs",
    "CALSYNC_IDENTITY_URL": "admins sign in with Google",
}


@dataclass(frozen=True)
class Config:
    project: str
    firestore_database: str
    firestore_emulator_host: str  # empty in production
    calendar_url: str  # base of the Calendar API, ending in /calendar/v3/
    calendar_token_uri: str  # where service-account credentials get their tokens
    google_sa_key_secret: str  # Secret Manager name of the DWD key (production)
    sf_instance_url: str
    sf_login_url: str
    sf_ca_cert: str  # a CA file to trust (the local Salesforce emulator's certificate)
    sf_consumer_key: str
    sf_username: str
    sf_private_key_secret: str  # Secret Manager name of the connected app's key (production)
    sf_session_id: str  # a fixed session (local stack only: "dev")
    tasks_emulator_host: str  # empty in production
    tasks_location: str
    tasks_queue: str
    backfill_queue: str  # R-38: the queue of backfill slices; "" = the sessions' queue
    tasks_service_account: str  # OIDC identity of Cloud Tasks and Scheduler calls
    functions_url: str  # base URL of the HTTP functions (task targets, webhook address)
    shared_secret: str  # local stack only: stands in for OIDC on task and scheduler endpoints
    google_certs_url: (
        str  # where Google's ID-token certificates are (the identity emulator locally)
    )
    runtime_service_account: str = ""  # the account that signs domain-wide delegation (keyless)
    # local stack only: the identity emulator, standing in for IAM Credentials and Google's OAuth
    # server in calsync's credential calls (infra/google_http.py)
    google_auth_url: str = ""
    signing_key_secret: str = ""  # the key of the sidebar's choices and the dashboard's sessions
    addon_service_account: str = ""  # the add-on's service agent (its system ID tokens' email)
    addon_client_id: str = ""  # the add-on's OAuth client id (its user ID tokens' audience)
    dashboard_client_id: str = ""  # the OAuth client of the dashboard's Google sign-in
    identity_url: str = ""  # local stack only: the identity emulator (its sign-in page)

    @property
    def local(self) -> bool:
        return bool(self.firestore_emulator_host)

    @property
    def tasks_queue_path(self) -> str:
        return f"projects/{self.project}/locations/{self.tasks_location}/queues/{self.tasks_queue}"

    @property
    def backfill_queue_path(self) -> str:
        """R-38: backfill slices go to a queue of their own where one exists (Terraform makes
        one with few concurrent dispatches, so that backfills never crowd out the sessions)."""
        queue = self.backfill_queue or self.tasks_queue
        return f"projects/{self.project}/locations/{self.tasks_location}/queues/{queue}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env

        def get(name: str, default: str = "") -> str:
            return env.get(name, default).strip()

        project = get("GOOGLE_CLOUD_PROJECT") or get("GCLOUD_PROJECT")
        if not project:
            raise ConfigError(
                "GOOGLE_CLOUD_PROJECT is not set: name the Google Cloud project "
                "(or run `make up` to get a local stack in .calsync/local.env)"
            )
        calendar_url = get("CALSYNC_CALENDAR_URL", "https://www.googleapis.com/calendar/v3/")
        if not calendar_url.endswith("/calendar/v3/"):
            raise ConfigError(
                f"CALSYNC_CALENDAR_URL must end with /calendar/v3/ (got {calendar_url!r})"
            )
        if not get("FIRESTORE_EMULATOR_HOST"):
            for name, why in LOCAL_ONLY.items():
                if get(name):
                    raise ConfigError(
                        f"{name} is honoured on a local stack only (with FIRESTORE_EMULATOR_HOST): "
                        f"in production, {why}"
                    )
        certs_url = get("CALSYNC_GOOGLE_CERTS_URL")
        identity_url = get("CALSYNC_IDENTITY_URL").rstrip("/")
        return cls(
            project=project,
            firestore_database=get("CALSYNC_FIRESTORE_DATABASE", "(default)"),
            firestore_emulator_host=get("FIRESTORE_EMULATOR_HOST"),
            calendar_url=calendar_url,
            calendar_token_uri=get(
                "CALSYNC_CALENDAR_TOKEN_URI", "https://oauth2.googleapis.com/token"
            ),
            google_sa_key_secret=get("CALSYNC_GOOGLE_SA_KEY_SECRET"),
            sf_instance_url=get("CALSYNC_SF_INSTANCE_URL"),
            sf_login_url=get("CALSYNC_SF_LOGIN_URL", "https://login.salesforce.com"),
            sf_ca_cert=get("CALSYNC_SF_CA_CERT"),
            sf_consumer_key=get("CALSYNC_SF_CONSUMER_KEY"),
            sf_username=get("CALSYNC_SF_USERNAME"),
            sf_private_key_secret=get("CALSYNC_SF_PRIVATE_KEY_SECRET"),
            sf_session_id=get("CALSYNC_SF_SESSION_ID"),
            tasks_emulator_host=get("CALSYNC_TASKS_EMULATOR_HOST"),
            tasks_location=get("CALSYNC_TASKS_LOCATION", "us-central1"),
            tasks_queue=get("CALSYNC_TASKS_QUEUE", "calsync-sync"),
            backfill_queue=get("CALSYNC_BACKFILL_QUEUE"),
            tasks_service_account=get("CALSYNC_TASKS_SERVICE_ACCOUNT"),
            functions_url=get("CALSYNC_FUNCTIONS_URL").rstrip("/"),
            shared_secret=get("CALSYNC_SHARED_SECRET"),
            google_certs_url=certs_url or "https://www.googleapis.com/oauth2/v1/certs",
            runtime_service_account=get("CALSYNC_RUNTIME_SERVICE_ACCOUNT").lower(),
            google_auth_url=get("CALSYNC_GOOGLE_AUTH_URL").rstrip("/"),
            signing_key_secret=get("CALSYNC_SIGNING_KEY_SECRET"),
            addon_service_account=get("CALSYNC_ADDON_SERVICE_ACCOUNT").lower(),
            addon_client_id=get("CALSYNC_ADDON_CLIENT_ID"),
            dashboard_client_id=get("CALSYNC_DASHBOARD_CLIENT_ID"),
            identity_url=identity_url,
        )


def read_env_file(path: Path) -> dict[str, str]:
    """`KEY=value` lines; blank lines and # comments are skipped."""
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{path}:{number}: expected KEY=value")
        values[key.strip()] = value.strip()
    return values


def load_local_env(path: Path | None = None) -> bool:
    """Put the local stack's endpoints into os.environ when `make up` wrote them; True if it did."""
    path = path or local_env_path()
    if not path.exists():
        return False
    os.environ.update(read_env_file(path))
    return True
