"""The notebook-safe Realtime client: a WebSocket on a background thread feeding a queue.

Why a thread and a queue: a notebook cell must return, and Jupyter already runs an event
loop (so ``asyncio.run`` fails there). The socket lives on a daemon thread; every event it
receives goes into a ``queue.Queue``; cells take what they need with `wait_for` or
`stream`, each with a timeout. Nothing ever waits forever.

The error rule: waits take events from the queue in arrival order, and the wait that takes
an ``error`` event raises `RealtimeServerError` (unless it waits for ``"error"`` itself),
even when the error answers an earlier request nobody waited on. Errors are not fatal:
catch it, and the session goes on. A closed socket raises `RealtimeConnectionClosed` at
once, in every wait. (The queue is the standard library's `queue.SimpleQueue`.)
"""

from __future__ import annotations

import itertools
import json
import math
import queue
import socket
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import websocket

from . import events as ev
from .cassette import SCRUBBED, CassetteWriter, Frame
from .errors import RealtimeConnectionClosed, RealtimeServerError, RealtimeTimeout

_CLOSED = object()  # queue sentinel: the socket has closed
_TEXT = websocket.ABNF.OPCODE_TEXT
_loads = json.loads
_monotonic = time.monotonic
_AUDIO_FIELDS = {"response.audio.delta": "delta", "response.output_audio.delta": "delta",
                 "input_audio_buffer.append": "audio"}


class RealtimeClient:
    """One Realtime session. Use `helpers.connect(...)` to make one.

    `history` keeps every frame sent and received as `Frame(t, source, event)`, `t` in
    seconds since the socket opened (monotonic clock), for timelines and latency.
    """

    def __init__(self, url: str, *, headers: list[str] | None = None, provider: str = "custom",
                 model: str | None = None, dialect: str = "beta", timeout: float = 10.0,
                 log_dir: str | Path | None = None, record: str | Path | None = None,
                 secrets: tuple[str, ...] = (), ping_interval: float = 20.0):
        _check_seconds("timeout", timeout, zero_ok=False)
        _check_seconds("ping_interval", ping_interval, zero_ok=False)
        if headers is not None and (not isinstance(headers, list) or not all(isinstance(h, str) for h in headers)):
            raise TypeError(f"headers must be a list of 'Name: value' strings, not {type(headers).__name__}")
        self.url = url
        self.provider = provider
        self.model = model
        self.dialect = ev.check_dialect(dialect)
        self.history: list[Frame] = []
        self.session: dict | None = None
        self.close_code: int | None = None
        self.close_reason = ""
        self._secrets = tuple(s for s in secrets if s)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._send_lock = threading.Lock()
        self._opened = threading.Event()
        self._closed = threading.Event()
        self._heard = threading.Event()  # the server's first frame, or the close, arrived
        self._connect_error: BaseException | None = None
        self._socket: websocket.WebSocket | None = None
        self._t0 = time.monotonic()
        self._log = _open_log(log_dir, provider, model) if log_dir is not None else None
        self._recorder = None
        if record is not None:
            self._recorder = CassetteWriter(record, {
                "name": Path(record).stem, "provider": provider, "dialect": dialect,
                "model": model or "", "created": _now_iso(),
                "provenance": {"kind": "recorded", "tool": "helpers.connect(record=...)",
                               "url": _safe_url(url, self._secrets)}}, secrets=self._secrets)
        self._app = websocket.WebSocketApp(
            url, header=headers or [], on_open=self._on_open, on_data=self._on_data,
            on_error=self._on_error, on_close=self._on_close)
        self._thread = threading.Thread(
            target=self._app.run_forever, name=f"realtime-{provider}", daemon=True,
            kwargs={"ping_interval": ping_interval, "ping_timeout": min(10.0, ping_interval / 2),
                    "skip_utf8_validation": True, "dispatcher": _ReceiveLoop()})
        self._thread.start()
        if not self._opened.wait(timeout):
            self.close()
            raise RealtimeTimeout(["connection open"], timeout, [])
        if self._connect_error is not None:
            self.close()
            raise _explain_connect_error(self._connect_error, _safe_url(url, self._secrets))

    # -- the socket thread -------------------------------------------------------------

    def _now(self) -> float:
        return time.monotonic() - self._t0

    def _on_open(self, app) -> None:
        self._t0 = time.monotonic()
        self._socket = app.sock
        app.sock.sock = _BufferedSocket(app.sock.sock)
        self._opened.set()

    def _on_data(self, _app, data: bytes, opcode: int, _fin) -> None:
        t = _monotonic() - self._t0
        if opcode != _TEXT:
            event = {"type": "binary", "size": len(data)}
        else:
            try:  # UTF-8 is checked here, once (and decoding first spares json its encoding sniffing)
                event = _loads(data.decode("utf-8"))
            except ValueError:  # UnicodeDecodeError included
                event = {"type": "invalid_json", "text": data[:200].decode("utf-8", "replace")}
            if not isinstance(event, dict):
                event = {"type": "invalid_json", "text": data[:200].decode("utf-8", "replace")}
        self.history.append(Frame(t, "server", event))
        self._queue.put(event)
        if not self._heard.is_set():
            self._heard.set()
        kind = event.get("type")
        if kind in ("session.created", "session.updated"):
            self.session = event.get("session")
        if self._log is not None:
            raw = None if kind in _AUDIO_FIELDS or event.get("type") in ("binary", "invalid_json") else data
            self._write_log(t, "server", event, raw.decode("utf-8") if raw is not None else None)
        if self._recorder is not None:
            self._recorder.add(t, "server", event)

    def _on_error(self, _app, error: BaseException) -> None:
        if not self._opened.is_set():
            self._connect_error = error
            self._opened.set()

    def _on_close(self, _app, code, reason) -> None:
        if self._socket is not None:
            # websocket-client skips closing the TCP socket when the server closed first
            self._socket.shutdown()
        self.close_code = code
        self.close_reason = reason or ""
        self._closed.set()
        self._opened.set()
        self._heard.set()
        self._queue.put(_CLOSED)
        t = self._now()
        if self._log is not None:
            self._log.write(json.dumps({"t": round(t, 3), "from": "server",
                                        "close": {"code": code, "reason": self.close_reason}}) + "\n")
            self._log.close()
        if self._recorder is not None:
            self._recorder.close(t, code, self.close_reason)

    def _write_log(self, t: float, source: str, event: dict, raw: str | None) -> None:
        """One JSONL line per frame; audio payloads are summarised, secrets removed."""
        if raw is None:
            field = _AUDIO_FIELDS.get(event.get("type"))
            if field and isinstance(event.get(field), str):
                event = {**event, field: f"<{len(event[field])} base64 chars>"}
            raw = json.dumps(event, ensure_ascii=False)
        for secret in self._secrets:
            if secret in raw:
                raw = raw.replace(secret, SCRUBBED)
        try:
            self._log.write(f'{{"t":{t:.3f},"from":"{source}","event":{raw}}}\n')
        except ValueError:  # the log was closed under us by a concurrent close
            pass

    # -- sending -----------------------------------------------------------------------

    def send(self, event: dict) -> dict:
        """Send one client event (a dict with a "type"); adds an ``event_id`` if missing.

        Returns the event as sent. Raises `RealtimeConnectionClosed` if the socket is gone.
        """
        if not isinstance(event, dict):
            raise TypeError(f"send() takes an event dict, not {type(event).__name__}")
        if not isinstance(event.get("type"), str) or not event["type"]:
            raise ValueError("an event needs a non-empty string 'type', e.g. {'type': 'response.create'}")
        event = {**event} if "event_id" in event else {"event_id": ev.new_event_id(), **event}
        try:
            text = json.dumps(event, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"event {event['type']!r} is not JSON-serialisable: {exc}") from None
        if self._closed.is_set():
            raise RealtimeConnectionClosed(self.close_code, self.close_reason, "cannot send: the connection is closed")
        frame = Frame(self._now(), "client", event)
        # Kept before sending, so that a fast reply never comes first in history or a recording.
        self.history.append(frame)
        if self._log is not None:
            self._write_log(frame.t, "client", event, None if event["type"] in _AUDIO_FIELDS else text)
        if self._recorder is not None:
            self._recorder.add(frame.t, "client", event)
        try:
            with self._send_lock:
                self._app.send(text)
        except (websocket.WebSocketConnectionClosedException, OSError, AttributeError) as exc:
            self.history.remove(frame)
            raise RealtimeConnectionClosed(self.close_code, self.close_reason, f"cannot send ({exc})") from None
        return event

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
        return self._next(_match_set(types), types, time.monotonic() + timeout, timeout, where)

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
        stops = _match_set(until)
        wanted = _match_set(types) | stops if types else frozenset()
        deadline = time.monotonic() + timeout
        while True:
            event = self._next(wanted, until, deadline, timeout, None)
            yield event
            if event.get("type") in stops:
                return

    def _next(self, wanted: frozenset, label, deadline: float, timeout: float, where) -> dict:
        """The next queued event in `wanted` (any, if empty) passing `where`, before `deadline`."""
        seen: list[str] = []
        get = self._queue.get
        while True:
            try:
                event = get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                raise RealtimeTimeout(label, timeout, seen) from None
            if event is _CLOSED:
                self._queue.put(_CLOSED)  # every later wait sees the close too
                raise RealtimeConnectionClosed(self.close_code, self.close_reason)
            kind = event.get("type")
            if kind == "error" and "error" not in wanted:
                raise RealtimeServerError(event.get("error") or {}, event)
            if (not wanted or kind in wanted) and (where is None or where(event)):
                return event
            seen.append(kind or "?")

    def check_admitted(self, timeout: float = 3.0) -> None:
        """Raise now if the server refused the session right after the handshake.

        Services such as OpenAI accept the WebSocket, then send an ``error`` (bad key,
        unknown model) and close. This waits up to `timeout` for the first frame (it stays
        queued) and raises `RealtimeServerError` or `RealtimeConnectionClosed` for a refusal.
        """
        _check_seconds("timeout", timeout)
        if not self._heard.wait(timeout):
            return  # a quiet server: the caller's own waits will time out with a clear error
        first = next((f.event for f in self.history if f.source == "server"), None)
        if first is not None and first.get("type") == "error":
            self._closed.wait(min(timeout, 1.0))  # the refusal's close follows at once
            self.close()
            raise RealtimeServerError(first.get("error") or {}, first)
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
            try:  # the socket thread reads the server's reply and tears down
                self._socket.send_close()
            except (websocket.WebSocketException, OSError):
                pass
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
            try:
                raw.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> "RealtimeClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return (f"<RealtimeClient {self.provider} model={self.model!r} dialect={self.dialect} "
                f"{state}, {len(self.history)} frames>")


def _check_seconds(name: str, value: Any, zero_ok: bool = True) -> None:
    """Refuse a duration that is not a finite number of seconds (>= 0, or > 0 unless `zero_ok`)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero_ok):
        raise ValueError(f"{name} must be a finite number of seconds {'>=' if zero_ok else '>'} 0, not {value!r}")


class _ReceiveLoop:
    """A WebSocketApp dispatcher that reads frames back to back on the socket thread.

    The default dispatcher runs a `select` before every frame; here the thread simply blocks
    in `recv` (close() wakes it by shutting the socket down). With `_BufferedSocket` this
    doubles the events per second a notebook can take in.
    """

    def signal(self, *_args) -> None:  # no signal handlers: this is not the main thread
        pass

    def abort(self, *_args) -> None:
        pass

    def read(self, _sock, read_callback) -> None:
        while read_callback():
            pass

    def timeout(self, _seconds, _callback, *_args) -> None:  # nothing to schedule between frames
        pass

    def buffwrite(self, sock, data, send, _on_disconnect) -> None:
        view = memoryview(data.encode("utf-8") if isinstance(data, str) else data)
        while view:  # the app counts the whole frame as sent: send all of it
            view = view[send(sock, view):]

    def reconnect(self, *_args) -> None:  # the client never reconnects by itself
        pass


class _BufferedSocket:
    """The connected socket, read 64 KiB at a time.

    websocket-client asks for each frame's header and payload separately (two or three
    `recv` calls per frame); serving them from one large read saves most system calls.
    Everything else is the socket's own.
    """

    _READ_SIZE = 1 << 16

    def __init__(self, raw):
        self._raw = raw
        self._data = b""
        self._pos = 0
        self.gettimeout = raw.gettimeout  # asked before every read: skip __getattr__

    def recv(self, size: int) -> bytes:
        if self._pos >= len(self._data):
            self._data, self._pos = self._raw.recv(self._READ_SIZE), 0
            if not self._data:
                return b""
        start, self._pos = self._pos, min(self._pos + size, len(self._data))
        return self._data[start:self._pos]

    def __getattr__(self, name):
        return getattr(self._raw, name)


def _match_set(types) -> frozenset[str]:
    out: set[str] = set()
    for name in types:
        if not isinstance(name, str) or not name:
            raise TypeError(f"event types are non-empty strings, not {name!r}")
        out |= ev.aliases(name)
    return frozenset(out)


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


_log_counter = itertools.count(1)


def _open_log(log_dir, provider: str, model: str | None):
    folder = Path(log_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    name = f"{stamp}_{provider}_{(model or 'default').replace('/', '-')}_{next(_log_counter)}.jsonl"
    return (folder / name).open("w", encoding="utf-8", buffering=1 << 16)


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
