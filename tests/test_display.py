"""Showing events in a notebook: audio summarised, runs collapsed."""

from __future__ import annotations

from helpers.display import collapse_runs, show, show_types, summarise

AUDIO = "A" * 400


def test_summarise_shortens_audio_payloads_but_not_text():
    event = {"type": "response.audio.delta", "delta": AUDIO, "item": {"content": [{"audio": AUDIO, "text": "x" * 100}]}}
    shown = summarise(event)
    assert shown["delta"] == "<400 base64 chars>"
    assert shown["item"]["content"][0] == {"audio": "<400 base64 chars>", "text": "x" * 100}
    transcript = {"type": "response.audio_transcript.delta", "delta": "y" * 100}
    assert summarise(transcript) == transcript
    assert event["delta"] == AUDIO  # the original is untouched


def test_show_prints_indented_json_of_the_keys_asked(capsys):
    show({"type": "session.created", "event_id": "e1", "session": {"voice": "marin"}}, keys=["type", "session"])
    assert capsys.readouterr().out == '{\n  "type": "session.created",\n  "session": {\n    "voice": "marin"\n  }\n}\n'


def test_show_types_collapses_runs(capsys):
    show_types([{"type": "a"}, {"type": "b"}, {"type": "b"}, {}, {"type": "b"}])
    assert capsys.readouterr().out == "a\nb ×2\n?\nb\n"
    assert collapse_runs([]) == []
    assert collapse_runs(["x", "x", "x"]) == ["x ×3"]
