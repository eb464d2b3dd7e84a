"""The replay server: Realtime sessions from cassettes over a real WebSocket, the protocol simulated.

Replay what the model said, simulate what the protocol does. Cassettes (see
`helpers.cassette`) hold what the model produced; the engine computes the rest live.

Connect to ``ws://HOST:PORT/v1/realtime`` (or ``/realtime``) with the query::

    model=M            required; picks the persona (`helpers.personas`): step-*/stepaudio-* answer
                       as StepFun (beta names), gpt-* as OpenAI GA
    cassette=NAME      NAME.jsonl in the cassette folder; without it nothing is recorded to replay
    dialect=beta       with a gpt-* model: OpenAI's retired 2024 beta, on explicit request only
                       (an ``OpenAI-Beta: realtime=v1`` header alone gets OpenAI's refusal, close 4000)
    speed=S            recorded pace times S (2 = twice as fast; 0 = no delay at all)
    strict=1           report recorded responses left unconsumed, and session configs that
                       contradict the cassette, when the client disconnects
    close_after=N      fault: close (1011) after N server events
    expire_after=S     fault: ``session_expired`` error after S seconds, then close 1001
    latency_ms=X       fault: every server event X ms late ...
    jitter_ms=Y        ... plus a seeded random 0..Y ms (deterministic per session)

Start one in-process with `serve_in_background` (or the process-wide `shared_server`), or as
a command: ``python -m helpers.replay --cassettes DIR --port 0`` (see ``__main__``).
"""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
from pathlib import Path
from typing import Callable

from ..providers import default_cassettes
from .engine import Library, Options, Recording, Session, open_session
from .server import ReplayServer, run, url_of

__all__ = ["BackgroundServer", "Library", "Options", "Recording", "ReplayServer", "Session",
           "default_cassettes", "open_session", "provenance", "serve_in_background", "shared_server"]

START_TIMEOUT = 10.0


def provenance(name: str, cassettes: str | Path | None = None) -> dict:
    """How cassette `name` was made: its metadata's provenance (``kind`` "synthesized" or "recorded")
    plus provider, model and description, e.g. ``provenance("01_connect")["kind"]``."""
    recording = Library(default_cassettes() if cassettes is None else cassettes).get(name)
    if recording is None:
        raise FileNotFoundError(f"no cassette named {name!r} in {cassettes or 'the default cassette folder'}")
    meta = recording.meta
    return {**recording.provenance, **{key: meta[key] for key in ("provider", "model", "created", "description")
                                       if key in meta}}


class BackgroundServer:
    """A replay server on its own daemon thread and event loop; `url` is ``ws://HOST:PORT``.

    `reports` lists one summary per finished session (cassette, responses consumed and left,
    errors sent); `on_report` (called on the server thread) gets each as its session ends.
    `stop()` closes it and joins the thread; usable as a context manager.
    """

    def __init__(self, cassettes: str | Path | None, host: str = "127.0.0.1", port: int = 0,
                 options: Options | None = None, on_report: Callable[[dict], None] | None = None):
        self._server = ReplayServer(cassettes, options, on_report)
        self.url = ""
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, args=(host, port), name="replay-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise TimeoutError(f"the replay server did not start listening within {START_TIMEOUT:g} s")
        if self._failure is not None:
            raise RuntimeError(f"the replay server could not start on {host}:{port}: {self._failure}") from self._failure

    @property
    def reports(self) -> list[dict]:
        """One summary per finished session (the newest `ReplayServer.MAX_REPORTS`), oldest first."""
        return list(self._server.reports)

    @property
    def live(self) -> int:
        """The number of sessions in progress."""
        return self._server.live

    def _main(self, host: str, port: int) -> None:
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()

        def started(ws_server) -> None:
            self.url = url_of(ws_server)
            self._ready.set()

        try:
            self._loop.run_until_complete(run(self._server, host, port, started, self._stop))
        except BaseException as exc:  # reported to the starting thread
            self._failure = exc
            self._ready.set()
        finally:
            self._loop.close()

    def stop(self, timeout: float = 10.0) -> None:
        """Close every connection, stop listening and join the thread (raises if it takes longer than `timeout`)."""
        if self._thread.is_alive() and self._loop is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._stop.set)
            except RuntimeError:  # the loop closed meanwhile
                pass
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"the replay server did not stop within {timeout:g} s")

    def __enter__(self) -> "BackgroundServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<BackgroundServer {self.url or 'starting'}>"


def serve_in_background(cassettes: str | Path | None = None, host: str = "127.0.0.1", port: int = 0,
                        speed: float = 1.0, on_report: Callable[[dict], None] | None = None,
                        **options) -> BackgroundServer:
    """Start a replay server on a daemon thread and return once it listens.

    `options` are those of `Options` (strict, close_after, expire_after, latency_ms, jitter_ms,
    require_key); `cassettes` defaults to `default_cassettes()`.
    """
    folder = default_cassettes() if cassettes is None else cassettes
    return BackgroundServer(folder, host, port, Options(speed=speed, **options), on_report)


_shared: BackgroundServer | None = None
_shared_lock = threading.Lock()


def shared_server() -> BackgroundServer:
    """The process-wide replay server: started on first use (default cassettes, speed from
    $REALTIME_REPLAY_SPEED, default 1.0) and stopped at interpreter exit."""
    global _shared
    with _shared_lock:
        if _shared is None:
            raw = os.environ.get("REALTIME_REPLAY_SPEED", "1.0")
            try:
                speed = float(raw)
            except ValueError:
                raise ValueError(f"REALTIME_REPLAY_SPEED must be a number >= 0, not {raw!r}") from None
            _shared = serve_in_background(speed=speed)
            atexit.register(_shared.stop)
        return _shared
