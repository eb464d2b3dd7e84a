"""helpers.limits: the frame checks the replay server runs before its engine sees a frame."""

from __future__ import annotations

import json

import pytest

from helpers import limits
from helpers.limits import MAX_DEPTH, check_frame
from tests.hostile_clients import deep_frame


def test_limits_accept_what_real_clients_send():
    tools = {"type": "function", "name": "lookup", "parameters": {"type": "object", "properties": {
        "where": {"type": "object", "properties": {"city": {"type": "string"}}}}}}
    assert check_frame(json.dumps({"type": "session.update", "session": {"tools": [tools], "temperature": 0.8,
                                                                        "instructions": "x" * 100_000}})) is None
    assert check_frame(json.dumps({"type": "input_audio_buffer.append", "audio": "A" * 15 * 1024 * 1024})) is None
    assert check_frame(json.dumps({"type": "response.create", "response": {"max_output_tokens": 4096}})) is None
    assert check_frame("not json") is None   # the engine answers invalid JSON itself
    assert check_frame(deep_frame(MAX_DEPTH - 1)) is None   # the event object and 63 levels below it
    assert check_frame(deep_frame(MAX_DEPTH)).code == "invalid_event"
    assert check_frame('{"type":"session.update","session":{"max_output_tokens":1' + "0" * 400 + "}}") is None


def test_bulk_audio_is_set_aside_but_everything_else_in_a_big_frame_is_checked():
    audio = "QUJD" * 2_000_000
    assert check_frame(json.dumps({"type": "input_audio_buffer.append", "event_id": "e", "audio": audio})) is None
    late = json.dumps({"type": "input_audio_buffer.append", "audio": audio, "event_id": "e" * 300})
    assert check_frame(late).param == "event_id"
    escaped = '{"type":"conversation.item.create","item":{"content":[{"audio":"\\u0041' + audio + '"}],"n":1e999}}'
    assert check_frame(escaped).param == "item.n"   # an escape: parsed in full, still checked
    hidden = json.dumps({"type": "session.update", "session": {"instructions": 'say "audio": "' + "y" * 2_000_000}})
    assert check_frame(hidden).param == "session.instructions"


TOO_LONG = 1_100_000   # characters: above MAX_STRING_CHARS


@pytest.mark.parametrize("frame", [
    {"type": "session.update", "event_id": "e1", "session": {"instructions": "x" * TOO_LONG}},
    {"type": "session.update", "session": {"tools": [{"name": "f", "description": "d" * TOO_LONG}]}},
    {"type": "session.update", "session": {"instructions": 'a"b' + "x" * TOO_LONG}},          # escapes: parsed
    {"type": "session.update", "session": {"x" * TOO_LONG: 1}},                                # a key, not a value
    {"type": "conversation.item.create", "item": {"content": [{"type": "input_text", "text": "q\\" + "z" * TOO_LONG}]}},
    {"type": "session.update", "session": {"instructions": "ok", "x": [1] * 100_000}},         # too many values
    {"type": "session.update", "session": {"instructions": "a, b, " * 30_000, "x": [1] * 99_000}},
])
def test_the_shortcuts_for_big_frames_answer_as_the_full_check(frame, monkeypatch):
    text = json.dumps(frame)
    quick = check_frame(text)
    monkeypatch.setattr(limits, "_long_string", lambda _text: None)           # no string set aside ...
    monkeypatch.setattr(limits, "_more_values_than", lambda _text, _limit: False)   # ... and no count before
    assert quick == check_frame(text)


def test_a_frame_of_too_many_values_or_too_long_a_string_is_refused_without_the_checked_parse(monkeypatch):
    def no_walk(*args, **kwargs):
        raise AssertionError("walked value by value")
    many = json.dumps({"type": "session.update", "session": {"x": ["a"] * 400_000}})
    long = json.dumps({"type": "session.update", "session": {"instructions": "x" * 2_000_000}})
    with monkeypatch.context() as patch:
        patch.setattr(limits, "_walk", no_walk)
        assert check_frame(many).code == "invalid_json"
    seen = []
    monkeypatch.setattr(limits, "_walk", lambda value, length=None: seen.append((value, length)))
    assert check_frame(long) is None and len(seen) == 1                 # what the check walks: a small stand-in
    value, length = seen[0]
    assert length == 2_000_000 and len(json.dumps(value)) < 200
