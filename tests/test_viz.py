"""helpers.viz: the figures render, carry the artists a lesson points at, and stay closed."""

from __future__ import annotations

import io
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers.audio import AudioBuffer, to_pcm16  # noqa: E402
from helpers.cassette import Frame  # noqa: E402
from helpers.viz import TurnLatency, plot_timeline, plot_vad_runs, plot_waveform, turn_latency  # noqa: E402


def by_gid(fig, gid):
    return [a for a in fig.axes[0].get_children() if a.get_gid() == gid]


def texts(fig):
    return [t.get_text() for t in fig.axes[0].texts]


def render(fig) -> bytes:
    """Draw the figure for real; any warning (it would reach a notebook's stderr) fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = io.BytesIO()
        fig.savefig(out, format="png", dpi=60)
    return out.getvalue()


def audio_turn(dialect: str = "beta") -> list[Frame]:
    delta = "response.audio.delta" if dialect == "beta" else "response.output_audio.delta"
    transcript = "response.audio_transcript.delta" if dialect == "beta" else "response.output_audio_transcript.delta"
    frames = [Frame(0.0, "server", {"type": "session.created"}),
              Frame(0.05, "client", {"type": "session.update"}),
              Frame(0.09, "server", {"type": "session.updated"})]
    frames += [Frame(0.2 + i * 0.02, "client", {"type": "input_audio_buffer.append"}) for i in range(30)]
    frames += [Frame(0.30, "server", {"type": "input_audio_buffer.speech_started"}),
               Frame(0.85, "server", {"type": "input_audio_buffer.speech_stopped"}),
               Frame(0.90, "client", {"type": "input_audio_buffer.commit"}),
               Frame(0.92, "server", {"type": "input_audio_buffer.committed"}),
               Frame(0.95, "client", {"type": "response.create"}),
               Frame(1.00, "server", {"type": "response.created"})]
    for i in range(20):
        frames.append(Frame(1.30 + i * 0.05, "server", {"type": delta, "delta": "AAAA"}))
        frames.append(Frame(1.31 + i * 0.05, "server", {"type": transcript, "delta": "hi"}))
    frames += [Frame(1.90, "client", {"type": "conversation.item.truncate", "item_id": "i", "content_index": 0,
                                      "audio_end_ms": 640}),
               Frame(2.30, "server", {"type": "response.done"}),
               Frame(2.40, "server", close={"code": 1000, "reason": ""})]
    return sorted(frames, key=lambda f: f.t)


@pytest.mark.parametrize("dialect", ["beta", "ga"])
def test_timeline_has_two_lanes_runs_latency_speech_and_truncation(dialect):
    frames = audio_turn(dialect)
    fig = plot_timeline(frames, title="an audio turn")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["server", "client"]
    runs = by_gid(fig, "delta-run")
    assert len(runs) == 3                                   # appends, audio deltas, transcript deltas
    labels = texts(fig)
    assert "buffer.append ×30" in labels
    assert sum(label.endswith("audio.delta ×20") for label in labels) == 1
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert sorted(legend) == ["buffer.speech_stopped → first audio: 450 ms", "first → last audio: 950 ms",
                              "speech (server VAD)", "truncate sent"]
    wait, stream = by_gid(fig, "latency-wait")[0], by_gid(fig, "latency-stream")[0]
    assert wait.get_segments()[0][:, 0].tolist() == pytest.approx([0.85, 1.30])
    assert stream.get_segments()[0][:, 0].tolist() == pytest.approx([1.30, 2.25])
    assert len(by_gid(fig, "speech")) == 1
    truncate = by_gid(fig, "truncate")
    assert len(truncate) == 1 and truncate[0].get_xdata()[0] == pytest.approx(1.90)
    assert "truncate at 640 ms of audio" in labels
    assert "close 1000" in labels
    singles = by_gid(fig, "event")
    assert len(singles) == len(frames) - 30 - 40            # every non-delta frame is a tick
    assert ax.get_title() == "an audio turn"
    assert render(fig).startswith(b"\x89PNG")


def test_figures_are_closed_so_notebooks_show_them_once():
    before = plt.get_fignums()
    fig = plot_timeline(audio_turn())
    wave = plot_waveform(np.zeros(2400, dtype=np.float32))
    assert plt.get_fignums() == before
    assert fig.get_figwidth() == 10 and fig.get_figheight() <= 5
    assert wave.get_figwidth() == 10 and wave.get_figheight() <= 3


def test_the_users_turn_ends_at_speech_stopped_then_commit_then_response_create():
    frames = audio_turn()
    assert turn_latency(frames) == TurnLatency(None, "input_audio_buffer.speech_stopped", 0.85, 1.30, 2.25)
    no_vad = [f for f in frames if f.event is None or "speech_" not in f.event["type"]]
    assert turn_latency(no_vad).end_of_turn == "input_audio_buffer.commit"
    typed = [f for f in no_vad if f.event is None or f.event["type"] != "input_audio_buffer.commit"]
    latency = turn_latency(typed)
    assert (latency.end_of_turn, latency.wait_ms, latency.stream_ms) == ("response.create", pytest.approx(350),
                                                                         pytest.approx(950))
    assert str(latency) == "end of turn (response.create) -> first audio: 350 ms; first -> last audio: 950 ms"
    fig = plot_timeline(typed)
    assert "response.create → first audio: 350 ms" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_latency_is_per_answer_and_ignores_the_previous_answers_trigger():
    frames = [Frame(0.0, "client", {"type": "response.create"}),
              Frame(0.4, "server", {"type": "response.audio.delta", "response_id": "r1", "delta": ""}),
              Frame(0.9, "server", {"type": "response.audio.delta", "response_id": "r1", "delta": ""}),
              Frame(1.0, "server", {"type": "response.done"}),
              Frame(2.0, "server", {"type": "input_audio_buffer.speech_stopped"}),
              Frame(2.6, "server", {"type": "response.output_audio.delta", "response_id": "r2", "delta": ""}),
              Frame(3.6, "server", {"type": "response.output_audio.delta", "response_id": "r2", "delta": ""})]
    assert turn_latency(frames) == TurnLatency("r2", "input_audio_buffer.speech_stopped", 2.0, 2.6, 3.6)
    assert turn_latency(frames, "r1") == TurnLatency("r1", "response.create", 0.0, 0.4, 0.9)
    assert turn_latency(frames[4:5]) is None and turn_latency(frames, "r9") is None
    # audio with nothing that ends a user turn before it (e.g. a log cut mid-session): no view
    assert turn_latency(frames[1:3]) is None


def test_a_text_turn_has_no_latency_annotation():
    frames = [Frame(10.0, "client", {"type": "response.create"}),
              Frame(10.2, "server", {"type": "response.text.delta", "delta": "Hi"}),
              Frame(10.3, "server", {"type": "response.done"})]
    assert turn_latency(frames) is None
    fig = plot_timeline(frames)
    assert by_gid(fig, "latency-wait") == [] and by_gid(fig, "truncate") == []
    assert fig.axes[0].get_legend() is None
    assert fig.axes[0].get_xlim()[0] < 0 < 0.3 < fig.axes[0].get_xlim()[1]   # times relative to the first frame
    render(fig)


def test_server_truncated_marks_the_point_when_the_client_frame_is_absent():
    frames = [Frame(0.0, "client", {"type": "response.create"}),
              Frame(0.5, "server", {"type": "conversation.item.truncated", "audio_end_ms": 1500})]
    fig = plot_timeline(frames)
    assert "truncate at 1500 ms of audio" in texts(fig)


def test_waveform_draws_audio_spans_and_the_truncation_line():
    samples = (0.5 * np.sin(np.arange(72_000) / 10)).astype(np.float32)
    fig = plot_waveform(samples, spans=[(0.5, 1.0), (2.0, 2.5)], truncate_at_s=2.2)
    ax = fig.axes[0]
    assert len(by_gid(fig, "waveform")) == 1
    assert len(by_gid(fig, "span")) == 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["detected speech"]
    assert by_gid(fig, "truncate")[0].get_xdata()[0] == pytest.approx(2.2)
    assert "truncated at 2200 ms" in texts(fig)
    assert ax.get_xlim() == (0, 3.0) and ax.get_xlabel() == "time (s)"
    assert ax.get_title() == "3.00 s at 24,000 Hz"
    render(fig)


def test_long_audio_is_drawn_as_an_envelope_that_keeps_the_peaks():
    samples = np.zeros(24_000 * 60, dtype=np.float32)
    samples[123_457] = 0.9
    fig = plot_waveform(samples)
    envelope = by_gid(fig, "waveform")[0]
    top = envelope.get_paths()[0].vertices[:, 1].max()
    assert top == pytest.approx(0.9)                        # a one-sample click is not lost
    render(fig)


def test_waveform_takes_an_audio_buffer():
    buffer = AudioBuffer()
    buffer.add(to_pcm16(np.full(480, 0.25, dtype=np.float32)))
    fig = plot_waveform(buffer)
    assert fig.axes[0].get_title() == "0.02 s at 24,000 Hz"
    assert by_gid(fig, "waveform")[0].get_ydata().max() == pytest.approx(0.25)


def test_vad_runs_draw_one_legended_bar_per_run_over_the_waveform():
    samples = (0.5 * np.sin(np.arange(48_000) / 10)).astype(np.float32)
    runs = [("defaults", 500, 1700), ("silence 1000 ms", 500, 2000)]
    fig = plot_vad_runs(samples, runs)
    ax = fig.axes[0]
    bars = by_gid(fig, "vad-run")
    assert [bar.get_segments()[0][:, 0].tolist() for bar in bars] == [[0.5, 1.7], [0.5, 2.0]]
    assert bars[0].get_color().tolist() != bars[1].get_color().tolist()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["defaults: 500–1700 ms",
                                                                    "silence 1000 ms: 500–2000 ms"]
    assert len(by_gid(fig, "waveform")) == 1 and ax.get_xlim() == (0, 2.0)
    render(fig)
    with pytest.raises(ValueError, match="at least one"):
        plot_vad_runs(samples, [])


def test_bad_input_is_rejected_clearly():
    with pytest.raises(ValueError, match="at least one frame"):
        plot_timeline([])
    with pytest.raises(TypeError, match="Frame objects, not dict"):
        plot_timeline([{"t": 0, "from": "client", "event": {}}])
    with pytest.raises(TypeError, match="1-D numpy array"):
        plot_waveform([0.1, 0.2])
    with pytest.raises(TypeError, match="1-D numpy array"):
        plot_waveform(np.zeros((10, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="rate"):
        plot_waveform(np.zeros(10, dtype=np.float32), rate=0)
