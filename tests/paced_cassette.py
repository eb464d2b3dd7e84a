"""A paced synthetic cassette (a spoken answer: audio and transcript deltas every 100 ms) and its schedule.

Shared by the load test (tests/test_load.py) and the replay benchmark (bench/bench_replay.py).
"""

from __future__ import annotations

from pathlib import Path

from helpers import cassette

CHUNK_MS = 100


def build_cassette(folder: Path, seconds: float, responses: int = 1, name: str = "bench") -> Path:
    """A beta cassette: `responses` spoken answers of `seconds`, a 100 ms audio delta (+ a word) every 100 ms."""
    import base64
    chunks = int(seconds * 1000 / CHUNK_MS)
    audio = base64.b64encode(bytes(CHUNK_MS * 48)).decode()
    rid, iid = "resp_bench", "item_bench"
    ids = {"response_id": rid, "item_id": iid, "output_index": 0, "content_index": 0}
    item = {"id": iid, "object": "realtime.item", "type": "message", "role": "assistant", "status": "in_progress",
            "content": []}
    response = {"id": rid, "object": "realtime.response", "status": "in_progress", "output": [], "usage": None}
    frames = [(0.0, "client", {"type": "response.create"}),
              (0.05, "server", {"type": "response.created", "response": response}),
              (0.05, "server", {"type": "response.output_item.added", "response_id": rid, "output_index": 0, "item": item}),
              (0.05, "server", {"type": "conversation.item.created", "previous_item_id": None, "item": item}),
              (0.05, "server", {"type": "response.content_part.added", **ids, "part": {"type": "audio", "transcript": ""}})]
    for k in range(chunks):
        t = 0.1 + k * CHUNK_MS / 1000
        frames.append((t, "server", {"type": "response.audio_transcript.delta", **ids, "delta": " word"}))
        frames.append((t, "server", {"type": "response.audio.delta", **ids, "delta": audio}))
    end = 0.1 + chunks * CHUNK_MS / 1000
    final = dict(item, status="completed", content=[{"type": "audio", "transcript": " word" * chunks}])
    frames += [(end, "server", {"type": "response.audio.done", **ids}),
               (end, "server", {"type": "response.audio_transcript.done", **ids, "transcript": " word" * chunks}),
               (end, "server", {"type": "response.content_part.done", **ids, "part": final["content"][0]}),
               (end, "server", {"type": "response.output_item.done", "response_id": rid, "output_index": 0, "item": final}),
               (end, "server", {"type": "response.done", "response": dict(response, status="completed", output=[final])})]
    for n, (_, source, event) in enumerate(frames):
        if source == "server":
            event["event_id"] = f"event_bench{n:06d}"
    span = frames[-1][0] + 0.1
    frames = [(t + k * span, source, event) for k in range(responses) for t, source, event in frames]
    tape = cassette.Cassette({"cassette": 1, "name": name, "provider": "bench", "dialect": "beta",
                              "model": "step-1o-audio", "created": "2026-01-01T00:00:00Z",
                              "provenance": {"kind": "synthesized", "by": "bench/bench_replay.py"}},
                             [cassette.Frame(t, source, event) for t, source, event in frames])
    return cassette.save(tape, folder / f"{name}.jsonl")


def schedule(path: Path) -> tuple[list[float], list[bool]]:
    """(offset after response.create, is-a-delta) for each server frame of the response, in order."""
    tape = cassette.load(path)
    start = next(f.t for f in tape.frames if f.source == "client")
    end = next(i for i, f in enumerate(tape.frames) if f.event and f.event["type"] == "response.done")
    server = [f for f in tape.frames[:end + 1] if f.source == "server"]
    return [f.t - start for f in server], [f.event["type"].endswith(".delta") for f in server]
