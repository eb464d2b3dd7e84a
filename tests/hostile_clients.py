"""Clients that misbehave on purpose, for tests/test_hardening.py and bench/bench_soak.py.

`RawSession` speaks WebSocket through websockets' Sans-I/O protocol on a plain blocking socket,
so it reads from the server only when told to: a client that stops reading really stops.
Loopback only. The frames below are the hostile inputs of issue 13.
"""

from __future__ import annotations

import json
import socket
import struct
import time
from typing import Any
from urllib.parse import urlsplit

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.uri import parse_uri

BIG_TEXT_CHARS = 1_000_000   # one stored item of about 1 MB, as in the slow-consumer report
_TCP_ESTABLISHED = 1


def deep_frame(levels: int) -> str:
    """A ``session.update`` whose session nests `levels` objects deep."""
    return '{"type":"session.update","session":' + '{"a":' * levels + "1" + "}" * levels + "}"


HOSTILE_FRAMES = {
    "nested 600 deep": deep_frame(600),
    "nested 200,000 deep": deep_frame(200_000),
    "5000-digit VAD threshold": '{"type":"session.update","session":{"turn_detection":{"type":"server_vad",'
                                '"threshold":' + "9" * 5000 + "}}}",
    "NaN temperature": '{"type":"session.update","session":{"temperature":NaN}}',
    "1e999 temperature": '{"type":"session.update","session":{"temperature":1e999}}',
    "300-character type": json.dumps({"type": "x" * 300}),
    "2 MB instructions": json.dumps({"type": "session.update", "session": {"instructions": "x" * 2_000_000}}),
}


class RawSession:
    """One WebSocket connection that reads only in `read_until`; `send` writes a text frame."""

    def __init__(self, url: str, timeout: float = 10.0):
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
        self.protocol = ClientProtocol(parse_uri(url), max_size=None)
        self.protocol.send_request(self.protocol.connect())
        self._flush()
        self.events: list[dict] = []
        self.close_code: int | None = None
        self._pending: list[Any] = []
        deadline = time.monotonic() + timeout
        while self.protocol.handshake_exc is None and not self._handshake_done():
            self._receive(deadline)
        if self.protocol.handshake_exc is not None:
            raise ConnectionError(f"handshake refused: {self.protocol.handshake_exc}")

    def _handshake_done(self) -> bool:
        return self.protocol.state.name != "CONNECTING"

    def send(self, message: str | dict) -> None:
        """Write one text frame (blocks while the server does not read: that is the point)."""
        text = message if isinstance(message, str) else json.dumps(message)
        self.protocol.send_text(text.encode())
        self._flush()

    def read_until(self, *kinds: str, timeout: float = 10.0) -> dict:
        """Read frames until an event of one of `kinds` (returned); raises TimeoutError or ConnectionError."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event.get("type") in kinds:
                    self.events.remove(event)
                    return event
            if self.close_code is not None:
                raise ConnectionError(f"closed {self.close_code} before {' or '.join(kinds)}")
            self._receive(deadline)

    def server_ended(self) -> bool:
        """Whether the server has closed or reset the TCP connection (seen without reading a byte)."""
        state = struct.unpack("B", self.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1))[0]
        return state != _TCP_ESTABLISHED

    def reset(self) -> None:
        """Vanish mid-stream: close with a TCP reset, no close frame."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self) -> None:
        self.sock.close()

    def _receive(self, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no answer in time")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(1 << 20)
        except TimeoutError:
            raise TimeoutError("no answer in time") from None
        if not data:
            self.protocol.receive_eof()
        else:
            self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                self.events.append(json.loads(event.data))
            elif isinstance(event, Frame) and event.opcode is Opcode.CLOSE:
                self.close_code = self.protocol.close_rcvd.code if self.protocol.close_rcvd else 1006
        if not data and self.close_code is None:
            self.close_code = 1006
        self._flush()

    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                self.sock.sendall(data)


def store_big_item(session: RawSession, item_id: str = "item_big") -> None:
    """Add a user message of `BIG_TEXT_CHARS` characters and wait until the server has it."""
    session.read_until("session.created")
    session.send({"type": "conversation.item.create", "item": {
        "id": item_id, "type": "message", "role": "user",
        "content": [{"type": "input_text", "text": "x" * BIG_TEXT_CHARS}]}})
    session.read_until("conversation.item.created", "conversation.item.added", timeout=30)


def flood_retrieves(session: RawSession, count: int, item_id: str = "item_big", timeout: float = 30.0) -> int:
    """Send up to `count` retrieves of the big item without reading; returns how many the socket took in time."""
    sent, deadline = 0, time.monotonic() + timeout
    frame = json.dumps({"type": "conversation.item.retrieve", "item_id": item_id})
    session.sock.settimeout(0.5)
    try:
        while sent < count and time.monotonic() < deadline and not session.server_ended():
            try:
                session.send(frame)
            except TimeoutError:   # the server stopped reading us: backpressure, as it should
                break
            sent += 1
    except OSError:  # reset by the server
        pass
    return sent


def wait_until_dropped(session: RawSession, timeout: float) -> float | None:
    """Seconds until the server ends a connection we never read from, or None if it did not within `timeout`."""
    begin = time.monotonic()
    while time.monotonic() - begin < timeout:
        if session.server_ended():
            return time.monotonic() - begin
        time.sleep(0.05)
    return None
