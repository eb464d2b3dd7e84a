"""Command line: serve a folder of cassettes until SIGINT/SIGTERM.

    python -m helpers.replay --cassettes DIR --port 0 [--speed S] [--host 127.0.0.1] [--strict]
                             [--require-key KEY] [--close-after N] [--expire-after S]
                             [--latency-ms X] [--jitter-ms Y]

The first line of stdout is the server's URL, ``ws://127.0.0.1:PORT`` (flushed at once), so a
script can start it on port 0 and read where it listens. Connect to ``URL/v1/realtime?model=M&
cassette=NAME`` (query options in `helpers.replay`); ``URL/health`` answers "ok". With
``--strict``, sessions that end with recorded responses unconsumed are reported on stderr.
Exits 0 after a clean stop.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import signal
import sys

from .engine import Options
from .server import ReplayServer, run, url_of


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m helpers.replay", description="Serve recorded Realtime sessions.")
    parser.add_argument("--cassettes", required=True, help="folder of NAME.jsonl cassettes")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=0, help="port (0 = any free port)")
    parser.add_argument("--speed", type=float, default=1.0, help="pace factor: 2 = twice as fast, 0 = no delays")
    parser.add_argument("--strict", action="store_true", help="report recorded responses left unconsumed")
    parser.add_argument("--require-key", metavar="KEY", help="refuse connections without this API key")
    parser.add_argument("--close-after", type=int, metavar="N", help="fault: close after N server events")
    parser.add_argument("--expire-after", type=float, metavar="S", help="fault: expire sessions after S seconds")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="fault: delay every server event")
    parser.add_argument("--jitter-ms", type=float, default=0.0, help="fault: plus a random 0..Y ms")
    return parser


def _report(report: dict) -> None:
    if not report["ok"]:
        print(f"strict: {report['message']}: {json.dumps(report)}", file=sys.stderr, flush=True)


async def _serve(args: argparse.Namespace, options: Options) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = ReplayServer(args.cassettes, options, on_report=_report)
    await run(server, args.host, args.port, lambda ws_server: print(url_of(ws_server), flush=True), stop)


def main(argv: list[str] | None = None) -> int:
    """Run the server from the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        options = Options(speed=args.speed, strict=args.strict, require_key=args.require_key,
                          close_after=args.close_after, expire_after=args.expire_after,
                          latency_ms=args.latency_ms, jitter_ms=args.jitter_ms)
    except ValueError as exc:
        parser.error(str(exc))
    # A server process holds many long-lived connection objects and makes almost no cyclic
    # garbage, yet CPython's default thresholds rescan them all, stalling every stream for
    # 60-150 ms with 1,000 sessions (bench/bench_replay.py). Collect rarely instead.
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    asyncio.run(_serve(args, options))
    return 0


if __name__ == "__main__":
    sys.exit(main())
