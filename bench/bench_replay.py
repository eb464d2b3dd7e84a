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
from tests.paced_cassette import CHUNK_MS, build_cassette, schedule  # noqa: E402

TARGET_SESSIONS = 1000
LATENESS_BUDGET_MS = 20.0


# -- load generator (runs in its own process) -------------------------------------------------

class _Barrier:
    """Releases everyone once `parties` have arrived (a failed session arrives too)."""

    def __init__(self, parties: int):
        self.left, self.open = parties, asyncio.Event()

    def arrive(self) -> None:
        self.left -= 1
        if self.left <= 0:
            self.open.set()


class _Probe(asyncio.Protocol):
    """A lean paced-session client on websockets' Sans-I/O protocol: it timestamps each frame as
    it comes off the socket, so the load generator's own overhead stays out of the lateness."""

    def __init__(self, url: str, offsets, is_delta, lateness: list):
        from websockets.client import ClientProtocol
        from websockets.uri import parse_uri
        self.ws = ClientProtocol(parse_uri(url), max_size=None)
        self.offsets, self.is_delta, self.lateness = offsets, is_delta, lateness
        self.index = -1  # -1: waiting for session.created
        self.sent = 0.0
        self.connected = asyncio.get_running_loop().create_future()
        self.finished = asyncio.get_running_loop().create_future()

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.ws.send_request(self.ws.connect())
        self._flush()

    def data_received(self, data: bytes) -> None:
        from websockets.frames import Frame, Opcode
        now = time.monotonic()
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if not isinstance(event, Frame) or event.opcode is not Opcode.TEXT:
                continue
            if self.index < 0:
                self.index = 0
                if not self.connected.done():
                    self.connected.set_result(None)
                continue
            if self.is_delta[self.index]:
                self.lateness.append(now - self.sent - self.offsets[self.index])
            self.index += 1
            if self.index == len(self.offsets) and not self.finished.done():
                self.finished.set_result(None)
        self._flush()

    def connection_lost(self, exc) -> None:
        for future in (self.connected, self.finished):
            if not future.done():
                future.set_exception(ConnectionError(f"closed after {self.index} frames: {exc}"))

    def start_response(self) -> None:
        self.sent = time.monotonic()
        self.ws.send_text(b'{"type":"response.create"}')
        self._flush()

    def _flush(self) -> None:
        for data in self.ws.data_to_send():
            if data:
                self.transport.write(data)


async def _paced_session(url: str, offsets, is_delta, lateness: list, handshakes: asyncio.Semaphore,
                         barrier: _Barrier, start_in: float) -> None:
    from urllib.parse import urlsplit
    loop = asyncio.get_running_loop()
    parts = urlsplit(url)
    try:
        async with handshakes:  # bound the concurrent handshakes of the ramp
            transport, probe = await loop.create_connection(
                lambda: _Probe(url, offsets, is_delta, lateness), parts.hostname, parts.port)
            await asyncio.wait_for(probe.connected, 60)  # session.created
    finally:
        barrier.arrive()
    try:
        await barrier.open.wait()  # every session is connected: from here on, steady-state streaming
        await asyncio.sleep(start_in)  # responses start spread over one second, as real turns would
        probe.start_response()
        await asyncio.wait_for(probe.finished, 60)
    finally:
        transport.close()


async def _capacity(url: str, sessions: int, offsets, is_delta) -> dict:
    lateness: list[float] = []
    handshakes, barrier = asyncio.Semaphore(50), _Barrier(sessions)
    tasks = [_paced_session(url, offsets, is_delta, lateness, handshakes, barrier, i / sessions)
             for i in range(sessions)]
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 150)
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
    import gc
    gc.freeze()  # as the server does: no cyclic-GC pauses in the middle of a measurement
    gc.set_threshold(50_000, 20, 20)
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


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def driver_main(args) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench_replay_"))
    paced = build_cassette(folder, args.seconds)
    build_cassette(folder, args.seconds, responses=10, name="bench_fast")
    server, base = _start([sys.executable, "-m", "helpers.replay", "--cassettes", str(folder), "--port", "0"])
    try:
        print(f"replay server {base}; cassette: {args.seconds:g} s answer, a delta pair every {CHUNK_MS} ms; "
              f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (other work on this machine counts)")
        print("(a) real-time capacity, lateness of each delta measured in a separate load-generator process")
        best = 0
        for level in args.levels:
            cpu = _cpu_seconds(server.pid)
            r = _load(paced, f"{base}/v1/realtime?model=step-1o-audio&cassette=bench", "capacity", level)
            cpu = _cpu_seconds(server.pid) - cpu
            ok = r["failed"] == 0 and r["p99_ms"] <= LATENESS_BUDGET_MS
            best = level if ok else best
            print(f"  {level:5d} sessions: {r['deltas']:6d} deltas  p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms"
                  f"  max {r['max_ms']:6.1f} ms  failed {r['failed']}{' ' + str(r['errors']) if r['errors'] else ''}"
                  f"  server CPU {cpu:5.2f} s  -> {'ok' if ok else 'over budget'}")
        print(f"  capacity with p99 <= {LATENESS_BUDGET_MS:g} ms: {best} sessions = {best / TARGET_SESSIONS:.2f}x "
              f"the {TARGET_SESSIONS}-session target (load average now {os.getloadavg()[0]:.2f})")
        naive, naive_base = _start([sys.executable, __file__, "--naive", "--cassette", str(paced)])
        try:
            print("(b) fast mode (speed=0), 20 concurrent clients x 10 responses")
            ours = _load(paced, f"{base}/v1/realtime?model=step-1o-audio&cassette=bench_fast&speed=0", "fast", 20, 10)
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
    parser.add_argument("--levels", default="100,250,500,750,1000", type=lambda s: [int(x) for x in s.split(",")])
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
