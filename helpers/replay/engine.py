"""The replay protocol engine: pure state, no sockets, no asyncio (sans-I/O, like h11).

Replay what the model said, simulate what the protocol does, answer as the service the model
names. One `Session` per connection is fed the client's frames (`receive`) and the clock
(`poll`); it answers with server frames as JSON text, each due at a time the adapter honours
(`next_deadline`).

The persona (`helpers.personas`: StepFun for ``step-*``/``stepaudio-*``, OpenAI GA for ``gpt-*``,
OpenAI's 2024 beta only with ``dialect=beta``) decides the session defaults, ids, frame shapes
and refusals. The cassette (`recording`) gives what the model said: the responses, in order, and
the input transcriptions. Everything else is computed live, by concern:

* `validation`   -- every client event checked all or nothing, with the live codes;
* `input_buffer` -- the input audio buffer (100 ms minimum commit, 15 MiB appends) and server VAD;
* `items`        -- the conversation: acks with ``previous_item_id``, retrieve, delete, truncate;
* `playback`     -- recorded responses at their pace, cancel, the session config honoured;
* `usage`        -- the usage of a response cut short.

Ids the server makes are derived from the cassette name and a counter, so replayed outputs are
identical run after run.
"""

from __future__ import annotations

import copy
import hmac
import json
import logging
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..limits import FrameText
from ..personas import BYTES_PER_MS, CLIENT_EVENTS, SUPPORTED_CLIENT_EVENTS, Persona, beta_header_refused, persona_for
from ..secrets import masked
from .context import check_truncation, response_scope, validation_view
from .idle import IdleTimer, idle_timeout_ms
from .images import check_images
from .input_buffer import InputBuffer, as_text, decode_steps, is_event_audio, without_audio
from .items import Conversation
from .mcp_session import Job, McpTools
from .outbox import Outbox
from .playback import Playback
from .reasoning import check_reasoning
from .recording import Library, Recording, dumps, is_user_audio
from .transcription import TranscriptionReplay
from .validation import ClientError, check_depth, expect, validate_event

__all__ = ["Library", "Options", "QUERY_OPTIONS", "Recording", "Refusal", "Session", "open_session"]

log = logging.getLogger("helpers.replay")
EPOCH = 1767225600  # expires_at is counted from here, so replays stay identical
_HANDLERS = {"session.update": "_session_update", "input_audio_buffer.append": "_append",
             "input_audio_buffer.commit": "_commit", "input_audio_buffer.clear": "_clear",
             "conversation.item.create": "_item_create", "conversation.item.retrieve": "_item_retrieve",
             "conversation.item.truncate": "_item_truncate", "conversation.item.delete": "_item_delete",
             "response.create": "_response_create", "response.cancel": "_response_cancel",
             "session.close": "_session_close", "session.input_audio_buffer.append": "_append"}


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
    return Refusal(dumps({"type": "error", "event_id": "event_refused", "error": error}), close, reason)


def open_session(query: Mapping[str, str], headers: Mapping[str, str], library: Library | None,
                 options: Options, subprotocols: tuple[str, ...] = ()) -> Session | Refusal:
    """Admit a connection (key, model, persona, cassette, query options) and make its `Session`, or refuse it.

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
    if query.get("intent") == "transcription":
        return _transcription_session(query, library, options)
    if not model:
        return _refuse("missing_model", "You must provide a model parameter, for example "
                       "wss://api.openai.com/v1/realtime?model=gpt-realtime", 4000, "invalid_request_error.missing_model")
    dialect = query.get("dialect") or None
    try:
        persona = persona_for(model, dialect=dialect)
    except ValueError as exc:
        if dialect not in (None, "beta", "ga"):
            return _refuse("invalid_value", str(exc), 4000, "invalid_request_error.invalid_value", "dialect")
        return _refuse("invalid_model", f"{exc} The replay server serves step-*/stepaudio-* (StepFun) and gpt-* "
                       "(OpenAI) models.", 4000, "invalid_request_error.invalid_model")
    if dialect is not None and dialect != persona.dialect:
        return _refuse("invalid_value", f"Invalid value: '{dialect}'. {persona.provider} models speak the "
                       f"'{persona.dialect}' dialect here.", 4000, "invalid_request_error.invalid_value", "dialect")
    beta_header = headers.get("openai-beta", "").replace(" ", "") == "realtime=v1" \
        or "openai-beta.realtime-v1" in subprotocols
    if beta_header_refused(persona, beta_header):
        return _refuse("beta_api_shape_disabled", "The Realtime Beta API is no longer supported. Please use "
                       "/v1/realtime for the GA API.", 4000, "invalid_request_error.beta_api_shape_disabled")
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
    name = query.get("cassette") or ""
    recording = library.get(name) if name and library is not None else None
    # the names are listed only in errors: a session without its cassette
    available = library.names() if library is not None and recording is None else []
    if name and recording is None:
        listing = ", ".join(available) or "none"
        shown = name if len(name) <= 128 else name[:125] + "..."
        return _refuse("cassette_not_found", f"No cassette named {shown!r} on this replay server. Available: "
                       f"{listing}.", 4000, "invalid_request_error.cassette_not_found", "cassette")
    return Session(recording, persona, model=model, options=options, available=available)


def _transcription_session(query: Mapping[str, str], library: Library | None, options: Options):
    """``?intent=transcription``: OpenAI's transcription-only session (no model in the URL needed)."""
    persona = persona_for("gpt-realtime-whisper")
    name = query.get("cassette")
    recording = library.get(name) if name and library is not None else None
    if name and recording is None:
        return _refuse("cassette_not_found", f"No cassette named {name[:128]!r} on this replay server.", 4000,
                       "invalid_request_error.cassette_not_found", "cassette")
    speed = float(query["speed"]) if "speed" in query else options.speed
    outbox = Outbox(persona, name or "")
    return TranscriptionReplay(recording, persona, outbox, speed, EPOCH + 60 * persona.session_minutes,
                               options.strict)


# -- the per-connection session -----------------------------------------------------------

def _merge(base: dict, update: dict) -> dict:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


class Session:
    """One replayed connection: feed it client frames and time, read back server frames.

    `receive(message, now)` takes a client frame; `poll(now)` returns the JSON texts due by
    `now`; `next_deadline()` says when to poll next. `close` becomes (code, reason) when the
    server ends the connection (faults, ``session.close``) once `poll` has drained. `items` is
    the live conversation, `config` the live session object (both in the persona's dialect).
    """

    def __init__(self, recording: Recording | None, persona: Persona, *, model: str, options: Options | None = None,
                 available: list[str] | tuple[str, ...] = ()):
        self.recording = recording
        self.persona = persona
        self.dialect = persona.dialect
        self.model = model
        self.options = options or Options()
        self.outbox = Outbox(persona, recording.name if recording else "", latency_ms=self.options.latency_ms,
                             jitter_ms=self.options.jitter_ms, close_after=self.options.close_after)
        self.conversation = Conversation(self.outbox)
        self.input = InputBuffer()
        self.playback = Playback(recording, self.conversation, self.outbox, self.options.speed, list(available))
        self.mcp = McpTools(self.outbox, self.conversation)
        self.playback.tools = self.mcp if persona.dialect == "ga" else None
        self._deferred: tuple | None = None   # a response.create waiting for approved MCP calls
        self.idle = IdleTimer()
        self._expire_at: float | None = None
        self.config = persona.default_session(model, self.outbox.new_id("sess"),
                                              EPOCH + 60 * persona.session_minutes)

    @property
    def items(self) -> list[dict]:
        """The live conversation items, in order."""
        return self.conversation.items

    @property
    def events_sent(self) -> int:
        """How many server events were queued so far."""
        return self.outbox.events_sent

    # -- the public surface ---------------------------------------------------------------
    def start(self, now: float) -> None:
        """Open the session: ``session.created`` (and a recorded ``conversation.created`` for OpenAI beta)."""
        if self.options.expire_after is not None:
            self._expire_at = now + self.options.expire_after
        self.outbox.send("session.created", now, session=copy.deepcopy(self.config))
        if self.persona.name == "openai-beta":
            for event in self.recording.opening if self.recording else []:
                self.outbox.emit(dumps(event), now)

    @property
    def close(self) -> tuple[int, str] | None:
        """(code, reason) once the server has decided to close and everything before it was polled."""
        return self.outbox.closing if not self.outbox.queue else None

    def next_deadline(self) -> float | None:
        """The time `poll` next has something to return, or None when only a client frame can change that."""
        times = [self.outbox.queue[0][0]] if self.outbox.queue else []
        if self.outbox.closing is None:
            due = self.playback.next_due()
            times += [due] if due is not None else []
            times += [self.idle.deadline] if self.idle.deadline is not None else []
            if self._expire_at is not None:
                times.append(self._expire_at)
        return min(times) if times else None

    def poll(self, now: float) -> list[str]:
        """The server frames (JSON text) due by `now`, in order."""
        self._pump(now)
        queue, out = self.outbox.queue, []
        while queue and queue[0][0] <= now + 1e-9:
            out.append(queue.popleft()[1])
        return out

    def receive(self, message: FrameText, now: float) -> None:
        """Handle one client frame received at `now`; answers become due in `poll`. Never raises for client input."""
        for _ in self._receive(message, None, now, steps=False):
            pass

    def receive_steps(self, message: FrameText, bulk: tuple[int, int] | None, now: float) -> Iterator[None]:
        """`receive` for a large frame, in steps; `bulk`: where its bulk string lies (`limits.bulk_span`), if anywhere.

        `message` may be the frame's UTF-8 bytes (already checked), so that a large append is never
        decoded into one string. An append's audio is decoded and run through VAD a bounded step
        at a time (`input_buffer.STEP_CHARS`); any other event is parsed, validated and handled in
        three steps. The caller resumes the iterator between other work. The outcome is `receive`'s.
        """
        return self._receive(message, bulk, now)

    def _receive(self, message: FrameText, bulk: tuple[int, int] | None, now: float,
                 steps: bool = True) -> Iterator[None]:
        self._pump(now)
        if self.outbox.closing is not None:
            return
        event_id = None
        try:
            text = message if bulk is not None and is_event_audio(message, bulk[0]) else None
            event = self._parse(without_audio(text, bulk) if text is not None and bulk is not None else message)
            event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
            check_depth(event)
            kind = event.get("type")
            if kind is None:
                raise ClientError("invalid_event", "The 'type' field is missing.")
            supported = SUPPORTED_CLIENT_EVENTS[self.dialect]
            if not isinstance(kind, str) or kind not in supported:
                listing = ", ".join(f"'{n}'" for n in supported[:-1]) + f", and '{supported[-1]}'"
                shown = kind if isinstance(kind, str) else json.dumps(kind)[:100]
                raise ClientError("invalid_value", f"Invalid value: '{shown[:200]}'. Supported values are: {listing}.",
                                  "type")
            for name in CLIENT_EVENTS.get(kind, ()):
                if name not in event:
                    raise ClientError("missing_required_parameter", f"Missing required parameter: '{name}'.", name)
            if kind.endswith("input_audio_buffer.append"):
                if text is not None and bulk is not None:
                    yield from self._append_steps(text, bulk, now)
                    return
            else:
                if text is not None:  # the audio of an event that is not an append: parsed whole
                    event = self._parse(as_text(message))
                if steps:
                    yield
                validate_event(validation_view(event), self.persona)
            if steps:
                yield
            getattr(self, _HANDLERS[kind])(event, now)
        except ClientError as err:
            self.outbox.error(err, event_id, now)
        except (RecursionError, OverflowError, ValueError, TypeError, MemoryError) as exc:
            log.warning("replay: refused a client event the engine could not handle (%s)", type(exc).__name__)
            self.outbox.error(ClientError("invalid_value", "The replay server could not process this event "
                                          f"({type(exc).__name__}); the session goes on."), event_id, now)

    @staticmethod
    def _parse(message: FrameText) -> dict:
        if not isinstance(message, str):
            raise ClientError("invalid_event", "Expected a text WebSocket message; binary frames are not supported.")
        try:
            event = json.loads(message, parse_constant=_no_constants)
        except RecursionError:
            raise ClientError("invalid_json", "Invalid event: failed to parse JSON value. (nested too deeply)") from None
        except ValueError as exc:
            raise ClientError("invalid_json", f"Invalid event: failed to parse JSON value. ({str(exc)[:200]})") from None
        if not isinstance(event, dict):
            raise ClientError("invalid_event", "Invalid event: expected a JSON object.")
        return event

    def report(self) -> dict:
        """A summary for strict checks: responses consumed and left, errors sent, config/cassette contradictions."""
        playback = self.playback
        left = playback.total - playback.consumed
        report = {"cassette": self.recording.name if self.recording else None, "persona": self.persona.name,
                  "dialect": self.dialect, "responses_total": playback.total, "responses_consumed": playback.consumed,
                  "responses_left": left, "errors_sent": list(self.outbox.errors),
                  "error_count": self.outbox.error_count, "contradictions": list(playback.notes),
                  "strict": self.options.strict, "ok": not (self.options.strict and (left or playback.notes))}
        problems = []
        if left:
            first = self.recording.prepared(self.persona)[0][playback.consumed].line if self.recording else "?"
            problems.append(f"{left} recorded response(s) left unconsumed, the first at line {first}")
        problems += list(playback.notes)
        if problems:
            report["message"] = f"cassette {report['cassette']!r}: " + "; ".join(problems)
        return report

    # -- MCP requests (run by the adapter) -----------------------------------------------
    def take_jobs(self) -> list[Job]:
        """The MCP requests (`helpers.replay.mcp_session.Job`) the adapter must run, each once."""
        return self.mcp.take_jobs()

    def resolve(self, job: Job, result: Any, now: float) -> None:
        """The adapter's result for `job` (a tool list, a tool output, or an `McpError`)."""
        self._pump(now)
        done = self.mcp.resolve(job, result, now)
        if done is not None and done[0] == "called":
            self.playback.release(now)
        if self._deferred is not None and not self.mcp.busy:
            (overrides, scope), self._deferred = self._deferred, None
            try:
                self.playback.start(now, self.config, overrides, scope)
            except ClientError as err:
                self.outbox.error(err, None, now)

    # -- time ----------------------------------------------------------------------------
    def _pump(self, now: float) -> None:
        limit = now if self._expire_at is None else min(now, self._expire_at)
        self.playback.pump(limit)
        self._idle(limit)
        if self._expire_at is not None and now >= self._expire_at and self.outbox.closing is None:
            self._expire_at = None
            # Wording of OpenAI's 60-minute limit (issue reports, peers-and-pain-points §4.5); code
            # `session_expired` per twilio-samples #10. The exact event shape is [UNCONFIRMED].
            self.outbox.error(ClientError("session_expired", "Your session hit the maximum duration of "
                                          f"{self.options.expire_after:g} seconds."), None, now)
            self.outbox.closing = (1001, "session expired")

    def _idle(self, now: float) -> None:
        """Arm the idle timeout after each response; when it runs out, commit the silence and respond."""
        timeout = idle_timeout_ms(self._turn_detection()) if self.dialect == "ga" else None
        finished, self.playback.finished = self.playback.finished, []
        if timeout is not None and finished:
            done_at, audio_bytes = finished[-1]
            self.idle.arm(done_at, audio_bytes, timeout, self.input.total)
        if timeout is None or self.playback.active is not None or not self.idle.due(now):
            return
        item_id = self.outbox.new_id("item")
        self.outbox.send("input_audio_buffer.timeout_triggered", now,
                         **self.idle.event(self.input.total, item_id))
        self.input.vad.reset()
        self._commit_buffer(item_id, self.input.total, now)
        try:
            self.playback.start(now, self.config)
        except ClientError as err:
            self.outbox.error(err, None, now)

    # -- config --------------------------------------------------------------------------
    def _input(self) -> dict:
        return self.config if self.dialect == "beta" else (self.config.get("audio") or {}).get("input") or {}

    def _voice(self, config: dict) -> Any:
        return config.get("voice") if self.dialect == "beta" else ((config.get("audio") or {}).get("output") or {}).get("voice")

    def _turn_detection(self) -> dict | None:
        value = self._input().get("turn_detection")
        return value if isinstance(value, dict) and value.get("type") in ("server_vad", "semantic_vad") else None

    def _session_update(self, event: dict, now: float) -> None:
        update = expect(event["session"], dict, "session", "an object")
        if self.dialect == "ga" and update.get("type") != "realtime":
            raise ClientError("invalid_value", f"Invalid value: '{update.get('type')}'. This replay server "
                              "supports 'realtime' sessions.", "session.type")
        update = {k: v for k, v in update.items() if k not in ("id", "object", "model", "expires_at")}
        if self.dialect == "ga":
            check_reasoning(update, self.model, "session")
            check_truncation(update, self.model)
        merged = _merge(self.config, update)
        vad_holder = merged if self.dialect == "beta" else merged["audio"]["input"]
        vad = vad_holder.get("turn_detection")
        if isinstance(vad, dict):
            vad_holder["turn_detection"] = {**self.persona.vad_defaults(), **vad}
        if self._voice(merged) != self._voice(self.config) and self.conversation.audio_sent:
            param = "session.voice" if self.dialect == "beta" else "session.audio.output.voice"
            raise ClientError("cannot_update_voice", "Cannot update a conversation's voice if assistant audio is "
                              "present.", param)
        if self.dialect == "ga" and "tools" in update:
            self.mcp.session_tools(update["tools"], now)
        self.config = merged
        self.outbox.send("session.updated", now, session=copy.deepcopy(self.config))

    def _session_close(self, event: dict, now: float) -> None:
        self.outbox.closing = (1000, "session closed by the client")

    # -- input audio ---------------------------------------------------------------------
    def _append(self, event: dict, now: float) -> None:
        vad = self._turn_detection()
        for change, offset in self.input.append(event, vad):
            self._vad_change(change, offset, vad or {}, now)  # changes come only with VAD on

    def _append_steps(self, message: FrameText, bulk: tuple[int, int], now: float) -> Iterator[None]:
        """`_append` of ``message[bulk[0]:bulk[1]]``: all of it decoded first (all or nothing), then VAD piece by piece."""
        pieces = yield from decode_steps(message, *bulk)
        vad = self._turn_detection()
        for pcm in pieces:
            for change, offset in self.input.take(pcm, vad):
                self._vad_change(change, offset, vad or {}, now)
            yield

    def _vad_change(self, change: str, offset: int, vad: dict, now: float) -> None:
        ms = offset // BYTES_PER_MS
        if change == "started":
            self.idle.disarm()
            self.input.vad.item_id = self.outbox.new_id("item")
            self.outbox.send("input_audio_buffer.speech_started", now, audio_start_ms=ms, item_id=self.input.vad.item_id)
            if self.playback.active is not None and vad.get("interrupt_response", True):
                self.playback.cancel("turn_detected", now)
            return
        item_id, self.input.vad.item_id = self.input.vad.item_id or self.outbox.new_id("item"), None  # set at start
        self.outbox.send("input_audio_buffer.speech_stopped", now, audio_end_ms=ms, item_id=item_id)
        self._commit_buffer(item_id, offset, now)
        if vad.get("create_response", True) and self.playback.active is None:
            try:
                self.playback.start(now, self.config)
            except ClientError as err:
                self.outbox.error(err, None, now)

    def _commit(self, event: dict, now: float) -> None:
        self.input.check_commit()
        item_id = self.input.vad.item_id or self.outbox.new_id("item")
        self.input.vad.reset()
        self._commit_buffer(item_id, self.input.total, now)

    def _commit_buffer(self, item_id: str, end: int, now: float) -> None:
        self.input.committed(end)
        self.conversation.user_audio(item_id, now)
        self._transcribe(item_id, now)

    def _transcribe(self, item_id: str, now: float) -> None:
        key = "transcription" if self.dialect == "ga" else "input_audio_transcription"
        self.playback.transcribe(item_id, now, bool(self._input().get(key)))

    def _clear(self, event: dict, now: float) -> None:
        self.input.clear()
        self.outbox.send("input_audio_buffer.cleared", now)

    # -- items ---------------------------------------------------------------------------
    def _item_create(self, event: dict, now: float) -> None:
        check_images(event["item"])
        if self.dialect == "ga" and event["item"].get("type") == "mcp_approval_response":
            self.mcp.approval(event["item"], now)
            return
        item = self.conversation.create(event, now)
        if is_user_audio(item):
            self._transcribe(item["id"], now)

    def _item_retrieve(self, event: dict, now: float) -> None:
        self.conversation.retrieve(event, now)

    def _item_delete(self, event: dict, now: float) -> None:
        self.conversation.delete(event, now)

    def _item_truncate(self, event: dict, now: float) -> None:
        self.conversation.truncate(event, now)

    # -- responses -----------------------------------------------------------------------
    def _response_create(self, event: dict, now: float) -> None:
        overrides = expect(event.get("response", {}), dict, "response", "an object")
        if self.playback.active is not None:
            raise ClientError("conversation_already_has_active_response", "Conversation already has an active "
                              f"response in progress: {self.playback.active.response_id}. Wait until the response "
                              "is finished before creating a new one.")
        if self.dialect == "ga":
            check_reasoning(overrides, self.model, "response")
        scope = response_scope(event, [str(item.get("id")) for item in self.items])
        self.idle.disarm()
        if self.dialect == "ga" and self.mcp.run_approved(now):
            self._deferred = (overrides, scope)
            return
        self.playback.start(now, self.config, overrides, scope)

    def _response_cancel(self, event: dict, now: float) -> None:
        wanted = event.get("response_id")
        active = self.playback.active
        if active is None or (wanted is not None and wanted != active.response_id):
            raise ClientError("response_cancel_not_active", "Cancellation failed: no active response found")
        self.playback.cancel("client_cancelled", now)
