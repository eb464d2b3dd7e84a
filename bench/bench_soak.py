"""Soak: hostile clients against the replay server and the relay while real-time sessions run.

    python bench/bench_soak.py [--sessions 60] [--seconds 4] [--rounds 3]

Loopback only, bounded in time (about 3-4 minutes) and in count, and stops by itself. The replay
server under test runs in its own process, so its memory is its own:
  idle     the server's RSS after start-up, no client.
  calm     `--sessions` well-behaved sessions, each streaming a recorded spoken answer at recorded
           pace; a load generator in another process (bench/bench_replay.py) measures each delta's
           lateness (arrival - schedule). No hostile client.
  hostile replay
           the same sessions on a fresh server process while hostile clients run against it:
           non-readers that store a 1 MB item and flood retrieves of it, deep/huge/NaN/long
           frames non-stop, every second the largest frame read (a 16 MiB append, over 15 MiB of
           audio) and a 32 MiB frame (above the limit), unsafe cassette names, mid-answer
           disconnects. The hostile clients run at nice 10 (see `_niced`).
  hostile replay + relay
           the same, plus against a relay (its own process; upstream: a replay server at speed 0)
           uploads at a 1 Hz sample rate, above the size limit, not audio, clients leaving mid-stream.
           The relay and its upstream run at nice 10: in a deployment they have CPUs of their own;
           on this one 2-core machine their work for the attacked relay would otherwise come out
           of the server under test's time. What is measured is whether the attack reaches the
           paced sessions, not whether two services fit on two cores.
Printed: peak RSS (VmHWM) of each server against its idle RSS (target: under +150 MB), p99
lateness of each hostile phase / calm (target: <= 2x; the phases alternate for `--rounds`, medians
compared), and what happened to every hostile client.

What limits the figures: on a 2-core machine the hostile clients (niced), the relay and the load
generator share the CPU with the server under test, so a busy machine shows in every phase. The
server keeps every stretch of its own work short: a large frame is read, checked and (an append)
decoded in steps of 256-512 KiB (`helpers.replay.stepwise`, `Session.receive_steps`); a string too
long or too many values are refused without a parse; a big item is encoded once for its acks and
retrieves; and large or costly frames from all clients share 5% of its time (`HEAVY_SHARE`). What
remains are the parse and the answer of a large frame that is not an append (a 1 MB item: a few
ms each, in separate steps) and the machine's own scheduling.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import httpx  # noqa: E402
from bench_replay import _load, _start, build_cassette  # noqa: E402  (the paced load generator, reused)

from helpers.limits import MAX_FRAME_BYTES as MAX_FRAME  # noqa: E402
from tests.hostile_clients import HOSTILE_FRAMES, RawSession, flood_retrieves, store_big_item, wait_until_dropped  # noqa: E402

RSS_BUDGET_MB = 150
LATENESS_RATIO_BUDGET = 2.0
WRITE_TIMEOUT = 5.0
PHASES = ("calm", "hostile replay", "hostile replay + relay")
RELAY_NICE = 10   # the relay and its upstream share this machine's 2 cores with the server under test (see above)


def peak_mb(pid: int, field: str = "VmHWM") -> float:
    """A process's peak (VmHWM) or current (VmRSS) resident memory in MB (Linux /proc)."""
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith(field))
    return int(line.split()[1]) / 1024


# -- hostile clients (threads of this process; each loops until `stop`) ---------------------

class Outcomes:
    """Thread-safe tally of what happened to each hostile client."""

    def __init__(self):
        self.counts: Counter[str] = Counter()
        self.notes: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def add(self, what: str, value: float | None = None) -> None:
        with self._lock:
            self.counts[what] += 1
            if value is not None:
                self.notes.setdefault(what, []).append(value)


def _non_reader(url: str, stop: threading.Event, out: Outcomes) -> None:
    while not stop.is_set():
        try:
            session = RawSession(url)
            store_big_item(session)
            flood_retrieves(session, 200)
            dropped = wait_until_dropped(session, 6 * WRITE_TIMEOUT)
            out.add("non-reader (1 MB item, 200 retrieves): dropped" if dropped is not None else
                    "non-reader: NOT dropped", dropped)
            session.close()
        except (OSError, TimeoutError, ConnectionError) as exc:
            out.add(f"non-reader: {type(exc).__name__}")


def _bad_frames(url: str, stop: threading.Event, out: Outcomes) -> None:
    while not stop.is_set():
        try:
            session = RawSession(url)
            session.read_until("session.created")
            for name, frame in HOSTILE_FRAMES.items():
                session.send(frame)
                error = session.read_until("error", timeout=30)["error"]
                out.add(f"bad frame ({name}): error {error['code']}")
            session.send({"type": "conversation.item.retrieve", "item_id": "none"})
            session.read_until("error")   # the session still answers
            out.add("bad-frame session still usable afterwards")
            session.close()
        except (OSError, TimeoutError, ConnectionError) as exc:
            out.add(f"bad frames: {type(exc).__name__} {exc}"[:120])


def _oversized(url: str, stop: threading.Event, out: Outcomes) -> None:
    largest_append = json.dumps({"type": "input_audio_buffer.append", "audio": "A" * (MAX_FRAME - 1024)})
    too_large = "x" * (2 * MAX_FRAME)
    while not stop.wait(1.0):
        try:
            session = RawSession(url)
            session.read_until("session.created")
            session.send(largest_append)
            out.add(f"largest append (16 MiB): error {session.read_until('error', timeout=30)['error']['code']}")
            try:
                session.send(too_large)
                session.read_until("never", timeout=30)
            except (ConnectionError, OSError) as exc:   # closed 1009 as the header arrives, or reset mid-send
                out.add(f"32 MiB frame: closed {session.close_code}" if session.close_code else
                        f"32 MiB frame: {type(exc).__name__}")
            session.close()
        except (OSError, TimeoutError) as exc:
            out.add(f"oversized: {type(exc).__name__}")


def _unsafe_names(base: str, stop: threading.Event, out: Outcomes) -> None:
    while not stop.wait(0.5):
        for name in ("a" * 300, "..%2Fetc%2Fpasswd", ".hidden"):
            try:
                session = RawSession(f"{base}/v1/realtime?model=step-1o-audio&cassette={name}")
                error = session.read_until("error")["error"]
                out.add(f"unsafe cassette name: refused ({error['code']}, param {error['param']})")
                session.close()
            except (OSError, TimeoutError, ConnectionError) as exc:
                out.add(f"unsafe cassette name: {type(exc).__name__}")


def _vanishers(url: str, stop: threading.Event, out: Outcomes) -> None:
    while not stop.wait(0.2):
        try:
            session = RawSession(url)
            session.read_until("session.created")
            session.send({"type": "response.create"})
            session.read_until("response.audio.delta", timeout=30)
            session.reset()
            out.add("mid-answer disconnect (TCP reset)")
        except (OSError, TimeoutError, ConnectionError) as exc:
            out.add(f"mid-answer disconnect: {type(exc).__name__}")


def _wav(rate: int, frames: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x01\x00" * frames)
    return buffer.getvalue()


def _relay_hostile(relay_url: str, stop: threading.Event, out: Outcomes) -> None:
    uploads = {"1 Hz WAV, 2 KB": _wav(1, 1000), "11 MB upload": b"\0" * (11 * 1024 * 1024),
               "not audio": b"this is not audio" * 100}
    with httpx.Client(base_url=relay_url, timeout=60) as http:
        while not stop.is_set():
            for name, body in uploads.items():
                try:
                    response = http.post("/process_audio", files={"file": ("x.wav", body, "audio/wav")})
                    kind = "JSON" if response.headers.get("content-type", "").startswith("application/json") else \
                        response.headers.get("content-type", "?")
                    out.add(f"relay {name}: {response.status_code} {kind}")
                except httpx.HTTPError as exc:
                    out.add(f"relay {name}: {type(exc).__name__}")
            try:
                with http.stream("POST", "/process_audio", data={"text": "Hello"}) as response:
                    next(response.iter_lines())   # the first event, then leave
                out.add(f"relay client leaving mid-stream: {response.status_code} then gone")
            except (httpx.HTTPError, StopIteration) as exc:
                out.add(f"relay mid-stream: {type(exc).__name__}")
            stop.wait(1.0)


# -- the relay under test (its own process) --------------------------------------------------

def relay_main(upstream: str) -> None:
    os.nice(RELAY_NICE)
    from helpers import relay
    app = relay.create_app(url=upstream, output_dir=tempfile.mkdtemp(prefix="bench_soak_relay_"),
                           connect_options={"log": False})
    with relay.serve_in_background(app) as server:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
        print(server.url, flush=True)
        signal.sigwait({signal.SIGTERM, signal.SIGINT})


# -- the driver --------------------------------------------------------------------------

def _serve(folder: Path, *args: str, log: Path | None = None, nice: int = 0) -> tuple[subprocess.Popen, str]:
    """A replay server process; its stderr goes to `log` (to be searched for tracebacks)."""
    proc = subprocess.Popen([sys.executable, "-m", "helpers.replay", "--cassettes", str(folder), "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=log.open("w") if log else None, text=True, cwd=REPO,
                            env=dict(os.environ, PYTHONPATH=str(REPO)), preexec_fn=(lambda: os.nice(nice)) if nice else None)
    return proc, proc.stdout.readline().strip()


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(20)


def _niced(job, *args) -> None:
    """Run a hostile client at nice 10 (Linux: per thread): on one 2-core machine it shares the CPU with the
    server under test, where a real attacker would spend its own; the server's own work is what is measured."""
    os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    job(*args)


def _round(folder: Path, paced: Path, sessions: int, hostile: str, out: Outcomes, relay_url: str) -> dict:
    log = folder / f"server_{time.monotonic_ns()}.log"
    server, base = _serve(folder, "--write-timeout", str(WRITE_TIMEOUT), log=log)
    try:
        time.sleep(0.5)  # let start-up settle before the idle reading (a measurement, not a synchronisation)
        idle = peak_mb(server.pid, "VmRSS")
        stop, threads = threading.Event(), []
        if hostile:
            url = f"{base}/v1/realtime?model=step-1o-audio"
            jobs = [(_non_reader, url)] * 4 + [(_bad_frames, url), (_oversized, url), (_unsafe_names, base),
                                               (_vanishers, url + "&cassette=bench")]
            jobs += [(_relay_hostile, relay_url)] if hostile == PHASES[2] else []
            threads = [threading.Thread(target=_niced, args=(job, arg, stop, out), daemon=True) for job, arg in jobs]
            for thread in threads:
                thread.start()
            time.sleep(2.0)  # hostile clients at work before the measured sessions start
        result = _load(paced, f"{base}/v1/realtime?model=step-1o-audio&cassette=bench", "capacity", sessions)
        stop.set()
        for thread in threads:
            thread.join(60)
        result.update(idle_mb=idle, peak_mb=peak_mb(server.pid), stuck=sum(t.is_alive() for t in threads))
    finally:
        _stop(server)
    stderr = log.read_text()
    result.update(tracebacks=stderr.count("Traceback"), log_lines=len(stderr.splitlines()),
                  closed_1011=stderr.count("1011"))
    return result


def driver_main(args) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench_soak_"))
    paced = build_cassette(folder, args.seconds)
    upstream, upstream_url = _serve(REPO / "media" / "cassettes", "--speed", "0", nice=RELAY_NICE)
    relay_proc, relay_url = _start([sys.executable, __file__, "--relay", upstream_url])
    began = time.monotonic()
    out = Outcomes()
    try:
        relay_idle = peak_mb(relay_proc.pid, "VmRSS")
        print(f"soak: {args.sessions} paced sessions ({args.seconds:g} s answers) x {args.rounds} rounds, calm and "
              f"hostile alternating; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (other work on "
              "this machine counts)")
        rows = []
        for n in range(args.rounds):
            for phase in PHASES:
                r = _round(folder, paced, args.sessions, "" if phase == PHASES[0] else phase, out, relay_url)
                rows.append((phase, r))
                print(f"  round {n + 1} {phase:22s}: p99 {r['p99_ms']:6.1f} ms  "
                      f"p50 {r['p50_ms']:5.1f} ms  max {r['max_ms']:6.1f} ms  failed {r['failed']}  "
                      f"server RSS idle {r['idle_mb']:.0f} MB, peak {r['peak_mb']:.0f} MB; server stderr: "
                      f"{r['log_lines']} lines, {r['tracebacks']} tracebacks"
                      f"{'  (threads still running: ' + str(r['stuck']) + ')' if r['stuck'] else ''}")
        # the median over rounds: on a shared machine one round can be slow for reasons of its own
        p99 = {phase: statistics.median(r["p99_ms"] for p, r in rows if p == phase) for phase in PHASES}
        growth = max(r["peak_mb"] - r["idle_mb"] for p, r in rows if p != PHASES[0])
        relay_growth = peak_mb(relay_proc.pid) - relay_idle
        print(f"replay server peak RSS under hostile load: +{growth:.0f} MB over idle "
              f"({'within' if growth < RSS_BUDGET_MB else 'OVER'} the +{RSS_BUDGET_MB} MB budget)")
        print(f"relay peak RSS: +{relay_growth:.0f} MB over idle ({relay_idle:.0f} MB)")
        for phase in PHASES[1:]:
            ratio = p99[phase] / p99[PHASES[0]]
            print(f"p99 delta lateness, {phase} / calm: {ratio:.2f}x ({p99[phase]:.1f} / {p99[PHASES[0]]:.1f} ms; "
                  f"{'within' if ratio <= LATENESS_RATIO_BUDGET else 'OVER'} the {LATENESS_RATIO_BUDGET:g}x budget)")
        print("hostile clients:")
        for what, count in sorted(out.counts.items()):
            values = out.notes.get(what)
            extra = f"  (after {min(values):.1f}-{max(values):.1f} s)" if values else ""
            print(f"  {count:5d}  {what}{extra}")
        print(f"soak took {time.monotonic() - began:.0f} s")
    finally:
        _stop(relay_proc)
        _stop(upstream)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=60, help="well-behaved paced sessions per round")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each paced answer")
    parser.add_argument("--rounds", type=int, default=3, help="calm/hostile rounds (medians are compared)")
    parser.add_argument("--relay", metavar="UPSTREAM", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.relay:
        relay_main(args.relay)
    else:
        driver_main(args)


if __name__ == "__main__":
    main()
