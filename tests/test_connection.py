"""connect() end to end: providers, the embedded replay server, recording and replaying."""

from __future__ import annotations

from pathlib import Path

import pytest

import helpers
from helpers import cassette, events
from helpers.providers import get_api_key, get_provider
from helpers.replay import serve_in_background

FAKE_KEY = "sk-test-CONNECTKEY0123456789abcdef"
MEDIA = Path(__file__).resolve().parent.parent / "media"


def text_turn(client) -> list[dict]:
    """The client actions of cassette 10_record_and_replay; returns the server events received."""
    client.wait_for("session.created", timeout=5)
    client.send(events.session_update(events.session_config(client.dialect, output="audio")))
    client.wait_for("session.updated", timeout=5)
    client.send(events.user_text("Say hello in one short sentence."))
    client.wait_for("conversation.item.created", timeout=5)
    client.send(events.response_create())
    list(client.stream(until="response.done", timeout=10))
    if client.dialect == "ga":  # OpenAI reports rate limits after each response; StepFun never does
        client.wait_for("rate_limits.updated", timeout=5)
    return [f.event for f in client.history if f.source == "server"]


def test_replay_is_the_default_and_runs_a_turn(monkeypatch):
    monkeypatch.delenv("REALTIME_PROVIDER", raising=False)
    with helpers.connect(cassette="10_record_and_replay", speed=0, log=False) as client:
        received = text_turn(client)
    assert client.provider == "replay" and client.dialect == "beta"
    assert received[-1]["type"] in ("response.done", "rate_limits.updated")
    transcript = "".join(e["delta"] for e in received if e["type"] == "response.audio_transcript.delta")
    assert transcript.startswith("Hello")


def test_model_override_gives_the_openai_persona_and_ga_names(monkeypatch):
    monkeypatch.setenv("REALTIME_MODEL", "gpt-realtime")
    with helpers.connect("replay", cassette="10_record_and_replay", speed=0, log=False) as client:
        received = text_turn(client)
    types = {e["type"] for e in received}
    assert client.dialect == "ga"
    assert "response.output_audio.delta" in types and "response.audio.delta" not in types


def test_recording_replays_to_the_same_server_frames(tmp_path):
    """Record a session held against the replay server, serve the recording, replay it."""
    recorded = tmp_path / "10_record_and_replay.jsonl"
    with helpers.connect("replay", cassette="10_record_and_replay", record=recorded, speed=0,
                         api_key=FAKE_KEY, log=False) as client:
        first = text_turn(client)
    tape = cassette.load(recorded)
    assert tape.meta["provenance"]["kind"] == "recorded"
    assert FAKE_KEY not in recorded.read_text()
    assert [f.event for f in tape.frames if f.source == "server" and f.event] == first
    with (serve_in_background(cassettes=tmp_path, speed=0) as server,
          helpers.connect("replay", url=server.url, cassette="10_record_and_replay", log=False) as client):
        second = text_turn(client)
    assert second == first


def test_keys_come_from_the_environment_and_never_show(monkeypatch, tmp_path):
    monkeypatch.setenv("STEPFUN_API_KEY", FAKE_KEY)
    monkeypatch.setenv("REALTIME_LOG_DIR", str(tmp_path))
    assert get_api_key(get_provider("stepfun")) == FAKE_KEY
    with (serve_in_background(require_key=FAKE_KEY, speed=0) as server,
          helpers.connect("replay", url=server.url, cassette="01_connect", api_key=FAKE_KEY) as client):
        client.wait_for("session.created", timeout=5)
        shown = repr(client) + str(client.history)
    assert FAKE_KEY not in shown
    for path in tmp_path.iterdir():
        assert FAKE_KEY not in path.read_text()


def test_wrong_key_or_model_raises_at_connect():
    with serve_in_background(require_key=FAKE_KEY, speed=0) as server:
        with pytest.raises(helpers.RealtimeServerError) as info:
            helpers.connect("replay", url=server.url, cassette="01_connect", api_key="sk-wrong-key-123456",
                            log=False)
        assert info.value.code == "invalid_api_key"
        assert FAKE_KEY not in str(info.value)
        with pytest.raises(helpers.RealtimeServerError) as info:
            helpers.connect("replay", url=server.url, model="whisper-1", api_key=FAKE_KEY, log=False)
        assert info.value.code == "invalid_model"


def test_missing_key_is_a_clear_error_without_prompting(monkeypatch):
    for name in ("STEPFUN_API_KEY", "STEP_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(RuntimeError, match="STEPFUN_API_KEY"):
        helpers.connect("stepfun")


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="unknown provider"):
        helpers.connect("nope")
    with pytest.raises(ValueError, match="dialect"):
        helpers.connect("replay", dialect="v2")
    with pytest.raises(TypeError, match="replay provider"):
        helpers.connect("openai", api_key="sk-x", speed=0)
    with pytest.raises(ValueError, match="cassette name"):
        helpers.connect("replay", record=True)
    with pytest.raises(TypeError, match="unknown option.*spead"):
        helpers.connect("replay", spead=2)
    with pytest.raises(ValueError, match="beta dialect off"):
        helpers.connect("openai", api_key="sk-x", dialect="beta")


def test_whole_recording_items_get_their_recorded_transcription():
    """12_live_conversation: a committed buffer, then a whole-file item; each gets its transcription."""
    from helpers import audio

    question_en = audio.to_pcm16(audio.load_audio(MEDIA / "question_en.wav", verbose=False))
    question_zh = audio.to_pcm16(audio.load_audio(MEDIA / "question_zh.wav", verbose=False))
    with helpers.connect("replay", cassette="12_live_conversation", speed=0, log=False) as client:
        client.wait_for("session.created", timeout=5)
        client.send(events.session_update(events.session_config(
            client.dialect, turn_detection=None, transcription=events.default_transcription(client.dialect))))
        client.wait_for("session.updated", timeout=5)
        for event in audio.append_events(question_en, progress=False, verbose=False):
            client.send(event)
        client.send(events.input_audio_commit())
        first = client.wait_for("input_audio_buffer.committed", timeout=5)["item_id"]
        heard = client.wait_for("conversation.item.input_audio_transcription.completed", timeout=5)
        assert heard["item_id"] == first and heard["transcript"]
        client.send(events.response_create())
        client.wait_for("response.done", timeout=10)
        client.send(events.user_audio(question_zh))
        item = client.wait_for("conversation.item.created", timeout=5,
                               where=lambda e: e["item"].get("role") == "user")["item"]
        heard = client.wait_for("conversation.item.input_audio_transcription.completed", timeout=5)
    assert heard["item_id"] == item["id"]
    assert heard["transcript"].startswith("你好")


@pytest.mark.parametrize("model", ["step-1o-audio", "gpt-realtime"])
def test_helpers_client_drives_the_cli_server(model):
    """`python -m helpers.replay` on port 0, the shipped cassettes, the notebook client."""
    from tests.replay_fixtures import start_cli, stop_cli

    proc = start_cli(MEDIA / "cassettes", "--speed", "0")
    try:
        with helpers.connect("replay", url=proc.url, cassette="10_record_and_replay", model=model,
                             log=False) as client:
            received = text_turn(client)
    finally:
        code, _ = stop_cli(proc)
    assert code == 0
    deltas = [e["delta"] for e in received if e["type"].endswith("audio_transcript.delta")]
    assert "".join(deltas).startswith("Hello")


def test_the_shared_replay_server_lives_until_stopped_and_restarts_on_the_next_connect(monkeypatch):
    from helpers import replay

    monkeypatch.delenv("REALTIME_REPLAY_URL", raising=False)
    monkeypatch.setenv("REALTIME_REPLAY_SPEED", "0")
    replay.stop_shared_server()
    with helpers.connect("replay", cassette="01_connect", log=False) as client:
        client.wait_for("session.created", timeout=5)
    first = replay.shared_server()
    assert first._thread.is_alive() and client.url.startswith(first.url)
    replay.stop_shared_server()
    assert not first._thread.is_alive()
    with helpers.connect("replay", cassette="01_connect", log=False) as client:
        client.wait_for("session.created", timeout=5)
    second = replay.shared_server()
    assert second is not first and second._thread.is_alive()
    replay.stop_shared_server()
