"""The pure engine and dialect converter, driven directly with a fake clock (no sockets)."""

from __future__ import annotations

import json

import pytest

from helpers.personas import PERSONAS, convert_session
from helpers.replay.engine import Library, Options, Session
from helpers.replay.recording import convert_run
from tests.replay_fixtures import b64, build_cassettes, response_run, tone


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    return Library(build_cassettes(tmp_path_factory.mktemp("engine_cassettes")))


def run(session: Session, *events: dict, now: float = 0.0) -> list[dict]:
    for event in events:
        session.receive(json.dumps(event), now)
    return [json.loads(text) for text in session.poll(now)]


def test_pacing_follows_the_recording_and_the_clock(library):
    session = Session(library.get("text_turn"), PERSONAS["stepfun"], model="step-1o-audio")
    session.start(10.0)
    assert [e["type"] for e in run(session, now=10.0)] == ["session.created"]
    assert run(session, {"type": "response.create"}, now=10.0) == []
    assert session.next_deadline() == pytest.approx(10.05)  # the recorded 50 ms to response.created
    assert [e["type"] for e in run(session, now=10.05)] == ["response.created"]
    everything = run(session, now=11.0)
    assert everything[-1]["type"] == "response.done"  # StepFun sends no rate_limits.updated
    assert session.next_deadline() is None


def test_server_ids_are_deterministic_per_cassette(library):
    def transcript() -> list[str]:
        session = Session(library.get("text_turn"), PERSONAS["openai"], model="gpt-realtime", options=Options(speed=0))
        session.start(0.0)
        item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "x"}]}
        return session.poll(0.0) + [json.dumps(e) for e in run(session, {"type": "conversation.item.create", "item": item},
                                                              {"type": "response.create"})]

    first, second = transcript(), transcript()
    assert first == second
    item_id = json.loads(first[1])["item"]["id"]
    assert item_id.startswith("item_") and len(item_id) == len("item_") + 21
    other = Session(library.get("two_turns"), PERSONAS["openai"], model="gpt-realtime", options=Options(speed=0))
    other.start(0.0)
    item = {"type": "message", "role": "user", "content": []}
    assert run(other, {"type": "conversation.item.create", "item": item})[1]["item"]["id"] != item_id


def test_transcriptions_replay_only_when_enabled(library):
    for enabled in (False, True):
        session = Session(library.get("audio_turn"), PERSONAS["stepfun"], model="step-1o-audio", options=Options(speed=0))
        session.start(0.0)
        session.poll(0.0)
        if enabled:
            run(session, {"type": "session.update", "session": {"input_audio_transcription": {"model": "whisper-1"}}})
        events = run(session, {"type": "input_audio_buffer.append", "audio": b64(tone(150))},
                     {"type": "input_audio_buffer.commit"})
        done = [e for e in events if e["type"] == "conversation.item.input_audio_transcription.completed"]
        committed = next(e for e in events if e["type"] == "input_audio_buffer.committed")
        assert bool(done) == enabled
        if enabled:
            assert done[0]["item_id"] == committed["item_id"] and done[0]["transcript"] == "你好"


def test_cancel_scales_usage_to_what_was_sent(library):
    session = Session(library.get("long_audio"), PERSONAS["openai"], model="gpt-realtime")
    session.start(0.0)
    session.poll(0.0)
    run(session, {"type": "response.create"})
    sent = run(session, now=0.05 + 0.05 * 10)  # half of the 24 deltas
    deltas = sum(e["type"].endswith(".delta") for e in sent)
    done = run(session, {"type": "response.cancel"}, now=0.05 + 0.05 * 10)
    kinds = [e["type"] for e in done]
    assert kinds == ["response.output_audio.done", "response.output_audio_transcript.done", "response.content_part.done",
                     "conversation.item.done", "response.output_item.done", "response.done"]
    usage = done[-1]["response"]["usage"]
    assert usage["output_tokens"] == round(4 * deltas / 24) + round(16 * deltas / 24)
    assert usage["total_tokens"] == 10 + usage["output_tokens"]
    assert done[-1]["response"]["output"][0]["content"][0]["type"] == "output_audio"


def test_latency_and_jitter_shift_deliveries_deterministically(library):
    def times() -> list[float]:
        session = Session(library.get("text_turn"), PERSONAS["stepfun"], model="step-1o-audio",
                          options=Options(speed=0, latency_ms=100, jitter_ms=50))
        session.start(0.0)
        out = []
        while (deadline := session.next_deadline()) is not None:
            out += [deadline] * len(session.poll(deadline))
        return out

    first = times()
    assert first == times() and 0.1 <= first[0] <= 0.15
    assert first == sorted(first)


def test_dialect_round_trip_of_a_response_run():
    beta = response_run("beta", 1, audio_chunks=2)
    ga = [e for _, e in convert_run(beta, "ga")]
    kinds = [e["type"] for e in ga]
    assert kinds.index("conversation.item.done") == kinds.index("response.output_item.done") - 1
    assert "response.output_audio.delta" in kinds and "conversation.item.added" in kinds
    assert ga[0]["response"]["output_modalities"] == ["audio"]
    assert ga[-3]["item"]["content"][0]["type"] == "output_audio"
    back = [e for _, e in convert_run(ga, "beta")]
    assert [e["type"] for e in back] == [e["type"] for e in beta]
    assert back[-3]["item"] == beta[-3]["item"] and back[0]["response"]["modalities"] == ["text", "audio"]


def test_session_shapes_convert_both_ways():
    flat = {"modalities": ["text", "audio"], "voice": "alloy", "input_audio_format": "pcm16",
            "turn_detection": None, "input_audio_transcription": {"model": "whisper-1"},
            "max_response_output_tokens": 4096, "instructions": "hi"}
    nested = convert_session(flat, "ga")
    assert nested["type"] == "realtime" and nested["audio"]["output"]["voice"] == "alloy"
    assert nested["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert convert_session(nested, "beta") == flat


def test_options_reject_bad_values():
    for bad in ({"speed": -1}, {"close_after": 0}, {"expire_after": 0}, {"jitter_ms": float("nan")}):
        with pytest.raises(ValueError):
            Options(**bad)


def test_a_finished_session_is_freed_at_once_without_the_garbage_collector(library):
    """No reference cycles (handler tables, components pointing back): refcounting frees a session."""
    import gc
    import weakref

    gc.collect()
    gc.disable()
    try:
        session = Session(library.get("long_audio"), PERSONAS["openai"], model="gpt-realtime", options=Options(speed=0))
        session.start(0.0)
        for event in ({"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "x" * 1_000_000}]}}, {"type": "response.create"},
                {"type": "session.update", "session": {"bogus": 1}}):
            session.receive(json.dumps(event), 0.0)
        session.poll(60.0)
        gone = weakref.ref(session)
        parts = [weakref.ref(p) for p in (session.outbox, session.conversation, session.playback, session.input)]
        del session
        assert gone() is None and all(part() is None for part in parts)
    finally:
        gc.enable()


def test_reports_stay_bounded(library):
    session = Session(library.get("text_turn"), PERSONAS["stepfun"], model="step-1o-audio", options=Options(speed=0))
    session.start(0.0)
    for _ in range(1000):
        session.receive("{not json", 0.0)
    report = session.report()
    assert report["error_count"] == 1000 and len(report["errors_sent"]) <= 100


def test_a_big_item_is_encoded_once_while_it_stays_the_same():
    from helpers.replay.items import Conversation
    from helpers.replay.outbox import Outbox
    persona = PERSONAS["openai"]
    conversation = Conversation(Outbox(persona, "big"))
    item = {"id": "item_big", "type": "message", "role": "user", "object": "realtime.item", "status": "completed",
            "content": [{"type": "input_text", "text": "x" * 100_000}]}
    conversation.items.append(item)
    first = conversation.encoded(item)
    assert json.loads(first) == persona.shape_item(json.loads(json.dumps(item)))
    assert conversation.encoded(item) is first                       # a retrieve flood re-encodes nothing
    item["content"][0]["text"] = "y" * 100_000                         # changed in place: encoded afresh
    assert json.loads(conversation.encoded(item))["content"][0]["text"] == "y" * 100_000
    conversation.retrieve({"item_id": "item_big"}, 0.0)
    retrieved = json.loads(conversation.outbox.queue[-1][1])
    assert list(retrieved) == ["type", "event_id", "item"] and retrieved["item"]["content"][0]["text"][0] == "y"
