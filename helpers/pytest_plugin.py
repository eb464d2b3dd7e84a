"""A pytest plugin: test your own Realtime client against the replay server, a twin of the services.

Installed with the package (entry point ``pytest11``), so any project that installs
``realtime-notebooks-helpers`` gets the fixture ``realtime_replay``: a replay server on port 0,
serving the cassettes of ``realtime_cassettes`` (override that fixture, or set
$REALTIME_CASSETTES; default: the shipped cassettes) at speed 0. Point your client at
``realtime_replay.url`` (``ws://127.0.0.1:PORT``; the service path is ``/v1/realtime``)::

    def test_my_client(realtime_replay):
        answer = my_client.ask(realtime_replay.url + "/v1/realtime?model=step-1o-audio&cassette=03_text_turn")
        assert answer == "..."

When the test body returns the server stops, and the test FAILS if any session left recorded responses
unconsumed, contradicted its cassette (a text-only session on a spoken recording ...), or got an
``error`` event the test did not declare with ``realtime_replay.expect_errors("code", ...)``:
a client that passes here sends nothing the live service would refuse.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .replay import BackgroundServer, default_cassettes, serve_in_background


class ReplayFixture:
    """A running replay server (`url`) and the refusals a test declared it expects."""

    def __init__(self, server: BackgroundServer):
        self.server = server
        self.url = server.url
        self._expected: set[str | None] = set()

    def expect_errors(self, *codes: str | None) -> None:
        """Declare error codes this test provokes on purpose (they do not fail it)."""
        self._expected.update(codes)

    @property
    def reports(self) -> list[dict]:
        """One summary per finished session (complete once the server has stopped)."""
        return list(self.server.reports)

    def problems(self) -> list[str]:
        """What makes the test fail: frames left unconsumed, contradictions, unexpected refusals."""
        found = []
        for report in self.reports:
            name = report.get("cassette")
            if report.get("responses_left"):
                found.append(f"cassette {name!r}: {report['responses_left']} recorded response(s) left unconsumed")
            found += [f"cassette {name!r}: {note}" for note in report.get("contradictions", [])]
            unexpected = [code for code in report.get("errors_sent", []) if code not in self._expected]
            if unexpected:
                found.append(f"cassette {name!r}: the server refused {unexpected} (declare expected ones with "
                             "realtime_replay.expect_errors(...))")
        return found


@pytest.fixture
def realtime_cassettes() -> Path:
    """The cassette folder `realtime_replay` serves: $REALTIME_CASSETTES or the shipped cassettes."""
    return default_cassettes()


@pytest.fixture
def realtime_replay(realtime_cassettes):
    """A replay server on port 0 for one test; fails the test on unconsumed frames or unexpected refusals."""
    server = serve_in_background(realtime_cassettes, speed=0, strict=True)
    try:
        yield ReplayFixture(server)
    finally:
        server.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """After a test that used `realtime_replay` passed: stop the server and fail the test on its problems."""
    result = yield
    fixture = getattr(item, "funcargs", {}).get("realtime_replay")
    if isinstance(fixture, ReplayFixture):
        fixture.server.stop()  # every session ends and reports
        problems = fixture.problems()
        if problems:
            pytest.fail("replay server: " + "; ".join(problems), pytrace=False)
    return result
