"""helpers.live_ui: the panel builds anywhere (Talk disabled with its reason, or fed by a file) on a real replay server."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import helpers
from helpers import events as ev
from helpers import live_ui
from helpers.live import FileSource
from helpers.player import VirtualPlayer
from helpers.replay import serve_in_background

ROOT = Path(__file__).resolve().parent.parent
MEDIA = ROOT / "media"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cassettes")
    for name in ("12_live_conversation.jsonl", "15_reasoning_stepfun.jsonl"):
        (folder / name).write_bytes((MEDIA / "cassettes" / name).read_bytes())
    with serve_in_background(folder) as background:
        yield background


def open_client(server, cassette="12_live_conversation", model="step-1o-audio"):
    client = helpers.connect("replay", cassette=cassette, url=server.url, model=model, log=False)
    client.send(ev.session_update(ev.session_config(client.dialect, instructions="Be brief.", turn_detection=None)))
    client.wait_for("session.updated")
    return client


def test_without_a_microphone_the_panel_shows_talk_disabled_and_why(server, monkeypatch):
    monkeypatch.setattr(live_ui, "microphone_problem", lambda: "no audio input device found")
    with open_client(server) as client:
        panel = live_ui.VoicePanel(client, player=VirtualPlayer())
        try:
            assert panel.talk.disabled and not panel.stop.disabled
            assert panel.status.value.startswith("Talk disabled: no microphone (no audio input device found)")
            bundle = panel._repr_mimebundle_()
            assert "application/vnd.jupyter.widget-view+json" in bundle
            assert "<button disabled style='opacity:0.5'>🎤 Talk</button>" in bundle["text/html"]
            assert "no audio input device found" in bundle["text/html"]
        finally:
            panel.close()


def test_a_file_driven_talk_button_sends_a_turn_and_shows_the_answer(server, monkeypatch):
    monkeypatch.setattr(live_ui, "microphone_problem", lambda: "no audio input device found")
    answered = threading.Event()
    with open_client(server) as client:
        panel = live_ui.VoicePanel(client, player=VirtualPlayer(), file=MEDIA / "followup_en.wav")
        panel.status.observe(lambda change: answered.set() if change["new"].startswith("answered") else None,
                             names="value")
        try:
            assert not panel.talk.disabled and "followup_en.wav" in panel.status.value
            panel.talk.value = True                          # the file streams at the speed of speech
            assert panel.status.value == "listening..."
            sender = panel.voice._sender
            assert sender is not None
            sender.join(10)                                  # the whole recording has been sent
            panel.talk.value = False
            assert answered.wait(15), panel.status.value

            sent = [f.event["type"] for f in client.history if f.source == "client"]
            assert sent[-2:] == ["input_audio_buffer.commit", "response.create"]
            assert sent.count("input_audio_buffer.append") == 28   # 2.7 s in chunks of 100 ms
            assert "assistant (audio" in panel.transcript.value
            assert "first audio" in panel.report.value
            assert panel.report.value in panel.snapshot_html()
        finally:
            panel.close()


def test_the_panel_shows_a_reasoning_models_thinking(server):
    answered = threading.Event()
    with open_client(server, "15_reasoning_stepfun", "step-audio-r1.1") as client:
        panel = live_ui.VoicePanel(client, player=VirtualPlayer(), file=MEDIA / "question_en.wav")
        panel.status.observe(lambda change: answered.set() if change["new"].startswith("answered") else None,
                             names="value")
        try:
            panel.voice.talk(FileSource(MEDIA / "question_en.wav"))
            assert answered.wait(15), panel.status.value
            assert "<i style='color:#777'>thinking: The user asks about the colour of the sky." in panel.transcript.value
        finally:
            panel.close()


def test_the_browser_recorder_needs_colab():
    with pytest.raises(RuntimeError, match="record_in_browser needs Colab .* locally use MicrophoneSource or VoicePanel"):
        live_ui.record_in_browser(5)
