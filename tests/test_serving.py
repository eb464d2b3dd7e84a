"""helpers.serving: one way to start, await, stop and join a server thread."""

from __future__ import annotations

import threading

import pytest

from helpers.serving import ServerThread


class Waiting(ServerThread):
    """Listens at once (or never, or fails), then serves until asked to stop (or ignores that)."""

    def __init__(self, *, listen=True, fail=None, obey=True, timeout=5.0):
        super().__init__("test")
        self.listen, self.fail, self.obey = listen, fail, obey
        self.stopping = threading.Event()
        self.release = threading.Event()  # lets a disobedient server end after the test
        self._start(timeout)

    def _serve(self):
        if self.fail is not None:
            raise self.fail
        if self.listen:
            self._started("test://here")
        (self.stopping if self.obey else self.release).wait(30)

    def _request_stop(self):
        self.stopping.set()


def test_started_serves_and_stops_joined():
    with Waiting() as server:
        assert server.url == "test://here" and server._thread.is_alive()
        assert repr(server) == "<Waiting test://here>"
    assert not server._thread.is_alive()
    server.stop()  # idempotent


def test_a_server_that_fails_to_start_raises_its_reason():
    with pytest.raises(RuntimeError, match="the test server could not start: port taken") as caught:
        Waiting(fail=OSError("port taken"))
    assert isinstance(caught.value.__cause__, OSError)


def test_a_server_that_never_listens_times_out_and_is_stopped():
    with pytest.raises(TimeoutError, match="did not start within 0.2 s"):
        Waiting(listen=False, timeout=0.2)


def test_a_server_that_will_not_stop_is_reported():
    server = Waiting(obey=False)
    with pytest.raises(TimeoutError, match="did not stop within 0.1 s"):
        server.stop(timeout=0.1)
    server.release.set()
    server.stop()
