"""The per-turn report: timings from frame times, tokens, the cost line (the price table: tests/test_pricing.py)."""

from __future__ import annotations

import pytest

from helpers.conversation import Conversation
from helpers.report import TurnReport, turn_report
from tests.frames import (
    DIALECTS,
    USAGE,
    S,
    assistant_audio_response,
    assistant_text_response,
    chunks,
    pcm,
    user_text_turn,
)

SESSION = S(0.0, {"type": "session.created", "session": {"id": "sess_1", "model": "gpt-realtime"}})


@pytest.fixture(params=["beta", "ga"])
def dialect(request):
    return request.param


def text_turn(usage=USAGE, model="gpt-realtime", create=True):
    frames = [S(0.0, {"type": "session.created", "session": {"id": "sess_1", "model": model}})]
    frames += user_text_turn(0.5, "item_u", "Hi", None)
    frames += assistant_text_response(1.0, "resp_1", "item_a", "item_u", ["Hi ", "there, ", "friend!"],
                                      usage=usage, create=create)
    return frames


def test_text_turn_timings_tokens_and_cost(dialect):
    report = turn_report(Conversation.from_frames(DIALECTS[dialect](text_turn())))
    # response.create at 1.000 s, first text delta at 1.476 s, response.done at 1.518 s (the GA capture's pace)
    assert (report.first_text_ms, report.total_ms) == (476, 518)
    assert report.first_audio_ms is None and report.first_transcript_ms is None and report.audio_s is None
    assert report.measured_from == "response.create sent"
    assert (report.input_tokens, report.input_text_tokens, report.input_audio_tokens, report.cached_tokens) == (
        984, 984, 0, 960)
    assert (report.output_tokens, report.output_text_tokens, report.output_audio_tokens) == (305, 61, 244)
    # (984-960)*4 + 960*0.40 + 61*16 + 244*64 = 17,072 micro-dollars
    assert report.cost.currency == "USD"
    assert report.cost.amount == pytest.approx(0.017072)
    assert report.model == "gpt-realtime" and report.status == "completed"


def test_printed_report_is_stable():
    report = turn_report(Conversation.from_frames(text_turn()))
    assert str(report) == "\n".join([
        "response          resp_1 (completed)",
        "model             gpt-realtime",
        "times from        response.create sent",
        "first text        476 ms",
        "first audio       —",
        "first transcript  —",
        "total             518 ms",
        "audio received    —",
        "input tokens      984 (text 984 · audio 0 · cached 960)",
        "output tokens     305 (text 61 · audio 244)",
        "cost              0.017072 USD",
        "prices            https://developers.openai.com/api/docs/models/compare?model=gpt-realtime"
        " (checked 2026-11-22)",
    ])
    page = report._repr_html_()
    assert page.startswith("<table>") and "<th style='text-align:left'>cost</th>" in page
    assert "0.017072 USD" in page


def test_audio_turn_report(dialect):
    frames = [SESSION] + user_text_turn(0.5, "item_u", "Say something", None)
    audio_frames, sent = assistant_audio_response(1.0, "resp_a", "item_a", "item_u", chunks(pcm(500), *[4800] * 5),
                                                  ["Some", "thing."])
    report = turn_report(Conversation.from_frames(DIALECTS[dialect](frames + audio_frames)))
    # first transcript delta at +300 ms, first audio delta at +350 ms, done after 5 deltas at +850 ms
    assert (report.first_transcript_ms, report.first_audio_ms, report.total_ms) == (300, 350, 850)
    assert report.first_text_ms is None
    assert report.audio_s == 0.5 == len(sent) / 48_000


def test_server_started_response_is_measured_from_response_created():
    report = turn_report(Conversation.from_frames(text_turn(create=False)))
    assert report.measured_from == "response.created"
    assert (report.first_text_ms, report.total_ms) == (196, 238)
    assert "times from        response.created" in str(report)


def test_missing_pieces_print_as_dashes():
    conversation = Conversation()                          # no times, no usage, no model
    conversation.observe_event({"type": "response.created", "response": {"id": "resp_x", "status": "in_progress"}})
    report = turn_report(conversation)
    assert report.cost is None and report.input_tokens is None and report.total_ms is None
    assert report.measured_from is None
    lines = str(report).splitlines()
    assert lines[0].split() == ["response", "resp_x", "(in_progress)"]
    assert all(line.rstrip().endswith("—") for line in lines[1:])


def test_unknown_model_reports_without_cost():
    report = turn_report(Conversation.from_frames(text_turn(model="my-local-model")))
    assert report.cost is None
    assert "no price for model 'my-local-model'" in report.note and "gpt-realtime-mini" in report.note
    assert str(report).splitlines()[-2].endswith("—")
    priced = turn_report(Conversation.from_frames(text_turn(model="my-local-model")), model="gpt-realtime-mini")
    assert priced.cost.amount == pytest.approx((24 * 0.60 + 960 * 0.06 + 61 * 2.40 + 244 * 20) / 1e6)


def test_usage_without_model_says_how_to_price_it():
    conversation = Conversation.from_frames(text_turn()[1:])                  # no session.created
    report = turn_report(conversation)
    assert report.cost is None and "pass model=" in report.note


def test_choosing_a_response_and_bad_choices():
    conversation = Conversation.from_frames(text_turn())
    assert turn_report(conversation, "resp_1").response_id == "resp_1"
    with pytest.raises(KeyError, match="known responses: resp_1"):
        turn_report(conversation, "resp_nope")
    with pytest.raises(ValueError, match="no response"):
        turn_report(Conversation())


def test_report_is_frozen():
    report = turn_report(Conversation.from_frames(text_turn()))
    assert isinstance(report, TurnReport)
    with pytest.raises(AttributeError):
        report.total_ms = 1
