"""The relay service over real HTTP: uvicorn on port 0, httpx, and a replay server upstream."""

from __future__ import annotations

import io
import json
import logging

import numpy as np
import pytest
import soundfile

from helpers import relay, relay_core
from helpers.replay import serve_in_background
from tests.relay_fixtures import FakeClock, http_client, of, turn
from tests.replay_fixtures import REPO

MEDIA = REPO / "media"
QUESTION = "Hi! Can you tell me a fun fact about octopuses?"
ANSWER_1 = "Sure! An octopus has blue blood, because it carries oxygen with copper instead of iron."
ANSWER_2 = "It has three hearts. Two pump blood through the gills, and one pumps it to the rest of the body."
FAKE_KEY = "sk-relay-test-7f3a9c1e5b2d4f6a8c0e"


@pytest.fixture
def start_relay(upstream, tmp_path):
    """Start relays (uvicorn on port 0) against the replay server; all stopped after the test."""
    servers = []

    def start(**options) -> relay.RelayServer:
        options = {"url": upstream.url, "output_dir": tmp_path / f"relay{len(servers)}",
                   **options, "connect_options": {"log": False, **options.get("connect_options", {})}}
        server = relay.serve_in_background(relay.create_app(**options))
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def spoken(events) -> str:
    return "".join(data["delta"] for data in of(events, "transcript"))


def wav_bytes(seconds: float, rate: int = 16000, format: str = "WAV") -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    out = io.BytesIO()
    soundfile.write(out, 0.3 * np.sin(2 * np.pi * 220 * t), rate, format=format)
    return out.getvalue()


def flac_bytes(seconds: float, rate: int) -> bytes:
    """Silence compresses to almost nothing: long audio in a small upload."""
    out = io.BytesIO()
    soundfile.write(out, np.zeros(int(rate * seconds), dtype="int16"), rate, format="FLAC")
    return out.getvalue()


MODELS = {"beta": "step-1o-audio", "ga": "gpt-realtime-2.1"}  # the model picks the persona and its dialect


@pytest.mark.parametrize("dialect", ["beta", "ga"])
def test_two_turns_carry_history(start_relay, dialect):
    server = start_relay(model=MODELS[dialect])
    with http_client(server) as http:
        first, events = turn(http, wav="question_en.wav")
        assert first.status_code == 200 and first.headers["content-type"].startswith("text/event-stream")
        conversation_id = first.headers["x-conversation-id"]
        assert [name for name, _ in events][:2] == ["turn", "input_transcript"]
        assert events[0][1] == {"turn": 1, "upstream": "new", "restored_items": 0}
        assert of(events, "input_transcript") == [{"transcript": QUESTION}]
        done = events[-1][1]
        assert events[-1][0] == "done" and spoken(events) == done["transcript"] == ANSWER_1
        assert done["status"] == "completed" and done["report"]["status"] == "completed"
        assert done["report"]["output_tokens"] > 0
        assert done["report"]["cost"]["currency"] == ("CNY" if dialect == "beta" else "USD")

        audio = http.get(done["audio_url"])
        assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
        samples, rate = soundfile.read(io.BytesIO(audio.content))
        assert rate == 24000 and len(samples) / rate == pytest.approx(done["report"]["audio_s"], abs=0.01)

        second, events = turn(http, wav="followup_en.wav", conversation_id=conversation_id)
        assert second.headers["x-conversation-id"] == conversation_id
        assert events[0][1] == {"turn": 2, "upstream": "reused", "restored_items": 0}
        done = events[-1][1]
        assert spoken(events) == done["transcript"] == ANSWER_2
        assert [line.split(":")[0] for line in done["history"]] == \
            ["user (audio)", "assistant (audio 5.32 s)", "user (audio)", "assistant (audio 5.42 s)"]
        assert done["history"][0] == f"user (audio): {QUESTION}"
        assert done["audio_url"].endswith(f"{conversation_id}-2.wav")


@pytest.mark.parametrize("dialect", ["beta", "ga"])
def test_idle_expiry_closes_upstream_then_next_turn_restores_history_as_items(start_relay, dialect):
    clock = FakeClock()
    server = start_relay(idle_timeout_s=60, clock=clock, model=MODELS[dialect])
    with http_client(server) as http:
        first, _ = turn(http, wav="question_en.wav")
        conversation_id = first.headers["x-conversation-id"]
        clock.now += 61
        _, events = turn(http, wav="followup_en.wav", conversation_id=conversation_id)
    assert events[0][1] == {"turn": 2, "upstream": "restored", "restored_items": 2}
    done = events[-1][1]
    assert spoken(events) == done["transcript"] == ANSWER_2
    assert done["history"][:2] == [f"user: {QUESTION}", f"assistant: {ANSWER_1}"]  # items, as text


def test_not_yet_idle_reuses_the_session(start_relay):
    clock = FakeClock()
    server = start_relay(idle_timeout_s=60, clock=clock)
    with http_client(server) as http:
        first, _ = turn(http, wav="question_en.wav")
        clock.now += 59
        _, events = turn(http, wav="followup_en.wav", conversation_id=first.headers["x-conversation-id"])
    assert events[0][1]["upstream"] == "reused"


def test_concurrent_conversations_are_isolated_and_one_turn_at_a_time(start_relay):
    server = start_relay()
    with http_client(server) as http:
        with http.stream("POST", "/process_audio", files={"file": (MEDIA / "question_en.wav").open("rb")}) as a:
            lines_a = a.iter_lines()
            assert next(relay.parse_sse(lines_a))[0] == "turn"  # A is mid-turn now
            id_a = a.headers["x-conversation-id"]
            busy = http.post("/process_audio", data={"text": "hello", "conversation_id": id_a})
            assert busy.status_code == 409 and busy.json()["error"]["code"] == "conversation_busy"
            b, events_b = turn(http, wav="question_en.wav")  # B runs to the end while A is open
            events_a = list(relay.parse_sse(lines_a))
        id_b = b.headers["x-conversation-id"]
        assert id_a != id_b
        assert events_a[-1][1]["transcript"] == events_b[-1][1]["transcript"] == ANSWER_1
        assert events_a[-1][1]["audio_url"] != events_b[-1][1]["audio_url"]
        _, events_b = turn(http, wav="followup_en.wav", conversation_id=id_b)
    assert events_b[-1][1]["transcript"] == ANSWER_2
    assert len(events_b[-1][1]["history"]) == 4  # only B's own items


def test_a_new_conversation_is_refused_while_every_kept_one_is_mid_turn(start_relay):
    # the upstream answers at the recorded pace: the first turn is surely still running at the second request
    server = start_relay(max_conversations=1, connect_options={"speed": 1})
    with (http_client(server) as http,
          http.stream("POST", "/process_audio", files={"file": (MEDIA / "question_en.wav").open("rb")}) as a):
        lines = a.iter_lines()
        assert next(relay.parse_sse(lines))[0] == "turn"
        full = http.post("/process_audio", data={"text": "hello"})
        assert full.status_code == 503 and full.json()["error"]["code"] == "at_capacity"
        assert list(relay.parse_sse(lines))[-1][0] == "done"


def test_text_turn(start_relay):
    server = start_relay(cassette="10_record_and_replay")
    with http_client(server) as http:
        response, events = turn(http, text="Say hello in one short sentence.")
    assert response.status_code == 200
    assert [name for name, _ in events if name != "transcript"] == ["turn", "done"]
    assert events[-1][1]["transcript"] == "Hello! It's nice to hear from you."
    assert events[-1][1]["history"][0] == "user: Say hello in one short sentence."


def test_a_missing_input_transcription_does_not_hold_back_the_answer(start_relay, monkeypatch):
    monkeypatch.setattr(relay_core, "TRANSCRIPT_TIMEOUT_S", 0.2)
    server = start_relay(cassette="10_record_and_replay")  # recorded without input transcription
    with http_client(server) as http:
        _, events = turn(http, wav="question_en.wav")
    assert not of(events, "input_transcript")
    assert events[-1] == ("done", events[-1][1]) and events[-1][1]["transcript"] == "Hello! It's nice to hear from you."


BAD_REQUESTS = [
    ("json body", {"json": {"text": "hi"}}, 415, "unsupported_media_type"),
    ("no input", {"data": {"conversation_id": ""}}, 400, "missing_input"),
    ("file and text", {"data": {"text": "hi"}, "files": {"file": ("a.wav", wav_bytes(0.5))}}, 400, "too_many_inputs"),
    ("blank text", {"data": {"text": "  "}}, 400, "empty_text"),
    ("empty file", {"files": {"file": ("a.wav", b"")}}, 400, "empty_upload"),
    ("not audio", {"files": {"file": ("notes.txt", b"just some text, not audio" * 10, "text/plain")}}, 415, "unsupported_audio"),
    ("too short", {"files": {"file": ("blip.wav", wav_bytes(0.05))}}, 400, "audio_too_short"),
    ("oversize", {"files": {"file": ("long.wav", wav_bytes(4.0))}}, 413, "upload_too_large"),  # 128 kB
    ("1 Hz wav", {"files": {"file": ("slow.wav", wav_bytes(2000, rate=1))}}, 400, "bad_sample_rate"),
    ("too long", {"files": {"file": ("long.flac", flac_bytes(400, rate=8000))}}, 413, "audio_too_long"),
    ("unknown field", {"data": {"text": "hi", "conversationId": "x"}}, 400, "unknown_field"),
    ("unknown conversation", {"data": {"text": "hi", "conversation_id": "0" * 32}}, 404, "conversation_not_found"),
]


@pytest.fixture(scope="module")
def strict_relay(upstream, tmp_path_factory):
    """One relay with a 100 kB upload limit for all the bad-request cases (none reaches upstream)."""
    app = relay.create_app(url=upstream.url, output_dir=tmp_path_factory.mktemp("strict"), max_upload_bytes=100_000)
    with relay.serve_in_background(app) as server:
        yield server


@pytest.mark.parametrize("request_kwargs, status, code", [r[1:] for r in BAD_REQUESTS], ids=[r[0] for r in BAD_REQUESTS])
def test_bad_requests_get_their_4xx_and_a_clear_json_error(strict_relay, request_kwargs, status, code):
    with http_client(strict_relay) as http:
        response = http.post("/process_audio", **request_kwargs)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and len(error["message"]) > 10


def test_a_failure_inside_the_relay_answers_as_json_500(strict_relay, monkeypatch):
    def broken(*_args):
        raise MemoryError("simulated")
    monkeypatch.setattr(relay_core.Relay, "checkout", broken)
    with http_client(strict_relay) as http:
        response = http.post("/process_audio", data={"text": "hi"})
    assert response.status_code == 500
    assert response.json() == {"error": {"code": "relay_failure", "message": "the relay failed; see its log"}}


def test_oversize_upload_is_refused_by_its_declared_length(start_relay):
    server = start_relay(max_upload_bytes=1000)
    with http_client(server) as http:
        response = http.post("/process_audio", files={"file": ("big.wav", wav_bytes(3.0))})
    assert response.status_code == 413 and "limit is 1,000" in response.json()["error"]["message"]


def test_audio_urls_only_serve_files_of_kept_conversations(start_relay):
    server = start_relay(max_conversations=1)
    with http_client(server) as http:
        first, events = turn(http, wav="question_en.wav")
        url = events[-1][1]["audio_url"]
        assert http.get(url).status_code == 200
        for bad in ("/audio/..%2F..%2Fetc%2Fpasswd", "/audio/nothing.wav", "/audio/" + "0" * 32 + "-1.wav"):
            assert http.get(bad).status_code == 404
        turn(http, wav="question_en.wav")  # a second conversation: the cap forgets the first
        assert http.get(url).status_code == 404
        gone = http.post("/process_audio", data={"text": "hi", "conversation_id": first.headers["x-conversation-id"]})
        assert gone.status_code == 404


def test_upstream_drop_mid_turn_ends_the_stream_with_an_error_event(start_relay):
    server = start_relay(connect_options={"close_after": 12})
    with http_client(server) as http:
        first, events = turn(http, wav="question_en.wav")
        assert first.status_code == 200
        name, error = events[-1]
        assert name == "error" and error["code"] == "upstream_closed" and "1011" in error["message"]
        assert len(of(events, "transcript")) > 0 and not of(events, "done")
        _, events = turn(http, wav="followup_en.wav", conversation_id=first.headers["x-conversation-id"])
    assert events[0][1]["upstream"] == "restored" and events[0][1]["restored_items"] == 2


def test_the_key_never_leaves_the_server(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    with serve_in_background(speed=0, require_key=FAKE_KEY) as guarded:
        for key, expected in ((FAKE_KEY, 200), (FAKE_KEY[::-1], 502)):
            app = relay.create_app(url=guarded.url, api_key=key, output_dir=tmp_path,
                                   connect_options={"log": False})
            assert key not in repr(app.state.relay)
            with relay.serve_in_background(app) as server, http_client(server) as http:
                response, events = turn(http, wav="question_en.wav")
                assert response.status_code == expected
                seen += [json.dumps(events), json.dumps(dict(response.headers))]
                if expected == 200:
                    assert events[-1][0] == "done"
                    seen.append(json.dumps(dict(http.get(events[-1][1]["audio_url"]).headers)))
                else:  # a wrong key: the upstream refusal is explained, the key is not repeated
                    seen.append(response.text)
                    assert "Incorrect API key" in response.json()["error"]["message"]
            seen += [r.getMessage() for r in caplog.records]  # every log record, the upstream's included
            assert [text for text in seen if key in text] == []


def test_create_app_checks_its_settings():
    with pytest.raises(ValueError, match="max_conversations"):
        relay.create_app(max_conversations=0)
    with pytest.raises(ValueError, match="idle_timeout_s"):
        relay.create_app(idle_timeout_s=0)
    with pytest.raises(ValueError, match="reasoning is for models that reason .*; step-1o-audio does not$"):
        relay.create_app(reasoning={"effort": "low"})
    with pytest.raises(ValueError, match="step-audio-r1.1 does not .it thinks by itself"):
        relay.create_app(model="step-audio-r1.1", reasoning={"effort": "low"})
    with pytest.raises(ValueError, match="non-empty dict"):
        relay.create_app(model="gpt-realtime-2.1", reasoning="low")


def test_a_preamble_and_its_answer_stream_apart_and_reasoning_reaches_the_upstream_session(upstream, tmp_path):
    app = relay.create_app(model="gpt-realtime-2.1", cassette="15_reasoning", reasoning={"effort": "minimal"},
                           url=upstream.url, output_dir=tmp_path, connect_options={"log": False})
    with relay.serve_in_background(app) as server, http_client(server) as http:
        response, events = turn(http, wav="question_en.wav")
        conversation = app.state.relay.checkout(response.headers["x-conversation-id"])
        history = [f.event for f in conversation.client.history if f.source == "server"]
    assert response.status_code == 200
    deltas = of(events, "transcript")
    by_output = {i: "".join(d["delta"] for d in deltas if d["output_index"] == i) for i in (0, 1)}
    assert {d["output_index"] for d in deltas} == {0, 1}
    assert by_output[0] == "Good question, let me think."
    done = events[-1][1]
    assert done["transcripts"] == [by_output[0], by_output[1]]
    assert done["transcript"] == f"{by_output[0]}\n{by_output[1]}"
    updated = next(event for event in history if event["type"] == "session.updated")
    assert updated["session"]["reasoning"] == {"effort": "minimal"}


def test_stepfun_thinking_streams_before_the_answer_with_its_output_index(start_relay):
    server = start_relay(model="step-audio-r1.1", cassette="15_reasoning_stepfun")
    with http_client(server) as http:
        response, events = turn(http, wav="question_en.wav")
    names = [name for name, _ in events]
    assert names.index("thinking") < names.index("transcript")
    thinking = of(events, "thinking")
    assert "".join(d["delta"] for d in thinking).startswith("The user asks about the colour of the sky")
    assert {d["output_index"] for d in thinking} == {d["output_index"] for d in of(events, "transcript")} == {0}


def test_parse_sse_reads_events_and_ignores_comments():
    lines = ["event: turn", 'data: {"turn": 1}', "", ": keep-alive", "", 'data: {"a": 1}', ""]
    assert list(relay.parse_sse(lines)) == [("turn", {"turn": 1}), ("message", {"a": 1})]
