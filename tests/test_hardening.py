"""Hardening (issue 13): hostile clients against real replay servers and a real relay, on port 0.

The pure checks of `helpers.limits` and `helpers.secrets` are in tests/test_limits.py and tests/test_secrets.py.

The replay server runs as its own process (``python -m helpers.replay``) so that its memory and
its stderr are its own: a test reads the peak RSS from /proc and checks that no input wrote a
traceback. The clients in `tests.hostile_clients` read only when told to.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from helpers import relay
from helpers.limits import MAX_FRAME_BYTES
from helpers.replay import serve_in_background
from helpers.secrets import MASK
from tests.hostile_clients import HOSTILE_FRAMES, RawSession, flood_retrieves, store_big_item, wait_until_dropped
from tests.replay_fixtures import REPO, events_until, url

WRITE_TIMEOUT = 2.0
START_TIMEOUT = 20.0
EXPECTED = {"nested 600 deep": ("invalid_event", "session"), "nested 200,000 deep": ("invalid_event", None),
            "5000-digit VAD threshold": ("invalid_value", "session.turn_detection.threshold"),
            "NaN temperature": ("invalid_json", "session.temperature"),
            "1e999 temperature": ("invalid_value", "session.temperature"),
            "300-character type": ("invalid_value", "type"), "2 MB instructions": ("invalid_value", "session.instructions")}
KEY = "sk-proj-" + "Zq7Lm2Vb9TkR4wN1pYc8Hd3Jf6GsAeXu"


class ReplayProcess:
    """``python -m helpers.replay`` on port 0 with stderr in a file; `url` is read from its first line."""

    def __init__(self, folder: Path, *args: str, env: dict | None = None, log: Path):
        self.log = log
        self.proc = subprocess.Popen([sys.executable, "-m", "helpers.replay", "--cassettes", str(folder), "--port", "0",
                                      *args], stdout=subprocess.PIPE, stderr=log.open("w"), text=True, cwd=REPO,
                                     env=dict(os.environ, PYTHONPATH=str(REPO), **(env or {})))
        ready, _, _ = select.select([self.proc.stdout], [], [], START_TIMEOUT)
        line = self.proc.stdout.readline().strip() if ready else ""
        if not line.startswith("ws://"):
            self.stop()
            raise RuntimeError(f"the replay CLI did not start within {START_TIMEOUT:g} s: {line!r} {self.stderr()}")
        self.url = line

    def stderr(self) -> str:
        return self.log.read_text()

    def wait_for_log(self, text: str, timeout: float = 10.0) -> None:
        """Return once `text` is in the server's stderr (it logs after the close completes); fail after `timeout`."""
        deadline = time.monotonic() + timeout
        while text not in self.stderr():
            assert time.monotonic() < deadline, f"{text!r} not logged within {timeout:g} s: {self.stderr()[-2000:]}"
            time.sleep(0.05)

    def rss_mb(self, field: str = "VmRSS") -> float:
        """Resident memory (VmRSS) or its peak so far (VmHWM), in MB."""
        line = next(x for x in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines() if x.startswith(field))
        return int(line.split()[1]) / 1024

    def stop(self) -> int:
        self.proc.terminate()
        try:
            return self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


@pytest.fixture(scope="module")
def server(cassette_dir, tmp_path_factory):
    proc = ReplayProcess(cassette_dir, "--write-timeout", str(WRITE_TIMEOUT),
                         log=tmp_path_factory.mktemp("hardening") / "stderr.txt")
    yield proc
    proc.stop()


@pytest.fixture
def clean_stderr(server):
    """Fails the test if the server wrote a traceback (or closed anything 1011) while it ran."""
    start = len(server.stderr())
    yield
    written = server.stderr()[start:]
    assert "Traceback" not in written and "1011" not in written, written[-3000:]


# -- 1. output bounded per connection -------------------------------------------------

def test_clients_that_never_read_are_dropped_with_one_log_line_and_memory_stays_bounded(server, clean_stderr):
    idle = server.rss_mb()
    flooders = []
    for _ in range(4):
        session = RawSession(url(server.url))
        store_big_item(session)
        flooders.append(session)
    sent = [flood_retrieves(session, 200) for session in flooders]   # 200 MB of replies asked for, each
    # The write timeout counts from the moment a client's TCP stops taking data; until then its kernel
    # buffers fill (a few MB each on loopback), which takes longer while several share the memory.
    dropped = [wait_until_dropped(session, 3 * WRITE_TIMEOUT + 4) for session in flooders]
    assert all(d is not None for d in dropped), f"not dropped: {dropped} (retrieves sent: {sent})"
    growth = server.rss_mb("VmHWM") - idle
    assert growth < 50, f"peak RSS grew {growth:.0f} MB for 4 non-reading clients"
    lines = [x for x in server.stderr().splitlines() if "read nothing" in x]
    assert len(lines) >= 4 and all(f"for {WRITE_TIMEOUT:g} s" in x for x in lines), lines
    with connect(url(server.url, cassette="text_turn", speed=0)) as ws:   # the server serves on
        assert json.loads(ws.recv(timeout=5))["type"] == "session.created"
    for session in flooders:
        session.close()


def _paced_answer_seconds(base: str) -> float:
    """Seconds from response.create to response.done for a recorded ~1 s spoken answer at recorded pace."""
    with connect(url(base, cassette="long_audio")) as ws:
        ws.recv(timeout=5)
        begin = time.monotonic()
        ws.send(json.dumps({"type": "response.create"}))
        events_until(ws, "response.done", timeout=10)
        return time.monotonic() - begin


def test_other_sessions_keep_their_pace_while_clients_stall(server, clean_stderr):
    calm = _paced_answer_seconds(server.url)
    flooders = []
    for _ in range(3):
        session = RawSession(url(server.url))
        store_big_item(session)
        flood_retrieves(session, 200)
        flooders.append(session)
    stalled = _paced_answer_seconds(server.url)   # while the three are stalled, not yet dropped
    assert not any(session.server_ended() for session in flooders) or stalled < WRITE_TIMEOUT
    assert stalled < calm * 1.5 + 0.25, f"paced answer took {stalled:.2f} s with stalled clients, {calm:.2f} s without"
    for session in flooders:
        session.close()


def test_vanishing_mid_answer_leaves_the_server_serving(server, clean_stderr):
    for _ in range(5):
        session = RawSession(url(server.url, cassette="long_audio"))
        session.read_until("session.created")
        session.send({"type": "response.create"})
        session.read_until("response.audio.delta")
        session.reset()
    assert _paced_answer_seconds(server.url) < 5


# -- 2. input limits --------------------------------------------------------------------

@pytest.mark.parametrize("name", list(HOSTILE_FRAMES))
def test_hostile_frames_are_answered_with_an_error_and_the_session_goes_on(server, clean_stderr, name):
    session = RawSession(url(server.url, cassette="text_turn", speed=0))
    session.read_until("session.created")
    frame = HOSTILE_FRAMES[name]
    if frame.startswith("{") and name != "nested 200,000 deep":   # an event id the error should carry back
        frame = '{"event_id":"evt_hostile",' + frame[1:]
    session.send(frame)
    error = session.read_until("error")["error"]
    assert error["type"] == "invalid_request_error" and (error["code"], error["param"]) == EXPECTED[name]
    assert error["message"]
    assert error["event_id"] == (None if name == "nested 200,000 deep" else "evt_hostile")
    session.send({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                                                                "content": [{"type": "input_text", "text": "Hi"}]}})
    session.send({"type": "response.create"})
    assert session.read_until("response.done")["response"]["status"] == "completed"
    session.close()


def test_a_frame_above_the_limit_is_not_read_and_the_close_is_logged(server, clean_stderr):
    with connect(url(server.url, speed=0), max_size=None, close_timeout=5) as ws:
        ws.recv(timeout=5)
        ws.send(b"x" * (MAX_FRAME_BYTES + 1))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=30)
    assert closed.value.rcvd.code == 1009
    server.wait_for_log(f"frames above {MAX_FRAME_BYTES} bytes are not read")


@pytest.mark.parametrize("name", ["a" * 300, "b" * 5000, "../text_turn", ".hidden", "sub/text_turn", "a b"])
def test_unsafe_cassette_names_are_refused_with_a_reason(server, clean_stderr, cassette_dir, name):
    with pytest.raises(ConnectionClosed) as closed, connect(url(server.url, cassette=name.replace(" ", "%20"))) as ws:
        error = json.loads(ws.recv(timeout=5))
        ws.recv(timeout=5)
    assert closed.value.rcvd.code == 4000
    assert (error["error"]["code"], error["error"]["param"]) == ("cassette_not_found", "cassette")
    assert "text_turn" in error["error"]["message"] and str(cassette_dir) not in error["error"]["message"]


def test_an_engine_defect_is_answered_and_logged_in_one_line(cassette_dir, monkeypatch, caplog):
    from helpers.replay import engine

    def broken(self, message, now):
        raise OverflowError("a defect")
    monkeypatch.setattr(engine.Session, "receive", broken)
    with serve_in_background(cassette_dir, speed=0) as local, connect(url(local.url)) as ws:
        ws.recv(timeout=5)
        ws.send(json.dumps({"type": "response.create"}))
        error = json.loads(ws.recv(timeout=5))["error"]
        assert (error["type"], error["code"]) == ("server_error", "server_error")
        ws.send(json.dumps({"type": "response.create"}))   # the connection is still open
        assert json.loads(ws.recv(timeout=5))["type"] == "error"
    failures = [r for r in caplog.records if "replay engine failed" in r.getMessage()]
    assert len(failures) == 2 and all(r.exc_info is None for r in failures)


# -- 6. no key on a command line; masks reveal nothing -----------------------------------

def _refusal(base: str, key: str | None) -> dict | None:
    """The error event of a refused connection, or None when the session opened."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with connect(url(base), additional_headers=headers) as ws:
        event = json.loads(ws.recv(timeout=5))
    return event["error"] if event["type"] == "error" else None


@pytest.mark.parametrize("source", ["environment", "file"])
def test_the_required_key_never_appears_on_the_command_line_or_in_a_refusal(cassette_dir, tmp_path, source):
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    args, env = (("--require-key-file", str(key_file)), None) if source == "file" else \
        ((), {"REALTIME_REPLAY_REQUIRE_KEY": KEY})
    proc = ReplayProcess(cassette_dir, *args, env=env, log=tmp_path / "stderr.txt")
    try:
        assert KEY.encode() not in Path(f"/proc/{proc.proc.pid}/cmdline").read_bytes()
        assert _refusal(proc.url, KEY) is None
        assert _refusal(proc.url, None)["message"] == "Missing bearer or basic authentication in header"
        wrong = KEY[:-4] + "WXYZ"
        message = _refusal(proc.url, wrong)["message"]
        assert message.startswith(f"Incorrect API key provided: {MASK}.") and "WXYZ" not in message
        assert _refusal(proc.url, "short")["message"] == message   # no length, no characters
    finally:
        proc.stop()
    assert KEY not in proc.stderr()


def test_a_key_on_the_command_line_is_refused_with_the_reason(cassette_dir):
    done = subprocess.run([sys.executable, "-m", "helpers.replay", "--cassettes", str(cassette_dir),
                           "--require-key", KEY], capture_output=True, text=True, timeout=30, cwd=REPO,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert done.returncode == 2 and done.stdout == ""
    assert "REALTIME_REPLAY_REQUIRE_KEY" in done.stderr and "--require-key-file" in done.stderr
    assert "readable by every local user" in done.stderr and KEY not in done.stderr


def test_the_relay_passes_on_no_mask_of_a_refused_key(tmp_path):
    wrong = KEY[:-4] + "Q9r8"
    with serve_in_background(speed=0, require_key=KEY) as guarded:
        app = relay.create_app(url=guarded.url, api_key=wrong, output_dir=tmp_path, connect_options={"log": False})
        with relay.serve_in_background(app) as server, httpx.Client(base_url=server.url, timeout=30) as http:
            response = http.post("/process_audio", data={"text": "Hello"})
    assert response.status_code == 502, response.text
    assert "Incorrect API key" in response.text and "Q9r8" not in response.text and wrong[:12] not in response.text


def test_a_connection_that_takes_more_than_its_share_of_server_time_is_read_later():
    from helpers.replay.server import INPUT_BURST, INPUT_SHARE, _InputBudget
    budget = _InputBudget(now=0.0)
    assert budget.spend(INPUT_BURST / 2, now=0.0) == 0.0            # within the burst: no wait
    pause = budget.spend(INPUT_BURST, now=0.0)                       # half a burst over
    assert pause == pytest.approx(INPUT_BURST / 2 / INPUT_SHARE)
    assert budget.spend(0.0, now=pause) == 0.0                       # after the wait, even again
    assert budget.spend(0.001, now=1000.0) == 0.0 and budget.credit <= INPUT_BURST   # idle time does not bank


def test_large_frames_from_all_connections_take_turns_within_one_shared_budget():
    import asyncio

    from helpers.replay.server import HEAVY_BURST, HEAVY_SHARE, _HeavyGate

    async def three_connections() -> list[tuple[int, str, float]]:
        gate, loop, seen = _HeavyGate(), asyncio.get_running_loop(), []

        async def large_frame(connection: int) -> None:
            async with gate:
                seen.append((connection, "in", loop.time()))
                await asyncio.sleep(0.01)            # handled in steps: the others run meanwhile, but wait
                seen.append((connection, "out", loop.time()))
                gate.charge(HEAVY_BURST, loop.time())

        await asyncio.gather(*(large_frame(n) for n in range(3)))
        return seen

    seen = asyncio.run(three_connections())
    assert [what for _, what, _ in seen] == ["in", "out"] * 3       # one at a time, server-wide
    # the burst covers the first; the second overdraws it by a burst; the third waits that out
    assert seen[4][2] - seen[3][2] >= 0.9 * HEAVY_BURST / HEAVY_SHARE
    assert seen[2][2] - seen[1][2] < 0.5 * HEAVY_BURST / HEAVY_SHARE


def test_a_connection_cancelled_while_waiting_for_its_turn_gives_the_turn_back():
    import asyncio

    from helpers.replay.server import HEAVY_BURST, _HeavyGate

    async def cancelled_then_next() -> bool:
        gate, loop = _HeavyGate(), asyncio.get_running_loop()
        async with gate:
            gate.charge(3 * HEAVY_BURST, loop.time())        # the next one must wait for credit

        async def waits() -> None:
            async with gate:
                pass

        waiting = asyncio.create_task(waits())
        await asyncio.sleep(0.05)
        waiting.cancel()                                       # its connection went away mid-wait
        await asyncio.gather(waiting, return_exceptions=True)
        return not gate._lock.locked()

    assert asyncio.run(cancelled_then_next())
