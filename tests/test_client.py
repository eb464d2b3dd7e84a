"""The notebook client against real WebSocket servers on port 0."""

from __future__ import annotations

import json
import socket
import threading
import time
from http import HTTPStatus

import pytest

from helpers import cassette
from helpers.client import RealtimeClient
from helpers.errors import RealtimeConnectionClosed, RealtimeServerError, RealtimeTimeout
from tests.wsserver import ws_server

FAKE_KEY = "sk-test-FAKEKEY0123456789abcdef"


async def scripted(conn):
    """session.created, then answers: echo.me -> echo; fail.me -> error; close.me -> close 1001;
    flood -> N numbered events; audio.me -> a GA audio delta then response.done."""
    await conn.send(json.dumps({"type": "session.created", "event_id": "e0", "session": {"id": "s1"}}))
    async for text in conn:
        event = json.loads(text)
        kind = event["type"]
        if kind == "echo.me":
            await conn.send(json.dumps({"type": "echo", "event_id": "e1", "got": event}))
        elif kind == "fail.me":
            await conn.send(json.dumps({"type": "noise", "event_id": "e2"}))
            await conn.send(json.dumps({"type": "error", "event_id": "e3", "error": {
                "type": "invalid_request_error", "code": "bad_thing", "message": "that was bad",
                "event_id": event.get("event_id")}}))
        elif kind == "close.me":
            await conn.send(json.dumps({"type": "noise", "event_id": "e4"}))
            await conn.close(1001, "session expired")
            return
        elif kind == "flood":
            for n in range(event["count"]):
                await conn.send(f'{{"type":"tick","n":{n}}}')
        elif kind == "audio.me":
            for _ in range(3):
                await conn.send(json.dumps({"type": "response.output_audio_transcript.delta", "delta": "hi "}))
                await conn.send(json.dumps({"type": "response.output_audio.delta", "delta": "AAAA"}))
            await conn.send(json.dumps({"type": "response.done", "response": {"status": "completed"}}))


@pytest.fixture
def server_url():
    with ws_server(scripted) as url:
        yield url


@pytest.fixture
def client(server_url, tmp_path):
    with RealtimeClient(server_url, provider="test", log_dir=tmp_path / "log") as c:
        yield c


def test_first_event_is_session_created(client):
    event = client.wait_for("session.created", timeout=5)
    assert event["session"] == {"id": "s1"}
    assert client.session == {"id": "s1"}


def test_send_adds_event_id_and_returns_event(client):
    sent = client.send({"type": "echo.me", "x": 1})
    assert sent["event_id"].startswith("evt_")
    echo = client.wait_for("echo", timeout=5)
    assert echo["got"] == sent
    kept = client.send({"type": "echo.me", "event_id": "mine"})
    assert kept["event_id"] == "mine"


def test_timeout_raises_within_bound_and_lists_what_arrived(client):
    client.send({"type": "echo.me"})
    start = time.monotonic()
    with pytest.raises(RealtimeTimeout) as info:
        client.wait_for("never.comes", timeout=0.3)
    elapsed = time.monotonic() - start
    assert 0.3 <= elapsed < 1.5
    assert info.value.seen == ["session.created", "echo"]
    assert "never.comes" in str(info.value) and "echo" in str(info.value)
    assert isinstance(info.value, TimeoutError)


def test_close_raises_at_once_in_a_blocked_waiter(client):
    client.wait_for("session.created", timeout=5)
    raised = {}

    def waiter():
        start = time.monotonic()
        try:
            client.wait_for("never.comes", timeout=30)
        except RealtimeConnectionClosed as exc:
            raised["exc"], raised["elapsed"] = exc, time.monotonic() - start

    thread = threading.Thread(target=waiter)
    thread.start()
    client.send({"type": "close.me"})
    thread.join(10)
    assert not thread.is_alive()
    assert raised["elapsed"] < 5
    assert raised["exc"].code == 1001 and raised["exc"].reason == "session expired"
    with pytest.raises(RealtimeConnectionClosed):  # and every later wait, immediately
        client.wait_for("anything", timeout=30)
    with pytest.raises(RealtimeConnectionClosed):
        client.send({"type": "echo.me"})


def test_server_error_raises_with_the_error_object(client):
    sent = client.send({"type": "fail.me"})
    with pytest.raises(RealtimeServerError) as info:
        client.wait_for("never.comes", timeout=5)
    assert info.value.code == "bad_thing"
    assert info.value.error["event_id"] == sent["event_id"]
    client.send({"type": "echo.me"})  # errors are not fatal
    assert client.wait_for("echo", timeout=5)["type"] == "echo"


def test_waiting_for_error_returns_it(client):
    client.send({"type": "fail.me"})
    assert client.wait_for("error", timeout=5)["error"]["code"] == "bad_thing"


def test_where_filters(client):
    client.send({"type": "echo.me", "n": 1})
    client.send({"type": "echo.me", "n": 2})
    event = client.wait_for("echo", timeout=5, where=lambda e: e["got"]["n"] == 2)
    assert event["got"]["n"] == 2


def test_names_match_across_dialects_and_stream_stops_after_done(client):
    client.send({"type": "audio.me"})
    first = client.wait_for("response.audio.delta", timeout=5)  # beta name, GA event
    assert first["type"] == "response.output_audio.delta"
    rest = list(client.stream(until="response.done", timeout=5))
    assert [e["type"] for e in rest][-1] == "response.done"
    assert len(rest) == 5
    only = [e for e in rest if e["type"].endswith("transcript.delta")]
    assert len(only) == 2


def test_stream_types_filter(client):
    client.send({"type": "audio.me"})
    got = list(client.stream(types=("response.audio.delta",), timeout=5))
    assert [e["type"] for e in got] == ["response.output_audio.delta"] * 3 + ["response.done"]


def test_send_refuses_bad_input_clearly(client):
    with pytest.raises(TypeError, match="event dict"):
        client.send("response.create")
    with pytest.raises(ValueError, match="type"):
        client.send({"item": {}})
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        client.send({"type": "x", "data": {1, 2}})
    with pytest.raises(ValueError, match="not JSON-serialisable"):
        client.send({"type": "x", "value": float("nan")})
    assert [f.source for f in client.history].count("client") == 0  # nothing half-sent


def test_100k_events_in_order_none_lost(client):
    client.wait_for("session.created", timeout=5)
    count = 100_000
    client.send({"type": "flood", "count": count})
    numbers = [client.wait_for("tick", timeout=10)["n"] for _ in range(count)]
    assert numbers == list(range(count))
    times = [f.t for f in client.history]
    assert times == sorted(times)


def test_history_and_log_keep_every_frame(server_url, tmp_path):
    with RealtimeClient(server_url, provider="test", log_dir=tmp_path) as c:
        c.wait_for("session.created", timeout=5)
        c.send({"type": "audio.me"})
        c.wait_for("response.done", timeout=5)
    kinds = [(f.source, f.event["type"]) for f in c.history]
    assert kinds[:2] == [("server", "session.created"), ("client", "audio.me")]
    assert kinds[-1] == ("server", "response.done")
    lines = [json.loads(text) for text in next(tmp_path.glob("*.jsonl")).read_text().splitlines()]
    assert [line["event"]["type"] for line in lines if "event" in line] == [k for _, k in kinds]
    assert lines[-1]["close"]["code"] is not None
    audio = [line["event"]["delta"] for line in lines if "event" in line and line["event"]["type"].endswith("audio.delta")]
    assert audio == ["<4 base64 chars>"] * 3


def test_close_leaves_no_thread_or_socket(server_url):
    before = {t.ident for t in threading.enumerate()}
    clients = [RealtimeClient(server_url, provider="test") for _ in range(5)]
    for c in clients:
        c.wait_for("session.created", timeout=5)
    for c in clients:
        c.close()
        c.close()  # idempotent
    leftover = [t for t in threading.enumerate() if t.ident not in before and t.is_alive()]
    assert leftover == []
    assert all(c.closed for c in clients)
    assert all(c._socket.sock is None or c._socket.sock._closed for c in clients)


def test_server_initiated_close_releases_the_socket(client):
    client.send({"type": "close.me"})
    with pytest.raises(RealtimeConnectionClosed):
        client.wait_for("never.comes", timeout=5)
    raw = client._socket.sock
    assert raw is None or raw._closed


def test_refused_connection_says_what_to_check():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(RealtimeConnectionClosed, match="refused"):
        RealtimeClient(f"ws://127.0.0.1:{port}/v1/realtime", timeout=5)


def test_unknown_host_says_what_to_check():
    with pytest.raises(RealtimeConnectionClosed, match="^could not connect .*did not resolve"):
        RealtimeClient("ws://realtime.nonexistent.invalid/v1/realtime", timeout=10)


@pytest.mark.parametrize("status", [HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN])
def test_handshake_rejection_points_at_the_key(status):
    def reject(conn, request):
        return conn.respond(status, "no\n")

    with ws_server(scripted, process_request=reject) as url, pytest.raises(RealtimeConnectionClosed, match="API key") as info:
        RealtimeClient(url + "/v1/realtime?model=m",
                       headers=[f"Authorization: Bearer {FAKE_KEY}"], secrets=(FAKE_KEY,), timeout=5)
    assert FAKE_KEY not in str(info.value)


def test_key_never_reaches_log_cassette_history_or_repr(tmp_path):
    async def leaky(conn):  # a server that echoes the key back must not get it logged
        await conn.send(json.dumps({"type": "session.created", "echo": conn.request.headers["Authorization"]}))
        async for text in conn:
            await conn.send(text)

    with ws_server(leaky) as url:
        record = tmp_path / "rec.jsonl"
        with RealtimeClient(url + f"/v1/realtime?model=m&api_key={FAKE_KEY}", provider="test",
                            headers=[f"Authorization: Bearer {FAKE_KEY}"], log_dir=tmp_path / "log",
                            record=record, secrets=(FAKE_KEY,)) as c:
            c.wait_for("session.created", timeout=5)
            c.send({"type": "echo.me", "note": "hello"})
            c.wait_for("echo.me", timeout=5)
            text_repr = repr(c)
    assert FAKE_KEY not in text_repr
    for path in [record, *(tmp_path / "log").glob("*")]:
        assert FAKE_KEY not in path.read_text(), path
    loaded = cassette.load(record)
    assert loaded.meta["provenance"]["kind"] == "recorded"
    assert [f.source for f in loaded.frames][-1] == "server" and loaded.frames[-1].close is not None


async def malformed(conn):
    """Sends an error event whose payload is the JSON the client asked for, or a frame nested 200,000 deep."""
    async for text in conn:
        event = json.loads(text)
        if event["type"] == "deep.me":
            await conn.send("[" * 200_000 + "]" * 200_000)
            await conn.send(json.dumps({"type": "after.deep"}))
        else:
            await conn.send(json.dumps({"type": "error", "error": event["payload"]}))


@pytest.mark.parametrize("payload", ["a plain string", ["a", "list"], None, 7, {"code": ["odd"], "message": 3}])
def test_a_malformed_error_event_raises_server_error_carrying_the_raw_payload(payload):
    with ws_server(malformed) as url, RealtimeClient(url, provider="test") as c:
        c.send({"type": "say", "payload": payload})
        with pytest.raises(RealtimeServerError) as caught:
            c.wait_for("response.done", timeout=5)
        assert caught.value.raw == payload
        assert caught.value.event == {"type": "error", "error": payload}
        c.send({"type": "say", "payload": payload})
        assert c.wait_for("error", timeout=5)["error"] == payload  # the session goes on


def test_a_frame_too_deep_to_parse_is_recorded_in_history_as_such():
    with ws_server(malformed) as url, RealtimeClient(url, provider="test") as c:
        c.send({"type": "deep.me"})
        invalid = c.wait_for("invalid_json", timeout=10)
        assert invalid["reason"] == "nested too deep to parse" and invalid["size"] == 400_000
        assert c.wait_for("after.deep", timeout=5)
        assert [f.event["type"] for f in c.history if f.source == "server"] == ["invalid_json", "after.deep"]


@pytest.fixture
def proxy():
    """A TCP listener standing in for an HTTP proxy: it records the first line of each request and refuses."""
    listener = socket.create_server(("127.0.0.1", 0))
    requests: list[str] = []

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                requests.append(conn.recv(4096).decode("latin-1").split("\r\n")[0])
                conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", requests
    listener.close()
    thread.join(5)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_connections_never_go_through_the_proxy(proxy, monkeypatch, server_url, host):
    proxy_url, requests = proxy
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.setenv(name, proxy_url)
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with RealtimeClient(server_url.replace("127.0.0.1", host), provider="test") as c:
        assert c.wait_for("session.created", timeout=5)
    assert requests == []


def test_remote_connections_keep_honouring_the_proxy(proxy, monkeypatch):
    proxy_url, requests = proxy
    monkeypatch.setenv("http_proxy", proxy_url)
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(RealtimeConnectionClosed):
        RealtimeClient("ws://realtime.example.com/v1/realtime", provider="test", timeout=5)
    assert requests == ["CONNECT realtime.example.com:80 HTTP/1.1"]
