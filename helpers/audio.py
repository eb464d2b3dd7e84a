"""Audio for the Realtime API: the one format it speaks, and the ways to get there and back.

The API's ``pcm16`` is 16-bit signed little-endian PCM, mono, 24 kHz: 48 bytes per ms.
Everything here is pure (numpy, soundfile, soxr); nothing touches a socket.

* in:  `load_audio` (any file soundfile reads -> float32 mono 24 kHz), `to_pcm16`,
  `append_payloads` / `append_events` (base64 chunks on sample boundaries, under 15 MiB).
* out: `decode_delta` / `decode_deltas` (decode each delta, then join bytes), `AudioBuffer`
  (one item's audio: duration, samples, wav, an `IPython.display.Audio`).

Notices (resampled, downmixed) are printed to stdout when ``verbose=True`` (the default), so a
learner sees them and nbval compares them like any output; they are also logged at INFO on the
``helpers.audio`` logger. Nothing is written to stderr.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import soundfile
import soxr

from .events import BYTES_PER_MS, MAX_APPEND_BYTES, SAMPLE_RATE, input_audio_append

BYTES_PER_SAMPLE = 2
DEFAULT_CHUNK_MS = 40                     # 1,920 bytes of audio per append
PROGRESS_MIN_S = 10.0                     # progress="auto" shows a bar from this much audio

# Room for the event's JSON envelope ({"type": ..., "event_id": ..., "audio": "..."}).
_ENVELOPE_BYTES = 1024
# Largest pcm16 chunk whose base64 (4 chars per 3 bytes) keeps the event under the limit.
MAX_CHUNK_BYTES = ((MAX_APPEND_BYTES - _ENVELOPE_BYTES) // 4 * 3) // BYTES_PER_SAMPLE * BYTES_PER_SAMPLE

log = logging.getLogger(__name__)


# -- files -> float32 mono 24 kHz ------------------------------------------------------

def load_audio(path: str | Path, *, verbose: bool = True) -> np.ndarray:
    """Read any file soundfile reads (wav, flac, ogg, ...) as float32 mono 24 kHz samples.

    Stereo is averaged to mono and other rates are resampled with soxr; when that happens a
    one-line notice is printed (``verbose=True``) and logged. Raises FileNotFoundError for a
    missing file and ValueError for an unreadable, empty or non-finite one.
    """
    if not isinstance(path, (str, Path)):
        raise TypeError(f"path must be a str or pathlib.Path, not {type(path).__name__}")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no audio file at {path}")
    try:
        data, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except soundfile.SoundFileError as exc:
        raise ValueError(f"{path}: not an audio file soundfile can read ({exc})") from None
    if data.shape[0] == 0:
        raise ValueError(f"{path}: the file holds no audio samples")
    if not np.isfinite(data).all():
        raise ValueError(f"{path}: the audio contains NaN or infinite samples")
    changes = []
    if data.shape[1] > 1:
        changes.append(f"downmixed {data.shape[1]} channels to mono")
    if rate != SAMPLE_RATE:
        changes.append(f"resampled {rate} Hz to {SAMPLE_RATE} Hz")
    samples = to_mono_24k(data, rate)
    if changes:
        notice = f"{path.name}: {' and '.join(changes)} ({len(samples) / SAMPLE_RATE:.2f} s)"
        log.info(notice)
        if verbose:
            print(notice)
    return samples


def to_mono_24k(samples: np.ndarray, rate: int) -> np.ndarray:
    """Float samples at `rate` ((frames,) or (frames, channels)) as float32 mono 24 kHz."""
    samples = _float_samples(samples, allow_channels=True)
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or rate <= 0:
        raise ValueError(f"rate must be a positive whole number of Hz, not {rate!r}")
    if samples.ndim == 2:
        samples = samples.mean(axis=1, dtype=np.float32)
    if rate != SAMPLE_RATE:
        samples = soxr.resample(samples, int(rate), SAMPLE_RATE, quality="HQ")
    return np.ascontiguousarray(samples, dtype=np.float32)


# -- float32 <-> pcm16 -----------------------------------------------------------------

def to_pcm16(samples: np.ndarray) -> bytes:
    """Float samples in [-1, 1] as pcm16 little-endian bytes; louder samples are clipped."""
    if isinstance(samples, np.ndarray) and samples.dtype == np.int16:
        return samples.astype("<i2", copy=False).tobytes()
    samples = _float_samples(samples, allow_channels=False)
    scaled = np.rint(samples * 32768.0)
    return np.clip(scaled, -32768, 32767).astype("<i2").tobytes()


def from_pcm16(pcm16: bytes | bytearray | memoryview) -> np.ndarray:
    """pcm16 little-endian bytes as float32 samples in [-1, 1)."""
    return _int16(pcm16).astype(np.float32) / 32768.0


def bytes_to_ms(nbytes: int) -> float:
    """Duration in ms of `nbytes` of pcm16 24 kHz audio (48 bytes per ms)."""
    if isinstance(nbytes, bool) or not isinstance(nbytes, (int, np.integer)) or nbytes < 0:
        raise ValueError(f"nbytes must be a whole number >= 0, not {nbytes!r}")
    return nbytes / BYTES_PER_MS


def ms_to_bytes(ms: float) -> int:
    """Bytes of pcm16 24 kHz audio in `ms` milliseconds, rounded down to whole samples."""
    if isinstance(ms, bool) or not isinstance(ms, (int, float, np.integer, np.floating)) or not ms >= 0:
        raise ValueError(f"ms must be a number >= 0, not {ms!r}")
    return int(ms * SAMPLE_RATE / 1000) * BYTES_PER_SAMPLE


# -- sending: chunks on sample boundaries ----------------------------------------------

def append_payloads(pcm16: bytes | bytearray | memoryview, chunk_ms: float = DEFAULT_CHUNK_MS) -> Iterator[str]:
    """Base64 payloads for `input_audio_buffer.append`: `chunk_ms` of whole samples each.

    The last chunk may be shorter. A chunk never makes an append event over 15 MiB.
    """
    data = memoryview(_check_pcm16(pcm16))
    step = _chunk_bytes(chunk_ms)
    return (base64.b64encode(data[start:start + step]).decode("ascii") for start in range(0, len(data), step))


def append_events(audio: str | Path | bytes | np.ndarray, *, chunk_ms: float = DEFAULT_CHUNK_MS,
                  progress: bool | None = None, verbose: bool = True) -> Iterator[dict]:
    """`input_audio_buffer.append` events for a file, pcm16 bytes, or float32 24 kHz samples.

    A generator: ``for event in append_events("media/question.wav"): client.send(event)``.
    `progress` shows a tqdm bar (True), hides it (False), or shows it for inputs of at least
    ``PROGRESS_MIN_S`` seconds (None). `verbose` is passed to `load_audio` for files.
    """
    if isinstance(audio, (str, Path)):
        pcm16 = to_pcm16(load_audio(audio, verbose=verbose))
    elif isinstance(audio, np.ndarray):
        pcm16 = to_pcm16(audio)
    elif isinstance(audio, (bytes, bytearray, memoryview)):
        pcm16 = bytes(_check_pcm16(audio))
    else:
        raise TypeError("audio must be a file path, pcm16 bytes or a numpy array of samples, "
                        f"not {type(audio).__name__}")
    step = _chunk_bytes(chunk_ms)
    seconds = len(pcm16) / (BYTES_PER_MS * 1000)
    show = seconds >= PROGRESS_MIN_S if progress is None else bool(progress)
    return _append_events(pcm16, step, seconds, show)


def _append_events(pcm16: bytes, step: int, seconds: float, show: bool) -> Iterator[dict]:
    from tqdm.auto import tqdm


    view = memoryview(pcm16)
    with tqdm(total=seconds, unit="s", desc="sending audio", disable=not show,
              bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s") as bar:
        for start in range(0, len(view), step):
            chunk = view[start:start + step]
            yield input_audio_append(bytes(chunk))
            bar.update(len(chunk) / (BYTES_PER_MS * 1000))


def _chunk_bytes(chunk_ms: float) -> int:
    if isinstance(chunk_ms, bool) or not isinstance(chunk_ms, (int, float)) or not chunk_ms > 0:
        raise ValueError(f"chunk_ms must be a positive number of milliseconds, not {chunk_ms!r}")
    step = max(1, round(chunk_ms * SAMPLE_RATE / 1000)) * BYTES_PER_SAMPLE
    if step > MAX_CHUNK_BYTES:
        raise ValueError(f"chunk_ms={chunk_ms:g} makes appends of {step:,} bytes of audio; one "
                         f"input_audio_buffer.append is limited to 15 MiB, so at most "
                         f"{MAX_CHUNK_BYTES // BYTES_PER_MS:,} ms per chunk")
    return step


# -- receiving: decode each delta, then join -------------------------------------------

def decode_delta(delta: str | bytes) -> bytes:
    """The pcm16 bytes of one base64 audio delta (strict: bad base64 raises ValueError)."""
    if not isinstance(delta, (str, bytes)):
        raise TypeError(f"an audio delta is a base64 str, not {type(delta).__name__}")
    try:
        return base64.b64decode(delta, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"audio delta is not valid base64 ({exc}); decode each delta on its "
                         "own: joined base64 strings are not base64") from None


def decode_deltas(deltas: Iterable[str | bytes]) -> bytes:
    """The pcm16 bytes of a sequence of base64 deltas: each decoded on its own, then joined.

    Joining the base64 strings first is wrong: a delta whose length is not a multiple of
    3 bytes ends in ``=`` padding, and a lenient decoder stops there, dropping the rest.
    """
    if isinstance(deltas, (str, bytes)):
        raise TypeError("decode_deltas takes a list of deltas; for one delta use decode_delta")
    return b"".join(decode_delta(delta) for delta in deltas)


class AudioBuffer:
    """The audio of one output item (or any stream), built delta by delta.

    ``buf.add(event["delta"])`` returns the decoded bytes (to feed a player); then
    ``buf.duration_ms``, ``buf.samples``, ``buf.pcm16``, ``buf.save("out.wav")``, ``buf.to_ipython()``.
    """

    def __init__(self, item_id: str | None = None):
        self.item_id = item_id
        self._pcm = bytearray()

    def add(self, delta: str | bytes | bytearray | memoryview) -> bytes:
        """Append one delta: base64 (str, as on the wire) or already-decoded pcm16 bytes."""
        pcm = decode_delta(delta) if isinstance(delta, str) else _check_pcm16(delta, whole=False)
        self._pcm += pcm
        return pcm

    def __len__(self) -> int:
        return len(self._pcm)

    @property
    def duration_ms(self) -> float:
        """Milliseconds of audio received so far."""
        return len(self._pcm) / BYTES_PER_MS

    @property
    def pcm16(self) -> bytes:
        """All the audio as pcm16 little-endian bytes."""
        return bytes(_check_pcm16(self._pcm))

    @property
    def samples(self) -> np.ndarray:
        """All the audio as float32 samples at 24 kHz."""
        return from_pcm16(self._pcm)

    def save(self, path: str | Path) -> Path:
        """Write the audio as a 24 kHz mono 16-bit file (format from the suffix: .wav, .flac, ...)."""
        return save_wav(path, self._pcm)

    def to_ipython(self):
        """An `IPython.display.Audio` player for this audio: a 24 kHz wav of the exact samples, no autoplay."""
        from IPython.display import Audio

        if not self._pcm:
            raise ValueError("no audio to play yet: this buffer is empty")
        wav = io.BytesIO()
        soundfile.write(wav, _int16(self._pcm), SAMPLE_RATE, format="WAV", subtype="PCM_16")
        return Audio(data=wav.getvalue(), autoplay=False)

    def __repr__(self) -> str:
        item = f"item_id={self.item_id!r}, " if self.item_id is not None else ""
        return f"AudioBuffer({item}{self.duration_ms / 1000:.2f} s)"


def save_wav(path: str | Path, audio: bytes | bytearray | np.ndarray) -> Path:
    """Write pcm16 bytes or float samples as a 24 kHz mono 16-bit file; creates the folder."""
    if not isinstance(path, (str, Path)):
        raise TypeError(f"path must be a str or pathlib.Path, not {type(path).__name__}")
    pcm16 = audio if isinstance(audio, (bytes, bytearray, memoryview)) else to_pcm16(audio)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, _int16(pcm16), SAMPLE_RATE, subtype="PCM_16")
    return path


# -- checks ----------------------------------------------------------------------------

def _check_pcm16(pcm16, *, whole: bool = True):
    if not isinstance(pcm16, (bytes, bytearray, memoryview)):
        raise TypeError(f"pcm16 audio must be bytes, not {type(pcm16).__name__}")
    if whole and len(pcm16) % BYTES_PER_SAMPLE:
        raise ValueError(f"pcm16 audio has an odd number of bytes ({len(pcm16):,}): a sample is "
                         "2 bytes, so the audio was cut mid-sample (or base64 strings were joined)")
    return pcm16


def _int16(pcm16) -> np.ndarray:
    return np.frombuffer(_check_pcm16(pcm16), dtype="<i2")


def _float_samples(samples, *, allow_channels: bool) -> np.ndarray:
    if not isinstance(samples, np.ndarray):
        raise TypeError(f"samples must be a numpy array, not {type(samples).__name__}")
    if not np.issubdtype(samples.dtype, np.floating):
        raise TypeError(f"samples must be floats in [-1, 1], not {samples.dtype} "
                        "(for int16 use to_pcm16, for bytes use from_pcm16)")
    if samples.ndim == 2 and allow_channels:
        frames, channels = samples.shape
        if channels > 8 and frames <= 8:
            raise ValueError(f"samples of shape {samples.shape} look like (channels, frames); "
                             "pass (frames, channels): use samples.T")
    elif samples.ndim != 1:
        shape = "(frames,) or (frames, channels)" if allow_channels else "(frames,) (mono)"
        raise ValueError(f"samples must have shape {shape}, not {samples.shape}")
    if not np.isfinite(samples).all():
        raise ValueError("samples contain NaN or infinite values")
    return samples
