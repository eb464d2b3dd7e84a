"""The one place that shapes how websocket-client reads: frames back to back, 64 KiB at a time.

`proxy_options(host)` keeps loopback traffic off any proxy. `ReceiveLoop` is a
`WebSocketApp.run_forever(dispatcher=...)` dispatcher: a documented hook.
`buffer_reads(ws)` is not: websocket-client has no public hook for its socket reads, so it
swaps the connected `WebSocket`'s ``sock`` attribute for a `BufferedSocket`. That reach is
here and nowhere else; ``tests/test_transport.py`` fails if an upgrade moves it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

import websocket

__all__ = ["BufferedSocket", "ReceiveLoop", "buffer_reads", "proxy_options"]


class ReceiveLoop:
    """A WebSocketApp dispatcher that reads frames back to back on the socket thread.

    The default dispatcher runs a `select` before every frame; here the thread simply blocks
    in `recv` (closing wakes it by shutting the socket down).
    """

    def signal(self, *_args: Any) -> None:  # no signal handlers: this is not the main thread
        pass

    def abort(self, *_args: Any) -> None:
        pass

    def read(self, _sock: Any, read_callback: Callable[[], bool]) -> None:
        while read_callback():
            pass

    def timeout(self, _seconds: Any, _callback: Any, *_args: Any) -> None:  # nothing to schedule
        pass

    def buffwrite(self, sock: Any, data: str | bytes, send: Callable[[Any, Any], int], _on_disconnect: Any) -> None:
        view = memoryview(data.encode("utf-8") if isinstance(data, str) else data)
        while view:  # the app counts the whole frame as sent: send all of it
            view = view[send(sock, view):]

    def reconnect(self, *_args: Any) -> None:  # the client never reconnects by itself
        pass


class BufferedSocket:
    """A connected socket read 64 KiB at a time.

    websocket-client asks for each frame's header and payload separately (two or three
    `recv` calls per frame); serving them from one large read saves most system calls.
    Everything else is the socket's own.
    """

    READ_SIZE = 1 << 16

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self._data = b""
        self._pos = 0
        self.gettimeout = raw.gettimeout  # asked before every read: skip __getattr__

    def recv(self, size: int) -> bytes:
        if self._pos >= len(self._data):
            self._data, self._pos = self._raw.recv(self.READ_SIZE), 0
            if not self._data:
                return b""
        start, self._pos = self._pos, min(self._pos + size, len(self._data))
        return self._data[start:self._pos]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


def buffer_reads(ws: websocket.WebSocket) -> None:
    """Serve `ws`'s frame reads from a `BufferedSocket` (call once, when it has connected)."""
    raw = ws.sock
    if raw is None or isinstance(raw, BufferedSocket):
        return
    ws.sock = BufferedSocket(raw)  # type: ignore[assignment]  # the reach: a socket-like stand-in


def proxy_options(host: str) -> dict[str, Any]:
    """`run_forever` options that send a loopback `host` direct; other hosts follow the proxy settings.

    websocket-client applies ``http_no_proxy`` only next to an explicit ``http_proxy_host``
    (with none, it reads ``http_proxy`` and ``no_proxy`` from the environment), so for loopback
    an explicit proxy is named and at once excluded: the connection goes direct.
    """
    if not _is_loopback(host):
        return {}
    return {"http_proxy_host": host, "http_proxy_port": 1, "proxy_type": "http", "http_no_proxy": [host]}


def _is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
