"""Issue 12's acceptance, persona by persona, over a real WebSocket to the replay server on port 0.

Each refusal class gets its code and `param`, the session stays usable, and nothing of a refused
update is applied; GA defaults echo the requested model; StepFun frames have the captured shapes
(seed 000); text-only and no-tools sessions are honoured; the beta header is refused on GA and
the legacy beta works when asked for; hostile numbers and nesting become error events.
"""

from __future__ import annotations

import json
import re
import uuid

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from helpers import cassette
from helpers.personas import OPENAI_VOICES, PERSONAS, persona_for
from helpers.replay import provenance
from tests.replay_fixtures import Recorder, b64, events_until, tone, url

ITEM = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]}
MODELS = {"stepfun": "step-1o-audio", "openai": "gpt-realtime"}


class Conn:
    """A plain websockets client: send dicts, receive events."""

    def __init__(self, base: str, model: str, cassette_name: str | None = "text_turn", headers=None, **query):
        self.ws = connect(url(base, model, cassette=cassette_name, speed="0", **query),
                          additional_headers=headers or {}, max_queue=None)
        self.created = self.recv()

    def send(self, event: dict) -> None:
        self.ws.send(json.dumps(event))

    def recv(self) -> dict:
        return json.loads(self.ws.recv(timeout=5))

    def until(self, *types: str) -> list[dict]:
        return events_until(self.ws, *types)

    def update(self, session: dict) -> dict:
        self.send({"type": "session.update", "session": session})
        return self.recv()

    def refused(self, event: dict) -> dict:
        self.send(dict(event, event_id="probe"))
        answer = self.recv()
        assert answer["type"] == "error", answer
        assert answer["error"]["event_id"] == "probe"
        return answer["error"]


@pytest.fixture
def conn(replay, cassette_dir):
    opened = []

    def make(model: str, cassette_name: str | None = "text_turn", **kw) -> Conn:
        opened.append(Conn(replay.url, model, cassette_name, **kw))
        return opened[-1]

    yield make
    for c in opened:
        c.ws.close()


def _ga(session: dict) -> dict:
    return {"type": "realtime", **session}


# (persona, bad session fields, code, param): the session.update refusal classes
SESSION_REFUSALS = [
    ("openai", {"bogus_field": 1}, "unknown_parameter", "session.bogus_field"),
    ("openai", {"tools": [{"type": "function", "name": "f", "meta": 1}]}, "unknown_parameter", "session.tools[0].meta"),
    ("openai", {"modalities": ["text"]}, "unknown_parameter", "session.modalities"),
    ("openai", {"input_audio_transcription": {"model": "whisper-1"}}, "unknown_parameter",
     "session.input_audio_transcription"),
    ("openai", {"instructions": 5}, "invalid_type", "session.instructions"),
    ("openai", {"audio": {"input": {"format": "pcm16"}}}, "invalid_type", "session.audio.input.format"),
    ("openai", {"audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}}}, "integer_below_min_value",
     "session.audio.input.format.rate"),
    ("openai", {"audio": {"output": {"voice": "linjiajiejie"}}}, "invalid_value", "session.audio.output.voice"),
    ("openai", {"audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 10 ** 400}}}},
     "decimal_above_max_value", "session.audio.input.turn_detection.threshold"),
    ("openai", {"audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 1.5}}}},
     "decimal_above_max_value", "session.audio.input.turn_detection.threshold"),
    ("openai", {"max_output_tokens": 0}, "integer_below_min_value", "session.max_output_tokens"),
    ("stepfun", {"bogus_field": 1}, "unknown_parameter", "session.bogus_field"),
    ("stepfun", {"instructions": 5}, "invalid_type", "session.instructions"),
    ("stepfun", {"temperature": 2.0}, "decimal_above_max_value", "session.temperature"),
    ("stepfun", {"input_audio_format": "pcm24"}, "invalid_value", "session.input_audio_format"),
    ("stepfun", {"turn_detection": {"type": "server_vad", "energy_awakeness_threshold": 9000}},
     "integer_above_max_value", "session.turn_detection.energy_awakeness_threshold"),
    ("stepfun", {"turn_detection": {"type": "server_vad", "prefix_padding_ms": "x"}}, "invalid_type",
     "session.turn_detection.prefix_padding_ms"),
    ("stepfun", {"tools": [{"type": "function", "function": {"name": "f"}, "meta": 1}]}, "unknown_parameter",
     "session.tools[0].meta"),
]


@pytest.mark.parametrize("persona, bad, code, param", SESSION_REFUSALS)
def test_session_update_refused_whole_with_code_and_param(conn, persona, bad, code, param):
    c = conn(MODELS[persona])
    wrap = _ga if persona == "openai" else dict
    error = c.refused({"type": "session.update", "session": wrap({"instructions": "APPLIED?", **bad})
                       if "instructions" not in bad else wrap(bad)})
    assert (error["code"], error["param"], error["type"]) == (code, param, "invalid_request_error"), error
    session = c.update(wrap({}))["session"]  # the session goes on, and nothing of the refused update was applied
    assert session.get("instructions", "") != "APPLIED?"
    assert json.dumps(session) == json.dumps(c.created["session"])


def test_nan_is_refused_as_invalid_json_not_echoed(conn):
    c = conn("step-1o-audio")
    c.ws.send('{"type": "session.update", "session": {"temperature": NaN}}')
    error = c.recv()["error"]
    assert error["code"] == "invalid_json" and "NaN" in error["message"]
    assert "NaN" not in json.dumps(c.update({})["session"])


def test_deep_nesting_and_huge_numbers_become_errors_and_the_session_goes_on(conn):
    c = conn("gpt-realtime")
    deep = {"type": "realtime", "instructions": "x"}
    for _ in range(600):
        deep = {"a": deep}
    assert c.refused({"type": "session.update", "session": deep})["code"] == "invalid_event"
    c.ws.send('{"type": "session.update", "session": {"type": "realtime", "max_output_tokens": 1' + "0" * 400 + "}}")
    assert c.recv()["error"]["code"] == "integer_above_max_value"
    c.send({"type": "conversation.item.create", "item": ITEM})
    assert c.recv()["type"] == "conversation.item.added"


def test_ga_response_create_with_beta_modalities_is_refused(conn):
    c = conn("gpt-realtime")
    error = c.refused({"type": "response.create", "response": {"modalities": ["text"]}})
    assert (error["code"], error["param"]) == ("unknown_parameter", "response.modalities")
    c.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
    assert c.until("response.done")[-1]["response"]["status"] == "completed"


@pytest.mark.parametrize("persona", ["stepfun", "openai"])
def test_item_refusals(conn, persona):
    c = conn(MODELS[persona])
    error = c.refused({"type": "conversation.item.create", "item": dict(ITEM, role="bot")})
    assert (error["code"], error["param"]) == ("invalid_value", "item.role")
    for role in ("user", "assistant", "system"):
        assert f"'{role}'" in error["message"]
    error = c.refused({"type": "conversation.item.create",
                       "item": {"type": "function_call_output", "call_id": "call_never", "output": "{}"}})
    assert (error["code"], error["param"]) == ("invalid_value", "item.call_id")
    c.send({"type": "conversation.item.create", "item": ITEM})
    user = c.until("conversation.item.created", "conversation.item.done")[-1]["item"]["id"]
    error = c.refused({"type": "conversation.item.truncate", "item_id": user, "content_index": 0, "audio_end_ms": 10})
    assert (error["code"], error["param"]) == ("invalid_value", "content_index")


@pytest.mark.parametrize("persona", ["stepfun", "openai"])
def test_truncating_a_text_only_answer_is_refused(conn, persona):
    c = conn(MODELS[persona])
    c.send({"type": "response.create"})
    done = c.until("response.done")[-1]["response"]
    if persona == "openai":
        assert c.recv()["type"] == "rate_limits.updated"
    item = done["output"][0]["id"]
    error = c.refused({"type": "conversation.item.truncate", "item_id": item, "content_index": 0, "audio_end_ms": 0})
    assert (error["code"], error["param"]) == ("invalid_value", "content_index")


@pytest.mark.parametrize("persona", ["stepfun", "openai"])
def test_voice_cannot_change_after_audio(conn, persona):
    c = conn(MODELS[persona], "audio_turn")
    voice = {"stepfun": {"voice": "qingchunshaonv"}, "openai": {"audio": {"output": {"voice": "cedar"}}}}[persona]
    wrap = _ga if persona == "openai" else dict
    assert c.update(wrap(voice))["type"] == "session.updated"  # before any audio: allowed
    c.send({"type": "response.create"})
    events = c.until("response.done")
    assert any(e["type"].endswith("audio.delta") for e in events)
    if persona == "openai":
        assert c.recv()["type"] == "rate_limits.updated"
    other = {"stepfun": {"voice": "jingdiannvsheng"}, "openai": {"audio": {"output": {"voice": "marin"}}}}[persona]
    error = c.refused({"type": "session.update", "session": wrap(other)})
    param = {"stepfun": "session.voice", "openai": "session.audio.output.voice"}[persona]
    assert (error["code"], error["param"]) == ("cannot_update_voice", param)


def test_ga_defaults_echo_the_requested_model(conn):
    c = conn("gpt-realtime-2", None)
    session = c.created["session"]
    assert session["model"] == "gpt-realtime-2" and re.fullmatch(r"sess_[A-Za-z0-9]{21}", session["id"])
    assert session["audio"]["output"]["voice"] in OPENAI_VOICES
    assert session["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    assert session["max_output_tokens"] == "inf"
    for key in ("tracing", "prompt", "truncation", "include", "expires_at"):
        assert key in session
    c.send({"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"],
                                                  "audio": {"input": {"turn_detection": None}}}})
    c.recv()
    c.send({"type": "conversation.item.create", "item": ITEM})
    c.send({"type": "response.create"})


def test_ga_response_frames(conn):
    c = conn("gpt-realtime", "audio_turn")
    c.update(_ga({"audio": {"input": {"turn_detection": None}, "output": {"voice": "cedar"}}}))
    c.send({"type": "response.create"})
    events = c.until("response.done")
    events.append(c.recv())
    assert events[-1]["type"] == "rate_limits.updated"
    assert [r["name"] for r in events[-1]["rate_limits"]] == ["tokens"]  # live GA: no requests entry
    assert all(re.fullmatch(r"event_[A-Za-z0-9]+", e["event_id"]) for e in events)  # OpenAI's id format
    for event in events:
        if event["type"] in ("response.output_audio_transcript.delta",):
            assert isinstance(event["obfuscation"], str)
        if event["type"] in ("response.created", "response.done"):
            assert event["response"]["audio"]["output"]["voice"] == "cedar"  # the session's voice
            assert event["response"]["conversation_id"].startswith("conv_")


def test_stepfun_frames_have_the_captured_shapes(conn):
    c = conn("step-1o-audio", "audio_turn")
    session = c.created["session"]
    assert re.fullmatch(r"[0-9a-f]{32}", session["id"])
    assert session == {"id": session["id"], "object": "realtime.session", "model": "step-1o-audio",
                       "modalities": ["text", "audio"], "voice": "jingdiannvsheng", "input_audio_format": "pcm16",
                       "output_audio_format": "pcm16", "volume_ratio": 1}
    c.send({"type": "conversation.item.create", "item": ITEM})
    user = c.recv()
    assert user["item"]["content"] == [{"type": "text", "text": "Hi"}] and user["item"]["status"] == "in_progress"
    c.send({"type": "response.create"})
    events = c.until("response.done")
    by_type = {}
    for event in events:
        by_type.setdefault(event["type"], event)
        assert uuid.UUID(event["event_id"]).version == 4
    assert set(by_type["response.created"]["response"]) == {"id", "object", "status", "output"}
    assert uuid.UUID(by_type["response.created"]["response"]["id"]).version == 4
    assert "content" not in by_type["response.output_item.added"]["item"]
    assert by_type["response.content_part.added"]["part"] == {"type": "audio", "audio": "", "transcript": ""}
    assert set(by_type["response.done"]["response"]) == {"id", "object", "status", "output", "usage"}
    assert "rate_limits.updated" not in by_type
    c.send({"type": "input_audio_buffer.clear"})
    assert c.recv()["type"] == "input_audio_buffer.cleared"  # no rate_limits.updated came in between


@pytest.mark.parametrize("persona", ["stepfun", "openai"])
def test_text_only_session_gets_the_answer_as_text(conn, persona):
    c = conn(MODELS[persona], "audio_turn")
    c.update({"modalities": ["text"]} if persona == "stepfun" else _ga({"output_modalities": ["text"]}))
    c.send({"type": "response.create"})
    events = c.until("response.done")
    kinds = [e["type"] for e in events]
    assert not any("audio" in kind for kind in kinds), kinds
    text = "".join(e["delta"] for e in events if e["type"] in ("response.text.delta", "response.output_text.delta"))
    assert text == "Hello there!"
    part = events[-1]["response"]["output"][0]["content"][0]
    assert part["type"] in ("text", "output_text") and part["text"] == "Hello there!"


@pytest.fixture(scope="module")
def tool_cassettes(tmp_path_factory):
    """A recorded answer that speaks, then calls a function."""
    folder = tmp_path_factory.mktemp("tools")
    rec = Recorder("tool_call", "beta", "step-1o-audio")
    rec.add("client", {"type": "response.create"})
    rid = "resp_tool0000000000000001"
    response = {"id": rid, "object": "realtime.response", "status": "in_progress", "output": [], "usage": None}
    call = {"id": "item_call000000000000001", "object": "realtime.item", "type": "function_call",
            "status": "in_progress", "name": "get_weather", "call_id": "call_1", "arguments": ""}
    final = dict(call, status="completed", arguments='{"city": "Paris"}')
    for event in [{"type": "response.created", "response": response},
                  {"type": "response.output_item.added", "response_id": rid, "output_index": 0, "item": call},
                  {"type": "conversation.item.created", "previous_item_id": None, "item": call},
                  {"type": "response.function_call_arguments.delta", "response_id": rid, "item_id": call["id"],
                   "output_index": 0, "call_id": "call_1", "delta": '{"city": "Paris"}'},
                  {"type": "response.function_call_arguments.done", "response_id": rid, "item_id": call["id"],
                   "output_index": 0, "call_id": "call_1", "arguments": '{"city": "Paris"}'},
                  {"type": "response.output_item.done", "response_id": rid, "output_index": 0, "item": final},
                  {"type": "response.done", "response": dict(response, status="completed", output=[final],
                                                             usage={"total_tokens": 5, "input_tokens": 3,
                                                                    "output_tokens": 2})}]:
        event["event_id"] = f"event_tool{len(rec.cassette.frames):017d}"
        rec.add("server", event)
    cassette.save(rec.cassette, folder / "tool_call.jsonl")
    return folder


@pytest.mark.parametrize("model", ["step-1o-audio", "gpt-realtime"])
def test_no_tools_session_gets_no_function_call(tool_cassettes, model):
    from helpers.replay import serve_in_background
    with serve_in_background(tool_cassettes, speed=0, strict=True) as server:
        with connect(url(server.url, model, cassette="tool_call")) as ws:
            ws.recv(timeout=5)
            ws.send(json.dumps({"type": "response.create"}))
            events = events_until(ws, "response.done")
            assert not any("function_call" in e["type"] for e in events)
            assert events[-1]["response"]["output"] == []  # what it gets instead: the response, without the call
    report = server.reports[-1]
    assert not report["ok"] and "get_weather" in report["message"] and "no tools" in report["message"]
    with serve_in_background(tool_cassettes, speed=0, strict=True) as server:
        with connect(url(server.url, model, cassette="tool_call")) as ws:
            ws.recv(timeout=5)
            tool = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}
            session = {"tools": [tool]} if model.startswith("step") else {"type": "realtime", "tools": [tool]}
            ws.send(json.dumps({"type": "session.update", "session": session}))
            ws.send(json.dumps({"type": "response.create"}))
            events = events_until(ws, "response.done")
            call = next(e for e in events if e["type"] == "response.function_call_arguments.done")
            ws.send(json.dumps({"type": "conversation.item.create", "item": {
                "type": "function_call_output", "call_id": call["call_id"], "output": "{}"}}))
            assert json.loads(ws.recv(timeout=5))["type"] in ("conversation.item.created", "conversation.item.added")
    assert server.reports[-1]["ok"]


def test_beta_header_on_openai_is_refused_and_legacy_beta_works_on_request(replay):
    with connect(url(replay.url, "gpt-realtime", cassette="text_turn"),
                 additional_headers={"OpenAI-Beta": "realtime=v1"}) as ws:
        error = json.loads(ws.recv(timeout=5))
        assert (error["type"], error["error"]["code"]) == ("error", "beta_api_shape_disabled")
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd.code == 4000
    with connect(url(replay.url, "gpt-4o-realtime-preview", cassette="text_turn", dialect="beta", speed="0"),
                 additional_headers={"OpenAI-Beta": "realtime=v1"}) as ws:
        session = json.loads(ws.recv(timeout=5))["session"]
        assert session["id"].startswith("sess_") and session["voice"] == "alloy" and "expires_at" in session
        ws.send(json.dumps({"type": "response.create"}))
        kinds = [e["type"] for e in events_until(ws, "response.done")]
        assert "response.text.delta" in kinds


def test_model_to_persona_rule():
    assert persona_for("step-audio-2").name == persona_for("stepaudio-2.5-realtime").name == "stepfun"
    assert persona_for("gpt-realtime").name == "openai"
    assert persona_for("gpt-realtime", dialect="beta").name == "openai-beta"
    with pytest.raises(ValueError):
        persona_for("claude-voice")
    assert PERSONAS["stepfun"].new_id("item", "x") == PERSONAS["stepfun"].new_id("item", "x")  # deterministic


def test_cassette_not_found_does_not_reveal_the_folder(replay, cassette_dir):
    with connect(url(replay.url, cassette="nope" * 80)) as ws:
        error = json.loads(ws.recv(timeout=5))["error"]
    assert error["code"] == "cassette_not_found" and str(cassette_dir) not in error["message"]
    assert "text_turn" in error["message"]


def test_provenance_of_a_shipped_cassette():
    info = provenance("01_connect")
    assert info["kind"] == "synthesized" and info["speech"].startswith("espeak-ng")
    with pytest.raises(FileNotFoundError):
        provenance("no_such_cassette")


def test_audio_append_still_counts_after_refusals(conn):
    c = conn("step-1o-audio", None)
    c.refused({"type": "session.update", "session": {"bogus": True}})
    c.send({"type": "input_audio_buffer.append", "audio": b64(tone(150))})
    c.send({"type": "input_audio_buffer.commit"})
    assert c.recv()["type"] == "input_audio_buffer.committed"
