"""Small cassettes built in code, and fixtures that serve them (tests of helpers.replay)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import cassette
from helpers.events import in_dialect
from helpers.replay import serve_in_background

REPO = Path(__file__).resolve().parent.parent
RATE = 24000
USAGE = {"total_tokens": 30, "input_tokens": 10, "output_tokens": 20,
         "input_token_details": {"text_tokens": 10, "audio_tokens": 0, "cached_tokens": 0,
                                 "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0}},
         "output_token_details": {"text_tokens": 4, "audio_tokens": 16}}
TRANSCRIPT_USAGE = {"type": "tokens", "total_tokens": 12, "input_tokens": 8, "output_tokens": 4,
                    "input_token_details": {"text_tokens": 0, "audio_tokens": 8}}


def tone(ms: int, amplitude: float = 0.3, freq: float = 220.0) -> bytes:
    """`ms` of a sine tone as pcm16 24 kHz mono (loud enough to count as speech)."""
    t = np.arange(int(RATE * ms / 1000)) / RATE
    return (np.sin(2 * np.pi * freq * t) * amplitude * 32767).astype("<i2").tobytes()


def silence(ms: int) -> bytes:
    """`ms` of digital silence as pcm16 24 kHz mono."""
    return bytes(ms * 48)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def session_object(dialect: str, model: str) -> dict:
    if dialect == "beta":
        return {"id": "sess_rec0000000000000001", "object": "realtime.session", "model": model,
                "modalities": ["text", "audio"], "instructions": "", "voice": "linjiajiejie",
                "input_audio_format": "pcm16", "output_audio_format": "pcm16",
                "input_audio_transcription": None, "turn_detection": None, "tools": [],
                "tool_choice": "auto", "temperature": 0.8, "max_response_output_tokens": "inf"}
    pcm = {"type": "audio/pcm", "rate": 24000}
    return {"type": "realtime", "object": "realtime.session", "id": "sess_rec0000000000000001", "model": model,
            "output_modalities": ["audio"], "instructions": "", "tools": [], "tool_choice": "auto",
            "max_output_tokens": "inf", "tracing": None, "prompt": None, "expires_at": 1767229200,
            "audio": {"input": {"format": pcm, "transcription": None, "noise_reduction": None,
                                "turn_detection": None},
                      "output": {"format": pcm, "voice": "marin", "speed": 1.0}}}


def response_run(dialect: str, n: int, *, audio_chunks: int = 0, chunk_ms: int = 100,
                 words: tuple[str, ...] = ("Hello", " there", "!")) -> list[dict]:
    """The server events of recorded response `n`: audio (with transcript) or text."""
    rid, iid = f"resp_rec{n:013d}", f"item_rec_a{n:011d}"
    audio = audio_chunks > 0
    part_type = "audio" if audio else "text"
    item_type = ({"audio": "output_audio", "text": "output_text"} if dialect == "ga" else {})
    ids = {"response_id": rid, "item_id": iid, "output_index": 0, "content_index": 0}
    shape = ({"modalities": ["text", "audio"] if audio else ["text"], "voice": "linjiajiejie",
              "output_audio_format": "pcm16"} if dialect == "beta" else
             {"output_modalities": ["audio" if audio else "text"],
              "audio": {"output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"}}})
    response = {"id": rid, "object": "realtime.response", "status": "in_progress", "status_details": None,
                "output": [], "conversation_id": "conv_rec", "usage": None, "metadata": None, **shape}
    item = {"id": iid, "object": "realtime.item", "type": "message", "role": "assistant", "status": "in_progress",
            "content": []}
    text = "".join(words)
    body = {"type": part_type, "transcript": text} if audio else {"type": "text", "text": text}
    final = dict(item, status="completed", content=[dict(body, type=item_type.get(part_type, part_type))])
    name = lambda kind: in_dialect(kind, dialect)  # noqa: E731
    ack = "conversation.item.created"
    events = [{"type": "response.created", "response": response},
              {"type": "response.output_item.added", "response_id": rid, "output_index": 0, "item": item},
              {"type": name(ack), "previous_item_id": None, "item": item},
              {"type": "response.content_part.added", **ids,
               "part": {"type": part_type, **({"transcript": ""} if audio else {"text": ""})}}]
    if audio:
        for i in range(audio_chunks):
            if i < len(words):
                events.append({"type": name("response.audio_transcript.delta"), **ids, "delta": words[i]})
            events.append({"type": name("response.audio.delta"), **ids, "delta": b64(tone(chunk_ms))})
        events += [{"type": name("response.audio.done"), **ids},
                   {"type": name("response.audio_transcript.done"), **ids, "transcript": text}]
    else:
        events += [{"type": name("response.text.delta"), **ids, "delta": w} for w in words]
        events.append({"type": name("response.text.done"), **ids, "text": text})
    events.append({"type": "response.content_part.done", **ids, "part": body})
    if dialect == "ga":
        events.append({"type": "conversation.item.done", "previous_item_id": None, "item": final})
    events += [{"type": "response.output_item.done", "response_id": rid, "output_index": 0, "item": final},
               {"type": "response.done", "response": dict(response, status="completed", output=[final], usage=USAGE)},
               {"type": "rate_limits.updated", "rate_limits": [
                   {"name": "requests", "limit": 1000, "remaining": 999, "reset_seconds": 60},
                   {"name": "tokens", "limit": 50000, "remaining": 49970, "reset_seconds": 60}]}]
    for k, event in enumerate(events):
        event["event_id"] = f"event_rec{n:04d}{k:08d}"
    return events


class Recorder:
    """Builds a cassette frame by frame with a running clock."""

    def __init__(self, name: str, dialect: str, model: str):
        self.cassette = cassette.Cassette({"cassette": 1, "name": name, "provider": "test", "dialect": dialect,
                                           "model": model, "created": "2026-11-22T00:00:00Z",
                                           "provenance": {"kind": "synthesized", "by": "tests/replay_fixtures.py"}})
        self.t = 0.0

    def add(self, source: str, event: dict, after: float = 0.01) -> None:
        self.t += after
        self.cassette.frames.append(cassette.Frame(round(self.t, 3), source, event))

    def response(self, n: int, step: float = 0.01, first: float = 0.05, **kw) -> None:
        for i, event in enumerate(response_run(self.cassette.dialect, n, **kw)):
            self.add("server", event, first if i == 0 else step)


def build_cassettes(folder: Path) -> Path:
    """Write the test cassettes into `folder`."""
    for dialect, model in (("beta", "step-1o-audio"), ("ga", "gpt-realtime")):
        suffix = "" if dialect == "beta" else "_ga"
        # one text turn
        rec = Recorder(f"text_turn{suffix}", dialect, model)
        rec.add("server", {"type": "session.created", "event_id": "event_rec_s", "session": session_object(dialect, model)})
        rec.add("client", {"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                                                                       "content": [{"type": "input_text", "text": "Hi"}]}})
        rec.add("server", {"type": in_dialect("conversation.item.created", dialect), "event_id": "event_rec_u",
                           "previous_item_id": None, "item": {"id": "item_rec_u1", "type": "message", "role": "user",
                                                              "content": [{"type": "input_text", "text": "Hi"}]}})
        rec.add("client", {"type": "response.create"})
        rec.response(1)
        cassette.save(rec.cassette, folder / f"text_turn{suffix}.jsonl")
        # one audio turn: committed audio, its transcription, then a spoken answer (1 s in 10 chunks)
        rec = Recorder(f"audio_turn{suffix}", dialect, model)
        rec.add("server", {"type": "session.created", "event_id": "event_rec_s", "session": session_object(dialect, model)})
        rec.add("client", {"type": "input_audio_buffer.append", "audio": b64(tone(200))})
        rec.add("client", {"type": "input_audio_buffer.commit"})
        rec.add("server", {"type": "input_audio_buffer.committed", "event_id": "event_rec_c", "previous_item_id": None,
                           "item_id": "item_rec_u1"})
        rec.add("server", {"type": "conversation.item.input_audio_transcription.completed", "event_id": "event_rec_t",
                           "item_id": "item_rec_u1", "content_index": 0, "transcript": "你好", "usage": TRANSCRIPT_USAGE},
                after=0.05)
        rec.add("client", {"type": "response.create"})
        rec.response(1, audio_chunks=10, step=0.02)
        cassette.save(rec.cassette, folder / f"audio_turn{suffix}.jsonl")
    # two text turns, and a long audio answer (2 s of audio streamed over ~1 s) for cancel/truncate/barge-in
    rec = Recorder("two_turns", "beta", "step-1o-audio")
    for n in (1, 2):
        rec.add("client", {"type": "response.create"})
        rec.response(n, words=(f"Answer {n}",))
    cassette.save(rec.cassette, folder / "two_turns.jsonl")
    rec = Recorder("long_audio", "beta", "step-1o-audio")
    for n in (1, 2):
        rec.add("client", {"type": "response.create"})
        rec.response(n, audio_chunks=20, step=0.05, words=("One", " two", " three", " four"))
    cassette.save(rec.cassette, folder / "long_audio.jsonl")
    return folder


@pytest.fixture(scope="session")
def cassette_dir(tmp_path_factory) -> Path:
    return build_cassettes(tmp_path_factory.mktemp("cassettes"))


@pytest.fixture(scope="session")
def replay(cassette_dir):
    """An in-process replay server (speed 1; tests pass speed=0 in the URL to go fast)."""
    with serve_in_background(cassette_dir) as server:
        yield server


@pytest.fixture(scope="module")
def cli(cassette_dir):
    """The CLI on port 0 as a subprocess: yields (url, process)."""
    proc = start_cli(cassette_dir, "--strict")
    yield proc.url, proc
    stop_cli(proc)


def start_cli(folder: Path, *args: str) -> subprocess.Popen:
    """Start ``python -m helpers.replay`` on port 0; its URL is read from the first stdout line."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "helpers.replay", "--cassettes", str(folder), "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    line = proc.stdout.readline().strip()  # blocks until the server prints; the process fails fast otherwise
    if not line.startswith("ws://"):
        proc.kill()
        raise RuntimeError(f"replay CLI did not start: {line!r} {proc.stderr.read()}")
    proc.url = line
    return proc


def stop_cli(proc: subprocess.Popen, timeout: float = 10) -> tuple[int, str]:
    """SIGTERM the CLI; returns (exit code, stderr)."""
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return proc.returncode, err


def url(base: str, model: str = "step-1o-audio", **query) -> str:
    """The realtime URL on `base` with model and query options."""
    params = "&".join(f"{k}={v}" for k, v in {"model": model, **query}.items() if v is not None)
    return f"{base}/v1/realtime?{params}"


def events_until(ws, *types: str, timeout: float = 5.0) -> list[dict]:
    """Receive (sync websockets) until an event of one of `types`; returns all received."""
    out = []
    while True:
        event = json.loads(ws.recv(timeout=timeout))
        out.append(event)
        if event["type"] in types:
            return out
