"""A local stand-in for Google's identity services: the OAuth2 certificates that ID-token
verifiers fetch, and the IAM Credentials API's `generateIdToken` that Cloud Tasks, Cloud
Scheduler and the Workspace add-on framework use to sign calls to calsync.

Tokens are RS256 JWTs with `iss` = https://accounts.google.com, signed by a throwaway issuer key
(emulators/keys.py); calsync verifies them with google-auth exactly as in production, only the
certificates URL differs (CALSYNC_GOOGLE_CERTS_URL, honoured on a local stack only).
"""
