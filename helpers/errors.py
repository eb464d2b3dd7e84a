"""The three ways a wait on the Realtime API can end badly.

Every waiter in `helpers` ends in one of these or returns: it never hangs.
"""

from __future__ import annotations

from typing import Any

from .display import collapse_runs

__all__ = ["RealtimeConnectionClosed", "RealtimeServerError", "RealtimeTimeout"]


class RealtimeTimeout(TimeoutError):
    """Nothing awaited arrived in time; `seen` lists the event types received meanwhile."""

    def __init__(self, waited_for, timeout: float, seen: list[str]):
        self.waited_for = tuple(waited_for)
        self.timeout = timeout
        self.seen = list(seen)
        wanted = " or ".join(self.waited_for) or "any event"
        got = ", ".join(collapse_runs(self.seen)) or "nothing"
        super().__init__(f"no {wanted} within {timeout:g} s; received meanwhile: {got}")


class RealtimeConnectionClosed(ConnectionError):
    """The WebSocket is closed (by the server, the network or `close()`)."""

    def __init__(self, code: int | None = None, reason: str = "", detail: str = ""):
        self.code = code
        self.reason = reason or ""
        if code is None and detail:  # it never opened, or closed without a close frame
            super().__init__(detail)
            return
        text = f"connection closed (code {code}"
        text += f", reason {self.reason!r})" if self.reason else ")"
        if detail:
            text += f": {detail}"
        super().__init__(text)


class RealtimeServerError(Exception):
    """The server answered with an `error` event; `error` is its `error` object.

    A malformed payload (a string, a list, null) still makes this error: `raw` keeps it as
    sent, `error` is then ``{"message": <its text>}`` (or empty), and `event` is the whole event.
    """

    def __init__(self, error: Any, event: dict | None = None):
        self.raw = error
        if isinstance(error, dict):
            self.error = dict(error)
        elif error is None:
            self.error = {}
        else:
            self.error = {"message": error if isinstance(error, str) else repr(error)[:500]}
        self.event = event
        self.code = self.error.get("code")
        message = self.error.get("message", "")
        self.message = message if isinstance(message, str) else repr(message)[:500]
        label = self.code or self.error.get("type") or "error"
        super().__init__(f"{label}: {self.message}")
