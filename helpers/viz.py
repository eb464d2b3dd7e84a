"""Plots for the lessons: a waveform, and the timeline of a turn's events (matplotlib).

Each function returns a closed `matplotlib.figure.Figure`: it displays exactly once when it
is a cell's last value (``fig = plot_timeline(client.history); fig``) or is passed to
``display(fig)``, and ``fig.savefig(...)`` works as usual. Figures are 10 in wide: notebook width.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from .audio import SAMPLE_RATE
from .cassette import Frame
from .events import aliases

WIDTH_IN = 10.0
CLIENT_COLOR = "tab:blue"
SERVER_COLOR = "tab:orange"
SPEECH_COLOR = "tab:green"
TRUNCATE_COLOR = "tab:red"

_AUDIO_DELTAS = aliases("response.audio.delta")
_ENVELOPE_POINTS = 4000            # longer audio is drawn as a min/max envelope of this many columns
_CHAR_WIDTH = 0.0068               # width of one 7 pt character, as a fraction of the x range
_LEVELS = 6                        # label rows per lane


def plot_waveform(audio, *, rate: int = SAMPLE_RATE, spans: Iterable[tuple[float, float]] = (),
                  truncate_at_s: float | None = None, title: str | None = None):
    """Waveform of mono float samples (or an `AudioBuffer`) against time in seconds.

    `spans` shades (start_s, end_s) intervals, e.g. detected speech; `truncate_at_s` draws a
    vertical line where playback was cut.
    """
    samples = getattr(audio, "samples", audio)
    if not isinstance(samples, np.ndarray) or samples.ndim != 1 or not np.issubdtype(samples.dtype, np.floating):
        raise TypeError("plot_waveform takes mono float samples (a 1-D numpy array) or an AudioBuffer")
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or rate <= 0:
        raise ValueError(f"rate must be a positive number of Hz, not {rate!r}")
    fig, ax = _figure(2.4)
    duration = len(samples) / rate
    if len(samples) > 2 * _ENVELOPE_POINTS:
        edges = np.linspace(0, len(samples), _ENVELOPE_POINTS + 1).astype(int)
        lows = np.minimum.reduceat(samples, edges[:-1])
        highs = np.maximum.reduceat(samples, edges[:-1])
        ax.fill_between(edges[:-1] / rate, lows, highs, color=CLIENT_COLOR, linewidth=0.4, gid="waveform")
    else:
        ax.plot(np.arange(len(samples)) / rate, samples, color=CLIENT_COLOR, linewidth=0.6, gid="waveform")
    for start, end in spans:
        ax.axvspan(start, end, color=SPEECH_COLOR, alpha=0.15, gid="span")
    if truncate_at_s is not None:
        ax.axvline(truncate_at_s, color=TRUNCATE_COLOR, linewidth=1.5, gid="truncate")
        ax.annotate(f"truncated at {truncate_at_s * 1000:.0f} ms", (truncate_at_s, 1.0),
                    xycoords=("data", "axes fraction"), xytext=(4, -12), textcoords="offset points",
                    color=TRUNCATE_COLOR, fontsize=8)
    ax.set_xlim(0, max(duration, 1e-3))
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("amplitude")
    ax.set_title(title or f"{duration:.2f} s at {rate:,} Hz", fontsize=10)
    return _finish(fig)


def plot_timeline(frames: Sequence[Frame], *, title: str | None = None):
    """Client and server events of a turn over time, one lane each.

    Runs of deltas (and of input_audio_buffer.append) are drawn as bars with their count;
    other events as labelled ticks. Annotated: first-audio latency (from response.create, or
    from speech_stopped in server-VAD turns, to the first audio delta), speech start to stop
    as the server saw it, and the truncation point.
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
    ax.set_xlim(x_min, x_max)
    ax.set_ylim(-0.65, 3.8)
    ax.set_yticks(list(lanes.values()), list(lanes))
    ax.set_xlabel("time since first frame (s)")
    ax.set_title(title or f"{len(frames)} frames over {end:.2f} s", fontsize=10)
    return _finish(fig)


def first_audio_latency(frames: Sequence[Frame]) -> tuple[str, float, float] | None:
    """(trigger type, trigger t, first audio delta t) for the first audio delta, or None.

    The trigger is the last client `response.create` before it or, failing that, the last
    server `input_audio_buffer.speech_stopped` (server VAD starts the response itself).
    """
    first = next((f for f in frames if f.source == "server" and f.event and f.event.get("type") in _AUDIO_DELTAS), None)
    if first is None:
        return None
    before = [f for f in frames if f.t <= first.t and f.event and f is not first]
    for source, trigger in (("client", "response.create"), ("server", "input_audio_buffer.speech_stopped")):
        found = [f for f in before if f.source == source and (f.event or {}).get("type") == trigger]
        if found:
            return trigger, found[-1].t, first.t
    return None


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
            ax.axvspan(started - t0, frame.t - t0, color=SPEECH_COLOR, alpha=0.12, gid="speech")
            ax.annotate("speech", (started - t0, 0.0), xycoords=("data", "axes fraction"),
                        xytext=(2, 3), textcoords="offset points", fontsize=8, color=SPEECH_COLOR)
            started = None


def _annotate_latency(ax, frames: list[Frame], t0: float) -> None:
    found = first_audio_latency(frames)
    if found is None:
        return
    trigger, start, end = found
    y = 2.7
    ax.annotate("", (end - t0, y), (start - t0, y), gid="latency-arrow",
                arrowprops={"arrowstyle": "<->", "color": "black", "linewidth": 1})
    text = f"first audio {(end - start) * 1000:.0f} ms after {_short(trigger)}"
    ax.annotate(text, ((start + end) / 2 - t0, y), xytext=(0, 4), textcoords="offset points",
                ha="center", fontsize=8, gid="latency")


def _annotate_truncation(ax, frames: list[Frame], t0: float) -> None:
    marks = [f for f in frames if f.event and f.event.get("type") == "conversation.item.truncate"]
    marks = marks or [f for f in frames if f.event and f.event.get("type") == "conversation.item.truncated"]
    for frame in marks[:1]:
        ax.axvline(frame.t - t0, color=TRUNCATE_COLOR, linewidth=1.2, linestyle="--", gid="truncate")
        ax.annotate(f"truncate at {(frame.event or {}).get('audio_end_ms')} ms of audio", (frame.t - t0, 0.0),
                    xycoords=("data", "axes fraction"), xytext=(3, 3), textcoords="offset points",
                    fontsize=8, color=TRUNCATE_COLOR)


def _short(event_type: str) -> str:
    """Shorten the long prefixes so labels fit: 'input_audio_buffer.commit' -> 'buffer.commit'."""
    for prefix, short in (("input_audio_buffer.", "buffer."), ("conversation.item.", "item.")):
        if event_type.startswith(prefix):
            return short + event_type[len(prefix):]
    return event_type
