"""A local Salesforce REST API emulator that simple-salesforce can talk to unchanged (issue 4).

Start it with `python -m emulators.salesforce --port PORT`; see docs/emulators/salesforce.md.
"""
