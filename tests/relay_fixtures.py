"""Fixtures for the relay's tests: a replay server upstream, a clock moved by hand, and one HTTP turn."""

from __future__ import annotations

import httpx
import pytest

from helpers import relay
from helpers.replay import serve_in_background
from tests.replay_fixtures import REPO

MEDIA = REPO / "media"


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


def http_client(server: relay.RelayServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=10)


def turn(http: httpx.Client, *, wav: str | None = None, text: str | None = None,
         conversation_id: str | None = None) -> tuple[httpx.Response, list[tuple[str, dict]]]:
    """Post one turn and read its whole SSE stream."""
    data = {k: v for k, v in (("text", text), ("conversation_id", conversation_id)) if v is not None}
    files = {"file": (wav, (MEDIA / wav).read_bytes(), "audio/wav")} if wav else None
    with http.stream("POST", "/process_audio", data=data, files=files) as response:
        if response.status_code != 200:
            response.read()
            return response, []
        events = list(relay.parse_sse(response.iter_lines()))
    return response, events


def of(events, name: str) -> list[dict]:
    return [data for kind, data in events if kind == name]
