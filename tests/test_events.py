"""The client event builders: exactly the JSON each sends, in both dialects."""

from __future__ import annotations

import base64
import json

import pytest

from helpers import events as ev


def test_every_builder_gives_a_complete_client_event():
    built = [ev.session_update(ev.session_config("beta")), ev.input_audio_append(b"\x00\x00"), ev.input_audio_commit(),
             ev.input_audio_clear(), ev.user_text("hi"), ev.item_retrieve("item_1"), ev.item_truncate("item_1", 150),
             ev.item_delete("item_1"), ev.response_create(), ev.response_cancel()]
    assert {e["type"] for e in built} == set(ev.CLIENT_EVENTS)
    for event in built:
        assert ev.missing_fields(event) == []
        assert json.loads(json.dumps(event)) == event


def test_session_config_is_flat_for_beta_and_nested_for_ga():
    beta = ev.session_config("beta", instructions="Be brief.", voice="jingdiannvsheng", output="audio",
                             audio_format="pcm16", turn_detection=None, transcription={"model": "whisper-1"})
    assert beta == {"modalities": ["text", "audio"], "instructions": "Be brief.", "voice": "jingdiannvsheng",
                    "input_audio_format": "pcm16", "output_audio_format": "pcm16",
                    "input_audio_transcription": {"model": "whisper-1"}, "turn_detection": None}
    ga = ev.session_config("ga", instructions="Be brief.", voice="marin", output="text", turn_detection=ev.server_vad())
    assert ga == {"type": "realtime", "output_modalities": ["text"], "instructions": "Be brief.",
                  "audio": {"input": {"turn_detection": {"type": "server_vad"}}, "output": {"voice": "marin"}}}
    assert "turn_detection" not in ev.session_config("beta")  # left out: the server's setting stays


@pytest.mark.parametrize("kwargs, message", [({"output": "video"}, "output"), ({"audio_format": "g711_ulaw"}, "pcm16")])
def test_session_config_refuses_what_it_cannot_shape(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ev.session_config("beta", **kwargs)
    with pytest.raises(ValueError, match="dialect"):
        ev.session_config("v2")


def test_audio_is_sent_as_base64_of_the_bytes_given():
    pcm = bytes(range(10))
    assert base64.b64decode(ev.input_audio_append(pcm)["audio"]) == pcm
    assert ev.input_audio_append("AAAA")["audio"] == "AAAA"
    assert ev.user_audio(bytearray(pcm))["item"]["content"][0] == {"type": "input_audio",
                                                                   "audio": base64.b64encode(pcm).decode()}
    with pytest.raises(TypeError, match="pcm16 bytes or a base64 str"):
        ev.input_audio_append(123)  # type: ignore[arg-type]


def test_items_and_responses():
    assert ev.assistant_text("ok", "beta")["item"]["content"] == [{"type": "text", "text": "ok"}]
    assert ev.assistant_text("ok", "ga")["item"]["content"] == [{"type": "output_text", "text": "ok"}]
    assert ev.user_text("hi", previous_item_id="root")["previous_item_id"] == "root"
    assert ev.function_output("call_1", {"temp": 21})["item"] == {
        "type": "function_call_output", "call_id": "call_1", "output": '{"temp": 21}'}
    assert ev.function_tool("f", "d", {}, nested=True) == {"type": "function", "function": {
        "name": "f", "description": "d", "parameters": {}}}
    assert ev.response_create(instructions="x") == {"type": "response.create", "response": {"instructions": "x"}}
    assert ev.response_cancel("resp_1") == {"type": "response.cancel", "response_id": "resp_1"}
    assert ev.server_vad(threshold=0.5, energy_awakeness_threshold=2500) == {
        "type": "server_vad", "threshold": 0.5, "energy_awakeness_threshold": 2500}
    with pytest.raises(ValueError, match="audio_end_ms"):
        ev.item_truncate("item_1", -1)


def test_missing_fields_names_what_the_server_requires():
    assert ev.missing_fields({"type": "conversation.item.truncate", "item_id": "i"}) == ["content_index", "audio_end_ms"]
    assert ev.missing_fields({"type": "something.new"}) == []
