"""helpers.audio: conversion, chunking, decoding, accumulation, and every bad input's error."""

from __future__ import annotations

import base64
import binascii
import io
import json
import logging

import numpy as np
import pytest
import soundfile
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import audio
from helpers.audio import (
    MAX_APPEND_BYTES,
    AudioBuffer,
    append_events,
    append_payloads,
    bytes_to_ms,
    decode_delta,
    decode_deltas,
    from_pcm16,
    load_audio,
    ms_to_bytes,
    save_wav,
    to_mono_24k,
    to_pcm16,
)


def sine(freq: float, seconds: float, rate: int, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    """Peak of the windowed spectrum, refined by parabolic interpolation."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples)), n=8 * len(samples)))
    k = int(np.argmax(spectrum))
    a, b, c = np.log(spectrum[k - 1:k + 2])
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * rate / (8 * len(samples))


def random_pcm16(nbytes: int, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(-32768, 32768, nbytes // 2, dtype=np.int16).tobytes()


# -- conversion ------------------------------------------------------------------------

def test_48k_stereo_wav_becomes_24k_mono_keeping_the_frequency(tmp_path, capsys):
    left, right = sine(440, 1.0, 48_000), sine(440, 1.0, 48_000, amplitude=0.3)
    path = tmp_path / "stereo.wav"
    soundfile.write(path, np.stack([left, right], axis=1), 48_000)
    samples = load_audio(path)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert len(samples) == 24_000
    assert dominant_frequency(samples, 24_000) == pytest.approx(440, rel=0.01)
    assert np.abs(samples[1000:-1000]).max() == pytest.approx(0.4, abs=0.01)   # the channels' mean
    out = capsys.readouterr()
    assert out.out == "stereo.wav: downmixed 2 channels to mono and resampled 48000 Hz to 24000 Hz (1.00 s)\n"
    assert out.err == ""


def test_44_1k_flac_is_resampled_keeping_the_frequency(tmp_path, capsys):
    path = tmp_path / "tone.flac"
    soundfile.write(path, sine(1000, 0.5, 44_100), 44_100)
    samples = load_audio(path)
    assert len(samples) == 12_000
    assert dominant_frequency(samples, 24_000) == pytest.approx(1000, rel=0.01)
    assert "resampled 44100 Hz to 24000 Hz" in capsys.readouterr().out


def test_a_24k_mono_file_loads_unchanged_and_silently(tmp_path, capsys, caplog):
    pcm = random_pcm16(4800)
    path = save_wav(tmp_path / "nested" / "ok.wav", pcm)
    with caplog.at_level(logging.INFO, logger="helpers.audio"):
        samples = load_audio(path)
    assert to_pcm16(samples) == pcm
    assert capsys.readouterr().out == "" and caplog.records == []


def test_verbose_false_prints_nothing_but_still_logs(tmp_path, capsys, caplog):
    path = tmp_path / "s.ogg"
    soundfile.write(path, sine(300, 0.3, 16_000), 16_000)
    with caplog.at_level(logging.INFO, logger="helpers.audio"):
        load_audio(path, verbose=False)
    assert capsys.readouterr().out == ""
    assert "resampled 16000 Hz" in caplog.text


def test_to_pcm16_clips_and_rounds_little_endian():
    pcm = to_pcm16(np.array([2.0, -2.0, 0.5, -0.5, 1 / 32768, 0.0], dtype=np.float32))
    assert np.frombuffer(pcm, "<i2").tolist() == [32767, -32768, 16384, -16384, 1, 0]
    assert pcm[:2] == b"\xff\x7f"                                  # little-endian 32767


def test_pcm16_float_round_trip_is_exact():
    pcm = random_pcm16(48_000) + np.array([-32768, 32767], "<i2").tobytes()
    assert to_pcm16(from_pcm16(pcm)) == pcm
    assert to_pcm16(np.frombuffer(pcm, dtype=np.int16)) == pcm


def test_durations_are_48_bytes_per_ms():
    assert bytes_to_ms(4800) == 100.0
    assert bytes_to_ms(3) == 0.0625
    assert ms_to_bytes(100) == 4800
    assert ms_to_bytes(0.05) == 2                                  # one whole sample, rounded down
    assert ms_to_bytes(0.01) == 0


# -- chunking --------------------------------------------------------------------------

@pytest.mark.parametrize("chunk_ms", [20, 40, 100, 0.5, 33.3])
def test_chunks_are_whole_samples_and_rebuild_the_audio(chunk_ms):
    pcm = random_pcm16(48 * 1234)
    payloads = list(append_payloads(pcm, chunk_ms))
    chunks = [base64.b64decode(p, validate=True) for p in payloads]
    assert b"".join(chunks) == pcm
    assert all(len(c) % 2 == 0 for c in chunks)
    assert len({len(c) for c in chunks[:-1]}) == 1
    assert len(chunks[0]) == round(chunk_ms * 24) * 2


@settings(max_examples=60, deadline=None)
@given(samples=st.integers(0, 5000), chunk_ms=st.floats(0.05, 300))
def test_any_audio_any_chunk_size_rebuilds_exactly(samples, chunk_ms):
    pcm = random_pcm16(samples * 2, seed=samples)
    chunks = [decode_delta(p) for p in append_payloads(pcm, chunk_ms)]
    assert b"".join(chunks) == pcm
    assert all(len(c) % 2 == 0 and 0 < len(c) <= max(2, round(chunk_ms * 24) * 2) for c in chunks)


def test_default_chunk_is_between_20_and_100_ms():
    first = next(iter(append_payloads(random_pcm16(48_000))))
    assert 20 <= bytes_to_ms(len(base64.b64decode(first))) <= 100


def test_the_largest_chunk_keeps_the_append_event_under_15_mib():
    biggest_ms = audio.MAX_CHUNK_BYTES / 48
    pcm = bytes(audio.MAX_CHUNK_BYTES + 4800)
    events = list(append_events(pcm, chunk_ms=biggest_ms))
    assert len(events) == 2
    assert len(json.dumps({**events[0], "event_id": "evt_" + "x" * 40})) <= MAX_APPEND_BYTES
    with pytest.raises(ValueError, match="15 MiB"):
        list(append_payloads(pcm, chunk_ms=biggest_ms + 1))


def test_append_events_stream_a_file(tmp_path, capsys):
    path = tmp_path / "q.wav"
    soundfile.write(path, sine(220, 0.25, 48_000), 48_000)
    events = list(append_events(path, chunk_ms=100, progress=False))
    assert [e["type"] for e in events] == ["input_audio_buffer.append"] * 3
    sent = decode_deltas(e["audio"] for e in events)
    assert sent == to_pcm16(load_audio(path, verbose=False))
    assert len(sent) == 12_000
    out = capsys.readouterr()
    assert "resampled 48000 Hz" in out.out and out.err == ""


def test_progress_bar_is_shown_for_long_inputs_or_on_request(capsys):
    long_pcm = bytes(ms_to_bytes(audio.PROGRESS_MIN_S * 1000))
    list(append_events(long_pcm))
    assert "sending audio: 100%" in capsys.readouterr().err
    list(append_events(bytes(4800)))
    assert capsys.readouterr().err == ""
    list(append_events(bytes(4800), progress=True))
    assert "0.1/0.1 s" in capsys.readouterr().err
    list(append_events(long_pcm, progress=False))
    assert capsys.readouterr().err == ""


def test_append_events_take_float_samples():
    samples = sine(440, 0.1, 24_000)
    events = list(append_events(samples, chunk_ms=20))
    assert len(events) == 5
    assert decode_deltas(e["audio"] for e in events) == to_pcm16(samples)


# -- decoding --------------------------------------------------------------------------

def test_joining_base64_strings_loses_samples_and_decoding_each_delta_does_not():
    # Real deltas vary in size; any delta whose byte count is not a multiple of 3 ends in '='.
    sizes = [2002, 4800, 1000, 4802, 960]
    pcm = [random_pcm16(n, seed=i) for i, n in enumerate(sizes)]
    deltas = [base64.b64encode(p).decode() for p in pcm]
    assert deltas[0].endswith("=")
    expected = b"".join(pcm)

    naive = base64.b64decode("".join(deltas))       # the lenient decoder stops at the first padding
    assert len(naive) < len(expected)
    assert len(naive) == sizes[0]                   # everything after the first padded delta is gone
    with pytest.raises(binascii.Error):
        base64.b64decode("".join(deltas), validate=True)

    assert decode_deltas(deltas) == expected
    buffer = AudioBuffer()
    for delta in deltas:
        buffer.add(delta)
    assert buffer.pcm16 == expected


def test_decode_round_trips_through_append_payloads():
    pcm = random_pcm16(48 * 777)
    assert decode_deltas(list(append_payloads(pcm, 7))) == pcm
    assert decode_delta(base64.b64encode(pcm)) == pcm


# -- accumulation ----------------------------------------------------------------------

def test_audio_buffer_accumulates_saves_and_plays(tmp_path):
    pcm = random_pcm16(48 * 250)
    buffer = AudioBuffer("item_1")
    returned = [buffer.add(p) for p in append_payloads(pcm, 100)]
    assert b"".join(returned) == pcm
    assert buffer.add(b"") == b""
    assert len(buffer) == len(pcm) and buffer.duration_ms == 250.0
    assert buffer.samples.dtype == np.float32 and len(buffer.samples) == 6000
    assert repr(buffer) == "AudioBuffer(item_id='item_1', 0.25 s)"

    path = buffer.save(tmp_path / "out" / "answer.wav")
    data, rate = soundfile.read(path, dtype="int16")
    info = soundfile.info(path)
    assert rate == 24_000 and info.channels == 1 and info.subtype == "PCM_16"
    assert data.tobytes() == pcm

    player = buffer.to_ipython()
    assert player.autoplay is False and 'autoplay' not in player._repr_html_()
    embedded, rate = soundfile.read(io.BytesIO(player.data), dtype="int16")
    assert rate == 24_000 and embedded.tobytes() == pcm               # not normalised: the same samples


def test_audio_buffer_accepts_decoded_bytes_split_mid_sample():
    pcm = random_pcm16(100)
    buffer = AudioBuffer()
    buffer.add(pcm[:51])
    with pytest.raises(ValueError, match="odd number of bytes"):
        _ = buffer.samples
    buffer.add(pcm[51:])
    assert buffer.pcm16 == pcm


# -- bad input, clear errors -----------------------------------------------------------

def test_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.wav"):
        load_audio(tmp_path / "nope.wav")


def test_empty_and_unreadable_files(tmp_path):
    zero_bytes = tmp_path / "zero.wav"
    zero_bytes.write_bytes(b"")
    with pytest.raises(ValueError, match="zero.wav: not an audio file"):
        load_audio(zero_bytes)
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio\n" * 20)
    with pytest.raises(ValueError, match="notes.wav: not an audio file"):
        load_audio(text)
    with pytest.raises(ValueError, match="not an audio file"):
        load_audio(tmp_path)                                       # a folder
    no_frames = tmp_path / "empty.wav"
    soundfile.write(no_frames, np.zeros(0, dtype=np.float32), 24_000)
    with pytest.raises(ValueError, match="empty.wav: the file holds no audio samples"):
        load_audio(no_frames)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_signals(tmp_path, bad):
    samples = sine(440, 0.1, 24_000)
    samples[100] = bad
    path = tmp_path / "bad.wav"
    soundfile.write(path, samples, 24_000, subtype="FLOAT")
    with pytest.raises(ValueError, match="NaN or infinite"):
        load_audio(path)
    with pytest.raises(ValueError, match="NaN or infinite"):
        to_pcm16(samples)
    with pytest.raises(ValueError, match="NaN or infinite"):
        list(append_events(samples))


def test_odd_byte_counts():
    with pytest.raises(ValueError, match=r"odd number of bytes \(3\)"):
        from_pcm16(b"\x00\x01\x02")
    with pytest.raises(ValueError, match="odd number of bytes"):
        append_payloads(b"\x00" * 4801)
    with pytest.raises(ValueError, match="odd number of bytes"):
        append_events(b"\x00" * 4801)


def test_wrong_types():
    with pytest.raises(TypeError, match="str or pathlib.Path"):
        load_audio(42)
    with pytest.raises(TypeError, match="numpy array"):
        to_pcm16([0.1, 0.2])
    with pytest.raises(TypeError, match="floats in"):
        to_mono_24k(np.zeros(10, dtype=np.int32), 24_000)
    with pytest.raises(TypeError, match="bytes"):
        from_pcm16("AAAA")
    with pytest.raises(TypeError, match="file path, pcm16 bytes or a numpy array"):
        append_events(3.5)
    with pytest.raises(TypeError, match="base64 str"):
        decode_delta(1234)
    with pytest.raises(TypeError, match="list of deltas"):
        decode_deltas("AAAA")
    with pytest.raises(TypeError, match="str or pathlib.Path"):
        save_wav(None, b"")


def test_bad_values():
    with pytest.raises(ValueError, match="not valid base64"):
        decode_delta("AAA=AAAA")
    with pytest.raises(ValueError, match="not valid base64"):
        decode_delta("not base64!")
    with pytest.raises(ValueError, match="chunk_ms"):
        append_payloads(b"\x00\x00", 0)
    with pytest.raises(ValueError, match="chunk_ms"):
        append_payloads(b"\x00\x00", True)
    with pytest.raises(ValueError, match="use samples.T"):
        to_mono_24k(np.zeros((2, 48_000), dtype=np.float32), 48_000)
    with pytest.raises(ValueError, match=r"shape \(frames,\) \(mono\)"):
        to_pcm16(np.zeros((10, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="rate"):
        to_mono_24k(np.zeros(10, dtype=np.float32), 0)
    with pytest.raises(ValueError, match="ms must be"):
        ms_to_bytes(-1)
    with pytest.raises(ValueError, match="nbytes"):
        bytes_to_ms(-2)
    with pytest.raises(ValueError, match="empty"):
        AudioBuffer().to_ipython()
