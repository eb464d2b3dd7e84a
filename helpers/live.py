"""Talk to the model live: a microphone (or a file standing in for one) in, a player out.

The core is `VoiceSession`, a controller with no widgets in it. It takes an audio *source*
(`MicrophoneSource` through pyaudio, or `FileSource`: a wav file or pcm16 bytes cut into
chunks) and a *player* (`helpers.player`), and drives a `RealtimeClient`:

* push-to-talk: `press(source)` streams ``input_audio_buffer.append`` while you speak;
  `release()` sends ``input_audio_buffer.commit`` + ``response.create`` and returns a
  `LiveTurn` to wait on. With server VAD on, the server commits and answers by itself.
* a whole clip at once (Colab, where the kernel has no microphone): `send_clip(pcm16)`.
* barge-in: pressing while the answer plays stops the player, sends ``response.cancel`` (if the
  response is still running) and ``conversation.item.truncate`` at the position actually played.
  With server VAD, ``input_audio_buffer.speech_started`` does the same (the server cancels).

A background thread owns the client's receive side while the session is open: it feeds audio
deltas to the player and keeps `conversation` (a `helpers.conversation.Conversation`) up to
date, so ``helpers.report.turn_report(voice.conversation)`` works after any response. Close
the session (or use ``with``) before calling ``client.wait_for`` yourself again.

`VoicePanel` is the ipywidgets view on it; `record_in_browser` records a clip in Colab.
"""

from __future__ import annotations

import base64
import html
import tempfile
import threading
from pathlib import Path
from typing import Callable, Iterable, Iterator

from . import events as ev
from .audio import decode_delta, load_audio, to_pcm16
from .events import BYTES_PER_MS, MIN_COMMIT_MS, SAMPLE_RATE
from .errors import RealtimeConnectionClosed, RealtimeServerError, RealtimeTimeout
from .player import Player, device_problem, quiet_stderr, open_player
from .report import turn_report

CHUNK_MS = 100            # audio per input_audio_buffer.append
RECEIVE_POLL_S = 0.2      # the receive thread checks for close() this often while idle
_AUDIO_DELTAS = ev.aliases("response.audio.delta")
_BENIGN_ERRORS = {"response_cancel_not_active"}   # a cancel that raced the response's end


# -- audio sources ---------------------------------------------------------------------

class FileSource:
    """A file (or pcm16 24 kHz bytes) as a microphone: pcm16 chunks of `chunk_ms`.

    `realtime=True` paces the chunks at the speed of speech, as a microphone would;
    `stop()` ends the iteration early (a released button).
    """

    def __init__(self, audio: str | Path | bytes, chunk_ms: float = CHUNK_MS, realtime: bool = False):
        if isinstance(audio, (str, Path)):
            audio = to_pcm16(load_audio(audio, verbose=False))
        if not isinstance(audio, (bytes, bytearray)) or len(audio) % 2:
            raise ValueError("FileSource takes a path or pcm16 bytes (an even number of bytes)")
        if not chunk_ms > 0:
            raise ValueError(f"chunk_ms must be a positive number of milliseconds, not {chunk_ms!r}")
        self.pcm16 = bytes(audio)
        self.chunk_ms = chunk_ms
        self.realtime = realtime
        self._stopped = threading.Event()

    def __iter__(self) -> Iterator[bytes]:
        step = int(self.chunk_ms * SAMPLE_RATE / 1000) * 2
        for start in range(0, len(self.pcm16), step):
            if self._stopped.is_set():
                return
            yield self.pcm16[start:start + step]
            if self.realtime and self._stopped.wait(self.chunk_ms / 1000):
                return

    def stop(self) -> None:
        """End the iteration after the current chunk."""
        self._stopped.set()

    def __repr__(self) -> str:
        return f"FileSource({len(self.pcm16) / BYTES_PER_MS / 1000:.2f} s, chunks of {self.chunk_ms:g} ms)"


class MicrophoneSource:
    """The default (or given) input device through pyaudio, as pcm16 24 kHz chunks until `stop()`.

    The device records at its own rate; soxr resamples to 24 kHz as the audio streams in.
    """

    def __init__(self, device_index: int | None = None, chunk_ms: float = CHUNK_MS):
        problem = microphone_problem()
        if problem is not None:
            raise RuntimeError(f"no microphone: {problem}")
        self.device_index = device_index
        self.chunk_ms = chunk_ms
        self._stopped = threading.Event()

    def __iter__(self) -> Iterator[bytes]:
        import numpy as np
        import pyaudio
        import soxr

        with quiet_stderr():
            pa = pyaudio.PyAudio()
        try:
            info = (pa.get_device_info_by_index(self.device_index) if self.device_index is not None
                    else pa.get_default_input_device_info())
            rate = int(info["defaultSampleRate"])
            frames = int(rate * self.chunk_ms / 1000)
            with quiet_stderr():
                stream = pa.open(format=pyaudio.paInt16, channels=1, rate=rate, input=True,
                                 input_device_index=self.device_index, frames_per_buffer=frames)
            resampler = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="int16")
            try:
                while not self._stopped.is_set():
                    block = np.frombuffer(stream.read(frames, exception_on_overflow=False), dtype="<i2")
                    out = resampler.resample_chunk(block)
                    if len(out):
                        yield out.astype("<i2").tobytes()
            finally:
                stream.stop_stream()
                stream.close()
        finally:
            pa.terminate()

    def stop(self) -> None:
        """Stop recording after the current chunk."""
        self._stopped.set()


def microphone_problem() -> str | None:
    """Why pyaudio cannot record here (not installed, no input device), or None if it can."""
    return device_problem("input")


# -- the controller --------------------------------------------------------------------

class LiveTurn:
    """One turn of a `VoiceSession`: `wait()` returns its answer (the ``response`` of ``response.done``)."""

    def __init__(self, voice: VoiceSession, errors_before: int, sent_ms: float):
        self.voice = voice
        self.sent_ms = sent_ms              # audio sent for this turn
        self.response_id: str | None = None  # set when the server's response.created arrives
        self._errors_before = errors_before

    def wait(self, timeout: float = 30.0) -> dict:
        """Wait for the answer to finish; raises RealtimeServerError, RealtimeTimeout or RealtimeConnectionClosed."""
        return self.voice._wait_turn(self, timeout)

    def __repr__(self) -> str:
        return f"LiveTurn({self.response_id or 'response not created yet'}, {self.sent_ms / 1000:.1f} s of audio sent)"


class VoiceSession:
    """Push-to-talk (or server-VAD) voice turns on `client`, played on `player`, with barge-in.

    `on_change(voice, event)` is called on the receive thread after each server event (for views).
    """

    def __init__(self, client, player: Player, *,
                 on_change: Callable[[VoiceSession, dict], None] | None = None):
        self.client = client
        self.player = player
        self.on_change = on_change
        self.responses: list[dict] = []               # each finished response (response.done)
        self._turns: list[LiveTurn] = []              # turns whose response.created has not arrived
        self.errors: list[RealtimeServerError] = []
        self.truncations: list[dict] = []             # conversation.item.truncate events sent
        self._cond = threading.Condition()
        self._active: str | None = None               # the running response's id
        self._audio_item: str | None = None           # the assistant item whose audio plays last
        self._source = None
        self._sender: threading.Thread | None = None
        self._sent_bytes = 0
        self._send_error: BaseException | None = None
        self._closed = threading.Event()
        self._connection_lost: RealtimeConnectionClosed | None = None
        self._receiver = threading.Thread(target=self._receive, name="voice-receive", daemon=True)
        self._receiver.start()

    # -- reading --

    @property
    def conversation(self) -> Conversation:
        """The conversation so far, kept by the client's core (pass it to `turn_report`)."""
        return self.client.conversation

    @property
    def vad(self) -> bool:
        """True when the session has server VAD on (the server commits and answers by itself)."""
        session = self.client.session or {}
        detection = session.get("turn_detection", ((session.get("audio") or {}).get("input") or {}).get("turn_detection"))
        return bool(detection)

    @property
    def answering(self) -> bool:
        """True while a response runs or its audio is still playing."""
        with self._cond:
            return self._active is not None or self.player.buffered_ms > 0

    # -- speaking --

    def press(self, source: Iterable[bytes]) -> None:
        """Start speaking: stream `source`'s pcm16 chunks as appends (barging in on a playing answer)."""
        if self._sender is not None:
            raise RuntimeError("already speaking: release() first")
        self._check_open()
        if not self.vad and self.answering:
            self.interrupt()
        self._source, self._sent_bytes, self._send_error = source, 0, None
        self._sender = threading.Thread(target=self._send_audio, args=(source,), name="voice-send", daemon=True)
        self._sender.start()

    def release(self, timeout: float = 10.0) -> LiveTurn | None:
        """Stop speaking; without VAD, commit and ask for the answer. None when nothing is to be answered.

        Less than 100 ms of audio is not committed: the buffer is cleared and None returned.
        """
        if self._sender is None:
            raise RuntimeError("release() without press(): nothing is being recorded")
        stop = getattr(self._source, "stop", None)
        if stop is not None:
            stop()
        self._sender.join(timeout)
        if self._sender.is_alive():
            raise RealtimeTimeout(["the audio source to stop"], timeout, [])
        self._sender, self._source = None, None
        if self._send_error is not None:
            raise self._send_error
        sent_ms = self._sent_bytes / BYTES_PER_MS
        if self.vad:
            return None
        if sent_ms < MIN_COMMIT_MS:
            self.client.send(ev.input_audio_clear())
            return None
        turn = self._new_turn(sent_ms)
        self.client.send(ev.input_audio_commit())
        self.client.send(ev.response_create())
        return turn

    def send_audio(self, source: Iterable[bytes], timeout: float = 30.0) -> LiveTurn | None:
        """Send all of `source` (a file standing in for speech), then release: press, wait, release."""
        self.press(source)
        self._sender.join(timeout)
        if self._sender.is_alive():
            raise RealtimeTimeout(["the audio source to end"], timeout, [])
        return self.release()

    def talk(self, source: Iterable[bytes], timeout: float = 30.0) -> dict:
        """A whole push-to-talk turn: send all of `source`, commit, and wait for the answer."""
        turn = self.send_audio(source, timeout)
        if turn is None:
            raise ValueError(f"no turn to wait for: less than {MIN_COMMIT_MS} ms of audio, or server VAD is on")
        return turn.wait(timeout)

    def send_clip(self, pcm16: bytes) -> LiveTurn:
        """Send a whole recording as one user item and ask for the answer (barging in if one plays)."""
        if not isinstance(pcm16, (bytes, bytearray)) or len(pcm16) < MIN_COMMIT_MS * BYTES_PER_MS:
            raise ValueError(f"send_clip takes pcm16 24 kHz bytes, at least {MIN_COMMIT_MS} ms of audio")
        self._check_open()
        if self.answering:
            self.interrupt()
        turn = self._new_turn(len(pcm16) / BYTES_PER_MS)
        self.client.send(ev.user_audio(bytes(pcm16)))
        self.client.send(ev.response_create())
        return turn

    def interrupt(self, cancel: bool = True) -> dict | None:
        """Barge in: stop playback, cancel a running response, truncate at what was played.

        Returns the ``conversation.item.truncate`` sent (None if no answer audio had arrived).
        """
        with self._cond:
            self.player.interrupt()
            if cancel and self._active is not None:
                self.client.send(ev.response_cancel())
            if self._audio_item is None:
                return None
            truncate = self.player.truncate_event(self._audio_item)
            self._audio_item = None
        self.client.send(truncate)
        self.truncations.append(truncate)
        return truncate

    def wait_responses(self, count: int, timeout: float = 30.0) -> dict:
        """Wait until `count` responses have finished in this session (VAD turns too); returns the last."""
        with self._cond:
            errors_before = len(self.errors)
        return self._wait(lambda: self.responses[count - 1] if len(self.responses) >= count else None,
                          errors_before, f"response #{count} done", timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the audio source and the receive thread; the client and player stay open."""
        if self._source is not None and hasattr(self._source, "stop"):
            self._source.stop()
        if self._sender is not None:
            self._sender.join(timeout)
            self._sender = None
        self._closed.set()
        self._receiver.join(timeout)
        if self._receiver.is_alive():
            raise RealtimeTimeout(["the receive thread to stop"], timeout, [])

    def __enter__(self) -> VoiceSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed.is_set() else "answering" if self.answering else "idle"
        return f"<VoiceSession {state}, {len(self.responses)} responses, {len(self.truncations)} truncations>"

    # -- internals --

    def _check_open(self) -> None:
        if self._closed.is_set():
            raise RuntimeError("this VoiceSession is closed")
        if self._connection_lost is not None:
            raise self._connection_lost

    def _new_turn(self, sent_ms: float) -> LiveTurn:
        with self._cond:
            turn = LiveTurn(self, len(self.errors), sent_ms)
            self._turns.append(turn)
            return turn

    def _send_audio(self, source: Iterable[bytes]) -> None:
        try:
            for chunk in source:
                self.client.send(ev.input_audio_append(chunk))
                self._sent_bytes += len(chunk)
        except Exception as exc:  # handed to release(), in the caller's thread
            self._send_error = exc

    def _wait_turn(self, turn: LiveTurn, timeout: float) -> dict:
        def answer():
            return next((r for r in self.responses if turn.response_id and r.get("id") == turn.response_id), None)
        return self._wait(answer, turn._errors_before, "the turn's response.done", timeout)

    def _wait(self, result: Callable[[], dict | None], errors_before: int, label: str, timeout: float) -> dict:
        """Wait until `result()` gives a response, a server error arrives, or the connection closes."""
        with self._cond:
            def ready():
                return (result() is not None or self._connection_lost is not None
                        or any(e.code not in _BENIGN_ERRORS for e in self.errors[errors_before:]))
            if not self._cond.wait_for(ready, timeout):
                raise RealtimeTimeout([label], timeout, [])
            found = result()
            if found is not None:
                return found
            for error in self.errors[errors_before:]:
                if error.code not in _BENIGN_ERRORS:
                    raise error
            raise self._connection_lost

    def _receive(self) -> None:
        """The receive thread: every server event updates the state, the player and the view."""
        while not self._closed.is_set():
            try:
                event = self.client.wait_for(timeout=RECEIVE_POLL_S)
            except RealtimeTimeout:
                continue
            except RealtimeServerError as err:
                event = err.event or {"type": "error", "error": err.error}
                with self._cond:
                    self.errors.append(err)
                    self._cond.notify_all()
            except RealtimeConnectionClosed as err:
                with self._cond:
                    self._connection_lost = err
                    self._cond.notify_all()
                return
            else:
                self._handle(event)
            if self.on_change is not None:
                self.on_change(self, event)

    def _handle(self, event: dict) -> None:
        kind = event.get("type")
        barge_in = False
        with self._cond:
            if kind in _AUDIO_DELTAS:
                if self.player.feed(decode_delta(event["delta"]), item_id=event.get("item_id")):
                    self._audio_item = event.get("item_id")
            elif kind == "response.created":
                self._active = (event.get("response") or {}).get("id")
                if self._turns and not self.vad:
                    self._turns.pop(0).response_id = self._active
            elif kind == "response.done":
                self._active = None
                self.responses.append(event.get("response") or {})
            elif kind == "input_audio_buffer.speech_started":
                barge_in = self._audio_item is not None and self.player.buffered_ms > 0
            self._cond.notify_all()
        if barge_in:   # server VAD cancels the response itself; the client truncates what was heard
            self.interrupt(cancel=False)


# -- Colab: record a clip in the browser -----------------------------------------------

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
    """

    def __init__(self, client, player: Player | None = None, device_index: int | None = None):
        import ipywidgets as widgets

        problem = microphone_problem()
        if problem is not None:
            raise RuntimeError(f"no microphone: {problem}")
        self.device_index = device_index
        self.player = player or open_player()
        self.voice = VoiceSession(client, self.player, on_change=self._on_change)
        self._lock = threading.Lock()
        self.talk = widgets.ToggleButton(description="Talk", icon="microphone",
                                         tooltip="on: record from the microphone; off: send")
        self.stop = widgets.Button(description="Stop answer", icon="stop")
        self.status = widgets.Label("ready: toggle Talk and speak")
        self.transcript = widgets.HTML()
        self.report = widgets.HTML()
        self.talk.observe(self._on_talk, names="value")
        self.stop.on_click(lambda _button: self._interrupt())
        self.widget = widgets.VBox([widgets.HBox([self.talk, self.stop, self.status]),
                                    self.transcript, self.report])

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    def _on_talk(self, change) -> None:
        try:
            if change["new"]:
                self.voice.press(MicrophoneSource(self.device_index))
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
                "response.done", "error", "conversation.item.truncated")):
            return
        with self._lock:
            lines = voice.conversation.lines()
            self.transcript.value = "<br>".join(html.escape(line) for line in lines)
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
