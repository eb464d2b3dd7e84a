"""helpers.live_ui: the panel and the Colab recorder say clearly when they cannot work here."""

from __future__ import annotations

import pytest

from helpers import live_ui


def test_the_panel_needs_a_microphone(monkeypatch):
    monkeypatch.setattr(live_ui, "microphone_problem", lambda: "no input device")
    with pytest.raises(RuntimeError, match="^no microphone: no input device$"):
        live_ui.VoicePanel(client=None)


def test_the_browser_recorder_needs_colab():
    with pytest.raises(RuntimeError, match="record_in_browser needs Colab .* locally use MicrophoneSource or VoicePanel"):
        live_ui.record_in_browser(5)
