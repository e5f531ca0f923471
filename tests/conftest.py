"""Shared pytest configuration: each emulator's fixtures live in their own module under tests/fixtures."""

pytest_plugins = [
    "tests.fixtures.firestore",
    "tests.fixtures.tasks",
    "tests.fixtures.calendar",
    "tests.fixtures.salesforce",
    "tests.fixtures.upsync",
    "tests.fixtures.receiver",
    "tests.fixtures.identity",
    "tests.fixtures.addon",
]
