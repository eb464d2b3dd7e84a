"""Audio in for a live conversation: a microphone through pyaudio, or a file standing in for one.

A source is an iterable of pcm16 24 kHz chunks with a `stop()`; `helpers.live_session.VoiceSession`
streams whatever it yields as ``input_audio_buffer.append`` events.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from .audio import load_audio, to_pcm16
from .personas import BYTES_PER_MS, SAMPLE_RATE
from .player import device_problem, quiet_stderr

__all__ = ["CHUNK_MS", "FileSource", "MicrophoneSource", "microphone_problem"]

CHUNK_MS = 100            # audio per input_audio_buffer.append


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
