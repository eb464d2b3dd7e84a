"""Replay server benchmark: real-time capacity and fast-mode throughput, loopback only.

    python bench/bench_replay.py [--levels 100,250,500,1000] [--seconds 4]

(a) Capacity: N concurrent sessions, each streaming one recorded spoken answer at recorded pace
    (an audio delta and a transcript delta every 100 ms). A load generator in ANOTHER process
    measures, for every delta, its lateness = arrival time - scheduled time (the client's own
    response.create time + the recorded offset). Reported: p50/p99/max per level, and the largest
    level with p99 <= 20 ms, as a ratio to the 1,000-session target.
(b) Fast mode (speed=0): server events per second received by 20 concurrent clients, against a
    peer measured in the same run: a naive server that replays the same recorded frames with
    ``json.dumps`` per frame and no protocol engine.

The whole run is bounded (about 2 minutes with the default levels).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from helpers import cassette  # noqa: E402

TARGET_SESSIONS = 1000
LATENESS_BUDGET_MS = 20.0
CHUNK_MS = 100


def build_cassette(folder: Path, seconds: float) -> Path:
    """A beta cassette: one spoken answer of `seconds`, one 100 ms audio delta (+ a word) every 100 ms."""
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
    tape = cassette.Cassette({"cassette": 1, "name": "bench", "provider": "bench", "dialect": "beta",
                              "model": "step-1o-audio", "created": "2026-01-01T00:00:00Z",
                              "provenance": {"kind": "synthesized", "by": "bench/bench_replay.py"}},
                             [cassette.Frame(t, source, event) for t, source, event in frames])
    return cassette.save(tape, folder / "bench.jsonl")


def schedule(path: Path) -> tuple[list[float], list[bool]]:
    """(offset after response.create, is-a-delta) for each server frame of the response, in order."""
    tape = cassette.load(path)
    start = next(f.t for f in tape.frames if f.source == "client")
    server = [f for f in tape.frames if f.source == "server"]
    return [f.t - start for f in server], [f.event["type"].endswith(".delta") for f in server]


# -- load generator (runs in its own process) -------------------------------------------------

async def _paced_session(url: str, offsets, is_delta, lateness: list, start_at: float) -> None:
    import websockets
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))  # spread the connection ramp
    async with websockets.connect(url, compression=None, max_size=None, open_timeout=30) as ws:
        await ws.recv()  # session.created
        sent = time.monotonic()
        await ws.send('{"type":"response.create"}')
        for offset, delta in zip(offsets, is_delta):
            await ws.recv()
            if delta:
                lateness.append(time.monotonic() - sent - offset)


async def _capacity(url: str, sessions: int, offsets, is_delta) -> dict:
    lateness: list[float] = []
    begin = time.monotonic()
    tasks = [_paced_session(url, offsets, is_delta, lateness, begin + 1.0 * i / sessions) for i in range(sessions)]
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 120)
    failed = [r for r in results if isinstance(r, BaseException)]
    ms = sorted(x * 1000 for x in lateness)
    pick = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))] if ms else float("nan")  # noqa: E731
    return {"sessions": sessions, "deltas": len(ms), "failed": len(failed), "p50_ms": pick(0.50),
            "p99_ms": pick(0.99), "max_ms": ms[-1] if ms else float("nan"),
            "errors": sorted({type(e).__name__ for e in failed})}


async def _fast_session(url: str, responses: int) -> int:
    import websockets
    count = 0
    async with websockets.connect(url, compression=None, max_size=None) as ws:
        await ws.recv()
        for _ in range(responses):
            await ws.send('{"type":"response.create"}')
            while True:
                count += 1
                if '"response.done"' in (await ws.recv())[:40]:
                    break
    return count


async def _fast(url: str, clients: int, responses: int) -> dict:
    begin = time.perf_counter()
    counts = await asyncio.wait_for(asyncio.gather(*(_fast_session(url, responses) for _ in range(clients))), 120)
    elapsed = time.perf_counter() - begin
    return {"events": sum(counts), "seconds": elapsed, "events_per_s": sum(counts) / elapsed}


def load_main(args) -> None:
    offsets, is_delta = schedule(Path(args.cassette))
    if args.mode == "capacity":
        result = asyncio.run(_capacity(args.url, args.sessions, offsets, is_delta))
    else:
        result = asyncio.run(_fast(args.url, args.sessions, args.responses))
    print(json.dumps(result), flush=True)


# -- the naive peer: json.dumps per recorded frame, no engine -----------------------------------

def naive_main(args) -> None:
    from websockets.asyncio.server import serve
    frames = [f.event for f in cassette.load(Path(args.cassette)).frames if f.source == "server"]

    async def handler(ws):
        await ws.send(json.dumps({"type": "session.created", "session": {}}))
        async for message in ws:
            if json.loads(message).get("type") == "response.create":
                for event in frames:
                    await ws.send(json.dumps(event))

    async def main():
        async with serve(handler, "127.0.0.1", 0, compression=None, max_size=None) as server:
            print(f"ws://127.0.0.1:{next(iter(server.sockets)).getsockname()[1]}", flush=True)
            await asyncio.Future()

    asyncio.run(main())


# -- the driver ------------------------------------------------------------------------------

def _start(cmd: list[str]) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)))
    return proc, proc.stdout.readline().strip()


def _load(cassette_path: Path, url: str, mode: str, sessions: int, responses: int = 1) -> dict:
    out = subprocess.run([sys.executable, __file__, "--load", mode, "--url", url, "--cassette", str(cassette_path),
                          "--sessions", str(sessions), "--responses", str(responses)],
                         capture_output=True, text=True, timeout=180, cwd=REPO)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def driver_main(args) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench_replay_"))
    paced = build_cassette(folder, args.seconds)
    server, base = _start([sys.executable, "-m", "helpers.replay", "--cassettes", str(folder), "--port", "0"])
    try:
        print(f"replay server {base}; cassette: {args.seconds:g} s answer, a delta pair every {CHUNK_MS} ms")
        print("(a) real-time capacity, lateness of each delta measured in a separate load-generator process")
        best = 0
        for level in args.levels:
            r = _load(paced, f"{base}/v1/realtime?model=step-1o-audio&cassette=bench", "capacity", level)
            ok = r["failed"] == 0 and r["p99_ms"] <= LATENESS_BUDGET_MS
            best = level if ok else best
            print(f"  {level:5d} sessions: {r['deltas']:6d} deltas  p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms"
                  f"  max {r['max_ms']:6.1f} ms  failed {r['failed']}{' ' + str(r['errors']) if r['errors'] else ''}"
                  f"  -> {'ok' if ok else 'over budget'}")
        print(f"  capacity with p99 <= {LATENESS_BUDGET_MS:g} ms: {best} sessions = {best / TARGET_SESSIONS:.2f}x "
              f"the {TARGET_SESSIONS}-session target")
        naive, naive_base = _start([sys.executable, __file__, "--naive", "--cassette", str(paced)])
        try:
            print("(b) fast mode (speed=0), 20 concurrent clients x 10 responses")
            ours = _load(paced, f"{base}/v1/realtime?model=step-1o-audio&cassette=bench&speed=0", "fast", 20, 10)
            peer = _load(paced, naive_base, "fast", 20, 10)
            print(f"  replay server : {ours['events_per_s']:9.0f} events/s ({ours['events']} events)")
            print(f"  naive peer    : {peer['events_per_s']:9.0f} events/s (json.dumps per frame, no protocol engine)")
            print(f"  ratio         : {ours['events_per_s'] / peer['events_per_s']:.2f}x the naive peer")
        finally:
            naive.terminate()
            naive.wait(10)
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="100,250,500,1000", type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--seconds", type=float, default=4.0, help="length of the paced answer")
    parser.add_argument("--load", choices=("capacity", "fast"), help=argparse.SUPPRESS)
    parser.add_argument("--naive", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--cassette", help=argparse.SUPPRESS)
    parser.add_argument("--sessions", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--responses", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        args.mode = args.load
        load_main(args)
    elif args.naive:
        naive_main(args)
    else:
        driver_main(args)


if __name__ == "__main__":
    main()
