"""The replay engine's response-run conversion between the dialects (helpers/replay/dialect.py)."""

from __future__ import annotations

from helpers.replay.dialect import convert_run

ITEM = {"id": "item_1", "type": "function_call", "name": "get_weather", "call_id": "call_1", "arguments": ""}
RUN = [
    {"type": "response.created", "response": {"id": "resp_1"}},
    {"type": "response.output_item.added", "item": ITEM},
    {"type": "conversation.item.created", "item": ITEM},
    {"type": "response.function_call_arguments.done", "item_id": "item_1", "arguments": "{}"},
    {"type": "response.output_item.done", "item": dict(ITEM, arguments="{}")},
]


def test_ga_run_gets_names_and_the_item_done_ack_beta_lacks():
    converted = [event for _, event in convert_run(RUN, "ga")]
    kinds = [event["type"] for event in converted]
    assert "conversation.item.added" in kinds and "conversation.item.created" not in kinds
    done = next(event for event in converted if event["type"] == "response.function_call_arguments.done")
    assert done["name"] == "get_weather"  # GA names the function on .done; beta recordings do not
    assert kinds.count("conversation.item.done") == 1
    assert kinds.index("conversation.item.done") == kinds.index("response.output_item.done") - 1  # as GA sends them


def test_beta_run_keeps_beta_names_and_drops_item_done():
    ga = [event for _, event in convert_run(RUN, "ga")]
    back = [event["type"] for _, event in convert_run(ga, "beta")]
    assert back == [event["type"] for event in RUN]
