"""helpers.limits: the frame checks the replay server runs before its engine sees a frame."""

from __future__ import annotations

import json

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
