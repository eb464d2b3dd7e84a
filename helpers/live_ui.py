"""The notebook views of a live conversation: the ipywidgets push-to-talk panel and Colab's browser recorder."""

from __future__ import annotations

import base64
import html
import tempfile
import threading
from pathlib import Path

from .audio import load_audio, to_pcm16
from .live_session import VoiceSession
from .live_sources import FileSource, MicrophoneSource, microphone_problem
from .player import Player, open_player
from .report import turn_report

__all__ = ["VoicePanel", "record_in_browser"]

_RECORD_JS = """
async function recordWav(seconds) {
  const stream = await navigator.mediaDevices.getUserMedia({audio: true});
  const recorder = new MediaRecorder(stream);
  const chunks = [];
  recorder.ondataavailable = (e) => chunks.push(e.data);
  const stopped = new Promise((resolve) => recorder.onstop = resolve);
  recorder.start();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  recorder.stop();
  await stopped;
  stream.getTracks().forEach((track) => track.stop());
  const context = new AudioContext();
  const decoded = await context.decodeAudioData(await new Blob(chunks).arrayBuffer());
  const samples = decoded.getChannelData(0);
  const view = new DataView(new ArrayBuffer(44 + samples.length * 2));
  const text = (offset, s) => [...s].forEach((c, i) => view.setUint8(offset + i, c.charCodeAt(0)));
  text(0, "RIFF"); view.setUint32(4, 36 + samples.length * 2, true); text(8, "WAVEfmt ");
  view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
  view.setUint32(24, decoded.sampleRate, true); view.setUint32(28, decoded.sampleRate * 2, true);
  view.setUint16(32, 2, true); view.setUint16(34, 16, true); text(36, "data");
  view.setUint32(40, samples.length * 2, true);
  samples.forEach((x, i) => view.setInt16(44 + i * 2, Math.max(-1, Math.min(1, x)) * 32767, true));
  let binary = "";
  new Uint8Array(view.buffer).forEach((b) => binary += String.fromCharCode(b));
  return btoa(binary);
}
"""


def record_in_browser(seconds: float = 5.0) -> bytes:
    """Colab only: record `seconds` from the browser's microphone; returns pcm16 24 kHz bytes."""
    try:
        from google.colab import output
    except ImportError:
        raise RuntimeError("record_in_browser needs Colab (the browser records, the kernel has no "
                           "microphone); locally use MicrophoneSource or VoicePanel") from None
    if not 0.5 <= seconds <= 60:
        raise ValueError(f"seconds must be between 0.5 and 60, not {seconds!r}")
    print(f"Recording {seconds:g} s: speak now (allow the microphone if the browser asks)...")
    wav = base64.b64decode(output.eval_js(_RECORD_JS + f"recordWav({float(seconds)})"))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clip.wav"
        path.write_bytes(wav)
        return to_pcm16(load_audio(path, verbose=False))


# -- the widget panel ------------------------------------------------------------------

class VoicePanel:
    """An ipywidgets push-to-talk panel on a `VoiceSession`: talk, read, listen, interrupt, see the report.

    Toggle "Talk" on and speak; toggle it off to send. Talking while the answer plays interrupts it.
    `file` makes Talk stream that recording at the speed of speech instead of the microphone; with
    neither a microphone nor a file, the panel still builds, with Talk disabled and the reason shown.
    """

    def __init__(self, client, player: Player | None = None, device_index: int | None = None,
                 file: str | Path | None = None):
        import ipywidgets as widgets

        self.device_index = device_index
        self.file = file
        self.problem = None if file is not None else microphone_problem()
        self.player = player or open_player()
        self.voice = VoiceSession(client, self.player, on_change=self._on_change)
        self._lock = threading.Lock()
        self.talk = widgets.ToggleButton(description="Talk", icon="microphone", disabled=self.problem is not None,
                                         tooltip="on: record; off: send")
        self.stop = widgets.Button(description="Stop answer", icon="stop")
        self.status = widgets.Label(self._ready_text())
        self.transcript = widgets.HTML()
        self.report = widgets.HTML()
        self.talk.observe(self._on_talk, names="value")
        self.stop.on_click(lambda _button: self._interrupt())
        self.widget = widgets.VBox([widgets.HBox([self.talk, self.stop, self.status]),
                                    self.transcript, self.report])

    def _ready_text(self) -> str:
        if self.problem is not None:
            return f"Talk disabled: no microphone ({self.problem}); pass file=... to talk from a recording"
        if self.file is not None:
            return f"ready: Talk streams {Path(self.file).name} as your voice (toggle off to send)"
        return "ready: toggle Talk and speak"

    def _source(self):
        if self.file is not None:
            return FileSource(self.file, realtime=True)
        return MicrophoneSource(self.device_index)

    def _repr_mimebundle_(self, **kwargs) -> dict:
        """The live widget, with a static HTML picture of the controls for pages that cannot run widgets."""
        bundle = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        bundle["text/html"] = self.snapshot_html()
        return bundle

    def snapshot_html(self) -> str:
        """The panel as static HTML: its buttons (disabled ones greyed), its status, transcript and report."""
        def button(label: str, disabled: bool) -> str:
            return f"<button disabled style='opacity:{0.5 if disabled else 1}'>{html.escape(label)}</button>"
        return ("<div class='voice-panel'>" + button("🎤 Talk", self.talk.disabled) + " "
                + button("■ Stop answer", False) + f" <span>{html.escape(self.status.value)}</span>"
                + f"<div>{self.transcript.value}</div>{self.report.value}</div>")

    def _on_talk(self, change) -> None:
        try:
            if change["new"]:
                self.voice.press(self._source())
                self.status.value = "listening..."
            else:
                turn = self.voice.release()
                self.status.value = "thinking..." if turn or self.voice.vad else "too short: hold Talk longer"
        except Exception as exc:  # show it in the panel: a callback's exception would be lost
            self.status.value = f"{type(exc).__name__}: {exc}"

    def _interrupt(self) -> None:
        truncate = self.voice.interrupt()
        if truncate is not None:
            self.status.value = f"interrupted at {truncate['audio_end_ms']} ms"

    def _on_change(self, voice: VoiceSession, event: dict) -> None:
        """Runs on the receive thread: redraw the transcript, and the report after each answer."""
        kind = event.get("type", "")
        if not (kind.endswith("transcript.delta") or kind.endswith(".completed") or kind in (
                "response.done", "error", "conversation.item.truncated", "response.thinking.delta")):
            return
        with self._lock:
            lines = [html.escape(line) for line in voice.conversation.lines()]
            thought = list(voice.thinking.values())[-1] if voice.thinking else ""
            if thought:  # a reasoning model's thinking (StepFun), as it streams
                lines.append(f"<i style='color:#777'>thinking: {html.escape(thought)}</i>")
            self.transcript.value = "<br>".join(lines)
            if kind == "response.done":
                self.report.value = turn_report(voice.conversation)._repr_html_()
                self.status.value = "answered: toggle Talk to speak again"
            elif kind == "error":
                self.status.value = f"error: {(event.get('error') or {}).get('message', '')}"

    def close(self) -> None:
        """Stop recording and receiving and close the player (the client stays open)."""
        self.voice.close()
        self.player.close()
        self.widget.close()
