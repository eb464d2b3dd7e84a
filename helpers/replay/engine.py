"""The replay protocol engine: pure state, no sockets, no asyncio (sans-I/O, like h11).

Replay what the model said, simulate what the protocol does. One `Session` per connection is
fed the client's frames (`receive`) and the clock (`poll`); it answers with server frames as
JSON text, each due at a time the adapter honours (`next_deadline`).

What comes from the cassette (`Recording`):

1. the session object of the first server ``session.created`` (defaults per dialect otherwise);
2. the responses, in order: for each server ``response.created`` the run of server frames up to
   its ``response.done`` (plus a ``rate_limits.updated`` before the next client frame). A frame
   is due at (its t - the trigger's t) / speed after the live trigger: the client
   ``response.create``, or the ``input_audio_buffer.committed`` of a VAD turn. Speed 0 = no delay;
3. the input transcriptions of each user audio item (committed, or created whole), replayed after the live commit
   of the matching user audio item (item id rewritten) when transcription is enabled.

Everything else is computed live: the merged session, item acks with ``previous_item_id``,
the input buffer (pcm16 24 kHz mono, 48 bytes per ms), server VAD, cancel, truncate, delete,
retrieve, and errors worded as the real APIs word them.

Server VAD, energy based: the appended audio is cut into 20 ms frames; a frame is speech when its
RMS level (dBFS) reaches ``-60 + 50 * threshold`` (so OpenAI's default ``threshold`` 0.5 is
-35 dBFS). StepFun's ``energy_awakeness_threshold`` (0..5000) maps to ``threshold = value / 5000``.
``audio_start_ms`` is the first speech frame minus ``prefix_padding_ms`` (clamped at 0);
speech stops once ``silence_duration_ms`` of silence followed it, and ``audio_end_ms`` is the end
of that silence, where the buffer is committed.

Ids the server makes itself are counters behind a tag derived from the cassette name
(``item_<tag><n>``, ``event_<tag><n>``), so replayed outputs are identical run after run.
"""

from __future__ import annotations

import binascii
import copy
import functools
import hashlib
import hmac
import json
import math
import random
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from .. import cassette as cassettes
from ..secrets import masked
from ..events import (BYTES_PER_MS, GA_TO_BETA, MAX_APPEND_BYTES, MIN_COMMIT_MS, check_dialect, in_dialect,
                      missing_fields)
from .dialect import convert_event, convert_item, convert_run, convert_session

VAD_FRAME_MS = 20
_LIVE_ACKS = {"conversation.item.created", "conversation.item.added", "conversation.item.done"}
# The "Supported values" lists of the unknown-type error: GA's as captured live (reference §4.2);
# beta's is the beta-era list with conversation.item.retrieve added.
_SUPPORTED = {
    "ga": ("session.update", "session.close", "input_audio_buffer.append", "session.input_audio_buffer.append",
           "input_audio_buffer.commit", "input_audio_buffer.clear", "conversation.item.create",
           "conversation.item.truncate", "conversation.item.delete", "conversation.item.retrieve",
           "response.create", "response.cancel"),
    "beta": ("session.update", "input_audio_buffer.append", "input_audio_buffer.commit", "input_audio_buffer.clear",
             "conversation.item.create", "conversation.item.retrieve", "conversation.item.truncate",
             "conversation.item.delete", "response.create", "response.cancel"),
}
_MODEL_FAMILY = re.compile(r"^(step|gpt-)", re.IGNORECASE)
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
_SURROGATE = re.compile("[\ud800-\udfff]")


# -- what a cassette says ---------------------------------------------------------------

@dataclass
class Step:
    """One recorded server frame ready to send: due `delay` s after its trigger."""

    delay: float
    kind: str
    event: dict
    text: str | None  # pre-serialised JSON; None when patched live
    audio_bytes: int = 0


@dataclass
class RecordedResponse:
    """One recorded response run, converted to a dialect."""

    steps: list[Step]
    line: int
    created: dict
    usage: dict | None
    deltas: int


@dataclass
class _Run:
    line: int
    trigger_t: float
    frames: list[tuple[float, dict]]
    item_ids: set = field(default_factory=set)


def _dumps(event: dict) -> str:
    text = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    if _SURROGATE.search(text):  # a lone surrogate a client sent cannot go out in UTF-8: escape it
        text = json.dumps(event, separators=(",", ":"))
    return text


def _b64_size(text: str) -> int:
    return len(text) * 3 // 4 - text[-2:].count("=") if isinstance(text, str) else 0


class Recording:
    """What one cassette says the model did, converted and pre-serialised per dialect on demand."""

    def __init__(self, cassette: cassettes.Cassette, path: str = ""):
        self.name = cassette.name
        self.path = path or self.name
        self.meta = cassette.meta
        self.dialect = cassette.dialect
        self.session: dict | None = None
        self.opening: list[dict] = []
        self._runs: list[_Run] = []
        self._transcriptions: list[list[tuple[float, dict]]] = []
        self._cache: dict[str, tuple[list[RecordedResponse], list[list[Step]]]] = {}
        self._extract(cassette)

    def _extract(self, cassette: cassettes.Cassette) -> None:
        trigger_t: float | None = None
        current: _Run | None = None
        finished: _Run | None = None
        committed: list[tuple[str, float]] = []
        transcripts: dict[str, list[tuple[float, dict]]] = {}
        for line, frame in enumerate(cassette.frames, start=2):
            event = frame.event
            if not isinstance(event, dict):
                continue
            kind = str(event.get("type", ""))
            if frame.source == "client":
                finished = None
                if kind == "response.create":
                    trigger_t = frame.t
                continue
            if kind == "session.created":
                if self.session is None and isinstance(event.get("session"), dict):
                    self.session = event["session"]
                continue
            if kind == "conversation.created" and not self._runs:
                self.opening.append(event)
                continue
            if kind == "input_audio_buffer.committed":
                trigger_t = frame.t
                committed.append((str(event.get("item_id")), frame.t))
                continue
            if kind.startswith("conversation.item.input_audio_transcription."):
                transcripts.setdefault(str(event.get("item_id")), []).append((frame.t, event))
                continue
            if kind in ("conversation.item.created", "conversation.item.added") and current is None:
                item = event.get("item") if isinstance(event.get("item"), dict) else {}
                if _is_user_audio(item) and all(item.get("id") != done for done, _ in committed):
                    committed.append((str(item.get("id")), frame.t))  # a whole recording sent as an item
                continue
            if kind == "response.created":
                current = _Run(line, frame.t if trigger_t is None else trigger_t, [(frame.t, event)])
                self._runs.append(current)
                trigger_t = finished = None
                continue
            if current is not None:
                if self._belongs(kind, event, current):
                    current.frames.append((frame.t, event))
                if kind == "response.done":
                    finished, current = current, None
            elif finished is not None and kind == "rate_limits.updated":
                finished.frames.append((frame.t, event))
        for item_id, t in committed:
            self._transcriptions.append([(ft - t, ev) for ft, ev in transcripts.get(item_id, [])])

    @staticmethod
    def _belongs(kind: str, event: dict, run: _Run) -> bool:
        item = event.get("item") if isinstance(event.get("item"), dict) else {}
        if kind == "response.output_item.added":
            run.item_ids.add(item.get("id"))
        if kind.startswith(("input_audio_buffer.", "session.", "transcription_session.")) or kind == "error":
            return False
        if kind.startswith("conversation.item."):
            return kind in _LIVE_ACKS and item.get("id") in run.item_ids
        return True

    def prepared(self, dialect: str) -> tuple[list[RecordedResponse], list[list[Step]]]:
        """(responses, transcriptions) converted to `dialect`; computed once, then cached."""
        if dialect not in self._cache:
            self._cache[dialect] = ([self._prepare_run(run, dialect) for run in self._runs],
                                    [self._prepare_transcription(run, dialect) for run in self._transcriptions])
        return self._cache[dialect]

    def _prepare_run(self, run: _Run, dialect: str) -> RecordedResponse:
        events = [ev for _, ev in run.frames]
        steps, usage, deltas = [], None, 0
        for index, event in convert_run(events, dialect):
            t = run.frames[index][0]
            kind = event["type"]
            audio = _b64_size(event.get("delta", "")) if GA_TO_BETA.get(kind, kind) == "response.audio.delta" else 0
            text = None if kind in _LIVE_ACKS else _dumps(event)
            steps.append(Step(max(0.0, t - run.trigger_t), kind, event, text, audio))
            deltas += kind.endswith(".delta")
            if kind == "response.done" and isinstance(event.get("response"), dict):
                usage = event["response"].get("usage")
        created = steps[0].event.get("response") if isinstance(steps[0].event.get("response"), dict) else {}
        return RecordedResponse(steps, run.line, created, usage, deltas)

    @staticmethod
    def _prepare_transcription(frames, dialect: str) -> list[Step]:
        return [Step(max(0.0, delay), ev.get("type", ""), convert_event(ev, dialect), None)
                for delay, ev in frames]


class Library:
    """The cassettes in one folder, loaded on first use and cached until the file changes."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._cache: dict[str, tuple[int, Recording]] = {}

    def names(self) -> list[str]:
        """The cassette names (file stems) available."""
        return sorted(p.stem for p in self.folder.glob("*.jsonl")) if self.folder.is_dir() else []

    def get(self, name: str) -> Recording | None:
        """The recording called `name`, or None when there is no such cassette."""
        if not _SAFE_NAME.match(name or ""):
            return None
        path = self.folder / f"{name}.jsonl"
        if not path.is_file():
            return None
        stamp = path.stat().st_mtime_ns
        cached = self._cache.get(name)
        if cached is None or cached[0] != stamp:
            cached = (stamp, Recording(cassettes.load(path), str(path)))
            self._cache[name] = cached
        return cached[1]


# -- defaults ---------------------------------------------------------------------------

def default_session(dialect: str, model: str, session_id: str, expires_at: int) -> dict:
    """The session a server starts with when the cassette has none: StepFun (beta) or OpenAI GA."""
    if check_dialect(dialect) == "beta":
        return {"id": session_id, "object": "realtime.session", "model": model,
                "modalities": ["text", "audio"], "instructions": "", "voice": "linjiajiejie",
                "input_audio_format": "pcm16", "output_audio_format": "pcm16",
                "input_audio_transcription": None, "turn_detection": None, "tools": [],
                "tool_choice": "auto", "temperature": 0.8, "max_response_output_tokens": "inf"}
    pcm = {"type": "audio/pcm", "rate": 24000}
    return {"type": "realtime", "object": "realtime.session", "id": session_id, "model": model,
            "output_modalities": ["audio"], "instructions": "", "tools": [], "tool_choice": "auto",
            "max_output_tokens": "inf", "tracing": None, "prompt": None, "expires_at": expires_at,
            "truncation": "auto", "include": None,
            "audio": {"input": {"format": dict(pcm), "transcription": None, "noise_reduction": None,
                                "turn_detection": vad_defaults("ga")},
                      "output": {"format": dict(pcm), "voice": "marin", "speed": 1.0}}}


def vad_defaults(dialect: str) -> dict:
    """Server VAD settings filled in when a client turns VAD on (StepFun's for beta, OpenAI's for GA)."""
    if dialect == "beta":
        return {"type": "server_vad", "prefix_padding_ms": 500, "silence_duration_ms": 100,
                "energy_awakeness_threshold": 2500}
    return {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 200,
            "idle_timeout_ms": None, "create_response": True, "interrupt_response": True}


# -- options and admission ----------------------------------------------------------------

@dataclass
class Options:
    """Per-connection replay settings (server defaults, overridden by the URL query)."""

    speed: float = 1.0
    strict: bool = False
    close_after: int | None = None
    expire_after: float | None = None
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    require_key: str | None = field(default=None, repr=False)

    def __post_init__(self):
        for name in ("speed", "latency_ms", "jitter_ms"):
            if not isinstance(getattr(self, name), (int, float)) or getattr(self, name) < 0 \
                    or not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be a finite number >= 0, not {getattr(self, name)!r}")
        if self.close_after is not None and (not isinstance(self.close_after, int) or self.close_after < 1):
            raise ValueError(f"close_after must be an integer >= 1, not {self.close_after!r}")
        if self.expire_after is not None and not (isinstance(self.expire_after, (int, float)) and self.expire_after > 0):
            raise ValueError(f"expire_after must be a number of seconds > 0, not {self.expire_after!r}")


QUERY_OPTIONS: dict[str, Callable[[str], Any]] = {
    "speed": float, "close_after": int, "expire_after": float, "latency_ms": float, "jitter_ms": float,
    "strict": lambda v: {"1": True, "true": True, "0": False, "false": False}[v.lower()],
}


@dataclass
class Refusal:
    """A connection the server refuses: send `text` (an `error` event), then close with `code`."""

    text: str
    code: int
    reason: str


def _refuse(code_name: str | None, message: str, close: int, reason: str, param: str | None = None) -> Refusal:
    error = {"type": "invalid_request_error", "code": code_name, "message": message, "param": param,
             "event_id": None}
    return Refusal(_dumps({"type": "error", "event_id": "event_refused", "error": error}), close, reason)


def open_session(query: Mapping[str, str], headers: Mapping[str, str], library: Library | None,
                 options: Options, subprotocols: tuple[str, ...] = ()) -> "Session | Refusal":
    """Admit a connection (key, model, cassette, query options) and make its `Session`, or refuse it.

    `headers` must map lower-case names to values. Connection-level failures follow OpenAI: an
    `error` event then close 3000 (authentication) or 4000 (bad request).
    """
    key = None
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        key = auth[7:].strip()
    for proto in subprotocols:
        if proto.startswith("openai-insecure-api-key."):
            key = proto[len("openai-insecure-api-key."):]
    if options.require_key is not None:
        if key is None:
            return _refuse(None, "Missing bearer or basic authentication in header", 3000, "invalid_request_error")
        if not hmac.compare_digest(key.encode(), options.require_key.encode()):
            return _refuse("invalid_api_key", f"Incorrect API key provided: {masked(key)}. You can find your "
                           "API key at https://platform.openai.com/account/api-keys.", 3000,
                           "invalid_request_error.invalid_api_key")
    model = query.get("model")
    if not model:
        return _refuse("missing_model", "You must provide a model parameter, for example "
                       "wss://api.openai.com/v1/realtime?model=gpt-realtime", 4000, "invalid_request_error.missing_model")
    if not _MODEL_FAMILY.match(model):
        return _refuse("invalid_model", f'Model "{model}" is not supported in realtime mode. The replay server '
                       "serves step* (StepFun) and gpt-* (OpenAI) models.", 4000, "invalid_request_error.invalid_model")
    beta = model.lower().startswith("step") or headers.get("openai-beta", "").replace(" ", "") == "realtime=v1" \
        or "openai-beta.realtime-v1" in subprotocols
    dialect = query.get("dialect", "beta" if beta else "ga")
    if dialect not in ("beta", "ga"):
        return _refuse("invalid_value", f"Invalid value: '{dialect}'. Supported values are: 'beta' and 'ga'.",
                       4000, "invalid_request_error.invalid_value", "dialect")
    settings = {}
    for name, parse in QUERY_OPTIONS.items():
        if name in query:
            try:
                settings[name] = parse(query[name])
            except (ValueError, KeyError):
                return _refuse("invalid_value", f"Invalid value for query parameter '{name}': {query[name]!r}.",
                               4000, "invalid_request_error.invalid_value", name)
    try:
        options = Options(**{**options.__dict__, **settings})
    except ValueError as exc:
        return _refuse("invalid_value", f"Invalid query parameter: {exc}.", 4000, "invalid_request_error.invalid_value")
    recording = None
    name = query.get("cassette")
    if name:
        recording = library.get(name) if library is not None else None
    # the names are listed only in errors: a session without its cassette
    available = library.names() if library is not None and recording is None else []
    if name:
        if recording is None:
            folder = library.folder if library is not None else "(no cassette folder)"
            listing = ", ".join(available) or "none"
            return _refuse("cassette_not_found", f"No cassette named {name!r} in {folder}. Available: {listing}.",
                           4000, "invalid_request_error.cassette_not_found", "cassette")
    return Session(recording, dialect, model=model, options=options, available=available)


# -- the per-connection session -----------------------------------------------------------

class _Error(Exception):
    """A client mistake: becomes an `error` event; the session carries on."""

    def __init__(self, code: str | None, message: str, param: str | None = None):
        super().__init__(message)
        self.code, self.message, self.param = code, message, param


def _type_name(value: Any) -> str:
    return {str: "a string", bool: "a boolean", int: "an integer", float: "a number", list: "an array",
            dict: "an object", type(None): "null"}.get(type(value), type(value).__name__)


def _expect(value: Any, kind: type | tuple, param: str, wanted: str) -> Any:
    # [UNCONFIRMED] code `invalid_type`: the message shape follows real "Invalid type for ..." errors.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _Error("invalid_type", f"Invalid type for '{param}': expected {wanted}, but got "
                     f"{_type_name(value)} instead.", param)
    return value


def _is_user_audio(item: dict) -> bool:
    """True for a user message carrying audio (its transcription may follow)."""
    content = item.get("content")
    return item.get("role") == "user" and isinstance(content, list) and any(
        isinstance(part, dict) and part.get("type") == "input_audio" for part in content)


def _content_part(part: Any, param: str) -> dict:
    """A content part checked for shape: an object with a string `type`."""
    _expect(part, dict, param, "an object")
    if "type" not in part:
        raise _Error("missing_required_parameter", f"Missing required parameter: '{param}.type'.", f"{param}.type")
    _expect(part["type"], str, f"{param}.type", "a string")
    return part


def _stored_part(part: dict) -> dict:
    """A content part as the server keeps and echoes it: audio bytes are never echoed."""
    part = {k: v for k, v in part.items() if k != "audio"}
    if part.get("type") == "input_audio":
        part.setdefault("transcript", None)
    return part


def _check_vad_numbers(vad: dict, path: str) -> None:
    """The numeric VAD settings the engine computes with: finite numbers, durations whole and >= 0."""
    for name in ("prefix_padding_ms", "silence_duration_ms"):
        if vad.get(name) is not None:
            value = _expect(vad[name], int, f"{path}.{name}", "an integer")
            if value < 0:
                raise _Error("integer_below_min_value", f"Invalid '{path}.{name}': integer below minimum value. "
                             f"Expected a value >= 0, but got {value} instead.", f"{path}.{name}")
    for name in ("threshold", "energy_awakeness_threshold"):
        if vad.get(name) is not None:
            value = _expect(vad[name], (int, float), f"{path}.{name}", "a number")
            if isinstance(value, bool) or not math.isfinite(value):
                raise _Error("invalid_type", f"Invalid type for '{path}.{name}': expected a finite number, but got "
                             f"{value!r} instead.", f"{path}.{name}")


def _merge(base: dict, update: dict) -> dict:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


@dataclass
class _Part:
    type: str
    text: str = ""
    transcript: str = ""
    closed: set = field(default_factory=set)


@dataclass
class _OutputItem:
    item: dict
    index: int
    parts: dict = field(default_factory=dict)
    arguments: str = ""
    arguments_done: bool = False
    final: dict | None = None


@dataclass
class _Active:
    recorded: RecordedResponse
    response_id: str
    items: dict = field(default_factory=dict)
    deltas: int = 0
    created_sent: bool = False


@dataclass
class _Stream:
    steps: list[Step]
    base: float
    active: _Active | None = None
    item_id: str | None = None  # live item id for transcription streams
    index: int = 0


class Session:
    """One replayed connection: feed it client frames and time, read back server frames.

    `receive(message, now)` takes a client frame; `poll(now)` returns the JSON texts due by
    `now`; `next_deadline()` says when to poll next. `close` becomes (code, reason) when the
    server ends the connection (faults, ``session.close``) once `poll` has drained. `items` is
    the live conversation, `config` the live session object (both in the connection's dialect).
    """

    def __init__(self, recording: Recording | None, dialect: str, *, model: str, options: Options | None = None,
                 available: list[str] | tuple[str, ...] = ()):
        self.recording = recording
        self.dialect = check_dialect(dialect)
        self.model = model
        self.options = options or Options()
        self.available = list(available)
        self._tag = hashlib.sha256((recording.name if recording else "").encode()).hexdigest()[:13]
        self._counters = {"event": 0, "item": 0}
        self._responses, self._transcriptions = recording.prepared(dialect) if recording else ([], [])
        self._next_response = 0
        self._next_transcription = 0
        self._rng = random.Random(0)
        self._outbox: deque[tuple[float, str]] = deque()
        self._last_at = 0.0
        self._streams: list[_Stream] = []
        self._active: _Active | None = None
        self.items: list[dict] = []
        self._audio_sent: dict[str, int] = {}
        self._audio_total = 0
        self._buffer_start = 0
        self._vad = _Vad()
        self._expire_at: float | None = None
        self._closing: tuple[int, str] | None = None
        self.events_sent = 0
        self.errors: list[str | None] = []
        self.config = self._initial_config()

    # -- ids, emission -------------------------------------------------------------------
    def _new_id(self, prefix: str) -> str:
        self._counters[prefix] += 1
        return f"{prefix}_{self._tag}{self._counters[prefix]:08d}"

    def _emit(self, text: str, due: float) -> None:
        if self._closing is not None:
            return
        at = due
        if self.options.latency_ms or self.options.jitter_ms:
            at += (self.options.latency_ms + self._rng.uniform(0, self.options.jitter_ms)) / 1000
        self._last_at = max(at, self._last_at)
        self._outbox.append((self._last_at, text))
        self.events_sent += 1
        if self.options.close_after is not None and self.events_sent >= self.options.close_after:
            self._closing = (1011, f"close_after fault: closed after {self.events_sent} server events")

    def _send(self, kind: str, now: float, **fields) -> None:
        self._emit(_dumps({"type": in_dialect(kind, self.dialect), "event_id": self._new_id("event"), **fields}), now)

    def _error(self, err: _Error, client_event_id: str | None, now: float) -> None:
        self.errors.append(err.code)
        self._send("error", now, error={"type": "invalid_request_error", "code": err.code, "message": err.message,
                                        "param": err.param, "event_id": client_event_id})

    # -- the public surface ---------------------------------------------------------------
    def start(self, now: float) -> None:
        """Open the session: ``session.created`` (and a recorded ``conversation.created``)."""
        if self.options.expire_after is not None:
            self._expire_at = now + self.options.expire_after
        self._send("session.created", now, session=copy.deepcopy(self.config))
        for event in self.recording.opening if self.recording else []:
            self._emit(_dumps(event), now)

    @property
    def close(self) -> tuple[int, str] | None:
        """(code, reason) once the server has decided to close and everything before it was polled."""
        return self._closing if not self._outbox else None

    def next_deadline(self) -> float | None:
        """The time `poll` next has something to return, or None when only a client frame can change that."""
        times = [self._outbox[0][0]] if self._outbox else []
        if self._closing is None:
            times += [s.base + self._delay(s.steps[s.index]) for s in self._streams]
            if self._expire_at is not None:
                times.append(self._expire_at)
        return min(times) if times else None

    def poll(self, now: float) -> list[str]:
        """The server frames (JSON text) due by `now`, in order."""
        self._pump(now)
        out = []
        while self._outbox and self._outbox[0][0] <= now + 1e-9:
            out.append(self._outbox.popleft()[1])
        return out

    def receive(self, message: str | bytes, now: float) -> None:
        """Handle one client frame received at `now`; answers become due in `poll`."""
        self._pump(now)
        if self._closing is not None:
            return
        event_id = None
        try:
            if not isinstance(message, str):
                raise _Error("invalid_event", "Expected a text WebSocket message; binary frames are not supported.")
            try:
                event = json.loads(message)
            except ValueError as exc:
                raise _Error("invalid_json", f"Invalid event: failed to parse JSON value. ({exc})") from None
            except RecursionError:
                raise _Error("invalid_json", "Invalid event: failed to parse JSON value. (nested too deeply)") from None
            if not isinstance(event, dict):
                raise _Error("invalid_event", "Invalid event: expected a JSON object.")
            event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
            kind = event.get("type")
            if kind is None:
                raise _Error("invalid_event", "The 'type' field is missing.")
            handler = self._handlers.get(kind) if isinstance(kind, str) else None
            if handler is None:
                names = _SUPPORTED[self.dialect]
                listing = ", ".join(f"'{n}'" for n in names[:-1]) + f", and '{names[-1]}'"
                raise _Error("invalid_value", f"Invalid value: '{kind}'. Supported values are: {listing}.", "type")
            for name in missing_fields(event):
                raise _Error("missing_required_parameter", f"Missing required parameter: '{name}'.", name)
            handler(event, now)
        except _Error as err:
            self._error(err, event_id, now)

    def report(self) -> dict:
        """A summary for strict checks: responses consumed and left unconsumed, errors sent."""
        total = len(self._responses)
        left = total - self._next_response
        report = {"cassette": self.recording.name if self.recording else None, "dialect": self.dialect,
                  "responses_total": total, "responses_consumed": self._next_response,
                  "responses_left": left, "errors_sent": list(self.errors), "strict": self.options.strict,
                  "ok": not (self.options.strict and left)}
        if left:
            report["message"] = (f"cassette {report['cassette']!r}: {left} recorded response(s) left unconsumed, "
                                 f"the first at line {self._responses[self._next_response].line}")
        return report

    # -- time ----------------------------------------------------------------------------
    def _delay(self, step: Step) -> float:
        return step.delay / self.options.speed if self.options.speed else 0.0

    def _pump(self, now: float) -> None:
        limit = now if self._expire_at is None else min(now, self._expire_at)
        while self._streams and self._closing is None:
            stream = min(self._streams, key=lambda s: s.base + self._delay(s.steps[s.index]))
            due = stream.base + self._delay(stream.steps[stream.index])
            if due > limit:
                break
            step = stream.steps[stream.index]
            stream.index += 1
            if stream.index == len(stream.steps):
                self._streams.remove(stream)
            if stream.active is not None:
                self._play(stream.active, step, due)
            else:
                event = dict(step.event, item_id=stream.item_id)
                self._emit(_dumps(event), due)
        if self._expire_at is not None and now >= self._expire_at and self._closing is None:
            self._expire_at = None
            # Wording of OpenAI's 60-minute limit (issue reports, peers-and-pain-points §4.5); code
            # `session_expired` per twilio-samples #10. The exact event shape is [UNCONFIRMED].
            self._error(_Error("session_expired", "Your session hit the maximum duration of "
                               f"{self.options.expire_after:g} seconds."), None, now)
            self._closing = (1001, "session expired")

    # -- config --------------------------------------------------------------------------
    def _initial_config(self) -> dict:
        if self.recording and self.recording.session:
            return convert_session(self.recording.session, self.dialect)
        return default_session(self.dialect, self.model, f"sess_{self._tag}00000001", 1767225600 + 3600)

    def _input(self) -> dict:
        return self.config if self.dialect == "beta" else (self.config.get("audio") or {}).get("input") or {}

    def _turn_detection(self) -> dict | None:
        value = self._input().get("turn_detection")
        return value if isinstance(value, dict) and value.get("type") in ("server_vad", "semantic_vad") else None

    @functools.cached_property
    def _handlers(self) -> dict[str, Callable[[dict, float], None]]:
        """Client event type -> its handler, for this session's dialect."""
        return {"session.update": self._session_update, "input_audio_buffer.append": self._append,
                "input_audio_buffer.commit": self._commit, "input_audio_buffer.clear": self._clear,
                "conversation.item.create": self._item_create, "conversation.item.retrieve": self._item_retrieve,
                "conversation.item.truncate": self._item_truncate, "conversation.item.delete": self._item_delete,
                "response.create": self._response_create, "response.cancel": self._response_cancel,
                **({"session.close": self._session_close, "session.input_audio_buffer.append": self._append}
                   if self.dialect == "ga" else {})}

    def _session_update(self, event: dict, now: float) -> None:
        update = _expect(event["session"], dict, "session", "an object")
        if self.dialect == "ga":
            if "type" not in update:
                raise _Error("missing_required_parameter", "Missing required parameter: 'session.type'.", "session.type")
            if update["type"] != "realtime":
                raise _Error("invalid_value", f"Invalid value: '{update['type']}'. The replay server supports "
                             "'realtime' sessions.", "session.type")
        update = {k: v for k, v in update.items() if k not in ("id", "object", "model", "expires_at")}
        merged = _merge(self.config, update)
        path = "session.turn_detection" if self.dialect == "beta" else "session.audio.input.turn_detection"
        holder = merged
        if self.dialect == "ga":
            holder = _expect(merged.get("audio") or {}, dict, "session.audio", "an object")
            for part in ("input", "output"):
                _expect(holder.get(part) or {}, dict, f"session.audio.{part}", "an object")
            holder = holder.get("input") or {}
        vad = holder.get("turn_detection")
        if vad is not None:
            _expect(vad, dict, path, "an object or null")
            if vad.get("type") not in ("server_vad", "semantic_vad"):
                raise _Error("invalid_value", f"Invalid value: '{vad.get('type')}'. Supported values are: "
                             "'server_vad' and 'semantic_vad'.", f"{path}.type")
            _check_vad_numbers(vad, path)
            holder["turn_detection"] = {**vad_defaults(self.dialect), **vad}
        self.config = merged
        self._send("session.updated", now, session=copy.deepcopy(self.config))

    def _session_close(self, event: dict, now: float) -> None:
        self._closing = (1000, "session closed by the client")

    # -- input audio ---------------------------------------------------------------------
    def _append(self, event: dict, now: float) -> None:
        if "audio" not in event:
            raise _Error("missing_required_parameter", "Missing required parameter: 'audio'.", "audio")
        audio = _expect(event["audio"], str, "audio", "a base64-encoded string")
        if len(audio) > MAX_APPEND_BYTES:
            # [UNCONFIRMED] code and wording; the 15 MiB limit itself is documented.
            raise _Error("invalid_value", f"Invalid 'audio': an append carries at most {MAX_APPEND_BYTES} bytes "
                         f"(15 MiB) of base64 audio, but this one has {len(audio)}. Send smaller chunks.", "audio")
        try:
            pcm = binascii.a2b_base64(audio, strict_mode=True)
        except (binascii.Error, ValueError) as exc:  # ValueError: not ASCII
            # [UNCONFIRMED] code and wording.
            raise _Error("invalid_value", f"Invalid 'audio': expected base64-encoded audio bytes ({exc}).",
                         "audio") from None
        start = self._audio_total
        self._audio_total += len(pcm)
        vad = self._turn_detection()
        if vad is not None:
            for change, offset in self._vad.feed(pcm, start, vad):
                self._vad_change(change, offset, vad, now)

    def _vad_change(self, change: str, offset: int, vad: dict, now: float) -> None:
        ms = offset // BYTES_PER_MS
        if change == "started":
            self._vad.item_id = self._new_id("item")
            self._send("input_audio_buffer.speech_started", now, audio_start_ms=ms, item_id=self._vad.item_id)
            if self._active is not None and vad.get("interrupt_response", True):
                self._cancel("turn_detected", now)
            return
        item_id, self._vad.item_id = self._vad.item_id, None
        self._send("input_audio_buffer.speech_stopped", now, audio_end_ms=ms, item_id=item_id)
        self._commit_buffer(item_id, offset, now)
        if vad.get("create_response", True) and self._active is None:
            try:
                self._start_response(now)
            except _Error as err:
                self._error(err, None, now)

    def _commit(self, event: dict, now: float) -> None:
        buffered_ms = (self._audio_total - self._buffer_start) / BYTES_PER_MS
        if buffered_ms < MIN_COMMIT_MS:
            raise _Error("input_audio_buffer_commit_empty", "Error committing input audio buffer: buffer too small. "
                         f"Expected at least {MIN_COMMIT_MS}ms of audio, but buffer only has {buffered_ms:.2f}ms of audio.")
        item_id = self._vad.item_id or self._new_id("item")
        self._vad.reset()
        self._commit_buffer(item_id, self._audio_total, now)

    def _commit_buffer(self, item_id: str, end: int, now: float) -> None:
        self._buffer_start = end
        previous = self.items[-1]["id"] if self.items else None
        self._send("input_audio_buffer.committed", now, previous_item_id=previous, item_id=item_id)
        item = {"id": item_id, "object": "realtime.item", "type": "message", "status": "completed", "role": "user",
                "content": [{"type": "input_audio", "transcript": None}]}
        self._add_item(item, previous, now)
        self._transcribe(item_id, now)

    def _transcribe(self, item_id: str, now: float) -> None:
        """Replay the next recorded input transcription for a new user audio item, if enabled."""
        index, self._next_transcription = self._next_transcription, self._next_transcription + 1
        transcription = self._input().get("transcription" if self.dialect == "ga" else "input_audio_transcription")
        if transcription and index < len(self._transcriptions) and self._transcriptions[index]:
            self._streams.append(_Stream(self._transcriptions[index], now, item_id=item_id))

    def _clear(self, event: dict, now: float) -> None:
        self._buffer_start = self._audio_total
        self._vad.reset()
        self._send("input_audio_buffer.cleared", now)

    # -- items ---------------------------------------------------------------------------
    def _find(self, item_id: Any, param: str = "item_id") -> int:
        _expect(item_id, str, param, "a string")
        for index, item in enumerate(self.items):
            if item.get("id") == item_id:
                return index
        # [UNCONFIRMED] code and wording: no real frame for an unknown item id was found.
        raise _Error("item_not_found", f"Item with item_id '{item_id}' not found.", param)

    def _add_item(self, item: dict, previous: str | None, now: float) -> None:
        position = 0 if previous == "root" else len(self.items) if previous is None else self._find(previous, "previous_item_id") + 1
        self.items.insert(position, item)
        ack_previous = self.items[position - 1]["id"] if position else None
        if self.dialect == "beta":
            self._send("conversation.item.created", now, previous_item_id=ack_previous, item=copy.deepcopy(item))
        else:
            self._send("conversation.item.added", now, previous_item_id=ack_previous, item=copy.deepcopy(item))
            self._send("conversation.item.done", now, previous_item_id=ack_previous, item=copy.deepcopy(item))

    def _item_create(self, event: dict, now: float) -> None:
        item = dict(_expect(event["item"], dict, "item", "an object"))
        previous = event.get("previous_item_id")
        if previous not in (None, "root"):
            self._find(previous, "previous_item_id")
        kind = item.get("type")
        if kind is None:
            raise _Error("missing_required_parameter", "Missing required parameter: 'item.type'.", "item.type")
        _expect(kind, str, "item.type", "a string")
        required = {"message": ("role", "content"), "function_call": ("call_id", "name", "arguments"),
                    "function_call_output": ("call_id", "output")}
        if kind not in required:
            raise _Error("invalid_value", f"Invalid value: '{kind}'. Supported values are: 'message', "
                         "'function_call', and 'function_call_output'.", "item.type")
        for name in required[kind]:
            if name not in item:
                raise _Error("missing_required_parameter", f"Missing required parameter: 'item.{name}'.", f"item.{name}")
        if kind == "message":
            _expect(item["role"], str, "item.role", "a string")
            if item["role"] not in ("user", "assistant", "system"):
                raise _Error("invalid_value", f"Invalid value: '{item['role']}'. Supported values are: 'user', "
                             "'assistant', and 'system'.", "item.role")
            content = _expect(item["content"], list, "item.content", "an array of objects")
            item["content"] = [_stored_part(_content_part(part, f"item.content[{i}]")) for i, part in enumerate(content)]
            if item["role"] == "assistant":  # history restored in the other dialect's part names
                item = convert_item(item, self.dialect)
        if "id" in item:
            _expect(item["id"], str, "item.id", "a string")
            if any(existing.get("id") == item["id"] for existing in self.items):
                # [UNCONFIRMED] wording.
                raise _Error("invalid_value", f"Item with id '{item['id']}' already exists.", "item.id")
        else:
            item["id"] = self._new_id("item")
        item.update(object="realtime.item", status=item.get("status") or "completed")
        self._add_item(item, previous, now)
        if _is_user_audio(item):
            self._transcribe(item["id"], now)

    def _item_retrieve(self, event: dict, now: float) -> None:
        item = self.items[self._find(event["item_id"])]
        self._send("conversation.item.retrieved", now, item=copy.deepcopy(item))

    def _item_delete(self, event: dict, now: float) -> None:
        del self.items[self._find(event["item_id"])]
        self._send("conversation.item.deleted", now, item_id=event["item_id"])

    def _item_truncate(self, event: dict, now: float) -> None:
        item = self.items[self._find(event["item_id"])]
        index = _expect(event["content_index"], int, "content_index", "an integer")
        end_ms = _expect(event["audio_end_ms"], int, "audio_end_ms", "an integer")
        content = item.get("content") if isinstance(item.get("content"), list) else []
        if item.get("role") != "assistant" or not 0 <= index < max(len(content), 1):
            raise _Error("invalid_value", f"Item '{item['id']}' has no assistant audio at content_index {index}: "
                         "only assistant audio can be truncated.", "content_index")
        if end_ms < 0:
            raise _Error("integer_below_min_value", f"Invalid 'audio_end_ms': integer below minimum value. "
                         f"Expected a value >= 0, but got {end_ms} instead.", "audio_end_ms")
        sent_ms = self._audio_sent.get(item["id"], 0) // BYTES_PER_MS
        if end_ms > sent_ms:
            raise _Error("invalid_value", f"Audio content of {sent_ms}ms is already shorter than {end_ms}ms")
        self._audio_sent[item["id"]] = end_ms * BYTES_PER_MS
        if index < len(content) and isinstance(content[index], dict):
            content[index]["transcript"] = ""  # the server drops text the user has not heard
        self._send("conversation.item.truncated", now, item_id=item["id"], content_index=index, audio_end_ms=end_ms)

    # -- responses -----------------------------------------------------------------------
    def _response_create(self, event: dict, now: float) -> None:
        if "response" in event:
            _expect(event["response"], dict, "response", "an object")
        if self._active is not None:
            raise _Error("conversation_already_has_active_response", "Conversation already has an active response "
                         f"in progress: {self._active.response_id}. Wait until the response is finished before "
                         "creating a new one.")
        self._start_response(now)

    def _start_response(self, now: float) -> None:
        if self.recording is None:
            listing = ", ".join(self.available) or "none"
            raise _Error("no_recorded_response", "The replay server has no recorded response to send: no cassette "
                         f"was chosen. Add ?cassette=NAME to the URL (available: {listing}).")
        if self._next_response >= len(self._responses):
            where = (f"its last response starts at line {self._responses[-1].line}" if self._responses
                     else "it records no response")
            raise _Error("no_recorded_response", f"Cassette {self.recording.name!r} ({self.recording.path}) has no "
                         f"recorded response left for response #{self._next_response + 1}: {where}.")
        recorded = self._responses[self._next_response]
        self._next_response += 1
        self._active = _Active(recorded, str(recorded.created.get("id", "")))
        self._streams.append(_Stream(recorded.steps, now, active=self._active))

    def _response_cancel(self, event: dict, now: float) -> None:
        wanted = event.get("response_id")
        if self._active is None or (wanted is not None and wanted != self._active.response_id):
            raise _Error("response_cancel_not_active", "Cancellation failed: no active response found")
        self._cancel("client_cancelled", now)

    def _play(self, active: _Active, step: Step, due: float) -> None:
        """Send one recorded step of a response and follow its effect on the live state."""
        kind, event = GA_TO_BETA.get(step.kind, step.kind), step.event
        item_id = event.get("item_id")
        state = active.items.get(item_id)
        part = state.parts.get(event.get("content_index")) if state else None
        if kind == "response.created":
            active.created_sent = True
        elif kind == "response.output_item.added" and isinstance(event.get("item"), dict):
            item = event["item"]
            active.items[item.get("id")] = _OutputItem(copy.deepcopy(item), event.get("output_index", len(active.items)))
            if all(existing.get("id") != item.get("id") for existing in self.items):
                self.items.append(copy.deepcopy(item))
        elif kind == "response.content_part.added" and state is not None:
            state.parts[event.get("content_index")] = _Part(str((event.get("part") or {}).get("type", "text")))
        elif kind.endswith(".delta"):
            active.deltas += 1
            delta = event.get("delta") if isinstance(event.get("delta"), str) else ""
            if kind == "response.audio.delta":
                self._audio_sent[item_id] = self._audio_sent.get(item_id, 0) + step.audio_bytes
            elif kind == "response.audio_transcript.delta" and part:
                part.transcript += delta
            elif kind == "response.text.delta" and part:
                part.text += delta
            elif kind == "response.function_call_arguments.delta" and state:
                state.arguments += delta or event.get("arguments", "")
        elif kind.endswith(".done") and kind.startswith("response.") and part is not None:
            part.closed.add(kind)
        elif kind == "response.function_call_arguments.done" and state:
            state.arguments_done = True
        if kind == "response.output_item.done" and isinstance(event.get("item"), dict):
            final = copy.deepcopy(event["item"])
            if final.get("id") in active.items:
                active.items[final["id"]].final = final
            self._replace_item(final)
        if step.text is None:
            self._emit(self._patched_ack(event), due)
        else:
            self._emit(step.text, due)
        if kind == "response.done" and self._active is active:
            self._active = None

    def _patched_ack(self, event: dict) -> str:
        """An assistant item ack with `previous_item_id` from the live item list."""
        item = event.get("item") if isinstance(event.get("item"), dict) else {}
        if all(existing.get("id") != item.get("id") for existing in self.items):
            self.items.append(copy.deepcopy(item))
        return _dumps(dict(event, previous_item_id=self._previous_id(item.get("id"))))

    def _previous_id(self, item_id: str | None) -> str | None:
        """The id of the item before `item_id` in the live list (None at the start or when absent)."""
        ids = [existing.get("id") for existing in self.items]
        position = ids.index(item_id) if item_id in ids else 0
        return ids[position - 1] if position else None

    def _replace_item(self, item: dict) -> None:
        for index, existing in enumerate(self.items):
            if existing.get("id") == item.get("id"):
                self.items[index] = copy.deepcopy(item)

    def _cancel(self, reason: str, now: float) -> None:
        """End the active response now: close its open parts and items, then ``response.done`` cancelled."""
        active, self._active = self._active, None
        self._streams = [s for s in self._streams if s.active is not active]
        if not active.created_sent:
            self._emit(active.recorded.steps[0].text, now)
        rid = active.response_id
        output = []
        for item_id, state in sorted(active.items.items(), key=lambda kv: kv[1].index):
            if state.final is None:
                state.final = self._close_item(rid, item_id, state, now)
            output.append(state.final)
        response = copy.deepcopy(active.recorded.created)
        response.update(status="cancelled", status_details={"type": "cancelled", "reason": reason}, output=output,
                        usage=self._scaled_usage(active))
        self._send("response.done", now, response=response)

    def _close_item(self, rid: str, item_id: str, state: _OutputItem, now: float) -> dict:
        ids = {"response_id": rid, "item_id": item_id, "output_index": state.index}
        item = copy.deepcopy(state.item)
        if item.get("type") == "function_call":
            if not state.arguments_done:
                extra = {"name": item.get("name", "")} if self.dialect == "ga" else {}
                self._send("response.function_call_arguments.done", now, **ids, call_id=item.get("call_id"),
                           arguments=state.arguments, **extra)
            item["arguments"] = state.arguments
        content = []
        for index, part in sorted(state.parts.items()):
            if part.type == "audio":
                if "response.audio.done" not in part.closed:
                    self._send("response.audio.done", now, **ids, content_index=index)
                if "response.audio_transcript.done" not in part.closed:
                    self._send("response.audio_transcript.done", now, **ids, content_index=index,
                               transcript=part.transcript)
                body = {"type": "audio", "transcript": part.transcript}
            else:
                if "response.text.done" not in part.closed:
                    self._send("response.text.done", now, **ids, content_index=index, text=part.text)
                body = {"type": "text", "text": part.text}
            if "response.content_part.done" not in part.closed:
                self._send("response.content_part.done", now, **ids, content_index=index, part=dict(body))
            content.append(body)
        if item.get("type") == "message":
            item["content"] = content
        item["status"] = "incomplete"
        item = convert_item(item, self.dialect)
        self._replace_item(item)
        if self.dialect == "ga":
            self._send("conversation.item.done", now, previous_item_id=self._previous_id(item_id),
                       item=copy.deepcopy(item))
        self._send("response.output_item.done", now, response_id=rid, output_index=state.index, item=item)
        return item

    @staticmethod
    def _scaled_usage(active: _Active) -> dict | None:
        usage = copy.deepcopy(active.recorded.usage)
        if not isinstance(usage, dict):
            return usage
        share = active.deltas / active.recorded.deltas if active.recorded.deltas else 0.0
        details = usage.get("output_token_details")
        if isinstance(details, dict):
            for key in ("text_tokens", "audio_tokens"):
                if isinstance(details.get(key), int):
                    details[key] = round(details[key] * share)
            usage["output_tokens"] = sum(v for v in details.values() if isinstance(v, int))
        elif isinstance(usage.get("output_tokens"), int):
            usage["output_tokens"] = round(usage["output_tokens"] * share)
        if isinstance(usage.get("input_tokens"), int) and isinstance(usage.get("output_tokens"), int):
            usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
        return usage


class _Vad:
    """Energy-based voice activity detection over 20 ms frames (see the module docstring)."""

    FRAME = VAD_FRAME_MS * BYTES_PER_MS

    def __init__(self):
        self.carry = b""
        self.item_id: str | None = None
        self.reset()

    def reset(self) -> None:
        """Forget any speech in progress (after a commit or clear)."""
        self.speaking = False
        self.silence_ms = 0
        self.item_id = None

    def feed(self, pcm: bytes, start: int, settings: dict) -> list[tuple[str, int]]:
        """Changes ("started", byte offset) / ("stopped", byte offset) found in `pcm` appended at offset `start`."""
        data = self.carry + pcm
        begin = start - len(self.carry)
        usable = len(data) - len(data) % self.FRAME
        self.carry = data[usable:]
        if not usable:
            return []
        samples = np.frombuffer(data[:usable], dtype="<i2").astype(np.float32).reshape(-1, self.FRAME // 2)
        rms = np.sqrt(np.mean(samples * samples, axis=1)) / 32768.0
        level = 20 * np.log10(np.maximum(rms, 1e-9))
        threshold = settings.get("threshold")
        if not isinstance(threshold, (int, float)):
            energy = settings.get("energy_awakeness_threshold", 2500)
            threshold = (energy if isinstance(energy, (int, float)) else 2500) / 5000
        floor = -60 + 50 * float(threshold)
        padding = int(settings.get("prefix_padding_ms") or 0) * BYTES_PER_MS
        silence_needed = int(settings.get("silence_duration_ms") or 0)
        changes = []
        for i, frame_level in enumerate(level.tolist()):
            frame_start = begin + i * self.FRAME
            if not self.speaking:
                if frame_level >= floor:
                    self.speaking, self.silence_ms = True, 0
                    changes.append(("started", max(0, frame_start - padding)))
            elif frame_level >= floor:
                self.silence_ms = 0
            else:
                self.silence_ms += VAD_FRAME_MS
                if self.silence_ms >= silence_needed:
                    self.speaking = False
                    changes.append(("stopped", frame_start + self.FRAME))
        return changes
