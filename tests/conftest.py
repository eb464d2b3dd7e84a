"""Shared pytest fixtures for every test file: tests/replay_fixtures.py and tests/relay_fixtures.py."""

pytest_plugins = ["tests.replay_fixtures", "tests.relay_fixtures"]
