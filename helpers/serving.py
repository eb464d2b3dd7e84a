"""One way to run a server on a daemon thread: the replay server (websockets) and the relay (uvicorn).

A `ServerThread` subclass says how to serve (`_serve`, run on the thread, until asked to stop)
and how to ask it to stop (`_request_stop`, from any thread). The start (wait until it
listens, or report why it could not), `stop` (ask, join, raise if it hangs), the context
manager and the repr are here, once.
"""

from __future__ import annotations

import threading

__all__ = ["ServerThread"]


class ServerThread:
    """A server on its own daemon thread; `url` is where it listens once started."""

    def __init__(self, name: str, ready: threading.Event | None = None) -> None:
        self.url = ""
        self._name = name
        self._ready = ready if ready is not None else threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)

    def _serve(self) -> None:
        """Serve until `_request_stop` is called; set `_ready` (or call `_started`) once listening."""
        raise NotImplementedError

    def _request_stop(self) -> None:
        """Ask `_serve` to return (called from another thread)."""
        raise NotImplementedError

    def _started(self, url: str) -> None:
        self.url = url
        self._ready.set()

    def _start(self, timeout: float) -> None:
        """Start the thread and return once the server listens; raise if it fails or takes longer than `timeout`."""
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise TimeoutError(f"the {self._name} server did not start within {timeout:g} s")
        if self._failure is not None:
            raise RuntimeError(f"the {self._name} server could not start: {self._failure}") from self._failure

    def _main(self) -> None:
        try:
            self._serve()
        except BaseException as exc:  # reported to the starting thread
            self._failure = exc
            self._ready.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and join the thread (raises TimeoutError if that takes longer than `timeout`)."""
        if self._thread.is_alive():
            self._request_stop()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"the {self._name} server did not stop within {timeout:g} s")

    def __enter__(self) -> ServerThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url or 'starting'}>"
