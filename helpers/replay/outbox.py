"""Server frames waiting for their time, with the persona's ids and the fault options applied."""

from __future__ import annotations

import json
import random
from collections import deque
from typing import Any

from ..personas import OBFUSCATED_DELTAS, Persona, in_dialect
from .recording import dumps
from .validation import ClientError

MAX_ERRORS_KEPT = 100  # a report lists at most this many error codes (and counts them all)


class Outbox:
    """Frames due at times (`queue`), ids made deterministically from `seed`, faults applied.

    `closing` becomes (code, reason) when a fault ends the connection; `errors` keeps the codes of
    the last error events sent and `error_count` all of them.
    """

    def __init__(self, persona: Persona, seed: str, *, latency_ms: float = 0.0, jitter_ms: float = 0.0,
                 close_after: int | None = None):
        self.persona = persona
        self.seed = seed
        self.latency_ms, self.jitter_ms, self.close_after = latency_ms, jitter_ms, close_after
        self.queue: deque[tuple[float, str]] = deque()
        self.closing: tuple[int, str] | None = None
        self.events_sent = 0
        self.errors: deque[str | None] = deque(maxlen=MAX_ERRORS_KEPT)
        self.error_count = 0
        self._counters: dict[str, int] = {}
        self._rng = random.Random(0)
        self._last_at = 0.0

    def new_id(self, kind: str) -> str:
        """The next id of `kind` ("event", "item", "resp", "sess"): the same sequence on every run."""
        self._counters[kind] = self._counters.get(kind, 0) + 1
        return self.persona.new_id(kind, f"{self.seed}:{self._counters[kind]}")

    def emit(self, text: str, due: float) -> None:
        """Queue one JSON text frame due at `due` (plus the latency/jitter faults)."""
        if self.closing is not None:
            return
        at = due
        if self.latency_ms or self.jitter_ms:
            at += (self.latency_ms + self._rng.uniform(0, self.jitter_ms)) / 1000
        self._last_at = max(at, self._last_at)
        self.queue.append((self._last_at, text))
        self.events_sent += 1
        if self.close_after is not None and self.events_sent >= self.close_after:
            self.closing = (1011, f"close_after fault: closed after {self.events_sent} server events")

    def send(self, kind: str, now: float, **fields: Any) -> None:
        """Queue a server event built live: named for the dialect, with a new event id."""
        self.emit(dumps(self._event(kind, fields)), now)

    def send_encoded(self, kind: str, now: float, name: str, encoded: str, **fields: Any) -> None:
        """`send` with a last field `name` whose value is already JSON text (a big item, encoded once)."""
        text = dumps(self._event(kind, fields))
        self.emit(f"{text[:-1]},{json.dumps(name)}:{encoded}}}", now)

    def _event(self, kind: str, fields: dict) -> dict:
        event = {"type": in_dialect(kind, self.persona.dialect), "event_id": self.new_id("event"), **fields}
        if self.persona.obfuscation and event["type"] in OBFUSCATED_DELTAS:
            event["obfuscation"] = self.persona.obfuscation_for(event["event_id"], str(event.get("delta")))
        return event

    def error(self, err: ClientError, client_event_id: str | None, now: float, kind: str = "invalid_request_error") -> None:
        """Queue an `error` event for `err`; the session goes on."""
        self.errors.append(err.code)
        self.error_count += 1
        self.send("error", now, error={"type": kind, "code": err.code, "message": err.message,
                                       "param": err.param, "event_id": client_event_id})
