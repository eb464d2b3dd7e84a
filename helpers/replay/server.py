"""The thin asyncio adapter: the `websockets` library around the pure engine.

Serves ``/v1/realtime`` and ``/realtime`` (WebSocket), answers ``GET /health`` with 200 "ok",
and echoes the ``realtime`` subprotocol when a browser offers it. All protocol decisions are
the engine's (`helpers.replay.engine`); this module only moves frames and keeps time.
Keys and Authorization headers are never logged.

It also keeps hostile clients from hurting anyone else, each in one log line, never a traceback:
every client frame passes `helpers.limits` first (a violation is answered with an ``error``
event and the session goes on); a large frame is read (`helpers.replay.stepwise`) and, when it
is an append, decoded and run through VAD (`Session.receive_steps`) in steps, other sessions'
work between them; frames above `HEAVY_FRAME`, from all connections together, are handled one at
a time within `HEAVY_SHARE` of the server's time; a client's next frame is read only once the
answers to its last one are written and while its frames take at most `INPUT_SHARE` of it; output
waits above `OUTPUT_HIGH_WATER` bytes at most, and a client that takes none of it for
`write_timeout` seconds is reset (so a stalled write cannot hold keepalive pings back either).
"""

from __future__ import annotations

import asyncio
import codecs
import itertools
import json
import logging
import re
import secrets
import socket
import struct
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from http import HTTPStatus
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode, Frame, Opcode
from websockets.protocol import Event
from websockets.typing import Subprotocol

from ..cassette import scrub_text
from ..limits import MAX_FRAME_BYTES, FrameText, bulk_span, check_frame
from .engine import Library, Options, Refusal, Session, open_session
from .input_buffer import is_event_audio, without_audio
from .mcp import McpBridge, McpError
from .stepwise import STEP_BYTES, LargeText, adopt
from .validation import warm_up

PATHS = ("/v1/realtime", "/realtime")
OUTPUT_HIGH_WATER = 256 * 1024   # bytes waiting for the client before a write waits (websockets' write_limit)
WRITE_TIMEOUT = 10.0             # seconds output may stay above the mark before the client is dropped
INPUT_QUEUE = 2                  # client frames read ahead of the engine (websockets' max_queue)
PING_INTERVAL = PING_TIMEOUT = 20.0
CLOSE_TIMEOUT = 2.0              # seconds a client gets to answer a close frame before the socket is cut
LARGE_FRAME = STEP_BYTES         # frames above this are handled in steps, yielding to other sessions between
INPUT_SHARE = 0.25               # of the server's time one connection's frames may take on average ...
INPUT_BURST = 0.25               # ... once it has used this many seconds more than its share
HEAVY_FRAME = 64 * 1024          # frames above this, from all connections together, are handled one at a time ...
HEAVY_SHARE = 0.05               # ... within this share of the server's time ...
HEAVY_BURST = 0.05               # ... once they have used this many seconds more than it
HEAVY_COST = 0.002               # smaller frames that took longer than this (s) are charged to that budget too
_RESET_ON_CLOSE = struct.pack("ii", 1, 0)   # SO_LINGER on, 0 s
_TCPI_BYTES_ACKED, _TCP_INFO_BYTES = 120, 128   # offset of tcpi_bytes_acked in Linux's struct tcp_info
log = logging.getLogger("helpers.replay")


class _RedactCredentials(logging.Filter):
    """websockets logs handshake headers at DEBUG: keep the key out of those records."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if "authorization" in text.lower() or "api-key" in text.lower():
            record.msg, record.args = scrub_text(re.sub(r"(?i)(authorization:\s*).*", r"\1<scrubbed>", text)), ()
        return True


_wire_log = logging.getLogger("helpers.replay.wire")
_wire_log.addFilter(_RedactCredentials())


class _BoundedConnection(ServerConnection):
    """A connection dropped (one log line) when its client takes no output for `write_timeout` seconds.

    The transport calls `pause_writing` when unread output passes the high-water mark; every write,
    keepalive pings included, then waits. If the client's TCP acknowledged nothing more by the
    deadline (Linux reports it; elsewhere: if writing has not resumed), the client is reset, so
    no write stalls for ever and nothing piles up behind it.
    """

    def __init__(self, *args, write_timeout: float, **kwargs):
        super().__init__(*args, **kwargs)
        adopt(self.protocol)  # large frames read in steps (helpers.replay.stepwise)
        # Large text frames go aside (`take_message`), a placeholder no client can guess in their place.
        self._placeholder = f"\0large text frame {secrets.token_hex(16)}\0"
        self._large_texts: deque[LargeText] = deque()
        self.write_timeout = write_timeout
        self._stall: asyncio.TimerHandle | None = None
        self._acked_at: int | None = None   # the client's acknowledged byte count when last seen moving ...
        self._taken_at = 0.0                # ... and when that was

    def process_event(self, event: Event) -> None:
        if isinstance(event, Frame) and isinstance(event.data, LargeText):
            self._large_texts.append(event.data)
            event = Frame(Opcode.TEXT, self._placeholder.encode())
        super().process_event(event)

    async def take_message(self) -> str | bytes | LargeText:
        """The next message, as `recv` gives it, except a large text frame: its UTF-8 bytes, unchecked."""
        message = await self.recv()
        return self._large_texts.popleft() if message == self._placeholder else message

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._stall is None:
            self._acked_at, self._taken_at = self._acked(), self.loop.time()
            self._stall = self.loop.call_later(self._check_every(), self._check_stall)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._acked_at is None:  # no acknowledgement count: resuming is the only sign of a reader
            self._cancel_stall()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_stall()
        super().connection_lost(exc)

    def _acked(self) -> int | None:
        """Bytes the client's TCP has acknowledged so far (Linux ``TCP_INFO``), or None where unknown."""
        try:
            info = self.transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO,
                                                                       _TCP_INFO_BYTES)
            return struct.unpack_from("Q", info, _TCPI_BYTES_ACKED)[0]
        except (AttributeError, OSError, struct.error):
            return None

    def _cancel_stall(self) -> None:
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None

    def _check_every(self) -> float:
        return self.write_timeout / 4 if self._acked_at is not None else self.write_timeout

    def _check_stall(self) -> None:
        """While output waits, drop the client once it has taken nothing for `write_timeout` seconds."""
        self._stall = None
        if not self.paused:
            return
        acked, now = self._acked(), self.loop.time()
        if acked is not None and acked != self._acked_at:  # a slow reader, but a reader
            self._acked_at, self._taken_at = acked, now
        if now - self._taken_at < self.write_timeout - 1e-3:
            self._stall = self.loop.call_later(self._check_every(), self._check_stall)
            return
        log.warning("closed %s: the client read nothing for %g s while %d bytes waited for it",
                    _peer(self), self.write_timeout, self.transport.get_write_buffer_size())
        # A reset, not a FIN queued behind megabytes the client will never read: the kernel frees them now.
        self.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)
        self.transport.abort()


class ReplayServer:
    """Serves the cassettes of one folder; `reports` keeps a summary of the last `MAX_REPORTS` sessions.

    `live` counts the sessions in progress; `on_report` is called with each summary as a session ends.
    A client that leaves output unread for `write_timeout` seconds is disconnected.
    """

    MAX_REPORTS = 1000

    def __init__(self, cassettes: str | Path | None, options: Options | None = None,
                 on_report: Callable[[dict], None] | None = None, write_timeout: float = WRITE_TIMEOUT):
        self.library = Library(cassettes) if cassettes is not None else None
        self.options = options or Options()
        self.reports: deque[dict] = deque(maxlen=self.MAX_REPORTS)  # the newest session summaries
        self.live = 0
        self.write_timeout = write_timeout
        self._on_report = on_report
        self._heavy = _HeavyGate()

    def serve(self, host: str = "127.0.0.1", port: int = 0):
        """The `websockets` server (an async context manager) listening on host:port."""
        warm_up()  # the SDK-model validators, before the first session needs them
        return serve(self._handle, host, port, process_request=self._process_request, select_subprotocol=_select_subprotocol,
                     max_size=MAX_FRAME_BYTES, max_queue=INPUT_QUEUE, write_limit=OUTPUT_HIGH_WATER,
                     ping_interval=PING_INTERVAL, ping_timeout=PING_TIMEOUT, close_timeout=CLOSE_TIMEOUT, compression=None,
                     server_header="helpers-replay", logger=_wire_log,
                     # websockets calls this factory like the class itself: a partial is fine at run time
                     create_connection=partial(_BoundedConnection, write_timeout=self.write_timeout))  # type: ignore[arg-type]

    @staticmethod
    def _process_request(connection: ServerConnection, request):
        path = urlsplit(request.path).path.rstrip("/")
        if path == "/health":
            return connection.respond(HTTPStatus.OK, "ok\n")
        if path not in PATHS:
            return connection.respond(HTTPStatus.NOT_FOUND, f"Not found: use {' or '.join(PATHS)}\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        assert isinstance(ws, _BoundedConnection)  # serve() makes every connection one
        assert ws.request is not None  # the handshake is done when a handler runs
        query = dict(parse_qsl(urlsplit(ws.request.path).query))
        headers = {name.lower(): value for name, value in ws.request.headers.raw_items()}
        offered = tuple(p.strip() for value in ws.request.headers.get_all("Sec-WebSocket-Protocol")
                        for p in value.split(","))
        outcome = open_session(query, headers, self.library, self.options, offered)
        if isinstance(outcome, Refusal):
            try:
                await ws.send(outcome.text)
                await ws.close(outcome.code, outcome.reason)
            except ConnectionClosed:
                pass
            return
        session: Session = outcome
        loop = asyncio.get_running_loop()
        session.start(loop.time())
        wake, caught_up = asyncio.Event(), asyncio.Event()
        caught_up.set()
        refused: list[str] = []
        writer = asyncio.create_task(self._write(ws, session, wake, caught_up, refused))
        event_ids = itertools.count(1)
        budget = _InputBudget(loop.time())
        self.live += 1
        try:
            while True:
                # Read the next frame only once the answers to the last one are written: a client that
                # does not read stops being read, and its replies cannot pile up in memory.
                await caught_up.wait()
                message = await ws.take_message()
                if writer.done():  # closed or closing: frames still queued have no one to answer them
                    break
                heavy_wait = 0.0
                if len(message) > HEAVY_FRAME:  # one at a time server-wide, within HEAVY_SHARE of the clock
                    async with self._heavy:
                        cost = await self._take(ws, session, message, event_ids, refused, loop.time())
                        self._heavy.charge(cost, loop.time())
                else:
                    cost = await self._take(ws, session, message, event_ids, refused, loop.time())
                    if cost > HEAVY_COST:  # a small frame with a big answer (a retrieve of a big item)
                        heavy_wait = self._heavy.charge(cost, loop.time())
                _run_jobs(session, wake)
                caught_up.clear()
                wake.set()
                pause = max(budget.spend(cost, loop.time()), heavy_wait)
                if pause:  # this client's frames took more than their share: read its next one later
                    await asyncio.sleep(pause)
        except ConnectionClosed as closed:
            if closed.sent is not None and closed.sent.code == CloseCode.MESSAGE_TOO_BIG:
                log.warning("closed %s: %s (frames above %d bytes are not read)", _peer(ws), closed.sent.reason,
                            MAX_FRAME_BYTES)
            elif closed.sent is not None and closed.sent.code == CloseCode.TRY_AGAIN_LATER:
                log.warning("closed %s: %s", _peer(ws), closed.sent.reason)
        finally:
            writer.cancel()
            self.live -= 1
            self._finish(session)

    @staticmethod
    async def _take(ws: _BoundedConnection, session: Session, message: str | bytes | LargeText,
                    event_ids: Iterator[int], refused: list[str], now: float) -> float:
        """Check one client frame and hand it to the engine; returns the seconds of server time it took.

        A large text frame arrives as its bytes: checked as UTF-8 in steps, then an append goes to
        the engine as bytes (its audio is never one string); any other large frame is decoded.
        """
        cost, bulk = 0.0, None
        if isinstance(message, LargeText):
            await asyncio.sleep(0)  # reading it took a while: let sessions with frames due go first
            began = time.perf_counter()
            bulk = bulk_span(message)
            if bulk is not None and not is_event_audio(message, bulk[0]):
                bulk = None
            cost = time.perf_counter() - began
            text, problem, spent = await _utf8(message, keep=bulk is None)  # an append stays bytes
            cost += spent
            if problem is not None:  # as websockets itself answers a text frame that is not UTF-8
                _spawn(ws.close(CloseCode.INVALID_DATA, problem))  # not awaited: the heavy gate may be held
                return cost
            began = time.perf_counter()
            if bulk is not None:
                checked: str | bytes = without_audio(message, bulk)
            else:
                message = checked = "".join(text)
            cost += time.perf_counter() - began
            await asyncio.sleep(0)
        else:
            checked = message
        began = time.perf_counter()
        violation = check_frame(checked)
        cost += time.perf_counter() - began
        if violation is not None:
            refused.append(_error_text(f"event_limit{next(event_ids):08d}", violation.code, violation.message,
                                       violation.param, violation.event_id))
            return cost
        return cost + await _receive(ws, session, message, bulk, now, refused)

    @staticmethod
    async def _write(ws: ServerConnection, session: Session, wake: asyncio.Event, caught_up: asyncio.Event,
                     refused: list[str]) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                wake.clear()
                texts = session.poll(loop.time())
                _run_jobs(session, wake)
                if refused:
                    texts[:0], refused[:] = refused, []
                if len(texts) == 1:
                    await ws.send(texts[0])
                elif texts:
                    await _send_batch(ws, texts)
                if session.close is not None:
                    await ws.close(*session.close)
                    return
                caught_up.set()
                deadline = session.next_deadline()
                timer = loop.call_at(deadline, wake.set) if deadline is not None else None
                await wake.wait()
                if timer is not None:
                    timer.cancel()
        except ConnectionClosed:
            pass
        finally:
            caught_up.set()

    def _finish(self, session: Session) -> None:
        report = session.report()
        self.reports.append(report)
        if not report["ok"]:
            log.warning("strict replay: %s", report["message"])
        if self._on_report is not None:
            self._on_report(report)


_RUNNING: set = set()


def _run_jobs(session, wake: asyncio.Event) -> None:
    """Start the MCP requests the session asked for; each result goes back through `session.resolve`."""
    for job in session.take_jobs():
        _spawn(_run_job(session, job, wake))


def _spawn(coroutine) -> None:
    """Run `coroutine` as a task of its own, kept until it ends (the loop keeps only weak references)."""
    task = asyncio.get_running_loop().create_task(coroutine)
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)


async def _run_job(session, job, wake: asyncio.Event) -> None:
    bridge = McpBridge()
    result: list[dict] | str | McpError
    if job.kind == "list_tools":
        result = await bridge.list_tools(job.tool)
    else:
        result = await bridge.call_tool(job.tool, job.name, job.arguments)
    session.resolve(job, result, asyncio.get_running_loop().time())
    wake.set()


class _InputBudget:
    """The server time some frames may take: `share` of the clock on average, after a `burst`.

    Per connection (`INPUT_SHARE`, `INPUT_BURST`): a client flooding costly frames (huge, deep,
    retrieves of big items) is read more slowly, so the event loop keeps time for everyone else.
    """

    __slots__ = ("credit", "at", "share", "burst")

    def __init__(self, now: float, share: float = INPUT_SHARE, burst: float = INPUT_BURST):
        self.credit, self.at, self.share, self.burst = burst, now, share, burst

    def spend(self, cost: float, now: float) -> float:
        """Charge `cost` seconds at `now`; returns how long to wait before reading this client again."""
        self.credit = min(self.burst, self.credit + (now - self.at) * self.share) - cost
        self.at = now
        return self.due(now)

    def due(self, now: float) -> float:
        """Seconds from `now` until the credit is back to zero (0 when there is credit)."""
        credit = min(self.burst, self.credit + (now - self.at) * self.share)
        return -credit / self.share if credit < 0 else 0.0


class _HeavyGate:
    """Frames above `HEAVY_FRAME`, from every connection together: one at a time, within `HEAVY_SHARE`.

    Each waits its turn, then for the shared budget to have credit, so however many connections
    send large frames, they take at most about `HEAVY_SHARE` of the server's time between them.
    Small frames that cost more than `HEAVY_COST` are charged to the same budget afterwards.
    """

    def __init__(self):
        self._lock = asyncio.Lock()
        self._budget = _InputBudget(0.0, HEAVY_SHARE, HEAVY_BURST)   # full credit at any first use

    async def __aenter__(self) -> None:
        await self._lock.acquire()
        wait = self._budget.due(asyncio.get_running_loop().time())
        if wait:
            try:
                await asyncio.sleep(wait)
            except BaseException:  # cancelled while holding the turn: give it back (__aexit__ will not run)
                self._lock.release()
                raise

    async def __aexit__(self, *exc) -> None:
        self._lock.release()

    def charge(self, cost: float, now: float) -> float:
        """Charge `cost` seconds of heavy work at `now`; returns how long its connection should wait."""
        return self._budget.spend(cost, now)


async def _utf8(data: LargeText, keep: bool) -> tuple[list[str], str | None, float]:
    """`data` decoded `STEP_BYTES` at a time, yielding between steps: (the pieces if `keep`, a problem or
    None, seconds spent)."""
    decoder, view, cost = codecs.getincrementaldecoder("utf-8")(), memoryview(data), 0.0
    pieces: list[str] = []
    for at in range(0, len(data), STEP_BYTES):
        began = time.perf_counter()
        try:
            piece = decoder.decode(view[at:at + STEP_BYTES], final=at + STEP_BYTES >= len(data))
        except UnicodeDecodeError as exc:
            return pieces, f"{exc.reason} at position {at + exc.start}", cost + time.perf_counter() - began
        if keep:
            pieces.append(piece)
        cost += time.perf_counter() - began
        await asyncio.sleep(0)
    return pieces, None, cost


async def _receive(ws: ServerConnection, session: Session, message: FrameText, bulk: tuple[int, int] | None,
                   now: float, refused: list[str]) -> float:
    """Hand a frame to the engine; returns the seconds of server time it took.

    A large frame goes in steps (`bulk`: where an append's audio lies), other sessions' work
    between them. An engine failure is logged as one line and answered, never a traceback.
    """
    cost, began = 0.0, time.perf_counter()
    try:
        if len(message) <= LARGE_FRAME:
            session.receive(message, now)
        else:
            for _ in session.receive_steps(message, bulk, now):
                cost += time.perf_counter() - began
                await asyncio.sleep(0)
                began = time.perf_counter()
    except Exception as exc:  # an engine defect must not end the session or print a traceback
        log.error("replay engine failed on a frame from %s: %s: %s", _peer(ws), type(exc).__name__, str(exc)[:200])
        refused.append(_error_text("event_engine_failure", "server_error", "The replay server could not handle "
                                   "this event (a defect in the server, logged); the session goes on.",
                                   kind="server_error"))
    return cost + time.perf_counter() - began


def _error_text(event_id: str, code: str, message: str, param: str | None = None,
                client_event_id: str | None = None, kind: str = "invalid_request_error") -> str:
    """A protocol ``error`` event (the same shape in both dialects) as JSON text."""
    return json.dumps({"type": "error", "event_id": event_id, "error": {
        "type": kind, "code": code, "message": message, "param": param, "event_id": client_event_id}})


def _peer(ws: ServerConnection) -> str:
    address = ws.transport.get_extra_info("peername") if ws.transport is not None else None
    return f"{address[0]}:{address[1]}" if address else "a client"


async def _send_batch(ws: ServerConnection, texts: list[str]) -> None:
    """Send several text frames with one socket write (websockets' own send path, frames joined).

    Loopback sends cost more in the kernel than everything else the server does, so frames
    due together (an audio delta and its transcript delta) go out in one write.
    """
    async with ws.send_context():
        for text in texts:
            ws.protocol.send_text(text.encode())
        data = b"".join(ws.protocol.data_to_send())
        if data:
            ws.transport.write(data)


def _select_subprotocol(connection: ServerConnection, offered: Sequence[Subprotocol]) -> Subprotocol | None:
    """Echo ``realtime`` when offered (browsers may fail the handshake otherwise); accept none."""
    return Subprotocol("realtime") if "realtime" in offered else None


async def run(server: ReplayServer, host: str, port: int, started: Callable[[Server], None],
              stop: asyncio.Event) -> None:
    """Serve until `stop` is set; `started` is called once the socket listens."""
    async with server.serve(host, port) as ws_server:
        started(ws_server)
        await stop.wait()


def url_of(ws_server: Server) -> str:
    """``ws://HOST:PORT`` of a listening server."""
    host, port = next(iter(ws_server.sockets)).getsockname()[:2]
    return f"ws://{host}:{port}"
