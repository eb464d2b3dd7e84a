"""Serve an MCP server (the official `mcp` package) over Streamable HTTP on a free local port.

    from mcp.server.mcpserver import MCPServer
    shop = MCPServer("shop")

    @shop.tool()
    def stock(item: str) -> int: ...

    with serve_mcp(shop) as url:      # http://127.0.0.1:PORT/mcp
        ...                           # give `url` to a session as an `mcp` tool's server_url

The socket is bound and listening before `serve_mcp` returns, so a client may connect at once.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

MCP_PATH = "/mcp"


@contextmanager
def serve_mcp(server: Any, *, host: str = "127.0.0.1", stop_timeout: float = 5.0) -> Iterator[str]:
    """Run `server` (an `mcp` MCPServer) in a background thread; yield its URL; stop it on exit."""
    app = server.streamable_http_app(streamable_http_path=MCP_PATH, stateless_http=True, json_response=True)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(64)
    web = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=lambda: asyncio.run(web.serve(sockets=[sock])),
                              name="mcp-server", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{sock.getsockname()[1]}{MCP_PATH}"
    finally:
        web.should_exit = True
        thread.join(stop_timeout)
        sock.close()
        if thread.is_alive():
            raise RuntimeError(f"the MCP server did not stop within {stop_timeout} s")
