"""Large frames in steps: the stepwise WebSocket reader and the engine's stepwise append (issue 13).

The reader must produce exactly websockets' frames and refusals while consuming a large payload
as it arrives; the engine's `receive_steps` must end exactly where `receive` ends. Then a real
server on port 0 takes a large append in odd-sized TCP writes and answers it.
"""

from __future__ import annotations

import json
import socket

import pytest
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.server import ServerProtocol
from websockets.sync.client import connect
from websockets.uri import parse_uri

from helpers.limits import bulk_span
from helpers.personas import PERSONAS
from helpers.replay import serve_in_background
from helpers.replay.engine import Options, Session
from helpers.replay.input_buffer import STEP_CHARS, is_event_audio
from helpers.replay.stepwise import STEP_BYTES, adopt
from tests.hostile_clients import RawSession
from tests.replay_fixtures import b64, events_until, silence, tone, url

MB = 1024 * 1024


def pair(max_size: int | None, stepwise: bool) -> tuple[ClientProtocol, ServerProtocol]:
    """A client and a server protocol past the handshake (Sans-I/O, no sockets)."""
    client, server = ClientProtocol(parse_uri("ws://localhost/"), max_size=None), ServerProtocol(max_size=max_size)
    if stepwise:
        adopt(server)
    client.send_request(client.connect())
    server.receive_data(b"".join(client.data_to_send()))
    server.send_response(server.accept(server.events_received()[0]))
    client.receive_data(b"".join(server.data_to_send()))
    client.events_received()
    return client, server


def feed(server: ServerProtocol, wire: bytes, piece: int) -> list:
    for at in range(0, len(wire), piece):
        server.receive_data(wire[at:at + piece])
    return server.events_received()


def frames(events: list) -> list[tuple]:
    return [(e.opcode, bytes(e.data), e.fin) for e in events if isinstance(e, Frame)]


def test_the_frames_are_websockets_own_whatever_their_size_and_the_pieces_they_arrive_in():
    client, _ = pair(None, False)
    payload = bytes(range(256)) * (3 * MB // 256 + 7)   # not a multiple of 4: the mask carries over pieces
    client.send_text(b"small")
    client.send_text(b"x" * 70_000)                       # a 16-bit length
    client.send_binary(payload)                           # large: read in steps
    client.send_text(b'{"type": "input_audio_buffer.append", "audio": "' + b"QUJD" * (MB // 2) + b'"}')
    client.send_ping(b"still there?")
    client.send_text(b"a", fin=False)                     # a fragmented message
    client.send_continuation(b"b" * (STEP_BYTES + 5), fin=True)
    wire = b"".join(client.data_to_send())
    expected = frames(feed(pair(None, False)[1], wire, 65_536))
    for piece in (1_000_003, 65_536, 4_099):
        assert frames(feed(pair(None, True)[1], wire, piece)) == expected


def test_a_large_payload_is_consumed_as_it_arrives_not_held_until_complete():
    client, server = pair(None, True)
    client.send_binary(b"\x01" * (4 * MB))
    wire = b"".join(client.data_to_send())
    for at in range(0, len(wire) // 2, 100_000):
        server.receive_data(wire[at:at + 100_000])
        assert len(server.reader.buffer) < 100_000   # unmasked into the payload piece by piece
    _, plain = pair(None, False)
    plain.receive_data(wire[:len(wire) // 2])
    assert len(plain.reader.buffer) > MB             # websockets waits for the whole payload


@pytest.mark.parametrize("cut", ["over the limit", "cut short"])
def test_refusals_are_websockets_own(cut):
    client, _ = pair(None, False)
    client.send_text(b"y" * (2 * MB))
    wire = b"".join(client.data_to_send())
    outcomes = []
    for stepwise in (False, True):
        _, server = pair(MB if cut == "over the limit" else None, stepwise)
        if cut == "cut short":
            server.receive_data(wire[:MB])
            server.receive_eof()
        else:
            server.receive_data(wire)
        outcomes.append((type(server.parser_exc), str(server.parser_exc), server.close_sent and server.close_sent.code))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][2] == (1009 if cut == "over the limit" else None)


# -- the engine: receive_steps ends where receive ends -------------------------------------

def session() -> Session:
    s = Session(None, PERSONAS["openai"], model="gpt-realtime", options=Options(speed=0))
    s.start(0.0)
    s.receive(json.dumps({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {
        "turn_detection": {"type": "server_vad", "create_response": False}}}}}), 0.0)
    s.poll(0.0)
    return s


def both_ways(text: str) -> tuple[list[dict], list[dict], int]:
    """The events `receive` and `receive_steps` produce for `text`, and how many steps the latter took.

    Both end with the same audio buffered, too."""
    whole, steps = session(), session()
    whole.receive(text, 1.0)
    bulk = bulk_span(text)
    assert bulk is not None
    taken = sum(1 for _ in steps.receive_steps(text, bulk, 1.0))
    assert (steps.input.total, steps.input.start) == (whole.input.total, whole.input.start)
    return [json.loads(t) for t in whole.poll(2.0)], [json.loads(t) for t in steps.poll(2.0)], taken


def test_a_large_append_in_steps_ends_as_one_append():
    speech = silence(9_000) + tone(2_000) + silence(3_000) + tone(1_000) + silence(9_000)
    text = json.dumps({"type": "input_audio_buffer.append", "event_id": "evt_big", "audio": b64(speech)})
    whole, stepwise, taken = both_ways(text)
    assert taken >= len(b64(speech)) // STEP_CHARS        # decoded and detected in bounded steps
    assert stepwise == whole
    kinds = [e["type"] for e in whole]
    assert kinds.count("input_audio_buffer.speech_started") == 2 and kinds.count("input_audio_buffer.committed") == 2


@pytest.mark.parametrize("audio", [b64(silence(12_000))[:STEP_CHARS + 8] + "*" + "A" * (STEP_CHARS - 1),
                                   b64(silence(6_000)) + "=" + b64(silence(6_000)),
                                   "A" * (15 * MB + 4)])
def test_a_refused_large_append_appends_nothing_in_steps_either(audio):
    text = json.dumps({"type": "input_audio_buffer.append", "event_id": "evt_bad", "audio": audio})
    whole, stepwise, _ = both_ways(text)
    assert [(e["type"], e["error"]["code"], e["error"]["param"], e["error"]["event_id"]) for e in stepwise] == \
        [(e["type"], e["error"]["code"], e["error"]["param"], e["error"]["event_id"]) for e in whole] == \
        [("error", "invalid_value", "audio", "evt_bad")]


def test_audio_that_is_not_the_append_s_own_is_handled_whole():
    item = {"type": "message", "role": "user", "content": [{"type": "input_audio", "audio": b64(silence(3_000))}]}
    text = json.dumps({"type": "conversation.item.create", "item": item})
    start = bulk_span(text)[0]
    assert not is_event_audio(text, start)
    whole, stepwise, taken = both_ways(text)
    assert stepwise == whole and "conversation.item.added" in [e["type"] for e in whole]
    assert taken == 2   # parse | validate | handle


# -- a real server ---------------------------------------------------------------------------

def test_a_real_server_answers_a_large_append_sent_in_odd_pieces():
    speech = silence(40_000) + tone(1_500) + silence(2_000)
    with serve_in_background() as server, connect(url(server.url, "gpt-realtime"), max_size=None) as ws:
        events_until(ws, "session.created")
        ws.send(json.dumps({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {
            "turn_detection": {"type": "server_vad", "create_response": False}}}}}))
        events_until(ws, "session.updated")
        frame = Frame(Opcode.TEXT, json.dumps({"type": "input_audio_buffer.append", "audio": b64(speech)}).encode())
        wire = frame.serialize(mask=True)   # written to the socket by hand, in pieces of odd sizes
        sock: socket.socket = ws.socket
        for at in range(0, len(wire), 77_777):
            sock.sendall(wire[at:at + 77_777])
        started = events_until(ws, "input_audio_buffer.speech_started", timeout=10)[-1]
        committed = events_until(ws, "input_audio_buffer.committed", timeout=10)[-1]
    assert started["audio_start_ms"] == 40_000 - 300      # prefix padding before the tone
    assert committed["item_id"] == started["item_id"]


@pytest.mark.parametrize("audio", [b64(silence(20_000)), b64(silence(12_000))[:STEP_CHARS + 8] + "*" + "A" * 11])
def test_a_transcription_session_takes_a_large_append_in_steps_as_one_append(audio):
    from helpers.replay.engine import open_session
    text = json.dumps({"type": "input_audio_buffer.append", "event_id": "evt_t", "audio": audio})
    sessions = [open_session({"intent": "transcription"}, {}, None, Options(speed=0), ()) for _ in range(2)]
    for s in sessions:
        s.start(0.0)
        s.poll(0.0)
    sessions[0].receive(text, 1.0)
    taken = sum(1 for _ in sessions[1].receive_steps(text, bulk_span(text), 1.0))
    assert taken >= 1   # at least the first piece was decoded before anything else happened
    assert sessions[1].poll(2.0) == sessions[0].poll(2.0)
    assert sessions[1].state.buffer == sessions[0].state.buffer


def test_a_large_text_frame_that_is_not_utf8_is_refused_as_websockets_refuses_it():
    from websockets.exceptions import ConnectionClosedError
    bad = b'{"type": "session.update", "session": {"instructions": "' + b"ok " * 200_000 + b'\xff"}}'
    with serve_in_background() as server, connect(url(server.url, "gpt-realtime"), max_size=None) as ws:
        events_until(ws, "session.created")
        ws.socket.sendall(Frame(Opcode.TEXT, bad).serialize(mask=True))
        with pytest.raises(ConnectionClosedError) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd.code == 1007
    position = bad.index(b"\xff")
    assert closed.value.rcvd.reason == f"invalid start byte at position {position}"


def test_large_messages_that_are_not_appends_or_come_in_fragments_are_answered_whole():
    instructions = "Answer briefly. " * 40_000   # 640 KB: read in steps, then decoded for the engine
    update = json.dumps({"type": "session.update", "session": {"type": "realtime", "instructions": instructions}})
    with serve_in_background() as server, connect(url(server.url, "gpt-realtime"), max_size=None) as ws:
        events_until(ws, "session.created")
        ws.send(update)
        assert events_until(ws, "session.updated")[-1]["session"]["instructions"] == instructions
        half = len(update) // 2
        ws.send([update[:half], update[half:]])      # a fragmented message: websockets' own path
        assert events_until(ws, "session.updated")[-1]["session"]["instructions"] == instructions


def test_large_frames_beyond_what_the_process_holds_are_refused_with_try_again_later(monkeypatch):
    from helpers.replay import stepwise
    monkeypatch.setattr(stepwise, "HELD_LIMIT", stepwise._Held.bytes + 3 * MB)
    wires = []
    for fill in (b"a", b"b", b"c"):
        client, _ = pair(None, False)
        client.send_binary(fill * (2 * MB))
        wires.append(b"".join(client.data_to_send()))
    _, first = pair(None, True)
    first.receive_data(wires[0][:MB])                       # holds 2 MB for the frame under way
    _, second = pair(None, True)
    second.receive_data(wires[1][:MB])                      # 2 + 2 MB: more than the process may hold
    assert second.close_sent.code == 1013 and "try again later" in second.close_sent.reason
    first.receive_data(wires[0][MB:])
    assert bytes(first.events_received()[0].data) == b"a" * (2 * MB)   # the frame is handed over, then dropped
    _, third = pair(None, True)
    third.receive_data(wires[2])                            # its memory was given back: room again
    assert bytes(third.events_received()[0].data) == b"c" * (2 * MB)


@pytest.mark.parametrize("query", [{"model": "gpt-realtime"}, {"model": None, "intent": "transcription"}])
def test_a_large_binary_frame_is_refused_as_a_small_one_is(query):
    with serve_in_background() as server, connect(url(server.url, **query), max_size=None) as ws:
        events_until(ws, "session.created")
        ws.send(b"\xff\xfe" * MB)                   # 2 MB, not text: read in steps, then refused
        error = events_until(ws, "error", timeout=10)[-1]["error"]
        assert error["type"] == "invalid_request_error"
        assert error["code"] != "server_error"       # an answer to the client, not an engine failure


def test_a_large_frame_cut_off_by_its_client_gives_its_memory_back(monkeypatch):
    from helpers.replay import stepwise
    monkeypatch.setattr(stepwise, "HELD_LIMIT", stepwise._Held.bytes + 5 * MB)
    update = json.dumps({"type": "session.update", "session": {"type": "realtime", "instructions": "x" * (3 * MB)}})
    wire = Frame(Opcode.TEXT, update.encode()).serialize(mask=True)
    with serve_in_background() as server:
        for _ in range(5):                                   # 5 x 3 MB announced: over the limit if kept
            gone = RawSession(url(server.url, "gpt-realtime"))
            gone.read_until("session.created")
            gone.sock.sendall(wire[:MB])                     # a third of a frame, then the client is gone
            gone.close()
        with connect(url(server.url, "gpt-realtime"), max_size=None) as ws:
            events_until(ws, "session.created")
            ws.socket.sendall(wire)
            error = events_until(ws, "error", timeout=10)[-1]["error"]   # answered (too long), not closed 1013
            assert error["param"] == "session.instructions"
