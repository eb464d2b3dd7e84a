"""Issue #3 item 3, bullet by bullet, over a real WebSocket to the in-process replay server."""

from __future__ import annotations

import base64
import json
import queue
import re
import time

import pytest
from websockets.sync.client import connect

from helpers.replay import serve_in_background
from tests.replay_fixtures import b64, events_until, silence, tone, url

ITEM = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]}


class Client:
    """A plain `websockets` client that sends dicts and receives events."""

    def __init__(self, server, cassette: str | None = "text_turn", model: str = "step-1o-audio", **query):
        self.ws = connect(url(server.url, model, cassette=cassette, **query), max_queue=None)  # never stall on close
        self.created = self.recv()
        assert self.created["type"] == "session.created"

    def send(self, event: dict) -> None:
        self.ws.send(json.dumps(event))

    def recv(self, timeout: float = 5.0) -> dict:
        return json.loads(self.ws.recv(timeout=timeout))

    def until(self, *types: str, timeout: float = 5.0) -> list[dict]:
        return events_until(self.ws, *types, timeout=timeout)

    def error(self, event: dict | str | bytes) -> dict:
        if isinstance(event, dict):
            self.send(event)
        else:
            self.ws.send(event)
        answer = self.recv()
        assert answer["type"] == "error", answer
        return answer["error"]

    def alive(self) -> None:
        """The session still answers after an error."""
        self.send({"type": "input_audio_buffer.clear"})
        assert self.recv()["type"] == "input_audio_buffer.cleared"

    def close(self) -> None:
        self.ws.close()


@pytest.fixture
def client(replay):
    opened = []

    def make(*args, **kw) -> Client:
        opened.append(Client(replay, *args, **kw))
        return opened[-1]

    yield make
    for c in opened:
        c.close()


# -- session -----------------------------------------------------------------------------

def test_session_created_then_update_returns_full_merged_session(client):
    beta = client("text_turn")
    created = beta.created["session"]
    assert re.fullmatch(r"[0-9a-f]{32}", created["id"]) and created["voice"] == "jingdiannvsheng"  # StepFun's
    beta.send({"type": "session.update", "session": {"instructions": "Be kind", "turn_detection": {"type": "server_vad"}}})
    session = beta.recv()["session"]
    assert session["instructions"] == "Be kind" and session["voice"] == "jingdiannvsheng"
    assert session["turn_detection"] == {"type": "server_vad", "prefix_padding_ms": 500, "silence_duration_ms": 100,
                                         "energy_awakeness_threshold": 2500}
    ga = client("text_turn", model="gpt-realtime")
    assert ga.created["session"]["type"] == "realtime" and ga.created["session"]["audio"]["output"]["voice"] == "alloy"
    error = ga.error({"type": "session.update", "session": {"instructions": "x"}, "event_id": "e1"})
    assert (error["code"], error["param"], error["event_id"]) == ("missing_required_parameter", "session.type", "e1")
    ga.send({"type": "session.update", "session": {"type": "realtime", "audio": {"output": {"voice": "cedar"}}}})
    session = ga.recv()["session"]
    assert session["audio"]["output"] == {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "cedar", "speed": 1.0}


def test_session_defaults_per_persona(client):
    beta = client(None)
    assert "turn_detection" not in beta.created["session"]  # StepFun's capture: no turn_detection key, VAD off
    ga = client(None, model="gpt-realtime")
    assert ga.created["session"]["audio"]["input"]["turn_detection"]["type"] == "server_vad"


# -- items -------------------------------------------------------------------------------

def test_item_create_acks_with_previous_item_id(client):
    beta = client(None)
    beta.send({"type": "conversation.item.create", "item": ITEM})
    first = beta.recv()
    assert first["type"] == "conversation.item.created" and first.get("previous_item_id") is None
    beta.send({"type": "conversation.item.create", "item": ITEM})
    second = beta.recv()
    assert second["previous_item_id"] == first["item"]["id"]
    beta.send({"type": "conversation.item.create", "item": dict(ITEM, id="item_mine"), "previous_item_id": "root"})
    assert beta.recv().get("previous_item_id") is None
    beta.send({"type": "conversation.item.create", "item": ITEM, "previous_item_id": "item_mine"})
    assert beta.recv()["previous_item_id"] == "item_mine"
    error = beta.error({"type": "conversation.item.create", "item": ITEM, "previous_item_id": "item_nope"})
    assert error["param"] == "previous_item_id" and "item_nope" in error["message"]
    ga = client(None, model="gpt-realtime")
    ga.send({"type": "conversation.item.create", "item": ITEM})
    added, done = ga.recv(), ga.recv()
    assert (added["type"], done["type"]) == ("conversation.item.added", "conversation.item.done")
    assert added["item"]["id"] == done["item"]["id"] and added["item"]["status"] == "completed"


def test_item_retrieve_and_delete_use_the_live_item_list(client):
    c = client(None)
    c.send({"type": "conversation.item.create", "item": ITEM})
    item_id = c.recv()["item"]["id"]
    c.send({"type": "conversation.item.retrieve", "item_id": item_id})
    retrieved = c.recv()
    assert retrieved["type"] == "conversation.item.retrieved" and retrieved["item"]["content"][0]["text"] == "Hi"
    c.send({"type": "conversation.item.delete", "item_id": item_id, "event_id": "del"})
    deleted = c.recv()
    assert (deleted["type"], deleted["item_id"]) == ("conversation.item.deleted", item_id)
    for kind in ("conversation.item.retrieve", "conversation.item.delete"):
        error = c.error({"type": kind, "item_id": item_id, "event_id": "again"})
        assert error["code"] == "item_not_found" and item_id in error["message"] and error["event_id"] == "again"


# -- input audio buffer ------------------------------------------------------------------

def test_input_buffer_accounting(client):
    c = client(None)
    c.send({"type": "input_audio_buffer.append", "audio": b64(silence(60))})
    error = c.error({"type": "input_audio_buffer.commit"})
    assert error["code"] == "input_audio_buffer_commit_empty"
    assert error["message"] == ("Error committing input audio buffer: buffer too small. Expected at least 100ms of "
                                "audio, but buffer only has 60.00ms of audio.")
    c.send({"type": "input_audio_buffer.append", "audio": b64(silence(60))})  # appends accumulate: 120 ms
    c.send({"type": "input_audio_buffer.commit"})
    committed, created = c.recv(), c.recv()
    assert committed["type"] == "input_audio_buffer.committed" and created["item"]["id"] == committed["item_id"]
    assert created["item"]["content"] == [{"type": "input_audio", "transcript": None}]
    c.send({"type": "input_audio_buffer.append", "audio": b64(silence(200))})
    c.send({"type": "input_audio_buffer.clear"})
    assert c.recv()["type"] == "input_audio_buffer.cleared"
    assert "0.00ms" in c.error({"type": "input_audio_buffer.commit"})["message"]


def test_append_limits_and_bad_audio(client):
    c = client(None)
    error = c.error({"type": "input_audio_buffer.append", "audio": "A" * (15 * 1024 * 1024 + 4), "event_id": "big"})
    assert error["param"] == "audio" and "15 MiB" in error["message"] and error["event_id"] == "big"
    error = c.error({"type": "input_audio_buffer.append", "audio": "not base64!"})
    assert error["param"] == "audio" and "base64" in error["message"]
    c.alive()


# -- responses ---------------------------------------------------------------------------

def test_response_streams_at_recorded_pace_times_speed(client):
    def run(speed: str) -> float:
        c = client("long_audio", speed=speed)
        start = time.monotonic()
        c.send({"type": "response.create"})
        events = c.until("response.done")
        assert sum(e["type"] == "response.audio.delta" for e in events) == 20
        return time.monotonic() - start

    recorded = 0.05 + 0.05 * 30  # first frame after 50 ms, then 30 frames 50 ms apart
    assert recorded / 2 * 0.95 <= run("2") <= recorded / 2 + 0.3
    assert recorded / 4 * 0.95 <= run("4") <= recorded / 4 + 0.3
    assert run("0") < 0.3


def test_response_create_errors(client):
    c = client("two_turns", speed="1")  # the first recorded frame comes 50 ms after response.create
    c.send({"type": "response.create"})
    error = c.error({"type": "response.create", "event_id": "dup"})
    assert error["code"] == "conversation_already_has_active_response" and error["event_id"] == "dup"
    events = c.until("response.done")
    assert events[0]["type"] == "response.created" and events[0]["response"]["id"] in error["message"]
    c.send({"type": "response.create", "response": {"instructions": "override", "modalities": ["text"]}})
    done = c.until("response.done")[-1]
    assert done["response"]["status"] == "completed" and done["response"]["usage"]["total_tokens"] == 30
    error = c.error({"type": "response.create"})
    assert error["code"] == "no_recorded_response"
    assert "two_turns" in error["message"] and "line" in error["message"]
    c.alive()
    none = client(None)
    error = none.error({"type": "response.create"})
    assert "no cassette was chosen" in error["message"] and "cassette=NAME" in error["message"]


def test_response_cancel_mid_stream(client):
    c = client("long_audio", speed="1")
    c.send({"type": "response.create"})
    events = c.until("response.audio.delta")
    events += [c.recv() for _ in range(3)]
    c.send({"type": "response.cancel"})
    tail = c.until("response.done")
    kinds = [e["type"] for e in tail if not e["type"].endswith(".delta")]
    assert kinds == ["response.audio.done", "response.audio_transcript.done", "response.content_part.done",
                     "response.output_item.done", "response.done"]
    heard = "".join(e["delta"] for e in events + tail if e["type"] == "response.audio_transcript.delta")
    assert tail[-4]["transcript"] == heard and heard != "One two three four"
    assert tail[-2]["item"]["status"] == "incomplete"
    response = tail[-1]["response"]
    assert response["status"] == "cancelled"
    assert response["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
    assert response["usage"]["output_tokens"] < 20
    error = c.error({"type": "response.cancel"})
    assert (error["code"], error["message"]) == ("response_cancel_not_active", "Cancellation failed: no active response found")


def test_truncate_checks_audio_actually_sent(client):
    c = client("long_audio", speed="1")
    c.send({"type": "response.create"})
    events = c.until("response.audio.delta")
    events += [c.recv() for _ in range(2)]
    c.send({"type": "response.cancel"})
    events += c.until("response.done")
    item_id = events[-1]["response"]["output"][0]["id"]
    sent_ms = sum(len(base64.b64decode(e["delta"])) for e in events if e["type"] == "response.audio.delta") // 48
    error = c.error({"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0,
                     "audio_end_ms": sent_ms + 1})
    assert (error["code"], error["message"]) == ("invalid_value",
                                                 f"Audio content of {sent_ms}ms is already shorter than {sent_ms + 1}ms")
    c.send({"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0, "audio_end_ms": 100})
    truncated = c.recv()
    del truncated["event_id"]
    assert truncated == {"type": "conversation.item.truncated", "item_id": item_id, "content_index": 0, "audio_end_ms": 100}
    c.send({"type": "conversation.item.retrieve", "item_id": item_id})
    assert c.recv()["item"]["content"][0]["transcript"] == ""
    c.send({"type": "conversation.item.create", "item": ITEM})
    user_id = c.recv()["item"]["id"]
    error = c.error({"type": "conversation.item.truncate", "item_id": user_id, "content_index": 0, "audio_end_ms": 0})
    assert "assistant" in error["message"]


# -- server VAD --------------------------------------------------------------------------

def _speak(c: Client, *chunks: bytes, step_ms: int = 20) -> None:
    audio = b"".join(chunks)
    for i in range(0, len(audio), step_ms * 48):
        c.send({"type": "input_audio_buffer.append", "audio": b64(audio[i:i + step_ms * 48])})


def test_server_vad_from_energy_commits_and_responds(client):
    c = client("audio_turn", model="gpt-realtime", speed="0")
    vad = {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 200}
    c.send({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {"turn_detection": vad}}}})
    c.recv()
    _speak(c, silence(500), tone(600), silence(400))
    events = c.until("response.done")
    kinds = [e["type"] for e in events]
    assert kinds[:5] == ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
                         "input_audio_buffer.committed", "conversation.item.added", "conversation.item.done"]
    started, stopped, committed = events[:3]
    assert started["audio_start_ms"] == 500 - 300 and stopped["audio_end_ms"] == 500 + 600 + 200
    assert started["item_id"] == stopped["item_id"] == committed["item_id"]
    assert "response.created" in kinds  # create_response defaults to true


def test_server_vad_energy_threshold_mapping(client):
    """StepFun's energy_awakeness_threshold 0..5000 maps onto the same energy scale as OpenAI's threshold."""
    for energy, expect_speech in ((5000, False), (2500, True)):
        c = client(None)
        c.send({"type": "session.update", "session": {"turn_detection": {
            "type": "server_vad", "energy_awakeness_threshold": energy, "prefix_padding_ms": 0,
            "silence_duration_ms": 100}}})
        c.recv()
        _speak(c, tone(300, amplitude=0.3), silence(200))  # RMS -13.5 dBFS: above 2500 (-35), below 5000 (-10)
        c.send({"type": "input_audio_buffer.clear"})
        first = c.recv()
        assert (first["type"] == "input_audio_buffer.speech_started") == expect_speech
        if expect_speech:
            assert first["audio_start_ms"] == 0
            assert c.recv()["audio_end_ms"] == 400


def test_speech_during_a_response_cancels_it(client):
    c = client("long_audio", speed="1")
    c.send({"type": "session.update", "session": {"turn_detection": {"type": "server_vad", "prefix_padding_ms": 0,
                                                                     "silence_duration_ms": 100}}})
    c.recv()
    c.send({"type": "response.create"})
    c.until("response.audio.delta")
    _speak(c, tone(100))
    events = c.until("response.done")
    kinds = [e["type"] for e in events]
    assert "input_audio_buffer.speech_started" in kinds
    assert kinds.index("input_audio_buffer.speech_started") < kinds.index("response.done")
    assert events[-1]["response"]["status_details"] == {"type": "cancelled", "reason": "turn_detected"}


# -- bad input ---------------------------------------------------------------------------

def test_bad_input_never_kills_the_session(client):
    c = client(None, model="gpt-realtime")
    error = c.error("{not json")
    assert error["code"] == "invalid_json" and error["message"].startswith("Invalid event: failed to parse JSON value.")
    c.alive()
    assert c.error({"event_id": "e2"}) == {"type": "invalid_request_error", "code": "invalid_event",
                                          "message": "The 'type' field is missing.", "param": None, "event_id": "e2"}
    error = c.error({"type": "nope", "event_id": "e3"})
    assert (error["code"], error["param"], error["event_id"]) == ("invalid_value", "type", "e3")
    assert error["message"].startswith("Invalid value: 'nope'. Supported values are: 'session.update', ")
    assert error["message"].endswith(", and 'response.cancel'.")
    error = c.error({"type": "conversation.item.create", "event_id": "e4"})
    assert (error["code"], error["message"], error["param"]) == (
        "missing_required_parameter", "Missing required parameter: 'item'.", "item")
    error = c.error({"type": "conversation.item.create", "item": {"role": "user"}})
    assert error["message"] == "Missing required parameter: 'item.type'."
    error = c.error({"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": "hi"}})
    assert error["message"] == "Invalid type for 'item.content': expected an array of objects, but got a string instead."
    error = c.error({"type": "conversation.item.truncate", "item_id": "x", "content_index": 0, "audio_end_ms": "1"})
    assert error["code"] in ("item_not_found", "invalid_type")
    error = c.error(b"\x00\x01")
    assert (error["code"], error["message"]) == ("invalid_event",
                                                 "Expected a text WebSocket message; binary frames are not supported.")
    c.alive()


# -- strict mode -------------------------------------------------------------------------

def test_strict_report_lists_unconsumed_responses(cassette_dir):
    filed: queue.Queue = queue.Queue()
    with serve_in_background(cassette_dir, on_report=filed.put) as server:
        c = Client(server, "two_turns", strict="1", speed="0")
        c.send({"type": "response.create"})
        c.until("response.done")
        c.close()
        report = filed.get(timeout=5)  # the server files the report when it sees the close
    assert report["cassette"] == "two_turns" and report["strict"] and not report["ok"]
    assert (report["responses_consumed"], report["responses_left"]) == (1, 1)
    assert "line" in report["message"]
