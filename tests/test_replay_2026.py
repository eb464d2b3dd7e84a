"""The 2026 event families of the replay server: shapes validated by the openai SDK, orderings, misuse.

MCP runs against a real local MCP server (official `mcp` package) on port 0: listing and calling
its tools really happens, so the outputs checked here come from the tool functions below.
"""

from __future__ import annotations

import itertools
from typing import Annotated, Union, get_args

import anyio
import pytest
from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations
from openai.types.realtime import RealtimeServerEvent
from pydantic import BaseModel, Field, TypeAdapter

from helpers.mcp_local import serve_mcp
from helpers.replay.mcp import McpBridge, McpError, McpFlow, McpMisuse, requires_approval

_MEMBERS = get_args(get_args(RealtimeServerEvent)[0])
GA = TypeAdapter(Annotated[Union[_MEMBERS], Field(discriminator="type")])
_counter = itertools.count()


def validated(events: list[dict]) -> list[str]:
    """Validate each event with the SDK's GA server-event models (no unknown top-level keys); their types."""
    for event in events:
        model = GA.validate_python({"event_id": f"event_{next(_counter)}", **event})
        assert isinstance(model, BaseModel)
        unknown = set(event) - set(type(model).model_fields)
        assert not unknown, (event["type"], unknown)
    return [e["type"] for e in events]


def shop_server() -> MCPServer:
    shop = MCPServer("shop")

    @shop.tool(annotations=ToolAnnotations(readOnlyHint=True))
    def stock(item: str) -> str:
        """How many of `item` the shop has."""
        return f"{len(item) * 3} {item}s in stock"

    @shop.tool()
    def order(item: str, count: int) -> str:
        """Order `count` of `item`."""
        if count > 10:
            raise ValueError("at most 10 per order")
        return f"ordered {count} {item}"

    return shop


@pytest.fixture(scope="module")
def shop_url():
    with serve_mcp(shop_server()) as url:
        yield url


def new_flow() -> McpFlow:
    ids = itertools.count()
    return McpFlow(new_id=lambda prefix: f"{prefix}{next(ids):04d}")


def discover(flow: McpFlow, tool: dict) -> list[str]:
    item_id, before = flow.discovery_started(tool)
    listed = anyio.run(McpBridge(timeout=5).list_tools, tool)
    after = flow.discovery_finished(tool["server_label"], item_id, listed)
    return validated(before) + ["session.updated"] + validated(after)


def test_mcp_discovery_lists_the_real_tools_in_the_documented_order(shop_url):
    flow = new_flow()
    tool = {"type": "mcp", "server_label": "shop", "server_url": shop_url, "require_approval": "never"}
    assert discover(flow, tool) == ["conversation.item.added", "mcp_list_tools.in_progress", "session.updated",
                                    "conversation.item.done", "mcp_list_tools.completed"]
    listed = {t["name"]: t for t in flow.listed["shop"]}
    assert set(listed) == {"stock", "order"}
    assert listed["stock"]["annotations"] == {"readOnlyHint": True}
    assert listed["order"]["input_schema"]["required"] == ["item", "count"]


def test_allowed_tools_filters_what_the_model_sees(shop_url):
    flow = new_flow()
    discover(flow, {"type": "mcp", "server_label": "shop", "server_url": shop_url,
                    "allowed_tools": {"read_only": True}})
    assert [t["name"] for t in flow.listed["shop"]] == ["stock"]
    with pytest.raises(McpMisuse, match="lists no tool 'order' \\(listed: stock\\)"):
        flow.call_streamed("resp_1", 0, "shop", "order", {"item": "pear", "count": 1})


def test_a_call_without_approval_runs_the_real_tool(shop_url):
    flow = new_flow()
    tool = {"type": "mcp", "server_label": "shop", "server_url": shop_url, "require_approval": "never"}
    discover(flow, tool)
    item, streamed = flow.call_streamed("resp_1", 0, "shop", "stock", {"item": "pear"})
    assert item["approval_request_id"] is None
    result = anyio.run(McpBridge(timeout=5).call_tool, tool, item["name"], item["arguments"])
    done, finished = flow.call_finished(item, 0, result, "resp_1")
    types = validated(streamed) + validated([flow.call_started(item, 0)]) + validated(finished)
    assert types[0] == "response.output_item.added" and types[-3:] == [
        "response.mcp_call.in_progress", "response.mcp_call.completed", "response.output_item.done"]
    assert {"response.mcp_call_arguments.delta", "response.mcp_call_arguments.done"} <= set(types)
    assert "".join(e["delta"] for e in streamed if e["type"].endswith("arguments.delta")) == '{"item":"pear"}'
    assert done["output"] == "12 pears in stock" and done["error"] is None


def test_approval_flow_runs_approved_calls_and_fails_denied_ones(shop_url):
    flow = new_flow()
    tool = {"type": "mcp", "server_label": "shop", "server_url": shop_url}      # default: always approve
    discover(flow, tool)
    yes, _ = flow.call_streamed("resp_1", 0, "shop", "order", {"item": "pear", "count": 2})
    no, _ = flow.call_streamed("resp_1", 1, "shop", "order", {"item": "fig", "count": 1})
    request = flow.approval_request(yes)
    assert validated(request) == ["conversation.item.added", "conversation.item.done"]
    assert request[0]["item"] == {"id": yes["approval_request_id"], "type": "mcp_approval_request",
                                  "server_label": "shop", "name": "order", "arguments": yes["arguments"]}
    flow.approval_answered({"type": "mcp_approval_response", "approval_request_id": yes["approval_request_id"],
                            "approve": True})
    flow.approval_answered({"type": "mcp_approval_response", "approval_request_id": no["approval_request_id"],
                            "approve": False})
    outcomes = {}
    for item, approved in flow.ready_calls():
        result = (anyio.run(McpBridge(timeout=5).call_tool, tool, item["name"], item["arguments"]) if approved
                  else flow.denied(item))
        done, events = flow.call_finished(item, 0, result, "resp_2")
        outcomes[item["id"]] = (done, validated(events)[0])
    assert outcomes[yes["id"]][0]["output"] == "ordered 2 pear" and outcomes[yes["id"]][1] == "response.mcp_call.completed"
    assert outcomes[no["id"]][0]["error"]["type"] == "tool_execution_error"
    assert outcomes[no["id"]][1] == "response.mcp_call.failed"
    assert flow.pending == {} and flow.ready_calls() == []


def test_a_tool_error_becomes_a_failed_call_with_an_execution_error(shop_url):
    tool = {"type": "mcp", "server_label": "shop", "server_url": shop_url}
    result = anyio.run(McpBridge(timeout=5).call_tool, tool, "order", '{"item": "pear", "count": 99}')
    assert isinstance(result, McpError) and result.error["type"] == "tool_execution_error"


def test_an_unreachable_server_fails_listing_with_an_http_error():
    flow = new_flow()
    with serve_mcp(shop_server()) as url:
        pass                                                   # stopped: nothing listens there now
    tool = {"type": "mcp", "server_label": "gone", "server_url": url}
    item_id, _ = flow.discovery_started(tool)
    listed = anyio.run(McpBridge(timeout=5).list_tools, tool)
    assert isinstance(listed, McpError) and listed.error["type"] == "http_error" and listed.error["code"] == 502
    assert validated(flow.discovery_finished("gone", item_id, listed)) == ["mcp_list_tools.failed"]


def test_misuse_is_refused_with_the_reason(shop_url):
    flow = new_flow()
    with pytest.raises(McpMisuse, match="server_url only"):
        flow.discovery_started({"type": "mcp", "server_label": "drive", "connector_id": "connector_googledrive"})
    with pytest.raises(McpMisuse, match="no outside network"):
        flow.discovery_started({"type": "mcp", "server_label": "far", "server_url": "https://mcp.example.com/mcp"})
    with pytest.raises(McpMisuse, match="non-empty 'server_label'"):
        flow.discovery_started({"type": "mcp", "server_url": shop_url})
    with pytest.raises(McpMisuse, match="not a pending request \\(pending: none\\)"):
        flow.approval_answered({"approval_request_id": "mcpr_nope", "approve": True})
    discover(flow, {"type": "mcp", "server_label": "shop", "server_url": shop_url})
    item, _ = flow.call_streamed("resp_1", 0, "shop", "order", {"item": "pear", "count": 1})
    with pytest.raises(McpMisuse, match="'approve': true or false"):
        flow.approval_answered({"approval_request_id": item["approval_request_id"], "approve": "yes"})


@pytest.mark.parametrize("rule, name, read_only, expected", [
    ("never", "order", False, False),
    ("always", "stock", True, True),
    (None, "stock", True, True),
    ({"never": {"read_only": True}}, "stock", True, False),
    ({"never": {"read_only": True}}, "order", False, True),
    ({"always": {"tool_names": ["order"]}}, "stock", True, False),
    ({"always": {"tool_names": ["order"]}}, "order", False, True),
])
def test_require_approval_rules(rule, name, read_only, expected):
    assert requires_approval({"require_approval": rule}, name, read_only) is expected
