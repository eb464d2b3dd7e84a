"""Receive path of the helpers client against peers, on one local server stream.

A server in another process floods small GA text-delta frames; each client consumes them
the way a caller would. Prints events/s and the ratio to the official openai SDK's sync
realtime connection and to a bare `websockets` sync client (the practical ceiling), then
hand-off latency (server send -> caller) p50/p99 at a paced rate.

    python bench/bench_client.py [--events 200000] [--rate 2000] [--seconds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FRAME = ('{"type":"response.output_text.delta","event_id":"event_%d","response_id":"resp_1",'
         '"item_id":"item_1","output_index":0,"content_index":0,"delta":"hi ","ts":%.9f}')


async def _serve() -> None:
    from websockets.asyncio.server import serve

    async def handler(conn):
        query = parse_qs(urlsplit(conn.request.path).query)
        count, rate = int(query["n"][0]), float(query.get("rate", ["0"])[0])
        await conn.send(json.dumps({"type": "session.created", "event_id": "event_0",
                                    "session": {"type": "realtime", "id": "sess_1"}}))
        start = time.monotonic()
        for n in range(count):
            if rate:
                delay = start + n / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            await conn.send(FRAME % (n, time.monotonic()))
        await conn.send('{"type":"response.done","event_id":"event_end","response":{"id":"resp_1",'
                        '"status":"completed","output":[],"object":"realtime.response"}}')
        await conn.wait_closed()

    async with serve(handler, "127.0.0.1", 0, compression=None, max_size=None) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()


def run_helpers(url: str, count: int, latencies: list | None = None) -> float:
    from helpers.client import RealtimeClient
    with RealtimeClient(url, provider="bench", dialect="ga") as client:
        client.wait_for("session.created")
        start = time.perf_counter()
        for event in client.stream(until="response.done", timeout=600):
            if latencies is not None and "ts" in event:
                latencies.append(time.monotonic() - event["ts"])
        return time.perf_counter() - start


def run_sdk(port: int, count: int, rate: float, latencies: list | None = None) -> float:
    from openai import OpenAI
    client = OpenAI(api_key="sk-bench", websocket_base_url=f"ws://127.0.0.1:{port}/v1")
    with client.realtime.connect(model="gpt-realtime", extra_query={"n": count, "rate": rate}) as conn:
        conn.recv()
        start = time.perf_counter()
        for event in conn:
            if latencies is not None and getattr(event, "ts", None) is not None:
                latencies.append(time.monotonic() - event.ts)
            if event.type == "response.done":
                break
        return time.perf_counter() - start


def run_websockets(url: str, count: int) -> float:
    from websockets.sync.client import connect
    with connect(url, compression=None, max_size=None) as ws:
        json.loads(ws.recv())
        start = time.perf_counter()
        while json.loads(ws.recv())["type"] != "response.done":
            pass
        return time.perf_counter() - start


def run_websocketapp_default(url: str, count: int) -> float:
    """websocket-client WebSocketApp + queue with default settings (what most tutorials do)."""
    import websocket
    q: queue.Queue = queue.Queue()
    app = websocket.WebSocketApp(url, on_message=lambda _a, m: q.put(json.loads(m)))
    thread = threading.Thread(target=app.run_forever, daemon=True)
    thread.start()
    q.get(timeout=10)
    start = time.perf_counter()
    while q.get(timeout=60)["type"] != "response.done":
        pass
    elapsed = time.perf_counter() - start
    app.close()
    thread.join(5)
    return elapsed


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rate", type=float, default=2000, help="paced events/s for latency")
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve())
        return
    server = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        base = f"ws://127.0.0.1:{port}/v1/realtime?model=gpt-realtime"
        n = args.events
        url = f"{base}&n={n}&rate=0"
        results = {
            "websockets sync (ceiling)": run_websockets(url, n),
            "helpers RealtimeClient": run_helpers(url, n),
            "openai SDK sync realtime": run_sdk(port, n, 0),
            "WebSocketApp+queue default": run_websocketapp_default(url, n),
        }
        print(f"Receive throughput, {n:,} events over loopback (server in another process)")
        rates = {name: n / seconds for name, seconds in results.items()}
        for name, value in rates.items():
            print(f"  {name:30s} {value:10,.0f} events/s")
        ours = rates["helpers RealtimeClient"]
        print(f"  helpers / openai SDK         = {ours / rates['openai SDK sync realtime']:.2f}x")
        print(f"  helpers / websockets ceiling = {ours / rates['websockets sync (ceiling)']:.0%}")

        paced = int(args.rate * args.seconds)
        url = f"{base}&n={paced}&rate={args.rate}"
        ours_lat: list[float] = []
        sdk_lat: list[float] = []
        run_helpers(url, paced, ours_lat)
        run_sdk(port, paced, args.rate, sdk_lat)
        print(f"Latency server send -> caller, {paced:,} events at {args.rate:,.0f}/s")
        for name, lat in (("helpers RealtimeClient", ours_lat), ("openai SDK sync realtime", sdk_lat)):
            print(f"  {name:30s} p50 {pct(lat, 50) * 1e3:6.3f} ms  p99 {pct(lat, 99) * 1e3:6.3f} ms")
        print(f"  p99 ratio helpers / SDK      = {pct(ours_lat, 99) / pct(sdk_lat, 99):.2f}x")
    finally:
        server.terminate()
        server.wait(5)


if __name__ == "__main__":
    main()
