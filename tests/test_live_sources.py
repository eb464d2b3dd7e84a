"""helpers.live_sources: a file standing in for a microphone, and the pyaudio microphone (ALSA's file plugin as the device)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import soxr

from helpers.audio import load_audio, to_pcm16
from helpers.live_sources import FileSource
from tests.fresh_python import run_python

MEDIA = Path(__file__).resolve().parent.parent / "media"


def test_file_source_refuses_what_is_not_pcm16():
    with pytest.raises(ValueError, match="even number of bytes"):
        FileSource(b"\x00\x01\x02")
    with pytest.raises(ValueError, match="chunk_ms"):
        FileSource(bytes(100), chunk_ms=0)


def test_file_source_reads_a_wav_as_24k_chunks():
    source = FileSource(MEDIA / "question_en.wav", chunk_ms=200)
    chunks = list(source)
    assert {len(c) for c in chunks[:-1]} == {9600}
    assert b"".join(chunks) == source.pcm16 == to_pcm16(load_audio(MEDIA / "question_en.wav", verbose=False))


def test_file_source_paces_like_a_microphone_and_stops_when_released():
    source = FileSource(bytes(48 * 1000), chunk_ms=100, realtime=True)
    chunks = []
    for chunk in source:
        chunks.append(chunk)
        if len(chunks) == 3:
            source.stop()
    assert [len(c) for c in chunks] == [4800] * 3


def test_no_pyaudio_is_said_in_one_line():
    result = run_python("""
        import sys
        sys.modules["pyaudio"] = None
        from helpers.live import microphone_problem, MicrophoneSource
        print(microphone_problem())
        try:
            MicrophoneSource()
        except RuntimeError as exc:
            print(exc)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "pyaudio is not installed (pip install pyaudio; it needs portaudio19-dev)",
        "no microphone: pyaudio is not installed (pip install pyaudio; it needs portaudio19-dev)"]
    assert result.stderr == ""


def test_the_microphone_records_the_device_and_resamples_to_24k(tmp_path):
    pytest.importorskip("pyaudio")
    if not sys.platform.startswith("linux"):
        pytest.skip("the capture device is an ALSA plugin")
    speech = load_audio(MEDIA / "question_en.wav", verbose=False)
    device_rate = 44100                                 # PortAudio's default rate for an ALSA plugin
    played_in = tmp_path / "microphone.raw"
    played_in.write_bytes(to_pcm16(soxr.resample(speech, 24000, device_rate)))
    (tmp_path / ".asoundrc").write_text(
        f'pcm.!default {{ type file slave.pcm "null" file "/dev/null" infile "{played_in}" format "raw" }}\n')
    recorded = tmp_path / "recorded.raw"
    result = run_python(f"""
        from helpers.live import MicrophoneSource, microphone_problem
        assert microphone_problem() is None
        source = MicrophoneSource(chunk_ms=100)
        chunks = []
        for chunk in source:
            chunks.append(chunk)
            if len(chunks) == 20:
                source.stop()
        open({str(recorded)!r}, "wb").write(b"".join(chunks))
    """, home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    got = np.frombuffer(recorded.read_bytes(), dtype="<i2").astype(np.float32) / 32768
    assert 1.8 * 24000 < len(got) <= 2.0 * 24000
    want = speech[:len(got)]
    assert np.corrcoef(got[2000:], want[2000:])[0, 1] > 0.95
