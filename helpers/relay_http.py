"""The relay over HTTP: a Starlette app around `helpers.relay_core.Relay`, served by uvicorn.

Input is checked here (form fields, upload size, the audio's header before it is decoded);
every refusal and every failure answers as ``{"error": {"code", "message"}}`` with a 4xx/5xx.
Each blocking step of a turn runs in a worker thread; the SSE generator awaits it.
"""

from __future__ import annotations

import contextlib
import json
import socket
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import soundfile
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from . import audio
from .errors import RealtimeConnectionClosed, RealtimeServerError, RealtimeTimeout
from .personas import MIN_COMMIT_MS, SAMPLE_RATE
from .providers import Provider, get_api_key, get_provider
from .relay_core import Relay, RelayConversation, RelayError, TurnInput, log
from .serving import ServerThread

__all__ = ["RelayServer", "create_app", "parse_sse", "serve_in_background"]

DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024
FORM_OVERHEAD_BYTES = 64 * 1024
MAX_TEXT_BYTES = 64 * 1024
FIELDS = ("file", "text", "conversation_id")
MIN_SAMPLE_RATE = 8_000       # below this the upload is not speech the model can hear
MAX_SAMPLE_RATE = 192_000
MAX_CHANNELS = 8
MAX_AUDIO_S = 300             # decoded duration of one turn's audio


def create_app(provider: str | Provider = "replay", *, model: str | None = None, cassette: str | None = "11_relay_service",
               restore_cassette: str | None = "11_relay_service_restore", idle_timeout_s: float = 300,
               max_conversations: int = 100, max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
               output_dir: str | Path | None = None, url: str | None = None, api_key: str | None = None,
               connect_options: dict[str, Any] | None = None, reasoning: dict | None = None,
               clock: Callable[[], float] = time.monotonic) -> Starlette:
    """The relay as an ASGI app (see the module docstring); ``app.state.relay`` is its `Relay`.

    provider/model/url/api_key go to `helpers.connect` (the key is looked up now when not
    given); cassette and restore_cassette are the sessions (cassettes) the replay provider serves
    to a new and to a restored conversation. output_dir holds the answers' wav files (default:
    a new temporary folder). connect_options are passed to every `connect` (e.g. ``speed=0``,
    ``log=False``). reasoning (e.g. ``{"effort": "low"}``) goes into the upstream session of a model
    that reasons (catalogue capability "reasoning"); other models refuse it. clock measures idle
    time (tests pass a fake one).
    """
    if not (isinstance(idle_timeout_s, (int, float)) and idle_timeout_s > 0):
        raise ValueError(f"idle_timeout_s must be a number of seconds > 0, not {idle_timeout_s!r}")
    for name, value in (("max_conversations", max_conversations), ("max_upload_bytes", max_upload_bytes)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a whole number >= 1, not {value!r}")
    preset = get_provider(provider)  # resolved once: the relay passes this object to every connect
    key = api_key or get_api_key(preset)
    folder = Path(output_dir) if output_dir is not None else Path(tempfile.mkdtemp(prefix="realtime-relay-"))
    folder.mkdir(parents=True, exist_ok=True)
    relay = Relay(preset, model=model, cassette=cassette, restore_cassette=restore_cassette,
                  idle_timeout_s=idle_timeout_s, max_conversations=max_conversations,
                  max_upload_bytes=max_upload_bytes, output_dir=folder, url=url, api_key=key,
                  connect_options=connect_options or {}, clock=clock, reasoning=reasoning)

    ready = threading.Event()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.limiter = anyio.CapacityLimiter(max_conversations + 1)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_expire_forever, relay)
            ready.set()
            yield
            tasks.cancel_scope.cancel()
        await anyio.to_thread.run_sync(relay.close)

    app = Starlette(routes=[Route("/process_audio", _process_audio, methods=["POST"]),
                            Route("/audio/{name}", _get_audio, methods=["GET"])], lifespan=lifespan,
                    exception_handlers={Exception: _server_failure})
    app.state.relay = relay
    app.state.ready = ready  # set once the app has started (its lifespan ran)
    return app


# -- HTTP -----------------------------------------------------------------------------------

async def _process_audio(request: Request) -> Response:
    relay: Relay = request.app.state.relay
    try:
        turn = await _read_turn(request, relay.max_upload_bytes)
        conversation = await anyio.to_thread.run_sync(relay.checkout, turn.conversation_id)
    except RelayError as refusal:
        return _refusal(refusal)
    headers = {"X-Conversation-Id": conversation.id, "Cache-Control": "no-cache"}
    try:
        opening = await anyio.to_thread.run_sync(relay.open_upstream, conversation)
    except (RealtimeConnectionClosed, RealtimeTimeout, RealtimeServerError) as exc:
        relay.release(conversation)
        log.warning("conversation %s: upstream unavailable: %s", conversation.id, relay.redact(str(exc)))
        return _refusal(RelayError(502, "upstream_unavailable",
                                   relay.redact(f"could not open the upstream Realtime session: {exc}")), headers)
    return _ClosingStream(_sse_stream(relay, request.app.state.limiter, conversation, turn, opening),
                          media_type="text/event-stream", headers=headers)


class _ClosingStream(StreamingResponse):
    """A streaming response that always closes its generator, also when the client went away."""

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self.body_iterator.aclose()  # type: ignore[attr-defined]  # always our async generator


async def _sse_stream(relay: Relay, limiter: anyio.CapacityLimiter, conversation: RelayConversation,
                      turn: TurnInput, opening: dict) -> AsyncIterator[str]:
    """Bridge the blocking turn to SSE: each step runs in a worker thread, the loop stays free."""
    steps = relay.run_turn(conversation, turn)
    try:
        yield _sse_text(relay, "turn", opening)
        while (step := await anyio.to_thread.run_sync(next, steps, None, limiter=limiter)) is not None:
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
        return _refusal(RelayError(404, "audio_not_found", "no such audio: use the audio_url of a done event "
                                   "(audio is forgotten with its conversation)"))
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
    """The upload as pcm16 24 kHz mono; RelayError 415 when it is not audio, 400 when too short or out of bounds.

    The header is checked before anything is decoded or resampled: a tiny file can declare a
    1 Hz sample rate (resampled to 24 kHz it would grow 24,000 times) or hours of audio.
    """
    with tempfile.NamedTemporaryFile(suffix=Path(filename).suffix[:10]) as file:
        file.write(data)
        file.flush()
        try:
            info = soundfile.info(file.name)
        except (soundfile.SoundFileError, RuntimeError):
            raise RelayError(415, "unsupported_audio", f"{filename[:100]!r} is not audio the relay can read: "
                             "send wav, flac, ogg or mp3") from None
        _check_audio_bounds(info.samplerate, info.channels, info.frames)
        try:
            samples = audio.load_audio(file.name, verbose=False)
        except ValueError:
            raise RelayError(415, "unsupported_audio", f"{filename[:100]!r} is not audio the relay can read: "
                             "send wav, flac, ogg or mp3") from None
    _check_audio_bounds(SAMPLE_RATE, 1, len(samples))  # what was decoded, whatever the header said
    pcm16 = audio.to_pcm16(samples)
    if len(pcm16) < MIN_COMMIT_MS * audio.BYTES_PER_MS:
        raise RelayError(400, "audio_too_short", f"the audio lasts {len(pcm16) / audio.BYTES_PER_MS:.0f} ms; "
                         f"the Realtime API needs at least {MIN_COMMIT_MS} ms")
    return pcm16


def _check_audio_bounds(rate: int, channels: int, frames: int) -> None:
    """RelayError 400 for a sample rate, channel count or duration outside what the relay takes."""
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise RelayError(400, "bad_sample_rate", f"the audio's sample rate is {rate:,} Hz; the relay takes "
                         f"{MIN_SAMPLE_RATE:,} to {MAX_SAMPLE_RATE:,} Hz")
    if not 1 <= channels <= MAX_CHANNELS:
        raise RelayError(400, "bad_channels", f"the audio has {channels} channels; the relay takes 1 to {MAX_CHANNELS}")
    if frames > MAX_AUDIO_S * rate:
        raise RelayError(413, "audio_too_long", f"the audio lasts {frames / rate:,.0f} s; the limit is {MAX_AUDIO_S} s")


def _sse_text(relay: Relay, name: str, data: dict) -> str:
    return relay.redact(f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n")


async def _expire_forever(relay: Relay) -> None:
    """Close idle upstream sessions even when no request comes in."""
    interval = min(max(relay.idle_timeout_s / 4, 0.05), 30.0)
    while True:
        await anyio.sleep(interval)
        await anyio.to_thread.run_sync(relay.expire_idle)


async def _server_failure(request: Request, exc: Exception) -> Response:
    """Any failure not handled above still answers in the relay's JSON shape (500), never plain text."""
    relay: Relay = request.app.state.relay
    log.error("relay failure on %s: %s", request.url.path, relay.redact(repr(exc)))
    return _refusal(RelayError(500, "relay_failure", "the relay failed; see its log"))


def _refusal(error: RelayError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error.as_json(), error.status, headers)


# -- client side and serving ----------------------------------------------------------------

def parse_sse(lines: Iterable[str]) -> Iterator[tuple[str, dict]]:
    """(event, data) pairs from the lines of an SSE stream whose data is JSON (as the relay sends)."""
    name, data = "message", list[str]()
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


class RelayServer(ServerThread):
    """A relay app served by uvicorn on a daemon thread; `url` is ``http://HOST:PORT``."""

    def __init__(self, app: Starlette, host: str = "127.0.0.1", port: int = 0, timeout: float = 10.0):
        super().__init__("relay-http", ready=app.state.ready)
        self._socket = socket.create_server((host, port))  # bound now: the port is known, requests queue
        # accepted sockets inherit this; without it every response waits ~40 ms for a delayed ACK
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.url = f"http://{host}:{self._socket.getsockname()[1]}"
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on",
                                timeout_graceful_shutdown=5)
        self._server = uvicorn.Server(config)
        self._start(timeout)

    def _serve(self) -> None:
        self._server.run(sockets=[self._socket])

    def _request_stop(self) -> None:
        self._server.should_exit = True

    def stop(self, timeout: float = 15.0) -> None:
        """Stop serving, close the upstream sessions and join the thread."""
        try:
            super().stop(timeout)
        finally:
            self._socket.close()


def serve_in_background(app: Starlette, host: str = "127.0.0.1", port: int = 0) -> RelayServer:
    """Serve a `create_app()` app with uvicorn on a daemon thread; returns once it has started."""
    return RelayServer(app, host, port)
