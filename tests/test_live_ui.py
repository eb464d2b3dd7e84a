"""helpers.live_ui: the panel and the Colab recorder say clearly when they cannot work here."""

from __future__ import annotations

from tests.fresh_python import run_python


def test_panel_and_browser_recorder_refuse_where_they_cannot_record():
    result = run_python("""
        import sys
        sys.modules["pyaudio"] = None
        from helpers.live_ui import VoicePanel, record_in_browser
        for attempt in (lambda: VoicePanel(client=None), lambda: record_in_browser(5)):
            try:
                attempt()
            except RuntimeError as exc:
                print(exc)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "no microphone: pyaudio is not installed (pip install pyaudio; it needs portaudio19-dev)",
        "record_in_browser needs Colab (the browser records, the kernel has no microphone); "
        "locally use MicrophoneSource or VoicePanel"]
