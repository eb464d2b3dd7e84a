"""Response playback: recorded runs streamed at their pace, cancelled mid-stream, framed live.

A run starts on ``response.create`` (or a VAD turn); each recorded frame is due at its recorded
offset from the trigger divided by the speed. Response objects are built live from the session
config (so the response voice and modalities are the session's), item acks get their live
``previous_item_id``, and the live state (items, audio sent per item) follows what was sent.
"""

from __future__ import annotations

import copy
from collections import deque
from dataclasses import dataclass, field

from ..personas import Persona, convert_item
from .context import ResponseScope
from .items import Conversation
from .mcp_session import McpTools
from .outbox import Outbox
from .recording import LIVE_ACKS, RecordedResponse, Recording, Step, dumps
from .usage import scaled_usage
from .validation import ClientError

MAX_NOTES = 50


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
    config: dict
    conversation_id: str | None
    scope: ResponseScope = ResponseScope()
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
    held_at: float | None = None  # set while the response waits for an MCP call


def wants_text_only(config: dict, dialect: str, overrides: dict) -> bool:
    """True when the response must be text: the session's (or response's) output modalities lack audio."""
    key = "output_modalities" if dialect == "ga" else "modalities"
    modalities = overrides.get(key, config.get(key))
    return isinstance(modalities, list) and "audio" not in modalities


def declares_tools(config: dict, overrides: dict) -> bool:
    """True when the model may call a function: tools declared and tool_choice not "none"."""
    tools = overrides.get("tools", config.get("tools"))
    return bool(tools) and overrides.get("tool_choice", config.get("tool_choice")) != "none"


class Playback:
    """The responses and input transcriptions of one session's cassette, played against live state."""

    def __init__(self, recording: Recording | None, conversation: Conversation, outbox: Outbox, speed: float,
                 available: list[str]):
        self.recording = recording
        self.persona: Persona = outbox.persona
        self.conversation, self.outbox, self.speed = conversation, outbox, speed
        self.available = available
        self.total = recording.response_count if recording else 0
        self.consumed = 0
        self.transcriptions = recording.prepared(self.persona)[1] if recording else []
        self.next_transcription = 0
        self.active: _Active | None = None
        self.streams: list[_Stream] = []
        self.notes: deque[str] = deque(maxlen=MAX_NOTES)
        self._conversation_id = self.persona.new_id("conv", outbox.seed)
        self.tools: McpTools | None = None  # the session's McpTools (GA): may hold a response while a tool call runs
        self.finished: list[tuple[float, int]] = []  # (done at, audio bytes sent) of responses not yet seen

    # -- starting, cancelling ---------------------------------------------------------------
    def start(self, now: float, config: dict, overrides: dict | None = None,
              scope: ResponseScope | None = None) -> None:
        """Start the next recorded response, framed for the session `config` and per-response `overrides`;
        an out-of-band `scope` keeps its output out of the conversation."""
        scope = scope or ResponseScope()
        overrides = overrides or {}
        if self.recording is None:
            listing = ", ".join(self.available) or "none"
            raise ClientError("no_recorded_response", "The replay server has no recorded response to send: no "
                              f"cassette was chosen. Add ?cassette=NAME to the URL (available: {listing}).")
        if self.consumed >= self.total:
            responses = self.recording.prepared(self.persona)[0]
            where = f"its last response starts at line {responses[-1].line}" if responses else "it records no response"
            raise ClientError("no_recorded_response", f"Cassette {self.recording.name!r} has no recorded response "
                              f"left for response #{self.consumed + 1}: {where}.")
        text_only = wants_text_only(config, self.persona.dialect, overrides)
        responses, _ = self.recording.prepared(self.persona, text_only=text_only,
                                               tools=declares_tools(config, overrides))
        recorded = responses[self.consumed]
        self.consumed += 1
        number = f"response #{self.consumed} (line {recorded.line})"
        self.notes.extend(f"{number}: {note}" for note in recorded.notes)
        if not text_only and not recorded.has_audio and any(i.get("type") == "message" for i in recorded.output):
            self.notes.append(f"{number}: the session asks for audio, the cassette recorded text only")
        effective = copy.deepcopy(config)
        for key in ("output_modalities", "modalities", "voice", "max_output_tokens", "max_response_output_tokens"):
            if key in overrides:
                effective[key] = overrides[key]
        if isinstance(overrides.get("audio"), dict):
            effective["audio"] = {**(effective.get("audio") or {}), "output": {
                **((effective.get("audio") or {}).get("output") or {}), **(overrides["audio"].get("output") or {})}}
        in_default = scope.in_conversation and not self.persona.minimal_frames
        self.active = _Active(recorded, recorded.response_id, effective,
                              self._conversation_id if in_default else None, scope)
        self.streams.append(_Stream(recorded.steps, now, active=self.active))

    def cancel(self, reason: str, now: float) -> None:
        """End the active response now: close its open parts and items, then ``response.done`` cancelled."""
        active, self.active = self.active, None
        if active is None:  # nothing runs: nothing to cancel
            return
        self.streams = [s for s in self.streams if s.active is not active]
        if not active.created_sent:
            self._emit_live(active, active.recorded.steps[0], now)
        output = []
        for item_id, state in sorted(active.items.items(), key=lambda kv: kv[1].index):
            if state.final is None:
                state.final = self._close_item(active.response_id, item_id, state, now)
            output.append(state.final)
        usage = scaled_usage(active.recorded.usage, active.deltas, active.recorded.deltas)
        response = self.persona.response_object(active.response_id, "cancelled", active.config, output=output,
                                                usage=usage, status_details={"type": "cancelled", "reason": reason},
                                                conversation_id=active.conversation_id)
        self.outbox.send("response.done", now, response=response)

    def transcribe(self, item_id: str, now: float, enabled: bool) -> None:
        """Replay the next recorded input transcription for a new user audio item, if enabled."""
        index, self.next_transcription = self.next_transcription, self.next_transcription + 1
        if enabled and index < len(self.transcriptions) and self.transcriptions[index]:
            self.streams.append(_Stream(self.transcriptions[index], now, item_id=item_id))

    # -- time --------------------------------------------------------------------------------
    def _due(self, stream: _Stream) -> float:
        delay = stream.steps[stream.index].delay
        return stream.base + (delay / self.speed if self.speed else 0.0)

    def next_due(self) -> float | None:
        """When the next recorded frame is due (None when nothing plays)."""
        return min((self._due(s) for s in self.streams if s.held_at is None), default=None)

    def release(self, now: float) -> None:
        """Resume the responses held for an MCP call, shifted by the time they waited."""
        for stream in self.streams:
            if stream.held_at is not None:
                stream.base += max(0.0, now - stream.held_at)
                stream.held_at = None

    def pump(self, limit: float) -> None:
        """Send every recorded frame due by `limit`, in order."""
        while self.outbox.closing is None:
            running = [s for s in self.streams if s.held_at is None]
            if not running:
                break
            stream = min(running, key=self._due)
            due = self._due(stream)
            if due > limit:
                break
            step = stream.steps[stream.index]
            if stream.active is not None and self.tools is not None:
                if self.tools.intercept(step, due, stream.active.response_id) == "hold":
                    stream.held_at = due
                    continue
                event = self.tools.rewrite(step.event)
                if event is not step.event:
                    step = Step(step.delay, step.kind, event, None, step.audio_bytes)
            stream.index += 1
            if stream.index == len(stream.steps):
                self.streams.remove(stream)
            if stream.active is not None:
                self._play(stream.active, step, due)
            else:
                self.outbox.emit(dumps(dict(step.event, item_id=stream.item_id)), due)

    # -- one step ----------------------------------------------------------------------------
    def _play(self, active: _Active, step: Step, due: float) -> None:
        """Send one recorded step of a response and follow its effect on the live state."""
        kind, event = step.kind, step.event
        item_id = event.get("item_id")
        state = active.items.get(item_id)
        part = state.parts.get(event.get("content_index")) if state else None
        if kind == "response.output_item.added" and isinstance(event.get("item"), dict):
            item = event["item"]
            active.items[item.get("id")] = _OutputItem(copy.deepcopy(item), event.get("output_index", len(active.items)))
            if active.scope.in_conversation and all(existing.get("id") != item.get("id")
                                                    for existing in self.conversation.items):
                self.conversation.items.append(copy.deepcopy(item))
        elif kind == "response.content_part.added" and state is not None:
            state.parts[event.get("content_index")] = _Part(str((event.get("part") or {}).get("type", "text")))
        elif kind.endswith(".delta"):
            active.deltas += 1
            delta = event.get("delta") if isinstance(event.get("delta"), str) else ""
            if kind == "response.audio.delta":
                sent = self.conversation.audio_sent
                sent[str(item_id)] = sent.get(str(item_id), 0) + step.audio_bytes
            elif kind == "response.audio_transcript.delta" and part:
                part.transcript += delta
            elif kind == "response.text.delta" and part:
                part.text += delta
            elif kind == "response.function_call_arguments.delta" and state:
                state.arguments += delta or event.get("arguments", "")
        elif kind.endswith(".done") and kind.startswith("response.") and part is not None:
            part.closed.add(kind)
        if kind == "response.function_call_arguments.done" and state:
            state.arguments_done = True
        if kind == "response.output_item.done" and isinstance(event.get("item"), dict):
            final = copy.deepcopy(event["item"])
            if final.get("id") in active.items:
                active.items[final["id"]].final = final
            if active.scope.in_conversation:
                self.conversation.remember(final)
        if step.text is None:
            self._emit_live(active, step, due)
        else:
            self.outbox.emit(step.text, due)
        if kind == "response.done" and self.active is active:
            self.active = None
            self.finished.append((due, sum(self.conversation.audio_sent.get(i, 0) for i in active.items)))
            if self.tools is not None:
                self.tools.after_response(due)

    def _emit_live(self, active: _Active, step: Step, due: float) -> None:
        """Frames built from live state: response objects from the session, acks with `previous_item_id`."""
        event = dict(step.event)
        if step.kind in ("response.created", "response.done"):
            recorded = active.recorded
            done = step.kind == "response.done"
            event["response"] = self.persona.response_object(
                active.response_id, recorded.status if done else "in_progress", active.config,
                output=copy.deepcopy(recorded.output) if done else [], usage=recorded.usage if done else None,
                status_details=recorded.status_details if done else None, conversation_id=active.conversation_id)
            if active.scope.metadata is not None:
                event["response"]["metadata"] = copy.deepcopy(active.scope.metadata)
            active.created_sent = True
        elif step.kind in LIVE_ACKS and not active.scope.in_conversation:
            return  # an out-of-band response adds nothing to the conversation
        elif step.kind in LIVE_ACKS:
            item = event["item"] if isinstance(event.get("item"), dict) else {}
            if all(existing.get("id") != item.get("id") for existing in self.conversation.items):
                self.conversation.items.append(copy.deepcopy(item))
            event["previous_item_id"] = self.conversation.previous_id(item.get("id"))
        self.outbox.emit(dumps(event), due)

    def _close_item(self, rid: str, item_id: str, state: _OutputItem, now: float) -> dict:
        ids = {"response_id": rid, "item_id": item_id, "output_index": state.index}
        send, persona = self.outbox.send, self.persona
        item = copy.deepcopy(state.item)
        if item.get("type") == "function_call":
            if not state.arguments_done:
                extra = {"name": item.get("name", "")} if persona.dialect == "ga" else {}
                send("response.function_call_arguments.done", now, **ids, call_id=item.get("call_id"),
                     arguments=state.arguments, **extra)
            item["arguments"] = state.arguments
        content = []
        for index, part in sorted(state.parts.items()):
            if part.type == "audio":
                if "response.audio.done" not in part.closed:
                    send("response.audio.done", now, **ids, content_index=index)
                if "response.audio_transcript.done" not in part.closed:
                    send("response.audio_transcript.done", now, **ids, content_index=index, transcript=part.transcript)
                body = {"type": "audio", "transcript": part.transcript}
            else:
                if "response.text.done" not in part.closed:
                    send("response.text.done", now, **ids, content_index=index, text=part.text)
                body = {"type": "text", "text": part.text}
            if "response.content_part.done" not in part.closed:
                send("response.content_part.done", now, **ids, content_index=index, part=persona.shape_part(dict(body)))
            content.append(body)
        if item.get("type") == "message":
            item["content"] = content
        item["status"] = "incomplete"
        item = persona.shape_item(convert_item(item, persona.dialect))
        self.conversation.remember(item)
        if persona.dialect == "ga":
            send("conversation.item.done", now, previous_item_id=self.conversation.previous_id(item_id),
                 item=copy.deepcopy(item))
        send("response.output_item.done", now, response_id=rid, output_index=state.index, item=item)
        return item

