"""The three ways a wait ends badly, and what their messages say."""

from __future__ import annotations

import pytest

from helpers.errors import RealtimeConnectionClosed, RealtimeServerError, RealtimeTimeout


def test_timeout_lists_what_arrived_meanwhile():
    error = RealtimeTimeout(["response.done"], 2.5, ["response.created", "delta", "delta"])
    assert str(error) == "no response.done within 2.5 s; received meanwhile: response.created, delta ×2"
    assert isinstance(error, TimeoutError) and error.seen == ["response.created", "delta", "delta"]
    assert str(RealtimeTimeout([], 1, [])) == "no any event within 1 s; received meanwhile: nothing"


def test_connection_closed_shows_code_reason_and_detail():
    assert str(RealtimeConnectionClosed(1001, "session expired")) == "connection closed (code 1001, reason 'session expired')"
    assert str(RealtimeConnectionClosed(1000, "", "cannot send")) == "connection closed (code 1000): cannot send"
    assert str(RealtimeConnectionClosed(None, "", "could not connect")) == "could not connect"
    assert isinstance(RealtimeConnectionClosed(), ConnectionError)


def test_server_error_reads_the_error_object():
    event = {"type": "error", "error": {"type": "invalid_request_error", "code": "bad", "message": "no"}}
    error = RealtimeServerError(event["error"], event)
    assert (error.code, error.message, str(error), error.event, error.raw) == ("bad", "no", "bad: no", event, event["error"])
    assert str(RealtimeServerError({"type": "server_error", "message": "boom"})) == "server_error: boom"


@pytest.mark.parametrize("payload, message", [
    ("plain text", "plain text"), (["a", 1], "['a', 1]"), (None, ""), (42, "42"), ({"message": ["x"]}, "['x']")])
def test_server_error_takes_any_payload_and_keeps_it_raw(payload, message):
    error = RealtimeServerError(payload, {"type": "error", "error": payload})
    assert error.raw == payload and error.message == message and error.code is None
    assert str(error) == f"error: {message}"
