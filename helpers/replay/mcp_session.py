"""Remote MCP tools inside a replay session (GA): the engine's side of `helpers.replay.mcp`.

The cassette holds what the model did (an ``mcp_call`` item with its name and arguments); the
tool list and every tool result come from the real MCP server the session names. The engine is
sans-I/O, so each MCP request becomes a `Job` the adapter runs (with `McpBridge`) and hands back
through `resolve`; while a call runs, the response that made it is held.

Flows (reference §6, from a third-party fixture: unconfirmed):
* ``session.update`` with an ``mcp`` tool: ``conversation.item.added`` (``mcp_list_tools``, no tools
  yet) and ``mcp_list_tools.in_progress`` before ``session.updated``; when the list arrives,
  ``conversation.item.done`` (tools filled) and ``mcp_list_tools.completed`` (or ``.failed``).
* a call that needs no approval: ``response.mcp_call.in_progress``, the real call, then
  ``response.mcp_call.completed`` (or ``.failed``) and the item done with its ``output``, inside the
  same response.
* a call that needs approval: the response ends with the call not run; an ``mcp_approval_request``
  item follows; the client adds an ``mcp_approval_response`` item and sends ``response.create``;
  the call runs (``in_progress`` -> ``completed``, or ``failed`` when denied) before the next
  recorded response starts.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from .mcp import McpError, McpFlow, McpMisuse
from .validation import ClientError

__all__ = ["Job", "McpTools"]


@dataclass
class Job:
    """One MCP request for the adapter: ``list_tools`` (of `tool`) or ``call_tool`` (`name`, `arguments`)."""

    kind: str
    tool: dict
    name: str = ""
    arguments: str = ""
    token: int = 0


@dataclass
class McpTools:
    """The MCP state of one session: discovery, calls waiting for the server or the client, held responses."""

    outbox: Any
    conversation: Any
    flow: McpFlow = field(init=False)
    jobs: list[Job] = field(default_factory=list)
    waiting: dict[int, tuple] = field(default_factory=dict)    # job token -> what to do with the result
    finals: dict[str, dict] = field(default_factory=dict)      # mcp_call item id -> the item as finished live
    _tokens: int = 0

    def __post_init__(self) -> None:
        outbox = self.outbox  # not `self`: a closure over the session's parts would make a reference cycle
        self.flow = McpFlow(new_id=lambda prefix: outbox.new_id(prefix.rstrip("_")))

    @property
    def busy(self) -> bool:
        """True while an MCP request is out."""
        return bool(self.waiting)

    def _job(self, job: Job, then: tuple) -> None:
        self._tokens += 1
        job.token = self._tokens
        self.jobs.append(job)
        self.waiting[job.token] = then

    def take_jobs(self) -> list[Job]:
        """The requests for the adapter to run (each once)."""
        jobs, self.jobs = self.jobs, []
        return jobs

    # -- discovery ------------------------------------------------------------------------------
    def session_tools(self, tools: Any, now: float) -> None:
        """Start discovery of each new ``mcp`` tool of a ``session.update`` (before its ``session.updated``)."""
        for tool in tools if isinstance(tools, list) else []:
            if not isinstance(tool, dict) or tool.get("type") != "mcp" or tool.get("server_label") in self.flow.tools:
                continue
            try:
                item_id, events = self.flow.discovery_started(tool)
            except McpMisuse as exc:
                raise ClientError("invalid_value", str(exc), "session.tools") from None
            self.conversation.items.append({"id": item_id, "type": "mcp_list_tools",
                                            "server_label": tool["server_label"], "tools": []})
            self._send(events, now)
            self._job(Job("list_tools", tool), ("listed", tool["server_label"], item_id))

    # -- calls -----------------------------------------------------------------------------------
    def intercept(self, step, due: float, response_id: str) -> str | None:
        """Called before each recorded step: "hold" (the response waits for a call), "skip", or None (play it)."""
        item = step.event.get("item") if isinstance(step.event.get("item"), dict) else None
        if item is None or item.get("type") != "mcp_call" or step.kind != "conversation.item.done":
            return None
        if item["id"] in self.finals:
            return None
        try:
            live, _ = self.flow.call_streamed(response_id, 0, item["server_label"], item["name"],
                                              _arguments(item["arguments"]))
        except McpMisuse as exc:
            live = dict(item, error={"type": "protocol_error", "code": -32602, "message": str(exc)})
            self.finals[item["id"]] = live
            return None
        live = dict(item, approval_request_id=live["approval_request_id"])
        if live["approval_request_id"]:
            self.flow.pending[live["approval_request_id"]] |= {"id": item["id"], "arguments": item["arguments"],
                                                               "output_index": _output_index(step)}
            self.finals[item["id"]] = live
            return None
        index = _output_index(step)
        self.outbox.send("response.mcp_call.in_progress", due, item_id=item["id"], output_index=index)
        self._job(Job("call_tool", self.flow.tools[item["server_label"]], item["name"], item["arguments"]),
                  ("called", live, index, response_id))
        return "hold"

    def rewrite(self, event: dict) -> dict:
        """A recorded event about an ``mcp_call`` item, with the item as it finished live."""
        item = event.get("item")
        if isinstance(item, dict) and item.get("id") in self.finals:
            return dict(event, item=copy.deepcopy(self.finals[item["id"]]))
        response = event.get("response")
        if isinstance(response, dict) and isinstance(response.get("output"), list):
            output = [copy.deepcopy(self.finals.get(i.get("id"), i)) for i in response["output"]]
            return dict(event, response=dict(response, output=output))
        return event

    def after_response(self, now: float) -> None:
        """After ``response.done``: the approval request items of calls waiting for the client."""
        for request_id, call in list(self.flow.pending.items()):
            if call.get("requested"):
                continue
            call["requested"] = True
            request = {"id": request_id, "type": "mcp_approval_request", "server_label": call["server_label"],
                       "name": call["name"], "arguments": call["arguments"]}
            self.conversation.add(request, None, now)

    def approval(self, item: dict, now: float) -> None:
        """Record the client's ``mcp_approval_response`` item and acknowledge it."""
        try:
            self.flow.approval_answered(item)
        except McpMisuse as exc:
            raise ClientError("invalid_value", str(exc), "item.approval_request_id") from None
        stored = {"id": item.get("id") or self.outbox.new_id("item"), "type": "mcp_approval_response",
                  "approval_request_id": item["approval_request_id"], "approve": item["approve"]}
        if item.get("reason") is not None:
            stored["reason"] = item["reason"]
        self.conversation.add(stored, None, now)

    def run_approved(self, now: float) -> bool:
        """On ``response.create``: run (or fail) the answered calls; True while some still run."""
        for call, approved in self.flow.ready_calls():
            live = {k: call[k] for k in ("id", "type", "server_label", "name", "arguments", "approval_request_id")}
            live.update(output=None, error=None)
            index = call.get("output_index", 0)
            self.outbox.send("response.mcp_call.in_progress", now, item_id=live["id"], output_index=index)
            if approved:
                self._job(Job("call_tool", self.flow.tools[live["server_label"]], live["name"], live["arguments"]),
                          ("approved", live, index))
            else:
                self._finish(live, index, McpFlow.denied(live), now)
        return self.busy

    def resolve(self, job: Job, result: list | str | McpError, now: float) -> tuple | None:
        """The adapter's answer to `job`; returns what the engine must resume ("called"/"approved" entries)."""
        then = self.waiting.pop(job.token)
        if then[0] == "listed":
            _, label, item_id = then
            assert not isinstance(result, str), "a tools listing, never a call's text"
            events = self.flow.discovery_finished(label, item_id, result)
            for index, item in enumerate(self.conversation.items):
                if item.get("id") == item_id:
                    self.conversation.items[index] = dict(item, tools=self.flow.listed.get(label, []))
            self._send(events, now)
            return None
        live, index = then[1], then[2]
        assert not isinstance(result, list), "a call's text, never a tools listing"
        self._finish(live, index, result, now, announce=then[0] == "approved")
        return then

    def _finish(self, live: dict, index: int, result: str | McpError, now: float, announce: bool = True) -> None:
        """Send the call's `completed`/`failed`; outside a response also the finished item itself."""
        done, events = McpFlow.call_finished(live, index, result, "")
        self.finals[done["id"]] = done
        self.conversation.remember(done)
        self.outbox.send(events[0]["type"], now, item_id=done["id"], output_index=index)
        if announce:
            self.outbox.send("conversation.item.done", now, previous_item_id=self.conversation.previous_id(done["id"]),
                             item=copy.deepcopy(done))

    def _send(self, events: list[dict], now: float) -> None:
        for event in events:
            self.outbox.send(event["type"], now, **{k: v for k, v in event.items() if k != "type"})


def _arguments(text: Any) -> dict:
    import json
    try:
        value = json.loads(text) if isinstance(text, str) and text else {}
    except ValueError:
        value = {}
    return value if isinstance(value, dict) else {}


def _output_index(step) -> int:
    value = step.event.get("output_index")
    return value if isinstance(value, int) else 0
