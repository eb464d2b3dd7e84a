"""The client side of a Realtime session as pure state: no socket, no thread of its own, no clock.

Like the `Protocol` of ``websockets`` (``receive_data`` in, events out) and h11's connection
object, `ClientSession` is fed what crossed the wire and says what to do next:

* `receive_data(data, t)` takes one received WebSocket message (bytes, `t` seconds after the
  socket opened) and returns its event; a message that is not a JSON object becomes an
  ``invalid_json`` event, so nothing received is ever lost.
* `send_event(event, t)` checks a client event, gives it an ``event_id`` and returns the frame
  kept in `history` and the text to put on the wire.
* `accept(event, wanted, where)` is the error rule: an ``error`` event raises
  `RealtimeServerError` unless ``"error"`` is in `wanted` (whatever shape its payload has).

It keeps `history` (every `Frame` both ways), `session` (the last session object the server
sent) and `conversation` (a `helpers.conversation.Conversation` brought up to date on read).
Listeners added with `subscribe` see each frame as it is recorded (the client's log and
recorder are two); `VoiceSession` and the relay read `conversation` instead of keeping their
own. `RealtimeClient` is the I/O around it; a lock lets its two threads share one core.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

from . import personas
from .cassette import Frame
from .catalogue import warn_if_retiring
from .conversation import Conversation
from .errors import RealtimeServerError
from .events import transcription_model

__all__ = ["ClientSession", "Listener", "match_set", "server_error"]

Listener = Callable[[Frame, "str | None"], None]
"""Called with each frame recorded and its wire text (None for binary or unparseable frames)."""

_loads = json.loads
_SESSION_EVENTS = frozenset({"session.created", "session.updated"})
_INVALID_TEXT_CHARS = 200


class ClientSession:
    """The protocol state of one client session in `dialect`: history, session object, conversation."""

    def __init__(self, dialect: str = "beta") -> None:
        self.dialect = personas.check_dialect(dialect)
        self.history: list[Frame] = []
        self.session: dict | None = None
        self.close_code: int | None = None
        self.close_reason = ""
        self._listeners: list[Listener] = []
        self._ids = itertools.count(1)
        self._conversation = Conversation()
        self._observed = 0  # frames of history the conversation has taken in
        self._lock = threading.Lock()  # guards the conversation's catch-up and history removals

    # -- receiving ---------------------------------------------------------------------------

    def receive_data(self, data: bytes, t: float, text: bool = True) -> dict:
        """Record one received message (a text frame's bytes, or a binary frame) and return its event."""
        raw: str | None = None
        if not text:
            event: Any = {"type": "binary", "size": len(data)}
        else:
            try:  # UTF-8 checked once here; decoding first spares json its encoding sniffing
                raw = data.decode("utf-8")
                event = _loads(raw)
            except (ValueError, RecursionError) as exc:  # bad UTF-8 or JSON, or nested too deep to parse
                event, raw = _invalid(data, exc), None
            else:
                if type(event) is not dict:
                    event, raw = _invalid(data, TypeError(f"a JSON {type(event).__name__}, not an object")), None
        frame = Frame(t, "server", event)
        self.history.append(frame)
        if event.get("type") in _SESSION_EVENTS:
            session = event.get("session")
            self.session = session if isinstance(session, dict) else None
        if self._listeners:  # the receive path: no loop set up when nobody listens
            for listener in self._listeners:
                listener(frame, raw)
        return event

    def receive_close(self, code: int | None, reason: str, t: float) -> Frame:
        """Record the end of the session (a close frame, or None when the connection just dropped)."""
        self.close_code, self.close_reason = code, reason or ""
        frame = Frame(t, "server", None, {"code": code, "reason": self.close_reason})
        for listener in self._listeners:
            listener(frame, None)
        return frame

    # -- sending -----------------------------------------------------------------------------

    def send_event(self, event: dict, t: float) -> tuple[Frame, str]:
        """Check `event`, add an ``event_id`` if missing, record it; returns the frame and the text to send."""
        event, text = self.prepare_event(event)
        transcription = transcription_model(event)
        if transcription is not None:
            warn_if_retiring(transcription, stacklevel=4)  # above: send_event, the client's send, its caller
        frame = Frame(t, "client", event)
        # Recorded before it is sent, so that a fast reply never comes first in history.
        self.history.append(frame)
        for listener in self._listeners:
            listener(frame, text)
        return frame, text

    def prepare_event(self, event: dict) -> tuple[dict, str]:
        """`event` checked, with an ``event_id`` if it had none, and its wire text (nothing recorded)."""
        if not isinstance(event, dict):
            raise TypeError(f"send() takes an event dict, not {type(event).__name__}")
        if not isinstance(event.get("type"), str) or not event["type"]:
            raise ValueError("an event needs a non-empty string 'type', e.g. {'type': 'response.create'}")
        event = {**event} if "event_id" in event else {"event_id": f"evt_{next(self._ids)}", **event}
        try:
            text = json.dumps(event, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"event {event['type']!r} is not JSON-serialisable: {exc}") from None
        return event, text

    def send_failed(self, frame: Frame) -> None:
        """Forget a frame `send_event` recorded that never reached the wire."""
        with self._lock:
            index = next((i for i in range(len(self.history) - 1, -1, -1) if self.history[i] is frame), None)
            if index is None:
                return
            del self.history[index]
            if index < self._observed:  # the conversation saw it: rebuild without it
                self._conversation = Conversation.from_frames(self.history[:self._observed - 1])
                self._observed -= 1

    # -- the error rule ----------------------------------------------------------------------

    @staticmethod
    def accept(event: dict, wanted: frozenset[str], where: Callable[[dict], bool] | None = None) -> bool:
        """True when a wait for `wanted` (any type if empty) passing `where` takes `event`.

        Raises `RealtimeServerError` for an ``error`` event the wait does not ask for.
        """
        kind = event.get("type")
        if kind == "error" and "error" not in wanted:
            raise server_error(event)
        return (not wanted or kind in wanted) and (where is None or where(event))

    # -- observers ---------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(frame, text)` for every frame recorded from now on; returns the unsubscribe."""
        self._listeners = [*self._listeners, listener]

        def unsubscribe() -> None:
            self._listeners = [other for other in self._listeners if other is not listener]
        return unsubscribe

    @property
    def conversation(self) -> Conversation:
        """The conversation so far, brought up to date with every frame recorded."""
        with self._lock:
            history = self.history
            while self._observed < len(history):
                self._conversation.observe(history[self._observed])
                self._observed += 1
            return self._conversation

    def first_server_event(self) -> dict | None:
        """The first event the server sent, if any (a refusal arrives as one)."""
        return next((f.event for f in self.history if f.source == "server"), None)

    def __repr__(self) -> str:
        return f"<ClientSession {self.dialect}, {len(self.history)} frames>"


def server_error(event: dict) -> RealtimeServerError:
    """The exception for an ``error`` event, whatever its ``error`` field holds (object, string, list, null)."""
    return RealtimeServerError(event.get("error"), event)


def match_set(types: Iterable[str]) -> frozenset[str]:
    """The event names a wait for `types` matches: each name in both dialects."""
    out: set[str] = set()
    for name in types:
        if not isinstance(name, str) or not name:
            raise TypeError(f"event types are non-empty strings, not {name!r}")
        out |= personas.aliases(name)
    return frozenset(out)


def _invalid(data: bytes, problem: BaseException) -> dict:
    """The event recorded for a text frame that is not a JSON object: its start and why."""
    reason = "nested too deep to parse" if isinstance(problem, RecursionError) else str(problem)[:200]
    return {"type": "invalid_json", "text": data[:_INVALID_TEXT_CHARS].decode("utf-8", "replace"),
            "size": len(data), "reason": reason}
