"""The input audio buffer and server VAD: pcm16 24 kHz mono accounting, energy-based speech detection.

Server VAD, energy based: the appended audio is cut into 20 ms frames; a frame is speech when its
RMS level (dBFS) reaches ``-60 + 50 * threshold`` (so OpenAI's default ``threshold`` 0.5 is
-35 dBFS). StepFun's ``energy_awakeness_threshold`` (0..5000) maps to ``threshold = value / 5000``.
``audio_start_ms`` is the first speech frame minus ``prefix_padding_ms`` (clamped at 0);
speech stops once ``silence_duration_ms`` of silence followed it, and ``audio_end_ms`` is the end
of that silence, where the buffer is committed.
"""

from __future__ import annotations

import base64
import binascii
import json
import sys
from collections.abc import Generator

import numpy as np

from ..limits import FrameText
from ..personas import BYTES_PER_MS, MAX_APPEND_BYTES, MIN_COMMIT_MS
from .validation import ClientError, expect

VAD_FRAME_MS = 20
STEP_CHARS = 512 * 1024   # base64 characters decoded per step of a large append (a multiple of 4: 384 KiB of audio)


class InputBuffer:
    """Byte accounting of the audio a client appended, commits and clears, and VAD over it."""

    def __init__(self):
        self.total = 0        # bytes appended since the session began
        self.start = 0        # where the uncommitted audio begins
        self.vad = Vad()

    def append(self, event: dict, vad: dict | None) -> list[tuple[str, int]]:
        """Take an append event's audio; returns the VAD changes it caused (("started"|"stopped", offset))."""
        audio = expect(event["audio"], str, "audio", "a base64-encoded string")
        check_append_length(len(audio))
        return self.take(decode_audio(audio), vad)

    def take(self, pcm: bytes, vad: dict | None) -> list[tuple[str, int]]:
        """Append decoded audio; returns the VAD changes it caused."""
        begin = self.total
        self.total += len(pcm)
        return self.vad.feed(pcm, begin, vad) if vad is not None else []

    def check_commit(self) -> None:
        """Refuse a commit of less than 100 ms, with OpenAI's wording."""
        buffered_ms = (self.total - self.start) / BYTES_PER_MS
        if buffered_ms < MIN_COMMIT_MS:
            raise ClientError("input_audio_buffer_commit_empty", "Error committing input audio buffer: buffer too "
                              f"small. Expected at least {MIN_COMMIT_MS}ms of audio, but buffer only has "
                              f"{buffered_ms:.2f}ms of audio.")

    def committed(self, end: int) -> None:
        """The audio up to byte `end` became an item."""
        self.start = end

    def clear(self) -> None:
        """Drop the uncommitted audio and any speech in progress."""
        self.start = self.total
        self.vad.reset()


def decode_steps(text: FrameText, start: int, end: int) -> Generator[None, None, list[bytes]]:
    """The audio of ``text[start:end]`` (base64) decoded `STEP_CHARS` at a time, yielding after each piece.

    Decoding all of it before any is taken keeps an append all or nothing, as `append`.
    """
    check_append_length(end - start)
    pieces = []
    for at in range(start, end, STEP_CHARS):
        stop = min(at + STEP_CHARS, end)
        chunk = text[at:stop]
        if stop < end and chunk[-1:] in ("=", b"="):  # padding before the end: what the whole would fail on
            raise _invalid("Excess data after padding")
        pieces.append(decode_audio(chunk))
        yield
    return pieces


def is_event_audio(message: FrameText, start: int) -> bool:
    """True when the bulk string opening at `start` (`limits.bulk_span`) is the event's own ``audio``.

    The text before it, closed right there, must be a whole JSON object whose last key is ``audio``
    (a nested ``audio``, in an item's content, leaves braces open).
    """
    try:
        head = json.loads(message[:start] + ('"}' if isinstance(message, str) else b'"}'))  # type: ignore[operator]
    except (ValueError, RecursionError):
        return False
    return isinstance(head, dict) and list(head)[-1:] == ["audio"]


def without_audio(message: FrameText, span: tuple[int, int]) -> str:
    """The frame with its audio string emptied (``"audio":""``), as text: small, quick to parse."""
    return as_text(message[:span[0]] + message[span[1]:])  # type: ignore[operator]  # str + str, bytes + bytes


def as_text(message: FrameText) -> str:
    """A text frame handed over as its UTF-8 bytes (the server checked them) as text; text stays as it is."""
    return message if isinstance(message, str) else bytes(message).decode()


def check_append_length(chars: int) -> None:
    """Refuse an append of more than 15 MiB of base64 audio."""
    if chars > MAX_APPEND_BYTES:
        # [UNCONFIRMED] code and wording; the 15 MiB limit itself is documented.
        raise ClientError("invalid_value", f"Invalid 'audio': an append carries at most {MAX_APPEND_BYTES} "
                          f"bytes (15 MiB) of base64 audio, but this one has {chars}. Send smaller chunks.", "audio")


def decode_audio(audio: FrameText) -> bytes:
    """Base64 audio decoded strictly; `InvalidAudio` when it is not base64."""
    try:
        if sys.version_info >= (3, 11):
            return binascii.a2b_base64(audio, strict_mode=True)
        return base64.b64decode(audio, validate=True)  # strict_mode is Python 3.11+; 3.10 checks the alphabet only
    except (binascii.Error, ValueError, TypeError) as exc:  # ValueError: not ASCII; TypeError: not a string
        raise _invalid(str(exc)) from None


class InvalidAudio(ClientError):
    """An append's audio that is not base64 (a session may answer it in its own words)."""


def _invalid(reason: str) -> InvalidAudio:
    # [UNCONFIRMED] code and wording.
    return InvalidAudio("invalid_value", f"Invalid 'audio': expected base64-encoded audio bytes ({reason}).", "audio")


class Vad:
    """Energy-based voice activity detection over 20 ms frames (see the module docstring)."""

    FRAME = VAD_FRAME_MS * BYTES_PER_MS

    def __init__(self):
        self.carry = b""
        self.item_id: str | None = None
        self.reset()

    def reset(self) -> None:
        """Forget any speech in progress (after a commit or clear)."""
        self.speaking = False
        self.silence_ms = 0
        self.item_id = None

    def feed(self, pcm: bytes, start: int, settings: dict) -> list[tuple[str, int]]:
        """Changes ("started", byte offset) / ("stopped", byte offset) found in `pcm` appended at offset `start`."""
        data = self.carry + pcm
        begin = start - len(self.carry)
        usable = len(data) - len(data) % self.FRAME
        self.carry = data[usable:]
        if not usable:
            return []
        samples = np.frombuffer(data[:usable], dtype="<i2").astype(np.float32).reshape(-1, self.FRAME // 2)
        rms = np.sqrt(np.mean(samples * samples, axis=1)) / 32768.0
        level = 20 * np.log10(np.maximum(rms, 1e-9))
        floor = -60 + 50 * _threshold(settings)
        padding = int(settings.get("prefix_padding_ms") or 0) * BYTES_PER_MS
        silence_needed = int(settings.get("silence_duration_ms") or 0)
        changes = []
        for i, frame_level in enumerate(level.tolist()):
            frame_start = begin + i * self.FRAME
            if not self.speaking:
                if frame_level >= floor:
                    self.speaking, self.silence_ms = True, 0
                    changes.append(("started", max(0, frame_start - padding)))
            elif frame_level >= floor:
                self.silence_ms = 0
            else:
                self.silence_ms += VAD_FRAME_MS
                if self.silence_ms >= silence_needed:
                    self.speaking = False
                    changes.append(("stopped", frame_start + self.FRAME))
        return changes


def _threshold(settings: dict) -> float:
    """OpenAI's 0..1 threshold, or StepFun's 0..5000 energy threshold scaled to it (validated upstream)."""
    threshold = settings.get("threshold")
    if isinstance(threshold, (int, float)) and not isinstance(threshold, bool):
        return float(threshold)
    energy = settings.get("energy_awakeness_threshold", 2500)
    return float(energy if isinstance(energy, (int, float)) else 2500) / 5000
