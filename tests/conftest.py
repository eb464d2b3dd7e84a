"""Shared pytest fixtures: the replay-server fixtures of tests/replay_fixtures.py for every test file."""

pytest_plugins = ["tests.replay_fixtures"]
