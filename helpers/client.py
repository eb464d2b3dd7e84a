"""The notebook-safe Realtime client: a WebSocket on a background thread feeding a queue.

Why a thread and a queue: a notebook cell must return, and Jupyter already runs an event
loop (so ``asyncio.run`` fails there). The socket lives on a daemon thread; every event it
receives goes into a ``queue.SimpleQueue``; cells take what they need with `wait_for` or
`stream`, each with a timeout. Nothing ever waits forever.

This module is only the I/O. The protocol rules (history, the session object, the
conversation, the error rule) are the sans-I/O `helpers.session.ClientSession` in `core`;
the socket thread feeds it each frame, and the waits below apply its rule:

The error rule: waits take events from the queue in arrival order, and the wait that takes
an ``error`` event raises `RealtimeServerError` (unless it waits for ``"error"`` itself),
even when the error answers an earlier request nobody waited on. Errors are not fatal:
catch it, and the session goes on. A closed socket raises `RealtimeConnectionClosed` at
once, in every wait.
"""

from __future__ import annotations

import contextlib
import json
import math
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Generic, TypeVar, overload
from urllib.parse import urlsplit, urlunsplit

import websocket

from .cassette import SCRUBBED, CassetteWriter, Frame
from .conversation import Conversation
from .errors import RealtimeConnectionClosed, RealtimeTimeout
from .session import ClientSession, match_set, server_error
from .transport import ReceiveLoop, buffer_reads, proxy_options

__all__ = ["RealtimeClient"]

T = TypeVar("T")
_CLOSED = object()  # queue sentinel: the socket has closed
_TEXT = websocket.ABNF.OPCODE_TEXT
_monotonic = time.monotonic
_AUDIO_FIELDS = {"response.audio.delta": "delta", "response.output_audio.delta": "delta",
                 "input_audio_buffer.append": "audio"}


class _FromCore(Generic[T]):
    """A read-only client attribute that is the core's attribute of the same name."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, client: None, owner: type) -> _FromCore[T]: ...
    @overload
    def __get__(self, client: RealtimeClient, owner: type | None = None) -> T: ...

    def __get__(self, client: RealtimeClient | None, owner: type | None = None) -> T | _FromCore[T]:
        return self if client is None else getattr(client.core, self.name)


class RealtimeClient:
    """One Realtime session. Use `helpers.connect(...)` to make one.

    `history` keeps every frame sent and received as `Frame(t, source, event)`, `t` in
    seconds since the socket opened (monotonic clock), for timelines and latency;
    `conversation` is the state those frames add up to.
    """

    def __init__(self, url: str, *, headers: list[str] | None = None, provider: str = "custom",
                 model: str | None = None, dialect: str = "beta", timeout: float = 10.0,
                 log_dir: str | Path | None = None, record: str | Path | None = None,
                 secrets: tuple[str, ...] = (), ping_interval: float = 20.0):
        _check_seconds("timeout", timeout, zero_ok=False)
        _check_seconds("ping_interval", ping_interval, zero_ok=False)
        if headers is not None and (not isinstance(headers, list) or not all(isinstance(h, str) for h in headers)):
            raise TypeError(f"headers must be a list of 'Name: value' strings, not {type(headers).__name__}")
        self.core = ClientSession(dialect)
        self.url = url
        self.provider = provider
        self.model = model
        self._secrets = tuple(s for s in secrets if s)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._send_lock = threading.Lock()
        self._opened = threading.Event()
        self._closed = threading.Event()
        self._heard = threading.Event()  # the server's first frame, or the close, arrived
        self._connect_error: BaseException | None = None
        self._socket: websocket.WebSocket | None = None
        self._t0 = time.monotonic()
        if log_dir is not None:
            self.core.subscribe(_FrameLog(log_dir, provider, model, self._secrets).write)
        if record is not None:
            recorder = CassetteWriter(record, {
                "name": Path(record).stem, "provider": provider, "dialect": dialect,
                "model": model or "", "created": _now_iso(),
                "provenance": {"kind": "recorded", "tool": "helpers.connect(record=...)",
                               "url": _safe_url(url, self._secrets)}}, secrets=self._secrets)
            self.core.subscribe(_recording_to(recorder))
        self._app = websocket.WebSocketApp(
            url, header=headers or [], on_open=self._on_open, on_data=self._on_data,
            on_error=self._on_error, on_close=self._on_close)
        host = urlsplit(url).hostname or ""
        self._thread = threading.Thread(
            target=self._app.run_forever, name=f"realtime-{provider}", daemon=True,
            kwargs={"ping_interval": ping_interval, "ping_timeout": min(10.0, ping_interval / 2),
                    "skip_utf8_validation": True, "dispatcher": ReceiveLoop(), **proxy_options(host)})
        self._thread.start()
        if not self._opened.wait(timeout):
            self.close()
            raise RealtimeTimeout(["connection open"], timeout, [])
        if self._connect_error is not None:
            self.close()
            raise _explain_connect_error(self._connect_error, _safe_url(url, self._secrets))

    # -- what the core knows -------------------------------------------------------------

    dialect: _FromCore[str] = _FromCore()                        # "beta" (StepFun) or "ga" (OpenAI)
    history: _FromCore[list[Frame]] = _FromCore()                # every frame sent and received, in order
    session: _FromCore[dict | None] = _FromCore()                # the server's last session object
    conversation: _FromCore[Conversation] = _FromCore()          # items, responses, timings so far
    close_code: _FromCore[int | None] = _FromCore()              # once closed (None: no close frame came)
    close_reason: _FromCore[str] = _FromCore()

    # -- the socket thread -------------------------------------------------------------

    def _now(self) -> float:
        return time.monotonic() - self._t0

    def _on_open(self, app: websocket.WebSocketApp) -> None:
        self._t0 = time.monotonic()
        self._socket = app.sock
        if app.sock is not None:
            buffer_reads(app.sock)
        self._opened.set()

    def _on_data(self, _app: Any, data: bytes, opcode: int, _fin: Any) -> None:
        self._queue.put(self.core.receive_data(data, _monotonic() - self._t0, opcode == _TEXT))
        if not self._heard.is_set():
            self._heard.set()

    def _on_error(self, _app: Any, error: BaseException) -> None:
        if not self._opened.is_set():
            self._connect_error = error
            self._opened.set()

    def _on_close(self, _app: Any, code: int | None, reason: str | None) -> None:
        if self._socket is not None:
            # websocket-client skips closing the TCP socket when the server closed first
            self._socket.shutdown()
        self.core.receive_close(code, reason or "", self._now())
        self._closed.set()
        self._opened.set()
        self._heard.set()
        self._queue.put(_CLOSED)

    # -- sending -----------------------------------------------------------------------

    def send(self, event: dict) -> dict:
        """Send one client event (a dict with a "type"); adds an ``event_id`` if missing.

        Returns the event as sent. Raises `RealtimeConnectionClosed` if the socket is gone.
        """
        if self._closed.is_set():
            self.core.prepare_event(event)  # a malformed event is refused as such first
            raise RealtimeConnectionClosed(self.close_code, self.close_reason, "cannot send: the connection is closed")
        frame, text = self.core.send_event(event, self._now())
        try:
            with self._send_lock:
                self._app.send(text)
        except (websocket.WebSocketConnectionClosedException, OSError, AttributeError) as exc:
            self.core.send_failed(frame)
            raise RealtimeConnectionClosed(self.close_code, self.close_reason, f"cannot send ({exc})") from None
        assert frame.event is not None
        return frame.event

    # -- receiving ---------------------------------------------------------------------

    def wait_for(self, *types: str, timeout: float = 10.0,
                 where: Callable[[dict], bool] | None = None) -> dict:
        """Return the first received event of one of `types` (any event if none given).

        Names match across dialects (``response.audio.delta`` also matches
        ``response.output_audio.delta``). `where` filters further. Events passed over
        stay in `history`. Raises `RealtimeTimeout` (listing what arrived meanwhile),
        `RealtimeServerError` or `RealtimeConnectionClosed`.
        """
        _check_seconds("timeout", timeout)
        if where is not None and not callable(where):
            raise TypeError(f"where must be a callable taking an event dict, not {type(where).__name__}")
        return self._next(match_set(types), types, time.monotonic() + timeout, timeout, where)

    def stream(self, until: str | tuple[str, ...] = "response.done", *, timeout: float = 30.0,
               types: tuple[str, ...] = ()) -> Iterator[dict]:
        """Yield received events (only `types`, if given) up to and including one of `until`.

        `timeout` bounds the whole stream. Example: print deltas as they arrive::

            for event in client.stream():
                if event["type"].endswith("transcript.delta"):
                    print(event["delta"], end="")
        """
        _check_seconds("timeout", timeout)
        until = (until,) if isinstance(until, str) else tuple(until)
        stops = match_set(until)
        wanted = match_set(types) | stops if types else frozenset()
        deadline = time.monotonic() + timeout
        while True:
            event = self._next(wanted, until, deadline, timeout, None)
            yield event
            if event.get("type") in stops:
                return

    def _next(self, wanted: frozenset[str], label: tuple[str, ...], deadline: float, timeout: float,
              where: Callable[[dict], bool] | None) -> dict:
        """The next queued event the core's rule accepts for `wanted` and `where`, before `deadline`."""
        seen: list[str] = []
        get = self._queue.get
        accept = self.core.accept
        while True:
            try:
                event = get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                raise RealtimeTimeout(label, timeout, seen) from None
            if event is _CLOSED:
                self._queue.put(_CLOSED)  # every later wait sees the close too
                raise RealtimeConnectionClosed(self.close_code, self.close_reason)
            if accept(event, wanted, where):
                return event
            seen.append(event.get("type") or "?")

    def check_admitted(self, timeout: float = 3.0) -> None:
        """Raise now if the server refused the session right after the handshake.

        Services such as OpenAI accept the WebSocket, then send an ``error`` (bad key,
        unknown model) and close. This waits up to `timeout` for the first frame (it stays
        queued) and raises `RealtimeServerError` or `RealtimeConnectionClosed` for a refusal.
        """
        _check_seconds("timeout", timeout)
        if not self._heard.wait(timeout):
            return  # a quiet server: the caller's own waits will time out with a clear error
        first = self.core.first_server_event()
        if first is not None and first.get("type") == "error":
            self._closed.wait(min(timeout, 1.0))  # the refusal's close follows at once
            self.close()
            raise server_error(first)
        if first is None and self._closed.is_set():
            raise RealtimeConnectionClosed(self.close_code, self.close_reason, "the server closed the session at once")

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once the socket has closed."""
        return self._closed.is_set()

    def close(self, timeout: float = 5.0) -> None:
        """Close the socket and join the background thread (idempotent)."""
        if self._socket is not None and not self._closed.is_set():
            with contextlib.suppress(websocket.WebSocketException, OSError):
                self._socket.send_close()  # the socket thread reads the server's reply and tears down
            if not self._closed.wait(min(timeout, 2.0)):
                self._shutdown_socket()  # no reply: wake the socket thread with EOF
        self._app.keep_running = False
        if not self._opened.is_set() or self._socket is None:
            self._shutdown_socket()  # still connecting: wake a handshake waiting on a silent server ...
            self._app.close()  # ... and abort the attempt
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RealtimeTimeout(["socket thread exit"], timeout, [])
        if not self._closed.is_set():  # run_forever ended without calling on_close
            self._on_close(self._app, None, "")

    def _shutdown_socket(self) -> None:
        raw = getattr(self._socket or self._app.sock, "sock", None)
        if raw is not None:
            with contextlib.suppress(OSError):
                raw.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> RealtimeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return (f"<RealtimeClient {self.provider} model={self.model!r} dialect={self.dialect} "
                f"{state}, {len(self.history)} frames>")


class _FrameLog:
    """A JSONL file, one line per frame, audio payloads summarised and secrets removed.

    Its name takes the first free number for this second, provider and model: no counter
    shared across the process.
    """

    def __init__(self, log_dir: str | Path, provider: str, model: str | None, secrets: tuple[str, ...]):
        folder = Path(log_dir)
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"{datetime.now().strftime('%Y%m%d-%H%M%S')}_{provider}_{(model or 'default').replace('/', '-')}"
        self._file = _create_numbered(folder, stem)
        self._secrets = secrets

    def write(self, frame: Frame, raw: str | None) -> None:
        if frame.event is None:
            self._write(json.dumps({"t": round(frame.t, 3), "from": frame.source, "close": frame.close}) + "\n")
            self._file.close()
            return
        event = frame.event
        field = _AUDIO_FIELDS.get(event.get("type"))  # type: ignore[arg-type]
        if field is not None or raw is None:
            if field and isinstance(event.get(field), str):
                event = {**event, field: f"<{len(event[field])} base64 chars>"}
            raw = json.dumps(event, ensure_ascii=False)
        for secret in self._secrets:
            if secret in raw:
                raw = raw.replace(secret, SCRUBBED)
        self._write(f'{{"t":{frame.t:.3f},"from":"{frame.source}","event":{raw}}}\n')

    def _write(self, line: str) -> None:
        with contextlib.suppress(ValueError):  # the log was closed under us by a concurrent close
            self._file.write(line)


def _create_numbered(folder: Path, stem: str) -> IO[str]:
    """Open ``folder/stem_N.jsonl`` for writing, N the first number no file has yet."""
    for number in range(1, 10_000):
        try:
            return (folder / f"{stem}_{number}.jsonl").open("x", encoding="utf-8", buffering=1 << 16)
        except FileExistsError:
            continue
    raise FileExistsError(f"no free log file name for {stem} in {folder}")


def _recording_to(recorder: CassetteWriter) -> Callable[[Frame, str | None], None]:
    """A core listener that writes each frame to a cassette, and finishes it at the close."""
    def record(frame: Frame, _raw: str | None) -> None:
        if frame.event is None:
            close = frame.close or {}
            recorder.close(frame.t, close.get("code"), close.get("reason", ""))
        else:
            recorder.add(frame.t, frame.source, frame.event)
    return record


def _check_seconds(name: str, value: Any, zero_ok: bool = True) -> None:
    """Refuse a duration that is not a finite number of seconds (>= 0, or > 0 unless `zero_ok`)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero_ok):
        raise ValueError(f"{name} must be a finite number of seconds {'>=' if zero_ok else '>'} 0, not {value!r}")


def _now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _safe_url(url: str, secrets: tuple[str, ...]) -> str:
    """`url` without credentials: userinfo dropped and known secrets scrubbed."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    safe = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    for secret in secrets:
        safe = safe.replace(secret, SCRUBBED)
    return safe


def _explain_connect_error(error: BaseException, url: str) -> RealtimeConnectionClosed:
    """Turn a websocket-client connect failure into an error that says what to check."""
    status = getattr(error, "status_code", None)
    if status in (401, 403):
        hint = f"the server refused the API key (HTTP {status}): check the key and that it is for this provider"
    elif status == 404:
        hint = "no Realtime endpoint at this URL (HTTP 404): check the URL path (…/v1/realtime)"
    elif status is not None:
        hint = f"the handshake failed with HTTP {status}"
    elif isinstance(error, ConnectionRefusedError):
        hint = "connection refused: is the server running, and is the port right?"
    elif "Name or service not known" in str(error) or "nodename" in str(error) or \
            type(error).__name__ == "gaierror":
        hint = "the host name did not resolve: check the URL and your network"
    else:
        hint = f"{type(error).__name__}: {error}"
    return RealtimeConnectionClosed(None, "", f"could not connect to {url}: {hint}")
