"""The sans-I/O client core, driven frame by frame: no socket, no thread."""

from __future__ import annotations

import json

import pytest

from helpers.errors import RealtimeServerError
from helpers.session import ClientSession, match_set


def data(event) -> bytes:
    return json.dumps(event).encode()


def test_received_frames_are_recorded_with_their_time_and_the_session_kept():
    core = ClientSession("ga")
    event = core.receive_data(data({"type": "session.created", "session": {"id": "s1", "voice": "marin"}}), 0.25)
    assert event["session"]["id"] == "s1"
    assert core.session == {"id": "s1", "voice": "marin"}
    core.receive_data(data({"type": "session.updated", "session": {"id": "s1", "voice": "cedar"}}), 0.5)
    assert core.session["voice"] == "cedar"
    assert [(f.t, f.source, f.event["type"]) for f in core.history] == [
        (0.25, "server", "session.created"), (0.5, "server", "session.updated")]


@pytest.mark.parametrize("payload, reason", [
    (b"not json", "Expecting value"),
    (b"\xff\xfe", "utf-8"),
    (b"[1, 2]", "a JSON list, not an object"),
    (b"[" * 200_000 + b"]" * 200_000, "nested too deep to parse"),
])
def test_a_frame_that_is_not_a_json_object_is_recorded_as_invalid_json(payload, reason):
    core = ClientSession()
    event = core.receive_data(payload, 1.0)
    assert event["type"] == "invalid_json" and reason in event["reason"]
    assert event["size"] == len(payload) and len(event["text"]) <= 200
    assert core.history[-1].event is event


def test_binary_frames_are_recorded_by_size():
    core = ClientSession()
    assert core.receive_data(b"\x00" * 10, 0.0, text=False) == {"type": "binary", "size": 10}


def test_send_event_numbers_ids_per_session_and_records_before_sending():
    first, second = ClientSession(), ClientSession()
    frame, text = first.send_event({"type": "response.create"}, 0.1)
    assert frame.event == {"event_id": "evt_1", "type": "response.create"} == json.loads(text)
    assert first.send_event({"type": "response.cancel"}, 0.2)[0].event["event_id"] == "evt_2"
    assert second.send_event({"type": "response.create"}, 0.0)[0].event["event_id"] == "evt_1"
    assert first.send_event({"type": "x", "event_id": "mine"}, 0.3)[0].event["event_id"] == "mine"
    assert [f.source for f in first.history] == ["client"] * 3


@pytest.mark.parametrize("event, error", [
    ("response.create", TypeError), ({"type": ""}, ValueError), ({"type": "x", "v": float("nan")}, ValueError),
    ({"type": "x", "v": object()}, TypeError)])
def test_malformed_client_events_are_refused_and_not_recorded(event, error):
    core = ClientSession()
    with pytest.raises(error):
        core.send_event(event, 0.0)
    assert core.history == []


def test_send_failed_forgets_the_frame_also_in_the_conversation():
    core = ClientSession()
    frame, _ = core.send_event({"type": "response.create"}, 0.1)
    assert len(core.conversation._pending_creates) == 1
    core.send_failed(frame)
    assert core.history == [] and core.conversation._pending_creates == []


@pytest.mark.parametrize("payload", [
    {"type": "invalid_request_error", "code": "bad", "message": "no"}, "a plain string", ["a", "list"], None, 42])
def test_the_error_rule_raises_for_any_error_payload_and_keeps_it_raw(payload):
    core = ClientSession()
    event = core.receive_data(data({"type": "error", "error": payload}), 0.0)
    with pytest.raises(RealtimeServerError) as caught:
        core.accept(event, match_set(["response.done"]))
    assert caught.value.raw == payload and caught.value.event is event
    assert isinstance(caught.value.message, str)
    assert core.accept(event, match_set(["error"])) is True  # a wait for errors takes it


def test_accept_matches_names_in_both_dialects_and_where():
    wanted = match_set(["response.audio.delta"])
    assert ClientSession.accept({"type": "response.output_audio.delta"}, wanted)
    assert not ClientSession.accept({"type": "response.done"}, wanted)
    assert ClientSession.accept({"type": "x", "n": 2}, frozenset(), lambda e: e["n"] == 2)
    assert not ClientSession.accept({"type": "x", "n": 1}, frozenset(), lambda e: e["n"] == 2)
    with pytest.raises(TypeError):
        match_set([""])


def test_listeners_see_each_frame_with_its_wire_text_until_unsubscribed():
    core = ClientSession()
    seen = []
    unsubscribe = core.subscribe(lambda frame, raw: seen.append((frame.source, raw)))
    core.receive_data(b'{"type":"a"}', 0.0)
    core.receive_data(b"oops", 0.1)
    core.send_event({"type": "b", "event_id": "e"}, 0.2)
    core.receive_close(1000, "bye", 0.3)
    unsubscribe()
    core.receive_data(b'{"type":"c"}', 0.4)
    assert seen == [("server", '{"type":"a"}'), ("server", None), ("client", '{"type": "b", "event_id": "e"}'),
                    ("server", None)]
    assert (core.close_code, core.close_reason) == (1000, "bye")


def test_the_conversation_follows_the_frames_fed():
    core = ClientSession("beta")
    core.send_event({"type": "response.create"}, 0.0)
    core.receive_data(data({"type": "response.created", "response": {"id": "r1", "status": "in_progress"}}), 0.1)
    core.receive_data(data({"type": "response.text.delta", "response_id": "r1", "item_id": "i1", "delta": "Hel"}), 0.2)
    assert core.conversation.item("i1").text == "Hel"
    core.receive_data(data({"type": "response.text.delta", "response_id": "r1", "item_id": "i1", "delta": "lo"}), 0.3)
    response = core.conversation.responses["r1"]
    assert core.conversation.item("i1").text == "Hello"
    assert (response.t_create_sent, response.t_created, response.t_first_text) == (0.0, 0.1, 0.2)


def test_first_server_event_is_the_refusal_when_there_is_one():
    core = ClientSession()
    assert core.first_server_event() is None
    core.send_event({"type": "x"}, 0.0)
    core.receive_data(data({"type": "error", "error": {"code": "invalid_api_key"}}), 0.1)
    assert core.first_server_event()["type"] == "error"
