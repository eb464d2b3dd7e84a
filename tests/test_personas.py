"""helpers.personas, the one dialect module: names and session shapes in both dialects, the model -> persona rule."""

from __future__ import annotations

import pytest

from helpers import personas

FLAT = {"modalities": ["text", "audio"], "voice": "marin", "instructions": "Be brief.",
        "input_audio_format": "pcm16", "output_audio_format": "pcm16",
        "turn_detection": {"type": "server_vad"}, "input_audio_transcription": {"model": "whisper-1"}}


def test_event_names_map_both_ways_and_aliases_cover_both():
    assert personas.in_dialect("response.audio.delta", "ga") == "response.output_audio.delta"
    assert personas.in_dialect("response.output_audio.delta", "beta") == "response.audio.delta"
    assert personas.in_dialect("session.update", "ga") == "session.update"
    assert personas.aliases("response.text.delta") == {"response.text.delta", "response.output_text.delta"}
    with pytest.raises(ValueError, match="dialect must be 'beta'"):
        personas.in_dialect("x", "v1")


def test_a_flat_session_nests_for_ga_and_comes_back_the_same():
    nested = personas.convert_session(FLAT, "ga")
    assert nested["type"] == "realtime" and nested["output_modalities"] == ["audio"]
    assert nested["audio"]["input"]["turn_detection"] == {"type": "server_vad"}
    assert nested["audio"]["output"]["voice"] == "marin"
    assert personas.convert_session(nested, "beta")["turn_detection"] == {"type": "server_vad"}
    assert personas.convert_session(FLAT, "beta") == FLAT  # already its shape: a copy


def test_the_model_picks_the_persona():
    assert personas.persona_for("step-1o-audio").name == "stepfun"
    assert personas.persona_for("stepaudio-2").dialect == "beta"
    assert personas.persona_for("gpt-realtime").name == "openai"
    assert personas.persona_for("gpt-realtime", dialect="beta").name == "openai-beta"
    with pytest.raises(ValueError, match="not supported in realtime mode"):
        personas.persona_for("llama-3")
    assert personas.default_voice("beta") == "jingdiannvsheng" and personas.default_voice("ga") == "marin"
