"""The cassettes of lessons 15-19 (tools/scenarios_2026.py): provenance, SDK-valid GA frames, what each one shows."""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.cassette import load
from tests.ga_schema import validated

ROOT = Path(__file__).resolve().parent.parent
CASSETTES = ROOT / "media" / "cassettes"
sys.path[:0] = [str(ROOT / "tools")]

from scenarios_2026 import EFFORTS, SCENARIOS_2026  # noqa: E402
from synthesize_2026 import image_tokens  # noqa: E402

BY_NAME = {s.name: s for s in SCENARIOS_2026}


def server_events(name: str) -> list[dict]:
    return [f.event for f in load(CASSETTES / f"{name}.jsonl").frames if f.source == "server" and f.event]


def client_events(name: str) -> list[dict]:
    return [f.event for f in load(CASSETTES / f"{name}.jsonl").frames if f.source == "client" and f.event]


@pytest.mark.parametrize("scenario", SCENARIOS_2026, ids=lambda s: s.name)
def test_cassette_says_what_it_imitates_and_that_it_is_synthesized(scenario):
    cassette = load(CASSETTES / f"{scenario.name}.jsonl")
    meta = cassette.meta
    assert (meta["provider"], meta["model"]) == (scenario.provider, scenario.model)
    assert meta["dialect"] == ("ga" if scenario.provider == "openai" else "beta")
    assert meta["provenance"]["kind"] == "synthesized" and meta["responses"] == scenario.responses
    assert sum(e["type"] == "response.created" for e in server_events(scenario.name)) == scenario.responses
    assert cassette.frames[-1].close == {"code": 1000, "reason": ""}


@pytest.mark.parametrize("name", [s.name for s in SCENARIOS_2026 if s.provider == "openai"])
def test_openai_cassettes_validate_against_the_sdk(name):
    events = [{k: v for k, v in e.items() if k != "event_id"} for e in server_events(name)
              if e["type"] != "rate_limits.updated"]
    validated(events)


def test_stepfun_thinking_comes_before_the_speech_part():
    events = server_events("15_reasoning_stepfun")
    kinds = [e["type"] for e in events]
    first_think, last_think = kinds.index("response.thinking.delta"), kinds.index("response.thinking.done")
    speech_part = next(k for k, e in enumerate(events) if e["type"] == "response.content_part.added"
                       and e["part"]["type"] == "audio")
    assert kinds.index("response.content_part.added") < first_think < last_think < speech_part
    assert events[speech_part]["content_index"] == 1
    done = next(e for e in events if e["type"] == "response.thinking.done")
    thought = "".join(e["delta"] for e in events if e["type"] == "response.thinking.delta")
    assert done["thinking"] == thought and {"response_id", "item_id", "output_index", "content_index"} <= set(done)
    final = next(e for e in events if e["type"] == "response.done")["response"]["output"][0]["content"]
    assert [p["type"] for p in final] == ["thinking", "audio"]


def test_reasoning_responses_open_with_a_preamble_and_wait_longer_with_more_effort():
    frames = load(CASSETTES / "15_reasoning.jsonl").frames
    efforts = [f.event["response"]["reasoning"]["effort"] for f in frames
               if f.source == "client" and f.event and f.event["type"] == "response.create"]
    assert efforts == ["low", *EFFORTS]
    waits = []
    for k, frame in enumerate(frames):
        if frame.source == "client" and frame.event and frame.event["type"] == "response.create":
            audio = [f for f in frames[k:] if f.event and f.event["type"] == "response.output_audio.delta"]
            answer = [f for f in audio if f.event["output_index"] == 1]
            waits.append((audio[0].t - frame.t, answer[0].t - frame.t))
    preamble, answer = zip(*waits[1:], strict=True)
    assert max(preamble) - min(preamble) < 0.3                # the preamble comes as fast at every effort
    assert list(answer) == sorted(answer) and answer[-1] > answer[0] + 1.5
    for done in (e for e in server_events("15_reasoning") if e["type"] == "response.done"):
        assert [(i["type"], i["role"]) for i in done["response"]["output"]] == [("message", "assistant")] * 2


def test_image_message_is_a_png_data_uri_and_its_tokens_are_counted():
    create = next(e for e in client_events("16_images") if e["type"] == "conversation.item.create")
    image = next(p for p in create["item"]["content"] if p["type"] == "input_image")
    png = base64.b64decode(image["image_url"].removeprefix("data:image/png;base64,"))
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png == (ROOT / "media" / "sales_chart.png").read_bytes()
    usage = next(e for e in server_events("16_images") if e["type"] == "response.done")["response"]["usage"]
    assert usage["input_token_details"]["image_tokens"] == image_tokens(png, image["detail"]) == 255
    assert usage["input_tokens"] == sum(usage["input_token_details"][k] for k in ("text_tokens", "audio_tokens",
                                                                                   "image_tokens"))


def test_transcription_cassette_has_no_responses_and_completes_the_short_clip_first():
    events = server_events("17_transcription")
    assert events[0]["session"]["type"] == "transcription"
    assert not [e for e in events if e["type"].startswith(("response.", "rate_limits"))]
    committed = [e["item_id"] for e in events if e["type"] == "input_audio_buffer.committed"]
    completed = [e["item_id"] for e in events if e["type"].endswith("transcription.completed")]
    assert len(committed) == 2 and completed == committed[::-1]


def test_long_conversation_truncates_then_summarizes_out_of_band():
    events = server_events("18_long_conversation")
    done = [e["response"] for e in events if e["type"] == "response.done"]
    inputs = [r["usage"]["input_tokens"] for r in done]
    assert inputs[2] < inputs[1] + 10 and done[2]["usage"]["input_token_details"]["cached_tokens"] == 0
    side = done[3]
    assert side["conversation_id"] is None and side["metadata"] == {"task": "summary"}
    assert all(r["conversation_id"] for k, r in enumerate(done) if k != 3)
    side_items = {i["id"] for i in side["output"]}
    added = {e["item"]["id"] for e in events if e["type"] == "conversation.item.added"}
    assert not side_items & added                              # the side answer joined no conversation
    create = [e for e in client_events("18_long_conversation") if e["type"] == "response.create"][3]
    assert {r["id"] for r in create["response"]["input"]} <= added
    deleted = [e["item_id"] for e in events if e["type"] == "conversation.item.deleted"]
    assert len(deleted) == 4


def test_mcp_cassette_holds_calls_and_an_approval_request():
    events = server_events("19_tools_mcp")
    calls = [e["item"] for e in events if e["type"] == "response.output_item.done" and e["item"]["type"] == "mcp_call"]
    assert [(c["name"], c["arguments"]) for c in calls] == [("stock", '{"item": "pear"}'),
                                                           ("order", '{"item": "pear", "count": 3}')]
    request = next(e["item"] for e in events if e["type"] == "conversation.item.added"
                   and e["item"]["type"] == "mcp_approval_request")
    answer = next(e["item"] for e in client_events("19_tools_mcp") if e["type"] == "conversation.item.create"
                  and e["item"]["type"] == "mcp_approval_response")
    assert answer["approval_request_id"] == request["id"] and answer["approve"] is True


def test_stepfun_builtin_tools_are_configured_in_stepfuns_shape():
    update = next(e for e in client_events("19_tools_stepfun") if e["type"] == "session.update")
    kinds = {t["type"]: t["function"]["options"] for t in update["session"]["tools"]}
    assert kinds["web_search"] == {"top_k": 5, "timeout_seconds": 3}
    assert {"vector_store_id", "prompt_template"} <= set(kinds["retrieval"])
    assert "{{knowledge}}" in kinds["retrieval"]["prompt_template"]


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_2026_cassettes_regenerate_byte_for_byte(tmp_path):
    names = [s.name for s in SCENARIOS_2026]
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "synthesize_cassettes.py"), "--out", str(tmp_path),
                             "--only", *names], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert [n for n in names if (tmp_path / f"{n}.jsonl").read_bytes() != (CASSETTES / f"{n}.jsonl").read_bytes()] == []
