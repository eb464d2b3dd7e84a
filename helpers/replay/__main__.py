"""Command line: serve a folder of cassettes until SIGINT/SIGTERM.

    python -m helpers.replay --cassettes DIR --port 0 [--speed S] [--host 127.0.0.1] [--strict]
                             [--require-key-file PATH] [--close-after N] [--expire-after S]
                             [--latency-ms X] [--jitter-ms Y] [--write-timeout S]

The first line of stdout is the server's URL, ``ws://127.0.0.1:PORT`` (flushed at once), so a
script can start it on port 0 and read where it listens. Connect to ``URL/v1/realtime?model=M&
cassette=NAME`` (query options in `helpers.replay`); ``URL/health`` answers "ok". With
``--strict``, sessions that end with recorded responses unconsumed are reported on stderr.
Exits 0 after a clean stop.

To refuse connections without a key, put the key in the environment variable
``REALTIME_REPLAY_REQUIRE_KEY`` or in a file named by ``--require-key-file``. A key is never
taken from the command line, where every local user can read it (``ps``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import signal
import sys
from pathlib import Path

from .engine import Options
from .server import WRITE_TIMEOUT, ReplayServer, run, url_of

KEY_VARIABLE = "REALTIME_REPLAY_REQUIRE_KEY"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m helpers.replay", description="Serve recorded Realtime sessions.",
                                     allow_abbrev=False)
    parser.add_argument("--cassettes", required=True, help="folder of NAME.jsonl cassettes")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=0, help="port (0 = any free port)")
    parser.add_argument("--speed", type=float, default=1.0, help="pace factor: 2 = twice as fast, 0 = no delays")
    parser.add_argument("--strict", action="store_true", help="report recorded responses left unconsumed")
    parser.add_argument("--require-key-file", metavar="PATH", type=Path,
                        help=f"refuse connections without the API key in this file (or set ${KEY_VARIABLE})")
    parser.add_argument("--require-key", metavar="KEY", help=argparse.SUPPRESS)  # refused: see _required_key
    parser.add_argument("--close-after", type=int, metavar="N", help="fault: close after N server events")
    parser.add_argument("--expire-after", type=float, metavar="S", help="fault: expire sessions after S seconds")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="fault: delay every server event")
    parser.add_argument("--jitter-ms", type=float, default=0.0, help="fault: plus a random 0..Y ms")
    parser.add_argument("--write-timeout", type=float, default=WRITE_TIMEOUT, metavar="S",
                        help=f"drop a client that leaves output unread for S seconds (default {WRITE_TIMEOUT:g})")
    return parser


def _report(report: dict) -> None:
    if not report["ok"]:
        print(f"strict: {report['message']}: {json.dumps(report)}", file=sys.stderr, flush=True)


async def _serve(args: argparse.Namespace, options: Options) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = ReplayServer(args.cassettes, options, on_report=_report, write_timeout=args.write_timeout)
    await run(server, args.host, args.port, lambda ws_server: print(url_of(ws_server), flush=True), stop)


def _required_key(args: argparse.Namespace) -> str | None:
    """The key clients must present, from --require-key-file or the environment; raises ValueError saying why not."""
    if args.require_key is not None:
        raise ValueError(f"--require-key no longer takes the key itself: a command line is readable by every local "
                         f"user (ps, /proc). Set ${KEY_VARIABLE} or write the key to a file and pass "
                         "--require-key-file PATH.")
    if args.require_key_file is not None:
        try:
            key = args.require_key_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read the key file {str(args.require_key_file)!r}: {exc.__class__.__name__}: "
                             f"{getattr(exc, 'strerror', None) or 'not UTF-8 text'}") from None
        if not key:
            raise ValueError(f"the key file {str(args.require_key_file)!r} is empty")
        return key
    return os.environ.get(KEY_VARIABLE) or None


def main(argv: list[str] | None = None) -> int:
    """Run the server from the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if not args.write_timeout > 0:
            raise ValueError(f"--write-timeout must be a number of seconds > 0, not {args.write_timeout!r}")
        options = Options(speed=args.speed, strict=args.strict, require_key=_required_key(args),
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
