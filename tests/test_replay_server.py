"""The replay CLI and server as a whole: startup, HTTP, admission, dialects, faults, concurrency."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.error
import urllib.request
import uuid

import pytest
import websockets
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from helpers.replay import serve_in_background
from helpers.secrets import masked
from tests.replay_fixtures import events_until, start_cli, stop_cli, url


def http(base: str, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(base.replace("ws://", "http://") + path, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def refused(address: str, **kw) -> tuple[dict, int, str]:
    """Connect, expect one error event then a close: (error object, close code, close reason)."""
    with connect(address, **kw) as ws:
        event = json.loads(ws.recv(timeout=5))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert event["type"] == "error"
    return event["error"], closed.value.rcvd.code, closed.value.rcvd.reason


def test_cli_prints_url_serves_health_and_both_paths(cli):
    base, _ = cli
    assert base.startswith("ws://127.0.0.1:")
    assert http(base, "/health") == (200, "ok\n")
    assert http(base, "/elsewhere")[0] == 404
    for path in ("/v1/realtime", "/realtime"):
        with connect(f"{base}{path}?model=step-1o-audio&cassette=text_turn") as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "session.created"


def test_subprotocol_realtime_is_echoed(cli):
    base, _ = cli
    with connect(url(base), subprotocols=["realtime", "openai-beta.realtime-v1"]) as ws:
        assert ws.subprotocol == "realtime"
    with connect(url(base)) as ws:
        assert ws.subprotocol is None


def test_any_bearer_key_is_accepted_and_required_key_is_checked(cassette_dir):
    with (serve_in_background(cassette_dir) as open_server,
          connect(url(open_server.url), additional_headers={"Authorization": "Bearer anything"}) as ws):
        assert json.loads(ws.recv(timeout=5))["type"] == "session.created"
    secret = "sk-right-key-0123456789abcdef"
    with serve_in_background(cassette_dir, require_key=secret) as locked:
        assert secret not in repr(locked) and secret not in repr(locked._server.options)
        wrong = "sk-wrong-key-0123456789abcdef"
        error, code, reason = refused(url(locked.url), additional_headers={"Authorization": f"Bearer {wrong}"})
        assert (error["code"], code, reason) == ("invalid_api_key", 3000, "invalid_request_error.invalid_api_key")
        assert error["message"].startswith(f"Incorrect API key provided: {masked(wrong)}.")
        assert "cdef" not in error["message"] and "sk-" not in error["message"]  # nothing of the key, not even its end
        error, code, _ = refused(url(locked.url))
        assert (error["message"], code) == ("Missing bearer or basic authentication in header", 3000)
        with connect(url(locked.url), additional_headers={"Authorization": f"Bearer {secret}"}) as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "session.created"


def test_model_and_cassette_admission_errors(cli):
    base, _ = cli
    error, code, _ = refused(f"{base}/v1/realtime?cassette=text_turn")
    assert (error["code"], code) == ("missing_model", 4000)
    error, code, _ = refused(url(base, "llama-3"))
    assert (error["code"], code) == ("invalid_model", 4000) and "llama-3" in error["message"]
    error, code, _ = refused(url(base, cassette="nope"))
    assert (error["code"], code) == ("cassette_not_found", 4000)
    assert "text_turn" in error["message"] and "two_turns" in error["message"]  # lists what is available
    error, code, _ = refused(url(base, speed="fast"))
    assert (error["code"], error["param"], code) == ("invalid_value", "speed", 4000)


@pytest.mark.parametrize("model, headers, query, dialect", [
    ("step-1o-audio", {}, {}, "beta"),
    ("gpt-realtime", {}, {}, "ga"),
    ("gpt-4o-realtime-preview", {}, {"dialect": "beta"}, "beta"),  # the retired 2024 beta, asked for explicitly
    ("step-1o-audio", {"OpenAI-Beta": "realtime=v1"}, {}, "beta"),  # StepFun ignores the header ([UNCONFIRMED])
])
def test_dialect_per_connection(cli, model, headers, query, dialect):
    base, _ = cli
    with connect(url(base, model, cassette="text_turn", speed="0", **query), additional_headers=headers) as ws:
        session = json.loads(ws.recv(timeout=5))["session"]
        assert ("type" in session) == (dialect == "ga")
        ws.send(json.dumps({"type": "response.create"}))
        kinds = [e["type"] for e in events_until(ws, "response.done")]
        assert ("response.text.delta" in kinds) == (dialect == "beta")
        assert ("response.output_text.delta" in kinds) == (dialect == "ga")


def test_fault_close_after_n_events(cli):
    base, _ = cli
    with connect(url(base, cassette="text_turn", speed="0", close_after="4")) as ws:
        ws.send(json.dumps({"type": "response.create"}))
        received = []
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                received.append(ws.recv(timeout=5))
        assert len(received) == 4 and closed.value.rcvd.code == 1011


def test_fault_session_expiry(cli):
    base, _ = cli
    start = time.monotonic()
    with connect(url(base, cassette="text_turn", expire_after="0.3")) as ws:
        ws.recv(timeout=5)
        error = json.loads(ws.recv(timeout=5))
        assert error["error"]["code"] == "session_expired" and time.monotonic() - start >= 0.3
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd.code == 1001


def test_fault_latency_and_seeded_jitter(cli):
    base, _ = cli

    def first_answer_delay() -> float:
        with connect(url(base, cassette="text_turn", speed="0", latency_ms="150", jitter_ms="100")) as ws:
            ws.recv(timeout=5)
            start = time.monotonic()
            ws.send(json.dumps({"type": "input_audio_buffer.clear"}))
            ws.recv(timeout=5)
            return time.monotonic() - start

    first, second = first_answer_delay(), first_answer_delay()
    assert first >= 0.15 and second >= 0.15
    assert abs(first - second) < 0.05  # the jitter is seeded: each session draws the same delays


def test_many_sessions_each_with_its_own_state(cli):
    base, _ = cli

    async def one(n: int) -> str:
        async with websockets.connect(url(base, cassette="two_turns", speed="0")) as ws:
            await ws.recv()
            await ws.send(json.dumps({"type": "conversation.item.create", "item": {
                "type": "message", "role": "user", "content": [{"type": "input_text", "text": f"n{n}"}]}}))
            item = json.loads(await ws.recv())["item"]
            assert uuid.UUID(item["id"]).version == 4  # StepFun: bare UUIDs
            await ws.send(json.dumps({"type": "conversation.item.retrieve", "item_id": item["id"]}))
            retrieved = json.loads(await ws.recv())
            return retrieved["item"]["content"][0]["text"]

    async def main():
        return await asyncio.wait_for(asyncio.gather(*(one(n) for n in range(50))), 20)

    assert asyncio.run(main()) == [f"n{n}" for n in range(50)]


def test_cli_strict_report_on_stderr_and_clean_exit(cassette_dir):
    proc = start_cli(cassette_dir, "--strict")
    with connect(url(proc.url, cassette="two_turns", speed="0")) as ws:
        ws.recv(timeout=5)
    assert http(proc.url, "/health")[0] == 200  # still serving after the session ended
    code, err = stop_cli(proc)
    assert code == 0
    assert "strict:" in err and "two_turns" in err and "2 recorded response(s) left unconsumed" in err


def test_cli_stops_on_sigint(cassette_dir):
    proc = start_cli(cassette_dir)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 0


def test_debug_logs_never_hold_the_key(caplog):
    import logging

    import helpers
    from helpers.replay import serve_in_background

    key = "sk-test-LOGLEAK0123456789abcdef"
    with (caplog.at_level(logging.DEBUG), serve_in_background(speed=0) as server,
          helpers.connect("replay", url=server.url, api_key=key, log=False) as client):
        client.wait_for("session.created", timeout=5)
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "Authorization" in text  # the handshake was logged ...
    assert key not in text          # ... without the key


def test_the_server_keeps_a_bounded_number_of_reports(cassette_dir, monkeypatch):
    from helpers.replay import serve_in_background
    from helpers.replay import server as server_module

    monkeypatch.setattr(server_module.ReplayServer, "MAX_REPORTS", 3)
    with serve_in_background(cassette_dir, speed=0) as server:
        for _ in range(5):
            with connect(url(server.url, cassette="text_turn", speed="0")) as ws:
                ws.recv(timeout=5)
    assert [r["cassette"] for r in server.reports] == ["text_turn"] * 3
