"""A scriptable WebSocket server on a background thread, for testing clients on port 0."""

from __future__ import annotations

import asyncio
import threading
from contextlib import contextmanager

from websockets.asyncio.server import serve


@contextmanager
def ws_server(handler, process_request=None):
    """Serve `handler(connection)` on 127.0.0.1:<free port>; yield the ws:// URL."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state = {}

    async def main():
        async with serve(handler, "127.0.0.1", 0, process_request=process_request,
                         max_size=None, ping_interval=None) as server:
            state["port"] = server.sockets[0].getsockname()[1]
            state["stop"] = asyncio.Event()
            ready.set()
            await state["stop"].wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(5), "test server did not start"
    try:
        yield f"ws://127.0.0.1:{state['port']}"
    finally:
        loop.call_soon_threadsafe(state["stop"].set)
        thread.join(5)
        loop.close()
