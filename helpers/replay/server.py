"""The thin asyncio adapter: the `websockets` library around the pure engine.

Serves ``/v1/realtime`` and ``/realtime`` (WebSocket), answers ``GET /health`` with 200 "ok",
and echoes the ``realtime`` subprotocol when a browser offers it. All protocol decisions are
the engine's (`helpers.replay.engine`); this module only moves frames and keeps time.
Keys and Authorization headers are never logged.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque
from collections.abc import Callable, Sequence
from http import HTTPStatus
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from ..cassette import scrub_text
from .engine import Library, Options, Refusal, Session, open_session
from .mcp import McpBridge
from .validation import warm_up

PATHS = ("/v1/realtime", "/realtime")
MAX_FRAME_BYTES = 32 * 1024 * 1024  # above the 15 MiB append limit, so the engine can answer with an error
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


class ReplayServer:
    """Serves the cassettes of one folder; `reports` collects one summary per finished session.

    `live` counts the sessions in progress; `on_report` is called with each summary as a session ends.
    """

    MAX_REPORTS = 1000

    def __init__(self, cassettes: str | Path | None, options: Options | None = None,
                 on_report: Callable[[dict], None] | None = None):
        self.library = Library(cassettes) if cassettes is not None else None
        self.options = options or Options()
        self.reports: deque[dict] = deque(maxlen=self.MAX_REPORTS)  # the newest session summaries
        self.live = 0
        self._on_report = on_report

    def serve(self, host: str = "127.0.0.1", port: int = 0):
        """The `websockets` server (an async context manager) listening on host:port."""
        warm_up()  # the SDK-model validators, before the first session needs them
        return serve(self._handle, host, port, process_request=self._process_request, select_subprotocol=_select_subprotocol,
                     max_size=MAX_FRAME_BYTES, compression=None, server_header="helpers-replay", logger=_wire_log)

    @staticmethod
    def _process_request(connection: ServerConnection, request):
        path = urlsplit(request.path).path.rstrip("/")
        if path == "/health":
            return connection.respond(HTTPStatus.OK, "ok\n")
        if path not in PATHS:
            return connection.respond(HTTPStatus.NOT_FOUND, f"Not found: use {' or '.join(PATHS)}\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None  # the handshake is done when a handler runs
        query = dict(parse_qsl(urlsplit(ws.request.path).query))
        headers = {name.lower(): value for name, value in ws.request.headers.raw_items()}
        offered = tuple(p.strip() for value in ws.request.headers.get_all("Sec-WebSocket-Protocol")
                        for p in value.split(","))
        outcome = open_session(query, headers, self.library, self.options, offered)
        if isinstance(outcome, Refusal):
            await ws.send(outcome.text)
            await ws.close(outcome.code, outcome.reason)
            return
        session: Session = outcome
        loop = asyncio.get_running_loop()
        session.start(loop.time())
        wake = asyncio.Event()
        writer = asyncio.create_task(self._write(ws, session, wake))
        self.live += 1
        try:
            async for message in ws:
                session.receive(message, loop.time())
                _run_jobs(session, wake)
                wake.set()
        except ConnectionClosed:
            pass
        finally:
            writer.cancel()
            self.live -= 1
            self._finish(session)

    @staticmethod
    async def _write(ws: ServerConnection, session: Session, wake: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                wake.clear()
                texts = session.poll(loop.time())
                _run_jobs(session, wake)
                if len(texts) == 1:
                    await ws.send(texts[0])
                elif texts:
                    await _send_batch(ws, texts)
                if session.close is not None:
                    await ws.close(*session.close)
                    return
                deadline = session.next_deadline()
                timer = loop.call_at(deadline, wake.set) if deadline is not None else None
                await wake.wait()
                if timer is not None:
                    timer.cancel()
        except ConnectionClosed:
            pass

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
    for job in session.take_jobs() if hasattr(session, "take_jobs") else ():
        task = asyncio.get_running_loop().create_task(_run_job(session, job, wake))
        _RUNNING.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(_RUNNING.discard)


async def _run_job(session, job, wake: asyncio.Event) -> None:
    bridge = McpBridge()
    if job.kind == "list_tools":
        result = await bridge.list_tools(job.tool)
    else:
        result = await bridge.call_tool(job.tool, job.name, job.arguments)
    session.resolve(job, result, asyncio.get_running_loop().time())
    wake.set()


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
