"""helpers.mcp_local: a real MCP server (official `mcp` package) served on a free local port, then stopped."""

from __future__ import annotations

from urllib.parse import urlsplit

import anyio
from mcp import Client
from mcp.server.mcpserver import MCPServer

from helpers.mcp_local import MCP_PATH, serve_mcp


def counter_server() -> MCPServer:
    server = MCPServer("counter")

    @server.tool()
    def count_letters(word: str) -> str:
        """How many letters `word` has."""
        return f"{word} has {len(word)} letters"

    return server


async def list_and_call(url: str) -> tuple[list[str], str]:
    async with Client(url, read_timeout_seconds=10) as client:
        names = [tool.name for tool in (await client.list_tools()).tools]
        result = await client.call_tool("count_letters", {"word": "realtime"})
        return names, "\n".join(part.text for part in result.content if getattr(part, "type", "") == "text")


def test_a_tool_is_listed_and_called_through_the_official_client_then_it_stops():
    with serve_mcp(counter_server()) as url:
        parts = urlsplit(url)
        assert (parts.scheme, parts.hostname, parts.path) == ("http", "127.0.0.1", MCP_PATH) and parts.port
        names, text = anyio.run(list_and_call, url)      # no wait: the socket listens before serve_mcp yields
    # leaving the block did not raise: the server thread stopped within stop_timeout
    assert names == ["count_letters"] and text == "realtime has 8 letters"
