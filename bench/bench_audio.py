"""The audio layer against the obvious alternatives, measured in the same run.

1. Resample 60 s of 48 kHz stereo to 24 kHz mono: `helpers.audio.to_mono_24k` (soxr) vs
   `scipy.signal.resample_poly` (after the same downmix).
2. Decode and save 60 s of 24 kHz output arriving as 100 ms base64 deltas: `AudioBuffer`
   (decode each delta, append bytes, one wav write) vs the naive ways -- joining the base64
   strings and decoding once, and decoding each delta into a growing numpy array
   (`np.concatenate` per delta). With 100 ms deltas (4,800 bytes, a multiple of 3) the string
   join happens to decode correctly; with padded deltas it silently drops audio.

Each figure is the best of several repeats. Prints times and ratios (>1 means ours is faster).

    python bench/bench_audio.py [--seconds 60] [--repeats 5]
"""

from __future__ import annotations

import argparse
import base64
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
from scipy.signal import resample_poly

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from helpers.audio import AudioBuffer, append_payloads, to_mono_24k, to_pcm16  # noqa: E402


def best_of(repeats: int, fn) -> tuple[float, object]:
    """The fastest of `repeats` runs of `fn()` in seconds, with its last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def bench_resample(seconds: float, repeats: int) -> None:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * 48_000)) / 48_000
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 660 * t)], axis=1)
    stereo = (0.4 * stereo + 0.01 * rng.standard_normal(stereo.shape)).astype(np.float32)

    ours, out_ours = best_of(repeats, lambda: to_mono_24k(stereo, 48_000))
    peer, out_peer = best_of(repeats, lambda: resample_poly(stereo.mean(axis=1), 1, 2).astype(np.float32))
    assert len(out_ours) == len(out_peer) == int(seconds * 24_000)
    print(f"resample {seconds:g} s 48 kHz stereo -> 24 kHz mono")
    print(f"  ours (soxr HQ)            {ours * 1000:8.1f} ms")
    print(f"  scipy resample_poly       {peer * 1000:8.1f} ms")
    print(f"  ratio scipy/ours          {peer / ours:8.2f}x")


def bench_decode_save(seconds: float, repeats: int, folder: Path) -> None:
    rng = np.random.default_rng(1)
    pcm = to_pcm16((0.3 * rng.standard_normal(int(seconds * 24_000))).clip(-1, 1).astype(np.float32))
    deltas = list(append_payloads(pcm, chunk_ms=100))

    def ours():
        buffer = AudioBuffer()
        for delta in deltas:
            buffer.add(delta)
        return buffer.save(folder / "ours.wav")

    def naive_join():
        joined = base64.b64decode("".join(deltas))
        soundfile.write(folder / "join.wav", np.frombuffer(joined, dtype="<i2"), 24_000, subtype="PCM_16")

    def naive_concatenate():
        samples = np.zeros(0, dtype=np.int16)
        for delta in deltas:
            samples = np.concatenate([samples, np.frombuffer(base64.b64decode(delta), dtype="<i2")])
        soundfile.write(folder / "concat.wav", samples, 24_000, subtype="PCM_16")

    t_ours, path = best_of(repeats, ours)
    t_join, _ = best_of(repeats, naive_join)
    t_concat, _ = best_of(repeats, naive_concatenate)
    assert soundfile.read(path, dtype="int16")[0].tobytes() == pcm
    print(f"decode + save {seconds:g} s of 24 kHz output in {len(deltas)} deltas of 100 ms")
    print(f"  ours (AudioBuffer)        {t_ours * 1000:8.1f} ms")
    print(f"  naive: join base64 first  {t_join * 1000:8.1f} ms   (loses audio when a delta is padded)")
    print(f"  naive: np.concatenate     {t_concat * 1000:8.1f} ms")
    print(f"  ratio join/ours           {t_join / t_ours:8.2f}x")
    print(f"  ratio concatenate/ours    {t_concat / t_ours:8.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    bench_resample(args.seconds, args.repeats)
    with tempfile.TemporaryDirectory() as folder:
        bench_decode_save(args.seconds, args.repeats, Path(folder))


if __name__ == "__main__":
    main()
