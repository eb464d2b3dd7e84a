"""Faults: drops, expiry, stalled servers, slow consumers, killed clients, reconnect-and-restore.

Every waiter must raise within its bound, and nothing may leak: threads, sockets, server
sessions or server tasks are counted before and after each test.
"""

from __future__ import annotations

import asyncio
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

import helpers
from helpers import events as ev
from helpers.client import RealtimeClient
from helpers.conversation import Conversation
from helpers.errors import RealtimeConnectionClosed, RealtimeServerError, RealtimeTimeout
from helpers.replay import default_cassettes, serve_in_background
from tests.wsserver import ws_server

REPO = Path(__file__).resolve().parent.parent
SLACK = 3.0  # how late a waiter may raise on a busy 2-core machine
TURNS_06 = ("Hi! My name is Lin, and I live in Hangzhou.", "What food should I try there?",
            "What is my name again, and which city did I mention?")
QUESTION_06 = "Which dish did you recommend to me?"


def _socket_fds() -> set[str]:
    out = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed while listing
            continue
        if target.startswith("socket:"):
            out.add(f"{fd}:{target}")
    return out


@pytest.fixture
def no_leaks():
    """Fail the test if it leaves threads or sockets behind (its servers are stopped first)."""
    threads, sockets = set(threading.enumerate()), _socket_fds()
    yield
    extra = [t for t in threading.enumerate() if t not in threads]
    for thread in extra:
        thread.join(5)
    assert [t.name for t in extra if t.is_alive()] == []
    assert _socket_fds() - sockets == set()


class Reports:
    """Session reports from the replay server, with a bounded wait for the n-th."""

    def __init__(self):
        self.items: list[dict] = []
        self._cond = threading.Condition()

    def add(self, report: dict) -> None:
        with self._cond:
            self.items.append(report)
            self._cond.notify_all()

    def wait(self, count: int, timeout: float = 10.0) -> list[dict]:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.items) >= count, timeout):
                raise AssertionError(f"{len(self.items)} session reports after {timeout} s, expected {count}")
            return list(self.items)


def _server_tasks(server) -> set:
    async def tasks() -> set:
        return asyncio.all_tasks() - {asyncio.current_task()}
    return asyncio.run_coroutine_threadsafe(tasks(), server._loop).result(5)


def _leftover_tasks(server, idle: set, timeout: float = 5.0) -> list[str]:
    """Server tasks beyond the idle ones still running `timeout` s after being waited for."""
    async def leftover() -> list[str]:
        extra = asyncio.all_tasks() - idle - {asyncio.current_task()}
        if extra:
            await asyncio.wait(extra, timeout=timeout)
        return [task.get_name() for task in extra if not task.done()]
    return asyncio.run_coroutine_threadsafe(leftover(), server._loop).result(timeout + 5)


@contextmanager
def replay_server(speed: float = 0, **options):
    """A replay server on the shipped cassettes; checks on exit that no session or task is left."""
    reports = Reports()
    with serve_in_background(default_cassettes(), speed=speed, on_report=reports.add, **options) as server:
        idle_tasks = _server_tasks(server)
        server.report_log = reports
        yield server
        assert server.live == 0, f"{server.live} sessions still live"
        assert _leftover_tasks(server, idle_tasks) == []


def _connect(server, cassette: str, **options) -> RealtimeClient:
    return helpers.connect("replay", url=server.url, cassette=cassette, log=False, **options)


@contextmanager
def raises_within(error, bound: float, **match):
    """The block raises `error` no later than `bound` (+ slack) seconds after it starts."""
    start = time.monotonic()
    with pytest.raises(error, **match) as raised:
        yield raised
    assert time.monotonic() - start < bound + SLACK


def _text_turn(client: RealtimeClient, text: str, timeout: float = 20) -> dict:
    client.send(ev.user_text(text))
    client.send(ev.response_create())
    return client.wait_for("response.done", timeout=timeout)


# -- the server drops or ends the connection ---------------------------------------------

def test_drop_mid_response_raises_at_once_in_every_wait(no_leaks):
    with replay_server() as server:
        with _connect(server, "03_text_turn", close_after=6) as client:
            client.send(ev.user_text("In two or three sentences, what is the Realtime API?"))
            client.send(ev.response_create(modalities=["text"]))
            with raises_within(RealtimeConnectionClosed, 0, match="1011") as raised:
                client.wait_for("response.done", timeout=30)
            assert raised.value.code == 1011 and "close_after" in raised.value.reason
            with raises_within(RealtimeConnectionClosed, 0):
                list(client.stream(timeout=30))
            with raises_within(RealtimeConnectionClosed, 0, match="cannot send"):
                client.send(ev.response_create())
        assert [f.event["type"] for f in client.history if f.source == "server"][-1] != "response.done"
        server.report_log.wait(1)


def test_expiry_sends_session_expired_then_closes_1001(no_leaks):
    with replay_server(speed=1) as server:
        with _connect(server, "05_audio_output", expire_after=0.5) as client:
            client.send(ev.user_text("Please say a short welcome message for new students."))
            client.send(ev.response_create())
            with raises_within(RealtimeServerError, 0.5, match="session_expired") as raised:
                client.wait_for("response.done", timeout=30)
            assert raised.value.code == "session_expired"
            with raises_within(RealtimeConnectionClosed, 0) as closed:
                client.wait_for("response.done", timeout=30)
            assert (closed.value.code, closed.value.reason) == (1001, "session expired")
        server.report_log.wait(1)


# -- stalled servers -------------------------------------------------------------------

def test_server_that_never_completes_the_handshake(no_leaks):
    with socket.create_server(("127.0.0.1", 0)) as listener:  # the kernel accepts; nobody answers
        port = listener.getsockname()[1]
        with raises_within(RealtimeTimeout, 0.5, match="connection open"):
            RealtimeClient(f"ws://127.0.0.1:{port}/v1/realtime", timeout=0.5)


def test_server_that_accepts_then_never_sends(no_leaks):
    async def silent(connection):
        await connection.wait_closed()

    with ws_server(silent) as url:
        with RealtimeClient(url, timeout=5) as client:
            with raises_within(RealtimeTimeout, 0.5, match="received meanwhile: nothing"):
                client.wait_for("session.created", timeout=0.5)
            with raises_within(RealtimeTimeout, 0.3):
                next(client.stream(timeout=0.3))
            start = time.monotonic()
        assert client.closed and time.monotonic() - start < SLACK


# -- a slow consumer -------------------------------------------------------------------

def test_slow_consumer_loses_nothing_and_reads_in_order(no_leaks):
    count = 20_000
    padding = "x" * 500

    async def flood(connection):
        await connection.send(json.dumps({"type": "session.created", "session": {}}))
        for n in range(count):
            await connection.send(f'{{"type":"tick","n":{n},"pad":"{padding}"}}')
        await connection.close(1000, "flood done")

    with ws_server(flood) as url, RealtimeClient(url, timeout=5) as client:
        # The caller reads nothing until the server has sent everything and closed.
        assert client._closed.wait(30), "the flood did not finish"
        assert client._queue.qsize() == count + 2  # every event, then the close marker
        client.wait_for("session.created", timeout=5)
        numbers = [client.wait_for("tick", timeout=5)["n"] for _ in range(count)]
        assert numbers == list(range(count))
        with raises_within(RealtimeConnectionClosed, 0) as closed:
            client.wait_for("tick", timeout=5)
        assert closed.value.code == 1000


# -- a client killed mid-session -------------------------------------------------------

KILLED_CLIENT = """
import sys, helpers
from helpers import events as ev
client = helpers.connect("replay", url=sys.argv[1], cassette="05_audio_output", log=False)
client.send(ev.user_text("Please say a short welcome message for new students."))
client.send(ev.response_create())
client.wait_for("response.audio.delta", timeout=30)
print("streaming", flush=True)
client.wait_for("response.done", timeout=60)
print("finished", flush=True)
"""


def _read_line(proc: subprocess.Popen, timeout: float) -> str:
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError(f"no output from the client process within {timeout} s")
    return proc.stdout.readline().strip()


def test_client_killed_mid_session_ends_its_session_and_others_go_on(no_leaks):
    with replay_server(speed=1) as server:
        with _connect(server, "05_audio_output") as bystander:
            bystander.send(ev.user_text("Please say a short welcome message for new students."))
            bystander.send(ev.response_create())
            bystander.wait_for("response.created", timeout=10)
            proc = subprocess.Popen([sys.executable, "-c", KILLED_CLIENT, server.url], cwd=REPO,
                                    env=dict(os.environ, PYTHONPATH=str(REPO)), stdout=subprocess.PIPE, text=True)
            try:
                assert _read_line(proc, 30) == "streaming"
                assert server.live == 2
                proc.send_signal(signal.SIGKILL)
                assert proc.wait(10) == -signal.SIGKILL
            finally:
                proc.kill()
                proc.stdout.close()
            report = server.report_log.wait(1)[0]
            assert report["cassette"] == "05_audio_output" and report["responses_consumed"] == 1
            assert server.live == 1
            done = bystander.wait_for("response.done", timeout=30)  # the other session carries on
            assert done["response"]["status"] == "completed"
        with _connect(server, "03_text_turn", speed=0) as newcomer:  # and new ones are served
            assert _text_turn(newcomer, "In two or three sentences, what is the Realtime API?")
        server.report_log.wait(3)


# -- reconnect and restore -------------------------------------------------------------

def _texts(conversation: Conversation) -> list[tuple[str, str]]:
    return [(item.role, item.remembered_text) for item in conversation.items if item.remembered_text]


def test_reconnect_and_restore_recovers_the_whole_text_history(no_leaks):
    with replay_server() as server:
        with _connect(server, "06_multi_turn") as dry_run:  # how many server events a whole session has
            for text in TURNS_06:
                _text_turn(dry_run, text)
        total = sum(f.source == "server" and f.event is not None for f in dry_run.history)

        with _connect(server, "06_multi_turn", close_after=total - 3) as first:
            for text in TURNS_06[:2]:
                _text_turn(first, text)
            with raises_within(RealtimeConnectionClosed, 0, match="1011"):
                _text_turn(first, TURNS_06[2])  # dropped before the last response.done
        before = Conversation.from_frames(first.history)
        assert [role for role, _ in _texts(before)] == ["user", "assistant"] * 3
        assert _texts(before)[4] == ("user", TURNS_06[2]) and "Lin" in _texts(before)[5][1]

        with _connect(server, "06_multi_turn_restore") as second:
            second.send(ev.session_update(ev.session_config(second.dialect, instructions="Keep answers short.")))
            second.wait_for("session.updated", timeout=10)
            for event in before.restore_events(second.dialect):
                second.send(event)
                second.wait_for("conversation.item.created", timeout=10)
            answer = _text_turn(second, QUESTION_06)
            assert answer["response"]["status"] == "completed"
        after = Conversation.from_frames(second.history)
        assert _texts(after)[:6] == _texts(before)
        assert _texts(after)[6] == ("user", QUESTION_06) and "Lin" in _texts(after)[7][1]
        server.report_log.wait(3)
