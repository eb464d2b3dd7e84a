"""The shipped media and cassettes: well formed, within budget, and exactly what the tools regenerate."""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
MEDIA = ROOT / "media"
CASSETTES = MEDIA / "cassettes"
sys.path[:0] = [str(ROOT), str(ROOT / "tools")]

import synthesize_cassettes as synth  # noqa: E402

from helpers.cassette import load  # noqa: E402

# The replay contract: how many recorded responses each notebook scenario may ask for.
EXPECTED_RESPONSES = {
    "01_connect": 0, "02_session_update": 0, "03_text_turn": 1, "04_audio_turn": 1,
    "05_audio_output": 1, "06_multi_turn": 3, "06_multi_turn_restore": 1, "07_interruption": 3,
    "08_function_calling": 4, "09_voice_activity": 1, "10_record_and_replay": 1,
    "11_relay_service": 2, "11_relay_service_restore": 1,
    "12_live_conversation": 3, "13_barge_in": 2, "14_audio_input": 2,
}
# Media files and their (sample rate, channels).
EXPECTED_MEDIA = {
    "question_en.wav": (24000, 1), "followup_en.wav": (24000, 1), "question_zh.wav": (24000, 1),
    "hello_48k_stereo.wav": (48000, 2), "hello_44k1.wav": (44100, 1),
    "vad_utterance.wav": (24000, 1), "barge_in.wav": (24000, 1),
}
STREAMS = {  # delta type -> (done type, field of the full value)
    "response.audio_transcript.delta": ("response.audio_transcript.done", "transcript"),
    "response.text.delta": ("response.text.done", "text"),
    "response.function_call_arguments.delta": ("response.function_call_arguments.done", "arguments"),
}
ALL_CASSETTE_FILES = sorted(CASSETTES.glob("*.jsonl"))
# The cassettes of lessons 15-19 (tools/scenarios_2026.py) have their own checks: tests/test_cassettes_2026.py.
CASSETTE_FILES = [p for p in ALL_CASSETTE_FILES if not p.stem.startswith(("15_", "16_", "17_", "18_", "19_"))]
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng is not installed: cannot regenerate the speech")


def test_every_scenario_has_its_cassette():
    assert {p.stem for p in CASSETTE_FILES} == set(EXPECTED_RESPONSES)


@pytest.mark.parametrize("path", CASSETTE_FILES, ids=lambda p: p.stem)
def test_cassette_is_a_well_formed_session(path):
    cassette = load(path)
    meta = cassette.meta
    assert (meta["provider"], meta["dialect"], meta["model"]) == ("stepfun", "beta", "step-1o-audio")
    provenance = meta["provenance"]
    assert provenance["kind"] == "synthesized" and provenance["script"] == path.stem
    assert provenance["speech"].startswith("espeak-ng ") and f"{path.stem}.jsonl" in provenance["rerecord"]
    assert meta["created"].endswith("Z")

    times = [frame.t for frame in cassette.frames]
    assert times == sorted(times), "frames must be in non-decreasing time"
    first = cassette.frames[0]
    assert first.source == "server" and first.event["type"] == "session.created" and first.t == 0
    assert cassette.frames[-1].close == {"code": 1000, "reason": ""}
    server_ids = [frame.event["event_id"] for _, frame in cassette.server_events()]
    assert len(server_ids) == len(set(server_ids)), "server event ids must be unique"
    for frame in cassette.frames:
        if frame.event is not None:
            assert frame.event.get("type") and frame.event.get("event_id"), frame.event
    assert count_responses(cassette) == EXPECTED_RESPONSES[path.stem]


def count_responses(cassette) -> int:
    return sum(frame.event["type"] == "response.created" for _, frame in cassette.server_events())


@pytest.mark.parametrize("path", CASSETTE_FILES, ids=lambda p: p.stem)
def test_response_runs_are_complete_and_consistent(path):
    """Each response.created ends in its response.done; deltas add up to the done values and the usage."""
    run = None
    for _, frame in load(path).server_events():
        event = frame.event
        kind = event["type"]
        if kind == "response.created":
            assert run is None, "a response started before the previous one was done"
            run = {"id": event["response"]["id"], "streams": {}, "samples": 0}
        elif kind == "response.done":
            assert run is not None and event["response"]["id"] == run["id"]
            check_usage(event["response"], run)
            run = None
        elif run is not None and kind.startswith("response.") and "response_id" in event:
            assert event["response_id"] == run["id"]
            if kind == "response.audio.delta":
                audio = base64.b64decode(event["delta"], validate=True)
                assert len(audio) % 2 == 0 and 0 < len(audio) / 48000 <= 0.4, "audio deltas carry <= 400 ms"
                run["samples"] += len(audio) // 2
            elif kind in STREAMS:
                run["streams"].setdefault((kind, event["item_id"]), []).append(event["delta"])
            elif any(kind == done for done, _ in STREAMS.values()):
                delta_kind = next(d for d, (done, _) in STREAMS.items() if done == kind)
                joined = "".join(run["streams"].pop((delta_kind, event["item_id"]), []))
                assert joined == event[STREAMS[delta_kind][1]], f"{kind}: deltas do not join to the done value"
    assert run is None, "the cassette ends inside a response"


def check_usage(response: dict, run: dict) -> None:
    usage = response["usage"]
    call_tokens = sum(synth.text_tokens(item["name"] + item["arguments"]) for item in response["output"]
                      if item["type"] == "function_call")
    out = usage["output_token_details"]
    assert out["audio_tokens"] == synth.audio_tokens(run["samples"], synth.ASSISTANT_AUDIO_TOKENS_PER_S)
    expected_text = sum(synth.text_tokens(part.get("transcript") or part.get("text") or "")
                        for item in response["output"] for part in item.get("content", []))
    assert out["text_tokens"] == expected_text + call_tokens
    assert usage["output_tokens"] == out["text_tokens"] + out["audio_tokens"]
    details = usage["input_token_details"]
    assert usage["input_tokens"] == details["text_tokens"] + details["audio_tokens"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert details["cached_tokens"] <= usage["input_tokens"] and details["cached_tokens"] % 64 == 0
    if response["status"] == "cancelled":
        assert response["status_details"]["reason"] in ("client_cancelled", "turn_detected")


def test_transcript_deltas_are_token_sized_and_more_frequent_than_audio():
    cassette = load(CASSETTES / "05_audio_output.jsonl")
    text = [f.t for _, f in cassette.server_events() if f.event["type"] == "response.audio_transcript.delta"]
    audio = [f for _, f in cassette.server_events() if f.event["type"] == "response.audio.delta"]
    sizes = [len(f.event["delta"]) for _, f in cassette.server_events()
             if f.event["type"] == "response.audio_transcript.delta"]
    assert max(sizes) <= 6
    text_rate = len(text) / (text[-1] - text[0])
    audio_rate = len(audio) / (audio[-1].t - audio[0].t)
    assert text_rate >= 2.5 * audio_rate
    audio_seconds = sum(len(base64.b64decode(f.event["delta"])) for f in audio) / 48000
    assert audio[-1].t - audio[0].t < audio_seconds / 2, "audio must be generated faster than real time"


def test_media_files_are_as_documented():
    for name, (rate, channels) in EXPECTED_MEDIA.items():
        info = sf.info(MEDIA / name)
        assert (info.samplerate, info.channels) == (rate, channels), name
        assert 2.0 <= info.duration <= 4.5, name
        assert name in (MEDIA / "README.md").read_text(encoding="utf-8")


def test_media_stays_within_budget_and_readable():
    total = sum(p.stat().st_size for p in MEDIA.rglob("*") if p.is_file())
    # Two editions (English and Mandarin) of 19 lessons' speech: a clone stays well under 50 MB.
    assert total < 48 * 1024 * 1024, f"media/ is {total / 1e6:.1f} MB, over the 48 MiB budget"
    for path in CASSETTE_FILES:
        lines = path.read_text(encoding="utf-8").splitlines()
        assert all(line.startswith("{") and line.endswith("}") for line in lines), path.name


def test_cassette_readme_lists_every_cassette():
    readme = (CASSETTES / "README.md").read_text(encoding="utf-8")
    for name in EXPECTED_RESPONSES:
        assert f"`{name}`" in readme, name


def regenerate(tool: str, out: Path) -> None:
    result = subprocess.run([sys.executable, str(ROOT / "tools" / tool), "--out", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


def drifted(committed: list[Path], fresh_dir: Path) -> list[str]:
    return [p.name for p in committed if (fresh_dir / p.name).read_bytes() != p.read_bytes()]


@needs_espeak
def test_cassettes_regenerate_byte_for_byte(tmp_path):
    regenerate("synthesize_cassettes.py", tmp_path)
    assert sorted(p.name for p in tmp_path.glob("*.jsonl")) == [p.name for p in ALL_CASSETTE_FILES]
    assert drifted(ALL_CASSETTE_FILES, tmp_path) == [], "cassettes drifted: run tools/synthesize_cassettes.py"


@needs_espeak
def test_media_regenerates_byte_for_byte(tmp_path):
    regenerate("make_media.py", tmp_path)
    wavs = sorted(MEDIA.glob("*.wav"))
    assert [p.name for p in wavs] == sorted(EXPECTED_MEDIA)
    assert drifted(wavs, tmp_path) == [], "media drifted: run tools/make_media.py"
