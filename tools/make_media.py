"""Make the spoken user utterances in media/*.wav with espeak-ng (generated speech, CC0).

    python tools/make_media.py [--out DIR]

Each file is listed in `MEDIA` (its words, voice, sample rate, channels and padding) and
described in media/README.md. Output is byte-identical from run to run for one espeak-ng
version. `speak()` is also what tools/synthesize_cassettes.py uses for the assistant's voice.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

ROOT = Path(__file__).resolve().parent.parent
MEDIA_DIR = ROOT / "media"
PEAK = 0.7  # every utterance is normalised to this peak (about -3 dBFS)


@dataclass(frozen=True)
class Utterance:
    """One media file: what is said, by which espeak-ng voice, and how it is stored."""

    file: str
    text: str
    voice: str = "en-us"
    rate: int = 24000
    channels: int = 1
    lead_s: float = 0.15
    tail_s: float = 0.3
    wpm: int = 180
    purpose: str = ""


MEDIA = [
    Utterance("question_en.wav", "Hi! Can you tell me a fun fact about octopuses?",
              purpose="English question (audio turn, relay service turn 1)"),
    Utterance("followup_en.wav", "Wow! How many hearts does it have?",
              purpose="English follow-up that refers back (relay service turn 2)"),
    Utterance("question_zh.wav", "你好，请用一句话介绍你自己。", voice="cmn", wpm=240,
              purpose="Mandarin question (audio turn, whole-file item)"),
    Utterance("hello_48k_stereo.wav", "Hello! This recording is forty eight kilohertz stereo.",
              voice="en-gb", rate=48000, channels=2,
              purpose="resampling lesson: 48 kHz stereo in, 24 kHz mono out"),
    Utterance("hello_44k1.wav", "This file was recorded at forty four point one kilohertz.",
              voice="en-gb", rate=44100,
              purpose="resampling lesson: 44.1 kHz in, 24 kHz out"),
    Utterance("vad_utterance.wav", "Please tell me a story about a brave little robot.",
              lead_s=0.8, tail_s=1.2,
              purpose="voice-activity lesson: 0.8 s silence, speech, 1.2 s silence"),
    Utterance("barge_in.wav", "Wait, stop, tell me something shorter.", lead_s=0.2, tail_s=0.8,
              purpose="barge-in: the user talks over a long answer"),
    # The Chinese edition's spoken turns (tools/scenarios_zh.py)
    Utterance("zh-CN/question.wav", "你好！讲一个章鱼的趣事吧？", voice="cmn", wpm=280,
              purpose="Mandarin question (audio turn, relay service turn 1)"),
    Utterance("zh-CN/followup.wav", "哇！它有几颗心脏？", voice="cmn", wpm=280,
              purpose="Mandarin follow-up that refers back (relay service turn 2)"),
    Utterance("zh-CN/vad_utterance.wav", "讲个小机器人的故事吧。", voice="cmn", wpm=280,
              lead_s=0.8, tail_s=1.2, purpose="voice activity: 0.8 s silence, speech, 1.2 s silence"),
    Utterance("zh-CN/barge_in.wav", "等等，讲短一点。", voice="cmn", wpm=280, lead_s=0.2, tail_s=0.8,
              purpose="barge-in: the user talks over a long answer"),
]


def espeak_version() -> str:
    """The installed espeak-ng version, e.g. "1.51"; RuntimeError when it is missing."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"text-to-speech:\s*(\S+)", out)
    if not match:
        raise RuntimeError(f"cannot read the espeak-ng version from {out!r}")
    return match.group(1)


def speak(text: str, voice: str = "en-us", *, rate: int = 24000, wpm: int = 165) -> np.ndarray:
    """`text` spoken by espeak-ng as float32 mono at `rate` Hz, with its own edge silence trimmed."""
    if not text.strip():
        raise ValueError("speak() needs some text")
    espeak_version()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(path), text],
                       check=True, capture_output=True)
        samples, native_rate = sf.read(path, dtype="float32")
    loud = np.flatnonzero(np.abs(samples) > 1e-3)
    samples = samples[loud[0]:loud[-1] + 1] if loud.size else samples
    return soxr.resample(samples, native_rate, rate, quality="HQ").astype(np.float32)


def render(utterance: Utterance) -> np.ndarray:
    """The utterance as float32 frames (samples, or samples x channels), padded and normalised."""
    speech = speak(utterance.text, utterance.voice, rate=utterance.rate, wpm=utterance.wpm)
    speech *= PEAK / max(float(np.abs(speech).max()), 1e-9)
    lead = np.zeros(round(utterance.lead_s * utterance.rate), np.float32)
    tail = np.zeros(round(utterance.tail_s * utterance.rate), np.float32)
    mono = np.concatenate([lead, speech, tail])
    if utterance.channels == 1:
        return mono
    # A real stereo take: the right microphone hears the speaker a little quieter.
    gains = np.linspace(1.0, 0.6, utterance.channels, dtype=np.float32)
    return np.stack([mono * g for g in gains], axis=1)


def make_media(out: Path = MEDIA_DIR) -> list[Path]:
    """Write every file of `MEDIA` into `out` as 16-bit PCM wav; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for utterance in MEDIA:
        path = out / utterance.file
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, render(utterance), utterance.rate, subtype="PCM_16", format="WAV")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=MEDIA_DIR, help="folder to write the wav files to")
    args = parser.parse_args(argv)
    for path in make_media(args.out):
        info = sf.info(path)
        print(f"{path}  {info.samplerate} Hz  {info.channels} ch  {info.duration:.2f} s")


if __name__ == "__main__":
    main()
