"""Remote MCP tools as the replay server plays OpenAI's part (GA dialect only).

Two halves, kept apart: `McpFlow` is pure (which tools need approval, and the GA items and
events of discovery, calls and approvals, in the order of the reference §6), and `McpBridge` is
the I/O: a real client of the official `mcp` package that lists and calls the tools of the
session's `server_url`, so a learner sees real tool results, not recorded ones.

The orderings come from a third-party test fixture, not a capture (reference §6: unconfirmed);
so does the default when a tool sets no `require_approval` (here "always", as in OpenAI's
Responses-API MCP tool; unconfirmed for Realtime).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio

__all__ = ["McpBridge", "McpError", "McpFlow", "McpMisuse", "allowed", "check_tool", "requires_approval"]

REQUIRE_APPROVAL_DEFAULT = "always"   # unconfirmed for Realtime (see the module notes)


class McpMisuse(ValueError):
    """A client event that breaks the MCP flow (unknown approval request, bad tool entry...)."""


class McpError(RuntimeError):
    """The MCP server could not be reached, or it refused a request: becomes an item `error`."""

    def __init__(self, error: dict):
        super().__init__(error["message"])
        self.error = error


def check_tool(tool: dict) -> None:
    """Refuse an `mcp` tool entry the replay server cannot serve, with the reason."""
    if not isinstance(tool.get("server_label"), str) or not tool["server_label"]:
        raise McpMisuse("an mcp tool needs a non-empty 'server_label'")
    if not tool.get("server_url"):
        given = [key for key in ("connector_id", "tunnel_id") if tool.get(key)]
        raise McpMisuse(f"the replay server reaches MCP servers by server_url only "
                        f"(got {', '.join(given) or 'none of server_url, connector_id, tunnel_id'})")
    if not str(tool["server_url"]).startswith(("http://127.0.0.1", "http://localhost", "http://[::1]")):
        raise McpMisuse("the replay server only calls local MCP servers (http://127.0.0.1:PORT/...): "
                        "it has no outside network")


def _matches(selector: dict | None, name: str, read_only: bool) -> bool:
    if not selector:
        return False
    return name in (selector.get("tool_names") or ()) or (selector.get("read_only") is True and read_only)


def requires_approval(tool: dict, name: str, read_only: bool) -> bool:
    """Whether a call of `name` (read-only per its `readOnlyHint`) waits for the client's approval.

    A filter object: a `never` match runs freely, an `always` match waits; a tool that matches
    neither waits unless the object has an `always` filter (then only its matches wait).
    """
    rule = tool.get("require_approval") or REQUIRE_APPROVAL_DEFAULT
    if isinstance(rule, str):
        return rule == "always"
    if _matches(rule.get("never"), name, read_only):
        return False
    return _matches(rule.get("always"), name, read_only) or not rule.get("always")


def allowed(tool: dict, listed: list[dict]) -> list[dict]:
    """The listed tools that the entry's `allowed_tools` lets the model use."""
    rule = tool.get("allowed_tools")
    if rule is None:
        return listed
    if isinstance(rule, list):
        return [t for t in listed if t["name"] in rule]
    return [t for t in listed if _matches(rule, t["name"], bool((t.get("annotations") or {}).get("readOnlyHint")))]


@dataclass
class McpFlow:
    """The pure state of one session's MCP tools: listed tools, pending approvals, and their events."""

    new_id: Callable[[str], str]
    tools: dict[str, dict] = field(default_factory=dict)           # server_label -> session tool entry
    listed: dict[str, list[dict]] = field(default_factory=dict)    # server_label -> listed tools
    pending: dict[str, dict] = field(default_factory=dict)         # approval request id -> request item
    approved: dict[str, bool] = field(default_factory=dict)        # approval request id -> approve

    def discovery_started(self, tool: dict) -> tuple[str, list[dict]]:
        """The events that open discovery of `tool`'s server (before `session.updated`), and the item id."""
        check_tool(tool)
        self.tools[tool["server_label"]] = tool
        item_id = self.new_id("mcp_list_")
        item = {"id": item_id, "type": "mcp_list_tools", "server_label": tool["server_label"], "tools": []}
        return item_id, [{"type": "conversation.item.added", "previous_item_id": None, "item": item},
                         {"type": "mcp_list_tools.in_progress", "item_id": item_id}]

    def discovery_finished(self, label: str, item_id: str, listed: list[dict] | McpError) -> list[dict]:
        """The events after `session.updated`: the filled item and `completed`, or `failed`."""
        if isinstance(listed, McpError):
            return [{"type": "mcp_list_tools.failed", "item_id": item_id}]
        usable = allowed(self.tools[label], listed)
        self.listed[label] = usable
        item = {"id": item_id, "type": "mcp_list_tools", "server_label": label, "tools": usable}
        return [{"type": "conversation.item.done", "previous_item_id": None, "item": item},
                {"type": "mcp_list_tools.completed", "item_id": item_id}]

    def tool_for(self, label: str, name: str) -> dict:
        """The listed tool `name` of server `label`; McpMisuse when discovery never listed it."""
        for listed in self.listed.get(label, ()):
            if listed["name"] == name:
                return listed
        raise McpMisuse(f"MCP server {label!r} lists no tool {name!r} (listed: "
                        f"{', '.join(t['name'] for t in self.listed.get(label, ())) or 'none'})")

    def call_streamed(self, response_id: str, output_index: int, label: str, name: str,
                      arguments: dict) -> tuple[dict, list[dict]]:
        """The model calls `name`: the `mcp_call` item and its argument events (first half of a call)."""
        listed = self.tool_for(label, name)
        text = json.dumps(arguments, separators=(",", ":"), sort_keys=True)
        item: dict[str, Any] = {"id": self.new_id("mcp_"), "type": "mcp_call", "server_label": label, "name": name,
                "arguments": "", "approval_request_id": None, "output": None, "error": None}
        where = {"response_id": response_id, "item_id": item["id"], "output_index": output_index}
        events: list[dict] = [{"type": "response.output_item.added", "response_id": response_id, "output_index": output_index,
                   "item": item},
                  *({"type": "response.mcp_call_arguments.delta", **where, "delta": text[i:i + 16]}
                    for i in range(0, len(text), 16)),
                  {"type": "response.mcp_call_arguments.done", **where, "arguments": text}]
        item = dict(item, arguments=text)
        read_only = bool((listed.get("annotations") or {}).get("readOnlyHint"))
        if requires_approval(self.tools[label], name, read_only):
            item["approval_request_id"] = self.new_id("mcpr_")
            self.pending[item["approval_request_id"]] = item
        return item, events

    def approval_request(self, item: dict) -> list[dict]:
        """After the response that streamed `item` is done: the `mcp_approval_request` item the client answers."""
        request = {"id": item["approval_request_id"], "type": "mcp_approval_request",
                   "server_label": item["server_label"], "name": item["name"], "arguments": item["arguments"]}
        return [{"type": "conversation.item.added", "previous_item_id": item["id"], "item": request},
                {"type": "conversation.item.done", "previous_item_id": item["id"], "item": request}]

    def approval_answered(self, response: dict) -> None:
        """Record the client's `mcp_approval_response` item; McpMisuse for an unknown or repeated request."""
        request_id = response.get("approval_request_id")
        if request_id not in self.pending:
            raise McpMisuse(f"mcp_approval_response names approval_request_id {request_id!r}, which is "
                            f"not a pending request (pending: {', '.join(self.pending) or 'none'})")
        if not isinstance(response.get("approve"), bool):
            raise McpMisuse("mcp_approval_response needs 'approve': true or false")
        self.approved[request_id] = response["approve"]

    def ready_calls(self) -> list[tuple[dict, bool]]:
        """Calls whose approval arrived (item, approved), removed from the pending ones."""
        ready = [(self.pending.pop(rid), ok) for rid, ok in list(self.approved.items()) if rid in self.pending]
        self.approved.clear()
        return ready

    @staticmethod
    def call_started(item: dict, output_index: int) -> dict:
        """`response.mcp_call.in_progress` (no `response_id`, as in the SDK)."""
        return {"type": "response.mcp_call.in_progress", "item_id": item["id"], "output_index": output_index}

    @staticmethod
    def call_finished(item: dict, output_index: int, result: str | McpError, response_id: str) -> tuple[dict, list[dict]]:
        """The call's outcome: `completed` with the output, or `failed` with an item `error`; then the item done."""
        if isinstance(result, McpError):
            done = dict(item, error=result.error)
            kind = "response.mcp_call.failed"
        else:
            done = dict(item, output=result)
            kind = "response.mcp_call.completed"
        return done, [{"type": kind, "item_id": item["id"], "output_index": output_index},
                      {"type": "response.output_item.done", "response_id": response_id,
                       "output_index": output_index, "item": done}]

    @staticmethod
    def denied(item: dict) -> McpError:
        """The error an unapproved call ends with (the wording is the replay server's own)."""
        return McpError({"type": "tool_execution_error", "message": "the user did not approve this call"})


@dataclass
class McpBridge:
    """A real MCP client (official `mcp` package, Streamable HTTP): list and call tools with a timeout."""

    timeout: float = 10.0

    async def list_tools(self, tool: dict) -> list[dict] | McpError:
        """The tools of `tool`'s server, in the Realtime `mcp_list_tools` shape, or the error."""
        async def work(client) -> list[dict]:
            result = await client.list_tools()
            return [{"name": t.name, "input_schema": t.input_schema, "description": t.description,
                     "annotations": t.annotations.model_dump(by_alias=True, exclude_none=True) if t.annotations else None}
                    for t in result.tools]
        return await self._with_client(tool, work)

    async def call_tool(self, tool: dict, name: str, arguments: str) -> str | McpError:
        """Call `name` with JSON `arguments`; the text of its result, or the error."""
        async def work(client) -> str | McpError:
            result = await client.call_tool(name, json.loads(arguments or "{}"))
            text = "\n".join(part.text for part in result.content if getattr(part, "type", "") == "text")
            if result.is_error:
                return McpError({"type": "tool_execution_error", "message": text or "the tool failed"})
            return text
        return await self._with_client(tool, work)

    async def _with_client(self, tool: dict, work):
        from mcp import Client  # imported here: the `mcp` package is only needed when a session uses MCP
        try:
            with anyio.fail_after(self.timeout):
                async with Client(tool["server_url"], read_timeout_seconds=self.timeout) as client:
                    return await work(client)
        except TimeoutError:
            return McpError({"type": "http_error", "code": 504,
                             "message": f"MCP server {tool['server_label']!r} did not answer within {self.timeout} s"})
        except Exception as exc:  # the mcp package wraps transport failures in exception groups
            cause = _first_cause(exc)
            if isinstance(cause, OSError) or "Connect" in type(cause).__name__:
                return McpError({"type": "http_error", "code": 502,
                                 "message": f"MCP server {tool['server_label']!r} unreachable: {cause}"})
            return McpError({"type": "protocol_error", "code": -32603,
                             "message": f"MCP server {tool['server_label']!r}: {type(cause).__name__}: {cause}"})


def _first_cause(exc: BaseException) -> BaseException:
    """The innermost first exception of nested exception groups."""
    while isinstance(getattr(exc, "exceptions", None), tuple) and exc.exceptions:  # type: ignore[attr-defined]
        exc = exc.exceptions[0]  # type: ignore[attr-defined]  # (BaseExceptionGroup is 3.11+; anyio's on 3.10)
    return exc
