"""Throwaway RSA keys and self-signed certificates for the local stack and the tests: the
Workspace service account (domain-wide delegation), the Salesforce connected app (JWT bearer) and
the issuer that stands in for Google's ID-token signing keys (emulators/google_identity), and
calsync's own signing key (sidebar choices, dashboard sessions: Secret Manager in production).

The emulators trust the certificates; calsync signs with the keys, exactly as in production.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path


def keypair(common_name: str) -> tuple[str, bytes]:
    """A new RSA key (PKCS#8 PEM text) and a self-signed certificate for it (PEM bytes)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return private_pem, cert.public_bytes(serialization.Encoding.PEM)


def service_account_info(
    email: str, private_pem: str, project: str = "calsync-local"
) -> dict[str, str]:
    """A service-account key file's JSON, as the Cloud console would download it."""
    return {
        "type": "service_account",
        "project_id": project,
        "private_key_id": "local-key-1",
        "private_key": private_pem,
        "client_email": email,
        "client_id": "1234567890",
        "token_uri": "https://oauth2.googleapis.com/token",
    }


def signing_key() -> str:
    """A new key for what calsync signs itself (the sidebar's choices, the dashboard's
    sessions): 32 random bytes, as text."""
    import secrets

    return secrets.token_urlsafe(32)


LOCAL_SERVICE_ACCOUNT = "calsync@calsync-local.iam.gserviceaccount.com"


def write_local_keys(
    directory: Path, google_account: str = LOCAL_SERVICE_ACCOUNT
) -> dict[str, Path]:
    """Write the key pairs into `directory` (mode 0700); return the files' paths by role.

    `google_account`'s key serves both ways of domain-wide delegation: as a JSON key file
    (`google_sa`, keyed mode) or as the key the identity emulator signs with for that account
    (`google_key`, keyless mode, where Google holds the key and calsync never sees it)."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    google_key, google_cert = keypair(google_account)
    sf_key, sf_cert = keypair("calsync-local-connected-app")
    issuer_key, issuer_cert = keypair("calsync-local-google-issuer")
    paths = {
        "google_sa": directory / "google-sa.json",
        "google_key": directory / "google-sa-managed-key.pem",
        "google_cert": directory / "google-sa-cert.pem",
        "sf_key": directory / "sf-app-key.pem",
        "sf_cert": directory / "sf-app-cert.pem",
        "issuer_key": directory / "google-issuer-key.pem",
        "issuer_cert": directory / "google-issuer-cert.pem",
        "signing_key": directory / "calsync-signing-key.txt",
    }
    info = service_account_info(google_account, google_key)
    paths["google_sa"].write_text(json.dumps(info))
    paths["google_key"].write_text(google_key)
    paths["google_cert"].write_bytes(google_cert)
    paths["sf_key"].write_text(sf_key)
    paths["sf_cert"].write_bytes(sf_cert)
    paths["issuer_key"].write_text(issuer_key)
    paths["issuer_cert"].write_bytes(issuer_cert)
    paths["signing_key"].write_text(signing_key())
    for path in paths.values():
        path.chmod(0o600)
    return paths
