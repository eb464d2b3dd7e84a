"""Transcription-only sessions (GA, ``?intent=transcription``): their session shape and event order.

Pure: `TranscriptionSession.handle` takes a client event and the time in ms, and returns the
server events with the time each is due; the adapter sends them. The order follows a 2026 capture
(reference §3): ``session.created`` (type transcription, no model) -> ``session.updated`` ->
``input_audio_buffer.committed`` -> ``conversation.item.added`` (user `input_audio`, transcript
null) -> ``conversation.item.done`` -> ``...input_audio_transcription.delta`` x N ->
``...completed`` (with usage). There are no responses and no ``rate_limits.updated``.

The words come from the recording (one transcript per commit, in order). How long a transcript
takes is MODELLED, not measured: first delta `FIRST_DELTA_MS` + `MS_PER_AUDIO_S` per second of
audio after the commit, deltas `DELTA_GAP_MS` apart. So a short turn committed soon after a long
one completes first, as OpenAI warns can happen: reconcile completions by `item_id`.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

__all__ = ["TranscriptionSession", "transcription_session_object"]

FIRST_DELTA_MS = 300       # modelled; a capture saw 1,190 ms for a short clip (reference §3)
MS_PER_AUDIO_S = 600       # modelled: longer audio takes longer to transcribe
DELTA_GAP_MS = 40
BYTES_PER_MS = 48          # pcm16 mono 24 kHz
MIN_COMMIT_MS = 100
TRANSCRIPTION_MODELS = ("gpt-realtime-whisper", "gpt-live-transcribe", "gpt-transcribe", "gpt-4o-transcribe",
                        "gpt-4o-mini-transcribe", "gpt-4o-mini-transcribe-2025-12-15", "whisper-1",
                        "gpt-4o-transcribe-diarize")
SERVER_VAD = {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 200}
REFUSED_IN_TRANSCRIPTION = ("response.create", "response.cancel", "conversation.item.create",
                            "conversation.item.truncate")


def transcription_session_object(session_id: str, expires_at: int) -> dict:
    """The ``session`` of a new transcription session, as captured in 2026 (no `model` key)."""
    return {"type": "transcription", "object": "realtime.transcription_session", "id": session_id,
            "expires_at": expires_at, "include": None,
            "audio": {"input": {"format": {"type": "audio/pcm", "rate": 24000}, "transcription": None,
                                "noise_reduction": None, "turn_detection": dict(SERVER_VAD)}}}


def _error(code: str, message: str, event_id: str | None, param: str | None = None) -> dict:
    return {"type": "error", "error": {"type": "invalid_request_error", "code": code, "message": message,
                                       "param": param, "event_id": event_id}}


def _words(text: str) -> list[str]:
    """`text` cut into word-sized deltas that join back to it."""
    pieces, start = [], 0
    for i in range(1, len(text) + 1):
        if i == len(text) or (text[i] == " " and i > start):
            pieces.append(text[start:i])
            start = i
    return pieces


@dataclass
class TranscriptionSession:
    """One transcription session: the recorded transcripts, in commit order, and its live state."""

    transcripts: Sequence[str]
    new_id: Callable[[str], str]
    expires_at: int
    session: dict = field(init=False)
    buffer: bytearray = field(default_factory=bytearray, init=False)
    committed: int = field(default=0, init=False)
    previous_item_id: str | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.session = transcription_session_object(self.new_id("sess_"), self.expires_at)

    def created(self) -> list[tuple[int, dict]]:
        """The first frame: ``session.created``."""
        return [(0, {"type": "session.created", "session": self.session})]

    def handle(self, event: dict, now_ms: int) -> list[tuple[int, dict]]:
        """The server events (due time in ms, event) that answer client `event` received at `now_ms`."""
        kind, event_id = event.get("type"), event.get("event_id")
        if kind in REFUSED_IN_TRANSCRIPTION:
            return [(now_ms, _error("invalid_request_error.transcription_session",
                                    f"{kind} is not available in a transcription session: it has no "
                                    "conversation and no responses", event_id))]
        if kind == "session.update":
            return [(now_ms, self._update(event.get("session") or {}, event_id))]
        if kind == "input_audio_buffer.append":
            return self._append(event.get("audio"), now_ms, event_id)
        if kind == "input_audio_buffer.clear":
            self.buffer.clear()
            return [(now_ms, {"type": "input_audio_buffer.cleared"})]
        if kind == "input_audio_buffer.commit":
            return self._commit(now_ms, event_id)
        return [(now_ms, _error("invalid_request_error.unknown_event",
                                f"Invalid value: {kind!r} is not a client event of a transcription session",
                                event_id, "type"))]

    def _update(self, update: dict, event_id: str | None) -> dict:
        if update.get("type") != "transcription":
            return _error("invalid_request_error.invalid_session_type",
                          "a transcription session takes session.type 'transcription'", event_id, "session.type")
        audio_in = (update.get("audio") or {}).get("input") or {}
        transcription = audio_in.get("transcription", self.session["audio"]["input"]["transcription"])
        turn_detection = audio_in.get("turn_detection", self.session["audio"]["input"]["turn_detection"])
        model = (transcription or {}).get("model")
        if transcription is not None and model not in TRANSCRIPTION_MODELS:
            return _error("invalid_request_error.invalid_model", f"unknown transcription model {model!r}",
                          event_id, "session.audio.input.transcription.model")
        if model == "gpt-realtime-whisper" and turn_detection is not None:
            return _error("invalid_request_error.vad_not_supported",
                          "gpt-realtime-whisper does not support VAD: set audio.input.turn_detection to null "
                          "and commit the audio yourself", event_id, "session.audio.input.turn_detection")
        if model == "gpt-realtime-whisper" and (transcription or {}).get("prompt"):
            return _error("invalid_request_error.unsupported_parameter",
                          "prompt is not supported with gpt-realtime-whisper", event_id,
                          "session.audio.input.transcription.prompt")
        merged = dict(self.session["audio"]["input"])
        merged.update({k: v for k, v in audio_in.items() if k in merged})
        self.session = dict(self.session, audio={"input": merged},
                            include=update.get("include", self.session["include"]))
        return {"type": "session.updated", "session": self.session}

    def _append(self, audio: object, now_ms: int, event_id: str | None) -> list[tuple[int, dict]]:
        try:
            self.buffer += base64.b64decode(audio, validate=True)  # type: ignore[arg-type]
        except (binascii.Error, TypeError, ValueError):
            return [(now_ms, _error("invalid_request_error.invalid_audio", "audio must be base64 pcm16",
                                    event_id, "audio"))]
        return []

    def _commit(self, now_ms: int, event_id: str | None) -> list[tuple[int, dict]]:
        audio_ms = len(self.buffer) // BYTES_PER_MS
        if audio_ms < MIN_COMMIT_MS:
            return [(now_ms, _error("input_audio_buffer_commit_empty",
                                    f"buffer too small: expected at least {MIN_COMMIT_MS}ms of audio, "
                                    f"but buffer only has {audio_ms:.2f}ms of audio", event_id))]
        if self.session["audio"]["input"]["transcription"] is None:
            return [(now_ms, _error("invalid_request_error.transcription_not_configured",
                                    "set session.audio.input.transcription before committing audio", event_id))]
        if self.committed >= len(self.transcripts):
            return [(now_ms, _error("replay_no_recorded_transcript",
                                    f"the recording has {len(self.transcripts)} transcript(s); this is commit "
                                    f"{self.committed + 1}", event_id))]
        text = self.transcripts[self.committed]
        self.committed += 1
        self.buffer.clear()
        item_id, previous = self.new_id("item_"), self.previous_item_id
        self.previous_item_id = item_id
        item = {"id": item_id, "type": "message", "object": "realtime.item", "status": "completed", "role": "user",
                "content": [{"type": "input_audio", "transcript": None}]}
        events = [(now_ms, {"type": "input_audio_buffer.committed", "previous_item_id": previous, "item_id": item_id}),
                  (now_ms, {"type": "conversation.item.added", "previous_item_id": previous, "item": item}),
                  (now_ms, {"type": "conversation.item.done", "previous_item_id": previous, "item": item})]
        due = now_ms + FIRST_DELTA_MS + audio_ms * MS_PER_AUDIO_S // 1000
        where = {"item_id": item_id, "content_index": 0}
        for piece in _words(text):
            events.append((due, {"type": "conversation.item.input_audio_transcription.delta", **where, "delta": piece}))
            due += DELTA_GAP_MS
        tokens = math.ceil(audio_ms / 100)
        usage = {"type": "tokens", "input_tokens": tokens, "output_tokens": math.ceil(len(text) / 4),
                 "total_tokens": tokens + math.ceil(len(text) / 4),
                 "input_token_details": {"audio_tokens": tokens, "text_tokens": 0}}
        events.append((due, {"type": "conversation.item.input_audio_transcription.completed", **where,
                             "transcript": text, "usage": usage}))
        return events
