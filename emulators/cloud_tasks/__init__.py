"""A local stand-in for Cloud Tasks (API v2) that speaks the REST protocol google-cloud-tasks uses
with `transport="rest"`, with the semantics calsync relies on: named tasks refused with
ALREADY_EXISTS while in use or recently used, schedule times, dispatch up to the queue's rate and
concurrency limits, retries with the queue's backoff for every answer outside 2xx, the dispatch
deadline, the `X-CloudTasks-*` headers, and an OIDC token on each request, obtained the way Cloud
Tasks obtains it: from IAM's generateIdToken (the identity emulator), as the Cloud Tasks service
agent. docs/emulators/cloud_tasks.md says what it enforces and what it leaves out.
"""
