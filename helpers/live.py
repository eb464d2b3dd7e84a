"""Talk to the model live: a microphone (or a file standing in for one) in, a player out.

One import for the lessons; the parts live in their own modules:

* `helpers.live_session` -- `VoiceSession` and `LiveTurn`: the controller (push-to-talk, server VAD,
  barge-in), no widgets and no devices in it;
* `helpers.live_sources` -- `FileSource`, `MicrophoneSource`: audio in;
* `helpers.live_ui` -- `VoicePanel` (ipywidgets) and `record_in_browser` (Colab).
"""

from __future__ import annotations

from .live_session import LiveTurn, VoiceSession
from .live_sources import FileSource, MicrophoneSource, microphone_problem
from .live_ui import VoicePanel, record_in_browser

__all__ = ["FileSource", "LiveTurn", "MicrophoneSource", "VoicePanel", "VoiceSession", "microphone_problem",
           "record_in_browser"]
