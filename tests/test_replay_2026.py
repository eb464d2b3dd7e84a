"""The 2026 event families of the replay server: shapes validated by the openai SDK, orderings, misuse.

MCP runs against a real local MCP server (official `mcp` package) on port 0: listing and calling
its tools really happens, so the outputs checked here come from the tool functions below.
"""

from __future__ import annotations

import itertools

import anyio
import pytest
from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

from helpers.mcp_local import serve_mcp
from helpers.replay.mcp import McpBridge, McpError, McpFlow, McpMisuse, requires_approval
from tests.ga_schema import validated


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


# -- transcription-only sessions --------------------------------------------------------------

from helpers.replay.transcription import TranscriptionSession  # noqa: E402

WHISPER = {"type": "transcription", "audio": {"input": {"transcription": {"model": "gpt-realtime-whisper"},
                                                        "turn_detection": None}}}


def transcription_session(*transcripts: str) -> TranscriptionSession:
    ids = itertools.count()
    return TranscriptionSession(transcripts, new_id=lambda prefix: f"{prefix}{next(ids):04d}", expires_at=1_800_000_000)


def pcm_event(ms: int) -> dict:
    import base64
    return {"type": "input_audio_buffer.append", "audio": base64.b64encode(bytes(ms * 48)).decode()}


def test_transcription_session_shape_and_update():
    session = transcription_session("hello")
    (_, created), = session.created()
    validated([created])
    assert created["session"]["type"] == "transcription" and "model" not in created["session"]
    assert created["session"]["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    (_, updated), = session.handle({"type": "session.update", "session": WHISPER}, 10)
    validated([updated])
    assert updated["session"]["audio"]["input"]["transcription"] == {"model": "gpt-realtime-whisper"}
    assert updated["session"]["audio"]["input"]["turn_detection"] is None


def test_transcription_event_order_and_out_of_order_completions_reconciled_by_item_id():
    session = transcription_session("This first turn is a long one, spoken for six seconds.", "Short turn.")
    session.handle({"type": "session.update", "session": WHISPER}, 0)
    session.handle(pcm_event(6000), 0)
    first = session.handle({"type": "input_audio_buffer.commit"}, 6000)
    session.handle(pcm_event(800), 6000)
    second = session.handle({"type": "input_audio_buffer.commit"}, 7000)
    for handled in (first, second):
        types = validated([e for _, e in handled])
        assert types[:3] == ["input_audio_buffer.committed", "conversation.item.added", "conversation.item.done"]
        assert set(types[3:-1]) == {"conversation.item.input_audio_transcription.delta"}
        assert types[-1] == "conversation.item.input_audio_transcription.completed"
        assert all(t >= handled[0][0] for t, _ in handled)
    assert "response" not in " ".join(e["type"] for _, e in first + second)
    timeline = sorted(first + second, key=lambda pair: pair[0])
    completed = [e for _, e in timeline if e["type"].endswith("completed")]
    ids = [e["item_id"] for _, e in first[:1] + second[:1]]
    assert [e["item_id"] for e in completed] == ids[::-1]           # the short second turn completes first
    captions: dict[str, str] = {}
    for _, event in timeline:
        if event["type"].endswith("transcription.delta"):
            captions[event["item_id"]] = captions.get(event["item_id"], "") + event["delta"]
    assert [captions[i] for i in ids] == ["This first turn is a long one, spoken for six seconds.", "Short turn."]
    assert [e["transcript"] for e in completed] == ["Short turn.", "This first turn is a long one, spoken for six seconds."]
    assert second[0][1]["previous_item_id"] == ids[0]


def test_transcription_session_refuses_misuse():
    session = transcription_session("only one")

    def error_of(event, at=0):
        (_, reply), = session.handle(event, at)
        validated([reply])
        assert reply["type"] == "error"
        return reply["error"]

    assert "no responses" in error_of({"type": "response.create"})["message"]
    assert error_of({"type": "session.update", "session": {"type": "realtime"}})["param"] == "session.type"
    vad_whisper = {"type": "transcription", "audio": {"input": {"transcription": {"model": "gpt-realtime-whisper"}}}}
    assert "does not support VAD" in error_of({"type": "session.update", "session": vad_whisper})["message"]
    session.handle(pcm_event(500), 0)
    assert "set session.audio.input.transcription" in error_of({"type": "input_audio_buffer.commit"})["message"]
    session.handle({"type": "session.update", "session": WHISPER}, 0)
    session.handle({"type": "input_audio_buffer.clear"}, 0)
    session.handle(pcm_event(50), 0)
    assert error_of({"type": "input_audio_buffer.commit"})["code"] == "input_audio_buffer_commit_empty"
    session.handle(pcm_event(500), 0)
    assert session.handle({"type": "input_audio_buffer.commit"}, 0)[0][1]["type"] == "input_audio_buffer.committed"
    session.handle(pcm_event(500), 0)
    assert "has 1 transcript" in error_of({"type": "input_audio_buffer.commit"})["message"]
    assert error_of({"type": "input_audio_buffer.append", "audio": "not base64!"})["param"] == "audio"


# -- on the wire: reasoning, images, out-of-band responses, truncation --------------------------

import base64 as _b64  # noqa: E402
from pathlib import Path  # noqa: E402

import helpers  # noqa: E402
from helpers import events  # noqa: E402
from helpers.replay import serve_in_background  # noqa: E402

PNG = (Path(__file__).resolve().parent.parent / "media" / "sales_chart.png").read_bytes()


@pytest.fixture(scope="module")
def replay():
    with serve_in_background(speed=0) as server:
        yield server


def ga_client(replay, cassette: str | None = None, model: str = "gpt-realtime-2.1"):
    client = helpers.connect("replay", url=replay.url, model=model, cassette=cassette, log=False)
    client.wait_for("session.created", timeout=5)
    return client


def refused(client, event: dict) -> dict:
    client.send(event)
    return client.wait_for("error", timeout=5)["error"]


def test_reasoning_is_echoed_on_reasoning_models_and_refused_elsewhere(replay):
    with ga_client(replay) as client:
        client.send(events.session_update({"type": "realtime", "reasoning": {"effort": "high"}}))
        assert client.wait_for("session.updated", timeout=5)["session"]["reasoning"] == {"effort": "high"}
        error = refused(client, events.session_update({"type": "realtime", "reasoning": {"effort": "extreme"}}))
        assert error["code"] == "invalid_value" and "reasoning" in error["param"]
    with ga_client(replay, model="gpt-realtime-1.5") as client:
        error = refused(client, events.session_update({"type": "realtime", "reasoning": {"effort": "low"}}))
        assert (error["code"], error["param"]) == ("unsupported_parameter", "session.reasoning")
        error = refused(client, events.response_create(parallel_tool_calls=True))
        assert error["param"] == "response.parallel_tool_calls" and "gpt-realtime-2.1" in error["message"]


def image_message(url: str) -> dict:
    return events.item_create({"type": "message", "role": "user", "content": [
        {"type": "input_text", "text": "What is this?"}, {"type": "input_image", "image_url": url, "detail": "low"}]})


def test_input_image_must_be_a_png_or_jpeg_data_uri(replay):
    with ga_client(replay) as client:
        client.send(image_message("data:image/png;base64," + _b64.b64encode(PNG).decode()))
        added = client.wait_for("conversation.item.added", timeout=5)["item"]
        validated([{"type": "conversation.item.added", "item": added, "previous_item_id": None}])
        assert [p["type"] for p in added["content"]] == ["input_text", "input_image"]
        for url, reason in [("https://example.com/chart.png", "Remote URLs"),
                            ("data:image/gif;base64,R0lGODlhAQABAAAAACw=", "PNG or JPEG"),
                            ("data:image/png;base64,not*base64", "does not decode"),
                            ("data:image/jpeg;base64," + _b64.b64encode(PNG).decode(), "not a JPEG")]:
            error = refused(client, image_message(url))
            assert error["code"] == "invalid_image_url" and reason in error["message"]
            assert error["param"] == "item.content[1].image_url"


def test_out_of_band_response_leaves_the_conversation_untouched(replay):
    with ga_client(replay, "18_long_conversation") as client:
        client.send(events.session_update({"type": "realtime", "output_modalities": ["text"]}))
        client.wait_for("session.updated", timeout=5)
        ids = []
        for text in ("one", "two", "three"):
            client.send(events.user_text(text))
            ids.append(client.wait_for("conversation.item.added", timeout=5)["item"]["id"])
            client.send(events.response_create())
            ids.append(list(client.stream("response.done", timeout=5))[-1]["response"]["output"][0]["id"])
        error = refused(client, events.response_create(conversation="none", input=[{"type": "item_reference",
                                                                                   "id": "item_missing"}]))
        assert (error["code"], error["param"]) == ("item_not_found", "response.input[0].id")
        error = refused(client, events.response_create(metadata={f"k{i}": "v" for i in range(17)}))
        assert error["param"] == "response.metadata"
        client.send(events.response_create(conversation="none", metadata={"task": "summary"},
                                           input=[{"type": "item_reference", "id": i} for i in ids]))
        streamed = list(client.stream("response.done", timeout=5))
        validated([{k: v for k, v in e.items() if k not in ("event_id", "obfuscation")} for e in streamed])
        done = streamed[-1]["response"]
        assert done["conversation_id"] is None and done["metadata"] == {"task": "summary"}
        assert streamed[0]["response"]["metadata"] == {"task": "summary"}
        assert not [e for e in streamed if e["type"].startswith("conversation.item.")]
        client.send(events.item_retrieve(done["output"][0]["id"]))
        assert client.wait_for("error", timeout=5)["error"]["code"] == "item_not_found"


@pytest.mark.parametrize("truncation, param", [
    ({"type": "retention_ratio", "retention_ratio": 1.5}, "session.truncation.retention_ratio"),
    ({"type": "retention_ratio", "retention_ratio": 0.8, "token_limits": {"post_instructions": 100_000}},
     "session.truncation.token_limits.post_instructions"),
])
def test_truncation_out_of_range_is_refused(replay, truncation, param):
    with ga_client(replay) as client:
        assert refused(client, events.session_update({"type": "realtime", "truncation": truncation}))["param"] == param
        client.send(events.session_update({"type": "realtime", "truncation": dict(truncation, retention_ratio=0.5,
                                                                                   token_limits={"post_instructions": 1000})}))
        assert client.wait_for("session.updated", timeout=5)["session"]["truncation"]["retention_ratio"] == 0.5


def test_transcription_session_on_the_wire_completes_out_of_order(replay):
    from helpers import audio
    media = Path(__file__).resolve().parent.parent / "media"
    with helpers.connect("replay", url=replay.url, model="gpt-realtime-whisper", cassette="17_transcription",
                         intent="transcription", speed=1, log=False) as client:
        created = client.wait_for("session.created", timeout=5)
        validated([{k: v for k, v in created.items() if k != "event_id"}])
        client.send(events.session_update(WHISPER))
        client.wait_for("session.updated", timeout=5)
        committed = []
        for wav in ("vad_utterance.wav", "followup_en.wav"):
            for event in audio.append_events(media / wav, verbose=False):
                client.send(event)
            client.send(events.input_audio_commit())
            committed.append(client.wait_for("input_audio_buffer.committed", timeout=5)["item_id"])
        first = client.wait_for("conversation.item.input_audio_transcription.completed", timeout=10)
        second = client.wait_for("conversation.item.input_audio_transcription.completed", timeout=10)
        assert [first["item_id"], second["item_id"]] == committed[::-1]
        assert second["transcript"] == "Please tell me a story about a brave little robot."
        client.send(events.response_create())
        assert "no responses" in client.wait_for("error", timeout=5)["error"]["message"]


def test_mcp_on_the_wire_lists_and_calls_the_real_server(shop_url):
    """The replay server, as OpenAI, lists the local MCP server's tools and runs its calls: real outputs."""
    tool = {"type": "mcp", "server_label": "shop", "server_url": shop_url,
            "require_approval": {"never": {"read_only": True}}}
    with serve_in_background(speed=0) as server, \
            helpers.connect("replay", url=server.url, model="gpt-realtime-2.1", cassette="19_tools_mcp", log=False) as c:
        c.wait_for("session.created", timeout=5)
        c.send(events.session_update({"type": "realtime", "tools": [tool]}))
        discovery = list(c.stream(until="mcp_list_tools.completed", timeout=10))
        assert [e["type"] for e in discovery] == ["conversation.item.added", "mcp_list_tools.in_progress",
                                                 "session.updated", "conversation.item.done", "mcp_list_tools.completed"]
        assert {t["name"] for t in discovery[3]["item"]["tools"]} == {"stock", "order"}

        def turn(text=None) -> list[dict]:
            if text:
                c.send(events.user_text(text))
                c.wait_for("conversation.item.added", timeout=5)
            c.send(events.response_create())
            return list(c.stream(timeout=10))

        streamed = turn("How many pears does the shop have?")
        kinds = [e["type"] for e in streamed]
        assert kinds.index("response.mcp_call.in_progress") < kinds.index("response.mcp_call.completed") \
            < kinds.index("response.done")
        call = next(e["item"] for e in streamed if e["type"] == "response.output_item.done"
                    and e["item"]["type"] == "mcp_call")
        assert call["output"] == "12 pears in stock"                  # what shop_server's stock() returns
        validated([{k: v for k, v in e.items() if k not in ("event_id", "obfuscation")} for e in streamed])
        turn()
        streamed = turn("Please order three pears.")
        assert "response.mcp_call.in_progress" not in [e["type"] for e in streamed]
        request = c.wait_for("conversation.item.added", timeout=5,
                             where=lambda e: e["item"]["type"] == "mcp_approval_request")["item"]
        error = refused(c, events.item_create({"type": "mcp_approval_response", "id": "mcpa_1",
                                               "approval_request_id": "mcpr_unknown", "approve": True}))
        assert error["param"] == "item.approval_request_id"
        c.send(events.item_create({"type": "mcp_approval_response", "id": "mcpa_2",
                                   "approval_request_id": request["id"], "approve": True}))
        c.send(events.response_create())
        done = c.wait_for("conversation.item.done", timeout=10, where=lambda e: e["item"]["type"] == "mcp_call")
        assert done["item"]["output"] == "ordered 3 pear" and done["item"]["approval_request_id"] == request["id"]
        assert list(c.stream(timeout=10))[-1]["response"]["status"] == "completed"


def test_idle_timeout_commits_silence_and_answers_after_the_timeout(replay):
    import time as _time
    vad = {"type": "server_vad", "idle_timeout_ms": 5000, "create_response": True}   # 5000: the minimum
    with ga_client(replay, "18_long_conversation") as client:
        client.send(events.session_update({"type": "realtime", "output_modalities": ["text"],
                                           "audio": {"input": {"turn_detection": vad}}}))
        updated = client.wait_for("session.updated", timeout=5)
        assert updated["session"]["audio"]["input"]["turn_detection"]["idle_timeout_ms"] == 5000
        client.send(events.user_text("Hello?"))
        client.wait_for("conversation.item.added", timeout=5)
        client.send(events.response_create())
        list(client.stream("response.done", timeout=5))
        done_at = _time.monotonic()
        triggered = client.wait_for("input_audio_buffer.timeout_triggered", timeout=10)
        assert _time.monotonic() - done_at >= 4.9             # not before the timeout
        after = list(client.stream("response.done", timeout=5))
        kinds = [e["type"] for e in after]
        assert kinds[:3] == ["input_audio_buffer.committed", "conversation.item.added", "conversation.item.done"]
        assert after[0]["item_id"] == triggered["item_id"] and "response.created" in kinds
        validated([{k: v for k, v in e.items() if k not in ("event_id", "obfuscation")} for e in [triggered, *after]])
    with ga_client(replay) as client:
        error = refused(client, events.session_update({"type": "realtime", "audio": {"input": {"turn_detection": {
            "type": "semantic_vad", "idle_timeout_ms": 5000}}}}))
        assert error["code"] == "unknown_parameter" and error["param"].endswith("idle_timeout_ms")


# -- the relay passes a reasoning model's thinking and preamble on ------------------------------

def test_relay_streams_stepfun_thinking_and_both_items_of_a_preamble(replay, tmp_path):
    from helpers import relay
    from tests.relay_fixtures import http_client, of, turn

    def relay_turn(model: str, cassette: str) -> list[tuple[str, dict]]:
        server = relay.serve_in_background(relay.create_app(url=replay.url, model=model, cassette=cassette,
                                                            output_dir=tmp_path / model,
                                                            connect_options={"log": False}))
        try:
            with http_client(server) as http:
                response, streamed = turn(http, text="Why is the sky blue? Answer in two sentences.")
            assert response.status_code == 200
            return streamed
        finally:
            server.stop()

    streamed = relay_turn("step-audio-r1.1", "15_reasoning_stepfun")
    thinking = "".join(data["delta"] for data in of(streamed, "thinking"))
    assert thinking.startswith("The user asks about the colour of the sky.")
    names = [name for name, _ in streamed]
    assert names.index("thinking") < names.index("transcript") and names[-1] == "done"
    streamed = relay_turn("gpt-realtime-2.1", "15_reasoning")
    deltas = of(streamed, "transcript")
    preamble, answer = ("".join(d["delta"] for d in deltas if d["output_index"] == i) for i in (0, 1))
    assert preamble == "Good question, let me think." and answer.startswith("Sunlight is made of many colours")
    assert streamed[-1][1]["transcript"] == f"{preamble}\n{answer}"


# -- reasoning responses and StepFun's thinking and built-in tools on the wire ------------------

def test_preamble_and_answer_are_two_sdk_valid_assistant_items(replay):
    with ga_client(replay, "15_reasoning") as client:
        client.send(events.user_text("Why is the sky blue?"))
        client.wait_for("conversation.item.added", timeout=5)
        client.send(events.response_create(reasoning={"effort": "minimal"}))
        streamed = list(client.stream("response.done", timeout=10))
        validated([{k: v for k, v in e.items() if k not in ("event_id", "obfuscation")} for e in streamed])
        output = streamed[-1]["response"]["output"]
        assert [(i["type"], i["role"]) for i in output] == [("message", "assistant")] * 2
        added = [e["output_index"] for e in streamed if e["type"] == "response.output_item.added"]
        assert added == [0, 1]


def stepfun_client(replay, cassette: str, model: str):
    client = helpers.connect("replay", url=replay.url, model=model, cassette=cassette, log=False)
    client.wait_for("session.created", timeout=5)
    return client


def test_stepfun_thinking_streams_in_its_own_part_before_the_speech(replay):
    with stepfun_client(replay, "15_reasoning_stepfun", "step-audio-r1.1") as client:
        client.send(events.user_text("Why is the sky blue?"))
        client.wait_for("conversation.item.created", timeout=5)
        client.send(events.response_create())
        streamed = list(client.stream("response.done", timeout=10))
    kinds = [e["type"] for e in streamed]
    assert kinds.index("response.thinking.delta") < kinds.index("response.thinking.done") \
        < kinds.index("response.audio_transcript.delta")
    for event in streamed:
        if event["type"].startswith("response.thinking."):
            assert {"response_id", "item_id", "output_index", "content_index"} <= set(event)   # SF-API fields
            assert event["content_index"] == 0
        if event["type"] == "response.audio.delta":
            assert event["content_index"] == 1
    parts = streamed[-1]["response"]["output"][0]["content"]
    assert [p["type"] for p in parts] == ["thinking", "audio"]
    done = next(e for e in streamed if e["type"] == "response.thinking.done")
    assert done["thinking"] == "".join(e["delta"] for e in streamed if e["type"] == "response.thinking.delta")


def test_stepfun_builtin_tools_are_accepted_in_stepfuns_shape_only(replay):
    web_search = {"type": "web_search", "function": {"description": "Search.", "options": {"top_k": 5}}}
    with stepfun_client(replay, "19_tools_stepfun", "step-audio-2") as client:
        client.send(events.session_update({"tools": [web_search]}))
        assert client.wait_for("session.updated", timeout=5)["session"]["tools"] == [web_search]
        error = refused(client, events.session_update({"tools": [{"type": "mcp", "server_label": "shop"}]}))
        assert error["param"] == "session.tools[0].type" and "'web_search'" in error["message"]
    with ga_client(replay) as client:
        assert refused(client, events.session_update({"type": "realtime", "tools": [web_search]}))["code"] \
            in ("invalid_value", "unknown_parameter", "invalid_type")
