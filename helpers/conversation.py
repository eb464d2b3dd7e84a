"""The state of one Realtime conversation, rebuilt from the frames that crossed the wire.

Pure: feed it frames (or events) of either dialect and read the result. Nothing here
touches a socket or a clock; times are the `t` of the frames you give it.

What the server remembers and what you received can differ. After
``conversation.item.truncated`` the server keeps only the audio that was heard and drops the
item's transcript, so `Item.transcript` keeps what you received while `Item.remembered_text`
is ``None``: the model has no text for that turn any more.

Restoring a conversation into a new session (`Conversation.restore_events`) sends every
turn back as an item, not as instructions: audio turns become their transcript text, and
function calls stay a ``function_call`` item followed by its ``function_call_output`` (so the
new session sees a real call and its result, and the pair is never split).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from . import events as ev
from .audio import BYTES_PER_MS, AudioBuffer
from .cassette import Frame, scrub

_TEXT_PARTS = {"input_text", "text", "output_text"}
_AUDIO_PARTS = {"input_audio", "audio", "output_audio"}


@dataclass
class Item:
    """One conversation item: a message, a function call or a function call's output.

    `text` is the item's text content; `transcript` the transcript of its audio as received
    (user: input transcription; assistant: the audio transcript). `audio` holds the assistant
    audio received, each delta decoded on its own; `audio_end_ms` is set by a truncation.
    """

    id: str
    type: str = "message"
    role: str | None = None
    status: str | None = None
    text: str = ""
    transcript: str | None = None
    has_audio: bool = False
    call_id: str | None = None
    name: str | None = None
    arguments: str = ""
    output: str | None = None
    previous_item_id: str | None = None
    response_id: str | None = None
    audio_end_ms: int | None = None
    transcription_error: dict | None = None
    audio: AudioBuffer = field(default_factory=AudioBuffer, repr=False)

    @property
    def audio_bytes(self) -> bytes:
        """The assistant audio received for this item (pcm16, 24 kHz, mono)."""
        return self.audio.pcm16

    @property
    def audio_ms(self) -> float:
        """Milliseconds of audio received for this item."""
        return self.audio.duration_ms

    @property
    def truncated(self) -> bool:
        """True once the server confirmed a truncation of this item's audio."""
        return self.audio_end_ms is not None

    @property
    def heard_ms(self) -> float:
        """Milliseconds of audio the model keeps: all of it, or up to the truncation point."""
        return self.audio_ms if self.audio_end_ms is None else min(float(self.audio_end_ms), self.audio_ms)

    @property
    def heard_audio(self) -> bytes:
        """The audio the model keeps (cut at the truncation point, on a sample boundary)."""
        end = int(self.heard_ms * BYTES_PER_MS) // 2 * 2
        return self.audio.pcm16[:end]

    @property
    def remembered_text(self) -> str | None:
        """The text the server holds for this message, or None when there is none or truncation removed it."""
        if self.text:
            return self.text
        if self.truncated:
            return None
        return self.transcript or None

    def heard_transcript_estimate(self) -> str | None:
        """The received transcript cut in proportion to the audio heard (a guess: words are not evenly timed)."""
        if not self.transcript or not self.audio:
            return None
        keep = round(len(self.transcript) * self.heard_ms / self.audio_ms)
        return self.transcript[:keep].rstrip() or None


@dataclass
class Response:
    """One model response: status, usage, the items it produced, and when things happened."""

    id: str
    status: str | None = None
    status_details: dict | None = None
    usage: dict | None = None
    output: list[str] = field(default_factory=list)
    t_create_sent: float | None = None
    t_created: float | None = None
    t_first_text: float | None = None
    t_first_audio: float | None = None
    t_first_transcript: float | None = None
    t_done: float | None = None


class Conversation:
    """The pure state of one conversation, fed with `observe(frame)` or `observe_event(event)`."""

    def __init__(self) -> None:
        self.session: dict = {}
        self.errors: list[dict] = []
        self.responses: dict[str, Response] = {}
        self.usage: dict = {}
        self.rate_limits: list = []
        self.deleted_ids: list[str] = []
        self._items: dict[str, Item] = {}
        self._order: list[str] = []
        self._pending_creates: list[tuple[float | None, str | None]] = []
        self._active: str | None = None

    @classmethod
    def from_frames(cls, frames: Iterable[Frame]) -> Conversation:
        """A conversation rebuilt from recorded frames (e.g. `client.history` or a cassette's frames)."""
        conversation = cls()
        for frame in getattr(frames, "frames", frames):
            conversation.observe(frame)
        return conversation

    # -- reading ---------------------------------------------------------------------------

    @property
    def items(self) -> list[Item]:
        """The items now in the conversation, in conversation order."""
        return [self._items[item_id] for item_id in self._order]

    def item(self, item_id: str) -> Item:
        """The item with this id (also response output not added to the conversation)."""
        if item_id in self._items:
            return self._items[item_id]
        if item_id in self.deleted_ids:
            raise KeyError(f"item {item_id!r} was deleted from the conversation")
        raise KeyError(f"no item {item_id!r}; known items: {', '.join(self._order) or 'none'}")

    @property
    def last_response(self) -> Response | None:
        """The most recent response (running or finished), or None before the first."""
        return next(reversed(self.responses.values()), None)

    def lines(self) -> list[str]:
        """One readable line per item: ``user: …``, ``assistant: …``, calls and their results."""
        return [self._line(item) for item in self.items]

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def __repr__(self) -> str:
        return (f"<Conversation {len(self._order)} items, {len(self.responses)} responses, "
                f"{len(self.errors)} errors>")

    # -- history -----------------------------------------------------------------------------

    def restore_events(self, dialect: str, max_items: int | None = None,
                       truncated: str = "skip") -> list[dict]:
        """Client events that rebuild this conversation, as items, in a new session.

        Audio turns come back as their transcript text; items with nothing known to say are
        left out. A truncated assistant turn has no text on the server: `truncated="skip"`
        leaves it out, `"estimate"` sends the transcript cut in proportion to the audio heard.
        `max_items` keeps only the newest items (never an output without its call).
        """
        ev.check_dialect(dialect)
        if truncated not in ("skip", "estimate"):
            raise ValueError(f"truncated must be 'skip' or 'estimate', not {truncated!r}")
        if max_items is not None and max_items < 0:
            raise ValueError(f"max_items must be >= 0, not {max_items}")
        out: list[dict] = []
        calls: set[str] = set()
        for item in self.items:
            event = self._restore_event(item, dialect, truncated, calls)
            if event is not None:
                out.append(event)
        if max_items is not None:
            out = out[len(out) - max_items:] if max_items else []
            kept_calls = {e["item"]["call_id"] for e in out if e["item"]["type"] == "function_call"}
            out = [e for e in out
                   if e["item"]["type"] != "function_call_output" or e["item"]["call_id"] in kept_calls]
        return out

    def prune_ids(self, keep_last: int) -> list[str]:
        """Ids of the oldest items to delete (``conversation.item.delete``) so only `keep_last` remain."""
        if not isinstance(keep_last, int) or keep_last < 0:
            raise ValueError(f"keep_last must be an int >= 0, not {keep_last!r}")
        return list(self._order[:max(len(self._order) - keep_last, 0)])

    # -- feeding ---------------------------------------------------------------------------

    def observe(self, frame: Frame) -> None:
        """Take in one recorded frame; close frames are ignored."""
        if frame.event is not None:
            self.observe_event(frame.event, frame.t, frame.source)

    def observe_event(self, event: dict, t: float | None = None, source: str = "server") -> None:
        """Take in one event that `source` ("client" or "server") sent at `t` seconds."""
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise ValueError(f"an event is a dict with a string 'type', not {event!r:.80}")
        if source == "client":
            self._client_event(event, t)
        elif source == "server":
            kind = ev.GA_TO_BETA.get(event["type"], event["type"])
            handler = _SERVER_HANDLERS.get(kind)
            if handler is not None:
                handler(self, event, t)
        else:
            raise ValueError(f"source must be 'client' or 'server', not {source!r}")

    def _client_event(self, event: dict, t: float | None) -> None:
        if event["type"] == "response.create":
            self._pending_creates.append((t, event.get("event_id")))

    # -- server events ---------------------------------------------------------------------

    def _on_session(self, event: dict, t: float | None) -> None:
        session = event.get("session") or {}
        self.session = scrub({k: v for k, v in session.items() if k != "client_secret"})

    def _on_item(self, event: dict, t: float | None) -> None:
        obj = event.get("item") or {}
        item = self._upsert(obj)
        if item is None:
            return
        if item.id not in self._order:
            self._place(item, event)
        elif event.get("previous_item_id") in self._order and event["previous_item_id"] != item.previous_item_id:
            self._order.remove(item.id)
            self._place(item, event)

    def _on_deleted(self, event: dict, t: float | None) -> None:
        item_id = event.get("item_id")
        if item_id in self._order:
            self._order.remove(item_id)
        if item_id is not None:
            self._items.pop(item_id, None)
            self.deleted_ids.append(item_id)

    def _on_truncated(self, event: dict, t: float | None) -> None:
        item = self._known(event.get("item_id"))
        if item is not None:
            item.audio_end_ms = int(event.get("audio_end_ms") or 0)

    def _on_input_transcript_delta(self, event: dict, t: float | None) -> None:
        item = self._known(event.get("item_id"))
        if item is not None:
            item.transcript = (item.transcript or "") + (event.get("delta") or "")

    def _on_input_transcript_done(self, event: dict, t: float | None) -> None:
        item = self._known(event.get("item_id"))
        if item is not None:
            item.transcript = event.get("transcript") or ""

    def _on_input_transcript_failed(self, event: dict, t: float | None) -> None:
        item = self._known(event.get("item_id"))
        if item is not None:
            item.transcription_error = event.get("error") or {}

    def _on_response_created(self, event: dict, t: float | None) -> None:
        body = event.get("response") or {}
        response = self._response(body.get("id"))
        response.status = body.get("status")
        response.t_created = t
        if self._pending_creates:
            response.t_create_sent = self._pending_creates.pop(0)[0]
        self._active = response.id

    def _on_output_item(self, event: dict, t: float | None) -> None:
        item = self._upsert(event.get("item") or {})
        if item is None:
            return
        response = self._response_for(event, item)
        if response is not None:
            item.response_id = response.id
            if item.id not in response.output:
                response.output.append(item.id)

    def _on_text_delta(self, event: dict, t: float | None) -> None:
        item = self._delta_item(event)
        if item is not None:
            item.text += event.get("delta") or ""
            self._first(event, item, "t_first_text", t)

    def _on_text_done(self, event: dict, t: float | None) -> None:
        item = self._delta_item(event)
        if item is not None and event.get("text"):
            item.text = event["text"]

    def _on_audio_delta(self, event: dict, t: float | None) -> None:
        item = self._delta_item(event)
        if item is not None:
            item.has_audio = True
            try:
                item.audio.add(event.get("delta") or "")
            except ValueError as exc:
                raise ValueError(f"item {item.id!r}: {exc}") from None
            self._first(event, item, "t_first_audio", t)

    def _on_transcript_delta(self, event: dict, t: float | None) -> None:
        item = self._delta_item(event)
        if item is not None:
            item.has_audio = True
            item.transcript = (item.transcript or "") + (event.get("delta") or "")
            self._first(event, item, "t_first_transcript", t)

    def _on_transcript_done(self, event: dict, t: float | None) -> None:
        item = self._delta_item(event)
        if item is not None and event.get("transcript") is not None:
            item.transcript = event["transcript"]

    def _on_arguments_delta(self, event: dict, t: float | None) -> None:
        item = self._delta_item(event)
        if item is not None:
            # StepFun's documented sample sends the chunk as "arguments"; .done carries the whole string.
            item.arguments += event.get("delta", event.get("arguments")) or ""

    def _on_arguments_done(self, event: dict, t: float | None) -> None:
        item = self._delta_item(event)
        if item is not None:
            item.type = "function_call"
            item.arguments = event.get("arguments") or item.arguments
            item.name = event.get("name") or item.name
            item.call_id = event.get("call_id") or item.call_id

    def _on_response_done(self, event: dict, t: float | None) -> None:
        body = event.get("response") or {}
        response = self._response(body.get("id") or self._active)
        response.status = body.get("status")
        response.status_details = body.get("status_details")
        response.t_done = t
        for obj in body.get("output") or []:
            item = self._upsert(obj)
            if item is not None:
                item.response_id = response.id
                if item.id not in response.output:
                    response.output.append(item.id)
        if body.get("usage"):
            response.usage = body["usage"]
            _add_into(self.usage, body["usage"])
        if self._active == response.id:
            self._active = None

    def _on_error(self, event: dict, t: float | None) -> None:
        error = scrub(dict(event.get("error") or {}))
        self.errors.append({"t": t, **error})
        sent_id = error.get("event_id")
        for i, (_, event_id) in enumerate(self._pending_creates):
            if sent_id and event_id == sent_id:
                del self._pending_creates[i]
                return
        if error.get("code") == "conversation_already_has_active_response" and self._pending_creates:
            self._pending_creates.pop()

    def _on_rate_limits(self, event: dict, t: float | None) -> None:
        self.rate_limits = list(event.get("rate_limits") or [])

    # -- helpers ---------------------------------------------------------------------------

    def _upsert(self, obj: dict) -> Item | None:
        """Create or update the item described by a server item object."""
        item_id = obj.get("id")
        if not item_id or item_id in self.deleted_ids:
            return None
        item = self._items.get(item_id)
        if item is None:
            item = self._items[item_id] = Item(item_id)
        item.type = obj.get("type") or item.type
        item.role = obj.get("role") or item.role
        item.status = obj.get("status") or item.status
        for name in ("call_id", "name", "output"):
            if obj.get(name) is not None:
                setattr(item, name, obj[name])
        if obj.get("arguments"):
            item.arguments = obj["arguments"]
        texts = []
        for part in obj.get("content") or []:
            kind = part.get("type")
            if kind in _TEXT_PARTS and part.get("text"):
                texts.append(part["text"])
            elif kind in _AUDIO_PARTS:
                item.has_audio = True
                if part.get("transcript"):
                    item.transcript = part["transcript"]
        if texts:
            item.text = "".join(texts)
        return item

    def _place(self, item: Item, event: dict) -> None:
        """Insert `item` after the event's `previous_item_id`.

        The server sends null (or "root") for an item with no predecessor; a missing field or
        an id we do not know puts the item at the end.
        """
        previous = event.get("previous_item_id", "")
        if previous in (None, "root"):
            self._order.insert(0, item.id)
        elif previous in self._order:
            self._order.insert(self._order.index(previous) + 1, item.id)
        else:
            self._order.append(item.id)
        item.previous_item_id = previous or None

    def _known(self, item_id: str | None) -> Item | None:
        return self._items.get(item_id) if item_id else None

    def _delta_item(self, event: dict) -> Item | None:
        """The item a streaming event is about; created if this is the first we hear of it."""
        item_id = event.get("item_id")
        if not item_id or item_id in self.deleted_ids:
            return None
        if item_id not in self._items:
            self._on_output_item({**event, "item": {"id": item_id, "role": "assistant"}}, None)
        return self._items.get(item_id)

    def _response(self, response_id: str | None) -> Response:
        response_id = response_id or "?"
        if response_id not in self.responses:
            self.responses[response_id] = Response(response_id)
        return self.responses[response_id]

    def _response_for(self, event: dict, item: Item) -> Response | None:
        response_id = event.get("response_id") or item.response_id or self._active
        return self._response(response_id) if response_id else None

    def _first(self, event: dict, item: Item, attribute: str, t: float | None) -> None:
        response = self._response_for(event, item)
        if response is not None and t is not None and getattr(response, attribute) is None:
            setattr(response, attribute, t)

    def _line(self, item: Item) -> str:
        if item.type == "function_call":
            return f"assistant: call {item.name or '?'}({item.arguments}) [{item.call_id}]"
        if item.type == "function_call_output":
            call = next((i for i in self._items.values()
                         if i.type == "function_call" and i.call_id == item.call_id), None)
            name = call.name if call is not None and call.name else item.call_id
            return f"tool: {name} -> {item.output}"
        role = item.role or "?"
        # StepFun leaves user text items "in_progress" for good (captured): only model output is flagged
        status = f" [{item.status}]" if item.status in ("incomplete", "in_progress") and item.role != "user" else ""
        if item.text or not item.has_audio:
            return f"{role}: {item.text}{status}"
        if item.truncated:
            said = f' (generated: "{item.transcript}")' if item.transcript else ""
            return (f"{role} (audio, heard {item.heard_ms / 1000:.2f} s of {item.audio_ms / 1000:.2f} s): "
                    f"[transcript removed by truncation]{said}{status}")
        length = f" {item.audio_ms / 1000:.2f} s" if item.audio else ""
        return f"{role} (audio{length}): {item.transcript or '[no transcript]'}{status}"

    def _restore_event(self, item: Item, dialect: str, truncated: str, calls: set[str]) -> dict | None:
        if item.type == "function_call":
            calls.add(item.call_id)
            return ev.item_create({"type": "function_call", "call_id": item.call_id,
                                   "name": item.name, "arguments": item.arguments})
        if item.type == "function_call_output":
            return ev.function_output(item.call_id, item.output or "") if item.call_id in calls else None
        text = item.remembered_text
        if text is None and item.truncated and truncated == "estimate":
            text = item.heard_transcript_estimate()
        if not text:
            return None
        if item.role == "assistant":
            return ev.assistant_text(text, dialect)
        if item.role == "system":
            return ev.system_text(text)
        return ev.user_text(text)


def _add_into(total: dict, usage: dict) -> None:
    """Add the numbers of a usage object into a running total, nested dicts included."""
    for key, value in usage.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)):
            total[key] = total.get(key, 0) + value
        elif isinstance(value, dict):
            _add_into(total.setdefault(key, {}), value)


_SERVER_HANDLERS: dict[str, Any] = {
    "session.created": Conversation._on_session,
    "session.updated": Conversation._on_session,
    "conversation.item.created": Conversation._on_item,
    "conversation.item.done": Conversation._on_item,
    "conversation.item.retrieved": Conversation._on_item,
    "conversation.item.deleted": Conversation._on_deleted,
    "conversation.item.truncated": Conversation._on_truncated,
    "conversation.item.input_audio_transcription.delta": Conversation._on_input_transcript_delta,
    "conversation.item.input_audio_transcription.completed": Conversation._on_input_transcript_done,
    "conversation.item.input_audio_transcription.failed": Conversation._on_input_transcript_failed,
    "response.created": Conversation._on_response_created,
    "response.output_item.added": Conversation._on_output_item,
    "response.output_item.done": Conversation._on_output_item,
    "response.text.delta": Conversation._on_text_delta,
    "response.text.done": Conversation._on_text_done,
    "response.audio.delta": Conversation._on_audio_delta,
    "response.audio_transcript.delta": Conversation._on_transcript_delta,
    "response.audio_transcript.done": Conversation._on_transcript_done,
    "response.function_call_arguments.delta": Conversation._on_arguments_delta,
    "response.function_call_arguments.done": Conversation._on_arguments_done,
    "response.done": Conversation._on_response_done,
    "error": Conversation._on_error,
    "rate_limits.updated": Conversation._on_rate_limits,
}
