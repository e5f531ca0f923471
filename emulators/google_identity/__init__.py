"""A local stand-in for Google's identity services: the OAuth2 certificates that ID-token
verifiers fetch; the IAM Credentials API (generateIdToken for Cloud Tasks, Cloud Scheduler and the
add-on framework; signBlob, signJwt and generateAccessToken for keyless domain-wide delegation
and impersonation); the metadata server's identity of the instance calsync runs on; and the
OAuth refresh-token grant behind a user's application-default login.

ID tokens are RS256 JWTs with `iss` = https://accounts.google.com, signed by a throwaway issuer
key (emulators/keys.py); service accounts sign with throwaway "Google-managed" keys. calsync
verifies and signs with google-auth exactly as in production; only endpoints differ
(docs/emulators/google_identity.md).
"""
