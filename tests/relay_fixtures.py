"""Fixtures for the relay's tests: a replay server upstream and a clock moved by hand."""

from __future__ import annotations

import pytest

from helpers.replay import serve_in_background


class FakeClock:
    """A clock the test moves by hand, for idle expiry without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def upstream():
    """A replay server at speed 0 for the relay to talk to, one per test module."""
    with serve_in_background(speed=0) as server:
        yield server
