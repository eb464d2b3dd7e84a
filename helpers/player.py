"""Playback that knows what was heard: the position you truncate an interrupted answer at.

One interface, two players:

* `PyAudioPlayer` plays on the sound card (pyaudio installed and an output device present);
* `VirtualPlayer` plays silently against a clock (headless machines, Colab, CI): its
  position advances in real time exactly as a sound card's would.

`open_player()` picks one. Both take pcm16 24 kHz deltas as they arrive (`feed`, never
blocks), hold back a short jitter prebuffer before starting (a shorter tail plays once it has
waited that long, or at once on `wait_done`), count the milliseconds actually
played (per item, when fed with the delta's ``item_id``), and on `interrupt()` fade out over
a few ms (no click) and report where playback stopped. `truncate_event` turns that into the
`conversation.item.truncate` the server needs::

    player = open_player()
    player.feed(audio.add(event["delta"]), item_id=event["item_id"])   # for each audio delta
    ...                                                                 # the user barges in
    player.interrupt()
    client.send(player.truncate_event())
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable

import numpy as np

from .audio import BYTES_PER_MS, BYTES_PER_SAMPLE, SAMPLE_RATE
from .events import item_truncate

BLOCK_MS = 20            # the device takes audio in blocks of this size
PREBUFFER_MS = 80        # audio held back before playback starts (absorbs network jitter)
FADE_MS = 8              # fade-out length on interrupt

_BLOCK_BYTES = BLOCK_MS * BYTES_PER_MS


def truncate_event(item_id: str, played_ms: float, received_ms: float, content_index: int = 0) -> dict:
    """`conversation.item.truncate` at what was heard: `played_ms`, never beyond `received_ms`.

    Nothing played yet (0 ms) gives ``audio_end_ms: 0``: the listener heard none of the item,
    so the server drops all of its audio and transcript. Positions are floored to whole ms.
    """
    if not isinstance(item_id, str) or not item_id:
        raise ValueError(f"item_id must be the assistant item's id (a non-empty str), not {item_id!r}")
    for name, value in (("played_ms", played_ms), ("received_ms", received_ms)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"{name} must be a number of milliseconds, not {type(value).__name__}")
        if not value >= 0:
            raise ValueError(f"{name} must be >= 0, not {value}")
    return item_truncate(item_id, math.floor(min(played_ms, received_ms)), content_index)


class _Playback:
    """The pure core both players share: what the device plays next, and what has been played.

    Not thread-safe on its own: the players call it under their lock.
    """

    def __init__(self, prebuffer_ms: float):
        if isinstance(prebuffer_ms, bool) or not isinstance(prebuffer_ms, (int, float)) or not prebuffer_ms >= 0:
            raise ValueError(f"prebuffer_ms must be a number >= 0, not {prebuffer_ms!r}")
        self.prebuffer_bytes = int(prebuffer_ms * BYTES_PER_MS)
        self.chunks: deque[list] = deque()        # [item_id, memoryview] still to play, in order
        self.pending = 0                          # bytes in `chunks`
        self.fade = b""                           # faded audio to play before silence
        self.playing = False                      # False while (re)filling the prebuffer
        self.flushing = False                     # play what is there without waiting for more
        self.played_total = 0
        self.played: dict[str | None, int] = {}   # bytes played per item
        self.fed: dict[str | None, int] = {}      # bytes fed per item
        self.cut: set[str] = set()                # interrupted items: their late deltas are dropped
        self.current_item: str | None = None
        self.waited = 0                           # bytes of silence played while audio waited

    def feed(self, pcm16: bytes, item_id: str | None) -> bool:
        if item_id in self.cut or not pcm16:
            return False
        self.chunks.append([item_id, memoryview(pcm16)])
        self.pending += len(pcm16)
        self.fed[item_id] = self.fed.get(item_id, 0) + len(pcm16)
        return True

    @property
    def drained(self) -> bool:
        """Nothing left to play (a fade-out counts): pulling would give silence and change nothing."""
        return not self.pending and not self.fade

    def _ready(self) -> bool:
        """Start playing: the prebuffer is full, or has waited its length in time, or a flush."""
        return self.pending > 0 and (self.flushing or self.pending >= self.prebuffer_bytes
                                     or self.waited >= self.prebuffer_bytes)

    def _take(self, nbytes: int) -> bytes:
        """Remove up to `nbytes` from the front of the queue, counting them as played."""
        out = bytearray()
        while self.chunks and len(out) < nbytes:
            entry = self.chunks[0]
            item_id, view = entry
            part = view[:nbytes - len(out)]
            out += part
            self.played[item_id] = self.played.get(item_id, 0) + len(part)
            self.current_item = item_id
            if len(part) == len(view):
                self.chunks.popleft()
            else:
                entry[1] = view[len(part):]
        self.pending -= len(out)
        self.played_total += len(out)
        return bytes(out)

    def pull(self, nbytes: int) -> bytes:
        """The next `nbytes` for the device: audio, or silence while buffering or after a cut."""
        if self.fade:
            out, self.fade = self.fade[:nbytes], self.fade[nbytes:]
        elif not self.playing and not self._ready():
            self.waited += nbytes if self.pending else 0
            out = b""
        else:
            self.playing, self.waited = True, 0
            out = self._take(nbytes)
            if not self.pending:                  # drained or underrun: refill before resuming
                self.playing = self.flushing = False
        return out + bytes(nbytes - len(out))

    def flush(self) -> None:
        """No more audio is coming for now: play what is queued without waiting for the prebuffer."""
        if self.pending:
            self.flushing = True

    def interrupt(self) -> float:
        """Stop: fade out the next few ms (if playing), drop the rest; ms played of the current item."""
        if self.playing:
            samples = np.frombuffer(self._take(FADE_MS * BYTES_PER_MS), dtype="<i2")
            ramp = 0.5 * (1.0 + np.cos(np.pi * np.arange(1, len(samples) + 1) / len(samples)))
            self.fade = np.rint(samples * ramp).astype("<i2").tobytes()
        for item_id, _ in self.chunks:
            if item_id is not None:
                self.cut.add(item_id)
        if self.current_item is not None:
            self.cut.add(self.current_item)
        self.chunks.clear()
        self.pending = self.waited = 0
        self.playing = self.flushing = False
        return self.played_ms(self.current_item)

    def played_ms(self, item_id: str | None) -> float:
        return self.played.get(item_id, 0) / BYTES_PER_MS


class Player:
    """The interface of both players: feed deltas, read the position, interrupt, wait, close."""

    def __init__(self, prebuffer_ms: float = PREBUFFER_MS):
        self._core = _Playback(prebuffer_ms)
        self._cond = threading.Condition()
        self._closed = False

    # The device side: subclasses make the core's position follow their device.
    def _advance(self) -> None:
        """Bring the core up to date with the device (called under the lock)."""

    def _seconds_to_drain(self) -> float:
        """How long to wait before the queue could be drained (called under the lock)."""
        return BLOCK_MS / 1000

    def feed(self, pcm16: bytes | bytearray | memoryview, item_id: str | None = None) -> bool:
        """Queue pcm16 24 kHz audio; returns False when it is dropped (its item was interrupted)."""
        if not isinstance(pcm16, (bytes, bytearray, memoryview)):
            raise TypeError(f"feed takes pcm16 bytes (decode the base64 delta first), not {type(pcm16).__name__}")
        if len(pcm16) % BYTES_PER_SAMPLE:
            raise ValueError(f"pcm16 audio has an odd number of bytes ({len(pcm16)}): a sample is 2 bytes")
        if item_id is not None and not isinstance(item_id, str):
            raise TypeError(f"item_id must be a str or None, not {type(item_id).__name__}")
        with self._cond:
            self._check_open()
            self._advance()
            queued = self._core.feed(bytes(pcm16), item_id)
            self._cond.notify_all()
            return queued

    @property
    def played_ms(self) -> float:
        """Milliseconds of audio played so far, all items together."""
        with self._cond:
            self._advance()
            return self._core.played_total / BYTES_PER_MS

    def item_played_ms(self, item_id: str | None) -> float:
        """Milliseconds of `item_id`'s audio played so far."""
        with self._cond:
            self._advance()
            return self._core.played_ms(item_id)

    @property
    def current_item(self) -> str | None:
        """The item whose audio played last (None before any, or when fed without item ids)."""
        with self._cond:
            self._advance()
            return self._core.current_item

    @property
    def buffered_ms(self) -> float:
        """Milliseconds fed but not yet played."""
        with self._cond:
            self._advance()
            return self._core.pending / BYTES_PER_MS

    def interrupt(self) -> float:
        """Stop within one block with a short fade-out; returns the ms played of the current item.

        Audio still queued is dropped, and later deltas of the interrupted items are ignored.
        """
        with self._cond:
            self._advance()
            position = self._core.interrupt()
            self._cond.notify_all()
            return position

    def truncate_event(self, item_id: str | None = None, content_index: int = 0) -> dict:
        """`conversation.item.truncate` for `item_id` (default: the current item) at what was played."""
        with self._cond:
            self._advance()
            item_id = self._core.current_item if item_id is None else item_id
            if item_id is None:
                raise ValueError("no item to truncate: pass item_id, or feed audio with item_id=...")
            received = self._core.fed.get(item_id, 0) / BYTES_PER_MS
            return truncate_event(item_id, self._core.played_ms(item_id), received, content_index)

    def wait_done(self, timeout: float = 30.0) -> float:
        """Wait until everything fed has played (the prebuffer is flushed); returns `played_ms`.

        Raises TimeoutError if playback has not finished within `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            self._core.flush()
            while True:
                self._advance()
                if self._core.drained or self._closed:
                    return self._core.played_total / BYTES_PER_MS
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"playback not finished within {timeout:g} s: "
                        f"{self._core.played_total / BYTES_PER_MS:.0f} ms played, "
                        f"{self._core.pending / BYTES_PER_MS:.0f} ms still queued")
                self._cond.wait(min(left, self._seconds_to_drain()))

    def close(self) -> None:
        """Stop playback and release the device; queued audio is dropped."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"this {type(self).__name__} is closed")

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        with self._cond:
            self._advance()
            state = "closed" if self._closed else "playing" if self._core.playing else "idle"
            return (f"{type(self).__name__}({state}, played {self._core.played_total / BYTES_PER_MS:.0f} ms, "
                    f"queued {self._core.pending / BYTES_PER_MS:.0f} ms)")


class VirtualPlayer(Player):
    """A silent player that plays against a clock, block by block, as a sound card would.

    `clock` (seconds, default `time.monotonic`) can be replaced in tests. The position is
    computed from the clock when asked, so no thread is needed.
    """

    def __init__(self, prebuffer_ms: float = PREBUFFER_MS, clock: Callable[[], float] = time.monotonic):
        super().__init__(prebuffer_ms)
        self._clock = clock
        self._start = clock()
        self._blocks = 0                          # blocks the virtual device has taken so far

    def _advance(self) -> None:
        if self._closed:
            return
        # The tiny epsilon keeps float rounding (0.3 s read as 0.29999...) from losing a block.
        due = math.floor((self._clock() - self._start) * 1000 / BLOCK_MS + 1e-9) - self._blocks
        while due > 0:
            if self._core.drained:                # the device would only take silence: skip ahead
                self._blocks += due
                break
            self._core.pull(_BLOCK_BYTES)
            self._blocks += 1
            due -= 1

    def _seconds_to_drain(self) -> float:
        blocks_left = -(-self._core.pending // _BLOCK_BYTES) + bool(self._core.fade)
        end = self._start + (self._blocks + max(blocks_left, 1)) * BLOCK_MS / 1000
        return max(end - self._clock(), 0.001)


class PyAudioPlayer(Player):
    """Plays on the default (or given) output device through pyaudio's callback stream.

    The position counts audio handed to the device, so it runs ahead of the loudspeaker by at
    most one block plus the device's output latency.
    """

    def __init__(self, prebuffer_ms: float = PREBUFFER_MS, device_index: int | None = None):
        super().__init__(prebuffer_ms)
        import pyaudio

        self._pyaudio = pyaudio
        with quiet_stderr():
            self._pa = pyaudio.PyAudio()
            try:
                self._stream = self._pa.open(format=pyaudio.paInt16, channels=1, rate=SAMPLE_RATE,
                                             output=True, output_device_index=device_index,
                                             frames_per_buffer=_BLOCK_BYTES // BYTES_PER_SAMPLE,
                                             stream_callback=self._callback)
            except Exception:
                self._pa.terminate()
                raise

    def _callback(self, in_data, frame_count, time_info, status):
        with self._cond:
            data = self._core.pull(frame_count * BYTES_PER_SAMPLE)
            self._cond.notify_all()
        return data, self._pyaudio.paContinue

    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            super().close()
        self._stream.stop_stream()
        self._stream.close()
        self._pa.terminate()


def device_problem(direction: str = "output") -> str | None:
    """Why pyaudio cannot play ("output") or record ("input") here, or None if it can."""
    if direction not in ("input", "output"):
        raise ValueError(f"direction must be 'input' or 'output', not {direction!r}")
    try:
        import pyaudio
    except ImportError:
        return "pyaudio is not installed (pip install pyaudio; it needs portaudio19-dev)"
    with quiet_stderr():
        pa = pyaudio.PyAudio()
        try:
            getattr(pa, f"get_default_{direction}_device_info")()
        except OSError:
            return f"no audio {direction} device found"
        finally:
            pa.terminate()
    return None


def output_device_problem() -> str | None:
    """Why pyaudio cannot play here (not installed, no output device), or None if it can."""
    return device_problem("output")


def open_player(prefer: str = "auto", *, prebuffer_ms: float = PREBUFFER_MS, verbose: bool = True) -> Player:
    """A player: "pyaudio" (the sound card), "virtual" (silent, clock-driven) or "auto".

    "auto" uses pyaudio when it is installed and an output device exists, and otherwise says
    in one line (``verbose=True``) that it falls back to the virtual player.
    """
    if prefer not in ("auto", "pyaudio", "virtual"):
        raise ValueError(f"prefer must be 'auto', 'pyaudio' or 'virtual', not {prefer!r}")
    if prefer == "virtual":
        return VirtualPlayer(prebuffer_ms)
    problem = output_device_problem()
    if problem is None:
        return PyAudioPlayer(prebuffer_ms)
    if prefer == "pyaudio":
        raise RuntimeError(f"cannot play on the sound card: {problem} (use prefer='virtual' or 'auto')")
    if verbose:
        print(f"{problem}: using the silent VirtualPlayer (it plays against the clock)")
    return VirtualPlayer(prebuffer_ms)


@contextlib.contextmanager
def quiet_stderr():
    """Silence file descriptor 2 while PortAudio probes devices (ALSA and JACK print pages of noise).

    Jupyter forwards fd 2 to the notebook, so without this the probe would fill cell outputs.
    """
    try:
        saved = os.dup(2)
    except OSError:                               # no fd 2 at all: nothing to silence
        yield
        return
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
