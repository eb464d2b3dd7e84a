"""Bad input, both sides: the replay server answers any client frame with a documented error (or a
valid event) and stays usable; the client refuses bad arguments with clear errors.

Most examples drive the pure engine (`helpers.replay.engine.Session`); a few hundred go over a
real WebSocket to the server, where the same frames must get the same kind of answers.
"""

from __future__ import annotations

import base64
import functools
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

import helpers
from helpers import cassette, events as ev
from helpers.client import RealtimeClient
from helpers.replay import Library, Session, serve_in_background
from helpers.replay.server import MAX_FRAME_BYTES
from tests.replay_fixtures import Recorder, tone, url

# The error codes the engine documents (module docstring and the protocol reference §4.2).
DOCUMENTED_CODES = {
    "invalid_event", "invalid_json", "invalid_value", "invalid_type", "missing_required_parameter",
    "item_not_found", "input_audio_buffer_commit_empty", "conversation_already_has_active_response",
    "response_cancel_not_active", "no_recorded_response", "integer_below_min_value", "integer_above_max_value",
    "decimal_below_min_value", "decimal_above_max_value", "unknown_parameter", "cannot_update_voice",
}
TURNS = 40  # recorded responses: more than any fuzz sequence can use up
MODELS = {"beta": "step-1o-audio", "ga": "gpt-realtime"}


@functools.lru_cache(maxsize=None)
def _templates(dialect: str) -> list[dict]:
    """One valid event of every client type (several for the rich ones), in `dialect`."""
    audio = base64.b64encode(tone(120)).decode()
    vad = {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 100, "silence_duration_ms": 100}
    session = ev.session_config(dialect, instructions="Be brief.", output="audio", turn_detection=vad,
                                transcription={"model": "whisper-1"}, tools=[ev.function_tool("f", "d", {})])
    return [
        ev.session_update(session),
        ev.input_audio_append(audio), ev.input_audio_commit(), ev.input_audio_clear(),
        ev.user_text("hi"), ev.user_audio(audio), ev.assistant_text("earlier answer", dialect), ev.system_text("sys"),
        ev.item_create({"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}),
        ev.function_output("c1", {"ok": True}), ev.user_text("first", previous_item_id="root"),
        ev.item_retrieve("item_x"), ev.item_truncate("item_x", 100), ev.item_delete("item_x"),
        ev.response_create(instructions="again", modalities=["text"]), ev.response_cancel("resp_x"),
    ]


def _paths(value, prefix=()) -> list[tuple]:
    """Every key/index path inside a JSON value (the value itself is the empty path)."""
    out = [prefix]
    if isinstance(value, dict):
        for key, inner in value.items():
            out += _paths(inner, prefix + (key,))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            out += _paths(inner, prefix + (index,))
    return out


def _replace(value, path: tuple, new, delete: bool = False):
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    head, rest = path[0], path[1:]
    if rest:
        copy[head] = _replace(copy[head], rest, new, delete)
    elif delete:
        del copy[head]
    else:
        copy[head] = new
    return copy


_scalars = (st.none() | st.booleans() | st.integers() | st.integers(min_value=2**63) | st.floats()
            | st.text(max_size=12) | st.sampled_from(["", "root", "inf", "server_vad", "message", "user", "assistant",
                                                     "function_call", "input_audio", "audio", "text", "realtime",
                                                     "AAA", "not base64!", "QUJD=", "====", "\u202e\u0000\ufffd"]))
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=6) | st.sampled_from(["type", "id", "role", "content", "audio"]), inner, max_size=3),
    max_leaves=8)
# Raw texts JSON itself cannot say as Python values: lone surrogates, NaN, deep nesting, huge numbers.
_raw = st.sampled_from([
    '{"type": "\\ud800"}', '{"type": "conversation.item.retrieve", "item_id": "\\udfff", "event_id": "\\ud83d"}',
    '{"type": "response.create", "response": {"instructions": "\\ud800x"}}',
    '{"type": "conversation.item.truncate", "item_id": "a", "content_index": NaN, "audio_end_ms": Infinity}',
    "[" * 100_000 + "]" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000, "1" * 10_000, "", " ", "null", "[]",
    '"just a string"', "3.5", "{", '{"type": "session.update", "session": {"type": "realtime", "audio": "x"}}',
    '{"type": "input_audio_buffer.append", "audio": "' + "A" * 100 + '=="}',
])


@st.composite
def bad_frames(draw, dialect: str) -> str | bytes:
    """One adversarial client frame: a valid event with one field wrong, missing or added, or junk."""
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return draw(_raw)
    if choice == 1:
        return draw(st.binary(max_size=64))
    if choice == 2:
        return json.dumps(draw(_json))
    event = draw(st.sampled_from(_templates(dialect)))
    path = draw(st.sampled_from(_paths(event)[1:]))
    if choice == 3:
        event = _replace(event, path, None, delete=True)
    elif choice == 4:
        event = _replace(event, path, draw(st.sampled_from(["x" * 300_000, "\U0001f600" * 1000, "é\u0301" * 500])))
    else:
        event = _replace(event, path, draw(_json))
    if draw(st.booleans()):
        event = {**event, "event_id": draw(st.text(max_size=8) | _scalars)} if isinstance(event, dict) else event
    return json.dumps(event, ensure_ascii=draw(st.booleans()))


# Frames that once crashed the engine (found by the fuzz below), with the error code each gets now.
REGRESSIONS = [
    ("beta", '{"type": "\\ud800"}', "invalid_value"),  # echoed lone surrogate: no UTF-8 frame could carry it
    ("beta", "[" * 100_000 + "]" * 100_000, "invalid_json"),  # RecursionError in the JSON parser
    ("beta", '{"type": "conversation.item.create", "item": {"type": [], "role": "user", "content": []}}',
     "invalid_type"),
    ("beta", '{"type": "conversation.item.create", "item": {"type": "message", "role": "assistant", '
             '"content": [{"type": ["x"]}]}}', "invalid_type"),
    ("beta", '{"type": "conversation.item.create", "item": {"type": "function_call_output", "role": "user", '
             '"call_id": "c", "output": "o", "content": 5}}', "invalid_type"),  # refused whole, as live
    ("beta", '{"type": "input_audio_buffer.append", "audio": "\u00e9AAA"}', "invalid_value"),
    ("beta", '{"type": "session.update", "session": {"turn_detection": {"type": "server_vad", '
             '"prefix_padding_ms": "x"}}}', "invalid_type"),
    ("ga", '{"type": "session.update", "session": {"type": "realtime", "audio": "x"}}', "invalid_type"),
]
LOUD_APPEND = json.dumps(ev.input_audio_append(tone(300, amplitude=0.9)))


def check_answer(texts: list[str], frame) -> list[dict]:
    """Every answer is a JSON object with a type, sendable as a text frame; errors are documented."""
    answers = []
    for text in texts:
        text.encode("utf-8")  # a text frame must be valid UTF-8 (no lone surrogates)
        event = json.loads(text)
        assert isinstance(event, dict) and isinstance(event.get("type"), str) and event["type"], text[:200]
        if event["type"] == "error":
            error = event["error"]
            assert error["type"] == "invalid_request_error", error
            assert error["code"] in DOCUMENTED_CODES, (error, repr(frame)[:300])
            assert isinstance(error["message"], str) and error["message"], error
        answers.append(event)
    return answers


def text_turn_works(session: Session, now: float) -> None:
    """After anything, a normal text turn still gets its ack and a completed response."""
    session.receive(json.dumps(ev.response_cancel()), now)  # an answer VAD may have started is stopped
    session.receive(json.dumps(ev.user_text("still there?")), now)
    session.receive(json.dumps(ev.response_create()), now)
    answers = check_answer(session.poll(now + 60), "text turn")
    acks = [a for a in answers if a["type"] in ("conversation.item.created", "conversation.item.added")]
    assert any(a["item"].get("content", [{}])[0].get("text") == "still there?" for a in acks), answers
    assert [a["response"]["status"] for a in answers if a["type"] == "response.done"][-1] == "completed", answers
    assert session.close is None


@pytest.fixture(scope="module")
def fuzz_cassettes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz_cassettes")
    rec = Recorder("many_turns", "beta", "step-1o-audio")
    for n in range(1, TURNS + 1):
        rec.add("client", {"type": "response.create"})
        rec.response(n, words=(f"Answer {n}",))
    cassette.save(rec.cassette, folder / "many_turns.jsonl")
    return folder


@pytest.fixture(scope="module")
def recording(fuzz_cassettes):
    return Library(fuzz_cassettes).get("many_turns")


def _engine_session(recording, dialect: str) -> Session:
    from helpers.personas import persona_of_dialect
    from helpers.replay.engine import Options
    session = Session(recording, persona_of_dialect(dialect), model=MODELS[dialect], options=Options(speed=0),
                      available=["many_turns"])
    session.start(0.0)
    session.poll(0.0)
    return session


@pytest.mark.parametrize("dialect, frame, code", REGRESSIONS)
def test_engine_regressions(recording, dialect, frame, code):
    session = _engine_session(recording, dialect)
    session.receive(frame, 1.0)
    session.receive(LOUD_APPEND, 1.0)  # audio after a VAD update exercises the stored settings
    answers = check_answer(session.poll(1.0), frame)
    assert [a["error"]["code"] for a in answers if a["type"] == "error"][:1] == ([code] if code else [])
    text_turn_works(session, 2.0)


@pytest.mark.parametrize("dialect", ["beta", "ga"])
def test_engine_answers_bad_frames_and_stays_usable(recording, dialect):
    @settings(max_examples=1000, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.lists(bad_frames(dialect), min_size=1, max_size=4))
    def run(frames):
        session = _engine_session(recording, dialect)
        for n, frame in enumerate(frames, start=1):
            session.receive(frame, float(n))
            check_answer(session.poll(float(n)), frame)
        text_turn_works(session, float(len(frames) + 1))

    run()


# -- over a real WebSocket -------------------------------------------------------------

@pytest.fixture(scope="module")
def server(fuzz_cassettes):
    with serve_in_background(fuzz_cassettes, speed=0) as running:
        yield running


def _until_barrier(ws, barrier: str) -> list[dict]:
    """Receive until the error that answers the barrier event (a retrieve of an unknown item)."""
    out = []
    while True:
        event = json.loads(ws.recv(timeout=10))
        if event["type"] == "error" and event["error"].get("event_id") == barrier:
            return out
        out.append(event)


def _socket_turn_works(ws) -> None:
    ws.send(json.dumps(ev.response_cancel()))
    ws.send(json.dumps(ev.user_text("still there?")))
    ws.send(json.dumps(ev.response_create()))
    kinds = []
    while not kinds or kinds[-1] != "response.done":
        event = json.loads(ws.recv(timeout=10))
        kinds.append(event["type"])
        if event["type"] == "response.done":
            assert event["response"]["status"] == "completed"
    assert any(k in ("conversation.item.created", "conversation.item.added") for k in kinds)


@pytest.mark.parametrize("dialect", ["beta", "ga"])
def test_server_answers_bad_frames_on_one_socket(server, dialect):
    with ws_connect(url(server.url, MODELS[dialect], cassette="many_turns", speed=0, dialect=dialect),
                    max_size=None) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "session.created"
        counter = iter(range(1_000_000))
        for regression in [frame for kind, frame, _ in REGRESSIONS if kind == dialect]:
            ws.send(regression)
            ws.send(json.dumps({"type": "conversation.item.retrieve", "item_id": "none", "event_id": "barrier"}))
            check_answer([json.dumps(e) for e in _until_barrier(ws, "barrier")], regression)

        @settings(max_examples=250, deadline=None, database=None, derandomize=True,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(bad_frames(dialect))
        def run(frame):
            barrier = f"barrier_{next(counter)}"
            ws.send(frame)
            ws.send(json.dumps({"type": "conversation.item.retrieve", "item_id": "no_such_item", "event_id": barrier}))
            check_answer([json.dumps(e) for e in _until_barrier(ws, barrier)], frame)

        run()
        _socket_turn_works(ws)  # the same socket, after every frame above


def test_frame_near_the_limit_is_answered_and_one_above_closes_1009(server):
    near = json.dumps(ev.input_audio_append("A" * (MAX_FRAME_BYTES - 1024)))
    with ws_connect(url(server.url, cassette="many_turns", speed=0), max_size=None) as ws:
        ws.recv(timeout=10)
        ws.send(near)
        error = json.loads(ws.recv(timeout=30))
        assert (error["type"], error["error"]["param"]) == ("error", "audio") and "15 MiB" in error["error"]["message"]
        _socket_turn_works(ws)
        ws.send(b"x" * (MAX_FRAME_BYTES + 1))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=30)
        assert closed.value.rcvd.code == 1009  # "message too big", the WebSocket protocol's own answer
    with ws_connect(url(server.url, cassette="many_turns", speed=0)) as ws:  # the server serves on
        ws.recv(timeout=10)
        _socket_turn_works(ws)


# -- the client refuses bad arguments ---------------------------------------------------

@pytest.fixture(scope="module")
def client(server):
    with helpers.connect("replay", url=server.url, cassette="many_turns", speed=0, log=False) as c:
        c.wait_for("session.created", timeout=10)
        yield c


@pytest.mark.parametrize("event, error, words", [
    ("response.create", TypeError, "event dict, not str"),
    ([("type", "response.create")], TypeError, "event dict, not list"),
    (None, TypeError, "event dict, not NoneType"),
    ({}, ValueError, "non-empty string 'type'"),
    ({"type": ""}, ValueError, "non-empty string 'type'"),
    ({"type": 5}, ValueError, "non-empty string 'type'"),
    ({"type": "response.create", "response": {"temperature": math.nan}}, ValueError, "not JSON-serialisable"),
    ({"type": "response.create", "response": {"temperature": math.inf}}, ValueError, "not JSON-serialisable"),
    ({"type": "input_audio_buffer.append", "audio": b"raw"}, TypeError, "not JSON-serialisable"),
    ({"type": "response.create", "response": {(1, 2): "tuple key"}}, TypeError, "not JSON-serialisable"),
    ({"type": "response.create", "response": {"x": object()}}, TypeError, "not JSON-serialisable"),
])
def test_client_send_refuses_bad_events(client, event, error, words):
    sent = len(client.history)
    with pytest.raises(error, match=words):
        client.send(event)
    assert len(client.history) == sent  # nothing was recorded as sent
    assert client.send(ev.input_audio_clear())["type"] == "input_audio_buffer.clear"
    assert client.wait_for("input_audio_buffer.cleared", timeout=10)


@pytest.mark.parametrize("kwargs, error, words", [
    ({"timeout": "5"}, TypeError, "timeout must be a number of seconds"),
    ({"timeout": None}, TypeError, "timeout must be a number of seconds"),
    ({"timeout": True}, TypeError, "timeout must be a number of seconds"),
    ({"timeout": -1}, ValueError, "timeout must be a finite number of seconds >= 0"),
    ({"timeout": math.nan}, ValueError, "timeout must be a finite number of seconds >= 0"),
    ({"timeout": math.inf}, ValueError, "timeout must be a finite number of seconds >= 0"),
    ({"where": "response.done"}, TypeError, "where must be a callable"),
    ({"where": 5}, TypeError, "where must be a callable"),
])
def test_client_wait_for_refuses_bad_arguments(client, kwargs, error, words):
    with pytest.raises(error, match=words):
        client.wait_for("response.done", **kwargs)
    if "timeout" in kwargs:
        with pytest.raises(error, match=words):
            next(client.stream(timeout=kwargs["timeout"]))


@pytest.mark.parametrize("types", [(5,), (None,), (["response.done"],), ("",)])
def test_client_wait_for_refuses_bad_types(client, types):
    with pytest.raises((TypeError, ValueError), match="event types are non-empty strings"):
        client.wait_for(*types, timeout=1)


def test_client_wait_for_zero_timeout_is_a_quick_timeout(client):
    with pytest.raises(helpers.RealtimeTimeout, match="no response.done within 0 s"):
        client.wait_for("response.done", timeout=0)


@pytest.mark.parametrize("kwargs, error, words", [
    ({"provider": "nope"}, ValueError, "nope"),
    ({"dialect": "gamma"}, ValueError, "gamma"),
    ({"timeout": 0}, ValueError, "timeout must be a finite number of seconds > 0"),
    ({"timeout": "10"}, TypeError, "timeout must be a number of seconds"),
    ({"timeout": math.nan}, ValueError, "timeout must be a finite number of seconds > 0"),
    ({"record": True}, ValueError, "record=True needs a cassette name"),
])
def test_connect_refuses_bad_options(server, kwargs, error, words):
    options = {"provider": "replay", "url": server.url, "log": False, **kwargs}
    with pytest.raises(error, match=words):
        helpers.connect(**options)


def test_connect_with_a_bad_replay_option_gets_the_servers_error(server):
    with pytest.raises(helpers.RealtimeServerError, match="speed") as raised:
        helpers.connect("replay", url=server.url, cassette="many_turns", speed="fast", log=False)
    assert raised.value.code == "invalid_value"


@pytest.mark.parametrize("kwargs, error, words", [
    ({"ping_interval": -1}, ValueError, "ping_interval must be a finite number of seconds > 0"),
    ({"ping_interval": "20"}, TypeError, "ping_interval must be a number of seconds"),
    ({"headers": "Authorization: Bearer x"}, TypeError, "headers must be a list of 'Name: value' strings"),
    ({"headers": [("Authorization", "x")]}, TypeError, "headers must be a list of 'Name: value' strings"),
])
def test_client_constructor_refuses_bad_options(server, kwargs, error, words):
    with pytest.raises(error, match=words):
        RealtimeClient(url(server.url, cassette="many_turns"), **kwargs)
