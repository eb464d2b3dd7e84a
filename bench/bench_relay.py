"""What the relay adds to a turn: the same audio turn done directly and through the relay.

Both run against one replay server at speed 0 (no recorded pacing), so the time measured is
the work itself: direct = `helpers.connect` + session.update + appends + commit + response;
relay = the same behind HTTP (form upload, decoding, worker threads, SSE). Prints the median
and p90 time of a first turn in a new conversation for each, their ratio, and turns/s with
several conversations at once.

    python bench/bench_relay.py [--turns 30] [--parallel 8]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from helpers import audio, connect, relay  # noqa: E402
from helpers import events as ev  # noqa: E402
from helpers.replay import serve_in_background  # noqa: E402

WAV = ROOT / "media" / "question_en.wav"


def direct_turn(url: str) -> float:
    start = time.perf_counter()
    with connect("replay", cassette="11_relay_service", url=url, log=False, speed=0) as client:
        client.wait_for("session.created")
        client.send(ev.session_update(ev.session_config(
            client.dialect, instructions=relay.INSTRUCTIONS, voice=ev.default_voice(client.dialect),
            output="audio", transcription=ev.default_transcription(client.dialect), turn_detection=None)))
        client.wait_for("session.updated")
        for event in audio.append_events(WAV, chunk_ms=relay.APPEND_CHUNK_MS, verbose=False):
            client.send(event)
        client.send(ev.input_audio_commit())
        client.wait_for("conversation.item.input_audio_transcription.completed")
        client.send(ev.response_create())
        for _ in client.stream("response.done"):
            pass
    return time.perf_counter() - start


def relay_turn(http: httpx.Client) -> float:
    start = time.perf_counter()
    with http.stream("POST", "/process_audio", files={"file": WAV.open("rb")}) as response:
        last = list(relay.parse_sse(response.iter_lines()))[-1]
    assert last[0] == "done", last
    return time.perf_counter() - start


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    return f"median {statistics.median(ordered) * 1000:6.1f} ms  p90 {ordered[int(len(ordered) * 0.9)] * 1000:6.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--parallel", type=int, default=8)
    args = parser.parse_args()
    with serve_in_background(speed=0) as upstream, tempfile.TemporaryDirectory() as folder:
        app = relay.create_app(url=upstream.url, output_dir=folder, connect_options={"log": False, "speed": 0})
        with relay.serve_in_background(app) as server, \
                httpx.Client(base_url=server.url, timeout=30, limits=httpx.Limits(max_connections=64)) as http:
            direct_turn(upstream.url), relay_turn(http)  # warm up
            direct = [direct_turn(upstream.url) for _ in range(args.turns)]
            relayed = [relay_turn(http) for _ in range(args.turns)]
            print(f"direct client  {summary(direct)}")
            print(f"through relay  {summary(relayed)}")
            print(f"relay / direct {statistics.median(relayed) / statistics.median(direct):.2f}x (median turn time)")
            for name, work in (("direct", lambda _: direct_turn(upstream.url)), ("relay", lambda _: relay_turn(http))):
                start = time.perf_counter()
                with ThreadPoolExecutor(args.parallel) as pool:
                    list(pool.map(work, range(args.turns)))
                print(f"{name:6} with {args.parallel} conversations at once: "
                      f"{args.turns / (time.perf_counter() - start):6.1f} turns/s")


if __name__ == "__main__":
    main()
