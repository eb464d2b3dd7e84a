"""A Realtime conversation behind plain HTTP: upload speech (or text), get the answer as SSE.

Products rarely let a browser or an app hold the API key: a small service does, and relays.
`create_app()` builds that service as an ASGI app::

    POST /process_audio   form fields: file (an audio upload, any format `helpers.audio.load_audio`
                          reads) or text; conversation_id (optional: a new conversation is made and
                          its id returned in the X-Conversation-Id header)
                          -> text/event-stream: turn, input_transcript, transcript (one per delta),
                             then done (transcript, audio_url, history, report) or error
    GET  /audio/{name}    the answer's speech as a 24 kHz wav (the done event's audio_url)

Each conversation owns one upstream Realtime session (`helpers.connect`), kept open between
turns. When that session is gone (it expired after ``idle_timeout_s`` without a turn, the
server closed it, or a turn failed half-way) the next turn opens a new one and restores the
conversation into it as items (`Conversation.restore_events`: audio turns come back as their
transcripts), not as instructions. Memory is bounded: idle upstream sessions are closed (only
their text history is kept), at most ``max_conversations`` are kept (the least recently used is
forgotten, with its audio files), and uploads over ``max_upload_bytes`` are refused.

The API key stays on the server: it goes into the upstream Authorization header and nowhere
else. Every event streamed back, and every upstream error passed on in a response or a log
line, goes through a filter that removes it.

Why Starlette and not FastAPI: the service is one streaming route whose input (a file *or*
text) and errors (one JSON shape, ``{"error": {"code", "message"}}``, with the right 4xx) are
checked by hand anyway, so FastAPI's models and its 422 format would add a layer without
removing code. FastAPI is Starlette underneath: ``fastapi_app.mount("/relay", create_app())``.

The helpers client is blocking (a socket thread and a queue), so each step of a turn runs in a
worker thread (`anyio.to_thread`) and the SSE generator awaits it: the event loop never blocks,
every wait has a timeout, and an upstream drop mid-turn ends the stream with an ``error`` event.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import re
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from . import audio
from . import events as ev
from .client import RealtimeClient
from .connection import connect
from .conversation import Conversation
from .errors import RealtimeConnectionClosed, RealtimeServerError, RealtimeTimeout
from .providers import get_api_key, get_provider
from .report import turn_report

DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024
INSTRUCTIONS = "You are a friendly voice assistant. Keep your answers short and clear."
TRANSCRIPTION = {"model": "whisper-1"}
ACK_TIMEOUT_S = 10.0          # one server acknowledgement (session.updated, an item, a commit)
TRANSCRIPT_TIMEOUT_S = 5.0    # the transcription of the user's audio (the turn goes on without it)
TURN_TIMEOUT_S = 120.0        # a whole response, from response.create to response.done
MAX_RESTORE_ITEMS = 100       # newest items carried into a new upstream session
APPEND_CHUNK_MS = 200
FORM_OVERHEAD_BYTES = 64 * 1024
MAX_TEXT_BYTES = 64 * 1024
FIELDS = ("file", "text", "conversation_id")
REDACTED = "[key removed]"

_TRANSCRIPT_DELTAS = ev.aliases("response.audio_transcript.delta") | ev.aliases("response.text.delta")
_INPUT_TRANSCRIPTS = ("conversation.item.input_audio_transcription.completed",
                      "conversation.item.input_audio_transcription.failed")
_AUDIO_NAME = re.compile(r"^[0-9a-f]{32}-\d+\.wav$")

log = logging.getLogger(__name__)


class RelayError(Exception):
    """A request the relay refuses: an HTTP status, a stable code and a message for the JSON body."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        """The refusal as ``{"error": {"code": ..., "message": ...}}`` with its status."""
        return JSONResponse({"error": {"code": self.code, "message": self.message}}, self.status, headers)


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
    state: Conversation = field(default_factory=Conversation, repr=False)  # the upstream session so far
    seen: int = 0                                                          # frames of it observed


@dataclass
class TurnInput:
    """What the user sent for one turn: pcm16 audio or text."""

    conversation_id: str | None
    text: str | None = None
    pcm16: bytes | None = None


class Relay:
    """The relay's state and its blocking work: conversations, upstream sessions and turns."""

    def __init__(self, provider: str, *, model: str | None, cassette: str | None,
                 restore_cassette: str | None, idle_timeout_s: float, max_conversations: int,
                 max_upload_bytes: int, output_dir: Path, url: str | None, api_key: str | None,
                 connect_options: dict[str, Any], clock: Callable[[], float]):
        self.provider = get_provider(provider).name
        self.model = model
        self.cassette = cassette
        self.restore_cassette = restore_cassette
        self.idle_timeout_s = idle_timeout_s
        self.max_conversations = max_conversations
        self.max_upload_bytes = max_upload_bytes
        self.output_dir = output_dir
        self.url = url
        self.connect_options = dict(connect_options)
        self.clock = clock
        self.ready = threading.Event()  # set once the app has started (lifespan)
        self.limiter: anyio.CapacityLimiter | None = None
        self._key = api_key
        self._lock = threading.Lock()
        self._conversations: dict[str, RelayConversation] = {}

    def __repr__(self) -> str:
        return f"<Relay {self.provider} {len(self._conversations)} conversations, audio in {self.output_dir}>"

    def redact(self, text: str) -> str:
        """`text` with the API key removed."""
        return text.replace(self._key, REDACTED) if self._key else text

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
                conversation = self._conversations.get(conversation_id)
                if conversation is None:
                    raise RelayError(404, "conversation_not_found", f"no conversation {conversation_id[:64]!r}: "
                                     "it never existed or was forgotten; send no conversation_id to start one")
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
        for conversation, client in zip(idle, clients):
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
                client.dialect, instructions=INSTRUCTIONS, voice=ev.default_voice(client.dialect), output="audio",
                transcription=TRANSCRIPTION, turn_detection=None)))
            client.wait_for("session.updated", timeout=ACK_TIMEOUT_S)
            for event in restore:
                client.send(event)
                client.wait_for("conversation.item.created", timeout=ACK_TIMEOUT_S)
        except BaseException:
            client.close()
            raise
        conversation.client, conversation.restore = client, []
        conversation.state, conversation.seen = Conversation(), 0
        opening.update(upstream="restored" if restore else "new", restored_items=len(restore))
        log.info("conversation %s: %s upstream session (%d items restored)", conversation.id,
                 opening["upstream"], len(restore))
        return opening

    def run_turn(self, conversation: RelayConversation, turn: TurnInput) -> Iterator[tuple[str, dict]]:
        """The turn's SSE events as (name, data), each produced by blocking on the upstream session.

        A turn either completes, or the upstream session is closed (its history kept) so the
        next turn starts clean in a restored session: nothing half-done leaks into it.
        """
        client = conversation.client
        finished = False
        try:
            if turn.pcm16 is not None:
                yield from self._send_audio(client, turn.pcm16)
            else:
                client.send(ev.user_text(turn.text))
                client.wait_for("conversation.item.created", timeout=ACK_TIMEOUT_S)
            client.send(ev.response_create())
            for event in client.stream("response.done", timeout=TURN_TIMEOUT_S):
                if event["type"] in _TRANSCRIPT_DELTAS:
                    yield "transcript", {"delta": event.get("delta", "")}
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
        history = self._state(conversation)
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
        return {"turn": conversation.turns, "response_id": response_id, "status": report.status,
                "transcript": "".join(item.transcript or item.text for item in items),
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
        history = self._state(conversation)
        client, conversation.client = conversation.client, None
        conversation.restore = history.restore_events(client.dialect, max_items=MAX_RESTORE_ITEMS)
        return client

    @staticmethod
    def _state(conversation: RelayConversation) -> Conversation:
        """The upstream session's state, brought up to date with the frames received since last asked."""
        frames = conversation.client.history
        for frame in frames[conversation.seen:]:
            conversation.state.observe(frame)
        conversation.seen = len(frames)
        return conversation.state

    def _discard(self, conversation: RelayConversation) -> None:
        if conversation.client is not None:
            conversation.client.close()
        for name in conversation.audio_files:
            (self.output_dir / name).unlink(missing_ok=True)


def create_app(provider: str = "replay", *, model: str | None = None, cassette: str | None = "11_relay_service",
               restore_cassette: str | None = "11_relay_service_restore", idle_timeout_s: float = 300,
               max_conversations: int = 100, max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
               output_dir: str | Path | None = None, url: str | None = None, api_key: str | None = None,
               connect_options: dict[str, Any] | None = None,
               clock: Callable[[], float] = time.monotonic) -> Starlette:
    """The relay as an ASGI app (see the module docstring); ``app.state.relay`` is its `Relay`.

    provider/model/url/api_key go to `helpers.connect` (the key is looked up now when not
    given); cassette and restore_cassette are the recorded sessions the replay provider serves
    to a new and to a restored conversation. output_dir holds the answers' wav files (default:
    a new temporary folder). connect_options are passed to every `connect` (e.g. ``speed=0``,
    ``log=False``). clock measures idle time (tests pass a fake one).
    """
    if not (isinstance(idle_timeout_s, (int, float)) and idle_timeout_s > 0):
        raise ValueError(f"idle_timeout_s must be a number of seconds > 0, not {idle_timeout_s!r}")
    for name, value in (("max_conversations", max_conversations), ("max_upload_bytes", max_upload_bytes)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a whole number >= 1, not {value!r}")
    key = api_key or get_api_key(get_provider(provider))
    folder = Path(output_dir) if output_dir is not None else Path(tempfile.mkdtemp(prefix="realtime-relay-"))
    folder.mkdir(parents=True, exist_ok=True)
    relay = Relay(provider, model=model, cassette=cassette, restore_cassette=restore_cassette,
                  idle_timeout_s=idle_timeout_s, max_conversations=max_conversations,
                  max_upload_bytes=max_upload_bytes, output_dir=folder, url=url, api_key=key,
                  connect_options=connect_options or {}, clock=clock)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        relay.limiter = anyio.CapacityLimiter(max_conversations + 1)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_expire_forever, relay)
            relay.ready.set()
            yield
            tasks.cancel_scope.cancel()
        await anyio.to_thread.run_sync(relay.close)

    app = Starlette(routes=[Route("/process_audio", _process_audio, methods=["POST"]),
                            Route("/audio/{name}", _get_audio, methods=["GET"])], lifespan=lifespan)
    app.state.relay = relay
    return app


# -- HTTP -----------------------------------------------------------------------------------

async def _process_audio(request: Request) -> Response:
    relay: Relay = request.app.state.relay
    try:
        turn = await _read_turn(request, relay.max_upload_bytes)
        conversation = await anyio.to_thread.run_sync(relay.checkout, turn.conversation_id)
    except RelayError as refusal:
        return refusal.response()
    headers = {"X-Conversation-Id": conversation.id, "Cache-Control": "no-cache"}
    try:
        opening = await anyio.to_thread.run_sync(relay.open_upstream, conversation)
    except (RealtimeConnectionClosed, RealtimeTimeout, RealtimeServerError) as exc:
        relay.release(conversation)
        log.warning("conversation %s: upstream unavailable: %s", conversation.id, relay.redact(str(exc)))
        return RelayError(502, "upstream_unavailable",
                          relay.redact(f"could not open the upstream Realtime session: {exc}")).response(headers)
    return _ClosingStream(_sse_stream(relay, conversation, turn, opening),
                          media_type="text/event-stream", headers=headers)


class _ClosingStream(StreamingResponse):
    """A streaming response that always closes its generator, also when the client went away."""

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self.body_iterator.aclose()


async def _sse_stream(relay: Relay, conversation: RelayConversation, turn: TurnInput, opening: dict):
    """Bridge the blocking turn to SSE: each step runs in a worker thread, the loop stays free."""
    steps = relay.run_turn(conversation, turn)
    try:
        yield _sse_text(relay, "turn", opening)
        while (step := await anyio.to_thread.run_sync(next, steps, None, limiter=relay.limiter)) is not None:
            yield _sse_text(relay, *step)
    except Exception as exc:  # a bug, not the upstream: still end the stream with an error event
        log.error("conversation %s: relay failure: %s", conversation.id, relay.redact(repr(exc)))
        yield _sse_text(relay, "error", {"code": "relay_failure", "message": "the relay failed; see its log"})
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(steps.close)
        relay.release(conversation)


async def _get_audio(request: Request) -> Response:
    relay: Relay = request.app.state.relay
    path = relay.audio_path(request.path_params["name"])
    if path is None or not path.is_file():
        return RelayError(404, "audio_not_found", "no such audio: use the audio_url of a done event "
                          "(audio is forgotten with its conversation)").response()
    return FileResponse(path, media_type="audio/wav")


async def _read_turn(request: Request, max_upload_bytes: int) -> TurnInput:
    """Parse and check the form: exactly one of a non-empty audio file or text."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        raise RelayError(415, "unsupported_media_type", f"send a form (multipart/form-data), not {kind or 'no content type'}: "
                         f"a 'file' field with audio or a 'text' field, and optionally 'conversation_id'")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_upload_bytes + FORM_OVERHEAD_BYTES:
        raise RelayError(413, "upload_too_large", f"the upload is {int(length):,} bytes; the limit is {max_upload_bytes:,}")
    try:
        form = await request.form(max_files=1, max_fields=len(FIELDS), max_part_size=MAX_TEXT_BYTES)
    except Exception as exc:  # starlette's HTTPException or MultiPartException: a malformed form
        raise RelayError(400, "bad_form", f"the form could not be read: {getattr(exc, 'detail', exc)}") from None
    try:
        return await _turn_from_form(form, max_upload_bytes)
    finally:
        await form.close()


async def _turn_from_form(form, max_upload_bytes: int) -> TurnInput:
    """The turn a parsed form asks for; `RelayError` with a clear message otherwise."""
    unknown = sorted(set(form.keys()) - set(FIELDS))
    if unknown:
        raise RelayError(400, "unknown_field", f"unknown form field(s) {', '.join(unknown)}; "
                         f"the fields are {', '.join(FIELDS)}")
    upload, text, conversation_id = (form.get(name) for name in FIELDS)
    if not isinstance(conversation_id, (str, type(None))) or not isinstance(text, (str, type(None))):
        raise RelayError(400, "bad_field", "conversation_id and text are plain form fields, not files")
    if (upload is None) == (text is None):
        raise RelayError(400, "missing_input" if upload is None else "too_many_inputs",
                         "send exactly one of: 'file' (an audio upload) or 'text'")
    turn = TurnInput(conversation_id or None)
    if text is not None:
        if not text.strip():
            raise RelayError(400, "empty_text", "the 'text' field is empty")
        turn.text = text
        return turn
    if isinstance(upload, str):
        raise RelayError(400, "bad_field", "'file' must be a file upload, not a plain form field")
    if upload.size is not None and upload.size > max_upload_bytes:
        raise RelayError(413, "upload_too_large", f"the file is {upload.size:,} bytes; the limit is {max_upload_bytes:,}")
    data = await upload.read()
    if not data:
        raise RelayError(400, "empty_upload", f"the file {upload.filename!r} is empty")
    turn.pcm16 = await anyio.to_thread.run_sync(_decode, data, upload.filename or "upload")
    return turn


def _decode(data: bytes, filename: str) -> bytes:
    """The upload as pcm16 24 kHz mono; RelayError 415 when it is not audio, 400 when too short."""
    with tempfile.NamedTemporaryFile(suffix=Path(filename).suffix[:10]) as file:
        file.write(data)
        file.flush()
        try:
            samples = audio.load_audio(file.name, verbose=False)
        except ValueError:
            raise RelayError(415, "unsupported_audio", f"{filename[:100]!r} is not audio the relay can read: "
                             "send wav, flac, ogg or mp3") from None
    pcm16 = audio.to_pcm16(samples)
    if len(pcm16) < ev.MIN_COMMIT_MS * audio.BYTES_PER_MS:
        raise RelayError(400, "audio_too_short", f"the audio lasts {len(pcm16) / audio.BYTES_PER_MS:.0f} ms; "
                         f"the Realtime API needs at least {ev.MIN_COMMIT_MS} ms")
    return pcm16


def _sse_text(relay: Relay, name: str, data: dict) -> str:
    return relay.redact(f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n")


async def _expire_forever(relay: Relay) -> None:
    """Close idle upstream sessions even when no request comes in."""
    interval = min(max(relay.idle_timeout_s / 4, 0.05), 30.0)
    while True:
        await anyio.sleep(interval)
        await anyio.to_thread.run_sync(relay.expire_idle)


# -- client side and serving ----------------------------------------------------------------

def parse_sse(lines: Iterable[str]) -> Iterator[tuple[str, dict]]:
    """(event, data) pairs from the lines of an SSE stream whose data is JSON (as the relay sends)."""
    name, data = "message", []
    for line in lines:
        if not line:
            if data:
                yield name, json.loads("\n".join(data))
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        yield name, json.loads("\n".join(data))


class RelayServer:
    """A relay app served by uvicorn on a daemon thread; `url` is ``http://HOST:PORT``."""

    def __init__(self, app: Starlette, host: str = "127.0.0.1", port: int = 0, timeout: float = 10.0):
        self._socket = socket.create_server((host, port))  # bound now: the port is known, requests queue
        # accepted sockets inherit this; without it every response waits ~40 ms for a delayed ACK
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.url = f"http://{host}:{self._socket.getsockname()[1]}"
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on",
                                timeout_graceful_shutdown=5)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name="relay-http", daemon=True)
        self._thread.start()
        if not app.state.relay.ready.wait(timeout):
            self.stop()
            raise TimeoutError(f"the relay did not start within {timeout:g} s")

    def stop(self, timeout: float = 15.0) -> None:
        """Stop serving, close the upstream sessions and join the thread."""
        self._server.should_exit = True
        self._thread.join(timeout)
        self._socket.close()
        if self._thread.is_alive():
            raise TimeoutError(f"the relay did not stop within {timeout:g} s")

    def __enter__(self) -> "RelayServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<RelayServer {self.url}>"


def serve_in_background(app: Starlette, host: str = "127.0.0.1", port: int = 0) -> RelayServer:
    """Serve a `create_app()` app with uvicorn on a daemon thread; returns once it has started."""
    return RelayServer(app, host, port)
