"""Plots for the lessons: a waveform, and the timeline of a turn's events (matplotlib).

Each function returns a closed `matplotlib.figure.Figure`: it displays exactly once when it
is a cell's last value (``fig = plot_timeline(client.history); fig``) or is passed to
``display(fig)``, and ``fig.savefig(...)`` works as usual. Figures are 10 in wide: notebook width.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .audio import SAMPLE_RATE
from .cassette import Frame
from .events import aliases

WIDTH_IN = 10.0
CLIENT_COLOR = "tab:blue"
SERVER_COLOR = "tab:orange"
SPEECH_COLOR = "tab:green"
TRUNCATE_COLOR = "tab:red"
WAIT_COLOR = "tab:purple"
STREAM_COLOR = "tab:olive"

_AUDIO_DELTAS = aliases("response.audio.delta")
# What ends the user's turn, best evidence first: the server heard the speech stop (server VAD),
# the client committed its audio, or the client asked for the answer.
_END_OF_TURN = (("server", "input_audio_buffer.speech_stopped"), ("client", "input_audio_buffer.commit"),
                ("client", "response.create"))
_ENVELOPE_POINTS = 4000            # longer audio is drawn as a min/max envelope of this many columns
_CHAR_WIDTH = 0.0068               # width of one 7 pt character, as a fraction of the x range
_LEVELS = 6                        # label rows per lane
_RUN_COLORS = ("tab:green", "tab:purple", "tab:red", "tab:brown", "tab:pink", "tab:olive", "tab:cyan")


def plot_waveform(audio, *, rate: int = SAMPLE_RATE, spans: Iterable[tuple[float, float]] = (),
                  span_label: str = "detected speech", truncate_at_s: float | None = None,
                  title: str | None = None):
    """Waveform of mono float samples (or an `AudioBuffer`) against time in seconds.

    `spans` shades (start_s, end_s) intervals, named `span_label` in the legend (e.g. detected
    speech); `truncate_at_s` draws a vertical line where playback was cut.
    """
    samples = _mono_samples(audio, rate)
    fig, ax = _figure(2.4)
    duration = len(samples) / rate
    _draw_waveform(ax, samples, rate)
    for n, (start, end) in enumerate(spans):
        ax.axvspan(start, end, color=SPEECH_COLOR, alpha=0.15, gid="span", label=None if n else span_label)
    if truncate_at_s is not None:
        ax.axvline(truncate_at_s, color=TRUNCATE_COLOR, linewidth=1.5, gid="truncate")
        ax.annotate(f"truncated at {truncate_at_s * 1000:.0f} ms", (truncate_at_s, 1.0),
                    xycoords=("data", "axes fraction"), xytext=(4, -12), textcoords="offset points",
                    color=TRUNCATE_COLOR, fontsize=8)
    ax.set_xlim(0, max(duration, 1e-3))
    ax.set_ylim(-1.05, 1.05)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize=8)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("amplitude")
    ax.set_title(title or f"{duration:.2f} s at {rate:,} Hz", fontsize=10)
    return _finish(fig)


def plot_timeline(frames: Sequence[Frame], *, title: str | None = None):
    """Client and server events of a turn over time, one lane each.

    Runs of deltas (and of input_audio_buffer.append) are drawn as bars with their count;
    other events as labelled ticks. Annotated, with a legend: the latency view of the last
    spoken answer (`turn_latency`: end of the user's turn -> first audio, first -> last audio),
    speech start to stop as the server saw it, and the truncation point.
    """
    frames = list(frames)
    if not frames:
        raise ValueError("plot_timeline needs at least one frame")
    for frame in frames:
        if not isinstance(frame, Frame):
            raise TypeError(f"plot_timeline takes helpers.cassette.Frame objects, not {type(frame).__name__}")
    fig, ax = _figure(4.6)
    t0 = min(f.t for f in frames)
    end = max(f.t for f in frames) - t0
    x_min, x_max = -0.02 * max(end, 0.1), end * 1.12 + 0.05
    span = x_max - x_min
    lanes = {"server": 0.0, "client": 2.1}
    colors = {"server": SERVER_COLOR, "client": CLIENT_COLOR}
    for source, y in lanes.items():
        ax.axhline(y, color=colors[source], linewidth=0.6, alpha=0.4)
        own = [f for f in frames if f.source == source]
        runs, singles = _runs(own)
        for row, (name, first, last, count) in enumerate(runs):
            offset = y - 0.15 - 0.17 * (row % 3)
            right = max(last - t0, first - t0 + 0.005)
            ax.hlines(offset, first - t0, right, color=colors[source], linewidth=5, alpha=0.7, gid="delta-run")
            label = f"{_short(name).removeprefix('response.')} ×{count}"
            fits_right = right + (len(label) + 1) * _CHAR_WIDTH * span < x_max
            ax.annotate(label, (right, offset) if fits_right else (first - t0, offset),
                        xytext=(3 if fits_right else -3, 0), textcoords="offset points", fontsize=7,
                        color=colors[source], va="center", ha="left" if fits_right else "right")
        ends: list[float] = []                    # right end of the last label on each level
        for frame in singles:
            x = frame.t - t0
            label = (_short(frame.event.get("type", "?")) if frame.event is not None
                     else f"close {(frame.close or {}).get('code')}")
            level = _free_level(ends, x, len(label) * _CHAR_WIDTH * span)
            ax.plot([x], [y], marker="|", markersize=12, color=colors[source], gid="event")
            ax.annotate(label, (x, y), xytext=(1, 7 + 10 * level), textcoords="offset points",
                        fontsize=7, color=colors[source])
    _annotate_speech(ax, frames, t0)
    _annotate_latency(ax, frames, t0)
    _annotate_truncation(ax, frames, t0)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize=7, framealpha=0.9)
    ax.set_xlim(x_min, x_max)
    ax.set_ylim(-0.65, 3.8)
    ax.set_yticks(list(lanes.values()), list(lanes))
    ax.set_xlabel("time since first frame (s)")
    ax.set_title(title or f"{len(frames)} frames over {end:.2f} s", fontsize=10)
    return _finish(fig)


def plot_vad_runs(audio, runs: Sequence[tuple[str, float, float]], *, rate: int = SAMPLE_RATE,
                  title: str | None = None):
    """The speech span each VAD run detected, one coloured bar per run above the same waveform.

    `runs` holds (label, start_ms, end_ms) per run; the legend names each run and its span.
    """
    runs = list(runs)
    if not runs:
        raise ValueError("plot_vad_runs needs at least one (label, start_ms, end_ms) run")
    samples = _mono_samples(audio, rate)
    fig, ax = _figure(2.4 + 0.3 * len(runs))
    _draw_waveform(ax, samples, rate, alpha=0.35)
    for row, (label, start_ms, end_ms) in enumerate(runs):
        ax.hlines(1.25 + 0.3 * row, start_ms / 1000, end_ms / 1000, color=_RUN_COLORS[row % len(_RUN_COLORS)],
                  linewidth=6, gid="vad-run", label=f"{label}: {start_ms:.0f}–{end_ms:.0f} ms")
    ax.set_xlim(0, max(len(samples) / rate, 1e-3))
    ax.set_ylim(-1.05, 1.25 + 0.3 * len(runs))
    ax.set_yticks([-1, 0, 1])
    ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    ax.set_xlabel("time (s)")
    ax.set_title(title or f"What server VAD detected in {len(runs)} runs", fontsize=10)
    return _finish(fig)


@dataclass(frozen=True)
class TurnLatency:
    """When a spoken answer came, in seconds on the frames' clock.

    `end_of_turn` names the event that ended the user's turn (see `turn_latency`).
    """

    response_id: str | None
    end_of_turn: str
    end_of_turn_t: float
    first_audio_t: float
    last_audio_t: float

    @property
    def wait_ms(self) -> float:
        """End of the user's turn -> first audio delta: the silence the user hears."""
        return (self.first_audio_t - self.end_of_turn_t) * 1000

    @property
    def stream_ms(self) -> float:
        """First -> last audio delta: how long the answer's audio took to arrive."""
        return (self.last_audio_t - self.first_audio_t) * 1000

    def __str__(self) -> str:
        return (f"end of turn ({self.end_of_turn}) -> first audio: {self.wait_ms:.0f} ms; "
                f"first -> last audio: {self.stream_ms:.0f} ms")


def turn_latency(frames: Sequence[Frame], response_id: str | None = None) -> TurnLatency | None:
    """The latency view of one spoken answer (the last one in `frames` unless `response_id`), or None.

    The user's turn ends, best evidence first, at the server's `input_audio_buffer.speech_stopped`
    (server VAD), the client's `input_audio_buffer.commit`, or its `response.create`; only events
    after the previous answer's audio count.
    """
    audio = [(f.t, f.event.get("response_id")) for f in frames
             if f.source == "server" and f.event and f.event.get("type") in _AUDIO_DELTAS]
    if response_id is None and audio:
        response_id = audio[-1][1]
    own = [t for t, rid in audio if rid == response_id]
    if not own:
        return None
    first, last = own[0], own[-1]
    earlier = [t for t, rid in audio if t < first and rid != response_id]
    since = earlier[-1] if earlier else float("-inf")
    window = [(f.source, f.event.get("type"), f.t) for f in frames if f.event and since < f.t <= first]
    for source, kind in _END_OF_TURN:
        found = [t for s, k, t in window if s == source and k == kind]
        if found:
            return TurnLatency(response_id, kind, found[-1], first, last)
    return None


def _mono_samples(audio, rate) -> np.ndarray:
    """The float samples of `audio` (an array or an `AudioBuffer`), with `rate` checked."""
    samples = getattr(audio, "samples", audio)
    if not isinstance(samples, np.ndarray) or samples.ndim != 1 or not np.issubdtype(samples.dtype, np.floating):
        raise TypeError("plot_waveform takes mono float samples (a 1-D numpy array) or an AudioBuffer")
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or rate <= 0:
        raise ValueError(f"rate must be a positive number of Hz, not {rate!r}")
    return samples


def _draw_waveform(ax, samples: np.ndarray, rate: int, alpha: float = 1.0) -> None:
    """The waveform against seconds; longer audio as a min/max envelope that keeps the peaks."""
    if len(samples) > 2 * _ENVELOPE_POINTS:
        edges = np.linspace(0, len(samples), _ENVELOPE_POINTS + 1).astype(int)
        lows = np.minimum.reduceat(samples, edges[:-1])
        highs = np.maximum.reduceat(samples, edges[:-1])
        ax.fill_between(edges[:-1] / rate, lows, highs, color=CLIENT_COLOR, linewidth=0.4, alpha=alpha, gid="waveform")
    else:
        ax.plot(np.arange(len(samples)) / rate, samples, color=CLIENT_COLOR, linewidth=0.6, alpha=alpha, gid="waveform")


def _figure(height: float):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(WIDTH_IN, height))
    # Fixed margins, not a layout engine: labels near the edges must not squeeze the axes.
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.55 / height, top=1 - 0.35 / height)
    return fig, ax


def _finish(fig):
    """Close the figure in pyplot so the notebook does not draw it a second time."""
    import matplotlib.pyplot as plt

    plt.close(fig)
    return fig


def _free_level(ends: list[float], x: float, width: float) -> int:
    """The lowest label row free at `x` (or the one that frees up first), marked busy to x + width."""
    free = [i for i, end in enumerate(ends) if end <= x]
    if free:
        level = free[0]
    elif len(ends) < _LEVELS:
        level = len(ends)
        ends.append(0.0)
    else:
        level = min(range(len(ends)), key=ends.__getitem__)
    ends[level] = x + width
    return level


def _is_run_type(event_type: str) -> bool:
    return event_type.endswith(".delta") or event_type == "input_audio_buffer.append"


def _runs(frames: list[Frame]) -> tuple[list[tuple[str, float, float, int]], list[Frame]]:
    """Split one lane into runs of delta-like events (name, start, end, count) and single events.

    A run of one type continues across other delta types and ends at the lane's next other event.
    """
    runs: list[tuple[str, float, float, int]] = []
    open_runs: dict[str, list] = {}
    singles = []
    for frame in frames:
        kind = frame.event.get("type", "?") if frame.event else None
        if kind is not None and _is_run_type(kind):
            run = open_runs.setdefault(kind, [kind, frame.t, frame.t, 0])
            run[2], run[3] = frame.t, run[3] + 1
            continue
        runs += [tuple(run) for run in open_runs.values()]
        open_runs.clear()
        singles.append(frame)
    runs += [tuple(run) for run in open_runs.values()]
    return sorted(runs, key=lambda run: run[1]), singles


def _annotate_speech(ax, frames: list[Frame], t0: float) -> None:
    started = None
    for frame in frames:
        kind = frame.event.get("type") if frame.source == "server" and frame.event else None
        if kind == "input_audio_buffer.speech_started":
            started = frame.t
        elif kind == "input_audio_buffer.speech_stopped" and started is not None:
            ax.axvspan(started - t0, frame.t - t0, color=SPEECH_COLOR, alpha=0.12, gid="speech",
                       label=None if _has_label(ax, "speech (server VAD)") else "speech (server VAD)")
            ax.annotate("speech", (started - t0, 0.0), xycoords=("data", "axes fraction"),
                        xytext=(2, 3), textcoords="offset points", fontsize=8, color=SPEECH_COLOR)
            started = None


def _annotate_latency(ax, frames: list[Frame], t0: float) -> None:
    latency = turn_latency(frames)
    if latency is None:
        return
    y = 2.75
    for (start, end), color, label, gid in (
            ((latency.end_of_turn_t, latency.first_audio_t), WAIT_COLOR,
             f"{_short(latency.end_of_turn)} → first audio: {latency.wait_ms:.0f} ms", "latency-wait"),
            ((latency.first_audio_t, latency.last_audio_t), STREAM_COLOR,
             f"first → last audio: {latency.stream_ms:.0f} ms", "latency-stream")):
        ax.hlines(y, start - t0, end - t0, color=color, linewidth=3, label=label, gid=gid)
        ax.plot([start - t0, end - t0], [y, y], linestyle="none", marker="|", markersize=10, color=color)


def _annotate_truncation(ax, frames: list[Frame], t0: float) -> None:
    marks = [f for f in frames if f.event and f.event.get("type") == "conversation.item.truncate"]
    marks = marks or [f for f in frames if f.event and f.event.get("type") == "conversation.item.truncated"]
    for frame in marks[:1]:
        ax.axvline(frame.t - t0, color=TRUNCATE_COLOR, linewidth=1.2, linestyle="--", gid="truncate",
                   label="truncate sent")
        ax.annotate(f"truncate at {(frame.event or {}).get('audio_end_ms')} ms of audio", (frame.t - t0, 0.0),
                    xycoords=("data", "axes fraction"), xytext=(3, 3), textcoords="offset points",
                    fontsize=8, color=TRUNCATE_COLOR)


def _has_label(ax, label: str) -> bool:
    return label in ax.get_legend_handles_labels()[1]


def _short(event_type: str) -> str:
    """Shorten the long prefixes so labels fit: 'input_audio_buffer.commit' -> 'buffer.commit'."""
    for prefix, short in (("input_audio_buffer.", "buffer."), ("conversation.item.", "item.")):
        if event_type.startswith(prefix):
            return short + event_type[len(prefix):]
    return event_type
