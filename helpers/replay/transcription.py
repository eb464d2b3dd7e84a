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

import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from ..limits import FrameText
from .input_buffer import InvalidAudio, as_text, check_append_length, decode_audio, decode_steps, is_event_audio, without_audio
from .validation import ClientError

__all__ = ["TranscriptionReplay", "TranscriptionSession", "transcription_session_object"]

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


def _append_error(err: ClientError, event_id: str | None) -> dict:
    """An append refused (`input_buffer`'s checks), in this session's words for audio that is not base64."""
    if isinstance(err, InvalidAudio):
        return _error("invalid_request_error.invalid_audio", "audio must be base64 pcm16", event_id, "audio")
    return _error(err.code or "invalid_value", err.message, event_id, err.param)


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
            check_append_length(len(audio) if isinstance(audio, str) else 0)
            self.buffer += decode_audio(audio)  # type: ignore[arg-type]
        except ClientError as err:
            return [(now_ms, _append_error(err, event_id))]
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
        committed = {"type": "input_audio_buffer.committed", "previous_item_id": previous, "item_id": item_id}
        events: list[tuple[int, dict]] = [(now_ms, committed),
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


class TranscriptionReplay:
    """A transcription session served by the replay server: the engine `Session` surface around
    `TranscriptionSession`, its words taken from the cassette's recorded transcriptions (in order)."""

    def __init__(self, recording, persona, outbox, speed: float, expires_at: int, strict: bool = False):
        transcripts = []
        for steps in recording.prepared(persona)[1] if recording is not None else []:
            done = [s.event for s in steps if s.kind.endswith("input_audio_transcription.completed")]
            transcripts.append(done[-1].get("transcript", "") if done else "")
        self.recording, self.persona, self.dialect, self.outbox = recording, persona, persona.dialect, outbox
        self.speed, self.strict = speed, strict
        self.state = TranscriptionSession(transcripts, lambda prefix: outbox.new_id(prefix.rstrip("_")), expires_at)
        self.pending: list[tuple[float, int, dict]] = []
        self._order = 0
        self._start_ms = 0.0

    @property
    def config(self) -> dict:
        """The live session object."""
        return self.state.session

    @property
    def items(self) -> list[dict]:
        """A transcription session has no conversation."""
        return []

    @property
    def events_sent(self) -> int:
        return self.outbox.events_sent

    @property
    def close(self) -> tuple[int, str] | None:
        return self.outbox.closing if not self.outbox.queue and not self.pending else None

    def start(self, now: float) -> None:
        self._queue(self.state.created(), now, 0)

    def receive(self, message, now: float) -> None:
        """Handle one client frame; never raises for client input."""
        try:
            event = json.loads(message) if isinstance(message, str) else None
        except ValueError:
            event = None
        if not isinstance(event, dict):
            event = {"type": "invalid"}
        now_ms = round(now * 1000)
        self._queue(self.state.handle(event, now_ms), now, now_ms)

    def receive_steps(self, message: FrameText, bulk: tuple[int, int] | None, now: float) -> Iterator[None]:
        """`receive` for a large frame: an append's audio decoded a step at a time (as `Session.receive_steps`)."""
        try:
            event = json.loads(without_audio(message, bulk)) if bulk and is_event_audio(message, bulk[0]) else None
        except ValueError:
            event = None
        if not isinstance(event, dict) or event.get("type") != "input_audio_buffer.append":
            # with a bulk string, the UTF-8 text of a text frame (checked); without, text or a binary frame
            self.receive(as_text(message) if bulk is not None else message, now)
            return
        assert bulk is not None  # is_event_audio found it
        now_ms = round(now * 1000)
        try:
            pieces = yield from decode_steps(message, *bulk)
        except ClientError as err:
            event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
            self._queue([(now_ms, _append_error(err, event_id))], now, now_ms)
            return
        for pcm in pieces:
            self.state.buffer += pcm

    def _queue(self, replies: list[tuple[int, dict]], now: float, now_ms: int) -> None:
        for due_ms, event in replies:
            delay = (due_ms - now_ms) / 1000 / self.speed if self.speed else 0.0
            self._order += 1
            self.pending.append((now + delay, self._order, event))
        self.pending.sort(key=lambda entry: entry[:2])

    def take_jobs(self) -> list:
        """No MCP requests: a transcription session has no responses, so no tools run."""
        return []

    def next_deadline(self) -> float | None:
        times = [self.outbox.queue[0][0]] if self.outbox.queue else []
        return min(times + [self.pending[0][0]]) if self.pending else (times[0] if times else None)

    def poll(self, now: float) -> list[str]:
        """The frames due by `now`, in due order (completions of different items may cross)."""
        while self.pending and self.pending[0][0] <= now + 1e-9:
            due, _, event = self.pending.pop(0)
            fields = {k: v for k, v in event.items() if k != "type"}
            if event["type"] == "error":
                error = fields["error"]
                self.outbox.error(ClientError(error["code"], error["message"], error.get("param")),
                                  error.get("event_id"), due)
            else:
                self.outbox.send(event["type"], due, **fields)
        queue, out = self.outbox.queue, []
        while queue and queue[0][0] <= now + 1e-9:
            out.append(queue.popleft()[1])
        return out

    def report(self) -> dict:
        left = len(self.state.transcripts) - self.state.committed
        report = {"cassette": self.recording.name if self.recording else None, "persona": self.persona.name,
                  "dialect": self.dialect, "intent": "transcription", "responses_total": 0, "responses_consumed": 0,
                  "responses_left": 0, "transcripts_left": left, "errors_sent": list(self.outbox.errors),
                  "error_count": self.outbox.error_count, "contradictions": [], "strict": self.strict,
                  "ok": not (self.strict and left)}
        if left:
            report["message"] = f"cassette {report['cassette']!r}: {left} recorded transcript(s) left unused"
        return report
