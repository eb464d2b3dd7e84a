"""Conversation state from real-shaped event sequences (tests/frames.py), in both dialects."""

from __future__ import annotations

import base64

import pytest

from helpers import events as ev
from helpers.audio import BYTES_PER_MS
from helpers.cassette import Cassette, Frame
from helpers.conversation import Conversation
from tests.frames import (
    DIALECTS,
    USAGE,
    C,
    S,
    assistant_audio_response,
    assistant_text_response,
    b64,
    chunks,
    function_call_response,
    function_output_turn,
    pcm,
    user_audio_turn,
    user_text_turn,
)


@pytest.fixture(params=["beta", "ga"])
def dialect(request):
    return request.param


def session(frames, dialect):
    return Conversation.from_frames(DIALECTS[dialect](frames))


# -- a full session used by several tests ---------------------------------------------------

SPOKEN = pcm(300, seed=1)
REPLY_AUDIO = chunks(pcm(400, seed=2), 4800, 9601, 4799)      # odd split: a sample straddles deltas


def full_session():
    frames = user_text_turn(1.0, "item_u1", "Hello", None)
    frames += assistant_text_response(1.1, "resp_1", "item_a1", "item_u1", ["Hi ", "there!"])
    frames += user_audio_turn(3.0, "item_u2", "item_a1", SPOKEN, ["What is ", "the weather?"])
    audio_frames, _ = assistant_audio_response(
        4.0, "resp_2", "item_a2", "item_u2", REPLY_AUDIO, ["It is ", "sunny ", "today."],
        interleave=[{"type": "conversation.item.input_audio_transcription.completed", "item_id": "item_u2",
                     "content_index": 0, "transcript": "What is the weather?"}])
    frames += audio_frames
    frames += user_text_turn(6.0, "item_u3", "And in Paris?", "item_a2")
    frames += function_call_response(6.1, "resp_3", "item_fc", "call_1", "item_u3", "get_weather",
                                     ['{"city": ', '"Paris"}'])
    frames += function_output_turn(7.0, "item_fo", "call_1", "item_fc", {"temp_c": 21})
    frames += assistant_text_response(7.1, "resp_4", "item_a3", "item_fo", ["21 degrees."])
    return frames


EXPECTED_LINES = [
    "user: Hello",
    "assistant: Hi there!",
    "user (audio): What is the weather?",
    "assistant (audio 0.40 s): It is sunny today.",
    "user: And in Paris?",
    'assistant: call get_weather({"city": "Paris"}) [call_1]',
    'tool: get_weather -> {"temp_c": 21}',
    "assistant: 21 degrees.",
]


# -- tests ---------------------------------------------------------------------------------

def test_full_session_state(dialect):
    conversation = session(full_session(), dialect)
    assert conversation.lines() == EXPECTED_LINES
    assert str(conversation) == "\n".join(EXPECTED_LINES)
    assert [r.status for r in conversation.responses.values()] == ["completed"] * 4
    assert conversation.last_response.id == "resp_4"
    assert conversation.responses["resp_2"].output == ["item_a2"]
    assert conversation.item("item_a1").previous_item_id == "item_u1"
    assert conversation.usage["output_token_details"]["audio_tokens"] == 4 * 244
    assert conversation.usage["input_token_details"]["cached_tokens_details"]["text_tokens"] == 4 * 960


def test_audio_turn_transcripts_and_audio(dialect):
    conversation = session(full_session(), dialect)
    user, reply = conversation.item("item_u2"), conversation.item("item_a2")
    assert user.has_audio and user.transcript == "What is the weather?"
    assert user.remembered_text == "What is the weather?"
    assert reply.audio_bytes == b"".join(REPLY_AUDIO)
    assert reply.audio_ms == 400.0
    assert reply.transcript == "It is sunny today."
    assert reply.status == "completed"
    assert "bytearray" not in repr(reply)                         # no raw audio in a repr


def test_input_transcription_from_deltas_alone():
    frames = user_audio_turn(0.0, "item_u", None, SPOKEN, ["Bonjour ", "tout le monde"])
    conversation = Conversation.from_frames(frames)
    assert conversation.item("item_u").transcript == "Bonjour tout le monde"


def test_transcription_failure_is_recorded():
    conversation = Conversation.from_frames(user_audio_turn(0.0, "item_u", None, SPOKEN, []))
    error = {"type": "transcription_error", "code": "audio_unintelligible",
             "message": "The audio could not be transcribed."}
    conversation.observe_event({"type": "conversation.item.input_audio_transcription.failed",
                                "item_id": "item_u", "content_index": 0, "error": error})
    assert conversation.item("item_u").transcription_error == error
    assert conversation.lines() == ["user (audio): [no transcript]"]


@pytest.mark.parametrize("sizes", [(1, 2, 3, 4, 5, 6, 7, 8, 9, 1), (2,) * 23, (3,) * 15 + (1,), (46,)])
def test_padded_base64_deltas_decode_to_exact_bytes(sizes):
    audio = pcm(1)[:sum(sizes)]
    pieces = chunks(audio, *sizes)
    assert any(b64(p).endswith("=") for p in pieces) or len(pieces) == 1
    frames, sent = assistant_audio_response(0.0, "resp", "item_a", None, pieces, ["x"])
    item = Conversation.from_frames(frames).item("item_a")
    assert len(item.audio_bytes) == sum(sizes)
    assert item.audio_bytes == sent == audio


def test_joining_base64_strings_is_the_bug_we_avoid():
    pieces = chunks(pcm(1)[:10], 1, 2, 3, 4)
    joined = "".join(b64(p) for p in pieces)
    assert base64.b64decode(joined) != b"".join(pieces)
    frames, _ = assistant_audio_response(0.0, "resp", "item_a", None, pieces, ["x"])
    assert Conversation.from_frames(frames).item("item_a").audio_bytes == b"".join(pieces)


def test_cancelled_response(dialect):
    frames = user_text_turn(0.0, "item_u", "Tell me a long story", None)
    audio_frames, sent = assistant_audio_response(
        0.1, "resp_c", "item_a", "item_u", chunks(pcm(600), *[4800] * 6), ["Once ", "upon ", "a ", "time"],
        cancel_at=2)
    conversation = session(frames + audio_frames, dialect)
    response = conversation.responses["resp_c"]
    assert response.status == "cancelled"
    assert response.status_details == {"type": "cancelled", "reason": "client_cancelled"}
    item = conversation.item("item_a")
    assert item.status == "incomplete"
    assert item.audio_bytes == sent and item.audio_ms == 200.0
    assert item.transcript == "Once upon "
    assert conversation.lines()[-1] == "assistant (audio 0.20 s): Once upon  [incomplete]"
    assert conversation.usage["output_tokens"] == USAGE["output_tokens"]


def truncated_session():
    frames = user_text_turn(0.0, "item_u", "Count to ten", None)
    words = ["One, two, ", "three, four, ", "five, six, ", "seven, eight, ", "nine, ten."]
    audio = chunks(pcm(1000), *[4800] * 10)
    audio_frames, _ = assistant_audio_response(0.1, "resp_t", "item_a", "item_u", audio, words)
    frames += audio_frames
    frames += [C(3.0, ev.item_truncate("item_a", 500)),
               S(3.05, {"type": "conversation.item.truncated", "item_id": "item_a", "content_index": 0,
                        "audio_end_ms": 500})]
    return frames


def test_truncation_keeps_heard_audio_and_drops_the_transcript(dialect):
    conversation = session(truncated_session(), dialect)
    item = conversation.item("item_a")
    assert item.truncated and item.audio_end_ms == 500
    assert item.audio_ms == 1000.0 and item.heard_ms == 500.0
    assert item.heard_audio == item.audio_bytes[:500 * BYTES_PER_MS]
    assert item.remembered_text is None
    assert item.transcript == "One, two, three, four, five, six, seven, eight, nine, ten."
    assert conversation.lines()[-1] == (
        'assistant (audio, heard 0.50 s of 1.00 s): [transcript removed by truncation] '
        '(generated: "One, two, three, four, five, six, seven, eight, nine, ten.")')


def test_truncated_turn_is_skipped_or_estimated_on_restore():
    conversation = Conversation.from_frames(truncated_session())
    assert conversation.restore_events("beta") == [ev.user_text("Count to ten")]
    estimated = conversation.restore_events("beta", truncated="estimate")
    assert estimated[-1] == ev.assistant_text("One, two, three, four, five,", "beta")
    with pytest.raises(ValueError, match="truncated must be"):
        conversation.restore_events("beta", truncated="full")


def test_function_call_state(dialect):
    conversation = session(full_session(), dialect)
    call = conversation.item("item_fc")
    assert (call.type, call.name, call.call_id, call.arguments) == (
        "function_call", "get_weather", "call_1", '{"city": "Paris"}')
    output = conversation.item("item_fo")
    assert (output.type, output.call_id, output.output) == ("function_call_output", "call_1", '{"temp_c": 21}')


def test_stepfun_style_argument_chunks():
    conversation = Conversation()
    conversation.observe_event({"type": "response.created", "response": {"id": "r"}})
    conversation.observe_event({"type": "conversation.item.created", "item": {
        "id": "item_fc", "type": "function_call", "status": "incomplete", "call_id": "c", "name": "get_weather"}})
    for part in ('{"city":', '"Beijing"}'):
        conversation.observe_event({"type": "response.function_call_arguments.delta", "item_id": "item_fc",
                                    "arguments": part, "name": "get_weather"})
    assert conversation.item("item_fc").arguments == '{"city":"Beijing"}'


def test_delete(dialect):
    frames = full_session() + [C(9.0, ev.item_delete("item_u1")),
                               S(9.1, {"type": "conversation.item.deleted", "item_id": "item_u1"})]
    conversation = session(frames, dialect)
    assert conversation.lines() == EXPECTED_LINES[1:]
    assert conversation.deleted_ids == ["item_u1"]
    with pytest.raises(KeyError, match="was deleted"):
        conversation.item("item_u1")
    conversation.observe_event({"type": "conversation.item.created", "item": {"id": "item_u1", "role": "user"}})
    assert len(conversation.items) == len(EXPECTED_LINES) - 1
    with pytest.raises(KeyError, match="known items: item_a1"):
        conversation.item("nope")


def test_previous_item_id_ordering():
    conversation = Conversation()

    def created(item_id, **extra):
        conversation.observe_event({"type": "conversation.item.created", **extra,
                                    "item": {"id": item_id, "type": "message", "role": "user",
                                             "content": [{"type": "input_text", "text": item_id}]}})

    created("a", previous_item_id=None)
    created("b", previous_item_id="a")
    created("c")                                  # no previous_item_id: appended
    created("z", previous_item_id=None)           # no predecessor: first
    created("m", previous_item_id="a")            # inserted after a
    created("r", previous_item_id="root")
    assert [i.id for i in conversation.items] == ["r", "z", "a", "m", "b", "c"]
    created("m", previous_item_id="a")            # a repeated ack (GA .done) does not move it
    assert [i.id for i in conversation.items] == ["r", "z", "a", "m", "b", "c"]


def test_out_of_band_response_is_not_in_the_conversation():
    frames = user_text_turn(0.0, "item_u", "Hi", None)
    frames += [f for f in assistant_text_response(0.1, "resp_oob", "item_x", "item_u", ["summary"])
               if f.event["type"] != "conversation.item.created"]
    conversation = Conversation.from_frames(frames)
    assert conversation.lines() == ["user: Hi"]
    assert conversation.item("item_x").text == "summary"
    assert conversation.responses["resp_oob"].output == ["item_x"]


def simulated_acks(client_events, dialect):
    """What a server answers to each conversation.item.create: an item ack chained by previous_item_id."""
    frames, previous = [], None
    for n, event in enumerate(client_events):
        assert event["type"] == "conversation.item.create" and "previous_item_id" not in event
        item = dict(event["item"], id=f"item_r{n}", object="realtime.item", status="completed")
        item.setdefault("role", None)
        frames.append(C(n, event))
        frames.append(S(n + 0.5, {"type": "conversation.item.created", "previous_item_id": previous, "item": item}))
        previous = item["id"]
    return DIALECTS[dialect](frames)


def remembered(conversation):
    return [(i.type, i.role, i.remembered_text, i.name, i.call_id, i.arguments, i.output)
            for i in conversation.items if i.type != "message" or i.remembered_text]


def test_restore_round_trip(dialect):
    original = session(full_session(), dialect)
    restore = original.restore_events(dialect)
    kinds = ["message"] * 5 + ["function_call", "function_call_output", "message"]
    assert [e["item"]["type"] for e in restore] == kinds
    assert restore[2] == ev.user_text("What is the weather?")
    assert restore[3] == ev.assistant_text("It is sunny today.", dialect)
    rebuilt = Conversation.from_frames(simulated_acks(restore, dialect))
    assert remembered(rebuilt) == remembered(original)
    assert rebuilt.lines() == [line.replace(" (audio)", "").replace(" (audio 0.40 s)", "") for line in EXPECTED_LINES]


def test_restore_max_items_never_orphans_an_output():
    conversation = Conversation.from_frames(full_session())
    last_two = conversation.restore_events("beta", max_items=2)
    assert last_two == [ev.assistant_text("21 degrees.", "beta")]      # the output lost its call: dropped
    last_three = conversation.restore_events("beta", max_items=3)
    assert [e["item"]["type"] for e in last_three] == ["function_call", "function_call_output", "message"]
    assert conversation.restore_events("beta", max_items=0) == []
    with pytest.raises(ValueError, match="max_items"):
        conversation.restore_events("beta", max_items=-1)
    with pytest.raises(ValueError, match="dialect"):
        conversation.restore_events("stepfun")


def test_prune_ids():
    conversation = Conversation.from_frames(full_session())
    ids = [i.id for i in conversation.items]
    assert conversation.prune_ids(3) == ids[:-3]
    assert conversation.prune_ids(100) == []
    assert conversation.prune_ids(0) == ids
    with pytest.raises(ValueError, match="keep_last"):
        conversation.prune_ids(-1)


def test_session_errors_and_rate_limits():
    conversation = Conversation()
    conversation.observe_event({"type": "session.created", "session": {"id": "sess_1", "model": "step-1o-audio",
                                                                       "voice": "linjiajiejie"}})
    conversation.observe_event({"type": "session.updated", "session": {"id": "sess_1", "model": "step-1o-audio",
                                                                       "voice": "qingchunshaonv"}})
    assert conversation.session["voice"] == "qingchunshaonv"
    error = {"type": "invalid_request_error", "code": "response_cancel_not_active",
             "message": "Cancellation failed: no active response found"}
    conversation.observe_event({"type": "error", "error": error}, t=2.5)
    assert conversation.errors == [{"t": 2.5, **error}]
    limits = [{"name": "tokens", "limit": 15000000, "remaining": 14999000, "reset_seconds": 0.001}]
    conversation.observe_event({"type": "rate_limits.updated", "rate_limits": limits})
    assert conversation.rate_limits == limits
    assert repr(conversation) == "<Conversation 0 items, 0 responses, 1 errors>"


def test_rejected_response_create_does_not_shift_timings():
    frames = user_text_turn(0.0, "item_u", "Hi", None)
    frames += [C(0.5, {**ev.response_create(), "event_id": "evt_dup"}),
               S(0.55, {"type": "error", "error": {"type": "invalid_request_error", "event_id": "evt_dup",
                                                   "code": "conversation_already_has_active_response",
                                                   "message": "Conversation already has an active response"}})]
    frames += assistant_text_response(1.0, "resp_1", "item_a", "item_u", ["Hello"])
    conversation = Conversation.from_frames(frames)
    assert conversation.responses["resp_1"].t_create_sent == 1.0
    assert len(conversation.errors) == 1


def test_from_frames_accepts_a_cassette_and_ignores_closes():
    frames = full_session() + [Frame(10.0, "server", close={"code": 1000, "reason": ""})]
    cassette = Cassette({"cassette": 1, "provider": "replay", "dialect": "beta", "model": "m"}, frames)
    assert Conversation.from_frames(cassette).lines() == EXPECTED_LINES


def test_bad_input_gets_a_clear_error():
    conversation = Conversation()
    with pytest.raises(ValueError, match="item 'item_a': audio delta is not valid base64"):
        conversation.observe_event({"type": "response.audio.delta", "item_id": "item_a", "delta": "AAA"})
    with pytest.raises(ValueError, match="string 'type'"):
        conversation.observe_event("response.done")
    with pytest.raises(ValueError, match="string 'type'"):
        conversation.observe_event({"no": "type"})
    with pytest.raises(ValueError, match="source must be"):
        conversation.observe_event({"type": "response.done"}, source="browser")
    conversation.observe_event({"type": "response.thinking.delta", "item_id": "x", "delta": "hmm"})  # unknown: ignored
    assert conversation.items == []
    assert conversation.last_response is None


def test_secrets_stay_out_of_the_state():
    conversation = Conversation()
    conversation.observe_event({"type": "session.created", "session": {
        "id": "sess_1", "model": "gpt-realtime", "client_secret": {"value": "ek_abc123", "expires_at": 1}}})
    conversation.observe_event({"type": "error", "error": {
        "type": "invalid_request_error", "code": "invalid_api_key",
        "message": "Incorrect API key provided: sk-proj-abcdefghijklmnop"}})
    assert "client_secret" not in conversation.session
    assert "sk-proj-abcdefghijklmnop" not in str(conversation.errors)
