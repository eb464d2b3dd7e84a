"""The idle timeout of OpenAI's server VAD (GA, 2026): `idle_timeout_ms` and ``input_audio_buffer.timeout_triggered``.

Per the SDK (``realtime_audio_input_turn_detection.py``, ``input_audio_buffer_timeout_triggered.py``):
the timer starts when a response is done **plus** the time its audio takes to play; if the user
says nothing before it runs out, the server sends ``input_audio_buffer.timeout_triggered``
``{audio_start_ms, audio_end_ms, item_id}``, commits the (silent) audio as a user item and creates a
response. Server VAD only (the SDK's semantic VAD has no such field). Pure: the engine arms,
disarms and fires it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["IdleTimer", "idle_timeout_ms"]

BYTES_PER_MS = 48


def idle_timeout_ms(turn_detection: dict | None) -> int | None:
    """The idle timeout of a server-VAD `turn_detection`, or None."""
    if not isinstance(turn_detection, dict) or turn_detection.get("type") != "server_vad":
        return None
    value = turn_detection.get("idle_timeout_ms")
    return value if isinstance(value, int) and value > 0 else None


@dataclass
class IdleTimer:
    """When the idle timeout fires (None: not armed), and where the idle audio starts in the buffer."""

    deadline: float | None = None
    audio_start: int = 0

    def arm(self, done_at: float, audio_bytes: int, timeout_ms: int, buffer_at: int) -> None:
        """A response finished at `done_at` with `audio_bytes` of speech: start waiting after it has played."""
        self.deadline = done_at + audio_bytes / BYTES_PER_MS / 1000 + timeout_ms / 1000
        self.audio_start = buffer_at

    def disarm(self) -> None:
        """The user spoke, or the client asked for a response itself."""
        self.deadline = None

    def due(self, now: float) -> bool:
        """True once, when the timeout has run out by `now`."""
        if self.deadline is None or now < self.deadline:
            return False
        self.deadline = None
        return True

    def event(self, buffer_end: int, item_id: str) -> dict:
        """The fields of ``input_audio_buffer.timeout_triggered``."""
        return {"audio_start_ms": self.audio_start // BYTES_PER_MS, "audio_end_ms": buffer_end // BYTES_PER_MS,
                "item_id": item_id}
