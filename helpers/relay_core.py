"""The relay's domain: conversations, their upstream Realtime sessions, and turns (no HTTP here).

`Relay` is blocking (the helpers client waits on a queue): call its upstream methods from a
worker thread. `helpers.relay_http` puts it behind Starlette; `helpers.relay` explains the
service as a whole.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import audio, catalogue, personas
from . import events as ev
from .client import RealtimeClient
from .connection import connect
from .errors import RealtimeConnectionClosed, RealtimeServerError, RealtimeTimeout
from .providers import Provider
from .report import turn_report
from .secrets import hide_key_hints

__all__ = ["Relay", "RelayConversation", "RelayError", "TurnInput"]

INSTRUCTIONS = "You are a friendly voice assistant. Keep your answers short and clear."
ACK_TIMEOUT_S = 10.0          # one server acknowledgement (session.updated, an item, a commit)
TRANSCRIPT_TIMEOUT_S = 5.0    # the transcription of the user's audio (the turn goes on without it)
TURN_TIMEOUT_S = 120.0        # a whole response, from response.create to response.done
MAX_RESTORE_ITEMS = 100       # newest items carried into a new upstream session
APPEND_CHUNK_MS = 200
REDACTED = "[key removed]"

_TRANSCRIPT_DELTAS = personas.aliases("response.audio_transcript.delta") | personas.aliases("response.text.delta")
_INPUT_TRANSCRIPTS = ("conversation.item.input_audio_transcription.completed",
                      "conversation.item.input_audio_transcription.failed")
_AUDIO_NAME = re.compile(r"^[0-9a-f]{32}-\d+\.wav$")

log = logging.getLogger("helpers.relay")


class RelayError(Exception):
    """A request the relay refuses: an HTTP status, a stable code and a message for the JSON body."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def as_json(self) -> dict:
        """The refusal's body: ``{"error": {"code": ..., "message": ...}}``."""
        return {"error": {"code": self.code, "message": self.message}}



@dataclass(eq=False)
class RelayConversation:
    """One conversation: its upstream session (while open) and the history to restore otherwise."""

    id: str
    last_used: float
    turns: int = 0
    busy: bool = False
    client: RealtimeClient | None = field(default=None, repr=False)
    restore: list[dict] = field(default_factory=list, repr=False)
    audio_files: list[str] = field(default_factory=list)


@dataclass
class TurnInput:
    """What the user sent for one turn: pcm16 audio or text."""

    conversation_id: str | None
    text: str | None = None
    pcm16: bytes | None = None


class Relay:
    """The relay's state and its blocking work: conversations, upstream sessions and turns."""

    def __init__(self, provider: Provider, *, model: str | None, cassette: str | None,
                 restore_cassette: str | None, idle_timeout_s: float, max_conversations: int,
                 max_upload_bytes: int, output_dir: Path, url: str | None, api_key: str | None,
                 connect_options: dict[str, Any], clock: Callable[[], float], reasoning: dict | None = None):
        self.provider = provider
        self.model = model
        self.reasoning = _checked_reasoning(reasoning, model or provider.default_model)
        self.cassette = cassette
        self.restore_cassette = restore_cassette
        self.idle_timeout_s = idle_timeout_s
        self.max_conversations = max_conversations
        self.max_upload_bytes = max_upload_bytes
        self.output_dir = output_dir
        self.url = url
        self.connect_options = dict(connect_options)
        self.clock = clock
        self._key = api_key
        self._lock = threading.Lock()
        self._conversations: dict[str, RelayConversation] = {}

    def __repr__(self) -> str:
        return f"<Relay {self.provider.name} {len(self._conversations)} conversations, audio in {self.output_dir}>"

    def redact(self, text: str) -> str:
        """`text` with the API key removed, and any upstream hint of it (``sk-****…2345``) hidden."""
        return hide_key_hints(text.replace(self._key, REDACTED) if self._key else text)

    # -- conversations (fast, under the lock) -----------------------------------------------

    def checkout(self, conversation_id: str | None) -> RelayConversation:
        """Take a conversation for one turn (a new one when `conversation_id` is None).

        Closes idle upstream sessions and, at the cap, forgets the least recently used
        conversation. Raises `RelayError` for an unknown or busy conversation.
        """
        self.expire_idle()
        evicted: list[RelayConversation] = []
        with self._lock:
            if conversation_id is None:
                while len(self._conversations) >= self.max_conversations:
                    idle = [c for c in self._conversations.values() if not c.busy]
                    if not idle:
                        raise RelayError(503, "at_capacity", f"all {self.max_conversations} conversations "
                                         "are in the middle of a turn: try again shortly")
                    oldest = min(idle, key=lambda c: c.last_used)
                    evicted.append(self._conversations.pop(oldest.id))
                conversation = RelayConversation(uuid.uuid4().hex, self.clock())
                self._conversations[conversation.id] = conversation
            else:
                known = self._conversations.get(conversation_id)
                if known is None:
                    raise RelayError(404, "conversation_not_found", f"no conversation {conversation_id[:64]!r}: "
                                     "it never existed or was forgotten; send no conversation_id to start one")
                conversation = known
                if conversation.busy:
                    raise RelayError(409, "conversation_busy", "this conversation is in the middle of a "
                                     "turn: wait for its done event before sending the next one")
            conversation.busy = True
            conversation.turns += 1
        for old in evicted:
            log.info("conversation %s forgotten (cap of %d reached)", old.id, self.max_conversations)
            self._discard(old)
        return conversation

    def release(self, conversation: RelayConversation) -> None:
        """End a turn: the conversation is free again and its idle time starts now."""
        with self._lock:
            conversation.busy = False
            conversation.last_used = self.clock()

    def audio_path(self, name: str) -> Path | None:
        """The file behind ``/audio/{name}``, if it belongs to a conversation still kept."""
        if not _AUDIO_NAME.match(name):
            return None
        with self._lock:
            conversation = self._conversations.get(name.split("-")[0])
            known = conversation is not None and name in conversation.audio_files
        return self.output_dir / name if known else None

    # -- upstream sessions (blocking: run these in a worker thread) -------------------------

    def expire_idle(self) -> None:
        """Close the upstream sessions of conversations idle for `idle_timeout_s` (history is kept)."""
        now = self.clock()
        with self._lock:
            idle = [c for c in self._conversations.values() if not c.busy and c.client is not None
                    and now - c.last_used >= self.idle_timeout_s]
            clients = [self._detach(c) for c in idle]
        for conversation, client in zip(idle, clients, strict=True):
            log.info("conversation %s idle for %.0f s: upstream session closed", conversation.id,
                     now - conversation.last_used)
            client.close()

    def open_upstream(self, conversation: RelayConversation) -> dict:
        """Make sure the conversation has an open upstream session; restore its history into a new one.

        Returns the opening of the SSE stream: the turn number, whether the session is
        ``new``, ``reused`` or ``restored``, and how many items were restored.
        """
        opening = {"turn": conversation.turns, "upstream": "reused", "restored_items": 0}
        if conversation.client is not None and not conversation.client.closed:
            return opening
        if conversation.client is not None:  # the server closed it since the last turn
            with self._lock:
                client = self._detach(conversation)
            client.close()
        restore = conversation.restore
        client = connect(self.provider, self.model, self.restore_cassette if restore else self.cassette,
                         url=self.url, api_key=self._key, **self.connect_options)
        try:
            client.wait_for("session.created", timeout=ACK_TIMEOUT_S)
            client.send(ev.session_update(ev.session_config(
                client.dialect, instructions=INSTRUCTIONS, voice=personas.default_voice(client.dialect), output="audio",
                transcription=ev.default_transcription(client.dialect), turn_detection=None,
                extra={"reasoning": self.reasoning} if self.reasoning else None)))
            client.wait_for("session.updated", timeout=ACK_TIMEOUT_S)
            for event in restore:
                client.send(event)
                client.wait_for("conversation.item.created", timeout=ACK_TIMEOUT_S)
        except BaseException:
            client.close()
            raise
        conversation.client, conversation.restore = client, []
        opening.update(upstream="restored" if restore else "new", restored_items=len(restore))
        log.info("conversation %s: %s upstream session (%d items restored)", conversation.id,
                 opening["upstream"], len(restore))
        return opening

    def run_turn(self, conversation: RelayConversation, turn: TurnInput) -> Generator[tuple[str, dict], None, None]:
        """The turn's SSE events as (name, data), each produced by blocking on the upstream session.

        A turn either completes, or the upstream session is closed (its history kept) so the
        next turn starts clean in a restored session: nothing half-done leaks into it.
        """
        client = _open_client(conversation)
        finished = False
        try:
            if turn.pcm16 is not None:
                yield from self._send_audio(client, turn.pcm16)
            else:
                client.send(ev.user_text(turn.text or ""))
                client.wait_for("conversation.item.created", timeout=ACK_TIMEOUT_S)
            client.send(ev.response_create())
            for event in client.stream("response.done", timeout=TURN_TIMEOUT_S):
                # output_index tells a preamble (OpenAI: an assistant item before the answer) from the answer
                if event["type"] in _TRANSCRIPT_DELTAS:
                    yield "transcript", {"delta": event.get("delta", ""), "output_index": event.get("output_index")}
                elif event["type"] == "response.thinking.delta":  # StepFun reasoning models (lesson 15)
                    yield "thinking", {"delta": event.get("delta", ""), "output_index": event.get("output_index")}
            finished = True
            yield "done", self._result(conversation, event["response"]["id"])
        except (RealtimeServerError, RealtimeConnectionClosed, RealtimeTimeout) as exc:
            log.warning("conversation %s turn %d failed: %s", conversation.id, conversation.turns,
                        self.redact(str(exc)))
            yield "error", self._error(exc)
        finally:
            if not finished:
                with self._lock:
                    client = self._detach(conversation)
                client.close()

    def close(self) -> None:
        """Close every upstream session (at shutdown)."""
        with self._lock:
            clients = [c.client for c in self._conversations.values() if c.client is not None]
        for client in clients:
            client.close()

    # -- internals ---------------------------------------------------------------------------

    def _send_audio(self, client: RealtimeClient, pcm16: bytes) -> Iterator[tuple[str, dict]]:
        for event in audio.append_events(pcm16, chunk_ms=APPEND_CHUNK_MS, progress=False):
            client.send(event)
        client.send(ev.input_audio_commit())
        item_id = client.wait_for("input_audio_buffer.committed", timeout=ACK_TIMEOUT_S)["item_id"]
        try:  # shown first, and kept for a restore; the answer does not depend on it
            said = client.wait_for(*_INPUT_TRANSCRIPTS, timeout=TRANSCRIPT_TIMEOUT_S,
                                   where=lambda e: e.get("item_id") == item_id)
        except RealtimeTimeout:
            log.warning("no transcription of item %s within %g s: answering without it", item_id,
                        TRANSCRIPT_TIMEOUT_S)
            return
        yield "input_transcript", {"transcript": said.get("transcript")}

    def _result(self, conversation: RelayConversation, response_id: str) -> dict:
        """The done event: the answer's transcript, its saved audio, the history and the turn report."""
        history = _open_client(conversation).conversation
        items = [history.item(i) for i in history.responses[response_id].output]
        pcm16 = b"".join(item.audio_bytes for item in items)
        audio_url = None
        if pcm16:
            name = f"{conversation.id}-{conversation.turns}.wav"
            audio.save_wav(self.output_dir / name, pcm16)
            with self._lock:
                conversation.audio_files.append(name)
            audio_url = f"/audio/{name}"
        report = turn_report(history, response_id)
        transcripts = [item.transcript or item.text for item in items]
        return {"turn": conversation.turns, "response_id": response_id, "status": report.status,
                "transcript": "\n".join(t for t in transcripts if t), "transcripts": transcripts,
                "audio_url": audio_url, "history": history.lines(), "report": dataclasses.asdict(report)}

    def _error(self, exc: Exception) -> dict:
        again = "send the turn again: the conversation continues in a new session, its history restored"
        if isinstance(exc, RealtimeServerError):
            return {"code": exc.code or "upstream_error", "message": self.redact(exc.message or str(exc))}
        if isinstance(exc, RealtimeConnectionClosed):
            return {"code": "upstream_closed",
                    "message": self.redact(f"the upstream Realtime session ended mid-turn ({exc}); {again}")}
        return {"code": "upstream_timeout", "message": self.redact(f"the upstream Realtime session stalled ({exc}); {again}")}

    def _detach(self, conversation: RelayConversation) -> RealtimeClient:
        """Take the conversation's client away, keeping its history as items to restore (lock held)."""
        client, conversation.client = _open_client(conversation), None
        conversation.restore = client.conversation.restore_events(client.dialect, max_items=MAX_RESTORE_ITEMS)
        return client

    def _discard(self, conversation: RelayConversation) -> None:
        if conversation.client is not None:
            conversation.client.close()
        for name in conversation.audio_files:
            (self.output_dir / name).unlink(missing_ok=True)


def _checked_reasoning(reasoning: dict | None, model: str) -> dict | None:
    """`reasoning` (e.g. ``{"effort": "low"}``) for the upstream session, refused for a model that does not reason."""
    if reasoning is None:
        return None
    if not isinstance(reasoning, dict) or not reasoning:
        raise ValueError(f"reasoning must be a non-empty dict such as {{'effort': 'low'}}, not {reasoning!r}")
    try:
        entry = catalogue.lookup(model)
    except KeyError:
        raise ValueError(f"reasoning: model {model!r} is not in the catalogue, so whether it reasons is unknown") from None
    if not entry.supports("reasoning"):
        thinks = " (it thinks by itself: its thinking streams as SSE thinking events)" if entry.supports("thinking") else ""
        raise ValueError(f"reasoning is for models that reason (OpenAI reasoning.effort); {model} does not{thinks}")
    return dict(reasoning)


def _open_client(conversation: RelayConversation) -> RealtimeClient:
    """The conversation's upstream client; only called while it has one (a turn, or a detach)."""
    if conversation.client is None:
        raise RuntimeError(f"conversation {conversation.id} has no upstream session")
    return conversation.client
