"""Google Calendar API v3 emulator: an in-memory HTTP server that google-api-python-client talks to.

Start it with `python -m emulators.google_calendar --port PORT`; see docs/emulators/google_calendar.md.
"""
